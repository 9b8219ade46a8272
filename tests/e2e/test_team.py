"""A team on PostgreSQL: two app instances (`streamlit run app.py` on two ports) and one worker
(`python -m tasking.worker`) share one store and one sandbox. A task ordered in the first app
appears in the second; its status changes reach both Monitors while neither app makes an ICEYE
request (issue 10).

Each app reaches the sandbox through its own counting proxy, so the test sees every request an
app makes; the worker talks to the sandbox directly and gets its callbacks.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    ROOT,
    TIMEOUT_MS,
    StreamlitApp,
    free_port,
    wait_until,
)
from tests.e2e.test_journey import CONTRACT, main, status_badge, wait_for_app

pytestmark = pytest.mark.browser


class CountingProxy:
    """Forwards every request to ``target`` and remembers its method and path."""

    def __init__(self, target: str) -> None:
        self.requests: list[str] = []
        self.lock = threading.Lock()
        client = httpx.Client(base_url=target, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    proxy.requests.append(f"{self.command} {urlparse(self.path).path}")
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = client.request(self.command, self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._client = client
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def api_requests(self) -> list[str]:
        """ICEYE's API (the sandbox's own clock and health routes are not ICEYE requests)."""
        with self.lock:
            return [r for r in self.requests if " /api/" in r or r.endswith("/v1/token")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A database of its own on the suite's PostgreSQL server (``./scripts/test`` starts one)."""
    server = os.environ.get("ICEYE_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("needs ICEYE_TEST_POSTGRES_URL (./scripts/test starts a PostgreSQL server)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"team_{uuid4().hex}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("team-sandbox"), speed=60.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def worker(
    sandbox: SandboxHandle, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    data = tmp_path_factory.mktemp("team-worker")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICEYE_")}
    env.update(
        ICEYE_SANDBOX_URL=sandbox.url,
        ICEYE_HISTORY_URL=postgres_url,
        ICEYE_DATA_DIR=str(data),
        ICEYE_WORKER_PORT=str(port),
    )
    log_path = data / "worker.log"
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tasking.worker"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def webhook_mode() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{log_path.read_text()}")
        try:
            health = httpx.get(f"{url}/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        return bool(health.get("status") == "active" and health.get("mode") == "webhook")

    try:
        wait_until(webhook_mode, 60, "the worker to register its webhook")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        ARTIFACTS.mkdir(exist_ok=True)
        if log_path.exists():
            (ARTIFACTS / "team-worker.log").write_text(log_path.read_text())


@pytest.fixture(scope="module")
def apps(
    sandbox: SandboxHandle,
    postgres_url: str,
    worker: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[tuple[StreamlitApp, CountingProxy]]]:
    started: list[tuple[StreamlitApp, CountingProxy]] = []
    try:
        for n in (1, 2):
            proxy = CountingProxy(sandbox.url)
            app = StreamlitApp(
                tmp_path_factory.mktemp(f"team-app-{n}"),
                free_port(),
                env={
                    "ICEYE_SANDBOX_URL": proxy.url,
                    "ICEYE_HISTORY_URL": postgres_url,
                    "ICEYE_WORKER": "external",
                },
            )
            started.append((app, proxy))
            app.start()
        yield started
    finally:
        for app, proxy in started:
            app.stop()
            proxy.close()


def order_in(page: Page, app: str, reference: str) -> str:
    """New task with typed coordinates → Create → confirm; the new task's id."""
    page.goto(app)
    wait_for_app(page)
    heading = page.get_by_role("heading", name=CONTRACT, exact=True)
    card = main(page).get_by_test_id("stVerticalBlock").filter(has=heading).last
    card.get_by_role("button", name="Use this contract").click()
    expect(page).to_have_url(re.compile(r"/new-task"))
    wait_for_app(page)
    for label, value in (("Latitude (°)", "60.17"), ("Longitude (°)", "24.94")):
        field = main(page).get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        wait_for_app(page)
    reference_field = main(page).get_by_role("textbox", name="Reference", exact=True)
    reference_field.fill(reference)
    reference_field.press("Enter")
    wait_for_app(page)
    main(page).get_by_role("button", name=re.compile(r"^Create task")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(reference)
    dialog.get_by_role("button", name="Create task", exact=True).click()
    expect(page).to_have_url(re.compile(r"/monitor\?(.*&)?task="))
    return parse_qs(urlparse(page.url).query)["task"][0]


def test_two_apps_and_one_worker_share_one_store(
    apps: list[tuple[StreamlitApp, CountingProxy]],
    sandbox: SandboxHandle,
    chromium_path: str,
    tmp_path: Path,
) -> None:
    (first, first_proxy), (second, second_proxy) = apps
    reference = f"team-{uuid4().hex[:8]}"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium_path,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1366, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        try:
            one = context.pages[0] if context.pages else context.new_page()
            task_id = order_in(one, first.url, reference)

            # The second app lists it (from the shared store) and opens it.
            two = context.new_page()
            two.goto(f"{second.url}/tasks")
            wait_for_app(two)
            # The table is a canvas grid: its cells are in the DOM for assistive tech, not shown.
            cell = main(two).locator("td[data-testid^='glide-cell']", has_text=reference)
            expect(cell.first).to_be_attached()
            two.goto(f"{second.url}/monitor?task={task_id}")
            wait_for_app(two)
            expect(main(two).get_by_role("heading", name=reference)).to_be_visible()
            for page in (one, two):
                expect(status_badge(page)).to_have_text(re.compile(r"RECEIVED|ACTIVE"))

            # The simulation runs the task to DONE; the worker learns it by webhook. From here
            # on, neither app may ask ICEYE anything: both Monitors read the store.
            before = (len(first_proxy.api_requests()), len(second_proxy.api_requests()))
            control = SandboxControl(sandbox.url)
            observer = httpx.Client(timeout=10)
            try:
                for _ in range(12):
                    control.advance(to_next_event=True)
                    status = _sandbox_status(sandbox, observer, task_id)
                    if status == "DONE":
                        break
            finally:
                observer.close()
                control.close()
            for page in (one, two):
                expect(status_badge(page)).to_contain_text("DONE")
            after = (len(first_proxy.api_requests()), len(second_proxy.api_requests()))
            assert after == before, (
                first_proxy.api_requests()[before[0] :],
                second_proxy.api_requests()[before[1] :],
            )
            ARTIFACTS.mkdir(exist_ok=True)
            two.screenshot(path=str(ARTIFACTS / "team-second-app-monitor.png"))
        finally:
            context.close()


def _sandbox_status(sandbox: SandboxHandle, http: httpx.Client, task_id: str) -> str:
    token = http.post(
        f"{sandbox.url}/v1/token",
        data={"grant_type": "client_credentials"},
        auth=("sandbox-demo-analytics", "sandbox-only-demo-analytics-secret"),
    ).json()["access_token"]
    task = http.get(
        f"{sandbox.url}/api/tasking/v2/tasks/{task_id}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    return str(task["status"])
