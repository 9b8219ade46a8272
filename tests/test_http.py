"""tasking.http.Session against respx: what a failure says about whether the server saw the request,
the retry policies, the server's time from Date headers, the token request's timeout and text that
cannot be sent. Nothing reaches the network."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from tasking import times
from tasking.auth import ClientCredentialsAuth
from tasking.errors import (
    ApiError,
    BadRequest,
    InputError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TaskingError,
    TransportError,
)
from tasking.http import (
    RETRY_AFTER_CAP_S,
    Session,
    check_text,
    retry_idempotent,
    retry_unless_timed_out,
    retry_unprocessed,
)
from tests.conftest import load_golden

API = "https://api.test/api"
PATH = "/tasking/v2/tasks"
TOKEN_URL = "https://auth.test/v1/token"
SERVER_NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(TOKEN_URL).respond(200, json=load_golden("token_response"))
        yield mock


@pytest.fixture
def session(router: respx.MockRouter) -> Iterator[Session]:
    auth = ClientCredentialsAuth(TOKEN_URL, "client-id", "client-secret-value")
    made = Session(API, auth, sleep=lambda _: None, timeout=7.0)
    yield made
    made.close()


def date(when: datetime) -> dict[str, str]:
    return {"Date": format_datetime(when, usegmt=True)}


# --- did the request reach the server? -------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "error_class", "unknown"),
    [
        (httpx.ConnectError("refused"), TransportError, False),
        (httpx.ConnectTimeout("no route"), RequestTimeout, False),
        (httpx.PoolTimeout("no free connection"), RequestTimeout, False),
        (httpx.ReadTimeout("no answer"), RequestTimeout, True),
        (httpx.WriteTimeout("body stalled"), RequestTimeout, True),
        (httpx.ReadError("reset"), TransportError, True),
        (httpx.RemoteProtocolError("closed mid-answer"), TransportError, True),
    ],
)
def test_a_failure_says_whether_the_server_may_have_acted(
    router: respx.MockRouter,
    session: Session,
    failure: Exception,
    error_class: type[TransportError],
    unknown: bool,
) -> None:
    router.post(f"{API}{PATH}").mock(side_effect=failure)
    with pytest.raises(error_class) as caught:
        session.attempt("POST", PATH, json={})
    assert type(caught.value) is error_class
    assert caught.value.outcome_unknown is unknown
    assert isinstance(caught.value.__cause__, type(failure))


def test_a_failed_token_request_means_the_api_request_was_never_sent(
    router: respx.MockRouter, session: Session
) -> None:
    router.post(TOKEN_URL).mock(side_effect=httpx.ReadTimeout("the token endpoint hangs"))
    create = router.post(f"{API}{PATH}").respond(201, json={})
    with pytest.raises(RequestTimeout) as caught:
        session.attempt("POST", PATH, json={})
    assert not caught.value.outcome_unknown and not create.called


def test_an_error_status_is_mapped_to_the_error_tree(
    router: respx.MockRouter, session: Session
) -> None:
    router.post(f"{API}{PATH}").respond(400, json=load_golden("error_insufficient_funds"))
    with pytest.raises(BadRequest) as caught:
        session.attempt("POST", PATH, json={})
    assert caught.value.code == "ERR_INSUFFICIENT_FUNDS" and not caught.value.outcome_unknown


def test_the_token_request_gets_the_clients_timeout_instead_of_none(
    router: respx.MockRouter, session: Session
) -> None:
    token = router.post(TOKEN_URL).respond(200, json=load_golden("token_response"))
    router.get(f"{API}{PATH}").respond(200, json={"data": []})
    session.attempt("GET", PATH, timeout=2.0)
    # Built as a bare httpx.Request by the auth: without this httpcore would wait forever.
    assert (
        token.calls.last.request.extensions["timeout"] == httpx.Timeout(7.0, connect=7.0).as_dict()
    )


# --- retry policies --------------------------------------------------------------------------

RETRY_CASES = [
    # error, idempotent, unless_timed_out, unprocessed
    (RateLimited("m", status_code=429), True, True, True),
    (RateLimited("m", status_code=429, retry_after=RETRY_AFTER_CAP_S + 1), False, False, False),
    (ServerError("m", status_code=503), True, True, False),
    (TransportError("refused", sent=False), True, True, True),
    (TransportError("reset"), True, True, False),
    (RequestTimeout("connect timed out", sent=False), True, True, True),
    (RequestTimeout("read timed out"), True, False, False),
    (BadRequest("m", status_code=400), False, False, False),
    (ApiError("m", status_code=418), False, False, False),
    (InputError("m"), False, False, False),
    (ValueError("not ours"), False, False, False),
]


@pytest.mark.parametrize(("error", "idempotent", "unless_timed_out", "unprocessed"), RETRY_CASES)
def test_each_retry_policy_accepts_only_its_failures(
    error: BaseException, idempotent: bool, unless_timed_out: bool, unprocessed: bool
) -> None:
    assert retry_idempotent(error) is idempotent
    assert retry_unless_timed_out(error) is unless_timed_out
    assert retry_unprocessed(error) is unprocessed


def test_a_request_retries_as_its_policy_allows(router: respx.MockRouter, session: Session) -> None:
    route = router.post(f"{API}{PATH}").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RequestTimeout):
        session.request("POST", PATH, json={}, retry=retry_unprocessed)
    assert route.call_count == 1
    with pytest.raises(RequestTimeout):
        session.request("POST", PATH, json={})
    assert route.call_count == 1 + session.max_attempts


# --- the server's time -----------------------------------------------------------------------


def test_server_now_is_the_machines_clock_until_a_response_brings_a_date(
    monkeypatch: pytest.MonkeyPatch, session: Session
) -> None:
    monkeypatch.setattr(times, "utc_now", lambda: SERVER_NOW + timedelta(days=1))
    assert session.server_now() == SERVER_NOW + timedelta(days=1)


def test_server_now_follows_the_date_of_the_latest_response_token_responses_included(
    router: respx.MockRouter, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = SERVER_NOW + timedelta(days=1)
    monkeypatch.setattr(times, "utc_now", lambda: local)
    router.post(TOKEN_URL).respond(
        200, json=load_golden("token_response"), headers=date(SERVER_NOW)
    )
    route = router.get(f"{API}{PATH}").respond(200, json={}, headers={"Date": "not a date"})
    session.attempt("GET", PATH)
    assert session.server_now() == SERVER_NOW  # from the token response; a bad Date is ignored
    route.respond(200, json={}, headers=date(SERVER_NOW + timedelta(hours=1)))
    session.attempt("GET", PATH)
    assert session.server_now() == SERVER_NOW + timedelta(hours=1)
    assert session.server_time(local - timedelta(minutes=1)) == SERVER_NOW + timedelta(minutes=59)


def test_a_cached_responses_date_is_not_taken_for_the_servers_time(
    router: respx.MockRouter, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(times, "utc_now", lambda: SERVER_NOW)
    router.get("https://cdn.test/a").respond(
        200, content=b"x", headers={**date(SERVER_NOW - timedelta(days=3)), "Age": "259200"}
    )
    session.download("https://cdn.test/a")
    assert session.server_now() == SERVER_NOW


def test_an_injected_local_clock_is_corrected_by_the_servers_date(
    router: respx.MockRouter,
) -> None:
    local = datetime(2030, 1, 1, tzinfo=UTC)  # a machine whose clock is years off
    router.get(f"{API}{PATH}").respond(200, json={}, headers=date(SERVER_NOW))
    with Session(API, None, clock=lambda: local) as session:
        assert session.server_now() == local == session.local_now()
        session.attempt("GET", PATH)
        assert session.server_now() == SERVER_NOW


# --- text that cannot be sent ----------------------------------------------------------------


def test_text_utf8_cannot_encode_is_an_input_error_naming_the_field_before_any_request(
    router: respx.MockRouter, session: Session
) -> None:
    body = {"deliveries": [{"locations": [{"configID": "c", "path": "bad \udc80"}]}]}
    with pytest.raises(InputError) as caught:
        session.attempt("POST", PATH, json=body)
    [violation] = caught.value.violations
    assert (violation.field, violation.rule) == ("deliveries", "text-encoding")
    assert (
        "deliveries[0].locations[0].path" in violation.message and "position 5" in violation.message
    )
    with pytest.raises(InputError) as caught:
        session.attempt("GET", PATH, params={"contractID": "\ud800"})
    assert caught.value.violations[0].field == "contractID"
    assert not router.calls and session.request_count == 0


def test_check_text_accepts_any_valid_unicode() -> None:
    check_text({"reference": "Ünïcödé 港 🛰", "list": ["ok", 1, None, 2.5], "nested": {"a": "b"}})


def test_errors_are_tasking_errors_never_httpx_ones(
    router: respx.MockRouter, session: Session
) -> None:
    router.get(f"{API}{PATH}").mock(side_effect=httpx.DecodingError("bad gzip"))
    with pytest.raises(TaskingError) as caught:
        session.attempt("GET", PATH)
    assert not isinstance(caught.value, httpx.HTTPError)
