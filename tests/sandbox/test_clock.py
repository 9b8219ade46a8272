"""The simulation clock and its ``/sandbox/v1/clock`` controls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tasking.sandbox.clock import SimClock
from tests.sandbox.conftest import EPOCH, ManualClock, login, task_body


def test_sim_time_runs_at_speed_times_real_time() -> None:
    real = ManualClock(EPOCH)
    clock = SimClock(EPOCH, 60.0, real)
    real.tick(10)
    assert clock.now() == EPOCH + timedelta(minutes=10)


def test_speed_change_keeps_the_time_reached_so_far() -> None:
    real = ManualClock(EPOCH)
    clock = SimClock(EPOCH, 60.0, real)
    real.tick(1)
    clock.set_speed(1.0)
    real.tick(1)
    assert clock.now() == EPOCH + timedelta(seconds=61)


def test_advance_jumps_and_never_goes_back() -> None:
    real = ManualClock(EPOCH)
    clock = SimClock(EPOCH, 1.0, real)
    clock.advance(3600)
    assert clock.now() == EPOCH + timedelta(hours=1)
    clock.advance_to(EPOCH)  # in the past: ignored
    assert clock.now() == EPOCH + timedelta(hours=1)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)


def test_real_clock_stepping_back_holds_sim_time_still() -> None:
    real = ManualClock(EPOCH)
    clock = SimClock(EPOCH, 10.0, real)
    real.tick(5)
    reached = clock.now()
    real.tick(-60)
    assert clock.now() == reached
    real.tick(1)
    assert clock.now() == reached + timedelta(seconds=10)


@pytest.mark.parametrize("speed", [0.5, 10_001, 0])
def test_speed_outside_1_to_10000_is_refused(speed: float) -> None:
    with pytest.raises(ValueError, match=r"1\.\.10000"):
        SimClock(EPOCH, speed, ManualClock(EPOCH))


def test_clock_route_reports_now_speed_and_next_event(client: TestClient) -> None:
    assert client.get("/sandbox/v1/clock").json() == {
        "now": "2026-05-01T08:00:00Z",
        "speed": 1.0,
        "nextEvent": None,
    }
    client.post("/api/tasking/v2/tasks", json=task_body(), headers=login(client))
    assert client.get("/sandbox/v1/clock").json()["nextEvent"] == "2026-05-01T08:01:00Z"


def test_speed_route_changes_speed_and_refuses_out_of_range(
    client: TestClient, real_clock: ManualClock
) -> None:
    assert client.put("/sandbox/v1/clock", json={"speed": 600}).json()["speed"] == 600
    real_clock.tick(6)
    assert client.get("/sandbox/v1/clock").json()["now"] == "2026-05-01T09:00:00Z"
    too_fast = client.put("/sandbox/v1/clock", json={"speed": 20000})
    assert too_fast.status_code == 400
    assert "1..10000" in too_fast.json()["message"]


def test_advance_route_accepts_seconds_or_next_event_only(client: TestClient) -> None:
    assert client.post("/sandbox/v1/clock/advance", json={"seconds": 90}).json()["now"] == (
        "2026-05-01T08:01:30Z"
    )
    unchanged = client.post("/sandbox/v1/clock/advance", json={"to": "next-event"}).json()
    assert unchanged["now"] == "2026-05-01T08:01:30Z"  # nothing scheduled: no jump
    for body in ({}, {"seconds": 5, "to": "next-event"}, {"to": "tomorrow"}, {"seconds": -5}):
        response = client.post("/sandbox/v1/clock/advance", json=body)
        assert response.status_code == 400, body
    too_far = client.post("/sandbox/v1/clock/advance", json={"seconds": 61 * 86400})
    assert too_far.status_code == 400


def test_times_shown_by_the_api_come_from_the_sim_clock(client: TestClient) -> None:
    client.post("/sandbox/v1/clock/advance", json={"seconds": 86400})
    headers = login(client)
    body = task_body(EPOCH + timedelta(days=1))
    task = client.post("/api/tasking/v2/tasks", json=body, headers=headers).json()
    assert task["createdAt"] == task["updatedAt"] == "2026-05-02T08:00:00Z"
    assert client.get("/sandbox/v1/health").json()["now"] == "2026-05-02T08:00:00Z"
