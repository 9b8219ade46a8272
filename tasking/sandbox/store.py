"""The sandbox's state in SQLite: tasks, their full history, pending events, tokens, the world,
registered webhooks and the callbacks owed to them.

Durability (issue 3: "a restart, even after kill -9, loses no task and no status change"): WAL with
``synchronous=FULL`` makes every COMMIT reach the disk before it returns, and every change the API
reports is committed before the response is sent. Times are stored as fixed-width UTC strings,
which sort as times.

Concurrency (issue 13: reads must not wait for the scheduler). One connection writes, guarded by a
re-entrant lock; ``transaction()`` nests as SQLite savepoints, so a service call and the
scheduler's work it triggers commit together, and a nested unit that fails is undone alone. A
thread that reads outside its own transaction uses a connection of its own and sees the last
committed state (WAL lets readers run beside the writer), so a read never waits for a write.

What is kept in memory follows the transactions that change it:

- ``watch(watcher)``: every task written (insert, update) or removed is reported to the watchers
  inside the transaction that writes it, and a rollback reports the tasks it touched again as the
  store has them after it, so a watcher's view (the scheduler's bookings) is always the store's.
- the *due floor*: no pending event is due before it. Adding an event lowers it, and a look at the
  events table from inside the writer's transaction sets it, so ``nothing_due(now)`` answers
  without reading the database; a rollback forgets it (the next look reads it again).

What is read back can always be served: text that is not valid UTF-8 reads with U+FFFD in place of
the bad bytes, a lone surrogate in a task's document (written by sandboxes before the edge refused
them) reads as U+FFFD and is repaired when the store opens, and a task row that cannot be decoded
at all is logged and left out (``get_task`` answers None, lists skip it), so one bad row never
breaks a list, a lookup or the scheduler.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from tasking.models import TaskStatus
from tasking.monitoring import CANCELLABLE, PRODUCT_STATUSES
from tasking.times import parse_time, to_utc

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS satellites (
    norad_id INTEGER PRIMARY KEY, name TEXT NOT NULL, line1 TEXT NOT NULL, line2 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, company_id TEXT NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    company_id TEXT NOT NULL,
    contract_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    document TEXT NOT NULL,
    price INTEGER NOT NULL DEFAULT 0,
    fee INTEGER NOT NULL DEFAULT 0,
    plan TEXT,
    fulfilled_at TEXT
);
CREATE INDEX IF NOT EXISTS tasks_by_company ON tasks (company_id, created_at, seq);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    due_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_due ON events (due_at, id);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_task ON history (task_id, id);
CREATE TABLE IF NOT EXISTS webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    company_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    url TEXT NOT NULL,
    auth TEXT NOT NULL,
    description TEXT
);
CREATE INDEX IF NOT EXISTS webhooks_by_company ON webhooks (company_id, created_at, seq);
CREATE TABLE IF NOT EXISTS callbacks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    webhook_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS callbacks_by_state ON callbacks (state, webhook_id, seq);
"""

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# The due floor when no event is pending at all.
NEVER = datetime.max.replace(tzinfo=UTC)
_ONE_TICK = timedelta(microseconds=1)  # the resolution of stored times


def encode_time(value: datetime) -> str:
    """Fixed-width UTC text, so that SQL string order is time order.

    Written field by field: ``strftime("%Y")`` does not pad years before 1000 on every platform.
    """
    v = to_utc(value)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond:06d}Z"
    )


def decode_time(text: str) -> datetime:
    return parse_time(text)


@dataclass
class TaskRecord:
    """A task as stored: indexed columns plus its wire document and the scheduler's plan."""

    id: str
    company_id: str
    contract_id: str
    created_at: datetime
    updated_at: datetime
    status: str
    priority: str
    document: dict[str, Any]  # request fields with defaults filled in, wire names
    price: int = 0  # minor units held while RECEIVED/ACTIVE, spent once FULFILLED/DONE
    fee: int = 0  # minor units charged by a cancellation
    plan: dict[str, Any] | None = None  # planned or locked scene, see scheduler.py
    fulfilled_at: datetime | None = None
    seq: int = 0


@dataclass(frozen=True)
class Event:
    """A scheduler event due at a simulated time."""

    id: int
    task_id: str
    kind: str
    due_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to a task: a status change, a (re)plan, a capture."""

    task_id: str
    at: datetime
    kind: str
    status: str
    detail: dict[str, Any]


@dataclass
class WebhookRecord:
    """A registered webhook: where callbacks go and how they authenticate to the receiver.

    ``auth`` holds the receiver's credentials (``{"type": "basic", "username", "password"}`` or
    ``{"type": "oauth2", "tokenURL", "clientID", "clientSecret", "scope"?}``): the sandbox must
    send them, so they are stored as given, and never shown by the API or written to a log.
    """

    id: str
    company_id: str
    created_at: datetime
    url: str
    auth: dict[str, Any] = field(repr=False)
    description: str | None = None
    seq: int = 0


PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass
class CallbackRecord:
    """A callback owed to a webhook for one status change of a task, and how its delivery went."""

    id: str  # the event id, unique per status change
    webhook_id: str
    task_id: str
    status: str
    occurred_at: datetime
    state: str = PENDING  # PENDING, DELIVERED or FAILED
    attempts: int = 0
    next_attempt_at: datetime | None = None  # simulated; set while PENDING
    last_error: str | None = None
    seq: int = 0


class TaskWatcher(Protocol):
    """Something kept in memory from the tasks: told of every write inside its transaction."""

    def task_saved(self, task: TaskRecord) -> None: ...

    def task_removed(self, task_id: str) -> None: ...


class Store:
    """SQLite persistence; every method is thread-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None  # the thread whose transaction is open
        self._touched: list[set[str]] = []  # task ids written, per open (nested) transaction
        self._watchers: list[TaskWatcher] = []
        self._sooner: list[Callable[[], None]] = []
        self._due_floor: datetime | None = None  # None: not known, read it again
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.text_factory = _lenient_text
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self._conn.executescript(_SCHEMA)
        self._repair_documents()

    def _repair_documents(self) -> None:
        """Replace lone surrogates in stored task documents by U+FFFD (rows from older sandboxes,
        whose answers could not be encoded); logged per task."""
        repaired: list[tuple[str, str]] = []
        for row in self._all("SELECT id, document FROM tasks"):
            try:
                document = json.loads(row["document"])
            except ValueError:
                continue  # unreadable: reads leave it out (see _decoded)
            cleaned = _scrub(document)
            if cleaned != document:
                log.warning("task %s: replaced unpaired surrogates in its document", row["id"])
                repaired.append((json.dumps(cleaned), row["id"]))
        if repaired:
            with self.transaction():
                self._conn.executemany("UPDATE tasks SET document = ? WHERE id = ?", repaired)

    def close(self) -> None:
        with self._lock, self._readers_lock:
            self._closed = True
            self._conn.close()
            for reader in self._readers:
                reader.close()
            self._readers.clear()

    def watch(self, watcher: TaskWatcher) -> None:
        """Report every task write and removal to ``watcher`` from now on (see the module doc)."""
        self._watchers.append(watcher)

    def on_sooner(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever an event is added that may be due before any other."""
        self._sooner.append(callback)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable unit of work; a nested call is a savepoint of the outer one: its
        changes commit with the outer transaction, and if it fails they alone are undone."""
        with self._lock:
            depth = self._depth
            if depth:
                self._conn.execute(f"SAVEPOINT level{depth}")
            else:
                self._conn.execute("BEGIN IMMEDIATE")
                self._owner = threading.get_ident()
            self._depth = depth + 1
            self._touched.append(set())
            try:
                yield
            except BaseException:
                self._end(depth, commit=False)
                raise
            self._end(depth, commit=True)

    def _end(self, depth: int, *, commit: bool) -> None:
        """Close the transaction (or savepoint) opened at ``depth``; on failure, undo it and
        report the tasks it wrote to the watchers as the store now has them."""
        touched = self._touched.pop()
        self._depth = depth
        try:
            if commit:
                if depth:
                    self._conn.execute(f"RELEASE level{depth}")
                    self._touched[-1] |= touched
                else:
                    self._conn.execute("COMMIT")
                    self._owner = None
                return
        except BaseException:
            self._rollback(depth, touched)
            raise
        self._rollback(depth, touched)

    def _rollback(self, depth: int, touched: set[str]) -> None:
        try:
            if depth:
                self._conn.execute(f"ROLLBACK TO level{depth}")
                self._conn.execute(f"RELEASE level{depth}")
            elif self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        finally:
            if not depth:
                self._owner = None
            # A rolled-back deletion brings events back that the floor may have passed.
            self._due_floor = None
            self._report(touched)

    def _report(self, task_ids: Iterable[str]) -> None:
        """Tell the watchers how the store has these tasks now."""
        if not self._watchers:
            return
        for task_id in task_ids:
            task = self.get_task(task_id)
            for watcher in self._watchers:
                if task is None:
                    watcher.task_removed(task_id)
                else:
                    watcher.task_saved(task)

    def _saved(self, task: TaskRecord) -> None:
        """Inside the transaction that wrote ``task``."""
        self._touched[-1].add(task.id)
        for watcher in self._watchers:
            watcher.task_saved(task)

    def _in_own_transaction(self) -> bool:
        return self._owner == threading.get_ident()

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (opened on first use)."""
        reader: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if reader is None:
            with self._readers_lock:  # not the writer's lock: that one may be held for a while
                if self._closed:
                    raise sqlite3.ProgrammingError("the store is closed")
                # Used by one thread only; closed by close() from another.
                reader = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
                reader.text_factory = _lenient_text
                reader.execute("PRAGMA busy_timeout=10000")
                reader.execute("PRAGMA query_only=1")
                # One reader per request thread (up to 40): SQLite's default 2 MB page cache each
                # cost 70 MB; a quarter of a megabyte reads as fast, the OS caching the file.
                reader.execute("PRAGMA cache_size=-256")
                self._readers.append(reader)
            self._local.reader = reader
        return reader

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a query: inside this thread's transaction on the writer (its own changes
        included), otherwise on this thread's reader, without waiting for any writer."""
        if self._in_own_transaction():
            with self._lock:
                cursor = self._conn.execute(sql, params)
        else:
            cursor = self._reader().execute(sql, params)
        cursor.row_factory = sqlite3.Row
        return cursor.fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._unit():
            cursor = self._conn.execute(sql, params)
            return cursor.lastrowid or 0

    @contextmanager
    def _unit(self) -> Iterator[None]:
        """A few statements that stand or fall together: the open transaction of this thread
        (one statement is atomic, and a failure rolls back the enclosing savepoint), or a
        transaction of their own."""
        if self._in_own_transaction():
            yield
        else:
            with self.transaction():
                yield

    # --- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        self._run(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- satellites --------------------------------------------------------------------------

    def satellites(self) -> list[tuple[str, int, str, str]]:
        rows = self._all("SELECT name, norad_id, line1, line2 FROM satellites ORDER BY norad_id")
        return [(r["name"], r["norad_id"], r["line1"], r["line2"]) for r in rows]

    def save_satellites(self, rows: Sequence[tuple[str, int, str, str]]) -> None:
        with self.transaction():
            for name, norad_id, line1, line2 in rows:
                self._conn.execute(
                    "INSERT INTO satellites (norad_id, name, line1, line2) VALUES (?, ?, ?, ?)",
                    (norad_id, name, line1, line2),
                )

    # --- tokens ------------------------------------------------------------------------------

    def save_token(self, token_hash: str, company_id: str, expires_at: float) -> None:
        with self.transaction():
            # Expired tokens are useless: drop them whenever a new one is issued.
            self._conn.execute("DELETE FROM tokens WHERE expires_at < ?", (expires_at - 86400,))
            self._conn.execute(
                "INSERT INTO tokens (token_hash, company_id, expires_at) VALUES (?, ?, ?)",
                (token_hash, company_id, expires_at),
            )

    def token(self, token_hash: str) -> tuple[str, float] | None:
        row = self._one(
            "SELECT company_id, expires_at FROM tokens WHERE token_hash = ?", (token_hash,)
        )
        return None if row is None else (str(row["company_id"]), float(row["expires_at"]))

    # --- tasks -------------------------------------------------------------------------------

    def insert_task(self, task: TaskRecord) -> None:
        with self._unit():
            self._insert_task(task)
            self._saved(task)

    def _insert_task(self, task: TaskRecord) -> None:
        task.seq = self._run(
            "INSERT INTO tasks (id, company_id, contract_id, created_at, updated_at, status, "
            "priority, document, price, fee, plan, fulfilled_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                task.id,
                task.company_id,
                task.contract_id,
                encode_time(task.created_at),
                encode_time(task.updated_at),
                task.status,
                task.priority,
                json.dumps(task.document),
                task.price,
                task.fee,
                _dump(task.plan),
                encode_time(task.fulfilled_at) if task.fulfilled_at else None,
            ),
        )

    def update_task(self, task: TaskRecord) -> None:
        """Save the mutable parts of a task: status, times, plan, fee."""
        with self._unit():
            self._run(
                "UPDATE tasks SET updated_at = ?, status = ?, fee = ?, plan = ?, fulfilled_at = ? "
                "WHERE id = ?",
                (
                    encode_time(task.updated_at),
                    task.status,
                    task.fee,
                    _dump(task.plan),
                    encode_time(task.fulfilled_at) if task.fulfilled_at else None,
                    task.id,
                ),
            )
            self._saved(task)

    def get_task(self, task_id: str) -> TaskRecord | None:
        row = self._one("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return None if row is None else _decoded(row)

    def list_tasks(
        self,
        company_id: str,
        *,
        limit: int,
        contract_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        below: tuple[datetime, int] | None = None,
    ) -> list[TaskRecord]:
        """A company's tasks newest first; ``below`` = (createdAt, seq) of the previous page's end."""
        where: list[str] = ["company_id = ?"]
        params: list[Any] = [company_id]
        if contract_id is not None:
            where.append("contract_id = ?")
            params.append(contract_id)
        if created_after is not None:
            where.append("created_at > ?")
            params.append(encode_time(created_after))
        if created_before is not None:
            where.append("created_at < ?")
            params.append(encode_time(created_before))
        if below is not None:
            where.append("(created_at < ? OR (created_at = ? AND seq < ?))")
            params.extend([encode_time(below[0]), encode_time(below[0]), below[1]])
        rows = self._all(
            f"SELECT * FROM tasks WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, seq DESC LIMIT ?",
            [*params, limit],
        )
        return _readable(rows)

    def delete_company_tasks(self, company_id: str) -> list[str]:
        """Forget every task of one company, with its pending events, history and callbacks, in
        one transaction (the demo scenario's reset); returns their ids, oldest first. Other
        companies' rows, webhooks and tokens are untouched."""
        mine = "SELECT id FROM tasks WHERE company_id = ?"
        with self.transaction():
            ids = [str(r["id"]) for r in self._all(f"{mine} ORDER BY seq", (company_id,))]
            for table in ("events", "history", "callbacks"):
                self._conn.execute(f"DELETE FROM {table} WHERE task_id IN ({mine})", (company_id,))
            self._conn.execute("DELETE FROM tasks WHERE company_id = ?", (company_id,))
            self._touched[-1].update(ids)
            for task_id in ids:
                for watcher in self._watchers:
                    watcher.task_removed(task_id)
        return ids

    def tasks_in_status(self, statuses: Sequence[str]) -> list[TaskRecord]:
        rows = self._all(
            f"SELECT * FROM tasks WHERE status IN ({_marks(statuses)}) ORDER BY seq", statuses
        )
        return _readable(rows)

    def each_task_in_status(self, statuses: Sequence[str], page: int = 500) -> Iterator[TaskRecord]:
        """``tasks_in_status`` a page at a time, so that they are never all held at once (ten
        thousand decoded tasks cost some 70 MB that the heap keeps after they are freed)."""
        after = 0
        while True:
            rows = self._all(
                f"SELECT * FROM tasks WHERE status IN ({_marks(statuses)}) AND seq > ? "
                "ORDER BY seq LIMIT ?",
                [*statuses, after, page],
            )
            if not rows:
                return
            yield from _readable(rows)
            after = int(rows[-1]["seq"])

    def contract_money(self, contract_id: str) -> tuple[int, int]:
        """(onHold, consolidatedSpent) of a contract, derived from its tasks' statuses.

        Held while RECEIVED/ACTIVE, spent once FULFILLED/DONE, the fee when CANCELED, nothing when
        REJECTED/FAILED (iceye-api.md §9.10 and §5.3); deriving it keeps the ledger exact.
        """
        held, spent = sorted(CANCELLABLE), sorted(PRODUCT_STATUSES)
        row = self._one(
            "SELECT "
            f"COALESCE(SUM(CASE WHEN status IN ({_marks(held)}) THEN price END), 0) AS held, "
            f"COALESCE(SUM(CASE WHEN status IN ({_marks(spent)}) THEN price "
            "WHEN status = ? THEN fee END), 0) AS spent "
            "FROM tasks WHERE contract_id = ?",
            (*held, *spent, TaskStatus.CANCELED, contract_id),
        )
        assert row is not None
        return int(row["held"]), int(row["spent"])

    def latest_time(self) -> datetime | None:
        """The latest simulated time any stored record carries (to resume the clock from)."""
        row = self._one(
            "SELECT MAX(t) AS t FROM (SELECT MAX(updated_at) AS t FROM tasks "
            "UNION ALL SELECT MAX(at) FROM history)"
        )
        return decode_time(row["t"]) if row is not None and row["t"] else None

    # --- events ------------------------------------------------------------------------------

    def add_event(self, task_id: str, kind: str, due_at: datetime) -> None:
        with self._unit():
            self._run(
                "INSERT INTO events (task_id, kind, due_at) VALUES (?, ?, ?)",
                (task_id, kind, encode_time(due_at)),
            )
            floor = self._due_floor
            if floor is not None and due_at >= floor:
                return
            if floor is not None:
                self._due_floor = to_utc(due_at)
            for callback in self._sooner:
                callback()

    def next_event(self, until: datetime | None = None) -> Event | None:
        """The earliest pending event (due no later than ``until`` when given).

        Read from inside the writer's transaction, the answer also sets the due floor."""
        if until is None:
            row = self._one("SELECT * FROM events ORDER BY due_at, id LIMIT 1")
        else:
            row = self._one(
                "SELECT * FROM events WHERE due_at <= ? ORDER BY due_at, id LIMIT 1",
                (encode_time(until),),
            )
        event = (
            None
            if row is None
            else Event(row["id"], row["task_id"], row["kind"], decode_time(row["due_at"]))
        )
        if self._in_own_transaction():  # it sees every pending event, and nobody else writes
            if event is not None:
                self._due_floor = event.due_at
            elif until is None:
                self._due_floor = NEVER
            else:
                after = to_utc(until) + _ONE_TICK
                floor = self._due_floor
                self._due_floor = after if floor is None else max(floor, after)
        return event

    def nothing_due(self, now: datetime) -> bool:
        """True when no pending event is due at ``now``, known without reading the database;
        False when some may be (then ``next_event`` tells)."""
        floor = self._due_floor
        return floor is not None and now < floor

    def due_floor(self) -> datetime | None:
        """No pending event is due before this (``NEVER`` when none is pending); None when not
        known until the events are read again."""
        return self._due_floor

    def count_due(self, now: datetime) -> int:
        """How many pending events are due at ``now`` (the committed ones)."""
        if self.nothing_due(now):
            return 0
        row = self._one("SELECT COUNT(*) AS n FROM events WHERE due_at <= ?", (encode_time(now),))
        return 0 if row is None else int(row["n"])

    def delete_event(self, event_id: int) -> None:
        self._run("DELETE FROM events WHERE id = ?", (event_id,))

    def delete_events(self, task_id: str) -> None:
        self._run("DELETE FROM events WHERE task_id = ?", (task_id,))

    # --- history -----------------------------------------------------------------------------

    def add_history(
        self, task_id: str, at: datetime, kind: str, status: str, detail: dict[str, Any]
    ) -> None:
        self._run(
            "INSERT INTO history (task_id, at, kind, status, detail) VALUES (?, ?, ?, ?, ?)",
            (task_id, encode_time(at), kind, status, json.dumps(detail)),
        )

    def history(self, task_id: str) -> list[HistoryEntry]:
        rows = self._all("SELECT * FROM history WHERE task_id = ? ORDER BY id", (task_id,))
        return [
            HistoryEntry(
                r["task_id"], decode_time(r["at"]), r["kind"], r["status"], json.loads(r["detail"])
            )
            for r in rows
        ]

    # --- webhooks ----------------------------------------------------------------------------

    def insert_webhook(self, webhook: WebhookRecord) -> None:
        webhook.seq = self._run(
            "INSERT INTO webhooks (id, company_id, created_at, url, auth, description) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                webhook.id,
                webhook.company_id,
                encode_time(webhook.created_at),
                webhook.url,
                json.dumps(webhook.auth),
                webhook.description,
            ),
        )

    def get_webhook(self, webhook_id: str) -> WebhookRecord | None:
        row = self._one("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        return None if row is None else _decoded_webhook(row)

    def list_webhooks(
        self, company_id: str, *, limit: int, below: tuple[datetime, int] | None = None
    ) -> list[WebhookRecord]:
        """A company's webhooks newest first; ``below`` as in ``list_tasks``."""
        where = "company_id = ?"
        params: list[Any] = [company_id]
        if below is not None:
            where += " AND (created_at < ? OR (created_at = ? AND seq < ?))"
            params += [encode_time(below[0]), encode_time(below[0]), below[1]]
        rows = self._all(
            f"SELECT * FROM webhooks WHERE {where} ORDER BY created_at DESC, seq DESC LIMIT ?",
            [*params, limit],
        )
        return [w for w in map(_decoded_webhook, rows) if w is not None]

    def delete_webhook(self, webhook_id: str) -> None:
        """Forget a webhook and drop the callbacks still owed to it (delivered and failed ones
        stay, as a record of what was sent)."""
        with self.transaction():
            self._conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
            self._conn.execute(
                "DELETE FROM callbacks WHERE webhook_id = ? AND state = ?", (webhook_id, PENDING)
            )

    # --- callbacks ---------------------------------------------------------------------------

    def add_callback(self, callback: CallbackRecord) -> None:
        callback.seq = self._run(
            "INSERT INTO callbacks (id, webhook_id, task_id, status, occurred_at, state, "
            "attempts, next_attempt_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                callback.id,
                callback.webhook_id,
                callback.task_id,
                callback.status,
                encode_time(callback.occurred_at),
                callback.state,
                callback.attempts,
                _time_or_none(callback.next_attempt_at),
                callback.last_error,
            ),
        )

    def has_pending_callbacks(self) -> bool:
        return self._one("SELECT 1 FROM callbacks WHERE state = ? LIMIT 1", (PENDING,)) is not None

    def due_callbacks(self, now: datetime, limit: int) -> list[CallbackRecord]:
        """Pending callbacks whose attempt is due at ``now``, oldest first, leaving out those
        queued behind an earlier callback to the same webhook that is waiting for its retry:
        each webhook receives its callbacks in the order of the changes."""
        at = encode_time(now)
        rows = self._all(
            "SELECT * FROM callbacks AS c WHERE c.state = ? AND c.next_attempt_at <= ? "
            "AND NOT EXISTS (SELECT 1 FROM callbacks AS e WHERE e.state = ? "
            "AND e.webhook_id = c.webhook_id AND e.seq < c.seq AND e.next_attempt_at > ?) "
            "ORDER BY c.seq LIMIT ?",
            (PENDING, at, PENDING, at, limit),
        )
        return _callbacks(rows)

    def record_attempt(
        self,
        callback_id: str,
        *,
        state: str,
        attempts: int,
        next_attempt_at: datetime | None,
        last_error: str | None,
    ) -> None:
        """The outcome of a delivery attempt; a callback no longer pending (its webhook was
        deleted meanwhile) is left alone."""
        self._run(
            "UPDATE callbacks SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ? "
            "WHERE id = ? AND state = ?",
            (state, attempts, _time_or_none(next_attempt_at), last_error, callback_id, PENDING),
        )

    def recent_callbacks(self, limit: int) -> list[CallbackRecord]:
        """The latest callbacks, newest first."""
        rows = self._all("SELECT * FROM callbacks ORDER BY seq DESC LIMIT ?", (limit,))
        return _callbacks(rows)


def _marks(values: Sequence[object]) -> str:
    """``?, ?, ?``: one placeholder per value, for ``IN (…)``."""
    return ", ".join("?" for _ in values)


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def _lenient_text(raw: bytes) -> str:
    """SQLite text as str; bytes that are not UTF-8 (a hand-edited row) become U+FFFD."""
    return raw.decode("utf-8", errors="replace")


def _scrub(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _decoded(row: sqlite3.Row) -> TaskRecord | None:
    """The row as a record, or None (logged) when it cannot be decoded."""
    try:
        return _task(row)
    except (ValueError, TypeError, KeyError, OverflowError):
        log.exception("stored task %s cannot be decoded; it is left out", row["id"])
        return None


def _readable(rows: Sequence[sqlite3.Row]) -> list[TaskRecord]:
    return [record for record in map(_decoded, rows) if record is not None]


def _task(row: sqlite3.Row) -> TaskRecord:
    return TaskRecord(
        id=row["id"],
        company_id=row["company_id"],
        contract_id=row["contract_id"],
        created_at=decode_time(row["created_at"]),
        updated_at=decode_time(row["updated_at"]),
        status=row["status"],
        priority=row["priority"],
        document=_object(_scrub(json.loads(row["document"]))),
        price=int(row["price"]),
        fee=int(row["fee"]),
        plan=_object(json.loads(row["plan"])) if row["plan"] else None,
        fulfilled_at=decode_time(row["fulfilled_at"]) if row["fulfilled_at"] else None,
        seq=int(row["seq"]),
    )


def _time_or_none(value: datetime | None) -> str | None:
    return None if value is None else encode_time(value)


def _decoded_webhook(row: sqlite3.Row) -> WebhookRecord | None:
    """The row as a webhook, or None (logged) when it cannot be decoded."""
    try:
        return WebhookRecord(
            id=row["id"],
            company_id=row["company_id"],
            created_at=decode_time(row["created_at"]),
            url=row["url"],
            auth=_object(json.loads(row["auth"])),
            description=row["description"],
            seq=int(row["seq"]),
        )
    except (ValueError, TypeError, KeyError, OverflowError):
        log.exception("stored webhook %s cannot be decoded; it is left out", row["id"])
        return None


def _callbacks(rows: Sequence[sqlite3.Row]) -> list[CallbackRecord]:
    """The rows as callbacks; a row that cannot be decoded is logged and left out."""
    found = []
    for row in rows:
        try:
            found.append(_callback(row))
        except (ValueError, TypeError, KeyError, OverflowError):
            log.exception("stored callback %s cannot be decoded; it is left out", row["id"])
    return found


def _callback(row: sqlite3.Row) -> CallbackRecord:
    return CallbackRecord(
        id=row["id"],
        webhook_id=row["webhook_id"],
        task_id=row["task_id"],
        status=row["status"],
        occurred_at=decode_time(row["occurred_at"]),
        state=row["state"],
        attempts=int(row["attempts"]),
        next_attempt_at=decode_time(row["next_attempt_at"]) if row["next_attempt_at"] else None,
        last_error=row["last_error"],
        seq=int(row["seq"]),
    )


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value
