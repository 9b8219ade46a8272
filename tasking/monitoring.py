"""The task lifecycle and the monitoring policy: pure functions of a task's status and time, no I/O.

The one home of the lifecycle's facts, for the app and the sandbox alike: the status sets below and
the default SLA. Statuses and transitions: ``reference/iceye-api.md`` §5.1; what is available
when: §4.7 (scene from ACTIVE), §4.8 (products from FULFILLED); cancellation: §4.6 (RECEIVED or
ACTIVE only) and the fee tiers of ICEYE's product specification §3.6 (iceye-api.md §5.3); polling
every 5 s as ICEYE's demo.

What the Monitor may say about a task depends on its status *and* the backend's clock: a task stays
ACTIVE between its capture and its SLA products (§5.1), so "planned, may be re-planned" is true
only until the planned imaging end, and the products are due the SLA after it (§5.2). ``capture_of``
decides which of those holds; ``fee_schedule`` which cancellation fees are still ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal

from tasking.models import TaskStatus
from tasking.modes import sla_hours
from tasking.times import to_utc

__all__ = [
    "CANCELLABLE",
    "DEFAULT_SLA",
    "FEE_TIERS",
    "FULL_FEE",
    "POLL_INTERVAL_S",
    "PRODUCT_STATUSES",
    "SCENE_STATUSES",
    "STAGES",
    "STAGE_STATUSES",
    "TERMINAL",
    "Capture",
    "FeeSpan",
    "FeeTier",
    "Fetch",
    "Progress",
    "Stage",
    "can_cancel",
    "cancellation_fee",
    "capture_of",
    "fee_schedule",
    "fetches_after",
    "is_captured",
    "is_terminal",
    "next_poll_in",
    "products_due",
    "progress_of",
    "stage_index",
    "stage_of",
    "statuses_text",
]

Fetch = Literal["scene", "products"]

# Final: no further change will come.
TERMINAL: Final = frozenset(
    {TaskStatus.DONE, TaskStatus.REJECTED, TaskStatus.CANCELED, TaskStatus.FAILED}
)
# Cancelling is allowed before imaging only (§4.6); the price is held in these statuses (§9.10).
CANCELLABLE: Final = frozenset({TaskStatus.RECEIVED, TaskStatus.ACTIVE})
# A scene exists from ACTIVE: planned while ACTIVE, the captured one after that (§4.7).
SCENE_STATUSES: Final = frozenset({TaskStatus.ACTIVE, TaskStatus.FULFILLED, TaskStatus.DONE})
# Products exist once captured: the SLA types when FULFILLED, every ordered type when DONE (§4.8).
# These are also the captured statuses, and the ones whose price is spent (§9.10).
PRODUCT_STATUSES: Final = frozenset({TaskStatus.FULFILLED, TaskStatus.DONE})

# SPEC TaskRequest.sla: "By default it is SLA_8H" (the server's default when neither the request
# nor the contract sets one).
DEFAULT_SLA: Final = "SLA_8H"

# The timeline's stages and the status each stands for (ICEYE's demo TaskTimeline: RECEIVED →
# Received, ACTIVE → Scheduled, FULFILLED → Captured, DONE → Complete).
STAGES: Final = ("Received", "Scheduled", "Captured", "Complete")
STAGE_STATUSES: Final = (
    TaskStatus.RECEIVED,
    TaskStatus.ACTIVE,
    TaskStatus.FULFILLED,
    TaskStatus.DONE,
)
_STAGE_OF: Final[dict[str, int]] = {status: i for i, status in enumerate(STAGE_STATUSES)}
_END_LABELS: Final[dict[str, str]] = {
    TaskStatus.REJECTED: "Rejected",
    TaskStatus.CANCELED: "Canceled",
    TaskStatus.FAILED: "Failed",
}

# ICEYE's demo polls every 5 s until a final status (iceye-api.md §4.5).
POLL_INTERVAL_S: Final = 5.0


def is_terminal(status: str) -> bool:
    """No further change will come (DONE, REJECTED, CANCELED, FAILED)."""
    return status in TERMINAL


def fetches_after(previous: str | None, current: str) -> frozenset[Fetch]:
    """What a monitor fetches after seeing ``current`` (``previous`` None: first observation).

    Scene on ACTIVE, FULFILLED and DONE; products on FULFILLED and DONE; nothing when the status did
    not change, and nothing for REJECTED, CANCELED or FAILED (they have neither).
    """
    if previous == current or (previous is not None and is_terminal(previous)):
        return frozenset()  # issue 2: nothing more after a terminal status
    wanted: set[Fetch] = set()
    if current in SCENE_STATUSES:
        wanted.add("scene")
    if current in PRODUCT_STATUSES:
        wanted.add("products")
    return frozenset(wanted)


def is_captured(status: str) -> bool:
    """The imaging happened (FULFILLED, DONE): the scene is the captured one, products exist."""
    return status in PRODUCT_STATUSES


def statuses_text(statuses: frozenset[TaskStatus]) -> str:
    """``ACTIVE, FULFILLED or DONE``: a set of statuses in lifecycle order, for messages."""
    names = [s.value for s in TaskStatus if s in statuses]
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def stage_index(status: str) -> int:
    """Timeline stage 0..3 of ``STAGES``; -1 for REJECTED/CANCELED/FAILED or an unknown status (where
    such a task stopped is not knowable from its status: use its history)."""
    return _STAGE_OF.get(status, -1)


@dataclass(frozen=True)
class Stage:
    """A status as the timeline shows it."""

    index: int
    label: str
    is_end: bool
    ok: bool
    """False for the unhappy endings (rejected, canceled, failed)."""


def stage_of(status: str) -> Stage:
    index = stage_index(status)
    if index >= 0:
        return Stage(index, STAGES[index], is_end=status in TERMINAL, ok=True)
    label = _END_LABELS.get(status, status.title())
    return Stage(-1, label, is_end=is_terminal(status), ok=False)


def can_cancel(status: str) -> bool:
    """Cancelling is allowed in RECEIVED or ACTIVE only (iceye-api.md §4.6)."""
    return status in CANCELLABLE


@dataclass(frozen=True)
class FeeTier:
    percent: int
    label: str
    """The fee in words, as a share of the order value (for a contract with a price list)."""

    @property
    def share(self) -> str:
        """``free``, ``10 %``: the fee without naming an amount it is a share of (a contract with
        no price list has no order value in the API: its fees are charged as the contract says)."""
        return "free" if self.percent == 0 else f"{self.percent} %"


# (more than this before the window start, tier); checked in order. Boundaries: exactly 72 h before
# is already the 10 % tier, exactly 48 h the 20 % tier, exactly 24 h the 100 % tier ("more than 72 h"
# is free; the PSPEC ranges "72–48 h" etc. are read as (48 h, 72 h]).
FEE_TIERS: Final = (
    (timedelta(hours=72), FeeTier(0, "free")),
    (timedelta(hours=48), FeeTier(10, "10 % of the order value")),
    (timedelta(hours=24), FeeTier(20, "20 % of the order value")),
)
FULL_FEE: Final = FeeTier(100, "100 % of the order value (no refund)")


def cancellation_fee(now: datetime, window_start: datetime) -> FeeTier:
    """Fee for cancelling at ``now`` (PSPEC 3.6): > 72 h before the window start free; (48, 72] h
    10 %; (24, 48] h 20 %; 24 h or less (or after the start) 100 %."""
    ahead = to_utc(window_start) - to_utc(now)
    for more_than, tier in FEE_TIERS:
        if ahead > more_than:
            return tier
    return FULL_FEE


@dataclass(frozen=True)
class FeeSpan:
    """One fee tier as times for one window: it applies to a cancel from ``start`` (None: since
    ordering) until ``end`` (None: for as long as the task can be cancelled)."""

    tier: FeeTier
    start: datetime | None
    end: datetime | None
    current: bool
    """The tier that applies to a cancel now."""


def fee_schedule(now: datetime, window_start: datetime) -> list[FeeSpan]:
    """The fee tiers still ahead at ``now`` for a window starting at ``window_start``, in order: the
    one that applies now first (marked ``current``, the same tier as ``cancellation_fee``), then
    the dearer ones with the times they begin. Tiers whose time has passed are left out."""
    start_utc, now_utc = to_utc(window_start), to_utc(now)
    spans: list[FeeSpan] = []
    begins: datetime | None = None
    for more_than, tier in FEE_TIERS:
        # The tier holds while the start is more than ``more_than`` ahead: until start − more_than.
        ends = start_utc - more_than
        spans.append(FeeSpan(tier, begins, ends, current=False))
        begins = ends
    spans.append(FeeSpan(FULL_FEE, begins, None, current=False))
    ahead = [s for s in spans if s.end is None or s.end > now_utc]
    first = ahead[0]
    ahead[0] = FeeSpan(first.tier, first.start, first.end, current=True)
    return ahead


class Progress(StrEnum):
    """Where a task stands, as the Monitor tells it: its status read with the backend's clock."""

    WAITING = "waiting"
    """RECEIVED (or not read yet): ICEYE has not scheduled it, so there is no scene yet."""
    PLANNED = "planned"
    """ACTIVE and the planned imaging end is still ahead (or unknown): ICEYE may re-plan it."""
    IMAGED = "imaged"
    """ACTIVE but the planned imaging end has passed: captured, the products are due (a task
    stays ACTIVE until its SLA products are ready, iceye-api.md §5.1)."""
    SLA_READY = "sla-ready"
    """FULFILLED: the SLA products are ready, non-SLA products may still be processing."""
    COMPLETE = "complete"
    """DONE: every ordered product is ready."""
    REJECTED = "rejected"
    CANCELED = "canceled"
    FAILED = "failed"
    UNKNOWN = "unknown"
    """A status this app does not know."""


_PROGRESS_OF: Final[dict[str, Progress]] = {
    TaskStatus.RECEIVED: Progress.WAITING,
    TaskStatus.FULFILLED: Progress.SLA_READY,
    TaskStatus.DONE: Progress.COMPLETE,
    TaskStatus.REJECTED: Progress.REJECTED,
    TaskStatus.CANCELED: Progress.CANCELED,
    TaskStatus.FAILED: Progress.FAILED,
}
_IMAGED: Final = frozenset({Progress.IMAGED, Progress.SLA_READY, Progress.COMPLETE})


def _passed(moment: datetime | None, now: datetime | None) -> bool:
    return moment is not None and now is not None and to_utc(moment) < to_utc(now)


def progress_of(status: str | None, imaging_end: datetime | None, now: datetime | None) -> Progress:
    """The task's progress: its status, except that an ACTIVE task whose (planned) imaging end is
    before the backend's ``now`` has been imaged. Without ``now`` or an imaging time, an ACTIVE
    task counts as planned (nothing says the imaging passed)."""
    if status is None:
        return Progress.WAITING
    if status == TaskStatus.ACTIVE:
        return Progress.IMAGED if _passed(imaging_end, now) else Progress.PLANNED
    return _PROGRESS_OF.get(status, Progress.UNKNOWN)


def products_due(
    imaging_end: datetime, sla: str | None, available_in_s: int | None = None
) -> datetime | None:
    """When the SLA products are due: the imaging end plus the task's SLA (``DEFAULT_SLA`` when
    the task names none, the server's default); the task's ``productsAvailableInSeconds`` when its
    SLA does not read as hours; None when neither says."""
    hours = sla_hours(sla or DEFAULT_SLA)
    if hours is not None:
        return to_utc(imaging_end) + timedelta(hours=hours)
    if available_in_s is not None and available_in_s > 0:
        return to_utc(imaging_end) + timedelta(seconds=available_in_s)
    return None


@dataclass(frozen=True)
class Capture:
    """What may be said of a task's capture and products at one moment (``capture_of``)."""

    progress: Progress
    imaged_at: datetime | None
    """When it was imaged: the captured scene's imaging end, or the planned one once passed;
    None before the imaging, for a task that was never imaged, or when no scene was read."""
    products_due: datetime | None
    """When its SLA products are due (imaged tasks only; None when the SLA says no time)."""
    sla: str
    """The task's SLA, or ``DEFAULT_SLA`` when it names none."""
    overdue: bool
    """Imaged, the SLA products are not ready (still ACTIVE), and their due time has passed."""

    @property
    def may_be_replanned(self) -> bool:
        """ICEYE may still move the planned scene: only until its imaging (iceye-api.md §4.7)."""
        return self.progress is Progress.PLANNED


def capture_of(
    status: str | None,
    *,
    planned_end: datetime | None,
    actual_end: datetime | None,
    now: datetime | None,
    sla: str | None,
    available_in_s: int | None = None,
) -> Capture:
    """The capture as the backend's clock (``now``) and the scenes read so far show it.

    ``planned_end``/``actual_end``: the imaging end of the planned scene (read while ACTIVE) and
    of the captured one (read once FULFILLED or DONE). The captured one wins; the planned one
    stands for it only once its time has passed."""
    end = actual_end if actual_end is not None else planned_end
    progress = progress_of(status, end, now)
    imaged_at: datetime | None = None
    if progress in _IMAGED:
        if actual_end is not None:
            imaged_at = to_utc(actual_end)
        elif _passed(planned_end, now):
            imaged_at = to_utc(planned_end) if planned_end is not None else None
    due = products_due(imaged_at, sla, available_in_s) if imaged_at is not None else None
    overdue = progress is Progress.IMAGED and _passed(due, now)
    return Capture(progress, imaged_at, due, sla or DEFAULT_SLA, overdue)


def next_poll_in(status: str | None, *, pending: bool = False) -> float | None:
    """Seconds until the next poll, or None once nothing more will come: the status is final and
    nothing it calls for is left to fetch (``pending``). A status not read yet (None) is polled."""
    if status is not None and is_terminal(status) and not pending:
        return None
    return POLL_INTERVAL_S
