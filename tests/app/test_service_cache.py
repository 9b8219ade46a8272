"""The app's one service: built once per process, shared by sessions, closed when released."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import streamlit as st
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
