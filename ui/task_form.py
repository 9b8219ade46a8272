"""The New task form: contract-driven widgets, their state, and the draft they describe.

Every option comes from the contract (allowed lists and defaults: ICEYE's "contract-driven UI
pattern"); values live in session state under the keys below (``persist_state="session"``), so a
failed call, a page switch or a map click never loses what the user entered. Rules are checked
by ``tasking.rules.check_draft`` before any call; each message is shown under its own field.

Only what the user set is sent (ICEYE: "Only send optional parameters if the user explicitly set
them"): an option equal to the contract's default, ANY look side / pass direction, an unset
incidence range, duration or product list are left out, so ICEYE applies its defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import streamlit as st

from tasking import modes, rules
from tasking.errors import Violation
from tasking.models import Contract, OptionGroup, Task
from tasking.rules import TaskDraft
from ui import state
from ui.format import from_widget, plain, utc_naive

# Keys (tests seed them; the point is set by a map click, typed coordinates or a place search).
LAT = "poi_lat"
LON = "poi_lon"
MODE = "nt_mode"
PRIORITY = "nt_priority"
SLA = "nt_sla"
EXCLUSIVITY = "nt_exclusivity"
EULA = "nt_eula"
START = "nt_start"
END = "nt_end"
WINDOW_AUTO = "nt_window_auto"
INCIDENCE = "nt_incidence"
INC_MIN = "nt_inc_min"
INC_MAX = "nt_inc_max"
LOOK = "nt_look"
PASS = "nt_pass"
PRODUCTS = "nt_products"
DERIVATIVES = "nt_derivatives"
DURATION = "nt_duration"
REFERENCE = "nt_reference"
DRAFT_CONTRACT = "nt_draft_contract"
FEASIBILITY = "nt_feasibility"
CENTER = "nt_center"
ZOOM = "nt_zoom"
# Zoom used when the map centres on a typed or searched point: the region around it, where the
# ground tracks of the predicted passes run (a satellite images from up to ~600 km to the side).
POINT_ZOOM = 5

INCIDENCE_ANY = "any"
INCIDENCE_RANGE = "range"
INCIDENCE_KINDS = (INCIDENCE_ANY, INCIDENCE_RANGE, *modes.INCIDENCE_PRESETS)
ANY = "ANY"
LOOK_SIDES = ("ANY", "LEFT", "RIGHT")
PASS_DIRECTIONS = ("ANY", "ASCENDING", "DESCENDING")
# A typical good-quality range offered when the user switches to numbers (the PERFORMANT range of
# Spot, iceye-fleet-modes.md §1.4), inside the API's 10..45 limits.
DEFAULT_RANGE = (20, 40)

_OPTION_KEYS = (MODE, PRIORITY, SLA, EXCLUSIVITY, EULA)
_RESET_KEYS = (
    *_OPTION_KEYS,
    INCIDENCE,
    INC_MIN,
    INC_MAX,
    LOOK,
    PASS,
    PRODUCTS,
    DERIVATIVES,
    DURATION,
)


def _choices(group: OptionGroup, fallback: Sequence[str] = ()) -> list[str]:
    return list(group.allowed) or list(fallback)


def _default(group: OptionGroup, choices: list[str]) -> str | None:
    return group.resolved_default() or (choices[0] if choices else None)


def mode_choices(contract: Contract) -> list[str]:
    return _choices(contract.imagingModes)


def product_choices(contract: Contract, mode: str) -> list[str]:
    """Product types the contract allows for the mode, else those the mode can make."""
    allowed = contract.product_types_for(mode)
    return list(allowed) if allowed is not None else list(modes.mode_info(mode).product_types)


def derivative_choices(contract: Contract, mode: str) -> list[str]:
    if not modes.mode_info(mode).allows_derivatives:
        return []
    return contract.derivatives_allowed


def _set(key: str, value: object) -> None:
    st.session_state[key] = value


def _ensure(key: str, default: object, choices: Sequence[object] | None = None) -> None:
    if key not in st.session_state or (
        choices is not None and st.session_state[key] not in choices
    ):
        st.session_state[key] = default


def prepare(contract: Contract, now: datetime) -> None:
    """Initialise (or repair) every form key for this contract before the widgets are drawn."""
    previous = st.session_state.get(DRAFT_CONTRACT)
    if previous is not None and previous != contract.id:
        # Another contract: its allowed lists and defaults replace the previous ones.
        for key in _RESET_KEYS:
            st.session_state.pop(key, None)
    _set(DRAFT_CONTRACT, contract.id)
    _ensure(LAT, None)
    _ensure(LON, None)
    for key, group, fallback in (
        (MODE, contract.imagingModes, ()),
        (PRIORITY, contract.priority, rules.PRIORITIES),
        (SLA, contract.sla, ()),
        (EXCLUSIVITY, contract.exclusivity, rules.EXCLUSIVITIES),
        (EULA, contract.eula, ()),
    ):
        choices = _choices(group, fallback)
        if choices:
            _ensure(key, _default(group, choices), choices)
        else:
            _set(key, None)
    _ensure(INCIDENCE, INCIDENCE_ANY, INCIDENCE_KINDS)
    _ensure(INC_MIN, DEFAULT_RANGE[0])
    _ensure(INC_MAX, DEFAULT_RANGE[1])
    _ensure(LOOK, ANY, LOOK_SIDES)
    _ensure(PASS, ANY, PASS_DIRECTIONS)
    mode = st.session_state.get(MODE) or ""
    products = product_choices(contract, mode) if mode else []
    _set(PRODUCTS, [p for p in st.session_state.get(PRODUCTS, []) if p in products])
    derivatives = derivative_choices(contract, mode) if mode else []
    _set(DERIVATIVES, [d for d in st.session_state.get(DERIVATIVES, []) if d in derivatives])
    _ensure(DURATION, None)
    _ensure(REFERENCE, "")
    _ensure(WINDOW_AUTO, True)
    if st.session_state[WINDOW_AUTO] or START not in st.session_state:
        # Until the user edits it, the window follows the clock (and the priority's lead time),
        # so the default is valid whenever it is used, even on a fast simulation clock.
        use_default_window(contract, now)


def use_default_window(contract: Contract, now: datetime) -> None:
    priority = rules.effective_priority(st.session_state.get(PRIORITY), contract)
    start, end = rules.default_window(now, priority)
    _set(START, utc_naive(start))
    _set(END, utc_naive(end))
    _set(WINDOW_AUTO, True)


def preview_window(draft: TaskDraft) -> tuple[datetime, datetime] | None:
    """The window the pass preview covers: the draft's when it is usable, else None."""
    start, end = draft.window_start, draft.window_end
    if start is None or end is None or end <= start:
        return None
    if end - start > rules.MAX_AHEAD + rules.MIN_WINDOW:
        return None  # far outside the rules: not worth predicting
    return start, end


def _unless_default(key: str, group: OptionGroup) -> str | None:
    value: str | None = st.session_state.get(key)
    return None if value is None or value == group.resolved_default() else value


def _number(key: str) -> float | None:
    value = st.session_state.get(key)
    return None if value is None else float(value)


def _angle(value: object) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # type: ignore[return-value]  # non-integers are refused by the rules


def draft(contract: Contract) -> TaskDraft:
    """The draft the form describes now (unset options are None: they will not be sent)."""
    kind = st.session_state.get(INCIDENCE, INCIDENCE_ANY)
    if kind == INCIDENCE_RANGE:
        low, high = _angle(st.session_state.get(INC_MIN)), _angle(st.session_state.get(INC_MAX))
    elif kind in modes.INCIDENCE_PRESETS:
        low = high = kind
    else:
        low = high = None
    look, direction = st.session_state.get(LOOK), st.session_state.get(PASS)
    reference = (st.session_state.get(REFERENCE) or "").strip()
    duration = st.session_state.get(DURATION)
    return TaskDraft(
        contract_id=contract.id,
        lat=_number(LAT),
        lon=_number(LON),
        window_start=from_widget(st.session_state.get(START)),
        window_end=from_widget(st.session_state.get(END)),
        imaging_mode=st.session_state.get(MODE) or "",
        priority=_unless_default(PRIORITY, contract.priority),
        sla=_unless_default(SLA, contract.sla),
        exclusivity=_unless_default(EXCLUSIVITY, contract.exclusivity),
        eula=_unless_default(EULA, contract.eula),
        incidence_min=low,
        incidence_max=high,
        look_side=None if look == ANY else look,
        pass_direction=None if direction == ANY else direction,
        product_types=list(st.session_state.get(PRODUCTS) or []) or None,
        derivative_product_types=list(st.session_state.get(DERIVATIVES) or []) or None,
        imaging_duration=int(duration) if duration is not None else None,
        reference=reference or None,
    )


# --- widgets ---------------------------------------------------------------------------------


def show_problems(violations: Sequence[Violation]) -> None:
    """The rules a field breaks, right under it."""
    for violation in violations:
        st.markdown(f":red[:material/error: {plain(violation.message)}]")


def _option_label(group: OptionGroup) -> Callable[[str], str]:
    default = group.resolved_default()

    def label(value: str) -> str:
        return f"{value} (default)" if value == default else value

    return label


def _mode_label(value: str) -> str:
    info = modes.mode_info(value)
    return value if info.label == value else f"{info.label} — {value}"


def option_widgets(contract: Contract, problems: dict[str, list[Violation]]) -> None:
    """Imaging mode, priority, SLA: the options every order sets."""
    st.selectbox(
        "Imaging mode",
        mode_choices(contract),
        key=MODE,
        format_func=_mode_label,
        persist_state="session",
        help="Allowed by the contract. Resolution and scene size: see ICEYE's mode table.",
    )
    show_problems(problems.get("imaging_mode", []))
    left, right = st.columns(2)
    with left:
        st.selectbox(
            "Priority",
            _choices(contract.priority, rules.PRIORITIES),
            key=PRIORITY,
            format_func=_option_label(contract.priority),
            persist_state="session",
            help="COMMERCIAL is acquired first-come first-served; BACKGROUND uses spare capacity.",
        )
        show_problems(problems.get("priority", []))
    with right:
        if contract.sla.allowed:
            st.selectbox(
                "Delivery SLA",
                contract.sla.allowed,
                key=SLA,
                format_func=_option_label(contract.sla),
                persist_state="session",
                help="How soon after the capture the standard products are delivered.",
            )
        else:
            st.caption("Delivery SLA: ICEYE's default (the contract lists none).")
        show_problems(problems.get("sla", []))


def window_widgets(contract: Contract, now: datetime, problems: dict[str, list[Violation]]) -> None:
    """Acquisition window (UTC), with a button back to a valid default window."""

    def edited() -> None:
        st.session_state[WINDOW_AUTO] = False

    # One per row: a date and a time need the width at laptop size (1280 px).
    st.datetime_input(
        "Window start (UTC)",
        value=None,
        key=START,
        format="YYYY-MM-DD",
        on_change=edited,
        persist_state="session",
    )
    show_problems(problems.get("window_start", []))
    st.datetime_input(
        "Window end (UTC)",
        value=None,
        key=END,
        format="YYYY-MM-DD",
        on_change=edited,
        persist_state="session",
    )
    show_problems(problems.get("window_end", []))
    priority = rules.effective_priority(st.session_state.get(PRIORITY), contract)
    lead = rules.lead_time(priority)
    hours = int(lead.total_seconds() // 3600)
    st.caption(
        f"Rules: start at least {hours} h from now for {priority}, end at most 14 days from now, "
        "at least 24 h wide."
        + (
            " The default window follows the clock until you edit it."
            if st.session_state[WINDOW_AUTO]
            else ""
        )
    )
    if not st.session_state[WINDOW_AUTO]:
        st.button(
            "Use a valid default window",
            key="nt_default_window",
            icon=":material/event_repeat:",
            on_click=use_default_window,
            args=(contract, now),
        )


def advanced_widgets(contract: Contract, problems: dict[str, list[Violation]]) -> None:
    """Incidence, look side, pass direction, exclusivity, EULA, products, duration."""
    mode = st.session_state.get(MODE) or ""
    info = modes.mode_info(mode)
    perf = f"{info.performant[0]}–{info.performant[1]}°"
    labels = {
        INCIDENCE_ANY: "Not set (ICEYE's default 10–45°)",
        INCIDENCE_RANGE: "Range in degrees",
        "PERFORMANT": f"PERFORMANT (best quality for {info.label}: {perf})",
        "FULL_RANGE": "FULL_RANGE (10–45°, the most opportunities)",
    }
    st.selectbox(
        "Incidence angle",
        INCIDENCE_KINDS,
        key=INCIDENCE,
        format_func=labels.__getitem__,
        persist_state="session",
        help="Narrower ranges are harder to schedule; wider ones give the scheduler room.",
    )
    if st.session_state.get(INCIDENCE) == INCIDENCE_RANGE:
        left, right = st.columns(2)
        with left:
            st.number_input(
                "Minimum incidence (°)", value=None, step=1, key=INC_MIN, persist_state="session"
            )
            show_problems(problems.get("incidence_min", []))
        with right:
            st.number_input(
                "Maximum incidence (°)", value=None, step=1, key=INC_MAX, persist_state="session"
            )
            show_problems(problems.get("incidence_max", []))
    else:
        show_problems(problems.get("incidence_min", []) + problems.get("incidence_max", []))

    left, right = st.columns(2)
    with left:
        st.radio("Look side", LOOK_SIDES, key=LOOK, horizontal=True, persist_state="session")
        show_problems(problems.get("look_side", []))
    with right:
        st.radio(
            "Pass direction", PASS_DIRECTIONS, key=PASS, horizontal=True, persist_state="session"
        )
        show_problems(problems.get("pass_direction", []))

    left, right = st.columns(2)
    with left:
        st.selectbox(
            "Exclusivity",
            _choices(contract.exclusivity, rules.EXCLUSIVITIES),
            key=EXCLUSIVITY,
            format_func=_option_label(contract.exclusivity),
            persist_state="session",
        )
        show_problems(problems.get("exclusivity", []))
    with right:
        if contract.eula.allowed:
            st.selectbox(
                "EULA",
                contract.eula.allowed,
                key=EULA,
                format_func=_option_label(contract.eula),
                persist_state="session",
            )
        else:
            st.caption("EULA: ICEYE's default (the contract lists none).")
        show_problems(problems.get("eula", []))

    st.multiselect(
        "Product types",
        product_choices(contract, mode) if mode else [],
        key=PRODUCTS,
        placeholder="ICEYE's default products for the mode",
        persist_state="session",
        help="Leave empty for the mode's standard products.",
    )
    show_problems(problems.get("product_types", []))
    derivatives = derivative_choices(contract, mode) if mode else []
    if derivatives:
        st.multiselect(
            "Derivative products (Detect & Classify)",
            derivatives,
            key=DERIVATIVES,
            persist_state="session",
            help="Need GRD among the product types.",
        )
    show_problems(problems.get("derivative_product_types", []))
    st.number_input(
        "Imaging duration (s)",
        value=None,
        step=1,
        key=DURATION,
        placeholder=f"mode default ({info.nominal_duration_s} s)",
        persist_state="session",
        help=f"1–180 s; {info.label} images for {info.nominal_duration_s} s by default.",
    )
    show_problems(problems.get("imaging_duration", []))


def reference_widget(problems: dict[str, list[Violation]]) -> None:
    st.text_input(
        "Reference",
        key=REFERENCE,
        placeholder="Your label for this order, e.g. 'Helsinki port, weekly'",
        persist_state="session",
        help="Up to 256 characters; shown in All tasks and searchable.",
    )
    show_problems(problems.get("reference", []))


def centre_on_point() -> None:
    """Centre the map on the point (after it was typed or searched, not after a click)."""
    lat, lon = _number(LAT), _number(LON)
    if rules.is_valid_point(lat, lon):
        st.session_state[CENTER] = (lat, lon)
        st.session_state[ZOOM] = POINT_ZOOM


def point_widgets(problems: dict[str, list[Violation]]) -> None:
    left, right = st.columns(2)
    with left:
        st.number_input(
            "Latitude (°)",
            value=None,
            step=0.0001,
            format="%.6f",
            key=LAT,
            placeholder="click the map",
            on_change=centre_on_point,
            persist_state="session",
        )
        show_problems(problems.get("lat", []))
    with right:
        st.number_input(
            "Longitude (°)",
            value=None,
            step=0.0001,
            format="%.6f",
            key=LON,
            placeholder="click the map",
            on_change=centre_on_point,
            persist_state="session",
        )
        show_problems(problems.get("lon", []))


def by_field(violations: Sequence[Violation]) -> dict[str, list[Violation]]:
    grouped: dict[str, list[Violation]] = {}
    for violation in violations:
        grouped.setdefault(violation.field, []).append(violation)
    return grouped


ADVANCED_FIELDS = frozenset(
    {
        "incidence_min",
        "incidence_max",
        "look_side",
        "pass_direction",
        "exclusivity",
        "eula",
        "product_types",
        "derivative_product_types",
        "imaging_duration",
    }
)


def clone(task: Task) -> None:
    """Fill the form with a task's parameters and a fresh (default) window; the page then repairs
    anything the contract no longer allows (``prepare``)."""
    for key in _RESET_KEYS:
        st.session_state.pop(key, None)
    st.session_state[state.CONTRACT_ID] = task.contractID
    st.session_state.pop(FEASIBILITY, None)
    _set(DRAFT_CONTRACT, task.contractID)
    point = task.pointOfInterest
    _set(LAT, point.lat)
    _set(LON, point.lon)
    _set(CENTER, (point.lat, point.lon))
    _set(ZOOM, POINT_ZOOM)
    _set(MODE, task.imagingMode)
    for key, value in (
        (PRIORITY, task.priority),
        (SLA, task.sla),
        (EXCLUSIVITY, task.exclusivity),
        (EULA, task.eula),
    ):
        if value:
            _set(key, value)
    angle = task.incidenceAngle
    if angle is not None:
        if isinstance(angle.min, str) and angle.min == angle.max:
            _set(INCIDENCE, angle.min)
        elif (angle.min, angle.max) != modes.INCIDENCE_LIMITS:
            _set(INCIDENCE, INCIDENCE_RANGE)
            _set(INC_MIN, angle.min)
            _set(INC_MAX, angle.max)
    _set(LOOK, task.lookSide if task.lookSide in LOOK_SIDES else ANY)
    _set(PASS, task.passDirection if task.passDirection in PASS_DIRECTIONS else ANY)
    _set(PRODUCTS, list(task.productTypes or []))
    _set(DERIVATIVES, list(task.derivativeProductTypes or []))
    _set(DURATION, task.imagingDuration)
    _set(REFERENCE, task.reference or "")
    _set(WINDOW_AUTO, True)
    st.session_state.pop(START, None)
    st.session_state.pop(END, None)


def open_clone(task: Task) -> None:
    """Clone a task into the New task form and go there."""
    clone(task)
    st.switch_page(state.PAGE_NEW_TASK)
