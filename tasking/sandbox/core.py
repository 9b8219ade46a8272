"""The sandbox's composition root: store, clock, world, scheduler, tokens, rate limits, throttle,
and the dispatcher of webhook callbacks.

One ``Sandbox`` per data directory and process. It fixes the world on first start (epoch, seed,
constellation, link-signing secret, all stored) and resumes the simulation clock where it stopped:
from its high-water mark (``clock.ClockMark``) or the latest simulated instant the store has seen,
whichever is later, so a restart — even after ``kill -9`` — never shows a time earlier than one
already shown, nor leaps ahead by the downtime.

Who runs the events (issue 13: a request's cost must not grow with the number of tasks):

- With ``config.tick_s`` set (the server), a **decider** thread runs events as they fall due, in
  chunks (``Scheduler.process_due``), and sleeps until the next one is due. Reads
  (``observe``) never run events: they answer from the committed store, at once, and a task
  whose decision is due shows RECEIVED until the decider has run it (within milliseconds,
  unless a backlog is being worked off).
- Without it (tests, ``tick_s=None``), a read runs what is due first, as every request did
  before; a read that finds another thread at it does not wait.
- A change that depends on the world (cancel, feasibility, a clock move, a create on a priced
  contract: its funds) runs every due event first (``catch_up``). A create elsewhere does not
  need to: its task is RECEIVED whatever else is due, and its decision comes after theirs.
- While more than ``config.max_backlog`` events are due, createTask answers 429 with
  ``Retry-After`` (``check_backlog``) rather than letting the backlog grow without bound.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tasking.monitoring import is_terminal
from tasking.sandbox.clock import ClockMark, SimClock
from tasking.sandbox.config import SandboxConfig
from tasking.sandbox.notifications import Dispatcher
from tasking.sandbox.problems import ApiProblem, not_found
from tasking.sandbox.scheduler import Scheduler
from tasking.sandbox.security import LoginThrottle, RateLimiter, TokenService
from tasking.sandbox.seed import SeededContract, seeded_contracts
from tasking.sandbox.store import Store, TaskRecord, decode_time, encode_time
from tasking.sandbox.world import load_world
from tasking.times import format_rfc3339, to_utc

log = logging.getLogger(__name__)

_DEFAULT_SPEED = 60.0
# The longest single jump of POST /sandbox/v1/clock/advance: beyond any 14-day window plus SLA.
MAX_ADVANCE_S = 60 * 86400.0
# The most of one task's events a fast-forward to its final status runs: a task's whole life is a
# handful (decision, capture, fulfilment, completion) plus a re-plan per displacement.
MAX_FAST_FORWARD_EVENTS = 20


class Sandbox:
    """Everything the routes need, built from a ``SandboxConfig``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.database)
        self.epoch = decode_time(self._fixed("epoch", lambda: encode_time(self._new_epoch())))
        self.seed = int(self._fixed("seed", lambda: str(config.seed)))
        if self.seed != config.seed:
            log.warning(
                "data dir was created with seed %s; ignoring seed %s", self.seed, config.seed
            )
        self.secret = bytes.fromhex(self._fixed("link_secret", lambda: secrets.token_hex(32)))
        self.world = load_world(self.store, self.seed, config.satellite_count, self.epoch)
        self.contracts = {c.contract.id: c for c in seeded_contracts(self.epoch)}

        stored_speed = self.store.get_meta("speed")
        speed = config.speed or (float(stored_speed) if stored_speed else _DEFAULT_SPEED)
        mark = ClockMark(config.clock_mark)
        marks = [self.epoch, self.store.latest_time(), mark.read()]
        if (legacy := self.store.get_meta("clock")) is not None:  # data dirs from before the mark
            marks.append(decode_time(legacy))
        self.clock = SimClock(
            max(m for m in marks if m),
            speed,
            config.real_clock,
            reserve=mark.write,
            reserve_s=config.clock_reserve_s,
        )
        self.store.set_meta("speed", repr(speed))
        self.clock.now()  # reserves ahead at once: the mark covers the start time

        self.scheduler = Scheduler(self.store, self.world, config)
        self.tokens = TokenService(self.store, config.token_ttl_s, config.real_clock)
        self.limiter = RateLimiter(config.rate_per_s, config.rate_burst, config.real_clock)
        self.logins = LoginThrottle(
            config.login_failure_burst, config.login_failure_refill_s, config.real_clock
        )
        self.notifications = Dispatcher(
            self.store,
            self.clock.now,
            period_s=config.callback_period_s,
            timeout_s=config.callback_timeout_s,
        )
        self._stop = threading.Event()
        self._wake = threading.Event()  # an event may be due sooner than the decider thinks
        self.store.on_sooner(self._wake.set)
        self._catching = threading.Lock()  # a read catching up (without the decider)
        self._ticker: threading.Thread | None = None

    def _new_epoch(self) -> datetime:
        chosen = self.config.epoch or self.config.real_clock()
        return to_utc(chosen).replace(microsecond=0)

    def _fixed(self, key: str, make: Callable[[], str]) -> str:
        """A value chosen once per data dir: stored on first start, read back ever after."""
        stored = self.store.get_meta(key)
        if stored is None:
            stored = make()
            self.store.set_meta(key, stored)
        return stored

    # --- time --------------------------------------------------------------------------------

    def catch_up(self) -> datetime:
        """Run every event due by now, in chunks (before a change that depends on them);
        returns now."""
        now = self.clock.now()
        self.scheduler.process_due(now)
        return now

    def observe(self) -> datetime:
        """Now, for a read. Nothing is read from the store when no event is due; when some are,
        the decider is woken, or without one they run here unless another read is at it."""
        now = self.clock.now()
        if self.scheduler.nothing_due(now):
            return now
        if self._ticker is not None:
            self._wake.set()
        elif self._catching.acquire(blocking=False):
            try:
                self.scheduler.process_due(now)
            finally:
                self._catching.release()
        return now

    def now_in_transaction(self) -> datetime:
        """Now, with the events due by now applied, for a change made in an open transaction.

        Called right after ``catch_up``, it usually has nothing left to run; it closes the gap in
        which another thread could apply an event later than the change's own time. It runs at
        most one chunk: a backlog that built up meanwhile is left to the decider.
        """
        now = self.clock.now()
        self.scheduler.process_due(now, max_events=self.config.chunk_events)
        return now

    def check_backlog(self) -> None:
        """429 with ``Retry-After`` (the rate limit's answer) while more than
        ``config.max_backlog`` events are due and not yet run."""
        now = self.clock.now()
        backlog = self.scheduler.backlog(now)
        limit = self.config.max_backlog
        if backlog <= limit:
            return
        # Time to work the backlog down to half the limit at the recent rate, 1 s to 1 min.
        rate = self.scheduler.rate
        wait = 1 if rate <= 0 else math.ceil((backlog - limit / 2) / rate)
        wait = min(60, max(1, wait))
        raise ApiProblem(
            429,
            f"the scheduler is behind: {backlog} events are due and not yet decided or run "
            f"(new tasks are accepted again below {limit}); retry after {wait} s",
            headers={"Retry-After": str(wait)},
        )

    def clock_state(self) -> dict[str, Any]:
        """``GET /sandbox/v1/clock``: ``{now, speed, nextEvent}``."""
        now = self.observe()
        upcoming = self.scheduler.next_event_time()
        return {
            "now": format_rfc3339(now),
            "speed": self.clock.speed,
            "nextEvent": format_rfc3339(upcoming) if upcoming else None,
        }

    def set_speed(self, speed: float) -> dict[str, Any]:
        try:
            self.clock.set_speed(speed)
        except ValueError as exc:
            raise ApiProblem(400, str(exc)) from None
        self.store.set_meta("speed", repr(float(speed)))
        self._wake.set()  # the next event is due at another real time now
        return self.clock_state()

    def advance(
        self, *, seconds: float | None = None, to_next_event: bool = False
    ) -> dict[str, Any]:
        """Jump ahead by ``seconds`` or to the next pending event, processing what falls due."""
        self.catch_up()
        if to_next_event:
            upcoming = self.scheduler.next_event_time()
            if upcoming is not None:
                self.clock.advance_to(upcoming)
        elif seconds is not None:
            if not 0 < seconds <= MAX_ADVANCE_S:
                raise ApiProblem(
                    400,
                    f"seconds must be > 0 and at most {MAX_ADVANCE_S:g} (60 days), got {seconds:g}",
                )
            self.clock.advance(seconds)
        self.catch_up()
        return self.clock_state()

    def fast_forward(self, task_id: str, *, to_final: bool) -> int:
        """Move the simulation clock, for everyone, until the task's next event has run, or with
        ``to_final`` until the task is final; returns how many of its events ran.

        The clock goes from one pending event to the next, whichever task it belongs to, and
        everything due runs at its own time on the way: no event runs early, so the world stays
        what ``POST /clock/advance {"to": "next-event"}`` repeated would make it. The task's
        events are counted by its history (a decision, a capture, a fulfilment, a completion, a
        re-plan forced by another task). It stops at a final status, after
        ``MAX_FAST_FORWARD_EVENTS`` of the task's events, when nothing is pending, or before an
        event more than ``MAX_ADVANCE_S`` ahead of the call's start. A task already final, or
        unknown, leaves the clock where it is.
        """
        # The store offers the earliest pending event of all tasks, not of one: hence the steps
        # (and a task left without events, e.g. one whose unreadable event was dropped, walks the
        # world on to the horizon or until nothing is pending).
        start = self.catch_up()
        horizon = start + timedelta(seconds=MAX_ADVANCE_S)
        wanted = MAX_FAST_FORWARD_EVENTS if to_final else 1
        seen = len(self.store.history(task_id))
        ran = 0
        while ran < wanted:
            task = self.store.get_task(task_id)
            if task is None or is_terminal(task.status):
                break
            upcoming = self.scheduler.next_event_time()
            if upcoming is None or upcoming > horizon:
                break
            self.clock.advance_to(upcoming)
            self.catch_up()
            count = len(self.store.history(task_id))
            ran += count - seen
            seen = count
        return ran

    def advance_until(self, task_id: str, reached: Callable[[TaskRecord], bool]) -> bool:
        """Move the simulation clock, for everyone, from one pending event to the next until the
        task satisfies ``reached``; True once it does. Like ``fast_forward`` (nothing runs early),
        but the task is judged after every step, not only after its own events: a task reached
        by a step made for another one is never carried on to its next event. Stops (False) at a
        final status, when nothing is pending, or before an event more than ``MAX_ADVANCE_S``
        ahead of the call's start."""
        horizon = self.catch_up() + timedelta(seconds=MAX_ADVANCE_S)
        while True:
            task = self.store.get_task(task_id)
            if task is None:
                return False
            if reached(task):
                return True
            upcoming = self.scheduler.next_event_time()
            if is_terminal(task.status) or upcoming is None or upcoming > horizon:
                return False
            self.clock.advance_to(upcoming)
            self.catch_up()

    # --- contracts ---------------------------------------------------------------------------

    def contracts_of(self, company_id: str) -> list[SeededContract]:
        return [c for c in self.contracts.values() if c.company_id == company_id]

    def contract(self, company_id: str, contract_id: str) -> SeededContract:
        """A company's contract; another company's or an unknown id is the same 404."""
        found = self.contracts.get(contract_id)
        if found is None or found.company_id != company_id:
            raise not_found(f"contract {contract_id} not found", title="Contract Not Found")
        return found

    # --- lifecycle ---------------------------------------------------------------------------

    def start_ticker(self) -> None:
        """Start the decider (events run as they fall due; ``config.tick_s`` is the longest it
        sleeps) and the callback dispatcher (every ``config.callback_period_s``; a thread of its
        own, so a slow receiver never delays the decider or a request)."""
        self.notifications.start()
        if self.config.tick_s is None or self._ticker is not None:
            return
        self._ticker = threading.Thread(target=self._decide, name="sandbox-decider", daemon=True)
        self._ticker.start()

    def _decide(self) -> None:
        period = self.config.tick_s
        assert period is not None
        while not self._stop.is_set():
            self._wake.clear()  # a wake-up from now on is seen by the wait below
            try:
                if self.scheduler.process_due(
                    self.clock.now(), max_events=self.config.chunk_events
                ):
                    continue  # a chunk ran; look again at once (and at the stop flag)
            except Exception:  # keep deciding; the next request will surface the error
                log.exception("sandbox decider failed")
                self._stop.wait(period)
                continue
            self._wake.wait(self._real_seconds_to_next_event(period))

    def _real_seconds_to_next_event(self, longest: float) -> float:
        floor = self.store.due_floor()
        if floor is None:
            return 0.0
        ahead = (floor - self.clock.now()).total_seconds() / self.clock.speed
        return min(longest, max(0.0, ahead))

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self.notifications.stop()
        self.clock.settle()
        self.store.close()
