"""The app's local database: one SQLAlchemy engine (SQLite in the data directory by default,
PostgreSQL when a team shares it), shared by the task history (``tasking.history``) and the order
journal (``tasking.journal``).

Its tables are made and changed only by the Alembic revisions in ``tasking/migrations``, which
``migrate`` applies at start-up. Portable types only; ``UtcDateTime`` keeps aware UTC datetimes on
every backend. Every database failure reaches callers as ``HistoryError`` (``guarded``,
``migrate``), naming the database without its password.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import DateTime, Dialect, create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from tasking.errors import HistoryError
from tasking.times import to_utc

__all__ = ["DEFAULT_URL", "UtcDateTime", "database_name", "guarded", "make_engine", "migrate"]

DEFAULT_URL = "sqlite:///.data/history.sqlite"
"""Relative to the working directory; ``.data/`` is git-ignored."""

# SQLite waits this long for another writer's lock before failing ("database is locked").
_BUSY_TIMEOUT_MS = 10_000

MIGRATIONS = Path(__file__).with_name("migrations")
"""The Alembic script directory (``env.py`` and ``versions/``), inside the package."""

# The key of the PostgreSQL advisory lock that lets one process at a time migrate a database: an
# arbitrary constant the app uses for nothing else. The lock ends with the migration's transaction.
_MIGRATION_LOCK_KEY = 0x1CE7_5704E


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend (a naive one in is UTC,
    as everywhere: ``tasking.times.to_utc``).

    SQLite's DATETIME keeps no offset, so UTC is stored naive there and re-labelled on the way out;
    PostgreSQL gets ``timestamp with time zone``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = to_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return to_utc(value)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL and a busy timeout, their folder is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        # One shared connection, or each connection would see its own empty in-memory database.
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers work while a writer commits; busy_timeout makes writers wait their turn.
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        _set_wal(cursor)
        cursor.close()

    return engine


def _set_wal(cursor: sqlite3.Cursor) -> None:
    # Switching a new file to WAL takes an exclusive lock, and SQLite answers "database is locked"
    # at once, without the busy timeout, while another process holds a lock on it (processes
    # starting at once on a new store): wait for it here instead, as long as the busy timeout.
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def migrate(engine: Engine) -> None:
    """Bring the store's tables to the newest revision of ``tasking/migrations``; called at
    start-up. Safe when several processes start at once: the whole upgrade is one transaction
    under a lock (PostgreSQL: an advisory lock; SQLite: the write lock, for which the others wait
    up to the busy timeout); whoever comes second finds the work done. A store made before
    migrations (tables, no ``alembic_version``) is adopted as it is. Raises ``HistoryError``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            _lock_for_migration(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except CommandError as error:  # e.g. a revision newer than this app: another app version
        raise HistoryError(
            f"The local store ({database_name(engine)}) cannot be migrated: {error}; "
            "is another version of the app using it?"
        ) from error
    except SQLAlchemyError as error:
        raise HistoryError(
            f"The local store ({database_name(engine)}) cannot be migrated: {type(error).__name__}"
        ) from error


def _lock_for_migration(connection: Connection) -> None:
    """Serialise migrations across processes until ``connection``'s transaction ends."""
    backend = connection.dialect.name
    if backend == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    elif backend == "sqlite":
        # pysqlite opens no transaction before DDL by itself; BEGIN IMMEDIATE takes the write
        # lock now, so the check for existing tables and the creation cannot interleave.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def database_name(engine: Engine | None) -> str:
    """The database's URL without its password or query (which may carry one: ``?password=``),
    for messages and logs."""
    if engine is None:
        return "database"
    return engine.url.set(query={}).render_as_string(hide_password=True)


P = ParamSpec("P")
R = TypeVar("R")


def guarded(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Database failures of a method become ``HistoryError`` (the tasking error tree the pages
    catch): "The <what> (<database>) failed: <kind>". The instance's ``_engine`` names the database."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except SQLAlchemyError as error:
                where = database_name(getattr(args[0], "_engine", None))
                raise HistoryError(
                    f"The {what} ({where}) failed: {type(error).__name__}"
                ) from error

        return wrapper

    return decorate
