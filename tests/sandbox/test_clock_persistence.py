"""The clock never shows a time earlier than one already shown, even across kill -9.

The clock reserves a high-water mark on disk ahead of every time it serves (``clock.ClockMark``);
a restart resumes from the mark. A clean shutdown settles the mark to the exact time reached.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasking.sandbox.clock import ClockMark, SimClock
from tasking.sandbox.config import SandboxConfig
from tasking.sandbox.core import Sandbox
from tasking.times import parse_time
from tests.sandbox.conftest import EPOCH, ManualClock
from tests.sandbox.test_persistence import free_port, start_process, wait_healthy

SPEED = 3000.0
WATCH_S = 1.5


def test_a_time_is_reserved_on_disk_before_it_is_served(tmp_path: Path) -> None:
    real = ManualClock(EPOCH)
    reserved: list[datetime] = []
    clock = SimClock(EPOCH, 60.0, real, reserve=reserved.append, reserve_s=1.0)
    assert clock.now() == EPOCH
    assert reserved == [EPOCH + timedelta(seconds=60)]
    real.tick(0.5)
    clock.now()  # inside the reservation: no write
    assert len(reserved) == 1
    real.tick(0.6)
    served = clock.now()
    assert reserved[-1] == served + timedelta(seconds=60)
    jumped = clock.advance(3600)
    assert reserved[-1] == jumped + timedelta(seconds=60)
    assert all(r >= s for r, s in zip(reserved, [EPOCH, served, jumped], strict=True))


def test_settle_marks_the_exact_time_and_reserves_again_after(tmp_path: Path) -> None:
    real = ManualClock(EPOCH)
    mark = ClockMark(tmp_path / "clock-mark")
    clock = SimClock(EPOCH, 10.0, real, reserve=mark.write, reserve_s=1.0)
    real.tick(0.2)
    reached = clock.now()
    assert mark.read() == reached + timedelta(seconds=10)  # reserved: 1 real s × 10 ahead
    assert clock.settle() == reached
    assert mark.read() == reached
    real.tick(0.1)
    later = clock.now()  # a reading after the settle must be covered again
    mark_after = mark.read()
    assert mark_after is not None and mark_after >= later


def test_an_unreadable_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "clock-mark"
    path.write_text("not a time")
    assert ClockMark(path).read() is None
    assert ClockMark(tmp_path / "absent").read() is None


@pytest.fixture
def crash_config(tmp_path: Path) -> Callable[[ManualClock], SandboxConfig]:
    def make(real: ManualClock) -> SandboxConfig:
        return SandboxConfig(data_dir=tmp_path / "crash", epoch=EPOCH, speed=60.0, real_clock=real)

    return make


def test_a_crash_resumes_at_the_reservation_not_before_the_last_reading(
    crash_config: Callable[[ManualClock], SandboxConfig],
) -> None:
    real = ManualClock(EPOCH)
    first = Sandbox(crash_config(real))
    real.tick(2.5)
    last = first.clock.now()
    first.store.close()  # a crash: no close(), so no settle

    second = Sandbox(crash_config(real))
    try:
        resumed = second.clock.now()
        assert last <= resumed <= last + timedelta(seconds=60)  # at most 1 real s × 60 ahead
    finally:
        second.close()


def test_a_clean_restart_resumes_exactly_where_it_stopped(
    crash_config: Callable[[ManualClock], SandboxConfig],
) -> None:
    real = ManualClock(EPOCH)
    first = Sandbox(crash_config(real))
    real.tick(2.5)
    first.close()
    stopped = first.clock.now()  # no time passes on the manual clock after close
    real.tick(3600)  # downtime: the simulation pauses
    second = Sandbox(crash_config(real))
    try:
        assert second.clock.now() == stopped == EPOCH + timedelta(seconds=150)
    finally:
        second.close()


# --- a real process, killed -----------------------------------------------------------------------


@pytest.fixture
def process(tmp_path: Path) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"data_dir": tmp_path / "clock", "port": free_port()}
    state["process"] = start_process(state["data_dir"], state["port"], speed=SPEED)
    yield state
    if state["process"].poll() is None:
        state["process"].kill()
        state["process"].wait()


def _reading(http: httpx.Client) -> datetime:
    response = http.get("/sandbox/v1/clock")
    assert response.status_code == 200, response.text
    return parse_time(response.json()["now"])


def test_first_reading_after_sigkill_is_not_before_the_last_one_served(
    process: dict[str, Any],
) -> None:
    base = f"http://127.0.0.1:{process['port']}"
    with httpx.Client(base_url=base, timeout=10) as http:
        wait_healthy(http, process["process"])
        # Read as fast as one client can while the clock runs at 3000× (the sandbox's clock routes
        # are not rate-limited), then kill right after the last answer.
        readings = [_reading(http)]
        deadline = time.monotonic() + WATCH_S
        while time.monotonic() < deadline:
            readings.append(_reading(http))
        os.kill(process["process"].pid, signal.SIGKILL)
    process["process"].wait()
    last = readings[-1]
    assert readings == sorted(readings)

    process["process"] = start_process(process["data_dir"], process["port"], speed=SPEED)
    with httpx.Client(base_url=base, timeout=10) as http:
        wait_healthy(http, process["process"])
        first = _reading(http)
    assert first >= last, f"the clock went back {(last - first).total_seconds():g} s"
    mark = ClockMark(Path(process["data_dir"]) / "clock-mark").read()
    assert mark is not None and mark >= first
