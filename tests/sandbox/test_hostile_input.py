"""Hostile and out-of-range input gets a 400 in ICEYE's error body naming the field and the rule,
never a 500, and nothing of it reaches the store (routes/deps.py is the edge)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.passes import Pass
from tasking.sandbox import feasibility, seed
from tasking.sandbox.planning import Slot
from tests.sandbox.conftest import EPOCH, iso, task_body

TASKS = "/api/tasking/v2/tasks"
FEASIBILITY = "/api/tasking/v2/feasibility"
JSON = {"Content-Type": "application/json"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _post(client: TestClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    """POST with the body's JSON written by hand: ``json.dumps`` keeps a lone surrogate as the
    escape ``\\ud800``, exactly what a hostile client sends."""
    return client.post(path, content=json.dumps(body), headers={**headers, **JSON})


def assert_refused(response: Any, *words: str, status: int = 400) -> str:
    """ICEYE's plain error body, naming each of ``words`` (fields, rules)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == ("bad_request" if status == 400 else body["code"])
    for word in words:
        assert word in body["message"], (word, body["message"])
    return str(body["message"])


def _no_tasks(client: TestClient, headers: dict[str, str]) -> None:
    listed = client.get(TASKS, headers=headers)
    assert listed.status_code == 200 and listed.json() == {"data": []}


# --- text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"reference": "\ud800"}, "reference"),
        ({"reference": "ok \udfff tail"}, "reference"),
        ({"deliveries": [{"locations": [{"configID": "\ud800", "path": "/x"}]}]}, "configID"),
        ({"deliveries": [{"locations": [{"configID": "c", "path": "/\udc80"}]}]}, "path"),
        ({"notifications": {"webhook": {"id": "\udfff"}}}, "webhook.id"),
        ({"imagingMode": "SPOT\ud800"}, "imagingMode"),
        ({"sla": "\ud800"}, "sla"),
        ({"eula": "\ud800"}, "eula"),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_create_is_a_400_and_the_company_stays_healthy(
    client: TestClient, demo: dict[str, str], fields: dict[str, Any], named: str
) -> None:
    response = _post(client, TASKS, task_body(**fields), demo)
    assert_refused(response, named, "text-encoding rule")
    _no_tasks(client, demo)
    feasible = _post(client, FEASIBILITY, [task_body(**fields)], demo)
    assert_refused(feasible, "item 0", "text-encoding rule")


def test_oversized_strings_and_lists_without_a_documented_limit_get_the_sandbox_s_limits(
    client: TestClient, demo: dict[str, str]
) -> None:
    long_path = task_body(deliveries=[{"locations": [{"configID": "c", "path": "p" * 1025}]}])
    assert_refused(client.post(TASKS, json=long_path, headers=demo), "path", "text-length rule")
    many = task_body(deliveries=[{"locations": [{"configID": "c", "path": "/"}]}] * 11)
    assert_refused(client.post(TASKS, json=many, headers=demo), "deliveries", "list-length rule")
    deep = task_body(deliveries=[{"locations": [{"configID": "c", "path": "/"}] * 11}])
    assert_refused(client.post(TASKS, json=deep, headers=demo), "locations", "list-length rule")
    mode = task_body(imagingMode="S" * 100_000)
    message = assert_refused(client.post(TASKS, json=mode, headers=demo), "imagingMode")
    assert len(message) < 1000  # the refusal never echoes a huge input back
    _no_tasks(client, demo)


def test_reference_longer_than_256_characters_is_refused(
    client: TestClient, demo: dict[str, str]
) -> None:
    ok = client.post(TASKS, json=task_body(reference="r" * 256), headers=demo)
    assert ok.status_code == 201 and ok.json()["reference"] == "r" * 256
    long = client.post(TASKS, json=task_body(reference="r" * 257), headers=demo)
    assert_refused(long, "reference", "reference-length rule")


# --- product types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"productTypes": ["GRD"] * 10_000}, ("productTypes", "10000 entries", "at most 11")),
        ({"productTypes": ["GRD", "QLK", "GRD"]}, ("productTypes", "GRD", "unique-items rule")),
        ({"productTypes": ["GRD", "JPEG"]}, ("productTypes", "'JPEG'", "product-type-enum rule")),
        (
            {"productTypes": ["GRD"], "derivativeProductTypes": ["DC_VESSELS"] * 4},
            ("derivativeProductTypes", "at most 3", "list-length rule"),
        ),
        (
            {"productTypes": ["GRD"], "derivativeProductTypes": ["DC_SHIPS"]},
            ("derivativeProductTypes", "'DC_SHIPS'", "product-type-enum rule"),
        ),
    ],
)
def test_product_type_lists_are_limited_to_the_known_types_each_once(
    client: TestClient, demo: dict[str, str], fields: dict[str, Any], words: tuple[str, ...]
) -> None:
    assert_refused(client.post(TASKS, json=task_body(**fields), headers=demo), *words)
    assert_refused(client.post(FEASIBILITY, json=[task_body(**fields)], headers=demo), *words)
    _no_tasks(client, demo)


def test_every_known_product_type_once_is_within_the_limit(
    client: TestClient, demo: dict[str, str]
) -> None:
    body = task_body(imagingMode="SPOTLIGHT_EXTENDED_DWELL", productTypes=["GRD", "SLC", "QLK"])
    assert client.post(TASKS, json=body, headers=demo).status_code == 201


def test_an_unknown_product_type_in_the_path_is_a_400(
    client: TestClient, demo: dict[str, str]
) -> None:
    task = client.post(TASKS, json=task_body(), headers=demo).json()
    response = client.get(f"{TASKS}/{task['id']}/products/JPEG", headers=demo)
    assert_refused(response, "productType", "product-type-enum rule")
    known = client.get(f"{TASKS}/{task['id']}/products/GRD", headers=demo)
    assert known.status_code == 404  # known type, not ready yet


# --- ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["missing", "1234", UNKNOWN[:-1], UNKNOWN + "0", "null"])
def test_a_malformed_task_id_is_a_400_on_every_task_route(
    client: TestClient, demo: dict[str, str], bad: str
) -> None:
    for method, path in [
        ("GET", f"{TASKS}/{bad}"),
        ("GET", f"{TASKS}/{bad}/scene"),
        ("GET", f"{TASKS}/{bad}/products"),
        ("GET", f"{TASKS}/{bad}/products/GRD"),
        ("GET", f"/sandbox/v1/tasks/{bad}/history"),
    ]:
        assert_refused(client.request(method, path, headers=demo), "taskID", "uuid-format rule")
    cancel = client.patch(f"{TASKS}/{bad}", json={"status": "CANCELED"}, headers=demo)
    assert_refused(cancel, "taskID", "uuid-format rule")
    unknown = client.get(f"{TASKS}/{UNKNOWN}", headers=demo)
    assert unknown.status_code == 404  # well formed but unknown: still 404


def test_a_task_id_in_upper_case_is_the_same_task(client: TestClient, demo: dict[str, str]) -> None:
    task = client.post(TASKS, json=task_body(), headers=demo).json()
    got = client.get(f"{TASKS}/{task['id'].upper()}", headers=demo)
    assert got.status_code == 200 and got.json()["id"] == task["id"]


def test_a_malformed_contract_id_is_a_400_in_body_query_and_path(
    client: TestClient, demo: dict[str, str]
) -> None:
    bad = "not-a-contract"
    create = client.post(TASKS, json=task_body(contractID=bad), headers=demo)
    assert_refused(create, "contractID", "uuid-format rule")
    feasible = client.post(FEASIBILITY, json=[task_body(contractID=bad)], headers=demo)
    assert_refused(feasible, "contractID", "uuid-format rule")
    listed = client.get(TASKS, params={"contractID": bad}, headers=demo)
    assert_refused(listed, "contractID", "uuid-format rule")
    price = client.get(
        "/api/tasking/v2/price",
        params={
            "contractID": bad,
            "imagingMode": "SPOTLIGHT",
            "pointOfInterest[lat]": 60,
            "pointOfInterest[lon]": 25,
            "exclusivity": "PUBLIC",
            "priority": "COMMERCIAL",
            "sla": "SLA_8H",
            "eula": "STANDARD",
        },
        headers=demo,
    )
    assert_refused(price, "contractID", "uuid-format rule")
    for path in (f"/api/company/v1/contracts/{bad}", f"/api/company/v1/contracts/{bad}/summary"):
        assert_refused(client.get(path, headers=demo), "contractID", "uuid-format rule")
    unknown = client.post(TASKS, json=task_body(contractID=UNKNOWN), headers=demo)
    assert unknown.status_code == 404
    _no_tasks(client, demo)


def test_a_contract_id_in_upper_case_is_normalised(
    client: TestClient, demo: dict[str, str]
) -> None:
    body = task_body(contractID=seed.BROAD_CONTRACT_ID.upper())
    created = client.post(TASKS, json=body, headers=demo)
    assert created.status_code == 201 and created.json()["contractID"] == seed.BROAD_CONTRACT_ID
    listed = client.get(TASKS, params={"contractID": seed.BROAD_CONTRACT_ID.upper()}, headers=demo)
    assert [t["id"] for t in listed.json()["data"]] == [created.json()["id"]]


def test_a_malformed_webhook_id_is_a_400(client: TestClient, demo: dict[str, str]) -> None:
    body = task_body(notifications={"webhook": {"id": "hook"}})
    assert_refused(client.post(TASKS, json=body, headers=demo), "webhook.id", "uuid-format rule")


# --- times -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        ("0001-01-01T00:00:00+01:00", "2026-05-03T00:00:00Z", "acquisitionWindow.start"),
        ("2026-05-02T00:00:00Z", "9999-12-31T23:00:00-05:00", "acquisitionWindow.end"),
    ],
)
def test_a_window_outside_the_years_utc_can_hold_is_a_400_on_create_and_feasibility(
    client: TestClient, demo: dict[str, str], start: str, end: str, named: str
) -> None:
    body = task_body(acquisitionWindow={"start": start, "end": end})
    assert_refused(client.post(TASKS, json=body, headers=demo), named, "time-range rule")
    assert_refused(client.post(FEASIBILITY, json=[body], headers=demo), named, "time-range rule")
    _no_tasks(client, demo)


def test_a_window_in_year_1_or_9999_in_utc_gets_the_window_rules_not_a_500(
    client: TestClient, demo: dict[str, str]
) -> None:
    body = task_body(
        acquisitionWindow={"start": "0001-01-01T00:00:00Z", "end": "9999-12-31T23:59:59Z"}
    )
    response = client.post(TASKS, json=body, headers=demo)
    assert_refused(response, "lead-time rule", "max-14-days-ahead rule")
    assert client.post(FEASIBILITY, json=[body], headers=demo).status_code == 403


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("createdAfter", "0001-01-01T00:00:00+01:00"),
        ("createdBefore", "9999-12-31T23:59:59-05:00"),
        ("createdAfter", "yesterday"),
        ("createdBefore", "0.5"),  # not seconds since 1970: RFC 3339 text only
        ("createdAfter", "2026-05-01"),  # a date is not a date-time
    ],
)
def test_created_filters_out_of_range_are_a_400(
    client: TestClient, demo: dict[str, str], name: str, value: str
) -> None:
    assert_refused(client.get(TASKS, params={name: value}, headers=demo), name)


def test_created_filters_at_the_ends_of_time_in_utc_are_served(
    client: TestClient, demo: dict[str, str]
) -> None:
    task = client.post(TASKS, json=task_body(), headers=demo).json()
    wide = {"createdAfter": "0001-01-01T00:00:00Z", "createdBefore": "9999-12-31T23:59:59Z"}
    listed = client.get(TASKS, params=wide, headers=demo)
    assert [t["id"] for t in listed.json()["data"]] == [task["id"]]


@pytest.fixture
def new_york() -> Iterator[None]:
    """The process runs in New York time (UTC-4 in May), as a server outside UTC would."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    mp.undo()
    time.tzset()


def test_a_naive_created_filter_is_utc_whatever_the_server_s_zone(
    new_york: None, client: TestClient, demo: dict[str, str], real_clock: Any
) -> None:
    first = client.post(TASKS, json=task_body(), headers=demo).json()  # created at EPOCH (08:00Z)
    real_clock.tick(600)
    second = client.post(TASKS, json=task_body(EPOCH + timedelta(minutes=10)), headers=demo).json()
    naive = (EPOCH + timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    after = client.get(TASKS, params={"createdAfter": naive}, headers=demo).json()["data"]
    before = client.get(TASKS, params={"createdBefore": naive}, headers=demo).json()["data"]
    assert [t["id"] for t in after] == [second["id"]]
    assert [t["id"] for t in before] == [first["id"]]


def test_a_naive_window_is_utc(client: TestClient, demo: dict[str, str]) -> None:
    start = EPOCH + timedelta(hours=13)
    window = {
        "start": start.replace(tzinfo=None).isoformat(),
        "end": (start + timedelta(hours=48)).replace(tzinfo=None).isoformat(),
    }
    created = client.post(TASKS, json=task_body(acquisitionWindow=window), headers=demo)
    assert created.status_code == 201, created.text
    assert created.json()["acquisitionWindow"]["start"] == iso(start)


# --- paging ----------------------------------------------------------------------------------


def _cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "position",
    [
        {"createdAt": "2026-05-01T08:00:00Z", "seq": 10**30},
        {"createdAt": "2026-05-01T08:00:00Z", "seq": -1},
        {"createdAt": "2026-05-01T08:00:00Z", "seq": True},
        {"createdAt": "2026-05-01T08:00:00Z", "seq": 1.5},
        {"createdAt": None, "seq": 1},
        {"createdAt": "0001-01-01T00:00:00+01:00", "seq": 1},
        {"createdAt": "not a time", "seq": 1},
        {"seq": 1},
        [1, 2],
    ],
)
def test_a_forged_cursor_is_a_400(client: TestClient, demo: dict[str, str], position: Any) -> None:
    response = client.get(TASKS, params={"cursor": _cursor(position)}, headers=demo)
    assert_refused(response, "cursor")


@pytest.mark.parametrize("path", [TASKS, "/api/company/v1/contracts"])
def test_limit_runs_from_1_to_ICEYEs_documented_10000(
    client: TestClient, demo: dict[str, str], path: str
) -> None:
    assert client.get(path, params={"limit": 10_000}, headers=demo).status_code == 200
    for bad in (0, 10_001, -1, 10**30):
        assert_refused(client.get(path, params={"limit": bad}, headers=demo), "limit")


# --- feasibility order -----------------------------------------------------------------------


def _slot(minutes: float, *displaced: str) -> Slot:
    start = EPOCH + timedelta(hours=20, minutes=minutes)
    p = Pass(
        satellite=f"S{minutes:g}",
        time=start + timedelta(seconds=5),
        incidence=30.0,
        look_side="RIGHT",
        pass_direction="ASCENDING",
        off_nadir=27.0,
        slant_range_km=650.0,
        heading=350.0,
        sub_lat=0.0,
        sub_lon=0.0,
    )
    return Slot(p, start, start + timedelta(seconds=10), 10, tuple(displaced))


def test_feasibility_opportunities_are_in_time_order_when_free_and_displacing_slots_mix(
    client: TestClient, demo: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The planner's order: free slots first, then the ones that would displace BACKGROUND tasks.
    planned = [_slot(300), _slot(400), _slot(100, "bg-1"), _slot(200, "bg-2")]
    monkeypatch.setattr(feasibility, "find_slots", lambda *a, **k: planned)
    response = client.post(FEASIBILITY, json=[task_body()], headers=demo)
    assert response.status_code == 200, response.text
    times = [o["imagingStartTime"] for o in response.json()["feasibility"][0]["opportunities"]]
    assert times == sorted(times) and len(times) == 4


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sandbox/v1/clock", {"speed": True}),
        ("/sandbox/v1/clock/advance", {"seconds": "60"}),
    ],
)
def test_clock_controls_take_numbers_not_booleans_or_text(
    client: TestClient, path: str, body: dict[str, object]
) -> None:
    method = client.put if path.endswith("/clock") else client.post
    assert method(path, json=body).status_code == 400
