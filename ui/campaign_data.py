"""What the campaign pages know of a campaign's tasks, read from the store (issue 12).

While a background worker follows the tasks, everything comes from what it keeps (the desk: status,
scenes, quicklook) and the local task history (the task's document): a refresh asks ICEYE nothing,
however many tabs are open. Without a worker the view asks ICEYE for its tasks' statuses through
the task list (getTasks by contract and creation time: one request per hundred tasks, not one per
task), records them in the history like All tasks does, and reads the rest as above; the scenes
and quicklooks the worker did not keep are fetched for this session (``fetch_details``: what each
task's status calls for, once per status, a few tasks per refresh so that a large campaign costs
ICEYE a trickle rather than a burst), besides what its Monitor fetched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from tasking import monitoring
from tasking.campaign_progress import TargetProgress
from tasking.campaigns import Campaign
from tasking.desk import Followed
from tasking.errors import NotFound, TaskingError
from tasking.export import Footprint
from tasking.models import Scene, Task, to_utc
from tasking.service import TaskingService
from tasking.watch import QUICKLOOK_ASSET, ProductView
from ui import keys
from ui.desk_view import later_status
from ui.elements import Constellation, constellation
from ui.task_map import SceneKnown, footprints

__all__ = [
    "Fetched",
    "campaign_footprints",
    "campaign_tasks",
    "details_pending",
    "fetch_details",
    "poll_statuses",
    "read_progress",
]

log = logging.getLogger(__name__)

# getTasks' createdAfter is inclusive of nothing earlier than the first task: a second of slack
# for a timestamp rounded on the way (RFC 3339 with or without fractions).
CREATED_SLACK = timedelta(seconds=1)


def _documents(service: TaskingService, campaign: Campaign) -> dict[str, Task]:
    """Task id → last known document, from the local history (one read per task)."""
    found: dict[str, Task] = {}
    for target in campaign.targets:
        if target.task_id is not None:
            task = service.history.get(target.task_id)
            if task is not None:
                found[target.task_id] = task
    return found


def poll_statuses(service: TaskingService, campaign: Campaign) -> None:
    """Without a worker: read the campaign's open tasks from ICEYE through the task list (it
    stops once every one is found; the list's order is not documented) and record them in the
    history; nothing is asked when every task is known to be final. Raises TaskingError."""
    known = _documents(service, campaign)
    ids = [t.task_id for t in campaign.targets if t.task_id is not None]
    open_ids = [i for i in ids if i not in known or not monitoring.is_terminal(known[i].status)]
    if not open_ids:
        return
    unknown = [i for i in open_ids if i not in known]
    wanted = set(open_ids)
    found: list[Task] = []
    if known:
        since = min(to_utc(known[i].createdAt) for i in known) - CREATED_SLACK
        page_size = 100  # getTasks' largest page (iceye-api.md §1.1)
        for task in service.client.iter_tasks(
            contract_id=campaign.contract_id, created_after=since, limit=page_size
        ):
            if task.id in wanted:
                found.append(task)
                wanted.discard(task.id)
                if not wanted:
                    break
    # A task the history never saw (its order was placed by another app on another store): one
    # getTask each, once; after that it is in the history and listed like the others.
    for task_id in unknown:
        if task_id in wanted:
            found.append(service.client.get_task(task_id))
            wanted.discard(task_id)
    if found:
        service.history.record_all(found)


class _Seen(NamedTuple):
    actual: Scene | None = None
    planned: Scene | None = None
    quicklook: bytes | None = None
    title: str | None = None


def _session_scenes() -> dict[str, _Seen]:
    """What this session fetched (when no worker keeps it in the desk): the campaign view's own
    details, else the Monitor's."""
    watches = keys.WATCHES.get() or {}
    seen = {
        task_id: _Seen(w.actual, w.planned, w.quicklook, w.quicklook_title)
        for task_id, w in watches.items()
    }
    for task_id, kept in (keys.CAMPAIGN_VIEW_DETAILS.get() or {}).items():
        before = seen.get(task_id, _Seen())
        seen[task_id] = _Seen(
            kept.actual or before.actual,
            kept.planned or before.planned,
            kept.quicklook or before.quicklook,
            kept.title or before.title,
        )
    return seen


@dataclass(frozen=True)
class Fetched:
    """What the campaign view fetched itself for one task, and for which status."""

    status: str
    planned: Scene | None = None
    actual: Scene | None = None
    quicklook: bytes | None = None
    title: str | None = None


DETAILS_PER_REFRESH = 3
"""Tasks whose scene and products one refresh may fetch (at most three requests each)."""


def fetch_details(
    service: TaskingService, rows: Sequence[TargetProgress], limit: int = DETAILS_PER_REFRESH
) -> int:
    """Without a worker: for up to ``limit`` tasks whose status calls for a scene or products
    not known yet, fetch them (the planned scene is kept in the history, as the Monitor does).
    Kept in the session; returns how many tasks were fetched. Raises TaskingError (what was
    fetched before the failure is kept)."""
    kept = keys.CAMPAIGN_VIEW_DETAILS.setdefault({})
    wanted = _wanted(rows, kept)
    for row in wanted[:limit]:
        assert row.task is not None and row.status is not None
        kept[row.task.id] = _fetch(service, row.task.id, row.status)
    return min(len(wanted), limit)


def details_pending(rows: Sequence[TargetProgress]) -> bool:
    """Some task's scene or quicklook is still to be fetched by ``fetch_details``."""
    return bool(_wanted(rows, keys.CAMPAIGN_VIEW_DETAILS.get() or {}))


def _wanted(rows: Sequence[TargetProgress], kept: dict[str, Fetched]) -> list[TargetProgress]:
    """The rows lacking what their status calls for, not yet fetched for that status."""
    return [
        r
        for r in rows
        if r.task is not None
        and r.status is not None
        and (r.task.id not in kept or kept[r.task.id].status != r.status)
        and _lacking(r)
    ]


def _lacking(row: TargetProgress) -> bool:
    """The status calls for something the row does not have."""
    status = row.status or ""
    if monitoring.is_captured(status):
        return row.actual is None or row.quicklook is None
    return status in monitoring.SCENE_STATUSES and row.planned is None


def _fetch(service: TaskingService, task_id: str, status: str) -> Fetched:
    client = service.client
    try:
        scene: Scene | None = client.get_scene(task_id)
    except NotFound:
        scene = None  # not planned (yet)
    if not monitoring.is_captured(status):
        if scene is not None:
            try:
                service.history.record_planned_scene(task_id, scene)
            except TaskingError as error:  # on screen anyway; only a reload would lose it
                log.warning("task %s: the planned scene was not kept: %s", task_id, error)
        return Fetched(status, planned=scene)
    try:
        products = client.list_products(task_id)
    except NotFound:
        products = []
    source = next((p for p in products if QUICKLOOK_ASSET in p.assets), None)
    quicklook = None
    if source is not None:
        # Through the link just listed: signed links expire and are never kept.
        quicklook = client.fetch_asset(source.assets[QUICKLOOK_ASSET].href)
    return Fetched(
        status,
        actual=scene,
        quicklook=quicklook,
        title=source.product_type if source is not None else None,
    )


def read_progress(service: TaskingService, campaign: Campaign) -> list[TargetProgress]:
    """Every target with its task as the store knows it (no ICEYE request). Raises
    HistoryError when the store cannot be read."""
    documents = _documents(service, campaign)
    ids = [t.task_id for t in campaign.targets if t.task_id is not None]
    followed: dict[str, Followed] = {}
    if service.desk is not None and ids:
        followed = service.desk.followed_many(ids)
    seen = _session_scenes()
    rows: list[TargetProgress] = []
    for target in campaign.targets:
        if target.task_id is None:
            rows.append(TargetProgress(target))
            continue
        task = documents.get(target.task_id)
        kept = followed.get(target.task_id)
        status = later_status(kept.status if kept else None, task.status if task else None)
        actual, planned, quicklook, title = seen.get(target.task_id, _Seen())
        if kept is not None:
            actual = kept.actual or actual
            planned = kept.planned or planned
            if kept.quicklook is not None:
                quicklook = kept.quicklook
                title = next((p.product_type for p in kept.products if _has_quicklook(p)), None)
        if planned is None and status in monitoring.SCENE_STATUSES:
            try:
                plan = service.history.planned_scene(target.task_id)
            except TaskingError as error:
                log.warning("task %s: planned scene not read: %s", target.task_id, error)
                plan = None
            planned = plan.scene if plan is not None else None
        rows.append(
            TargetProgress(
                target,
                task=task.model_copy(update={"status": status}) if task and status else task,
                status=status,
                planned=planned,
                actual=actual,
                quicklook=quicklook,
                quicklook_title=title,
            )
        )
    return rows


def _has_quicklook(product: ProductView) -> bool:
    return any(a.key == QUICKLOOK_ASSET for a in product.assets)


def campaign_tasks(rows: Sequence[TargetProgress]) -> dict[str, Task]:
    """Task id → its document (with the latest status), for the exports."""
    return {r.task.id: r.task for r in rows if r.task is not None}


def campaign_footprints(
    service: TaskingService, rows: Sequence[TargetProgress]
) -> dict[str, Footprint]:
    """Task id → the footprint of its actual scene, else its planned one, where a predicted pass
    matches (nothing without orbital elements)."""
    elements = constellation(service)
    if not isinstance(elements, Constellation):
        return {}
    tasks = [r.task for r in rows if r.task is not None]
    scenes: dict[str, SceneKnown] = {
        r.task.id: (r.actual, r.planned)
        for r in rows
        if r.task is not None and (r.actual is not None or r.planned is not None)
    }
    return footprints(elements, tasks, scenes)
