"""Time in one place: naive means UTC, ``Z`` and offsets are read, HTTP dates are GMT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tasking.errors import InputError
from tasking.times import (
    format_rfc3339,
    parse_http_date,
    parse_time,
    parse_time_or_none,
    require_aware,
    to_utc,
)

NOON = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-02T12:00:00Z",
        "2026-05-02T12:00:00z",
        "2026-05-02T12:00:00+00:00",
        "2026-05-02T14:00:00+02:00",
        "2026-05-02T12:00:00",
        "2026-05-02 12:00:00",
        " 2026-05-02T12:00:00.000000Z ",
    ],
)
def test_every_spelling_of_one_instant_parses_to_the_same_aware_utc_time(text: str) -> None:
    parsed = parse_time(text)
    assert parsed == NOON
    assert parsed.tzinfo is UTC


def test_a_naive_time_is_utc_never_the_machines_local_time() -> None:
    assert parse_time("2026-05-02T12:00:00") == NOON
    assert to_utc(datetime(2026, 5, 2, 12, 0)) == NOON


def test_bad_text_raises_value_error_and_the_tolerant_reader_gives_none() -> None:
    with pytest.raises(ValueError):
        parse_time("yesterday")
    assert parse_time_or_none("yesterday") is None
    assert parse_time_or_none(None) is None
    assert parse_time_or_none(1746187200) is None
    assert parse_time_or_none("2026-05-02T12:00:00Z") == NOON


def test_format_and_parse_round_trip_in_utc_with_z() -> None:
    local = NOON.astimezone(timezone(timedelta(hours=3)))
    assert format_rfc3339(local) == "2026-05-02T12:00:00Z"
    assert format_rfc3339(NOON + timedelta(microseconds=5)) == "2026-05-02T12:00:00.000005Z"
    assert parse_time(format_rfc3339(local)) == local


@pytest.mark.parametrize(
    "header",
    [
        "Sat, 02 May 2026 12:00:00 GMT",
        "Sat, 02 May 2026 12:00:00 -0000",
        "Sat, 02 May 2026 14:00:00 +0200",
    ],
)
def test_http_dates_are_read_as_aware_utc(header: str) -> None:
    assert parse_http_date(header) == NOON


@pytest.mark.parametrize("header", [None, "", "not a date"])
def test_a_missing_or_unreadable_http_date_is_none(header: str | None) -> None:
    assert parse_http_date(header) is None


def test_require_aware_refuses_a_naive_datetime_naming_the_rule() -> None:
    assert require_aware(NOON.astimezone(timezone(timedelta(hours=-5))), "t") == NOON
    with pytest.raises(InputError, match="t must be timezone-aware") as caught:
        require_aware(datetime(2026, 5, 2, 12, 0), "t")
    assert caught.value.violations[0].rule == "aware-datetime"
