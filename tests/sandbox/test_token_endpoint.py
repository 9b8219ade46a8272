"""POST /v1/token: OAuth2 refusals (RFC 6749 §5.2) for every failure, the documented scope, and
the login throttle (failed attempts per client id and per peer, README "Limits")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.sandbox import seed
from tasking.sandbox.config import SandboxConfig
from tests.conftest import load_golden
from tests.sandbox.conftest import ManualClock, login

FORM = {"grant_type": "client_credentials"}
DEMO = (seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET)
NORTHWIND = (seed.NORTHWIND_CLIENT_ID, seed.NORTHWIND_CLIENT_SECRET)
WRONG = (seed.DEMO_CLIENT_ID, "not-the-secret")


def _is_oauth_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == set(load_golden("token_error_invalid_client"))  # {error, error_description}
    assert body["error"] == error
    assert body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_token_carries_iceyes_documented_scope(client: TestClient) -> None:
    body = client.post("/v1/token", data=FORM, auth=DEMO).json()
    assert body["scope"] == load_golden("token_response")["scope"]


@pytest.mark.parametrize(
    "authorization",
    ["Basic !!!not-base64!!!", "Basic " + "bm8tY29sb24=", "Bearer abc", "Basic"],
    ids=["not-base64", "no-colon", "not-basic", "empty"],
)
def test_malformed_credentials_get_the_oauth2_invalid_client_body(
    client: TestClient, authorization: str
) -> None:
    response = client.post("/v1/token", data=FORM, headers={"Authorization": authorization})
    _is_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_grant_type_missing_is_invalid_request_and_other_grants_are_unsupported(
    client: TestClient,
) -> None:
    _is_oauth_error(client.post("/v1/token", auth=DEMO), 400, "invalid_request")
    password = client.post("/v1/token", data={"grant_type": "password"}, auth=DEMO)
    _is_oauth_error(password, 400, "unsupported_grant_type")


def test_a_body_that_is_not_a_form_is_an_oauth2_refusal(client: TestClient) -> None:
    broken = client.post(
        "/v1/token",
        content=b"--x\r\nnot multipart",
        headers={"Content-Type": "multipart/form-data"},
        auth=DEMO,
    )
    _is_oauth_error(broken, 400, "invalid_request")
    as_json = client.post("/v1/token", json=FORM, auth=DEMO)
    _is_oauth_error(as_json, 400, "invalid_request")


def test_other_methods_get_405_in_oauth2_form(client: TestClient) -> None:
    response = client.get("/v1/token")
    _is_oauth_error(response, 405, "invalid_request")
    assert response.headers["Allow"] == "POST"


# --- throttle ----------------------------------------------------------------------------------


def test_wrong_secrets_are_throttled_after_ten_and_the_right_one_waits_too(
    client: TestClient, real_clock: ManualClock
) -> None:
    statuses = [client.post("/v1/token", data=FORM, auth=WRONG).status_code for _ in range(30)]
    assert statuses == [401] * 10 + [429] * 20
    throttled = client.post("/v1/token", data=FORM, auth=DEMO)  # even right: nothing to learn
    _is_oauth_error(throttled, 429, "too_many_requests")
    assert throttled.headers["Retry-After"] == "6"
    real_clock.tick(6)  # one attempt regained
    assert client.post("/v1/token", data=FORM, auth=DEMO).status_code == 200


def test_correct_logins_are_never_throttled(client: TestClient) -> None:
    # Only failures take from the buckets, so a test suite may log in as often as it likes.
    for _ in range(50):
        login(client)


def test_failures_count_per_peer_across_client_ids(client_for: Any) -> None:
    app = client_for().app
    attacker = TestClient(app, client=("203.0.113.7", 40000))
    for i in range(10):
        refused = attacker.post("/v1/token", data=FORM, auth=(f"guess-{i}", "x"))
        assert refused.status_code == 401
    _is_oauth_error(attacker.post("/v1/token", data=FORM, auth=NORTHWIND), 429, "too_many_requests")
    bystander = TestClient(app, client=("198.51.100.9", 40000))
    assert bystander.post("/v1/token", data=FORM, auth=NORTHWIND).status_code == 200


def test_failures_count_per_client_id_across_peers(client_for: Any) -> None:
    app = client_for().app
    for i in range(10):
        peer = TestClient(app, client=(f"192.0.2.{i}", 40000))
        assert peer.post("/v1/token", data=FORM, auth=WRONG).status_code == 401
    fresh_peer = TestClient(app, client=("192.0.2.200", 40000))
    _is_oauth_error(fresh_peer.post("/v1/token", data=FORM, auth=DEMO), 429, "too_many_requests")
    assert fresh_peer.post("/v1/token", data=FORM, auth=NORTHWIND).status_code == 200


def test_malformed_headers_count_against_the_peer(client_for: Any) -> None:
    client = client_for(login_failure_burst=2)
    garbage = {"Authorization": "Basic !!!"}
    statuses = [client.post("/v1/token", data=FORM, headers=garbage).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_the_throttle_is_configurable(client_for: Any, real_clock: ManualClock) -> None:
    client = client_for(login_failure_burst=1, login_failure_refill_s=30)
    assert client.post("/v1/token", data=FORM, auth=WRONG).status_code == 401
    throttled = client.post("/v1/token", data=FORM, auth=WRONG)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "30"
    real_clock.tick(30)
    assert client.post("/v1/token", data=FORM, auth=DEMO).status_code == 200


@pytest.mark.parametrize("overrides", [{"login_failure_burst": 0.5}, {"login_failure_refill_s": 0}])
def test_a_throttle_that_would_refuse_everyone_is_a_config_error(
    overrides: dict[str, float], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="login_failure"):
        SandboxConfig(data_dir=tmp_path, **overrides)
