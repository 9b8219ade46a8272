"""Run the sandbox inside another process (the Streamlit app starts one per process).

``start_in_background`` serves the app with uvicorn on a loopback port in a daemon thread and
returns once ``/sandbox/v1/health`` answers, so the caller can use the URL at once.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from tasking.sandbox.app import create_app
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
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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
            # Longer than the Monitor's 5 s polls, so one connection serves a whole lifecycle.
            timeout_keep_alive=KEEP_ALIVE_S,
            date_header=False,  # the app's Date is the simulation clock (app.py)
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
