"""Task lifecycle on the simulation clock: decisions, captures, SLA, displacement, failures."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tasking.sandbox import seed
from tasking.sandbox.core import Sandbox
from tasking.sandbox.planning import imaging_interval
from tests.sandbox.conftest import EPOCH, advance, history, iso, login, run_until, task_body

TASKS = "/api/tasking/v2/tasks"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _create(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(TASKS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_task_walks_received_active_fulfilled_done_as_the_clock_jumps(
    client: TestClient, demo: dict[str, str]
) -> None:
    body = task_body(productTypes=["GRD", "QLK", "SICD"], sla="SLA_3H")
    task = _create(client, demo, body)
    assert task["status"] == "RECEIVED"
    assert client.get(f"{TASKS}/{task['id']}/scene", headers=demo).status_code == 404
    assert client.get(f"{TASKS}/{task['id']}/products", headers=demo).status_code == 404

    clock = advance(client)  # the decision, one minute later
    assert clock["now"] == "2026-05-01T08:01:00Z"
    active = client.get(f"{TASKS}/{task['id']}", headers=demo).json()
    assert active["status"] == "ACTIVE"
    scene = client.get(f"{TASKS}/{task['id']}/scene", headers=demo).json()
    start, end = _time(scene["imagingTime"]["start"]), _time(scene["imagingTime"]["end"])
    window = body["acquisitionWindow"]
    assert _time(window["start"]) <= start < end <= _time(window["end"])
    assert (end - start).total_seconds() == scene["duration"] == 10  # Spot's nominal duration
    assert 20.0 <= float(scene["incidenceAngle"]) <= 40.0  # the default: Spot's performant range
    assert clock["nextEvent"] == scene["imagingTime"]["start"]

    advance(client)  # capture: the scene locks, the task stays ACTIVE
    assert client.get(f"{TASKS}/{task['id']}", headers=demo).json()["status"] == "ACTIVE"
    assert client.get(f"{TASKS}/{task['id']}/scene", headers=demo).json() == scene

    advance(client)  # SLA_3H after the end of imaging
    fulfilled = client.get(f"{TASKS}/{task['id']}", headers=demo).json()
    assert fulfilled["status"] == "FULFILLED"
    assert _time(fulfilled["fulfilledAt"]) == end + timedelta(hours=3)
    products = client.get(f"{TASKS}/{task['id']}/products", headers=demo).json()["data"]
    assert [p["properties"]["sar:product_type"] for p in products] == ["GRD", "QLK"]

    advance(client)  # the non-SLA SICD is ready two hours later
    done = client.get(f"{TASKS}/{task['id']}", headers=demo).json()
    assert done["status"] == "DONE"
    assert done["fulfilledAt"] == fulfilled["fulfilledAt"]
    products = client.get(f"{TASKS}/{task['id']}/products", headers=demo).json()["data"]
    assert [p["properties"]["sar:product_type"] for p in products] == ["GRD", "QLK", "SICD"]
    kinds = [(h["kind"], h["status"]) for h in history(client, demo, task["id"])]
    assert kinds == [
        ("received", "RECEIVED"),
        ("planned", "ACTIVE"),
        ("captured", "ACTIVE"),
        ("fulfilled", "FULFILLED"),
        ("done", "DONE"),
    ]


def test_task_without_non_sla_products_goes_straight_to_done_with_fulfilled_at(
    client: TestClient, demo: dict[str, str]
) -> None:
    task = _create(client, demo, task_body())
    done = run_until(client, demo, task["id"], {"DONE", "FULFILLED"})
    assert done["status"] == "DONE"
    assert "fulfilledAt" in done
    assert "FULFILLED" not in [h["status"] for h in history(client, demo, task["id"])]


def test_task_at_the_pole_is_rejected_because_no_satellite_passes(
    client: TestClient, demo: dict[str, str]
) -> None:
    task = _create(client, demo, task_body(pointOfInterest={"lat": 90.0, "lon": 0.0}))
    rejected = run_until(client, demo, task["id"], {"REJECTED", "ACTIVE"})
    assert rejected["status"] == "REJECTED"
    reason = history(client, demo, task["id"])[-1]["detail"]["reason"]
    assert "no satellite passes" in reason
    assert client.get(f"{TASKS}/{task['id']}/scene", headers=demo).status_code == 404


def test_task_is_rejected_when_no_pass_meets_narrow_incidence_side_and_direction(
    client: TestClient, demo: dict[str, str]
) -> None:
    body = task_body(
        width_h=24,
        incidenceAngle={"min": 10, "max": 11},
        lookSide="LEFT",
        passDirection="ASCENDING",
    )
    task = _create(client, demo, body)
    rejected = run_until(client, demo, task["id"], {"REJECTED", "ACTIVE"})
    assert rejected["status"] == "REJECTED"
    reason = history(client, demo, task["id"])[-1]["detail"]["reason"]
    assert reason.startswith("no pass satisfies the task's constraints")


def _unique_pass(sandbox: Sandbox, start: datetime, end: datetime) -> dict[str, Any]:
    """A point whose earliest usable pass is the only one of its kind in the window.

    "Of its kind": same look side and pass direction, incidence within the surrounding whole
    degrees. A task with those constraints can only be planned on that pass.
    """
    for lat in range(-50, 55, 5):
        lon = 20.0
        passes = [
            p
            for p in sandbox.world.passes(float(lat), lon, start, end)
            if 10 <= p.incidence <= 45
            and imaging_interval(p, 10)[0] > start
            and imaging_interval(p, 10)[1] < end
        ]
        if not passes:
            continue
        first = passes[0]
        low, high = math.floor(first.incidence), math.ceil(first.incidence)
        same = [
            p
            for p in passes
            if low <= p.incidence <= high
            and p.look_side == first.look_side
            and p.pass_direction == first.pass_direction
        ]
        if same == [first] and low >= 10 and high <= 45:
            return {
                "point": {"lat": float(lat), "lon": lon},
                "pass": first,
                "narrow": {
                    "incidenceAngle": {"min": low, "max": high},
                    "lookSide": first.look_side,
                    "passDirection": first.pass_direction,
                },
            }
    raise AssertionError("no point with a unique pass found")


def _displacement_setup(
    client: TestClient, demo: dict[str, str], background_fields: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    start = EPOCH + timedelta(hours=25)
    end = start + timedelta(hours=24)
    scenario = _unique_pass(sandbox, start, end)
    window = {"start": iso(start), "end": iso(end)}
    common = {"pointOfInterest": scenario["point"], "acquisitionWindow": window}
    background = _create(
        client,
        demo,
        task_body(priority="BACKGROUND", sla="SLA_24H", **common, **background_fields),
    )
    advance(client)  # its decision: it takes the earliest usable pass
    before = client.get(f"{TASKS}/{background['id']}/scene", headers=demo).json()
    assert _time(before["imagingTime"]["start"]) == imaging_interval(scenario["pass"], 10)[0]
    commercial = _create(client, demo, task_body(**common, **scenario["narrow"]))
    advance(client)  # the COMMERCIAL decision
    return background, commercial, before


def test_commercial_task_displaces_background_which_is_replanned_on_another_pass(
    client: TestClient, demo: dict[str, str]
) -> None:
    wide = {"incidenceAngle": {"min": "FULL_RANGE", "max": "FULL_RANGE"}}
    background, commercial, before = _displacement_setup(client, demo, wide)

    commercial_scene = client.get(f"{TASKS}/{commercial['id']}/scene", headers=demo).json()
    assert commercial_scene["imagingTime"] == before["imagingTime"]  # it took that slot
    moved = client.get(f"{TASKS}/{background['id']}", headers=demo).json()
    assert moved["status"] == "ACTIVE"
    after = client.get(f"{TASKS}/{background['id']}/scene", headers=demo).json()
    assert after["imagingTime"] != before["imagingTime"]
    replanned = [h for h in history(client, demo, background["id"]) if h["kind"] == "replanned"]
    assert [h["detail"]["displacedBy"] for h in replanned] == [commercial["id"]]


def test_displaced_background_task_fails_when_no_other_pass_fits(
    client: TestClient, demo: dict[str, str]
) -> None:
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    start = EPOCH + timedelta(hours=25)
    narrow = _unique_pass(sandbox, start, start + timedelta(hours=24))["narrow"]
    background, commercial, _ = _displacement_setup(client, demo, narrow)

    assert client.get(f"{TASKS}/{commercial['id']}", headers=demo).json()["status"] == "ACTIVE"
    failed = client.get(f"{TASKS}/{background['id']}", headers=demo).json()
    assert failed["status"] == "FAILED"
    assert history(client, demo, background["id"])[-1]["detail"]["displacedBy"] == commercial["id"]
    assert client.get(f"{TASKS}/{background['id']}/scene", headers=demo).status_code == 404


def test_a_commercial_task_never_displaces_another_commercial_one(
    client: TestClient, demo: dict[str, str]
) -> None:
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    start = EPOCH + timedelta(hours=25)
    scenario = _unique_pass(sandbox, start, start + timedelta(hours=24))
    window = {"start": iso(start), "end": iso(start + timedelta(hours=24))}
    fields = {
        "pointOfInterest": scenario["point"],
        "acquisitionWindow": window,
        **scenario["narrow"],
    }
    first = _create(client, demo, task_body(**fields))
    second = _create(client, demo, task_body(**fields))
    advance(client)  # both decisions fall due at the same instant, first come first served

    assert client.get(f"{TASKS}/{first['id']}", headers=demo).json()["status"] == "ACTIVE"
    assert client.get(f"{TASKS}/{second['id']}", headers=demo).json()["status"] == "REJECTED"
    assert history(client, demo, second["id"])[-1]["detail"]["reason"].startswith("no capacity")


def test_every_capture_fails_at_failure_rate_one(client_for: Any) -> None:
    client = client_for(failure_rate=1.0)
    headers = login(client)
    task = _create(client, headers, task_body())
    advance(client)
    assert client.get(f"{TASKS}/{task['id']}", headers=headers).json()["status"] == "ACTIVE"
    advance(client)  # the capture
    failed = client.get(f"{TASKS}/{task['id']}", headers=headers).json()
    assert failed["status"] == "FAILED"
    assert "failure rate" in history(client, headers, task["id"])[-1]["detail"]["reason"]
    assert client.get("/sandbox/v1/clock").json()["nextEvent"] is None


def test_cancel_frees_the_task_and_a_second_cancel_is_refused(
    client: TestClient, demo: dict[str, str]
) -> None:
    task = _create(client, demo, task_body())
    advance(client)
    response = client.patch(f"{TASKS}/{task['id']}", json={"status": "CANCELED"}, headers=demo)
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELED"
    assert client.get(f"{TASKS}/{task['id']}/scene", headers=demo).status_code == 404
    assert client.get("/sandbox/v1/clock").json()["nextEvent"] is None

    again = client.patch(f"{TASKS}/{task['id']}", json={"status": "CANCELED"}, headers=demo)
    assert again.status_code == 400
    assert again.json() == {
        "code": "ERR_INVALID_STATUS",
        "message": "task cannot be canceled in status CANCELED (only RECEIVED or ACTIVE)",
    }


def test_cancel_of_a_done_task_is_refused_and_changes_nothing(
    client: TestClient, demo: dict[str, str]
) -> None:
    task = _create(client, demo, task_body())
    done = run_until(client, demo, task["id"], {"DONE"})
    response = client.patch(f"{TASKS}/{task['id']}", json={"status": "CANCELED"}, headers=demo)
    assert response.status_code == 400
    assert response.json()["code"] == "ERR_INVALID_STATUS"
    assert client.get(f"{TASKS}/{task['id']}", headers=demo).json() == done


def test_cancel_body_other_than_status_canceled_is_a_400(
    client: TestClient, demo: dict[str, str]
) -> None:
    task = _create(client, demo, task_body())
    for body in ({}, {"status": "DONE"}, {"status": "CANCELED", "reason": "x"}):
        response = client.patch(f"{TASKS}/{task['id']}", json=body, headers=demo)
        assert response.status_code == 400, body
    assert client.get(f"{TASKS}/{task['id']}", headers=demo).json()["status"] == "RECEIVED"


def test_events_due_together_are_processed_lazily_before_a_request(
    client: TestClient, demo: dict[str, str], real_clock: Any
) -> None:
    task = _create(client, demo, task_body())
    real_clock.tick(3 * 86400)  # three days pass at 1×: no clock call, just a poll
    fresh = login(client)  # the old token expired meanwhile (tokens live an hour of real time)
    assert client.get(f"{TASKS}/{task['id']}", headers=fresh).json()["status"] == "DONE"


def test_narrow_contract_defaults_are_filled_in_and_its_background_task_completes(
    client: TestClient, northwind: dict[str, str]
) -> None:
    body = task_body(contractID=seed.NARROW_CONTRACT_ID, imagingMode="STRIPMAP", start_in_h=25)
    task = _create(client, northwind, body)
    assert {k: task[k] for k in ("priority", "sla", "exclusivity", "productTypes")} == {
        "priority": "BACKGROUND",
        "sla": "SLA_24H",
        "exclusivity": "PUBLIC",
        "productTypes": ["GRD", "QLK"],
    }
    assert task["incidenceAngle"] == {"min": 15, "max": 35}  # Strip's performant range
    assert task["productsAvailableInSeconds"] == 24 * 3600
    done = run_until(client, northwind, task["id"], {"DONE"})
    scene = client.get(f"{TASKS}/{task['id']}/scene", headers=northwind).json()
    assert _time(done["fulfilledAt"]) == _time(scene["imagingTime"]["end"]) + timedelta(hours=24)


def test_narrow_contract_refuses_what_it_does_not_allow(
    client: TestClient, northwind: dict[str, str]
) -> None:
    body = task_body(
        contractID=seed.NARROW_CONTRACT_ID,
        start_in_h=25,
        priority="COMMERCIAL",
        derivativeProductTypes=["DC_VESSELS"],
        productTypes=["GRD"],
    )
    response = client.post(TASKS, json=body, headers=northwind)
    assert response.status_code == 400
    message = response.json()["message"]
    assert "Imaging mode SPOTLIGHT is not allowed" in message
    assert "Priority COMMERCIAL is not allowed" in message
    assert "derivative-contract rule" in message


def test_background_task_with_an_8_h_sla_is_refused_by_the_priority_sla_rule(
    client: TestClient, demo: dict[str, str]
) -> None:
    body = task_body(priority="BACKGROUND", sla="SLA_8H", start_in_h=25)
    response = client.post(TASKS, json=body, headers=demo)
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("sla: ") and "priority-sla rule" in message
    assert client.get(TASKS, headers=demo).json()["data"] == []  # nothing was created
    _create(client, demo, {**body, "sla": "SLA_24H"})  # the same order with its 24 h SLA is taken
