"""Fixtures for the browser tests: `streamlit run app.py` on a fresh data directory, and Debian's
Chromium driven by Playwright with the network closed to everything but the app itself.

Playwright's sync API runs route handlers only while the test is inside a Playwright call, so a
handler that saw every request would hold the app's own requests whenever the test does anything
else. Only requests that leave the app's origin are routed (the URL regex is matched inside the
browser driver); those are recorded in ``page.blocked_requests`` and aborted. A dead proxy is the
backstop: Chromium never proxies loopback, so nothing else can reach a network even unrouted.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import (
    ConsoleMessage,
    Error,
    Page,
    Request,
    Response,
    Route,
    expect,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# Generous for a shared 2-core machine: every wait is on a condition, so a pass is never slower.
TIMEOUT_MS = 60_000
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Port 9 (discard) is closed: any request that escaped the route would fail at once.
    "--proxy-server=http://127.0.0.1:9",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)  # polling interval of a condition (no browser yet), not a wait for time
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run ./scripts/test, which installs it")
    return path


class StreamlitApp:
    """`streamlit run app.py` as a user starts it: sandbox mode (no ICEYE_* credentials), data in
    ``data_dir``, on ``port``. ``restart()`` keeps both, as an operator's restart would."""

    def __init__(self, data_dir: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.extra_env = env or {}
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = data_dir / "streamlit.log"
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ICEYE_")}
        env["ICEYE_DATA_DIR"] = str(self.data_dir)
        env.update(self.extra_env)
        with self.log_path.open("a") as log:
            self._proc = subprocess.Popen(
                [
                    sys.executable, "-m", "streamlit", "run", "app.py",
                    "--server.headless", "true",
                    "--server.port", str(self._port),
                    "--server.address", "127.0.0.1",
                    "--browser.gatherUsageStats", "false",
                    # Others edit this checkout while the test runs: don't watch their files.
                    "--server.fileWatcherType", "none",
                ],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        proc = self._proc

        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.log_path.read_text()}")
            try:
                return httpx.get(f"{self.url}/_stcore/health", timeout=2).text == "ok"
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, "the app's health check")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def streamlit_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitApp]:
    """The app on a free port with a fresh data directory, for the whole session."""
    app = StreamlitApp(tmp_path_factory.mktemp("app-data"), free_port())
    try:
        app.start()
        yield app
    finally:
        app.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        if app.log_path.exists():
            shutil.copy(app.log_path, ARTIFACTS / "streamlit.log")


@pytest.fixture(scope="session")
def app_server(streamlit_app: StreamlitApp) -> str:
    """The app's base URL, e.g. ``http://127.0.0.1:8501``."""
    return streamlit_app.url


@pytest.fixture(scope="session", autouse=True)
def fresh_artifacts() -> None:
    """Artifacts of an earlier run would pass for this one's: remove the ones these tests write."""
    for pattern in ("journey-*.png", "*-failure*.png", "*-trace.zip", "*-browser.log"):
        for old in ARTIFACTS.glob(pattern):
            old.unlink()


@dataclass
class BrowserLog:
    """What the browser did beyond the page: kept per test, written out when a test fails."""

    blocked: list[tuple[str, str]] = field(default_factory=list)
    """(url, url of the frame that asked) of every request refused for leaving the app."""
    responses: list[tuple[str, int]] = field(default_factory=list)
    """(url, status) of every response from the app."""
    console: list[str] = field(default_factory=list)
    """Console errors and uncaught page errors, with where they came from."""


def _outside(origin: str) -> re.Pattern[str]:
    """Every http(s)/ws(s) URL whose origin is not ``origin`` (e.g. ``http://127.0.0.1:8501``)."""
    return re.compile(rf"^(?!{re.escape(origin)}(?:[/?#]|$))(?:https?|wss?):")


def _frame_url(request: Request) -> str:
    try:
        return request.frame.url
    except Error:  # a service worker's request has no frame: nothing to report
        return ""


@pytest.fixture()
def browser_page(
    chromium_path: str, app_server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A Chromium page whose every request outside the app's origin is refused and recorded.

    ``page.blocked_requests`` lists the refused URLs, ``page.browser_log`` has them with their
    frames, the app's responses and the console errors. On failure: a screenshot, a Playwright
    trace (``playwright show-trace``) and the log go to ``test-artifacts/``.
    """
    expect.set_options(timeout=TIMEOUT_MS)
    origin = f"http://{urlparse(app_server).netloc}"
    log = BrowserLog()
    blocked: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium_path,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1366, "height": 900},
            accept_downloads=True,
            downloads_path=str(tmp_path / "downloads"),
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.tracing.start(screenshots=True, snapshots=True)

        def refuse(route: Route) -> None:
            blocked.append(route.request.url)
            log.blocked.append((route.request.url, _frame_url(route.request)))
            route.abort("blockedbyclient")

        def on_response(response: Response) -> None:
            if response.url.startswith(origin):
                log.responses.append((response.url, response.status))

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                log.console.append(f"error: {message.text} ({message.location.get('url', '')})")

        def watch(page: Page) -> None:
            page.on("response", on_response)
            page.on("console", on_console)
            page.on("pageerror", lambda error: log.console.append(f"pageerror: {error}"))

        context.route(_outside(origin), refuse)
        context.on("page", watch)
        page = context.pages[0] if context.pages else context.new_page()
        watch(page)
        page.blocked_requests = blocked  # type: ignore[attr-defined]
        page.browser_log = log  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            report = getattr(request.node, "rep_call", None)
            if report is not None and report.failed:
                ARTIFACTS.mkdir(exist_ok=True)
                stem = ARTIFACTS / request.node.name
                for index, open_page in enumerate(context.pages):
                    suffix = "" if index == 0 else f"-{index}"
                    try:
                        open_page.screenshot(path=f"{stem}-failure{suffix}.png", full_page=True)
                    except Error as error:  # a crashed page must not hide the real failure
                        print(f"no failure screenshot of page {index}: {error}")
                context.tracing.stop(path=f"{stem}-trace.zip")
                Path(f"{stem}-browser.log").write_text(
                    "\n".join(
                        [f"url: {p.url}" for p in context.pages]
                        + [f"blocked: {url} (from {frame})" for url, frame in log.blocked]
                        + log.console
                        + [f"{status} {url}" for url, status in log.responses if status >= 400]
                    )
                    + "\n"
                )
            else:
                context.tracing.stop()
            context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # Keeps each phase's report on the test item, so that fixtures know whether the test failed.
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
