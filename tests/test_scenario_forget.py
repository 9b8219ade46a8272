"""What the local store does with tasks the sandbox removed (its demo scenario): the history and the
desk forget exactly those tasks, the order journal keeps their orders but lets the same order be
placed again, and every other task is left as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tasking.desk import Desk, Details, NewNotification
from tasking.history import TaskHistory
from tasking.journal import OrderJournal, OrderState
from tasking.models import Task, TaskRequest
from tasking.store import make_engine

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
GONE, KEPT = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"


def task(task_id: str, status: str = "ACTIVE") -> Task:
    return Task.model_validate(
        {
            "id": task_id,
            "contractID": "3f0c6f2e-1a2b-4c3d-9e8f-0123456789ab",
            "pointOfInterest": {"lat": 60.17, "lon": 24.94},
            "acquisitionWindow": {"start": "2026-05-02T00:00:00Z", "end": "2026-05-04T00:00:00Z"},
            "imagingMode": "SPOTLIGHT",
            "status": status,
            "createdAt": "2026-05-01T08:00:00Z",
        }
    )


def request(reference: str) -> TaskRequest:
    return TaskRequest.model_validate(
        {
            "contractID": "3f0c6f2e-1a2b-4c3d-9e8f-0123456789ab",
            "pointOfInterest": {"lat": 60.17, "lon": 24.94},
            "acquisitionWindow": {"start": "2026-05-02T00:00:00Z", "end": "2026-05-04T00:00:00Z"},
            "imagingMode": "SPOTLIGHT",
            "reference": reference,
        }
    )


def test_the_history_forgets_only_the_removed_tasks(tmp_path: Path) -> None:
    history = TaskHistory(f"sqlite:///{tmp_path / 'h.sqlite'}", clock=lambda: NOW)
    for task_id in (GONE, KEPT):
        history.record(task(task_id))
        history.record(task(task_id, "DONE"))

    assert history.forget([GONE]) == 1

    assert history.get(GONE) is None and history.events(GONE) == []
    assert [t.id for t in history.known_tasks()] == [KEPT]
    assert [e.status for e in history.events(KEPT)] == ["ACTIVE", "DONE"]
    assert history.forget([]) == 0


def test_the_desk_forgets_the_tasks_and_their_notifications_but_not_the_callbacks(
    tmp_path: Path,
) -> None:
    desk = Desk(make_engine(f"sqlite:///{tmp_path / 'd.sqlite'}"), real_clock=lambda: NOW)
    for task_id in (GONE, KEPT):
        told = NewNotification("captured", f"Captured: {task_id}", "…", NOW)
        desk.apply(
            task_id,
            status="ACTIVE",
            created_at=NOW,
            status_at=NOW,
            details=Details(),
            notifications=[told],
            channels=["email", "webhook"],
        )
        desk.take_callback(
            f"event-{task_id}", webhook_id="w", task_id=task_id, status="ACTIVE", occurred_at=NOW
        )
    assert len(desk.deliveries(limit=10)) == 4

    assert desk.forget([GONE]) == 1

    assert desk.followed(GONE) is None and desk.followed(KEPT) is not None
    assert [n.task_id for n in desk.notifications()] == [KEPT]
    assert {n.task_id for _, n in desk.deliveries(limit=10)} == {KEPT}
    # The callback's event id is still taken: a replay of it is refused.
    assert not desk.take_callback(
        f"event-{GONE}", webhook_id="w", task_id=GONE, status="ACTIVE", occurred_at=NOW
    )


def test_the_journal_keeps_the_orders_of_removed_tasks_and_frees_their_fingerprint(
    tmp_path: Path,
) -> None:
    journal = OrderJournal(make_engine(f"sqlite:///{tmp_path / 'j.sqlite'}"), clock=lambda: NOW)
    gone, _ = journal.begin(request("gone"), NOW)
    journal.placed(gone.key, GONE)
    kept, _ = journal.begin(request("kept"), NOW)
    journal.placed(kept.key, KEPT)

    assert journal.release([GONE], "removed by the demo scenario") == 1

    order = journal.get(gone.key)
    assert order is not None and order.state is OrderState.PLACED and order.task_id == GONE
    assert order.error == "removed by the demo scenario"
    assert journal.active(request("gone")) is None
    again, new = journal.begin(request("gone"), NOW + timedelta(minutes=1))
    assert new and again.key != gone.key
    assert journal.active(request("kept")) is not None
