"""The backend's clock: "now" for the input rules, default windows, lookups and recorded times.

In sandbox mode it is the sandbox's simulation clock, read over HTTP and extrapolated between
reads (``SimClock``); live it is the server's time (``ServerClock``: UTC corrected by the offset the
client measured from ICEYE's ``Date`` headers). Neither imports Streamlit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = [
    "CLOCK_MAX_AGE_S",
    "IDLE_MAX_AGE_S",
    "Clock",
    "ClockReading",
    "ServerClock",
    "SimClock",
]

# A reading of the sandbox clock is extrapolated for this long before it is read again: the clock is
# linear between changes (sim = anchor + elapsed × speed, sandbox clock.py), and the app re-reads it
# after every change it makes itself, so this only bounds how late a change made by another client
# (curl, a second app) shows up, while keeping a map click free of clock requests.
CLOCK_MAX_AGE_S = 30.0
IDLE_MAX_AGE_S = 5.0


@dataclass(frozen=True)
class ClockReading:
    """What the sidebar shows: the backend's time, the simulation speed and the next due event."""

    now: datetime
    speed: float = 1.0
    next_event: datetime | None = None


class Clock(Protocol):
    def now(self) -> datetime: ...

    def reading(self) -> ClockReading: ...

    def refresh(self) -> ClockReading:
        """Read the clock now instead of extrapolating (after something happened)."""
        ...

    def estimate(self) -> datetime:
        """The best known time without a request (for recording times; may raise TaskingError
        only when the clock was never read)."""
        ...


class ServerClock:
    """Live mode: the server's time at speed 1 with no events (``server_now`` is the client's
    Date-header-corrected UTC)."""

    def __init__(self, server_now: Callable[[], datetime] | None = None) -> None:
        self._server_now = server_now or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._server_now()

    def reading(self) -> ClockReading:
        return ClockReading(now=self.now())

    def refresh(self) -> ClockReading:
        return self.reading()

    def estimate(self) -> datetime:
        return self.now()


class SimClock:
    """The sandbox's simulation clock, read over HTTP and extrapolated between reads."""

    def __init__(
        self,
        fetch: Callable[[], ClockReading],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_age_s: float = CLOCK_MAX_AGE_S,
    ) -> None:
        self._fetch = fetch
        self._monotonic = monotonic
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._last: tuple[ClockReading, float] | None = None

    def refresh(self) -> ClockReading:
        """Read the clock now (raises the TaskingError of a failed request)."""
        reading = self._fetch()
        self.remember(reading)
        return reading

    def remember(self, reading: ClockReading) -> None:
        """Keep a reading the sandbox just returned (after set_speed / advance)."""
        with self._lock:
            self._last = (reading, self._monotonic())

    def _extrapolated(self) -> tuple[ClockReading, float] | None:
        """The last reading carried forward to this moment, and its age in real seconds."""
        with self._lock:
            last = self._last
        if last is None:
            return None
        reading, taken = last
        age = self._monotonic() - taken
        now = reading.now + timedelta(seconds=age * reading.speed)
        return ClockReading(now, reading.speed, reading.next_event), age

    def reading(self) -> ClockReading:
        carried = self._extrapolated()
        if carried is None:
            return self.refresh()
        reading, age = carried
        # With nothing scheduled, a new event may appear any moment (another session's order):
        # read more often then.
        limit = self._max_age_s if reading.next_event else IDLE_MAX_AGE_S
        if age > limit:
            return self.refresh()
        if reading.next_event is not None and reading.now >= reading.next_event:
            # The event is due: the sandbox has processed it and knows the one after.
            return self.refresh()
        return reading

    def now(self) -> datetime:
        return self.reading().now

    def estimate(self) -> datetime:
        """Simulation time from the last reading, however old (the clock is linear between
        changes); read only when there was never a reading. Never falls back to real UTC: a time
        on another clock would put events out of order with the task's own times."""
        carried = self._extrapolated()
        if carried is None:
            return self.refresh().now
        return carried[0].now
