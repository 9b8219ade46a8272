"""ClientCredentialsAuth: the token request, caching, refresh before expiry, one retry on 401,
one token request for many threads, and failures mapped to tasking.errors."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from tasking.auth import ClientCredentialsAuth, token_lifetime
from tasking.errors import ServerError, Unauthorized
from tests.conftest import load_golden

TOKEN_URL = "https://auth.test/v1/token"
API = "https://api.test/api/tasking/v2/tasks"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token_body(n: int, expires_in: int = 3600) -> dict[str, Any]:
    return {**load_golden("token_response"), "access_token": f"token-{n}", "expires_in": expires_in}


class TokenServer:
    """Token endpoint handing out token-1, token-2, ...; counts requests."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.issued = 0
        self.expires_in = expires_in

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.issued += 1
        return httpx.Response(200, json=token_body(self.issued, self.expires_in))


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def auth(clock: FakeClock) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(TOKEN_URL, "my-client", "s3cr3t-value", clock=clock)


def bearer(request: httpx.Request) -> str:
    return request.headers.get("Authorization", "")


def test_the_token_request_uses_basic_auth_and_the_client_credentials_grant(
    router: respx.MockRouter, auth: ClientCredentialsAuth
) -> None:
    token = router.post(TOKEN_URL).mock(side_effect=TokenServer())
    api = router.get(API).respond(200, json={"data": []})
    with httpx.Client(auth=auth) as http:
        http.get(API)
    sent = token.calls.last.request
    expected = base64.b64encode(b"my-client:s3cr3t-value").decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Accept"] == "application/json, application/problem+json"
    assert sent.headers["Cache-Control"] == "no-cache"
    assert parse_qs(sent.content.decode()) == {"grant_type": ["client_credentials"]}
    assert bearer(api.calls.last.request) == "Bearer token-1"


def test_a_token_is_reused_until_five_minutes_before_it_expires(
    router: respx.MockRouter, auth: ClientCredentialsAuth, clock: FakeClock
) -> None:
    router.post(TOKEN_URL).mock(side_effect=TokenServer(expires_in=3600))
    api = router.get(API).respond(200, json={})
    with httpx.Client(auth=auth) as http:
        http.get(API)
        clock.now += 3300 - 0.001
        http.get(API)
        assert auth.token_requests == 1
        clock.now += 0.001  # exactly expires_in - 300 s after it was issued
        http.get(API)
    assert auth.token_requests == 2
    assert [bearer(c.request) for c in api.calls] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


@pytest.mark.parametrize(
    ("expires_in", "used_for"), [(3600, 3300), (601, 301), (600, 300), (60, 30)]
)
def test_short_lived_tokens_are_used_for_half_their_lifetime(
    expires_in: int, used_for: int
) -> None:
    assert token_lifetime(expires_in) == used_for


def test_a_401_from_the_api_gets_one_fresh_token_and_one_retry(
    router: respx.MockRouter, auth: ClientCredentialsAuth
) -> None:
    router.post(TOKEN_URL).mock(side_effect=TokenServer())
    api = router.post(API).mock(
        side_effect=[
            httpx.Response(401, json={"code": "unauthorized", "message": "expired"}),
            httpx.Response(201, json={"ok": True}),
        ]
    )
    with httpx.Client(auth=auth) as http:
        response = http.post(API, json={"a": 1})
    assert response.status_code == 201
    assert auth.token_requests == 2
    assert [bearer(c.request) for c in api.calls] == ["Bearer token-1", "Bearer token-2"]
    assert api.calls[1].request.content == b'{"a":1}'


def test_a_second_401_is_returned_without_a_third_attempt(
    router: respx.MockRouter, auth: ClientCredentialsAuth
) -> None:
    router.post(TOKEN_URL).mock(side_effect=TokenServer())
    api = router.get(API).respond(401, json={"code": "unauthorized", "message": "no"})
    with httpx.Client(auth=auth) as http:
        response = http.get(API)
    assert response.status_code == 401
    assert api.call_count == 2
    assert auth.token_requests == 2


class CountingLock:
    """A lock that reports how many threads have asked for it (to know when all are waiting)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entered = 0
        self.changed = threading.Condition()

    def __enter__(self) -> None:
        with self.changed:
            self.entered += 1
            self.changed.notify_all()
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_many_threads_needing_a_token_at_once_cause_exactly_one_token_request(
    router: respx.MockRouter, auth: ClientCredentialsAuth
) -> None:
    threads_count = 8
    lock = CountingLock()
    auth._lock = lock  # type: ignore[assignment]  # instrumented to see every thread arrive
    server = TokenServer()

    def slow_token(request: httpx.Request) -> httpx.Response:
        # Hold the first token request until every thread has asked for the lock, so that all of
        # them need a token at the same time.
        with lock.changed:
            lock.changed.wait_for(lambda: lock.entered >= threads_count, timeout=10)
        return server(request)

    router.post(TOKEN_URL).mock(side_effect=slow_token)
    api = router.get(API).respond(200, json={})
    errors: list[BaseException] = []
    with httpx.Client(auth=auth) as http:

        def work() -> None:
            try:
                http.get(API)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [threading.Thread(target=work) for _ in range(threads_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
    assert errors == []
    assert lock.entered == threads_count
    assert server.issued == 1 == auth.token_requests
    assert {bearer(c.request) for c in api.calls} == {"Bearer token-1"}


def test_rejected_credentials_raise_unauthorized_with_the_servers_description(
    router: respx.MockRouter, auth: ClientCredentialsAuth
) -> None:
    router.post(TOKEN_URL).respond(401, json=load_golden("token_error_invalid_client"))
    api = router.get(API).respond(200, json={})
    with httpx.Client(auth=auth) as http, pytest.raises(Unauthorized) as caught:
        http.get(API)
    assert caught.value.code == "invalid_client"
    assert "client authentication failed" in caught.value.message
    assert not api.called


@pytest.mark.parametrize("status", [400, 404])
def test_other_token_endpoint_refusals_are_unauthorized_too(
    router: respx.MockRouter, auth: ClientCredentialsAuth, status: int
) -> None:
    router.post(TOKEN_URL).respond(status, json={"error": "unsupported_grant_type"})
    with httpx.Client(auth=auth) as http, pytest.raises(Unauthorized) as caught:
        http.get(API)
    assert caught.value.status_code == status
    assert TOKEN_URL in caught.value.message
    assert ("ICEYE_AUTH_URL" in caught.value.message) == (status == 404)


def test_a_token_endpoint_failure_stays_a_server_error(
    router: respx.MockRouter, auth: ClientCredentialsAuth
) -> None:
    router.post(TOKEN_URL).respond(503, text="down")
    with httpx.Client(auth=auth) as http, pytest.raises(ServerError):
        http.get(API)


def test_a_token_response_without_access_token_is_unauthorized(
    router: respx.MockRouter, auth: ClientCredentialsAuth
) -> None:
    router.post(TOKEN_URL).respond(200, json={"token_type": "Bearer"})
    with httpx.Client(auth=auth) as http, pytest.raises(Unauthorized, match="without an access"):
        http.get(API)


def test_the_lock_is_released_when_the_token_request_fails(
    router: respx.MockRouter, auth: ClientCredentialsAuth
) -> None:
    router.post(TOKEN_URL).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=token_body(1))]
    )
    router.get(API).respond(200, json={})
    with httpx.Client(auth=auth) as http:
        with pytest.raises(httpx.ConnectError):
            http.get(API)
        assert http.get(API).status_code == 200


def test_the_secret_never_appears_in_repr() -> None:
    auth = ClientCredentialsAuth(TOKEN_URL, "my-client", "s3cr3t-value")
    assert "s3cr3t" not in repr(auth)
    assert "s3cr3t" not in str(vars(auth))
