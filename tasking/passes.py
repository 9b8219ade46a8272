"""Pass prediction: when each satellite can image a ground point, and with which geometry.

One function serves the sandbox scheduler and the app's pass preview, so both agree.
Method (reference/iceye-fleet-modes.md §5-§6): propagate every satellite with `SatrecArray` on a
coarse grid, find where the range rate to the target turns from negative to positive (closest
approach = zero-Doppler time, where Strip/Scan image broadside), drop approaches that stay far from
the orbit plane, refine the rest with Newton steps on exact SGP4 states (all candidates at once),
then derive incidence, look side and pass direction at that instant.

Frames: SGP4 gives TEME; ECEF = R_z(GMST)·TEME with GMST (IAU 1982) of UTC, i.e. UT1 ≈ UTC and no
polar motion; both cost metres to tens of metres (reference §5 "Frames"), far below the ±0.1°
budget of PRODUCT.md. The target and sub-satellite points are WGS84 geodetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from sgp4.api import SatrecArray, jday

from tasking.errors import InputError
from tasking.orbits import Satellite
from tasking.rules import check_point
from tasking.times import require_aware

__all__ = [
    "Constraints",
    "Pass",
    "exclusion_reason",
    "feasible_passes",
    "ground_track",
    "predict_passes",
    "subsatellite_state",
]

F64 = npt.NDArray[np.float64]

_WGS84_A_KM = 6378.137
_WGS84_F = 1.0 / 298.257223563
_WGS84_E2 = _WGS84_F * (2.0 - _WGS84_F)
_WGS84_B_KM = _WGS84_A_KM * (1.0 - _WGS84_F)
_MU_KM3_S2 = 398600.8  # WGS72, the constants SGP4 propagates with
# dGMST/dt of the IAU 1982 formula below: sidereal seconds per UT1 second × 2π/86400.
_EARTH_RATE_RAD_S = (
    (876600.0 * 3600.0 + 8640184.812866) / (36525.0 * 86400.0) * 2.0 * math.pi / 86400.0
)

# Grid step. The range rate to a point changes sign twice per orbit, about 48 min apart (once at
# closest approach, once at the farthest point), so a 20 min grid brackets every closest approach;
# finer grids only cost propagation time (reference §6 measured 60 s as "0 mismatches" for a
# detector that needed the grid to see the pass itself; this one does not).
_GRID_STEP_S = 1200.0
# Propagate at most a day of grid per SatrecArray call to bound memory (reference §6).
_CHUNK_S = 86400.0
# Slack on the orbit-plane prefilter: the ellipsoid vs sphere (≤0.2°), the target's rotation across
# one grid step (≤5°, nearly linear so only its curvature, ≤0.2°, matters) and J2 wobble.
_PREFILTER_MARGIN_DEG = 1.0
_NEWTON_TOL_S = 1e-4  # well inside the ±1 s of PRODUCT.md and the ~1 ms the design asks for
_NEWTON_MAX_ITER = 30  # bisection fallback: 1200 s / 2**24 < 0.1 ms


@dataclass(frozen=True)
class Pass:
    """One imaging opportunity: the zero-Doppler instant of one satellite over one point."""

    satellite: str
    time: datetime  # aware UTC, zero-Doppler (closest approach, broadside)
    incidence: float  # deg at the target, 90° − elevation over the geodetic normal
    look_side: str  # "LEFT" | "RIGHT"
    pass_direction: str  # "ASCENDING" | "DESCENDING"
    off_nadir: float  # deg at the satellite, from its geocentric nadir
    slant_range_km: float
    heading: float  # deg clockwise from north of the ground track at `time`
    sub_lat: float
    sub_lon: float


@dataclass(frozen=True)
class Constraints:
    """The geometry options of a task (ICEYE createTask: incidenceAngle, lookSide, passDirection)."""

    incidence_min: float
    incidence_max: float
    look_side: str = "ANY"
    pass_direction: str = "ANY"


def predict_passes(
    sats: Sequence[Satellite],
    lat: float,
    lon: float,
    start: datetime,
    end: datetime,
    max_incidence: float = 45.0,
    min_incidence: float = 0.0,
) -> list[Pass]:
    """Every pass of `sats` over the WGS84 point in [start, end] with incidence in [min, max].

    One opportunity per pass, at its zero-Doppler time; sorted by time.
    """
    check_point(lat, lon)
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if end < start:
        raise InputError(
            f"window end {end.isoformat()} is before its start {start.isoformat()}",
            field="end",
            rule="window-order",
        )
    if not 0.0 <= min_incidence <= max_incidence <= 90.0:
        raise InputError(
            f"incidence range must satisfy 0 ≤ min ≤ max ≤ 90°, got {min_incidence}–{max_incidence}",
            field="incidence",
            rule="incidence-range",
        )
    if not sats or end == start:
        return []

    jd0, fr0 = _julian(start)
    target = _geodetic_to_ecef(lat, lon)
    span = (end - start).total_seconds()
    grid = np.append(np.arange(0.0, span, _GRID_STEP_S), span)
    sat_array = SatrecArray([s.satrec for s in sats])
    mean_motion = np.array([s.satrec.no_kozai / 60.0 for s in sats])  # rad/s

    found: list[tuple[npt.NDArray[np.intp], F64, F64, F64, F64]] = []
    per_chunk = max(1, int(_CHUNK_S // _GRID_STEP_S))
    dead = np.zeros(len(sats), dtype=bool)
    for i0 in range(0, len(grid) - 1, per_chunk):
        t = grid[i0 : i0 + per_chunk + 1]
        e, r, v = sat_array.sgp4(np.full(t.shape, jd0), fr0 + t / 86400.0)
        # Once SGP4 fails (decay), later states are meaningless even where it reports no error.
        failed = np.logical_or.accumulate(e != 0, axis=1) | dead[:, None]
        dead = failed[:, -1]
        found.append(_brackets(t, r, v, failed, target, jd0, fr0, max_incidence))
    sat_idx = np.concatenate([c[0] for c in found])
    lo, hi = np.concatenate([c[1] for c in found]), np.concatenate([c[2] for c in found])
    f_lo, f_hi = np.concatenate([c[3] for c in found]), np.concatenate([c[4] for c in found])
    if sat_idx.size == 0:
        return []

    order = np.argsort(sat_idx, kind="stable")
    sat_idx, lo, hi, f_lo, f_hi = sat_idx[order], lo[order], hi[order], f_lo[order], f_hi[order]
    t_zd, r, v, ok = _refine(sats, sat_idx, lo, hi, f_lo, f_hi, mean_motion, target, jd0, fr0)
    geo = _geometry(t_zd, r, v, target, lat, lon, jd0, fr0)
    keep = ok & (geo["incidence"] >= min_incidence) & (geo["incidence"] <= max_incidence)

    # Plain Python lists: per-element numpy scalar conversion would dominate for thousands of passes.
    idx = np.flatnonzero(keep)
    cols = {key: geo[key][idx].tolist() for key in geo}
    names = [sats[i].name for i in sat_idx[idx].tolist()]
    ascending = (v[idx, 2] > 0).tolist()
    passes = [
        Pass(
            satellite=names[j],
            time=start + timedelta(seconds=seconds),
            incidence=cols["incidence"][j],
            look_side="LEFT" if cols["left"][j] > 0 else "RIGHT",
            pass_direction="ASCENDING" if ascending[j] else "DESCENDING",
            off_nadir=cols["off_nadir"][j],
            slant_range_km=cols["slant"][j],
            heading=cols["heading"][j],
            sub_lat=cols["sub_lat"][j],
            sub_lon=cols["sub_lon"][j],
        )
        for j, seconds in enumerate(t_zd[idx].tolist())
    ]
    passes.sort(key=lambda p: (p.time, p.satellite))
    return passes


def exclusion_reason(p: Pass, c: Constraints) -> str | None:
    """None if the pass satisfies the constraints, else the option that excludes it."""
    if not c.incidence_min <= p.incidence <= c.incidence_max:
        return f"incidence {p.incidence:.1f}° outside {c.incidence_min:g}–{c.incidence_max:g}°"
    if c.look_side != "ANY" and p.look_side != c.look_side:
        return f"look side {p.look_side}, task asks {c.look_side}"
    if c.pass_direction != "ANY" and p.pass_direction != c.pass_direction:
        return f"pass {p.pass_direction}, task asks {c.pass_direction}"
    return None


def feasible_passes(passes: Sequence[Pass], c: Constraints) -> list[Pass]:
    """The passes that satisfy the constraints, in their original order."""
    return [p for p in passes if exclusion_reason(p, c) is None]


def ground_track(
    sat: Satellite, start: datetime, end: datetime, step_s: float = 30
) -> list[tuple[float, float]]:
    """Geodetic (lat, lon) of the sub-satellite point every `step_s` from start to end inclusive.

    Longitudes are in [-180, 180]; a drawing that crosses the antimeridian must split the line
    where consecutive longitudes jump by more than 180°.
    """
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if step_s <= 0:
        raise InputError(f"step_s must be positive, got {step_s}", field="step_s", rule="step")
    if end < start:
        raise InputError(
            f"track end {end.isoformat()} is before its start {start.isoformat()}",
            field="end",
            rule="window-order",
        )
    span = (end - start).total_seconds()
    t = np.append(np.arange(0.0, span, step_s), span)
    r_ecef, _ = _ecef_states(sat, start, t)
    lat, lon = _ecef_to_geodetic(r_ecef)
    return list(zip(lat.tolist(), lon.tolist(), strict=True))


def subsatellite_state(sat: Satellite, t: datetime) -> tuple[float, float, float]:
    """(lat, lon, heading) of the sub-satellite point at `t`; heading in deg clockwise from north."""
    t = require_aware(t, "t")
    r_ecef, v_ecef = _ecef_states(sat, t, np.zeros(1))
    lat, lon = _ecef_to_geodetic(r_ecef)
    heading = _heading(v_ecef, lat, lon)
    return float(lat[0]), float(lon[0]), float(heading[0])


# --- search --------------------------------------------------------------------------------------


def _brackets(
    t: F64,
    r: F64,
    v: F64,
    failed: npt.NDArray[np.bool_],
    target: F64,
    jd0: float,
    fr0: float,
    max_incidence: float,
) -> tuple[npt.NDArray[np.intp], F64, F64, F64, F64]:
    """Grid intervals where the range rate turns positive near the orbit plane of a satellite."""
    tgt, tgt_vel = _target_teme(target, jd0, fr0, t)
    d = r - tgt[None]
    f = np.einsum("stk,stk->st", d, v - tgt_vel[None])  # ∝ range rate (frame-independent)
    f[failed] = np.nan  # failed states never form a bracket
    s_idx, k = np.nonzero((f[:, :-1] < 0.0) & (f[:, 1:] >= 0.0))

    # Prefilter: at closest approach the target's angle β from the orbit plane is (nearly) the
    # Earth central angle γ to the sub-satellite point; drop approaches whose γ must exceed the one
    # `max_incidence` allows (spherical §5: γ = θi − asin(R/|r| · sin θi), with the polar radius to
    # err on the wide side). β varies almost linearly across one step, so a sign change or either
    # end within the limit keeps the candidate.
    unit = tgt / np.linalg.norm(tgt, axis=-1, keepdims=True)
    betas = []
    for j in (k, k + 1):
        h = np.cross(r[s_idx, j], v[s_idx, j])
        betas.append(np.einsum("ck,ck->c", unit[j], h) / np.linalg.norm(h, axis=-1))
    radius = np.linalg.norm(r[s_idx, k], axis=-1)
    theta = math.radians(max_incidence)
    gamma = theta - np.arcsin(np.clip(_WGS84_B_KM / radius * math.sin(theta), -1.0, 1.0))
    limit = np.sin(np.minimum(gamma + math.radians(_PREFILTER_MARGIN_DEG), math.pi / 2))
    near = (np.sign(betas[0]) != np.sign(betas[1])) | (
        np.minimum(np.abs(betas[0]), np.abs(betas[1])) <= limit
    )
    s_idx, k = s_idx[near], k[near]
    return s_idx, t[k], t[k + 1], f[s_idx, k], f[s_idx, k + 1]


def _refine(
    sats: Sequence[Satellite],
    sat_idx: npt.NDArray[np.intp],
    lo: F64,
    hi: F64,
    f_lo: F64,
    f_hi: F64,
    mean_motion: F64,
    target: F64,
    jd0: float,
    fr0: float,
) -> tuple[F64, F64, F64, npt.NDArray[np.bool_]]:
    """Zero-Doppler times in each bracket by safeguarded Newton on exact SGP4 states.

    Returns times, TEME r and v at those times, and which candidates propagated without error.
    """
    # First guess: near closest approach the range rate is ∝ sin(n·(t − t*)); fit that through the
    # two bracket values (much closer than a straight line across a 20 min step).
    n = mean_motion[sat_idx]
    ratio = -f_lo / f_hi
    width = (hi - lo) * n
    t = lo + np.arctan2(ratio * np.sin(width), 1.0 + ratio * np.cos(width)) / n
    t = np.where(np.isfinite(t) & (t > lo) & (t < hi), t, 0.5 * (lo + hi))
    bounds = np.flatnonzero(np.diff(sat_idx)) + 1
    groups = np.split(np.arange(sat_idx.size), bounds)

    for _ in range(_NEWTON_MAX_ITER):
        r, v, ok = _teme_at(sats, sat_idx, groups, jd0, fr0, t)
        tgt, tgt_vel = _target_teme(target, jd0, fr0, t)
        d, w = r - tgt, v - tgt_vel
        f = np.einsum("ck,ck->c", d, w)
        # f' = |w|² + d·(a − a_T): two-body gravity suffices for a Newton slope; the root itself
        # comes from the exact f.
        rn = np.linalg.norm(r, axis=-1, keepdims=True)
        accel = -_MU_KM3_S2 * r / rn**3
        accel_tgt = -(_EARTH_RATE_RAD_S**2) * tgt * np.array([1.0, 1.0, 0.0])
        fp = np.einsum("ck,ck->c", w, w) + np.einsum("ck,ck->c", d, accel - accel_tgt)
        lo = np.where(f < 0.0, t, lo)
        hi = np.where(f >= 0.0, t, hi)
        step = f / fp
        active = ok & ~(np.abs(step) < _NEWTON_TOL_S)
        if not active.any():
            return t, r, v, ok
        t_new = t - step
        # Outside the bracket (or NaN) Newton is not trusted: bisect instead.
        inside = (t_new >= lo) & (t_new <= hi)
        t = np.where(active, np.where(inside, t_new, 0.5 * (lo + hi)), t)
    r, v, ok = _teme_at(sats, sat_idx, groups, jd0, fr0, t)
    return t, r, v, ok


def _teme_at(
    sats: Sequence[Satellite],
    sat_idx: npt.NDArray[np.intp],
    groups: list[npt.NDArray[np.intp]],
    jd0: float,
    fr0: float,
    t: F64,
) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    """Exact SGP4 states for candidates sorted by satellite: one array call per satellite."""
    r = np.empty((t.size, 3))
    v = np.empty((t.size, 3))
    ok = np.empty(t.size, dtype=bool)
    for g in groups:
        sat = sats[int(sat_idx[g[0]])].satrec
        e, r[g], v[g] = sat.sgp4_array(np.full(g.size, jd0), fr0 + t[g] / 86400.0)
        ok[g] = e == 0
    return r, v, ok


def _geometry(
    t: F64, r_teme: F64, v_teme: F64, target: F64, lat: float, lon: float, jd0: float, fr0: float
) -> dict[str, F64]:
    """Incidence, look side sign, off-nadir, slant range, heading and sub-point, all vectorised."""
    r, v = _teme_to_ecef(r_teme, v_teme, _gmst(jd0, fr0 + t / 86400.0))
    los = r - target  # target → satellite
    slant = np.linalg.norm(los, axis=-1)
    phi, lam = math.radians(lat), math.radians(lon)
    up = np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)])
    incidence = np.degrees(np.arccos(np.clip(los @ up / slant, -1.0, 1.0)))
    nadir_cos = np.einsum("ck,ck->c", -los, -r) / (slant * np.linalg.norm(r, axis=-1))
    off_nadir = np.degrees(np.arccos(np.clip(nadir_cos, -1.0, 1.0)))
    # Reference §5: n = r × v points to the left of the track; (T − r)·n > 0 means LEFT.
    left = np.einsum("ck,ck->c", -los, np.cross(r, v))
    sub_lat, sub_lon = _ecef_to_geodetic(r)
    return {
        "incidence": incidence,
        "off_nadir": off_nadir,
        "slant": slant,
        "left": left,
        "heading": _heading(v, sub_lat, sub_lon),
        "sub_lat": sub_lat,
        "sub_lon": sub_lon,
    }


# --- frames and time -----------------------------------------------------------------------------


def _julian(t: datetime) -> tuple[float, float]:
    """(whole, fraction) Julian date of an aware UTC datetime, as sgp4 wants it."""
    jd, fr = jday(t.year, t.month, t.day, t.hour, t.minute, t.second + t.microsecond / 1e6)
    return float(jd), float(fr)


def _gmst(jd: float, fr: F64) -> F64:
    """Greenwich mean sidereal angle (IAU 1982, as SGP4's gstime and skyfield) in radians.

    The whole and fractional days are combined only after removing J2000 to keep precision.
    """
    tut1 = ((jd - 2451545.0) + fr) / 36525.0
    seconds = (
        -6.2e-6 * tut1**3
        + 0.093104 * tut1**2
        + (876600.0 * 3600.0 + 8640184.812866) * tut1
        + 67310.54841
    )
    return np.asarray(np.radians(seconds / 240.0) % (2.0 * math.pi), dtype=np.float64)


def _target_teme(target: F64, jd0: float, fr0: float, t: F64) -> tuple[F64, F64]:
    """The Earth-fixed target's TEME position and velocity at seconds `t` after (jd0, fr0)."""
    theta = _gmst(jd0, fr0 + t / 86400.0)
    c, s = np.cos(theta), np.sin(theta)
    x = c * target[0] - s * target[1]
    y = s * target[0] + c * target[1]
    pos = np.stack([x, y, np.full_like(x, target[2])], axis=-1)
    vel = np.stack([-_EARTH_RATE_RAD_S * y, _EARTH_RATE_RAD_S * x, np.zeros_like(x)], axis=-1)
    return pos, vel


def _teme_to_ecef(r: F64, v: F64, theta: F64) -> tuple[F64, F64]:
    """Rotate TEME states into the Earth-fixed frame (reference §5 "Frames")."""
    c, s = np.cos(theta), np.sin(theta)
    x = c * r[..., 0] + s * r[..., 1]
    y = -s * r[..., 0] + c * r[..., 1]
    vx = c * v[..., 0] + s * v[..., 1] + _EARTH_RATE_RAD_S * y
    vy = -s * v[..., 0] + c * v[..., 1] - _EARTH_RATE_RAD_S * x
    return np.stack([x, y, r[..., 2]], axis=-1), np.stack([vx, vy, v[..., 2]], axis=-1)


def _ecef_states(sat: Satellite, t0: datetime, t: F64) -> tuple[F64, F64]:
    jd0, fr0 = _julian(t0)
    fr = fr0 + t / 86400.0
    e, r, v = sat.satrec.sgp4_array(np.full(t.shape, jd0), fr)
    if np.any(e != 0):
        raise InputError(
            f"{sat.name}: SGP4 cannot propagate these elements to the times asked (decayed?)",
            field="satellite",
            rule="propagation",
        )
    return _teme_to_ecef(r, v, _gmst(jd0, fr))


def _geodetic_to_ecef(lat: float, lon: float) -> F64:
    phi, lam = math.radians(lat), math.radians(lon)
    n = _WGS84_A_KM / math.sqrt(1.0 - _WGS84_E2 * math.sin(phi) ** 2)
    return np.array(
        [
            n * math.cos(phi) * math.cos(lam),
            n * math.cos(phi) * math.sin(lam),
            n * (1.0 - _WGS84_E2) * math.sin(phi),
        ]
    )


def _ecef_to_geodetic(r: F64) -> tuple[F64, F64]:
    """Geodetic latitude and longitude (deg) of ECEF points; Bowring's method, sub-mm at LEO."""
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    p = np.hypot(x, y)
    ep2 = _WGS84_E2 / (1.0 - _WGS84_E2)
    beta = np.arctan2(_WGS84_A_KM * z, _WGS84_B_KM * p)
    for _ in range(2):
        phi = np.arctan2(
            z + ep2 * _WGS84_B_KM * np.sin(beta) ** 3,
            p - _WGS84_E2 * _WGS84_A_KM * np.cos(beta) ** 3,
        )
        beta = np.arctan2((1.0 - _WGS84_F) * np.sin(phi), np.cos(phi))
    lon = np.degrees(np.arctan2(y, x))
    return np.clip(np.degrees(phi), -90.0, 90.0), np.where(lon == -180.0, 180.0, lon)


def _heading(v_ecef: F64, lat_deg: F64, lon_deg: F64) -> F64:
    """Azimuth of the Earth-fixed velocity in the local horizon, deg clockwise from north."""
    phi, lam = np.radians(lat_deg), np.radians(lon_deg)
    east = -np.sin(lam) * v_ecef[..., 0] + np.cos(lam) * v_ecef[..., 1]
    north = (
        -np.sin(phi) * np.cos(lam) * v_ecef[..., 0]
        - np.sin(phi) * np.sin(lam) * v_ecef[..., 1]
        + np.cos(phi) * v_ecef[..., 2]
    )
    return np.asarray(np.degrees(np.arctan2(east, north)) % 360.0, dtype=np.float64)
