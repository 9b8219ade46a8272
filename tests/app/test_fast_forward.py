"""The Monitor's demo controls (sandbox only): "Next event for this task" and "Fast-forward to the
end" move the simulation clock for the monitored task and the page shows the new status in the
same run, without waiting for its refresh timer; a final task and live mode show no controls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.clock import ClockReading, SimClock
from tasking.config import load_settings
from tasking.errors import NotFound, TransportError
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle
from tasking.service import TaskingService, build_service
from tests.app.conftest import APP, RUN_TIMEOUT_S, no_exception, texts
from tests.app.helpers import order
from ui.demo_controls import CAPTION

MONITOR = "views/monitor.py"
NEXT = "mon_ff_next"
FINAL = "mon_ff_final"


def badge(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "-badge[" in m.value)


def controls(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.key in (NEXT, FINAL)]


def test_fast_forward_to_the_end_shows_done_at_once(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Fast-forward")
    at = open_app(MONITOR, query={"task": task.id})
    assert "RECEIVED" in badge(at)
    assert controls(at) == [NEXT, FINAL]
    assert CAPTION in [c.value for c in at.caption]

    at.button(key=FINAL).click().run()

    no_exception(at)
    assert "DONE" in badge(at)
    assert client.get_task(task.id).status == "DONE"
    assert "Final status: no more refreshes." in texts(at)
    assert controls(at) == []  # final: nothing left to fast-forward
    assert any("the task is DONE" in t.value for t in at.toast)


def test_next_event_for_this_task_shows_its_decision(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Next event")
    at = open_app(MONITOR, query={"task": task.id})

    at.button(key=NEXT).click().run()

    no_exception(at)
    assert "ACTIVE" in badge(at)
    assert client.get_task(task.id).status == "ACTIVE"
    assert controls(at) == [NEXT, FINAL]  # not final yet
    assert any("1 event ran; the task is ACTIVE" in t.value for t in at.toast)


def test_a_final_task_has_no_demo_controls(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Canceled")
    client.cancel_task(task.id)

    at = open_app(MONITOR, query={"task": task.id})

    no_exception(at)
    assert "CANCELED" in badge(at)
    assert controls(at) == []
    assert CAPTION not in texts(at)


def test_a_failed_fast_forward_is_a_sentence_and_the_page_stays(
    open_app: Callable[..., AppTest],
    client: TaskingClient,
    control: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = order(client, control, reference="Unreachable")
    at = open_app(MONITOR, query={"task": task.id})

    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise TransportError("cannot reach the sandbox at 127.0.0.1:9: connection refused")

    monkeypatch.setattr(TaskingService, "fast_forward", unreachable)
    at.button(key=FINAL).click().run()

    no_exception(at)  # also: nothing reached the guard as a bug
    errors = [e.value.replace("\\", "") for e in at.error]  # Markdown escapes of server text
    assert any("Could not fast-forward the task" in e and "cannot reach" in e for e in errors)
    assert "RECEIVED" in badge(at)
    assert controls(at) == [NEXT, FINAL]
    at.run()  # the fragment's next refresh: the error stays until the next click
    assert any("Could not fast-forward the task" in e.value.replace("\\", "") for e in at.error)


@pytest.fixture
def live_env(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> pytest.MonkeyPatch:
    """Live mode (complete credentials, no sandbox control) against the sandbox's API."""
    monkeypatch.delenv("ICEYE_SANDBOX_URL", raising=False)
    monkeypatch.setenv("ICEYE_API_URL", sandbox.api_url)
    monkeypatch.setenv("ICEYE_AUTH_URL", sandbox.url)
    monkeypatch.setenv("ICEYE_CLIENT_ID", seed.DEMO_CLIENT_ID)
    monkeypatch.setenv("ICEYE_CLIENT_SECRET", seed.DEMO_CLIENT_SECRET)
    monkeypatch.setenv("ICEYE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ICEYE_WORKER", "off")
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.usefixtures("live_env")
def test_live_mode_shows_no_demo_controls(client: TaskingClient, control: SandboxControl) -> None:
    task = order(client, control, reference="Live")
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.run().switch_page(MONITOR)
    at.query_params["task"] = task.id

    at.run()

    no_exception(at)
    assert "RECEIVED" in badge(at)
    assert controls(at) == []
    assert CAPTION not in texts(at)


def test_the_service_fast_forwards_records_the_task_and_remembers_the_clock(
    sandbox: SandboxHandle,
    client: TaskingClient,
    control: SandboxControl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = order(client, control, reference="Service")
    service = build_service(load_settings(data_dir=tmp_path / "svc", sandbox_url=sandbox.url))
    remembered: list[ClockReading] = []
    assert isinstance(service.clock, SimClock)
    monkeypatch.setattr(service.clock, "remember", remembered.append)
    sandbox_control = service.control
    try:
        result = service.fast_forward(task.id, "final")

        assert result.task.status == "DONE" and result.events >= 2
        assert service.history.get(task.id).status == "DONE"
        clock = result.clock
        assert ClockReading(clock.now, clock.speed, clock.next_event) in remembered
        with pytest.raises(NotFound):
            service.fast_forward("00000000-0000-4000-8000-000000000000")
        service.control = None  # what a live service has
        with pytest.raises(TransportError, match="only in sandbox mode"):
            service.fast_forward(task.id)
    finally:
        service.control = sandbox_control
        service.close()
