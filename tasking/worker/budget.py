"""A request budget: at most ``per_minute`` ICEYE requests per minute, however much there is to do.

A token bucket (capacity ``per_minute``, refilled evenly); the worker asks before an operation
and pays what the operation really cost afterwards (a GET retried three times costs three), so the
bucket may go below zero and the next operations wait until it is positive again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Budget"]


class Budget:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("the request budget must allow at least one request per minute")
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._clock = clock
        self._tokens = float(per_minute)
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.per_minute), self._tokens + (now - self._at) * self._rate)
        self._at = now

    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens

    def allows(self, cost: float = 1.0) -> bool:
        """Whether an operation of about ``cost`` requests may start now."""
        return self.available() >= cost

    def spend(self, requests: float) -> None:
        with self._lock:
            self._refill()
            self._tokens -= requests
