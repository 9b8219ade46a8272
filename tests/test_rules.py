"""Input rules (tasking.rules): every rule refuses what it should, names itself, and lets valid
drafts through; the builder emits exactly what was checked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasking import rules
from tasking.errors import InputError, Violation
from tasking.models import Contract, TaskRequest
from tests.conftest import load_golden

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def contract(**changes: Any) -> Contract:
    data = load_golden("contract_recommended")
    data.update(changes)
    return Contract.model_validate(data)


CONTRACT = contract()


def draft(**changes: Any) -> rules.TaskDraft:
    start, end = rules.default_window(NOW, "COMMERCIAL")
    base = rules.TaskDraft(
        contract_id=CONTRACT.id,
        lat=60.1699,
        lon=24.9384,
        window_start=start,
        window_end=end,
        imaging_mode="SPOTLIGHT",
    )
    return replace(base, **changes)


def rules_broken(d: rules.TaskDraft, c: Contract = CONTRACT, now: datetime = NOW) -> set[str]:
    return {v.rule for v in rules.check_draft(d, c, now)}


def fields_broken(d: rules.TaskDraft, c: Contract = CONTRACT) -> set[str]:
    return {v.field for v in rules.check_draft(d, c, NOW)}


# --- valid drafts ----------------------------------------------------------------------------


def test_a_minimal_draft_with_the_default_window_breaks_no_rule() -> None:
    assert rules.check_draft(draft(), CONTRACT, NOW) == []


def test_a_draft_using_every_option_within_the_contract_breaks_no_rule() -> None:
    full = draft(
        priority="COMMERCIAL",
        sla="SLA_3H",
        exclusivity="PUBLIC",
        eula="STANDARD",
        incidence_min=20,
        incidence_max=40,
        look_side="RIGHT",
        pass_direction="ASCENDING",
        product_types=["GRD", "SLC"],
        derivative_product_types=["DC_VESSELS"],
        imaging_duration=10,
        reference="x" * 256,
    )
    assert rules.check_draft(full, CONTRACT, NOW) == []


def test_every_violation_message_names_its_rule() -> None:
    bad = draft(
        lat=91,
        lon=-181,
        incidence_min=50,
        incidence_max=5,
        imaging_duration=0,
        reference="x" * 257,
        imaging_mode="SCAN_WIDE",
    )
    violations = rules.check_draft(bad, CONTRACT, NOW)
    assert len(violations) >= 6
    for violation in violations:
        assert f"{violation.rule} rule" in violation.message


# --- point -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lat", [-90.0, 0.0, 90.0])
def test_latitudes_from_minus_90_to_90_are_accepted(lat: float) -> None:
    assert "lat" not in fields_broken(draft(lat=lat))


@pytest.mark.parametrize("lat", [-90.0001, 90.5, float("nan"), float("inf")])
def test_latitudes_outside_minus_90_to_90_are_refused_by_the_latitude_rule(lat: float) -> None:
    assert rules.RULE_LAT in rules_broken(draft(lat=lat))


@pytest.mark.parametrize("lon", [-180.5, 180.0001])
def test_longitudes_outside_minus_180_to_180_are_refused_by_the_longitude_rule(lon: float) -> None:
    assert rules.RULE_LON in rules_broken(draft(lon=lon))


def test_a_missing_point_is_refused_as_required_on_both_fields() -> None:
    violations = rules.check_draft(draft(lat=None, lon=None), CONTRACT, NOW)
    assert {(v.field, v.rule) for v in violations} == {
        ("lat", rules.RULE_REQUIRED),
        ("lon", rules.RULE_REQUIRED),
    }


# --- window ----------------------------------------------------------------------------------


def test_commercial_window_starting_exactly_12_h_ahead_is_accepted() -> None:
    start = NOW + timedelta(hours=12)
    assert (
        rules.check_draft(
            draft(window_start=start, window_end=start + timedelta(hours=24)), CONTRACT, NOW
        )
        == []
    )


def test_commercial_window_starting_a_second_before_12_h_is_refused_by_lead_time() -> None:
    start = NOW + timedelta(hours=12) - timedelta(seconds=1)
    broken = rules.check_draft(
        draft(window_start=start, window_end=start + timedelta(hours=30)), CONTRACT, NOW
    )
    assert [(v.field, v.rule) for v in broken] == [("window_start", rules.RULE_LEAD_TIME)]
    assert "12 h" in broken[0].message and "COMMERCIAL" in broken[0].message


def test_background_priority_needs_24_h_of_lead_time() -> None:
    start = NOW + timedelta(hours=20)
    d = draft(
        priority="BACKGROUND",
        sla="SLA_24H",
        window_start=start,
        window_end=start + timedelta(hours=30),
    )
    assert rules_broken(d) == {rules.RULE_LEAD_TIME}
    assert rules_broken(replace(d, priority="COMMERCIAL")) == set()


def test_lead_time_uses_the_contract_default_priority_when_none_is_given() -> None:
    background_only = contract(priority={"allowed": ["BACKGROUND"], "default": "BACKGROUND"})
    start = NOW + timedelta(hours=20)
    d = draft(sla="SLA_24H", window_start=start, window_end=start + timedelta(hours=30))
    assert rules_broken(d, background_only) == {rules.RULE_LEAD_TIME}


@given(lead=st.timedeltas(min_value=timedelta(hours=-48), max_value=timedelta(hours=24)))
def test_any_start_earlier_than_the_lead_time_is_refused_naming_the_lead_time_rule(
    lead: timedelta,
) -> None:
    for priority, minimum in rules.LEAD_TIME.items():
        start = NOW + lead
        d = draft(priority=priority, window_start=start, window_end=start + timedelta(days=2))
        assert (rules.RULE_LEAD_TIME in rules_broken(d)) == (lead < minimum)


def test_window_end_exactly_14_days_ahead_is_accepted_and_one_second_more_is_refused() -> None:
    end = NOW + timedelta(days=14)
    assert rules_broken(draft(window_end=end)) == set()
    assert rules_broken(draft(window_end=end + timedelta(seconds=1))) == {rules.RULE_MAX_AHEAD}


def test_a_window_exactly_24_h_wide_is_accepted_and_narrower_is_refused() -> None:
    start = NOW + timedelta(hours=13)
    assert rules_broken(draft(window_start=start, window_end=start + timedelta(hours=24))) == set()
    narrow = draft(window_start=start, window_end=start + timedelta(hours=23, minutes=59))
    assert rules_broken(narrow) == {rules.RULE_MIN_WINDOW}


def test_a_window_ending_before_it_starts_is_refused_by_the_order_rule() -> None:
    start = NOW + timedelta(days=3)
    assert rules_broken(draft(window_start=start, window_end=start - timedelta(hours=30))) == {
        rules.RULE_WINDOW_ORDER
    }


def test_a_missing_window_is_refused_as_required() -> None:
    violations = rules.check_draft(draft(window_start=None, window_end=None), CONTRACT, NOW)
    assert {(v.field, v.rule) for v in violations} == {
        ("window_start", rules.RULE_REQUIRED),
        ("window_end", rules.RULE_REQUIRED),
    }


def test_window_times_in_another_offset_are_compared_in_utc() -> None:
    start = (NOW + timedelta(hours=12)).astimezone(timezone(timedelta(hours=3)))
    assert start.hour == 23
    assert rules_broken(draft(window_start=start, window_end=start + timedelta(hours=24))) == set()


@given(
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    priority=st.sampled_from(["COMMERCIAL", "BACKGROUND"]),
)
def test_the_default_window_passes_every_window_rule(now: datetime, priority: str) -> None:
    start, end = rules.default_window(now, priority)
    assert start.minute == start.second == start.microsecond == 0
    assert start >= now + rules.LEAD_TIME[priority] + timedelta(hours=1)
    assert end - start == timedelta(hours=48)
    assert end <= now + rules.MAX_AHEAD


# --- incidence, duration, reference, enums ---------------------------------------------------

angles = st.integers(min_value=-10, max_value=100)


@given(low=angles, high=angles)
def test_any_incidence_pair_outside_10_to_45_or_reversed_is_refused(low: int, high: int) -> None:
    broken = rules_broken(draft(incidence_min=low, incidence_max=high))
    in_range = 10 <= low <= 45 and 10 <= high <= 45
    if not in_range:
        assert rules.RULE_INCIDENCE_RANGE in broken
    elif low > high:
        assert broken == {rules.RULE_INCIDENCE_ORDER}
    else:
        assert broken == set()


@pytest.mark.parametrize(
    ("low", "high"),
    [("PERFORMANT", "PERFORMANT"), ("FULL_RANGE", "PERFORMANT"), (20, "FULL_RANGE")],
)
def test_incidence_presets_are_accepted_in_either_bound(low: int | str, high: int | str) -> None:
    assert rules_broken(draft(incidence_min=low, incidence_max=high)) == set()


@pytest.mark.parametrize("value", ["WIDE", "20", 20.5, True])
def test_incidence_values_that_are_neither_whole_degrees_nor_presets_are_refused(
    value: Any,
) -> None:
    assert rules.RULE_INCIDENCE_RANGE in rules_broken(draft(incidence_min=value, incidence_max=40))


def test_only_one_incidence_bound_is_refused_by_the_pair_rule() -> None:
    violations = rules.check_draft(draft(incidence_min=20), CONTRACT, NOW)
    assert [(v.field, v.rule) for v in violations] == [("incidence_max", rules.RULE_INCIDENCE_PAIR)]


@given(duration=st.integers(min_value=-5, max_value=400))
def test_imaging_duration_outside_1_to_180_s_is_refused(duration: int) -> None:
    broken = rules_broken(draft(imaging_duration=duration))
    assert (rules.RULE_DURATION in broken) == (not 1 <= duration <= 180)


def test_a_reference_of_257_characters_is_refused_by_the_length_rule() -> None:
    assert rules_broken(draft(reference="é" * 257)) == {rules.RULE_REFERENCE}
    assert rules_broken(draft(reference="é" * 256)) == set()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("look_side", "UP"),
        ("pass_direction", "NORTH"),
        ("priority", "URGENT"),
        ("exclusivity", "SECRET"),
    ],
)
def test_values_outside_the_api_enumerations_are_refused(field: str, value: str) -> None:
    violations = rules.check_draft(draft(**{field: value}), CONTRACT, NOW)
    assert (field, rules.RULE_ENUM) in {(v.field, v.rule) for v in violations}


def test_an_empty_imaging_mode_is_refused_as_required() -> None:
    assert rules.RULE_REQUIRED in rules_broken(draft(imaging_mode=""))


# --- contract --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "also"),
    [
        ("imaging_mode", "SCAN_WIDE", {}),
        # BACKGROUND with its 24 h SLA, so that only the priority is outside the contract.
        ("priority", "BACKGROUND", {"sla": "SLA_24H"}),
        ("exclusivity", "PUBLIC", {}),
        ("sla", "SLA_3H", {}),
        ("eula", "GOVERNMENT", {}),
    ],
)
def test_every_option_must_be_in_the_contracts_allowed_list(
    field: str, value: str, also: dict[str, str]
) -> None:
    strict = contract(
        priority={"allowed": ["COMMERCIAL"]},
        exclusivity={"allowed": ["PRIVATE"]},
        sla={"allowed": ["SLA_8H", "SLA_24H"], "default": "SLA_8H"},
    )
    start = NOW + timedelta(days=2)
    d = draft(window_start=start, window_end=start + timedelta(days=1), **{field: value}, **also)
    violations = rules.check_draft(d, strict, NOW)
    assert [(v.field, v.rule) for v in violations] == [(field, rules.RULE_CONTRACT_ALLOWED)]
    assert value in violations[0].message


def test_an_option_is_free_when_the_contract_lists_nothing_for_it() -> None:
    silent = contract(eula={})
    assert rules_broken(draft(eula="GOVERNMENT"), silent) == set()


def test_a_draft_for_another_contract_is_refused() -> None:
    assert rules_broken(draft(contract_id="other")) == {rules.RULE_CONTRACT}


@pytest.mark.parametrize(
    "when", [datetime(2024, 12, 31, 23, 59, tzinfo=UTC), datetime(2027, 1, 1, 0, 1, tzinfo=UTC)]
)
def test_a_contract_outside_its_validity_accepts_no_task(when: datetime) -> None:
    start, end = rules.default_window(when, "COMMERCIAL")
    d = draft(window_start=start, window_end=end)
    assert rules_broken(d, now=when) == {rules.RULE_CONTRACT_VALIDITY}


def test_product_types_come_from_the_contract_for_that_mode_when_it_says() -> None:
    assert rules_broken(draft(product_types=["GRD", "QLK"])) == set()
    # SICD is a SPOTLIGHT product in general, but this contract does not list it.
    assert rules_broken(draft(product_types=["GRD", "SICD"])) == {rules.RULE_PRODUCT_TYPES}


def test_product_types_fall_back_to_the_modes_catalogue_when_the_contract_is_silent() -> None:
    scan = draft(imaging_mode="SCAN")
    assert rules_broken(replace(scan, product_types=["GRD", "QLK"])) == set()
    assert rules_broken(replace(scan, product_types=["SLC"])) == {rules.RULE_PRODUCT_TYPES}


def test_derivatives_are_refused_for_modes_that_do_not_allow_them() -> None:
    d = draft(
        imaging_mode="STRIPMAP", product_types=["GRD"], derivative_product_types=["DC_VESSELS"]
    )
    assert rules_broken(d) == {rules.RULE_DERIVATIVE_MODE}


def test_derivatives_need_grd_among_the_product_types() -> None:
    missing_grd = draft(derivative_product_types=["DC_AIRCRAFT"])
    assert rules_broken(missing_grd) == {rules.RULE_DERIVATIVE_GRD}
    assert rules_broken(replace(missing_grd, product_types=["SLC"])) == {rules.RULE_DERIVATIVE_GRD}


def test_derivatives_need_the_contract_to_allow_them() -> None:
    no_derivatives = contract(derivativeProductTypes=None)
    d = draft(product_types=["GRD"], derivative_product_types=["DC_VEHICLES"])
    assert rules_broken(d, no_derivatives) == {rules.RULE_DERIVATIVE_CONTRACT}


# --- SLA pairings (PSPEC tasking.md §3.7.3: 24 h for BACKGROUND only, 3 h not for Dwell Precise) ---

PRECISE = "SPOTLIGHT_EXTENDED_DWELL_PRECISE"
# A contract silent on SLAs and allowing Dwell Precise: only the pairing rules judge the SLA.
FREE_SLA = contract(
    sla={},
    imagingModes={"allowed": ["SPOTLIGHT", "SPOTLIGHT_EXTENDED_DWELL", PRECISE]},
)


def background(**changes: Any) -> rules.TaskDraft:
    """A BACKGROUND draft whose window meets BACKGROUND's 24 h lead time."""
    start, end = rules.default_window(NOW, "BACKGROUND")
    return draft(priority="BACKGROUND", window_start=start, window_end=end, **changes)


def sla_violations(d: rules.TaskDraft, c: Contract = CONTRACT) -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in rules.check_draft(d, c, NOW)]


def test_background_with_the_contracts_default_8_h_sla_is_refused_on_the_sla_field() -> None:
    violations = rules.check_draft(background(), CONTRACT, NOW)
    assert [(v.field, v.rule) for v in violations] == [("sla", rules.RULE_PRIORITY_SLA)]
    message = violations[0].message
    assert "priority-sla rule" in message
    assert "SLA_8H (the contract's default)" in message
    assert "choose SLA_24H, or COMMERCIAL priority" in message  # the contract's own literal


@pytest.mark.parametrize("sla", ["SLA_3H", "SLA_8H"])
def test_background_with_a_faster_sla_is_refused_once_by_the_priority_sla_rule(sla: str) -> None:
    assert sla_violations(background(sla=sla)) == [("sla", rules.RULE_PRIORITY_SLA)]


@pytest.mark.parametrize("sla", ["SLA_24H", "SLA_24H+", "SLA_36H", "SLA_2D"])
def test_background_with_an_sla_of_24_h_or_more_is_accepted(sla: str) -> None:
    assert sla_violations(background(sla=sla), FREE_SLA) == []


def test_background_refuses_an_sla_just_under_24_h_whatever_its_literal() -> None:
    assert sla_violations(background(sla="SLA_23H"), FREE_SLA) == [("sla", rules.RULE_PRIORITY_SLA)]
    # Without a 24 h literal in the contract, the message still says what to choose.
    message = rules.check_draft(background(sla="SLA_12H"), FREE_SLA, NOW)[0].message
    assert "choose a 24 h SLA" in message


@pytest.mark.parametrize("sla", ["SLA_24H", None])
def test_commercial_accepts_a_24_h_sla_as_well_as_its_default(sla: str | None) -> None:
    # ICEYE's tutorial contract offers COMMERCIAL with SLA_24H+: 24 h is not BACKGROUND-only here.
    assert rules.check_draft(draft(priority="COMMERCIAL", sla=sla), CONTRACT, NOW) == []


def test_the_contracts_default_priority_counts_for_the_pairing() -> None:
    background_default = contract(
        priority={"allowed": ["BACKGROUND", "COMMERCIAL"], "default": "BACKGROUND"}
    )
    start, end = rules.default_window(NOW, "BACKGROUND")
    d = draft(window_start=start, window_end=end)
    assert sla_violations(d, background_default) == [("sla", rules.RULE_PRIORITY_SLA)]
    only_background = contract(priority={"allowed": ["BACKGROUND"]})
    message = rules.check_draft(d, only_background, NOW)[0].message
    assert "choose SLA_24H (" in message  # COMMERCIAL is not offered where the contract has none
    assert sla_violations(replace(d, sla="SLA_24H"), background_default) == []


@pytest.mark.parametrize("sla", ["SLA_FAST", "SLA_", "SLA_.", "SLA_1.2.3H", "STANDARD"])
def test_an_sla_whose_hours_cannot_be_read_gets_no_pairing_rule(sla: str) -> None:
    assert sla_violations(background(sla=sla), FREE_SLA) == []
    assert sla_violations(draft(imaging_mode=PRECISE, sla=sla), FREE_SLA) == []


def test_no_pairing_rule_when_neither_the_draft_nor_the_contract_decides_the_sla() -> None:
    undecided = contract(sla={"allowed": ["SLA_8H", "SLA_24H"]})
    assert sla_violations(background(), undecided) == []


@pytest.mark.parametrize("sla", ["SLA_3H", "SLA_2H"])
def test_an_sla_of_3_h_or_less_is_refused_for_dwell_precise(sla: str) -> None:
    violations = rules.check_draft(draft(imaging_mode=PRECISE, sla=sla), FREE_SLA, NOW)
    assert [(v.field, v.rule) for v in violations] == [("sla", rules.RULE_SLA_MODE)]
    assert "sla-mode rule" in violations[0].message and "Dwell Precise" in violations[0].message


def test_dwell_precise_accepts_8_h_and_other_dwell_modes_accept_3_h() -> None:
    assert sla_violations(draft(imaging_mode=PRECISE, sla="SLA_8H"), FREE_SLA) == []
    assert (
        sla_violations(draft(imaging_mode="SPOTLIGHT_EXTENDED_DWELL", sla="SLA_3H"), FREE_SLA) == []
    )


def test_dwell_precise_with_the_contracts_default_3_h_sla_is_refused() -> None:
    fast_default = contract(
        sla={"allowed": ["SLA_3H", "SLA_8H"], "default": "SLA_3H"},
        imagingModes={"allowed": [PRECISE]},
    )
    assert sla_violations(draft(imaging_mode=PRECISE), fast_default) == [
        ("sla", rules.RULE_SLA_MODE)
    ]


def test_background_dwell_precise_at_3_h_breaks_both_sla_rules_once_each() -> None:
    d = background(imaging_mode=PRECISE, sla="SLA_3H")
    assert sla_violations(d, FREE_SLA) == [
        ("sla", rules.RULE_PRIORITY_SLA),
        ("sla", rules.RULE_SLA_MODE),
    ]


def test_check_request_refuses_the_pairing_on_the_wire_sla_field() -> None:
    request = rules.build_task_request(background(sla="SLA_24H"), CONTRACT, NOW)
    faster = request.model_copy(update={"sla": "SLA_8H"})
    assert rules.check_request(request, CONTRACT, NOW) == []
    assert [(v.field, v.rule) for v in rules.check_request(faster, CONTRACT, NOW)] == [
        ("sla", rules.RULE_PRIORITY_SLA)
    ]


@given(
    amount=st.integers(min_value=1, max_value=400),
    unit=st.sampled_from(["H", "D"]),
    priority=st.sampled_from(["COMMERCIAL", "BACKGROUND"]),
    mode=st.sampled_from(["SPOTLIGHT", "SPOTLIGHT_EXTENDED_DWELL", PRECISE]),
)
def test_sla_pairings_follow_the_hours_of_any_literal(
    amount: int, unit: str, priority: str, mode: str
) -> None:
    hours = amount * (24 if unit == "D" else 1)
    d = background(sla=f"SLA_{amount}{unit}", imaging_mode=mode)
    broken = sla_violations(replace(d, priority=priority), FREE_SLA)
    expected = []
    if priority == "BACKGROUND" and hours < 24:
        expected.append(("sla", rules.RULE_PRIORITY_SLA))
    if mode == PRECISE and hours <= 3:
        expected.append(("sla", rules.RULE_SLA_MODE))
    assert broken == expected


@given(sla=st.text(max_size=12), priority=st.sampled_from(["COMMERCIAL", "BACKGROUND"]))
def test_any_sla_text_is_judged_without_crashing_and_commercial_never_by_priority_sla(
    sla: str, priority: str
) -> None:
    broken = {
        rule
        for _, rule in sla_violations(replace(background(sla=sla), priority=priority), FREE_SLA)
    }
    assert broken <= {rules.RULE_PRIORITY_SLA}
    if priority == "COMMERCIAL":
        assert broken == set()


# --- builder, wire checks, helpers -----------------------------------------------------------


def test_the_builder_omits_every_option_the_user_did_not_set() -> None:
    request = rules.build_task_request(draft(reference=""), CONTRACT, NOW)
    assert set(request.to_wire()) == {
        "contractID",
        "pointOfInterest",
        "acquisitionWindow",
        "imagingMode",
    }


def test_the_builder_sends_exactly_the_checked_values() -> None:
    d = draft(
        priority="COMMERCIAL",
        sla="SLA_8H",
        incidence_min="PERFORMANT",
        incidence_max=40,
        product_types=["GRD"],
        derivative_product_types=["DC_VESSELS"],
        imaging_duration=12,
        reference="ref 1",
        look_side="LEFT",
    )
    wire = rules.build_task_request(d, CONTRACT, NOW).to_wire()
    assert wire["acquisitionWindow"] == {
        "start": "2026-05-01T21:00:00Z",
        "end": "2026-05-03T21:00:00Z",
    }
    assert wire["incidenceAngle"] == {"min": "PERFORMANT", "max": 40}
    assert wire["derivativeProductTypes"] == ["DC_VESSELS"]
    assert (wire["priority"], wire["sla"], wire["imagingDuration"]) == ("COMMERCIAL", "SLA_8H", 12)
    assert (wire["reference"], wire["lookSide"]) == ("ref 1", "LEFT")


def test_the_builder_raises_input_error_with_every_violation_and_builds_nothing() -> None:
    with pytest.raises(InputError) as caught:
        rules.build_task_request(draft(lat=100, imaging_duration=500), CONTRACT, NOW)
    assert {v.field for v in caught.value.violations} == {"lat", "imaging_duration"}


def test_check_request_names_wire_fields() -> None:
    request = rules.build_task_request(draft(incidence_min=20, incidence_max=40), CONTRACT, NOW)
    late = request.model_copy(
        update={
            "acquisitionWindow": request.acquisitionWindow.model_copy(
                update={"end": NOW + timedelta(days=20)}
            )
        }
    )
    bad = late.model_copy(update={"imagingMode": "SCAN_WIDE"})
    fields = {v.field for v in rules.check_request(bad, CONTRACT, NOW)}
    assert fields == {"acquisitionWindow.end", "imagingMode"}


def test_check_request_accepts_the_builders_output() -> None:
    request = rules.build_task_request(draft(product_types=["GRD"]), CONTRACT, NOW)
    assert rules.check_request(request, CONTRACT, NOW) == []


def test_check_request_refuses_the_documented_example_window_of_2_h() -> None:
    # The feasibility page's own example window is 2 h wide and in the past.
    item = load_golden("feasibility_request_doc")[0]
    request = TaskRequest.model_validate(item)
    c = contract(id=item["contractID"], start=None, end=None)
    broken = {v.rule for v in rules.check_request(request, c, NOW)}
    assert {rules.RULE_LEAD_TIME, rules.RULE_MIN_WINDOW} <= broken


def test_effective_priority_is_the_given_one_else_the_contract_default() -> None:
    assert rules.effective_priority("BACKGROUND", CONTRACT) == "BACKGROUND"
    assert rules.effective_priority(None, CONTRACT) == "COMMERCIAL"
    only_background = contract(priority={"allowed": ["BACKGROUND"]})
    assert rules.effective_priority(None, only_background) == "BACKGROUND"


def test_price_query_fills_unset_options_from_contract_defaults() -> None:
    request = rules.build_task_request(draft(sla="SLA_3H"), CONTRACT, NOW)
    assert rules.price_query(request, CONTRACT) == {
        "contractID": CONTRACT.id,
        "imagingMode": "SPOTLIGHT",
        "pointOfInterest[lat]": "60.1699",
        "pointOfInterest[lon]": "24.9384",
        "exclusivity": "PRIVATE",
        "priority": "COMMERCIAL",
        "sla": "SLA_3H",
        "eula": "STANDARD",
    }


def test_price_query_refuses_when_neither_request_nor_contract_decides_the_sla() -> None:
    undecided = contract(sla={"allowed": ["SLA_3H", "SLA_8H"]})
    request = rules.build_task_request(draft(), undecided, NOW)
    with pytest.raises(InputError) as caught:
        rules.price_query(request, undecided)
    assert [(v.field, v.rule) for v in caught.value.violations] == [
        ("sla", rules.RULE_PRICE_FIELDS)
    ]


def test_a_feasibility_batch_with_mixed_priorities_is_refused() -> None:
    commercial = rules.build_task_request(draft(priority="COMMERCIAL"), CONTRACT, NOW)
    start, end = rules.default_window(NOW, "BACKGROUND")
    background = rules.build_task_request(
        draft(priority="BACKGROUND", sla="SLA_24H", window_start=start, window_end=end),
        CONTRACT,
        NOW,
    )
    defaulted = rules.build_task_request(draft(), CONTRACT, NOW)
    contracts = {CONTRACT.id: CONTRACT}
    assert rules.check_batch([commercial, defaulted], contracts) == []
    broken = rules.check_batch([commercial, background], contracts)
    assert [v.rule for v in broken] == [rules.RULE_BATCH_PRIORITY]


@pytest.mark.parametrize(
    ("lat", "lon", "rules_broken_"),
    [
        (0.0, 0.0, []),
        (-90.0, 180.0, []),
        (90.5, 0.0, [rules.RULE_LAT]),
        (0.0, -180.5, [rules.RULE_LON]),
        (float("nan"), float("inf"), [rules.RULE_LAT, rules.RULE_LON]),
    ],
)
def test_point_violations_is_the_one_check_of_a_point(
    lat: float, lon: float, rules_broken_: list[str]
) -> None:
    assert [v.rule for v in rules.point_violations(lat, lon)] == rules_broken_
    assert rules.is_valid_point(lat, lon) == (not rules_broken_)


def test_point_violations_names_the_callers_fields_and_may_leave_longitude_to_wrap() -> None:
    wire = ("pointOfInterest[lat]", "pointOfInterest[lon]")
    assert [v.field for v in rules.point_violations(91, 181, fields=wire)] == list(wire)
    assert rules.point_violations(0, 200, wrap_lon=True) == []
    assert [v.rule for v in rules.point_violations(0, float("nan"), wrap_lon=True)] == [
        rules.RULE_LON
    ]


def test_check_point_raises_one_input_error_with_every_violation() -> None:
    with pytest.raises(InputError) as caught:
        rules.check_point(95, 200)
    assert [v.rule for v in caught.value.violations] == [rules.RULE_LAT, rules.RULE_LON]
    assert "latitude must be between -90 and 90 degrees" in str(caught.value)


def test_a_missing_coordinate_is_not_also_a_valid_point() -> None:
    assert not rules.is_valid_point(None, 0.0)
    assert not rules.is_valid_point(0.0, None)


def test_a_draft_with_one_coordinate_checks_the_other_and_keeps_field_order() -> None:
    violations = rules.check_draft(draft(lat=95.0, lon=None), CONTRACT, NOW)
    point = [(v.field, v.rule) for v in violations if v.field in ("lat", "lon")]
    assert point == [("lat", rules.RULE_LAT), ("lon", rules.RULE_REQUIRED)]


# --- what people read (issue 11: no internal rule ids on screen) -----------------------------


def test_user_message_drops_the_rule_id_and_keeps_the_sentence_and_its_source() -> None:
    bad = draft(
        lat=95,
        lon=-181,
        incidence_min=50,
        incidence_max=5,
        imaging_duration=0,
        reference="x" * 257,
        window_start=NOW + timedelta(hours=1),
        window_end=NOW + timedelta(days=15),
    )
    violations = rules.check_draft(bad, CONTRACT, NOW)
    assert len(violations) >= 7
    ids = [value for name, value in vars(rules).items() if name.startswith("RULE_")]
    for violation in violations:
        text = rules.user_message(violation)
        assert not [rule for rule in ids if f"{rule} rule" in text], text
        assert text.endswith(".") and "()" not in text
        assert f"{violation.rule} rule" in violation.message  # still there for logs and tests
    lead = next(v for v in violations if v.rule == rules.RULE_LEAD_TIME)
    assert rules.user_message(lead).endswith("(ICEYE product specification Table 3-2).")
    order = Violation("x", rules.RULE_WINDOW_ORDER, "Plain text without an id.")
    assert rules.user_message(order) == "Plain text without an id."


def test_sla_choices_offer_only_the_slas_that_combine_with_priority_and_mode() -> None:
    both = contract(
        sla={"allowed": ["SLA_3H", "SLA_8H", "SLA_24H", "SLA_FAST"], "default": "SLA_8H"},
        imagingModes={"allowed": ["SPOTLIGHT", PRECISE]},
    )
    assert rules.sla_choices(both, "COMMERCIAL", "SPOTLIGHT") == [
        "SLA_3H",
        "SLA_8H",
        "SLA_24H",
        "SLA_FAST",
    ]
    assert rules.sla_choices(both, "BACKGROUND", "SPOTLIGHT") == ["SLA_24H", "SLA_FAST"]
    assert rules.sla_choices(both, "COMMERCIAL", PRECISE) == ["SLA_8H", "SLA_24H", "SLA_FAST"]
    # Every SLA offered passes check_draft with that priority and mode.
    for priority, mode in (("BACKGROUND", "SPOTLIGHT"), ("COMMERCIAL", PRECISE)):
        start, end = rules.default_window(NOW, priority)
        for sla in rules.sla_choices(both, priority, mode):
            d = draft(
                priority=priority, sla=sla, imaging_mode=mode, window_start=start, window_end=end
            )
            assert sla_violations(d, both) == [], (priority, mode, sla)
