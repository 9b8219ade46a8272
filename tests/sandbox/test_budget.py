"""Money: price quotes, holds, spending, cancellation fees, insufficient funds."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.sandbox import seed
from tasking.sandbox.pricing import task_price
from tests.sandbox.conftest import HELSINKI, login, run_until, task_body

TASKS = "/api/tasking/v2/tasks"
SUMMARY = f"/api/company/v1/contracts/{seed.PRICED_CONTRACT_ID}/summary"
# The priced contract's defaults: COMMERCIAL, SLA_8H, PUBLIC.
PRICE = task_price("SPOTLIGHT", "COMMERCIAL", "SLA_8H", "PUBLIC", HELSINKI["lat"])


def _priced(**fields: Any) -> dict[str, Any]:
    return task_body(contractID=seed.PRICED_CONTRACT_ID, **fields)


def _price_query(**fields: Any) -> dict[str, Any]:
    """A getPrice query on the priced contract that its rules allow, with ``fields`` changed."""
    return {
        "contractID": seed.PRICED_CONTRACT_ID,
        "imagingMode": "SPOTLIGHT",
        "pointOfInterest[lat]": 1,
        "pointOfInterest[lon]": 2,
        "exclusivity": "PUBLIC",
        "priority": "COMMERCIAL",
        "sla": "SLA_8H",
        "eula": "STANDARD",
        **fields,
    }


def _summary(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(SUMMARY, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_summary_starts_empty_with_the_spend_limit(
    client: TestClient, demo: dict[str, str]
) -> None:
    assert _summary(client, demo) == {
        "contractID": seed.PRICED_CONTRACT_ID,
        "consolidatedSpent": 0,
        "currency": "USD",
        "onHold": 0,
        "spendLimit": seed.PRICED_SPEND_LIMIT,
    }


def test_price_quote_matches_what_a_created_task_puts_on_hold(
    client: TestClient, demo: dict[str, str]
) -> None:
    quote = client.get(
        "/api/tasking/v2/price",
        params={
            "contractID": seed.PRICED_CONTRACT_ID,
            "imagingMode": "SPOTLIGHT",
            "pointOfInterest[lat]": HELSINKI["lat"],
            "pointOfInterest[lon]": HELSINKI["lon"],
            "exclusivity": "PUBLIC",
            "priority": "COMMERCIAL",
            "sla": "SLA_8H",
            "eula": "STANDARD",
        },
        headers=demo,
    )
    assert quote.json() == {"amount": PRICE, "currency": "USD"}
    assert client.post(TASKS, json=_priced(), headers=demo).status_code == 201
    assert _summary(client, demo)["onHold"] == PRICE


def test_hold_moves_to_spent_when_the_task_completes(
    client: TestClient, demo: dict[str, str]
) -> None:
    task = client.post(TASKS, json=_priced(), headers=demo).json()
    run_until(client, demo, task["id"], {"DONE"})
    summary = _summary(client, demo)
    assert (summary["onHold"], summary["consolidatedSpent"]) == (0, PRICE)


def test_a_failed_capture_releases_the_hold_without_charge(client_for: Any) -> None:
    client = client_for(failure_rate=1.0)
    headers = login(client)
    task = client.post(TASKS, json=_priced(), headers=headers).json()
    run_until(client, headers, task["id"], {"FAILED"})
    summary = _summary(client, headers)
    assert (summary["onHold"], summary["consolidatedSpent"]) == (0, 0)


@pytest.mark.parametrize(
    ("start_in_h", "percent"),
    [(80, 0), (60, 10), (30, 20), (13, 100)],
    ids=["over-72h-free", "72-48h-10pct", "48-24h-20pct", "under-24h-full"],
)
def test_cancel_charges_the_fee_tier_and_releases_the_rest(
    client: TestClient, demo: dict[str, str], start_in_h: float, percent: int
) -> None:
    task = client.post(TASKS, json=_priced(start_in_h=start_in_h), headers=demo).json()
    response = client.patch(f"{TASKS}/{task['id']}", json={"status": "CANCELED"}, headers=demo)
    assert response.status_code == 200
    summary = _summary(client, demo)
    assert summary["onHold"] == 0
    assert summary["consolidatedSpent"] == PRICE * percent // 100


def test_creating_beyond_the_budget_is_refused_with_err_insufficient_funds(
    client: TestClient, demo: dict[str, str]
) -> None:
    affordable = seed.PRICED_SPEND_LIMIT // PRICE
    for _ in range(affordable):
        assert client.post(TASKS, json=_priced(), headers=demo).status_code == 201
    response = client.post(TASKS, json=_priced(), headers=demo)
    assert response.status_code == 400
    assert response.json() == {
        "code": "ERR_INSUFFICIENT_FUNDS",
        "message": "could not create task: insufficient funds",
    }
    assert _summary(client, demo)["onHold"] == affordable * PRICE


def test_feasibility_reports_insufficient_funds_per_item(
    client: TestClient, demo: dict[str, str]
) -> None:
    affordable = seed.PRICED_SPEND_LIMIT // PRICE
    for _ in range(affordable):
        client.post(TASKS, json=_priced(), headers=demo)
    response = client.post("/api/tasking/v2/feasibility", json=[_priced()], headers=demo)
    verdict = response.json()["feasibility"][0]
    assert verdict["result"] == verdict["status"] == "INFEASIBLE"
    assert verdict["reason"].startswith("insufficient funds")


def test_contract_without_pricing_has_no_summary_and_no_price(
    client: TestClient, demo: dict[str, str]
) -> None:
    summary = client.get(
        f"/api/company/v1/contracts/{seed.BROAD_CONTRACT_ID}/summary", headers=demo
    )
    assert summary.status_code == 404
    assert "no pricing plan" in summary.json()["message"]
    price = client.get(
        "/api/tasking/v2/price",
        params={
            "contractID": seed.BROAD_CONTRACT_ID,
            "imagingMode": "SPOTLIGHT",
            "pointOfInterest[lat]": 1,
            "pointOfInterest[lon]": 2,
            "exclusivity": "PRIVATE",
            "priority": "COMMERCIAL",
            "sla": "SLA_8H",
            "eula": "STANDARD",
        },
        headers=demo,
    )
    assert price.status_code == 404


def test_price_refuses_values_the_contract_does_not_allow(
    client: TestClient, demo: dict[str, str]
) -> None:
    response = client.get(
        "/api/tasking/v2/price",
        params=_price_query(imagingMode="SCAN_WIDE", sla="SLA_3H"),
        headers=demo,
    )
    assert response.status_code == 400
    message = response.json()["message"]
    assert "imagingMode SCAN_WIDE is not allowed" in message
    assert "sla SLA_3H is not allowed" in message
    assert "contract-allowed rule" in message


def test_price_model_charges_more_for_faster_finer_and_private() -> None:
    base = task_price("SPOTLIGHT", "COMMERCIAL", "SLA_8H", "PUBLIC", 10.0)
    assert task_price("SPOTLIGHT", "COMMERCIAL", "SLA_3H", "PUBLIC", 10.0) > base
    assert task_price("SPOTLIGHT_FINE", "COMMERCIAL", "SLA_8H", "PUBLIC", 10.0) > base
    assert task_price("SPOTLIGHT", "COMMERCIAL", "SLA_8H", "PRIVATE", 10.0) > base
    assert task_price("SPOTLIGHT", "BACKGROUND", "SLA_24H", "PUBLIC", 10.0) < base
    assert base % 100 == 0  # whole currency units


def test_price_refuses_a_point_off_the_globe_with_the_task_rules_ids(
    client: TestClient, demo: dict[str, str]
) -> None:
    response = client.get(
        "/api/tasking/v2/price",
        params=_price_query(**{"pointOfInterest[lat]": 91, "pointOfInterest[lon]": -181}),
        headers=demo,
    )
    assert response.status_code == 400
    message = response.json()["message"]
    assert "pointOfInterest[lat]: The latitude must be between -90 and 90" in message
    assert "(latitude-range rule)" in message and "(longitude-range rule)" in message
