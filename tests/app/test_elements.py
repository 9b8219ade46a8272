"""The pass preview's orbital elements: a failure is never kept for the 6 h a success is."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import streamlit as st

import ui.elements
from tasking.orbits import Satellite, generate_constellation, to_tle_text
from ui.elements import Constellation, Unavailable, constellation


def live_service(source: Path) -> Any:
    settings = SimpleNamespace(tle_source=str(source), timeout_s=5.0)
    return SimpleNamespace(control=None, settings=settings, host="api.example")


def test_a_failed_live_source_is_retried_after_a_minute_not_six_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "iceye.tle"
    reads: list[str] = []
    original = ui.elements.read_tle_source

    def counted(path: str, timeout_s: float) -> str:
        reads.append(path)
        return original(path, timeout_s)

    monkeypatch.setattr(ui.elements, "read_tle_source", counted)
    service = live_service(source)

    assert isinstance(constellation(service), Unavailable)  # the file is not there yet
    source.write_text(to_tle_text(generate_constellation(epoch=datetime(2026, 5, 1, tzinfo=UTC))))
    assert isinstance(constellation(service), Unavailable)  # within a minute: not read again
    assert len(reads) == 1

    st.cache_data.clear()  # the minute has passed
    loaded = constellation(service)
    assert isinstance(loaded, Constellation) and all(
        isinstance(s, Satellite) for s in loaded.satellites
    )
    assert len(reads) == 2
    st.cache_data.clear()
    assert isinstance(constellation(service), Constellation)  # a success stays cached
    assert len(reads) == 2
