"""Errors as ICEYE gives them (iceye-api.md §6.2-§6.3).

Every refusal is an ``ApiProblem`` raised anywhere below a route and rendered here in one of the two
documented bodies: ``{code, message}`` by default, or ``{title, code, details, reference}`` with
``Content-Type: application/problem+json`` when the ``Accept`` header includes
``application/problem+json``. FastAPI's own request-validation errors (422) become 400 in the same
format, because ICEYE lists no 422; unexpected exceptions become a 500 without internals.

Codes: ``bad_request``, ``unauthorized``, ``forbidden``, ``not_found``, ``too_many_requests``,
``internal_error``, plus ICEYE's ``ERR_INSUFFICIENT_FUNDS`` and the sandbox's ``ERR_INVALID_STATUS``
(cancel in a final status; the code name is inferred, §9.9) and ``ERR_WEBHOOK_NOT_FOUND`` (a task
naming a webhook that is not the company's; inferred too).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tasking.errors import INSUFFICIENT_FUNDS_CODE, Violation
from tasking.models import ErrorBody, ProblemBody

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
DOCS_BASE = "https://docs.iceye.com/constellation/api/specification"
# Where each API's operations are documented; the operation id of the route completes the link.
_DOC_PAGES = {
    "/api/company/v1": f"{DOCS_BASE}/company/v1/",
    "/api/tasking/v2": f"{DOCS_BASE}/tasking/v2/",
    "/api/notifications/v1": f"{DOCS_BASE}/notifications/v1/",
}

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "too_many_requests",
    500: "internal_error",
}

INVALID_STATUS_CODE = "ERR_INVALID_STATUS"
WEBHOOK_NOT_FOUND_CODE = "ERR_WEBHOOK_NOT_FOUND"


class ApiProblem(Exception):
    """An error response: HTTP status, machine code, a message that names the broken rule."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}


def bad_request(message: str) -> ApiProblem:
    return ApiProblem(400, message)


def not_found(what: str, title: str = "Not Found") -> ApiProblem:
    return ApiProblem(404, what, title=title)


def insufficient_funds() -> ApiProblem:
    # Verbatim from the get-summary documentation (iceye-api.md §3.2).
    return ApiProblem(
        400, "could not create task: insufficient funds", code=INSUFFICIENT_FUNDS_CODE
    )


def from_violations(status: int, violations: Sequence[Violation], prefix: str = "") -> ApiProblem:
    """One problem for broken input rules; the message lists each rule's own message."""
    message = "; ".join(f"{prefix}{v.field}: {v.message}" for v in violations)
    return ApiProblem(status, message)


def _reference(request: Request) -> str:
    route = request.scope.get("route")
    operation = getattr(route, "operation_id", None) or getattr(route, "name", "")
    path = request.url.path
    for prefix, page in _DOC_PAGES.items():
        if path.startswith(prefix):
            return f"{page}#operation/{operation}"
    return f"{str(request.base_url).rstrip('/')}/docs"


def problem_response(request: Request, problem: ApiProblem) -> JSONResponse:
    """Render a problem in the body format the client's ``Accept`` header asks for."""
    headers = dict(problem.headers)
    if PROBLEM_JSON in request.headers.get("accept", ""):
        body = ProblemBody(
            title=problem.title,
            code=problem.code,
            details=problem.message,
            reference=_reference(request),
        )
        return JSONResponse(
            body.to_wire(), problem.status, headers=headers, media_type=PROBLEM_JSON
        )
    plain = ErrorBody(code=problem.code, message=problem.message)
    return JSONResponse(plain.to_wire(), problem.status, headers)


def _validation_message(errors: Sequence[Any]) -> str:
    parts = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        where, field = (loc[0], ".".join(loc[1:])) if loc else ("request", "")
        kind = error.get("type", "")
        if kind == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "not valid JSON")
            parts.append(f"malformed JSON body: {reason}")
        elif kind == "missing" and where == "body" and not field:
            parts.append("a JSON request body is required")
        elif kind == "missing":
            what = f"{where} parameter" if where in ("query", "header", "path") else "field"
            parts.append(f"{what} '{field}' is required")
        elif kind == "extra_forbidden":
            parts.append(f"unknown field '{field}' (additionalProperties: false)")
        elif where == "body" and not field:
            parts.append(f"malformed request body: {error.get('msg', 'invalid')}")
        else:
            parts.append(f"{field or where}: {error.get('msg', 'invalid value')}")
    return "; ".join(parts) or "malformed request"


def install(app: FastAPI) -> None:
    """Route every error through ``problem_response``."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return problem_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(request, ApiProblem(400, _validation_message(exc.errors())))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404:
            message = f"no such resource: {request.method} {request.url.path}"
        return problem_response(request, ApiProblem(exc.status_code, str(message), headers=headers))

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, ApiProblem(500, "internal server error"))

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
