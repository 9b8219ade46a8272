"""Where a campaign stands: each target's order and task, counted as planned / captured /
delivered / failed (issue 12, the campaign view). Pure functions of what the store holds; no I/O.

A target's *order* state comes from the campaign's own row (``tasking.campaigns``): a task id
means placed, an error refused, a journal key without either an order in doubt, nothing at all
never sent. Its *task* status comes from whoever knows it best (the background worker's desk or
the local task history, the later of the two: statuses only move forward). The buckets are
exclusive, so they add up to the number of targets:

- ``not ordered``: no task (never sent, refused, or in doubt);
- ``planned``: RECEIVED or ACTIVE (waiting for its imaging);
- ``captured``: FULFILLED (imaged, the SLA products are ready, the others still processing);
- ``delivered``: DONE (every ordered product is ready);
- ``failed``: REJECTED, CANCELED or FAILED.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tasking import monitoring
from tasking.campaigns import CampaignTarget, TargetState
from tasking.models import Scene, Task, TaskStatus

__all__ = [
    "Bucket",
    "TargetProgress",
    "bucket_of",
    "counts",
    "is_settled",
    "order_state",
    "unsent",
]


class Bucket(enum.StrEnum):
    NOT_ORDERED = "not ordered"
    PLANNED = "planned"
    CAPTURED = "captured"
    DELIVERED = "delivered"
    FAILED = "failed"


_BUCKETS: dict[str, Bucket] = {
    TaskStatus.RECEIVED: Bucket.PLANNED,
    TaskStatus.ACTIVE: Bucket.PLANNED,
    TaskStatus.FULFILLED: Bucket.CAPTURED,
    TaskStatus.DONE: Bucket.DELIVERED,
    TaskStatus.REJECTED: Bucket.FAILED,
    TaskStatus.CANCELED: Bucket.FAILED,
    TaskStatus.FAILED: Bucket.FAILED,
}


def order_state(target: CampaignTarget) -> TargetState:
    """The target's order as its campaign row records it (module doc)."""
    if target.task_id is not None:
        return TargetState.PLACED
    if target.error is not None:
        return TargetState.REFUSED
    if target.order_key is not None:
        return TargetState.UNCONFIRMED
    return TargetState.PENDING


def bucket_of(target: CampaignTarget, status: str | None) -> Bucket:
    """The target's bucket; a placed target whose status is not known yet counts as planned
    (its task exists and nothing says it moved on), an unknown status too."""
    if target.task_id is None:
        return Bucket.NOT_ORDERED
    return _BUCKETS.get(status or "", Bucket.PLANNED)


@dataclass(frozen=True)
class TargetProgress:
    """One target with what is known of its task."""

    target: CampaignTarget
    task: Task | None = None
    """The task's last known document (None: not ordered, or not seen yet)."""
    status: str | None = None
    planned: Scene | None = None
    actual: Scene | None = None
    quicklook: bytes | None = None
    """The quicklook image's bytes (kept by the worker or this session), never a link."""
    quicklook_title: str | None = None

    @property
    def state(self) -> TargetState:
        return order_state(self.target)

    @property
    def bucket(self) -> Bucket:
        return bucket_of(self.target, self.status)

    @property
    def final(self) -> bool:
        """Nothing more will change by itself: a final status, or no task and no order in
        flight (a resume is needed for more)."""
        if self.target.task_id is None:
            return self.state is not TargetState.UNCONFIRMED
        return self.status is not None and monitoring.is_terminal(self.status)


def counts(rows: Iterable[TargetProgress]) -> dict[Bucket, int]:
    """Targets per bucket, every bucket present (zero included), in ``Bucket`` order."""
    found = Counter(row.bucket for row in rows)
    return {bucket: found.get(bucket, 0) for bucket in Bucket}


def is_settled(rows: Sequence[TargetProgress]) -> bool:
    """Nothing in the campaign will change by itself: every target final (an order in doubt may
    get its task any moment, from the run placing it or a reconcile)."""
    return all(row.final for row in rows)


def unsent(rows: Iterable[TargetProgress]) -> list[TargetProgress]:
    """The targets a resume would send: never sent, or refused."""
    return [r for r in rows if r.state in (TargetState.PENDING, TargetState.REFUSED)]
