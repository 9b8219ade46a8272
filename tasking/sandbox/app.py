"""The sandbox's FastAPI application: ``create_app(config)``.

Routes are grouped like the API they imitate: the token endpoint at the root (the auth base URL),
``/api/company/v1``, ``/api/tasking/v2``, and the sandbox's own ``/sandbox/v1`` (clock,
constellation, health, task history, product files). OpenAPI docs at ``/docs`` and ``/redoc``,
served from vendored assets so they work offline (``docs.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import format_datetime

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

from tasking.sandbox import docs, problems
from tasking.sandbox.config import SandboxConfig
from tasking.sandbox.core import Sandbox
from tasking.sandbox.routes import auth, company, extras, files, tasking

DESCRIPTION = """\
An ICEYE-compatible tasking API backed by a simulated constellation (see tasking/sandbox/README.md).

Get a token with HTTP Basic client credentials at `POST /v1/token` (form `grant_type=client_credentials`),
then call `/api/company/v1/...` and `/api/tasking/v2/...` with `Authorization: Bearer <token>`.
`/sandbox/v1/*` holds what only the sandbox offers; its clock, health and constellation routes need no token.
"""


def create_app(config: SandboxConfig) -> FastAPI:
    """A sandbox on ``config.data_dir``; the store opens now and closes at shutdown."""
    sandbox = Sandbox(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sandbox.start_ticker()
        try:
            yield
        finally:
            sandbox.close()

    app = FastAPI(
        title="ICEYE-compatible tasking sandbox",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from a CDN; docs.install serves offline ones
        redoc_url=None,
    )
    app.state.sandbox = sandbox

    @app.middleware("http")
    async def simulated_date(request: Request, call_next: RequestResponseEndpoint) -> Response:
        # The HTTP Date header is the server's "now" (RFC 9110 §6.6.1): on the sandbox that is the
        # simulation clock, the clock its task times are stamped with, so a client that reads
        # server time from Date (tasking.http) looks for its tasks on the right clock.
        response = await call_next(request)
        response.headers["Date"] = format_datetime(sandbox.clock.now(), usegmt=True)
        return response

    problems.install(app)
    for router in (auth.router, company.router, tasking.router, extras.router, files.router):
        app.include_router(router)
    docs.install(app)
    return app
