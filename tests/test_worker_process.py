"""``python -m tasking.worker`` as an operator runs it, killed with SIGKILL in the middle of a burst
of status changes and started again: no change is lost and nobody is told twice (issue 10).

The worker follows a real sandbox on loopback (its callbacks reach the worker's receiver), writes
to the store (SQLite and PostgreSQL) and emails a real SMTP server on loopback (aiosmtpd).
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tasking.desk import DeliveryState
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tasking.service import TaskingService
from tests.e2e.conftest import free_port, wait_until
from tests.test_worker import order

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"ACTIVE": "scheduled", "FULFILLED": "captured", "DONE": "products_ready",
         "REJECTED": "rejected", "FAILED": "failed"}  # fmt: skip


class Inbox:
    """aiosmtpd's handler: every message the SMTP server accepted, in order."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def snapshot(self) -> list[Message]:
        with self.lock:
            return list(self.messages)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


class WorkerProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{env['ICEYE_WORKER_PORT']}"

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tasking.worker", "--lease-seconds", "3"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(self._active, 60, "the worker to become active")

    def _active(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{self.log_path.read_text()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).json().get("status") == "active"
        except (httpx.HTTPError, ValueError):
            return False

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def test_kill_9_in_a_burst_loses_no_change_and_tells_nobody_twice(
    sandbox: SandboxHandle,
    store_url: str,
    tmp_path: Path,
    inbox: Inbox,
    service: TaskingService,
) -> None:
    assert service.desk is not None
    desk = service.desk
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICEYE_")}
    env.update(
        ICEYE_SANDBOX_URL=sandbox.url,
        ICEYE_HISTORY_URL=store_url,
        ICEYE_DATA_DIR=str(tmp_path / "worker-data"),
        ICEYE_WORKER_PORT=str(free_port()),
        ICEYE_POLL_INTERVAL_S="2",
        ICEYE_REQUEST_BUDGET="3000",
        ICEYE_SMTP_HOST="127.0.0.1",
        ICEYE_SMTP_PORT=str(inbox.port),
        ICEYE_SMTP_SECURITY="none",
        ICEYE_SMTP_SENDER="desk@example.org",
        ICEYE_NOTIFY_EMAILS="team@example.org",
    )
    worker = WorkerProcess(env, tmp_path / "worker.log")
    control = SandboxControl(sandbox.url)
    worker.start()
    try:
        tag = uuid.uuid4().hex[:6]
        tasks = []
        for n in range(5):
            placed = service.place_order(order(service, f"burst-{tag}-{n}", lat=60.0 + n))
            assert placed.task is not None
            tasks.append(placed.task.id)

        def all_final() -> bool:
            return all(
                service.client.get_task(t).status in ("DONE", "REJECTED", "FAILED") for t in tasks
            )

        # The burst: jump from event to event; the worker is killed while it works through it.
        for step in range(60):
            if all_final():
                break
            control.advance(to_next_event=True)
            if step == 3:
                worker.kill()
        else:
            raise AssertionError("the tasks did not finish")
        if worker.proc is not None and worker.proc.poll() is None:
            worker.kill()
        worker.start()  # takes over once the dead worker's 3 s lease runs out

        truth = {t: sandbox_statuses(service, control, t) for t in tasks}

        def callbacks_done() -> bool:
            sent = httpx.get(f"{sandbox.url}/sandbox/v1/callbacks?limit=1000", timeout=5).json()
            ours = [c for c in sent["data"] if c["taskID"] in truth]
            if bool(ours) and all(c["state"] != "pending" for c in ours):
                return True
            # Callbacks the dead worker missed are retried with backoff on the simulated clock.
            control.advance(seconds=120)
            return False

        def settled() -> bool:
            if not callbacks_done():
                return False
            for task_id, statuses in truth.items():
                followed = desk.followed(task_id)
                if followed is None or followed.status != statuses[-1] or followed.due_at:
                    return False
            mine = [d for d, n in desk.deliveries(limit=500) if n.task_id in truth]
            return bool(mine) and all(d.state == DeliveryState.SENT for d in mine)

        wait_until(settled, 60, "the restarted worker to catch up and send every email")

        for task_id, statuses in truth.items():
            # No change lost: every status the sandbox went through is in the history.
            assert set(service.history.first_seen(task_id)) >= set(statuses), task_id
            # Told once per change; a stage learnt only after a later one was told (the worker
            # was down through it) is recorded above but not told late.
            kinds = [n.kind for n in desk.notifications(task_id=task_id)]
            assert len(kinds) == len(set(kinds)), task_id
            assert set(kinds) <= {KINDS[s] for s in statuses if s in KINDS}, task_id
            assert KINDS[statuses[-1]] in kinds, task_id

        # Nobody told twice: one message per notification, each with the delivery's Message-ID.
        # A message the SMTP server accepted in the instant between its "250" and the worker's
        # record of it would come again with the same Message-ID (mail systems drop such a
        # repeat); there is at most the one the kill interrupted.
        ours = [m for m in inbox.snapshot() if any(t in m["References"] for t in tasks)]
        per_id = Counter(m["Message-ID"] for m in ours)
        notifications = [n for t in tasks for n in desk.notifications(task_id=t)]
        assert len(per_id) == len(notifications)
        assert sum(count - 1 for count in per_id.values()) <= 1, per_id
        subjects = {m["Subject"] for m in ours}
        assert subjects == {n.title for n in notifications}
    finally:
        worker.stop()
        control.close()


def sandbox_statuses(service: TaskingService, control: SandboxControl, task_id: str) -> list[str]:
    """The statuses the sandbox's own history says the task went through, in order."""
    session = service.client.session
    response = session.http.get(
        f"{control.root}/sandbox/v1/tasks/{task_id}/history", auth=session.auth
    )
    response.raise_for_status()
    statuses: list[str] = []
    for entry in response.json()["data"]:
        if entry["status"] and (not statuses or statuses[-1] != entry["status"]):
            statuses.append(entry["status"])
    return statuses
