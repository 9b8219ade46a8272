"""Wire models against the golden documents in tests/data (transcribed from reference/iceye-api.md
and seeds/): every documented example parses, requests are strict and send only what is set.

Sources of the golden files: token_response (§2), contract_list_v1 (§3.1, v1 list example, nested
``allowed``), contract_list_tutorial (seed tutorial), contract_recommended (§3.1 recommended stand-in,
GUESS comments removed), contract_summary (§3.2), error_insufficient_funds / error_problem (§6.2),
task_cancel_response (§4.2 cancel example), task_full (§4.2 stand-in example), task_list_page (§4.4
envelope over those two), task_request_migration (§4.3 v2 request), scene_spec (§4.7), scene_tutorial
(seed), products_response_doc (§4.8 example; the truncated quicklook-png asset dropped and the STAC
fields it cut off filled in), products_response_tutorial (seed), feasibility_request_doc /
feasibility_response_doc (seed check-task-feasibility), feasibility_response_tutorial (seed),
feasibility_response_standin (§4.10 recommendation), price_response (§4.11 schema; amount invented),
token_error_invalid_client (§2, RFC 6749 style, inferred).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from tasking.models import (
    Contract,
    ContractSummary,
    ErrorBody,
    FeasibilityResponse,
    Page,
    Price,
    ProblemBody,
    Product,
    Scene,
    Task,
    TaskRequest,
    TokenResponse,
)
from tests.conftest import DATA, load_golden

PARSERS: dict[str, type[BaseModel]] = {
    "token_response": TokenResponse,
    "contract_list_v1": Page[Contract],
    "contract_list_tutorial": Page[Contract],
    "contract_recommended": Contract,
    "contract_summary": ContractSummary,
    "error_insufficient_funds": ErrorBody,
    "error_problem": ProblemBody,
    "task_cancel_response": Task,
    "task_full": Task,
    "task_list_page": Page[Task],
    "task_request_migration": TaskRequest,
    "scene_spec": Scene,
    "scene_tutorial": Scene,
    "products_response_doc": Page[Product],
    "products_response_tutorial": Page[Product],
    "feasibility_response_doc": FeasibilityResponse,
    "feasibility_response_tutorial": FeasibilityResponse,
    "feasibility_response_standin": FeasibilityResponse,
    "price_response": Price,
}
NOT_MODELS = {"feasibility_request_doc", "token_error_invalid_client"}


def test_every_golden_file_is_covered_by_a_parser() -> None:
    names = {p.stem for p in DATA.glob("*.json")}
    assert names == set(PARSERS) | NOT_MODELS


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_documented_example_parses(name: str) -> None:
    PARSERS[name].model_validate(load_golden(name))


def test_the_documented_feasibility_request_items_are_task_requests() -> None:
    for item in load_golden("feasibility_request_doc"):
        TaskRequest.model_validate(item)


def test_the_documented_v2_request_round_trips_unchanged() -> None:
    document = load_golden("task_request_migration")
    assert TaskRequest.model_validate(document).to_wire() == document


def test_a_request_sends_only_the_fields_that_were_set() -> None:
    request = TaskRequest.model_validate(
        {
            "contractID": "c",
            "pointOfInterest": {"lat": 1.0, "lon": 2.0},
            "acquisitionWindow": {"start": "2026-05-02T00:00:00Z", "end": "2026-05-03T00:00:00Z"},
            "imagingMode": "SPOTLIGHT",
        }
    )
    assert set(request.to_wire()) == {
        "contractID",
        "pointOfInterest",
        "acquisitionWindow",
        "imagingMode",
    }


def test_a_request_refuses_undocumented_fields() -> None:
    document = {**load_golden("task_request_migration"), "colour": "blue"}
    with pytest.raises(ValidationError):
        TaskRequest.model_validate(document)


@pytest.mark.parametrize(
    "angle",
    [{"min": 20, "max": 40}, {"min": "FULL_RANGE", "max": "PERFORMANT"}, {"min": 20.0, "max": 40}],
)
def test_incidence_angles_are_integers_or_presets(angle: dict[str, object]) -> None:
    document = {**load_golden("task_request_migration"), "incidenceAngle": angle}
    sent = TaskRequest.model_validate(document).to_wire()["incidenceAngle"]
    assert sent == {k: int(v) if isinstance(v, float) else v for k, v in angle.items()}


def test_request_times_are_sent_in_utc_with_z() -> None:
    plus3 = timezone(timedelta(hours=3))
    document = {
        **load_golden("task_request_migration"),
        "acquisitionWindow": {
            "start": datetime(2023, 12, 30, 2, 20, 11, 315000, tzinfo=plus3).isoformat(),
            "end": "2023-12-31T04:20:11+03:00",
        },
    }
    window = TaskRequest.model_validate(document).to_wire()["acquisitionWindow"]
    assert window == {"start": "2023-12-29T23:20:11.315000Z", "end": "2023-12-31T01:20:11Z"}


def test_the_v1_contract_examples_nested_mode_list_is_flattened() -> None:
    contract = Page[Contract].model_validate(load_golden("contract_list_v1")).data[0]
    assert contract.imagingModes.allowed == ["SPOTLIGHT", "SCAN", "STRIPMAP"]
    assert contract.start == datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC)


def test_a_contract_with_one_allowed_value_implies_it_as_default() -> None:
    contract = Contract.model_validate(load_golden("contract_list_tutorial")["data"][0])
    assert contract.priority.resolved_default() == "COMMERCIAL"
    assert contract.eula.resolved_default() is None


def test_a_contract_keeps_unknown_fields() -> None:
    contract = Contract.model_validate(load_golden("contract_list_v1")["data"][0])
    assert contract.model_extra is not None and "deliveryLocations" in contract.model_extra


def test_scene_incidence_angle_accepts_a_string_or_a_number() -> None:
    as_string = Scene.model_validate(load_golden("scene_spec"))
    as_number = Scene.model_validate({**load_golden("scene_spec"), "incidenceAngle": 27.4})
    assert as_string.incidenceAngle == as_number.incidenceAngle == 27.4
    assert as_string.to_wire()["incidenceAngle"] == "27.4"


def test_feasibility_verdict_reads_result_then_status() -> None:
    tutorial = FeasibilityResponse.model_validate(load_golden("feasibility_response_tutorial"))
    doc = FeasibilityResponse.model_validate(load_golden("feasibility_response_doc"))
    standin = FeasibilityResponse.model_validate(load_golden("feasibility_response_standin"))
    assert tutorial.feasibility[0].feasible and doc.feasibility[0].feasible
    assert [i.feasible for i in standin.feasibility] == [True, False]
    assert standin.feasibility[0].opportunities is not None


def test_products_in_the_tutorials_shape_become_stac_like_items() -> None:
    product = Page[Product].model_validate(load_golden("products_response_tutorial")).data[0]
    assert product.product_type == "GRD"
    assert product.properties["expires"] == "2025-11-15T20:00:00Z"


@pytest.mark.parametrize(("cursor", "ends"), [("abc", False), ("", True), (None, True)])
def test_a_missing_or_empty_cursor_ends_the_list(cursor: str | None, ends: bool) -> None:
    document = {"data": []} if cursor is None else {"data": [], "cursor": cursor}
    assert (Page[Task].model_validate(document).next_cursor is None) is ends


def test_a_summary_computes_available_funds() -> None:
    summary = ContractSummary.model_validate(load_golden("contract_summary"))
    assert summary.available == 2000000 - 900000 - 1000000


def test_sla_hours_reads_hours_and_days_and_refuses_what_is_not_a_duration():
    from tasking.modes import sla_hours

    assert sla_hours("SLA_8H") == 8
    assert sla_hours("SLA_24H") == 24
    assert sla_hours("SLA_2D") == 48
    for literal in ("SLA_.", "SLA_1.2.3H", "SLA_NANH", "SLA_INFH", "SLA_0H", "EXPRESS"):
        assert sla_hours(literal) is None, literal
