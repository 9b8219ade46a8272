"""Local task history with injected clocks, each test on SQLite and on PostgreSQL (``store_url``)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tasking.errors import TransportError
from tasking.history import StatusEvent, TaskHistory
from tasking.models import Scene, Task

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
LIFECYCLE = ("RECEIVED", "ACTIVE", "FULFILLED", "DONE")


class FakeClock:
    """Each call returns the current time and then moves on by one minute (thread-safe)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            now = self.now
            self.now += timedelta(minutes=1)
            return now


def make_task(task_id: str = "task-1", status: str = "RECEIVED", **overrides: Any) -> Task:
    document: dict[str, Any] = {
        "id": task_id,
        "contractID": "contract-1",
        "pointOfInterest": {"lat": 60.17, "lon": 24.94},
        "acquisitionWindow": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"},
        "imagingMode": "SPOTLIGHT",
        "status": status,
        "createdAt": "2026-11-22T08:00:00Z",
        "reference": "harbour ✓",
    }
    document.update(overrides)
    return Task.model_validate(document)


@pytest.fixture
def url(store_url: str) -> str:
    return store_url


@pytest.fixture
def history(url: str) -> Iterator[TaskHistory]:
    instance = TaskHistory(url, clock=FakeClock())
    yield instance
    instance.close()


def test_a_new_status_is_recorded_with_the_time_it_was_first_seen(history: TaskHistory) -> None:
    assert history.record(make_task(status="RECEIVED")) == [StatusEvent("task-1", "RECEIVED", T0)]
    assert history.record(make_task(status="ACTIVE")) == [
        StatusEvent("task-1", "ACTIVE", T0 + timedelta(minutes=1))
    ]


def test_recording_the_same_status_again_adds_nothing_and_keeps_the_first_time(
    history: TaskHistory,
) -> None:
    history.record(make_task(status="RECEIVED"))
    assert history.record(make_task(status="RECEIVED")) == []
    assert history.record(make_task(status="RECEIVED")) == []
    assert history.events("task-1") == [StatusEvent("task-1", "RECEIVED", T0)]


def test_events_come_in_the_order_they_were_seen(history: TaskHistory) -> None:
    for status in LIFECYCLE:
        history.record(make_task(status=status))
        history.record(make_task(status=status))  # polled twice
    events = history.events("task-1")
    assert [e.status for e in events] == list(LIFECYCLE)
    assert [e.seen_at for e in events] == sorted(e.seen_at for e in events)
    assert history.first_seen("task-1") == {e.status: e.seen_at for e in events}


def test_events_are_ordered_by_time_seen_not_by_insertion(url: str) -> None:
    times = iter([T0 + timedelta(hours=1), T0])
    history = TaskHistory(url, clock=lambda: next(times))
    history.record(make_task(status="ACTIVE"))
    history.record(make_task(status="RECEIVED"))
    assert [e.status for e in history.events("task-1")] == ["RECEIVED", "ACTIVE"]
    history.close()


def test_an_in_memory_sqlite_history_works() -> None:
    history = TaskHistory("sqlite://", clock=FakeClock())
    assert history.record(make_task()) == [StatusEvent("task-1", "RECEIVED", T0)]
    assert history.get("task-1") is not None


def test_get_returns_the_last_known_document(history: TaskHistory) -> None:
    history.record(make_task(status="RECEIVED"))
    history.record(make_task(status="ACTIVE", updatedAt="2026-11-22T08:10:00Z"))
    task = history.get("task-1")
    assert task is not None
    assert task.status == "ACTIVE"
    assert task.reference == "harbour ✓"
    assert task == make_task(status="ACTIVE", updatedAt="2026-11-22T08:10:00Z")


def test_fields_missing_from_a_list_item_are_kept_from_the_full_document(
    history: TaskHistory,
) -> None:
    deliveries = [{"id": "d-1", "status": "pending", "locations": []}]
    history.record(make_task(status="ACTIVE", deliveries=deliveries))
    history.record(make_task(status="ACTIVE"))  # as GET /tasks lists it: no deliveries
    task = history.get("task-1")
    assert task is not None and task.deliveries == deliveries


def test_an_older_document_does_not_overwrite_a_newer_one(history: TaskHistory) -> None:
    history.record(make_task(status="DONE", updatedAt="2026-11-23T10:00:00Z"))
    history.record(make_task(status="ACTIVE", updatedAt="2026-11-22T10:00:00Z", sla="SLA_8H"))
    task = history.get("task-1")
    assert task is not None
    assert (task.status, task.updatedAt) == ("DONE", datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert task.sla == "SLA_8H"  # a gap may still be filled


def test_known_tasks_are_newest_created_first_and_limited(history: TaskHistory) -> None:
    for day in (3, 1, 2):
        history.record(make_task(f"task-{day}", createdAt=f"2026-11-0{day}T00:00:00Z"))
    assert [t.id for t in history.known_tasks()] == ["task-3", "task-2", "task-1"]
    assert [t.id for t in history.known_tasks(limit=2)] == ["task-3", "task-2"]


def test_unknown_task_gives_none_and_empty_history(history: TaskHistory) -> None:
    assert history.get("nope") is None
    assert history.events("nope") == []
    assert history.first_seen("nope") == {}
    assert history.known_tasks() == []


def test_a_new_instance_on_the_same_file_keeps_everything(url: str) -> None:
    first = TaskHistory(url, clock=FakeClock())
    for status in LIFECYCLE[:2]:
        first.record(make_task(status=status))
    first.close()

    later = FakeClock(T0 + timedelta(days=1))
    second = TaskHistory(url, clock=later)  # create-table is idempotent
    assert second.first_seen("task-1") == {
        "RECEIVED": T0,
        "ACTIVE": T0 + timedelta(minutes=1),
    }
    assert second.record(make_task(status="ACTIVE")) == []
    assert second.record(make_task(status="DONE")) == [
        StatusEvent("task-1", "DONE", T0 + timedelta(days=1))
    ]
    assert [t.id for t in second.known_tasks()] == ["task-1"]
    second.close()


def test_times_come_back_as_aware_utc_whatever_the_clock_zone(url: str) -> None:
    helsinki = timezone(timedelta(hours=2))
    history = TaskHistory(url, clock=lambda: datetime(2026, 11, 22, 11, 0, tzinfo=helsinki))
    history.record(make_task())
    (event,) = history.events("task-1")
    assert event.seen_at == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert event.seen_at.tzinfo == UTC
    history.close()


def test_a_naive_clock_is_refused(url: str) -> None:
    history = TaskHistory(url, clock=lambda: datetime(2026, 11, 22, 9, 0))
    with pytest.raises(ValueError, match="aware datetime"):
        history.record(make_task())
    history.close()


def test_sqlite_file_uses_wal_and_its_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "history.sqlite"
    history = TaskHistory(f"sqlite:///{path}", clock=FakeClock())
    history.record(make_task())
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    history.close()


def run_together(workers: list[Callable[[], list[StatusEvent]]]) -> list[StatusEvent]:
    """Start all workers at the same instant; return every event they reported as new."""
    barrier = threading.Barrier(len(workers))
    reported: list[StatusEvent] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(work: Callable[[], list[StatusEvent]]) -> None:
        try:
            barrier.wait()
            events = work()
            with lock:
                reported.extend(events)
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return reported


def record_lifecycle(history: TaskHistory) -> Callable[[], list[StatusEvent]]:
    def work() -> list[StatusEvent]:
        new: list[StatusEvent] = []
        for status in LIFECYCLE:
            for _ in range(3):
                new.extend(history.record(make_task(status=status)))
        return new

    return work


def test_threads_sharing_one_instance_record_each_status_once(history: TaskHistory) -> None:
    reported = run_together([record_lifecycle(history) for _ in range(8)])
    assert sorted(e.status for e in reported) == sorted(LIFECYCLE)
    assert sorted(e.status for e in history.events("task-1")) == sorted(LIFECYCLE)


def test_two_instances_on_one_file_record_each_status_once(url: str) -> None:
    clock = FakeClock()
    a, b = TaskHistory(url, clock=clock), TaskHistory(url, clock=clock)
    reported = run_together([record_lifecycle(h) for h in (a, b, a, b, a, b)])
    assert sorted(e.status for e in reported) == sorted(LIFECYCLE)
    assert sorted(e.status for e in a.events("task-1")) == sorted(LIFECYCLE)
    assert a.get("task-1") is not None and b.get("task-1") is not None
    a.close()
    b.close()


def test_losing_an_insert_race_to_another_instance_reports_nothing_new(url: str) -> None:
    other = TaskHistory(url, clock=lambda: T0)

    def racing_clock() -> datetime:
        # Called between "is this status new?" and the insert: the other instance wins the race.
        other.record(make_task(status="ACTIVE"))
        return T0 + timedelta(minutes=5)

    history = TaskHistory(url, clock=racing_clock)
    assert history.record(make_task(status="ACTIVE")) == []
    assert history.events("task-1") == [StatusEvent("task-1", "ACTIVE", T0)]
    assert history.get("task-1") is not None
    history.close()
    other.close()


def test_a_database_failure_is_a_history_error_naming_the_database_without_its_password(
    url: str,
) -> None:
    from tasking.errors import HistoryError, TaskingError
    from tasking.store import make_engine

    history = TaskHistory(url)
    history.record(make_task())
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE task_status_events")
    engine.dispose()
    with pytest.raises(HistoryError) as failed:
        history.record(make_task(status="ACTIVE"))
    assert isinstance(failed.value, TaskingError)
    database = make_url(url).database
    assert database and Path(database).name in failed.value.message
    history.close()


def test_an_unreachable_database_is_a_history_error_without_its_password() -> None:
    from tasking.errors import HistoryError

    with pytest.raises(HistoryError) as failed:
        TaskHistory("postgresql+nonexistentdriver://user:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in failed.value.message


def test_status_since_gives_when_each_task_was_first_seen_in_its_current_status(
    url: str,
) -> None:
    times = iter(datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(10))
    history = TaskHistory(url, clock=lambda: next(times))
    history.record(make_task("a", "RECEIVED"))  # 00:00
    history.record(make_task("a", "ACTIVE"))  # 01:00
    history.record(make_task("b", "RECEIVED"))  # 02:00
    since = history.status_since(
        [make_task("a", "ACTIVE"), make_task("b", "RECEIVED"), make_task("c", "DONE")]
    )
    assert since == {
        "a": datetime(2026, 1, 1, 1, tzinfo=UTC),
        "b": datetime(2026, 1, 1, 2, tzinfo=UTC),
    }
    assert history.status_since([]) == {}
    history.close()


def test_a_status_whose_time_cannot_be_read_is_recorded_at_its_next_sighting(url: str) -> None:
    readings: list[datetime | None] = [None, T0 + timedelta(minutes=3)]

    def clock() -> datetime:
        reading = readings.pop(0)
        if reading is None:
            raise TransportError("cannot reach the sandbox at 127.0.0.1:1")
        return reading

    history = TaskHistory(url, clock=clock)
    try:
        assert history.record(make_task(status="ACTIVE")) == []  # no time on another clock
        assert history.get("task-1") is not None  # the document is kept all the same
        (event,) = history.record(make_task(status="ACTIVE"))
        assert event.seen_at == T0 + timedelta(minutes=3)
    finally:
        history.close()


def _scene(start: datetime) -> Scene:
    return Scene.model_validate(
        {
            "imagingTime": {
                "start": start.isoformat(),
                "end": (start + timedelta(seconds=10)).isoformat(),
            },
            "duration": 10,
            "incidenceAngle": 31.5,
            "lookSide": "RIGHT",
            "passDirection": "ASCENDING",
        }
    )


def test_a_planned_scene_is_kept_with_when_it_was_first_seen_and_replaced_by_a_new_plan(
    history: TaskHistory,
) -> None:
    assert history.planned_scene("task-1") is None
    plan = _scene(T0 + timedelta(hours=20))
    first = history.record_planned_scene("task-1", plan)
    again = history.record_planned_scene("task-1", plan)  # seen again later: same plan, same time
    assert again.seen_at == first.seen_at
    kept = history.planned_scene("task-1")
    assert kept is not None and kept.scene == plan and kept.seen_at == first.seen_at

    replanned = _scene(T0 + timedelta(hours=22))
    moved = history.record_planned_scene("task-1", replanned)
    assert moved.seen_at > first.seen_at
    kept = history.planned_scene("task-1")
    assert kept is not None and kept.scene == replanned and kept.seen_at == moved.seen_at
    assert history.planned_scene("task-2") is None
