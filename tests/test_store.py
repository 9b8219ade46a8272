"""The local store on SQLite and PostgreSQL (``store_url``): its column types, and the migrations
that make its tables at start-up, from empty, over a store made before migrations, and from
several processes at once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, insert, inspect, select, text
from sqlalchemy.engine import Engine

from tasking import campaigns, desk, history, journal, series
from tasking.errors import HistoryError
from tasking.store import MIGRATIONS, UtcDateTime, make_engine, migrate

HELSINKI_SUMMER = timezone(timedelta(hours=3))
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()
ROOT = Path(__file__).parent.parent


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def declared(
    modules: tuple[Any, ...] = (history, journal, desk, campaigns, series), *, later: bool = True
) -> MetaData:
    """Every table the store's modules query, in one MetaData (without ``later``: only those of
    their ``metadata``, not the ``later_metadata`` of tables added by later revisions)."""
    metadata = MetaData()
    for module in modules:
        for table in module.metadata.tables.values():
            table.to_metadata(metadata)
        added = getattr(module, "later_metadata", None) if later else None
        for table in added.tables.values() if added is not None else ():
            table.to_metadata(metadata)
    return metadata


def legacy() -> MetaData:
    """The tables the app made with ``create_all`` before migrations (history and journal)."""
    return declared((history, journal), later=False)


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema(engine: Engine, only: MetaData | None = None) -> dict[str, Any]:
    """What a newcomer's database would look like: every table's columns, keys and indexes
    (only those of ``only``'s tables, when given)."""
    inspector = inspect(engine)
    described: dict[str, Any] = {}
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    if only is not None:
        tables &= set(only.tables)
    for table in sorted(tables):
        described[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
        }
    if engine.dialect.name == "sqlite":  # there the exact DDL is kept: compare it too
        with engine.connect() as connection:
            described["ddl"] = sorted(
                (name, sql)
                for name, table, sql in connection.execute(
                    text(
                        "SELECT name, tbl_name, sql FROM sqlite_master "
                        "WHERE name NOT LIKE '%alembic%'"
                    )
                ).all()
                if table in tables
            )
    return described


@pytest.mark.parametrize(
    "stored",
    [
        datetime(2026, 5, 1, 11, 0, tzinfo=HELSINKI_SUMMER),
        datetime(2026, 5, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 5, 1, 8, 0),  # naive means UTC, never the machine's local time
    ],
)
def test_a_datetime_comes_back_as_the_same_instant_in_aware_utc(
    engine: Engine, stored: datetime
) -> None:
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime)
    )
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(table).values(id=1, at=stored))
        read = connection.execute(select(table.c.at)).scalar_one()
    assert read == datetime(2026, 5, 1, 8, 0, tzinfo=UTC) and read.tzinfo is UTC


def test_migrating_an_empty_store_makes_the_tables_the_modules_declare(engine: Engine) -> None:
    migrate(engine)
    assert revision(engine) == HEAD
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), declared()
        )
    assert differences == []


def test_the_migrations_make_exactly_the_tables_create_all_made_before(engine: Engine) -> None:
    legacy().create_all(engine)
    before = schema(engine)
    legacy().drop_all(engine)
    migrate(engine)
    assert schema(engine, legacy()) == before


def test_migrating_again_changes_nothing(engine: Engine) -> None:
    migrate(engine)
    before = schema(engine)
    migrate(engine)
    assert schema(engine) == before and revision(engine) == HEAD


def test_a_store_made_by_create_all_is_adopted_with_its_data(engine: Engine) -> None:
    metadata = legacy()
    metadata.create_all(engine)  # what the app did before migrations
    seen = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(metadata.tables["task_status_events"]),
            {"task_id": "task-1", "status": "ACTIVE", "seen_at": seen},
        )
    before = schema(engine)
    migrate(engine)
    assert revision(engine) == HEAD and schema(engine, legacy()) == before
    assert history.TaskHistory(engine).first_seen("task-1") == {"ACTIVE": seen}


def test_a_store_made_before_the_order_journal_is_adopted_and_gets_its_table(
    engine: Engine,
) -> None:
    history.metadata.create_all(engine)
    journal.OrderJournal(engine)  # migrates
    assert revision(engine) == HEAD
    assert {"task_documents", "task_status_events", "orders"} <= set(
        inspect(engine).get_table_names()
    )


def test_a_store_migrated_by_a_newer_app_is_a_history_error_saying_so(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
    with pytest.raises(HistoryError, match="another version of the app"):
        history.TaskHistory(engine)


# Each process makes its engine, says it is ready, and migrates when the test says go.
MIGRATE_ON_GO = """
import sys
from tasking.store import make_engine, migrate
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
migrate(engine)
"""


def test_processes_starting_at_once_migrate_the_store_once(store_url: str) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_ON_GO, store_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(4)
    ]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outcomes = [(p.communicate(timeout=60)[1], p.returncode) for p in processes]
    finally:
        for process in processes:
            process.kill()
    assert outcomes == [("", 0)] * 4  # no error output, exit code 0
    engine = make_engine(store_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert versions == [(HEAD,)]
    engine.dispose()
