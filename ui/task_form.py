"""The New task form: contract-driven widgets, their state, and the draft they describe.

Every option comes from the contract (allowed lists and defaults: ICEYE's "contract-driven UI
pattern"); values live in session state under the keys of ``ui.keys`` (``persist_state="session"``),
so a failed call, a page switch or a map click never loses what the user entered. Rules are checked
by ``tasking.rules.check_draft`` before any call; each message is shown under its own field, in
the rule's words without its internal id (``rules.user_message``): as a neutral hint while the user
has not touched the field, as an error once they have (or pressed Check feasibility or Create).
Options that cannot combine are not offered: the SLA list follows the priority and the mode.

Only what the user set is sent (ICEYE: "Only send optional parameters if the user explicitly set
them"): an option equal to the contract's default, ANY look side / pass direction, an unset
incidence range, duration or product list are left out, so ICEYE applies its defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from tasking import modes, rules
from tasking.errors import Violation
from tasking.models import Contract, OptionGroup, Task
from tasking.rules import TaskDraft
from ui import keys, state
from ui.format import from_widget, plain, short_id, utc_naive

if TYPE_CHECKING:
    from ui.passes_view import Aim

# Zoom used when the map centres on a typed or searched point: the region around it, where the
# ground tracks of the predicted passes run (a satellite images from up to ~600 km to the side).
POINT_ZOOM = 5

INCIDENCE_ANY = "any"
INCIDENCE_RANGE = "range"
INCIDENCE_KINDS = (INCIDENCE_ANY, INCIDENCE_RANGE, *modes.INCIDENCE_PRESETS)
ANY = "ANY"
LOOK_SIDES = ("ANY", "LEFT", "RIGHT")
PASS_DIRECTIONS = ("ANY", "ASCENDING", "DESCENDING")
# Two fields share a row where each gets at least this width (a date and a time, or "COMMERCIAL
# (default)", fit), else they stack: no label or value is clipped at 1024 px or on a phone.
PAIR_MIN_PX = 190
PAIRS = (keys.PAIR_PRIORITY, keys.PAIR_WINDOW)
# The page's two columns (point and map | order and options) share a row where the map gets at
# least 440 px and the order 340 px; below that they stack, so the map is never a 300 px strip.
MAP_MIN_PX, ORDER_MIN_PX = 440, 340

# A typical good-quality range offered when the user switches to numbers (the PERFORMANT range of
# Spot, iceye-fleet-modes.md §1.4), inside the API's 10..45 limits.
DEFAULT_RANGE = (20, 40)

# What another contract's allowed lists and defaults replace.
_RESET_KEYS: tuple[keys.Key[Any], ...] = (
    keys.MODE,
    keys.PRIORITY,
    keys.SLA,
    keys.EXCLUSIVITY,
    keys.EULA,
    keys.INCIDENCE,
    keys.INC_MIN,
    keys.INC_MAX,
    keys.LOOK,
    keys.PASS,
    keys.PRODUCTS,
    keys.DERIVATIVES,
    keys.DURATION,
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


def prepare(contract: Contract, now: datetime) -> None:
    """Initialise (or repair) every form key for this contract before the widgets are drawn."""
    previous = keys.DRAFT_CONTRACT.get()
    if previous is not None and previous != contract.id:
        # Another contract: its allowed lists and defaults replace the previous ones.
        for key in _RESET_KEYS:
            key.pop()
    keys.DRAFT_CONTRACT.set(contract.id)
    keys.LAT.ensure(None)
    keys.LON.ensure(None)
    for key, group, fallback in (
        (keys.MODE, contract.imagingModes, ()),
        (keys.PRIORITY, contract.priority, rules.PRIORITIES),
        (keys.EXCLUSIVITY, contract.exclusivity, rules.EXCLUSIVITIES),
        (keys.EULA, contract.eula, ()),
    ):
        choices = _choices(group, fallback)
        if choices:
            key.ensure(_default(group, choices), choices)
        else:
            key.set(None)
    # After the priority and the mode: only the SLAs that can be ordered with them are offered.
    slas = sla_choices(contract)
    if slas:
        default = contract.sla.resolved_default()
        keys.SLA.ensure(default if default in slas else slas[0], slas)
    else:
        keys.SLA.set(None)
    keys.INCIDENCE.ensure(INCIDENCE_ANY, INCIDENCE_KINDS)
    keys.INC_MIN.ensure(DEFAULT_RANGE[0])
    keys.INC_MAX.ensure(DEFAULT_RANGE[1])
    keys.LOOK.ensure(ANY, LOOK_SIDES)
    keys.PASS.ensure(ANY, PASS_DIRECTIONS)
    mode = keys.MODE.get() or ""
    products = product_choices(contract, mode) if mode else []
    keys.PRODUCTS.set([p for p in keys.PRODUCTS.get([]) if p in products])
    derivatives = derivative_choices(contract, mode) if mode else []
    keys.DERIVATIVES.set([d for d in keys.DERIVATIVES.get([]) if d in derivatives])
    keys.DURATION.ensure(None)
    keys.REFERENCE.ensure("")
    keys.WINDOW_AUTO.ensure(True)
    if keys.WINDOW_AUTO.get() or not keys.START.is_set():
        # Until the user edits it, the window follows the clock (and the priority's lead time),
        # so the default is valid whenever it is used, even on a fast simulation clock.
        use_default_window(contract, now)


def sla_choices(contract: Contract) -> list[str]:
    """The contract's SLAs that combine with the chosen priority and mode."""
    return rules.sla_choices(contract, keys.PRIORITY.get(), keys.MODE.get() or "")


def use_default_window(contract: Contract, now: datetime) -> None:
    priority = rules.effective_priority(keys.PRIORITY.get(), contract)
    start, end = rules.default_window(now, priority)
    keys.START.set(utc_naive(start))
    keys.END.set(utc_naive(end))
    keys.WINDOW_AUTO.set(True)


def preview_window(draft: TaskDraft) -> tuple[datetime, datetime] | None:
    """The window the pass preview covers: the draft's when it is usable, else None."""
    start, end = draft.window_start, draft.window_end
    if start is None or end is None or end <= start:
        return None
    if end - start > rules.MAX_AHEAD + rules.MIN_WINDOW:
        return None  # far outside the rules: not worth predicting
    return start, end


def _unless_default(key: keys.Key[str | None], group: OptionGroup) -> str | None:
    value = key.get()
    return None if value is None or value == group.resolved_default() else value


def _number(key: keys.Key[float | None]) -> float | None:
    value = key.get()
    return None if value is None else float(value)


def _angle(value: object) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # type: ignore[return-value]  # non-integers are refused by the rules


def draft(contract: Contract) -> TaskDraft:
    """The draft the form describes now (unset options are None: they will not be sent)."""
    kind = keys.INCIDENCE.get(INCIDENCE_ANY)
    if kind == INCIDENCE_RANGE:
        low, high = _angle(keys.INC_MIN.get()), _angle(keys.INC_MAX.get())
    elif kind in modes.INCIDENCE_PRESETS:
        low = high = kind
    else:
        low = high = None
    look, direction = keys.LOOK.get(), keys.PASS.get()
    reference = (keys.REFERENCE.get() or "").strip()
    duration = keys.DURATION.get()
    return TaskDraft(
        contract_id=contract.id,
        lat=_number(keys.LAT),
        lon=_number(keys.LON),
        window_start=from_widget(keys.START.get()),
        window_end=from_widget(keys.END.get()),
        imaging_mode=keys.MODE.get() or "",
        priority=_unless_default(keys.PRIORITY, contract.priority),
        sla=_unless_default(keys.SLA, contract.sla),
        exclusivity=_unless_default(keys.EXCLUSIVITY, contract.exclusivity),
        eula=_unless_default(keys.EULA, contract.eula),
        incidence_min=low,
        incidence_max=high,
        look_side=None if look == ANY else look,
        pass_direction=None if direction == ANY else direction,
        product_types=list(keys.PRODUCTS.get() or []) or None,
        derivative_product_types=list(keys.DERIVATIVES.get() or []) or None,
        imaging_duration=int(duration) if duration is not None else None,
        reference=reference or None,
    )


# --- widgets ---------------------------------------------------------------------------------


def layout_style() -> None:
    """CSS of the page's columns and the form's field pairs: flex items that wrap where their
    minimum widths do not fit (once per page run; an element-free ``<style>``)."""
    pairs = ", ".join(f".st-key-{key.name} > div" for key in PAIRS)
    columns = f".st-key-{keys.PAGE_COLUMNS.name} > div"
    st.html(
        "<style>"
        f"{pairs} {{flex: 1 1 {PAIR_MIN_PX}px !important; min-width: {PAIR_MIN_PX}px;}}"
        f"{columns}:nth-child(1) {{flex: 1.3 1 {MAP_MIN_PX}px !important; "
        f"min-width: min({MAP_MIN_PX}px, 100%);}}"
        f"{columns}:nth-child(2) {{flex: 1 1 {ORDER_MIN_PX}px !important; "
        f"min-width: min({ORDER_MIN_PX}px, 100%);}}"
        "</style>"
    )


def columns() -> tuple[DeltaGenerator, DeltaGenerator]:
    """The page's two columns, (point and map, order and options), wrapping as ``layout_style``
    says."""
    row = st.container(horizontal=True, key=keys.PAGE_COLUMNS.name, gap="large")
    return row.container(), row.container()


def aim(target: Aim | None) -> None:
    """Aim the order at one pass (the "Aim for this pass" callback): its look side and direction,
    an incidence range around it; Advanced options opens so the change is seen."""
    if target is None:
        return
    keys.LOOK.set(target.look_side)
    keys.PASS.set(target.pass_direction)
    keys.INCIDENCE.set(INCIDENCE_RANGE)
    keys.INC_MIN.set(target.incidence_min)
    keys.INC_MAX.set(target.incidence_max)
    keys.AIMED.set(target)
    keys.ADVANCED_OPEN.set(True)
    touch("look_side", "pass_direction", "incidence_min", "incidence_max")


# Fields whose rules depend on each other: touching one makes the others' messages errors too.
_LINKED: tuple[frozenset[str], ...] = (
    frozenset({"lat", "lon"}),
    frozenset({"window_start", "window_end"}),
    frozenset({"incidence_min", "incidence_max"}),
    frozenset({"product_types", "derivative_product_types"}),
    frozenset({"priority", "sla"}),
)


def touch(*fields: str) -> None:
    """The user changed these fields (a widget's on_change): their rules now speak as errors."""
    touched = set(keys.TOUCHED.get() or set())
    for field in fields:
        touched.add(field)
        for linked in _LINKED:
            if field in linked:
                touched |= linked
    keys.TOUCHED.set(touched)


def reveal() -> None:
    """Check feasibility or Create was pressed with rules broken: every message is an error."""
    keys.REVEAL.set(True)


def is_error(violation: Violation) -> bool:
    """Whether a broken rule is shown as an error (the user acted) or as a hint (not yet)."""
    return bool(keys.REVEAL.get()) or violation.field in (keys.TOUCHED.get() or set())


def show_problems(violations: Sequence[Violation]) -> None:
    """The rules a field breaks, right under it: a neutral hint before the user touched it, an
    error after (or once Check feasibility or Create was pressed)."""
    for violation in violations:
        text = plain(rules.user_message(violation))
        if is_error(violation):
            st.markdown(f":red[:material/error: {text}]")
        else:
            st.caption(f":material/info: {text}")


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
        key=keys.MODE.name,
        format_func=_mode_label,
        persist_state="session",
        on_change=touch,
        args=("imaging_mode",),
        help="Allowed by the contract. Resolution and scene size: see ICEYE's mode table.",
    )
    show_problems(problems.get("imaging_mode", []))
    # A row of two fields that wraps into a column where they do not both fit (layout_style).
    with st.container(horizontal=True, key=keys.PAIR_PRIORITY.name, gap="small"):
        with st.container():
            st.selectbox(
                "Priority",
                _choices(contract.priority, rules.PRIORITIES),
                key=keys.PRIORITY.name,
                format_func=_option_label(contract.priority),
                persist_state="session",
                on_change=touch,
                args=("priority",),
                help="COMMERCIAL is acquired first-come first-served; BACKGROUND uses spare "
                "capacity.",
            )
            show_problems(problems.get("priority", []))
        with st.container():
            slas = sla_choices(contract)
            if slas:
                st.selectbox(
                    "Delivery SLA",
                    slas,
                    key=keys.SLA.name,
                    format_func=_option_label(contract.sla),
                    persist_state="session",
                    on_change=touch,
                    args=("sla",),
                    help="How soon after the capture the standard products are delivered. Only "
                    "the contract's SLAs that can be ordered with this priority and mode are "
                    "offered.",
                )
            elif contract.sla.allowed:
                priority = rules.effective_priority(keys.PRIORITY.get(), contract)
                st.caption(
                    f"Delivery SLA: none of this contract's SLAs can be ordered with {priority} "
                    "priority and this mode."
                )
            else:
                st.caption("Delivery SLA: ICEYE's default (the contract lists none).")
            show_problems(problems.get("sla", []))


def window_widgets(contract: Contract, now: datetime, problems: dict[str, list[Violation]]) -> None:
    """Acquisition window (UTC), with a button back to a valid default window."""

    def edited(field: str) -> None:
        keys.WINDOW_AUTO.set(False)
        touch(field)

    # Side by side where both fit (a date and a time need about 200 px each), else stacked.
    with st.container(horizontal=True, key=keys.PAIR_WINDOW.name, gap="small"):
        with st.container():
            st.datetime_input(
                "Window start (UTC)",
                value=None,
                key=keys.START.name,
                format="YYYY-MM-DD",
                on_change=edited,
                args=("window_start",),
                persist_state="session",
            )
            show_problems(problems.get("window_start", []))
        with st.container():
            st.datetime_input(
                "Window end (UTC)",
                value=None,
                key=keys.END.name,
                format="YYYY-MM-DD",
                on_change=edited,
                args=("window_end",),
                persist_state="session",
            )
            show_problems(problems.get("window_end", []))
    priority = rules.effective_priority(keys.PRIORITY.get(), contract)
    auto = keys.WINDOW_AUTO.get(True)
    lead = rules.lead_time(priority)
    hours = int(lead.total_seconds() // 3600)
    st.caption(
        f"Start ≥ {hours} h from now ({priority}), end ≤ 14 days from now, ≥ 24 h wide."
        + (" Follows the clock until you edit it." if auto else "")
    )
    if not auto:
        st.button(
            "Use a valid default window",
            key=keys.DEFAULT_WINDOW.name,
            icon=":material/event_repeat:",
            on_click=use_default_window,
            args=(contract, now),
        )


def advanced_widgets(contract: Contract, problems: dict[str, list[Violation]]) -> None:
    """Incidence, look side, pass direction, exclusivity, EULA, products, duration."""
    mode = keys.MODE.get() or ""
    info = modes.mode_info(mode)
    perf = f"{info.performant[0]}–{info.performant[1]}°"
    labels = {
        INCIDENCE_ANY: f"Not set: ICEYE's default, the performant range ({perf} for {info.label})",
        INCIDENCE_RANGE: "Range in degrees",
        "PERFORMANT": f"PERFORMANT (best quality for {info.label}: {perf})",
        "FULL_RANGE": "FULL_RANGE (10–45°, the most opportunities)",
    }
    st.selectbox(
        "Incidence angle",
        INCIDENCE_KINDS,
        key=keys.INCIDENCE.name,
        format_func=labels.__getitem__,
        persist_state="session",
        on_change=touch,
        args=("incidence_min", "incidence_max"),
        help="Narrower ranges are harder to schedule; wider ones give the scheduler room.",
    )
    if keys.INCIDENCE.get() == INCIDENCE_RANGE:
        left, right = st.columns(2)
        with left:
            st.number_input(
                "Minimum incidence (°)",
                value=None,
                step=1,
                key=keys.INC_MIN.name,
                persist_state="session",
                on_change=touch,
                args=("incidence_min",),
            )
            show_problems(problems.get("incidence_min", []))
        with right:
            st.number_input(
                "Maximum incidence (°)",
                value=None,
                step=1,
                key=keys.INC_MAX.name,
                persist_state="session",
                on_change=touch,
                args=("incidence_max",),
            )
            show_problems(problems.get("incidence_max", []))
    else:
        show_problems(problems.get("incidence_min", []) + problems.get("incidence_max", []))

    left, right = st.columns(2)
    with left:
        st.radio(
            "Look side",
            LOOK_SIDES,
            key=keys.LOOK.name,
            horizontal=True,
            persist_state="session",
            on_change=touch,
            args=("look_side",),
        )
        show_problems(problems.get("look_side", []))
    with right:
        st.radio(
            "Pass direction",
            PASS_DIRECTIONS,
            key=keys.PASS.name,
            horizontal=True,
            persist_state="session",
            on_change=touch,
            args=("pass_direction",),
        )
        show_problems(problems.get("pass_direction", []))

    left, right = st.columns(2)
    with left:
        st.selectbox(
            "Exclusivity",
            _choices(contract.exclusivity, rules.EXCLUSIVITIES),
            key=keys.EXCLUSIVITY.name,
            format_func=_option_label(contract.exclusivity),
            persist_state="session",
            on_change=touch,
            args=("exclusivity",),
        )
        show_problems(problems.get("exclusivity", []))
    with right:
        if contract.eula.allowed:
            st.selectbox(
                "EULA",
                contract.eula.allowed,
                key=keys.EULA.name,
                format_func=_option_label(contract.eula),
                persist_state="session",
                on_change=touch,
                args=("eula",),
            )
        else:
            st.caption("EULA: ICEYE's default (the contract lists none).")
        show_problems(problems.get("eula", []))

    st.multiselect(
        "Product types",
        product_choices(contract, mode) if mode else [],
        key=keys.PRODUCTS.name,
        placeholder="ICEYE's default products for the mode",
        persist_state="session",
        on_change=touch,
        args=("product_types",),
        help="Leave empty for the mode's standard products.",
    )
    show_problems(problems.get("product_types", []))
    derivatives = derivative_choices(contract, mode) if mode else []
    if derivatives:
        st.multiselect(
            "Derivative products (Detect & Classify)",
            derivatives,
            key=keys.DERIVATIVES.name,
            persist_state="session",
            on_change=touch,
            args=("derivative_product_types",),
            help="Need GRD among the product types.",
        )
    show_problems(problems.get("derivative_product_types", []))
    st.number_input(
        "Imaging duration (s)",
        value=None,
        step=1,
        key=keys.DURATION.name,
        placeholder=f"mode default ({info.nominal_duration_s} s)",
        persist_state="session",
        on_change=touch,
        args=("imaging_duration",),
        help=f"1–180 s; {info.label} images for {info.nominal_duration_s} s by default.",
    )
    show_problems(problems.get("imaging_duration", []))


def reference_widget(problems: dict[str, list[Violation]]) -> None:
    st.text_input(
        "Reference",
        key=keys.REFERENCE.name,
        placeholder="Your label for this order, e.g. 'Helsinki port, weekly'",
        persist_state="session",
        on_change=touch,
        args=("reference",),
        help="Up to 256 characters; shown in All tasks and searchable.",
    )
    show_problems(problems.get("reference", []))


def centre_on_point() -> None:
    """Centre the map on the point (after it was typed or searched, not after a click)."""
    touch("lat", "lon")
    lat, lon = _number(keys.LAT), _number(keys.LON)
    if lat is not None and lon is not None and rules.is_valid_point(lat, lon):
        keys.CENTER.set((lat, lon))
        keys.ZOOM.set(POINT_ZOOM)


def point_widgets(problems: dict[str, list[Violation]]) -> None:
    left, right = st.columns(2)
    with left:
        st.number_input(
            "Latitude (°)",
            value=None,
            step=0.0001,
            format="%.6f",
            key=keys.LAT.name,
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
            key=keys.LON.name,
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


COPY_OF = "copy of "
"""How a clone names itself: ``copy of <the task's reference>``."""
# What a clone keeps of the form's state: the outcome of the last order is not the form's.
_KEPT_BY_CLONE = frozenset({keys.LAST_ORDER.name})


def clone_reference(task: Task) -> str:
    """``copy of <reference>`` (of the task's short id without one), cut to ICEYE's length."""
    text = COPY_OF + (task.reference or f"task {short_id(task.id)}")
    if len(text) > rules.REFERENCE_MAX:
        text = text[: rules.REFERENCE_MAX - 1] + "…"
    return text


def _form_state() -> list[keys.Key[Any]]:
    """Every key of the New task form and its point (``nt_``/``poi_`` names: place search,
    typed coordinates, the map's last click, feasibility, hints, the selected pass, ...)."""
    return [
        key
        for key in keys.registered()
        if key.name.startswith(("nt_", "poi_")) and key.name not in _KEPT_BY_CLONE
    ]


def clone(task: Task) -> None:
    """Fill the form with a task's parameters and a fresh (default) window; the page then repairs
    anything the contract no longer allows (``prepare``). It starts clean: everything the form
    held for the previous task is forgotten first (a place searched, coordinates typed, a
    verdict), and the reference says it is a copy."""
    for key in _form_state():
        key.pop()
    keys.CONTRACT_ID.set(task.contractID)
    keys.DRAFT_CONTRACT.set(task.contractID)
    point = task.pointOfInterest
    keys.LAT.set(point.lat)
    keys.LON.set(point.lon)
    keys.CENTER.set((point.lat, point.lon))
    keys.ZOOM.set(POINT_ZOOM)
    keys.MODE.set(task.imagingMode)
    for key, value in (
        (keys.PRIORITY, task.priority),
        (keys.SLA, task.sla),
        (keys.EXCLUSIVITY, task.exclusivity),
        (keys.EULA, task.eula),
    ):
        if value:
            key.set(value)
    angle = task.incidenceAngle
    if angle is not None:
        if isinstance(angle.min, str) and angle.min == angle.max:
            keys.INCIDENCE.set(angle.min)
        elif (angle.min, angle.max) != modes.INCIDENCE_LIMITS:
            keys.INCIDENCE.set(INCIDENCE_RANGE)
            keys.INC_MIN.set(angle.min)
            keys.INC_MAX.set(angle.max)
    keys.LOOK.set(task.lookSide if task.lookSide in LOOK_SIDES else ANY)
    keys.PASS.set(task.passDirection if task.passDirection in PASS_DIRECTIONS else ANY)
    keys.PRODUCTS.set(list(task.productTypes or []))
    keys.DERIVATIVES.set(list(task.derivativeProductTypes or []))
    keys.DURATION.set(task.imagingDuration)
    keys.REFERENCE.set(clone_reference(task))
    keys.WINDOW_AUTO.set(True)
    keys.CLONED_FROM.set((task.id, task.reference or ""))


def show_cloned_from() -> None:
    """A caption naming the task the form was cloned from (while it holds a clone)."""
    cloned = keys.CLONED_FROM.get()
    if cloned is not None:
        task_id, reference = cloned
        name = f"“{plain(reference)}” ({short_id(task_id)})" if reference else short_id(task_id)
        st.caption(f":material/content_copy: Cloned from task {name}, with a fresh window.")


def open_clone(task: Task) -> None:
    """Clone a task into the New task form and go there."""
    clone(task)
    st.switch_page(state.PAGE_NEW_TASK)
