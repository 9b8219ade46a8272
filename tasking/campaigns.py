"""Campaigns: many targets ordered in one go with the same options (issue 12, "batch create").

A campaign is a name, a contract, the options its orders share, and its targets in order (name,
point), each with the exact request it sends. The requests are built and checked once, when the
campaign is made (``campaign_requests``), and kept: a resume sends the very same bodies, so the
order journal (``tasking.journal``) recognises an order already placed or in flight by its
fingerprint and never makes a second task. Each reference names the campaign (a short id) and the
target's position, so two campaigns of the same targets are different orders, and a lookup during
reconciling finds exactly one task per target.

Creating (``run_campaign``, called by ``TaskingService.create_campaign`` / ``resume_campaign``):

1. the targets whose order is in doubt (SENDING or UNCONFIRMED in the journal) are reconciled
   first; one that stays in doubt is not sent (``UNCONFIRMED``);
2. every target without a task and without an open order goes through ``place_order``, the same
   journaled path as a single order; its journal key is written to the campaign before anything
   is sent (``on_journaled``), so an interrupted run leaves nothing unknown behind;
3. a progress callback is told each target's result as it is known; it may raise to stop the run
   (a page closed, a test), and the next resume goes on from there. A backend that cannot be
   reached (nothing sent) stops the run too, leaving the rest ``PENDING``.

Tables ``campaigns`` and ``campaign_targets`` (revision 0004 of ``tasking/migrations``).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from tasking import rules
from tasking.errors import HistoryError, InputError, TaskingError, TransportError, Violation
from tasking.journal import OrderState
from tasking.models import Contract, TaskRequest
from tasking.rules import TaskDraft
from tasking.store import UtcDateTime, guarded, migrate
from tasking.times import utc_now

if TYPE_CHECKING:
    from tasking.journal import Order
    from tasking.service import TaskingService
    from tasking.targets import Target

__all__ = [
    "Campaign",
    "CampaignRun",
    "CampaignStatus",
    "CampaignStore",
    "CampaignTarget",
    "Progress",
    "TargetResult",
    "TargetState",
    "Unfinished",
    "campaign_requests",
    "metadata",
    "run_campaign",
]

log = logging.getLogger(__name__)

_guarded = guarded("campaign store")


class CampaignStatus(enum.StrEnum):
    CREATING = "CREATING"
    """Some targets have no task yet and may still get one (not sent, or in doubt)."""
    PLACED = "PLACED"
    """Every target has its task."""
    PARTIAL = "PARTIAL"
    """Every target is settled, but some were refused: a resume sends them again."""


class TargetState(enum.StrEnum):
    PENDING = "PENDING"
    """Not sent yet."""
    PLACED = "PLACED"
    """Its task exists (``task_id``)."""
    UNCONFIRMED = "UNCONFIRMED"
    """Sent without a definite answer; being reconciled, never resent meanwhile."""
    REFUSED = "REFUSED"
    """Certainly no task (refused, or proven absent): a resume sends it again."""


metadata = MetaData()
"""The campaign tables as the queries see them; ``tasking/migrations`` (0004) makes them so."""
_campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", Text, nullable=False),
    Column("contract_id", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("options", Text, nullable=False),
    Column("status", String(16), nullable=False),
)
_targets = Table(
    "campaign_targets",
    metadata,
    Column(
        "campaign_id",
        String(36),
        ForeignKey("campaigns.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("request", Text, nullable=False),
    Column("order_key", String(36), nullable=True),
    Column("task_id", String(64), nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_campaign_targets_task_id", "task_id"),
)


@dataclass(frozen=True)
class CampaignTarget:
    position: int
    """The target's place in the campaign, from 0."""
    name: str
    lat: float
    lon: float
    request: TaskRequest
    order_key: str | None = None
    """The order journal's key, written before the create is sent."""
    task_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    contract_id: str
    created_at: datetime
    options: dict[str, Any]
    """The wire options every order shares (the request without its point and reference)."""
    status: CampaignStatus
    targets: tuple[CampaignTarget, ...]


@dataclass(frozen=True)
class Unfinished:
    """A campaign some of whose targets have no task yet (``CampaignStore.unfinished``)."""

    id: str
    name: str
    created_at: datetime
    total: int
    placed: int


@dataclass(frozen=True)
class TargetResult:
    position: int
    name: str
    state: TargetState
    task_id: str | None = None
    error: str | None = None
    sent: bool = False
    """Whether this run sent a create for it."""


@dataclass(frozen=True)
class CampaignRun:
    """What a create or resume did: one result per target, in the campaign's order."""

    campaign: Campaign
    results: tuple[TargetResult, ...]

    def count(self, state: TargetState) -> int:
        return sum(1 for r in self.results if r.state is state)

    @property
    def sent(self) -> int:
        """Creates sent by this run."""
        return sum(1 for r in self.results if r.sent)


Progress = Callable[[int, int, TargetResult], None]
"""``(settled, total, result)``: called as each target's result is known."""


class CampaignStore:
    """Campaigns and their targets in the local store; thread-safe, shared by every session."""

    @_guarded
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self.new_id = new_id
        migrate(engine)

    @_guarded
    def create(
        self,
        campaign_id: str,
        name: str,
        targets: Sequence[Target],
        requests: Sequence[TaskRequest],
    ) -> Campaign:
        """Record a campaign and its targets (one transaction), status CREATING."""
        if not requests or len(targets) != len(requests):
            raise InputError("A campaign needs one request per target", field="targets")
        options = requests[0].to_wire()
        for shared_not in ("pointOfInterest", "reference", "notifications"):
            options.pop(shared_not, None)
        row = {
            "id": campaign_id,
            "name": name,
            "contract_id": requests[0].contractID,
            "created_at": self._clock(),
            "options": json.dumps(options, sort_keys=True),
            "status": CampaignStatus.CREATING.value,
        }
        rows = [
            {
                "campaign_id": campaign_id,
                "position": position,
                "name": target.name,
                "lat": request.pointOfInterest.lat,
                "lon": request.pointOfInterest.lon,
                "request": request.model_dump_json(by_alias=True, exclude_unset=True),
            }
            for position, (target, request) in enumerate(zip(targets, requests, strict=True))
        ]
        with self._lock, self._engine.begin() as conn:
            conn.execute(insert(_campaigns).values(**row))
            conn.execute(insert(_targets), rows)
        made = self.get(campaign_id)
        if made is None:
            raise HistoryError("The campaign store lost the campaign it just recorded")
        return made

    @_guarded
    def get(self, campaign_id: str) -> Campaign | None:
        with self._engine.connect() as conn:
            head = (
                conn.execute(select(_campaigns).where(_campaigns.c.id == campaign_id))
                .mappings()
                .first()
            )
            if head is None:
                return None
            rows = list(
                conn.execute(
                    select(_targets)
                    .where(_targets.c.campaign_id == campaign_id)
                    .order_by(_targets.c.position)
                ).mappings()
            )
        try:
            targets = tuple(
                CampaignTarget(
                    position=r["position"],
                    name=r["name"],
                    lat=r["lat"],
                    lon=r["lon"],
                    request=TaskRequest.model_validate_json(r["request"]),
                    order_key=r["order_key"],
                    task_id=r["task_id"],
                    error=r["error"],
                )
                for r in rows
            )
            return Campaign(
                id=head["id"],
                name=head["name"],
                contract_id=head["contract_id"],
                created_at=head["created_at"],
                options=json.loads(head["options"]),
                status=CampaignStatus(head["status"]),
                targets=targets,
            )
        except ValueError as error:  # pydantic's ValidationError and JSONDecodeError included
            raise HistoryError(
                f"The campaign store has a campaign it cannot read ({campaign_id}): "
                f"{type(error).__name__}"
            ) from None

    @_guarded
    def ids(self) -> list[str]:
        """Every campaign's id, newest first."""
        with self._engine.connect() as conn:
            return list(
                conn.execute(select(_campaigns.c.id).order_by(_campaigns.c.created_at.desc()))
                .scalars()
                .all()
            )

    @_guarded
    def names(self) -> dict[str, str]:
        """Campaign id → name, newest first (one query: the pages' pickers)."""
        query = select(_campaigns.c.id, _campaigns.c.name).order_by(_campaigns.c.created_at.desc())
        with self._engine.connect() as conn:
            return {row.id: row.name for row in conn.execute(query)}

    @_guarded
    def unfinished(self, limit: int) -> list[Unfinished]:
        """The newest ``limit`` campaigns not every target of which has a task, newest first,
        with their counts (two queries; no request is decoded: New campaign lists them on every
        run, with Resume)."""
        heads = (
            select(_campaigns.c.id, _campaigns.c.name, _campaigns.c.created_at)
            .where(_campaigns.c.status != CampaignStatus.PLACED.value)
            .order_by(_campaigns.c.created_at.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = list(conn.execute(heads))
            if not rows:
                return []
            counted = conn.execute(
                select(
                    _targets.c.campaign_id,
                    func.count(),
                    func.count(_targets.c.task_id),
                )
                .where(_targets.c.campaign_id.in_([row.id for row in rows]))
                .group_by(_targets.c.campaign_id)
            )
            counts = {campaign_id: (total, placed) for campaign_id, total, placed in counted}
        return [
            Unfinished(row.id, row.name, row.created_at, *counts.get(row.id, (0, 0)))
            for row in rows
        ]

    @_guarded
    def task_campaigns(self) -> dict[str, str]:
        """Task id → the id of the campaign that made it, for every campaign's task (one query:
        All tasks names each task's campaign)."""
        query = select(_targets.c.task_id, _targets.c.campaign_id).where(
            _targets.c.task_id.is_not(None)
        )
        with self._engine.connect() as conn:
            return {row.task_id: row.campaign_id for row in conn.execute(query)}

    @_guarded
    def campaign_of_task(self, task_id: str) -> str | None:
        """The campaign whose target made this task, if any (All tasks' filter)."""
        with self._engine.connect() as conn:
            return conn.execute(
                select(_targets.c.campaign_id).where(_targets.c.task_id == task_id)
            ).scalar()

    @_guarded
    def set_order(self, campaign_id: str, position: int, order_key: str) -> None:
        self._update(campaign_id, position, order_key=order_key)

    @_guarded
    def set_outcome(
        self, campaign_id: str, position: int, *, task_id: str | None, error: str | None
    ) -> None:
        self._update(campaign_id, position, task_id=task_id, error=error)

    @_guarded
    def set_status(self, campaign_id: str, status: CampaignStatus) -> None:
        with self._lock, self._engine.begin() as conn:
            conn.execute(
                update(_campaigns).where(_campaigns.c.id == campaign_id).values(status=status.value)
            )

    def _update(self, campaign_id: str, position: int, **values: object) -> None:
        where = (_targets.c.campaign_id == campaign_id) & (_targets.c.position == position)
        with self._lock, self._engine.begin() as conn:
            conn.execute(update(_targets).where(where).values(**values))


def campaign_requests(
    campaign_id: str,
    name: str,
    draft: TaskDraft,
    targets: Sequence[Target],
    contract: Contract,
    now: datetime,
) -> list[TaskRequest]:
    """One request per target: ``draft``'s options at the target's point, with a reference naming
    the campaign and the target. Every target gets the rules of a single task; raises InputError
    naming each refused target (its row when it came from a file), and nothing is made."""
    if not targets:
        raise InputError("A campaign needs at least one target", field="targets", rule="required")
    requests: list[TaskRequest] = []
    refused: list[Violation] = []
    for position, target in enumerate(targets):
        where = f"Target {position + 1} ({target.name}" + (
            f", row {target.row})" if target.row is not None else ")"
        )
        try:
            requests.append(
                rules.build_task_request(
                    dataclasses.replace(
                        draft,
                        lat=target.lat,
                        lon=target.lon,
                        reference=_reference(campaign_id, name, position, target.name),
                    ),
                    contract,
                    now,
                )
            )
        except InputError as error:
            refused.extend(
                Violation(v.field, v.rule, f"{where}: {v.message}") for v in error.violations
            )
    if refused:
        raise InputError(refused)
    return requests


def _reference(campaign_id: str, name: str, position: int, target: str) -> str:
    """Unique per campaign and target (so reconciling finds one task per target), readable in
    the task list, within ICEYE's length limit (the campaign's name is cut, never the tag)."""
    tag = f" [{campaign_id[:8]}/{position + 1}]"
    text = f"{name}: {target}"
    return text[: rules.REFERENCE_MAX - len(tag)] + tag


def run_campaign(
    service: TaskingService,
    store: CampaignStore,
    campaign_id: str,
    on_progress: Progress | None = None,
) -> CampaignRun:
    """Reconcile the targets in doubt, then send every missing one through the journal (module
    doc). Raises HistoryError if the campaign cannot be read; whatever ``on_progress`` raises
    stops the run (everything done so far is recorded)."""
    campaign = store.get(campaign_id)
    if campaign is None:
        raise HistoryError(f"The campaign store has no campaign {campaign_id}")
    total = len(campaign.targets)
    results: dict[int, TargetResult] = {}

    def settle(result: TargetResult) -> None:
        results[result.position] = result
        if on_progress is not None:
            on_progress(len(results), total, result)

    # 1. What is known or in doubt, first: nothing in doubt may be sent again.
    missing: list[CampaignTarget] = []
    for target in campaign.targets:
        if target.task_id is not None:
            settle(TargetResult(target.position, target.name, TargetState.PLACED, target.task_id))
        elif target.order_key is not None:
            order = service.journal.get(target.order_key)
            if order is None:  # the journal lost it: the fingerprint still guards a resend
                missing.append(target)
                continue
            if order.open:
                order = service.reconcile(order.key)
            result = _result(target, order, sent=False)
            _record(store, campaign_id, result)
            if result.state is TargetState.REFUSED:
                missing.append(target)
            else:
                settle(result)
        else:
            missing.append(target)

    # 2. The missing ones, through the same journaled path as a single order. A backend that
    # cannot be reached stops the run: the rest stay PENDING for the next resume, rather than
    # each waiting out its own connection retries to be refused the same way.
    for index, target in enumerate(missing):
        result, unreachable = _send(service, store, campaign_id, target)
        settle(result)
        if unreachable:
            for rest in missing[index + 1 :]:
                results[rest.position] = TargetResult(rest.position, rest.name, TargetState.PENDING)
            break

    if any(r.sent for r in results.values()):
        service.refresh_clock()  # once for the batch (the next event), not once per order
    status = _status(results.values(), total)
    try:
        store.set_status(campaign_id, status)
    except HistoryError as error:
        log.error("campaign %s: status %s not recorded: %s", campaign_id, status, error)
    final = store.get(campaign_id) or dataclasses.replace(campaign, status=status)
    return CampaignRun(final, tuple(results[p] for p in sorted(results)))


def _send(
    service: TaskingService, store: CampaignStore, campaign_id: str, target: CampaignTarget
) -> tuple[TargetResult, bool]:
    """The target's result, and whether the backend proved unreachable (nothing got there)."""

    def journaled(order: Order) -> None:
        # Before anything is sent: if this fails, place_order raises and nothing is sent.
        store.set_order(campaign_id, target.position, order.key)

    unreachable = False
    try:
        placement = service.place_order(target.request, on_journaled=journaled, refresh_clock=False)
    except TaskingError as error:  # a definite refusal, or nothing sent at all
        # Not sent: the local store failed, the text cannot be encoded, or no connection.
        local = isinstance(error, (HistoryError, InputError))
        unreachable = isinstance(error, TransportError)
        result = TargetResult(
            target.position,
            target.name,
            TargetState.REFUSED,
            error=error.message,
            sent=not (local or unreachable),
        )
    else:
        result = _result(target, placement.order, sent=placement.new)
    _record(store, campaign_id, result)
    return result, unreachable


def _result(target: CampaignTarget, order: Order, *, sent: bool) -> TargetResult:
    state = {
        OrderState.PLACED: TargetState.PLACED,
        OrderState.NOT_PLACED: TargetState.REFUSED,
    }.get(order.state, TargetState.UNCONFIRMED)
    return TargetResult(target.position, target.name, state, order.task_id, order.error, sent)


def _record(store: CampaignStore, campaign_id: str, result: TargetResult) -> None:
    """Best-effort (the journal holds the truth; the next resume repairs a miss)."""
    try:
        store.set_outcome(
            campaign_id,
            result.position,
            task_id=result.task_id if result.state is TargetState.PLACED else None,
            error=None if result.state is TargetState.PLACED else result.error,
        )
    except HistoryError as error:
        log.error("campaign %s target %d: not recorded: %s", campaign_id, result.position, error)


def _status(results: Any, total: int) -> CampaignStatus:
    states = [r.state for r in results]
    if len(states) == total and all(s is TargetState.PLACED for s in states):
        return CampaignStatus.PLACED
    if len(states) < total or any(
        s in (TargetState.UNCONFIRMED, TargetState.PENDING) for s in states
    ):
        return CampaignStatus.CREATING
    return CampaignStatus.PARTIAL
