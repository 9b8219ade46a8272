"""What an order says, in the user's terms: the summary shown before creating, the cancellation
policy, the feasibility verdict, and where an order stands (placed, being checked, not placed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import streamlit as st

from tasking import modes, monitoring, rules
from tasking.client import TaskingClient
from tasking.errors import NotFound, TaskingError
from tasking.journal import Order, OrderState
from tasking.models import (
    Contract,
    FeasibilityResponse,
    OptionGroup,
    Price,
    TaskRequest,
    to_utc,
)
from tasking.passes import Pass
from ui import keys, state
from ui.contract_view import Budget, budget_of
from ui.errors import show_error
from ui.format import duration, listing, money, plain, when
from ui.passes_view import matching_pass


def _with_default(value: str | None, group: OptionGroup, fallback: str) -> str:
    if value is not None:
        return value
    default = group.resolved_default()
    return f"{default} (contract default)" if default else fallback


def _incidence(request: TaskRequest) -> str:
    angle = request.incidenceAngle
    info = modes.mode_info(request.imagingMode)
    if angle is None:
        low, high = info.performant
        return f"not set: ICEYE's default, the performant range ({low}–{high}° for {info.label})"
    if angle.min == "PERFORMANT" and angle.max == "PERFORMANT":
        low, high = info.performant
        return f"PERFORMANT ({low}–{high}° for {info.label})"
    if angle.min == "FULL_RANGE" and angle.max == "FULL_RANGE":
        return "FULL_RANGE (10–45°)"
    return f"{angle.min}–{angle.max}°"


def summary_rows(request: TaskRequest, contract: Contract) -> list[tuple[str, str]]:
    """Every field of the order, with what ICEYE will apply for the ones left unset."""
    window = request.acquisitionWindow
    info = modes.mode_info(request.imagingMode)
    point = request.pointOfInterest
    return [
        ("Contract", f"{contract.name or contract.id} ({contract.id})"),
        ("Point of interest", f"{point.lat:.6f}, {point.lon:.6f}"),
        (
            "Acquisition window",
            f"{when(window.start)} → {when(window.end)} ({duration(window.end - window.start)})",
        ),
        ("Imaging mode", f"{info.label} ({request.imagingMode})"),
        (
            "Priority",
            _with_default(
                request.priority.value if request.priority else None, contract.priority, "—"
            ),
        ),
        ("Delivery SLA", _with_default(request.sla, contract.sla, "ICEYE's default")),
        (
            "Exclusivity",
            _with_default(request.exclusivity, contract.exclusivity, "ICEYE's default"),
        ),
        ("EULA", _with_default(request.eula, contract.eula, "ICEYE's default")),
        ("Incidence angle", _incidence(request)),
        ("Look side", request.lookSide or "ANY (not set)"),
        ("Pass direction", request.passDirection or "ANY (not set)"),
        ("Product types", listing(request.productTypes, "ICEYE's default for the mode")),
        ("Derivative products", listing(request.derivativeProductTypes, "none")),
        (
            "Imaging duration",
            f"{request.imagingDuration} s"
            if request.imagingDuration
            else f"mode default ({info.nominal_duration_s} s)",
        ),
        ("Reference", request.reference or "—"),
    ]


def contract_budget(client: TaskingClient, contract: Contract) -> Budget:
    """The contract's budget, read once per session (forgotten when an order changes it); a
    failed read is not kept, so the next run asks again."""
    budgets = keys.BUDGETS.setdefault({})
    budget = budgets.get(contract.id)
    if budget is None:
        budget = budget_of(client, contract.id)
        if budget.problem is None:
            budgets[contract.id] = budget
    return budget


@st.cache_data(ttl=300, show_spinner=False, max_entries=256)
def _price(
    query: tuple[tuple[str, str], ...],
    _client: TaskingClient,
    _request: TaskRequest,
    _contract: Contract,
) -> Price:
    # ``query`` (getPrice's query: mode, point, priority, SLA, ...) stands for the unhashed rest.
    return _client.get_price(_request, _contract)


def price_line(client: TaskingClient, request: TaskRequest | None, contract: Contract) -> str:
    """The order's price and the contract's funds after it, in one line of Markdown (price
    queries are cached for 5 minutes: a map click costs at most one getPrice)."""
    budget = contract_budget(client, contract)
    if budget.problem:
        return f"budget unavailable ({plain(budget.problem)})"
    summary = budget.summary
    if summary is None:
        return "no price list on this contract"
    if request is None:
        return "shown once the order is complete"
    try:
        query = tuple(sorted(rules.price_query(request, contract).items()))
        price = _price(query, client, request, contract)
    except TaskingError as error:
        return f"unavailable ({plain(error.message)})"
    text = f"**{plain(money(price.amount, price.currency))}**"
    available = summary.available
    if available is None:
        return text + " · no spend limit"
    if price.currency != summary.currency:
        return text + f" · {plain(money(available, summary.currency))} available"
    after = available - price.amount
    if after < 0:
        return text + f" · :red[funds short by {plain(money(-after, summary.currency))}]"
    return text + (
        f" · budget after the order: {plain(money(after, summary.currency))} of "
        f"{plain(money(summary.spendLimit, summary.currency))}"
    )


def geometry_text(request_like: rules.TaskDraft) -> str:
    """Incidence, look side and pass direction of a draft, in a few words."""
    info = modes.mode_info(request_like.imaging_mode)
    low, high = request_like.incidence_min, request_like.incidence_max
    if low is None or high is None or low == "PERFORMANT":
        incidence = f"{info.performant[0]}–{info.performant[1]}° (performant)"
    elif low == "FULL_RANGE":
        incidence = "10–45° (full range)"
    else:
        incidence = f"{low}–{high}°"
    side = request_like.look_side or "any side"
    direction = request_like.pass_direction or "any direction"
    return f"{incidence} · {side} · {direction}"


def markdown_table(rows: list[tuple[str, str]], header: tuple[str, str] = ("", "")) -> str:
    lines = [f"| {plain(header[0])} | {plain(header[1])} |", "|---|---|"]
    lines += [f"| **{plain(name)}** | {plain(value)} |" for name, value in rows]
    return "\n".join(lines)


NO_PRICE_LIST = "This contract has no price list: the fee is charged as agreed in your contract."


def cancellation_policy(window_start: datetime, now: datetime, *, priced: bool = True) -> str:
    """The fee tiers (ICEYE product specification §3.6) still ahead for this window, as times,
    the one that applies now marked, in Markdown. ``priced``: the contract has a price list, so a
    fee is a share of the order value; without one it is a share as the contract agrees."""
    start = to_utc(window_start)
    rows = []
    for span in monitoring.fee_schedule(now, start):
        if span.start is None and span.end is None:
            period = "any time"
        elif span.start is None:
            period = f"until {when(span.end)}"
        elif span.end is None:
            period = f"after {when(span.start)}"
        else:
            period = f"{when(span.start)} – {when(span.end)}"
        fee = span.tier.label if priced else span.tier.share
        rows.append((period, f"{fee} (applies now)" if span.current else fee))
    immediate = monitoring.cancellation_fee(now, start)
    immediate_fee = immediate.label if priced else immediate.share
    text = [
        "A task can be cancelled while it is RECEIVED or ACTIVE (before imaging). The fee depends "
        "on how long before the window start you cancel:",
        "",
        markdown_table(rows, ("Cancelled", "Fee")),
        "",
        f"Fee for cancelling right after ordering: **{plain(immediate_fee)}**.",
    ]
    if not priced:
        text.append(NO_PRICE_LIST)
    if immediate.percent == 100:
        text.append(
            "With this window the order cannot be cancelled free of charge: it starts in less "
            f"than {int(monitoring.FEE_TIERS[-1][0] / timedelta(hours=1))} h."
        )
    return "\n".join(text)


def opportunity_rows(
    result: FeasibilityResponse, passes: Sequence[Pass] = ()
) -> list[tuple[str, str, str, str, str]]:
    """(satellite, start, incidence, look side, pass) of each opportunity of the verdict. ICEYE's
    opportunity does not name its satellite: it is the predicted pass at the same time with the
    same geometry (``passes``), marked "predicted", or "—" when none matches."""
    item = result.feasibility[0] if result.feasibility else None
    rows = []
    for o in (item.opportunities or []) if item else []:
        found = matching_pass(passes, o.imagingStartTime, o.lookSide, o.passDirection)
        rows.append(
            (
                f"{found.satellite} (predicted)" if found else "—",
                when(o.imagingStartTime),
                f"{o.incidenceAngle:.1f}°" if o.incidenceAngle is not None else "—",
                o.lookSide or "—",
                o.passDirection or "—",
            )
        )
    return rows


def show_feasibility(
    result: FeasibilityResponse, *, stale: bool, passes: Sequence[Pass] = ()
) -> None:
    """A clear verdict for the single request the page checks, with its opportunities and the
    satellite of each (from the pass prediction)."""
    item = result.feasibility[0] if result.feasibility else None
    if item is None:
        st.warning("The feasibility check returned no verdict.", icon=":material/help:")
        return
    suffix = " (the options changed since: check again)" if stale else ""
    if item.feasible:
        st.success(
            "**Feasible**: the constellation can image this point within the window."
            + plain(suffix),
            icon=":material/check_circle:",
        )
        rows = opportunity_rows(result, passes)
        if rows:
            count = f"{len(rows)} opportunit{'ies' if len(rows) > 1 else 'y'}"
            with st.expander(f"{count}: satellite, time, geometry", icon=":material/radar:"):
                # A list, not a table: the order panel is narrow, and a line wraps where a table
                # would overflow it.
                st.markdown(
                    "\n".join("- " + " · ".join(plain(cell) for cell in row) for row in rows)
                )
                st.caption(
                    "ICEYE's answer does not name the satellite: it is the predicted pass at "
                    "that time with the same look side and direction."
                )
    else:
        reason = f": {plain(item.reason)}" if item.reason else ""
        st.warning(
            f"**Not feasible** ({plain(item.verdict)}){reason}{plain(suffix)}  \n"
            "Try a longer window, a wider incidence range, or ANY look side and pass direction.",
            icon=":material/block:",
        )


@dataclass(frozen=True)
class Funds:
    affordable: bool
    """False when the funds are known to be short (the order would be refused with
    ERR_INSUFFICIENT_FUNDS, iceye-api.md §3.2)."""
    priced: bool
    """The contract has a price list (a fee is a share of the order value)."""


def price_and_budget(client: TaskingClient, request: TaskRequest, contract: Contract) -> Funds:
    """The order's price (getPrice) and the contract's funds (getSummary) where the contract has
    pricing."""
    try:
        budget = client.get_contract_summary(contract.id)
        price = client.get_price(request, contract)
    except NotFound:
        st.info(
            "This contract has no pricing: no price or budget applies to this order.",
            icon=":material/money_off:",
        )
        return Funds(affordable=True, priced=False)
    except TaskingError as error:
        action = "get the price of this order"
        show_error(error, action, retry_key=keys.retry(action))
        # The API checks the budget again when the task is created.
        return Funds(affordable=True, priced=True)
    available = budget.available
    left, middle, right = st.columns(3)
    left.metric("Price of this order", money(price.amount, price.currency))
    if available is None:
        middle.metric("Available funds", "no spend limit")
        return Funds(affordable=True, priced=True)
    middle.metric("Available funds", money(available, budget.currency))
    right.metric("Spend limit", money(budget.spendLimit, budget.currency))
    st.caption(
        f"Spent {money(budget.consolidatedSpent, budget.currency)}, on hold for active tasks "
        f"{money(budget.onHold, budget.currency)}."
    )
    if price.currency == budget.currency and price.amount > available:
        st.error(
            f"**Funds are short**: this order costs {plain(money(price.amount, price.currency))} "
            f"but the contract has {plain(money(available, budget.currency))} available. Choose "
            "cheaper options (priority, SLA, exclusivity, imaging mode) or another contract.",
            icon=":material/block:",
        )
        return Funds(affordable=False, priced=True)
    return Funds(affordable=True, priced=True)


def show_existing(order: Order) -> None:
    """The identical order that is already placed or in flight: nothing more may be sent."""
    if order.state is OrderState.PLACED:
        st.warning(
            f"**This exact order was already placed** as task {plain(order.task_id or '')} "
            f"({plain(when(order.journaled_at))}). Creating it again would order a second, "
            "identical capture: change the reference, the window or an option to order another.",
            icon=":material/content_copy:",
        )
        if order.task_id and st.button("Open it in Monitor", key=keys.EXISTING_OPEN.name):
            state.open_task(order.task_id)
    else:
        st.info(
            "**This exact order is being placed** (by this or another tab): it cannot be sent "
            "again until it is confirmed or proven absent.",
            icon=":material/hourglass_top:",
        )


def show_order(order: Order, hold: timedelta, *, own: bool = True) -> None:
    """Where an order stands. ``own``: this session's last order (with Open and Dismiss); else an
    order of another tab or an earlier run that is still open, shown until it settles."""
    reference = plain(order.request.reference or "no reference")
    if not own:
        if order.open:
            why = plain(order.error or "it has not been confirmed yet")
            st.info(
                f"**An order ({reference}) placed from another tab, or before a restart, is being "
                f"checked**: {why}. It will not be sent again until it is found or proven absent.",
                icon=":material/hourglass_top:",
            )
        return
    if order.state is OrderState.PLACED:
        st.success(
            f"**The order is placed**: task {plain(order.task_id or '')} (reference {reference}).",
            icon=":material/check_circle:",
        )
        left, right = st.columns([1, 3])
        if left.button("Open in Monitor", type="primary", key=keys.ORDER_OPEN.name):
            keys.LAST_ORDER.pop()
            state.open_task(order.task_id or "")
        if right.button("Dismiss", key=keys.ORDER_DISMISS.name):
            keys.LAST_ORDER.pop()
            st.rerun()
    elif order.state is OrderState.NOT_PLACED:
        st.warning(
            "**No task was made**: "
            + plain(order.error or "the order was not placed")
            + ". Nothing was ordered, so you can create it again.",
            icon=":material/block:",
        )
        if st.button("Dismiss", key=keys.ORDER_DISMISS.name):
            keys.LAST_ORDER.pop()
            st.rerun()
    else:
        waited = plain(order.error or "the create got no definite answer")
        st.info(
            "**Checking whether the order was placed…** "
            f"{waited}. The app is looking for the task on the server and will not send the "
            "order again until it is found or proven absent (within "
            f"{plain(duration(hold))} of sending it). The order is kept in the app's journal: the "
            "check goes on whenever New task is open, and when the app starts.",
            icon=":material/hourglass_top:",
        )
