"""A request budget: at most ``per_minute`` ICEYE requests in any 60 seconds, however much there is
to do.

A sliding window: the time of every request paid in the last minute is kept, and an operation may
start only while the requests of the last 60 s plus what it is about to cost stay within
``per_minute``. The worker asks before each request (a list page, a task, a scene, a product list,
a quicklook) and pays what it really cost afterwards: a GET the client retried three times costs
three, the one way the window can be overshot. (A token bucket, the first design, let a full bucket
plus a minute's refill through: twice the budget in one minute, measured in bench/README.md.)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["WINDOW_S", "Budget"]

WINDOW_S = 60.0


class Budget:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("the request budget must allow at least one request per minute")
        self.per_minute = per_minute
        self._clock = clock
        self._spent: deque[float] = deque()
        """When each request of the last minute was paid (oldest first)."""
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0] <= now - WINDOW_S:
            self._spent.popleft()

    def available(self) -> float:
        """Requests that may still start before the oldest of the window leaves it."""
        with self._lock:
            self._expire(self._clock())
            return float(self.per_minute - len(self._spent))

    def allows(self, cost: float = 1.0) -> bool:
        """Whether an operation of about ``cost`` requests may start now."""
        return self.available() >= cost

    def spend(self, requests: float) -> None:
        count = int(requests)
        if count <= 0:
            return
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._spent.extend([now] * count)

    def free_in(self, cost: float = 1.0) -> float:
        """Seconds until an operation of ``cost`` requests may start (0: now)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            over = len(self._spent) + int(cost) - self.per_minute
            if over <= 0:
                return 0.0
            if over > len(self._spent):
                return WINDOW_S
            return max(0.0, self._spent[over - 1] + WINDOW_S - now)
