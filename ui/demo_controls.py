"""Demo controls on the Monitor (sandbox only): move the simulation clock for the monitored task's
sake, to its next event or on to its final status, instead of jumping event by event through
everyone's tasks from the sidebar.

The clock is the sandbox's one global clock: every task moves with it, and no event runs early
(``tasking.sandbox.core.Sandbox.fast_forward``). In live mode nothing is shown: ICEYE's clock is
the real one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from tasking import monitoring
from tasking.errors import TaskingError
from tasking.models import Task
from tasking.service import TaskingService
from ui import keys
from ui.errors import show_error
from ui.format import when
from ui.guard import guarded

if TYPE_CHECKING:
    from tasking.sandbox.control import FastForwarded, FastForwardTo

__all__ = ["ACTION", "CAPTION", "demo_controls", "outcome_text"]

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
