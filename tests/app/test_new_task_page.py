"""New task page: contract-driven options, every input rule shown under its field before any
call (a neutral hint until the user touches the field or presses Check feasibility, then an error,
never with an internal rule id), options that cannot combine not offered, feasibility, and creation
through the confirmation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tasking import rules
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


def hints(at: AppTest) -> str:
    """The neutral notes under the fields (captions)."""
    return "\n".join(c.value for c in at.caption).replace("\\", "")


def errors(at: AppTest) -> str:
    """The red messages under the fields."""
    return "\n".join(m.value for m in at.markdown if ":red[:material/error:" in m.value).replace(
        "\\", ""
    )


def rule_ids_shown(at: AppTest) -> list[str]:
    """Internal rule ids ("(lead-time rule)") anywhere in what the page shows."""
    text = shown(at)
    ids = [value for name, value in vars(rules).items() if name.startswith("RULE_")]
    return [rule for rule in ids if f"{rule} rule" in text]


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


def test_default_window_is_valid_and_only_the_missing_point_is_hinted(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID)

    assert "Latitude is required." in hints(at)
    assert "Longitude is required." in hints(at)
    assert not errors(at)  # nothing was touched yet: hints, not errors
    assert "Before checking or ordering, set the point of interest." in hints(at)
    assert not rule_ids_shown(at)
    assert "lead-time" not in shown(at) and "14 days from now" not in errors(at)

    at.session_state["poi_lat"] = 60.1699
    at.session_state["poi_lon"] = 24.9384
    at.run()

    assert "is required" not in shown(at)
    assert not button(at, "Check feasibility").disabled


def test_check_feasibility_with_a_missing_point_turns_the_hints_into_errors_and_sends_nothing(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID)

    button(at, "Check feasibility").click().run()

    no_exception(at)
    assert "Latitude is required." in errors(at) and "Longitude is required." in errors(at)
    assert any("Fix what is marked in red first" in e.value for e in at.error)
    assert not at.success and not [w for w in at.warning if "feasible" in w.value.lower()]
    assert "nt_feasibility" not in at.session_state
    # Create does not open the confirmation either.
    button(at, "Create task…").click().run()
    assert not [b for b in at.button if b.key == "nt_confirm"]


def test_a_map_click_or_typed_point_makes_its_rules_errors_at_once(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)

    at.number_input(key="poi_lat").set_value(95.0).run()

    assert "The latitude must be between -90 and 90 degrees, got 95.0." in errors(at)
    assert not rule_ids_shown(at)


def _window_state(control: SandboxControl, start: timedelta, end: timedelta) -> dict[str, object]:
    now = control.clock().now
    return {
        "nt_window_auto": False,
        "nt_start": naive(now + start),
        "nt_end": naive(now + end),
    }


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"poi_lat": 95.0, "poi_lon": 24.9}, "The latitude must be between -90 and 90 degrees"),
        ({"poi_lat": 60.1, "poi_lon": 200.0}, "The longitude must be between -180 and 180"),
        (
            {**HELSINKI, "nt_incidence": "range", "nt_inc_min": 5, "nt_inc_max": 30},
            "Minimum incidence angle 5 must be a whole number of degrees in 10..45",
        ),
        (
            {**HELSINKI, "nt_incidence": "range", "nt_inc_min": 40, "nt_inc_max": 20},
            "Minimum incidence angle 40 is greater than the maximum 20.",
        ),
        (
            {**HELSINKI, "nt_duration": 500},
            "Imaging duration 500 must be a whole number of seconds in 1..180.",
        ),
        (
            {**HELSINKI, "nt_reference": "x" * 300},
            "Reference is 300 characters; at most 256 are allowed.",
        ),
        (
            {
                **HELSINKI,
                "nt_mode": "SPOTLIGHT",
                "nt_derivatives": ["DC_VESSELS"],
                "nt_products": ["SLC"],
            },
            "Derivative products need GRD among the product types.",
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
def test_each_field_rule_is_a_hint_until_check_feasibility_then_an_error(
    open_app: Callable[..., AppTest], state: dict[str, object], message: str
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **state)

    no_exception(at)
    assert message in hints(at) and message not in errors(at)
    assert not rule_ids_shown(at)

    button(at, "Check feasibility").click().run()

    no_exception(at)
    assert message in errors(at)
    assert not rule_ids_shown(at)
    assert "nt_feasibility" not in at.session_state  # nothing was sent


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (timedelta(hours=1), timedelta(hours=40), "Window start must be at least 12 h after now"),
        (timedelta(hours=20), timedelta(days=15), "Window end must be at most 14 days from now"),
        (timedelta(hours=20), timedelta(hours=30), "The window must be at least 24 h wide"),
        (timedelta(hours=40), timedelta(hours=20), "Window end must be after its start."),
    ],
    ids=["lead-time", "14-days", "24h-window", "order"],
)
def test_each_window_rule_is_shown_with_a_way_back_to_a_valid_window(
    open_app: Callable[..., AppTest],
    control: SandboxControl,
    start: timedelta,
    end: timedelta,
    message: str,
) -> None:
    at = open_app(
        NEW_TASK,
        contract_id=seed.BROAD_CONTRACT_ID,
        **HELSINKI,
        **_window_state(control, start, end),
    )

    no_exception(at)
    assert message in shown(at)
    assert not rule_ids_shown(at)
    button(at, "Use a valid default window").click().run()
    assert message not in shown(at)
    assert not button(at, "Check feasibility").disabled


def test_editing_the_window_makes_its_rule_an_error_at_once(
    open_app: Callable[..., AppTest], control: SandboxControl
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)
    start = at.session_state["nt_start"]

    at.datetime_input(key="nt_end").set_value(start + timedelta(hours=6)).run()

    assert "The window must be at least 24 h wide; it is 6 h." in errors(at)
    assert not rule_ids_shown(at)


def test_background_priority_moves_the_default_window_to_its_longer_lead_time(
    open_app: Callable[..., AppTest], control: SandboxControl
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)
    commercial_start = at.session_state["nt_start"]

    at.selectbox(key="nt_priority").select("BACKGROUND").run()

    assert at.session_state["nt_start"] - commercial_start >= timedelta(hours=11)
    assert "lead-time" not in shown(at)


def test_the_sla_list_offers_only_what_the_priority_and_mode_allow(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)
    assert at.selectbox(key="nt_sla").options == ["SLA_3H", "SLA_8H (default)", "SLA_24H"]

    at.selectbox(key="nt_priority").select("BACKGROUND").run()

    # BACKGROUND is delivered within 24 h only: the faster SLAs are not offered, and the SLA
    # moves to the one that combines (the contract's default SLA_8H does not).
    assert at.selectbox(key="nt_sla").options == ["SLA_24H"]
    assert at.selectbox(key="nt_sla").value == "SLA_24H"
    assert "priority-sla" not in shown(at) and "BACKGROUND tasks are delivered" not in shown(at)
    button(at, "Check feasibility").click().run()
    no_exception(at)
    assert at.session_state["nt_feasibility"]  # checked: the order is valid as offered

    at.selectbox(key="nt_priority").select("COMMERCIAL").run()
    assert at.selectbox(key="nt_sla").options == ["SLA_3H", "SLA_8H (default)", "SLA_24H"]


def test_advanced_options_opens_on_an_error_and_stays_open_while_it_is_fixed(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, **HELSINKI)
    (advanced,) = [e for e in at.expander if e.label == "Advanced options"]
    assert not advanced.proto.expanded

    at.number_input(key="nt_duration").set_value(500).run()

    (advanced,) = [e for e in at.expander if e.label == "Advanced options"]
    assert advanced.proto.expanded
    assert "Imaging duration 500 must be a whole number of seconds in 1..180." in errors(at)

    at.number_input(key="nt_duration").set_value(60).run()

    (advanced,) = [e for e in at.expander if e.label == "Advanced options"]
    assert advanced.proto.expanded  # fixed, and still open: the user decides when to close it
    assert not errors(at)


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
