"""New task page: contract-driven options, every input rule shown under its field before any
call, feasibility, and creation through the confirmation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tests.app.conftest import no_exception, texts

NEW_TASK = "views/new_task.py"
HELSINKI = {"poi_lat": 60.1699, "poi_lon": 24.9384}


def shown(at: AppTest) -> str:
    """Page text with Markdown escapes removed."""
    return texts(at).replace("\\", "")


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


def test_options_and_defaults_come_from_the_chosen_contract(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID)

    no_exception(at)
    assert at.selectbox(key="nt_mode").value == "SPOTLIGHT"
    assert len(at.selectbox(key="nt_mode").options) == 8
    assert at.selectbox(key="nt_priority").value == "COMMERCIAL"
    assert at.selectbox(key="nt_sla").options == [
        "SLA_3H",
        "SLA_8H (default)",
        "SLA_24H",
    ]
    assert at.selectbox(key="nt_exclusivity").value == "PRIVATE"

    at.selectbox(key="contract_id").select(seed.PRICED_CONTRACT_ID).run()

    no_exception(at)
    assert at.selectbox(key="nt_mode").options == [
        "Spot — SPOTLIGHT",
        "Strip — STRIPMAP",
        "Scan — SCAN",
    ]
    assert at.selectbox(key="nt_exclusivity").value == "PUBLIC"
    assert at.selectbox(key="nt_sla").value == "SLA_8H"


def test_product_types_follow_the_contract_for_the_chosen_mode(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, nt_mode="SCAN")

    assert at.multiselect(key="nt_products").options == ["GRD", "GRD-COG", "QLK"]
    assert not [m for m in at.multiselect if m.key == "nt_derivatives"]  # SCAN has none


def test_default_window_is_valid_and_only_the_missing_point_is_reported(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID)

    text = shown(at)
    assert "Latitude is required (required rule)." in text
    assert "Longitude is required (required rule)." in text
    assert "lead-time" not in text and "14-days" not in text
    assert button(at, "Check feasibility").disabled
    assert button(at, "Create task…").disabled

    at.session_state["poi_lat"] = 60.1699
    at.session_state["poi_lon"] = 24.9384
    at.run()

    assert "required rule" not in shown(at)
    assert not button(at, "Check feasibility").disabled


def _window_state(control: SandboxControl, start: timedelta, end: timedelta) -> dict[str, object]:
    now = control.clock().now
    return {
        "nt_window_auto": False,
        "nt_start": naive(now + start),
        "nt_end": naive(now + end),
    }


@pytest.mark.parametrize(
    ("state", "rule"),
    [
        ({"poi_lat": 95.0, "poi_lon": 24.9}, "latitude-range rule"),
        ({"poi_lat": 60.1, "poi_lon": 200.0}, "longitude-range rule"),
        (
            {**HELSINKI, "nt_incidence": "range", "nt_inc_min": 5, "nt_inc_max": 30},
            "incidence-range rule",
        ),
        (
            {**HELSINKI, "nt_incidence": "range", "nt_inc_min": 40, "nt_inc_max": 20},
            "incidence-order rule",
        ),
        ({**HELSINKI, "nt_duration": 500}, "duration-range rule"),
        ({**HELSINKI, "nt_reference": "x" * 300}, "reference-length rule"),
        (
            {
                **HELSINKI,
                "nt_mode": "SPOTLIGHT",
                "nt_derivatives": ["DC_VESSELS"],
                "nt_products": ["SLC"],
            },
            "derivative-needs-grd rule",
        ),
    ],
    ids=[
        "latitude",
        "longitude",
        "incidence-range",
        "incidence-order",
        "duration",
        "reference",
        "derivatives",
    ],
)
def test_each_field_rule_is_shown_under_its_field_before_any_call(
    open_app: Callable[..., AppTest], state: dict[str, object], rule: str
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **state)

    no_exception(at)
    assert rule in shown(at)
    assert button(at, "Check feasibility").disabled


@pytest.mark.parametrize(
    ("start", "end", "rule"),
    [
        (timedelta(hours=1), timedelta(hours=40), "lead-time rule"),
        (timedelta(hours=20), timedelta(days=15), "max-14-days-ahead rule"),
        (timedelta(hours=20), timedelta(hours=30), "min-24h-window rule"),
        (timedelta(hours=40), timedelta(hours=20), "window-order rule"),
    ],
    ids=["lead-time", "14-days", "24h-window", "order"],
)
def test_each_window_rule_is_shown_with_a_way_back_to_a_valid_window(
    open_app: Callable[..., AppTest],
    control: SandboxControl,
    start: timedelta,
    end: timedelta,
    rule: str,
) -> None:
    at = open_app(
        NEW_TASK,
        contract_id=seed.BROAD_CONTRACT_ID,
        **HELSINKI,
        **_window_state(control, start, end),
    )

    no_exception(at)
    assert rule in shown(at)
    button(at, "Use a valid default window").click().run()
    assert rule not in shown(at)
    assert not button(at, "Check feasibility").disabled


def test_background_priority_moves_the_default_window_to_its_longer_lead_time(
    open_app: Callable[..., AppTest], control: SandboxControl
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)
    commercial_start = at.session_state["nt_start"]

    at.selectbox(key="nt_priority").select("BACKGROUND").run()

    assert at.session_state["nt_start"] - commercial_start >= timedelta(hours=11)
    assert "lead-time" not in shown(at)


def _field_column_text(at: AppTest, key: str) -> str:
    """Text of the innermost column holding the field ``key`` (its rule messages go under it)."""
    holding = [c for c in at.columns if any(s.key == key for s in c.selectbox)]
    column = min(holding, key=lambda c: len(c.selectbox))
    return " ".join(m.value for m in column.markdown).replace("\\", "")


def test_background_on_the_broad_contract_shows_the_sla_rule_under_the_sla_field(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)
    assert "priority-sla" not in shown(at)

    at.selectbox(key="nt_priority").select("BACKGROUND").run()

    sla_text = _field_column_text(at, "nt_sla")
    assert "priority-sla rule" in sla_text  # the contract's default SLA_8H is too fast for it
    assert "choose SLA_24H" in sla_text
    assert "priority-sla" not in _field_column_text(at, "nt_priority")  # under SLA, not priority
    assert button(at, "Check feasibility").disabled
    at.selectbox(key="nt_sla").select("SLA_24H").run()
    assert "priority-sla" not in shown(at)
    assert not button(at, "Check feasibility").disabled


def test_feasibility_gives_a_clear_verdict(open_app: Callable[..., AppTest]) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)

    button(at, "Check feasibility").click().run()

    no_exception(at)
    assert next(s.value for s in at.success).startswith("**Feasible**")


def test_feasibility_says_not_feasible_where_no_satellite_reaches(
    open_app: Callable[..., AppTest],
) -> None:
    # Sun-synchronous orbits (~97.6° inclination) never see the pole within 45° incidence.
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, poi_lat=89.9, poi_lon=0.0)

    button(at, "Check feasibility").click().run()

    no_exception(at)
    assert next(w.value for w in at.warning).startswith("**Not feasible**")
    # Ordering is no longer the suggested action, and the confirmation carries the verdict.
    assert button(at, "Create task…").proto.type == "secondary"
    button(at, "Create task…").click().run()
    no_exception(at)
    assert any("**Not feasible** (INFEASIBLE)" in w.value for w in at.warning)


def test_the_confirmation_says_whether_the_exact_order_was_checked(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)
    assert button(at, "Create task…").proto.type == "primary"
    button(at, "Create task…").click().run()
    assert any(i.value.startswith("**Feasibility not checked**") for i in at.info)
    at.button(key="nt_back").click().run()

    button(at, "Check feasibility").click().run()
    button(at, "Create task…").click().run()
    no_exception(at)
    assert any(s.value.startswith("**Feasible**: the check for this exact") for s in at.success)


def test_create_confirms_the_full_order_then_opens_the_monitor_on_the_new_task(
    open_app: Callable[..., AppTest], client: TaskingClient
) -> None:
    at = open_app(
        NEW_TASK,
        contract_id=seed.BROAD_CONTRACT_ID,
        **HELSINKI,
        nt_reference="Helsinki <b>port</b>",
        nt_look="RIGHT",
    )

    button(at, "Create task…").click().run()

    no_exception(at)
    text = shown(at)
    assert "| **Point of interest** | 60.169900, 24.938400 |" in text
    assert "| **Look side** | RIGHT |" in text
    assert "| **Priority** | COMMERCIAL (contract default) |" in text
    # The broad contract has no price list: fees are shares, not "of the order value".
    assert "Cancellation policy" in text and "no price list" in text
    assert "order value" not in text

    at.button(key="nt_confirm").click().run()

    no_exception(at)
    task_id = at.query_params["task"]
    task = client.get_task(task_id)
    assert task.reference == "Helsinki <b>port</b>"
    assert task.lookSide == "RIGHT"
    assert task.pointOfInterest.lat == pytest.approx(60.1699)
    assert at.session_state["task_id"] == task_id
    # Nothing the user typed is lost: the form still holds it for the next order.
    assert at.session_state["nt_reference"] == "Helsinki <b>port</b>"


def test_back_closes_the_confirmation_without_ordering(
    open_app: Callable[..., AppTest], client: TaskingClient
) -> None:
    before = len(list(client.iter_tasks()))
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)
    button(at, "Create task…").click().run()

    at.button(key="nt_back").click().run()

    no_exception(at)
    assert not [b for b in at.button if b.key == "nt_confirm"]
    assert len(list(client.iter_tasks())) == before


def test_the_incidence_default_is_named_as_the_one_the_order_uses(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)
    unset = at.selectbox(key="nt_incidence").options[0]
    # What the preview and the confirmation use when nothing is set: the mode's performant range.
    assert "performant range" in unset and "10–45" not in unset
    button(at, "Create task…").click().run()
    no_exception(at)
    assert "the performant range" in shown(at)
