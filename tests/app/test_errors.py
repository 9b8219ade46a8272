"""Failures are shown readably (what failed, ICEYE's code or "no answer", what to do, Retry),
never as a traceback, and nothing the user entered is lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tasking.sandbox import seed
from tasking.sandbox.server import SandboxHandle, start_in_background
from tests.app.conftest import APP, CREDENTIAL_ENV, RUN_TIMEOUT_S, free_port, no_exception, texts


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ICEYE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture
def doomed_sandbox(tmp_path: Path) -> Iterator[SandboxHandle]:
    """A sandbox of its own, which the test stops halfway."""
    handle = start_in_background(tmp_path / "sandbox", speed=1.0)
    yield handle
    handle.stop()


def test_dead_backend_gives_a_readable_message_and_a_retry(env: pytest.MonkeyPatch) -> None:
    env.setenv("ICEYE_SANDBOX_URL", f"http://127.0.0.1:{free_port()}")

    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run()

    no_exception(at)
    text = shown(at)
    assert "**Could not load your contracts** — no answer" in text
    assert "The backend cannot be reached" in text
    assert any(b.label == "Retry" for b in at.button)
    assert "does not answer" in "\n".join(str(c.value) for c in at.sidebar.caption)


def test_partial_credentials_name_what_is_missing(env: pytest.MonkeyPatch) -> None:
    env.setenv("ICEYE_CLIENT_ID", "someone")

    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run()

    no_exception(at)
    text = shown(at)
    assert "Could not start the backend" in text
    assert "ICEYE_CLIENT_SECRET" in text and "missing" in text


def test_backend_dying_mid_session_keeps_the_form_and_explains(
    env: pytest.MonkeyPatch, doomed_sandbox: SandboxHandle
) -> None:
    env.setenv("ICEYE_SANDBOX_URL", doomed_sandbox.url)
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.run().switch_page("views/new_task.py")
    at.session_state["contract_id"] = seed.BROAD_CONTRACT_ID
    at.session_state["poi_lat"] = 60.1699
    at.session_state["poi_lon"] = 24.9384
    at.session_state["nt_reference"] = "keep me"
    at.run()

    doomed_sandbox.stop()
    next(b for b in at.button if b.label == "Check feasibility").click().run()

    no_exception(at)
    assert "**Could not check feasibility** — no answer" in shown(at)
    assert at.session_state["nt_reference"] == "keep me"
    assert at.session_state["poi_lat"] == 60.1699
    assert at.text_input(key="nt_reference").value == "keep me"
