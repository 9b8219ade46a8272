"""The satellite time held by ACTIVE tasks, kept in memory (issue 13).

Deciding a task looks for conflicts with every booking; reading them from the store each time cost
a decode of every ACTIVE task per decision (123 ms at 4,328 tasks), so deciding N tasks cost
O(N²). The ``BookingLedger`` is loaded once from the store and then told of every task the store
writes or removes, inside the transaction that does it (``Store.watch``); a rollback tells it
again how the store has the tasks it touched. So it always equals a fresh load from the store,
which ``tests/sandbox/test_bookings.py`` checks after random sequences of operations and across a
restart.

A booking is a task that is ACTIVE with a plan: its satellite, imaging interval, priority and
whether it is captured (locked). Per satellite the bookings are sorted by start, so the conflicts
of an imaging are found by bisection, and they are answered in the tasks' creation order, the order
in which the scheduler used to read them (displacements follow it).
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from tasking.sandbox.planning import Booking, BookingIndex
from tasking.sandbox.store import TaskRecord
from tasking.times import parse_time

log = logging.getLogger(__name__)

_Key = tuple[datetime, int, str]  # (start, task seq, task id), the order within a satellite


def booking_of(task: TaskRecord) -> Booking | None:
    """The satellite time the task holds: None unless it is ACTIVE with a readable plan."""
    if task.status != "ACTIVE" or task.plan is None:
        return None
    plan = task.plan
    try:
        return Booking(
            task.id,
            task.priority,
            str(plan["satellite"]),
            parse_time(plan["start"]),
            parse_time(plan["end"]),
            bool(plan.get("locked")),
        )
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        log.exception("task %s has an unreadable plan; it holds no satellite time", task.id)
        return None


class BookingLedger(BookingIndex):
    """Bookings by satellite and start, updated as tasks are written (a ``Store`` watcher).

    Thread-safe: the store writes it under its own lock, while a feasibility request may copy it
    from another thread.
    """

    def __init__(self, tasks: Iterable[TaskRecord] = ()) -> None:
        # BookingIndex's own fields are not used: every method is answered from these.
        self._lock = threading.Lock()
        self._held: dict[str, tuple[int, Booking]] = {}  # task id -> (seq, booking)
        self._keys: dict[str, list[_Key]] = {}  # satellite -> sorted keys
        self._longest = timedelta(0)  # no booking lasts longer (never shrinks; a bound)
        self._next_seq = 0  # for bookings added without a task (``add``)
        for task in tasks:
            self.task_saved(task)

    # --- Store watcher -----------------------------------------------------------------------

    def task_saved(self, task: TaskRecord) -> None:
        booking = booking_of(task)
        with self._lock:
            self._drop(task.id)
            if booking is not None:
                self._put(task.seq, booking)

    def task_removed(self, task_id: str) -> None:
        with self._lock:
            self._drop(task_id)

    # --- BookingIndex ------------------------------------------------------------------------

    def add(self, booking: Booking) -> None:
        """A booking that is no stored task's (after every task's, in the conflicts' order)."""
        with self._lock:
            self._next_seq += 1
            self._drop(booking.task_id)
            self._put(2**62 + self._next_seq, booking)

    def conflicts(
        self, satellite: str, start: datetime, end: datetime, gap_s: float
    ) -> list[Booking]:
        """Bookings on the satellite closer than the setup gap to [start, end], in the order of
        their tasks' creation (``planning.conflicts`` over the bookings in that order)."""
        return self._conflicts(satellite, start, end, gap_s, exclude=None)

    # --- reading -----------------------------------------------------------------------------

    def excluding(self, task_id: str) -> BookingIndex:
        """The bookings as if ``task_id`` held none (a displaced task being planned again)."""
        return _Excluding(self, task_id)

    def bookings(self, exclude: str | None = None) -> list[Booking]:
        """Every booking, in the order of their tasks' creation."""
        with self._lock:
            held = sorted(self._held.values(), key=lambda entry: entry[0])
        return [b for _, b in held if b.task_id != exclude]

    def __len__(self) -> int:
        return len(self._held)

    def _conflicts(
        self, satellite: str, start: datetime, end: datetime, gap_s: float, exclude: str | None
    ) -> list[Booking]:
        gap = timedelta(seconds=gap_s)
        with self._lock:
            keys = self._keys.get(satellite)
            if not keys:
                return []
            # b.start < end + gap, and b.end + gap > start needs b.start > start − gap − longest.
            lo = bisect.bisect_right(keys, (start - gap - self._longest, math.inf))
            hi = bisect.bisect_left(keys, (end + gap,))
            near = [self._held[task_id] for _, _, task_id in keys[lo:hi] if task_id != exclude]
        near = [(seq, b) for seq, b in near if start < b.end + gap]
        near.sort(key=lambda entry: entry[0])
        return [b for _, b in near]

    def _put(self, seq: int, booking: Booking) -> None:
        self._held[booking.task_id] = (seq, booking)
        bisect.insort(
            self._keys.setdefault(booking.satellite, []),
            (booking.start, seq, booking.task_id),
        )
        self._longest = max(self._longest, booking.end - booking.start)

    def _drop(self, task_id: str) -> None:
        entry = self._held.pop(task_id, None)
        if entry is None:
            return
        seq, booking = entry
        keys = self._keys[booking.satellite]
        key = (booking.start, seq, task_id)
        at = bisect.bisect_left(keys, key)
        if at < len(keys) and keys[at] == key:
            del keys[at]
        else:  # cannot happen while _held and _keys agree; stay correct if they ever do not
            keys.remove(key)


class _Excluding(BookingIndex):
    """A ledger seen without one task's booking."""

    def __init__(self, ledger: BookingLedger, task_id: str) -> None:
        self._ledger = ledger
        self._task_id = task_id

    def add(self, booking: Booking) -> None:
        raise TypeError("a view of the ledger cannot take bookings")

    def conflicts(
        self, satellite: str, start: datetime, end: datetime, gap_s: float
    ) -> list[Booking]:
        return self._ledger._conflicts(satellite, start, end, gap_s, exclude=self._task_id)
