"""Run the sandbox inside another process, in a thread (tests and benchmarks; the Streamlit app
runs its sandbox as a child process instead: ``tasking.sandbox.process``).

``start_in_background`` serves the app with uvicorn on a loopback port in a daemon thread and
returns once ``/sandbox/v1/health`` answers, so the caller can use the URL at once.
``uvicorn_options`` holds what both ways of serving share (this one and ``python -m
tasking.sandbox``): keep-alive, the app's own Date header, and an access log that never records a
signed link's query string (``RedactedAccessLog``), since a logged signature is a usable link.
"""

from __future__ import annotations

import copy
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from tasking.sandbox.app import create_app
from tasking.sandbox.catalog import FILES_PREFIX
from tasking.sandbox.config import SandboxConfig

HEALTH_PATH = "/sandbox/v1/health"
_START_TIMEOUT_S = 30.0
_POLL_INTERVAL_S = 0.05


@dataclass
class SandboxHandle:
    """A running sandbox: its root URL (auth base), API URL, and how to stop it."""

    url: str
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def api_url(self) -> str:
        """The ``ICEYE_API_URL`` equivalent: root + ``/api``."""
        return f"{self.url}/api"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish (the app's shutdown closes the store) and wait for it."""
        self._server.should_exit = True
        self._thread.join(timeout)


KEEP_ALIVE_S = 75
"""Seconds an idle client connection is kept (uvicorn's default, 5 s, equals the poll interval)."""

REDACTED = "REDACTED"
# Query parameters that carry a credential wherever they appear.
_SECRET_PARAMS = frozenset({"signature", "access_token", "token", "client_secret"})


def redact_target(target: str) -> str:
    """A request target fit for a log: no query string under the signed-file prefix, and no value
    of a credential-carrying parameter anywhere else."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    if path.startswith(FILES_PREFIX + "/"):
        return f"{path}?{REDACTED}"
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in _SECRET_PARAMS for name, _ in pairs):
        return target
    cleaned = [(n, REDACTED if n.lower() in _SECRET_PARAMS else v) for n, v in pairs]
    return f"{path}?{urlencode(cleaned, safe='/:,')}"


class RedactedAccessLog(logging.Filter):
    """Rewrites uvicorn's access-log records (``client, method, target, version, status``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact_target(args[2]), args[3], args[4])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging, with ``RedactedAccessLog`` on its access logger."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_targets"] = {"()": RedactedAccessLog}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_targets"]
    return config


def uvicorn_options() -> dict[str, Any]:
    """The ``uvicorn.Config`` keywords every sandbox server uses."""
    return {
        # Longer than the Monitor's 5 s polls, so one connection serves a whole lifecycle.
        "timeout_keep_alive": KEEP_ALIVE_S,
        "date_header": False,  # the app's Date is the simulation clock (app.py)
        "log_config": log_config(),
    }


def start_in_background(
    data_dir: Path,
    *,
    port: int = 0,
    speed: float = 60.0,
    seed: int = 2026,
    host: str = "127.0.0.1",
) -> SandboxHandle:
    """Start a sandbox on ``host:port`` (0 = any free port) with its state in ``data_dir``."""
    app = create_app(SandboxConfig(data_dir=Path(data_dir), seed=seed, speed=speed, tick_s=1.0))
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket names its protocol. Without it uvicorn's separate head and body writes wait
    # for the client's delayed ACK: 40 ms per request on a reused connection (bench/README.md).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=bound_port,
            log_level="warning",
            lifespan="on",
            **uvicorn_options(),
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="iceye-sandbox", daemon=True
    )
    thread.start()
    handle = SandboxHandle(f"http://{host}:{bound_port}", server, thread)
    _wait_until_healthy(handle)
    return handle


def _wait_until_healthy(handle: SandboxHandle) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if not handle.running:
                raise RuntimeError("the sandbox server stopped during start-up (see its log)")
            try:
                if http.get(handle.url + HEALTH_PATH).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(_POLL_INTERVAL_S)  # between attempts to reach it, not instead of checking
    handle.stop()
    raise RuntimeError(f"the sandbox did not answer on {handle.url} within {_START_TIMEOUT_S:g} s")
