"""Shared fixtures: golden JSON from ``tests/data/``, a fixed clock, and an empty store database on
each backend (``store_url``)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

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


POSTGRES_URL_VARIABLE = "ICEYE_TEST_POSTGRES_URL"
"""A PostgreSQL database whose user may create databases, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; ``./scripts/test`` starts a throwaway
cluster and sets it."""


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database for the local store: a SQLite file, then a database of its
    own on the PostgreSQL server named by ``ICEYE_TEST_POSTGRES_URL`` (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    server = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server:
        pytest.skip(
            f"PostgreSQL variant: set {POSTGRES_URL_VARIABLE}=postgresql+psycopg://user@host:port/db "
            "(a user who may create databases), or run ./scripts/test, which starts one"
        )
    name = f"store_test_{uuid.uuid4().hex}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            # FORCE: engines a test left open must not keep the database alive.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def service(sandbox: Any, store_url: str, tmp_path: Path) -> Iterator[Any]:
    """A sandbox-mode ``TaskingService`` on the module's ``sandbox`` fixture and a new store on
    each backend, with no worker of its own (the worker tests make theirs)."""
    from tests.test_worker import make_service

    built = make_service(sandbox, store_url, tmp_path)
    try:
        yield built
    finally:
        built.close()
