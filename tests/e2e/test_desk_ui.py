"""The pages of the background worker's store in Debian's Chromium: `streamlit run app.py` with
``ICEYE_WORKER=external`` and a worker running beside it (here, in the test's process, on the same
store and sandbox, as ``python -m tasking.worker`` would). The Monitor follows a task to DONE from
the store and toasts what happened; Notifications and Work queue show it. Screenshots go to
``test-artifacts/desk-<n>-<name>.png``.

Every wait is on a condition (the store, a text on the page), never on time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tasking.client import TaskingClient
from tasking.config import load_settings
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tasking.service import TaskingService, build_service
from tasking.worker import Worker, WorkerConfig
from tests.app.helpers import order
from tests.e2e.conftest import ARTIFACTS, StreamlitApp, free_port, wait_until

pytestmark = pytest.mark.browser

CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("desk-sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("desk-app-data")


@pytest.fixture(scope="module")
def desk_app(sandbox: SandboxHandle, data_dir: Path) -> Iterator[StreamlitApp]:
    env = {"ICEYE_SANDBOX_URL": sandbox.url, "ICEYE_WORKER": "external"}
    app = StreamlitApp(data_dir, free_port(), env=env)
    try:
        app.start()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def app_server(desk_app: StreamlitApp) -> str:
    """The browser fixture's app: this module's, not the session's."""
    return desk_app.url


@pytest.fixture(scope="module")
def worker(sandbox: SandboxHandle, data_dir: Path, desk_app: StreamlitApp) -> Iterator[Worker]:
    """A worker on the app's store and sandbox, sweeping the task list every second."""
    service: TaskingService = build_service(
        load_settings(sandbox_url=sandbox.url, data_dir=data_dir, worker="external")
    )
    config = WorkerConfig(
        port=0, poll_interval_s=1, safety_sweep_s=1, tick_s=0.2, budget_per_minute=10_000
    )
    made = Worker(service, config, senders={"webhook": lambda notice: None})
    made.start()
    try:
        wait_until(service.worker_active, 30, "the worker's lease")
        yield made
    finally:
        made.stop()
        service.close()


def shot(page: Page, step: int, name: str) -> None:
    page.wait_for_selector(CONNECTED, state="attached")
    page.wait_for_selector(IDLE, state="attached")
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"desk-{step}-{name}.png"), full_page=True)


def test_monitor_notifications_and_work_queue_from_the_store(
    browser_page: Page, worker: Worker, sandbox: SandboxHandle, app_server: str, tmp_path: Path
) -> None:
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 1500})  # the screenshots show whole pages
    control = SandboxControl(sandbox.url)
    desk = worker.desk
    with TaskingClient.from_settings(
        load_settings(data_dir=tmp_path),
        api_url=sandbox.api_url,
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=sandbox.url,
    ) as client:
        task = order(client, control, reference="Desk in the browser")

        def followed_status() -> str | None:
            followed = desk.followed(task.id)
            return followed.status if followed else None

        page.goto(f"{app_server}/monitor?task={task.id}")
        main = page.get_by_test_id("stMain")
        expect(main.get_by_role("heading", name="Desk in the browser")).to_be_visible()
        expect(main.get_by_text("Followed by the background worker (")).to_be_visible()

        for _ in range(12):
            # The sandbox's word, then the worker's copy of it (it sweeps every second).
            truth = client.get_task(task.id).status
            wait_until(lambda t=truth: followed_status() == t, 30, f"the worker to see {truth}")
            if truth == "DONE":
                break
            control.advance(to_next_event=True)
        assert followed_status() == "DONE"

    # The panel reads the store every 5 s: DONE, the quicklook, and a toast for the session.
    expect(main.locator(".stMarkdownBadge").first).to_contain_text("DONE")
    expect(page.get_by_test_id("stToast").first).to_be_visible()
    expect(main.get_by_text("Final status: no more refreshes.")).to_be_visible()
    shot(page, 1, "monitor")

    page.goto(f"{app_server}/notifications")
    notes = page.get_by_test_id("stMain")
    expect(notes.get_by_text("Products ready: Desk in the browser")).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text("unread")).to_be_visible()
    shot(page, 2, "notifications")

    page.goto(f"{app_server}/work-queue")
    work = page.get_by_test_id("stMain")
    expect(work.get_by_text(worker.holder)).to_be_visible()
    expect(work.get_by_test_id("stMetric").first).to_contain_text("active")
    shot(page, 3, "work-queue")

    page.goto(f"{app_server}/tasks")
    listed = page.get_by_test_id("stMain")
    expect(
        listed.get_by_text("The background worker's copy of the account's tasks")
    ).to_be_visible()
    map_frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    expect(map_frame.locator("#map_div.leaflet-container")).to_be_visible()
    shot(page, 4, "all-tasks")
    assert page.blocked_requests == []  # type: ignore[attr-defined]
