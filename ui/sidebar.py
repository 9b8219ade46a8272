"""The sidebar: which backend is in use and whether it answers; in sandbox mode, the simulation
clock with its speed and a "Jump to next event" control (PRODUCT.md, "The journey")."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from tasking.errors import TaskingError
from tasking.service import TaskingService
from ui import state
from ui.errors import show_error
from ui.format import duration, plain, when
from ui.guard import guarded

# Speeds offered in the sidebar: real time, one minute per second (the sandbox's default), ten
# minutes per second, one hour per second (a whole SLA in seconds for a demo).
SPEEDS: tuple[float, ...] = (1.0, 60.0, 600.0, 3600.0)
SPEED_KEY = "sim_speed"
CLOCK_ERROR = "sim_clock_error"
CLOCK_CHANGED = "sim_clock_changed"
# The clock panel redraws itself this often (no request: the clock is extrapolated, tasking/clock.py).
CLOCK_REFRESH = timedelta(seconds=5)
HEALTH_TTL_S = 5


@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False)
def _answers(_service: TaskingService, host: str) -> bool:
    # ``host`` keys the cache; the service itself is not hashable (and need not be). One short
    # request per HEALTH_TTL_S for the whole process, however many sessions are open.
    return _service.answers()


def render_sidebar(service: TaskingService) -> None:
    with st.sidebar:
        _backend_panel(service)
        if service.control is not None:
            _clock_panel(service)


@st.fragment(run_every=timedelta(seconds=HEALTH_TTL_S))
@guarded("check the backend")
def _backend_panel(service: TaskingService) -> None:
    answers = _answers(service, service.host)
    was = st.session_state.get(state.BACKEND_ANSWERED)
    st.session_state[state.BACKEND_ANSWERED] = answers
    if answers and (was is False or st.session_state.pop(state.AWAITING_BACKEND, False)):
        # Back after an outage (or a page is waiting for it): the whole page runs again, so what
        # failed loads by itself, without Retry. Typed values are in session state: nothing lost.
        st.rerun(scope="app")
    icon = ":material/check_circle:" if answers else ":material/error:"
    status = "answers" if answers else "does not answer"
    with st.container(border=True):
        st.markdown(f"**{plain(service.label)}**")
        st.caption(f"{plain(service.host)} · {status}")
        st.badge(
            "online" if answers else "offline",
            icon=icon,
            color="green" if answers else "red",
        )


def _speed_label(speed: float) -> str:
    return "real time (1×)" if speed == 1 else f"{speed:g}×"


def _set_speed(service: TaskingService) -> None:
    try:
        service.set_speed(st.session_state[SPEED_KEY])
    except TaskingError as error:
        st.session_state[CLOCK_ERROR] = error
    st.session_state[CLOCK_CHANGED] = True


def _jump(service: TaskingService) -> None:
    try:
        service.jump_to_next_event()
    except TaskingError as error:
        st.session_state[CLOCK_ERROR] = error
    st.session_state[CLOCK_CHANGED] = True


@st.fragment(run_every=CLOCK_REFRESH)
@guarded("show the simulation clock")
def _clock_panel(service: TaskingService) -> None:
    if st.session_state.pop(CLOCK_CHANGED, False) and CLOCK_ERROR not in st.session_state:
        # The clock moved: every page shows times and statuses that depend on it.
        st.rerun()
    st.markdown("**Simulation clock**")
    error = st.session_state.pop(CLOCK_ERROR, None)
    if error is not None:
        show_error(error, "change the simulation clock")
    try:
        reading = service.clock.reading()
    except TaskingError as failure:
        show_error(failure, "read the simulation clock", retry_key="retry_clock")
        return
    st.markdown(f"### {when(reading.now)}")
    options = sorted({*SPEEDS, reading.speed})
    st.session_state[SPEED_KEY] = reading.speed
    st.selectbox(
        "Speed",
        options,
        key=SPEED_KEY,
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
        key="sim_jump",
        icon=":material/skip_next:",
        on_click=_jump,
        args=(service,),
        disabled=reading.next_event is None,
        width="stretch",
    )
