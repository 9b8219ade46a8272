"""The sandbox's FastAPI application: ``create_app(config)``.

Routes are grouped like the API they imitate: the token endpoint at the root (the auth base URL),
``/api/company/v1``, ``/api/tasking/v2``, ``/api/notifications/v1``, and the sandbox's own
``/sandbox/v1`` (clock, constellation, health, task history, callbacks, product files). OpenAPI docs
at ``/docs`` and ``/redoc``, served from vendored assets so they work offline (``docs.py``).

``BodySizeLimit`` wraps everything: a request body over ``config.max_body_bytes`` is refused with
413 before the application reads it, and so before authentication (README "Limits").
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasking.sandbox import docs, problems
from tasking.sandbox.config import SandboxConfig
from tasking.sandbox.core import Sandbox
from tasking.sandbox.problems import ApiProblem
from tasking.sandbox.routes import auth, company, extras, files, notifications, tasking
from tasking.sandbox.security import OAuthError

log = logging.getLogger(__name__)

DESCRIPTION = """\
An ICEYE-compatible tasking API backed by a simulated constellation (see tasking/sandbox/README.md).

Get a token with HTTP Basic client credentials at `POST /v1/token` (form `grant_type=client_credentials`),
then call `/api/company/v1/...`, `/api/tasking/v2/...` and `/api/notifications/v1/...` with
`Authorization: Bearer <token>`. `/sandbox/v1/*` holds what only the sandbox offers; its clock, health,
constellation and callbacks routes need no token.
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

    app.add_middleware(SimulatedDate, now=sandbox.clock.now)
    app.add_middleware(AllowEveryMethod, openapi=lambda: app.openapi())
    # Added last, so outermost: nothing inside reads a body before the limit has seen its size.
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes, now=sandbox.clock.now)
    problems.install(app)
    for module in (auth, company, tasking, notifications, extras, files):
        app.include_router(module.router)
    docs.install(app)
    return app


class SimulatedDate:
    """Pure ASGI middleware: every response's ``Date`` is the simulation clock.

    The HTTP Date header is the server's "now" (RFC 9110 §6.6.1): on the sandbox that is the
    simulation clock, the clock its task times are stamped with, so a client that reads server
    time from Date (tasking.http) looks for its tasks on the right clock. Pure ASGI rather than
    ``@app.middleware("http")``, whose task and streams per request cost every request
    (issue 13).
    """

    def __init__(self, app: ASGIApp, now: Callable[[], datetime]) -> None:
        self.app = app
        self._now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Date"] = format_datetime(self._now(), usegmt=True)
            await send(message)

        await self.app(scope, receive, send_with_date)


class BodySizeLimit:
    """Pure ASGI middleware: 413 for a request body over ``max_bytes``, before the app reads it.

    A declared ``Content-Length`` over the limit is refused at once, without reading a byte; a
    streamed (chunked) body is counted as it arrives, and the moment it passes the limit the 413
    is sent and the application sees the client disconnect instead of the rest of the body. The
    refusal is ICEYE's error body (``{code, message}``, or the problem form when asked), or an
    OAuth2 ``invalid_request`` on the token endpoint, and it closes the connection, since the
    rest of the body is never read.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, now: Callable[[], datetime]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False
        refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if not started:
                        refused = True
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the application's answer to the disconnect: the 413 has been sent
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            log.debug("request cut off at the body limit", exc_info=True)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        description = f"request body larger than {self.max_bytes} bytes"
        response: Response
        if scope["path"] == auth.TOKEN_PATH:
            response = auth.oauth_error_response(OAuthError(413, "invalid_request", description))
        else:
            problem = ApiProblem(
                413, description, code="content_too_large", title="Content Too Large"
            )
            response = problems.problem_response(Request(scope), problem)
        response.headers["Connection"] = "close"
        response.headers["Date"] = format_datetime(self._now(), usegmt=True)
        await response(scope, receive, send)


class AllowEveryMethod:
    """Pure ASGI middleware: a 405's ``Allow`` lists every method the path has (RFC 9110 §15.5.6).

    Starlette answers 405 from the first route whose path matches, so ``Allow`` would name only
    that route's methods although ``GET`` and ``POST /tasks`` are two routes of one resource. The
    methods are read from the OpenAPI document, the same list a client is told about.
    """

    _METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self._openapi = openapi
        self._paths: list[tuple[re.Pattern[str], set[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = self._methods(scope["path"])
                if methods:
                    MutableHeaders(scope=message)["Allow"] = ", ".join(sorted(methods))
            await send(message)

        await self.app(scope, receive, send_with_allow)

    def _methods(self, path: str) -> set[str]:
        if self._paths is None:
            self._paths = [
                (compile_path(template)[0], {m.upper() for m in item if m in self._METHODS})
                for template, item in self._openapi().get("paths", {}).items()
            ]
        found: set[str] = set()
        for pattern, methods in self._paths:
            if pattern.match(path):
                found |= methods
        return found
