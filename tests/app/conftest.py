"""AppTest fixtures: one in-process sandbox per test module, the app pointed at it by
``ICEYE_SANDBOX_URL``, and Streamlit's caches cleared around every test (caches outlive an AppTest
in the same process: reference/streamlit-notes.md B4, streamlit#9139)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.runtime import fragment as fragment_module
from streamlit.runtime.scriptrunner import exec_code as exec_code_module
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.config import load_settings
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
# Generous: the first run of a page imports folium, pandas and friends.
RUN_TIMEOUT_S = 60

CREDENTIAL_ENV = ("ICEYE_API_URL", "ICEYE_AUTH_URL", "ICEYE_CLIENT_ID", "ICEYE_CLIENT_SECRET")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """A sandbox for the module, on real time (speed 1): tests move it with ``advance``."""
    handle = start_in_background(tmp_path_factory.mktemp("sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(autouse=True)
def clear_caches() -> Iterator[None]:
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@dataclass
class Unexpected:
    """Exceptions no page, fragment or dialog should ever meet (collected by ``no_page_ever_raises``)."""

    handled_by_streamlit: list[BaseException] = field(default_factory=list)
    """Raised out of a page, fragment or dialog body: Streamlit showed a traceback."""
    guarded: list[logging.LogRecord] = field(default_factory=list)
    """Caught by ``ui.guard`` (explained to the user, but still a bug)."""
    allowed: bool = False
    """A test that injects failures on purpose sets this and checks the lists itself."""


class _GuardLog(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


@pytest.fixture(autouse=True)
def no_page_ever_raises(monkeypatch: pytest.MonkeyPatch) -> Iterator[Unexpected]:
    """Every AppTest run in this package fails the test if a page, fragment or dialog raised.

    Streamlit handles an exception raised inside ``st.fragment`` / ``st.dialog`` itself, so
    ``at.exception`` alone cannot see it: its handler is wrapped here to record what it handles,
    and the ``ui.guard`` logger is watched for the bugs the guard explained to the user.
    """
    seen = Unexpected()
    original_run = AppTest.run

    def run(self: AppTest, *, timeout: float | None = None) -> AppTest:
        result = original_run(self, timeout=timeout)
        if not seen.allowed:
            assert not result.exception, [e.value for e in result.exception]
            assert not seen.handled_by_streamlit, seen.handled_by_streamlit
            assert not seen.guarded, [r.getMessage() for r in seen.guarded]
        return result

    def recording(original: Callable[..., None]) -> Callable[..., None]:
        def handle(ex: Exception, *args: Any, **kwargs: Any) -> None:
            seen.handled_by_streamlit.append(ex)
            original(ex, *args, **kwargs)

        return handle

    for module in (fragment_module, exec_code_module):
        monkeypatch.setattr(
            module,
            "handle_user_script_exception",
            recording(module.handle_user_script_exception),
        )
    monkeypatch.setattr(AppTest, "run", run)
    handler = _GuardLog(seen.guarded)
    guard_log = logging.getLogger("ui.guard")
    guard_log.addHandler(handler)
    try:
        yield seen
    finally:
        guard_log.removeHandler(handler)


@pytest.fixture
def app_env(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> SandboxHandle:
    """Environment of a sandbox-mode app on the module's sandbox, with its own history."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ICEYE_SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("ICEYE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ICEYE_HISTORY_URL", raising=False)
    # The pages poll ICEYE themselves unless a test starts a worker (tests of the desk do).
    monkeypatch.setenv("ICEYE_WORKER", "off")
    # No .env or .streamlit/secrets.toml of a developer's checkout may leak into the settings.
    monkeypatch.chdir(tmp_path)
    return sandbox


@pytest.fixture
def control(sandbox: SandboxHandle) -> SandboxControl:
    return SandboxControl(sandbox.url)


@pytest.fixture
def client(sandbox: SandboxHandle, tmp_path: Path) -> Iterator[TaskingClient]:
    """A client of the demo company, as the app builds it (for arranging and checking)."""
    settings = load_settings(data_dir=tmp_path / "client")
    with TaskingClient.from_settings(
        settings,
        api_url=f"{sandbox.url}/api",
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=sandbox.url,
    ) as made:
        yield made


@pytest.fixture
def open_app(app_env: SandboxHandle) -> Callable[..., AppTest]:
    """``open_app("views/new_task.py", poi_lat=60.17, ...)`` → the app run once on that page,
    with the given session state seeded first (how the map's point is set without a browser)."""

    def run(page: str | None = None, query: dict[str, str] | None = None, **state: Any) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
        if page is not None:
            # st.navigation registers the pages on the first run; only then can AppTest switch.
            at.run().switch_page(page)
        for key, value in state.items():
            at.session_state[key] = value
        for key, value in (query or {}).items():
            at.query_params[key] = value
        return at.run()

    return run


def free_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def texts(at: AppTest) -> str:
    """Every piece of Markdown-ish text the run produced, joined (for "is it shown" checks)."""
    parts: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "error",
        "warning",
        "info",
        "success",
        "title",
        "subheader",
    ):
        parts.extend(str(el.value) for el in getattr(at, kind))
    parts.extend(str(el.value) for el in at.sidebar.markdown)
    return "\n".join(parts)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
