"""Pass prediction (tasking/passes.py), checked against skyfield as an independent reference."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load, wgs84
from skyfield.timelib import Timescale

import tasking.passes as passes_module
from tasking.errors import InputError
from tasking.orbits import Satellite, generate_constellation
from tasking.passes import (
    Constraints,
    Pass,
    exclusion_reason,
    feasible_passes,
    ground_track,
    predict_passes,
    subsatellite_state,
)

EPOCH = datetime(2026, 11, 22, tzinfo=UTC)
START = EPOCH + timedelta(hours=6)
END = START + timedelta(days=2)


@pytest.fixture(scope="module")
def sats() -> list[Satellite]:
    return generate_constellation(epoch=EPOCH)


@pytest.fixture(scope="module")
def ts() -> Timescale:
    return load.timescale(builtin=True)


def _bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing, deg clockwise from north (independent of tasking)."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


# Equator, mid-latitude (Paris), high latitude (Tromsø), southern hemisphere next to the antimeridian.
POINTS = [(0.0, 30.0), (48.85, 2.35), (69.65, 18.96), (-17.7, 179.95)]


@pytest.mark.parametrize(("lat", "lon"), POINTS)
def test_passes_match_skyfield_culminations_above_45_degrees(
    sats: list[Satellite], ts: Timescale, lat: float, lon: float
) -> None:
    ours = predict_passes(sats, lat, lon, START, END, max_incidence=45.0)
    topos = wgs84.latlon(lat, lon)
    t0, t1 = ts.from_datetime(START), ts.from_datetime(END)
    skyfield_sats = {s.name: EarthSatellite(s.line1, s.line2, s.name, ts) for s in sats}
    culminations: list[tuple[str, datetime, float]] = []
    for name, sat in skyfield_sats.items():
        times, events = sat.find_events(topos, t0, t1, altitude_degrees=45.0)
        for t in times[events == 1]:
            alt = (sat - topos).at(t).altaz()[0].degrees
            culminations.append((name, t.utc_datetime(), alt))

    # Incidence ≤ 45° is elevation ≥ 45° (reference §5), so the sets must agree one to one,
    # except a pass grazing 45° within the two methods' numerical noise.
    unmatched = list(culminations)
    for p in ours:
        match = [
            c for c in unmatched if c[0] == p.satellite and abs(c[1] - p.time).total_seconds() < 1
        ]
        assert len(match) == 1, f"no skyfield culmination within ±1 s for {p}"
        unmatched.remove(match[0])
    assert all(abs(alt - 45.0) < 0.01 for _, _, alt in unmatched), unmatched
    assert len(ours) > 5

    for p in ours:
        sat = skyfield_sats[p.satellite]
        t = ts.from_datetime(p.time)
        topocentric = (sat - topos).at(t)
        alt = topocentric.altaz()[0].degrees
        assert p.incidence == pytest.approx(90.0 - alt, abs=0.1)
        # Zero-Doppler: skyfield's range rate is nil at our time (±2 m/s ≈ ±25 ms).
        range_rate = topocentric.frame_latlon_and_rates(topos)[5].km_per_s
        assert abs(range_rate) < 2e-3
        assert p.slant_range_km == pytest.approx(topocentric.distance().km, abs=0.05)

        # Pass direction and look side from skyfield sub-satellite points one second apart.
        here = wgs84.latlon_of(sat.at(t))
        later = wgs84.latlon_of(sat.at(ts.from_datetime(p.time + timedelta(seconds=1))))
        lat0, lon0 = here[0].degrees, here[1].degrees
        track = _bearing(lat0, lon0, later[0].degrees, later[1].degrees)
        assert p.pass_direction == ("ASCENDING" if later[0].degrees > lat0 else "DESCENDING")
        side = math.sin(math.radians(_bearing(lat0, lon0, lat, lon) - track))
        assert p.look_side == ("RIGHT" if side > 0 else "LEFT")
        assert (p.sub_lat, p.sub_lon) == pytest.approx((lat0, lon0), abs=1e-3)
        assert (p.heading - track + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=0.2)


def test_equator_passes_follow_the_east_west_rule_of_the_reference(sats: list[Satellite]) -> None:
    # Reference §5: ascending with the target east of the track → RIGHT; descending → LEFT.
    found = predict_passes(sats, 0.0, 30.0, START, END)
    for p in found:
        east = ((30.0 - p.sub_lon + 180.0) % 360.0 - 180.0) > 0
        expected = {("ASCENDING", True): "RIGHT", ("DESCENDING", True): "LEFT"}
        expected |= {("ASCENDING", False): "LEFT", ("DESCENDING", False): "RIGHT"}
        assert p.look_side == expected[(p.pass_direction, east)]
    assert {p.look_side for p in found} == {"LEFT", "RIGHT"}
    assert {p.pass_direction for p in found} == {"ASCENDING", "DESCENDING"}


def test_off_nadir_and_slant_range_follow_the_spherical_geometry_of_the_reference(
    sats: list[Satellite],
) -> None:
    # Reference §5: sin θl = R/(R+h)·sin θi with the local radius; ρ = R·sin γ / sin θl.
    for p in predict_passes(sats, 48.85, 2.35, START, END):
        sat = next(s for s in sats if s.name == p.satellite)
        r = np.linalg.norm(sat.satrec.sgp4(*_jd(p.time))[1])
        radius = 6366.0  # local Earth radius near 49°N
        look = math.degrees(math.asin(radius / r * math.sin(math.radians(p.incidence))))
        assert p.off_nadir == pytest.approx(look, abs=0.3)
        assert p.off_nadir < p.incidence
        assert r - radius - 10 < p.slant_range_km < 900.0


def _jd(t: datetime) -> tuple[float, float]:
    days = (t - datetime(2000, 1, 1, 12, tzinfo=UTC)).total_seconds() / 86400.0
    return 2451545.0, days


def test_coarse_grid_and_prefilter_find_what_a_fine_unfiltered_search_finds(
    sats: list[Satellite], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Includes the edge of the SSO's reach (~82°) where ground tracks turn, and a wide incidence.
    cases = [(81.5, -40.0, 45.0), (-5.0, 100.0, 45.0), (35.0, -120.0, 70.0)]
    window = (START, START + timedelta(days=1))
    fast = [predict_passes(sats, lat, lon, *window, max_incidence=mx) for lat, lon, mx in cases]
    monkeypatch.setattr(passes_module, "_GRID_STEP_S", 60.0)
    monkeypatch.setattr(passes_module, "_PREFILTER_MARGIN_DEG", 180.0)
    slow = [predict_passes(sats, lat, lon, *window, max_incidence=mx) for lat, lon, mx in cases]
    for a, b in zip(fast, slow, strict=True):
        assert [p.satellite for p in a] == [p.satellite for p in b]
        assert all(
            abs(x.time - y.time) < timedelta(milliseconds=1) for x, y in zip(a, b, strict=True)
        )
        assert all(
            x.incidence == pytest.approx(y.incidence, abs=1e-4) for x, y in zip(a, b, strict=True)
        )
    assert all(fast)


def test_passes_are_sorted_inside_the_window_and_within_the_incidence_range(
    sats: list[Satellite],
) -> None:
    found = predict_passes(sats, 60.17, 24.94, START, END, max_incidence=40.0, min_incidence=20.0)
    assert found == sorted(found, key=lambda p: p.time)
    assert all(START <= p.time <= END and p.time.tzinfo is UTC for p in found)
    assert all(20.0 <= p.incidence <= 40.0 for p in found)
    wider = predict_passes(sats, 60.17, 24.94, START, END, max_incidence=45.0)
    assert set(found) <= set(wider) and len(wider) > len(found)


def test_splitting_the_window_yields_the_same_passes(sats: list[Satellite]) -> None:
    # Also crosses the internal one-day propagation chunks at odd offsets.
    middle = START + timedelta(hours=29, minutes=13)
    whole = predict_passes(sats, -33.9, 151.2, START, END)
    halves = predict_passes(sats, -33.9, 151.2, START, middle)
    halves += predict_passes(sats, -33.9, 151.2, middle, END)
    assert [p.satellite for p in whole] == [p.satellite for p in halves]
    assert all(
        abs(a.time - b.time) < timedelta(milliseconds=1) for a, b in zip(whole, halves, strict=True)
    )


def test_poles_are_reachable_only_at_steep_incidence(sats: list[Satellite]) -> None:
    # An SSO at 97.6° never flies within 45° incidence of a pole (reference §2: ~82° max latitude).
    assert predict_passes(sats, 90.0, 0.0, START, START + timedelta(hours=12)) == []
    north = predict_passes(sats, 90.0, 0.0, START, START + timedelta(hours=12), max_incidence=80)
    south = predict_passes(sats, -90.0, 0.0, START, START + timedelta(hours=12), max_incidence=80)
    assert north and south
    assert all(p.sub_lat > 75.0 and 45.0 < p.incidence <= 80.0 for p in north)
    assert all(p.sub_lat < -75.0 for p in south)
    assert all(-180.0 <= p.sub_lon <= 180.0 for p in north + south)


def test_antimeridian_longitudes_180_and_minus_180_are_the_same_place(
    sats: list[Satellite],
) -> None:
    east = predict_passes(sats, 10.0, 180.0, START, END)
    west = predict_passes(sats, 10.0, -180.0, START, END)
    assert [(p.satellite, p.look_side) for p in east] == [(p.satellite, p.look_side) for p in west]
    assert all(
        abs(a.time - b.time) < timedelta(milliseconds=1) for a, b in zip(east, west, strict=True)
    )


def test_a_satellite_stops_passing_once_it_decays(sats: list[Satellite]) -> None:
    # ~16 rev/day with a huge drag term: SGP4 reports decay 56-64 h after epoch and afterwards
    # returns nonsense states (some without an error code); none of them may become a pass.
    line1 = "1 99999U 26999A   26326.00000000  .00000000  00000-0  10000-1 0  9990"
    line2 = "2 99999  97.0000   0.0000 0001000   0.0000   0.0000 16.00000000    00"
    decaying = Satellite(
        "DECAYING", 99999, line1[:68] + _checksum(line1), line2[:68] + _checksum(line2)
    )
    window = (START, START + timedelta(days=14))
    found = predict_passes([decaying, *sats[:3]], 0.0, 30.0, *window, max_incidence=89.0)
    decayed = [p.time for p in found if p.satellite == "DECAYING"]
    assert decayed and max(decayed) < EPOCH + timedelta(hours=64)
    assert max(p.time for p in found) > EPOCH + timedelta(days=13)


def _checksum(line: str) -> str:
    return str(sum(int(c) if c.isdigit() else c == "-" for c in line[:68]) % 10)


def test_empty_inputs_give_no_passes(sats: list[Satellite]) -> None:
    assert predict_passes([], 0.0, 0.0, START, END) == []
    assert predict_passes(sats, 0.0, 0.0, START, START) == []


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"lat": 90.5}, "latitude-range"),
        ({"lon": -181.0}, "longitude-range"),
        ({"lat": float("nan")}, "latitude-range"),
        ({"end": START - timedelta(seconds=1)}, "window-order"),
        ({"start": datetime(2026, 11, 22)}, "aware-datetime"),
        ({"min_incidence": 30.0, "max_incidence": 20.0}, "incidence-range"),
        ({"max_incidence": 95.0}, "incidence-range"),
    ],
)
def test_bad_input_is_refused_naming_the_rule(
    sats: list[Satellite], kwargs: dict[str, object], rule: str
) -> None:
    args: dict[str, object] = {"lat": 0.0, "lon": 0.0, "start": START, "end": END} | kwargs
    with pytest.raises(InputError) as err:
        predict_passes(sats, **args)  # type: ignore[arg-type]
    assert err.value.violations[0].rule == rule


def _pass(**changes: object) -> Pass:
    base = {
        "satellite": "SANDSAT-01",
        "time": START,
        "incidence": 41.23,
        "look_side": "LEFT",
        "pass_direction": "DESCENDING",
        "off_nadir": 36.8,
        "slant_range_km": 720.0,
        "heading": 190.0,
        "sub_lat": 1.0,
        "sub_lon": 2.0,
    } | changes
    return Pass(**base)  # type: ignore[arg-type]


def test_exclusion_reason_names_the_option_that_excludes_a_pass() -> None:
    assert exclusion_reason(_pass(), Constraints(20, 40)) == "incidence 41.2° outside 20–40°"
    assert exclusion_reason(_pass(), Constraints(10, 45, look_side="RIGHT")) == (
        "look side LEFT, task asks RIGHT"
    )
    assert exclusion_reason(_pass(), Constraints(10, 45, pass_direction="ASCENDING")) == (
        "pass DESCENDING, task asks ASCENDING"
    )
    assert exclusion_reason(_pass(), Constraints(10, 45, "LEFT", "DESCENDING")) is None
    assert exclusion_reason(_pass(incidence=20.0), Constraints(20, 40)) is None


def test_feasible_passes_keeps_only_passes_without_an_exclusion_reason() -> None:
    candidates = [_pass(), _pass(incidence=30.0), _pass(incidence=30.0, look_side="RIGHT")]
    c = Constraints(20, 40, look_side="LEFT")
    assert feasible_passes(candidates, c) == [candidates[1]]


def test_ground_track_matches_skyfield_sub_satellite_points(
    sats: list[Satellite], ts: Timescale
) -> None:
    sat = sats[0]
    track = ground_track(sat, START, START + timedelta(minutes=100), step_s=60)
    assert len(track) == 101
    times = ts.from_datetimes([START + timedelta(minutes=m) for m in range(101)])
    lat, lon = wgs84.latlon_of(EarthSatellite(sat.line1, sat.line2, sat.name, ts).at(times))
    ours = np.array(track)
    assert np.max(np.abs(ours[:, 0] - lat.degrees)) < 1e-3
    dlon = (ours[:, 1] - lon.degrees + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(dlon)) < 1e-3


def test_ground_track_stays_in_range_crosses_the_antimeridian_and_reaches_about_82_degrees(
    sats: list[Satellite],
) -> None:
    track = np.array(ground_track(sats[3], START, START + timedelta(days=1)))
    assert np.all(np.abs(track[:, 0]) <= 90.0) and np.all(np.abs(track[:, 1]) <= 180.0)
    assert np.any(np.abs(np.diff(track[:, 1])) > 180.0)  # wraps at ±180°
    # Highest geodetic latitude of a 97.7° orbit: 180° − i ≈ 82.3°, a little more geodetically.
    assert 82.0 < track[:, 0].max() < 82.8 and -82.8 < track[:, 0].min() < -82.0


def test_ground_track_ends_exactly_at_end_and_rejects_bad_steps(sats: list[Satellite]) -> None:
    end = START + timedelta(seconds=95)
    track = ground_track(sats[0], START, end, step_s=30)
    assert len(track) == 5
    assert track[-1] == pytest.approx(subsatellite_state(sats[0], end)[:2])
    with pytest.raises(InputError, match="step_s"):
        ground_track(sats[0], START, end, step_s=0)


def test_subsatellite_heading_points_along_the_track(sats: list[Satellite]) -> None:
    sat = sats[5]
    for minutes in range(0, 100, 7):
        t = START + timedelta(minutes=minutes)
        lat, lon, heading = subsatellite_state(sat, t)
        lat2, lon2, _ = subsatellite_state(sat, t + timedelta(seconds=1))
        expected = _bearing(lat, lon, lat2, lon2)
        assert (heading - expected + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=0.2)
