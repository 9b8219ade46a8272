"""The scheduler's bookings in memory always equal a fresh load from the store (issue 13).

A seeded random sequence of creates (COMMERCIAL and BACKGROUND at a few points, so that tasks
displace each other), cancels, clock jumps, decisions that fail half-way, company resets that
commit and that roll back; after every step the ledger is compared with one loaded from the store,
and after a restart the reopened sandbox's ledger with the one before.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.sandbox import notifications, seed
from tasking.sandbox import scheduler as scheduler_module
from tasking.sandbox.app import create_app
from tasking.sandbox.bookings import BookingLedger
from tasking.sandbox.config import SandboxConfig
from tasking.sandbox.core import Sandbox
from tasking.sandbox.planning import Booking, conflicts
from tasking.sandbox.store import TaskRecord
from tests.sandbox.conftest import EPOCH, iso, login, task_body
from tests.sandbox.test_lifecycle import _unique_pass

TASKS = "/api/tasking/v2/tasks"
POINTS = ({"lat": 60.17, "lon": 24.94}, {"lat": 59.91, "lon": 10.75}, {"lat": 1.29, "lon": 103.85})
EXPLODE = "explode"  # a task whose decision fails half-way (see _explosive)


def fresh(sandbox: Sandbox) -> list[Booking]:
    return BookingLedger(sandbox.store.tasks_in_status(["ACTIVE"])).bookings()


def assert_ledger_is_the_store(sandbox: Sandbox, rng: random.Random) -> None:
    ledger = sandbox.scheduler.ledger
    loaded = fresh(sandbox)
    assert ledger.bookings() == loaded
    assert len(ledger) == len(loaded)
    # Its index answers as a scan of the loaded bookings does, in the same order.
    satellites = sorted({b.satellite for b in loaded})
    for _ in range(20):
        if not satellites:
            break
        satellite = rng.choice(satellites)
        start = EPOCH + timedelta(minutes=rng.uniform(0, 8 * 24 * 60))
        end = start + timedelta(seconds=rng.uniform(1, 3 * 3600))
        gap = rng.choice([0.0, 90.0, 3600.0])
        assert ledger.conflicts(satellite, start, end, gap) == conflicts(
            satellite, start, end, loaded, gap
        )


def _now(sandbox: Sandbox) -> datetime:
    return sandbox.clock.now()


def _body(rng: random.Random, now: datetime, reference: str) -> dict[str, Any]:
    # One window for as long as the lead time allows (24 h for BACKGROUND), so that tasks compete
    # for its passes; later ones a little after the lead time.
    start = max(EPOCH + timedelta(hours=30), now + timedelta(hours=rng.choice([25, 26])))
    body: dict[str, Any] = {
        "contractID": seed.BROAD_CONTRACT_ID,
        "pointOfInterest": dict(rng.choice(POINTS)),
        "acquisitionWindow": {"start": iso(start), "end": iso(start + timedelta(hours=24))},
        "imagingMode": "SPOTLIGHT",
        "priority": rng.choice(["COMMERCIAL", "BACKGROUND"]),
        "sla": "SLA_24H",
        "reference": reference,
    }
    if rng.random() < 0.6:  # three passes over Helsinki in the first window: tasks compete
        body["pointOfInterest"] = dict(POINTS[0])
        body["incidenceAngle"] = {"min": 26, "max": 27}
    return body


def _displacement(client: TestClient, headers: dict[str, str], sandbox: Sandbox) -> list[str]:
    """A BACKGROUND task on a pass, decided; then a COMMERCIAL one that only that pass suits (it
    displaces the first when it is decided, unless the random steps took the pass meanwhile)."""
    start = _now(sandbox) + timedelta(hours=25)
    found = _unique_pass(sandbox, start, start + timedelta(hours=24))
    common = {
        "pointOfInterest": found["point"],
        "acquisitionWindow": {"start": iso(start), "end": iso(start + timedelta(hours=24))},
    }
    wide: dict[str, Any] = {"incidenceAngle": {"min": "FULL_RANGE", "max": "FULL_RANGE"}}
    background = task_body(priority="BACKGROUND", sla="SLA_24H", **common, **wide)
    made = [client.post(TASKS, json=background, headers=headers).json()["id"]]
    client.post("/sandbox/v1/clock/advance", json={"seconds": 61})
    commercial = task_body(**common, **found["narrow"])
    made.append(client.post(TASKS, json=commercial, headers=headers).json()["id"])
    return made


@pytest.fixture
def explosive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Status changes of a task whose reference is EXPLODE fail after the task was written."""
    original = notifications.queue_status_change

    def queue(store: Any, id_factory: Any, task: TaskRecord, at: datetime) -> None:
        if task.document.get("reference") == EXPLODE:
            raise ValueError("a decision that fails half-way")
        original(store, id_factory, task, at)

    monkeypatch.setattr(scheduler_module, "queue_status_change", queue)  # as the scheduler calls it


def test_bookings_in_memory_equal_the_store_after_random_operations_and_a_restart(
    make_config: Callable[..., SandboxConfig], explosive: None
) -> None:
    with TestClient(create_app(make_config())) as client:
        before = _random_operations(client, random.Random(1313))
    with TestClient(create_app(make_config())) as reopened:
        after: Sandbox = reopened.app.state.sandbox  # type: ignore[attr-defined]
        assert after.scheduler.ledger.bookings() == before


def _random_operations(client: TestClient, rng: random.Random) -> list[Booking]:
    """Seventy random steps, each followed by the comparison; the bookings at the end."""
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    headers = login(client)
    made: list[str] = []
    counts: dict[str, int] = {}
    seen: set[str] = set()  # kinds of history entries
    most = 0  # the most bookings held at once

    for step in range(70):
        roll = rng.random()
        if roll < 0.42:
            reference = EXPLODE if rng.random() < 0.1 else f"step-{step}"
            response = client.post(
                TASKS, json=_body(rng, _now(sandbox), reference), headers=headers
            )
            assert response.status_code == 201, response.text
            made.append(response.json()["id"])
            kind = "create"
        elif roll < 0.5:
            made += _displacement(client, headers, sandbox)
            kind = "displacement"
        elif roll < 0.57 and made:
            task_id = rng.choice(made)
            response = client.patch(
                f"{TASKS}/{task_id}", json={"status": "CANCELED"}, headers=headers
            )
            assert response.status_code in (200, 400), response.text
            kind = "cancel"
        elif roll < 0.8:
            far = rng.random() < 0.2  # past captures and fulfilments, or just past a decision
            jump = {"seconds": rng.uniform(3600, 2 * 86400) if far else rng.uniform(30, 1800)}
            body = {"to": "next-event"} if rng.random() < 0.3 else jump
            assert client.post("/sandbox/v1/clock/advance", json=body).status_code == 200
            kind = "advance"
        elif roll < 0.9:
            # A reset that fails: everything it removed comes back, in the ledger too.
            with pytest.raises(RuntimeError), sandbox.store.transaction():
                sandbox.store.delete_company_tasks(seed.DEMO_COMPANY_ID)
                raise RuntimeError("the reset fails after removing the tasks")
            kind = "failed reset"
        elif roll < 0.93:
            sandbox.store.delete_company_tasks(seed.DEMO_COMPANY_ID)
            made.clear()
            kind = "reset"
        else:
            client.get(TASKS, headers=headers)  # a read runs what is due (no decider here)
            kind = "read"
        counts[kind] = counts.get(kind, 0) + 1
        assert_ledger_is_the_store(sandbox, rng)
        most = max(most, len(sandbox.scheduler.ledger))
        for task_id in made:
            seen.update(h.kind for h in sandbox.store.history(task_id))

    # The ledger is loaded a page at a time at start: the pages are the list.
    statuses = ["RECEIVED", "ACTIVE", "FULFILLED", "DONE", "REJECTED", "FAILED", "CANCELED"]
    paged = sandbox.store.each_task_in_status(statuses, page=3)
    assert [t.id for t in paged] == [t.id for t in sandbox.store.tasks_in_status(statuses)]
    # The sequence did what it is meant to exercise.
    assert most >= 5 and counts.get("failed reset", 0) and counts.get("cancel", 0)
    assert {"planned", "captured", "replanned"} <= seen  # tasks displaced one another

    return sandbox.scheduler.ledger.bookings()


def test_a_decision_that_fails_half_way_leaves_no_booking_behind(
    client: TestClient, demo: dict[str, str], explosive: None
) -> None:
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    body = _body(random.Random(1), EPOCH, EXPLODE)
    task = client.post(TASKS, json=body, headers=demo).json()
    advance = client.post("/sandbox/v1/clock/advance", json={"seconds": 120})
    assert advance.status_code == 200

    assert sandbox.store.get_task(task["id"]).status == "RECEIVED"  # type: ignore[union-attr]
    assert sandbox.scheduler.bookings() == [] == fresh(sandbox)


def test_a_rolled_back_savepoint_restores_the_bookings_it_changed(
    client: TestClient, demo: dict[str, str]
) -> None:
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    task = client.post(TASKS, json=_body(random.Random(2), EPOCH, "kept"), headers=demo).json()
    client.post("/sandbox/v1/clock/advance", json={"seconds": 120})
    held = sandbox.scheduler.bookings()
    assert [b.task_id for b in held] == [task["id"]]

    store = sandbox.store
    with store.transaction():
        with pytest.raises(RuntimeError), store.transaction():
            record = store.get_task(task["id"])
            assert record is not None
            record.status, record.plan = "FAILED", None
            store.update_task(record)
            assert sandbox.scheduler.bookings() == []
            raise RuntimeError("undo the savepoint")
        assert sandbox.scheduler.bookings() == held  # inside the outer transaction already
    assert sandbox.scheduler.bookings() == held == fresh(sandbox)
