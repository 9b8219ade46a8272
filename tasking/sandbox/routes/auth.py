"""``POST /v1/token``: OAuth2 client credentials (iceye-api.md §2).

Served at the server root, which is therefore the auth base URL (``ICEYE_AUTH_URL``), as in ICEYE's
demo that appends ``/v1/token``. Every refusal uses the RFC 6749 §5.2 body
(``{error, error_description}``), the form OAuth2 clients expect from a token endpoint, never the
API's ``{code, message}``: 401 ``invalid_client`` for missing, malformed or wrong credentials,
400 ``invalid_request`` for a missing grant type or an unreadable body, 400
``unsupported_grant_type`` for any grant but ``client_credentials``, 429 ``too_many_requests`` with
``Retry-After`` once failed attempts exhaust the login throttle (``security.LoginThrottle``), 405
for a method other than POST. The route class below keeps FastAPI's own errors (body parsing,
method) in that form too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBasic
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from tasking.models import TokenResponse
from tasking.sandbox.routes.deps import SandboxDep
from tasking.sandbox.security import OAuthError, basic_credentials

log = logging.getLogger(__name__)

TOKEN_PATH = "/v1/token"
# The scope string of ICEYE's documented token response (iceye-api.md §2, verbatim; also
# tests/data/token_response.json). The sandbox does not enforce scopes; it only echoes this one.
SCOPE = (
    "catalog.read deliveries.read orders.read activities.read contracts.read bundles.read "
    "internal_options.read customers.read internal_options.write"
)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error_response(error: OAuthError) -> JSONResponse:
    """An RFC 6749 §5.2 refusal (``{error, error_description}``), never cached."""
    headers = {**_NO_STORE, **error.headers}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="iceye-sandbox"'
    body = {"error": error.error, "error_description": error.description}
    return JSONResponse(body, error.status, headers=headers)


class _OAuthRoute(APIRoute):
    """A route whose framework-level failures are OAuth2 refusals too, not the API's bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:  # no grant_type in the form
                return oauth_error_response(OAuthError(400, "invalid_request", _why(exc)))
            except HTTPException:  # FastAPI could not read the form at all
                return oauth_error_response(
                    OAuthError(400, "invalid_request", "the body must be a form")
                )
            except Exception:
                log.exception("token endpoint failed")
                return oauth_error_response(
                    OAuthError(500, "server_error", "internal server error")
                )

        return guarded

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            refusal = OAuthError(
                405,
                "invalid_request",
                "the token endpoint accepts POST only",
                headers={"Allow": ", ".join(sorted(self.methods))},
            )
            await oauth_error_response(refusal)(scope, receive, send)
            return
        await super().handle(scope, receive, send)


def _why(error: RequestValidationError) -> str:
    for problem in error.errors():
        if problem.get("type") == "missing" and tuple(problem.get("loc", ()))[-1:] == (
            "grant_type",
        ):
            return "grant_type is required"
    return "the body must be a form with grant_type"


class _DeclaredBasic(HTTPBasic):
    """Declares HTTP Basic in the OpenAPI document only; ``basic_credentials`` reads the header,
    so that a malformed one is refused in OAuth2 form rather than by FastAPI's own 401."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


router = APIRouter(tags=["auth"], route_class=_OAuthRoute)
_basic = _DeclaredBasic(description="client id and secret of a seeded company")


@router.post(
    TOKEN_PATH,
    operation_id="getToken",
    summary="Get an access token (client credentials)",
    responses={200: {"model": TokenResponse}},
)
def token(
    request: Request,
    sandbox: SandboxDep,
    _: Annotated[None, Depends(_basic)],
    # Required, and documented as the one grant there is; any other value is checked below, so
    # that it gets RFC 6749's unsupported_grant_type rather than a validation error.
    grant_type: Annotated[str, Form(json_schema_extra={"enum": ["client_credentials"]})],
) -> Any:
    peer = request.client.host if request.client else "unknown"
    try:
        try:
            client_id, secret = basic_credentials(request.headers.get("authorization"))
        except OAuthError:
            sandbox.logins.check(None, peer)  # a throttled peer gets 429 even for garbage
            sandbox.logins.failed(None, peer)
            raise
        sandbox.logins.check(client_id, peer)
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        try:
            access_token, expires_in = sandbox.tokens.issue(client_id, secret)
        except OAuthError:
            sandbox.logins.failed(client_id, peer)
            raise
    except OAuthError as exc:
        return oauth_error_response(exc)
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": expires_in,
        "access_token": access_token,
        "scope": SCOPE,
    }
    return JSONResponse(body, headers=_NO_STORE)
