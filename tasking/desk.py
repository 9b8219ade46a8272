"""The tasking desk: what the background worker follows and tells people, in the shared store.

The worker (``tasking.worker``) writes here; the app's pages read here. Tables (made by
``tasking/migrations`` revision 0002, beside the task history and the order journal):

* ``followed_tasks``: per task, its status, when the worker last checked it, whether a callback
  asked for a fetch (``due_at``), and what the Monitor shows: planned and actual scene, products
  (ids, types and asset names, never signed links), the quicklook bytes, a rejection or failure
  reason.
* ``notifications``: one per task and kind ("captured", "rejected"…), unique, so however many
  times a change is seen (two workers, a restart, a replayed callback) it is told once.
* ``deliveries``: the outbox, one row per notification and channel (email, webhook), written in the
  same transaction as the notification. A sender claims a row with a lease, sends, and marks it
  SENT; a row whose lease ran out (its sender was killed) is claimed again.
* ``callbacks_received``: webhook event ids already taken: a replayed callback is refused.
* ``worker_lease``: which worker is active. Every worker (a separate process, or the one an app
  runs in its own process) renews a lease; only its holder works, so two never follow at once.
* ``worker_settings``: the webhook the worker registered (its id and the hash of its password).

Times: ``occurred_at``/``status_at`` are on the backend's clock (the simulation clock in sandbox
mode); leases, ``due_at``, ``checked_at`` and deliveries are on each machine's real clock (UTC),
which machines sharing a store keep in sync (NTP).

Races end at the database: a status change is applied with a conditional UPDATE (old status in the
WHERE), notifications and deliveries at their unique constraints, claims with a conditional UPDATE
on the lease; the loser reads "already done".
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from tasking.models import Scene
from tasking.monitoring import fetches_after, is_terminal
from tasking.store import UtcDateTime, guarded, migrate
from tasking.times import utc_now
from tasking.watch import AssetView, ProductView

__all__ = [
    "CHANNELS",
    "Delivery",
    "DeliveryState",
    "Desk",
    "Details",
    "Followed",
    "NewNotification",
    "Notification",
    "WorkerStatus",
]

log = logging.getLogger(__name__)

_guarded = guarded("tasking desk")

CHANNELS = ("email", "webhook")


class DeliveryState:
    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"


metadata = MetaData()
_followed = Table(
    "followed_tasks",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("status", String(32)),
    Column("final", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime),
    Column("status_at", UtcDateTime),
    Column("checked_at", UtcDateTime),
    Column("due_at", UtcDateTime),
    Column("details_for", String(32)),
    Column("planned_scene", Text),
    Column("actual_scene", Text),
    Column("products", Text),
    Column("quicklook", LargeBinary),
    Column("reason", Text),
    Column("fetch_errors", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("via_webhook", Boolean, nullable=False, default=False),
    Index("ix_followed_tasks_due", "final", "due_at"),
)
_LACKING_DETAILS = (
    _followed.c.final.is_(False),
    _followed.c.status.is_not(None),
    _followed.c.due_at.is_(None),
    or_(_followed.c.details_for.is_(None), _followed.c.details_for != _followed.c.status),
)
"""Open tasks whose details the store lacks and that are not due: the worker's backlog."""
_notifications = Table(
    "notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("task_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("reason", Text),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("read_at", UtcDateTime),
    UniqueConstraint("task_id", "kind", name="uq_notification_task_kind"),
    Index("ix_notifications_created_at", "created_at"),
)
_deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("notification_id", String(36), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime),
    Column("last_error", Text),
    Column("sent_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("notification_id", "channel", name="uq_delivery_channel"),
    Index("ix_deliveries_due", "state", "next_attempt_at"),
)
_callbacks = Table(
    "callbacks_received",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("webhook_id", String(64), nullable=False),
    Column("task_id", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("occurred_at", UtcDateTime),
    Column("received_at", UtcDateTime, nullable=False),
    Index("ix_callbacks_received_at", "received_at"),
)
_lease = Table(
    "worker_lease",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("info", Text, nullable=False),
)
_settings = Table(
    "worker_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

_LEASE = "worker"


@dataclass(frozen=True)
class Followed:
    """What the desk knows about one task."""

    task_id: str
    status: str | None
    final: bool
    created_at: datetime | None
    status_at: datetime | None
    checked_at: datetime | None
    due_at: datetime | None
    details_for: str | None
    planned: Scene | None
    actual: Scene | None
    products: tuple[ProductView, ...]
    quicklook: bytes | None
    reason: str | None
    fetch_errors: int
    last_error: str | None
    via_webhook: bool = False
    """Its changes come by callback (else the worker polls for them)."""


@dataclass(frozen=True)
class NewNotification:
    kind: str
    title: str
    text: str
    occurred_at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class Notification:
    id: str
    task_id: str
    kind: str
    status: str
    title: str
    text: str
    reason: str | None
    occurred_at: datetime
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class Delivery:
    id: str
    notification_id: str
    channel: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class WorkerStatus:
    holder: str
    heartbeat_at: datetime
    expires_at: datetime
    info: dict[str, Any] = field(default_factory=dict)

    def alive(self, now: datetime) -> bool:
        return self.expires_at > now


@dataclass(frozen=True)
class Details:
    """What the worker fetched for a status: scene(s), products, quicklook, reason."""

    planned: Scene | None = None
    actual: Scene | None = None
    products: tuple[ProductView, ...] | None = None
    quicklook: bytes | None = None
    reason: str | None = None
    complete: bool = True
    """False when a fetch failed or waited: what came is kept, the rest is fetched again."""
    deferred: bool = False
    """Not fetched for want of request budget (not a failure: no back-off)."""


class Desk:
    """The desk's tables; thread-safe, one per process (app or worker)."""

    @_guarded
    def __init__(self, engine: Engine, *, real_clock: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self._now = real_clock
        self._lock = threading.Lock()
        migrate(engine)

    # --- the lease ---------------------------------------------------------------------------

    @_guarded
    def acquire_lease(self, holder: str, ttl_s: float, info: dict[str, Any]) -> bool:
        """Take or renew the worker lease for ``holder``; False while another holds a live one."""
        now = self._now()
        values = {
            "holder": holder,
            "expires_at": now + timedelta(seconds=ttl_s),
            "heartbeat_at": now,
            "info": json.dumps(info, sort_keys=True, default=str),
        }
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(_lease)
                .where(
                    _lease.c.name == _LEASE,
                    or_(_lease.c.holder == holder, _lease.c.expires_at < now),
                )
                .values(**values)
            ).rowcount
        if taken:
            return True
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(_lease).values(name=_LEASE, **values))
        except IntegrityError:
            return False
        return True

    @_guarded
    def release_lease(self, holder: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(_lease).where(_lease.c.name == _LEASE, _lease.c.holder == holder))

    @_guarded
    def worker_status(self) -> WorkerStatus | None:
        """The active (or last) worker's lease; ``alive(now)`` says whether it still holds it."""
        with self._engine.connect() as conn:
            row = conn.execute(select(_lease).where(_lease.c.name == _LEASE)).first()
        if row is None:
            return None
        try:
            info = json.loads(row.info)
        except ValueError:
            info = {}
        return WorkerStatus(row.holder, row.heartbeat_at, row.expires_at, info)

    def worker_alive(self) -> bool:
        status = self.worker_status()
        return status is not None and status.alive(self._now())

    # --- settings ----------------------------------------------------------------------------

    @_guarded
    def setting(self, key: str) -> str | None:
        with self._engine.connect() as conn:
            return conn.execute(select(_settings.c.value).where(_settings.c.key == key)).scalar()

    @_guarded
    def set_setting(self, key: str, value: str | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(_settings).where(_settings.c.key == key))
            if value is not None:
                conn.execute(insert(_settings).values(key=key, value=value))

    # --- following ---------------------------------------------------------------------------

    @_guarded
    def followed(self, task_id: str) -> Followed | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(_followed).where(_followed.c.task_id == task_id)).first()
        return None if row is None else _followed_of(row)

    @_guarded
    def followed_many(self, task_ids: Iterable[str]) -> dict[str, Followed]:
        ids = list(task_ids)
        if not ids:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(select(_followed).where(_followed.c.task_id.in_(ids))).all()
        return {row.task_id: _followed_of(row) for row in rows}

    @_guarded
    def known_statuses(self) -> dict[str, str | None]:
        """Task id → status for every followed task (for a sweep's comparison)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(_followed.c.task_id, _followed.c.status)).all()
        return {task_id: status for task_id, status in rows}

    @_guarded
    def open_count(self) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(_followed).where(_followed.c.final.is_(False))
                ).scalar()
                or 0
            )

    @_guarded
    def oldest_open_created(self) -> datetime | None:
        with self._engine.connect() as conn:
            return conn.execute(
                select(func.min(_followed.c.created_at)).where(_followed.c.final.is_(False))
            ).scalar()

    @_guarded
    def status_counts(self) -> dict[str, int]:
        """Followed tasks by status (unknown: a callback named a task not fetched yet)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_followed.c.status, func.count()).group_by(_followed.c.status)
            ).all()
        return {status or "UNKNOWN": int(n) for status, n in rows}

    @_guarded
    def import_tasks(self, tasks: Sequence[tuple[str, str, datetime | None, datetime]]) -> int:
        """Follow tasks the desk does not know, from a sweep's list items: (id, status, created,
        status time) each, in one transaction; their details are left to the backlog
        (``lacking_details``), except where a status has none to fetch. Known ids are skipped.
        Returns how many rows were written."""
        if not tasks:
            return 0
        ids = [task_id for task_id, *_ in tasks]
        now = self._now()
        with self._engine.begin() as conn:
            known: set[str] = set()
            for start in range(0, len(ids), 500):
                known.update(
                    conn.execute(
                        select(_followed.c.task_id).where(
                            _followed.c.task_id.in_(ids[start : start + 500])
                        )
                    ).scalars()
                )
            rows = [
                {
                    "task_id": task_id,
                    "status": status,
                    "final": is_terminal(status),
                    "created_at": created,
                    "status_at": status_at,
                    "checked_at": now,
                    "due_at": None,
                    # A status with nothing to fetch (RECEIVED) is complete as it is.
                    "details_for": None if fetches_after(None, status) else status,
                    "fetch_errors": 0,
                    "via_webhook": False,
                }
                for task_id, status, created, status_at in tasks
                if task_id not in known
            ]
            if rows:
                conn.execute(insert(_followed), rows)
        return len(rows)

    @_guarded
    def hint(self, task_id: str, at: datetime | None = None, *, callback: bool = False) -> None:
        """Something happened to ``task_id``: fetch it at ``at`` (now by default). Also for a
        final task: a late callback may tell a status the worker missed. ``callback``: the hint
        is a webhook callback, so the task's changes come by callback (it needs no polling)."""
        due = at or self._now()
        values: dict[str, Any] = {"due_at": due}
        if callback:
            values["via_webhook"] = True
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(_followed).where(_followed.c.task_id == task_id).values(**values)
            ).rowcount
        if changed:
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(_followed).values(
                        task_id=task_id,
                        final=False,
                        fetch_errors=0,
                        via_webhook=callback,
                        due_at=due,
                    )
                )
        except IntegrityError:
            pass

    @_guarded
    def mark_webhook(self, task_id: str) -> None:
        """The task carries the worker's webhook (seen in its document)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(_followed).where(_followed.c.task_id == task_id).values(via_webhook=True)
            )

    @_guarded
    def open_without_webhook(self) -> int:
        """Open tasks no callback covers (made elsewhere, or before the webhook): polled."""
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(_followed)
                    .where(_followed.c.final.is_(False), _followed.c.via_webhook.is_(False))
                ).scalar()
                or 0
            )

    @_guarded
    def due(self, limit: int) -> list[str]:
        """Open tasks whose fetch is due now, the longest waiting first."""
        now = self._now()
        query = (
            select(_followed.c.task_id)
            .where(_followed.c.due_at <= now)
            .order_by(_followed.c.due_at)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    @_guarded
    def lacking_details(self, limit: int) -> list[str]:
        """Open tasks whose details for their status are missing and that nothing else will fetch
        (not due): what an import recorded from list items only. Newest first, as an analyst
        would look at them."""
        query = (
            select(_followed.c.task_id)
            .where(*_LACKING_DETAILS)
            .order_by(_followed.c.created_at.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    @_guarded
    def lacking_details_count(self) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(_followed).where(*_LACKING_DETAILS)
                ).scalar()
                or 0
            )

    @_guarded
    def due_count(self) -> int:
        now = self._now()
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(_followed).where(_followed.c.due_at <= now)
                ).scalar()
                or 0
            )

    @_guarded
    def apply(
        self,
        task_id: str,
        *,
        status: str,
        created_at: datetime | None,
        status_at: datetime,
        details: Details | None,
        notifications: Sequence[NewNotification],
        channels: Sequence[str],
        next_due: datetime | None = None,
        fetched_at: datetime | None = None,
    ) -> bool:
        """Record what a fetch found, in one transaction: the status (if it changed), the details
        (``details_for`` = ``status``) and, for a change, its notifications with one delivery per
        channel. False when another writer recorded this change first (nothing written then).
        A hint that came after ``fetched_at`` (a callback while the fetch was under way) stays
        due: what it announces may not be in this fetch."""
        now = self._now()
        with self._engine.begin() as conn:
            row = conn.execute(
                select(_followed.c.status, _followed.c.details_for).where(
                    _followed.c.task_id == task_id
                )
            ).first()
            values: dict[str, Any] = {
                "status": status,
                "final": is_terminal(status),
                "checked_at": now,
                "due_at": _due_after(next_due, fetched_at),
                "fetch_errors": 0,
                "last_error": None,
            }
            if created_at is not None:
                values["created_at"] = created_at
            changed = row is None or row.status != status
            if changed:
                values["status_at"] = status_at
            if details is not None:
                values.update(_details_values(details, status))
            if row is None:
                try:
                    conn.execute(
                        insert(_followed).values(
                            task_id=task_id, via_webhook=False, **{**values, "due_at": next_due}
                        )
                    )
                except IntegrityError:
                    return False
            else:
                won = conn.execute(
                    update(_followed)
                    .where(
                        _followed.c.task_id == task_id,
                        _followed.c.status.is_(None)
                        if row.status is None
                        else _followed.c.status == row.status,
                    )
                    .values(**values)
                ).rowcount
                if not won:
                    return False
            for new in notifications:
                _insert_notification(conn, task_id, status, new, channels, now)
        return changed

    @_guarded
    def checked(
        self, task_id: str, *, next_due: datetime | None, fetched_at: datetime | None = None
    ) -> None:
        """A fetch found nothing new (a hint that came after ``fetched_at`` stays due)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(_followed)
                .where(_followed.c.task_id == task_id)
                .values(
                    checked_at=self._now(),
                    due_at=_due_after(next_due, fetched_at),
                    fetch_errors=0,
                    last_error=None,
                )
            )

    @_guarded
    def confirmed(self, task_ids: Sequence[str]) -> None:
        """A sweep found these tasks as the store has them: checked now."""
        if not task_ids:
            return
        with self._engine.begin() as conn:
            for start in range(0, len(task_ids), 500):
                conn.execute(
                    update(_followed)
                    .where(_followed.c.task_id.in_(list(task_ids[start : start + 500])))
                    .values(checked_at=self._now())
                )

    @_guarded
    def fetch_failed(self, task_id: str, error: str, *, retry_at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(_followed)
                .where(_followed.c.task_id == task_id)
                .values(
                    due_at=retry_at,
                    fetch_errors=_followed.c.fetch_errors + 1,
                    last_error=error[:500],
                )
            )

    @_guarded
    def stop_following(self, task_id: str, why: str) -> None:
        """A task the backend does not know (deleted, another company's): not fetched again."""
        with self._engine.begin() as conn:
            conn.execute(
                update(_followed)
                .where(_followed.c.task_id == task_id)
                .values(final=True, due_at=None, last_error=why[:500])
            )

    # --- notifications -----------------------------------------------------------------------

    @_guarded
    def tell(
        self,
        task_id: str,
        *,
        status: str,
        notification: NewNotification,
        channels: Sequence[str],
    ) -> bool:
        """A notification that is not a status change (a series' occurrence was ordered), with
        one delivery per channel, in one transaction; told once per task and kind however often
        this is called. True when it was written now."""
        with self._engine.begin() as conn:
            before = conn.execute(
                select(func.count())
                .select_from(_notifications)
                .where(
                    _notifications.c.task_id == task_id,
                    _notifications.c.kind == notification.kind,
                )
            ).scalar()
            if before:
                return False
            try:
                _insert_notification(conn, task_id, status, notification, channels, self._now())
            except IntegrityError:
                return False
        return True

    @_guarded
    def notifications(
        self, *, limit: int = 50, unread_only: bool = False, task_id: str | None = None
    ) -> list[Notification]:
        query = select(_notifications).order_by(
            _notifications.c.created_at.desc(), _notifications.c.id
        )
        if unread_only:
            query = query.where(_notifications.c.read_at.is_(None))
        if task_id is not None:
            query = query.where(_notifications.c.task_id == task_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [_notification_of(row) for row in rows]

    @_guarded
    def unread_count(self) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(_notifications)
                    .where(_notifications.c.read_at.is_(None))
                ).scalar()
                or 0
            )

    @_guarded
    def mark_read(self, ids: Iterable[str] | None = None) -> int:
        """Mark the given notifications (all unread ones when None) as read."""
        query = update(_notifications).where(_notifications.c.read_at.is_(None))
        if ids is not None:
            wanted = list(ids)
            if not wanted:
                return 0
            query = query.where(_notifications.c.id.in_(wanted))
        with self._engine.begin() as conn:
            return conn.execute(query.values(read_at=self._now())).rowcount

    @_guarded
    def notification(self, notification_id: str) -> Notification | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(_notifications).where(_notifications.c.id == notification_id)
            ).first()
        return None if row is None else _notification_of(row)

    # --- deliveries (the outbox) -------------------------------------------------------------

    @_guarded
    def claim(self, *, lease_s: float, limit: int) -> list[Delivery]:
        """Deliveries due now, each leased to the caller for ``lease_s``: PENDING ones and
        SENDING ones whose sender's lease ran out (it was killed mid-send)."""
        now = self._now()
        candidates = (
            select(_deliveries)
            .where(
                _deliveries.c.next_attempt_at <= now,
                or_(
                    _deliveries.c.state == DeliveryState.PENDING,
                    and_(
                        _deliveries.c.state == DeliveryState.SENDING,
                        _deliveries.c.lease_until < now,
                    ),
                ),
            )
            .order_by(_deliveries.c.next_attempt_at, _deliveries.c.created_at)
            .limit(limit)
        )
        claimed = []
        with self._lock:
            with self._engine.connect() as conn:
                rows = conn.execute(candidates).all()
            for row in rows:
                with self._engine.begin() as conn:
                    won = conn.execute(
                        update(_deliveries)
                        .where(
                            _deliveries.c.id == row.id,
                            _deliveries.c.state == row.state,
                            _deliveries.c.attempts == row.attempts,
                        )
                        .values(
                            state=DeliveryState.SENDING,
                            lease_until=now + timedelta(seconds=lease_s),
                            attempts=row.attempts + 1,
                        )
                    ).rowcount
                if won:
                    claimed.append(
                        dataclasses.replace(
                            _delivery_of(row),
                            state=DeliveryState.SENDING,
                            attempts=row.attempts + 1,
                        )
                    )
        return claimed

    @_guarded
    def requeue_sending(self) -> int:
        """Deliveries left SENDING by a worker that lost the lease (killed mid-send) are due
        again now; only the lease holder sends, so none of them is still in flight elsewhere.
        Returns how many."""
        with self._engine.begin() as conn:
            return conn.execute(
                update(_deliveries)
                .where(_deliveries.c.state == DeliveryState.SENDING)
                .values(state=DeliveryState.PENDING, lease_until=None, next_attempt_at=self._now())
            ).rowcount

    @_guarded
    def delivered(self, delivery_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(_deliveries)
                .where(_deliveries.c.id == delivery_id)
                .values(
                    state=DeliveryState.SENT,
                    sent_at=self._now(),
                    lease_until=None,
                    last_error=None,
                )
            )

    @_guarded
    def delivery_failed(self, delivery_id: str, error: str, *, retry_at: datetime | None) -> None:
        """A failed attempt: tried again at ``retry_at``, or FAILED for good when None."""
        values: dict[str, Any] = {"lease_until": None, "last_error": error[:500]}
        if retry_at is None:
            values["state"] = DeliveryState.FAILED
        else:
            values.update(state=DeliveryState.PENDING, next_attempt_at=retry_at)
        with self._engine.begin() as conn:
            conn.execute(
                update(_deliveries).where(_deliveries.c.id == delivery_id).values(**values)
            )

    @_guarded
    def deliveries(
        self, *, states: Sequence[str] | None = None, limit: int = 50
    ) -> list[tuple[Delivery, Notification]]:
        query = (
            select(_deliveries, _notifications)
            .join(_notifications, _notifications.c.id == _deliveries.c.notification_id)
            .order_by(_deliveries.c.created_at.desc())
            .limit(limit)
        )
        if states:
            query = query.where(_deliveries.c.state.in_(list(states)))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(_delivery_of(row), _notification_of(row)) for row in rows]

    @_guarded
    def delivery_counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_deliveries.c.state, func.count()).group_by(_deliveries.c.state)
            ).all()
        return {state: int(n) for state, n in rows}

    @_guarded
    def forget(self, task_ids: Sequence[str]) -> int:
        """Stop following these tasks and drop their notifications with their deliveries, sent or
        not: the backend removed the tasks (the sandbox's demo scenario), so nothing may point at
        them. Callbacks received stay (their event ids refuse replays). Returns the tasks
        forgotten."""
        forgotten = 0
        with self._engine.begin() as conn:
            for start in range(0, len(task_ids), 500):
                chunk = list(task_ids[start : start + 500])
                told = select(_notifications.c.id).where(_notifications.c.task_id.in_(chunk))
                conn.execute(delete(_deliveries).where(_deliveries.c.notification_id.in_(told)))
                conn.execute(delete(_notifications).where(_notifications.c.task_id.in_(chunk)))
                forgotten += conn.execute(
                    delete(_followed).where(_followed.c.task_id.in_(chunk))
                ).rowcount
        return forgotten

    # --- callbacks received ------------------------------------------------------------------

    @_guarded
    def take_callback(
        self,
        event_id: str,
        *,
        webhook_id: str,
        task_id: str,
        status: str,
        occurred_at: datetime | None,
    ) -> bool:
        """Record a callback's event; False when it was taken before (a replay)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(_callbacks).values(
                        event_id=event_id,
                        webhook_id=webhook_id,
                        task_id=task_id,
                        status=status,
                        occurred_at=occurred_at,
                        received_at=self._now(),
                    )
                )
        except IntegrityError:
            return False
        return True

    @_guarded
    def reported_statuses(self, task_id: str) -> list[tuple[str, datetime | None]]:
        """Statuses the task's callbacks reported, with their times, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_callbacks.c.status, _callbacks.c.occurred_at)
                .where(_callbacks.c.task_id == task_id)
                .order_by(_callbacks.c.received_at)
            ).all()
        return [(status, at) for status, at in rows]

    @_guarded
    def recent_callbacks(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_callbacks).order_by(_callbacks.c.received_at.desc()).limit(limit)
            ).all()
        return [dict(row._mapping) for row in rows]

    @_guarded
    def callbacks_since(self, since: datetime) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(_callbacks)
                    .where(_callbacks.c.received_at >= since)
                ).scalar()
                or 0
            )


def _due_after(next_due: datetime | None, fetched_at: datetime | None) -> Any:
    """``due_at``'s new value: ``next_due``, unless a hint set it after ``fetched_at``."""
    new = literal(next_due, UtcDateTime) if next_due is not None else null()
    if fetched_at is None:
        return new
    return case(
        (_followed.c.due_at > literal(fetched_at, UtcDateTime), _followed.c.due_at), else_=new
    )


# --- rows ----------------------------------------------------------------------------------------


def _insert_notification(
    conn: Connection,
    task_id: str,
    status: str,
    new: NewNotification,
    channels: Sequence[str],
    now: datetime,
) -> None:
    exists = conn.execute(
        select(_notifications.c.id).where(
            _notifications.c.task_id == task_id, _notifications.c.kind == new.kind
        )
    ).first()
    if exists is not None:
        return
    notification_id = str(uuid.uuid4())
    conn.execute(
        insert(_notifications).values(
            id=notification_id,
            task_id=task_id,
            kind=new.kind,
            status=status,
            title=new.title,
            text=new.text,
            reason=new.reason,
            occurred_at=new.occurred_at,
            created_at=now,
        )
    )
    for channel in channels:
        conn.execute(
            insert(_deliveries).values(
                id=str(uuid.uuid4()),
                notification_id=notification_id,
                channel=channel,
                state=DeliveryState.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def _details_values(details: Details, status: str) -> dict[str, Any]:
    values: dict[str, Any] = {"details_for": status} if details.complete else {}
    if details.planned is not None:
        values["planned_scene"] = details.planned.model_dump_json(by_alias=True)
    if details.actual is not None:
        values["actual_scene"] = details.actual.model_dump_json(by_alias=True)
    if details.products is not None:
        values["products"] = json.dumps([_product_json(p) for p in details.products])
    if details.quicklook is not None:
        values["quicklook"] = details.quicklook
    if details.reason is not None:
        values["reason"] = details.reason
    return values


def _product_json(product: ProductView) -> dict[str, Any]:
    return {
        "id": product.id,
        "productType": product.product_type,
        "created": product.created.isoformat() if product.created else None,
        "assets": [{"key": a.key, "title": a.title, "type": a.media_type} for a in product.assets],
    }


def _products_of(text: str | None) -> tuple[ProductView, ...]:
    if not text:
        return ()
    try:
        items = json.loads(text)
        return tuple(
            ProductView(
                str(item["id"]),
                str(item["productType"]),
                datetime.fromisoformat(item["created"]) if item.get("created") else None,
                tuple(
                    AssetView(str(a["key"]), str(a["title"]), str(a["type"]))
                    for a in item["assets"]
                ),
            )
            for item in items
        )
    except (ValueError, KeyError, TypeError):
        log.warning("stored products no longer readable; shown as none")
        return ()


def _scene_of(text: str | None) -> Scene | None:
    if not text:
        return None
    try:
        return Scene.model_validate_json(text)
    except ValueError:
        return None


def _followed_of(row: Any) -> Followed:
    return Followed(
        task_id=row.task_id,
        status=row.status,
        final=bool(row.final),
        created_at=row.created_at,
        status_at=row.status_at,
        checked_at=row.checked_at,
        due_at=row.due_at,
        details_for=row.details_for,
        planned=_scene_of(row.planned_scene),
        actual=_scene_of(row.actual_scene),
        products=_products_of(row.products),
        quicklook=row.quicklook,
        reason=row.reason,
        fetch_errors=int(row.fetch_errors or 0),
        last_error=row.last_error,
        via_webhook=bool(row.via_webhook),
    )


def _notification_of(row: Any) -> Notification:
    m = row._mapping
    c = _notifications.c
    return Notification(
        id=m[c.id],
        task_id=m[c.task_id],
        kind=m[c.kind],
        status=m[c.status],
        title=m[c.title],
        text=m[c.text],
        reason=m[c.reason],
        occurred_at=m[c.occurred_at],
        created_at=m[c.created_at],
        read_at=m[c.read_at],
    )


def _delivery_of(row: Any) -> Delivery:
    m = row._mapping
    c = _deliveries.c
    return Delivery(
        id=m[c.id],
        notification_id=m[c.notification_id],
        channel=m[c.channel],
        state=m[c.state],
        attempts=int(m[c.attempts] or 0),
        next_attempt_at=m[c.next_attempt_at],
        last_error=m[c.last_error],
        sent_at=m[c.sent_at],
    )
