"""The app-facing pieces: SandboxControl, start_in_background and the command line."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tasking.auth import ClientCredentialsAuth
from tasking.client import TaskingClient
from tasking.errors import BadRequest, TransportError
from tasking.models import TaskRequest
from tasking.sandbox import seed
from tasking.sandbox.__main__ import parse_args
from tasking.sandbox.control import HEALTH_TIMEOUT_S, SandboxControl
from tasking.sandbox.server import start_in_background
from tests.sandbox.conftest import EPOCH, login, task_body


def test_control_reads_and_moves_the_clock(client: TestClient) -> None:
    control = SandboxControl("http://testserver", http=client)
    state = control.clock()
    assert (state.now, state.speed, state.next_event) == (EPOCH, 1.0, None)
    assert control.set_speed(120).speed == 120
    assert control.advance(seconds=60).now == EPOCH + timedelta(minutes=1)
    client.post(
        "/api/tasking/v2/tasks", json=task_body(EPOCH + timedelta(minutes=1)), headers=login(client)
    )
    upcoming = control.clock().next_event
    assert upcoming == EPOCH + timedelta(minutes=2)
    assert control.advance().now == upcoming
    assert control.health() is True
    assert control.constellation_tle().count("\n") == 120


def test_control_maps_refusals_and_dead_servers_to_the_error_tree(client: TestClient) -> None:
    with pytest.raises(BadRequest) as refused:
        SandboxControl("http://testserver", http=client).set_speed(0)
    assert "1..10000" in refused.value.message
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening
        with SandboxControl(dead) as control:
            assert control.health() is False
            with pytest.raises(TransportError):
                control.clock()


def test_start_in_background_serves_real_http_until_stopped(tmp_path: Path) -> None:
    handle = start_in_background(tmp_path / "bg", port=0, speed=60.0)
    try:
        assert handle.api_url == handle.url + "/api"
        assert SandboxControl(handle.url).health()
        auth = ClientCredentialsAuth(
            handle.url + "/v1/token", seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET
        )
        with TaskingClient(handle.api_url, auth) as api:
            contracts = api.list_contracts().data
            assert seed.BROAD_CONTRACT_ID in [c.id for c in contracts]
            now = SandboxControl(handle.url).clock().now
            task = api.create_task(TaskRequest.model_validate(task_body(now, start_in_h=14)))
            assert api.get_task(task.id).status in ("RECEIVED", "ACTIVE")
    finally:
        handle.stop()
    assert not handle.running
    with pytest.raises(httpx.TransportError):
        httpx.get(handle.url + "/sandbox/v1/health", timeout=2)


def test_command_line_options_and_their_limits() -> None:
    args = parse_args(
        ["--host", "127.0.0.1", "--port", "8765", "--data-dir", ".data/x", "--seed", "7",
         "--speed", "60"]
    )  # fmt: skip
    assert (args.port, args.seed, args.speed, args.data_dir) == (8765, 7, 60.0, Path(".data/x"))
    assert parse_args([]).speed is None  # keep the persisted speed
    with pytest.raises(SystemExit):
        parse_args(["--speed", "20000"])
    with pytest.raises(SystemExit):
        parse_args(["--failure-rate", "2"])


def test_the_health_check_is_one_short_request_that_never_raises() -> None:
    seen: list[httpx.Request] = []

    def hang(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    with SandboxControl(
        "http://sandbox.test", httpx.Client(transport=httpx.MockTransport(hang))
    ) as c:
        assert c.health() is False
    assert len(seen) == 1
    assert seen[0].extensions["timeout"]["read"] == HEALTH_TIMEOUT_S
