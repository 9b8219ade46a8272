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
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
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


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run app.py` on a free port, sandbox mode, a fresh data directory."""
    data_dir = tmp_path_factory.mktemp("app-data")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICEYE_")}
    env["ICEYE_DATA_DIR"] = str(data_dir)
    log_path = data_dir / "streamlit.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
            # Other engineers edit this checkout while the test runs: don't watch their files.
            "--server.fileWatcherType", "none",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()}")
        try:
            return httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok"
        except httpx.HTTPError:
            return False

    try:
        _wait_until(healthy, 60, "the app's health check")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log_path, ARTIFACTS / "streamlit.log")


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


def _frame_url(request: Any) -> str:
    try:
        return str(request.frame.url)
    except Exception:  # service-worker requests have no frame: nothing to report
        return ""


@pytest.fixture()
def browser_page(chromium_path: str, app_server: str, tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A Chromium page whose every request outside the app's origin is refused and recorded.

    ``page.blocked_requests`` lists the refused URLs, ``page.browser_log`` has them with their
    frames, the app's responses and the console errors. On failure: a screenshot, a Playwright
    trace (``playwright show-trace``) and the log go to ``test-artifacts/``.
    """
    from playwright.sync_api import expect, sync_playwright

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

        def refuse(route):  # type: ignore[no-untyped-def]
            blocked.append(route.request.url)
            log.blocked.append((route.request.url, _frame_url(route.request)))
            route.abort("blockedbyclient")

        def watch(page):  # type: ignore[no-untyped-def]
            page.on(
                "response",
                lambda r: log.responses.append((r.url, r.status)) if r.url.startswith(origin) else None,
            )
            page.on(
                "console",
                lambda m: log.console.append(f"{m.type}: {m.text} ({m.location.get('url', '')})")
                if m.type == "error"
                else None,
            )
            page.on("pageerror", lambda e: log.console.append(f"pageerror: {e}"))

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
                    except Exception as error:  # a crashed page must not hide the real failure
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
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
