"""Time, one way everywhere: aware UTC inside, RFC 3339 with ``Z`` on the wire.

ICEYE's API speaks UTC only (iceye-api.md §1), so a time that carries no offset (naive) is UTC,
never the machine's local time: ``to_utc`` and ``parse_time`` read it so. Code that puts physics
on an absolute timeline (orbits, passes, signed links) takes datetimes from other code rather than
from the wire, and refuses naive ones instead (``require_aware``): there a missing zone is a
caller's mistake worth naming.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "format_rfc3339",
    "parse_http_date",
    "parse_time",
    "parse_time_or_none",
    "require_aware",
    "to_utc",
    "utc_now",
]


def utc_now() -> datetime:
    """The machine's clock, aware UTC (the default of every injectable clock)."""
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken as UTC (ICEYE's output is always UTC ``Z``).

    ``ValueError`` (not ``OverflowError``) when UTC cannot hold it (year 1 or 9999 with an offset
    that leaves the years 1..9999), so that validators read it as invalid input.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} is outside the years 1..9999 once converted to UTC"
        ) from None


def format_rfc3339(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: seconds, or microseconds when there are any."""
    value = to_utc(value)
    spec = "microseconds" if value.microsecond else "seconds"
    return value.isoformat(timespec=spec).replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Aware UTC from RFC 3339 / ISO 8601 text (``Z``, ``z`` or an offset; none means UTC).

    Raises ``ValueError`` on text that is not a time.
    """
    text = text.strip()
    if text[-1:] == "z":  # RFC 3339 §5.6 allows lower case; fromisoformat reads only "Z"
        text = text[:-1] + "Z"
    return to_utc(datetime.fromisoformat(text))


def parse_time_or_none(value: object) -> datetime | None:
    """``parse_time`` for tolerant readers: None for anything that is not a readable time."""
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def parse_http_date(value: str | None) -> datetime | None:
    """Aware UTC from an HTTP date (``Date``, ``Retry-After``: RFC 9110 §5.6.7); None when absent
    or unreadable. A ``-0000`` zone (RFC 5322: unknown) parses naive: HTTP dates are GMT."""
    if not value:
        return None
    try:
        return to_utc(parsedate_to_datetime(value))
    except (TypeError, ValueError):
        return None


def require_aware(value: datetime, name: str) -> datetime:
    """``value`` in UTC, or ``InputError`` (rule ``aware-datetime``) when it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        # Imported here: tasking.errors reads HTTP dates with this module.
        from tasking.errors import InputError

        raise InputError(
            f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}",
            field=name,
            rule="aware-datetime",
        )
    return value.astimezone(UTC)
