"""The sidebar: which backend is in use and whether it answers; in sandbox mode, the simulation
clock with its speed and a "Jump to next event" control (PRODUCT.md, "The journey")."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from tasking.errors import TaskingError
from ui.backend import Backend
from ui.errors import show_error
from ui.format import duration, plain, when

# Speeds offered in the sidebar: real time, one minute per second (the sandbox's default), ten
# minutes per second, one hour per second (a whole SLA in seconds for a demo).
SPEEDS: tuple[float, ...] = (1.0, 60.0, 600.0, 3600.0)
SPEED_KEY = "sim_speed"
CLOCK_ERROR = "sim_clock_error"
CLOCK_CHANGED = "sim_clock_changed"
# The clock panel redraws itself this often (no request: the clock is extrapolated, ui/backend.py).
CLOCK_REFRESH = timedelta(seconds=5)
HEALTH_TTL_S = 10


@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False)
def _answers(_backend: Backend, host: str) -> bool:
    # ``host`` keys the cache; the backend itself is not hashable (and need not be).
    return _backend.answers()


def render_sidebar(backend: Backend) -> None:
    with st.sidebar:
        _backend_panel(backend)
        if backend.control is not None:
            _clock_panel(backend)


def _backend_panel(backend: Backend) -> None:
    answers = _answers(backend, backend.host)
    icon = ":material/check_circle:" if answers else ":material/error:"
    state = "answers" if answers else "does not answer"
    with st.container(border=True):
        st.markdown(f"**{plain(backend.label)}**")
        st.caption(f"{plain(backend.host)} · {state}")
        st.badge(
            "online" if answers else "offline",
            icon=icon,
            color="green" if answers else "red",
        )


def _speed_label(speed: float) -> str:
    return "real time (1×)" if speed == 1 else f"{speed:g}×"


def _set_speed(backend: Backend) -> None:
    try:
        backend.set_speed(st.session_state[SPEED_KEY])
    except TaskingError as error:
        st.session_state[CLOCK_ERROR] = error
    st.session_state[CLOCK_CHANGED] = True


def _jump(backend: Backend) -> None:
    try:
        backend.jump_to_next_event()
    except TaskingError as error:
        st.session_state[CLOCK_ERROR] = error
    st.session_state[CLOCK_CHANGED] = True


@st.fragment(run_every=CLOCK_REFRESH)
def _clock_panel(backend: Backend) -> None:
    if st.session_state.pop(CLOCK_CHANGED, False) and CLOCK_ERROR not in st.session_state:
        # The clock moved: every page shows times and statuses that depend on it.
        st.rerun()
    st.markdown("**Simulation clock**")
    error = st.session_state.pop(CLOCK_ERROR, None)
    if error is not None:
        show_error(error, "change the simulation clock")
    try:
        reading = backend.clock.reading()
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
        args=(backend,),
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
        args=(backend,),
        disabled=reading.next_event is None,
        width="stretch",
    )
