"""The planner's rules, on hand-made passes and bookings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tasking.passes import Pass
from tasking.sandbox.planning import (
    Booking,
    Refusal,
    Slot,
    conflicts,
    find_slots,
    imaging_interval,
    incidence_range,
)
from tests.sandbox.conftest import EPOCH, iso

START = EPOCH + timedelta(hours=13)


def _pass(minutes: float, incidence: float = 30.0, satellite: str = "S1", **kw: Any) -> Pass:
    values: dict[str, Any] = {
        "satellite": satellite,
        "time": START + timedelta(minutes=minutes),
        "incidence": incidence,
        "look_side": "RIGHT",
        "pass_direction": "ASCENDING",
        "off_nadir": incidence * 0.9,
        "slant_range_km": 650.0,
        "heading": 350.0,
        "sub_lat": 0.0,
        "sub_lon": 0.0,
    }
    values.update(kw)
    return Pass(**values)


def _doc(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "imagingMode": "SPOTLIGHT",
        "acquisitionWindow": {"start": iso(START), "end": iso(START + timedelta(hours=24))},
    }
    doc.update(fields)
    return doc


def _booking(p: Pass, priority: str, locked: bool = False, task_id: str = "other") -> Booking:
    start, end = imaging_interval(p, 10)
    return Booking(task_id, priority, p.satellite, start, end, locked)


def test_presets_resolve_to_the_modes_ranges_and_numbers_stay() -> None:
    assert incidence_range(None, "STRIPMAP") == (15, 35)
    assert incidence_range({"min": "FULL_RANGE", "max": "PERFORMANT"}, "SPOTLIGHT") == (10, 40)
    assert incidence_range({"min": 12, "max": 44}, "SCAN") == (12, 44)


def test_imaging_is_centred_on_zero_doppler() -> None:
    p = _pass(60)
    start, end = imaging_interval(p, 10)
    assert (start, end) == (p.time - timedelta(seconds=5), p.time + timedelta(seconds=5))


def test_conflict_needs_the_same_satellite_within_the_setup_gap() -> None:
    p = _pass(60)
    start, end = imaging_interval(p, 10)
    near = Booking(
        "b", "COMMERCIAL", "S1", end + timedelta(seconds=89), end + timedelta(seconds=99)
    )
    far = Booking(
        "c", "COMMERCIAL", "S1", end + timedelta(seconds=91), end + timedelta(seconds=101)
    )
    other = Booking("d", "COMMERCIAL", "S2", start, end)
    assert conflicts("S1", start, end, [near, far, other], 90) == [near]


def test_earliest_satisfying_free_pass_wins() -> None:
    passes = [_pass(10, 42.0), _pass(20, look_side="LEFT"), _pass(30), _pass(40)]
    found = find_slots(passes, _doc(lookSide="RIGHT"), priority="COMMERCIAL",
                       not_before=EPOCH, bookings=[], gap_s=90)  # fmt: skip
    assert isinstance(found, list)
    assert found[0].pass_ == passes[2]
    assert found[0].displaced == ()


def test_imaging_must_fit_inside_the_window_and_after_the_decision() -> None:
    edge = _pass(0.05)  # 3 s after the window start: imaging would begin before it
    late = _pass(60)
    found = find_slots([edge, late], _doc(), priority="COMMERCIAL",
                       not_before=late.time, bookings=[], gap_s=90)  # fmt: skip
    assert isinstance(found, Refusal)
    assert "2 with imaging would not fit inside the window" in found.reason


def test_commercial_displaces_uncaptured_background_only_when_nothing_is_free() -> None:
    taken, free = _pass(10), _pass(20, satellite="S2")
    bookings = [_booking(taken, "BACKGROUND", task_id="bg")]
    found = find_slots([taken, free], _doc(), priority="COMMERCIAL",
                       not_before=EPOCH, bookings=bookings, gap_s=90)  # fmt: skip
    assert isinstance(found, list) and found[0].pass_ == free
    only = find_slots([taken], _doc(), priority="COMMERCIAL",
                      not_before=EPOCH, bookings=bookings, gap_s=90)  # fmt: skip
    assert isinstance(only, list) and only[0].displaced == ("bg",)


def test_nobody_displaces_commercial_or_captured_bookings_and_background_displaces_nothing() -> (
    None
):
    p = _pass(10)
    for booking, priority in [
        (_booking(p, "COMMERCIAL"), "COMMERCIAL"),
        (_booking(p, "BACKGROUND", locked=True), "COMMERCIAL"),
        (_booking(p, "BACKGROUND"), "BACKGROUND"),
    ]:
        found = find_slots([p], _doc(), priority=priority,
                           not_before=EPOCH, bookings=[booking], gap_s=90)  # fmt: skip
        assert isinstance(found, Refusal) and found.capacity


def test_refusal_reason_counts_what_excluded_the_passes() -> None:
    passes = [_pass(10, 45.0), _pass(20, look_side="LEFT"), _pass(30, pass_direction="DESCENDING")]
    doc = _doc(lookSide="RIGHT", passDirection="ASCENDING")
    found = find_slots(passes, doc, priority="COMMERCIAL", not_before=EPOCH, bookings=[], gap_s=90)
    assert isinstance(found, Refusal) and not found.capacity
    assert found.reason == (
        "no pass satisfies the task's constraints in its window (3 passes: "
        "1 with incidence outside 20–40°, 1 with look side not RIGHT, "
        "1 with pass direction not ASCENDING)"
    )


def test_limit_returns_several_slots_free_ones_first() -> None:
    passes = [_pass(m, satellite=f"S{m}") for m in (10, 20, 30)]
    found = find_slots(passes, _doc(), priority="COMMERCIAL",
                       not_before=EPOCH, bookings=[], gap_s=90, limit=2)  # fmt: skip
    assert isinstance(found, list)
    assert [s.pass_ for s in found] == passes[:2]
    assert all(isinstance(s, Slot) for s in found)
