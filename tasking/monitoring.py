"""The task lifecycle and the monitoring policy: pure functions of a task's status and time, no I/O.

The one home of the lifecycle's facts, for the app and the sandbox alike: the status sets below and
the default SLA. Statuses and transitions: ``reference/iceye-api.md`` §5.1; what is available
when: §4.7 (scene from ACTIVE), §4.8 (products from FULFILLED); cancellation: §4.6 (RECEIVED or
ACTIVE only) and the fee tiers of ICEYE's product specification §3.6 (iceye-api.md §5.3); polling
every 5 s as ICEYE's demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from tasking.models import TaskStatus
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
    "FeeTier",
    "Fetch",
    "Stage",
    "can_cancel",
    "cancellation_fee",
    "fetches_after",
    "is_captured",
    "is_terminal",
    "next_poll_in",
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


def next_poll_in(status: str | None, *, pending: bool = False) -> float | None:
    """Seconds until the next poll, or None once nothing more will come: the status is final and
    nothing it calls for is left to fetch (``pending``). A status not read yet (None) is polled."""
    if status is not None and is_terminal(status) and not pending:
        return None
    return POLL_INTERVAL_S
