"""Areas tiled into scenes (tasking.tiling): every point of an area lies in some tile's footprint,
every tile is near the area, counts match hand-computed grids, and what cannot be tiled is
refused naming the rule.

Areas are built with ``geometry.destination`` (Vincenty on the WGS84 ellipsoid) and measured with a
haversine, not with the tiler's own projection, so that a mistake in it cannot pass on both ends.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from tasking import modes
from tasking.errors import InputError
from tasking.geometry import destination, normalize_lon, unwrap
from tasking.targets import parse_geojson
from tasking.tiling import (
    MAX_TILES,
    RULE_AREA_EMPTY,
    RULE_AREA_EXTENT,
    RULE_MAX_TILES,
    RULE_OVERLAP,
    SLACK_KM,
    Tile,
    Tiling,
    tile_area,
)

EARTH_KM = 6371.0088
TOLERANCE_DEG = 1e-4  # about 10 m: footprints and areas are drawn with straight edges in degrees


def tolerance_deg(shape: Any) -> float:
    """Degrees of longitude that make the grid's slack at the edges (``SLACK_KM``) and 5 m more
    for straight edges in degrees, at the area's highest latitude."""
    highest = max(abs(shape.bounds[1]), abs(shape.bounds[3]))
    return (SLACK_KM + 0.005) / (111.32 * math.cos(math.radians(min(highest + 0.5, 89))))


def rectangle(lat: float, lon: float, width_km: float, height_km: float) -> Polygon:
    """A north-up rectangle of the given size on the ground, centred on (lat, lon)."""
    corners = []
    for north, east in ((-1, -1), (-1, 1), (1, 1), (1, -1)):
        mid = destination(lat, lon, 0 if north > 0 else 180, height_km / 2)
        corners.append(destination(*mid, 90 if east > 0 else 270, width_km / 2))
    return Polygon([(x, y) for y, x in unwrap(corners)])


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def footprint_near(tile: Tile, lon_reference: float) -> Polygon:
    """The tile's footprint in lon/lat, moved by whole turns next to ``lon_reference``."""
    shift = lon_reference + normalize_lon(tile.lon - lon_reference) - tile.lon
    return Polygon([(lon + shift, lat) for lat, lon in tile.footprint])


def grid_shape(tiling: Tiling) -> tuple[int, int]:
    return max(t.row for t in tiling.tiles), max(t.column for t in tiling.tiles)


# --- hand-computed counts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "width_km", "height_km", "shape"),
    [
        ("SPOTLIGHT", 15, 10, (2, 3)),  # 3 × 2 scenes of 5 km
        ("SPOTLIGHT", 14.7, 9.7, (2, 3)),  # a little inside
        ("SPOTLIGHT", 15.3, 10.3, (3, 4)),  # a little more than 3 × 2: a row and a column more
        ("SPOTLIGHT_EXTENDED_AREA", 44, 29, (2, 3)),  # 15 km scenes
        ("STRIPMAP", 59, 99, (2, 2)),  # 30 km across (east–west), 50 km along (north–south)
        ("STRIPMAP", 61, 99, (2, 3)),
        ("SCAN", 99, 99, (1, 1)),
        ("SCAN_WIDE", 190, 290, (1, 1)),
        ("SPOTLIGHT", 99, 99, (20, 20)),  # 100 × 100 km: 400 tiles
        ("SPOTLIGHT_EXTENDED_AREA", 99, 99, (7, 7)),
    ],
)
def test_a_rectangle_gets_the_hand_computed_grid(
    mode: str, width_km: float, height_km: float, shape: tuple[int, int]
) -> None:
    tiling = tile_area(rectangle(45.0, 10.0, width_km, height_km), mode)
    rows, columns = shape
    assert tiling.count == rows * columns
    assert grid_shape(tiling) == shape
    assert [(t.row, t.column) for t in tiling.tiles] == [
        (r, c) for r in range(1, rows + 1) for c in range(1, columns + 1)
    ]
    assert [t.index for t in tiling.tiles] == list(range(1, tiling.count + 1))
    assert tiling.area_km2 == pytest.approx(width_km * height_km, rel=0.01)
    scene = modes.mode_info(mode)
    assert tiling.scene_km == (scene.range_km, scene.azimuth_km)
    assert tiling.covered_km2 == pytest.approx(tiling.count * scene.range_km * scene.azimuth_km)


def test_an_area_of_exactly_20_by_20_scenes_gets_400_tiles() -> None:
    """At the equator a box along meridians and parallels is a rectangle on the ground within
    metres (its parallels bulge by 1.5 m), which the grid's slack absorbs."""
    tiling = tile_area(rectangle(0.0, 100.0, 100, 100), "SPOTLIGHT")
    assert grid_shape(tiling) == (20, 20)
    assert tiling.covered_km2 == pytest.approx(10_000, rel=0.003)


def test_a_box_along_parallels_at_60_degrees_needs_a_row_more_for_its_bulge() -> None:
    """At 60°N the corners of a 100 km box along parallels reach 0.34 km further north than the
    middle of its top edge: 20 scenes do not cover it, 21 do."""
    tiling = tile_area(rectangle(60.0, 25.0, 100, 100), "SPOTLIGHT")
    assert grid_shape(tiling) == (21, 21)


def test_six_tiles_of_a_3_by_2_rectangle_sit_on_its_scene_grid() -> None:
    """Centres 5 km apart, rows from the north, columns from the west, each footprint 5 × 5 km."""
    tiling = tile_area(rectangle(-33.9, 18.4, 14.9, 9.9), "SPOTLIGHT")
    assert tiling.count == 6
    first, second, below = tiling.tiles[0], tiling.tiles[1], tiling.tiles[3]
    assert haversine_km((first.lat, first.lon), (second.lat, second.lon)) == pytest.approx(
        5, rel=0.005
    )
    assert haversine_km((first.lat, first.lon), (below.lat, below.lon)) == pytest.approx(
        5, rel=0.005
    )
    assert first.lat > below.lat and second.lon > first.lon
    for tile in tiling.tiles:
        assert len(tile.footprint) == 4
        south_west, south_east, _, north_west = tile.footprint
        assert haversine_km(south_west, south_east) == pytest.approx(5, rel=0.005)
        assert haversine_km(south_west, north_west) == pytest.approx(5, rel=0.005)
        assert tile.polygon.exterior.is_ccw


def test_overlap_brings_centres_closer_and_keeps_footprints_scene_sized() -> None:
    tiling = tile_area(rectangle(45.0, 10.0, 11.7, 7.7), "SPOTLIGHT", overlap=0.2)
    assert tiling.step_km == pytest.approx((4.0, 4.0))
    assert grid_shape(tiling) == (2, 3)
    a, b = tiling.tiles[0], tiling.tiles[1]
    assert haversine_km((a.lat, a.lon), (b.lat, b.lon)) == pytest.approx(4, rel=0.005)
    assert haversine_km(a.footprint[0], a.footprint[1]) == pytest.approx(5, rel=0.005)
    assert tiling.covered_km2 < tiling.count * 25


def test_a_line_is_a_corridor_as_wide_as_the_scenes_shorter_side() -> None:
    """A 24 km line along the equator with Spot: a corridor 24 + 5 km long and 5 km wide, so one
    row of ceil(29 / 5) = 6 tiles."""
    end = destination(0.0, 30.0, 90, 24)
    tiling = tile_area(LineString([(30.0, 0.0), (end[1], end[0])]), "SPOTLIGHT")
    assert grid_shape(tiling) == (1, 6)
    assert tiling.area_km2 == pytest.approx(24 * 5 + math.pi * 2.5**2, rel=0.01)
    strip = tile_area(LineString([(30.0, 0.0), (end[1], end[0])]), "STRIPMAP")
    assert grid_shape(strip) == (1, 2)  # 30 km corridor (the shorter side), 54 km long


def test_a_line_of_one_repeated_position_is_the_disc_around_it() -> None:
    tiling = tile_area(LineString([(24.9, 60.2), (24.9, 60.2)]), "SPOTLIGHT")
    assert tiling.count == 1
    assert tiling.area_km2 == pytest.approx(math.pi * 2.5**2, rel=0.01)


def test_an_area_across_the_antimeridian_is_tiled_as_one() -> None:
    here = tile_area(rectangle(-17.0, 0.0, 24, 14), "SPOTLIGHT")
    across = tile_area(rectangle(-17.0, 180.0, 24, 14), "SPOTLIGHT")
    assert across.count == here.count == 15
    assert across.area_km2 == pytest.approx(here.area_km2)
    assert {t.lon > 0 for t in across.tiles} == {True, False}
    assert all(-180 <= t.lon <= 180 for t in across.tiles)
    for tile in across.tiles:  # each footprint continuous around its own centre
        lons = [lon for _, lon in tile.footprint]
        assert max(lons) - min(lons) < 0.1
        assert min(lons) <= tile.lon <= max(lons)


def test_a_polygon_split_at_the_antimeridian_as_rfc_7946_asks_tiles_as_the_whole() -> None:
    whole = [[179.9, -17], [-179.9, -17], [-179.9, -16.9], [179.9, -16.9], [179.9, -17]]
    east = [[179.9, -17], [180, -17], [180, -16.9], [179.9, -16.9], [179.9, -17]]
    west = [[-180, -17], [-179.9, -17], [-179.9, -16.9], [-180, -16.9], [-180, -17]]
    parsed = parse_geojson(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [whole]}},
                {
                    "type": "Feature",
                    "geometry": {"type": "MultiPolygon", "coordinates": [[east], [west]]},
                },
            ],
        }
    )
    one, split = (tile_area(area, "SPOTLIGHT") for area in parsed.areas)
    assert split.count == one.count
    assert split.area_km2 == pytest.approx(one.area_km2, rel=1e-4)
    centres = [c for t in one.tiles for c in (t.lat, t.lon)]
    assert [c for t in split.tiles for c in (t.lat, t.lon)] == pytest.approx(centres, abs=1e-4)


def test_tiles_become_targets_named_after_the_area() -> None:
    tiling = tile_area(rectangle(45.0, 10.0, 14.7, 9.7), "SPOTLIGHT")
    targets = tiling.targets("Harbour", row=3)
    assert [t.name for t in targets] == [f"Harbour {i}/6" for i in range(1, 7)]
    assert [(t.lat, t.lon, t.row) for t in targets] == [(t.lat, t.lon, 3) for t in tiling.tiles]
    big = tile_area(rectangle(45.0, 10.0, 99, 9.7), "SPOTLIGHT").targets("x" * 300)
    assert big[0].name.endswith(" 01/40") and len(big[0].name) == 256


# --- refusals ------------------------------------------------------------------------------------


def test_an_area_needing_more_tiles_than_allowed_is_refused_naming_the_count() -> None:
    with pytest.raises(InputError) as caught:
        tile_area(rectangle(45.0, 10.0, 197, 197), "SPOTLIGHT")
    [violation] = caught.value.violations
    assert violation.rule == RULE_MAX_TILES
    assert "needs 1,600 tiles of Spot (5 × 5 km)" in violation.message
    assert f"at most {MAX_TILES}" in violation.message
    with pytest.raises(InputError, match="needs 6 tiles"):
        tile_area(rectangle(45.0, 10.0, 14.7, 9.7), "SPOTLIGHT", max_tiles=5)
    assert tile_area(rectangle(45.0, 10.0, 197, 197), "SCAN").count == 4


def test_an_area_too_wide_for_one_tiling_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        tile_area(LineString([(0, 0), (60, 0)]), "SCAN_WIDE")
    assert caught.value.violations[0].rule == RULE_AREA_EXTENT
    assert "split it" in caught.value.message


@pytest.mark.parametrize("geometry", [Point(1, 2), Polygon(), None])
def test_only_polygons_and_lines_can_be_tiled(geometry: Any) -> None:
    with pytest.raises(InputError) as caught:
        tile_area(geometry, "SPOTLIGHT")
    assert caught.value.violations[0].rule == RULE_AREA_EMPTY


@pytest.mark.parametrize("overlap", [-0.1, 0.5, math.nan])
def test_an_overlap_outside_its_range_is_refused(overlap: float) -> None:
    with pytest.raises(InputError) as caught:
        tile_area(rectangle(45.0, 10.0, 10, 10), "SPOTLIGHT", overlap=overlap)
    assert caught.value.violations[0].rule == RULE_OVERLAP


def test_an_unknown_mode_gets_spot_sized_scenes() -> None:
    assert tile_area(rectangle(45.0, 10.0, 14.7, 9.7), "SOMETHING_NEW").count == 6


# --- properties ----------------------------------------------------------------------------------

MODES = ["SPOTLIGHT", "SPOTLIGHT_EXTENDED_AREA", "STRIPMAP", "SCAN"]


@st.composite
def areas(draw: st.DrawFn) -> tuple[Any, str, float]:
    """A star-shaped polygon or a polyline of a few scenes' size anywhere below 75° of latitude
    (also across the antimeridian), with a mode and an overlap."""
    mode = draw(st.sampled_from(MODES))
    scene = max(modes.mode_info(mode).range_km, modes.mode_info(mode).azimuth_km)
    lat = draw(st.floats(-75, 75))
    lon = draw(st.one_of(st.floats(-180, 180), st.floats(179, 181).map(normalize_lon)))
    overlap = draw(st.sampled_from([0.0, 0.1, 0.25]))
    if draw(st.booleans()):
        count = draw(st.integers(3, 10))
        bearings = sorted(draw(st.lists(st.floats(0, 359), min_size=count, max_size=count)))
        assume(len({round(b) for b in bearings}) == count)
        radii = draw(st.lists(st.floats(0.2 * scene, 3 * scene), min_size=count, max_size=count))
        corners = unwrap(
            [destination(lat, lon, b, r) for b, r in zip(bearings, radii, strict=True)]
        )
        shape: Any = Polygon([(x, y) for y, x in corners])
        assume(shape.is_valid and shape.area > 0)
    else:
        count = draw(st.integers(2, 5))
        steps = draw(
            st.lists(
                st.tuples(st.floats(0, 359), st.floats(0.05 * scene, 2 * scene)),
                min_size=count - 1,
                max_size=count - 1,
            )
        )
        points = [(lat, lon)]
        for bearing, distance in steps:
            points.append(destination(*points[-1], bearing, distance))
        shape = LineString([(x, y) for y, x in unwrap(points)])
    return shape, mode, overlap


def samples(shape: Any, mode: str, rng: random.Random) -> list[tuple[float, float]]:
    """Points of the area as (lon, lat): its vertices, points along its edges and inside it; for
    a line, points within 95 % of the corridor's half-width of points along it."""
    edges = shape.exterior if shape.geom_type == "Polygon" else shape
    along = [edges.interpolate(rng.random(), normalized=True) for _ in range(40)]
    points = [*edges.coords, *((p.x, p.y) for p in along)]
    if shape.geom_type == "Polygon":
        west, south, east, north = shape.bounds
        while len(points) < 120:
            candidate = (rng.uniform(west, east), rng.uniform(south, north))
            if shape.contains(Point(candidate)):
                points.append(candidate)
    else:
        half = min(modes.mode_info(mode).range_km, modes.mode_info(mode).azimuth_km) / 2
        for lon, lat in list(points):
            for _ in range(2):
                lat2, lon2 = destination(lat, lon, rng.uniform(0, 360), 0.95 * half * rng.random())
                points.append((lon + normalize_lon(lon2 - lon), lat2))
    return points


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(area=areas(), seed=st.integers(0, 2**32 - 1))
def test_every_point_of_the_area_lies_in_some_tiles_footprint(
    area: tuple[Any, str, float], seed: int
) -> None:
    shape, mode, overlap = area
    tiling = tile_area(shape, mode, overlap=overlap)
    reference = (
        shape.coords[0][0] if shape.geom_type == "LineString" else shape.exterior.coords[0][0]
    )
    covered = shapely.union_all([footprint_near(t, reference) for t in tiling.tiles]).buffer(
        tolerance_deg(shape)
    )
    points = samples(shape, mode, random.Random(seed))
    outside = [p for p in points if not covered.contains(Point(p))]
    assert outside == []
    assert tiling.covered_km2 >= tiling.area_km2 * 0.999


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(area=areas())
def test_every_tile_is_scene_sized_and_its_centre_within_one_scene_of_the_area(
    area: tuple[Any, str, float],
) -> None:
    shape, mode, overlap = area
    tiling = tile_area(shape, mode, overlap=overlap)
    info = modes.mode_info(mode)
    scene = max(info.range_km, info.azimuth_km)
    half = min(info.range_km, info.azimuth_km) / 2
    reference = (
        shape.coords[0][0] if shape.geom_type == "LineString" else shape.exterior.coords[0][0]
    )
    dense = shapely.segmentize(shape, 0.01)
    for tile in tiling.tiles:
        footprint = footprint_near(tile, reference)
        lon = reference + normalize_lon(tile.lon - reference)
        assert footprint.buffer(TOLERANCE_DEG).contains(Point(lon, tile.lat))
        ring = [*tile.footprint, tile.footprint[0]]
        perimeter = sum(haversine_km(a, b) for a, b in itertools.pairwise(ring))
        assert perimeter == pytest.approx(2 * (info.range_km + info.azimuth_km), rel=0.01)
        # The centre's distance to the area, in a local plane around the centre (haversine
        # scale): within half the scene's diagonal, so well within one scene.
        origin = np.array([lon, tile.lat])
        scale = math.radians(1) * EARTH_KM * np.array([math.cos(math.radians(tile.lat)), 1.0])

        def local(geometry: Any, o: Any = origin, k: Any = scale) -> Any:
            return shapely.transform(geometry, lambda xy: (xy - o) * k)

        corridor = half if shape.geom_type == "LineString" else 0.0
        assert local(dense).distance(Point(0, 0)) - corridor <= scene
        # And the tile shares something with the area (a line's: its corridor).
        assert local(footprint).distance(local(dense)) <= corridor * 1.01 + 0.01
    lower_bound = math.ceil(tiling.area_km2 / (tiling.step_km[0] * tiling.step_km[1]) - 1e-6)
    assert tiling.count >= lower_bound
    assert len({(t.row, t.column) for t in tiling.tiles}) == tiling.count
