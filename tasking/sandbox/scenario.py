"""The demo scenario (``POST /sandbox/v1/scenario``): one company's world reset and filled with
tasks at every stage, at real ports and straits around the globe.

Nothing is inserted as a canned row. Every task is ordered through ``tasks.create_task`` (createTask's
own path: the request rules, the contract's defaults, the budget), moved on by the simulation clock
(``Sandbox.fast_forward``, the same as the Monitor's demo controls: no event runs early) and
cancelled through ``tasks.cancel_task``. What a task shows is therefore what the scheduler made
of it: its planned and captured scenes, its products, its rejection reason.

The world is built in three steps of simulated time, and the clock (global: other companies' tasks
move with it, as with any fast-forward) ends a few simulated days later:

1. **Earlier** (ordered now): five tasks taken to DONE (one through FULFILLED: it ordered SICD),
   a BACKGROUND task displaced by a COMMERCIAL one that wants its only pass (the BACKGROUND one
   FAILED, naming the other), a task whose constraints no pass meets (REJECTED, with the
   scheduler's reason) and a task cancelled once planned, more than 72 h before its window (free).
2. **Recently**: one task taken to FULFILLED (SICD still to come) and two captured whose
   products are due within their 24 h SLA.
3. **Now**: three ACTIVE with a planned scene and two RECEIVED (the scheduler decides them a
   simulated minute later).

The narrow constraints of the rejection and the displacement are chosen from the world's own passes
over the place in the window (``planning.find_slots``, as the scheduler will judge them), so they
hold whatever the clock reads. The places are drawn from ``tasking/data/places.json`` (UN/LOCODE
ports, straits and canals) with a generator seeded by the scenario's seed, so a seed gives the same
world (the same places, orders and outcomes) for the same clock.

Each task is made from the company's own contracts: a role its contracts cannot take (no
BACKGROUND priority, no SICD) falls back to the contract's defaults, or is left out.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

from tasking import places as gazetteer
from tasking.models import TaskRequest
from tasking.monitoring import CANCELLABLE
from tasking.rules import MAX_AHEAD, check_request, effective_priority, lead_time
from tasking.sandbox.core import Sandbox
from tasking.sandbox.planning import Refusal, Slot, find_slots
from tasking.sandbox.seed import SeededContract
from tasking.sandbox.store import TaskRecord
from tasking.sandbox.tasks import cancel_task, create_task, fill_defaults
from tasking.times import format_rfc3339, to_utc

__all__ = ["PLACES", "ROLES", "Loaded", "Place", "Role", "load_scenario", "scenario_places"]

log = logging.getLogger(__name__)

Stage = Literal[
    "DONE", "FULFILLED", "CAPTURED", "ACTIVE", "RECEIVED", "REJECTED", "CANCELED", "FAILED"
]
Step = Literal["earlier", "recently", "now"]

# Busy container ports by UN/LOCODE (World Port Index entries of places.json), and the straits and
# canals every shipping analyst knows: what a SAR tasking demo is usually about.
PORTS = (
    "NLRTM", "CNSGH", "BRSSZ", "DEHAM", "USLAX", "ZADUR", "KRPUS", "CAVAN", "NGLOS", "USHOU",
    "ZACPT", "ARBUE", "RUMMK", "USHNL", "NZAKL", "ESALG", "MYTPP", "KEMBA", "SNDKR", "CAHAL",
    "RUVVO", "AUFRE", "PHMNL", "IDJKT", "PKKHI", "USNYC", "USSEA", "GBFXT", "MXZLO", "BEANR",
)  # fmt: skip
PASSAGES = (
    "Suez Canal", "Panama Canal", "Strait of Hormuz", "Bosporus", "Strait of Gibraltar",
    "Strait of Malacca", "Bab-el-Mandeb",
)  # fmt: skip
PLACES = (*PORTS, *PASSAGES)
"""The places a scenario draws from: UN/LOCODEs of ports, names of straits and canals."""

REFERENCE_PREFIX = "Demo · "
"""Every scenario task's reference starts so (All tasks' search finds them)."""

# The window of a task starts this long after the lead time its priority needs (rules.lead_time),
# rounded up to the hour, like the New task page's default window (rules.default_window).
_MARGIN = timedelta(hours=1)
_WIDTH = timedelta(hours=48)
# A narrow request is judged over the narrowest window ICEYE allows: fewer passes to rule out.
_NARROW_WIDTH = timedelta(hours=24)
# 2° bands tried for the narrow constraints, within the performant ranges first.
_BANDS = (*range(20, 44), *range(10, 20))
_SIDES = (("RIGHT", "DESCENDING"), ("LEFT", "ASCENDING"), ("RIGHT", "ASCENDING"),
          ("LEFT", "DESCENDING"))  # fmt: skip


@dataclass(frozen=True)
class Role:
    """One task of the scenario: the stage it is made to show and what it orders."""

    stage: Stage
    step: Step
    mode: str
    sla: str
    priority: str = "COMMERCIAL"
    priced: bool = False
    """Ordered on the company's contract with a price list (its budget shows the spend)."""
    products: tuple[str, ...] = ()
    """Product types ordered; none: the contract's default for the mode."""
    later: timedelta = timedelta(0)
    """How much later than the earliest valid start the window starts."""


# SICD is made after the SLA products ("custom / on demand"): its task is FULFILLED in between.
_SICD = ("GRD", "QLK", "SICD")

ROLES: tuple[Role, ...] = (
    Role("DONE", "earlier", "SPOTLIGHT", "SLA_3H"),
    Role("DONE", "earlier", "STRIPMAP", "SLA_8H"),
    Role("DONE", "earlier", "SCAN", "SLA_24H"),
    Role("DONE", "earlier", "SPOTLIGHT_FINE", "SLA_8H", products=_SICD),
    Role("DONE", "earlier", "SPOTLIGHT", "SLA_8H", priced=True),
    # With 72 h and more to the window start, a cancellation is free (PSPEC 3.6).
    Role("CANCELED", "earlier", "SPOTLIGHT", "SLA_8H", priced=True, later=timedelta(days=3)),
    Role("REJECTED", "earlier", "SPOTLIGHT", "SLA_8H"),
    Role("FAILED", "earlier", "STRIPMAP", "SLA_24H", priority="BACKGROUND"),
    # Starts after the captured ones' windows: they are imaged before it is fulfilled.
    Role("FULFILLED", "recently", "SPOTLIGHT", "SLA_3H", products=_SICD, later=timedelta(hours=6)),
    Role("CAPTURED", "recently", "STRIPMAP", "SLA_24H"),
    Role("CAPTURED", "recently", "SPOTLIGHT_EXTENDED_DWELL", "SLA_24H"),
    Role("ACTIVE", "now", "SPOTLIGHT", "SLA_8H"),
    Role("ACTIVE", "now", "SCAN_WIDE", "SLA_24H"),
    Role("ACTIVE", "now", "STRIPMAP", "SLA_24H", priced=True),
    Role("RECEIVED", "now", "SPOTLIGHT", "SLA_8H"),
    Role("RECEIVED", "now", "STRIPMAP", "SLA_24H", priority="BACKGROUND"),
)
"""The scenario's tasks (the FAILED one brings the COMMERCIAL task that displaces it)."""


@dataclass(frozen=True)
class Place:
    """A point to image, named as the gazetteer names it."""

    label: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Loaded:
    """What loading the scenario did: the company's tasks removed, and the tasks made, in the
    order they were ordered."""

    seed: int
    removed: list[str]
    tasks: list[TaskRecord]


@cache
def scenario_places() -> tuple[Place, ...]:
    """The ``PLACES`` as points of ``tasking/data/places.json`` (read once)."""
    data = json.loads(Path(gazetteer.DATA).read_text(encoding="utf-8"))
    column = {name: index for index, name in enumerate(data["columns"])}
    by_code: dict[str, Place] = {}
    by_name: dict[str, Place] = {}
    for row in data["places"]:
        kind, name, country = row[column["kind"]], row[column["name"]], row[column["country_code"]]
        lat, lon = float(row[column["lat"]]), float(row[column["lon"]])
        if kind == "port":
            for code in row[column["codes"]]:
                by_code.setdefault(code, Place(f"{name} port, {country} ({code})", lat, lon))
        elif kind in ("strait", "canal"):
            by_name.setdefault(name, Place(name, lat, lon))
    found = [by_code.get(key) or by_name.get(key) for key in PLACES]
    missing = [key for key, place in zip(PLACES, found, strict=True) if place is None]
    if missing:
        raise LookupError(f"the gazetteer lacks the scenario's places {', '.join(missing)}")
    return tuple(p for p in found if p is not None)


def load_scenario(sandbox: Sandbox, company_id: str, seed: int | None = None) -> Loaded:
    """Remove every task of the company (with its events, history, callbacks, product files and
    so its spending) and order the scenario's tasks in its name; ``seed`` (default: the sandbox's)
    picks the places. Webhooks and tokens stay."""
    chosen_seed = sandbox.seed if seed is None else seed
    rng = random.Random(f"demo-scenario:{chosen_seed}")
    places = rng.sample(scenario_places(), k=len(ROLES))
    builder = _Builder(sandbox, company_id)
    # One transaction: a failure half-way leaves the company's old world as it was, and nothing
    # else (a request, the ticker, another load) sees the world half made.
    with sandbox.store.transaction():
        removed = sandbox.store.delete_company_tasks(company_id)
        for step in ("earlier", "recently", "now"):
            cast = [(r, p) for r, p in zip(ROLES, places, strict=True) if r.step == step]
            builder.play(step, cast)
        made = [t for t in map(builder.record, builder.made) if t is not None]
    for task_id in removed:  # product files are caches, rendered again on demand
        shutil.rmtree(sandbox.config.files_dir / task_id, ignore_errors=True)
    return Loaded(chosen_seed, removed, made)


class _Builder:
    """Orders the scenario's tasks for one company and drives them to their stages."""

    def __init__(self, sandbox: Sandbox, company_id: str) -> None:
        self.sandbox = sandbox
        self.company_id = company_id
        self.contracts = sandbox.contracts_of(company_id)
        self.made: list[str] = []

    def record(self, task_id: str) -> TaskRecord | None:
        return self.sandbox.store.get_task(task_id)

    def status(self, task_id: str) -> str:
        record = self.record(task_id)
        return record.status if record is not None else "UNKNOWN"

    # --- the three steps ---------------------------------------------------------------------

    def play(self, step: Step, cast: Sequence[tuple[Role, Place]]) -> None:
        if step == "earlier":
            self._earlier(cast)
        elif step == "recently":
            self._recently(cast)
        else:
            self._now(cast)

    def _earlier(self, cast: Sequence[tuple[Role, Place]]) -> None:
        # The displacement first: its BACKGROUND task must hold the pass before anything else is
        # decided, and the COMMERCIAL one right after it takes it away (one decision each).
        finish: list[str] = []
        cancel: list[str] = []
        for role, place in sorted(cast, key=lambda rp: rp[0].stage != "FAILED"):
            if role.stage == "FAILED":
                finish += self._displacement(role, place)
            elif role.stage == "REJECTED":
                self._order(role, place, narrow=0)
            else:
                made = self._order(role, place)
                if made is not None:
                    (cancel if role.stage == "CANCELED" else finish).append(made)
        # Every task ordered here is decided at once (the scheduler's latency is the same for all).
        for task_id in self.made:
            self._drive(task_id, _decided)
        for task_id in cancel:
            if self.status(task_id) in CANCELLABLE:
                cancel_task(self.sandbox, self.company_id, task_id)
        for task_id in finish:
            self.sandbox.fast_forward(task_id, to_final=True)

    def _recently(self, cast: Sequence[tuple[Role, Place]]) -> None:
        # FULFILLED needs a product made after the SLA ones (SICD): as the role says, or not at all.
        fulfilled = [self._order(r, p, exact=True) for r, p in cast if r.stage == "FULFILLED"]
        captured = [self._order(r, p) for r, p in cast if r.stage == "CAPTURED"]
        for task_id in filter(None, fulfilled):
            self._drive(task_id, lambda task: task.status == "FULFILLED")
        if not any(fulfilled):
            for task_id in filter(None, captured[:1]):
                self._drive(task_id, lambda task: bool(task.plan and task.plan.get("locked")))

    def _now(self, cast: Sequence[tuple[Role, Place]]) -> None:
        active = [self._order(r, p) for r, p in cast if r.stage == "ACTIVE"]
        for task_id in filter(None, active):
            self._drive(task_id, _decided)
        for role, place in cast:
            if role.stage == "RECEIVED":
                self._order(role, place)

    def _drive(self, task_id: str, reached: Callable[[TaskRecord], bool]) -> None:
        """Move the clock event by event until the task satisfies ``reached`` (or it is final, or
        nothing is left to run)."""
        self.sandbox.advance_until(task_id, reached)

    # --- ordering ----------------------------------------------------------------------------

    def _displacement(self, role: Role, place: Place) -> list[str]:
        """A BACKGROUND task whose window has one free pass that meets its constraints, then a
        COMMERCIAL task for the same pass: the scheduler gives it the pass, and the BACKGROUND
        task, with nowhere else to go, FAILS. Both or neither. Returns the COMMERCIAL task (to be
        finished)."""
        background = self._request(role, place, "background", narrow=1, exact=True)
        if background is None or background.priority != "BACKGROUND":
            return []
        urgent_role = replace(role, stage="DONE", priority="COMMERCIAL", sla="SLA_8H")
        urgent = self._request(urgent_role, place, "urgent", like=background, exact=True)
        if urgent is None:
            return []
        self._create(background)
        return [self._create(urgent)]

    def _order(
        self, role: Role, place: Place, *, narrow: int | None = None, exact: bool = False
    ) -> str | None:
        """Create the role's task and return its id; None when no contract of the company can
        take it (see ``_request``)."""
        request = self._request(role, place, narrow=narrow, exact=exact)
        if request is None:
            log.info("demo scenario: no contract of %s takes a %s task", self.company_id, role)
            return None
        return self._create(request)

    def _create(self, request: TaskRequest) -> str:
        """createTask's own path: the request rules, the contract's defaults, the budget."""
        made = create_task(self.sandbox, self.company_id, request)
        self.made.append(str(made["id"]))
        return str(made["id"])

    def _request(
        self,
        role: Role,
        place: Place,
        label: str | None = None,
        *,
        narrow: int | None = None,
        like: TaskRequest | None = None,
        exact: bool = False,
    ) -> TaskRequest | None:
        """The role's request at the place on the first of the company's contracts that takes
        it, checked by the create's own rules; None if none does. ``narrow``: with the look side,
        pass direction and incidence band that exactly this many free passes of the window meet.
        ``like``: the same window and constraints as that request. ``exact``: as the role says
        it, never the contract's defaults instead."""
        now = self.sandbox.catch_up()
        reference = f"{REFERENCE_PREFIX}{place.label}" + (f" · {label}" if label else "")
        for seeded in self._contracts(role):
            wires = (
                [_wire(role, now)] if exact else [_wire(role, now), _defaults(role, seeded, now)]
            )
            for wire in wires:
                wire |= {
                    "contractID": seeded.contract.id,
                    "pointOfInterest": {"lat": place.lat, "lon": place.lon},
                    "reference": reference,
                }
                if like is not None:
                    copied = {"acquisitionWindow", *_CONSTRAINTS}
                    wire |= like.model_dump(mode="json", include=copied, exclude_none=True)
                request = TaskRequest.model_validate(wire)
                if narrow is not None:
                    constraints = self._narrow(request, seeded, now, narrow)
                    if constraints is None:
                        continue
                    request = TaskRequest.model_validate({**wire, **constraints})
                if not check_request(request, seeded.contract, now):
                    return request
        return None

    def _contracts(self, role: Role) -> list[SeededContract]:
        """The company's contracts, those of the role's kind (priced or not) first."""
        return sorted(self.contracts, key=lambda c: c.priced != role.priced)

    def _narrow(
        self, request: TaskRequest, seeded: SeededContract, now: datetime, wanted: int
    ) -> dict[str, Any] | None:
        """A look side, pass direction and 2° incidence band that exactly ``wanted`` passes of the
        request's window meet, all of them free now; None if no such band exists."""
        document = fill_defaults(request, seeded.contract)
        passes = self.sandbox.world.passes_for(document)
        decided = now + timedelta(seconds=self.sandbox.config.decision_latency_s)
        bookings = self.sandbox.scheduler.bookings()
        gap = self.sandbox.config.setup_gap_s
        for look, direction in _SIDES:
            for low in _BANDS:
                constraints = {
                    "lookSide": look,
                    "passDirection": direction,
                    "incidenceAngle": {"min": low, "max": low + 2},
                }
                candidate = {**document, **constraints}
                counts = [
                    _count(
                        find_slots(
                            passes,
                            candidate,
                            priority="BACKGROUND",  # free passes only
                            not_before=decided,
                            bookings=held,
                            gap_s=gap,
                            limit=wanted + 1,
                        )
                    )
                    for held in ((), bookings)
                ]
                if counts == [wanted, wanted]:
                    return constraints
        return None


_CONSTRAINTS = ("lookSide", "passDirection", "incidenceAngle")


def _decided(task: TaskRecord) -> bool:
    return task.status != "RECEIVED"


def _count(found: list[Slot] | Refusal) -> int:
    return 0 if isinstance(found, Refusal) else len(found)


def _window(priority: str, later: timedelta, width: timedelta, now: datetime) -> dict[str, str]:
    """The earliest window the priority's lead time allows (plus ``later``), whole hours."""
    earliest = to_utc(now) + lead_time(priority) + _MARGIN + later
    start = earliest.replace(minute=0, second=0, microsecond=0)
    if start < earliest:
        start += timedelta(hours=1)
    end = min(start + width, to_utc(now) + MAX_AHEAD)
    return {"start": format_rfc3339(start), "end": format_rfc3339(end)}


def _width(role: Role) -> timedelta:
    return _NARROW_WIDTH if role.stage in ("REJECTED", "FAILED") else _WIDTH


def _wire(role: Role, now: datetime) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "imagingMode": role.mode,
        "priority": role.priority,
        "sla": role.sla,
        "acquisitionWindow": _window(role.priority, role.later, _width(role), now),
    }
    if role.products:
        wire["productTypes"] = list(role.products)
    return wire


def _defaults(role: Role, seeded: SeededContract, now: datetime) -> dict[str, Any]:
    contract = seeded.contract
    mode = contract.imagingModes.resolved_default() or role.mode
    priority = effective_priority(None, contract)
    return {
        "imagingMode": mode,
        "acquisitionWindow": _window(priority, role.later, _width(role), now),
    }
