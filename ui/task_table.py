"""All tasks: the loaded list (cursor pagination), client-side filters, sorting and the table rows.

The API filters by contract and creation date (getTasks ``contractID``, ``createdAfter``,
``createdBefore``) and pages with a cursor; status and text search are applied here to what has
been loaded (the API has no such filters), and the page says how many tasks that covers.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from pandas.io.formats.style import Styler

from tasking.models import Task, to_utc
from ui.format import STATUS_CHIPS, UNKNOWN_STATUS_CHIP, listing, status_chip

PAGE_SIZE = 50
"""Tasks per request (getTasks accepts 1..100, iceye-api.md §1.1)."""

SORTS: dict[str, tuple[str, bool]] = {
    "Newest first": ("created", False),
    "Oldest first": ("created", True),
    "Window start": ("window_start", True),
    "Status": ("status", True),
    "Reference": ("reference", True),
}

# Status next to the reference, so that a phone's narrow table shows both without scrolling.
COLUMNS = (
    "Reference",
    "Status",
    "Status seen",
    "Campaign",
    "Mode",
    "Window",
    "Created",
    "SLA",
    "Product types",
    "Task ID",
)


@dataclass(frozen=True)
class Query:
    """The server-side filters; a new query starts the list again from its first page."""

    contract_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass
class TaskList:
    query: Query
    tasks: list[Task] = field(default_factory=list)
    cursor: str | None = None
    loaded_pages: int = 0

    @property
    def complete(self) -> bool:
        return self.loaded_pages > 0 and self.cursor is None

    def add_page(self, tasks: Iterable[Task], cursor: str | None) -> None:
        known = {t.id for t in self.tasks}
        self.tasks.extend(t for t in tasks if t.id not in known)
        self.cursor = cursor or None
        self.loaded_pages += 1


def in_query(task: Task, query: Query) -> bool:
    """The server-side filters applied here (to the worker's copy of the task list)."""
    if query.contract_id is not None and task.contractID != query.contract_id:
        return False
    created = to_utc(task.createdAt)
    if query.created_after is not None and created < query.created_after:
        return False
    return query.created_before is None or created < query.created_before


def stored_list(query: Query, tasks: Iterable[Task]) -> TaskList:
    """The whole list for ``query`` from stored documents: complete, nothing more to load."""
    task_list = TaskList(query)
    task_list.add_page([t for t in tasks if in_query(t, query)], None)
    return task_list


def matches(task: Task, statuses: Sequence[str], search: str) -> bool:
    """Status among ``statuses`` (all when empty) and ``search`` in the id or the reference."""
    if statuses and task.status not in statuses:
        return False
    needle = search.strip().casefold()
    if not needle:
        return True
    return needle in task.id.casefold() or needle in (task.reference or "").casefold()


def _sort_value(task: Task, key: str) -> object:
    if key == "created":
        return to_utc(task.createdAt)
    if key == "window_start":
        return to_utc(task.acquisitionWindow.start)
    if key == "status":
        return task.status
    return (task.reference or "").casefold()


def select(tasks: Sequence[Task], statuses: Sequence[str], search: str, sort: str) -> list[Task]:
    key, ascending = SORTS.get(sort, SORTS["Newest first"])
    chosen = [t for t in tasks if matches(t, statuses, search)]
    return sorted(chosen, key=lambda t: _sort_value(t, key), reverse=not ascending)  # type: ignore[arg-type,return-value]


def in_campaign(
    tasks: Sequence[Task], task_campaigns: Mapping[str, str], campaign_id: str | None
) -> list[Task]:
    """The tasks made by the campaign ``campaign_id`` (all of them when it is None or empty);
    ``task_campaigns`` is task id → campaign id (``CampaignStore.task_campaigns``)."""
    if not campaign_id:
        return list(tasks)
    return [t for t in tasks if task_campaigns.get(t.id) == campaign_id]


def frame(
    tasks: Sequence[Task],
    since: Mapping[str, datetime] | None = None,
    campaigns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per task with the columns of issue 4 (and the id, to open it); ``since`` is when
    the local history first saw each task in its current status (a real time, across restarts);
    ``campaigns`` is task id → the name of the campaign that made it (issue 12)."""
    since = since or {}
    campaigns = campaigns or {}
    rows = [
        {
            "Reference": task.reference or "",
            "Mode": task.imagingMode,
            "Window": (
                f"{to_utc(task.acquisitionWindow.start):%Y-%m-%d %H:%M} → "
                f"{to_utc(task.acquisitionWindow.end):%Y-%m-%d %H:%M}"
            ),
            "Status": task.status,
            "Status seen": (
                to_utc(since[task.id]).replace(tzinfo=None) if task.id in since else None
            ),
            "Campaign": campaigns.get(task.id, ""),
            "Created": to_utc(task.createdAt).replace(tzinfo=None),
            "SLA": task.sla or "",
            "Product types": listing(task.productTypes, ""),
            "Task ID": task.id,
        }
        for task in tasks
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


# Status colours of the map markers, clusters, legend and table: the app's one status mapping
# (``ui.format.STATUS_CHIPS``, the Monitor's chips), as the hex colours HTML and Leaflet take.
STATUS_COLOURS = {status: chip.hex for status, chip in STATUS_CHIPS.items()}
OTHER_COLOUR = UNKNOWN_STATUS_CHIP.hex
# A map with more markers than this is unreadable and slow to send; the table has them all.
MAX_MARKERS = 500


def coloured(table: pd.DataFrame) -> Styler:
    """The table with each status written in its colour (the map's and the legend's)."""
    return table.style.map(
        lambda status: f"color: {status_chip(status).hex}; font-weight: 600",
        subset=["Status"],
    )


def created_range(
    after: date | None, until: date | None
) -> tuple[datetime | None, datetime | None]:
    """Dates from the filter as the API's ``createdAfter``/``createdBefore`` (UTC, ``until``
    inclusive: the day after it at midnight)."""
    start = datetime.combine(after, time.min, tzinfo=UTC) if after else None
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC) if until else None
    return start, end


def legend_html(counts: Mapping[str, int] | None = None) -> str:
    """The colours' legend; with ``counts`` (status → tasks), only the statuses present, each
    with its number of tasks."""
    shown = [
        (status, colour, None if counts is None else counts.get(status, 0))
        for status, colour in STATUS_COLOURS.items()
    ]
    if counts is not None:
        shown = [item for item in shown if item[2]]
        others = sum(n for status, n in counts.items() if status not in STATUS_COLOURS)
        if others:
            shown.append(("other", OTHER_COLOUR, others))
    items = "".join(
        f'<span style="margin-right:0.9rem;white-space:nowrap">'
        f'<span style="color:{colour}">●</span> {html.escape(status.title())}'
        f"{'' if count is None else f' {count}'}</span> "
        for status, colour, count in shown
    )
    return f'<div style="font-size:0.85rem">{items}</div>'
