"""A request's cost does not depend on what the scheduler has to do (issue 13).

No database read when nothing is due; a backlog run in chunks; with the decider thread, reads
that never wait for a decision in progress, and creates refused with 429 and ``Retry-After``
while too many events are due.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.sandbox.core import Sandbox
from tasking.sandbox.scheduler import Scheduler
from tasking.sandbox.store import Store, TaskRecord
from tests.sandbox.conftest import ManualClock, login, task_body

TASKS = "/api/tasking/v2/tasks"


def _sandbox(client: TestClient) -> Sandbox:
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    return sandbox


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> str:
    response = client.post(TASKS, json=task_body(**fields), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_read_touches_no_database_when_no_event_is_due(
    client: TestClient,
    demo: dict[str, str],
    real_clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task_id = _create(client, demo)  # its decision is due a simulated minute later
    sandbox = _sandbox(client)
    queries: list[str] = []
    original = Store._all

    def counted(self: Store, sql: str, params: Any = ()) -> Any:
        queries.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(Store, "_all", counted)
    for _ in range(3):
        sandbox.observe()
        real_clock.tick(10)
    assert queries == []

    real_clock.tick(31)  # the decision is due
    sandbox.observe()
    assert any("FROM events" in q for q in queries)
    assert sandbox.store.get_task(task_id).status == "ACTIVE"  # type: ignore[union-attr]


def test_a_clock_jump_over_many_events_runs_them_in_chunks(
    client_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(chunk_events=4)
    headers = login(client)
    made = [_create(client, headers) for _ in range(10)]
    chunks: list[int] = []
    original = Scheduler._chunk

    def counted(self: Scheduler, now: Any, budget: int) -> tuple[int, bool]:
        ran, more = original(self, now, budget)
        chunks.append(ran)
        return ran, more

    monkeypatch.setattr(Scheduler, "_chunk", counted)
    assert client.post("/sandbox/v1/clock/advance", json={"seconds": 120}).status_code == 200

    assert chunks == [4, 4, 2]  # each one store transaction
    statuses = {_sandbox(client).store.get_task(t).status for t in made}  # type: ignore[union-attr]
    assert statuses == {"ACTIVE"}


@pytest.fixture
def stalled(
    client_for: Callable[..., TestClient],
    real_clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[TestClient, dict[str, str], list[str], threading.Event]]:
    """A sandbox with a decider thread stopped inside the first decision of three that are due
    (it holds the store's writer meanwhile); set the event to let it go on."""
    client = client_for(tick_s=0.02, max_backlog=2)
    headers = login(client)
    made = [_create(client, headers) for _ in range(3)]
    entered, gate = threading.Event(), threading.Event()
    original = Scheduler._decide

    def held(self: Scheduler, task: TaskRecord, at: Any) -> None:
        entered.set()
        assert gate.wait(30), "the test never let the decision go on"
        original(self, task, at)

    monkeypatch.setattr(Scheduler, "_decide", held)
    real_clock.tick(61)
    assert entered.wait(10), "the decider did not start the decision"
    try:
        yield client, headers, made, gate
    finally:
        gate.set()


def _in_a_thread(call: Callable[[], Any], seconds: float) -> Any:
    """``call()`` from another thread; fails if it takes longer than ``seconds``."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"the request waited more than {seconds} s"
    return result[0]


def test_reads_answer_while_a_decision_holds_the_store(
    stalled: tuple[TestClient, dict[str, str], list[str], threading.Event],
) -> None:
    client, headers, made, gate = stalled
    task = _in_a_thread(lambda: client.get(f"{TASKS}/{made[0]}", headers=headers), 5)
    assert task.status_code == 200 and task.json()["status"] == "RECEIVED"
    listed = _in_a_thread(lambda: client.get(TASKS, headers=headers), 5)
    assert [t["status"] for t in listed.json()["data"]] == ["RECEIVED"] * 3
    clock = _in_a_thread(lambda: client.get("/sandbox/v1/clock"), 5)
    assert clock.status_code == 200

    gate.set()  # the decider works the three off without any request
    store = _sandbox(client).store
    deadline = time.monotonic() + 30
    while {store.get_task(t).status for t in made} != {"ACTIVE"}:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the decider did not run the decisions"
        time.sleep(0.02)


def test_create_is_refused_with_429_and_retry_after_while_the_backlog_is_too_long(
    stalled: tuple[TestClient, dict[str, str], list[str], threading.Event],
) -> None:
    client, headers, _, gate = stalled
    body = task_body()
    refused = _in_a_thread(lambda: client.post(TASKS, json=body, headers=headers), 5)

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    error = refused.json()
    assert error["code"] == "too_many_requests"  # ICEYE's error body, like the rate limit's
    assert "3 events are due" in error["message"]
    problem = _in_a_thread(
        lambda: client.post(
            TASKS, json=body, headers={**headers, "Accept": "application/problem+json"}
        ),
        5,
    )
    assert problem.status_code == 429 and problem.json()["code"] == "too_many_requests"

    gate.set()
    deadline = time.monotonic() + 30
    while (answer := client.post(TASKS, json=body, headers=headers)).status_code == 429:
        assert time.monotonic() < deadline, "the backlog was never worked off"
        time.sleep(0.05)
    assert answer.status_code == 201, answer.text
