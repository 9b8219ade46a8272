"""Scene geometry: checked against published geodesy figures and an independent ECEF measure."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasking.errors import InputError
from tasking.geometry import (
    destination,
    image_bounds,
    look_arrow,
    look_bearing,
    scene_footprint,
    unwrap,
)

_A = 6_378_137.0
_E2 = 6.69437999014e-3  # WGS84 first eccentricity squared


def ecef(lat: float, lon: float) -> tuple[float, float, float]:
    phi, lam = math.radians(lat), math.radians(lon)
    n = _A / math.sqrt(1 - _E2 * math.sin(phi) ** 2)
    return (
        n * math.cos(phi) * math.cos(lam),
        n * math.cos(phi) * math.sin(lam),
        n * (1 - _E2) * math.sin(phi),
    )


def chord_km(p: tuple[float, float], q: tuple[float, float]) -> float:
    """Straight-line distance; within 0.03 % of the geodesic up to 500 km (s³/24R² ≈ 0.13 km)."""
    return math.dist(ecef(*p), ecef(*q)) / 1000.0


def dms(d: float, m: float, s: float) -> float:
    return d + m / 60 + s / 3600


def test_destination_matches_vincentys_published_flinders_peak_example() -> None:
    # Geoscience Australia's worked example of Vincenty's direct formula on the GRS80/WGS84 ellipsoid.
    start = (-dms(37, 57, 3.72030), dms(144, 25, 29.52440))
    lat, lon = destination(*start, dms(306, 52, 5.37), 54.972271)
    assert lat == pytest.approx(-dms(37, 39, 10.15610), abs=1e-8)
    assert lon == pytest.approx(dms(143, 55, 35.38390), abs=1e-8)


def test_one_degree_of_latitude_at_the_equator_is_the_wgs84_meridian_arc() -> None:
    lat, lon = destination(0.0, 10.0, 0.0, 110.5743)  # WGS84 meridian arc 0°→1° = 110 574.4 m
    assert lat == pytest.approx(1.0, abs=1e-5)
    assert lon == pytest.approx(10.0, abs=1e-12)


def test_destination_across_the_antimeridian_wraps_longitude() -> None:
    lat, lon = destination(0.0, 179.9, 90.0, 50.0)
    assert -180.0 <= lon <= 180.0
    assert lon == pytest.approx(179.9 + 50 / 111.3195 - 360, abs=1e-6)  # 1° at the equator
    assert lat == pytest.approx(0.0, abs=1e-9)


def test_zero_distance_returns_the_start_point() -> None:
    assert destination(60.17, 24.94, 123.0, 0.0) == pytest.approx((60.17, 24.94))


@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-180, 180),
    bearing=st.floats(0, 360),
    distance=st.floats(0.001, 500),
)
@settings(max_examples=200, deadline=None)
def test_destination_lies_at_the_requested_distance(
    lat: float, lon: float, bearing: float, distance: float
) -> None:
    end = destination(lat, lon, bearing, distance)
    assert -90 <= end[0] <= 90 and -180 <= end[1] <= 180
    assert chord_km((lat, lon), end) == pytest.approx(distance, rel=5e-4, abs=1e-6)


@pytest.mark.parametrize(
    ("heading", "side", "expected"),
    [(0, "RIGHT", 90), (0, "LEFT", 270), (350, "RIGHT", 80), (10, "LEFT", 280), (190, "LEFT", 100)],
)
def test_look_bearing_is_heading_plus_90_for_right_and_minus_90_for_left(
    heading: float, side: str, expected: float
) -> None:
    assert look_bearing(heading, side) == pytest.approx(expected)  # type: ignore[arg-type]


def test_look_bearing_refuses_any_with_a_message_naming_the_rule() -> None:
    with pytest.raises(InputError, match="look side must be LEFT or RIGHT"):
        look_bearing(0, "ANY")  # type: ignore[arg-type]


@pytest.mark.parametrize(("range_km", "azimuth_km"), [(5, 5), (30, 50), (200, 300)])
def test_footprint_sides_have_the_scene_size(range_km: float, azimuth_km: float) -> None:
    corners = scene_footprint(60.17, 24.94, 350.0, "RIGHT", range_km, azimuth_km)
    assert len(corners) == 4
    near_start, far_start, far_end, near_end = corners
    tolerance = 5e-4 * max(range_km, azimuth_km)
    assert chord_km(near_start, far_start) == pytest.approx(range_km, abs=tolerance)
    assert chord_km(near_end, far_end) == pytest.approx(range_km, abs=tolerance)
    assert chord_km(near_start, near_end) == pytest.approx(azimuth_km, abs=tolerance)
    assert chord_km(far_start, far_end) == pytest.approx(azimuth_km, abs=tolerance)


def test_footprint_is_centred_on_the_point() -> None:
    corners = scene_footprint(-33.87, 151.21, 200.0, "LEFT", 30, 50)
    centre = (sum(c[0] for c in corners) / 4, sum(c[1] for c in corners) / 4)
    assert chord_km(centre, (-33.87, 151.21)) < 0.05


@pytest.mark.parametrize(("side", "near_is_west"), [("RIGHT", True), ("LEFT", False)])
def test_footprint_near_range_side_faces_the_satellite(side: str, near_is_west: bool) -> None:
    # Northbound track: a RIGHT-looking satellite is west of its target, a LEFT-looking one east.
    near_start, far_start, far_end, near_end = scene_footprint(0.0, 30.0, 0.0, side, 30, 50)  # type: ignore[arg-type]
    for near, far in ((near_start, far_start), (near_end, far_end)):
        assert (near[1] < far[1]) is near_is_west
    # Start and end follow the direction of flight (north).
    assert near_end[0] > near_start[0] and far_end[0] > far_start[0]


def test_footprint_azimuth_side_follows_the_heading() -> None:
    near_start, _, _, near_end = scene_footprint(10.0, 10.0, 90.0, "RIGHT", 5, 50)
    assert near_end[1] > near_start[1]  # eastbound: the end is east of the start
    assert near_end[0] == pytest.approx(near_start[0], abs=0.01)


def test_footprint_across_the_antimeridian_keeps_longitudes_in_range() -> None:
    corners = scene_footprint(0.0, 179.99, 0.0, "LEFT", 100, 100)
    assert all(-180 <= lon <= 180 for _, lon in corners)
    assert {lon > 0 for _, lon in corners} == {True, False}
    (south, west), (north, east) = image_bounds(corners)
    assert west == pytest.approx(179.99 - 0.449, abs=0.01)
    assert east == pytest.approx(179.99 + 0.449, abs=0.01)  # beyond 180: one continuous box
    assert south == pytest.approx(-north, abs=1e-9)


def test_look_arrow_runs_from_the_satellite_side_to_the_target() -> None:
    start, end = look_arrow(0.0, 30.0, 0.0, "RIGHT", 100.0)
    assert end == (0.0, 30.0)
    assert start[1] < 30.0  # west of the target: where a right-looking northbound satellite is
    assert start[0] == pytest.approx(0.0, abs=1e-9)
    assert chord_km(start, end) == pytest.approx(100.0, rel=1e-3)


def test_image_bounds_are_south_west_and_north_east() -> None:
    corners = [(1.0, 2.0), (3.0, 5.0), (2.0, -1.0), (0.5, 4.0)]
    assert image_bounds(corners) == ((0.5, -1.0), (3.0, 5.0))


def test_image_bounds_of_nothing_is_refused() -> None:
    with pytest.raises(InputError, match="at least one corner"):
        image_bounds([])


def test_unwrap_makes_longitudes_continuous() -> None:
    assert unwrap([(0, 179.5), (0, -179.5), (1, -179.0)]) == [(0, 179.5), (0, 180.5), (1, 181.0)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: destination(91, 0, 0, 1), "latitude must be between -90 and 90"),
        (lambda: destination(0, 0, 0, -1), "distance_km must be a finite number ≥ 0 km"),
        (lambda: destination(math.nan, 0, 0, 1), "latitude must be between -90 and 90"),
        (lambda: destination(0, math.inf, 0, 1), "longitude must be a finite number"),
        (lambda: scene_footprint(0, 0, 0, "RIGHT", -5, 5), "range_km must be"),
        (lambda: look_arrow(0, 0, 0, "LEFT", math.inf), "length_km must be"),
    ],
)
def test_bad_geometry_input_names_the_rule(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("lat", "lon", "rule"),
    [
        (91.0, 0.0, "latitude-range"),
        (math.nan, 0.0, "latitude-range"),
        (0.0, math.nan, "longitude-range"),
    ],
)
def test_a_bad_point_is_refused_with_the_task_rules_ids(lat: float, lon: float, rule: str) -> None:
    with pytest.raises(InputError) as caught:
        destination(lat, lon, 0, 1)
    assert [v.rule for v in caught.value.violations] == [rule]


def test_a_longitude_beyond_180_is_wrapped_not_refused() -> None:
    assert destination(0, 190, 0, 0) == pytest.approx(destination(0, -170, 0, 0))
