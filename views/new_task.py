"""Step 2 — New task: point on the map, contract-driven options, rules before any call,
feasibility, and a confirmation before the order is created."""

from __future__ import annotations

import contextlib
import json

import streamlit as st

from tasking import rules
from tasking.errors import TaskingError
from tasking.models import Contract, FeasibilityResponse, TaskRequest
from ui import passes_view, state
from ui import task_form as form
from ui.backend import Backend, get_backend
from ui.elements import Constellation, Unavailable, constellation
from ui.errors import attempt, show_error
from ui.order import (
    cancellation_policy,
    markdown_table,
    price_and_budget,
    show_feasibility,
    summary_rows,
)
from ui.passes_view import Verdict
from ui.place_search import place_widgets, warm_up_in_background
from ui.poi_map import poi_map

FEASIBILITY = form.FEASIBILITY
# Set while the confirmation is open: a dialog exists only in the runs that call it, so the page
# calls it while this is set (and the dialog's own buttons then work in every kind of rerun).
# (A comment, not a docstring: Streamlit's "magic" would print a bare string in a page.)
CONFIRMING = "nt_confirming"
# The key of the Retry button ``ui.errors.attempt`` shows when the check fails ("retry:<action>").
RETRY_CHECK = "retry:check feasibility"


def open_confirmation() -> None:
    st.session_state[CONFIRMING] = True


def close_confirmation() -> None:
    st.session_state.pop(CONFIRMING, None)


def current_request(backend: Backend, contract: Contract) -> TaskRequest:
    """The one request feasibility and creation send ("what is checked is what is ordered").
    A window the user has not edited is recomputed from the clock at this moment."""
    now = backend.now()
    draft = form.draft(contract)
    if st.session_state.get(form.WINDOW_AUTO):
        priority = rules.effective_priority(draft.priority, contract)
        draft.window_start, draft.window_end = rules.default_window(now, priority)
    return rules.build_task_request(draft, contract, now)


def refresh_clock(backend: Backend) -> None:
    """The order scheduled new events: let the sidebar's clock know its next one."""
    with contextlib.suppress(TaskingError):
        backend.clock.refresh()


def fingerprint(request: TaskRequest) -> str:
    return json.dumps(request.to_wire(), sort_keys=True)


@st.dialog("Confirm the order", width="large", on_dismiss=close_confirmation)
def confirm_order(backend: Backend, contract: Contract) -> None:
    try:
        request = current_request(backend, contract)
        now = backend.now()
    except TaskingError as error:
        show_error(error, "prepare the order", retry_key="nt_retry_prepare")
        return
    st.markdown(markdown_table(summary_rows(request, contract), ("Order", "Value")))
    st.markdown("#### Price and budget")
    affordable = price_and_budget(backend.client, request, contract)
    st.markdown("#### Cancellation policy")
    st.markdown(cancellation_policy(request.acquisitionWindow.start, now))
    left, right = st.columns(2)
    if left.button(
        "Create task",
        type="primary",
        icon=":material/send:",
        key="nt_confirm",
        disabled=not affordable,
    ):
        with st.spinner("Creating the task…"):
            task = attempt("create the task", backend.client.create_task, request)
        if task is not None:
            backend.history.record(task)
            refresh_clock(backend)
            st.session_state.pop(FEASIBILITY, None)
            st.session_state.pop(state.BUDGETS, None)  # the order put money on hold
            close_confirmation()
            state.open_task(task.id)
    if right.button("Back to the form", key="nt_back", on_click=close_confirmation):
        st.rerun()


backend = get_backend()
warm_up_in_background()
st.title("New task")

contracts = state.contracts(backend)
if contracts is None:
    st.stop()
if not contracts:
    st.info("This account has no contracts, so no task can be ordered.", icon=":material/info:")
    st.stop()
now = attempt("read the backend's clock", backend.now)
if now is None:
    st.stop()

names = {c.id: c.name or c.id for c in contracts}
state.ensure(state.CONTRACT_ID, contracts[0].id, list(names))
st.selectbox(
    "Contract",
    list(names),
    key=state.CONTRACT_ID,
    format_func=names.__getitem__,
    persist_state="session",
    help="Every option below comes from this contract. See Contracts for the details.",
)
contract = next(c for c in contracts if c.id == st.session_state[state.CONTRACT_ID])

form.prepare(contract, now)
draft = form.draft(contract)
violations = rules.check_draft(draft, contract, now)
problems = form.by_field(violations)
form.show_problems(problems.get("contract_id", []))

# Predicted passes (computed first: their ground tracks go on the map).
elements = constellation(backend)
passes: list[Verdict] | None = None
constraints = passes_view.constraints_for(draft)
window = form.preview_window(draft)
point_ok = not (problems.get("lat") or problems.get("lon"))
if isinstance(elements, Constellation) and point_ok and window is not None:
    assert draft.lat is not None and draft.lon is not None
    try:
        found = passes_view.predicted(elements, draft.lat, draft.lon, *window)
    except TaskingError as error:
        show_error(error, "predict the passes")
    else:
        passes = passes_view.judge(found, constraints)

left, right = st.columns([1.2, 1], gap="large")
with left:
    st.markdown("**Point of interest** — click the map, search a place, or type coordinates.")
    place_widgets()
    overlays = (
        [passes_view.tracks(elements, passes)]
        if passes and isinstance(elements, Constellation)
        else []
    )
    poi_map(draft.reference or "Point of interest", overlays)
    form.point_widgets(problems)
    st.markdown("#### Predicted passes")
    if isinstance(elements, Unavailable):
        st.info(elements.message, icon=":material/satellite_alt:")
    elif not point_ok:
        st.caption("Set the point of interest to see when satellites can image it.")
    elif window is None:
        st.caption("Fix the acquisition window to see the passes inside it.")
    elif passes is not None:
        passes_view.show_panel(passes, constraints, *window)
with right:
    form.option_widgets(contract, problems)
    form.window_widgets(contract, now, problems)
    advanced_problems = any(field in form.ADVANCED_FIELDS for field in problems)
    with st.expander("Advanced options", expanded=advanced_problems, icon=":material/tune:"):
        form.advanced_widgets(contract, problems)
    form.reference_widget(problems)

st.divider()
if violations:
    count = len(violations)
    st.info(
        f"{count} rule{'s' if count > 1 else ''} to satisfy before checking or ordering: "
        "see the messages under the fields.",
        icon=":material/rule:",
    )
check_col, create_col, _ = st.columns([1, 1, 2])
check = check_col.button(
    "Check feasibility",
    icon=":material/radar:",
    disabled=bool(violations),
    width="stretch",
) or (not violations and bool(st.session_state.get(RETRY_CHECK)))  # Retry checks again
create_col.button(
    "Create task…",
    type="primary",
    icon=":material/send:",
    disabled=bool(violations),
    width="stretch",
    on_click=open_confirmation,
)

if check:
    try:
        request = current_request(backend, contract)
    except TaskingError as error:
        show_error(error, "check feasibility")
    else:
        with st.spinner("Asking the constellation…"):
            result = attempt("check feasibility", backend.client.check_feasibility, [request])
        if result is not None:
            st.session_state[FEASIBILITY] = (fingerprint(request), result)

if FEASIBILITY in st.session_state:
    checked, result = st.session_state[FEASIBILITY]
    assert isinstance(result, FeasibilityResponse)
    try:
        stale = checked != fingerprint(current_request(backend, contract))
    except TaskingError:
        stale = True
    show_feasibility(result, stale=stale)

if st.session_state.get(CONFIRMING):
    if violations:
        close_confirmation()
    else:
        confirm_order(backend, contract)
