"""What a status change tells people: the notification's kind, title and text.

Kinds, by the status the task reached: ACTIVE "scheduled", REJECTED "rejected", FULFILLED
"captured", DONE "products_ready", FAILED "failed", CANCELED "canceled" (RECEIVED tells nothing:
the user just ordered it).
"""

from __future__ import annotations

from datetime import datetime

from tasking.desk import Details, NewNotification
from tasking.models import Scene, Task
from tasking.times import format_rfc3339

__all__ = ["KINDS", "LIFECYCLE_RANK", "label", "notification_for"]

KINDS = {
    "ACTIVE": "scheduled",
    "REJECTED": "rejected",
    "FULFILLED": "captured",
    "DONE": "products_ready",
    "FAILED": "failed",
    "CANCELED": "canceled",
}

LIFECYCLE_RANK = {"RECEIVED": 0, "ACTIVE": 1, "FULFILLED": 2, "DONE": 3}
"""Order of the statuses a task passes through on its way to DONE (the others end it)."""


def label(task: Task) -> str:
    """How people recognise a task: its reference, else mode and point."""
    point = f"{task.pointOfInterest.lat:.3f}, {task.pointOfInterest.lon:.3f}"
    if task.reference:
        return f"{task.reference} ({task.imagingMode})"
    return f"{task.imagingMode} at {point}"


def _scene_text(scene: Scene | None) -> str:
    if scene is None:
        return ""
    parts = [f"imaging {format_rfc3339(scene.imagingTime.start)}"]
    if scene.lookSide and scene.passDirection:
        parts.append(f"{scene.lookSide.lower()}-looking, {scene.passDirection.lower()} pass")
    if scene.incidenceAngle is not None:
        parts.append(f"incidence {scene.incidenceAngle:.1f}°")
    return "; ".join(parts)


def notification_for(
    task: Task, status: str, occurred_at: datetime, details: Details | None
) -> NewNotification | None:
    """The notification for ``task`` reaching ``status`` (None: nothing to tell)."""
    kind = KINDS.get(status)
    if kind is None:
        return None
    name = label(task)
    reason = details.reason if details is not None else None
    planned = details.planned if details is not None else None
    actual = details.actual if details is not None else None
    products = details.products if details is not None else None
    if status == "ACTIVE":
        title = f"Scheduled: {name}"
        scene = _scene_text(planned)
        text = (
            f"ICEYE accepted the task and planned it ({scene})."
            if scene
            else ("ICEYE accepted the task and planned a pass.")
        )
    elif status == "REJECTED":
        title = f"Rejected: {name}"
        text = f"ICEYE rejected the task: {reason or 'no reason was given'}."
    elif status == "FULFILLED":
        title = f"Captured: {name}"
        scene = _scene_text(actual)
        text = (
            "The scene was captured"
            + (f" ({scene})" if scene else "")
            + ("; the SLA products are ready to download.")
        )
    elif status == "DONE":
        title = f"Products ready: {name}"
        types = sorted({p.product_type for p in products or ()})
        text = "All ordered products are ready" + (f": {', '.join(types)}." if types else ".")
    elif status == "FAILED":
        title = f"Failed: {name}"
        text = f"The task failed: {reason or 'no reason was given'}."
    else:
        title = f"Canceled: {name}"
        text = "The task was cancelled."
    return NewNotification(kind, title, text, occurred_at, reason)
