"""Plain-text formatting shared by the pages: times, windows, money, option lists, and the one
mapping of task statuses to chip colours (``status_chip``).

Every time the app shows is UTC (ICEYE's API speaks UTC only, iceye-api.md §1), written the same way
everywhere so that a window, a scene time and the simulation clock can be compared at a glance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tasking.models import TimeWindow
from tasking.times import to_utc


def when(value: datetime | None, *, seconds: bool = False) -> str:
    """``2026-05-02 14:00 UTC`` (or ``—`` when unknown)."""
    if value is None:
        return "—"
    spec = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return to_utc(value).strftime(spec)


def moment(value: datetime, now: datetime | None) -> str:
    """``14:05 UTC`` on ``now``'s UTC day, ``2026-05-03 14:05 UTC`` on another (or without one)."""
    if now is not None and to_utc(value).date() == to_utc(now).date():
        return to_utc(value).strftime("%H:%M UTC")
    return when(value)


def window(value: TimeWindow | None) -> str:
    """``2026-05-02 14:00 → 2026-05-04 14:00 UTC``."""
    if value is None:
        return "—"
    start, end = to_utc(value.start), to_utc(value.end)
    return f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"


def duration(delta: timedelta) -> str:
    """A short human duration: ``3 d 4 h``, ``5 h 12 min``, ``42 s``; negative values get ``-``."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes} min"
    if minutes:
        return f"{sign}{minutes} min"
    return f"{sign}{secs} s"


def money(amount_minor: int | None, currency: str) -> str:
    """Minor units (ICEYE amounts are in cents, iceye-api.md §3.2) as ``USD 1,234.56``."""
    if amount_minor is None:
        return "—"
    return f"{currency} {amount_minor / 100:,.2f}"


def listing(values: Iterable[str] | None, empty: str = "—") -> str:
    items = list(values or [])
    return ", ".join(items) if items else empty


def short_id(task_id: str) -> str:
    """The first block of a UUID: enough to tell tasks apart on screen."""
    return task_id.split("-", 1)[0]


def utc_naive(value: datetime) -> datetime:
    """A UTC wall time without tzinfo, the form Streamlit's datetime widgets hold."""
    return to_utc(value).replace(tzinfo=None)


def from_widget(value: datetime | None) -> datetime | None:
    """A datetime widget's naive value, read as UTC (the labels say UTC)."""
    return None if value is None else to_utc(value)


_MARKDOWN_SPECIAL = "\\`*_{}[]()<>#+-.!|~$"


def code(text: str) -> str:
    """Text as inline code (backslash escapes do not work inside code spans: drop backticks)."""
    return "`" + text.replace("`", "'") + "`"


def plain(text: str) -> str:
    """Text from outside (server messages, user input) made inert for ``st.markdown``: every
    Markdown control character is backslash-escaped, and HTML is escaped as well."""
    escaped = "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in text)
    return escaped.replace("\n", "  \n")


# --- task status chips -----------------------------------------------------------------------

BadgeColour = Literal[
    "red", "orange", "yellow", "blue", "green", "violet", "gray", "grey", "primary"
]
"""The colours ``st.badge`` accepts."""


@dataclass(frozen=True)
class StatusChip:
    """How a task status is drawn wherever it appears: ``colour`` is one of ``st.badge``'s
    colours, ``hex`` the same colour for maps and HTML (Streamlit's palette), ``icon`` a
    Material icon."""

    colour: BadgeColour
    hex: str
    icon: str


# Grey while waiting, blue while planned, greens once delivered (SLA products, then all); red for
# a rejection, orange for a failure, brown (a yellow chip) for a cancel. The map markers and the
# legend of All tasks use the same hex colours.
STATUS_CHIPS: dict[str, StatusChip] = {
    "RECEIVED": StatusChip("gray", "#8a99a8", ":material/inbox:"),
    "ACTIVE": StatusChip("blue", "#0b6bcb", ":material/event_available:"),
    "FULFILLED": StatusChip("green", "#14866d", ":material/download_done:"),
    "DONE": StatusChip("green", "#2e7d32", ":material/check_circle:"),
    "REJECTED": StatusChip("red", "#c62828", ":material/block:"),
    "CANCELED": StatusChip("yellow", "#795548", ":material/cancel:"),
    "FAILED": StatusChip("orange", "#e65100", ":material/error:"),
}
UNKNOWN_STATUS_CHIP = StatusChip("gray", "#5b6b78", ":material/help:")
"""A status this app does not know (ICEYE may add one): drawn neutral, never as an error."""


def status_chip(status: str | None) -> StatusChip:
    """The one status → colour mapping of the app (the Monitor's chip, tables, maps)."""
    return STATUS_CHIPS.get((status or "").upper(), UNKNOWN_STATUS_CHIP)
