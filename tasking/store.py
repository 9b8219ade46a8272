"""The app's local database: one SQLAlchemy engine (SQLite by default, any SQLAlchemy URL), shared
by the task history (``tasking.history``) and the order journal (``tasking.journal``).

Portable types only; ``UtcDateTime`` keeps aware UTC datetimes on every backend. Every database
failure reaches callers as ``HistoryError`` (``guarded``), naming the database without its password.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import DateTime, Dialect, MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from tasking.errors import HistoryError
from tasking.times import to_utc

__all__ = ["DEFAULT_URL", "UtcDateTime", "create_tables", "database_name", "guarded", "make_engine"]

DEFAULT_URL = "sqlite:///.data/history.sqlite"
"""Relative to the working directory; ``.data/`` is git-ignored."""

# SQLite waits this long for another writer's lock before failing ("database is locked").
_BUSY_TIMEOUT_MS = 10_000


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
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


def create_tables(metadata: MetaData, engine: Engine) -> None:
    """Create what is missing; another instance creating the same tables at once is not an error."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except (OperationalError, ProgrammingError):
        metadata.create_all(engine, checkfirst=True)


def database_name(engine: Engine | None) -> str:
    """The database's URL without its password (for messages and logs)."""
    return engine.url.render_as_string(hide_password=True) if engine else "database"


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
