"""The demo scenario in Debian's Chromium: on a used sandbox, "Load demo scenario…" in the sidebar, a
confirmation, and All tasks shows the new world (two clicks). `streamlit run app.py` on a sandbox of
this module (``ICEYE_SANDBOX_URL``) with the app's own worker, as a user runs it. Screenshots go
to ``test-artifacts/demo-scenario-confirm.png`` and ``demo-scenario.png``.

Every wait is on a condition (a text on the page), never on time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tasking.client import TaskingClient
from tasking.config import load_settings
from tasking.errors import NotFound
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tests.app.helpers import order
from tests.e2e.conftest import ARTIFACTS, StreamlitApp, free_port

pytestmark = pytest.mark.browser

CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("scenario-sandbox"), speed=60.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def scenario_app(sandbox: SandboxHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = StreamlitApp(
        tmp_path_factory.mktemp("scenario-app-data"),
        free_port(),
        env={"ICEYE_SANDBOX_URL": sandbox.url},
    )
    try:
        app.start()
        yield app.url
    finally:
        app.stop()


@pytest.fixture(scope="module")
def app_server(scenario_app: str) -> str:
    """The browser fixture's app: this module's, not the session's."""
    return scenario_app


@pytest.fixture
def client(sandbox: SandboxHandle, tmp_path: Path) -> Iterator[TaskingClient]:
    settings = load_settings(data_dir=tmp_path / "client")
    with TaskingClient.from_settings(
        settings,
        api_url=f"{sandbox.url}/api",
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=sandbox.url,
    ) as made:
        yield made


def settle(page: Page) -> None:
    page.wait_for_selector(CONNECTED, state="attached")
    page.wait_for_selector(IDLE, state="attached")
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_a_demo_starts_from_a_used_sandbox_in_two_clicks(
    browser_page: Page, app_server: str, sandbox: SandboxHandle, client: TaskingClient
) -> None:
    page = browser_page
    used = [
        order(client, SandboxControl(sandbox.url), reference=f"Yesterday's {i}") for i in (1, 2)
    ]
    page.goto(f"{app_server}/tasks")
    settle(page)
    sidebar = page.get_by_test_id("stSidebar")

    sidebar.get_by_role("button", name="Load demo scenario…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Every task of this account on the sandbox is removed")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-scenario-confirm.png"))
    dialog.get_by_role("button", name="Load the demo scenario").click()

    expect(sidebar).to_contain_text("Demo scenario loaded")
    expect(sidebar).to_contain_text("17 tasks around the globe")
    expect(sidebar).to_contain_text("2 earlier tasks of this account removed")
    expect(page.get_by_role("dialog")).to_have_count(0)
    settle(page)
    # All tasks lists the new world: the scenario's 17 tasks, the old ones gone.
    expect(page.get_by_test_id("stMain")).to_contain_text("17 of 17")
    for task in used:
        with pytest.raises(NotFound):
            client.get_task(task.id)
    page.screenshot(path=str(ARTIFACTS / "demo-scenario.png"))
