"""``POST /v1/token``: OAuth2 client credentials (iceye-api.md §2).

Served at the server root, which is therefore the auth base URL (``ICEYE_AUTH_URL``), as in ICEYE's
demo that appends ``/v1/token``. Refusals use RFC 6749 §5.2 bodies (``{error, error_description}``),
the form OAuth2 clients expect from a token endpoint: 401 ``invalid_client`` for missing or wrong
credentials, 400 ``unsupported_grant_type`` for any grant but ``client_credentials``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from tasking.models import TokenResponse
from tasking.sandbox.routes.deps import SandboxDep
from tasking.sandbox.security import OAuthError, basic_credentials

router = APIRouter(tags=["auth"])
_basic = HTTPBasic(auto_error=False, description="client id and secret of a seeded company")
# The scope string of ICEYE's documented token response.
SCOPE = "catalog.read contracts.read orders.read tasks.read tasks.write"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post(
    "/v1/token",
    operation_id="getToken",
    summary="Get an access token (client credentials)",
    responses={200: {"model": TokenResponse}},
)
def token(
    request: Request,
    sandbox: SandboxDep,
    _: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    grant_type: Annotated[str | None, Form()] = None,
) -> Any:
    try:
        client_id, secret = basic_credentials(request.headers.get("authorization"))
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        access_token, expires_in = sandbox.tokens.issue(client_id, secret)
    except OAuthError as exc:
        headers = dict(_NO_STORE)
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="iceye-sandbox"'
        refusal = {"error": exc.error, "error_description": exc.description}
        return JSONResponse(refusal, exc.status, headers=headers)
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": expires_in,
        "access_token": access_token,
        "scope": SCOPE,
    }
    return JSONResponse(body, headers=_NO_STORE)
