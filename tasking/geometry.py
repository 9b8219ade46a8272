"""Scene geometry on the ground: footprint rectangle, look direction, image bounds.

Distances are geodesics on the WGS84 ellipsoid, computed with Vincenty's direct formula (Survey
Review 23(176), 1975). Why the ellipsoid rather than a sphere: a sphere of any one radius is off by up
to ~0.5 % in some direction (meridional and prime-vertical radii differ by that much), i.e. ~1.5 km
on a 300 km Scan Wide scene; Vincenty's direct problem always converges, is accurate to ~1 mm, and
needs no dependency. Points are ``(lat, lon)`` in degrees; returned longitudes are in [-180, 180].

Look side follows ``reference/iceye-fleet-modes.md`` §5: a RIGHT-looking satellite sees targets to
the right of its velocity, so the look direction (satellite → target on the ground) is heading + 90°.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from tasking.errors import InputError
from tasking.rules import check_point

__all__ = [
    "LatLon",
    "LookSide",
    "destination",
    "image_bounds",
    "look_arrow",
    "look_bearing",
    "normalize_bearing",
    "normalize_lon",
    "scene_footprint",
    "unwrap",
]


LookSide = Literal["LEFT", "RIGHT"]
LatLon = tuple[float, float]

# WGS84 defining constants (NIMA TR8350.2).
_A = 6_378_137.0
_F = 1 / 298.257223563
_B = _A * (1 - _F)

_MAX_ITERATIONS = 200
_EPSILON = 1e-12  # radians of σ; ~0.006 mm on the ground


def normalize_lon(lon: float) -> float:
    """Longitude wrapped into [-180, 180]; one already inside is returned unchanged."""
    if -180.0 <= lon <= 180.0:
        return lon
    return (lon + 180.0) % 360.0 - 180.0


def normalize_bearing(bearing_deg: float) -> float:
    """Bearing wrapped into [0, 360)."""
    return bearing_deg % 360.0


def _check_length(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise InputError(f"{name} must be a finite number ≥ 0 km", field=name, rule="non-negative")


def _direct(
    lat: float, lon: float, bearing_deg: float, distance_m: float
) -> tuple[float, float, float]:
    """Vincenty direct: (lat, lon, forward azimuth at the destination), all in degrees."""
    alpha1 = math.radians(bearing_deg)
    sin_alpha1, cos_alpha1 = math.sin(alpha1), math.cos(alpha1)
    tan_u1 = (1 - _F) * math.tan(math.radians(lat))
    cos_u1 = 1 / math.sqrt(1 + tan_u1 * tan_u1)
    sin_u1 = tan_u1 * cos_u1
    sigma1 = math.atan2(tan_u1, cos_alpha1)
    sin_alpha = cos_u1 * sin_alpha1
    cos2_alpha = 1 - sin_alpha * sin_alpha
    u2 = cos2_alpha * (_A * _A - _B * _B) / (_B * _B)
    a = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)))
    b = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)))

    sigma = distance_m / (_B * a)
    for _ in range(_MAX_ITERATIONS):
        cos_2sm = math.cos(2 * sigma1 + sigma)
        sin_s, cos_s = math.sin(sigma), math.cos(sigma)
        delta = (
            b
            * sin_s
            * (
                cos_2sm
                + b
                / 4
                * (
                    cos_s * (-1 + 2 * cos_2sm * cos_2sm)
                    - b / 6 * cos_2sm * (-3 + 4 * sin_s * sin_s) * (-3 + 4 * cos_2sm * cos_2sm)
                )
            )
        )
        previous, sigma = sigma, distance_m / (_B * a) + delta
        if abs(sigma - previous) < _EPSILON:
            break
    cos_2sm = math.cos(2 * sigma1 + sigma)
    sin_s, cos_s = math.sin(sigma), math.cos(sigma)

    x = sin_u1 * sin_s - cos_u1 * cos_s * cos_alpha1
    lat2 = math.atan2(
        sin_u1 * cos_s + cos_u1 * sin_s * cos_alpha1,
        (1 - _F) * math.sqrt(sin_alpha * sin_alpha + x * x),
    )
    lam = math.atan2(sin_s * sin_alpha1, cos_u1 * cos_s - sin_u1 * sin_s * cos_alpha1)
    c = _F / 16 * cos2_alpha * (4 + _F * (4 - 3 * cos2_alpha))
    big_l = lam - (1 - c) * _F * sin_alpha * (
        sigma + c * sin_s * (cos_2sm + c * cos_s * (-1 + 2 * cos_2sm * cos_2sm))
    )
    alpha2 = math.atan2(sin_alpha, -x)
    return (
        math.degrees(lat2),
        normalize_lon(lon + math.degrees(big_l)),
        normalize_bearing(math.degrees(alpha2)),
    )


def destination(lat: float, lon: float, bearing_deg: float, distance_km: float) -> LatLon:
    """The point ``distance_km`` along the geodesic leaving (lat, lon) at ``bearing_deg``."""
    check_point(lat, lon, wrap_lon=True)
    _check_length("distance_km", distance_km)
    lat2, lon2, _ = _direct(lat, lon, bearing_deg, distance_km * 1000.0)
    return lat2, lon2


def look_bearing(heading_deg: float, look_side: LookSide) -> float:
    """Direction from the satellite to the target on the ground, in [0, 360)."""
    if look_side == "RIGHT":
        return normalize_bearing(heading_deg + 90.0)
    if look_side == "LEFT":
        return normalize_bearing(heading_deg - 90.0)
    raise InputError(
        f"look side must be LEFT or RIGHT to draw a scene, not {look_side!r}",
        field="lookSide",
        rule="look-side",
    )


def scene_footprint(
    lat: float,
    lon: float,
    heading_deg: float,
    look_side: LookSide,
    range_km: float,
    azimuth_km: float,
) -> list[LatLon]:
    """The 4 corners of a scene centred on (lat, lon), as an open ring (first corner not repeated).

    The azimuth sides run along the track heading, the range sides across it. Order: near-range
    start, far-range start, far-range end, near-range end, where "near" is the side toward the
    satellite and "start"/"end" follow the direction of flight. ``folium.Polygon`` closes the ring
    itself; for GeoJSON append the first corner.
    """
    check_point(lat, lon, wrap_lon=True)
    _check_length("range_km", range_km)
    _check_length("azimuth_km", azimuth_km)
    turn = look_bearing(0.0, look_side)  # +90 (RIGHT) or 270 ≡ -90 (LEFT), relative to track
    half_az_m, half_rg_m = azimuth_km * 500.0, range_km * 500.0

    corners: list[LatLon] = []
    for along in (-1, 1):
        # Walk along the track to the middle of each azimuth edge; the track's direction there is
        # the geodesic's forward azimuth (reversed for the backward walk).
        start_bearing = heading_deg if along > 0 else heading_deg + 180.0
        mid_lat, mid_lon, fwd = _direct(lat, lon, start_bearing, half_az_m)
        track = fwd if along > 0 else fwd + 180.0
        far_bearing = track + turn
        near = _direct(mid_lat, mid_lon, far_bearing + 180.0, half_rg_m)[:2]
        far = _direct(mid_lat, mid_lon, far_bearing, half_rg_m)[:2]
        corners.extend([near, far] if along < 0 else [far, near])
    return corners


def look_arrow(
    lat: float, lon: float, heading_deg: float, look_side: LookSide, length_km: float
) -> list[LatLon]:
    """``[start, target]``: a line on the satellite's side of the target pointing at the target."""
    check_point(lat, lon, wrap_lon=True)
    _check_length("length_km", length_km)
    start = destination(lat, lon, look_bearing(heading_deg, look_side) + 180.0, length_km)
    return [start, (lat, normalize_lon(lon))]


def unwrap(points: Sequence[LatLon]) -> list[LatLon]:
    """Points with longitudes made continuous (steps < 180°), possibly leaving [-180, 180].

    A shape that crosses the antimeridian then draws as itself in Leaflet, not as a band around
    the world.
    """
    out: list[LatLon] = []
    for lat, lon in points:
        if out:
            previous = out[-1][1]
            lon = previous + normalize_lon(lon - previous)
        out.append((lat, lon))
    return out


def image_bounds(corners: Sequence[LatLon]) -> tuple[LatLon, LatLon]:
    """``((south, west), (north, east))`` enclosing the corners, for an image overlay.

    Across the antimeridian ``east`` exceeds 180 (west stays in [-180, 180]), which Leaflet draws
    as one continuous box.
    """
    if not corners:
        raise InputError("image bounds need at least one corner", field="corners", rule="non-empty")
    points = unwrap(corners)
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    west = min(lons)
    shift = normalize_lon(west) - west
    return (min(lats), west + shift), (max(lats), max(lons) + shift)
