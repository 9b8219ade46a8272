"""Recurring series: the list, one series' occurrences, and the recurrence input (issue 12).

``render_series_list`` and ``render_series`` live on the Campaigns page (``?series=<id>`` opens
one). Without a worker following the account, each asks the service to order the occurrences that
fell due (``order_due_occurrences``), so a user with one tab open is never stuck.
``recurrence_input(prefix)`` is the small form the New campaign page plugs in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from tasking import rules
from tasking.errors import TaskingError
from tasking.series import (
    MAX_EVERY_DAYS,
    MAX_OCCURRENCES,
    WEEKDAYS,
    CancelOutcome,
    Occurrence,
    OccurrenceState,
    Recurrence,
    Series,
    SeriesStatus,
    series_tasks,
    task_statuses,
)
from tasking.service import TaskingService
from ui import keys, state
from ui.errors import attempt, show_error
from ui.format import duration, plain, when
from ui.guard import guarded
from ui.monitor_view import fee_text, price_list

__all__ = ["recurrence_input", "render_series", "render_series_list"]

_EVERY = "Every N days"
_WEEKLY = "On weekdays"
_COUNT = "After a number of occurrences"
_UNTIL = "On a date"
_STATE_ICONS = {
    OccurrenceState.UPCOMING: ":material/schedule:",
    OccurrenceState.ORDERING: ":material/hourglass_top:",
    OccurrenceState.ORDERED: ":material/check_circle:",
    OccurrenceState.SKIPPED: ":material/skip_next:",
    OccurrenceState.CANCELED: ":material/cancel:",
}
_STATUS_TEXT = {
    SeriesStatus.ACTIVE: "Active: each occurrence is ordered when its window comes within "
    "ICEYE's 14-day reach.",
    SeriesStatus.PAUSED: "Paused: nothing more is ordered until you resume it (an occurrence "
    "already being ordered is finished).",
    SeriesStatus.CANCELED: "Cancelled: nothing more is ordered.",
    SeriesStatus.FINISHED: "Finished: every occurrence was ordered or skipped.",
}


REFRESH_S = 5
"""How often a series' page reads its occurrences again while the series can still order."""


# --- the recurrence input ----------------------------------------------------------------------


def recurrence_input(prefix: str) -> Recurrence | None:
    """Every N days or on weekdays, for M occurrences or until a date, from a first window start
    (UTC). Returns the Recurrence when it breaks no rule; otherwise shows each refusal by its
    rule and returns None. ``prefix`` keeps two forms' widgets apart."""

    default = _default_start(keys.START.get())
    left, right = st.columns(2)
    first_day = left.date_input(
        "First window starts on (UTC)",
        value=default.date(),
        key=keys.recurrence_field(prefix, "day").name,
    )
    first_time = right.time_input(
        "at (UTC)",
        value=default.time(),
        step=timedelta(hours=1),
        key=keys.recurrence_field(prefix, "time").name,
    )
    kind = st.radio(
        "Repeat", (_EVERY, _WEEKLY), horizontal=True, key=keys.recurrence_field(prefix, "kind").name
    )
    every: int | None = None
    weekdays: tuple[int, ...] = ()
    if kind == _EVERY:
        every = int(
            st.number_input(
                "Every N days",
                min_value=0,
                max_value=MAX_EVERY_DAYS * 10,
                value=7,
                step=1,
                key=keys.recurrence_field(prefix, "every").name,
                help=f"From 1 to {MAX_EVERY_DAYS}.",
            )
        )
    else:
        chosen = st.multiselect(
            "Weekdays",
            WEEKDAYS,
            default=[WEEKDAYS[default.weekday()]],
            key=keys.recurrence_field(prefix, "weekdays").name,
        )
        weekdays = tuple(WEEKDAYS.index(name) for name in chosen)
    ends = st.radio(
        "Ends", (_COUNT, _UNTIL), horizontal=True, key=keys.recurrence_field(prefix, "ends").name
    )
    count: int | None = None
    until: date | None = None
    if ends == _COUNT:
        count = int(
            st.number_input(
                "Occurrences",
                min_value=0,
                max_value=MAX_OCCURRENCES * 10,
                value=6,
                step=1,
                key=keys.recurrence_field(prefix, "count").name,
                help=f"From 1 to {MAX_OCCURRENCES}.",
            )
        )
    else:
        until = st.date_input(
            "Last window starts on or before (UTC)",
            value=default.date() + timedelta(days=42),
            key=keys.recurrence_field(prefix, "until").name,
        )
    if not isinstance(first_day, date) or not isinstance(first_time, time):
        st.error("Choose the first window's date and time (required rule).")
        return None
    recurrence = Recurrence(
        start=datetime.combine(first_day, first_time).replace(tzinfo=UTC),
        every_days=every,
        weekdays=weekdays,
        count=count,
        until=until if isinstance(until, date) else None,
    )
    broken = recurrence.violations()
    if broken:
        st.error(
            "\n\n".join(f"- {plain(rules.user_message(v))}" for v in broken),
            icon=":material/event_busy:",
        )
        return None
    starts = recurrence.starts()
    st.caption(
        plain(
            f"{len(starts)} occurrence{'s' if len(starts) != 1 else ''} "
            f"({recurrence.describe()}): first window starts {when(starts[0])}, last "
            f"{when(starts[-1])}. Each is ordered when its window comes within ICEYE's 14 days."
        )
    )
    return recurrence


def _default_start(start: datetime | None) -> datetime:
    """The New campaign form's window start when it has one, else tomorrow on the hour."""
    if start is not None:
        return start.replace(tzinfo=None)
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    return now + timedelta(days=1, hours=1)


# --- the list ----------------------------------------------------------------------------------


def _order_due(service: TaskingService) -> None:
    """Order what fell due when no worker does (best-effort: a failure is shown, not raised)."""
    if service.worker_active():
        return
    due = attempt("read the series' due occurrences", lambda: service.series.due(service.now()))
    if not due:
        return
    with st.spinner(
        f"Ordering {len(due)} occurrence(s) whose windows came within ICEYE's 14 days…",
        show_time=True,
    ):
        attempt("order the series' due occurrences", service.order_due_occurrences)


def render_series_list(service: TaskingService) -> None:
    st.subheader("Recurring series")
    _order_due(service)
    ids = attempt("read the recurring series", lambda: service.series.ids())
    if ids is None:
        return
    if not ids:
        st.caption(
            "No recurring series yet: on New campaign, choose to repeat the campaign every N days "
            "or on weekdays."
        )
        return
    for series_id in ids:
        try:
            series = service.series.get(series_id)
        except TaskingError as error:
            show_error(error, f"read series {series_id}")
            continue
        if series is None:
            continue
        with st.container(border=True):
            top = st.columns([3, 1])
            top[0].page_link(
                state.PAGE_CAMPAIGNS,
                label=series.name,
                icon=":material/event_repeat:",
                query_params={state.SERIES_PARAM: series.id},
            )
            top[1].badge(series.status.value.title(), color=_status_colour(series.status))
            st.caption(plain(_summary(series)))


def _status_colour(status: SeriesStatus) -> Any:
    return {
        SeriesStatus.ACTIVE: "blue",
        SeriesStatus.PAUSED: "orange",
        SeriesStatus.CANCELED: "gray",
        SeriesStatus.FINISHED: "green",
    }[status]


def _summary(series: Series) -> str:
    counts = {s: sum(1 for o in series.occurrences if o.state is s) for s in OccurrenceState}
    nxt = series.next_occurrence()
    targets = len(series.targets)
    parts = [
        f"{series.recurrence.describe()}, {targets} target{'s' if targets != 1 else ''}",
        f"{counts[OccurrenceState.ORDERED]} of {len(series.occurrences)} ordered",
    ]
    if counts[OccurrenceState.SKIPPED]:
        parts.append(f"{counts[OccurrenceState.SKIPPED]} skipped")
    if nxt is not None:
        parts.append(
            f"next: #{nxt.number}, window {when(nxt.window_start)} → {when(nxt.window_end)}"
            + (
                " (being ordered)"
                if nxt.state is OccurrenceState.ORDERING
                else f", ordered from {when(nxt.order_at)}"
            )
        )
    return " · ".join(parts)


# --- one series ----------------------------------------------------------------------------------


def render_series(service: TaskingService, series_id: str) -> None:
    series = attempt("read the series", lambda: service.series.get(series_id))
    if series is None:
        st.title("Series")
        st.warning(
            f"No recurring series {plain(series_id)} in this store. Open one from the list.",
            icon=":material/search_off:",
        )
        st.page_link(state.PAGE_CAMPAIGNS, label="All campaigns and series", icon=":material/map:")
        return
    st.title(series.name)
    st.caption(plain(_STATUS_TEXT[series.status]))
    st.markdown(
        plain(
            f"{series.recurrence.describe().capitalize()} · windows of "
            f"{_length(series.window)} · {len(series.targets)} target(s) · contract "
            f"{series.contract_id} · {series.options.get('imaging_mode', '')}"
        )
    )
    _shown_cancel_outcomes()
    _controls(service, series)
    if keys.SERIES_CANCELLING.get() == series.id:
        _cancel_dialog(service, series.id)

    # While the series can still order, the occurrences refresh themselves: the worker (or this
    # page, without one) orders them in the background, and their tasks move on.
    run_every = REFRESH_S if series.status in (SeriesStatus.ACTIVE, SeriesStatus.PAUSED) else None

    @st.fragment(run_every=run_every)
    @guarded("refresh the series")
    def live() -> None:
        _order_due(service)
        current = attempt("read the series", lambda: service.series.get(series.id))
        _occurrences(service, current or series)

    live()
    st.page_link(state.PAGE_CAMPAIGNS, label="All campaigns and series", icon=":material/map:")


def _occurrences(service: TaskingService, series: Series) -> None:
    """The current, upcoming and past occurrences, and the tasks of the current ones."""
    now = _now(service)
    made = _tasks(service, series)
    current = [o for o in series.occurrences if _is_current(o, now)]
    upcoming = [o for o in series.occurrences if o.state is OccurrenceState.UPCOMING]
    past = [o for o in series.occurrences if o not in current and o not in upcoming]
    for title, group, empty in (
        ("Current", current, "Nothing being ordered or imaged right now."),
        ("Upcoming", upcoming, "No occurrence left to order."),
        ("Past", past, "None yet."),
    ):
        st.subheader(title)
        if not group:
            st.caption(empty)
            continue
        st.dataframe(
            _occurrence_table(group, made),
            hide_index=True,
            width="stretch",
            column_config={
                "Campaign": st.column_config.LinkColumn("Campaign", display_text="Open campaign"),
            },
        )
        for occurrence in group:
            if occurrence.reason and occurrence.state is not OccurrenceState.CANCELED:
                st.caption(plain(f"#{occurrence.number}: {occurrence.reason}"))
    tasks = [row for row in made if _is_current(row[0], now)]
    if tasks:
        st.subheader("Tasks of the current occurrences")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "#": occurrence.number,
                        "Target": target,
                        "Status": status or "—",
                        "Task": f"monitor?{state.TASK_PARAM}={task_id}",
                    }
                    for occurrence, target, task_id, status in tasks
                ]
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "Task": st.column_config.LinkColumn("Task", display_text="Open in the Monitor")
            },
        )


def _length(window: timedelta) -> str:
    """``48 h``, ``5 days``, ``3 d 12 h``."""
    hours = round(window.total_seconds() / 3600)
    if hours <= 72:
        return f"{hours} h"
    return f"{hours // 24} days" if hours % 24 == 0 else duration(window)


def _now(service: TaskingService) -> datetime:
    try:
        return service.now()
    except TaskingError:
        return datetime.now(UTC)


def _is_current(occurrence: Occurrence, now: datetime) -> bool:
    """Being ordered, or ordered with a window that has not ended yet."""
    return occurrence.state is OccurrenceState.ORDERING or (
        occurrence.state is OccurrenceState.ORDERED and occurrence.window_end >= now
    )


def _tasks(
    service: TaskingService, series: Series
) -> list[tuple[Occurrence, str, str, str | None]]:
    try:
        made = series_tasks(service, series)
        statuses = task_statuses(service, [task_id for _, _, task_id in made])
    except TaskingError as error:
        show_error(error, "read the series' tasks")
        return []
    return [(o, target, task_id, statuses.get(task_id)) for o, target, task_id in made]


def _occurrence_table(
    group: list[Occurrence], made: list[tuple[Occurrence, str, str, str | None]]
) -> pd.DataFrame:
    rows = []
    for occurrence in group:
        statuses = [s or "unknown" for o, _, _, s in made if o.position == occurrence.position]
        counted = {s: statuses.count(s) for s in sorted(set(statuses))}
        rows.append(
            {
                "#": occurrence.number,
                "Window (UTC)": f"{occurrence.window_start:%Y-%m-%d %H:%M} → "
                f"{occurrence.window_end:%Y-%m-%d %H:%M}",
                "State": occurrence.state.value,
                "Ordered": when(occurrence.ordered_at)
                if occurrence.ordered_at
                else f"from {when(occurrence.order_at)}",
                "Tasks": ", ".join(f"{n} {s}" for s, n in counted.items()) or "—",
                "Campaign": f"campaigns?{state.CAMPAIGN_PARAM}={occurrence.campaign_id}"
                if occurrence.campaign_id
                else None,
            }
        )
    frame = pd.DataFrame(rows)
    if frame["Campaign"].isna().all():
        frame = frame.drop(columns="Campaign")  # none ordered yet: no empty links
    return frame


def _controls(service: TaskingService, series: Series) -> None:
    if series.status not in (SeriesStatus.ACTIVE, SeriesStatus.PAUSED):
        return
    left, right, _ = st.columns([1, 1, 3])
    if series.status is SeriesStatus.ACTIVE:
        if left.button("Pause", key=keys.SERIES_PAUSE.name, icon=":material/pause:"):
            _change(service.pause_series, series.id, "pause the series")
    elif left.button("Resume", key=keys.SERIES_RESUME.name, icon=":material/play_arrow:"):
        _change(service.resume_series, series.id, "resume the series")
    if right.button("Cancel series…", key=keys.SERIES_CANCEL_OPEN.name, icon=":material/cancel:"):
        keys.SERIES_CANCELLING.set(series.id)


def _change(call: Any, series_id: str, action: str) -> None:
    if attempt(action, call, series_id) is not None:
        st.rerun()


def _close_cancel() -> None:
    keys.SERIES_CANCELLING.pop()


@st.dialog("Cancel this series?", width="large", on_dismiss=_close_cancel)
@guarded("cancel the series")
def _cancel_dialog(service: TaskingService, series_id: str) -> None:
    preview = service.series_cancel_preview(series_id)
    series = service.series.get(series_id)
    priced = price_list(service.client, series.contract_id) if series is not None else None
    st.markdown(
        "Nothing more will be ordered. The tasks still cancellable (RECEIVED or ACTIVE) are "
        "cancelled, each at the fee that applies now (ICEYE product specification §3.6):"
    )
    if preview:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "#": item.occurrence,
                        "Target": item.target,
                        "Task": item.task_id,
                        "Status": item.status,
                        "Window start": when(item.window_start),
                        "Fee": fee_text(item.fee, priced),
                    }
                    for item in preview
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("No task of this series can be cancelled any more.")
    st.caption("A cancelled series cannot be resumed.")
    left, right = st.columns(2)
    if left.button("Cancel the series", type="primary", key=keys.SERIES_CANCEL_CONFIRM.name):
        outcomes = service.cancel_series(series_id)
        keys.SERIES_CANCELED.set(outcomes)
        _close_cancel()
        st.rerun()
    if right.button("Keep the series", key=keys.SERIES_CANCEL_KEEP.name, on_click=_close_cancel):
        st.rerun()


def _shown_cancel_outcomes() -> None:
    outcomes: list[CancelOutcome] | None = keys.SERIES_CANCELED.pop()
    if outcomes is None:
        return
    done = [o for o in outcomes if o.canceled]
    lines = [f"**The series was cancelled**; {len(done)} of {len(outcomes)} task(s) cancelled."]
    lines += [
        plain(
            f"- #{o.task.occurrence} {o.task.target}: "
            + (f"cancelled, fee {o.task.fee.share}" if o.canceled else f"not cancelled ({o.error})")
        )
        for o in outcomes
    ]
    st.success("\n".join(lines), icon=":material/cancel:")
