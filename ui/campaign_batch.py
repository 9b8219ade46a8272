"""New campaign, step 2: every target checked at once. Feasibility through ICEYE's array form
(``TaskingService.check_feasibility_batch``: one request per batch within its limits), one verdict
per target in a table and on the map, the predicted passes of every target on one timeline, and the
total price with the budget after the whole batch where the contract has pricing.

A check is kept with the fingerprint of the requests it was made for (``BatchCheck``), so a change
of targets or options marks it stale instead of showing verdicts for other orders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import altair as alt
import pandas as pd
import streamlit as st

from tasking.client import TaskingClient
from tasking.errors import NotFound, TaskingError
from tasking.journal import fingerprint
from tasking.models import Contract, ContractSummary, FeasibilityItem, TaskRequest
from tasking.passes import Constraints, Pass, PassQuery, exclusion_reason, predictor_for
from tasking.service import TaskingService
from tasking.targets import Target
from ui.elements import Constellation
from ui.format import money, plain, when
from ui.passes_view import EXCLUDED, EXCLUDED_COLOUR, KEPT, KEPT_COLOUR, MAX_INCIDENCE

# Verdict colours, on the map and in the table: green feasible, red not, grey unknown.
VERDICT_COLOURS = {"FEASIBLE": "#1e8e3e", "NOT_FEASIBLE": "#d93025"}
UNKNOWN_COLOUR = "#8f9ba6"
# The timeline shows this many targets (one row each); a longer campaign shows its first ones and
# says so: past a hundred rows a chart is no longer read row by row.
MAX_TIMELINE_TARGETS = 100
# Height of one target's row on the timeline.
ROW_PX = 24


def verdict_colour(verdict: str) -> str:
    return VERDICT_COLOURS.get(verdict, UNKNOWN_COLOUR)


def batch_fingerprint(requests: Sequence[TaskRequest]) -> str:
    """What identifies a batch: the fingerprints of its orders, in order."""
    joined = ",".join(fingerprint(r) for r in requests)
    return hashlib.sha256(joined.encode()).hexdigest()


@dataclass(frozen=True)
class Funds:
    """The batch's total price and the contract's budget (``priced`` False: no price list)."""

    priced: bool
    total: int | None = None
    currency: str = ""
    summary: ContractSummary | None = None
    problem: str | None = None

    @property
    def after(self) -> int | None:
        """The funds available after the whole batch (None: no limit, or not known)."""
        if self.summary is None or self.total is None or self.summary.available is None:
            return None
        if self.summary.currency != self.currency:
            return None
        return self.summary.available - self.total

    @property
    def affordable(self) -> bool:
        after = self.after
        return after is None or after >= 0


@dataclass(frozen=True)
class BatchCheck:
    """A batch's verdicts (one per request, in order) and its funds."""

    fingerprint: str
    items: tuple[FeasibilityItem, ...]
    funds: Funds
    checked_at: datetime

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.items:
            found[item.verdict] = found.get(item.verdict, 0) + 1
        return found

    @property
    def feasible(self) -> int:
        return sum(1 for item in self.items if item.feasible)


def batch_funds(
    client: TaskingClient, requests: Sequence[TaskRequest], contract: Contract
) -> Funds:
    """getSummary, then getPrice for each order (the price depends on the point's region) where
    the contract has pricing; a failure is said, never raised (the API checks funds at create)."""
    try:
        summary = client.get_contract_summary(contract.id)
    except NotFound:
        return Funds(priced=False)
    except TaskingError as error:
        return Funds(priced=True, problem=error.message)
    total, currency = 0, summary.currency
    try:
        for request in requests:
            price = client.get_price(request, contract)
            if price.currency != currency and total:
                return Funds(True, None, "", summary, "the prices are in several currencies")
            total, currency = total + price.amount, price.currency
    except TaskingError as error:
        return Funds(priced=True, summary=summary, problem=error.message)
    return Funds(priced=True, total=total, currency=currency, summary=summary)


def check_batch(
    service: TaskingService, requests: Sequence[TaskRequest], contract: Contract
) -> BatchCheck:
    """Feasibility of every request in ICEYE's array form, then the funds. Raises TaskingError
    when the feasibility check fails (nothing is kept then)."""
    items = service.check_feasibility_batch(requests)
    funds = batch_funds(service.client, requests, contract)
    return BatchCheck(batch_fingerprint(requests), tuple(items), funds, service.now())


# --- showing a check -----------------------------------------------------------------------------


def _first_opportunity(item: FeasibilityItem) -> str:
    starts = [o.imagingStartTime for o in item.opportunities or [] if o.imagingStartTime]
    return when(min(starts)) if starts else "—"


def verdict_table(targets: Sequence[Target], check: BatchCheck) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "#": index + 1,
                "target": target.name,
                "lat": round(target.lat, 5),
                "lon": round(target.lon, 5),
                "verdict": item.verdict,
                "opportunities": len(item.opportunities or []),
                "first opportunity (UTC)": _first_opportunity(item),
                "reason": item.reason or "",
            }
            for index, (target, item) in enumerate(zip(targets, check.items, strict=True))
        ]
    )


def _verdict_style(value: str) -> str:
    return f"color: {verdict_colour(value)}; font-weight: 600"


def show_check(targets: Sequence[Target], check: BatchCheck, *, stale: bool) -> None:
    """The verdicts (a summary line and a table, coloured) and the funds after the batch."""
    counts = check.counts()
    summary = " · ".join(f"{count} {plain(verdict)}" for verdict, count in sorted(counts.items()))
    text = f"**Feasibility of {len(check.items)} targets** (one batch request): {summary}"
    if stale:
        st.warning(
            text + "  \nThe targets or options changed since: check again before ordering.",
            icon=":material/history:",
        )
    elif check.feasible == len(check.items):
        st.success(text, icon=":material/check_circle:")
    else:
        st.info(
            text + "  \nA target that is not feasible will most likely be rejected by ICEYE: try "
            "a longer window, a wider incidence range, or ANY look side and pass direction.",
            icon=":material/radar:",
        )
    table = verdict_table(targets, check)
    st.dataframe(
        table.style.map(_verdict_style, subset=["verdict"]),
        hide_index=True,
        width="stretch",
        height=min(400, 38 + 35 * len(table)),
    )
    show_funds(check.funds)


def funds_line(funds: Funds) -> str:
    """The batch's price and the budget after it, in one line of Markdown."""
    if not funds.priced:
        return "no price list on this contract: the fee is charged as agreed in your contract"
    if funds.total is None:
        return f"price unavailable ({plain(funds.problem or 'unknown')})"
    text = f"**{plain(money(funds.total, funds.currency))}** for the whole campaign"
    summary = funds.summary
    if summary is None or summary.available is None:
        return text + " · no spend limit"
    after = funds.after
    if after is None:
        return text + f" · {plain(money(summary.available, summary.currency))} available"
    if after < 0:
        return text + f" · :red[funds short by {plain(money(-after, summary.currency))}]"
    return text + (
        f" · budget after the campaign: {plain(money(after, summary.currency))} of "
        f"{plain(money(summary.spendLimit, summary.currency))}"
    )


def show_funds(funds: Funds) -> None:
    st.markdown(f"**Price** {funds_line(funds)}")
    if funds.priced and not funds.affordable:
        st.error(
            "**Funds are short** for the whole campaign: remove targets, choose cheaper options "
            "(priority, SLA, exclusivity, imaging mode) or another contract.",
            icon=":material/block:",
        )


# --- the timeline of passes ------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=16)
def _passes(
    digest: str,
    points: tuple[tuple[float, float], ...],
    start: datetime,
    end: datetime,
    _sats: Constellation,
) -> list[list[Pass]]:
    # ``digest`` stands for the elements: every point's passes, computed together on one grid.
    tables = predictor_for(_sats.satellites).passes_many(
        [PassQuery(lat, lon, start, end) for lat, lon in points], MAX_INCIDENCE, 0.0
    )
    return [table.to_list() for table in tables]


def timeline_data(
    constellation: Constellation,
    targets: Sequence[Target],
    start: datetime,
    end: datetime,
    constraints: Constraints,
) -> pd.DataFrame:
    """One row per predicted pass of each target (the first ``MAX_TIMELINE_TARGETS``), judged by
    the campaign's options like New task's preview."""
    shown = list(targets[:MAX_TIMELINE_TARGETS])
    points = tuple((round(t.lat, 6), round(t.lon, 6)) for t in shown)
    found = _passes(constellation.digest, points, start, end, constellation)
    rows = []
    for index, (target, passes) in enumerate(zip(shown, found, strict=True)):
        for p in passes:
            reason = exclusion_reason(p, constraints)
            rows.append(
                {
                    "target": f"{index + 1}. {target.name}",
                    "time": p.time,
                    "when": when(p.time),
                    "satellite": p.satellite,
                    "incidence": round(p.incidence, 1),
                    "look side": p.look_side,
                    "pass": p.pass_direction,
                    "verdict": KEPT if reason is None else EXCLUDED,
                    "reason": reason or "satisfies the options",
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "target",
            "time",
            "when",
            "satellite",
            "incidence",
            "look side",
            "pass",
            "verdict",
            "reason",
        ],
    )


def show_timeline(
    constellation: Constellation,
    targets: Sequence[Target],
    start: datetime,
    end: datetime,
    constraints: Constraints,
) -> None:
    """Every target's predicted passes in the window on one chart: a row per target."""
    data = timeline_data(constellation, targets, start, end, constraints)
    shown = min(len(targets), MAX_TIMELINE_TARGETS)
    order = [f"{i + 1}. {t.name}" for i, t in enumerate(targets[:shown])]
    kept = int((data["verdict"] == KEPT).sum()) if len(data) else 0
    with_pass = data.loc[data["verdict"] == KEPT, "target"].nunique() if len(data) else 0
    st.caption(
        f"{kept} qualifying passes of {len(data)} predicted; {with_pass} of {shown} targets have "
        "at least one."
        + (
            f" The first {shown} of {len(targets)} targets are shown."
            if shown < len(targets)
            else ""
        )
    )
    x = alt.X(
        "time:T",
        scale=alt.Scale(type="utc", domain=[start.isoformat(), end.isoformat()]),
        title="Time (UTC)",
        axis=alt.Axis(format="%d %b %H:%M"),
    )
    chart = (
        alt.Chart(data)
        .mark_tick(thickness=3, size=14)
        .encode(
            x=x,
            y=alt.Y("target:N", sort=order, title=None, axis=alt.Axis(labelLimit=180)),
            color=alt.Color(
                "verdict:N",
                scale=alt.Scale(domain=[KEPT, EXCLUDED], range=[KEPT_COLOUR, EXCLUDED_COLOUR]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("target:N"),
                alt.Tooltip("satellite:N"),
                alt.Tooltip("when:N", title="Time (UTC)"),
                alt.Tooltip("incidence:Q", title="Incidence (°)"),
                alt.Tooltip("look side:N"),
                alt.Tooltip("pass:N", title="Pass direction"),
                alt.Tooltip("reason:N"),
            ],
        )
        # A row per target of its own height (a fixed chart height squeezed the rows together).
        .properties(height=alt.Step(ROW_PX))
    )
    st.altair_chart(chart, width="stretch")
