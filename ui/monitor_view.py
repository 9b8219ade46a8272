"""How the Monitor draws a task: timeline, details, scene planned vs actual, products, cancel."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

import streamlit as st

from tasking import modes, monitoring
from tasking.client import TaskingClient
from tasking.errors import NotFound, TaskingError
from tasking.geometry import look_bearing
from tasking.models import Scene, Task, TaskStatus
from tasking.monitoring import Capture, FeeSpan, FeeTier, Progress
from tasking.service import TaskingService
from tasking.watch import (
    QUICKLOOK_ASSET,
    AssetView,
    ProductView,
    Watch,
    fresh_asset,
    reached_stage,
)
from ui import keys, scene_map
from ui.elements import Constellation, constellation
from ui.format import duration, listing, moment, plain, when, window
from ui.guard import guarded
from ui.service import get_service

log = logging.getLogger(__name__)

_TIMELINE_CSS = """
<style>
.tl {display:flex; align-items:flex-start; gap:0; margin:0.25rem 0 0.75rem 0; max-width:100%;}
.tl-step {flex:0 1 10.5rem; min-width:3.2rem; text-align:center;}
.tl-dot {width:1.9rem; height:1.9rem; line-height:1.9rem; border-radius:50%; margin:0 auto;
  background:#d5dde5; color:#5b6b78; font-weight:700;}
.tl-step.done .tl-dot {background:#0b6bcb; color:#fff;}
.tl-step.current .tl-dot {background:#0b6bcb; color:#fff; box-shadow:0 0 0 4px #9cc7f2;}
.tl-step.end .tl-dot {background:#c62828; color:#fff;}
.tl-label {font-weight:600; margin-top:0.3rem;}
.tl-time {font-size:0.8rem; color:#5b6b78; overflow-wrap:anywhere;}
.tl-bar {flex:1 1 2rem; min-width:0.75rem; height:4px; background:#d5dde5; margin-top:0.85rem;
  border-radius:2px;}
@media (max-width: 640px) {
  .tl-label {font-size:0.8rem;}
  .tl-time {font-size:0.7rem;}
  .tl-dot {width:1.6rem; height:1.6rem; line-height:1.6rem;}
  .tl-bar {margin-top:0.7rem;}
}
.tl-bar.done {background:#0b6bcb;}
</style>
"""


CAPTURED_STAGE = monitoring.stage_index(TaskStatus.FULFILLED)


# --- what the page knows besides what it passes ----------------------------------------------
# The page (views/monitor.py) passes each function the task or its Watch; the backend's clock and
# the mode are read here, from the one cached service.


def _backend_now() -> datetime | None:
    """The backend's now, for the texts that depend on time; None when its clock cannot be read
    (an ACTIVE task then counts as planned: nothing says its imaging passed)."""
    try:
        return get_service().now()
    except TaskingError:
        return None


def _live() -> bool:
    """Live ICEYE (no sandbox): its tasks carry no reason for a rejection or failure."""
    return get_service().control is None


def _watch_of(task_id: str) -> Watch | None:
    return (keys.WATCHES.get() or {}).get(task_id)


def capture_now(task: Task, planned: Scene | None, actual: Scene | None) -> Capture:
    """The task's capture as the backend's clock shows it now (``monitoring.capture_of``)."""
    return monitoring.capture_of(
        task.status,
        planned_end=planned.imagingTime.end if planned is not None else None,
        actual_end=actual.imagingTime.end if actual is not None else None,
        now=_backend_now(),
        sla=task.sla,
        available_in_s=task.productsAvailableInSeconds,
    )


# --- timeline --------------------------------------------------------------------------------


def timeline_html(
    status: str, first_seen: dict[str, datetime], imaged_at: datetime | None = None
) -> str:
    """Received → Scheduled → Captured → Complete with the time each stage was first seen; an
    unhappy ending (rejected, canceled, failed) is drawn after the last stage reached. A capture
    the app did not see as a status (FULFILLED and DONE at once) shows the scene's imaging time;
    so does an ACTIVE task whose imaging has passed (``imaged_at``): it is at the Captured stage,
    waiting for its products."""
    stage = monitoring.stage_of(status)
    reached = stage.index if stage.index >= 0 else reached_stage(first_seen)
    if stage.ok and imaged_at is not None:
        reached = max(reached, CAPTURED_STAGE)
    parts: list[str] = []
    for index, (label, stage_status) in enumerate(
        zip(monitoring.STAGES, monitoring.STAGE_STATUSES, strict=True)
    ):
        if index > 0:
            parts.append(f'<div class="tl-bar{" done" if index <= reached else ""}"></div>')
        seen = first_seen.get(stage_status)
        if index < reached or (index == reached and stage.is_end):
            css, mark = "done", "✓"
        elif index == reached:
            css, mark = "current", str(index + 1)
        else:
            css, mark = "", str(index + 1)
        if seen:
            time = f"seen {when(seen)}"
        elif index > reached:
            time = "—"
        elif index == CAPTURED_STAGE and imaged_at is not None:
            time = f"imaged {when(imaged_at)}"
        else:
            # Passed between two refreshes, or before this app first saw the task.
            time = "not observed"
        parts.append(
            f'<div class="tl-step {css}"><div class="tl-dot">{mark}</div>'
            f'<div class="tl-label">{html.escape(label)}</div>'
            f'<div class="tl-time">{html.escape(time)}</div></div>'
        )
    if not stage.ok:
        seen = first_seen.get(status)
        parts.append('<div class="tl-bar"></div>')
        parts.append(
            '<div class="tl-step end"><div class="tl-dot">✕</div>'
            f'<div class="tl-label">{html.escape(stage.label)}</div>'
            f'<div class="tl-time">{html.escape(f"seen {when(seen)}" if seen else "—")}</div>'
            "</div>"
        )
    return _TIMELINE_CSS + '<div class="tl">' + "".join(parts) + "</div>"


def show_timeline(task: Task, first_seen: dict[str, datetime], actual: Scene | None) -> None:
    watch = _watch_of(task.id)
    capture = capture_now(task, watch.planned if watch is not None else None, actual)
    st.markdown(timeline_html(task.status, first_seen, capture.imaged_at), unsafe_allow_html=True)


def _incidence(task: Task) -> str:
    angle = task.incidenceAngle
    if angle is None:
        return "—"
    if angle.min == angle.max and isinstance(angle.min, str):
        return angle.min
    return f"{angle.min}–{angle.max}°"


def details_rows(task: Task, contract_name: str | None) -> list[tuple[str, str]]:
    info = modes.mode_info(task.imagingMode)
    delivery = (
        duration_text(task.productsAvailableInSeconds)
        if task.productsAvailableInSeconds is not None
        else "—"
    )
    return [
        ("Task ID", task.id),
        ("Reference", task.reference or "—"),
        ("Contract", contract_name or task.contractID),
        ("Point of interest", f"{task.pointOfInterest.lat:.6f}, {task.pointOfInterest.lon:.6f}"),
        ("Acquisition window", window(task.acquisitionWindow)),
        ("Imaging mode", f"{info.label} ({task.imagingMode})"),
        ("Priority", task.priority or "—"),
        ("Delivery SLA", task.sla or "—"),
        ("Products available", delivery),
        ("Exclusivity", task.exclusivity or "—"),
        ("EULA", task.eula or "—"),
        ("Incidence angle", _incidence(task)),
        ("Look side", task.lookSide or "—"),
        ("Pass direction", task.passDirection or "—"),
        ("Product types", listing(task.productTypes)),
        ("Derivative products", listing(task.derivativeProductTypes)),
        (
            "Imaging duration",
            f"{task.imagingDuration} s" if task.imagingDuration else "mode default",
        ),
        ("Created", when(task.createdAt, seconds=True)),
        ("Updated", when(task.updatedAt, seconds=True)),
        ("Fulfilled", when(task.fulfilledAt, seconds=True)),
    ]


def duration_text(seconds: int) -> str:
    return f"{duration(timedelta(seconds=seconds))} after imaging"


def _scene_values(scene: Scene | None) -> list[str]:
    if scene is None:
        return ["—"] * len(SCENE_FIELDS)
    return [
        when(scene.imagingTime.start, seconds=True),
        when(scene.imagingTime.end, seconds=True),
        f"{scene.duration} s",
        f"{scene.incidenceAngle:.1f}°" if scene.incidenceAngle is not None else "—",
        scene.lookSide or "—",
        scene.passDirection or "—",
    ]


SCENE_FIELDS = (
    "Imaging start",
    "Imaging end",
    "Duration",
    "Incidence angle",
    "Look side",
    "Pass direction",
)
NOT_REPORTED = "not reported yet"
"""An actual value of a task imaged but not yet FULFILLED (the app reads the captured scene then)."""
COMPUTED_AZIMUTH = "Azimuth (computed by the app)"


def _degrees(value: float | None) -> str:
    return f"{value:.1f}°" if value is not None else "—"


def _azimuth(scene: Scene | None) -> str:
    return _degrees(scene.azimuth if scene is not None else None)


def computed_azimuth(task: Task, scene: Scene | None) -> float | None:
    """The bearing from the point to the satellite (the sandbox's meaning of ICEYE's
    ``azimuth``) on the predicted pass the scene matches, as the map draws it; None without a
    scene, orbital elements or a matching pass."""
    if scene is None:
        return None
    elements = constellation(get_service())
    if not isinstance(elements, Constellation):
        return None
    found = scene_map.find_pass(elements, task, scene)
    if found is None or found.look_side not in ("LEFT", "RIGHT"):
        return None
    side: Literal["LEFT", "RIGHT"] = "LEFT" if found.look_side == "LEFT" else "RIGHT"
    return (look_bearing(found.heading, side) + 180.0) % 360.0


def scene_rows(
    task: Task, planned: Scene | None, actual: Scene | None, capture: Capture
) -> list[tuple[str, str, str]]:
    """(field, planned, actual) for the table. The azimuth is ICEYE's when a scene has one, else
    the app's own from the predicted pass (labelled so), else no row at all."""
    actual_values = _scene_values(actual)
    if actual is None and capture.progress is Progress.IMAGED:
        actual_values = [NOT_REPORTED] * len(SCENE_FIELDS)
    rows = list(zip(SCENE_FIELDS, _scene_values(planned), actual_values, strict=True))
    if any(s is not None and s.azimuth is not None for s in (planned, actual)):
        rows.append(("Azimuth", _azimuth(planned), _azimuth(actual)))
        return rows
    on_planned = computed_azimuth(task, planned)
    on_actual = computed_azimuth(task, actual)
    if on_planned is not None or on_actual is not None:
        rows.append((COMPUTED_AZIMUTH, _degrees(on_planned), _degrees(on_actual)))
    return rows


def products_due_text(capture: Capture, now: datetime | None) -> str:
    """``due by 22:05 UTC (SLA_8H)``: when an imaged task's products are due (Markdown)."""
    sla = plain(capture.sla)
    if capture.products_due is None:
        return f"follow within the task's SLA ({sla})"
    due = moment(capture.products_due, now)
    if capture.overdue:
        return f"were due by {due} ({sla}) and have not arrived yet"
    return f"due by {due} ({sla})"


def captured_text(capture: Capture, now: datetime | None) -> str:
    """``Captured at 14:05 UTC; products due by 22:05 UTC (SLA_8H)`` (Markdown)."""
    at = f" at {moment(capture.imaged_at, now)}" if capture.imaged_at is not None else ""
    return f"Captured{at}; products {products_due_text(capture, now)}"


def _no_reason() -> str:
    # Live ICEYE's task has no reason field (DESIGN.md, the desk); the sandbox's worker finds one
    # in the sandbox's task history and the desk shows it above.
    return " ICEYE gives no reason." if _live() else ""


def scene_note(capture: Capture, has_scene: bool, now: datetime | None) -> str:
    """The sentence under the scene (or instead of it): true for the status and the time."""
    progress = capture.progress
    if progress is Progress.WAITING:
        return "No scene yet: ICEYE plans one when the task is scheduled (ACTIVE)."
    if progress is Progress.PLANNED:
        if not has_scene:
            return "No scene for this task yet."
        return "Planned: ICEYE may still re-plan it until the capture."
    if progress is Progress.IMAGED:
        return (
            f"{captured_text(capture, now)}. ICEYE keeps the task ACTIVE until its SLA products "
            "are ready; the actual values show then."
        )
    if progress is Progress.SLA_READY:
        return (
            f"{captured_text(capture, now)}: the SLA products are ready, the other ordered "
            "products are still processing."
        )
    if progress is Progress.COMPLETE:
        at = f" at {moment(capture.imaged_at, now)}" if capture.imaged_at is not None else ""
        return f"Captured{at}; every ordered product is ready."
    if progress is Progress.REJECTED:
        return "No scene: ICEYE rejected the task." + _no_reason()
    if progress is Progress.CANCELED:
        if has_scene:
            return "Planned before the task was canceled."
        return "No scene: the task was canceled."
    if progress is Progress.FAILED:
        if has_scene:
            return "Planned, but ICEYE failed to image it." + _no_reason()
        return "No scene: ICEYE failed to image the task." + _no_reason()
    return "No scene for this task." if not has_scene else ""


def planned_seen_text(seen_at: datetime, *, restored: bool) -> str:
    """When the plan on screen was seen: it may come from the local history after a reload."""
    kept = " (kept in this app's local history)" if restored else ""
    return f"Planned values as this app first saw them at {when(seen_at)}{kept}."


def show_scene(watch: Watch) -> None:
    """The scene as planned while ACTIVE and as captured once FULFILLED/DONE, side by side, with
    what holds now: may be re-planned (before the imaging), captured and products due (after)."""
    task = watch.task
    if task is None:
        return
    now = _backend_now()
    capture = capture_now(task, watch.planned, watch.actual)
    has_scene = watch.planned is not None or watch.actual is not None
    note = scene_note(capture, has_scene, now)
    if not has_scene:
        st.caption(note)
        return
    lines = ["| | Planned | Actual |", "|---|---|---|"]
    rows = scene_rows(task, watch.planned, watch.actual, capture)
    for name, p, a in rows:
        lines.append(f"| **{plain(name)}** | {plain(p)} | {plain(a)} |")
    st.markdown("\n".join(lines))
    if note:
        st.caption(note)
    if any(name == COMPUTED_AZIMUTH for name, _, _ in rows):
        st.caption(
            "Azimuth computed by the app: the bearing from the point to the satellite on the "
            "predicted pass that matches the scene (ICEYE's scene gives none)."
        )
    if watch.planned is not None and watch.planned_seen_at is not None:
        st.caption(planned_seen_text(watch.planned_seen_at, restored=watch.planned_restored))
    if watch.planned is None and monitoring.is_captured(task.status):
        st.caption("Planned values were not seen by this app (the task was already captured).")


def products_note(capture: Capture, now: datetime | None) -> str:
    """Why there are no products (yet), true for the status and the time."""
    progress = capture.progress
    if progress is Progress.IMAGED:
        return f"Products {products_due_text(capture, now)}."
    if progress in (Progress.SLA_READY, Progress.COMPLETE):
        return "No products listed yet."
    if progress is Progress.REJECTED:
        return "No products: ICEYE rejected the task."
    if progress is Progress.CANCELED:
        return "No products: the task was canceled."
    if progress is Progress.FAILED:
        return "No products: ICEYE failed to image the task."
    return "Products appear when the task is FULFILLED (SLA products) or DONE (all)."


_EXTENSIONS = {
    "image/png": "png",
    "image/gif": "gif",
    "application/vnd.nitf": "ntf",
    "application/json": "json",
    "application/geo+json": "geojson",
    "application/xml": "xml",
    "application/vnd.google-earth.kml+xml": "kml",
}


def file_name(product: ProductView, asset_key: str, media_type: str) -> str:
    base = media_type.split(";", 1)[0].strip()
    ext = "tif" if base == "image/tiff" else _EXTENSIONS.get(base, "bin")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in product.id)
    return f"{safe}-{asset_key}.{ext}"


def _loader(
    client: TaskingClient, task_id: str, product: ProductView, asset_key: str
) -> Callable[[], bytes]:
    # Runs when the button is pressed (Streamlit's deferred download), so the link is fresh.
    return partial(fresh_asset, client, task_id, product.product_type, product.id, asset_key)


_FORMATS = {
    "image/png": "PNG",
    "image/gif": "GIF",
    "application/json": "JSON",
    "application/geo+json": "GeoJSON",
    "application/xml": "XML",
    "application/vnd.google-earth.kml+xml": "KML",
    "application/vnd.nitf": "NITF",
}


def asset_label(asset: AssetView) -> str:
    """A short button label naming the file's format (the asset's title is its tooltip):
    ``GeoTIFF``, ``COG``, ``XML``, ``KML``…, and ``Quicklook`` for the quicklook image."""
    base, _, params = asset.media_type.partition(";")
    base = base.strip().lower()
    if base == "image/tiff":
        return "COG" if "cloud-optimized" in params else "GeoTIFF"
    if asset.key == QUICKLOOK_ASSET:
        return "Quicklook"
    return _FORMATS.get(base, base.rsplit("/", 1)[-1].upper() or "File")


QUICKLOOK_WIDTH_PX = 160


def show_products(watch: Watch, client: TaskingClient) -> None:
    """The quicklook, then one compact row per product: its type and a download button per
    file, each fetching a fresh signed link when pressed."""
    if not watch.products:
        if watch.task is not None:
            capture = capture_now(watch.task, watch.planned, watch.actual)
            st.caption(products_note(capture, _backend_now()))
        return
    if watch.quicklook is not None:
        st.image(
            watch.quicklook,
            caption=f"Quicklook ({watch.quicklook_title or 'product'})",
            width=QUICKLOOK_WIDTH_PX,
        )
    for product in watch.products:
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            created = f"created {when(product.created)}" if product.created else product.id
            st.markdown(
                f"**{plain(product.product_type)}**",
                help=f"{product.id} · {created}",
                width="content",
            )
            for asset in product.assets:
                st.download_button(
                    asset_label(asset),
                    data=_loader(client, watch.task_id, product, asset.key),
                    file_name=file_name(product, asset.key, asset.media_type),
                    mime=asset.media_type,
                    key=keys.download(product.id, asset.key).name,
                    icon=":material/download:",
                    on_click="ignore",
                    type="tertiary",
                    help=f"{asset.title}: fetches a fresh signed link when pressed "
                    "(links expire after 1 h).",
                )


def open_cancel(task_id: str) -> None:
    """Open the cancel dialog for a task (the page calls the dialog while ``keys.CANCELLING`` is
    set: a dialog exists only in the runs that call it)."""
    keys.CANCELLING.set(task_id)


def close_cancel() -> None:
    keys.CANCELLING.pop()


NO_PRICE_LIST = "This contract has no price list: the fee is charged as agreed in your contract."
PRICE_LIST_UNKNOWN = (
    "Whether this contract has a price list could not be read: the fee is this share of the "
    "order's value as your contract sets it."
)


@st.cache_data(ttl="10m", show_spinner=False)
def _has_price_list(contract_id: str, _client: TaskingClient) -> bool:
    """Whether the contract has a pricing plan: only then does ICEYE give its budget summary
    (iceye-api.md §3.2; 404 without one). Other errors raise, so they are never cached."""
    try:
        _client.get_contract_summary(contract_id)
    except NotFound:
        return False
    return True


def price_list(client: TaskingClient, contract_id: str) -> bool | None:
    """True/False: the contract has/has no price list; None: it could not be read."""
    try:
        return _has_price_list(contract_id, client)
    except TaskingError as error:
        log.warning("contract %s: its pricing could not be read: %s", contract_id, error)
        return None


def fee_text(tier: FeeTier, priced: bool | None) -> str:
    """``20 % of the order value`` on a priced contract; ``20 %`` where there is no order value
    to take it from (no price list, or not known)."""
    return tier.label if priced else tier.share


def fee_table(spans: list[FeeSpan], priced: bool | None) -> str:
    """The tiers still ahead as a Markdown table, the one that applies now marked."""
    lines = ["| Cancelled | Fee |", "|---|---|"]
    for span in spans:
        if span.current:
            when_text = f"now until {when(span.end)}" if span.end is not None else "from now"
        elif span.end is not None:
            when_text = f"{when(span.start)} until {when(span.end)}"
        else:
            when_text = f"from {when(span.start)}"
        fee = plain(fee_text(span.tier, priced))
        lines.append(
            f"| {plain(when_text)} | "
            + (f"**{fee}** (applies now)" if span.current else fee)
            + " |"
        )
    return "\n".join(lines)


@st.dialog("Cancel this task?", on_dismiss=close_cancel)
@guarded("cancel the task")
def cancel_dialog(service: TaskingService, task: Task, now: datetime) -> None:
    start = task.acquisitionWindow.start
    fee = monitoring.cancellation_fee(now, start)
    priced = price_list(service.client, task.contractID)
    ahead = start - now
    when_text = (
        f"{duration(ahead)} before the window start"
        if ahead.total_seconds() > 0
        else "after the window start"
    )
    st.markdown(
        f"Fee for cancelling now ({plain(when(now))}, {plain(when_text)}): "
        f"**{plain(fee_text(fee, priced))}** (ICEYE product specification §3.6)."
    )
    if priced is False:
        st.caption(NO_PRICE_LIST)
    elif priced is None:
        st.caption(PRICE_LIST_UNKNOWN)
    spans = monitoring.fee_schedule(now, start)
    if len(spans) > 1:
        # Only the tiers still ahead: the fee rises as the window start comes closer.
        st.markdown(fee_table(spans, priced))
    st.caption("A cancelled task cannot be resumed: order a new one instead.")
    left, right = st.columns(2)
    if left.button("Cancel the task", type="primary", key=keys.CANCEL_CONFIRM.name):
        # Idempotent: a second click, or a cancel made in another tab, ends the same way.
        service.cancel_task(task.id)
        _tell_the_worker(service, task.id)
        close_cancel()
        st.rerun()
    if right.button("Keep the task", key=keys.CANCEL_KEEP.name, on_click=close_cancel):
        st.rerun()


def _tell_the_worker(service: TaskingService, task_id: str) -> None:
    """Ask the background worker (if one follows the tasks) to fetch the task now, so that its
    store, and the pages that read it, show the cancel at once. Best-effort: the task is cancelled
    whatever happens here (a missed hint is caught by the worker's next sweep)."""
    if service.desk is None:
        return
    try:
        service.desk.hint(task_id)
    except TaskingError as error:
        log.warning("task %s: the worker was not told of the cancel: %s", task_id, error)
