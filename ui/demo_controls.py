"""Demo controls (sandbox only). On the Monitor: move the simulation clock for the monitored task's
sake, to its next event or on to its final status, instead of jumping event by event through
everyone's tasks from the sidebar. In the sidebar: "Load demo scenario…", which replaces this
account's tasks on the sandbox by a world with tasks at every stage, behind a confirmation.

The clock is the sandbox's one global clock: every task moves with it, and no event runs early
(``tasking.sandbox.core.Sandbox.fast_forward``). In live mode nothing is shown: ICEYE's clock is
the real one, and nothing of a live account may ever be removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from tasking import monitoring
from tasking.errors import TaskingError
from tasking.models import Task
from tasking.service import TaskingService
from ui import keys, state
from ui.errors import show_error
from ui.format import plain, when
from ui.guard import guarded

if TYPE_CHECKING:
    from tasking.sandbox.control import FastForwarded, FastForwardTo, ScenarioLoaded

__all__ = [
    "ACTION",
    "CAPTION",
    "SCENARIO_ACTION",
    "demo_controls",
    "outcome_text",
    "scenario_control",
    "scenario_text",
]

ACTION = "fast-forward the task"
CAPTION = "The simulation clock jumps to this task's next event; other tasks move too."


def outcome_text(result: FastForwarded) -> str:
    """What a fast-forward did, in one sentence."""
    ran = result.events
    events = "No event of this task ran" if ran == 0 else f"{ran} event{'s' * (ran != 1)} ran"
    return f"Clock at {when(result.clock.now)}: {events}; the task is {result.task.status}."


@guarded(ACTION)
def demo_controls(service: TaskingService, task: Task) -> None:
    """Two buttons, "Next event for this task" and "Fast-forward to the end", for a task that is
    not final, in sandbox mode; a click reruns the whole page, which then shows the new status."""
    done = keys.FAST_FORWARDED.pop()
    if done is not None and done[0] == task.id:
        st.toast(done[1], icon=":material/fast_forward:")
    if service.mode != "sandbox" or monitoring.is_terminal(task.status):
        return
    with st.container(horizontal=True):
        to_next = st.button(
            "Next event for this task", icon=":material/skip_next:", key=keys.FAST_FORWARD_NEXT.name
        )
        to_end = st.button(
            "Fast-forward to the end",
            icon=":material/fast_forward:",
            key=keys.FAST_FORWARD_FINAL.name,
        )
    st.caption(CAPTION)
    to: FastForwardTo | None = "final" if to_end else "next-event" if to_next else None
    if to is not None:
        keys.FAST_FORWARD_ERROR.pop()
        try:
            result = service.fast_forward(task.id, to)
        except TaskingError as error:
            keys.FAST_FORWARD_ERROR.set((task.id, error))
        else:
            keys.FAST_FORWARDED.set((task.id, outcome_text(result)))
            # The whole page, not only this fragment: the timeline, scene, products and the
            # sidebar's clock all follow the new time at once, without waiting for the timer.
            st.rerun()
    failed = keys.FAST_FORWARD_ERROR.get()
    if failed is not None and failed[0] == task.id:
        show_error(failed[1], ACTION)


# --- the demo scenario (sidebar) ---------------------------------------------------------------

SCENARIO_ACTION = "load the demo scenario"
SCENARIO_WARNING = (
    "**Every task of this account on the sandbox is removed**, with its history, products and "
    "budget use, and the sandbox orders a demo world in its place: tasks at ports and straits "
    "around the globe at every stage (finished with quicklooks, delivered, imaged, planned, just "
    "received, a rejection, a cancellation, a failure). The simulation clock moves a few days "
    "ahead, for everyone using this sandbox. Other accounts' tasks and your webhooks stay."
)
# The order a summary names the statuses in: the lifecycle, then how tasks end badly.
_SUMMARY_ORDER = ("DONE", "FULFILLED", "ACTIVE", "RECEIVED", "REJECTED", "CANCELED", "FAILED")


def scenario_text(result: ScenarioLoaded) -> str:
    """What the scenario loaded, in one paragraph (Markdown)."""
    counts = result.counts()
    named = [s for s in _SUMMARY_ORDER if s in counts] + sorted(set(counts) - set(_SUMMARY_ORDER))
    stages = ", ".join(f"{counts[s]} {s}" for s in named)
    removed = len(result.removed)
    earlier = (
        "no earlier tasks to remove"
        if removed == 0
        else f"{removed} earlier task{'s' * (removed != 1)} of this account removed"
    )
    return (
        f"**Demo scenario loaded**: {len(result.tasks)} tasks around the globe ({stages}); "
        f"{earlier}. Sandbox time at loading: {plain(when(result.clock.now))}."
    )


def _open_scenario() -> None:
    keys.SCENARIO_LOADED.pop()
    keys.SCENARIO_CONFIRMING.set(True)


def _close_scenario() -> None:
    keys.SCENARIO_CONFIRMING.pop()


@guarded(SCENARIO_ACTION)
def scenario_control(service: TaskingService) -> None:
    """The sidebar's demo area: "Load demo scenario…" (sandbox only) and what it last loaded."""
    if service.mode != "sandbox" or service.control is None:
        return
    with st.container(border=True):
        st.markdown("**Demo**")
        loaded = keys.SCENARIO_LOADED.get()
        if loaded is not None:
            st.success(loaded, icon=":material/public:")
            st.page_link(state.PAGE_TASKS, label="See all tasks", icon=":material/list_alt:")
        st.button(
            "Load demo scenario…",
            key=keys.SCENARIO_OPEN.name,
            icon=":material/public:",
            on_click=_open_scenario,
            help="Replaces this account's sandbox tasks by a world with tasks at every stage.",
            width="stretch",
        )
    if keys.SCENARIO_CONFIRMING.get():
        scenario_dialog(service)


@st.dialog("Load the demo scenario?", on_dismiss=_close_scenario)
@guarded(SCENARIO_ACTION)
def scenario_dialog(service: TaskingService) -> None:
    st.markdown(SCENARIO_WARNING)
    with st.container(horizontal=True):
        confirm = st.button(
            "Load the demo scenario",
            key=keys.SCENARIO_CONFIRM.name,
            type="primary",
            icon=":material/public:",
        )
        keep = st.button("Keep my tasks", key=keys.SCENARIO_KEEP.name)
    if keep:
        _close_scenario()
        st.rerun()
    if not confirm:
        return
    try:
        with st.spinner("Ordering the scenario's tasks and moving the clock…"):
            result = service.load_demo_scenario()
    except TaskingError as error:
        show_error(error, SCENARIO_ACTION)
        return
    _forget_in_session(service, set(result.removed))
    keys.SCENARIO_LOADED.set(scenario_text(result))
    _close_scenario()
    # The whole app: the page shows the new world at once (All tasks, the Monitor, the clock).
    st.rerun()


def _forget_in_session(service: TaskingService, removed: set[str]) -> None:
    """What this session still holds of the account's old world: the loaded task list and
    budgets, and anything about a task that no longer exists."""
    keys.TASK_LIST.pop()
    keys.BUDGETS.pop()
    for task_id in removed & set(keys.WATCHES.get({})):
        keys.WATCHES.get({}).pop(task_id, None)
    if keys.TASK_ID.get() in removed:
        keys.TASK_ID.pop()
    if st.query_params.get(state.TASK_PARAM) in removed:
        del st.query_params[state.TASK_PARAM]
    if keys.CANCELLING.get() in removed:
        keys.CANCELLING.pop()
    for key in (keys.FAST_FORWARDED, keys.FAST_FORWARD_ERROR):
        noted = key.get()
        if noted is not None and noted[0] in removed:
            key.pop()
    last = keys.LAST_ORDER.get()
    if last is not None:
        try:
            order = service.order(last)
        except TaskingError:
            return
        if order is not None and order.task_id in removed:
            keys.LAST_ORDER.pop()
