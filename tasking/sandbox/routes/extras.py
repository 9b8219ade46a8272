"""What only the sandbox offers, under ``/sandbox/v1`` (never inside ICEYE's standard objects).

The clock, health, constellation and callback routes need no token: they are the demo's controls
and observability. A task's history and its fast-forward need the owner's token, like the task
itself: another company's task is the same 404 as an unknown one. The demo scenario replaces the
world of the company whose token comes with it, and only that company's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tasking.models import Task
from tasking.orbits import to_omm, to_tle_text
from tasking.sandbox.core import Sandbox
from tasking.sandbox.notifications import callback_wire
from tasking.sandbox.routes.deps import CompanyDep, SandboxDep, TaskID
from tasking.sandbox.scenario import load_scenario
from tasking.sandbox.store import TaskRecord
from tasking.sandbox.tasks import check_limit, get_task, own_task, task_wire
from tasking.times import format_rfc3339

router = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])


class ClockState(BaseModel):
    now: str = Field(description="simulated time, RFC 3339 UTC")
    speed: float = Field(description="simulated seconds per real second")
    nextEvent: str | None = Field(description="when the next scheduled event is due")


class SpeedChange(BaseModel):
    # Strict: JSON true is not a speed (lax pydantic would read it as 1.0).
    model_config = ConfigDict(extra="forbid", strict=True)
    speed: float = Field(description="1 to 10000 × real time")


class Advance(BaseModel):
    """Either ``{"to": "next-event"}`` or ``{"seconds": n}``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    to: Literal["next-event"] | None = None
    seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_of(self) -> Advance:
        if (self.to is None) == (self.seconds is None):
            raise ValueError('give either "to": "next-event" or "seconds"')
        return self


class FastForward(BaseModel):
    """``{"to": "next-event"}`` or ``{"to": "final"}``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    to: Literal["next-event", "final"] = Field(
        description="`next-event`: until the task's next event has run; `final`: until the task "
        "is final"
    )


class FastForwarded(BaseModel):
    task: Task = Field(description="the task afterwards, as getTask shows it")
    clock: ClockState = Field(description="the clock afterwards, as GET /sandbox/v1/clock")
    events: int = Field(description="how many of the task's events ran (0: the clock did not move)")


class ScenarioRequest(BaseModel):
    """``{}``, or ``{"seed": n}`` for another choice of places."""

    model_config = ConfigDict(extra="forbid", strict=True)
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**63 - 1,
        description="picks the places (default: the sandbox's seed, so every load is the same "
        "world)",
    )


class StatusReached(BaseModel):
    status: str
    at: str = Field(description="simulated time the task reached the status, RFC 3339 UTC")


class ScenarioTask(BaseModel):
    task: Task = Field(description="the task, as getTask shows it")
    statuses: list[StatusReached] = Field(description="each status it reached, in order")


class ScenarioLoaded(BaseModel):
    seed: int = Field(description="the seed the places were drawn with")
    removed: list[str] = Field(description="ids of the company's tasks that were removed")
    tasks: list[ScenarioTask] = Field(description="the tasks made, in the order they were ordered")
    clock: ClockState = Field(description="the clock afterwards, as GET /sandbox/v1/clock")


class CallbackDelivery(BaseModel):
    id: str = Field(description="the event id, as sent in the callback")
    webhookID: str
    taskID: str
    status: str = Field(description="the task's new status")
    occurredAt: str = Field(description="simulated time of the status change")
    state: Literal["pending", "delivered", "failed"]
    attempts: int = Field(description="delivery attempts so far")
    nextAttemptAt: str | None = Field(description="simulated time of the next attempt (pending)")
    lastError: str | None = Field(description="the last failed attempt's outcome, if any")


class CallbackDeliveries(BaseModel):
    data: list[CallbackDelivery]


@router.get("/health", operation_id="health", summary="Liveness and simulated time")
def health(sandbox: SandboxDep) -> dict[str, Any]:
    return {"status": "ok", "now": format_rfc3339(sandbox.clock.now())}


@router.get(
    "/clock", operation_id="getClock", summary="Simulation clock", response_model=ClockState
)
def get_clock(sandbox: SandboxDep) -> Any:
    return sandbox.clock_state()


@router.put(
    "/clock", operation_id="setClockSpeed", summary="Set the clock speed", response_model=ClockState
)
def set_speed(sandbox: SandboxDep, body: SpeedChange) -> Any:
    return sandbox.set_speed(body.speed)


@router.post(
    "/clock/advance",
    operation_id="advanceClock",
    summary="Jump to the next event or by a number of seconds; due events run",
    response_model=ClockState,
)
def advance(sandbox: SandboxDep, body: Advance) -> Any:
    return sandbox.advance(seconds=body.seconds, to_next_event=body.to == "next-event")


@router.get(
    "/constellation",
    operation_id="getConstellation",
    summary="Orbital elements of the simulated constellation (TLE text or OMM JSON)",
    response_model=None,
)
def constellation(
    sandbox: SandboxDep, format: Annotated[Literal["tle", "omm"], Query()] = "tle"
) -> Response:
    if format == "omm":
        return JSONResponse(to_omm(sandbox.world.satellites))
    return PlainTextResponse(to_tle_text(sandbox.world.satellites))


@router.get(
    "/callbacks",
    operation_id="listCallbacks",
    summary="Webhook callbacks, newest first, with their delivery state (no token)",
    response_model=CallbackDeliveries,
)
def callbacks(sandbox: SandboxDep, limit: int | None = None) -> Any:
    size = check_limit(limit)
    sandbox.observe()
    return {"data": [callback_wire(c) for c in sandbox.store.recent_callbacks(size)]}


@router.get(
    "/tasks/{taskID}/history",
    operation_id="getTaskHistory",
    summary="Everything that happened to a task, in order (token of its company)",
)
def history(sandbox: SandboxDep, company: CompanyDep, task_id: TaskID) -> dict[str, Any]:
    own_task(sandbox, company, task_id)
    return {
        "data": [
            {"at": format_rfc3339(h.at), "kind": h.kind, "status": h.status, "detail": h.detail}
            for h in sandbox.store.history(task_id)
        ]
    }


@router.post(
    "/tasks/{taskID}/fast-forward",
    operation_id="fastForwardTask",
    summary="Move the simulation clock (for everyone) to a task's next event or its final status; "
    "due events run (token of its company)",
    responses={200: {"model": FastForwarded}},
)
def fast_forward(
    sandbox: SandboxDep, company: CompanyDep, task_id: TaskID, body: FastForward
) -> Any:
    own_task(sandbox, company, task_id)
    events = sandbox.fast_forward(task_id, to_final=body.to == "final")
    # The task before the clock: the clock's reading is never earlier than the task it comes with.
    task = get_task(sandbox, company, task_id)
    return {"task": task, "clock": sandbox.clock_state(), "events": events}


@router.post(
    "/scenario",
    operation_id="loadScenario",
    summary="Replace the calling company's tasks by a demo world: tasks at every stage around the "
    "globe (token of the company)",
    description="Sandbox only. Removes every task of the company (with its events, history, "
    "callbacks and product files, so its budgets are whole again; webhooks and tokens stay), "
    "then orders the scenario's tasks through createTask's own path and moves the simulation "
    "clock (global: other companies' tasks move with it, nothing runs early) until they are "
    "DONE, FULFILLED, captured, ACTIVE, RECEIVED, REJECTED, CANCELED and FAILED. One "
    "transaction: on a failure the old tasks stay. The same seed gives the same world.",
    responses={200: {"model": ScenarioLoaded}},
)
def scenario(
    sandbox: SandboxDep,
    company: CompanyDep,
    body: Annotated[ScenarioRequest | None, Body()] = None,
) -> Any:
    loaded = load_scenario(sandbox, company, body.seed if body is not None else None)
    return {
        "seed": loaded.seed,
        "removed": loaded.removed,
        "tasks": [
            {"task": task_wire(record), "statuses": _statuses(sandbox, record)}
            for record in loaded.tasks
        ],
        "clock": sandbox.clock_state(),
    }


def _statuses(sandbox: Sandbox, record: TaskRecord) -> list[dict[str, str]]:
    """The first time the task's history shows each status, in order."""
    reached: dict[str, str] = {}
    for entry in sandbox.store.history(record.id):
        reached.setdefault(entry.status, format_rfc3339(entry.at))
    return [{"status": status, "at": at} for status, at in reached.items()]
