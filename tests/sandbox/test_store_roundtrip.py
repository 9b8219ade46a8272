"""What the API accepts it serves back identically, and a bad stored row never breaks a company:
rows poisoned directly in SQLite (as older sandboxes could write them, or by hand) are repaired or
left out, across restarts, and a write whose answer cannot be rendered is not committed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasking.sandbox import tasks
from tasking.sandbox.store import Store, TaskRecord, decode_time, encode_time
from tests.sandbox.conftest import advance, login, task_body

TASKS = "/api/tasking/v2/tasks"
# Valid Unicode text: every code point but the surrogates (which UTF-8 cannot encode).
UNICODE = st.characters(blacklist_categories=("Cs",))


def _database(data_dir: Path) -> Path:
    return data_dir / "sandbox.sqlite3"


def _poke(data_dir: Path, sql: str, params: tuple[Any, ...]) -> None:
    """Write to the store behind the sandbox's back."""
    with sqlite3.connect(_database(data_dir)) as conn:
        conn.execute(sql, params)


def _poison_reference(data_dir: Path, task_id: str, reference: str) -> None:
    with sqlite3.connect(_database(data_dir)) as conn:
        (text,) = conn.execute("SELECT document FROM tasks WHERE id = ?", (task_id,)).fetchone()
        document = json.loads(text)
        document["reference"] = reference
        conn.execute("UPDATE tasks SET document = ? WHERE id = ?", (json.dumps(document), task_id))


def _restart(client_for: Callable[..., TestClient], old: TestClient) -> TestClient:
    old.__exit__(None, None, None)
    return client_for()


# --- poisoned rows ---------------------------------------------------------------------------


def test_a_surrogate_poisoned_directly_in_the_store_breaks_neither_list_get_nor_patch(
    client_for: Callable[..., TestClient], data_dir: Path
) -> None:
    client = client_for()
    headers = login(client)
    healthy = client.post(TASKS, json=task_body(reference="healthy"), headers=headers).json()
    poisoned = client.post(TASKS, json=task_body(reference="x"), headers=headers).json()
    _poison_reference(data_dir, poisoned["id"], "bad \ud800 ref")

    listed = client.get(TASKS, headers=headers)
    assert listed.status_code == 200
    assert {t["id"]: t["reference"] for t in listed.json()["data"]} == {
        healthy["id"]: "healthy",
        poisoned["id"]: "bad \ufffd ref",  # a safe rendering: U+FFFD for the lone surrogate
    }
    got = client.get(f"{TASKS}/{poisoned['id']}", headers=headers)
    assert got.status_code == 200 and got.json()["reference"] == "bad \ufffd ref"
    canceled = client.patch(
        f"{TASKS}/{poisoned['id']}", json={"status": "CANCELED"}, headers=headers
    )
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"

    client = _restart(client_for, client)  # opening the store repairs the row for good
    headers = login(client)
    assert client.get(TASKS, headers=headers).status_code == 200
    got = client.get(f"{TASKS}/{poisoned['id']}", headers=headers).json()
    assert (got["status"], got["reference"]) == ("CANCELED", "bad \ufffd ref")
    with sqlite3.connect(_database(data_dir)) as conn:
        (text,) = conn.execute(
            "SELECT document FROM tasks WHERE id = ?", (poisoned["id"],)
        ).fetchone()
    assert json.loads(text)["reference"] == "bad \ufffd ref"


def test_bytes_that_are_not_utf8_in_a_stored_row_read_as_replacement_characters(
    client_for: Callable[..., TestClient], data_dir: Path
) -> None:
    client = client_for()
    headers = login(client)
    task = client.post(TASKS, json=task_body(reference="abc"), headers=headers).json()
    with sqlite3.connect(_database(data_dir)) as conn:
        (text,) = conn.execute("SELECT document FROM tasks WHERE id = ?", (task["id"],)).fetchone()
        raw = text.encode().replace(b'"abc"', b'"a\xff\xfec"')
        conn.execute("UPDATE tasks SET document = ? WHERE id = ?", (raw, task["id"]))
        conn.execute(
            "UPDATE tasks SET document = CAST(document AS TEXT) WHERE id = ?", (task["id"],)
        )
    listed = client.get(TASKS, headers=headers)
    assert listed.status_code == 200
    assert listed.json()["data"][0]["reference"] == "a\ufffd\ufffdc"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("document", "{not json"),
        ("document", "[1, 2]"),
        ("document", json.dumps({"imagingMode": "SPOTLIGHT"})),  # required fields missing
        ("document", '{"pointOfInterest": {"lat": NaN, "lon": 0}}'),
        ("created_at", "yesterday"),
        ("plan", "{broken"),
    ],
)
def test_an_unreadable_row_is_left_out_and_the_rest_of_the_company_works(
    client_for: Callable[..., TestClient], data_dir: Path, column: str, value: str
) -> None:
    client = client_for()
    headers = login(client)
    healthy = client.post(TASKS, json=task_body(reference="healthy"), headers=headers).json()
    broken = client.post(TASKS, json=task_body(reference="broken"), headers=headers).json()
    _poke(data_dir, f"UPDATE tasks SET {column} = ? WHERE id = ?", (value, broken["id"]))

    for _ in range(2):  # before and after a restart
        listed = client.get(TASKS, headers=headers)
        assert listed.status_code == 200
        assert [t["id"] for t in listed.json()["data"]] == [healthy["id"]]
        assert client.get(f"{TASKS}/{healthy['id']}", headers=headers).status_code == 200
        for method in ("GET", "PATCH"):
            response = client.request(
                method, f"{TASKS}/{broken['id']}", json={"status": "CANCELED"}, headers=headers
            )
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "not_found"
        advance(client)  # the scheduler runs both tasks' decisions: the broken one is dropped
        assert client.get(f"{TASKS}/{healthy['id']}", headers=headers).json()["status"] in {
            "ACTIVE",
            "REJECTED",
        }
        client = _restart(client_for, client)
        headers = login(client)


def test_an_unreadable_plan_of_an_active_task_holds_no_satellite_time(
    client_for: Callable[..., TestClient], data_dir: Path
) -> None:
    client = client_for()
    headers = login(client)
    first = client.post(TASKS, json=task_body(), headers=headers).json()
    advance(client)
    assert client.get(f"{TASKS}/{first['id']}", headers=headers).json()["status"] == "ACTIVE"
    _poke(data_dir, "UPDATE tasks SET plan = ? WHERE id = ?", ('{"satellite": 1}', first["id"]))
    feasible = client.post("/api/tasking/v2/feasibility", json=[task_body()], headers=headers)
    assert feasible.status_code == 200
    second = client.post(TASKS, json=task_body(), headers=headers)
    assert second.status_code == 201


# --- writes commit only with their answer ----------------------------------------------------


def test_a_create_whose_answer_cannot_be_rendered_saves_nothing(
    client_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for()
    headers = login(client)
    real = tasks.json_bytes

    def failing(payload: Any) -> bytes:
        if payload.get("reference") == "unrenderable":
            raise ValueError("cannot render")
        return real(payload)

    monkeypatch.setattr(tasks, "json_bytes", failing)
    response = client.post(TASKS, json=task_body(reference="unrenderable"), headers=headers)
    assert response.status_code == 500
    assert response.json() == {
        "code": "internal_error",
        "message": "the task could not be rendered; nothing was saved",
    }
    assert client.get(TASKS, headers=headers).json() == {"data": []}
    assert client.get("/sandbox/v1/clock").json()["nextEvent"] is None  # no event either


def test_a_cancel_whose_answer_cannot_be_rendered_changes_nothing(
    client_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for()
    headers = login(client)
    task = client.post(TASKS, json=task_body(reference="x"), headers=headers).json()
    real = tasks.json_bytes

    def failing(payload: Any) -> bytes:
        if payload.get("status") == "CANCELED":
            raise ValueError("cannot render")
        return real(payload)

    monkeypatch.setattr(tasks, "json_bytes", failing)
    response = client.patch(f"{TASKS}/{task['id']}", json={"status": "CANCELED"}, headers=headers)
    assert response.status_code == 500
    monkeypatch.setattr(tasks, "json_bytes", real)
    assert client.get(f"{TASKS}/{task['id']}", headers=headers).json()["status"] == "RECEIVED"


# --- round trips (property tests) ------------------------------------------------------------


def test_any_valid_text_the_api_accepts_is_served_back_identically(
    client_for: Callable[..., TestClient],
) -> None:
    # One sandbox for every example (hypothesis reruns the body, not the fixtures); a rate limit
    # far above the examples' pace, since the test's real clock stands still.
    client = client_for(rate_burst=1e9)
    headers = login(client)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        reference=st.text(UNICODE, max_size=256),
        path=st.text(UNICODE, max_size=1024),
        sub_path=st.text(UNICODE, max_size=64),
    )
    def round_trip(reference: str, path: str, sub_path: str) -> None:
        location = {"configID": "c", "path": path, "subPath": sub_path}
        body = task_body(reference=reference, deliveries=[{"locations": [location]}])
        created = client.post(TASKS, content=json.dumps(body), headers=headers | _JSON)
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        got = client.get(f"{TASKS}/{task_id}", headers=headers).json()
        for task in (created.json(), got):
            assert task["reference"] == reference
            assert task["deliveries"][0]["locations"][0] == location
        listed = client.get(TASKS, params={"limit": 1}, headers=headers).json()["data"][0]
        assert (listed["id"], listed["reference"]) == (task_id, reference)

    round_trip()


_JSON = {"Content-Type": "application/json"}


def test_any_text_with_a_lone_surrogate_is_refused_and_never_stored(
    client_for: Callable[..., TestClient],
) -> None:
    client = client_for(rate_burst=1e9)
    headers = login(client)

    @settings(max_examples=40, deadline=None)
    @given(
        head=st.text(UNICODE, max_size=20),
        surrogate=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        tail=st.text(UNICODE, max_size=20),
    )
    def refused(head: str, surrogate: str, tail: str) -> None:
        body = task_body(reference=head + surrogate + tail)
        response = client.post(TASKS, content=json.dumps(body), headers=headers | _JSON)
        assert response.status_code == 400
        assert "text-encoding rule" in response.json()["message"]

    refused()
    assert client.get(TASKS, headers=headers).json() == {"data": []}


@settings(max_examples=200, deadline=None)
@given(
    first=st.datetimes(min_value=datetime(1, 1, 1), timezones=st.just(UTC)),
    second=st.datetimes(min_value=datetime(1, 1, 1), timezones=st.just(UTC)),
)
def test_stored_times_round_trip_and_sort_as_times(first: datetime, second: datetime) -> None:
    assert decode_time(encode_time(first)) == first
    assert (encode_time(first) < encode_time(second)) == (first < second)
    assert len(encode_time(first)) == len(encode_time(second))


_JSONABLE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(UNICODE, max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(UNICODE, max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(extra=st.dictionaries(st.text(UNICODE, max_size=10), _JSONABLE, max_size=5))
def test_a_task_document_round_trips_through_the_store(
    tmp_path: Path, extra: dict[str, Any]
) -> None:
    store = Store(tmp_path / "roundtrip.sqlite3")
    try:
        now = datetime(2026, 5, 1, tzinfo=UTC)
        record = TaskRecord(
            id=f"t{len(store.tasks_in_status(['RECEIVED']))}",
            company_id="c",
            contract_id="k",
            created_at=now,
            updated_at=now + timedelta(seconds=1),
            status="RECEIVED",
            priority="COMMERCIAL",
            document=extra,
        )
        store.insert_task(record)
        back = store.get_task(record.id)
        assert back is not None and back.document == extra
        assert (back.created_at, back.updated_at) == (record.created_at, record.updated_at)
    finally:
        store.close()
