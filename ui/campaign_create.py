"""New campaign, step 3: confirm and create. The confirmation shows what will be ordered (count,
options, verdicts, total price and budget, cancellation policy); the creation goes through
``TaskingService.create_campaign`` (the order journal: exactly once per target) with a progress bar
and a result per target. A run that stops half-way (the backend down, the page closed or clicked
away) leaves the campaign CREATING; the page lists such campaigns with "Resume", which sends only
what is missing (``TaskingService.resume_campaign``).

The creation runs in the page, not in the dialog: the dialog's Create sets ``keys.CAMPAIGN_LAUNCH``
and closes, and the next run draws the progress bar where the results will stay.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
import streamlit as st

from tasking.campaigns import CampaignRun, CampaignStatus, TargetResult, TargetState
from tasking.errors import TaskingError
from tasking.models import Contract, TaskRequest
from tasking.rules import TaskDraft
from tasking.series import Recurrence
from tasking.service import TaskingService
from tasking.targets import Target
from ui import keys, state
from ui.campaign_batch import BatchCheck, Funds, batch_fingerprint, batch_funds, funds_line
from ui.errors import show_error
from ui.format import plain, short_id, when
from ui.guard import guarded
from ui.order import cancellation_policy, markdown_table, summary_rows
from ui.series_view import recurrence_input

# Campaigns whose creation stopped half-way are listed, the newest this many (read on every run of
# the page: two small queries, ``CampaignStore.unfinished``).
RECENT_CAMPAIGNS = 10
# Rows of the order summary that differ per target: the confirmation names them per campaign.
_PER_TARGET_ROWS = frozenset({"Point of interest", "Reference"})


@dataclass(frozen=True)
class Frozen:
    """What the confirmation shows and the creation sends, frozen when the dialog first draws."""

    campaign_id: str
    name: str
    draft: TaskDraft
    targets: tuple[Target, ...]
    requests: tuple[TaskRequest, ...]
    funds: Funds | None = None
    """The price and budget shown, asked once per confirmation (a getPrice per target)."""


def open_confirmation() -> None:
    keys.CAMPAIGN_ORDER.pop()
    keys.CAMPAIGN_CONFIRMING.set(True)


def close_confirmation() -> None:
    keys.CAMPAIGN_CONFIRMING.pop()
    keys.CAMPAIGN_ORDER.pop()


def _launch() -> None:
    keys.CAMPAIGN_LAUNCH.set(True)
    keys.CAMPAIGN_CONFIRMING.pop()


# --- the recurring-series option (issue 12) ------------------------------------------------------

ONCE = "Once"
REPEAT = "Repeat: a recurring series"


def series_option(frozen: Frozen) -> tuple[bool, Recurrence | None]:
    """Once, or as a recurring series ("every N days" or "on these weekdays", for M occurrences or
    until a date: ``ui.series_view.recurrence_input``). Returns (repeat, the recurrence when it
    breaks no rule); the choice is kept under ``keys.CAMPAIGN_SERIES`` for ``launch``."""
    st.markdown("#### How often")
    choice = st.radio(
        "Order these targets",
        (ONCE, REPEAT),
        horizontal=True,
        key=keys.CAMPAIGN_REPEAT.name,
        help="A series orders each occurrence when its window comes within ICEYE's 14-day reach "
        "(the background worker, or these pages when no worker runs).",
    )
    if choice != REPEAT:
        keys.CAMPAIGN_SERIES.pop()
        return False, None
    window = frozen.requests[0].acquisitionWindow
    st.caption(
        f"Each occurrence orders the {len(frozen.targets)} target(s) with the options above, in a "
        f"window as long as the one chosen ({_hours(window.end - window.start)}), from each start "
        "below. The price and the cancellation policy above apply to each occurrence."
    )
    recurrence = recurrence_input("nc_")
    if recurrence is None:
        keys.CAMPAIGN_SERIES.pop()
    else:
        keys.CAMPAIGN_SERIES.set(recurrence)
    return True, recurrence


def _hours(length: timedelta) -> str:
    hours = length.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 and hours % 24 == 0 else f"{hours:g} h"


def _funds(
    check: BatchCheck | None, frozen: Frozen, contract: Contract, service: TaskingService
) -> Funds:
    """The funds of the check made for exactly these requests, else those asked when the
    confirmation first drew, else asked now (and kept with the frozen campaign)."""
    if frozen.funds is not None:
        return frozen.funds
    if check is not None and check.fingerprint == batch_fingerprint(frozen.requests):
        return check.funds
    funds = batch_funds(service.client, frozen.requests, contract)
    keys.CAMPAIGN_ORDER.set(dataclasses.replace(frozen, funds=funds))
    return funds


def _verdict_line(check: BatchCheck | None, frozen: Frozen) -> None:
    if check is None or check.fingerprint != batch_fingerprint(frozen.requests):
        st.info(
            "**Feasibility not checked** for exactly these orders: ICEYE decides when it "
            "schedules each task, and may reject some.",
            icon=":material/radar:",
        )
        return
    total = len(check.items)
    if check.feasible == total:
        st.success(f"**All {total} targets are feasible** (checked).", icon=":material/radar:")
    else:
        st.warning(
            f"**{check.feasible} of {total} targets are feasible** (checked): the others will most "
            "likely be rejected by ICEYE.",
            icon=":material/block:",
        )


@st.dialog("Confirm the campaign", width="large", on_dismiss=close_confirmation)
@guarded("prepare the campaign")
def confirm_campaign(service: TaskingService, contract: Contract, frozen: Frozen) -> None:
    keys.CAMPAIGN_ORDER.setdefault(frozen)
    frozen = keys.CAMPAIGN_ORDER.get() or frozen
    now = service.now()
    count = len(frozen.requests)
    st.markdown(
        f"**{plain(frozen.name)}**: **{count} task{'s' if count != 1 else ''}**, one per target, "
        "with these options:"
    )
    rows = [
        row for row in summary_rows(frozen.requests[0], contract) if row[0] not in _PER_TARGET_ROWS
    ]
    st.markdown(markdown_table(rows, ("Every order", "Value")))
    st.caption(
        f"References: “{plain(frozen.name)}: <target> [{short_id(frozen.campaign_id)}/n]”, "
        "so each task is found again and never ordered twice."
    )
    check = keys.CAMPAIGN_BATCH.get()
    _verdict_line(check, frozen)
    st.markdown("#### Price and budget")
    funds = _funds(check, frozen, contract, service)
    st.markdown(funds_line(funds))
    st.markdown("#### Cancellation policy")
    window = frozen.requests[0].acquisitionWindow
    st.markdown(cancellation_policy(window.start, now, priced=funds.priced))
    st.caption("The policy applies to each task of the campaign on its own.")
    repeat, recurrence = series_option(frozen)
    if repeat:
        occurrences = len(recurrence.starts()) if recurrence is not None else 0
        label = f"Create the series ({occurrences} occurrences)"
    else:
        label = f"Create {count} task{'s' if count != 1 else ''}"
    left, right = st.columns(2)
    if left.button(
        label,
        type="primary",
        icon=":material/send:",
        key=keys.CAMPAIGN_CREATE.name,
        disabled=not funds.affordable or (repeat and recurrence is None),
        on_click=_launch,
    ):
        st.rerun()
    if right.button(
        "Back to the campaign", key=keys.CAMPAIGN_BACK.name, on_click=close_confirmation
    ):
        st.rerun()


# --- creating, resuming ------------------------------------------------------------------------


def _progress_bar(total: int, verb: str) -> tuple[object, object]:
    bar = st.progress(0.0, text=f"{verb} {total} tasks…")

    def report(settled: int, count: int, result: TargetResult) -> None:
        bar.progress(
            settled / max(count, 1),
            text=f"{settled} of {count} · {result.name}: {result.state.value.lower()}",
        )

    return bar, report


def launch(service: TaskingService, contract: Contract) -> None:
    """Create the confirmed campaign (after the dialog's Create), with a progress bar."""
    if not keys.CAMPAIGN_LAUNCH.pop():
        return
    frozen = keys.CAMPAIGN_ORDER.pop()
    if not isinstance(frozen, Frozen):
        return
    recurrence = keys.CAMPAIGN_SERIES.pop()
    if isinstance(recurrence, Recurrence):
        create_series(service, contract, frozen, recurrence)
        return
    # From here the campaign exists (or will): the next one gets a new id, even if this run is
    # interrupted, so nothing is recorded twice. What is left is resumed from the list below.
    keys.CAMPAIGN_DRAFT_ID.pop()
    keys.CAMPAIGN_RUN.pop()
    _, report = _progress_bar(len(frozen.requests), "Creating")
    try:
        run = service.create_campaign(
            frozen.name,
            frozen.draft,
            frozen.targets,
            contract,
            requests=frozen.requests,
            campaign_id=frozen.campaign_id,
            on_progress=report,  # type: ignore[arg-type]
        )
    except TaskingError as error:
        show_error(error, "create the campaign")
        return
    finally:
        keys.BUDGETS.pop()  # the orders put money on hold
    keys.CAMPAIGN_RUN.set(run)
    keys.CAMPAIGN_BATCH.pop()


def create_series(
    service: TaskingService, contract: Contract, frozen: Frozen, recurrence: Recurrence
) -> None:
    """Record the series (nothing is sent here) and open its page, which orders the occurrences
    already within ICEYE's 14 days when no worker does."""
    window = frozen.requests[0].acquisitionWindow
    try:
        series = service.create_series(
            frozen.name,
            frozen.draft,
            frozen.targets,
            contract,
            window.end - window.start,
            recurrence,
        )
    except TaskingError as error:
        show_error(error, "create the series")
        return
    keys.CAMPAIGN_DRAFT_ID.pop()
    keys.CAMPAIGN_RUN.pop()
    keys.CAMPAIGN_BATCH.pop()
    st.switch_page(state.PAGE_CAMPAIGNS, query_params={state.SERIES_PARAM: series.id})


def resume(service: TaskingService, campaign_id: str) -> None:
    """Resume a campaign (a Resume button's run): only what is missing is sent."""
    campaign = service.campaigns.get(campaign_id)
    total = len(campaign.targets) if campaign else 0
    _, report = _progress_bar(total, "Resuming")
    try:
        run = service.resume_campaign(campaign_id, on_progress=report)  # type: ignore[arg-type]
    except TaskingError as error:
        show_error(error, "resume the campaign")
        return
    finally:
        keys.BUDGETS.pop()
    keys.CAMPAIGN_RUN.set(run)


STATE_LABELS = {
    TargetState.PLACED: "placed",
    TargetState.REFUSED: "refused",
    TargetState.UNCONFIRMED: "being checked",
    TargetState.PENDING: "not sent yet",
}


def results_table(results: Sequence[TargetResult]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "#": r.position + 1,
                "target": r.name,
                "result": STATE_LABELS.get(r.state, r.state.value),
                "task": r.task_id or "",
                "sent now": "yes" if r.sent else "",
                "why": r.error or "",
            }
            for r in results
        ],
        columns=["#", "target", "result", "task", "sent now", "why"],
    )


def open_campaign(campaign_id: str) -> None:
    st.switch_page(state.PAGE_CAMPAIGNS, query_params={state.CAMPAIGN_PARAM: campaign_id})


def show_run(run: CampaignRun) -> None:
    """What the last create or resume did, per target, and where to go next."""
    campaign = run.campaign
    placed = run.count(TargetState.PLACED)
    total = len(run.results)
    text = (
        f"**{plain(campaign.name)}**: {placed} of {total} tasks placed "
        f"({run.sent} sent by this run)."
    )
    if campaign.status is CampaignStatus.PLACED:
        st.success(text, icon=":material/task_alt:")
    else:
        left = total - placed
        st.warning(
            text + f"  \n{left} not placed yet: **Resume** below sends only those (nothing is "
            "ordered twice).",
            icon=":material/pending:",
        )
    st.dataframe(results_table(run.results), hide_index=True, width="stretch")
    if st.button(
        "Open the campaign",
        key=keys.CAMPAIGN_OPEN_VIEW.name,
        type="primary" if campaign.status is CampaignStatus.PLACED else "secondary",
        icon=":material/map:",
    ):
        open_campaign(campaign.id)


def show_unfinished(service: TaskingService) -> None:
    """Campaigns whose creation stopped half-way (this session's or another's), with Resume."""
    try:
        unfinished = service.campaigns.unfinished(RECENT_CAMPAIGNS)
    except TaskingError as error:
        show_error(error, "read the campaigns")
        return
    if not unfinished:
        return
    st.markdown("#### Not finished")
    for campaign in unfinished:
        placed, total = campaign.placed, campaign.total
        with st.container(border=True):
            st.markdown(
                f"**{plain(campaign.name)}** · created {when(campaign.created_at)} · "
                f"{placed} of {total} tasks placed"
            )
            if st.button(
                f"Resume: send the {total - placed} missing",
                key=keys.resume_campaign(campaign.id).name,
                icon=":material/play_arrow:",
            ):
                resume(service, campaign.id)
                st.rerun()
