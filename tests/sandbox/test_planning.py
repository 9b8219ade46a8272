"""The planner's rules, on hand-made passes and bookings."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from tasking.orbits import generate_constellation
from tasking.passes import Pass, PassPredictor
from tasking.sandbox.planning import (
    Booking,
    BookingIndex,
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


# --- the planner on a pass table (issue 13: pass objects only for the slots returned) -----------


def _booking_at(satellite: str, start_min: float, task_id: str, priority: str) -> Booking:
    start = START + timedelta(minutes=start_min)
    return Booking(task_id, priority, satellite, start, start + timedelta(seconds=10))


def test_a_pass_table_is_planned_exactly_like_the_list_of_its_passes() -> None:
    sats = generate_constellation(epoch=EPOCH)
    table = PassPredictor(sats).passes(60.17, 24.94, START, START + timedelta(days=3))
    passes = table.to_list()
    decided = START + timedelta(hours=2)
    # The earliest passes after the decision are held (some only by BACKGROUND, some captured),
    # so the planner has to skip, displace and, in a short window, give up for capacity.
    held = [p for p in passes if p.time > decided][:30]
    bookings = [
        Booking(f"t{i}", "BACKGROUND" if i % 3 else "COMMERCIAL", p.satellite,
                p.time - timedelta(seconds=5), p.time + timedelta(seconds=5), i % 5 == 4)
        for i, p in enumerate(held)
    ]  # fmt: skip
    documents = [
        _doc(),
        _doc(lookSide="LEFT", passDirection="DESCENDING"),
        _doc(incidenceAngle={"min": 25, "max": 27}, imagingDuration=25),
        _doc(incidenceAngle={"min": 44, "max": 45}, lookSide="RIGHT"),
        _doc(acquisitionWindow={"start": iso(START), "end": iso(held[3].time + timedelta(
            seconds=30))}),
    ]  # fmt: skip
    outcomes = []
    for doc in documents:
        for priority in ("COMMERCIAL", "BACKGROUND"):
            for limit in (1, 5):
                args: dict[str, Any] = {"priority": priority, "not_before": decided, "gap_s": 90,
                                        "limit": limit}  # fmt: skip
                expected = find_slots(passes, doc, bookings=bookings, **args)
                assert find_slots(table, doc, bookings=bookings, **args) == expected
                assert find_slots(table, doc, bookings=BookingIndex(bookings), **args) == expected
                outcomes.append(expected)
    assert any(isinstance(o, list) and any(s.displaced for s in o) for o in outcomes)
    assert any(isinstance(o, Refusal) and o.capacity for o in outcomes)
    assert any(isinstance(o, Refusal) and not o.capacity for o in outcomes)


def test_the_booking_index_finds_what_a_scan_of_the_bookings_finds() -> None:
    rng = random.Random(11)
    bookings = [
        _booking_at(rng.choice(["S1", "S2", "S3"]), rng.uniform(0, 600), f"b{i}",
                    rng.choice(["COMMERCIAL", "BACKGROUND"]))
        for i in range(300)
    ]  # fmt: skip
    bookings.append(  # a long one: the index must look back far enough for it
        Booking("long", "COMMERCIAL", "S1", START + timedelta(minutes=100),
                START + timedelta(minutes=130))
    )  # fmt: skip
    index = BookingIndex()
    for b in bookings:
        index.add(b)
    for _ in range(500):
        satellite = rng.choice(["S1", "S2", "S3", "S4"])
        start = START + timedelta(minutes=rng.uniform(-10, 620))
        end = start + timedelta(seconds=rng.choice([3, 10, 25, 180]))
        gap = rng.choice([0, 30, 90])
        assert index.conflicts(satellite, start, end, gap) == conflicts(
            satellite, start, end, bookings, gap
        )
