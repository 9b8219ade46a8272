"""Campaigns (issue 12): batch feasibility in ICEYE's array form, and a batch create through the
order journal that, interrupted half-way and resumed by a new service on the same store, makes
exactly one task per target, on SQLite and PostgreSQL (``store_url``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tasking import rules
from tasking.campaigns import CampaignStatus, TargetResult, TargetState
from tasking.client import TaskingClient
from tasking.errors import InputError, TransportError
from tasking.journal import OrderState
from tasking.models import Contract, Task, TaskRequest
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.server import SandboxHandle, start_in_background
from tasking.service import TaskingService
from tasking.targets import Target
from tests.conftest import load_golden
from tests.test_worker import make_service

FEASIBILITY_PATH = "/tasking/v2/feasibility"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


class Interrupted(Exception):
    """What the progress callback raises to stop a run half-way (a page closed, an app killed)."""


def targets(count: int) -> list[Target]:
    """Ports and sites spread over Europe, every one a different point."""
    return [
        Target(
            name=f"site {i + 1}", lat=40.0 + (i % 10) * 2.0, lon=-5.0 + (i // 10) * 6.0, row=i + 2
        )
        for i in range(count)
    ]


def draft_and_contract(service: TaskingService) -> tuple[TaskDraft, Contract]:
    contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
    start, end = rules.default_window(service.now(), "COMMERCIAL")
    draft = TaskDraft(
        contract_id=contract.id,
        lat=None,
        lon=None,
        window_start=start,
        window_end=end,
        imaging_mode="SPOTLIGHT",
    )
    return draft, contract


def campaign_tasks(service: TaskingService, campaign_id: str) -> list[Task]:
    """Every task on the sandbox whose reference carries the campaign's tag."""
    campaign = service.campaigns.get(campaign_id)
    assert campaign is not None
    since = service.now() - timedelta(days=1)
    tag = f"[{campaign_id[:8]}/"
    return [
        task
        for task in service.client.iter_tasks(contract_id=campaign.contract_id, created_after=since)
        if task.reference is not None and tag in task.reference
    ]


def test_a_campaign_interrupted_half_way_and_resumed_by_a_new_service_makes_each_task_once(
    sandbox: SandboxHandle, store_url: str, tmp_path: Path
) -> None:
    first = make_service(sandbox, store_url, tmp_path)
    seen: list[TargetResult] = []

    def stop_half_way(settled: int, total: int, result: TargetResult) -> None:
        seen.append(result)
        if settled == total // 2:
            raise Interrupted

    try:
        draft, contract = draft_and_contract(first)
        campaign_id, requests = first.campaign_requests("Ports", draft, targets(50), contract)
        with pytest.raises(Interrupted):
            first.create_campaign(
                "Ports",
                draft,
                targets(50),
                contract,
                requests=requests,
                campaign_id=campaign_id,
                on_progress=stop_half_way,
            )
        assert len(seen) == 25 and all(r.state is TargetState.PLACED for r in seen)
        halfway = first.campaigns.get(campaign_id)
        assert halfway is not None and halfway.status is CampaignStatus.CREATING
        assert sum(t.task_id is not None for t in halfway.targets) == 25
    finally:
        first.close()

    second = make_service(sandbox, store_url, tmp_path)
    try:
        progress: list[int] = []
        run = second.resume_campaign(campaign_id, on_progress=lambda n, _t, _r: progress.append(n))
        assert run.sent == 25  # only the missing half was sent
        assert run.count(TargetState.PLACED) == 50
        assert run.campaign.status is CampaignStatus.PLACED
        assert progress == list(range(1, 51))
        tasks = campaign_tasks(second, campaign_id)
        assert len(tasks) == 50
        assert len({t.reference for t in tasks}) == 50
        assert {t.id for t in tasks} == {r.task_id for r in run.results}
        again = second.resume_campaign(campaign_id)
        assert again.sent == 0 and len(campaign_tasks(second, campaign_id)) == 50
        assert second.campaigns.campaign_of_task(tasks[0].id) == campaign_id
    finally:
        second.close()


def test_a_resume_reconciles_orders_in_doubt_before_sending_and_never_resends_them(
    sandbox: SandboxHandle, store_url: str, tmp_path: Path
) -> None:
    service = make_service(sandbox, store_url, tmp_path)
    try:
        draft, contract = draft_and_contract(service)
        sites = targets(3)
        campaign_id, requests = service.campaign_requests("Doubt", draft, sites, contract)
        service.campaigns.create(campaign_id, "Doubt", sites, requests)
        # Target 1: journaled and sent, then the app died before hearing the answer.
        sent, _ = service.journal.begin(requests[0], service.now())
        service.campaigns.set_order(campaign_id, 0, sent.key)
        made = service.client.send_create(requests[0])
        # Target 2: journaled, then the app died; whether it was sent cannot be known yet.
        doubtful, _ = service.journal.begin(requests[1], service.now())
        service.campaigns.set_order(campaign_id, 1, doubtful.key)

        run = service.resume_campaign(campaign_id)

        states = [r.state for r in run.results]
        assert states == [TargetState.PLACED, TargetState.UNCONFIRMED, TargetState.PLACED]
        assert run.results[0].task_id == made.id and not run.results[0].sent
        assert run.sent == 1  # only target 3
        assert run.campaign.status is CampaignStatus.CREATING
        order = service.journal.get(doubtful.key)
        assert order is not None and order.state is OrderState.SENDING
        assert len(campaign_tasks(service, campaign_id)) == 2
    finally:
        service.close()


def test_batch_feasibility_is_one_request_with_one_verdict_per_target(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    service = make_service(sandbox, f"sqlite:///{tmp_path / 'store.sqlite'}", tmp_path)
    try:
        draft, contract = draft_and_contract(service)
        _, requests = service.campaign_requests("Check", draft, targets(50), contract)
        before = service.client.request_count
        verdicts = service.check_feasibility_batch(requests)
        assert service.client.request_count - before == 1
        assert len(verdicts) == 50
        assert all(v.verdict in ("FEASIBLE", "INFEASIBLE", "NOT_FEASIBLE") for v in verdicts)

        before = service.client.request_count
        chunked = service.client.check_feasibility_batch(requests, max_items=20)
        assert service.client.request_count - before == 3  # 20 + 20 + 10
        assert [v.verdict for v in chunked] == [v.verdict for v in verdicts]
    finally:
        service.close()


def test_every_refused_target_is_named_with_its_row_and_nothing_is_recorded(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    service = make_service(sandbox, f"sqlite:///{tmp_path / 'store.sqlite'}", tmp_path)
    try:
        draft, contract = draft_and_contract(service)
        sites = [*targets(2), Target(name="nowhere", lat=95.0, lon=0.0, row=7)]
        with pytest.raises(InputError) as refused:
            service.create_campaign("Bad", draft, sites, contract)
        assert "Target 3 (nowhere, row 7)" in str(refused.value)
        assert service.campaigns.ids() == []
    finally:
        service.close()


def test_an_unreachable_backend_stops_the_run_and_a_resume_sends_the_rest(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = make_service(sandbox, f"sqlite:///{tmp_path / 'store.sqlite'}", tmp_path)
    try:
        draft, contract = draft_and_contract(service)
        real_send = service.client.send_create
        calls: list[str | None] = []

        def down_after_two(request: TaskRequest) -> Task:
            calls.append(request.reference)
            if len(calls) > 2:
                raise TransportError("Connection refused", sent=False)
            return real_send(request)

        monkeypatch.setattr(service.client, "send_create", down_after_two)
        run = service.create_campaign("Down", draft, targets(6), contract)
        assert [r.state for r in run.results] == [
            TargetState.PLACED, TargetState.PLACED, TargetState.REFUSED,
            TargetState.PENDING, TargetState.PENDING, TargetState.PENDING,
        ]  # fmt: skip
        assert len(calls) == 3 and run.sent == 2
        assert run.campaign.status is CampaignStatus.CREATING

        monkeypatch.setattr(service.client, "send_create", real_send)
        resumed = service.resume_campaign(run.campaign.id)
        assert resumed.sent == 4 and resumed.count(TargetState.PLACED) == 6
        assert len(campaign_tasks(service, run.campaign.id)) == 6
    finally:
        service.close()


# --- the feasibility array on the wire (no server) -------------------------------------------------


def documented_request(**changes: object) -> TaskRequest:
    data = load_golden("feasibility_request_doc")[0]
    data.update(changes)
    return TaskRequest.model_validate(data)


def wire_client(
    answer: Callable[[list[dict[str, object]]], dict[str, object]],
) -> tuple[TaskingClient, list[list[dict[str, object]]]]:
    """A client whose feasibility requests are answered by ``answer(body)``; the bodies sent are
    kept."""
    bodies: list[list[dict[str, object]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/api/tasking/v2/feasibility"
        body = json.loads(request.content)
        bodies.append(body)
        return httpx.Response(200, json=answer(body))

    return TaskingClient(
        "https://api.test/api", None, transport=httpx.MockTransport(handle)
    ), bodies


def test_batch_feasibility_sends_documented_items_and_aligns_verdicts_by_index_id() -> None:
    def reversed_with_one_missing(body: list[dict[str, object]]) -> dict[str, object]:
        items = [
            {"id": str(i), "result": "FEASIBLE" if i % 2 == 0 else "INFEASIBLE"}
            for i in range(len(body))
            if i != 3
        ]
        return {"status": "DONE", "feasibility": list(reversed(items))}

    client, bodies = wire_client(reversed_with_one_missing)
    with client:
        requests = [documented_request(reference=f"r{i}") for i in range(5)]
        verdicts = client.check_feasibility_batch(requests)
    assert len(bodies) == 1 and len(bodies[0]) == 5
    expected_keys = load_golden("feasibility_request_doc")[0].keys()
    assert all(item.keys() == expected_keys | {"reference"} for item in bodies[0])
    assert [item["reference"] for item in bodies[0]] == [f"r{i}" for i in range(5)]
    assert [v.verdict for v in verdicts] == [
        "FEASIBLE", "INFEASIBLE", "FEASIBLE", "UNKNOWN", "FEASIBLE",
    ]  # fmt: skip


def test_batch_feasibility_reads_the_documented_uuid_ids_in_order_and_splits_by_priority() -> None:
    def documented(body: list[dict[str, object]]) -> dict[str, object]:
        item = load_golden("feasibility_response_doc")["feasibility"][0]
        return {"feasibility": [dict(item, status=str(b["reference"])) for b in body]}

    client, bodies = wire_client(documented)
    with client:
        requests = [
            documented_request(
                reference=f"R{i}", priority="BACKGROUND" if i % 3 == 0 else "COMMERCIAL"
            )
            for i in range(7)
        ]
        verdicts = client.check_feasibility_batch(requests, max_items=3)
    # Each request's verdict echoes its reference here: every one is back in its place.
    assert [v.verdict for v in verdicts] == [f"R{i}" for i in range(7)]
    priorities = [{item["priority"] for item in body} for body in bodies]
    assert all(len(p) == 1 for p in priorities)  # the batch rule: one priority per request
    assert sorted(len(body) for body in bodies) == [1, 3, 3]  # 3 BACKGROUND; 4 COMMERCIAL in 3 + 1


# --- a real kill -----------------------------------------------------------------------------------

KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from tests.test_campaigns import draft_and_contract, targets
    from tests.test_worker import make_service
    from pathlib import Path

    # make_service reads only the handle's url: a stand-in for the test's SandboxHandle.
    handle = type("Handle", (), {"url": sys.argv[1]})()
    service = make_service(handle, sys.argv[2], Path(sys.argv[3]))
    draft, contract = draft_and_contract(service)
    sites = targets(50)
    campaign_id, requests = service.campaign_requests("Killed", draft, sites, contract)
    print(campaign_id, flush=True)

    def die(settled, total, result):
        if settled == total // 2:
            os.kill(os.getpid(), signal.SIGKILL)  # no clean-up of any kind

    service.create_campaign(
        "Killed", draft, sites, contract, requests=requests, campaign_id=campaign_id,
        on_progress=die,
    )
    """
)


def test_an_app_killed_half_way_through_a_campaign_leaves_a_resume_exactly_the_rest(
    sandbox: SandboxHandle, store_url: str, tmp_path: Path
) -> None:
    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "killed.py"
    script.write_text(KILLED_RUN)
    done = subprocess.run(
        [sys.executable, str(script), sandbox.url, store_url, str(tmp_path)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -9, done.stderr[-2000:]
    campaign_id = done.stdout.split()[0]

    service = make_service(sandbox, store_url, tmp_path)
    try:
        assert len(campaign_tasks(service, campaign_id)) == 25
        run = service.resume_campaign(campaign_id)
        assert run.sent == 25 and run.count(TargetState.PLACED) == 50
        tasks = campaign_tasks(service, campaign_id)
        assert len(tasks) == 50 and len({t.reference for t in tasks}) == 50
    finally:
        service.close()
