"""The sidebar: unread notifications (a link to them, and a toast for each one that arrives while
the session is open); which backend is in use and whether it answers; in sandbox mode, the
simulation clock with its speed and a "Jump to next event" control (PRODUCT.md, "The journey"),
and the demo area with "Load demo scenario…" (``ui.demo_controls``)."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from tasking.errors import TaskingError
from tasking.service import TaskingService
from ui import keys, state
from ui.demo_controls import scenario_control
from ui.desk_view import toast_new
from ui.errors import show_error
from ui.format import duration, plain, when
from ui.guard import guarded, show_unexpected

# Speeds offered in the sidebar: real time, one minute per second (the sandbox's default), ten
# minutes per second, one hour per second (a whole SLA in seconds for a demo).
SPEEDS: tuple[float, ...] = (1.0, 60.0, 600.0, 3600.0)
# The sidebar redraws itself this often (the clock is extrapolated, tasking/clock.py, and the
# health reading is cached for as long: no request per session).
HEALTH_TTL_S = 5
CLOCK_REFRESH = timedelta(seconds=HEALTH_TTL_S)
UNREAD_SHOWN = 100
"""The sidebar counts unread notifications up to this many ("100+ unread")."""


@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False)
def _answers(_service: TaskingService, host: str) -> bool:
    # ``host`` keys the cache; the service itself is not hashable (and need not be). One short
    # request per HEALTH_TTL_S for the whole process, however many sessions are open.
    return _service.answers()


def render_sidebar(service: TaskingService) -> None:
    with st.sidebar:
        _panels(service)
        # Outside the timed fragment: its confirmation dialog is not redrawn every few seconds.
        scenario_control(service)


# One timer for the whole sidebar: an idle session costs one fragment run per CLOCK_REFRESH.
@st.fragment(run_every=CLOCK_REFRESH)
@guarded("show the sidebar")
def _panels(service: TaskingService) -> None:
    _notifications_panel(service)
    _backend_panel(service)
    if service.control is not None:
        _clock_panel(service)


# Each panel has its own guard too, so that one failing never hides the other.
@guarded("check the notifications")
def _notifications_panel(service: TaskingService) -> None:
    if service.desk is None:
        return
    # One store query per run (every CLOCK_REFRESH): the unread ones, newest first. It gives both
    # the count and what to toast; a notification read elsewhere first is not toasted.
    unread = service.desk.notifications(limit=UNREAD_SHOWN, unread_only=True)
    if toast_new(unread):
        # Something happened on the backend (perhaps a clock jump from another app or a script):
        # read its clock afresh so the clock panel below says the true time and next event.
        service.refresh_clock()
    count = f"{len(unread)}{'+' if len(unread) >= UNREAD_SHOWN else ''}"
    st.page_link(
        state.PAGE_NOTIFICATIONS,
        label=f"{count} unread" if unread else "No unread notifications",
        # A Material icon, not the bell emoji: Streamlit ships its font, so it draws offline.
        icon=":material/notifications_active:" if unread else ":material/notifications:",
        width="stretch",
    )


@guarded("check the backend")
def _backend_panel(service: TaskingService) -> None:
    answers = _answers(service, service.host)
    if answers and keys.AWAITING_BACKEND.pop():
        # A page could not load what it needs and the backend answers again: the whole page
        # runs again, so it loads by itself, without Retry. Typed values are in session state.
        st.rerun(scope="app")
    icon = ":material/check_circle:" if answers else ":material/error:"
    status = "answers" if answers else "does not answer"
    with st.container(border=True):
        st.markdown(f"**{plain(service.label)}**")
        st.caption(f"{plain(_where(service))} · {status}")
        st.badge(
            "online" if answers else "offline",
            icon=icon,
            color="green" if answers else "red",
        )


def _where(service: TaskingService) -> str:
    """Where the backend is, in words a stakeholder understands."""
    if service.mode == "sandbox" and service.sandbox is not None:
        if getattr(service.sandbox, "owned", True):
            return "started by this app, no internet needed"
        # Another app on the same data directory started it (tasking.sandbox.process).
        return "shared with another app on this machine, no internet needed"
    if service.mode == "sandbox":
        return f"shared sandbox at {service.host}"
    return service.host


def _speed_label(speed: float) -> str:
    return "real time (1×)" if speed == 1 else f"{speed:g}×"


def _set_speed(service: TaskingService) -> None:
    speed = keys.SIM_SPEED.get()
    if speed is None:
        return
    try:
        service.set_speed(speed)
    except Exception as error:  # a callback runs outside the panel's guard: shown by the panel
        keys.CLOCK_ERROR.set(error)
    keys.CLOCK_CHANGED.set(True)


def _jump(service: TaskingService) -> None:
    try:
        service.jump_to_next_event()
    except Exception as error:  # a callback runs outside the panel's guard: shown by the panel
        keys.CLOCK_ERROR.set(error)
    keys.CLOCK_CHANGED.set(True)


@guarded("show the simulation clock")
def _clock_panel(service: TaskingService) -> None:
    if keys.CLOCK_CHANGED.pop() and not keys.CLOCK_ERROR.is_set():
        # The clock moved: every page shows times and statuses that depend on it.
        st.rerun()
    st.markdown("**Simulation clock**")
    error = keys.CLOCK_ERROR.pop()
    if error is not None and not isinstance(error, TaskingError):
        show_unexpected(error, "change the simulation clock")
        error = None
    if error is not None:
        show_error(error, "change the simulation clock")
    try:
        reading = service.clock.reading()
    except TaskingError as failure:
        action = "read the simulation clock"
        show_error(failure, action, retry_key=keys.retry(action))
        return
    st.markdown(f"### {when(reading.now)}")
    options = sorted({*SPEEDS, reading.speed})
    keys.SIM_SPEED.set(reading.speed)
    st.selectbox(
        "Speed",
        options,
        key=keys.SIM_SPEED.name,
        format_func=_speed_label,
        on_change=_set_speed,
        args=(service,),
        help="How fast simulated time runs: 60× is one simulated minute per second.",
    )
    if reading.next_event is not None:
        wait = duration(reading.next_event - reading.now)
        st.caption(f"Next event {when(reading.next_event)} (in {wait} simulated)")
    else:
        st.caption("No event due: nothing is waiting on the clock.")
    st.button(
        "Jump to next event",
        key=keys.SIM_JUMP.name,
        icon=":material/skip_next:",
        on_click=_jump,
        args=(service,),
        disabled=reading.next_event is None,
        width="stretch",
    )
