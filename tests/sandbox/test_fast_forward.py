"""``POST /sandbox/v1/tasks/{taskID}/fast-forward``: the global clock moves for one task's sake, to
its next event or on to its final status, and the world stays what event-by-event jumps make it:
other tasks' earlier events run first, at their own times, and nothing runs early."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.auth import ClientCredentialsAuth
from tasking.errors import NotFound
from tasking.monitoring import TERMINAL
from tasking.sandbox import core, seed
from tasking.sandbox.control import SandboxControl
from tests.sandbox.conftest import (
    EPOCH,
    ROOT,
    advance,
    history,
    login,
    sim_now,
    task_body,
)

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def fast_forward(
    client: TestClient, headers: dict[str, str], task_id: str, to: str = "next-event"
) -> dict[str, Any]:
    response = client.post(
        f"/sandbox/v1/tasks/{task_id}/fast-forward", json={"to": to}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def create(client: TestClient, headers: dict[str, str], **fields: Any) -> str:
    response = client.post(
        "/api/tasking/v2/tasks", json=task_body(sim_now(client), **fields), headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def status(client: TestClient, headers: dict[str, str], task_id: str) -> str:
    return str(client.get(f"/api/tasking/v2/tasks/{task_id}", headers=headers).json()["status"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def busy_sandbox(client: TestClient, headers: dict[str, str]) -> tuple[list[str], str]:
    """Three other tasks made first (their events come earlier), then the task under test."""
    others = [create(client, headers, reference=f"other {i}") for i in range(3)]
    advance(client, 30)
    return others, create(client, headers, reference="mine")


def test_next_event_stops_exactly_at_each_of_the_tasks_events_while_others_run_first(
    client: TestClient, demo: dict[str, str]
) -> None:
    others, mine = busy_sandbox(client, demo)
    assert at(client.get("/sandbox/v1/clock").json()["nextEvent"]) == EPOCH + timedelta(minutes=1)

    decided = fast_forward(client, demo, mine)

    # The others' decisions (due 30 s earlier) ran on the way; the clock stopped at ours.
    assert at(decided["clock"]["now"]) == EPOCH + timedelta(seconds=90)
    assert decided["events"] == 1
    assert decided["task"]["id"] == mine and decided["task"]["status"] == "ACTIVE"
    assert [status(client, demo, t) for t in others] == ["ACTIVE"] * 3
    assert decided["task"] == client.get(f"/api/tasking/v2/tasks/{mine}", headers=demo).json()
    assert decided["clock"] == client.get("/sandbox/v1/clock").json()

    planned = client.get(f"/api/tasking/v2/tasks/{mine}/scene", headers=demo).json()
    captured = fast_forward(client, demo, mine)

    assert captured["events"] == 1
    assert at(captured["clock"]["now"]) == at(planned["imagingTime"]["start"])
    assert history(client, demo, mine)[-1]["kind"] == "captured"
    assert history(client, demo, mine)[-1]["at"] == captured["clock"]["now"]

    fulfilled = fast_forward(client, demo, mine)

    assert fulfilled["events"] == 1
    assert fulfilled["task"]["status"] == "DONE"  # SLA products only: straight to DONE
    assert fulfilled["clock"]["now"] == history(client, demo, mine)[-1]["at"]


def test_next_event_never_runs_an_event_early(client: TestClient, demo: dict[str, str]) -> None:
    _, mine = busy_sandbox(client, demo)

    answer = fast_forward(client, demo, mine)

    now = answer["clock"]["now"]
    upcoming = answer["clock"]["nextEvent"]
    assert upcoming is None or at(upcoming) > at(now)
    for task in client.get("/api/tasking/v2/tasks", headers=demo).json()["data"]:
        assert at(task["updatedAt"]) <= at(now)


def test_final_reaches_a_final_status_in_one_call(client: TestClient, demo: dict[str, str]) -> None:
    others, mine = busy_sandbox(client, demo)

    answer = fast_forward(client, demo, mine, "final")

    assert answer["task"]["status"] in TERMINAL
    assert answer["task"]["status"] == "DONE"
    steps = history(client, demo, mine)
    assert answer["events"] == len(steps) - 1  # everything after "received"
    assert answer["clock"]["now"] == steps[-1]["at"]
    assert all(status(client, demo, t) != "RECEIVED" for t in others)  # the world moved too


def test_a_final_task_answers_zero_events_and_leaves_the_clock(
    client: TestClient, demo: dict[str, str]
) -> None:
    _, mine = busy_sandbox(client, demo)
    cancel = {"status": "CANCELED"}
    assert client.patch(f"/api/tasking/v2/tasks/{mine}", json=cancel, headers=demo).is_success
    before = client.get("/sandbox/v1/clock").json()

    for to in ("next-event", "final"):
        answer = fast_forward(client, demo, mine, to)

        assert answer["events"] == 0
        assert answer["task"]["status"] == "CANCELED"
        assert answer["clock"] == before
    assert client.get("/sandbox/v1/clock").json() == before


def test_final_is_bounded_by_events_and_by_the_longest_jump(
    client: TestClient, demo: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = create(client, demo)
    monkeypatch.setattr(core, "MAX_FAST_FORWARD_EVENTS", 1)

    answer = fast_forward(client, demo, mine, "final")

    assert (answer["events"], answer["task"]["status"]) == (1, "ACTIVE")
    before = client.get("/sandbox/v1/clock").json()
    monkeypatch.setattr(core, "MAX_ADVANCE_S", 60.0)  # the capture is hours away

    assert fast_forward(client, demo, mine, "final")["events"] == 0
    assert client.get("/sandbox/v1/clock").json() == before


def test_another_companys_task_is_the_same_404_as_its_history(
    client: TestClient, demo: dict[str, str], northwind: dict[str, str]
) -> None:
    mine = create(client, demo)
    before = client.get("/sandbox/v1/clock").json()
    path = f"/sandbox/v1/tasks/{mine}/fast-forward"

    refused = client.post(path, json={"to": "final"}, headers=northwind)
    same = client.get(f"/sandbox/v1/tasks/{mine}/history", headers=northwind)

    assert refused.status_code == same.status_code == 404
    assert refused.json() == same.json()
    unknown = client.post(
        f"/sandbox/v1/tasks/{UNKNOWN}/fast-forward", json={"to": "final"}, headers=demo
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == refused.json()["code"] == "not_found"
    assert client.post(path, json={"to": "final"}).status_code == 401
    assert client.get("/sandbox/v1/clock").json() == before
    assert status(client, demo, mine) == "RECEIVED"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"to": "tomorrow"},
        {"to": "next-event", "seconds": 5},
        {"seconds": 60},
        {"to": 1},
        {"to": None},
        {"to": ["final"]},
        ["final"],
        "final",
    ],
    ids=repr,
)
def test_bad_bodies_are_400_like_the_clock_routes(
    client: TestClient, demo: dict[str, str], body: Any
) -> None:
    mine = create(client, demo)
    before = client.get("/sandbox/v1/clock").json()

    response = client.post(f"/sandbox/v1/tasks/{mine}/fast-forward", json=body, headers=demo)

    assert response.status_code == 400, response.text
    assert set(response.json()) == {"code", "message"}
    if body != {"seconds": 60}:  # the one body the clock's own route takes
        assert client.post("/sandbox/v1/clock/advance", json=body).status_code == 400
    assert client.get("/sandbox/v1/clock").json() == before


def test_malformed_bodies_and_ids_are_400(client: TestClient, demo: dict[str, str]) -> None:
    mine = create(client, demo)
    path = f"/sandbox/v1/tasks/{mine}/fast-forward"
    json_headers = {**demo, "Content-Type": "application/json"}

    assert client.post(path, content=b"{not json", headers=json_headers).status_code == 400
    assert client.post(path, headers=demo).status_code == 400  # no body
    bad_id = client.post("/sandbox/v1/tasks/not-a-uuid/fast-forward", json={"to": "final"},
                         headers=demo)  # fmt: skip
    assert bad_id.status_code == 400
    assert "uuid" in bad_id.json()["message"]


def test_the_control_client_fast_forwards_with_the_companys_auth(client: TestClient) -> None:
    headers = login(client)
    mine = create(client, headers)
    control = SandboxControl(ROOT, http=client)
    demo = ClientCredentialsAuth(f"{ROOT}/v1/token", seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET)
    northwind = ClientCredentialsAuth(
        f"{ROOT}/v1/token", seed.NORTHWIND_CLIENT_ID, seed.NORTHWIND_CLIENT_SECRET
    )

    with pytest.raises(NotFound):
        control.fast_forward(mine, "final", auth=northwind)
    result = control.fast_forward(mine, "final", auth=demo)

    assert result.task.id == mine and result.task.status == "DONE"
    assert result.events == len(history(client, headers, mine)) - 1
    assert result.clock == control.clock()
    again = control.fast_forward(mine, "next-event", auth=demo)
    assert (again.events, again.clock) == (0, result.clock)


def test_the_answer_is_the_shape_the_openapi_document_declares(
    client: TestClient, demo: dict[str, str]
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/sandbox/v1/tasks/{taskID}/fast-forward"]["post"]
    declared = operation["responses"]["200"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**declared, "components": spec["components"]})
    mine = create(client, demo)

    for to in ("next-event", "final", "final"):
        answer = fast_forward(client, demo, mine, to)
        validator.validate(answer)
        assert set(answer) == {"task", "clock", "events"}
    assert {"400", "401", "404", "413", "429"} <= set(operation["responses"])
    assert "other tasks move too" in operation["description"]
