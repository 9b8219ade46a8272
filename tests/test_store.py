"""The local store's column types: aware UTC in and out on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from tasking.store import UtcDateTime, make_engine

HELSINKI_SUMMER = timezone(timedelta(hours=3))


@pytest.mark.parametrize(
    "stored",
    [
        datetime(2026, 5, 1, 11, 0, tzinfo=HELSINKI_SUMMER),
        datetime(2026, 5, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 5, 1, 8, 0),  # naive means UTC, never the machine's local time
    ],
)
def test_a_datetime_comes_back_as_the_same_instant_in_aware_utc(stored: datetime) -> None:
    engine = make_engine("sqlite://")
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime)
    )
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(table).values(id=1, at=stored))
        read = connection.execute(select(table.c.at)).scalar_one()
    assert read == datetime(2026, 5, 1, 8, 0, tzinfo=UTC) and read.tzinfo is UTC
