"""Step 2 — New task: point on the map, contract-driven options, rules before any call,
feasibility, and a confirmation before the order is created."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from tasking import modes, rules
from tasking.errors import TaskingError, Violation
from tasking.journal import Order, OrderState, fingerprint
from tasking.models import Contract, TaskRequest
from tasking.service import TaskingService
from tasking.tasking_api import FEASIBILITY_TIMEOUT_S
from ui import keys, passes_view, state
from ui import task_form as form
from ui.elements import Constellation, Unavailable, constellation
from ui.errors import attempt, show_error
from ui.format import duration, plain, when
from ui.guard import guarded
from ui.order import (
    cancellation_policy,
    geometry_text,
    markdown_table,
    price_and_budget,
    price_line,
    show_existing,
    show_feasibility,
    show_order,
    summary_rows,
)
from ui.passes_view import Verdict
from ui.place_search import place_widgets, warm_up_in_background
from ui.poi_map import poi_map
from ui.service import get_service

CHECK = "check feasibility"


# The confirmation dialog exists only in the runs that call it, so the page calls it while
# keys.CONFIRMING is set (and the dialog's own buttons then work in every kind of rerun).
# (A comment, not a docstring: Streamlit's "magic" would print a bare string in a page.)
def open_confirmation() -> None:
    keys.ORDER_REQUEST.pop()  # frozen again from the form when the dialog first draws
    keys.CONFIRMING.set(True)
    form.reveal()  # with rules broken the dialog does not open: every problem says why


def close_confirmation() -> None:
    keys.CONFIRMING.pop()
    keys.ORDER_REQUEST.pop()


def order_journaled(order: Order) -> None:
    """The order is written down, before it is sent: from here on the page knows it exists, even
    if this run is interrupted (a click during "Creating the task…" reruns the script)."""
    keys.LAST_ORDER.set(order.key)
    keys.FEASIBILITY.pop()
    keys.BUDGETS.pop()  # the order puts money on hold
    close_confirmation()


def current_request(service: TaskingService, contract: Contract) -> TaskRequest:
    """The one request feasibility and creation send ("what is checked is what is ordered").
    A window the user has not edited is recomputed from the clock at this moment."""
    now = service.now()
    draft = form.draft(contract)
    if keys.WINDOW_AUTO.get():
        priority = rules.effective_priority(draft.priority, contract)
        draft.window_start, draft.window_end = rules.default_window(now, priority)
    return rules.build_task_request(draft, contract, now)


@st.dialog("Confirm the order", width="large", on_dismiss=close_confirmation)
@guarded("prepare the order")
def confirm_order(service: TaskingService, contract: Contract) -> None:
    request = keys.ORDER_REQUEST.get()
    if request is None:
        request = current_request(service, contract)
        keys.ORDER_REQUEST.set(request)
    now = service.now()
    st.markdown(markdown_table(summary_rows(request, contract), ("Order", "Value")))
    show_verdict_for_order(verdict_for(request))
    already = service.journal.active(request)
    if already is not None:
        show_existing(already)
    st.markdown("#### Price and budget")
    funds = price_and_budget(service.client, request, contract)
    st.markdown("#### Cancellation policy")
    st.markdown(cancellation_policy(request.acquisitionWindow.start, now, priced=funds.priced))
    left, right = st.columns(2)
    if left.button(
        "Create task",
        type="primary",
        icon=":material/send:",
        key=keys.CONFIRM_CREATE.name,
        disabled=not funds.affordable or already is not None,
    ):
        with st.spinner("Creating the task…"):
            try:
                placement = service.place_order(request, on_journaled=order_journaled)
            except TaskingError as error:
                show_error(error, "create the task")
                return
        if placement.order.state is OrderState.PLACED and placement.new:
            assert placement.order.task_id is not None
            keys.LAST_ORDER.pop()  # nothing to say on New task: the Monitor shows the task
            state.open_task(placement.order.task_id)
        # In flight, unconfirmed, or identical to an earlier order: New task says which.
        st.rerun()
    if right.button("Back to the form", key=keys.CONFIRM_BACK.name, on_click=close_confirmation):
        st.rerun()


def verdict_for(request: TaskRequest) -> str | None:
    """The feasibility verdict checked for exactly this request (None: not checked for it)."""
    stored = keys.FEASIBILITY.get()
    if stored is None:
        return None
    checked, result = stored
    if checked != fingerprint(request) or not result.feasibility:
        return None
    return result.feasibility[0].verdict


def show_verdict_for_order(verdict: str | None) -> None:
    """What the confirmation knows of the order's feasibility."""
    if verdict == "FEASIBLE":
        st.success(
            "**Feasible**: the check for this exact order found an opportunity.",
            icon=":material/radar:",
        )
    elif verdict is None:
        st.info(
            "**Feasibility not checked** for this exact order: ICEYE decides when it schedules "
            "the task, and may reject it.",
            icon=":material/radar:",
        )
    else:
        st.warning(
            f"**Not feasible** ({verdict}): the check for this exact order found no opportunity, "
            "so ICEYE will most likely reject it. Change the window or the options and check "
            "again, or order it anyway.",
            icon=":material/block:",
        )


# The fragment below re-checks an order whose outcome is open this often (one task-list request).
ORDER_CHECK_S = 3.0


def order_outcome(service: TaskingService) -> None:
    """Where orders stand, when they did not simply succeed: this session's last order (in flight,
    being checked, proven absent, identical to an earlier one) and every other order of the
    journal still open (another tab's, or one an interrupted run or a restart left). Open ones are
    re-checked on a timer."""
    last = keys.LAST_ORDER.get()
    try:
        open_keys = [order.key for order in service.journal.open_orders()]
    except TaskingError as error:
        show_error(error, "read the order journal")
        open_keys = []
    shown = ([last] if last else []) + [key for key in open_keys if key != last]
    if not shown:
        return
    run_every = ORDER_CHECK_S if open_keys else None

    @st.fragment(run_every=run_every)
    @guarded("check whether the order was placed")
    def panel() -> None:
        for key in shown:
            current = service.order(key)
            if current is None:
                if key == last:
                    keys.LAST_ORDER.pop()
                continue
            if current.open:
                current = service.reconcile(key)
            show_order(current, service.reconcile_hold, own=key == last)
        # The timer starts or stops with a full rerun, decided on what the journal holds (not
        # on what this run settled in memory: a journal that cannot write must not loop).
        still_open = {order.key for order in service.journal.open_orders()}
        if bool(still_open) != (run_every is not None) or not still_open <= set(shown):
            st.rerun()

    panel()


# What needs the user's attention before checking or ordering, by field, in the summary's words.
FIELD_NAMES = {
    "contract_id": "the contract",
    "lat": "the point of interest",
    "lon": "the point of interest",
    "window_start": "the window",
    "window_end": "the window",
    "imaging_mode": "the imaging mode",
    "priority": "the priority",
    "sla": "the delivery SLA",
    "reference": "the reference",
}


def to_settle(violations: list[Violation]) -> str:
    names = [FIELD_NAMES.get(v.field, "the advanced options") for v in violations]
    return ", ".join(dict.fromkeys(names))


def summary_markdown(
    service: TaskingService,
    draft: rules.TaskDraft,
    contract: Contract,
    request: TaskRequest | None,
    passes: list[Verdict] | None,
) -> str:
    """What, where, when, with which geometry, on how many passes, at what price: the order as
    the form describes it now."""
    info = modes.mode_info(draft.imaging_mode)
    priority = rules.effective_priority(draft.priority, contract)
    sla = rules.effective_sla(draft.sla, contract) or "ICEYE's default SLA"
    what = f"{info.label} ({draft.imaging_mode}) · {priority} · {sla}"
    if rules.is_valid_point(draft.lat, draft.lon):
        where = f"{draft.lat:.6f}, {draft.lon:.6f}"
    else:
        where = "not set: click the map"
    start, end = draft.window_start, draft.window_end
    if start is not None and end is not None and end > start:
        span = f"{when(start)} → {when(end)} ({duration(end - start)})"
    else:
        span = "not set"
    lines = [
        f"**What** {plain(what)}",
        f"**Where** {plain(where)}",
        f"**When** {plain(span)}",
        f"**Geometry** {plain(geometry_text(draft))}",
    ]
    if passes is not None:
        kept = [v.pass_ for v in passes if v.kept]
        text = f"{len(kept)} of {len(passes)} predicted passes qualify"
        if kept:
            text += f"; next {kept[0].satellite} at {when(kept[0].time)}"
        lines.append(f"**Passes** {plain(text)}")
    lines.append(f"**Price** {price_line(service.client, request, contract)}")
    return "  \n".join(lines)


def redraw_page() -> None:
    """From a callback inside the point fragment: what it changed shows outside the fragment
    too, so the fragment reruns the whole page instead of itself."""
    keys.POINT_FULL_RERUN.set(True)


def reveal_problems(broken: bool) -> None:
    """Check feasibility's callback: with rules broken, every field's message turns red."""
    form.reveal()
    if broken:
        redraw_page()


def ask_confirmation() -> None:
    open_confirmation()
    redraw_page()  # the dialog is called by the page, outside the fragment


def aim_at(target: passes_view.Aim | None) -> None:
    form.aim(target)
    redraw_page()  # the aim sets options drawn outside the fragment


@dataclass(frozen=True)
class Slots:
    """Where the point fragment draws: under the place search (map and coordinates), the order
    panel at the top of the right column, and the predicted passes under both columns."""

    point: DeltaGenerator
    panel: DeltaGenerator
    passes: DeltaGenerator


# Everything that depends on the point, and only that, reruns on a map click (issue 13): the map,
# the coordinates, the order panel and the predicted passes. The options around them, the sidebar
# and the app's frame are not re-sent. A click still reruns once and updates all of it.
@st.fragment
@guarded("show the point, the order and its passes")
def point_part(service: TaskingService, contract: Contract, slots: Slots) -> None:
    if keys.POINT_FULL_RERUN.get():
        st.rerun()
    now = state.needed("read the backend's clock", service.now)
    if now is None:
        return
    draft = form.draft(contract)
    violations = rules.check_draft(draft, contract, now)
    if not violations:
        keys.REVEAL.pop()
    problems = form.by_field(violations)

    # Predicted passes (computed first: their ground tracks go on the map).
    elements = constellation(service)
    passes: list[Verdict] | None = None
    constraints = passes_view.constraints_for(draft)
    window = form.preview_window(draft)
    point_ok = not (problems.get("lat") or problems.get("lon"))
    if isinstance(elements, Constellation) and point_ok and window is not None:
        assert draft.lat is not None and draft.lon is not None
        try:
            found = passes_view.predicted(elements, draft.lat, draft.lon, *window)
        except TaskingError as error:
            with slots.passes:
                show_error(error, "predict the passes")
        else:
            passes = passes_view.judge(found, constraints)
    chosen = passes_view.selected(passes) if passes else None

    with slots.point:
        overlays = []
        if passes and isinstance(elements, Constellation):
            assert draft.lat is not None and draft.lon is not None
            overlays = [
                passes_view.tracks(elements, passes),
                passes_view.highlight(elements, chosen, draft.lat, draft.lon, draft.imaging_mode),
            ]
        poi_map(draft.reference or "Point of interest", overlays)
        if overlays:
            st.caption(passes_view.MAP_LEGEND)
        form.point_widgets(problems)

    request: TaskRequest | None = None
    if not violations:
        try:
            request = current_request(service, contract)
        except TaskingError:
            request = None

    with slots.panel:
        order_panel(service, contract, draft, violations, request, passes)

    with slots.passes:
        st.markdown("#### Predicted passes")
        if isinstance(elements, Unavailable):
            st.info(elements.message, icon=":material/satellite_alt:")
        elif not point_ok:
            st.caption("Set the point of interest to see when satellites can image it.")
        elif window is None:
            st.caption("Fix the acquisition window to see the passes inside it.")
        elif passes is not None:
            passes_view.show_panel(passes, chosen, constraints, *window, on_aim=aim_at)


def order_panel(
    service: TaskingService,
    contract: Contract,
    draft: rules.TaskDraft,
    violations: list[Violation],
    request: TaskRequest | None,
    passes: list[Verdict] | None,
) -> None:
    """Your order: the summary, what to settle first, Check feasibility and its verdict, and
    Create task…"""
    st.markdown("##### Your order")
    st.markdown(summary_markdown(service, draft, contract, request, passes))
    if violations:
        if keys.REVEAL.get():
            st.error(
                f"Fix what is marked in red first: {plain(to_settle(violations))}.",
                icon=":material/rule:",
            )
        else:
            missing = all(v.rule == rules.RULE_REQUIRED for v in violations)
            st.caption(
                f":material/info: Before checking or ordering, "
                f"{'set' if missing else 'see the notes under'} {to_settle(violations)}."
            )
    actions = st.container(horizontal=True, gap="small")
    check = actions.button(
        "Check feasibility",
        icon=":material/radar:",
        on_click=reveal_problems,
        args=(bool(violations),),
    ) or (not violations and bool(keys.retry(CHECK).get()))  # attempt's Retry checks again
    create_slot = actions.empty()

    if check and not violations:
        # A verdict for other options, or from before a failed re-check, must not stay on screen.
        keys.FEASIBILITY.pop()
        try:
            checked_request = current_request(service, contract)
        except TaskingError as error:
            show_error(error, "check feasibility")
        else:
            limit = duration(timedelta(seconds=FEASIBILITY_TIMEOUT_S))
            with st.spinner(f"Asking the constellation… (ICEYE allows a check up to {limit})"):
                result = attempt(CHECK, service.client.check_feasibility, [checked_request])
            if result is not None:
                keys.FEASIBILITY.set((fingerprint(checked_request), result))

    verdict = keys.FEASIBILITY.get()
    fresh: str | None = None
    if verdict is not None:
        checked, result = verdict
        stale = request is None or checked != fingerprint(request)
        show_feasibility(result, stale=stale, passes=[v.pass_ for v in passes] if passes else ())
        if not stale and result.feasibility:
            fresh = result.feasibility[0].verdict
    # Drawn after the check so that it follows this run's verdict: after "not feasible", ordering
    # is no longer the suggested action.
    create_slot.button(
        "Create task…",
        type="secondary" if fresh not in (None, "FEASIBLE") else "primary",
        icon=":material/send:",
        on_click=ask_confirmation,
    )


service = get_service()
warm_up_in_background()
st.title("New task")
form.show_cloned_from()
form.layout_style()

contracts = state.contracts(service)
if contracts is None:
    st.stop()
if not contracts:
    st.info("This account has no contracts, so no task can be ordered.", icon=":material/info:")
    st.stop()
now = state.needed("read the backend's clock", service.now)
if now is None:
    st.stop()

names = {c.id: c.name or c.id for c in contracts}
keys.CONTRACT_ID.ensure(contracts[0].id, list(names))
contract = next(c for c in contracts if c.id == keys.CONTRACT_ID.get())

form.prepare(contract, now)
keys.POINT_FULL_RERUN.pop()  # this is the whole page's run the point fragment asked for
draft = form.draft(contract)
violations = rules.check_draft(draft, contract, now)
if not violations:
    keys.REVEAL.pop()  # the next broken rule starts as a hint again, unless its field is touched
problems = form.by_field(violations)
# Advanced options opens for an error inside it and stays open while the user fixes it (the
# expander's state is tracked under its key; the page never closes it).
if any(form.is_error(v) for v in violations if v.field in form.ADVANCED_FIELDS):
    keys.ADVANCED_OPEN.set(True)

left, right = form.columns()
with right:
    panel = st.container(border=True, key=keys.ORDER_PANEL.name)
    st.selectbox(
        "Contract",
        list(names),
        key=keys.CONTRACT_ID.name,
        format_func=names.__getitem__,
        persist_state="session",
        help="Every option below comes from this contract. See Contracts for the details.",
    )
    form.show_problems(problems.get("contract_id", []))
    form.option_widgets(contract, problems)
    form.window_widgets(contract, now, problems)
    with st.expander(
        "Advanced options", key=keys.ADVANCED_OPEN.name, on_change="rerun", icon=":material/tune:"
    ):
        form.advanced_widgets(contract, problems)
    form.reference_widget(problems)
with left:
    st.markdown("**Point of interest** — click the map, search a place, or type coordinates.")
    place_widgets()
    point_slot = st.container()
passes_slot = st.container()
point_part(service, contract, Slots(point_slot, panel, passes_slot))

order_outcome(service)

if keys.CONFIRMING.get():
    if violations:
        close_confirmation()
    else:
        confirm_order(service, contract)
