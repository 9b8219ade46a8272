"""What the Monitor knows about one task, and one refresh of it (no Streamlit here: tested directly).

Policy (``tasking.monitoring``, ICEYE's demo Part 9): every refresh reads the task (one request);
the scene and the products are read only when the status changes (``fetches_after``), so the
steady state costs one request per refresh; nothing is read once the status is final. A fetch that
failed stays pending and is tried again on the next refresh, so a transient error never leaves the
page without its scene or products.

Signed product links expire (iceye-api.md §4.8: "Do not store the URLs"), so a ``Watch`` keeps
product ids, types and asset names, never hrefs; a download asks for a fresh link
(``fresh_asset``). The quicklook bytes are kept to show them inline.

The planned scene is kept in the local history (``TaskHistory.record_planned_scene``) when it is
read, and a new ``Watch`` (a reload, another tab) takes it from there: once a task is captured
ICEYE's getScene gives only the actual scene, so the plan would otherwise be lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tasking.client import TaskingClient
from tasking.errors import NotFound, TaskingError
from tasking.history import TaskHistory
from tasking.models import Product, Scene, Task
from tasking.monitoring import (
    Fetch,
    fetches_after,
    is_captured,
    is_terminal,
    next_poll_in,
    stage_index,
)
from tasking.times import parse_time_or_none

log = logging.getLogger(__name__)

__all__ = [
    "MAX_FINAL_RETRIES",
    "QUICKLOOK_ASSET",
    "AssetView",
    "Clock",
    "ProductView",
    "Watch",
    "fresh_asset",
    "reached_stage",
    "refresh",
    "restore_planned",
]

QUICKLOOK_ASSET = "quicklook-png"
"""ICEYE's asset key of the quicklook image (iceye-api.md §4.8)."""


@dataclass(frozen=True)
class AssetView:
    key: str
    title: str
    media_type: str


@dataclass(frozen=True)
class ProductView:
    """A product without its (expiring) links."""

    id: str
    product_type: str
    created: datetime | None
    assets: tuple[AssetView, ...]

    @classmethod
    def of(cls, product: Product) -> ProductView:
        assets = tuple(
            AssetView(key, asset.title or key, asset.type or "application/octet-stream")
            for key, asset in product.assets.items()
        )
        return cls(
            product.id,
            product.product_type,
            parse_time_or_none(product.properties.get("created")),
            assets,
        )


@dataclass
class Watch:
    """The Monitor's view of one task, kept in the session between refreshes."""

    task_id: str
    task: Task | None = None
    status: str | None = None
    pending: set[Fetch] = field(default_factory=set)
    planned: Scene | None = None
    planned_seen_at: datetime | None = None
    """When the app first saw the planned scene (backend time), from the local history."""
    planned_restored: bool = False
    """The planned scene came from the local history, not from this session's reads."""
    actual: Scene | None = None
    products: list[ProductView] = field(default_factory=list)
    quicklook: bytes | None = None
    quicklook_title: str | None = None
    refreshed_at: datetime | None = None
    """Backend time of the last successful read of the task."""
    errors: list[tuple[str, TaskingError]] = field(default_factory=list)
    failed_final_refreshes: int = 0
    """Refreshes in a final status whose pending fetches failed (capped: see ``refresh``)."""
    missing: bool = False
    """The task was never found (unknown id, or another company's): nothing to poll."""

    @property
    def poll_in(self) -> float | None:
        """Seconds until the next refresh; None once nothing more will come (``final``)."""
        if self.missing:
            return None
        return next_poll_in(self.status, pending=bool(self.pending))

    @property
    def final(self) -> bool:
        return self.poll_in is None


class Clock(Protocol):
    def now(self) -> datetime: ...

    def refresh(self) -> object: ...


def refresh(watch: Watch, client: TaskingClient, history: TaskHistory, clock: Clock) -> None:
    """One refresh: read the task, then what its status change calls for. Errors are kept in
    ``watch.errors`` (the previous data stays on screen)."""
    if watch.final:
        return  # the last refresh's errors stay on screen
    watch.errors = []
    if watch.status is None and watch.planned is None:
        restore_planned(watch, history)
    try:
        task = client.get_task(watch.task_id)
    except NotFound as error:
        watch.errors.append(("refresh the task", error))
        # An id that was never found will not appear by polling it every 5 s.
        watch.missing = watch.task is None
        return
    except TaskingError as error:
        watch.errors.append(("refresh the task", error))
        return
    changed = task.status != watch.status
    try:
        if changed and watch.status is not None:
            # Something happened on the backend (maybe a clock jump by another client): read
            # its clock afresh so the time recorded for the new status is right.
            clock.refresh()
        watch.refreshed_at = clock.now()
    except TaskingError:
        watch.refreshed_at = None
    try:
        history.record(task)
    except TaskingError as error:
        # The local history is a convenience: the task itself is still shown and watched.
        watch.errors.append(("record the task in the local history", error))
    watch.task = task
    watch.pending |= fetches_after(watch.status, task.status)
    watch.status = task.status
    if "scene" in watch.pending:
        _fetch_scene(watch, client, history, task.status)
    if "products" in watch.pending:
        _fetch_products(watch, client)
    _give_up_in_a_final_status(watch)


MAX_FINAL_RETRIES = 3
"""A final task whose scene/products keep failing is retried this many refreshes, then left: a
final status never changes, so polling it for ever would cost requests for nothing."""


def _give_up_in_a_final_status(watch: Watch) -> None:
    if watch.status is None or not is_terminal(watch.status) or not watch.pending:
        watch.failed_final_refreshes = 0
        return
    watch.failed_final_refreshes += 1
    if watch.failed_final_refreshes >= MAX_FINAL_RETRIES:
        watch.pending.clear()


def restore_planned(watch: Watch, history: TaskHistory) -> None:
    """Fill ``watch``'s planned scene from the local history, if it has one. Best-effort: a
    failing history leaves the plan unknown (the task itself is still watched)."""
    try:
        kept = history.planned_scene(watch.task_id)
    except TaskingError as error:
        log.warning("task %s: the planned scene could not be read: %s", watch.task_id, error)
        return
    if kept is not None:
        watch.planned, watch.planned_seen_at = kept.scene, kept.seen_at
        watch.planned_restored = True


def _keep_planned(watch: Watch, history: TaskHistory, scene: Scene) -> None:
    watch.planned, watch.planned_restored = scene, False
    try:
        watch.planned_seen_at = history.record_planned_scene(watch.task_id, scene).seen_at
    except TaskingError as error:
        # The plan is on screen; only a reload would lose it (as before the history kept it).
        log.warning("task %s: the planned scene was not kept: %s", watch.task_id, error)


def _fetch_scene(watch: Watch, client: TaskingClient, history: TaskHistory, status: str) -> None:
    try:
        scene = client.get_scene(watch.task_id)
    except NotFound:
        # Not planned (yet): the status may have moved on; the next change asks again.
        watch.pending.discard("scene")
        return
    except TaskingError as error:
        watch.errors.append(("load the scene", error))
        return
    if is_captured(status):
        watch.actual = scene
    else:
        _keep_planned(watch, history, scene)
    watch.pending.discard("scene")


def _fetch_products(watch: Watch, client: TaskingClient) -> None:
    try:
        products = client.list_products(watch.task_id)
    except NotFound:
        watch.pending.discard("products")
        return
    except TaskingError as error:
        watch.errors.append(("list the products", error))
        return
    watch.products = [ProductView.of(p) for p in products]
    if watch.quicklook is None:
        source = next((p for p in products if QUICKLOOK_ASSET in p.assets), None)
        if source is not None:
            try:
                watch.quicklook = client.fetch_asset(source.assets[QUICKLOOK_ASSET].href)
                watch.quicklook_title = source.product_type
            except TaskingError as error:
                # The products are listed; only the preview is missing. Try again next time.
                watch.errors.append(("load the quicklook", error))
                return
    watch.pending.discard("products")


def fresh_asset(
    client: TaskingClient, task_id: str, product_type: str, product_id: str, asset_key: str
) -> bytes:
    """The asset's bytes through a link fetched now (the one listed earlier may have expired)."""
    for product in client.list_products(task_id, product_type):
        if product.id == product_id and asset_key in product.assets:
            return client.fetch_asset(product.assets[asset_key].href)
    raise NotFound(
        f"Product {product_id} has no asset {asset_key} any more",
        status_code=404,
        code="ERR_NOT_FOUND",
    )


def reached_stage(first_seen: dict[str, datetime]) -> int:
    """The furthest timeline stage a task reached, from the statuses it was seen in (-1: none)."""
    return max((stage_index(s) for s in first_seen), default=-1)
