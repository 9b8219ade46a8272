"""The backend's clock: the simulation clock carried forward without a request, and the server's
time in live mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasking.clock import ClockReading, ServerClock, SimClock
from tasking.errors import TransportError

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_estimate_carries_the_last_reading_forward_however_old_without_a_request() -> None:
    ticker = Ticker()
    fetches: list[int] = []

    def fetch() -> ClockReading:
        fetches.append(1)
        if len(fetches) > 1:
            raise TransportError("the sandbox is down")
        return ClockReading(T0, speed=60.0)

    clock = SimClock(fetch, monotonic=ticker, max_age_s=30)
    assert clock.estimate() == T0  # never read: read now
    ticker.now = 3600.0  # an hour of real time later, the sandbox down
    assert clock.estimate() == T0 + timedelta(hours=60)
    with pytest.raises(TransportError):
        clock.now()  # "now" for rules insists on a fresh reading once stale
    assert len(fetches) == 2


def test_estimate_of_a_clock_never_read_raises_when_it_cannot_be_read() -> None:
    def fetch() -> ClockReading:
        raise TransportError("the sandbox is down")

    with pytest.raises(TransportError):
        SimClock(fetch).estimate()


def test_the_server_clock_is_the_time_it_is_given() -> None:
    clock = ServerClock(lambda: T0)
    assert clock.now() == clock.estimate() == clock.reading().now == T0
    assert clock.reading().speed == 1.0 and clock.reading().next_event is None


def test_sim_clock_extrapolates_between_reads_at_its_speed() -> None:
    reads: list[int] = []
    ticker = Ticker()

    def fetch() -> ClockReading:
        reads.append(1)
        return ClockReading(T0, speed=60.0, next_event=T0 + timedelta(hours=2))

    clock = SimClock(fetch, monotonic=ticker, max_age_s=30)
    assert clock.now() == T0
    ticker.now += 10  # ten real seconds at 60×
    assert clock.now() == T0 + timedelta(minutes=10)
    assert len(reads) == 1


def test_sim_clock_reads_again_when_stale_or_when_the_next_event_is_due() -> None:
    reads: list[int] = []
    ticker = Ticker()

    def fetch() -> ClockReading:
        reads.append(1)
        return ClockReading(T0, speed=3600.0, next_event=T0 + timedelta(hours=1))

    clock = SimClock(fetch, monotonic=ticker, max_age_s=30)
    clock.now()
    ticker.now += 2  # two hours simulated: the event is due
    clock.now()
    assert len(reads) == 2
    clock.remember(ClockReading(T0, speed=1.0))
    ticker.now += 31
    clock.now()
    assert len(reads) == 3
