"""The simulation clock: every time the sandbox shows comes from here.

``sim_now = anchor_sim + (real_now − anchor_real) × speed``. Changing the speed or jumping re-anchors
at the current instant, so simulated time never runs backwards; a real clock that steps back (NTP)
is absorbed the same way. The owner persists ``now()`` and ``speed`` (see ``core.py``) and restarts
the clock from them, so the simulation pauses while the sandbox is down instead of leaping ahead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from tasking.sandbox.config import MAX_SPEED, MIN_SPEED
from tasking.times import to_utc


class SimClock:
    """A thread-safe simulated clock driven by an injectable real-time source."""

    def __init__(self, start: datetime, speed: float, real_clock: Callable[[], datetime]) -> None:
        _check_speed(speed)
        self._lock = threading.Lock()
        self._real = real_clock
        self._anchor_sim = to_utc(start)
        self._anchor_real = real_clock()
        self._speed = float(speed)
        self._last = self._anchor_sim

    @property
    def speed(self) -> float:
        with self._lock:
            return self._speed

    def now(self) -> datetime:
        """Current simulated time (aware UTC); never earlier than a previous answer."""
        with self._lock:
            return self._now_locked()

    def set_speed(self, speed: float) -> datetime:
        """Run at ``speed`` × real time from now on; returns the instant of the change."""
        _check_speed(speed)
        with self._lock:
            self._reanchor(self._now_locked())
            self._speed = float(speed)
            return self._anchor_sim

    def advance(self, seconds: float) -> datetime:
        """Jump ``seconds`` of simulated time ahead; returns the new now."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; got {seconds} s")
        with self._lock:
            self._reanchor(self._now_locked() + timedelta(seconds=seconds))
            return self._anchor_sim

    def advance_to(self, when: datetime) -> datetime:
        """Jump to ``when`` if it is ahead of now; returns the new now."""
        with self._lock:
            self._reanchor(max(self._now_locked(), to_utc(when)))
            return self._anchor_sim

    def _now_locked(self) -> datetime:
        elapsed = (self._real() - self._anchor_real).total_seconds()
        current = self._anchor_sim + timedelta(seconds=elapsed * self._speed)
        if current < self._last:
            # The real clock stepped back: hold still and restart from here.
            self._reanchor(self._last)
            current = self._last
        self._last = current
        return current

    def _reanchor(self, sim: datetime) -> None:
        self._anchor_sim = sim
        self._anchor_real = self._real()
        self._last = sim


def _check_speed(speed: float) -> None:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(
            f"clock speed must be within {MIN_SPEED:g}..{MAX_SPEED:g} × real time, got {speed:g}"
        )
