"""The background worker against a real sandbox on loopback, on SQLite and PostgreSQL: it follows
every task of the account, records what changed, notifies once per change, stays inside its
request budget, and only one worker works on a store at a time (issue 10)."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasking import rules
from tasking.config import load_settings
from tasking.desk import DeliveryState
from tasking.models import TaskRequest
from tasking.notify import DeliveryFailed
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tasking.service import TaskingService, build_service
from tasking.worker import CALLBACK_PATH, CALLBACK_USER, Worker, WorkerConfig
from tasking.worker.budget import Budget


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


@dataclass
class Outbox:
    """A channel that records what it was asked to send; ``failures[task_id]`` fail the next
    sends about that task (the module's sandbox has other tests' tasks too)."""

    sent: list[Any] = field(default_factory=list)
    failures: dict[str, list[DeliveryFailed]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, notice: Any) -> None:
        with self.lock:
            pending = self.failures.get(notice.task_id)
            if pending:
                raise pending.pop(0)
            self.sent.append(notice)


def make_service(sandbox: SandboxHandle, store_url: str, tmp_path: Path) -> TaskingService:
    settings = load_settings(
        data_dir=tmp_path / "data",
        sandbox_url=sandbox.url,
        history_url=store_url,
        worker="off",
    )
    return build_service(settings)


def make_worker(service: TaskingService, **config: Any) -> tuple[Worker, Outbox]:
    outbox = Outbox()
    values: dict[str, Any] = {"port": 0, "use_webhooks": False, "budget_per_minute": 10_000}
    values.update(config)
    worker = Worker(service, WorkerConfig(**values), senders={"email": outbox})
    return worker, outbox


def order(service: TaskingService, reference: str, **changes: Any) -> TaskRequest:
    now = service.now()
    contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
    start, end = rules.default_window(now, "COMMERCIAL")
    values: dict[str, Any] = {
        "contract_id": contract.id,
        "lat": 60.17,
        "lon": 24.94,
        "window_start": start,
        "window_end": end,
        "imaging_mode": "SPOTLIGHT",
        "reference": reference,
    }
    values.update(changes)
    return rules.build_task_request(TaskDraft(**values), contract, now)


def sweep_until(worker: Worker, control: SandboxControl, task_id: str, statuses: set[str]) -> None:
    """Jump the sandbox from event to event (other tests' tasks have events too), sweeping after
    each, until the store knows the task in one of ``statuses``."""
    for _ in range(40):
        followed = worker.desk.followed(task_id)
        if followed is not None and followed.status in statuses:
            return
        control.advance(to_next_event=True)
        worker.sweep()
    raise AssertionError(f"task {task_id} never reached {statuses}")


def sweep_until_final(worker: Worker, control: SandboxControl, task_id: str) -> None:
    sweep_until(worker, control, task_id, {"DONE", "REJECTED", "FAILED", "CANCELED"})


def test_polling_follows_a_task_to_done_and_notifies_once_per_change(
    service: TaskingService, sandbox: SandboxHandle
) -> None:
    worker, outbox = make_worker(service)
    control = SandboxControl(sandbox.url)
    worker.run_once()  # first sweep: the account's existing tasks
    placed = service.place_order(order(service, f"poll-{uuid.uuid4().hex[:8]}"))
    assert placed.task is not None
    task_id = placed.task.id

    sweep_until_final(worker, control, task_id)

    followed = worker.desk.followed(task_id)
    assert followed is not None
    assert followed.status == "DONE" and followed.details_for == "DONE"
    assert followed.planned is not None and followed.actual is not None
    assert {p.product_type for p in followed.products} >= {"GRD", "QLK"}
    assert followed.quicklook is not None and followed.quicklook.startswith(b"\x89PNG")
    kinds = [n.kind for n in worker.desk.notifications(task_id=task_id)]
    assert sorted(kinds) == ["products_ready", "scheduled"]
    # The status times are in the history the Monitor reads.
    assert {"RECEIVED", "ACTIVE", "DONE"} <= set(service.history.first_seen(task_id))

    # Sweeping again changes nothing and tells nobody again.
    worker.sweep()
    worker.deliver_due()
    worker.deliver_due()
    assert sorted(n.kind for n in outbox.sent if n.task_id == task_id) == [
        "products_ready",
        "scheduled",
    ]
    products_ready = next(n for n in outbox.sent if n.kind == "products_ready")
    assert products_ready.quicklook_png == followed.quicklook
    assert products_ready.deep_link.endswith(f"/monitor?task={task_id}")
    control.close()


def test_a_task_created_elsewhere_is_followed_and_a_rejection_tells_its_reason(
    service: TaskingService, sandbox: SandboxHandle
) -> None:
    worker, _ = make_worker(service)
    control = SandboxControl(sandbox.url)
    worker.run_once()
    # Another client of the same account (curl, another console) orders a task with a look side
    # and incidence no pass can satisfy: the sandbox rejects it at its decision.
    request = order(
        service,
        f"elsewhere-{uuid.uuid4().hex[:8]}",
        incidence_min=10,
        incidence_max=11,
        look_side="LEFT",
        pass_direction="ASCENDING",
    )
    task = service.client.send_create(request)
    sweep_until_final(worker, control, task.id)
    followed = worker.desk.followed(task.id)
    assert followed is not None
    if followed.status == "REJECTED":
        assert followed.reason
        (notice,) = worker.desk.notifications(task_id=task.id)
        assert notice.kind == "rejected" and followed.reason in notice.text
    else:  # a pass happened to fit: the worker followed it all the same
        assert followed.status == "DONE"
    control.close()


def test_final_tasks_found_on_the_first_sweep_are_old_news(
    service: TaskingService, sandbox: SandboxHandle, tmp_path: Path, store_url: str
) -> None:
    control = SandboxControl(sandbox.url)
    task = service.client.send_create(order(service, f"old-{uuid.uuid4().hex[:8]}"))
    for _ in range(10):
        if service.client.get_task(task.id).status == "DONE":
            break
        control.advance(to_next_event=True)
    worker, _ = make_worker(service)
    worker.run_once()
    followed = worker.desk.followed(task.id)
    assert followed is not None and followed.status == "DONE"
    assert worker.desk.notifications(task_id=task.id) == []
    control.close()


def test_one_worker_per_store(service: TaskingService, sandbox: SandboxHandle) -> None:
    first, _ = make_worker(service)
    second, _ = make_worker(service)
    first.run_once()
    second.run_once()
    assert first.active and not second.active
    assert service.worker_active()
    status = service.desk.worker_status() if service.desk else None
    assert status is not None and status.holder == first.holder
    first.stop()  # releases the lease: the standby takes over at its next pass
    second.run_once()
    assert second.active
    second.stop()


def test_the_budget_caps_requests_however_many_tasks_are_due(
    service: TaskingService, sandbox: SandboxHandle
) -> None:
    worker, _ = make_worker(service, budget_per_minute=5)
    assert service.desk is not None
    worker.run_once()  # the first sweep spends part of the budget
    for _ in range(40):
        service.desk.hint(str(uuid.uuid4()))
    before = service.client.request_count
    worker.run_once()
    spent = service.client.request_count - before
    assert spent <= 5
    assert service.desk.due_count() > 0  # the rest waits for the budget to refill


def test_budget_is_a_sliding_minute() -> None:
    now = [0.0]
    budget = Budget(60, clock=lambda: now[0])
    budget.spend(30)
    now[0] = 30.0
    budget.spend(30)
    assert not budget.allows(1)
    now[0] = 59.9
    assert not budget.allows(1)  # a bucket would have refilled 59 tokens by now
    now[0] = 60.0
    assert budget.allows(30) and not budget.allows(31)  # the first 30 left the window
    budget.spend(33)  # an operation that cost more than it asked (retries)
    assert not budget.allows(1)
    assert budget.free_in(1) == pytest.approx(30.0)


@given(
    st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=20.0), st.integers(min_value=1, max_value=5)),
        max_size=200,
    )
)
def test_no_60_seconds_hold_more_than_the_budget(steps: list[tuple[float, int]]) -> None:
    """Whatever the pattern of operations, asking before each and paying what was asked keeps
    every 60 s window within the budget (the token bucket let through twice as much)."""
    now = [0.0]
    budget = Budget(10, clock=lambda: now[0])
    sent: list[float] = []
    for wait, cost in steps:
        now[0] += wait
        if budget.allows(cost):
            budget.spend(cost)
            sent.extend([now[0]] * cost)
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 60.0) <= 10


def test_deliveries_retry_with_backoff_fail_for_good_and_resume_after_a_crash(
    service: TaskingService, sandbox: SandboxHandle
) -> None:
    worker, outbox = make_worker(service)
    desk = worker.desk
    control = SandboxControl(sandbox.url)
    worker.run_once()
    placed = service.place_order(order(service, f"deliver-{uuid.uuid4().hex[:8]}"))
    assert placed.task is not None
    outbox.failures[placed.task.id] = [DeliveryFailed("451 try later", permanent=False)]
    sweep_until(worker, control, placed.task.id, {"ACTIVE", "REJECTED"})
    (notice,) = desk.notifications(task_id=placed.task.id)

    worker.deliver_due()
    ((delivery, _),) = [d for d in desk.deliveries() if d[1].id == notice.id]
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at > service.desk.notifications()[0].created_at
    assert delivery.last_error == "451 try later"

    # A sender killed after claiming (lease not expired): nobody else sends it meanwhile.
    with desk._engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE deliveries SET next_attempt_at = created_at WHERE id = ?"
            if conn.dialect.name == "sqlite"
            else "UPDATE deliveries SET next_attempt_at = created_at WHERE id = %s",
            (delivery.id,),
        )
    (claimed,) = [d for d in desk.claim(lease_s=60, limit=50) if d.id == delivery.id]
    assert [d for d in desk.claim(lease_s=60, limit=50) if d.id == delivery.id] == []
    # ... its lease runs out: it is claimed again and sent once.
    with desk._engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE deliveries SET lease_until = created_at WHERE id = ?"
            if conn.dialect.name == "sqlite"
            else "UPDATE deliveries SET lease_until = created_at WHERE id = %s",
            (claimed.id,),
        )
    worker.deliver_due()
    assert [n.task_id for n in outbox.sent].count(placed.task.id) == 1
    mine = [d for d, n in desk.deliveries() if n.task_id == placed.task.id]
    assert [(d.state, d.attempts) for d in mine] == [(DeliveryState.SENT, 3)]
    control.close()


def test_a_permanent_failure_is_not_retried(
    service: TaskingService, sandbox: SandboxHandle
) -> None:
    worker, outbox = make_worker(service)
    control = SandboxControl(sandbox.url)
    worker.run_once()
    placed = service.place_order(order(service, f"refused-{uuid.uuid4().hex[:8]}"))
    assert placed.task is not None
    outbox.failures[placed.task.id] = [DeliveryFailed("550 no such user", permanent=True)]
    sweep_until(worker, control, placed.task.id, {"ACTIVE", "REJECTED"})
    worker.deliver_due()
    mine = [d for d, n in worker.desk.deliveries() if n.task_id == placed.task.id]
    assert [(d.state, d.attempts) for d in mine] == [(DeliveryState.FAILED, 1)]
    worker.deliver_due()
    mine = [d for d, n in worker.desk.deliveries() if n.task_id == placed.task.id]
    assert [(d.state, d.attempts) for d in mine] == [(DeliveryState.FAILED, 1)]
    control.close()


# --- the receiver: forged callbacks change nothing ----------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _callback(webhook_id: str, task_id: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": "task.status_changed",
        "webhookID": webhook_id,
        "resourceType": "task",
        "resourceID": task_id,
        "status": "ACTIVE",
        "timestamp": "2026-01-01T00:00:00Z",
    }


def test_forged_callbacks_change_nothing(service: TaskingService) -> None:
    worker, _ = make_worker(service)
    desk = worker.desk
    password = "correct horse battery staple"
    webhook_id = str(uuid.uuid4())
    from tasking.worker.core import _digest  # the hash the worker keeps instead of the password

    desk.set_setting("webhook.password_sha256", _digest(password))
    desk.set_setting("webhook.id", webhook_id)
    worker.start(loops=False)
    try:
        url = f"{worker.receiver_url}{CALLBACK_PATH}"
        task_id = str(uuid.uuid4())
        good = _basic(CALLBACK_USER, password)

        def post(body: Any, auth: str | None = good, raw: bytes | None = None) -> int:
            headers = {"Authorization": auth} if auth else {}
            if raw is not None:
                return httpx.post(url, content=raw, headers=headers, timeout=5).status_code
            return httpx.post(url, json=body, headers=headers, timeout=5).status_code

        assert post(_callback(webhook_id, task_id), auth=None) == 401
        assert post(_callback(webhook_id, task_id), auth=_basic(CALLBACK_USER, "guess")) == 401
        assert post(_callback(webhook_id, task_id), auth=_basic("admin", password)) == 401
        assert post(_callback(str(uuid.uuid4()), task_id)) == 403
        assert post(None, raw=b"{not json") == 400
        assert post({"id": "x", "type": "something.else"}) == 400
        assert post(None, raw=b"x" * (70 * 1024)) == 413
        assert desk.due(10) == [] and desk.recent_callbacks() == []

        event = str(uuid.uuid4())
        assert post(_callback(webhook_id, task_id, event)) == 202
        assert desk.due(10) == [task_id]
        desk.checked(task_id, next_due=None)
        assert post(_callback(webhook_id, task_id, event)) == 200  # a replay: taken before
        assert desk.due(10) == []
        assert len(desk.recent_callbacks()) == 1

        metrics = httpx.get(f"{worker.receiver_url}/metrics", timeout=5).text
        assert 'tasking_worker_callbacks_total{outcome="unauthorized"} 3.0' in metrics
        assert 'tasking_worker_callbacks_total{outcome="replayed"} 1.0' in metrics
        assert 'tasking_worker_callbacks_total{outcome="accepted"} 1.0' in metrics
    finally:
        worker.stop()


def test_health_says_whether_the_loop_runs(service: TaskingService) -> None:
    worker, _ = make_worker(service, tick_s=0.2)
    worker.start()
    try:
        deadline = 50
        health: dict[str, Any] = {}
        for _ in range(deadline):
            response = httpx.get(f"{worker.receiver_url}/health", timeout=5)
            health = json.loads(response.text)
            if response.status_code == 200 and health["status"] == "active":
                break
            threading.Event().wait(0.1)
        assert health["status"] == "active" and health["mode"] == "polling"
    finally:
        worker.stop()
    assert service.desk is not None and not service.worker_active()


def test_lease_expiry_hands_over(service: TaskingService) -> None:
    desk = service.desk
    assert desk is not None
    assert desk.acquire_lease("a", 30, {})
    assert not desk.acquire_lease("b", 30, {})
    with desk._engine.begin() as conn:
        status = desk.worker_status()
        assert status is not None
        expired = status.expires_at - timedelta(seconds=31)
        conn.exec_driver_sql(
            "UPDATE worker_lease SET expires_at = ?"
            if conn.dialect.name == "sqlite"
            else "UPDATE worker_lease SET expires_at = %s",
            (expired.replace(tzinfo=None) if conn.dialect.name == "sqlite" else expired,),
        )
    assert desk.acquire_lease("b", 30, {})


# --- webhooks: the sandbox calls the worker back ---------------------------------------------


@pytest.mark.parametrize("auth", ["basic", "oauth2"])
def test_callbacks_drive_the_worker_without_sweeps(
    service: TaskingService, sandbox: SandboxHandle, auth: str
) -> None:
    # No sweep after the first one: whatever the worker learns comes from callbacks.
    worker, _ = make_worker(
        service, use_webhooks=True, callback_auth=auth, safety_sweep_s=3600, tick_s=0.2
    )
    control = SandboxControl(sandbox.url)
    worker.start()
    try:
        deadline = threading.Event()
        for _ in range(100):
            if worker.active and worker.mode == "webhook":
                break
            deadline.wait(0.1)
        assert worker.mode == "webhook"
        placed = service.place_order(order(service, f"hook-{auth}-{uuid.uuid4().hex[:6]}"))
        assert placed.task is not None
        task_id = placed.task.id
        # The app passed the worker's webhook in the create.
        sent = service.client.get_task(task_id)
        assert sent.notifications == {"webhook": {"id": worker.webhook_id}}
        for _ in range(40):
            followed = worker.desk.followed(task_id)
            if followed is not None and followed.status == "DONE":
                break
            control.advance(to_next_event=True)
            deadline.wait(0.3)
        followed = worker.desk.followed(task_id)
        assert followed is not None and followed.status == "DONE"

        def taken() -> set[str]:
            return {
                c["status"] for c in worker.desk.recent_callbacks(100) if c["task_id"] == task_id
            }

        for _ in range(100):  # the DONE callback may still be on its way
            if {"ACTIVE", "DONE"} <= taken():
                break
            deadline.wait(0.1)
        assert {"ACTIVE", "DONE"} <= taken()
        assert worker.metrics.sweeps._value.get() == 1
        assert {"ACTIVE", "DONE"} <= set(service.history.first_seen(task_id))
        # Each status is timed by its callback (the moment of the change), not by when the
        # worker happened to fetch the task.
        reported = dict(reversed(worker.desk.reported_statuses(task_id)))
        for _ in range(50):
            seen = service.history.first_seen(task_id)
            if all(seen[s] == reported[s] for s in ("ACTIVE", "DONE")):
                break
            deadline.wait(0.1)
        assert seen["ACTIVE"] == reported["ACTIVE"] and seen["DONE"] == reported["DONE"]
        metrics = worker.metrics.exposition().decode()
        assert 'tasking_worker_callbacks_total{outcome="accepted"}' in metrics
        if auth == "oauth2":
            # A bearer token the worker never issued is refused.
            answer = httpx.post(
                f"{worker.receiver_url}{CALLBACK_PATH}",
                json=_callback(str(worker.webhook_id), task_id),
                headers={"Authorization": "Bearer forged"},
                timeout=5,
            )
            assert answer.status_code == 401
            refused = httpx.post(
                f"{worker.receiver_url}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(CALLBACK_USER, "guess"),
                timeout=5,
            )
            assert refused.status_code == 401 and refused.json() == {"error": "invalid_client"}
    finally:
        worker.stop()
        control.close()


def test_the_worker_settles_an_order_the_app_left_unconfirmed(
    service: TaskingService, sandbox: SandboxHandle
) -> None:
    # The app sent a create, got no answer, and was closed before it could look for the task.
    request = order(service, f"orphan-{uuid.uuid4().hex[:8]}")
    journaled, new = service.journal.begin(request, service.now())
    assert new
    task = service.client.send_create(request)
    service.journal.unconfirmed(journaled.key, "the answer never came")
    worker, _ = make_worker(service)
    worker.run_once()
    settled = service.journal.get(journaled.key)
    assert settled is not None
    assert settled.state.name == "PLACED" and settled.task_id == task.id


def test_the_worker_command_needs_the_sandbox_the_apps_use(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("ICEYE_")}
    env["ICEYE_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "tasking.worker"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "ICEYE_SANDBOX_URL" in done.stderr


def test_tasks_no_callback_covers_are_polled_while_the_others_wait_for_callbacks(
    service: TaskingService, sandbox: SandboxHandle
) -> None:
    worker, _ = make_worker(
        service, use_webhooks=True, safety_sweep_s=3600, poll_interval_s=1, tick_s=0.2
    )
    worker.start(loops=False)
    worker.run_once()
    assert worker.mode == "webhook"
    desk = worker.desk
    # A task ordered elsewhere (no webhook in it) is followed by polling ...
    elsewhere = service.client.send_create(order(service, f"curl-{uuid.uuid4().hex[:6]}"))
    worker.sweep()
    followed = desk.followed(elsewhere.id)
    assert followed is not None and not followed.via_webhook
    assert desk.open_without_webhook() >= 1
    worker._state.last_sweep = time.monotonic() - 2  # the poll interval has passed
    assert worker._sweep_due()
    # ... while one whose callbacks reach the worker needs no sweep.
    desk.hint(elsewhere.id, callback=True)
    followed = desk.followed(elsewhere.id)
    assert followed is not None and followed.via_webhook
    worker.stop()


def test_the_import_pays_every_request_from_the_budget_and_fetches_details_later(
    service: TaskingService, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new store's first sweep of an account: every list page is asked for, a sweep that runs
    out of budget goes on from its cursor, the tasks are recorded from the list items with no
    request each and no notification (old news), and their details come from the backlog at the
    budget's pace. No 60 s ever holds more requests than the budget."""
    import tasking.worker.core as core

    control = SandboxControl(sandbox.url)
    made = [
        service.client.send_create(order(service, f"imp-{i}-{uuid.uuid4().hex[:6]}"))
        for i in range(5)
    ]
    for _ in range(10):  # until the scheduler decided them
        if all(service.client.get_task(t.id).status != "RECEIVED" for t in made):
            break
        control.advance(to_next_event=True)
    monkeypatch.setattr(core, "_PAGE", 2)  # many pages, so the budget runs out between them
    now = [0.0]
    worker, outbox = make_worker(service, budget_per_minute=4)
    worker.budget = Budget(4, clock=lambda: now[0])
    sent_at: list[float] = []
    passes = 0
    while passes < 400:
        before = service.client.request_count
        done = worker.run_once()
        sent_at.extend([now[0]] * (service.client.request_count - before))
        passes += 1
        if (
            worker._state.sweep is None
            and worker.desk.setting(core._SWEEP_LAST)
            and not worker.desk.lacking_details(limit=1)
            and not worker.desk.due(limit=1)
        ):
            break
        now[0] += 61.0 if done.fetched + done.backlog == 0 and not done.observed else 20.0
        worker._state.last_reconcile = time.monotonic()  # the journal is not this test's subject
    assert passes < 400, "the import never finished"
    assert passes >= 3, "the account should take several budget windows to import"
    for start in sent_at:
        assert sum(1 for t in sent_at if start <= t < start + 60.0) <= 4
    for task in made:
        followed = worker.desk.followed(task.id)
        assert followed is not None and followed.status == service.client.get_task(task.id).status
        assert followed.details_for == followed.status  # the backlog fetched its details
        if followed.status == "ACTIVE":
            assert followed.planned is not None
        assert worker.desk.notifications(task_id=task.id) == []  # old news
    worker.deliver_due()
    assert not [n for n in outbox.sent if n.task_id in {t.id for t in made}]
    control.close()


def test_a_change_seen_without_budget_for_its_details_waits_without_back_off(
    service: TaskingService, sandbox: SandboxHandle
) -> None:
    control = SandboxControl(sandbox.url)
    worker, _ = make_worker(service)
    worker.run_once()  # the import
    task = service.place_order(order(service, f"defer-{uuid.uuid4().hex[:6]}")).task
    assert task is not None
    sweep_until(worker, control, task.id, {"ACTIVE"})
    # The next change is seen while the budget has room for the list page only.
    now = [0.0]
    worker.budget = Budget(1, clock=lambda: now[0])
    for _ in range(10):  # this task's own events (other tests' tasks have events too)
        moved = control.fast_forward(task.id, "next-event", auth=service.client.session.auth)
        if moved.task.status != "ACTIVE":
            break
    worker._state.sweep = None
    worker.sweep()
    followed = worker.desk.followed(task.id)
    assert followed is not None and followed.status in ("FULFILLED", "DONE", "FAILED")
    assert followed.details_for != followed.status  # no budget for its scene, products or reason
    assert followed.due_at is not None and followed.due_at <= worker._now()  # due at once
    now[0] += 61.0
    worker.budget = Budget(10, clock=lambda: now[0])
    worker._fetch_due()
    followed = worker.desk.followed(task.id)
    assert followed is not None and followed.details_for == followed.status
    assert followed.actual is not None or followed.status == "FAILED"
    control.close()
