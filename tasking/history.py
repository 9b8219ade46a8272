"""Local history of every task the app has seen (SQLAlchemy Core, any database URL).

Three tables, portable types only (created and changed by ``tasking/migrations``):

* ``task_documents``: the last known task document (JSON text) per task id. A new document is
  merged over the stored one, so fields a list item lacks (``deliveries``, ``notifications``) are
  kept from an earlier getTask; a document older than the stored one (by ``updatedAt``) never
  overwrites newer values.
* ``task_status_events``: one row per (task, status) with the time the app FIRST saw that status;
  a unique constraint on (task_id, status) keeps it so across threads, processes and app instances.
* ``planned_scenes``: the last planned scene seen per task (JSON text) and when the app first saw
  that plan. ICEYE's getScene gives the captured scene once a task is FULFILLED, so without it a
  reload of the Monitor would lose the plan it was compared with.

Thread safety: one lock per instance serialises its database work (the app shares one instance
between Streamlit sessions); the unique constraints and primary key settle races with other
processes, which end in an ``IntegrityError`` that is caught and read as "already recorded". Each
attempt is its own transaction: on PostgreSQL a failed statement spoils the transaction it ran in.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from tasking.errors import TaskingError
from tasking.models import Scene, Task
from tasking.store import DEFAULT_URL, UtcDateTime, guarded, make_engine, migrate
from tasking.times import parse_time_or_none, utc_now

__all__ = [
    "DEFAULT_URL",
    "PlannedScene",
    "StatusEvent",
    "TaskHistory",
    "later_metadata",
    "metadata",
]

log = logging.getLogger(__name__)

_guarded = guarded("local task history")
_IN_CHUNK = 500
"""Ids per ``IN (...)`` (SQLite allows 32,766 parameters; PostgreSQL many more)."""

metadata = MetaData()
"""The history's tables as the queries see them; ``tasking/migrations`` makes them so."""
_documents = Table(
    "task_documents",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("updated_at", UtcDateTime, nullable=True),
    Column("document", Text, nullable=False),
)
_events = Table(
    "task_status_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    UniqueConstraint("task_id", "status", name="uq_task_status"),
)

later_metadata = MetaData()
"""Tables of the history added by later revisions (``0003_planned_scenes``); kept apart from
``metadata``, which stays what the app made with ``create_all`` before migrations."""
_planned = Table(
    "planned_scenes",
    later_metadata,
    Column("task_id", String(64), primary_key=True),
    Column("scene", Text, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class PlannedScene:
    """A task's planned scene as the app last saw it, and when it first saw that plan."""

    scene: Scene
    seen_at: datetime


@dataclass(frozen=True)
class StatusEvent:
    task_id: str
    status: str
    seen_at: datetime


class TaskHistory:
    """Status changes (with the time each was first seen) and the last known document per task."""

    @_guarded
    def __init__(
        self,
        url: str | Engine = DEFAULT_URL,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``url``: a database URL, or the engine of a store shared with the order journal (then
        ``close`` leaves it to its owner). Migrates the store to the newest revision."""
        self._clock = clock
        self._lock = threading.Lock()
        self._owns_engine = not isinstance(url, Engine)
        self._engine = make_engine(url) if isinstance(url, str) else url
        migrate(self._engine)

    def close(self) -> None:
        """Release the database connections (of an engine this history made itself)."""
        if self._owns_engine:
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

    @_guarded
    def import_new(self, tasks: Iterable[tuple[Task, datetime]]) -> int:
        """The tasks this history does not know yet, each with its status at the given time, in
        one transaction (a worker importing an account: thousands at once). Known tasks are left
        alone. Returns how many were new."""
        pairs = list(tasks)
        if not pairs:
            return 0
        ids = [task.id for task, _ in pairs]
        with self._lock, self._engine.begin() as conn:
            known: set[str] = set()
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                known.update(
                    conn.execute(
                        select(_documents.c.task_id).where(_documents.c.task_id.in_(chunk))
                    ).scalars()
                )
            new = [(t, at) for t, at in pairs if t.id not in known]
            if not new:
                return 0
            documents = [
                self._row(t, t.model_dump(mode="json", by_alias=True, exclude_none=True))
                for t, _ in new
            ]
            conn.execute(insert(_documents), documents)
            conn.execute(
                insert(_events),
                [{"task_id": t.id, "status": t.status, "seen_at": at} for t, at in new],
            )
        return len(new)

    @_guarded
    def record_status(self, task_id: str, status: str, seen_at: datetime) -> bool:
        """A status the task reached at ``seen_at`` (backend time), e.g. from a verified webhook
        callback: kept if the task was not known in it, or moved earlier if it was recorded
        later than that (a status first noticed late, then told exactly by its callback)."""
        with self._lock:
            with self._engine.begin() as conn:
                if self._has_status(conn, task_id, status):
                    moved = conn.execute(
                        update(_events)
                        .where(
                            _events.c.task_id == task_id,
                            _events.c.status == status,
                            _events.c.seen_at > seen_at,
                        )
                        .values(seen_at=seen_at)
                    ).rowcount
                    return bool(moved)
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        insert(_events).values(task_id=task_id, status=status, seen_at=seen_at)
                    )
            except IntegrityError:
                return False
            return True

    def _store_document(self, task: Task) -> None:
        incoming = task.model_dump(mode="json", by_alias=True, exclude_none=True)
        key = _documents.c.task_id == task.id
        for attempt in range(2):
            try:
                with self._engine.begin() as conn:
                    # FOR UPDATE (PostgreSQL): another instance merging into the same row waits
                    # for this transaction rather than overwriting its merge.
                    stored_json = conn.execute(
                        select(_documents.c.document).where(key).with_for_update()
                    ).scalar()
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
        stored_at = parse_time_or_none(stored.get("updatedAt"))
        incoming_at = parse_time_or_none(incoming.get("updatedAt"))
        if stored_at is not None and (incoming_at is None or incoming_at < stored_at):
            return {**incoming, **stored}  # incoming is stale: it may only fill gaps
        return {**stored, **incoming}

    @staticmethod
    def _row(task: Task, document: dict[str, Any]) -> dict[str, Any]:
        return {
            "task_id": task.id,
            "created_at": parse_time_or_none(document.get("createdAt")) or task.createdAt,
            "updated_at": parse_time_or_none(document.get("updatedAt")),
            "document": json.dumps(document, ensure_ascii=False, sort_keys=True),
        }

    def _store_status(self, task: Task) -> list[StatusEvent]:
        with self._engine.begin() as conn:
            if self._has_status(conn, task.id, task.status):
                return []
        try:
            seen_at = self._now()
        except TaskingError as error:
            # The backend's clock cannot be read: a time on another clock would put the events
            # out of order, so the status is recorded at the next sighting instead.
            log.warning("status %s of task %s not recorded yet: %s", task.status, task.id, error)
            return []
        event_ = StatusEvent(task.id, task.status, seen_at)
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

    @_guarded
    def record_planned_scene(self, task_id: str, scene: Scene) -> PlannedScene:
        """Keep the task's planned scene. The same plan again keeps the time it was first seen;
        a different one (ICEYE re-planned) replaces it, seen now (the history's clock)."""
        document = scene.model_dump_json(by_alias=True, exclude_none=True)
        key = _planned.c.task_id == task_id
        with self._lock:
            for attempt in range(2):
                try:
                    with self._engine.begin() as conn:
                        row = conn.execute(
                            select(_planned.c.scene, _planned.c.seen_at)
                            .where(key)
                            .with_for_update()
                        ).first()
                        if row is not None and row.scene == document:
                            return PlannedScene(scene, row.seen_at)
                        seen_at = self._now()
                        if row is None:
                            conn.execute(
                                insert(_planned).values(
                                    task_id=task_id, scene=document, seen_at=seen_at
                                )
                            )
                        else:
                            conn.execute(
                                update(_planned).where(key).values(scene=document, seen_at=seen_at)
                            )
                        return PlannedScene(scene, seen_at)
                except IntegrityError:
                    # Another process inserted it between our SELECT and INSERT: compare again.
                    if attempt:
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    @_guarded
    def planned_scene(self, task_id: str) -> PlannedScene | None:
        """The task's last planned scene seen by the app, or None."""
        query = select(_planned.c.scene, _planned.c.seen_at).where(_planned.c.task_id == task_id)
        with self._lock, self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        try:
            scene = Scene.model_validate_json(row.scene)
        except pydantic.ValidationError:
            log.warning(
                "stored planned scene of task %s no longer matches the Scene model", task_id
            )
            return None
        return PlannedScene(scene, row.seen_at)

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

    # --- forgetting --------------------------------------------------------------------------

    @_guarded
    def forget(self, task_ids: Iterable[str]) -> int:
        """Drop the documents and status events of tasks the backend removed (the sandbox's demo
        scenario): lists and pickers must not offer them. Returns the documents dropped."""
        ids = list(task_ids)
        dropped = 0
        with self._lock, self._engine.begin() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(delete(_events).where(_events.c.task_id.in_(chunk)))
                dropped += conn.execute(
                    delete(_documents).where(_documents.c.task_id.in_(chunk))
                ).rowcount
        return dropped

    @staticmethod
    def _task(task_id: str, document: str) -> Task | None:
        try:
            return Task.model_validate_json(document)
        except pydantic.ValidationError:
            # Kept in the database untouched; a later model version may read it again.
            log.warning("stored document of task %s no longer matches the Task model", task_id)
            return None
