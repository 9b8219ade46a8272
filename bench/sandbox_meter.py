"""A sandbox served in the benchmark's own process that counts every request it answers, by caller.

``start_metered_sandbox`` serves ``tasking.sandbox.app.create_app`` with uvicorn on a loopback port
(same ``uvicorn_options`` as ``python -m tasking.sandbox`` and ``start_in_background``), with one
pure ASGI wrapper outside the app: ``RequestMeter``. It counts each request before the app sees it,
by

* caller: the access token it carries (each process that talks to the sandbox gets its own token,
  so a token is a process); ``basic`` for the token requests themselves (client credentials), and
  ``X-Bench-Caller`` for the benchmark's own requests (its ``SandboxControl``), which are then
  never mixed with the figures;
* kind: ``token`` (``POST /v1/token``), ``api`` (``/api/...``: ICEYE's APIs), ``files`` (signed
  product links, which stand for ICEYE's download host), ``sandbox`` (the sandbox's own
  ``/sandbox/v1`` routes: clock, health, history; live ICEYE has none of these).

It also counts the 429 answers (the sandbox's rate limit per access token), by caller.

The ``Sandbox`` object itself (``handle.sandbox``) is there for a benchmark that writes the
sandbox's store the way its own routes do.

TCP_NODELAY: asyncio sets it on accepted connections only when the listening socket's protocol is
``IPPROTO_TCP``. ``uvicorn.run(host=, port=)`` (``python -m tasking.sandbox``) makes such a socket;
``start_in_background`` binds ``socket.socket(AF_INET, SOCK_STREAM)``, whose protocol is 0, so its
connections keep Nagle's algorithm: uvicorn writes a response's head and body separately, the body
waits for the client's delayed ACK, and every request on a reused connection takes about 40 ms more
on Linux. ``nodelay=False`` reproduces that.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tasking.sandbox.app import create_app
from tasking.sandbox.catalog import FILES_PREFIX
from tasking.sandbox.config import SandboxConfig
from tasking.sandbox.core import Sandbox
from tasking.sandbox.server import HEALTH_PATH, uvicorn_options

CALLER_HEADER = "X-Bench-Caller"
ICEYE_KINDS = ("token", "api", "files")
"""What a live deployment would send to ICEYE (the sandbox's own routes have no live equivalent)."""


def kind_of(path: str) -> str:
    if path == "/v1/token":
        return "token"
    if path.startswith(FILES_PREFIX + "/"):
        return "files"
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/sandbox/"):
        return "sandbox"
    return "other"


class RequestMeter:
    """Pure ASGI: counts (caller, kind) per request, then hands the request on untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._routes: Counter[tuple[str, str]] = Counter()  # sandbox-only routes, by caller
        self._limited: Counter[str] = Counter()  # 429 answers (the rate limit), by caller

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        who = self._count(scope)

        async def counted_send(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                with self._lock:
                    self._limited[who] += 1
            await send(message)

        await self.app(scope, receive, counted_send)

    def _count(self, scope: Any) -> str:
        headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
        caller = headers.get(CALLER_HEADER.lower().encode())
        if caller is not None:
            who = caller.decode("latin-1")
        else:
            auth = headers.get(b"authorization", b"").decode("latin-1")
            if auth.lower().startswith("bearer "):
                who = "token:" + hashlib.sha256(auth[7:].encode()).hexdigest()[:8]
            elif auth.lower().startswith("basic "):
                who = "basic"
            else:
                who = "anonymous"
        path = scope.get("path", "")
        kind = kind_of(path)
        with self._lock:
            self._counts[(who, kind)] += 1
            if kind == "sandbox":
                self._routes[(who, "/".join(path.split("/")[:4]))] += 1
        return who

    def snapshot(self) -> Counter[tuple[str, str]]:
        """Requests so far by (caller, kind)."""
        with self._lock:
            return Counter(self._counts)

    def limited(self) -> Counter[str]:
        """429 answers (the sandbox's rate limit per access token) so far, by caller."""
        with self._lock:
            return Counter(self._limited)

    def routes(self) -> Counter[tuple[str, str]]:
        """Requests so far to the sandbox's own routes by (caller, ``/sandbox/v1/<route>``)."""
        with self._lock:
            return Counter(self._routes)


@dataclass
class MeteredSandbox:
    url: str
    sandbox: Sandbox
    meter: RequestMeter
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


def start_metered_sandbox(
    data_dir: Path, *, speed: float = 1.0, nodelay: bool = True
) -> MeteredSandbox:
    """A sandbox on a free loopback port, returned once its health check answers. ``nodelay``:
    as ``python -m tasking.sandbox`` serves (False: as ``start_in_background``; module doc)."""
    app = create_app(SandboxConfig(data_dir=Path(data_dir), speed=speed, tick_s=1.0))
    meter = RequestMeter(app)
    protocol = socket.IPPROTO_TCP if nodelay else 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, protocol)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            meter, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
            **uvicorn_options(),
        )
    )  # fmt: skip
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="metered-sandbox", daemon=True
    )
    thread.start()
    handle = MeteredSandbox(f"http://127.0.0.1:{port}", app.state.sandbox, meter, server, thread)
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=2.0, headers={CALLER_HEADER: "bench"}) as http:
        while time.monotonic() < deadline:
            if not thread.is_alive():
                raise SystemExit("the sandbox stopped during start-up")
            try:
                if http.get(handle.url + HEALTH_PATH).status_code == 200:
                    return handle
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # between attempts to reach it
    handle.stop()
    raise SystemExit("the sandbox did not answer within 30 s")


def bench_control_http() -> httpx.Client:
    """The httpx client for the benchmark's own ``SandboxControl``: its requests are tagged."""
    return httpx.Client(timeout=30.0, headers={CALLER_HEADER: "bench"})
