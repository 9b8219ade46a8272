"""Arranging tasks on the sandbox for the page tests."""

from __future__ import annotations

from datetime import timedelta

from tasking import rules
from tasking.client import TaskingClient
from tasking.models import Task
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl


def order(
    client: TaskingClient,
    control: SandboxControl,
    *,
    reference: str = "Helsinki port",
    lat: float = 60.1699,
    lon: float = 24.9384,
    start_in: timedelta | None = None,
) -> Task:
    """A task on the broad contract with a valid window (or one starting ``start_in`` from now)."""
    now = control.clock().now
    contract = client.get_contract(seed.BROAD_CONTRACT_ID)
    start, end = rules.default_window(now, "COMMERCIAL")
    if start_in is not None:
        start = now + start_in
        end = start + timedelta(hours=48)
    draft = TaskDraft(
        contract_id=contract.id,
        lat=lat,
        lon=lon,
        window_start=start,
        window_end=end,
        imaging_mode="SPOTLIGHT",
        reference=reference,
    )
    return client.create_task(rules.build_task_request(draft, contract, now))


def run_until(client: TaskingClient, control: SandboxControl, task_id: str, status: str) -> Task:
    """Jump the sandbox clock event by event until the task reaches ``status`` (bounded)."""
    for _ in range(20):
        task = client.get_task(task_id)
        if task.status == status:
            return task
        control.advance(to_next_event=True)
    raise AssertionError(f"task {task_id} never reached {status}; last {task.status}")
