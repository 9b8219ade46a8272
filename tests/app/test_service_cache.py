"""The app's one service: built once per process, shared by sessions, closed when released."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.testing.v1 import AppTest

import ui.service
from tasking.config import Settings
from tasking.service import TaskingService


def test_the_service_is_built_once_for_every_session_and_closed_when_released(
    open_app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[TaskingService] = []
    original = ui.service.build_service

    def recording(settings: Settings) -> TaskingService:
        built.append(original(settings))
        return built[-1]

    monkeypatch.setattr(ui.service, "build_service", recording)
    open_app()
    open_app()  # a second browser session of the same process
    assert len(built) == 1
    http = built[0].client.session.http
    assert not http.is_closed

    st.cache_resource.clear()  # what Streamlit does when it drops the cached service

    assert http.is_closed


def test_after_a_first_screen_the_later_pages_are_warmed_up_once_in_the_background(
    open_app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    contexts: list[object] = []
    monkeypatch.setattr(ui.service, "_warm_up", lambda: contexts.append(get_script_run_ctx()))
    at = open_app()  # Contracts, the first screen
    assert not at.exception
    open_app()  # another session: the same warm-up, not a second one
    thread = ui.service.warm_up_in_background()  # the cached one app.py started
    thread.join(timeout=60)
    assert not thread.is_alive()
    # Once, with the run's context: Streamlit registers st_folium's component only under one.
    assert len(contexts) == 1 and contexts[0] is not None
