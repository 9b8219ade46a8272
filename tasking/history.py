"""Local history of every task the app has seen (SQLAlchemy Core, any database URL).

Two tables, portable types only:

* ``task_documents``: the last known task document (JSON text) per task id. A new document is
  merged over the stored one, so fields a list item lacks (``deliveries``, ``notifications``) are
  kept from an earlier getTask; a document older than the stored one (by ``updatedAt``) never
  overwrites newer values.
* ``task_status_events``: one row per (task, status) with the time the app FIRST saw that status;
  a unique constraint on (task_id, status) keeps it so across threads, processes and app instances.

Thread safety: one lock per instance serialises its database work (the app shares one instance
between Streamlit sessions); the unique constraints and primary key settle races with other
processes, which end in an ``IntegrityError`` that is caught and read as "already recorded".
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pydantic
from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from tasking.errors import HistoryError
from tasking.models import Task

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///.data/history.sqlite"
"""Relative to the working directory; ``.data/`` is git-ignored."""

# SQLite waits this long for another writer's lock before failing ("database is locked").
_BUSY_TIMEOUT_MS = 10_000


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite's DATETIME keeps no offset, so UTC is stored naive there and re-labelled on the way out;
    PostgreSQL gets ``timestamp with time zone``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_metadata = MetaData()
_documents = Table(
    "task_documents",
    _metadata,
    Column("task_id", String(64), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("updated_at", UtcDateTime, nullable=True),
    Column("document", Text, nullable=False),
)
_events = Table(
    "task_status_events",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    UniqueConstraint("task_id", "status", name="uq_task_status"),
)


@dataclass(frozen=True)
class StatusEvent:
    task_id: str
    status: str
    seen_at: datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _make_engine(url: str) -> Engine:
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


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


P = ParamSpec("P")
R = TypeVar("R")


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Database failures become ``HistoryError`` (the tasking error tree the pages catch), naming
    the database without its password."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as error:
            engine = getattr(args[0], "_engine", None)
            where = engine.url.render_as_string(hide_password=True) if engine else "database"
            raise HistoryError(
                f"The local task history ({where}) failed: {type(error).__name__}"
            ) from error

    return wrapper


class TaskHistory:
    """Status changes (with the time each was first seen) and the last known document per task."""

    @_guarded
    def __init__(self, url: str = DEFAULT_URL, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._engine = _make_engine(url)
        try:
            _metadata.create_all(self._engine, checkfirst=True)
        except (OperationalError, ProgrammingError):
            # Another instance created the tables between our check and our CREATE.
            _metadata.create_all(self._engine, checkfirst=True)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the history clock must return an aware datetime (UTC)")
        return now.astimezone(UTC)

    # --- writing -----------------------------------------------------------------------------

    @_guarded
    def record(self, task: Task) -> list[StatusEvent]:
        """Store the task's document and, if its status is new for it, a status event.

        Returns the events recorded by this call (empty when the status was already known).
        """
        with self._lock:
            self._store_document(task)
            return self._store_status(task)

    @_guarded
    def record_all(self, tasks: Iterable[Task]) -> list[StatusEvent]:
        """``record`` for each task (e.g. one page of the task list); all new events."""
        events: list[StatusEvent] = []
        for task in tasks:
            events.extend(self.record(task))
        return events

    def _store_document(self, task: Task) -> None:
        incoming = task.model_dump(mode="json", by_alias=True, exclude_none=True)
        key = _documents.c.task_id == task.id
        for attempt in range(2):
            try:
                with self._engine.begin() as conn:
                    stored_json = conn.execute(select(_documents.c.document).where(key)).scalar()
                    if stored_json is None:
                        conn.execute(insert(_documents).values(**self._row(task, incoming)))
                        return
                    stored = json.loads(stored_json)
                    merged = self._merge(stored, incoming)
                    if merged != stored:
                        conn.execute(
                            update(_documents).where(key).values(**self._row(task, merged))
                        )
                    return
            except IntegrityError:
                # Another process inserted this task between our SELECT and INSERT: merge over
                # its row on the second attempt.
                if attempt:
                    raise

    @staticmethod
    def _merge(stored: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
        stored_at = _parse_time(stored.get("updatedAt"))
        incoming_at = _parse_time(incoming.get("updatedAt"))
        if stored_at is not None and (incoming_at is None or incoming_at < stored_at):
            return {**incoming, **stored}  # incoming is stale: it may only fill gaps
        return {**stored, **incoming}

    @staticmethod
    def _row(task: Task, document: dict[str, Any]) -> dict[str, Any]:
        return {
            "task_id": task.id,
            "created_at": _parse_time(document.get("createdAt")) or task.createdAt,
            "updated_at": _parse_time(document.get("updatedAt")),
            "document": json.dumps(document, ensure_ascii=False, sort_keys=True),
        }

    def _store_status(self, task: Task) -> list[StatusEvent]:
        with self._engine.begin() as conn:
            if self._has_status(conn, task.id, task.status):
                return []
        event_ = StatusEvent(task.id, task.status, self._now())
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(_events).values(
                        task_id=event_.task_id, status=event_.status, seen_at=event_.seen_at
                    )
                )
        except IntegrityError:
            log.debug("status %s of task %s recorded concurrently", task.status, task.id)
            return []
        return [event_]

    @staticmethod
    def _has_status(conn: Connection, task_id: str, status: str) -> bool:
        query = select(_events.c.id).where(_events.c.task_id == task_id, _events.c.status == status)
        return conn.execute(query).first() is not None

    # --- reading -----------------------------------------------------------------------------

    @_guarded
    def events(self, task_id: str) -> list[StatusEvent]:
        """The task's status events, oldest first; empty for an unknown task."""
        query = (
            select(_events.c.status, _events.c.seen_at)
            .where(_events.c.task_id == task_id)
            .order_by(_events.c.seen_at, _events.c.id)
        )
        with self._lock, self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [StatusEvent(task_id, status, seen_at) for status, seen_at in rows]

    @_guarded
    def status_since(self, tasks: Iterable[Task]) -> dict[str, datetime]:
        """Task id → when the app first saw it in its current status (one query for the list)."""
        wanted = {task.id: task.status for task in tasks}
        if not wanted:
            return {}
        query = select(_events.c.task_id, _events.c.status, _events.c.seen_at).where(
            _events.c.task_id.in_(list(wanted))
        )
        with self._lock, self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return {tid: seen for tid, status, seen in rows if wanted.get(tid) == status}

    @_guarded
    def first_seen(self, task_id: str) -> dict[str, datetime]:
        """Status → the time the app first saw the task in it."""
        return {e.status: e.seen_at for e in self.events(task_id)}

    @_guarded
    def get(self, task_id: str) -> Task | None:
        """The last known document of a task, or None if the app never saw it."""
        query = select(_documents.c.document).where(_documents.c.task_id == task_id)
        with self._lock, self._engine.connect() as conn:
            document = conn.execute(query).scalar()
        return None if document is None else self._task(task_id, document)

    @_guarded
    def known_tasks(self, limit: int | None = None) -> list[Task]:
        """Last known documents of all tasks seen, newest created first."""
        query = select(_documents.c.task_id, _documents.c.document).order_by(
            _documents.c.created_at.desc(), _documents.c.task_id
        )
        if limit is not None:
            query = query.limit(limit)
        with self._lock, self._engine.connect() as conn:
            rows = conn.execute(query).all()
        tasks = (self._task(task_id, document) for task_id, document in rows)
        return [t for t in tasks if t is not None]

    @staticmethod
    def _task(task_id: str, document: str) -> Task | None:
        try:
            return Task.model_validate_json(document)
        except pydantic.ValidationError:
            # Kept in the database untouched; a later model version may read it again.
            log.warning("stored document of task %s no longer matches the Task model", task_id)
            return None
