"""Client side of the sandbox-only routes (``/sandbox/v1``), for the app's sidebar.

Errors come out of the tasking error tree like every other call: ``error_from_response`` for an
error status, ``RequestTimeout`` / ``TransportError`` when no answer came.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from tasking.client import KEEPALIVE_S
from tasking.errors import RequestTimeout, TaskingError, TransportError, error_from_response
from tasking.times import parse_time

_TIMEOUT_S = 10.0
HEALTH_TIMEOUT_S = 3.0
"""A health check is one short request: the sidebar must not hang on a backend that hangs."""


@dataclass(frozen=True)
class ClockState:
    """The simulation clock: simulated now, speed (× real time), next scheduled event."""

    now: datetime
    speed: float
    next_event: datetime | None

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> ClockState:
        upcoming = body.get("nextEvent")
        return cls(
            now=parse_time(body["now"]),
            speed=float(body["speed"]),
            next_event=parse_time(upcoming) if upcoming else None,
        )


class SandboxControl:
    """Clock, constellation and health of a sandbox at ``root_url`` (no token needed)."""

    def __init__(self, root_url: str, http: httpx.Client | None = None) -> None:
        self._root = root_url.rstrip("/")
        self._http = http or httpx.Client(
            timeout=_TIMEOUT_S, limits=httpx.Limits(keepalive_expiry=KEEPALIVE_S)
        )
        self._owns_http = http is None

    @property
    def root(self) -> str:
        """The sandbox's root URL (auth base; ``/api`` and ``/sandbox/v1`` are under it)."""
        return self._root

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        json: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        # As a request extension, not ``timeout=``: a TestClient passed as ``http`` refuses that.
        extra: dict[str, Any] = (
            {} if timeout is None else {"extensions": {"timeout": httpx.Timeout(timeout).as_dict()}}
        )
        try:
            response = self._http.request(
                method, f"{self._root}/sandbox/v1{path}", json=json, **extra
            )
        except httpx.TimeoutException as exc:
            raise RequestTimeout(f"the sandbox did not answer in time: {exc}") from exc
        except httpx.TransportError as exc:
            # The host without its scheme: Markdown would turn a URL into a link and show the
            # escapes the UI adds to server text.
            where = httpx.URL(self._root).netloc.decode()
            raise TransportError(f"cannot reach the sandbox at {where}: {exc}") from exc
        if response.is_error:
            raise error_from_response(response)
        return response

    def clock(self) -> ClockState:
        return ClockState.from_wire(self._call("GET", "/clock").json())

    def set_speed(self, speed: float) -> ClockState:
        return ClockState.from_wire(self._call("PUT", "/clock", {"speed": speed}).json())

    def advance(self, to_next_event: bool = True, seconds: float | None = None) -> ClockState:
        """Jump by ``seconds`` when given, else to the next scheduled event."""
        body: dict[str, Any] = {"seconds": seconds} if seconds is not None else {"to": "next-event"}
        if seconds is None and not to_next_event:
            raise ValueError("advance needs to_next_event=True or a number of seconds")
        return ClockState.from_wire(self._call("POST", "/clock/advance", body).json())

    def constellation_tle(self) -> str:
        return self._call("GET", "/constellation?format=tle").text

    def health(self) -> bool:
        """True when the sandbox answers its health check; never raises."""
        try:
            return self._call("GET", "/health", timeout=HEALTH_TIMEOUT_S).status_code == 200
        except TaskingError:
            return False
