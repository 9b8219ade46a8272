"""The project's own TaskingClient drives the in-process sandbox through every operation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasking.errors import (
    BadRequest,
    Forbidden,
    InsufficientFunds,
    NotFound,
    RateLimited,
    Unauthorized,
)
from tasking.models import TaskRequest
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.pricing import task_price
from tests.sandbox.conftest import EPOCH, HELSINKI, advance, login, task_body, tasking_client


def _request(**fields: Any) -> TaskRequest:
    return TaskRequest.model_validate(task_body(**fields))


def test_contracts_summary_and_price_through_the_client(client: TestClient) -> None:
    with tasking_client(client) as api:
        contracts = list(api.iter_contracts(limit=1))
        assert [c.id for c in contracts] == [seed.BROAD_CONTRACT_ID, seed.PRICED_CONTRACT_ID]
        broad = api.get_contract(seed.BROAD_CONTRACT_ID)
        assert "SPOTLIGHT_EXTENDED_DWELL" in broad.imagingModes.allowed
        assert broad.priority.allowed == ["COMMERCIAL", "BACKGROUND"]
        assert broad.product_types_for("SCAN") == ["GRD", "GRD-COG", "QLK"]
        priced = api.get_contract(seed.PRICED_CONTRACT_ID)
        summary = api.get_contract_summary(priced.id)
        assert summary.available == seed.PRICED_SPEND_LIMIT
        price = api.get_price(_request(contractID=priced.id), priced)
        assert price.currency == "USD" and price.amount > 0
        with pytest.raises(NotFound):
            api.get_contract_summary(broad.id)
        with pytest.raises(NotFound):
            api.get_contract("00000000-0000-4000-8000-000000000000")


def test_feasibility_create_monitor_and_download_through_the_client(client: TestClient) -> None:
    control = SandboxControl("http://testserver", http=client)
    with tasking_client(client) as api:
        request = _request(reference="client walk", productTypes=["GRD", "QLK"])
        verdict = api.check_feasibility([request]).feasibility[0]
        assert verdict.feasible
        assert verdict.opportunities and verdict.opportunities[0].lookSide in ("LEFT", "RIGHT")

        task = api.create_task(request)
        assert task.status == "RECEIVED" and task.reference == "client walk"
        assert task.priority == "COMMERCIAL" and task.sla == "SLA_8H"  # contract defaults
        assert task.incidenceAngle is not None and (
            task.incidenceAngle.min,
            task.incidenceAngle.max,
        ) == (20, 40)
        with pytest.raises(NotFound):
            api.get_scene(task.id)
        with pytest.raises(NotFound):
            api.list_products(task.id)

        control.advance()
        assert api.get_task(task.id).status == "ACTIVE"
        scene = api.get_scene(task.id)
        assert scene.lookSide == verdict.opportunities[0].lookSide
        assert scene.imagingTime.start == verdict.opportunities[0].imagingStartTime

        for _ in range(5):  # capture, then delivery
            if api.get_task(task.id).status == "DONE":
                break
            control.advance()
        assert api.get_task(task.id).status == "DONE"
        products = api.list_products(task.id)
        assert [p.product_type for p in products] == ["GRD", "QLK"]
        grd = api.list_products(task.id, "GRD")[0]
        assert set(grd.assets) == {"grd-tif", "grd-xml", "quicklook-kml", "quicklook-png"}
        png = api.fetch_asset(grd.assets["quicklook-png"].href)
        assert png.startswith(b"\x89PNG")
        metadata = api.fetch_asset(grd.assets["grd-xml"].href)
        assert b"<satellite_name>" in metadata


def test_list_tasks_pages_newest_first_and_filters(client: TestClient, real_clock: Any) -> None:
    with tasking_client(client) as api:
        made = []
        for index in range(5):
            made.append(api.create_task(_request(reference=f"t{index}")).id)
            real_clock.tick(10)
        page = api.list_tasks(limit=2)
        assert [t.id for t in page.data] == made[:-3:-1]
        assert page.next_cursor
        assert [t.id for t in api.iter_tasks(limit=2)] == made[::-1]
        assert [t.id for t in api.iter_tasks(contract_id=seed.PRICED_CONTRACT_ID)] == []
        after = api.list_tasks(created_after=EPOCH + timedelta(seconds=15))
        assert [t.id for t in after.data] == made[:1:-1]
        before = api.list_tasks(created_before=EPOCH + timedelta(seconds=15))
        assert [t.id for t in before.data] == made[1::-1]
        last = api.list_tasks(limit=5)
        assert last.cursor is None  # no cursor field on the last page
        with pytest.raises(BadRequest):
            api.list_tasks(limit=10_001)  # ICEYE: 0..10000 (iceye-api.md §1.1)
        with pytest.raises(BadRequest):
            api.list_tasks(cursor="not-a-cursor")


def test_cancel_through_the_client_and_refusal_in_a_final_status(client: TestClient) -> None:
    with tasking_client(client) as api:
        task = api.create_task(_request())
        assert api.cancel_task(task.id).status == "CANCELED"
        with pytest.raises(BadRequest) as refused:
            api.cancel_task(task.id)
        assert refused.value.code == "ERR_INVALID_STATUS"


def test_errors_arrive_as_the_clients_error_tree(client: TestClient) -> None:
    with tasking_client(client) as api:
        with pytest.raises(NotFound) as missing:
            api.get_task("00000000-0000-4000-8000-000000000000")
        assert missing.value.code == "not_found"
        assert missing.value.title == "Task Not Found"  # the client asks for problem+json
        with pytest.raises(BadRequest) as bad:
            api.create_task(_request(incidenceAngle={"min": 30, "max": 20}))
        assert "incidence-order rule" in bad.value.message
        with pytest.raises(Forbidden) as forbidden:
            api.check_feasibility([_request(start_in_h=2)])
        assert "lead-time rule" in forbidden.value.message
        price = task_price("SPOTLIGHT", "COMMERCIAL", "SLA_8H", "PRIVATE", HELSINKI["lat"])
        for _ in range(seed.PRICED_SPEND_LIMIT // price):
            api.create_task(_request(contractID=seed.PRICED_CONTRACT_ID, exclusivity="PRIVATE"))
        with pytest.raises(InsufficientFunds):
            api.create_task(_request(contractID=seed.PRICED_CONTRACT_ID, exclusivity="PRIVATE"))
    with tasking_client(client, secret="wrong") as stranger, pytest.raises(Unauthorized):
        stranger.list_contracts()


def test_rate_limit_reaches_the_client_as_rate_limited_with_retry_after(client_for: Any) -> None:
    client = client_for(rate_per_s=0.5, rate_burst=2.0)
    with tasking_client(client) as api:
        api.list_contracts()
        api.list_contracts()
        with pytest.raises(RateLimited) as limited:
            api.list_contracts()
        assert limited.value.retry_after == 2.0


def test_feasibility_gives_both_documented_verdict_fields(client: TestClient) -> None:
    with tasking_client(client) as api:
        response = api.check_feasibility(
            [_request(), _request(pointOfInterest={"lat": 90.0, "lon": 0.0})]
        )
    first, second = response.feasibility
    assert (first.id, first.result, first.status) == ("0", "FEASIBLE", "FEASIBLE")
    assert (second.id, second.result, second.status) == ("1", "INFEASIBLE", "INFEASIBLE")
    assert second.reason and "no satellite passes" in second.reason
    assert response.status == "DONE" and response.createdAt == EPOCH


def test_feasibility_refuses_mixed_priorities(client: TestClient) -> None:
    headers = login(client)
    # The BACKGROUND item is valid on its own (24 h lead time and SLA): only the mix is refused.
    body = [
        task_body(priority="COMMERCIAL"),
        task_body(priority="BACKGROUND", sla="SLA_24H", start_in_h=25),
    ]
    response = client.post("/api/tasking/v2/feasibility", json=body, headers=headers)
    assert response.status_code == 400
    assert "batch-same-priority rule" in response.json()["message"]
    empty = client.post("/api/tasking/v2/feasibility", json=[], headers=headers)
    assert empty.status_code == 400
    not_a_list = client.post("/api/tasking/v2/feasibility", json=task_body(), headers=headers)
    assert not_a_list.status_code == 400


def test_feasibility_accounts_for_the_slot_an_earlier_item_takes(client: TestClient) -> None:
    point = {"lat": HELSINKI["lat"], "lon": HELSINKI["lon"]}
    with tasking_client(client) as api:
        both = api.check_feasibility(
            [_request(pointOfInterest=point), _request(pointOfInterest=point)]
        )
    first, second = both.feasibility
    assert first.opportunities and second.opportunities
    assert second.opportunities[0].imagingStartTime != first.opportunities[0].imagingStartTime
    advance(client)  # nothing pending: the feasibility check booked nothing
    assert client.get("/sandbox/v1/clock").json()["nextEvent"] is None
