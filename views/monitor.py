"""Step 3 — Monitor: one task, refreshed every 5 s without reloading the page until its status is
final; timeline, details, scene planned vs actual, the point on a map, products, cancel.
``?task=<id>`` opens a task directly and survives a reload.

While a background worker is active the refresh reads what it keeps in the store and sends ICEYE
nothing (``ui.desk_view``); without one the page polls ICEYE itself (``tasking.watch.refresh``).
Either way the page switches over by itself when a worker starts or stops."""

from __future__ import annotations

import contextlib
from datetime import datetime

import streamlit as st
from streamlit_folium import st_folium

from tasking import modes, monitoring
from tasking.errors import TaskingError
from tasking.service import TaskingService
from tasking.watch import Watch, refresh, restore_planned
from ui import keys, scene_map, state
from ui.demo_controls import demo_controls
from ui.desk_view import DeskReading, read_for_monitor, show_desk_source
from ui.elements import Constellation, Unavailable, constellation
from ui.errors import attempt, show_error
from ui.format import plain, short_id, status_chip, when
from ui.guard import guarded
from ui.maps import base_map, poi_feature_group
from ui.monitor_view import (
    cancel_dialog,
    close_cancel,
    details_rows,
    open_cancel,
    show_products,
    show_scene,
    show_timeline,
)
from ui.order import markdown_table
from ui.service import get_service
from ui.task_form import open_clone

MAP_HEIGHT_PX = 400


def watch_for(task_id: str) -> Watch:
    watches = keys.WATCHES.setdefault({})
    if task_id not in watches:
        watches[task_id] = Watch(task_id)
    return watches[task_id]


def task_picker(service: TaskingService) -> None:
    st.info("Choose a task to monitor, or open one from All tasks.", icon=":material/info:")
    known = attempt("read the local task history", service.history.known_tasks, 50) or []
    if known:
        labels = {
            t.id: f"{t.reference or short_id(t.id)} · {t.status} · created {when(t.createdAt)}"
            for t in known
        }
        chosen = st.selectbox(
            "Tasks seen by this app", list(labels), format_func=labels.__getitem__, index=None
        )
        if chosen and st.button("Monitor this task", type="primary"):
            state.open_task(chosen)
    typed = st.text_input(
        "…or a task ID", key=keys.TYPED_TASK_ID.name, placeholder="UUID of the task"
    )
    if typed.strip() and st.button("Open", key=keys.OPEN_TYPED.name):
        state.open_task(typed.strip())


def contract_name(contract_id: str) -> str | None:
    loaded = keys.CONTRACTS.get([])
    match = next((c for c in loaded if c.id == contract_id), None)
    return match.name if match else None


service = get_service()
st.title("Monitor")
# Read the worker's store instead of polling ICEYE (decided per page run; the panel reruns the
# page when this changes).
from_desk = service.worker_active()
# Once per session, for the contract's name in the details (no request after that). Not while a
# worker follows the tasks: a new tab then costs ICEYE nothing (the details show the contract id
# unless this session loaded the contracts on another page).
if not keys.CONTRACTS.is_set() and not from_desk:
    with contextlib.suppress(TaskingError):
        keys.CONTRACTS.set(list(service.client.iter_contracts()))
task_id = state.current_task_id()
if not task_id:
    task_picker(service)
    st.stop()

watch = watch_for(task_id)
# The refresh timer exists only while something can still change (decided before the fragment
# is defined: st.fragment's start/stop pattern, reference/streamlit-notes.md B3).
run_every = watch.poll_in


@st.fragment(run_every=run_every)
@guarded("refresh the task")
def live_panel() -> None:
    was_final = watch.final
    reading: DeskReading | None = None
    if from_desk:
        reading = read_for_monitor(service, watch)
        if not reading.worker.alive:
            st.rerun()  # the worker stopped: the page polls ICEYE itself again
    else:
        if service.worker_active():
            st.rerun()  # a worker took over: read its store instead of asking ICEYE
        if keys.retry("refresh the task", keys.MONITOR_PANEL).get():
            watch.missing = False  # Retry on a task that was not found: look it up again
        refresh(watch, service.client, service.history, service.clock)
        for action, error in watch.errors:
            show_error(error, action, retry_key=keys.retry(action, keys.MONITOR_PANEL))
    if watch.final and not was_final:
        # Final status (or a task that does not exist): a full rerun redefines the fragment
        # without its timer.
        st.rerun()
    task = watch.task
    if task is None:
        if reading is not None:
            show_desk_source(reading, watch)
        return

    heading, actions = st.columns([3, 2], vertical_alignment="center")
    with heading, st.container(horizontal=True, vertical_alignment="center"):
        st.subheader(
            plain(task.reference or f"Task {short_id(task.id)}"), anchor=False, width="content"
        )
        chip = status_chip(task.status)
        stage = monitoring.stage_of(task.status).label
        st.badge(task.status, icon=chip.icon, color=chip.colour, help=f"Stage: {stage}")
    cancellable = monitoring.can_cancel(task.status)
    with actions, st.container(horizontal=True, horizontal_alignment="right"):
        if st.button(
            "Clone into a new task", icon=":material/content_copy:", key=keys.CLONE_TASK.name
        ):
            open_clone(task)
        if cancellable:
            st.button(
                "Cancel task…",
                icon=":material/cancel:",
                key=keys.CANCEL.name,
                on_click=open_cancel,
                args=(task.id,),
            )
    # Which task this is stays in sight (the details below are collapsed).
    identity = f"Task {task.id} · {modes.mode_label(task.imagingMode)}"
    if reading is not None:
        st.caption(identity)
        show_desk_source(reading, watch)
        seen: dict[str, datetime] | None = reading.first_seen
        if watch.planned is None:
            restore_planned(watch, service.history)  # a plan this app saw before the worker
    else:
        updated = when(watch.refreshed_at, seconds=True) if watch.refreshed_at else "—"
        if watch.final:
            st.caption(
                f"{identity} · Updated {updated} (backend time). Final status: no more refreshes."
            )
        else:
            st.caption(
                f"{identity} · Updated {updated} (backend time) · refreshes every "
                f"{monitoring.POLL_INTERVAL_S:g} s until the status is final."
            )
        seen = attempt("read the local task history", service.history.first_seen, task.id)
    demo_controls(service, task)
    show_timeline(task, seen or {}, watch.actual)

    if keys.CANCELLING.get() == task.id:
        now = attempt("read the backend's clock", service.now) if cancellable else None
        if now is not None:
            cancel_dialog(service, task, now)
        else:
            close_cancel()

    # Map and products side by side (above the fold on a laptop screen), the scene under the
    # map, the long details last and collapsed; on a phone the columns stack (map and scene, then
    # products).
    left, right = st.columns([3, 2], gap="medium")
    with left:
        point = task.pointOfInterest
        layers = [poi_feature_group(point.lat, point.lon, task.reference or "Point of interest")]
        elements = constellation(service)
        scene = watch.actual or watch.planned
        geo = None
        if scene is not None and isinstance(elements, Constellation):
            geo = scene_map.geometry(elements, task, scene, actual=watch.actual is not None)
        if geo is not None:
            layers.insert(0, scene_map.layer(geo, watch.quicklook, task.id))
        st_folium(
            scene_map.with_overlay_support(base_map()),
            key=keys.MONITOR_MAP.name,
            returned_objects=[],
            feature_group_to_add=layers,
            center=(point.lat, point.lon),
            zoom=scene_map.zoom_for(task),
            height=MAP_HEIGHT_PX,
            use_container_width=True,
        )
        st.caption(scene_map.caption(geo, scene is not None, isinstance(elements, Unavailable)))
        st.markdown("##### Scene: planned vs actual")
        show_scene(watch)
    with right:
        st.markdown("##### Products")
        show_products(watch, service.client)
    with st.expander("Task details", expanded=False):
        st.markdown(
            markdown_table(details_rows(task, contract_name(task.contractID)), ("Field", "Value"))
        )


live_panel()
