"""errors: one mapping of responses for both documented bodies, codes, Retry-After; and which errors
leave the outcome of a request unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from tasking.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    Forbidden,
    HistoryError,
    InputError,
    InsufficientFunds,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServerError,
    TaskingError,
    TransportError,
    Unauthorized,
    Violation,
    error_from_response,
    parse_retry_after,
)
from tests.conftest import load_golden

URL = "https://api.test/api/tasking/v2/tasks"


def response(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("POST", URL)
    if body is None:
        return httpx.Response(status, request=request, headers=headers, text="")
    return httpx.Response(status, request=request, headers=headers, json=body)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (429, RateLimited),
        (500, ServerError),
        (502, ServerError),
        (418, ApiError),
    ],
)
def test_each_status_maps_to_its_error_class(status: int, cls: type[ApiError]) -> None:
    error = error_from_response(response(status, {"code": "c", "message": "m"}))
    assert type(error) is cls
    assert isinstance(error, TaskingError)
    assert (error.status_code, error.method, error.path) == (
        status,
        "POST",
        "/api/tasking/v2/tasks",
    )


def test_the_default_body_keeps_code_and_message() -> None:
    error = error_from_response(response(400, load_golden("error_insufficient_funds")))
    assert isinstance(error, InsufficientFunds) and isinstance(error, BadRequest)
    assert error.code == "ERR_INSUFFICIENT_FUNDS"
    assert error.message == "could not create task: insufficient funds"
    assert (
        str(error) == "HTTP 400 ERR_INSUFFICIENT_FUNDS: could not create task: insufficient funds"
    )


def test_the_problem_body_keeps_title_code_details_and_reference() -> None:
    error = error_from_response(response(404, load_golden("error_problem")))
    assert isinstance(error, NotFound)
    assert (error.title, error.code, error.details) == (
        "Contract Not Found",
        "not_found",
        "no rows in result set",
    )
    assert error.message == "no rows in result set"
    assert error.reference is not None and error.reference.endswith("#operation/GetContract")


def test_rfc7807_detail_is_tolerated() -> None:
    error = error_from_response(response(400, {"title": "Bad", "detail": "x is wrong"}))
    assert error.details == "x is wrong" and error.message == "x is wrong"


def test_a_body_that_is_not_json_falls_back_to_the_reason_phrase() -> None:
    error = error_from_response(response(503))
    assert isinstance(error, ServerError)
    assert error.message == "Service Unavailable" and error.code is None


def test_retry_after_seconds_are_kept() -> None:
    error = error_from_response(response(429, {"code": "r", "message": "m"}, {"Retry-After": "12"}))
    assert error.retry_after == 12.0


def test_retry_after_as_an_http_date_becomes_seconds() -> None:
    when = datetime.now(UTC) + timedelta(hours=1)
    seconds = parse_retry_after(format_datetime(when, usegmt=True))
    assert seconds is not None and 3000 < seconds <= 3600


def test_a_retry_after_date_with_an_unknown_zone_is_read_as_utc_not_a_type_error() -> None:
    # RFC 5322 "-0000" parses to a naive datetime; subtracting it from an aware one used to raise
    # TypeError out of error_from_response instead of giving a tasking error.
    when = datetime.now(UTC) + timedelta(hours=1)
    value = when.strftime("%a, %d %b %Y %H:%M:%S -0000")
    error = error_from_response(
        response(429, {"code": "r", "message": "m"}, {"Retry-After": value})
    )
    assert isinstance(error, RateLimited)
    assert error.retry_after is not None and 3000 < error.retry_after <= 3600


@pytest.mark.parametrize("value", [None, "", "soon"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_input_error_keeps_every_violation_and_says_them_all() -> None:
    violations = [Violation("lat", "latitude-range", "bad lat"), Violation("lon", "r", "bad lon")]
    error = InputError(violations)
    assert isinstance(error, ValueError) and isinstance(error, TaskingError)
    assert error.violations == violations
    assert error.message == "bad lat; bad lon"


# --- outcome_unknown: may the server have acted on the request? ------------------------------


def api_error(cls: type[ApiError], status: int) -> ApiError:
    return cls("m", status_code=status)


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (TaskingError("m"), False),
        (ConfigurationError("m"), False),
        (InputError("m", field="f", rule="r"), False),
        (HistoryError("m"), False),
        (TransportError("reset after sending"), True),
        (TransportError("refused", sent=False), False),
        (RequestTimeout("read timed out"), True),
        (RequestTimeout("connect timed out", sent=False), False),
        (api_error(BadRequest, 400), False),
        (api_error(InsufficientFunds, 400), False),
        (api_error(Unauthorized, 401), False),
        (api_error(Forbidden, 403), False),
        (api_error(NotFound, 404), False),
        (api_error(RateLimited, 429), False),
        (api_error(ApiError, 418), False),
        (api_error(ServerError, 500), True),
        (api_error(ServerError, 504), True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_outcome_unknown_is_true_only_when_the_server_may_have_acted(
    error: TaskingError, unknown: bool
) -> None:
    assert error.outcome_unknown is unknown


@pytest.mark.parametrize(("status", "unknown"), [(429, False), (500, True), (502, True)])
def test_a_mapped_response_knows_whether_its_outcome_is_unknown(status: int, unknown: bool) -> None:
    assert error_from_response(response(status, {"code": "c", "message": "m"})).outcome_unknown is (
        unknown
    )


def test_with_message_keeps_the_class_and_every_field() -> None:
    error = error_from_response(
        response(503, {"code": "busy", "message": "m"}, {"Retry-After": "4"})
    )
    restated = error.with_message("m; the task may or may not have been created")
    assert type(restated) is ServerError and restated is not error
    assert (restated.code, restated.retry_after, restated.status_code) == ("busy", 4.0, 503)
    assert (
        restated.message == str(restated.args[0]) == "m; the task may or may not have been created"
    )
    assert str(restated) == "HTTP 503 busy: m; the task may or may not have been created"
    unsent = TransportError("refused", sent=False).with_message("refused again")
    assert (type(unsent), unsent.sent, str(unsent)) == (TransportError, False, "refused again")


def test_a_success_whose_body_could_not_be_read_may_have_acted() -> None:
    from tasking.errors import ApiError

    unreadable = ApiError("Unexpected response", status_code=201, code="invalid_response")
    assert unreadable.outcome_unknown
    assert not ApiError("refused", status_code=400).outcome_unknown
