"""The OpenAPI document states what the sandbox really does (tasking/sandbox/docs.py).

Each declaration is checked against the server: the statuses an operation sends, their bodies and
media types, and the limits in the descriptions. ``test_fuzz.py`` then holds the server to the
whole document.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.sandbox import docs, products, seed, tasks
from tests.sandbox.conftest import task_body

ERROR_REF = {"$ref": "#/components/schemas/Error"}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
OAUTH_REF = {"$ref": "#/components/schemas/OAuthError"}
PROBLEM = {"Accept": "application/problem+json"}


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    return dict(client.get("/openapi.json").json())


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for ops in spec["paths"].values() for op in ops.values()}


def needs_token(operation: dict[str, Any]) -> bool:
    return any("HTTPBearer" in r for r in operation.get("security", []))


def test_no_operation_declares_422_and_every_operation_with_input_declares_400(
    spec: dict[str, Any],
) -> None:
    for op_id, op in operations(spec).items():
        assert "422" not in op["responses"], op_id
        if op.get("parameters") or "requestBody" in op:
            assert "400" in op["responses"], op_id
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_error_responses_carry_both_iceye_error_bodies(spec: dict[str, Any]) -> None:
    for op_id, op in operations(spec).items():
        for status, response in op["responses"].items():
            if status.startswith("2"):
                continue
            content = response["content"]
            if op_id == "getToken":
                assert content == {"application/json": {"schema": OAUTH_REF}}, status
            else:
                assert content["application/json"]["schema"] == ERROR_REF, (op_id, status)
                assert content["application/problem+json"]["schema"] == PROBLEM_REF
    schemas = spec["components"]["schemas"]
    assert set(schemas["Error"]["required"]) == {"code", "message"}
    assert set(schemas["Problem"]["properties"]) == {"title", "code", "details", "reference"}


def test_token_operations_declare_401_and_429_and_send_them(
    client: TestClient, spec: dict[str, Any]
) -> None:
    ops = operations(spec)
    for op_id, op in ops.items():
        if needs_token(op):
            assert {"401", "429"} <= set(op["responses"]), op_id
            assert "Retry-After" in op["responses"]["429"]["headers"]
            assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
            assert "bursts of 200" in op["description"], op_id
    refused = client.get("/api/tasking/v2/tasks")
    assert refused.status_code == 401
    assert set(refused.json()) == {"code", "message"}
    limited = TestClient(client.app)
    assert limited.get("/api/tasking/v2/tasks").status_code == 401


def test_validation_errors_are_the_declared_400(client: TestClient, demo: dict[str, str]) -> None:
    response = client.post(
        "/api/tasking/v2/tasks",
        content=b"{not json",
        headers={**demo, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"}
    problem = client.get("/api/tasking/v2/tasks?limit=abc", headers={**demo, **PROBLEM})
    assert problem.status_code == 400
    assert problem.headers["content-type"] == "application/problem+json"
    assert set(problem.json()) <= {"title", "code", "details", "reference"}


def test_403_and_404_are_declared_where_they_happen(
    client: TestClient, demo: dict[str, str], spec: dict[str, Any]
) -> None:
    ops = operations(spec)
    for op_id in ("GetContract", "GetSummary", "getTask", "cancelTask", "getTaskScene",
                  "listTaskProducts", "getTaskProduct", "getPrice", "createTask",
                  "checkFeasibility", "getTaskHistory", "getFile"):  # fmt: skip
        assert "404" in ops[op_id]["responses"], op_id
    assert {op for op, o in ops.items() if "403" in o["responses"]} == {
        "checkFeasibility",
        "getFile",
    }
    unknown = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/api/tasking/v2/tasks/{unknown}", headers=demo).status_code == 404
    summary = f"/api/company/v1/contracts/{seed.BROAD_CONTRACT_ID}/summary"
    assert client.get(summary, headers=demo).status_code == 404  # no pricing plan
    assert client.get("/sandbox/v1/files/x/GRD/quicklook-png.png").status_code == 403
    late = task_body(start_in_h=24 * 30)  # beyond the 14-day horizon: a window rule
    assert client.post("/api/tasking/v2/feasibility", json=[late], headers=demo).status_code in (
        400,
        403,
    )


def test_constellation_is_declared_and_served_as_text_or_json(
    client: TestClient, spec: dict[str, Any]
) -> None:
    content = operations(spec)["getConstellation"]["responses"]["200"]["content"]
    assert set(content) == {"text/plain", "application/json"}
    tle = client.get("/sandbox/v1/constellation")
    assert tle.headers["content-type"].startswith("text/plain")
    omm = client.get("/sandbox/v1/constellation", params={"format": "omm"})
    assert omm.headers["content-type"] == "application/json"
    assert isinstance(omm.json(), list)


def test_files_are_declared_with_every_asset_media_type(spec: dict[str, Any]) -> None:
    content = operations(spec)["getFile"]["responses"]["200"]["content"]
    planned = {media for t in ("GRD", "SLC", "QLK") for _, _, media, _ in products.asset_plan(t)}
    assert planned <= set(content)
    assert {"image/png", "application/xml", "application/vnd.google-earth.kml+xml"} <= planned
    assert all(c["schema"] == {"type": "string", "format": "binary"} for c in content.values())


def test_limits_are_documented(client: TestClient, spec: dict[str, Any]) -> None:
    ops = operations(spec)
    for op_id in ("ListContracts", "getTasks"):
        (limit,) = [p for p in ops[op_id]["parameters"] if p["name"] == "limit"]
        assert limit["schema"]["minimum"] == 1
        assert limit["schema"]["maximum"] == tasks.MAX_LIMIT
        assert limit["schema"]["default"] == tasks.DEFAULT_LIMIT
    max_body = client.app.state.sandbox.config.max_body_bytes  # type: ignore[attr-defined]
    size = docs.size_text(max_body)
    for op_id, op in ops.items():
        if "requestBody" in op:
            assert f"Request bodies up to {size}" in op["description"], op_id
            assert "413" in op["responses"], op_id
    assert (
        "at most" in ops["checkFeasibility"]["description"]
        or "1 to" in (ops["checkFeasibility"]["description"])
    )


def test_default_body_limit_is_16_mib() -> None:
    assert docs.size_text(docs.MAX_BODY_BYTES) == "16 MiB"


def test_every_operation_the_tables_name_exists(spec: dict[str, Any]) -> None:
    ops = set(operations(spec))
    assert set(docs.ERRORS_BY_OPERATION) <= ops
    assert set(docs.NOTES_BY_OPERATION) <= ops


def test_the_document_is_built_once(client: TestClient) -> None:
    app = client.app
    assert app.openapi() is app.openapi()  # type: ignore[attr-defined]
