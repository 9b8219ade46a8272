"""Fixtures for the sandbox tests: an in-process sandbox on a manual real-time clock.

The simulation clock runs at 1× over a real clock that only moves when a test says so, so simulated
time stands still unless a test ticks the real clock or advances the simulation clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.auth import ClientCredentialsAuth
from tasking.client import TaskingClient
from tasking.sandbox import seed
from tasking.sandbox.app import create_app
from tasking.sandbox.config import SandboxConfig

EPOCH = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
ROOT = "http://testserver"
HELSINKI = {"lat": 60.1699, "lon": 24.9384}


class ManualClock:
    """A real-time source that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def real_clock() -> ManualClock:
    return ManualClock(EPOCH)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "sandbox"


@pytest.fixture
def make_config(data_dir: Path, real_clock: ManualClock) -> Callable[..., SandboxConfig]:
    def make(**overrides: Any) -> SandboxConfig:
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "epoch": EPOCH,
            "speed": 1.0,
            "real_clock": real_clock,
        }
        values.update(overrides)
        return SandboxConfig(**values)

    return make


@pytest.fixture
def client_for(make_config: Callable[..., SandboxConfig]) -> Iterator[Callable[..., TestClient]]:
    """``client_for(**config)`` → a started TestClient; all are shut down after the test."""
    opened: list[TestClient] = []

    def open_client(**overrides: Any) -> TestClient:
        client = TestClient(create_app(make_config(**overrides)))
        client.__enter__()
        opened.append(client)
        return client

    yield open_client
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for()


def login(
    client: TestClient,
    client_id: str = seed.DEMO_CLIENT_ID,
    secret: str = seed.DEMO_CLIENT_SECRET,
) -> dict[str, str]:
    """Bearer headers for a seeded company."""
    response = client.post(
        "/v1/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def demo(client: TestClient) -> dict[str, str]:
    return login(client)


@pytest.fixture
def northwind(client: TestClient) -> dict[str, str]:
    return login(client, seed.NORTHWIND_CLIENT_ID, seed.NORTHWIND_CLIENT_SECRET)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def task_body(
    now: datetime = EPOCH,
    *,
    start_in_h: float = 13,
    width_h: float = 48,
    **fields: Any,
) -> dict[str, Any]:
    """A valid createTask body on the broad contract over Helsinki (override any field)."""
    start = now + timedelta(hours=start_in_h)
    body: dict[str, Any] = {
        "contractID": seed.BROAD_CONTRACT_ID,
        "pointOfInterest": dict(HELSINKI),
        "acquisitionWindow": {"start": iso(start), "end": iso(start + timedelta(hours=width_h))},
        "imagingMode": "SPOTLIGHT",
    }
    body.update(fields)
    return body


def sim_now(client: TestClient) -> datetime:
    return datetime.fromisoformat(
        client.get("/sandbox/v1/clock").json()["now"].replace("Z", "+00:00")
    )


def advance(client: TestClient, seconds: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"seconds": seconds} if seconds else {"to": "next-event"}
    response = client.post("/sandbox/v1/clock/advance", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def run_until(
    client: TestClient, headers: dict[str, str], task_id: str, statuses: set[str], steps: int = 20
) -> dict[str, Any]:
    """Jump from event to event until the task reaches one of ``statuses``."""
    seen = []
    for _ in range(steps):
        task = dict(client.get(f"/api/tasking/v2/tasks/{task_id}", headers=headers).json())
        seen.append(task["status"])
        if task["status"] in statuses:
            return task
        advance(client)
    raise AssertionError(f"task never reached {statuses}; saw {seen}")


def history(client: TestClient, headers: dict[str, str], task_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/sandbox/v1/tasks/{task_id}/history", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def tasking_client(client: TestClient, client_id: str = seed.DEMO_CLIENT_ID,
                   secret: str = seed.DEMO_CLIENT_SECRET) -> TaskingClient:  # fmt: skip
    """The project's own client, speaking HTTP to the in-process sandbox."""
    auth = ClientCredentialsAuth(f"{ROOT}/v1/token", client_id, secret)
    return TaskingClient(f"{ROOT}/api", auth, transport=client._transport, sleep=lambda _: None)
