"""A campaign's view and the list of campaigns (issue 12).

The view: what was ordered (name, contract, shared options), progress (planned / captured /
delivered / failed, ``tasking.campaign_progress``) as a bar, counts and a row per target that opens
its task in the Monitor, the coverage on a map, the quicklooks side by side, the whole campaign
as CSV or GeoJSON, and Resume for the targets that never got a task. It refreshes itself, like
the Monitor, while anything can still change, and stops when everything is final. The tasks are
read from the store (``ui.campaign_data``): with a background worker a refresh asks ICEYE nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st
from PIL import Image

from tasking import monitoring, rules
from tasking.campaign_progress import Bucket, TargetProgress, counts, is_settled, unsent
from tasking.campaigns import Campaign, CampaignRun, CampaignStatus, TargetResult, TargetState
from tasking.errors import InputError, TaskingError, Violation
from tasking.export import Footprint, campaign_to_csv, campaign_to_geojson
from tasking.service import TaskingService
from tasking.times import parse_time_or_none
from ui import keys, state
from ui.campaign_data import (
    campaign_footprints,
    campaign_tasks,
    details_pending,
    fetch_details,
    poll_statuses,
    read_progress,
)
from ui.campaign_map import coverage_map, status_text
from ui.errors import attempt, show_error
from ui.format import listing, plain, short_id, status_chip, when
from ui.guard import guarded

__all__ = ["render_campaign", "render_campaign_list"]

POLL_S = 15.0
"""Refresh period without a worker: each refresh asks ICEYE for the task list (one request per
hundred tasks), so less often than the Monitor's one task."""
STORE_S = monitoring.POLL_INTERVAL_S
"""Refresh period while a worker keeps the store: a refresh reads the store only."""
QUICKLOOKS_SHOWN = 24
QUICKLOOK_COLUMNS = 4
THUMBNAIL_PX = 320

BUCKET_LABELS = {
    Bucket.PLANNED: "Planned",
    Bucket.CAPTURED: "Captured",
    Bucket.DELIVERED: "Delivered",
    Bucket.FAILED: "Failed",
    Bucket.NOT_ORDERED: "Not ordered",
}
BUCKET_HELP = {
    Bucket.PLANNED: "Ordered, waiting for the imaging (RECEIVED or ACTIVE).",
    Bucket.CAPTURED: "Imaged; SLA products ready, the others still processing (FULFILLED).",
    Bucket.DELIVERED: "Every ordered product is ready (DONE).",
    Bucket.FAILED: "Rejected, canceled or failed.",
    Bucket.NOT_ORDERED: "No task: never sent, refused, or an order being checked.",
}
STATUS_NOTES = {
    CampaignStatus.CREATING: "creating: some targets have no task yet",
    CampaignStatus.PLACED: "every target ordered",
    CampaignStatus.PARTIAL: "some targets were refused",
}
OPTION_LABELS = {
    "imagingMode": "Imaging mode",
    "acquisitionWindow": "Window",
    "priority": "Priority",
    "sla": "SLA",
    "exclusivity": "Exclusivity",
    "eula": "EULA",
    "incidenceAngle": "Incidence",
    "lookSide": "Look side",
    "passDirection": "Pass direction",
    "productTypes": "Products",
    "derivativeProductTypes": "Derivatives",
    "imagingDuration": "Imaging duration",
}


# --- shared bits ---------------------------------------------------------------------------------


def contract_label(service: TaskingService, contract_id: str) -> str:
    """The contract's name. The contracts are loaded once per session, as the Monitor does,
    and not while a worker follows the tasks (a new tab then costs ICEYE nothing): the id then,
    unless this session loaded them on another page."""
    loaded = keys.CONTRACTS.get()
    if loaded is None and not service.worker_active():
        with contextlib.suppress(TaskingError):
            loaded = list(service.client.iter_contracts())
            keys.CONTRACTS.set(loaded)
    match = next((c for c in loaded or [] if c.id == contract_id), None)
    return match.name if match is not None and match.name else contract_id


def counts_text(found: Mapping[Bucket, int]) -> str:
    parts = [f"{BUCKET_LABELS[b]} {found[b]}" for b in Bucket if b is not Bucket.NOT_ORDERED]
    if found[Bucket.NOT_ORDERED]:
        parts.append(f"Not ordered {found[Bucket.NOT_ORDERED]}")
    return " · ".join(parts)


def finished_fraction(found: Mapping[Bucket, int]) -> float:
    total = sum(found.values())
    return (found[Bucket.DELIVERED] + found[Bucket.FAILED]) / total if total else 0.0


def options_text(options: Mapping[str, Any]) -> str:
    """The options every order shares, in words (Markdown, escaped)."""
    parts = []
    known = [k for k in OPTION_LABELS if k in options]
    for key in [*known, *sorted(k for k in options if k not in OPTION_LABELS)]:
        value = options[key]
        if key == "contractID" or value in (None, [], {}):
            continue
        label = OPTION_LABELS.get(key, key)
        if key == "acquisitionWindow" and isinstance(value, dict):
            start, end = (
                parse_time_or_none(value.get("start")),
                parse_time_or_none(value.get("end")),
            )
            text = f"{when(start)} → {when(end)}"
        elif key == "incidenceAngle" and isinstance(value, dict):
            low, high = value.get("min"), value.get("max")
            text = str(low) if low == high else f"{low}–{high}°"
        elif isinstance(value, list):
            text = listing(str(v) for v in value)
        elif key == "imagingDuration":
            text = f"{value} s"
        else:
            text = str(value)
        parts.append(f"**{plain(label)}** {plain(text)}")
    return " · ".join(parts)


def file_stem(campaign: Campaign) -> str:
    """``campaign-ports-of-the-baltic``: the name, safe as a file name."""
    slug = re.sub(r"[^a-z0-9]+", "-", campaign.name.casefold()).strip("-")[:40]
    return f"campaign-{slug or short_id(campaign.id)}"


# --- the list --------------------------------------------------------------------------------------


def _campaigns(service: TaskingService) -> list[tuple[Campaign, list[TargetProgress]]]:
    found = []
    for campaign_id in service.campaigns.ids():
        campaign = service.campaigns.get(campaign_id)
        if campaign is not None:
            found.append((campaign, read_progress(service, campaign)))
    return found


def render_campaign_list(service: TaskingService) -> None:
    """Every campaign of this store, newest first, each opening its view (store only)."""
    # The view's "All campaigns" link (to this same page) leaves its ``?campaign=`` in the
    # browser's URL although the script no longer sees it: cleared, so a reload shows the list.
    st.query_params.clear()
    st.subheader("Campaigns", anchor=False)
    listed = attempt("read the campaigns", _campaigns, service)
    if listed is None:
        return
    if not listed:
        st.info(
            "No campaign yet. A campaign orders many targets in one go: upload a list of points "
            "or draw an area on **New campaign**.",
            icon=":material/info:",
        )
        st.page_link(state.PAGE_NEW_CAMPAIGN, label="New campaign", icon=":material/scatter_plot:")
        return
    st.caption(
        "Counts as this app's store knows them (the background worker keeps them up to date; "
        "open a campaign to refresh it)."
    )
    for campaign, rows in listed:
        found = counts(rows)
        with st.container(border=True):
            left, right = st.columns([3, 2], vertical_alignment="center")
            with left:
                st.page_link(
                    state.PAGE_CAMPAIGNS,
                    label=plain(campaign.name),
                    icon=":material/map:",
                    query_params={state.CAMPAIGN_PARAM: campaign.id},
                )
                st.caption(
                    f"{plain(contract_label(service, campaign.contract_id))} · created "
                    f"{when(campaign.created_at)} · {len(campaign.targets)} target"
                    f"{'' if len(campaign.targets) == 1 else 's'} · "
                    f"{STATUS_NOTES[campaign.status]}"
                )
            with right:
                st.progress(finished_fraction(found), text=counts_text(found))


# --- one campaign ----------------------------------------------------------------------------------


def render_campaign(service: TaskingService, campaign_id: str) -> None:
    """The campaign's view; an id this store does not know says so."""
    st.page_link(state.PAGE_CAMPAIGNS, label="All campaigns", icon=":material/arrow_back:")
    try:
        campaign = service.campaigns.get(campaign_id)
    except TaskingError as error:
        st.title("Campaign")
        show_error(error, "read the campaign", retry_key=keys.retry("read the campaign"))
        return
    if campaign is None:
        st.title("Campaign")
        st.error(
            f"**No campaign {plain(campaign_id)} in this app's store.** The link may be "
            "mistyped, or the campaign was made by an app on another store.",
            icon=":material/search_off:",
        )
        return
    # A link to this same page (the list's) leaves the browser's URL without the id although the
    # script sees it: written again (always: the value already looks set), so that a reload or a
    # shared link opens the same campaign.
    st.query_params[state.CAMPAIGN_PARAM] = campaign.id
    st.title(plain(campaign.name), anchor=False)
    st.caption(
        f"Contract {plain(contract_label(service, campaign.contract_id))} · created "
        f"{when(campaign.created_at)} · {len(campaign.targets)} targets · "
        f"{STATUS_NOTES[campaign.status]} · campaign {campaign.id}"
    )
    st.markdown(options_text(campaign.options))

    from_desk = service.worker_active()
    rows = attempt("read the campaign's tasks", read_progress, service, campaign)
    if rows is None:
        return
    show_resumed(campaign)
    if unsent(rows):
        show_resume(service, campaign, rows)
    # Without a worker, the scenes and quicklooks this view fetches itself count as still to come.
    settled = is_settled(rows) and (from_desk or not details_pending(rows))
    # The timer exists only while something can still change (decided before the fragment is
    # defined: st.fragment's start/stop pattern, reference/streamlit-notes.md B3).
    run_every = None if settled else (STORE_S if from_desk else POLL_S)

    @st.fragment(run_every=run_every)
    @guarded("refresh the campaign")
    def live() -> None:
        if service.worker_active() != from_desk:
            st.rerun()  # a worker started or stopped: read its store, or ask ICEYE ourselves
        current = service.campaigns.get(campaign.id) or campaign
        if not from_desk:
            attempt("ask ICEYE for the campaign's tasks", poll_statuses, service, current)
        fresh = read_progress(service, current)
        if not from_desk:
            fetched = attempt(
                "fetch the campaign's scenes and quicklooks", fetch_details, service, fresh
            )
            if fetched:
                fresh = read_progress(service, current)
        if (is_settled(fresh) and (from_desk or not details_pending(fresh))) != settled:
            st.rerun()  # the timer starts or stops with a full rerun
        show_live(service, current, fresh, from_desk=from_desk, settled=settled)

    live()


def resume_checks(
    service: TaskingService, campaign: Campaign, missing: Sequence[TargetProgress]
) -> InputError | None:
    """The single task's rules on every request a resume would send, against the backend's
    clock now (the requests keep the window they were made with): one violation per broken rule,
    naming the targets. Raises TaskingError when the contract or the clock cannot be read."""
    contract = service.client.get_contract(campaign.contract_id)
    now = service.now()
    broken: dict[tuple[str, str, str], list[int]] = {}
    for row in missing:
        for v in rules.check_request(row.target.request, contract, now):
            broken.setdefault((v.field, v.rule, v.message), []).append(row.target.position + 1)
    if not broken:
        return None
    return InputError(
        [
            Violation(
                field,
                rule,
                f"Target{'s' if len(numbers) > 1 else ''} {listing(str(n) for n in numbers)}: "
                f"{message}",
            )
            for (field, rule, message), numbers in broken.items()
        ]
    )


def show_resume(
    service: TaskingService, campaign: Campaign, rows: Sequence[TargetProgress]
) -> None:
    """The targets without a task and Resume: checked by the single task's rules, then sent with
    a progress bar; the page then reads everything again (a rerun) and says what was done."""
    missing = unsent(rows)
    refused = [r for r in missing if r.state is TargetState.REFUSED]
    words = f"{len(missing)} of {len(rows)} target{'' if len(rows) == 1 else 's'} have no task"
    why = (
        f" ({len(refused)} refused, {len(missing) - len(refused)} never sent)"
        if refused
        else " (never sent: the run that created the campaign stopped)"
    )
    st.warning(
        f"**{words}**{why}. Resume sends only these, checked first by the rules of a single "
        "task; the order journal makes sure no target is ordered twice.",
        icon=":material/pending:",
    )
    if not st.button(
        "Resume",
        key=keys.CAMPAIGN_VIEW_RESUME.name,
        icon=":material/play_arrow:",
        type="primary",
        help="Sends the same requests as the first run (same options and window).",
    ):
        return
    try:
        broken = resume_checks(service, campaign, missing)
    except TaskingError as error:
        show_error(error, "check the campaign's orders before resuming")
        return
    if broken is not None:
        show_error(broken, "resume the campaign")
        st.caption(
            "The requests keep the options and window the campaign was made with: order these "
            "targets again from **New campaign**."
        )
        return
    bar = st.progress(0.0, text="Resuming…")

    def tick(done: int, total: int, result: TargetResult) -> None:
        bar.progress(
            done / total if total else 1.0,
            text=f"{done} of {total} targets settled · {result.name}: {result.state.value.lower()}",
        )

    run = attempt("resume the campaign", service.resume_campaign, campaign.id, on_progress=tick)
    if run is None:
        return  # the error is shown (with Retry); nothing of what was done is lost
    clean = run.count(TargetState.PLACED) == len(run.results)
    keys.CAMPAIGN_VIEW_RESUMED.set((campaign.id, resume_summary(run), clean))
    st.rerun()  # everything on the page from the store again, the warning above included


def resume_summary(run: CampaignRun) -> str:
    summary = (
        f"Resume sent {run.sent} order{'' if run.sent == 1 else 's'}: "
        f"{run.count(TargetState.PLACED)} of {len(run.results)} targets have a task"
    )
    for state_, words in (
        (TargetState.REFUSED, "refused (the table says why)"),
        (TargetState.UNCONFIRMED, "being checked"),
        (TargetState.PENDING, "not sent (the backend stopped answering)"),
    ):
        if run.count(state_):
            summary += f", {run.count(state_)} {words}"
    return summary + "."


def show_resumed(campaign: Campaign) -> None:
    """What the last resume did, once, after the rerun that follows it."""
    done = keys.CAMPAIGN_VIEW_RESUMED.pop()
    if done is None or done[0] != campaign.id:
        return
    clean = (
        "refused" not in done[1] and "being checked" not in done[1] and "not sent" not in done[1]
    )
    if clean:
        st.success(done[1], icon=":material/task_alt:")
    else:
        st.warning(done[1], icon=":material/task_alt:")


def show_live(
    service: TaskingService,
    campaign: Campaign,
    rows: Sequence[TargetProgress],
    *,
    from_desk: bool,
    settled: bool,
) -> None:
    found = counts(rows)
    st.progress(
        finished_fraction(found),
        text=(
            f"{found[Bucket.DELIVERED] + found[Bucket.FAILED]} of {len(rows)} targets finished "
            f"({found[Bucket.DELIVERED]} delivered, {found[Bucket.FAILED]} failed)"
        ),
    )
    shown = [b for b in BUCKET_LABELS if b is not Bucket.NOT_ORDERED or found[b]]
    # In a row that wraps (a phone gets two or three a line, not one under the other).
    with st.container(horizontal=True, gap="large"):
        for bucket in shown:
            st.metric(
                BUCKET_LABELS[bucket], found[bucket], help=BUCKET_HELP[bucket], width="content"
            )
    if settled:
        st.caption("Every target is final: no more refreshes.")
    elif from_desk:
        st.caption(
            "Followed by the background worker: this view reads its store every "
            f"{STORE_S:g} s and asks ICEYE nothing."
        )
    else:
        st.caption(
            f"No background worker: this view asks ICEYE for the campaign's tasks every "
            f"{POLL_S:g} s (the task list, not one request per task) until every target is final."
        )

    st.markdown("#### Targets")
    show_targets(rows)

    shapes: dict[str, Footprint] = {}
    try:
        shapes = campaign_footprints(service, rows)
    except TaskingError as error:  # footprints are a picture, never a reason to fail the view
        st.caption(f"Footprints not drawn: {plain(error.message)}")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("#### Coverage")
        coverage_map(rows, shapes)
        st.caption(
            "Dots: the targets in their task's status colour (light grey: no task). Footprints: "
            "blue once captured, orange while planned (the predicted pass the scene matches)."
        )
    with right:
        st.markdown("#### Export")
        st.caption(
            f"Every target of the campaign ({len(rows)}), ordered or not, with its task's "
            "columns. In GeoJSON a target is its scene's footprint where known, else its point."
        )
        tasks = campaign_tasks(rows)
        stem = file_stem(campaign)
        st.download_button(
            "Download CSV",
            data=campaign_to_csv(campaign, tasks).encode("utf-8-sig"),  # the BOM: Excel
            file_name=f"{stem}.csv",
            mime="text/csv",
            icon=":material/table_view:",
            on_click="ignore",
        )
        st.download_button(
            "Download GeoJSON",
            data=json.dumps(
                campaign_to_geojson(campaign, tasks, shapes), indent=2, ensure_ascii=False
            ),
            file_name=f"{stem}.geojson",
            mime="application/geo+json",
            icon=":material/map:",
            on_click="ignore",
        )
    st.markdown("#### Quicklooks")
    show_quicklooks(rows)


def note(row: TargetProgress) -> str:
    """Why a target has no task (empty when it has one)."""
    if row.target.error:
        return row.target.error
    if row.state is TargetState.UNCONFIRMED:
        return "sent without a definite answer: being checked, never resent meanwhile"
    if row.state is TargetState.PENDING:
        return "not sent yet (Resume)"
    return ""


def target_frame(rows: Sequence[TargetProgress]) -> pd.DataFrame:
    def naive(value: Any) -> Any:
        return value.replace(tzinfo=None) if value is not None else None

    return pd.DataFrame(
        [
            {
                "#": r.target.position + 1,
                "Target": r.target.name,
                "Status": r.status or ("" if r.target.task_id else "—"),
                "Order": r.state.value,
                "Planned imaging": naive(r.planned.imagingTime.start) if r.planned else None,
                "Actual imaging": naive(r.actual.imagingTime.start) if r.actual else None,
                "Note": note(r),
                "Task ID": r.target.task_id or "",
            }
            for r in rows
        ],
        columns=[
            "#",
            "Target",
            "Status",
            "Order",
            "Planned imaging",
            "Actual imaging",
            "Note",
            "Task ID",
        ],
    )


def show_targets(rows: Sequence[TargetProgress]) -> None:
    table = target_frame(rows)
    event = st.dataframe(
        table.style.map(
            lambda status: (
                f"color: {status_chip(status).hex}; font-weight: 600"
                if status and status != "—"
                else ""
            ),
            subset=["Status"],
        ),
        key=keys.CAMPAIGN_VIEW_TABLE.name,
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        column_config={
            "#": st.column_config.NumberColumn("#", width="small"),
            "Planned imaging": st.column_config.DatetimeColumn(
                "Planned imaging (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "Actual imaging": st.column_config.DatetimeColumn(
                "Actual imaging (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "Task ID": st.column_config.TextColumn("Task ID", width="small"),
        },
    )
    st.caption("Select a row to open its task in the Monitor.")
    chosen = event.selection.rows if event is not None else []
    if chosen:
        task_id = str(table.iloc[chosen[0]]["Task ID"])
        if task_id:
            state.open_task(task_id)
        else:
            st.info("This target has no task yet: nothing to open.", icon=":material/info:")


@st.cache_data(show_spinner=False, max_entries=256)
def thumbnail(png: bytes) -> bytes:
    """A small copy of a quicklook (the grid shows many; the Monitor has the full one)."""
    image = Image.open(io.BytesIO(png))
    image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def show_quicklooks(rows: Sequence[TargetProgress]) -> None:
    with_quicklook = [r for r in rows if r.quicklook is not None]
    if not with_quicklook:
        st.caption(
            "No quicklook yet: a target's quicklook shows here once its task is captured and "
            "its products are listed."
        )
        return
    shown = with_quicklook[:QUICKLOOKS_SHOWN]
    for start in range(0, len(shown), QUICKLOOK_COLUMNS):
        columns = st.columns(QUICKLOOK_COLUMNS)
        for column, row in zip(columns, shown[start : start + QUICKLOOK_COLUMNS], strict=False):
            assert row.quicklook is not None
            try:
                image = thumbnail(row.quicklook)
            except OSError:  # not an image PIL can read: say so instead of failing the view
                column.caption(f"{row.target.name}: quicklook unreadable")
                continue
            column.image(
                image,
                caption=f"{row.target.position + 1}. {row.target.name} · {status_text(row)}"
                + (f" ({row.quicklook_title})" if row.quicklook_title else ""),
                width="stretch",
            )
    if len(with_quicklook) > len(shown):
        st.caption(
            f"The first {len(shown)} of {len(with_quicklook)} quicklooks; open a target's task "
            "in the Monitor for the others and the products."
        )
