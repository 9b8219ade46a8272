"""The order journal: every create is written down before it is sent, so no order is made twice
and none is left in doubt (issue 8, "exactly-once ordering").

One row per order (table ``orders``, in the app's local store, made by ``tasking/migrations``):

* ``key``: a local order key (uuid4), never sent;
* ``fingerprint``: SHA-256 of the canonical wire request: two tabs or a double click that would send
  the same body have the same fingerprint;
* ``active``: the fingerprint while the order may exist on the server (SENDING, UNCONFIRMED,
  PLACED), NULL once it certainly does not (NOT_PLACED). A unique constraint on it is what makes a
  second identical order impossible, across threads, processes and app instances: its insert fails
  and the caller gets the order that is already there;
* ``state``::

      SENDING ──201──▶ PLACED (task_id)
         │ ├── definite refusal (4xx, never sent) ──▶ NOT_PLACED
         │ └── no definite answer (timeout, reset, 5xx) ──▶ UNCONFIRMED
         │                                                   │ found on the server ──▶ PLACED
         └──────────── (process died) ─────────────────────▶ │ absent for the hold ─▶ NOT_PLACED

* ``sent_at``: the server's clock just before sending (where to look for the task), and
  ``journaled_at``: the local clock, which times the hold (a delayed request is a real-time matter).

Reconciling is the service's job (``tasking.service``); the journal only records.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Index, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from tasking.errors import HistoryError
from tasking.models import TaskRequest
from tasking.store import UtcDateTime, guarded, migrate
from tasking.times import utc_now

__all__ = ["Order", "OrderJournal", "OrderState", "fingerprint", "metadata"]

log = logging.getLogger(__name__)

_guarded = guarded("order journal")


class OrderState(enum.StrEnum):
    SENDING = "SENDING"
    """Written before the create was sent; no answer yet."""
    UNCONFIRMED = "UNCONFIRMED"
    """The create got no definite answer: a task may exist; being checked against the server."""
    PLACED = "PLACED"
    """The server made the task (``task_id``)."""
    NOT_PLACED = "NOT_PLACED"
    """Certainly no task: refused by the server, never sent, or proven absent."""


OPEN = (OrderState.SENDING, OrderState.UNCONFIRMED)

metadata = MetaData()
"""The journal's table as the queries see it; ``tasking/migrations`` makes it so."""
_orders = Table(
    "orders",
    metadata,
    Column("key", String(36), primary_key=True),
    Column("fingerprint", String(64), nullable=False, index=True),
    Column("active", String(64), nullable=True, unique=True),
    Column("state", String(16), nullable=False),
    Column("contract_id", String(64), nullable=False),
    Column("reference", Text, nullable=True),
    Column("request", Text, nullable=False),
    Column("task_id", String(64), nullable=True),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("journaled_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_orders_state", "state"),
)


def fingerprint(request: TaskRequest) -> str:
    """What identifies an order: its exact wire body (canonical JSON), without the webhook that
    tells the worker about it (delivery plumbing, not what is ordered)."""
    wire = request.to_wire()
    wire.pop("notifications", None)
    body = json.dumps(wire, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Order:
    key: str
    fingerprint: str
    state: OrderState
    request: TaskRequest
    task_id: str | None
    sent_at: datetime
    journaled_at: datetime
    updated_at: datetime
    error: str | None

    @property
    def open(self) -> bool:
        """Whether a task may exist but is not known yet (nothing may be sent again)."""
        return self.state in OPEN

    @classmethod
    def _of(cls, row: RowMapping) -> Order:
        """The order of a row; ``HistoryError`` for a row this version cannot read (written by
        another version of the app, or damaged), naming the order."""
        try:
            return cls(
                key=row["key"],
                fingerprint=row["fingerprint"],
                state=OrderState(row["state"]),
                request=TaskRequest.model_validate_json(row["request"]),
                task_id=row["task_id"],
                sent_at=row["sent_at"],
                journaled_at=row["journaled_at"],
                updated_at=row["updated_at"],
                error=row["error"],
            )
        except (ValueError, KeyError) as error:  # pydantic's ValidationError is a ValueError
            raise HistoryError(
                f"The order journal has an order it cannot read ({row.get('key')}): "
                f"{type(error).__name__}"
            ) from None


class OrderJournal:
    """Orders and their states in the local store; thread-safe, shared by every session."""

    @_guarded
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_key: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._new_key = new_key
        self._lock = threading.Lock()
        migrate(engine)

    @_guarded
    def begin(self, request: TaskRequest, sent_at: datetime) -> tuple[Order, bool]:
        """Write the order down before it is sent. Returns (order, True) for a new order, or
        (the identical order already placed or in flight, False): then nothing may be sent."""
        digest = fingerprint(request)
        now = self._clock()
        row = {
            "key": self._new_key(),
            "fingerprint": digest,
            "active": digest,
            "state": OrderState.SENDING.value,
            "contract_id": request.contractID,
            "reference": request.reference,
            "request": request.model_dump_json(by_alias=True, exclude_unset=True),
            "task_id": None,
            "sent_at": sent_at,
            "journaled_at": now,
            "updated_at": now,
            "error": None,
        }
        for _ in range(3):
            with self._lock:
                try:
                    with self._engine.begin() as conn:
                        conn.execute(insert(_orders).values(**row))
                except IntegrityError:
                    existing = self._active(digest)
                    if existing is not None:
                        return existing, False
                    continue  # settled between our insert and this read: try again
                break
        else:
            raise HistoryError("The order journal could not record the order (busy); retry")
        made = self.get(str(row["key"]))
        if made is None:
            raise HistoryError("The order journal lost the order it just recorded")
        return made, True

    def _active(self, digest: str) -> Order | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(_orders).where(_orders.c.active == digest)).mappings().first()
        return None if row is None else Order._of(row)

    @_guarded
    def active(self, request: TaskRequest) -> Order | None:
        """The order identical to ``request`` that is placed or in flight, if any."""
        with self._lock:
            return self._active(fingerprint(request))

    @_guarded
    def get(self, key: str) -> Order | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(_orders).where(_orders.c.key == key)).mappings().first()
        return None if row is None else Order._of(row)

    @_guarded
    def open_orders(self) -> list[Order]:
        """Orders whose outcome is not known yet, oldest first."""
        query = (
            select(_orders)
            .where(_orders.c.state.in_([s.value for s in OPEN]))
            .order_by(_orders.c.journaled_at)
        )
        with self._engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
        orders = []
        for row in rows:
            try:
                orders.append(Order._of(row))
            except HistoryError as error:  # one unreadable row must not hide the others
                log.error("%s", error)
        return orders

    @_guarded
    def for_task(self, task_id: str) -> Order | None:
        with self._engine.connect() as conn:
            row = (
                conn.execute(select(_orders).where(_orders.c.task_id == task_id)).mappings().first()
            )
        return None if row is None else Order._of(row)

    @_guarded
    def release(self, task_ids: Sequence[str], why: str) -> int:
        """Orders whose tasks the backend removed (the sandbox's demo scenario) stay PLACED, with
        ``why`` as their note, but no longer hold their fingerprint: the same order may be placed
        again. Returns how many were released."""
        released = 0
        with self._lock, self._engine.begin() as conn:
            for start in range(0, len(task_ids), 500):
                chunk = list(task_ids[start : start + 500])
                released += conn.execute(
                    update(_orders)
                    .where(_orders.c.task_id.in_(chunk))
                    .values(active=None, error=why, updated_at=self._clock())
                ).rowcount
        return released

    def placed(self, key: str, task_id: str) -> Order:
        """The server made the task."""
        return self._settle(key, OrderState.PLACED, task_id=task_id)

    def unconfirmed(self, key: str, error: str) -> Order:
        """No definite answer: a task may exist."""
        return self._settle(key, OrderState.UNCONFIRMED, error=error)

    def not_placed(self, key: str, error: str) -> Order:
        """Certainly no task: the same order may be sent again."""
        return self._settle(key, OrderState.NOT_PLACED, error=error)

    @_guarded
    def _settle(
        self, key: str, state: OrderState, *, task_id: str | None = None, error: str | None = None
    ) -> Order:
        values: dict[str, object] = {"state": state.value, "updated_at": self._clock()}
        if task_id is not None:
            values["task_id"] = task_id
            values["error"] = None
        if error is not None:
            values["error"] = error
        if state is OrderState.NOT_PLACED:
            values["active"] = None
        where = _orders.c.key == key
        if state is not OrderState.PLACED:
            # A PLACED order stays placed, whatever a late answer or a slower thread says.
            where = where & (_orders.c.state != OrderState.PLACED.value)
        with self._lock, self._engine.begin() as conn:
            conn.execute(update(_orders).where(where).values(**values))
        if state is OrderState.PLACED:
            self._reclaim(key)
        order = self.get(key)
        if order is None:
            raise HistoryError(f"The order journal has no order {key}")
        return order

    def _reclaim(self, key: str) -> None:
        """A placed order holds its fingerprint again, so the same order cannot be sent a second
        time even if it had been declared absent before its late 201 (unless an identical order
        has been placed since: then both exist, and the later one keeps the fingerprint)."""
        try:
            with self._lock, self._engine.begin() as conn:
                conn.execute(
                    update(_orders)
                    .where((_orders.c.key == key) & _orders.c.active.is_(None))
                    .values(active=_orders.c.fingerprint)
                )
        except IntegrityError:
            log.warning("order %s was placed after an identical order had been sent", key)
