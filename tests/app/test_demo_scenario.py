"""The sidebar's "Load demo scenario…" (sandbox only): a confirmation that says what is removed, then
the account's tasks replaced by the scenario's, a sentence saying what was loaded, and the pages
showing the new world at once; "Keep my tasks" changes nothing; a failure is a sentence in the
dialog; live mode shows no such control. The service forgets the removed tasks in the local store
and knows the new ones with the times they reached each status."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.config import load_settings
from tasking.errors import NotFound, TransportError
from tasking.journal import OrderState
from tasking.models import TaskRequest
from tasking.rules import TaskDraft, build_task_request, default_window
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.scenario import REFERENCE_PREFIX
from tasking.sandbox.server import SandboxHandle
from tasking.service import TaskingService, build_service
from tests.app.conftest import APP, RUN_TIMEOUT_S, no_exception, texts
from tests.app.helpers import order
from ui.demo_controls import SCENARIO_WARNING

TASKS = "views/tasks.py"
MONITOR = "views/monitor.py"
OPEN = "demo_scenario"
CONFIRM = "demo_scenario_confirm"
KEEP = "demo_scenario_keep"


def sidebar_buttons(at: AppTest) -> list[str]:
    return [b.key for b in at.sidebar.button]


def loaded_text(at: AppTest) -> str:
    return "\n".join(str(s.value) for s in at.sidebar.success)


def table_ids(at: AppTest) -> list[str]:
    return [str(i) for i in at.dataframe[0].value["Task ID"]]


def table_references(at: AppTest) -> list[str]:
    frame = at.dataframe[0].value
    return [str(r) for r in frame["Reference"]] if "Reference" in frame else []


def test_loading_replaces_the_accounts_tasks_after_a_confirmation(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    old = order(client, control, reference="Before the demo")
    at = open_app(TASKS)
    assert old.id in table_ids(at)
    assert OPEN in sidebar_buttons(at)

    at.sidebar.button(key=OPEN).click().run()

    no_exception(at)
    assert SCENARIO_WARNING in texts(at)
    assert client.get_task(old.id).status != "CANCELED"  # nothing happens before the confirmation
    at.button(key=CONFIRM).click().run()

    no_exception(at)
    with pytest.raises(NotFound):
        client.get_task(old.id)
    said = loaded_text(at)
    assert "Demo scenario loaded" in said
    for status in ("DONE", "FULFILLED", "ACTIVE", "RECEIVED", "REJECTED", "CANCELED", "FAILED"):
        assert f" {status}" in said, said
    assert "earlier task" in said and "removed" in said
    # All tasks shows the new world in the same run: the scenario's tasks, not the old one.
    shown = table_ids(at)
    assert old.id not in shown
    made = {t.id for t in client.list_tasks(limit=100).data}
    assert set(shown) == made
    assert [b for b in at.button if b.key == CONFIRM] == []  # the dialog closed


def test_keep_my_tasks_closes_the_confirmation_and_changes_nothing(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    mine = order(client, control, reference="Keep me")
    at = open_app(TASKS)
    at.sidebar.button(key=OPEN).click().run()

    at.button(key=KEEP).click().run()

    no_exception(at)
    assert client.get_task(mine.id).id == mine.id
    assert SCENARIO_WARNING not in texts(at)
    assert not at.sidebar.success


def test_the_monitor_of_a_removed_task_offers_the_new_world(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    old = order(client, control, reference="Watched before the demo")
    at = open_app(MONITOR, query={"task": old.id})
    at.sidebar.button(key=OPEN).click().run()

    at.button(key=CONFIRM).click().run()

    no_exception(at)
    assert "Choose a task to monitor" in texts(at)
    offered = at.selectbox[0].options
    assert offered and all(REFERENCE_PREFIX in label for label in offered), offered
    assert at.query_params.get("task") in (None, [])


def test_a_failed_load_is_a_sentence_in_the_dialog_and_the_dialog_stays(
    open_app: Callable[..., AppTest],
    client: TaskingClient,
    control: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = order(client, control, reference="Still here")
    at = open_app(TASKS)
    at.sidebar.button(key=OPEN).click().run()

    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise TransportError("cannot reach the sandbox at 127.0.0.1:9: connection refused")

    monkeypatch.setattr(TaskingService, "load_demo_scenario", unreachable)
    at.button(key=CONFIRM).click().run()

    no_exception(at)  # also: nothing reached the guard as a bug
    errors = [e.value.replace("\\", "") for e in at.error]
    assert any("Could not load the demo scenario" in e and "cannot reach" in e for e in errors)
    assert [b.key for b in at.button if b.key == CONFIRM] == [CONFIRM]
    assert client.get_task(mine.id).id == mine.id


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
def test_live_mode_has_no_demo_scenario() -> None:
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run()

    no_exception(at)
    assert OPEN not in sidebar_buttons(at)
    assert "Demo" not in [m.value for m in at.sidebar.markdown]


def _request(service: TaskingService, reference: str) -> TaskRequest:
    contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
    now = service.now()
    start, end = default_window(now, "COMMERCIAL")
    draft = TaskDraft(
        contract_id=contract.id,
        lat=60.1699,
        lon=24.9384,
        window_start=start,
        window_end=end,
        imaging_mode="SPOTLIGHT",
        reference=reference,
    )
    return build_task_request(draft, contract, now)


def test_the_service_forgets_removed_tasks_and_knows_the_new_ones(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    service = build_service(
        load_settings(data_dir=tmp_path / "svc", sandbox_url=sandbox.url, worker="off")
    )
    try:
        request = _request(service, "Ordered before the demo")
        placed = service.place_order(request)
        assert placed.task is not None
        old = placed.task.id
        assert service.desk is not None
        service.desk.hint(old)

        result = service.load_demo_scenario()

        assert old in result.removed
        assert service.history.get(old) is None and service.history.events(old) == []
        assert service.desk.followed(old) is None
        kept = service.order(placed.order.key)
        assert kept is not None and kept.state is OrderState.PLACED and kept.task_id == old
        assert kept.error is not None and "demo scenario" in kept.error
        assert service.journal.active(request) is None  # the same order may be placed again
        known = {t.id: t for t in service.history.known_tasks()}
        assert set(known) == {item.task.id for item in result.tasks}
        for item in result.tasks:
            assert known[item.task.id].status == item.task.status
            assert service.history.first_seen(item.task.id) == dict(item.statuses)
            assert service.desk.followed(item.task.id) is not None  # the worker is asked
        assert service.now() >= result.clock.now
    finally:
        service.close()
