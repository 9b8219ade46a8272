"""TaskingClient against respx: the exact request of every operation, the parsing of its documented
response (golden JSON in tests/data), retries, Retry-After, the create that is never sent twice
(send_create, find_created, create_task, the server's time), bounded waits (feasibility, probe),
text that cannot be sent, pagination, assets, error mapping and the facade's delegation to one
session. Nothing reaches the network; sleeps are recorded, not slept."""

from __future__ import annotations

import importlib
import json
import logging
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from tasking import times
from tasking.auth import ClientCredentialsAuth
from tasking.client import TaskingClient
from tasking.config import Settings
from tasking.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    Forbidden,
    InputError,
    InsufficientFunds,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServerError,
    TaskingError,
    TransportError,
    Unauthorized,
)
from tasking.http import RETRY_AFTER_CAP_S
from tasking.models import Contract, TaskRequest
from tests.conftest import load_golden

API = "https://api.test/api"
TASKS = f"{API}/tasking/v2/tasks"
TOKEN_URL = "https://auth.test/v1/token"
TOKEN = load_golden("token_response")["access_token"]
NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
TASK_ID = "7d1f0c52-8a7e-4d8b-9c2f-5b3e1a9d4c10"
CONTRACT_ID = "3f0c6f2e-1a2b-4c3d-9e8f-0123456789ab"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(TOKEN_URL).respond(200, json=load_golden("token_response"))
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(router: respx.MockRouter, sleeps: list[float]) -> Iterator[TaskingClient]:
    auth = ClientCredentialsAuth(TOKEN_URL, "client-id", "client-secret-value")
    with TaskingClient(
        API, auth, sleep=sleeps.append, clock=lambda: NOW, rng=random.Random(7)
    ) as tasking:
        yield tasking


def request_body(**changes: Any) -> TaskRequest:
    data = {
        "contractID": CONTRACT_ID,
        "pointOfInterest": {"lat": 60.1699, "lon": 24.9384},
        "acquisitionWindow": {"start": "2026-05-02T00:00:00Z", "end": "2026-05-03T00:00:00Z"},
        "imagingMode": "SPOTLIGHT",
        "reference": "Helsinki Port Monitoring",
    }
    data.update(changes)
    return TaskRequest.model_validate(data)


def assert_api_headers(request: httpx.Request) -> None:
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json, application/problem+json"
    assert re.fullmatch(r"iceye-tasking-console/\S+ httpx/\S+", request.headers["User-Agent"])


def query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(request.url)).query)


# --- Company API -----------------------------------------------------------------------------


def test_list_contracts_sends_an_authenticated_get_without_unset_paging_fields(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(f"{API}/company/v1/contracts").respond(
        200, json=load_golden("contract_list_v1")
    )
    page = client.list_contracts()
    sent = route.calls.last.request
    assert sent.method == "GET" and sent.url.query == b""
    assert_api_headers(sent)
    assert page.data[0].imagingModes.allowed == ["SPOTLIGHT", "SCAN", "STRIPMAP"]
    assert page.data[0].priority.default == "BACKGROUND"
    assert page.next_cursor == "string"


def test_list_contracts_passes_limit_and_cursor(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(f"{API}/company/v1/contracts").respond(200, json={"data": []})
    client.list_contracts(limit=5, cursor="abc")
    assert query(route.calls.last.request) == {"limit": ["5"], "cursor": ["abc"]}


def test_iter_contracts_follows_the_cursor_until_it_is_missing(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    tutorial = load_golden("contract_list_tutorial")
    first = {"data": tutorial["data"], "cursor": "page-2"}
    second = {"data": load_golden("contract_list_v1")["data"]}  # no cursor: the end
    route = router.get(f"{API}/company/v1/contracts").mock(
        side_effect=[httpx.Response(200, json=first), httpx.Response(200, json=second)]
    )
    names = [c.name for c in client.iter_contracts()]
    assert names == ["Demo contract", "string"]
    assert query(route.calls[1].request) == {"cursor": ["page-2"]}


def test_get_contract_parses_the_recommended_contract(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(f"{API}/company/v1/contracts/{CONTRACT_ID}").respond(
        200, json=load_golden("contract_recommended")
    )
    contract = client.get_contract(CONTRACT_ID)
    assert_api_headers(route.calls.last.request)
    assert contract.sla.allowed == ["SLA_3H", "SLA_8H", "SLA_24H"]
    assert contract.product_types_for("SPOTLIGHT") == ["GRD", "GRD-COG", "SLC", "SLC-COG", "QLK"]
    assert contract.derivatives_allowed == ["DC_VESSELS", "DC_AIRCRAFT", "DC_VEHICLES"]


def test_get_contract_summary_parses_the_budget(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.get(f"{API}/company/v1/contracts/{CONTRACT_ID}/summary").respond(
        200, json=load_golden("contract_summary")
    )
    summary = client.get_contract_summary(CONTRACT_ID)
    assert (summary.consolidatedSpent, summary.onHold, summary.spendLimit) == (
        900000,
        1000000,
        2000000,
    )
    assert summary.available == 100000


def test_ids_are_quoted_so_they_cannot_change_the_path(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(url__regex=r".*/contracts/.*").respond(
        200, json=load_golden("contract_recommended")
    )
    client.get_contract("../../tasking/v2/tasks")
    assert route.calls.last.request.url.raw_path == (
        b"/api/company/v1/contracts/..%2F..%2Ftasking%2Fv2%2Ftasks"
    )


# --- Tasking API -----------------------------------------------------------------------------


def test_get_price_sends_every_required_query_field_with_deep_object_point(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(f"{API}/tasking/v2/price").respond(200, json=load_golden("price_response"))
    request = request_body(
        exclusivity="PRIVATE", priority="COMMERCIAL", sla="SLA_8H", eula="STANDARD"
    )
    price = client.get_price(request)
    assert query(route.calls.last.request) == {
        "contractID": [CONTRACT_ID],
        "imagingMode": ["SPOTLIGHT"],
        "pointOfInterest[lat]": ["60.1699"],
        "pointOfInterest[lon]": ["24.9384"],
        "exclusivity": ["PRIVATE"],
        "priority": ["COMMERCIAL"],
        "sla": ["SLA_8H"],
        "eula": ["STANDARD"],
    }
    assert (price.amount, price.currency) == (250000, "USD")


def test_get_price_resolves_unset_options_from_the_contract(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(f"{API}/tasking/v2/price").respond(200, json=load_golden("price_response"))
    contract = Contract.model_validate(load_golden("contract_recommended"))
    client.get_price(request_body(sla="SLA_3H"), contract)
    sent = query(route.calls.last.request)
    assert (sent["exclusivity"], sent["priority"], sent["sla"], sent["eula"]) == (
        ["PRIVATE"],
        ["COMMERCIAL"],
        ["SLA_3H"],
        ["STANDARD"],
    )


def test_get_price_without_the_required_options_is_refused_before_any_call(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(f"{API}/tasking/v2/price").respond(200, json=load_golden("price_response"))
    with pytest.raises(InputError) as caught:
        client.get_price(request_body(sla="SLA_8H"))
    assert {v.field for v in caught.value.violations} == {"exclusivity", "priority", "eula"}
    assert not route.called


def test_check_feasibility_posts_a_json_array_of_the_requests(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.post(f"{API}/tasking/v2/feasibility").respond(
        200, json=load_golden("feasibility_response_doc")
    )
    documented = TaskRequest.model_validate(load_golden("feasibility_request_doc")[0])
    response = client.check_feasibility([documented])
    sent = route.calls.last.request
    assert_api_headers(sent)
    assert sent.headers["Content-Type"] == "application/json"
    body = json.loads(sent.content)
    expected = load_golden("feasibility_request_doc")
    assert isinstance(body, list) and len(body) == 1
    assert body[0].keys() == expected[0].keys()
    # Same instants; the server may write .315Z where we write .315000Z (both RFC 3339).
    assert TaskRequest.model_validate(body[0]) == TaskRequest.model_validate(expected[0])
    assert response.feasibility[0].verdict == "FEASIBLE" and response.status == "DONE"


@pytest.mark.parametrize(
    ("golden_name", "verdicts"),
    [
        ("feasibility_response_tutorial", ["FEASIBLE"]),
        ("feasibility_response_doc", ["FEASIBLE"]),
        ("feasibility_response_standin", ["FEASIBLE", "INFEASIBLE"]),
    ],
)
def test_check_feasibility_reads_the_verdict_of_every_documented_shape(
    router: respx.MockRouter, client: TaskingClient, golden_name: str, verdicts: list[str]
) -> None:
    router.post(f"{API}/tasking/v2/feasibility").respond(200, json=load_golden(golden_name))
    response = client.check_feasibility([request_body(), request_body(reference="b")])
    assert [item.verdict for item in response.feasibility] == verdicts


def test_check_feasibility_refuses_an_empty_batch_or_mixed_priorities(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.post(f"{API}/tasking/v2/feasibility").respond(200, json={})
    with pytest.raises(InputError):
        client.check_feasibility([])
    with pytest.raises(InputError, match="same priority"):
        client.check_feasibility(
            [request_body(priority="COMMERCIAL"), request_body(priority="BACKGROUND")]
        )
    assert not route.called


def test_create_task_posts_only_the_fields_that_are_set_and_parses_the_201(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.post(TASKS).respond(201, json=load_golden("task_full"))
    task = client.create_task(request_body())
    sent = route.calls.last.request
    assert_api_headers(sent)
    assert json.loads(sent.content) == {
        "contractID": CONTRACT_ID,
        "pointOfInterest": {"lat": 60.1699, "lon": 24.9384},
        "acquisitionWindow": {"start": "2026-05-02T00:00:00Z", "end": "2026-05-03T00:00:00Z"},
        "imagingMode": "SPOTLIGHT",
        "reference": "Helsinki Port Monitoring",
    }
    assert task.id == TASK_ID and task.status == "ACTIVE"
    assert task.incidenceAngle is not None and task.incidenceAngle.min == 20


def test_create_task_sends_the_documented_v2_request_unchanged(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.post(TASKS).respond(201, json=load_golden("task_full"))
    client.create_task(TaskRequest.model_validate(load_golden("task_request_migration")))
    assert json.loads(route.calls.last.request.content) == load_golden("task_request_migration")


def test_list_tasks_sends_the_filters_as_documented(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(TASKS).respond(200, json=load_golden("task_list_page"))
    page = client.list_tasks(
        contract_id=CONTRACT_ID,
        created_after=datetime(2026, 5, 1, 11, 0, tzinfo=UTC).astimezone(),
        created_before=datetime(2026, 5, 2, tzinfo=UTC),
        limit=50,
    )
    assert query(route.calls.last.request) == {
        "contractID": [CONTRACT_ID],
        "createdAfter": ["2026-05-01T11:00:00Z"],
        "createdBefore": ["2026-05-02T00:00:00Z"],
        "limit": ["50"],
    }
    assert [t.status for t in page.data] == ["ACTIVE", "CANCELED"]
    assert page.next_cursor == "eyJsYXN0SWQiOiJhYmMxMjM..."


def test_list_tasks_without_filters_sends_no_query(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(TASKS).respond(200, json={"data": []})
    client.list_tasks()
    assert route.calls.last.request.url.query == b""


@pytest.mark.parametrize("last_page", [{}, {"cursor": ""}, {"cursor": None}])
def test_iter_tasks_reads_every_page_and_stops_on_a_missing_or_empty_cursor(
    router: respx.MockRouter, client: TaskingClient, last_page: dict[str, Any]
) -> None:
    tasks = load_golden("task_list_page")["data"]
    route = router.get(TASKS).mock(
        side_effect=[
            httpx.Response(200, json={"data": [tasks[0]], "cursor": "c1"}),
            httpx.Response(200, json={"data": [tasks[1]], "cursor": "c2"}),
            httpx.Response(200, json={"data": [tasks[0]], **last_page}),
        ]
    )
    found = list(client.iter_tasks(contract_id=CONTRACT_ID))
    assert len(found) == 3 and route.call_count == 3
    assert [query(c.request).get("cursor") for c in route.calls] == [None, ["c1"], ["c2"]]
    assert all(query(c.request)["contractID"] == [CONTRACT_ID] for c in route.calls)


def test_iter_tasks_stops_when_a_server_repeats_a_cursor(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(TASKS).respond(200, json={"data": [], "cursor": "same"})
    assert list(client.iter_tasks()) == []
    assert route.call_count == 2


def test_get_task_parses_a_task(router: respx.MockRouter, client: TaskingClient) -> None:
    route = router.get(f"{TASKS}/{TASK_ID}").respond(200, json=load_golden("task_full"))
    task = client.get_task(TASK_ID)
    assert_api_headers(route.calls.last.request)
    assert task.productsAvailableInSeconds == 28800
    assert task.createdAt == datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)


def test_cancel_task_patches_the_status_and_parses_the_documented_answer(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    task_id = "YYYYYYYY-YYYY-YYYY-YYYY-YYYYYYYYYYY"
    route = router.patch(f"{TASKS}/{task_id}").respond(
        200, json=load_golden("task_cancel_response")
    )
    task = client.cancel_task(task_id)
    sent = route.calls.last.request
    assert_api_headers(sent)
    assert json.loads(sent.content) == {"status": "CANCELED"}
    assert task.status == "CANCELED" and task.priority is None


@pytest.mark.parametrize(
    ("golden_name", "angle"), [("scene_spec", 27.4), ("scene_tutorial", 37.38)]
)
def test_get_scene_parses_the_incidence_angle_string(
    router: respx.MockRouter, client: TaskingClient, golden_name: str, angle: float
) -> None:
    router.get(f"{TASKS}/{TASK_ID}/scene").respond(200, json=load_golden(golden_name))
    scene = client.get_scene(TASK_ID)
    assert scene.incidenceAngle == angle
    assert scene.imagingTime.end > scene.imagingTime.start


def test_list_products_reads_all_pages_of_stac_items(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    doc = load_golden("products_response_doc")
    route = router.get(f"{TASKS}/{TASK_ID}/products").mock(
        side_effect=[
            httpx.Response(200, json={"data": doc["data"], "cursor": "p2"}),
            httpx.Response(200, json=doc),  # cursor "" ends the list
        ]
    )
    products = client.list_products(TASK_ID)
    assert route.call_count == 2 and query(route.calls[1].request) == {"cursor": ["p2"]}
    assert [p.product_type for p in products] == ["GRD", "GRD"]
    assert set(products[0].assets) == {"grd-tif", "grd-xml", "quicklook-kml"}


def test_list_products_by_type_uses_the_product_type_path_and_the_tutorial_shape(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(f"{TASKS}/{TASK_ID}/products/GRD").respond(
        200, json=load_golden("products_response_tutorial")
    )
    products = client.list_products(TASK_ID, product_type="GRD")
    assert route.called
    assert products[0].product_type == "GRD"
    assert products[0].assets["product"].href == "https://download.iceye.com/products/..."


# --- assets ----------------------------------------------------------------------------------


def test_fetch_asset_sends_no_token_to_a_storage_host(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    href = "https://abc.cloudfront.net/x/grd.tif?Expires=1&Signature=s"
    route = router.get(href).respond(200, content=b"TIFF")
    assert client.fetch_asset(href) == b"TIFF"
    assert "Authorization" not in route.calls.last.request.headers


def test_fetch_asset_authenticates_links_on_the_api_origin_and_resolves_relative_ones(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get("https://api.test/assets/1/grd.tif").respond(200, content=b"data")
    assert client.fetch_asset("/assets/1/grd.tif") == b"data"
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_fetch_asset_refuses_an_asset_over_the_size_limit(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.get("https://cdn.test/big").respond(200, content=b"x" * 2048)
    with pytest.raises(InputError) as caught:
        client.fetch_asset("https://cdn.test/big", max_bytes=1024)
    assert caught.value.violations[0].rule == "asset-size"


def test_an_expired_signed_link_is_forbidden(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.get("https://cdn.test/old").respond(403, text="<Error>AccessDenied</Error>")
    with pytest.raises(Forbidden):
        client.fetch_asset("https://cdn.test/old")


def test_fetch_asset_refuses_non_http_links(client: TaskingClient) -> None:
    with pytest.raises(InputError):
        client.fetch_asset("file:///etc/passwd")


def test_fetch_asset_refuses_a_malformed_link_with_an_input_error_not_an_httpx_one(
    client: TaskingClient,
) -> None:
    with pytest.raises(InputError) as caught:
        client.fetch_asset("https://cdn.test:notaport/x")
    assert caught.value.violations[0].rule == "asset-url"


def test_a_malformed_api_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="ICEYE_API_URL"):
        TaskingClient("https://api.test:notaport/api", None)


# --- errors and retries ----------------------------------------------------------------------

ERROR_CASES = [
    (400, BadRequest, False),
    (401, Unauthorized, False),
    (403, Forbidden, False),
    (404, NotFound, False),
    (429, RateLimited, True),
    (500, ServerError, True),
]


@pytest.mark.parametrize("problem_form", [False, True], ids=["code-message", "problem"])
@pytest.mark.parametrize(("status", "error_class", "retried"), ERROR_CASES)
def test_error_statuses_map_to_the_error_tree_in_both_body_formats(
    router: respx.MockRouter,
    client: TaskingClient,
    sleeps: list[float],
    status: int,
    error_class: type[TaskingError],
    retried: bool,
    problem_form: bool,
) -> None:
    body = (
        {
            "title": "Some Title",
            "code": f"code_{status}",
            "details": "the details",
            "reference": "r",
        }
        if problem_form
        else {"code": f"code_{status}", "message": "the message"}
    )
    headers = {"Content-Type": "application/problem+json" if problem_form else "application/json"}
    route = router.get(f"{TASKS}/{TASK_ID}").respond(status, json=body, headers=headers)
    with pytest.raises(error_class) as caught:
        client.get_task(TASK_ID)
    error = caught.value
    assert isinstance(error, ApiError)
    assert error.status_code == status and error.code == f"code_{status}"
    assert error.message == ("the details" if problem_form else "the message")
    # 401: the auth's single retry with a fresh token; 429/500: the client's three attempts.
    assert route.call_count == (3 if retried else (2 if status == 401 else 1))
    assert len(sleeps) == (2 if retried else 0)


def test_retry_after_is_honoured_before_retrying(
    router: respx.MockRouter, client: TaskingClient, sleeps: list[float]
) -> None:
    router.get(f"{TASKS}/{TASK_ID}").mock(
        side_effect=[
            httpx.Response(
                429, json={"code": "rate", "message": "slow"}, headers={"Retry-After": "7"}
            ),
            httpx.Response(
                503, json={"code": "busy", "message": "b"}, headers={"Retry-After": "2"}
            ),
            httpx.Response(200, json=load_golden("task_full")),
        ]
    )
    assert client.get_task(TASK_ID).id == TASK_ID
    assert sleeps == [7.0, 2.0]


def test_a_retry_after_longer_than_the_cap_is_not_waited_for(
    router: respx.MockRouter, client: TaskingClient, sleeps: list[float]
) -> None:
    wait = str(int(RETRY_AFTER_CAP_S) + 1)
    route = router.get(f"{TASKS}/{TASK_ID}").respond(
        429, json={"code": "rate", "message": "m"}, headers={"Retry-After": wait}
    )
    with pytest.raises(RateLimited) as caught:
        client.get_task(TASK_ID)
    assert caught.value.retry_after == float(wait)
    assert route.call_count == 1 and sleeps == []


def test_without_retry_after_the_backoff_grows_exponentially_with_jitter(
    router: respx.MockRouter, client: TaskingClient, sleeps: list[float]
) -> None:
    router.get(f"{TASKS}/{TASK_ID}").respond(500, text="oops")
    with pytest.raises(ServerError):
        client.get_task(TASK_ID)
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 1.5


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [
        (httpx.ConnectError("refused"), TransportError),
        (httpx.ReadTimeout("slow"), RequestTimeout),
        (httpx.RemoteProtocolError("bad"), TransportError),
    ],
)
def test_transport_failures_are_retried_then_raised_as_tasking_errors(
    router: respx.MockRouter,
    client: TaskingClient,
    sleeps: list[float],
    failure: Exception,
    error_class: type[TaskingError],
) -> None:
    route = router.get(f"{TASKS}/{TASK_ID}").mock(side_effect=failure)
    with pytest.raises(error_class) as caught:
        client.get_task(TASK_ID)
    assert not isinstance(caught.value, httpx.HTTPError)
    assert route.call_count == 3 and len(sleeps) == 2


def test_a_transport_failure_then_success_returns_the_result(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.patch(f"{TASKS}/{TASK_ID}").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=load_golden("task_full"))]
    )
    assert client.cancel_task(TASK_ID).id == TASK_ID


def test_a_cancel_whose_answer_was_lost_is_not_reported_as_refused_on_its_retry(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    canceled = {**load_golden("task_full"), "status": "CANCELED"}
    patch = router.patch(f"{TASKS}/{TASK_ID}").mock(
        side_effect=[
            httpx.ReadTimeout("the server canceled it, the answer was lost"),
            httpx.Response(400, json={"code": "ERR_BAD_STATUS", "message": "task is CANCELED"}),
        ]
    )
    router.get(f"{TASKS}/{TASK_ID}").respond(200, json=canceled)
    task = client.cancel_task(TASK_ID)
    assert task.status == "CANCELED" and patch.call_count == 2


def test_a_cancel_refused_on_its_first_attempt_is_still_an_error(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.patch(f"{TASKS}/{TASK_ID}").respond(
        400, json={"code": "ERR_BAD_STATUS", "message": "task is DONE"}
    )
    lookup = router.get(f"{TASKS}/{TASK_ID}").respond(200, json=load_golden("task_full"))
    with pytest.raises(BadRequest):
        client.cancel_task(TASK_ID)
    assert lookup.call_count == 0


def test_an_unexpected_response_body_is_an_api_error_not_a_validation_error(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.get(f"{TASKS}/{TASK_ID}").respond(200, json={"id": TASK_ID})
    with pytest.raises(ApiError) as caught:
        client.get_task(TASK_ID)
    assert caught.value.code == "invalid_response"


# --- creating a task: send once, look up, never resend blindly -------------------------------


def made_task(request: TaskRequest) -> dict[str, Any]:
    return {**load_golden("task_full"), **request.to_wire(), "status": "RECEIVED"}


def test_send_create_resends_a_create_whose_connection_failed_before_sending(
    router: respx.MockRouter, client: TaskingClient, sleeps: list[float]
) -> None:
    post = router.post(TASKS).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.ConnectTimeout("no route"),
            httpx.Response(201, json=made_task(request_body())),
        ]
    )
    listing = router.get(TASKS).respond(200, json={"data": []})
    assert client.send_create(request_body()).id == TASK_ID
    assert post.call_count == 3 and len(sleeps) == 2 and not listing.called


def test_send_create_resends_after_a_429_waiting_its_retry_after(
    router: respx.MockRouter, client: TaskingClient, sleeps: list[float]
) -> None:
    post = router.post(TASKS).mock(
        side_effect=[
            httpx.Response(
                429, json={"code": "rate", "message": "m"}, headers={"Retry-After": "3"}
            ),
            httpx.Response(201, json=made_task(request_body())),
        ]
    )
    assert client.send_create(request_body()).id == TASK_ID
    assert post.call_count == 2 and sleeps == [3.0]


def test_send_create_does_not_wait_for_a_retry_after_beyond_the_cap(
    router: respx.MockRouter, client: TaskingClient, sleeps: list[float]
) -> None:
    post = router.post(TASKS).respond(
        429, json={"code": "rate", "message": "m"}, headers={"Retry-After": "3600"}
    )
    with pytest.raises(RateLimited) as caught:
        client.send_create(request_body())
    assert post.call_count == 1 and sleeps == [] and not caught.value.outcome_unknown


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [
        (httpx.ReadTimeout("the answer never came"), RequestTimeout),
        (httpx.WriteTimeout("the body stalled"), RequestTimeout),
        (httpx.RemoteProtocolError("connection reset"), TransportError),
        (httpx.Response(500, json={"code": "internal", "message": "boom"}), ServerError),
        (httpx.Response(502, text="bad gateway"), ServerError),
        (httpx.Response(503, text="busy", headers={"Retry-After": "1"}), ServerError),
    ],
    ids=["read-timeout", "write-timeout", "reset", "500", "502", "503-retry-after"],
)
def test_send_create_never_resends_after_a_failure_the_server_may_have_acted_on(
    router: respx.MockRouter,
    client: TaskingClient,
    sleeps: list[float],
    failure: Exception | httpx.Response,
    error_class: type[TaskingError],
) -> None:
    post = router.post(TASKS).mock(side_effect=[failure])
    listing = router.get(TASKS).respond(200, json={"data": []})
    with pytest.raises(error_class) as caught:
        client.send_create(request_body())
    assert caught.value.outcome_unknown
    assert "may or may not" not in caught.value.message  # raised as it is, no lookup
    assert post.call_count == 1 and sleeps == [] and not listing.called


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_create_refused_with_4xx_is_never_retried_nor_looked_up(
    router: respx.MockRouter, client: TaskingClient, status: int
) -> None:
    post = router.post(TASKS).respond(status, json=load_golden("error_insufficient_funds"))
    listing = router.get(TASKS).respond(200, json={"data": []})
    with pytest.raises(ApiError) as caught:
        client.create_task(request_body())
    assert not caught.value.outcome_unknown
    # 401: the auth's one retry with a fresh token (refused before processing), nothing more.
    assert post.call_count == (2 if status == 401 else 1) and not listing.called


def test_insufficient_funds_on_create_is_its_own_error(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.post(TASKS).respond(400, json=load_golden("error_insufficient_funds"))
    with pytest.raises(InsufficientFunds):
        client.create_task(request_body())


def test_find_created_lists_the_contracts_tasks_since_the_given_time_on_every_page(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    request = request_body()
    other = {**made_task(request_body(reference="someone else's")), "id": "other"}
    listing = router.get(TASKS).mock(
        side_effect=[
            httpx.Response(200, json={"data": [other], "cursor": "c1"}),
            httpx.Response(200, json={"data": [made_task(request)]}),
        ]
    )
    since = datetime(2026, 5, 1, 7, 55, tzinfo=UTC)
    task = client.find_created(request, since)
    assert task is not None and task.id == TASK_ID
    first = query(listing.calls[0].request)
    assert first == {"contractID": [CONTRACT_ID], "createdAfter": ["2026-05-01T07:55:00Z"]}
    assert query(listing.calls[1].request)["cursor"] == ["c1"]


def test_find_created_matches_only_the_same_contract_reference_mode_point_and_window(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    request = request_body()
    base = made_task(request)
    shifted = {
        **base,
        "acquisitionWindow": {"start": "2026-05-02T01:00:00Z", "end": "2026-05-03T00:00:00Z"},
    }
    variants = [
        {**base, "reference": "other"},
        {**base, "imagingMode": "SCAN"},
        {**base, "contractID": "another-contract"},
        {**base, "pointOfInterest": {"lat": 60.2, "lon": 24.9384}},
        shifted,
    ]
    router.get(TASKS).respond(200, json={"data": variants})
    assert client.find_created(request, NOW) is None
    close = {**base, "pointOfInterest": {"lat": 60.1699 + 1e-9, "lon": 24.9384}}
    router.get(TASKS).respond(200, json={"data": [*variants, close]})
    assert client.find_created(request, NOW) is not None


def test_find_created_raises_the_lookups_error(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.get(TASKS).respond(403, json={"code": "forbidden", "message": "no"})
    with pytest.raises(Forbidden):
        client.find_created(request_body(), NOW)


def test_a_create_that_times_out_after_the_server_made_the_task_returns_it_without_a_second(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    request = request_body()
    made: list[dict[str, Any]] = []

    def create(_: httpx.Request) -> httpx.Response:
        made.append(made_task(request))  # the server acts on it...
        raise httpx.ReadTimeout("the answer never came")  # ...but the answer is lost

    post = router.post(TASKS).mock(side_effect=create)
    listing = router.get(TASKS).mock(side_effect=lambda _: httpx.Response(200, json={"data": made}))
    task = client.create_task(request)
    assert post.call_count == 1 and len(made) == 1
    assert task.id == TASK_ID
    sent = query(listing.calls.last.request)
    assert sent["contractID"] == [CONTRACT_ID]
    assert sent["createdAfter"] == ["2026-05-01T07:55:00Z"]  # send time minus the skew


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [
        (httpx.ReadTimeout("lost"), RequestTimeout),
        (httpx.Response(502, text="bad gateway"), ServerError),
    ],
    ids=["read-timeout", "502"],
)
def test_a_create_whose_task_is_not_found_is_not_resent_and_says_it_may_exist(
    router: respx.MockRouter,
    client: TaskingClient,
    failure: Exception | httpx.Response,
    error_class: type[TaskingError],
) -> None:
    post = router.post(TASKS).mock(side_effect=[failure])
    other = {**made_task(request_body(reference="someone else's")), "id": "other"}
    listing = router.get(TASKS).respond(200, json={"data": [other]})
    with pytest.raises(error_class, match="may or may not have been created") as caught:
        client.create_task(request_body())
    assert "check the task list before ordering again" in caught.value.message
    assert caught.value.outcome_unknown
    assert post.call_count == 1 and listing.call_count == 1


def test_when_the_lookup_fails_too_the_create_is_not_resent_and_says_so(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    post = router.post(TASKS).mock(side_effect=httpx.ReadTimeout("lost"))
    router.get(TASKS).respond(503, text="down")
    with pytest.raises(RequestTimeout, match="may or may not have been created") as caught:
        client.create_task(request_body())
    assert isinstance(caught.value.__cause__, ServerError)
    assert post.call_count == 1


def test_a_create_that_could_not_connect_is_resent_without_a_lookup(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    post = router.post(TASKS).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(201, json=made_task(request_body())),
        ]
    )
    listing = router.get(TASKS).respond(200, json={"data": []})
    assert client.create_task(request_body()).id == TASK_ID
    assert post.call_count == 2 and not listing.called


def test_a_create_that_never_connected_raises_without_a_lookup_and_says_nothing_was_sent(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    post = router.post(TASKS).mock(side_effect=httpx.ConnectError("refused"))
    listing = router.get(TASKS).respond(200, json={"data": []})
    with pytest.raises(TransportError) as caught:
        client.create_task(request_body())
    assert not caught.value.outcome_unknown and "may or may not" not in caught.value.message
    assert post.call_count == 3 and not listing.called


def test_create_tasks_lookup_uses_the_servers_date_when_the_local_clock_is_a_day_ahead(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The machine's clock is a day ahead of the server's; no clock is injected (live mode).
    monkeypatch.setattr(times, "utc_now", lambda: NOW + timedelta(days=1))
    server_date = {"Date": format_datetime(NOW, usegmt=True)}
    # The token response is the first to arrive, during the create itself.
    router.post(TOKEN_URL).respond(200, json=load_golden("token_response"), headers=server_date)
    request = request_body()
    post = router.post(TASKS).mock(side_effect=httpx.ReadTimeout("lost"))
    listing = router.get(TASKS).respond(
        200, json={"data": [made_task(request)]}, headers=server_date
    )
    auth = ClientCredentialsAuth(TOKEN_URL, "client-id", "client-secret-value")
    with TaskingClient(API, auth, sleep=lambda _: None) as tasking:
        assert tasking.create_task(request).id == TASK_ID
        assert tasking.server_now() == NOW
    assert query(listing.calls.last.request)["createdAfter"] == ["2026-05-01T07:55:00Z"]
    assert post.call_count == 1


# --- bounded waits: feasibility and probe ------------------------------------------------------


def test_a_feasibility_check_whose_answer_timed_out_is_sent_once(
    router: respx.MockRouter, client: TaskingClient, sleeps: list[float]
) -> None:
    route = router.post(f"{API}/tasking/v2/feasibility").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RequestTimeout):
        client.check_feasibility([request_body()])
    assert route.call_count == 1 and sleeps == []
    assert route.calls.last.request.extensions["timeout"]["read"] == 120.0


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, json={"code": "rate", "message": "m"}),
        httpx.Response(503, text="busy"),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no route"),
    ],
    ids=["429", "503", "connect-error", "connect-timeout"],
)
def test_a_feasibility_check_is_still_retried_after_429_5xx_and_failed_connections(
    router: respx.MockRouter, client: TaskingClient, failure: Exception | httpx.Response
) -> None:
    route = router.post(f"{API}/tasking/v2/feasibility").mock(
        side_effect=[failure, httpx.Response(200, json=load_golden("feasibility_response_doc"))]
    )
    assert client.check_feasibility([request_body()]).feasibility[0].feasible
    assert route.call_count == 2


def test_probe_sends_one_short_list_contracts_request(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    route = router.get(f"{API}/company/v1/contracts").respond(200, json={"data": []})
    assert client.probe() is None
    sent = route.calls.last.request
    assert route.call_count == 1 and query(sent) == {"limit": ["1"]}
    assert sent.extensions["timeout"]["read"] == 3.0
    assert_api_headers(sent)


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [
        (httpx.Response(503, text="down"), ServerError),
        (httpx.Response(429, json={"code": "rate", "message": "m"}), RateLimited),
        (httpx.ReadTimeout("slow"), RequestTimeout),
        (httpx.ConnectError("refused"), TransportError),
    ],
    ids=["503", "429", "read-timeout", "connect-error"],
)
def test_probe_does_not_retry_and_raises_a_tasking_error(
    router: respx.MockRouter,
    client: TaskingClient,
    sleeps: list[float],
    failure: Exception | httpx.Response,
    error_class: type[TaskingError],
) -> None:
    route = router.get(f"{API}/company/v1/contracts").mock(side_effect=[failure])
    with pytest.raises(error_class):
        client.probe(timeout=1.5)
    assert route.call_count == 1 and sleeps == []


# --- text that cannot be sent ----------------------------------------------------------------

PRICED = {"exclusivity": "PRIVATE", "priority": "COMMERCIAL", "sla": "SLA_8H", "eula": "STANDARD"}


@pytest.mark.parametrize(
    "operation",
    [
        lambda c, r: c.create_task(r),
        lambda c, r: c.send_create(r),
        lambda c, r: c.check_feasibility([r]),
        lambda c, r: c.get_price(r),
    ],
    ids=["create_task", "send_create", "check_feasibility", "get_price"],
)
def test_a_reference_with_a_lone_surrogate_is_an_input_error_before_any_request(
    router: respx.MockRouter, client: TaskingClient, operation: Any
) -> None:
    request = request_body(reference="Port \ud800", **PRICED)
    with pytest.raises(InputError) as caught:
        operation(client, request)
    [violation] = caught.value.violations
    assert (violation.field, violation.rule) == ("reference", "text-encoding")
    assert "text-encoding rule" in violation.message
    assert client.request_count == 0 and not router.calls  # not even a token request


def test_an_id_with_a_lone_surrogate_is_an_input_error_before_any_request(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    with pytest.raises(InputError) as caught:
        client.get_task("abc\udfff")
    assert caught.value.violations[0].rule == "text-encoding"
    assert not router.calls


# --- structure: one facade, one session, one client per API ----------------------------------

DELEGATED = [
    ("company", "list_contracts", (5, "c")),
    ("company", "iter_contracts", (5,)),
    ("company", "get_contract", ("id",)),
    ("company", "get_contract_summary", ("id",)),
    ("company", "probe", (2.0,)),
    ("tasking", "get_price", ("request", None)),
    ("tasking", "check_feasibility", (["request"],)),
    ("tasking", "send_create", ("request",)),
    ("tasking", "find_created", ("request", NOW)),
    ("tasking", "create_task", ("request",)),
    ("tasking", "list_tasks", ("c", NOW, NOW, 5, "cursor")),
    ("tasking", "iter_tasks", ("c", NOW, NOW, 5)),
    ("tasking", "get_task", ("id",)),
    ("tasking", "cancel_task", ("id",)),
    ("tasking", "get_scene", ("id",)),
    ("tasking", "list_products", ("id", "GRD")),
]


@pytest.mark.parametrize(("api", "name", "args"), DELEGATED, ids=[d[1] for d in DELEGATED])
def test_the_facade_delegates_each_operation_to_its_api_client(
    client: TaskingClient,
    monkeypatch: pytest.MonkeyPatch,
    api: str,
    name: str,
    args: tuple[Any, ...],
) -> None:
    seen: list[tuple[Any, ...]] = []
    sentinel = object()

    def fake(*given: Any) -> object:
        seen.append(given)
        return sentinel

    monkeypatch.setattr(getattr(client, api), name, fake)
    result = getattr(client, name)(*args)
    assert seen == [args]
    assert result is (None if name == "probe" else sentinel)


def test_both_api_clients_share_the_facades_one_session_and_httpx_client(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    assert client.company._session is client.session is client.tasking._session
    router.get(f"{API}/company/v1/contracts").respond(200, json={"data": []})
    router.get(f"{TASKS}/{TASK_ID}").respond(200, json=load_golden("task_full"))
    client.list_contracts()
    client.get_task(TASK_ID)
    # One token for both APIs: the requests went through one client and one auth.
    token_requests = [c for c in router.calls if c.request.url == TOKEN_URL]
    assert len(token_requests) == 1 and client.request_count == 3


def test_fetch_asset_goes_through_the_shared_session(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.get("https://cdn.test/a").respond(200, content=b"x")
    assert client.fetch_asset("https://cdn.test/a") == b"x"
    assert client.request_count == 1


@pytest.mark.parametrize(
    "module",
    ["tasking.client", "tasking.http", "tasking.company", "tasking.tasking_api", "tasking.errors"],
)
def test_each_client_module_pins_its_public_surface(module: str) -> None:
    loaded = importlib.import_module(module)
    assert loaded.__all__ and all(hasattr(loaded, name) for name in loaded.__all__)


# --- construction, counting, logging ---------------------------------------------------------


def test_every_http_request_is_counted_including_the_token_request(
    router: respx.MockRouter, client: TaskingClient
) -> None:
    router.get(f"{TASKS}/{TASK_ID}").respond(200, json=load_golden("task_full"))
    client.get_task(TASK_ID)
    client.get_task(TASK_ID)
    assert client.request_count == 3


def test_logs_carry_method_path_and_status_but_no_token_or_secret(
    router: respx.MockRouter, client: TaskingClient, caplog: pytest.LogCaptureFixture
) -> None:
    router.get(f"{TASKS}/{TASK_ID}").respond(200, json=load_golden("task_full"))
    router.get("https://cdn.test/a").respond(200, content=b"x")
    with caplog.at_level(logging.DEBUG):
        client.get_task(TASK_ID)
        client.fetch_asset("https://cdn.test/a?Signature=topsecret")
    text = caplog.text
    assert f"GET /api/tasking/v2/tasks/{TASK_ID} -> 200" in text
    for secret in (TOKEN, "client-secret-value", "topsecret", "Authorization"):
        assert secret not in text


def test_from_settings_builds_an_authenticated_client_from_live_settings(
    router: respx.MockRouter,
) -> None:
    settings = Settings(
        api_url=API,
        auth_url="https://auth.test",
        client_id="id",
        client_secret="secret",
        timeout_s=12,
    )
    route = router.get(f"{TASKS}/{TASK_ID}").respond(200, json=load_golden("task_full"))
    with TaskingClient.from_settings(settings) as tasking:
        tasking.get_task(TASK_ID)
        assert isinstance(tasking.session.auth, ClientCredentialsAuth)
        assert tasking.session.auth.token_url == TOKEN_URL
        assert tasking.session.http.timeout.read == 12
    assert_api_headers(route.calls.last.request)


def test_from_settings_takes_the_sandboxs_urls_and_demo_credentials() -> None:
    settings = Settings()
    with TaskingClient.from_settings(
        settings,
        api_url="http://127.0.0.1:9/api",
        auth_url="http://127.0.0.1:9/auth/v1/token",
        client_id="demo",
        client_secret="demo-secret",
    ) as tasking:
        assert tasking.api_url == "http://127.0.0.1:9/api"
        assert isinstance(tasking.session.auth, ClientCredentialsAuth)
        assert tasking.session.auth.token_url == "http://127.0.0.1:9/auth/v1/token"


def test_from_settings_without_an_api_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="ICEYE_API_URL"):
        TaskingClient.from_settings(Settings())


def test_a_client_given_its_own_http_client_leaves_it_open() -> None:
    http = httpx.Client()
    TaskingClient(API, None, http=http).close()
    assert not http.is_closed
    http.close()
