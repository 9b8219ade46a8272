"""Dependencies shared by the routes: the sandbox, and the calling company.

Every authenticated request is resolved to its company, counted against its token's rate limit
and preceded by the scheduler catching up with the simulation clock (issue 3: "before serving any
request ... process every due event").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tasking.sandbox.core import Sandbox

# Declares the Bearer scheme in the OpenAPI document (the "Authorize" button of /docs); the token
# itself is checked by TokenService so that every failure has ICEYE's 401 body.
_bearer = HTTPBearer(auto_error=False, description="Access token from POST /v1/token")


def get_sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


def caller(
    request: Request,
    sandbox: SandboxDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The id of the company whose token came with the request."""
    authorization = request.headers.get("authorization")
    company_id = sandbox.tokens.company_id(authorization)
    sandbox.limiter.check(authorization or "")
    sandbox.catch_up()
    return company_id


CompanyDep = Annotated[str, Depends(caller)]
