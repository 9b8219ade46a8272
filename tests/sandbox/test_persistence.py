"""State survives restarts: a clean one in-process, and a SIGKILL of a running server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tasking.sandbox import seed
from tasking.sandbox.clock import ClockMark
from tasking.sandbox.store import Store
from tests.sandbox.conftest import EPOCH, advance, history, login, run_until, task_body

TASKS = "/api/tasking/v2/tasks"
POLLS_PER_S = 20
WATCH_S = 60.0
REPO = Path(__file__).resolve().parents[2]


def test_a_new_app_on_the_same_data_dir_keeps_tasks_history_clock_and_world(
    client_for: Any,
) -> None:
    first = client_for()
    headers = login(first)
    done = first.post(TASKS, json=task_body(reference="done"), headers=headers).json()
    run_until(first, headers, done["id"], {"DONE"})
    waiting = first.post(
        TASKS, json=task_body(start_in_h=100, reference="waiting"), headers=headers
    )
    before_tasks = first.get(TASKS, headers=headers).json()
    before_history = history(first, headers, done["id"])
    before_clock = first.get("/sandbox/v1/clock").json()
    tle = first.get("/sandbox/v1/constellation").text
    first.__exit__(None, None, None)

    second = client_for(speed=None, seed=7)  # a different seed must not change the stored world
    assert second.get("/sandbox/v1/constellation").text == tle
    assert second.get(TASKS, headers=headers).json() == before_tasks
    assert history(second, headers, done["id"]) == before_history
    clock = second.get("/sandbox/v1/clock").json()
    assert clock["now"] >= before_clock["now"]
    assert clock["speed"] == before_clock["speed"]
    assert clock["nextEvent"] == before_clock["nextEvent"]  # the waiting task's decision
    run_until(second, headers, waiting.json()["id"], {"ACTIVE"})


def test_speed_change_is_persisted(client_for: Any) -> None:
    first = client_for()
    assert first.put("/sandbox/v1/clock", json={"speed": 500}).json()["speed"] == 500
    first.__exit__(None, None, None)
    assert client_for(speed=None).get("/sandbox/v1/clock").json()["speed"] == 500


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(data_dir: Path, port: int, speed: float = 3000) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [
        sys.executable, "-m", "tasking.sandbox", "--port", str(port), "--data-dir", str(data_dir),
        "--speed", str(speed), "--tick", "0.02", "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)


def wait_healthy(http: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the sandbox process exited"
        try:
            if http.get("/sandbox/v1/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # between connection attempts while the process starts
    raise AssertionError("the sandbox did not become healthy")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"data_dir": tmp_path / "killed", "port": free_port()}
    state["process"] = start_process(state["data_dir"], state["port"])
    yield state
    if state["process"].poll() is None:
        state["process"].kill()
        state["process"].wait()


def test_tasks_and_status_changes_survive_sigkill_mid_run(server: dict[str, Any]) -> None:
    base = f"http://127.0.0.1:{server['port']}"
    http = httpx.Client(base_url=base, timeout=10)
    wait_healthy(http, server["process"])
    token = http.post(
        "/v1/token",
        data={"grant_type": "client_credentials"},
        auth=(seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET),
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    now = http.get("/sandbox/v1/clock").json()["now"]
    start = datetime.fromisoformat(now.replace("Z", "+00:00"))
    created = [
        http.post(
            TASKS, json=task_body(start, start_in_h=13 + i, reference=f"k{i}"), headers=headers
        )
        for i in range(6)
    ]
    assert all(r.status_code == 201 for r in created), [r.text for r in created]
    ids = [r.json()["id"] for r in created]
    seen: dict[str, set[str]] = {i: set() for i in ids}
    # Watch while the clock runs at 3000× and events fire, then kill without warning. One list
    # request reads all six tasks, at most POLLS_PER_S times a second: far under the sandbox's
    # per-token limit (100/s, bursts of 200) by design, so no poll is ever answered 429.
    deadline = time.monotonic() + WATCH_S
    while time.monotonic() < deadline:
        listed = http.get(TASKS, params={"limit": 100}, headers=headers)
        assert listed.status_code == 200, listed.text
        for task in listed.json()["data"]:
            seen[task["id"]].add(task["status"])
        if any("ACTIVE" in s for s in seen.values()):
            break  # a task was scheduled: the world is moving
        time.sleep(1 / POLLS_PER_S)  # paces the polls of the condition above
    assert any("ACTIVE" in s for s in seen.values())  # killed while the world was moving
    os.kill(server["process"].pid, signal.SIGKILL)
    server["process"].wait()
    http.close()

    # What the store holds after the kill, read without any server.
    store = Store(server["data_dir"] / "sandbox.sqlite3")
    try:
        for task_id in ids:
            record = store.get_task(task_id)
            assert record is not None
            recorded = {h.status for h in store.history(task_id)}
            assert seen[task_id] <= recorded, (task_id, seen[task_id], recorded)
            assert record.status in recorded
    finally:
        store.close()

    server["process"] = start_process(server["data_dir"], server["port"])
    with httpx.Client(base_url=base, timeout=10) as again:
        wait_healthy(again, server["process"])
        listed = again.get(TASKS, params={"limit": 100}, headers=headers).json()["data"]
        assert sorted(t["id"] for t in listed) == sorted(ids)
        for task in listed:
            events = again.get(f"/sandbox/v1/tasks/{task['id']}/history", headers=headers).json()
            assert seen[task["id"]] <= {e["status"] for e in events["data"]}


def test_store_commits_each_change_durably(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    store.set_meta("k", "v")
    # A second connection sees the committed value at once: nothing waits in a buffer.
    other = Store(tmp_path / "s.sqlite3")
    assert other.get_meta("k") == "v"
    journal = other._conn.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = other._conn.execute("PRAGMA synchronous").fetchone()[0]
    assert (journal, synchronous) == ("wal", 2)  # 2 = FULL
    other.close()
    store.close()


def test_advance_moves_the_persisted_clock_mark(client: TestClient, data_dir: Path) -> None:
    advance(client, 3600)
    # The mark is reserved ahead: one real second (clock_reserve_s) at speed 1.
    mark = ClockMark(data_dir / "clock-mark").read()
    assert mark == EPOCH + timedelta(hours=1, seconds=1)
