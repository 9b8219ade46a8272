"""The sandbox's raw responses against the golden JSON transcribed from ICEYE's documentation.

Only shapes are compared — key sets and JSON types, not values — so a mistake shared by the client's
models and the sandbox cannot pass: both would have to agree with the documented examples too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tasking.sandbox import seed
from tests.conftest import load_golden
from tests.sandbox.conftest import EPOCH, iso, login, run_until, task_body

TASKS = "/api/tasking/v2/tasks"
PROBLEM = {"Accept": "application/json, application/problem+json"}
# Task fields of the SPEC that the documentation's examples happen not to show (iceye-api.md §4.2);
# derivativeProductTypes is a request field only: SPEC's Task has no such field.
TASK_OPTIONAL = {"fulfilledAt", "notifications", "deliveries"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return type(value).__name__


def assert_types(actual: dict[str, Any], golden: dict[str, Any], where: str = "$") -> None:
    """Keys present in both have the same JSON type (an integer passes where a number is shown)."""
    for key in actual.keys() & golden.keys():
        got, want = _kind(actual[key]), _kind(golden[key])
        assert got == want or (want == "number" and got == "integer"), (
            f"{where}.{key}: {got} != {want}"
        )
        if isinstance(actual[key], dict) and isinstance(golden[key], dict):
            assert_types(actual[key], golden[key], f"{where}.{key}")


def assert_keys(
    actual: dict[str, Any], *, allowed: Iterable[str], required: Iterable[str] = ()
) -> None:
    keys = set(actual)
    assert keys <= set(allowed), f"undocumented keys: {keys - set(allowed)}"
    assert set(required) <= keys, f"missing keys: {set(required) - keys}"


def _done_task(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    task = client.post(TASKS, json=task_body(productTypes=["GRD", "QLK"]), headers=headers).json()
    return run_until(client, headers, task["id"], {"DONE"})


def test_token_response_and_refusal_match_the_documented_shapes(client: TestClient) -> None:
    ok = client.post(
        "/v1/token",
        data={"grant_type": "client_credentials"},
        auth=(seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET),
    ).json()
    golden = load_golden("token_response")
    assert set(ok) == set(golden)
    assert_types(ok, golden)
    refused = client.post("/v1/token", data={"grant_type": "client_credentials"}, auth=("x", "y"))
    assert set(refused.json()) == set(load_golden("token_error_invalid_client"))


def test_contracts_match_the_documented_contract_shapes(client: TestClient) -> None:
    headers = login(client)
    page = client.get("/api/company/v1/contracts", headers=headers).json()
    assert_keys(page, allowed={"data", "cursor"}, required={"data"})
    recommended = load_golden("contract_recommended")
    v1 = load_golden("contract_list_v1")["data"][0]
    for contract in page["data"]:
        assert_keys(
            contract, allowed=set(recommended) | set(v1), required=set(v1) - {"deliveryLocations"}
        )
        assert_types(contract, recommended)
        one = client.get(f"/api/company/v1/contracts/{contract['id']}", headers=headers).json()
        assert one == contract


def test_summary_and_price_match_the_documented_shapes(client: TestClient) -> None:
    headers = login(client)
    summary = client.get(
        f"/api/company/v1/contracts/{seed.PRICED_CONTRACT_ID}/summary", headers=headers
    ).json()
    golden = load_golden("contract_summary")
    assert set(summary) == set(golden)
    assert_types(summary, golden)
    price = client.get(
        "/api/tasking/v2/price",
        params={
            "contractID": seed.PRICED_CONTRACT_ID,
            "imagingMode": "SPOTLIGHT",
            "pointOfInterest[lat]": 60.1699,
            "pointOfInterest[lon]": 24.9384,
            "exclusivity": "PUBLIC",
            "priority": "COMMERCIAL",
            "sla": "SLA_8H",
            "eula": "STANDARD",
        },
        headers=headers,
    ).json()
    assert set(price) == set(load_golden("price_response"))
    assert_types(price, load_golden("price_response"))


def test_tasks_match_the_documented_task_shapes(client: TestClient) -> None:
    headers = login(client)
    full = load_golden("task_full")
    minimal = load_golden("task_cancel_response")
    created = client.post(TASKS, json=task_body(reference="golden"), headers=headers)
    assert created.status_code == 201
    for task in (
        created.json(),
        client.get(f"{TASKS}/{created.json()['id']}", headers=headers).json(),
    ):
        assert_keys(task, allowed=set(full) | TASK_OPTIONAL, required=set(minimal))
        assert_types(task, full)
    page = client.get(TASKS, headers=headers).json()
    listed = load_golden("task_list_page")
    assert_keys(page, allowed=set(listed), required={"data"})
    for item in page["data"]:
        assert_keys(
            item, allowed=set(listed["data"][0]) | TASK_OPTIONAL - {"notifications", "deliveries"}
        )
        assert_types(item, listed["data"][0])
    canceled = client.patch(
        f"{TASKS}/{created.json()['id']}", json={"status": "CANCELED"}, headers=headers
    ).json()
    assert_keys(canceled, allowed=set(full) | TASK_OPTIONAL, required=set(minimal))


def test_a_task_ordered_with_derivatives_does_not_echo_them_in_any_task_shape(
    client: TestClient,
) -> None:
    headers = login(client)
    full, minimal = load_golden("task_full"), load_golden("task_cancel_response")
    body = task_body(productTypes=["GRD"], derivativeProductTypes=["DC_VESSELS"])
    created = client.post(TASKS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    got = client.get(f"{TASKS}/{task_id}", headers=headers).json()
    listed = client.get(TASKS, headers=headers).json()["data"][0]
    canceled = client.patch(f"{TASKS}/{task_id}", json={"status": "CANCELED"}, headers=headers)
    for task in (created.json(), got, listed, canceled.json()):
        assert "derivativeProductTypes" not in task
        assert_keys(task, allowed=set(full) | TASK_OPTIONAL, required=set(minimal))
        assert_types(task, full)


def test_the_documented_create_request_is_accepted_and_its_deliveries_echoed(
    client: TestClient,
) -> None:
    headers = login(client)
    body = load_golden("task_request_migration")
    start = EPOCH + timedelta(hours=13)
    body["contractID"] = seed.BROAD_CONTRACT_ID
    body["acquisitionWindow"] = {"start": iso(start), "end": iso(start + timedelta(days=2))}
    response = client.post(TASKS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["deliveries"][0]["locations"] == body["deliveries"][0]["locations"]
    listed = client.get(TASKS, headers=headers).json()["data"][0]
    assert "deliveries" not in listed  # ListTask omits deliveries and notifications (SPEC)


def test_scene_matches_the_documented_scene_shape(client: TestClient) -> None:
    headers = login(client)
    task = client.post(TASKS, json=task_body(), headers=headers).json()
    run_until(client, headers, task["id"], {"ACTIVE"})
    scene = client.get(f"{TASKS}/{task['id']}/scene", headers=headers).json()
    golden = load_golden("scene_spec")
    assert set(scene) == set(golden)
    assert_types(scene, golden)
    assert isinstance(scene["incidenceAngle"], str)


def test_feasibility_matches_the_documented_request_and_response_shapes(
    client: TestClient,
) -> None:
    headers = login(client)
    body = load_golden("feasibility_request_doc")
    start = EPOCH + timedelta(hours=13)
    for item in body:
        item["contractID"] = seed.BROAD_CONTRACT_ID
        item["acquisitionWindow"] = {"start": iso(start), "end": iso(start + timedelta(days=1))}
    body.append({**body[0], "pointOfInterest": {"lat": -90.0, "lon": 0.0}})
    response = client.post("/api/tasking/v2/feasibility", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()
    doc, standin = (
        load_golden("feasibility_response_doc"),
        load_golden("feasibility_response_standin"),
    )
    tutorial = load_golden("feasibility_response_tutorial")
    assert set(result) == set(doc)
    assert_types(result, doc)
    item_keys = {k for i in standin["feasibility"] + doc["feasibility"] for k in i}
    feasible, infeasible = result["feasibility"]
    for item in (feasible, infeasible):
        assert_keys(item, allowed=item_keys, required=set(tutorial["feasibility"][0]) | {"status"})
    assert feasible["result"] == tutorial["feasibility"][0]["result"]
    assert feasible["status"] == doc["feasibility"][0]["status"]
    assert_types(feasible, standin["feasibility"][0])
    assert_types(infeasible, standin["feasibility"][1])
    opportunity = standin["feasibility"][0]["opportunities"][0]
    for found in feasible["opportunities"]:
        assert set(found) == set(opportunity)
        assert_types(found, opportunity)


def test_products_match_the_documented_catalog_item_shape(client: TestClient) -> None:
    headers = login(client)
    task = _done_task(client, headers)
    page = client.get(f"{TASKS}/{task['id']}/products", headers=headers).json()
    golden = load_golden("products_response_doc")
    assert_keys(page, allowed=set(golden), required={"data"})
    item_golden = golden["data"][0]
    for item in page["data"]:
        assert_keys(item, allowed=set(item_golden), required=set(item_golden))
        assert_types(item, item_golden)
        assert set(item_golden["properties"]) <= set(item["properties"])
        for asset in item["assets"].values():
            assert {"href", "title", "type"} <= set(asset)
            assert_types(asset, item_golden["assets"]["grd-tif"])
    grd = client.get(f"{TASKS}/{task['id']}/products/GRD", headers=headers).json()["data"][0]
    # ICEYE's example lists grd-tif, grd-xml, quicklook-kml and a quicklook-png cut off in the source.
    assert set(grd["assets"]) == set(item_golden["assets"]) | {"quicklook-png"}
    for key, documented in item_golden["assets"].items():
        assert {k: grd["assets"][key][k] for k in ("title", "type")} == {
            k: documented[k] for k in ("title", "type")
        }


def test_error_bodies_match_both_documented_formats(client: TestClient) -> None:
    headers = login(client)
    plain = client.get(f"/api/company/v1/contracts/{seed.NARROW_CONTRACT_ID}", headers=headers)
    assert plain.status_code == 404
    assert set(plain.json()) == set(load_golden("error_insufficient_funds"))
    problem = client.get(
        f"/api/company/v1/contracts/{seed.NARROW_CONTRACT_ID}", headers={**headers, **PROBLEM}
    )
    golden = load_golden("error_problem")
    assert set(problem.json()) == set(golden)
    assert problem.json()["title"] == golden["title"]
    assert problem.json()["reference"].endswith("/company/v1/#operation/GetContract")


def test_openapi_docs_list_every_operation_under_iceyes_operation_ids(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    iceye = {
        "getToken", "ListContracts", "GetContract", "GetSummary", "createTask", "getTasks",
        "getTask", "cancelTask", "getTaskScene", "listTaskProducts", "getTaskProduct", "getPrice",
        "checkFeasibility",
    }  # fmt: skip
    assert iceye <= operations
    assert client.get("/docs").status_code == 200
