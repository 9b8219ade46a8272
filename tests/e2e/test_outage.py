"""After an outage the app recovers by itself, in a real browser: New task opened while the backend
is down says why, then loads as soon as the backend answers, with no Retry clicked (issue 8).

The app runs against a sandbox in its own process (``ICEYE_SANDBOX_URL``), so the test can keep it
down and bring it up under the app, as an operator's restart of a shared sandbox would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, StreamlitApp, free_port, wait_until
from tests.e2e.test_journey import main, shot, sidebar, wait_for_app

pytestmark = pytest.mark.browser

# The sidebar's health panel reruns every 5 s and its reading is valid 5 s (ui/sidebar.py), so the
# page comes back within ~10 s of the backend; this bound only keeps a broken build from hanging.
RECOVERY_MS = 45_000


class SandboxProcess:
    """``python -m tasking.sandbox`` on a fixed port and data directory, started on demand."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{port}"
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ICEYE_")}
        self._proc = subprocess.Popen(
            [
                sys.executable, "-m", "tasking.sandbox", "--host", "127.0.0.1",
                "--port", str(self._port), "--data-dir", str(self.data_dir),
                "--log-level", "warning",
            ],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        proc = self._proc

        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError("the sandbox exited during start-up")
            try:
                return httpx.get(f"{self.url}/sandbox/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, "the sandbox's health check")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def outage(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[StreamlitApp, SandboxProcess]]:
    """The app pointed at a sandbox that is not running yet."""
    sandbox = SandboxProcess(tmp_path_factory.mktemp("outage-sandbox"), free_port())
    app = StreamlitApp(
        tmp_path_factory.mktemp("outage-app"), free_port(), env={"ICEYE_SANDBOX_URL": sandbox.url}
    )
    try:
        app.start()
        yield app, sandbox
    finally:
        app.stop()
        sandbox.stop()


@pytest.fixture(scope="module")
def app_server(outage: tuple[StreamlitApp, SandboxProcess]) -> str:
    """This module's app (``browser_page`` refuses every other origin)."""
    return outage[0].url


def test_new_task_loads_by_itself_once_the_backend_answers_again(
    browser_page: Page, outage: tuple[StreamlitApp, SandboxProcess]
) -> None:
    app, sandbox = outage
    page = browser_page
    page.goto(f"{app.url}/new-task")
    wait_for_app(page)
    expect(main(page).get_by_text("Could not load your contracts")).to_be_visible()
    expect(sidebar(page).get_by_text("does not answer")).to_be_visible()
    shot(page, 11, "outage")

    sandbox.start()

    latitude = main(page).get_by_label("Latitude (°)", exact=True)
    expect(latitude).to_be_visible(timeout=RECOVERY_MS)  # no click: the page reran by itself
    expect(main(page).get_by_text("Could not load your contracts")).to_have_count(0)
    expect(sidebar(page).get_by_text(" · answers")).to_be_visible()
    shot(page, 12, "recovered")
