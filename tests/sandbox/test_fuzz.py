"""A bounded schemathesis run against the in-process sandbox: every operation, every check.

The OpenAPI document (``docs.complete``) is the contract: any 5xx, any status, media type, header
or body it does not declare, or invalid data accepted fails the run. Valid data may be refused with
a 400 that names a rule the schema cannot state (a window relative to the clock, a contract's
options, an opaque cursor). One sandbox serves the run, on a manual real clock and with a rate limit
far above what the run sends; its valid token reaches every operation that needs one through
schemathesis's auth and ``before_call`` hooks (the ``ignored_auth`` check still tries each without
it). Hypothesis is derandomized (a fixed seed) with a small ``max_examples``, so every run sends the
same requests.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from tasking.sandbox.app import create_app
from tasking.sandbox.config import SandboxConfig
from tests.sandbox.conftest import EPOCH, ManualClock, login

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES = 25  # per operation and generation mode: the whole run stays well under a minute
# Far above the run's request rate: a 429 would be a true answer, but not the one under test.
GENEROUS_RATE = 1_000_000.0


# One sandbox for the whole run, made at import (schemathesis binds the app when it loads the
# schema, and its lazy fixture loader does not run under pytest 9: ``request.node._nodeid``). Its
# real clock is manual, so simulated time stands still and every run sends the same requests.
_DATA = tempfile.TemporaryDirectory(prefix="sandbox-fuzz-")
APP = create_app(
    SandboxConfig(
        data_dir=Path(_DATA.name),
        epoch=EPOCH,
        speed=1.0,
        real_clock=ManualClock(EPOCH),
        rate_per_s=GENEROUS_RATE,
        rate_burst=GENEROUS_RATE,
    )
)
TOKEN = login(TestClient(APP))["Authorization"]


async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
    """The sandbox for schemathesis's ASGI transport, which runs the lifespan around every call:
    startup and shutdown are acknowledged without closing the store in between."""
    if scope["type"] != "lifespan":
        await APP(scope, receive, send)
        return
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


schema = schemathesis.openapi.from_asgi("/openapi.json", without_lifespan)
# Schema-valid data may still break a rule no JSON Schema can state, and the API answers those
# with a 400 naming the rule: a window relative to the clock, a contract's allowed options, an
# opaque cursor it never issued. A 400 is an accepted answer to valid data; a 5xx never is.
_acceptance = schemathesis.config.PositiveDataAcceptanceConfig
schema.config.checks.positive_data_acceptance = _acceptance(
    expected_statuses=[*_acceptance().expected_statuses, "400"]
)


@pytest.fixture(scope="module", autouse=True)
def close_the_sandbox() -> Iterator[None]:
    yield
    APP.state.sandbox.close()
    _DATA.cleanup()


# Cases are generated when the tests are collected, before any sandbox exists: the auth hook marks
# them with this stand-in, and ``before_call`` swaps in the running sandbox's token (a case that a
# check sends without auth has no stand-in, so it stays without).
STAND_IN = "Bearer fuzz-token-stand-in"


@schema.auth().skip_for(path="/v1/token")
class Bearer:
    """A token on every operation that declares bearer security."""

    def get(self, case: Any, ctx: Any) -> str:
        return STAND_IN

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@schemathesis.hook  # before_call hooks are global; this one only touches the stand-in
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if (case.headers or {}).get("Authorization") == STAND_IN:
        case.headers["Authorization"] = TOKEN


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_sandbox_answers_every_operation_as_its_openapi_document_says(case: Any) -> None:
    case.call_and_validate()
