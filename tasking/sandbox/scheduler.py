"""The task lifecycle on the simulation clock: event-driven and lazy.

Each task carries pending events in the store; ``process_due(now)`` runs every event due up to
``now`` in time order (ties by creation order), each in a savepoint of its own within bounded
chunks, and *at its own due time*, so the outcome depends only on the seed and the clock, not on
when requests arrive (or on who runs them: the decider thread or a request, see core.py):

    RECEIVED ──decide (createdAt + latency)──▶ ACTIVE (planned scene) │ REJECTED
    ACTIVE ──capture (imaging start)──▶ scene locked │ FAILED (failure rate, seeded per task)
    locked ──fulfil (imaging end + SLA)──▶ FULFILLED, then DONE after the non-SLA delay
                                           │ DONE directly when no non-SLA product was ordered
    a COMMERCIAL decision may displace an uncaptured BACKGROUND booking: it is re-planned
    (its scene changes) or FAILED.

"Straight to DONE" follows ICEYE's lifecycle (iceye-api.md §5.1 step 4: FULFILLED "or straight to
DONE if there are no additional products"). Every change is also written to the task's history and,
when the task names a webhook, owes it a callback (``notifications.queue_status_change``), in the
same transaction.

An event whose task cannot be handled (a stored row the scheduler cannot read) is logged and
dropped: the scheduler runs before every request, so one bad row must not stop them all.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tasking import modes
from tasking.models import Scene, TimeWindow
from tasking.monitoring import DEFAULT_SLA
from tasking.sandbox.bookings import BookingLedger
from tasking.sandbox.config import SandboxConfig
from tasking.sandbox.notifications import queue_status_change
from tasking.sandbox.planning import Booking, Refusal, Slot, find_slots
from tasking.sandbox.store import Event, Store, TaskRecord
from tasking.sandbox.world import World
from tasking.times import format_rfc3339, parse_time

log = logging.getLogger(__name__)

DECIDE, CAPTURE, FULFIL, COMPLETE = "decide", "capture", "fulfil", "complete"


def plan_of(slot: Slot) -> dict[str, Any]:
    """The stored form of a planned scene and the pass behind it."""
    p = slot.pass_
    return {
        "satellite": p.satellite,
        "zeroDoppler": format_rfc3339(p.time),
        "start": format_rfc3339(slot.start),
        "end": format_rfc3339(slot.end),
        "duration": slot.duration,
        "incidence": p.incidence,
        "lookSide": p.look_side,
        "passDirection": p.pass_direction,
        "heading": p.heading,
        "offNadir": p.off_nadir,
        "slantRangeKm": p.slant_range_km,
        "subLat": p.sub_lat,
        "subLon": p.sub_lon,
        "locked": False,
    }


def scene_of(plan: Mapping[str, Any]) -> Scene:
    """The TaskScene of a plan (incidence is serialised as a string by the model)."""
    return Scene(
        imagingTime=TimeWindow(start=parse_time(plan["start"]), end=parse_time(plan["end"])),
        duration=int(plan["duration"]),
        lookSide=plan["lookSide"],
        passDirection=plan["passDirection"],
        incidenceAngle=float(plan["incidence"]),
    )


def _sla_hours(document: Mapping[str, Any]) -> float:
    """Hours the task's SLA promises; a task without a readable SLA gets the server's default."""
    hours = modes.sla_hours(str(document.get("sla") or "")) or modes.sla_hours(DEFAULT_SLA)
    assert hours is not None  # DEFAULT_SLA is a readable literal
    return hours


def non_sla_types(document: Mapping[str, Any]) -> list[str]:
    """Ordered product types outside the SLA (SICD, SIDD: "custom / on demand")."""
    return [t for t in document.get("productTypes") or [] if t not in modes.SLA_PRODUCTS]


class Scheduler:
    """Plans tasks and moves them through their lifecycle as simulated time passes."""

    def __init__(self, store: Store, world: World, config: SandboxConfig) -> None:
        self._store = store
        self._world = world
        self._config = config
        # Read from the store once; from then on kept up to date by the store's writes.
        self._ledger = BookingLedger(store.each_task_in_status(["ACTIVE"]))
        store.watch(self._ledger)
        self._rate = 0.0  # events per real second, a moving average over chunks

    # --- driving -----------------------------------------------------------------------------

    def process_due(self, now: datetime, *, max_events: int | None = None) -> int:
        """Run the events due at or before ``now`` (at most ``max_events``); returns how many ran.

        They run in time order in chunks: each chunk is one store transaction of at most
        ``config.chunk_events`` events and ``config.chunk_s`` real seconds (each event in a
        savepoint of its own), so the store's writer is never held for long and a long backlog
        (a clock jump over thousands of tasks) lets other writers in between chunks. Reads never
        wait for it (``Store``).
        """
        done = 0
        while max_events is None or done < max_events:
            if self._store.nothing_due(now):
                break
            budget = self._config.chunk_events
            if max_events is not None:
                budget = min(budget, max_events - done)
            ran, more = self._chunk(now, budget)
            done += ran
            if not more:
                break
            time.sleep(0)  # a writer waiting for the store takes it between two chunks
        return done

    def _chunk(self, now: datetime, budget: int) -> tuple[int, bool]:
        """One transaction of due events; (how many ran, whether more may be due)."""
        started = time.perf_counter()
        deadline = started + self._config.chunk_s
        ran = 0
        with self._store.transaction():
            while ran < budget:
                event = self._store.next_event(until=now)
                if event is None:
                    self._store.next_event()  # sets the due floor to the next event's time
                    self._measure(ran, started)
                    return ran, False
                try:
                    with self._store.transaction():
                        self._store.delete_event(event.id)
                        task = self._store.get_task(event.task_id)
                        if task is not None:
                            self._handle(event, task)
                except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
                    log.exception("dropping %s event of task %s", event.kind, event.task_id)
                    self._store.delete_event(event.id)
                ran += 1
                if time.perf_counter() >= deadline:
                    break
                # Requests waiting for the interpreter run now rather than at its next forced
                # switch (5 ms); a read needs nothing else, not even the store's writer.
                time.sleep(0)
        self._measure(ran, started)
        return ran, True

    def _measure(self, ran: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        if ran and elapsed > 0:
            rate = ran / elapsed
            self._rate = rate if not self._rate else 0.8 * self._rate + 0.2 * rate

    def nothing_due(self, now: datetime) -> bool:
        """True when no event is due at ``now``, known without reading the database."""
        return self._store.nothing_due(now)

    def backlog(self, now: datetime) -> int:
        """Events due at ``now`` that have not run yet."""
        return self._store.count_due(now)

    @property
    def rate(self) -> float:
        """Events run per real second lately (0 before any ran)."""
        return self._rate

    def next_event_time(self) -> datetime | None:
        event = self._store.next_event()
        return None if event is None else event.due_at

    def submitted(self, task: TaskRecord) -> None:
        """A new task: its decision is due after the scheduler's latency."""
        due = task.created_at + timedelta(seconds=self._config.decision_latency_s)
        self._store.add_event(task.id, DECIDE, due)

    def canceled(self, task: TaskRecord) -> None:
        """A canceled task gives up its pending events (and so its satellite time)."""
        self._store.delete_events(task.id)

    def bookings(self, exclude: str | None = None) -> list[Booking]:
        """Satellite time held by ACTIVE tasks, in the order of their creation."""
        return self._ledger.bookings(exclude)

    @property
    def ledger(self) -> BookingLedger:
        """The bookings as kept in memory (``bookings.py``)."""
        return self._ledger

    def find(self, task: TaskRecord, at: datetime, limit: int = 1) -> list[Slot] | Refusal:
        """Slots for a task as the schedule stands at ``at``."""
        return find_slots(
            self._world.passes_for(task.document),
            task.document,
            priority=task.priority,
            not_before=at,
            bookings=self._ledger.excluding(task.id),
            gap_s=self._config.setup_gap_s,
            limit=limit,
        )

    # --- events ------------------------------------------------------------------------------

    def _handle(self, event: Event, task: TaskRecord) -> None:
        handler = {
            DECIDE: self._decide,
            CAPTURE: self._capture,
            FULFIL: self._fulfil,
            COMPLETE: self._complete,
        }.get(event.kind)
        if handler is not None:
            handler(task, event.due_at)

    def _decide(self, task: TaskRecord, at: datetime) -> None:
        if task.status != "RECEIVED":
            return
        found = self.find(task, at)
        if isinstance(found, Refusal):
            self._transition(task, "REJECTED", at, "rejected", {"reason": found.reason})
            return
        slot = found[0]
        task.plan = plan_of(slot)
        self._transition(task, "ACTIVE", at, "planned", _plan_detail(task.plan))
        self._store.add_event(task.id, CAPTURE, slot.start)
        for victim in slot.displaced:
            self._displace(victim, at, by=task.id)

    def _displace(self, task_id: str, at: datetime, by: str) -> None:
        task = self._store.get_task(task_id)
        if task is None or task.status != "ACTIVE":
            return
        self._store.delete_events(task.id)
        found = self.find(task, at)
        if isinstance(found, Refusal):
            task.plan = None
            reason = f"displaced by COMMERCIAL task {by}; {found.reason}"
            self._transition(task, "FAILED", at, "failed", {"reason": reason, "displacedBy": by})
            return
        previous = task.plan
        task.plan = plan_of(found[0])
        task.updated_at = at
        self._store.update_task(task)
        self._store.add_history(
            task.id,
            at,
            "replanned",
            task.status,
            {"displacedBy": by, "previous": previous, **_plan_detail(task.plan)},
        )
        self._store.add_event(task.id, CAPTURE, found[0].start)

    def _capture(self, task: TaskRecord, at: datetime) -> None:
        if task.status != "ACTIVE" or task.plan is None:
            return
        # One generator per task, from the world's seed and the task's creation order, so the
        # same history replays the same failures.
        draw = random.Random(f"{self._config.seed}:capture:{task.seq}").random()
        if draw < self._config.failure_rate:
            reason = f"capture failed (simulated failure rate {self._config.failure_rate:g})"
            self._transition(task, "FAILED", at, "failed", {"reason": reason})
            return
        task.plan["locked"] = True
        task.updated_at = at
        self._store.update_task(task)
        self._store.add_history(task.id, at, "captured", task.status, _plan_detail(task.plan))
        hours = _sla_hours(task.document)
        self._store.add_event(
            task.id, FULFIL, parse_time(task.plan["end"]) + timedelta(hours=hours)
        )

    def _fulfil(self, task: TaskRecord, at: datetime) -> None:
        if task.status != "ACTIVE":
            return
        task.fulfilled_at = at
        pending = non_sla_types(task.document)
        if pending:
            self._transition(task, "FULFILLED", at, "fulfilled", {"pending": pending})
            delay = timedelta(seconds=self._config.non_sla_delay_s)
            self._store.add_event(task.id, COMPLETE, at + delay)
        else:
            self._transition(task, "DONE", at, "done", {})

    def _complete(self, task: TaskRecord, at: datetime) -> None:
        if task.status == "FULFILLED":
            self._transition(task, "DONE", at, "done", {})

    def _transition(
        self, task: TaskRecord, status: str, at: datetime, kind: str, detail: dict[str, Any]
    ) -> None:
        task.status = status
        task.updated_at = at
        self._store.update_task(task)
        self._store.add_history(task.id, at, kind, status, detail)
        queue_status_change(self._store, self._config.id_factory, task, at)


def _plan_detail(plan: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("satellite", "start", "end", "incidence", "lookSide", "passDirection")
    return {k: plan[k] for k in keys}
