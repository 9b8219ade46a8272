"""All tasks: every task of the user's contracts, with filters (a campaign's tasks among them),
search, sorting and "Load more"; selecting a row opens it in the Monitor.

While a background worker is active the list is its copy in the store (the documents it keeps for
every task of the account), filtered here: nothing is asked of ICEYE. Without one, the page pages
through getTasks as before."""

from __future__ import annotations

import streamlit as st

from tasking.export import tasks_to_csv
from tasking.models import TaskStatus
from tasking.service import TaskingService
from ui import keys, state
from ui.desk_view import worker_view
from ui.errors import attempt
from ui.format import plain, short_id, when
from ui.service import get_service
from ui.task_form import open_clone
from ui.task_map import geojson_file, task_map
from ui.task_table import (
    PAGE_SIZE,
    SORTS,
    Query,
    TaskList,
    coloured,
    created_range,
    frame,
    in_campaign,
    select,
    stored_list,
)

ALL = ""


def load_page(service: TaskingService, task_list: TaskList) -> bool:
    """Load the next page; False (with the error shown) when the call failed."""
    query = task_list.query
    page = attempt(
        "list the tasks",
        service.client.list_tasks,
        contract_id=query.contract_id,
        created_after=query.created_after,
        created_before=query.created_before,
        limit=PAGE_SIZE,
        cursor=task_list.cursor,
    )
    if page is None:
        return False
    task_list.add_page(page.data, page.next_cursor)
    # The local history keeps every task the app has seen (issue 5, "A workspace of tasks").
    attempt("record the tasks in the local history", service.history.record_all, page.data)
    return True


def more_filters_label(names: dict[str, str]) -> str:
    """The folded filters' label: what they are set to (from the values kept in the session)."""
    contract = keys.LIST_CONTRACT.get() or ALL
    start, until = keys.LIST_FROM.get(), keys.LIST_UNTIL.get()
    if start and until:
        dates = f"created {start:%Y-%m-%d} to {until:%Y-%m-%d}"
    elif start or until:
        dates = f"created from {start:%Y-%m-%d}" if start else f"created until {until:%Y-%m-%d}"
    else:
        dates = "any date"
    sort = (keys.LIST_SORT.get() or next(iter(SORTS))).lower()
    shown = names.get(contract, contract)
    return f"Contract, dates, sort: {plain(shown)} · {dates} · {sort}"


def show_worker_copy(service: TaskingService) -> None:
    """Say whose list this is and how fresh."""
    worker = attempt("read the worker's lease", worker_view, service)
    swept = worker.last_sweep if worker is not None else None
    st.caption(
        ":material/sync: The background worker's copy of the account's tasks"
        + (f", task list last swept {when(swept)} (backend time)" if swept else "")
        + ". Filters, sorting and export apply to it here; nothing is asked of ICEYE."
    )


service = get_service()
st.title("All tasks")

contracts = state.contracts(service) or []
names = {ALL: "All contracts", **{c.id: c.name or c.id for c in contracts}}
# Search and status, the filters used most, are always in view; the others fold away with their
# values in the label, so that on a phone the filters do not fill the screen.
campaign_names = attempt("read the campaigns", service.campaigns.names) or {}
# Campaign filter only where there are campaigns (no empty control on an account without any).
common = st.columns(3 if campaign_names else 2)
common[0].text_input(
    "Search", key=keys.LIST_SEARCH.name, placeholder="Task ID or reference", persist_state="session"
)
common[1].multiselect(
    "Status",
    [s.value for s in TaskStatus],
    key=keys.LIST_STATUS.name,
    placeholder="Any status",
    persist_state="session",
)
if campaign_names:
    campaign_choices = {ALL: "Any campaign", **campaign_names}
    common[2].selectbox(
        "Campaign",
        list(campaign_choices),
        key=keys.LIST_CAMPAIGN.name,
        format_func=campaign_choices.__getitem__,
        persist_state="session",
        help="Only the tasks a campaign made (Campaigns lists them).",
    )
with st.expander(
    more_filters_label(names), key=keys.LIST_FILTERS.name, icon=":material/filter_list:"
):
    more = st.columns(4)
    more[0].selectbox(
        "Contract",
        list(names),
        key=keys.LIST_CONTRACT.name,
        format_func=names.__getitem__,
        persist_state="session",
    )
    more[1].date_input("Created from", value=None, key=keys.LIST_FROM.name, persist_state="session")
    more[2].date_input(
        "Created until", value=None, key=keys.LIST_UNTIL.name, persist_state="session"
    )
    more[3].selectbox("Sort", list(SORTS), key=keys.LIST_SORT.name, persist_state="session")
created_after, created_before = created_range(keys.LIST_FROM.get(), keys.LIST_UNTIL.get())
query = Query(
    contract_id=keys.LIST_CONTRACT.get() or None,
    created_after=created_after,
    created_before=created_before,
)
task_list = keys.TASK_LIST.get()
about = st.container()
# One line for how many tasks match and Refresh (the count is written once the list is known).
count_line, refresh_cell = st.columns([5, 1], vertical_alignment="center")
reload = refresh_cell.button(
    "Refresh",
    icon=":material/refresh:",
    help="Load the list again from the start.",
    width="stretch",
)
from_desk = service.worker_active()
if from_desk:
    stored = attempt("read the worker's copy of the tasks", service.history.known_tasks)
    task_list = stored_list(query, stored or [])
    # Not kept: should the worker stop, the page loads the list from ICEYE again.
    keys.TASK_LIST.pop()
    with about:
        show_worker_copy(service)
elif task_list is None or task_list.query != query or reload:
    task_list = TaskList(query)
    keys.TASK_LIST.set(task_list)
    load_page(service, task_list)
elif not task_list.loaded_pages:
    # The first page failed earlier: try again (Retry, or any rerun) instead of showing an
    # empty list as if there were no tasks.
    load_page(service, task_list)

task_campaigns = (
    attempt("read which campaign made each task", service.campaigns.task_campaigns) or {}
    if campaign_names
    else {}
)
chosen_campaign = keys.LIST_CAMPAIGN.get() or ALL
shown = select(
    in_campaign(
        task_list.tasks,
        task_campaigns,
        chosen_campaign if chosen_campaign in campaign_names else None,
    ),
    keys.LIST_STATUS.get() or [],
    keys.LIST_SEARCH.get() or "",
    keys.LIST_SORT.get() or "Newest first",
)
on_server = "" if task_list.complete else " (more on the server: Load more)"
count_line.caption(
    f"{len(shown)} of {len(task_list.tasks)} loaded tasks match{on_server}. Select a row to open it."
)

since = attempt("read the local task history", service.history.status_since, shown) or {}
table = frame(
    shown, since, {task_id: campaign_names.get(c, "") for task_id, c in task_campaigns.items()}
)
event = st.dataframe(
    coloured(table),
    key=keys.LIST_TABLE.name,
    on_select="rerun",
    selection_mode="single-row",
    hide_index=True,
    width="stretch",
    column_config={
        "Created": st.column_config.DatetimeColumn("Created (UTC)", format="YYYY-MM-DD HH:mm"),
        "Status seen": st.column_config.DatetimeColumn(
            "Status seen (UTC)",
            format="YYYY-MM-DD HH:mm",
            help="When this app first saw the task in its current status (local history).",
        ),
        "Window": st.column_config.TextColumn("Window (UTC)"),
        "Task ID": st.column_config.TextColumn("Task ID", width="small"),
        "Campaign": st.column_config.TextColumn(
            "Campaign", help="The campaign that made the task (issue 12), if any."
        ),
    },
)
rows = event.selection.rows if event is not None else []
if rows:
    state.open_task(str(table.iloc[rows[0]]["Task ID"]))

if (
    task_list.cursor
    and st.button("Load more", icon=":material/expand_more:")
    and load_page(service, task_list)
):
    st.rerun()  # only on success: a rerun would wipe the error (and its Retry) off the page

left, right = st.columns([3, 2], gap="large")
with left:
    st.markdown("#### On the map")
    task_map(shown)
with right:
    st.markdown("#### Export")
    st.caption(
        f"The {len(shown)} task{'' if len(shown) == 1 else 's'} shown in the table, "
        "as filtered and sorted. In GeoJSON a task is its scene's footprint where the scene is "
        "known (planned or actual), else its point."
    )
    st.download_button(
        "Download CSV",
        data=tasks_to_csv(shown).encode("utf-8-sig"),  # the BOM lets Excel read UTF-8
        file_name="tasks.csv",
        mime="text/csv",
        icon=":material/table_view:",
        on_click="ignore",
        disabled=not shown,
    )
    st.download_button(
        "Download GeoJSON",
        data=geojson_file(service, shown),  # footprints are worked out when it is pressed
        file_name="tasks.geojson",
        mime="application/geo+json",
        icon=":material/map:",
        on_click="ignore",
        disabled=not shown,
    )
    st.markdown("#### Clone")
    labels = {
        t.id: f"{t.reference or short_id(t.id)} · {t.imagingMode} · {t.status}" for t in shown
    }
    chosen = st.selectbox(
        "Task to clone",
        list(labels),
        index=None,
        format_func=labels.__getitem__,
        key=keys.LIST_CLONE.name,
        placeholder="Choose a task",
        help="Opens New task with its parameters and a fresh acquisition window.",
    )
    if st.button("Clone into a new task", icon=":material/content_copy:", disabled=chosen is None):
        open_clone(next(t for t in shown if t.id == chosen))
