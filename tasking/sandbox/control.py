"""Client side of the sandbox-only routes (``/sandbox/v1``), for the app's sidebar and demo controls.

The clock routes need no token. A task's fast-forward and the demo scenario need the company's: the
caller passes the ``httpx.Auth`` its API client already holds (``TaskingClient.session.auth``), so
the token is fetched, cached and refreshed in one place and never handled as text here.

Errors come out of the tasking error tree like every other call: ``error_from_response`` for an
error status, ``RequestTimeout`` / ``TransportError`` when no answer came.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

from tasking.client import KEEPALIVE_S
from tasking.errors import RequestTimeout, TaskingError, TransportError, error_from_response
from tasking.http import segment
from tasking.models import Task
from tasking.times import parse_time

FastForwardTo = Literal["next-event", "final"]
"""How far ``SandboxControl.fast_forward`` goes: the task's next event, or its final status."""

_TIMEOUT_S = 10.0
SCENARIO_TIMEOUT_S = 60.0
"""A scenario takes a second or two on a quiet sandbox; a busy one has everyone's events to run on
the way (the clock moves days)."""
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


@dataclass(frozen=True)
class FastForwarded:
    """What a task's fast-forward did: the task and the clock afterwards, and how many of the
    task's events ran (0: it was already final, or nothing was pending)."""

    task: Task
    clock: ClockState
    events: int

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> FastForwarded:
        return cls(
            task=Task.model_validate(body["task"]),
            clock=ClockState.from_wire(body["clock"]),
            events=int(body["events"]),
        )


@dataclass(frozen=True)
class ScenarioTask:
    """A task of the demo scenario and when it reached each status (simulated time, in order)."""

    task: Task
    statuses: tuple[tuple[str, datetime], ...]

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> ScenarioTask:
        return cls(
            task=Task.model_validate(body["task"]),
            statuses=tuple((str(s["status"]), parse_time(s["at"])) for s in body["statuses"]),
        )


@dataclass(frozen=True)
class ScenarioLoaded:
    """What loading the demo scenario did: the company's tasks removed, the tasks made (in the
    order they were ordered), the clock afterwards and the seed that chose the places."""

    seed: int
    removed: tuple[str, ...]
    tasks: tuple[ScenarioTask, ...]
    clock: ClockState

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> ScenarioLoaded:
        return cls(
            seed=int(body["seed"]),
            removed=tuple(str(task_id) for task_id in body["removed"]),
            tasks=tuple(ScenarioTask.from_wire(item) for item in body["tasks"]),
            clock=ClockState.from_wire(body["clock"]),
        )

    def counts(self) -> dict[str, int]:
        """Status → how many of the scenario's tasks are in it."""
        found: dict[str, int] = {}
        for item in self.tasks:
            found[item.task.status] = found.get(item.task.status, 0) + 1
        return found


class SandboxControl:
    """Clock, constellation and health of a sandbox at ``root_url`` (no token needed), a task's
    fast-forward and the demo scenario (the company's token, through the ``auth`` given)."""

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
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        # As a request extension, not ``timeout=``: a TestClient passed as ``http`` refuses that.
        extra: dict[str, Any] = (
            {} if timeout is None else {"extensions": {"timeout": httpx.Timeout(timeout).as_dict()}}
        )
        if auth is not None:
            extra["auth"] = auth
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

    def fast_forward(
        self, task_id: str, to: FastForwardTo = "next-event", *, auth: httpx.Auth | None
    ) -> FastForwarded:
        """``POST /sandbox/v1/tasks/{id}/fast-forward``: move the (global) simulation clock to the
        task's next event, or until it is final. ``auth`` carries the token of the task's company
        (the API client's ``session.auth``); another company's task is a NotFound."""
        path = f"/tasks/{segment(task_id)}/fast-forward"
        response = self._call("POST", path, {"to": to}, auth=auth)
        return FastForwarded.from_wire(response.json())

    def load_demo_scenario(
        self, seed: int | None = None, *, auth: httpx.Auth | None
    ) -> ScenarioLoaded:
        """``POST /sandbox/v1/scenario``: remove every task of the company whose token ``auth``
        carries and fill its world with the demo scenario (``seed``: another choice of places).
        Moves the (global) simulation clock some days ahead."""
        body = {} if seed is None else {"seed": seed}
        response = self._call("POST", "/scenario", body, timeout=SCENARIO_TIMEOUT_S, auth=auth)
        return ScenarioLoaded.from_wire(response.json())

    def constellation_tle(self) -> str:
        return self._call("GET", "/constellation?format=tle").text

    def health(self) -> bool:
        """True when the sandbox answers its health check; never raises."""
        try:
            return self._call("GET", "/health", timeout=HEALTH_TIMEOUT_S).status_code == 200
        except TaskingError:
            return False
