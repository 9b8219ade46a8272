"""Shared fixtures: golden JSON from ``tests/data/`` and a fixed clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


def load_golden(name: str) -> Any:
    """A golden JSON document from ``tests/data/`` (name with or without ``.json``)."""
    path = DATA / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def golden() -> Callable[[str], Any]:
    """``golden("task_full")`` → the parsed document."""
    return load_golden


@pytest.fixture
def now() -> datetime:
    """A fixed, aware UTC "now" inside the golden contracts' validity."""
    return datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
