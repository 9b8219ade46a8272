"""Tokens, company isolation, rate limits, error bodies and signed links."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tasking.sandbox import seed
from tests.sandbox.conftest import ManualClock, advance, login, run_until, task_body

TASKS = "/api/tasking/v2/tasks"
PROBLEM = {"Accept": "application/json, application/problem+json"}


# --- tokens ------------------------------------------------------------------------------------


def test_token_needs_valid_client_credentials(client: TestClient) -> None:
    form = {"grant_type": "client_credentials"}
    wrong = client.post("/v1/token", data=form, auth=(seed.DEMO_CLIENT_ID, "nope"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    missing = client.post("/v1/token", data=form)
    assert missing.status_code == 401
    grant = client.post(
        "/v1/token",
        data={"grant_type": "password"},
        auth=(seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET),
    )
    assert grant.status_code == 400
    assert grant.json()["error"] == "unsupported_grant_type"


def test_api_without_token_is_401_unauthorized(client: TestClient) -> None:
    response = client.get(TASKS)
    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "message": "missing bearer token"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    forged = client.get(TASKS, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    assert forged.json()["message"] == "invalid access token"


def test_token_expires_after_its_lifetime_in_real_time(
    client: TestClient, real_clock: ManualClock
) -> None:
    headers = login(client)
    real_clock.tick(3599)
    assert client.get(TASKS, headers=headers).status_code == 200
    real_clock.tick(1)
    expired = client.get(TASKS, headers=headers)
    assert expired.status_code == 401
    assert expired.json() == {"code": "unauthorized", "message": "access token expired"}
    assert client.get(TASKS, headers=login(client)).status_code == 200


def test_tokens_survive_a_restart_of_the_sandbox(client_for: Any) -> None:
    first = client_for()
    headers = login(first)
    first.__exit__(None, None, None)
    second = client_for()
    assert second.get(TASKS, headers=headers).status_code == 200


# --- isolation ---------------------------------------------------------------------------------


def test_a_company_cannot_see_or_touch_another_companys_task(
    client: TestClient, demo: dict[str, str], northwind: dict[str, str]
) -> None:
    task = client.post(TASKS, json=task_body(), headers=demo).json()
    unknown = client.get(f"{TASKS}/00000000-0000-4000-8000-000000000000", headers=northwind)
    for method, path in [
        ("GET", f"{TASKS}/{task['id']}"),
        ("GET", f"{TASKS}/{task['id']}/scene"),
        ("GET", f"{TASKS}/{task['id']}/products"),
        ("GET", f"/sandbox/v1/tasks/{task['id']}/history"),
    ]:
        response = client.request(method, path, headers=northwind)
        assert response.status_code == 404, path
        assert response.json()["code"] == unknown.json()["code"] == "not_found"
    cancel = client.patch(f"{TASKS}/{task['id']}", json={"status": "CANCELED"}, headers=northwind)
    assert cancel.status_code == 404
    assert client.get(TASKS, headers=northwind).json() == {"data": []}
    assert client.get(f"{TASKS}/{task['id']}", headers=demo).json()["status"] == "RECEIVED"


def test_a_company_sees_only_its_own_contracts(
    client: TestClient, demo: dict[str, str], northwind: dict[str, str]
) -> None:
    ids = {
        c["id"] for c in client.get("/api/company/v1/contracts", headers=northwind).json()["data"]
    }
    assert ids == {seed.NARROW_CONTRACT_ID, seed.EXPIRED_CONTRACT_ID}
    other = client.get(f"/api/company/v1/contracts/{seed.BROAD_CONTRACT_ID}", headers=northwind)
    assert other.status_code == 404
    create = client.post(TASKS, json=task_body(), headers=northwind)
    assert create.status_code == 404


# --- rate limit and error bodies ------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(client_for: Any, real_clock: ManualClock) -> None:
    client = client_for(rate_per_s=1.0, rate_burst=2.0)
    headers = login(client)
    assert [client.get(TASKS, headers=headers).status_code for _ in range(2)] == [200, 200]
    limited = client.get(TASKS, headers=headers)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["code"] == "too_many_requests"
    real_clock.tick(1)
    assert client.get(TASKS, headers=headers).status_code == 200


def test_errors_use_the_problem_form_when_accept_asks_for_it(
    client: TestClient, demo: dict[str, str]
) -> None:
    missing = "00000000-0000-4000-8000-000000000000"  # well formed, unknown (malformed: 400)
    response = client.get(f"{TASKS}/{missing}", headers={**demo, **PROBLEM})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "title": "Task Not Found",
        "code": "not_found",
        "details": f"task {missing} not found",
        "reference": "https://docs.iceye.com/constellation/api/specification/tasking/v2/"
        "#operation/getTask",
    }
    plain = client.get(f"{TASKS}/{missing}", headers=demo)
    assert plain.headers["content-type"] == "application/json"
    assert plain.json() == {"code": "not_found", "message": f"task {missing} not found"}


def test_broken_rules_are_400_with_each_rule_named(
    client: TestClient, demo: dict[str, str]
) -> None:
    body = task_body(start_in_h=1, width_h=2, imagingMode="SCAN_WIDE_XL")
    response = client.post(TASKS, json=body, headers=demo)
    assert response.status_code == 400
    message = response.json()["message"]
    for rule in ("lead-time rule", "min-24h-window rule", "contract-allowed rule"):
        assert rule in message


def test_expired_contract_refuses_new_tasks(client: TestClient, northwind: dict[str, str]) -> None:
    body = task_body(contractID=seed.EXPIRED_CONTRACT_ID)
    response = client.post(TASKS, json=body, headers=northwind)
    assert response.status_code == 400
    assert "contract-validity rule" in response.json()["message"]


def test_request_validation_errors_are_400_not_422(
    client: TestClient, demo: dict[str, str]
) -> None:
    unknown = client.post(TASKS, json={**task_body(), "colour": "blue"}, headers=demo)
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "unknown field 'colour' (additionalProperties: false)"
    missing = client.post(TASKS, json={"contractID": seed.BROAD_CONTRACT_ID}, headers=demo)
    assert missing.status_code == 400
    assert "field 'pointOfInterest' is required" in missing.json()["message"]
    garbage = client.post(
        TASKS, content=b"{not json", headers={**demo, "Content-Type": "application/json"}
    )
    assert garbage.status_code == 400
    assert garbage.json()["message"].startswith("malformed JSON body")
    assert client.get(f"{TASKS}?limit=abc", headers=demo).status_code == 400


def test_unknown_route_is_a_404_in_iceye_format(client: TestClient) -> None:
    response = client.get("/api/tasking/v2/nothing-here")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message"}


def test_unexpected_failure_is_a_500_without_internals(
    client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for()
    client_no_raise = TestClient(client.app, raise_server_exceptions=False)
    sandbox = client.app.state.sandbox  # type: ignore[attr-defined]

    def boom() -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(sandbox, "clock_state", boom)
    response = client_no_raise.get("/sandbox/v1/clock")
    assert response.status_code == 500
    assert response.json() == {"code": "internal_error", "message": "internal server error"}


# --- signed links --------------------------------------------------------------------------------


def _quicklook_href(client: TestClient, headers: dict[str, str]) -> str:
    task = client.post(TASKS, json=task_body(), headers=headers).json()
    run_until(client, headers, task["id"], {"DONE"})
    items = client.get(f"{TASKS}/{task['id']}/products/GRD", headers=headers).json()["data"]
    return str(items[0]["assets"]["quicklook-png"]["href"])


def test_signed_link_serves_the_file_until_it_expires_an_hour_later_in_sim_time(
    client: TestClient, demo: dict[str, str]
) -> None:
    href = _quicklook_href(client, demo)
    first = client.get(href)
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/png"
    assert first.content.startswith(b"\x89PNG")
    advance(client, 3599)
    assert client.get(href).status_code == 200  # in the last seconds of its hour
    advance(client, 2)
    expired = client.get(href)
    assert expired.status_code == 403
    assert "expired" in expired.json()["message"]


def test_each_products_call_issues_fresh_links(client: TestClient, demo: dict[str, str]) -> None:
    href = _quicklook_href(client, demo)
    advance(client, 7200)
    task_id = urlsplit(href).path.split("/")[4]
    again = client.get(f"{TASKS}/{task_id}/products/GRD", headers=demo).json()["data"]
    fresh = again[0]["assets"]["quicklook-png"]["href"]
    assert client.get(href).status_code == 403
    assert client.get(fresh).status_code == 200


@pytest.mark.parametrize("part", ["signature", "expires", "path", "missing"])
def test_altered_link_is_refused_with_403(
    client: TestClient, demo: dict[str, str], part: str
) -> None:
    href = _quicklook_href(client, demo)
    url = urlsplit(href)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    path = url.path
    if part == "signature":
        query["signature"] = ("0" if query["signature"][0] != "0" else "1") + query["signature"][1:]
    elif part == "expires":
        query["expires"] = str(int(query["expires"]) + 86400)
    elif part == "path":
        path = path.replace("quicklook-png.png", "metadata-json.json")
    else:
        query.pop("signature")
    altered = f"{path}?" + "&".join(f"{k}={v}" for k, v in query.items())
    response = client.get(altered)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
