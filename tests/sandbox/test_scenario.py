"""``POST /sandbox/v1/scenario``: the calling company's world replaced by a demo world made by the
sandbox's own machinery (createTask, the scheduler on the simulation clock, cancelTask): a task at
every stage at real ports and straits, reasons where a task ended badly, products that download,
and nothing of another company touched. The same seed gives the same world, and a second load
replaces the first."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.auth import ClientCredentialsAuth
from tasking.sandbox import scenario, seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.core import Sandbox
from tasking.sandbox.pricing import task_price
from tasking.sandbox.scenario import REFERENCE_PREFIX, scenario_places
from tests.sandbox.conftest import (
    ROOT,
    ManualClock,
    advance,
    history,
    login,
    sim_now,
    task_body,
)

EVERY_STAGE = {"DONE", "FULFILLED", "ACTIVE", "RECEIVED", "REJECTED", "CANCELED", "FAILED"}
TASKS = "/api/tasking/v2/tasks"


def load(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/sandbox/v1/scenario", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def by_status(loaded: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in loaded["tasks"]:
        found.setdefault(item["task"]["status"], []).append(item["task"])
    return found


def listed(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(TASKS, params={"limit": 1000}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def create(client: TestClient, headers: dict[str, str], **fields: Any) -> str:
    response = client.post(TASKS, json=task_body(sim_now(client), **fields), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def world(loaded: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What a scenario is, without its ids: references, statuses, orders and status times."""
    return [
        (
            item["task"]["reference"],
            item["task"]["status"],
            item["task"]["imagingMode"],
            item["task"]["pointOfInterest"],
            item["task"]["acquisitionWindow"],
            [s["status"] for s in item["statuses"]],
        )
        for item in loaded["tasks"]
    ]


def at(scene: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(scene["imagingTime"]["start"].replace("Z", "+00:00"))


def counter_ids() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: str(uuid.UUID(int=next(numbers), version=4))


def test_a_task_at_every_stage_at_real_places_around_the_globe(
    client: TestClient, demo: dict[str, str]
) -> None:
    loaded = load(client, demo)

    stages = by_status(loaded)
    assert set(stages) >= EVERY_STAGE, Counter(item["task"]["status"] for item in loaded["tasks"])
    assert len(stages["DONE"]) >= 5
    assert len(stages["ACTIVE"]) >= 3
    # Every task is one the API serves: the list is exactly the scenario, newest first.
    made = [item["task"]["id"] for item in loaded["tasks"]]
    assert sorted(t["id"] for t in listed(client, demo)) == sorted(made)
    # Real places (the gazetteer's points), far apart: every hemisphere and continent-wide.
    points = {(p.lat, p.lon): p.label for p in scenario_places()}
    for item in loaded["tasks"]:
        task = item["task"]
        point = (task["pointOfInterest"]["lat"], task["pointOfInterest"]["lon"])
        assert task["reference"].startswith(REFERENCE_PREFIX + points[point]), task["reference"]
    lats = [t["pointOfInterest"]["lat"] for item in loaded["tasks"] for t in [item["task"]]]
    lons = [t["pointOfInterest"]["lon"] for item in loaded["tasks"] for t in [item["task"]]]
    assert min(lats) < -10 and max(lats) > 30
    assert max(lons) - min(lons) > 180
    # Each task's statuses are its history's, in lifecycle order, ending with its status now.
    for item in loaded["tasks"]:
        reached = [s["status"] for s in item["statuses"]]
        assert reached[0] == "RECEIVED" and reached[-1] == item["task"]["status"]
        steps = [h["status"] for h in history(client, demo, item["task"]["id"])]
        assert reached == list(dict.fromkeys(steps))
    assert loaded["clock"] == client.get("/sandbox/v1/clock").json()


def test_scenes_match_the_stages_captured_planned_and_none_before_a_decision(
    client: TestClient, demo: dict[str, str]
) -> None:
    loaded = load(client, demo)
    stages = by_status(loaded)

    kinds = {t["id"]: [h["kind"] for h in history(client, demo, t["id"])] for t in stages["ACTIVE"]}
    assert any("captured" in k for k in kinds.values()), kinds  # products due within the SLA
    assert any("captured" not in k for k in kinds.values()), kinds  # a planned scene only
    for task in stages["ACTIVE"] + stages["DONE"] + stages["FULFILLED"]:
        scene = client.get(f"{TASKS}/{task['id']}/scene", headers=demo)
        assert scene.status_code == 200, scene.text
    for task in stages["RECEIVED"] + stages["REJECTED"] + stages["CANCELED"]:
        assert client.get(f"{TASKS}/{task['id']}/scene", headers=demo).status_code == 404


def test_the_rejected_and_the_failed_task_say_why(client: TestClient, demo: dict[str, str]) -> None:
    loaded = load(client, demo)
    stages = by_status(loaded)

    (rejected,) = stages["REJECTED"]
    why = history(client, demo, rejected["id"])[-1]["detail"]["reason"]
    assert why.startswith("no pass satisfies the task's constraints in its window"), why
    (failed,) = stages["FAILED"]
    assert failed["priority"] == "BACKGROUND"
    why = history(client, demo, failed["id"])[-1]["detail"]["reason"]
    assert why.startswith("displaced by COMMERCIAL task "), why
    # The task that took its pass is in the scenario: same place and window, COMMERCIAL, done.
    winner = next(item["task"] for item in loaded["tasks"] if item["task"]["id"] in why)
    assert winner["priority"] == "COMMERCIAL" and winner["status"] == "DONE"
    assert winner["pointOfInterest"] == failed["pointOfInterest"]
    assert winner["acquisitionWindow"] == failed["acquisitionWindow"]
    (canceled,) = stages["CANCELED"]
    last = history(client, demo, canceled["id"])[-1]
    assert last["kind"] == "canceled" and last["detail"]["feePercent"] == 0  # > 72 h ahead


def test_finished_tasks_have_quicklooks_that_download(
    client: TestClient, demo: dict[str, str]
) -> None:
    stages = by_status(load(client, demo))

    for task in stages["DONE"] + stages["FULFILLED"]:
        products = client.get(f"{TASKS}/{task['id']}/products", headers=demo)
        assert products.status_code == 200, products.text
        links = [
            item["assets"]["quicklook-png"]["href"]
            for item in products.json()["data"]
            if "quicklook-png" in item["assets"]
        ]
        assert links, task["reference"]
        image = client.get(links[0])
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG")
    # The FULFILLED task still waits for its SICD; the DONE one that ordered SICD has it.
    (fulfilled,) = stages["FULFILLED"]
    assert "SICD" in fulfilled["productTypes"]
    assert client.get(f"{TASKS}/{fulfilled['id']}/products/SICD", headers=demo).status_code == 404


def test_the_company_starts_afresh_and_other_companies_are_untouched(
    client: TestClient, demo: dict[str, str], northwind: dict[str, str]
) -> None:
    # Northwind's task is planned far ahead: the clock's days of scenario leave it ACTIVE.
    theirs = create(
        client,
        northwind,
        contractID=seed.NARROW_CONTRACT_ID,
        imagingMode="STRIPMAP",
        start_in_h=24 * 8,
        reference="Northwind's own",
    )
    advance(client, 61)  # its decision
    old = [create(client, demo, reference=f"old {i}") for i in range(3)]
    priced = create(client, demo, contractID=seed.PRICED_CONTRACT_ID)
    client.post(f"/sandbox/v1/tasks/{priced}/fast-forward", json={"to": "final"}, headers=demo)
    before = client.get(f"{TASKS}/{theirs}", headers=northwind).json()
    before_history = history(client, northwind, theirs)
    assert before["status"] == "ACTIVE"

    loaded = load(client, demo)

    assert sorted(loaded["removed"]) == sorted([*old, priced])
    for task_id in loaded["removed"]:
        assert client.get(f"{TASKS}/{task_id}", headers=demo).status_code == 404
        assert client.get(f"/sandbox/v1/tasks/{task_id}/history", headers=demo).status_code == 404
    assert client.get(f"{TASKS}/{theirs}", headers=northwind).json() == before
    assert history(client, northwind, theirs) == before_history
    assert [t["id"] for t in listed(client, northwind)] == [theirs]
    # The priced contract's budget holds only the scenario's orders now.
    stages = by_status(loaded)
    summary = client.get(
        f"/api/company/v1/contracts/{seed.PRICED_CONTRACT_ID}/summary", headers=demo
    ).json()

    def price(task: dict[str, Any]) -> int:
        return task_price(task["imagingMode"], task["priority"], task["sla"],
                          task["exclusivity"], task["pointOfInterest"]["lat"])  # fmt: skip

    on_priced = [i["task"] for i in loaded["tasks"]
                 if i["task"]["contractID"] == seed.PRICED_CONTRACT_ID]  # fmt: skip
    assert {t["status"] for t in on_priced} == {"DONE", "ACTIVE", "CANCELED"}
    assert summary["consolidatedSpent"] == sum(price(t) for t in stages["DONE"] if t in on_priced)
    assert summary["onHold"] == sum(price(t) for t in stages["ACTIVE"] if t in on_priced)


def test_loading_again_replaces_the_scenario_with_the_same_world(
    client: TestClient, demo: dict[str, str]
) -> None:
    first = load(client, demo)
    second = load(client, demo)

    assert sorted(second["removed"]) == sorted(i["task"]["id"] for i in first["tasks"])
    assert {i["task"]["id"] for i in first["tasks"]}.isdisjoint(
        i["task"]["id"] for i in second["tasks"]
    )
    assert len(listed(client, demo)) == len(second["tasks"]) == len(first["tasks"])
    # The same places, orders and stages (the windows follow the clock, which moved on).
    shape = [(r, s, m, p, seen) for r, s, m, p, _, seen in world(first)]
    assert [(r, s, m, p, seen) for r, s, m, p, _, seen in world(second)] == shape
    assert second["seed"] == first["seed"] == client.app.state.sandbox.seed  # type: ignore[attr-defined]


def test_a_seed_gives_the_same_world_and_another_seed_other_places(
    client_for: Callable[..., TestClient], tmp_path: Path
) -> None:
    worlds = []
    for name in ("one", "two"):
        sandbox = client_for(data_dir=tmp_path / name, id_factory=counter_ids())
        worlds.append(load(sandbox, login(sandbox), seed=7))
    assert worlds[0] == worlds[1]
    other = client_for(data_dir=tmp_path / "three", id_factory=counter_ids())
    elsewhere = load(other, login(other), seed=8)
    assert elsewhere["seed"] == 8
    assert {t[0] for t in world(elsewhere)} != {t[0] for t in world(worlds[0])}


def test_a_failure_half_way_leaves_the_old_world(
    client: TestClient, demo: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = create(client, demo, reference="keep me")
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    real_create = scenario.create_task
    calls = itertools.count()

    def breaks_on_the_fifth(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if next(calls) == 4:
            raise RuntimeError("injected failure")
        return real_create(*args, **kwargs)

    monkeypatch.setattr(scenario, "create_task", breaks_on_the_fifth)
    with pytest.raises(RuntimeError, match="injected"):
        scenario.load_scenario(sandbox, seed.DEMO_COMPANY_ID)

    assert [t["id"] for t in listed(client, demo)] == [mine]


def test_a_company_with_narrow_contracts_gets_the_stages_they_allow(
    client: TestClient, northwind: dict[str, str]
) -> None:
    loaded = load(client, northwind)

    tasks = [item["task"] for item in loaded["tasks"]]
    assert {t["contractID"] for t in tasks} == {seed.NARROW_CONTRACT_ID}  # the expired one: none
    assert {t["priority"] for t in tasks} == {"BACKGROUND"}
    stages = set(by_status(loaded))
    assert {"DONE", "ACTIVE", "RECEIVED", "REJECTED", "CANCELED"} <= stages
    # No COMMERCIAL to displace anything, no SICD to wait for: those stages are left out.
    assert not stages & {"FAILED", "FULFILLED"}
    assert not [t for t in tasks if "background" in t["reference"]]


def test_advance_until_judges_the_task_after_every_step_of_the_clock(
    client: TestClient, demo: dict[str, str], real_clock: ManualClock
) -> None:
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    task_id = create(client, demo)
    real_clock.tick(61)  # its decision falls due by itself, before the call catches up

    assert sandbox.advance_until(task_id, lambda task: task.status != "RECEIVED")

    # Decided, and no further: not carried on to its capture as a fast-forward would be.
    assert [h["kind"] for h in history(client, demo, task_id)] == ["received", "planned"]
    assert sim_now(client) < at(client.get(f"{TASKS}/{task_id}/scene", headers=demo).json())
    assert not sandbox.advance_until(task_id, lambda task: task.status == "REJECTED")
    assert history(client, demo, task_id)[-1]["status"] == "DONE"  # it ran on until final


def test_the_scenario_needs_the_companys_token_and_a_well_formed_body(
    client: TestClient, demo: dict[str, str]
) -> None:
    path = "/sandbox/v1/scenario"
    assert client.post(path).status_code == 401
    for body in ({"seed": -1}, {"seed": "7"}, {"seed": 1.5}, {"seed": True}, {"other": 1}, []):
        refused = client.post(path, json=body, headers=demo)
        assert refused.status_code == 400, (body, refused.text)
        assert set(refused.json()) == {"code", "message"}
    assert client.post(path, headers=demo).status_code == 200  # no body: the sandbox's seed


def test_the_answer_is_the_shape_the_openapi_document_declares(
    client: TestClient, demo: dict[str, str]
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/sandbox/v1/scenario"]["post"]
    declared = operation["responses"]["200"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**declared, "components": spec["components"]})

    validator.validate(load(client, demo))
    assert {"400", "401", "413", "429"} <= set(operation["responses"])
    assert "Sandbox only" in operation["description"]


def test_the_control_client_loads_the_scenario_with_the_companys_auth(
    client: TestClient,
) -> None:
    control = SandboxControl(ROOT, http=client)
    auth = ClientCredentialsAuth(f"{ROOT}/v1/token", seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET)

    loaded = control.load_demo_scenario(auth=auth)

    assert loaded.seed == client.app.state.sandbox.seed  # type: ignore[attr-defined]
    assert set(loaded.counts()) >= EVERY_STAGE
    assert sum(loaded.counts().values()) == len(loaded.tasks)
    assert loaded.clock == control.clock()
    first = loaded.tasks[0]
    assert first.statuses[0][0] == "RECEIVED"
    assert first.statuses[-1][0] == first.task.status
    again = control.load_demo_scenario(3, auth=auth)
    assert again.seed == 3 and set(again.removed) == {t.task.id for t in loaded.tasks}
