"""The simulation clock: every time the sandbox shows comes from here.

``sim_now = anchor_sim + (real_now − anchor_real) × speed``. Changing the speed or jumping re-anchors
at the current instant, so simulated time never runs backwards; a real clock that steps back (NTP)
is absorbed the same way.

Across restarts the clock keeps a **high-water mark**: before it serves a time later than the mark,
it writes a new mark ``reserve_s`` real seconds ahead (× speed) to a file of its own
(``ClockMark``), so at most one small write per ``reserve_s`` while the clock is read. A restart
resumes from that mark, so even after ``kill -9`` no reading is earlier than one already served,
and the clock leaps ahead by at most ``reserve_s`` × speed; a clean shutdown writes the exact time
reached (``settle``), so the simulation pauses while the sandbox is down. The mark is a file rather
than a row of the store because it is written while other threads may hold a store transaction
(which it must neither join nor wait for).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from tasking.sandbox.config import MAX_SPEED, MIN_SPEED
from tasking.times import parse_time, to_utc

log = logging.getLogger(__name__)


class ClockMark:
    """A durable high-water mark of simulated time, in one small file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> datetime | None:
        """The stored mark, or None when there is none (a new or a pre-mark data dir)."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        try:
            return parse_time(text)
        except ValueError:
            log.warning("ignoring an unreadable clock mark in %s: %r", self.path, text[:40])
            return None

    def write(self, value: datetime) -> None:
        """Replace the mark with ``value``; on disk (fsync) before returning."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(to_utc(value).isoformat())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        _sync_directory(self.path.parent)


class SimClock:
    """A thread-safe simulated clock driven by an injectable real-time source.

    ``reserve``, when given, persists a high-water mark: it is called with an instant before any
    later time is served (and must not return before the instant is durable).
    """

    def __init__(
        self,
        start: datetime,
        speed: float,
        real_clock: Callable[[], datetime],
        *,
        reserve: Callable[[datetime], None] | None = None,
        reserve_s: float = 1.0,
    ) -> None:
        _check_speed(speed)
        self._lock = threading.Lock()
        self._real = real_clock
        self._anchor_sim = to_utc(start)
        self._anchor_real = real_clock()
        self._speed = float(speed)
        self._last = self._anchor_sim
        self._persist = reserve
        self._reserve_s = reserve_s
        self._reserved: datetime | None = None

    @property
    def speed(self) -> float:
        with self._lock:
            return self._speed

    def now(self) -> datetime:
        """Current simulated time (aware UTC); never earlier than a previous answer."""
        with self._lock:
            return self._serve(self._now_locked())

    def set_speed(self, speed: float) -> datetime:
        """Run at ``speed`` × real time from now on; returns the instant of the change."""
        _check_speed(speed)
        with self._lock:
            self._reanchor(self._now_locked())
            self._speed = float(speed)
            return self._serve(self._anchor_sim)

    def advance(self, seconds: float) -> datetime:
        """Jump ``seconds`` of simulated time ahead; returns the new now."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; got {seconds} s")
        with self._lock:
            self._reanchor(self._now_locked() + timedelta(seconds=seconds))
            return self._serve(self._anchor_sim)

    def advance_to(self, when: datetime) -> datetime:
        """Jump to ``when`` if it is ahead of now; returns the new now."""
        with self._lock:
            self._reanchor(max(self._now_locked(), to_utc(when)))
            return self._serve(self._anchor_sim)

    def settle(self) -> datetime:
        """Mark exactly now (at a clean shutdown: resume from here, not from the reservation)."""
        with self._lock:
            current = self._now_locked()
            if self._persist is not None:
                try:
                    self._persist(current)
                    self._reserved = current
                except OSError:  # the reservation already on disk still covers every reading
                    log.exception("could not persist the clock mark at shutdown")
            return current

    def _now_locked(self) -> datetime:
        elapsed = (self._real() - self._anchor_real).total_seconds()
        current = self._anchor_sim + timedelta(seconds=elapsed * self._speed)
        if current < self._last:
            # The real clock stepped back: hold still and restart from here.
            self._reanchor(self._last)
            current = self._last
        self._last = current
        return current

    def _serve(self, current: datetime) -> datetime:
        """``current``, once the high-water mark on disk is at or after it."""
        if self._persist is None or (self._reserved is not None and current <= self._reserved):
            return current
        ahead = current + timedelta(seconds=self._reserve_s * self._speed)
        try:
            self._persist(ahead)
        except OSError:
            # Serving on is better than failing every request; the next reservation retries.
            log.exception("could not persist the clock mark; a crash now could lose time")
        self._reserved = ahead
        return current

    def _reanchor(self, sim: datetime) -> None:
        self._anchor_sim = sim
        self._anchor_real = self._real()
        self._last = sim


def _sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_speed(speed: float) -> None:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(
            f"clock speed must be within {MIN_SPEED:g}..{MAX_SPEED:g} × real time, got {speed:g}"
        )
