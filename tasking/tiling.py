"""Areas tiled into scenes: a polygon, or a line widened into a corridor, covered by point
targets spaced by the imaging mode's scene.

``tile_area(area, mode)`` lays a north-up grid of scene-sized cells over the area and keeps every
cell that shares some area with it; each kept cell is a ``Tile``: its centre is the point of
interest to order, its footprint the scene it stands for. Every point of the area lies in some
tile's footprint (up to ``SLACK_KM``, 10 m, at its edges: an area of exactly 20 scenes gets 20
rows, not 21 for a metre's bulge), and every tile's centre lies within half a scene's diagonal of
the area.

- **Scene size** from ``modes`` (range × azimuth, ICEYE product specification 6.0.5 Tables 2-2…2-18):
  range across the width (east–west), azimuth along the height (north–south), because ICEYE's
  sun-synchronous orbits run within about 10–20° of north–south over most of the world. A real
  scene is turned by its pass's heading, so a grid that must not leave gaps whatever the pass
  asks for ``overlap`` (the fraction of a scene by which neighbours overlap; e.g. 0.2 covers
  headings up to about 13° off north).
- **A line** is a corridor as wide as the scene's shorter side: buffered by half of it.
- **Projection**: the grid is laid in an azimuthal equidistant projection centred on the area:
  the unit sphere's, scaled eastward by the WGS84 prime-vertical radius and northward by the
  meridian radius at the centre, so that both axes measure the ellipsoid's distances near the
  centre (a sphere of any one radius is 0.3 % off in one of them, enough to add a row to an area
  of exactly 20 scenes). Distances from the centre are true on the sphere; across them the
  projection stretches by c/sin c (0.1 % at 500 km, 1.7 % at 2,000 km), so a footprint drawn
  from it is at most that much smaller than the scene it stands for: coverage errs on the safe
  side. Areas are measured in the same plane.
- **Antimeridian**: an area across it is tiled as one (the projection is centred on the area, so
  ±180° is an ordinary line in it); a tile's footprint keeps its longitudes continuous around its
  centre (one may run past ±180 by less than a scene), its centre is in [-180, 180].
- **Limits** (refused with an ``InputError`` naming the rule): at most ``MAX_TILES`` tiles, an area
  no more than ``MAX_RADIUS_KM`` from its centre (where the projection stays within 3 %), and a
  polygon must have some area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from tasking import modes
from tasking.errors import InputError
from tasking.geometry import LatLon, normalize_lon
from tasking.rules import REFERENCE_MAX
from tasking.targets import Area, Target

__all__ = [
    "MAX_OVERLAP",
    "MAX_RADIUS_KM",
    "MAX_TILES",
    "RULE_AREA_EMPTY",
    "RULE_AREA_EXTENT",
    "RULE_MAX_TILES",
    "RULE_OVERLAP",
    "SLACK_KM",
    "Tile",
    "Tiling",
    "tile_area",
]


# Our own limits (design choices): 500 tiles is half the largest campaign (targets.MAX_TARGETS),
# leaving room for points beside an area; 2,500 km from the centre keeps the projection's stretch
# under 3 % (a Scan Wide grid of 500 tiles spans about that).
MAX_TILES: Final = 500
MAX_RADIUS_KM: Final = 2500.0
MAX_OVERLAP: Final = 0.5

RULE_MAX_TILES: Final = "max-tiles"
RULE_AREA_EXTENT: Final = "area-extent"
RULE_AREA_EMPTY: Final = "area-empty"
RULE_OVERLAP: Final = "overlap-range"

# WGS84 (NIMA TR8350.2).
_A_KM: Final = 6378.137
_E2: Final = 0.0066943799901413165
# Edges in degrees are cut into pieces this long before projecting, so that an edge drawn
# straight in longitude and latitude (as GeoJSON draws it) stays within metres of its projection.
_SEGMENT_DEG: Final = 0.05
# Footprint edges are cut into pieces of at most this many km, so that the footprint in degrees
# follows the projected rectangle within about a metre.
_FOOTPRINT_STEP_KM: Final = 10.0
# Relative tolerance of the grid arithmetic: a part of the area thinner than this fraction of a
# cell (micrometres) beyond a grid line does not add a column of tiles.
_EPS: Final = 1e-9
# How far the area's edge may reach past the grid, on each side, before a row or column of tiles
# is added for it: 10 m, about the geolocation accuracy of a scene (6 m RMSE for Spot, Dwell and
# Strip, product specification 6.0.5 Table 2-1). Without it an area of exactly 20 scenes, drawn
# with edges a metre off straight in the plane, would get 21 rows.
SLACK_KM: Final = 0.01

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Tile:
    """One scene of a tiling: its centre (the point of interest to order) and its footprint, an
    open ring of ``(lat, lon)`` corners counterclockwise from the south-west, as
    ``geometry.scene_footprint`` returns, with extra points along long edges."""

    index: int  # 1-based, row by row from the north, west to east within a row
    row: int  # 1-based from the north
    column: int  # 1-based from the west
    lat: float
    lon: float
    footprint: tuple[LatLon, ...]

    @property
    def polygon(self) -> Any:
        """The footprint as a shapely Polygon in GeoJSON's axis order (x = lon, y = lat)."""
        return Polygon([(lon, lat) for lat, lon in self.footprint])


@dataclass(frozen=True)
class Tiling:
    """The tiles covering an area with one mode's scenes, and what they cover."""

    mode: str
    scene_km: tuple[float, float]  # (east–west: range, north–south: azimuth)
    step_km: tuple[float, float]  # distance between neighbouring centres
    tiles: tuple[Tile, ...]
    area_km2: float  # the area of interest (a line's corridor)
    covered_km2: float  # the union of the tiles' footprints

    @property
    def count(self) -> int:
        return len(self.tiles)

    def targets(self, name: str = "", row: int | None = None) -> list[Target]:
        """The tiles as targets named ``<name> <index>/<count>`` (the name cut to fit a task's
        reference)."""
        width = len(str(self.count))
        out = []
        for tile in self.tiles:
            suffix = f"{tile.index:0{width}d}/{self.count}"
            room = REFERENCE_MAX - len(suffix) - 1
            label = f"{name[:room].rstrip()} {suffix}" if name else suffix
            out.append(Target(label, tile.lat, tile.lon, row))
        return out


# --- the projection ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Projection:
    """Azimuthal equidistant projection of the unit sphere centred on (lat0, lon0), scaled to km
    by the WGS84 radii of curvature at the centre: the prime vertical's eastward, the meridian's
    northward, so that near the centre both axes measure the ellipsoid's own distances."""

    lat0: float
    lon0: float
    east_km: float  # prime vertical radius of curvature N at lat0
    north_km: float  # meridian radius of curvature M at lat0

    @classmethod
    def around(cls, lon: FloatArray, lat: FloatArray) -> _Projection:
        """Centred on the mean direction of the points (a centroid that survives ±180°)."""
        phi, lam = np.radians(lat), np.radians(lon)
        x = float(np.mean(np.cos(phi) * np.cos(lam)))
        y = float(np.mean(np.cos(phi) * np.sin(lam)))
        z = float(np.mean(np.sin(phi)))
        lat0 = math.degrees(math.atan2(z, math.hypot(x, y)))
        lon0 = math.degrees(math.atan2(y, x)) if math.hypot(x, y) > 1e-12 else 0.0
        w2 = 1 - _E2 * math.sin(math.radians(lat0)) ** 2
        return cls(lat0, lon0, _A_KM / math.sqrt(w2), _A_KM * (1 - _E2) / w2**1.5)

    def forward(self, lonlat: FloatArray) -> FloatArray:
        """(n, 2) lon/lat degrees → (n, 2) km east and north of the centre."""
        phi0, lam0 = math.radians(self.lat0), math.radians(self.lon0)
        phi, dlam = np.radians(lonlat[:, 1]), np.radians(lonlat[:, 0]) - lam0
        east = np.cos(phi) * np.sin(dlam)
        north = math.cos(phi0) * np.sin(phi) - math.sin(phi0) * np.cos(phi) * np.cos(dlam)
        cos_c = math.sin(phi0) * np.sin(phi) + math.cos(phi0) * np.cos(phi) * np.cos(dlam)
        sin_c = np.hypot(east, north)
        c = np.arctan2(sin_c, cos_c)
        scale = np.divide(c, sin_c, out=np.ones_like(c), where=sin_c > 1e-15)
        return np.column_stack((east * scale * self.east_km, north * scale * self.north_km))

    def inverse(self, xy: FloatArray) -> FloatArray:
        """(n, 2) km → (n, 2) lon/lat degrees; longitudes within 180° of the centre's."""
        phi0 = math.radians(self.lat0)
        x, y = xy[:, 0] / self.east_km, xy[:, 1] / self.north_km
        c = np.hypot(x, y)
        sin_c, cos_c = np.sin(c), np.cos(c)
        y_over_c = np.divide(y, c, out=np.zeros_like(y), where=c > 0)
        phi = np.arcsin(np.clip(cos_c * math.sin(phi0) + y_over_c * sin_c * math.cos(phi0), -1, 1))
        lam = np.arctan2(x * sin_c, c * math.cos(phi0) * cos_c - y * math.sin(phi0) * sin_c)
        return np.column_stack((self.lon0 + np.degrees(lam), np.degrees(phi)))


# --- tiling --------------------------------------------------------------------------------------


def _refuse(rule: str, message: str) -> InputError:
    return InputError(message, field="area", rule=rule)


def _plane_area(geometry: Any, projection: _Projection, corridor_km: float) -> Any:
    """The area in the projected plane: a polygon as it is, a line widened into its corridor."""
    if geometry.geom_type in ("LineString", "MultiLineString"):
        # A line of one repeated position (a double click) is that point's disc; GEOS cannot
        # segmentize it.
        parts = []
        for line in shapely.get_parts(geometry):
            coordinates = shapely.get_coordinates(line)
            moved = np.any(coordinates[1:] != coordinates[:-1], axis=1)
            if moved.any():
                parts.append(shapely.segmentize(line, _SEGMENT_DEG))
            else:
                parts.append(shapely.points(coordinates[0]))
        plane = shapely.transform(shapely.geometrycollections(parts), projection.forward)
        return plane.buffer(corridor_km)
    dense = shapely.segmentize(geometry, _SEGMENT_DEG)
    plane = shapely.transform(dense, projection.forward)
    # Parts split at the antimeridian (RFC 7946) meet again in the plane: merge them.
    if plane.geom_type == "Polygon" and plane.is_valid:
        return plane
    return shapely.union_all(shapely.get_parts(shapely.make_valid(plane)))


def _columns(part: Any, x0: float, step: float, columns: int) -> range:
    """The grid columns a connected part of one row's strip spreads over (strictly)."""
    west, _, east, _ = part.bounds
    first = max(0, math.floor((west - x0) / step + _EPS))
    last = min(columns, math.ceil((east - x0) / step - _EPS))
    return range(first, last)


def _cells(plane: Any, step: tuple[float, float]) -> tuple[list[tuple[int, int]], float, float]:
    """The (row, column) cells of a north-up grid, centred on the area's bounds, that share some
    area with it; with the grid's west and north edges. One strip per row: each connected part of
    the area within a strip spans a run of columns, all of which it touches."""
    sx, sy = step
    west, south, east, north = plane.bounds
    columns = max(1, math.ceil((east - west - 2 * SLACK_KM) / sx - _EPS))
    rows = max(1, math.ceil((north - south - 2 * SLACK_KM) / sy - _EPS))
    x0 = (west + east) / 2 - columns * sx / 2
    y0 = (south + north) / 2 + rows * sy / 2
    prepared = plane
    shapely.prepare(prepared)
    found: list[tuple[int, int]] = []
    for row in range(rows):
        top = y0 - row * sy
        strip = shapely.box(x0 - sx, top - sy, x0 + (columns + 1) * sx, top)
        piece = shapely.intersection(prepared, strip)
        keep: set[int] = set()
        for part in shapely.get_parts(piece):
            if part.geom_type != "Polygon" or part.is_empty:
                continue
            _, low, _, high = part.bounds
            if high - low <= _EPS * sy:
                continue  # a rounding sliver along the strip's edge
            keep.update(_columns(part, x0, sx, columns))
        found.extend((row, column) for column in sorted(keep))
    return found, x0, y0


def _footprints(centres: FloatArray, scene: tuple[float, float]) -> tuple[FloatArray, int]:
    """(n, m, 2) rings in the plane: each scene's rectangle counterclockwise from the south-west,
    its edges cut into pieces of at most ``_FOOTPRINT_STEP_KM``; and m."""
    half_w, half_h = scene[0] / 2, scene[1] / 2
    nw = max(1, math.ceil(scene[0] / _FOOTPRINT_STEP_KM))
    nh = max(1, math.ceil(scene[1] / _FOOTPRINT_STEP_KM))
    tw = np.linspace(-half_w, half_w, nw + 1)[:-1]
    th = np.linspace(-half_h, half_h, nh + 1)[:-1]
    ring = np.concatenate(
        [
            np.column_stack((tw, np.full(nw, -half_h))),  # south edge, west to east
            np.column_stack((np.full(nh, half_w), th)),  # east edge, south to north
            np.column_stack((-tw, np.full(nw, half_h))),  # north edge, east to west
            np.column_stack((np.full(nh, -half_w), -th)),  # west edge, north to south
        ]
    )
    return centres[:, None, :] + ring[None, :, :], len(ring)


def _covered_km2(
    cells: list[tuple[int, int]],
    centres: FloatArray,
    scene: tuple[float, float],
    step: tuple[float, float],
) -> float:
    """The area of the union of the footprints: each row's runs of neighbouring tiles as one
    rectangle, then their union (a few dozen shapes rather than hundreds)."""
    if not cells:
        return 0.0
    half_w, half_h = scene[0] / 2, scene[1] / 2
    runs = []
    start = 0
    for i in range(1, len(cells) + 1):
        ended = (
            i == len(cells) or cells[i][0] != cells[i - 1][0] or cells[i][1] != cells[i - 1][1] + 1
        )
        if ended:
            (x_first, y), (x_last, _) = centres[start], centres[i - 1]
            runs.append(shapely.box(x_first - half_w, y - half_h, x_last + half_w, y + half_h))
            start = i
    if step == scene:  # no overlap: rows meet edge to edge, nothing is counted twice
        return float(sum(run.area for run in runs))
    return float(shapely.union_all(runs).area)


def tile_area(
    area: Area | BaseGeometry,
    mode: str,
    *,
    overlap: float = 0.0,
    max_tiles: int = MAX_TILES,
) -> Tiling:
    """Cover an area (an ``Area`` from ``targets``, or a shapely polygon or line in lon/lat
    degrees) with scenes of ``mode``; neighbours overlap by ``overlap`` of a scene (0 ≤ overlap
    < 0.5). Raises ``InputError`` naming the rule when the area cannot be tiled."""
    geometry = area.geometry if isinstance(area, Area) else area
    if not 0.0 <= overlap < MAX_OVERLAP:
        raise InputError(
            f"The overlap must be at least 0 and less than {MAX_OVERLAP:g} of a scene, got "
            f"{overlap} ({RULE_OVERLAP} rule).",
            field="overlap",
            rule=RULE_OVERLAP,
        )
    if (
        geometry is None
        or geometry.is_empty
        or geometry.geom_type
        not in (
            "Polygon",
            "MultiPolygon",
            "LineString",
            "MultiLineString",
        )
    ):
        kind = "nothing" if geometry is None else geometry.geom_type
        raise _refuse(
            RULE_AREA_EMPTY,
            f"Only a polygon or a line can be tiled, not {kind}: a point is a target of its "
            f"own ({RULE_AREA_EMPTY} rule).",
        )
    info = modes.mode_info(mode)
    scene = (float(info.range_km), float(info.azimuth_km))
    step = (scene[0] * (1 - overlap), scene[1] * (1 - overlap))

    coordinates = shapely.get_coordinates(geometry)
    projection = _Projection.around(coordinates[:, 0], coordinates[:, 1])
    plane = _plane_area(geometry, projection, min(scene) / 2)
    reach = float(np.max(np.hypot(*shapely.get_coordinates(plane).T)))
    if reach > MAX_RADIUS_KM:
        raise _refuse(
            RULE_AREA_EXTENT,
            f"The area reaches {reach:,.0f} km from its centre; at most {MAX_RADIUS_KM:,.0f} km "
            f"can be tiled at once: split it ({RULE_AREA_EXTENT} rule).",
        )
    if plane.area <= 0:
        raise _refuse(RULE_AREA_EMPTY, f"The area has no extent ({RULE_AREA_EMPTY} rule).")

    cells, x0, y0 = _cells(plane, step)
    if len(cells) > max_tiles:
        raise _refuse(
            RULE_MAX_TILES,
            f"The area needs {len(cells):,} tiles of {info.label} ({scene[0]:g} × {scene[1]:g} "
            f"km); at most {max_tiles:,} can be ordered at once: choose a mode with larger "
            f"scenes or a smaller area ({RULE_MAX_TILES} rule).",
        )

    grid = np.array(cells, dtype=float).reshape(-1, 2)
    centres = np.column_stack(
        (x0 + (grid[:, 1] + 0.5) * step[0], y0 - (grid[:, 0] + 0.5) * step[1])
    )
    rings, per_tile = _footprints(centres, scene)
    centre_lonlat = projection.inverse(centres)
    ring_lonlat = projection.inverse(rings.reshape(-1, 2)).reshape(len(cells), per_tile, 2)
    # Each footprint around its own centre: shift it by the whole turns its centre is shifted.
    turns = np.array([normalize_lon(lon) for lon in centre_lonlat[:, 0]]) - centre_lonlat[:, 0]
    ring_lonlat[:, :, 0] += turns[:, None]
    centre_lonlat[:, 0] += turns

    tiles = tuple(
        Tile(
            index=i + 1,
            row=row + 1,
            column=column + 1,
            lat=float(centre_lonlat[i, 1]),
            lon=float(centre_lonlat[i, 0]),
            footprint=tuple((lat, lon) for lon, lat in ring_lonlat[i].tolist()),
        )
        for i, (row, column) in enumerate(cells)
    )
    covered = _covered_km2(cells, centres, scene, step)
    return Tiling(
        mode=mode,
        scene_km=scene,
        step_km=step,
        tiles=tiles,
        area_km2=float(plane.area),
        covered_km2=covered,
    )
