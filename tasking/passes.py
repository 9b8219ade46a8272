"""Pass prediction: when each satellite can image a ground point, and with which geometry.

One predictor per constellation serves the sandbox (feasibility, the scheduler) and the app's pass
preview, so they agree and share their work. Method (reference/iceye-fleet-modes.md §5-§6):

1. The constellation's SGP4 states on a coarse lattice (``tasking.ephemeris``). They do not depend
   on the point, so they are propagated once and shared by every point, every feasibility item and
   every caller in the process (``predictor_for``).
2. Per point, the grid intervals where the range rate to the target turns from negative to positive
   (closest approach = zero-Doppler time, where Strip/Scan image broadside), without the approaches
   that stay far from the orbit plane.
3. Newton refinement on exact SGP4 states, for the candidates of many points at once: one array
   call per satellite and iteration, whatever the number of points.
4. Incidence, look side and pass direction at that instant, kept as columns
   (``tasking.pass_table.PassTable``); a ``Pass`` object is made only for a pass that is read.

Frames: see ``tasking.ephemeris``; UT1 ≈ UTC and no polar motion cost metres to tens of metres
(reference §5 "Frames"), far below the ±0.1° budget of PRODUCT.md. The target and sub-satellite
points are WGS84 geodetic.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tasking.ephemeris import (
    EARTH_RATE_RAD_S,
    UNIX_EPOCH_JD,
    Ephemeris,
    Grid,
    gmst,
    julian_date,
    teme_to_ecef,
)
from tasking.errors import InputError
from tasking.orbits import Satellite
from tasking.pass_table import (
    FLAG_ASCENDING,
    FLAG_LEFT,
    Constraints,
    Pass,
    PassTable,
    exclusion_reason,
    feasible_passes,
)
from tasking.rules import check_point
from tasking.times import require_aware

__all__ = [
    "Constraints",
    "Pass",
    "PassPredictor",
    "PassQuery",
    "PassTable",
    "exclusion_reason",
    "feasible_passes",
    "ground_track",
    "predict_passes",
    "predictor_for",
    "subsatellite_state",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
IntP = npt.NDArray[np.intp]

_WGS84_A_KM = 6378.137
_WGS84_F = 1.0 / 298.257223563
_WGS84_E2 = _WGS84_F * (2.0 - _WGS84_F)
_WGS84_B_KM = _WGS84_A_KM * (1.0 - _WGS84_F)
# WGS72, the constants SGP4 propagates with.
_MU_KM3_S2 = 398600.8
_EARTH_RADIUS_KM = 6378.135
_J2 = 0.001082616
_US = timedelta(microseconds=1)

# Grid step. The range rate to a point changes sign twice per orbit, about 48 min apart (once at
# closest approach, once at the farthest point), so a 20 min grid brackets every closest approach;
# finer grids only cost propagation time (reference §6 measured 60 s as "0 mismatches" for a
# detector that needed the grid to see the pass itself; this one does not). Read at each call, so
# a test may change it.
_GRID_STEP_S = 1200.0
# Slack on the orbit-plane prefilter: the ellipsoid vs sphere (≤0.2°), the target's rotation across
# one grid step (≤5°, nearly linear so only its curvature, ≤0.2°, matters) and J2 wobble.
_PREFILTER_MARGIN_DEG = 1.0
# A Newton step shorter than this is the last one, and the state at its end comes from a
# second-order Taylor step (centimetres over 2 s) instead of a new propagation. With gravity to J2
# in the slope a step from an error e leaves about 1e-5·e² s: ≤ 4e-5 s here, well inside the ±1 s
# of PRODUCT.md and the ~1 ms the design asks for. The first guess is within 2 s for ~93 % of the
# passes (0.7 s median), so most take one propagation.
_LAST_STEP_S = 2.0
_NEWTON_MAX_ITER = 30  # bisection fallback: 1200 s / 2**24 < 0.1 ms
# Windows within this span are searched on one assembled grid (a feasibility request's windows
# all end within ICEYE's 14 days); farther ones get a grid of their own.
_BATCH_SPAN_S = 32 * 86400.0
# Points searched and refined together: bounds a request's working memory (about 10 MB at the
# equator, 40 MB at 78°N) whatever its number of points.
_SEARCH_POINTS = 64
# Points whose range rates are computed together (arrays of 16 × 40 satellites × 1,009 steps for
# 14 days: 5 MB each).
_BRACKET_POINTS = 16
# Candidates refined together: bounds the refinement's arrays (a few hundred bytes a candidate)
# whatever the number of points; 32k candidates are 10-70 points over 14 days.
_REFINE_BLOCK = 32768
# Constellations whose predictors a process keeps (the sandbox's, the preview's, a test's).
_PREDICTORS_KEPT = 4


class PassQuery(NamedTuple):
    """A point and a window to predict passes for (aware datetimes)."""

    lat: float
    lon: float
    start: datetime
    end: datetime


class PassPredictor:
    """Pass prediction for one constellation; its grid is propagated once and shared.

    Thread-safe: the sandbox's request threads, its scheduler and Streamlit sessions may use one
    predictor at once.
    """

    def __init__(self, sats: Sequence[Satellite]) -> None:
        self.satellites = tuple(sats)
        self._names = tuple(s.name for s in self.satellites)
        self._name_rank = np.argsort(np.argsort(np.array(self._names, dtype=object), kind="stable"))
        self._mean_motion = np.array([s.satrec.no_kozai / 60.0 for s in self.satellites])  # rad/s
        self._ephemeris = Ephemeris([s.satrec for s in self.satellites]) if sats else None

    @property
    def cached_bytes(self) -> int:
        """Bytes of grid states held (bounded; ``tasking.ephemeris``)."""
        return 0 if self._ephemeris is None else self._ephemeris.cached_bytes

    def passes(
        self,
        lat: float,
        lon: float,
        start: datetime,
        end: datetime,
        max_incidence: float = 45.0,
        min_incidence: float = 0.0,
    ) -> PassTable:
        """``predict_passes`` as a table."""
        query = PassQuery(lat, lon, start, end)
        return self.passes_many([query], max_incidence, min_incidence)[0]

    def passes_many(
        self,
        queries: Sequence[PassQuery],
        max_incidence: float = 45.0,
        min_incidence: float = 0.0,
    ) -> list[PassTable]:
        """``passes`` for many points and windows, in their order, computed together."""
        _check_incidence(min_incidence, max_incidence)
        checked = [_checked(q) for q in queries]
        tables: list[PassTable] = [PassTable.empty(self._names)] * len(checked)
        ephemeris = self._ephemeris
        if ephemeris is None:  # no satellites
            return tables
        live = sorted(
            (i for i, q in enumerate(checked) if q.end > q.start), key=lambda i: checked[i].start
        )
        step = float(_GRID_STEP_S)
        while live:
            first = checked[live[0]].start
            group = [i for i in live if (checked[i].end - first).total_seconds() <= _BATCH_SPAN_S]
            group = group or live[:1]
            chosen = set(group)
            live = [i for i in live if i not in chosen]
            grid = ephemeris.grid(
                min(checked[i].start for i in group), max(checked[i].end for i in group), step
            )
            reach = _reach(grid, max_incidence)
            for g0 in range(0, len(group), _SEARCH_POINTS):
                part = group[g0 : g0 + _SEARCH_POINTS]
                found = self._search(
                    grid, reach, [checked[i] for i in part], min_incidence, max_incidence
                )
                for i, table in zip(part, found, strict=True):
                    tables[i] = table
        return tables

    def _search(
        self,
        grid: Grid,
        reach: F64,
        queries: list[PassQuery],
        min_incidence: float,
        max_incidence: float,
    ) -> list[PassTable]:
        targets = np.array([_geodetic_to_ecef(q.lat, q.lon) for q in queries])
        ups = np.array([_up(q.lat, q.lon) for q in queries])
        window = np.array(
            [((q.start - grid.origin) // _US, (q.end - grid.origin) // _US) for q in queries],
            np.int64,
        )

        spans = np.array([grid.index_span(q.start, q.end) for q in queries], np.intp)
        batches = [slice(j, j + _BRACKET_POINTS) for j in range(0, len(queries), _BRACKET_POINTS)]
        found = [_brackets(grid, spans[b], targets[b], reach, self._mean_motion) for b in batches]
        point = np.concatenate([f[0] + j * _BRACKET_POINTS for j, f in enumerate(found)])
        sat, k, offset = (np.concatenate([f[i] for f in found]) for i in range(1, 4))

        columns: list[tuple[IntP, IntP, I64, F64, npt.NDArray[np.uint8]]] = []
        for b0 in range(0, sat.size, _REFINE_BLOCK):
            block = slice(b0, b0 + _REFINE_BLOCK)
            columns.append(
                self._refine_block(
                    grid,
                    point[block],
                    sat[block],
                    k[block],
                    offset[block],
                    targets,
                    ups,
                    window,
                    min_incidence,
                    max_incidence,
                )
            )
        if not columns:
            return [PassTable.empty(self._names, grid.origin) for _ in queries]
        point, sat, t_us, values, flags = (np.concatenate(c) for c in zip(*columns, strict=True))
        order = np.lexsort((self._name_rank[sat], t_us, point))
        point, sat, t_us = point[order], sat[order], t_us[order]
        values, flags = values[order], flags[order]
        bounds = np.searchsorted(point, np.arange(len(queries) + 1))
        return [
            PassTable(
                self._names,
                grid.origin,
                sat[a:b].astype(np.int32),
                t_us[a:b].copy(),
                values[a:b].copy(),
                flags[a:b].copy(),
            )
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ]

    def _refine_block(
        self,
        grid: Grid,
        point: IntP,
        sat: IntP,
        k: IntP,
        offset: F64,
        targets: F64,
        ups: F64,
        window: I64,
        min_incidence: float,
        max_incidence: float,
    ) -> tuple[IntP, IntP, I64, F64, npt.NDArray[np.uint8]]:
        """Refine one block of candidates; keep the passes in their windows and incidence range.

        Each candidate is computed in seconds of its own UTC day, not of the grid, so that a point
        gets the same passes to the last bit whatever the grid (the other points' windows) is.
        """
        order = np.argsort(sat, kind="stable")
        point, sat, k, offset = point[order], sat[order], k[order], offset[order]
        target = targets[point]
        lattice = grid.first + k.astype(np.int64)
        day, lo = np.divmod(lattice * grid.step_s, 86400.0)
        jd = UNIX_EPOCH_JD + day
        t, r, v, ok = _refine(self.satellites, sat, lo, lo + grid.step_s, lo + offset, target, jd)
        values, left = _geometry(t, r, v, target, ups[point], jd)
        origin_us = round(grid.first * grid.step_s * 1e6)
        t_us = day.astype(np.int64) * 86_400_000_000 - origin_us + np.rint(t * 1e6).astype(np.int64)
        incidence = values[:, 0]  # PassTable's first column
        span = window[point]
        keep = (
            ok
            & (incidence >= min_incidence)
            & (incidence <= max_incidence)
            & (t_us >= span[:, 0])
            & (t_us <= span[:, 1])
        )
        flags = np.where(left, FLAG_LEFT, 0) | np.where(v[:, 2] > 0, FLAG_ASCENDING, 0)
        return point[keep], sat[keep], t_us[keep], values[keep], flags[keep].astype(np.uint8)


_PREDICTORS: OrderedDict[tuple[tuple[str, str, str], ...], PassPredictor] = OrderedDict()
_PREDICTORS_LOCK = threading.Lock()


def predictor_for(sats: Sequence[Satellite]) -> PassPredictor:
    """The process's predictor for these elements, so that everyone shares one grid.

    A memo of a pure computation keyed by the element sets themselves (the last few kept), like
    ``functools.lru_cache``: the sandbox and the app's preview in one process, which parse the
    same published elements into different objects, get the same predictor.
    """
    key = tuple((s.name, s.line1, s.line2) for s in sats)
    with _PREDICTORS_LOCK:
        hit = _PREDICTORS.get(key)
        if hit is not None:
            _PREDICTORS.move_to_end(key)
            return hit
    made = PassPredictor(sats)
    with _PREDICTORS_LOCK:
        kept = _PREDICTORS.setdefault(key, made)
        _PREDICTORS.move_to_end(key)
        while len(_PREDICTORS) > _PREDICTORS_KEPT:
            _PREDICTORS.popitem(last=False)
    return kept


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

    One opportunity per pass, at its zero-Doppler time; sorted by time (then satellite name).
    """
    query = PassQuery(lat, lon, start, end)
    return predictor_for(sats).passes(*query, max_incidence, min_incidence).to_list()


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


# --- input ---------------------------------------------------------------------------------------


def _checked(q: PassQuery) -> PassQuery:
    check_point(q.lat, q.lon)
    start, end = require_aware(q.start, "start"), require_aware(q.end, "end")
    if end < start:
        raise InputError(
            f"window end {end.isoformat()} is before its start {start.isoformat()}",
            field="end",
            rule="window-order",
        )
    return PassQuery(float(q.lat), float(q.lon), start, end)


def _check_incidence(min_incidence: float, max_incidence: float) -> None:
    if not 0.0 <= min_incidence <= max_incidence <= 90.0:
        raise InputError(
            f"incidence range must satisfy 0 ≤ min ≤ max ≤ 90°, got {min_incidence}–{max_incidence}",
            field="incidence",
            rule="incidence-range",
        )


# --- search --------------------------------------------------------------------------------------


def _brackets(
    grid: Grid, spans: IntP, targets: F64, reach: F64, mean_motion: F64
) -> tuple[IntP, IntP, IntP, F64]:
    """Grid intervals where the range rate to a point turns positive near a satellite's orbit
    plane, for points (P, 3) each searched between its grid positions ``spans`` (P, 2):
    (point, satellite, interval start in the grid, first guess of the zero-Doppler time in
    seconds after it).
    ``reach`` (T, S) is ``_reach`` of the grid; ``mean_motion`` (S,) in rad/s."""
    i0, i1 = int(spans[:, 0].min()), int(spans[:, 1].max())
    cut = slice(i0, i1 + 1)
    c, s = grid.cos_gmst[cut, None], grid.sin_gmst[cut, None]
    x = c * targets[:, 0] - s * targets[:, 1]  # (T, P): the targets in TEME
    y = s * targets[:, 0] + c * targets[:, 1]
    z = np.broadcast_to(targets[:, 2], x.shape)
    # ∝ range rate (frame-independent): (r − T)·(v − Ṫ) = r·v − (r·Ṫ + v·T), as T·Ṫ = 0; one
    # matrix product per time step for all the points.
    w = EARTH_RATE_RAD_S
    towards = np.stack([-w * y, w * x, np.zeros_like(x), x, y, z], axis=1)  # (T, 6, P)
    f = grid.r_dot_v[cut, :, None] - np.matmul(grid.rv[cut], towards)  # (T, S, P)
    turns = (f[:-1] < 0.0) & (f[1:] >= 0.0)
    if not grid.alive[i1].all():  # failed states never form a bracket (see Grid.alive)
        turns &= grid.alive[i0 + 1 : i1 + 1, :, None]
    if (spans[:, 0] > i0).any() or (spans[:, 1] < i1).any():
        starts = np.arange(i0, i1)[:, None]
        turns &= ((starts >= spans[:, 0]) & (starts < spans[:, 1]))[:, None]
    # Flat positions in the (T, S, P) arrays: one index array is much cheaper than three.
    flat = np.flatnonzero(turns)
    later = f[0].size  # one time step on
    points = targets.shape[0]

    # Prefilter: at closest approach the target's angle β from the orbit plane is (nearly) the
    # Earth central angle γ to the sub-satellite point; drop approaches whose γ must exceed the one
    # the incidence allows (``_reach``). β varies almost linearly across one step: first keep a
    # sign change or either end within the limit, then β at the first guess of the time.
    unit = np.stack([x, y, z], axis=1) / np.linalg.norm(targets, axis=1)  # (T, 3, P)
    beta = np.matmul(grid.orbit_normal[cut], unit).ravel()  # sin β
    beta_lo, beta_hi = beta[flat], beta[flat + later]
    limit = reach.ravel()[i0 * reach.shape[1] + flat // points]
    near = ((beta_lo > 0.0) != (beta_hi > 0.0)) | (
        np.minimum(np.abs(beta_lo), np.abs(beta_hi)) <= limit
    )
    flat, beta_lo, beta_hi, limit = flat[near], beta_lo[near], beta_hi[near], limit[near]
    step_sat, p = np.divmod(flat, points)
    k, s_idx = np.divmod(step_sat, f.shape[1])
    # The range rates at the ends again, one candidate at a time: the matrix product's rounding
    # depends on how many points share it, and a point's passes must not.
    f_lo, f_hi = (
        grid.r_dot_v[i0 + j, s_idx]
        - np.einsum("ck,ck->c", grid.rv[i0 + j, s_idx], towards[j, :, p])
        for j in (k, k + 1)
    )
    offset = _first_guess(grid.step_s, f_lo, f_hi, mean_motion[s_idx])
    near = np.abs(beta_lo + (beta_hi - beta_lo) * offset / grid.step_s) <= limit
    return p[near], s_idx[near], i0 + k[near], offset[near]


def _first_guess(step: float, f_lo: F64, f_hi: F64, n: F64) -> F64:
    """The zero-Doppler time in each bracket as seconds after its start, fitted: near closest
    approach the range rate is ∝ sin(n·(t − t*)); a sine through the two bracket values is much
    closer than a straight line across a 20 min step (0.7 s median, 5 s at most on the sandbox's
    constellation)."""
    ratio = -f_lo / f_hi
    width = step * n
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = np.arctan2(ratio * np.sin(width), 1.0 + ratio * np.cos(width)) / n
    return np.where(np.isfinite(offset) & (offset > 0.0) & (offset < step), offset, 0.5 * step)


def _reach(grid: Grid, max_incidence: float) -> F64:
    """sin of the largest angle from a satellite's orbit plane at which a point can be seen within
    ``max_incidence`` (spherical §5: γ = θi − asin(R/|r| · sin θi), with the polar radius to err on
    the wide side, plus the prefilter's margin), per grid state (T, S)."""
    theta = math.radians(max_incidence)
    with np.errstate(invalid="ignore"):
        gamma = theta - np.arcsin(np.clip(_WGS84_B_KM / grid.radius * math.sin(theta), -1.0, 1.0))
    return np.asarray(
        np.sin(np.minimum(gamma + math.radians(_PREFILTER_MARGIN_DEG), math.pi / 2)), np.float64
    )


def _refine(
    sats: Sequence[Satellite],
    sat_idx: IntP,
    lo: F64,
    hi: F64,
    guess: F64,
    target: F64,
    jd: F64,
) -> tuple[F64, F64, F64, npt.NDArray[np.bool_]]:
    """Zero-Doppler times in each bracket [lo, hi] by safeguarded Newton on exact SGP4 states,
    from a first guess; times are seconds after each candidate's Julian date ``jd``.

    Candidates are sorted by satellite, each with its own ECEF target (C, 3). Returns times, TEME
    r and v at those times, and which candidates propagated without error. Each iteration
    propagates only the candidates not yet settled; most settle after one.
    """
    t = guess.copy()
    r = np.full((t.size, 3), np.nan)
    v = np.full((t.size, 3), np.nan)
    ok = np.ones(t.size, dtype=bool)
    todo = np.arange(t.size)
    flat = np.array([1.0, 1.0, 0.0])

    for _ in range(_NEWTON_MAX_ITER):
        if not todo.size:
            break
        t_now = t[todo]
        r_now, v_now, ok_now = _teme_at(sats, sat_idx[todo], jd[todo], t_now)
        tgt, tgt_vel = _target_teme(target[todo], gmst(jd[todo], t_now / 86400.0))
        d, w = r_now - tgt, v_now - tgt_vel
        f = np.einsum("ck,ck->c", d, w)
        # f' = |w|² + d·(a − a_T) with gravity to J2; the root itself comes from the exact f.
        accel = _gravity(r_now)
        accel_tgt = -(EARTH_RATE_RAD_S**2) * tgt * flat
        fp = np.einsum("ck,ck->c", w, w) + np.einsum("ck,ck->c", d, accel - accel_tgt)
        lo[todo] = np.where(f < 0.0, t_now, lo[todo])
        hi[todo] = np.where(f >= 0.0, t_now, hi[todo])
        step = f / fp
        t_new = t_now - step
        # Outside the bracket (or NaN) Newton is not trusted: bisect instead.
        inside = (t_new >= lo[todo]) & (t_new <= hi[todo])
        last = ok_now & inside & (np.abs(step) < _LAST_STEP_S)
        # A short last step needs no new propagation (_LAST_STEP_S).
        dt = (t_new - t_now)[last, None]
        settled = todo[last]
        t[settled] = t_new[last]
        r[settled] = r_now[last] + v_now[last] * dt + 0.5 * accel[last] * dt**2
        v[settled] = v_now[last] + accel[last] * dt
        ok[todo[~ok_now]] = False
        going = ok_now & ~last
        t[todo[going]] = np.where(inside, t_new, 0.5 * (lo[todo] + hi[todo]))[going]
        todo = todo[going]
    if todo.size:  # the iteration limit: take the exact states where the search stopped
        r[todo], v[todo], ok[todo] = _teme_at(sats, sat_idx[todo], jd[todo], t[todo])
    return t, r, v, ok


def _gravity(r: F64) -> F64:
    """Acceleration of gravity to J2 (WGS72, as SGP4) at TEME positions, km/s²."""
    rn2 = np.einsum("ck,ck->c", r, r)[:, None]
    ratio = 1.5 * _J2 * _EARTH_RADIUS_KM**2 / rn2
    z2 = r[:, 2:3] ** 2 / rn2
    factor = np.concatenate(
        [1.0 + ratio * (1.0 - 5.0 * z2)] * 2 + [1.0 + ratio * (3.0 - 5.0 * z2)], 1
    )
    return np.asarray(-_MU_KM3_S2 * r / rn2**1.5 * factor, dtype=np.float64)


def _teme_at(
    sats: Sequence[Satellite], sat_idx: IntP, jd: F64, t: F64
) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    """Exact SGP4 states for candidates sorted by satellite, ``t`` seconds after their Julian
    dates ``jd``: one array call per satellite."""
    r = np.empty((t.size, 3))
    v = np.empty((t.size, 3))
    ok = np.empty(t.size, dtype=bool)
    bounds = np.flatnonzero(np.diff(sat_idx)) + 1
    for g in np.split(np.arange(sat_idx.size), bounds):
        if not g.size:
            continue
        sat = sats[int(sat_idx[g[0]])].satrec
        e, r[g], v[g] = sat.sgp4_array(jd[g], t[g] / 86400.0)
        ok[g] = e == 0
    return r, v, ok


def _geometry(
    t: F64, r_teme: F64, v_teme: F64, target: F64, up: F64, jd: F64
) -> tuple[F64, npt.NDArray[np.bool_]]:
    """Per candidate (targets and their geodetic normals (C, 3)): the value columns of a
    ``PassTable`` (incidence, off-nadir, slant range, heading, sub-point) and whether it looks
    LEFT."""
    r, v = teme_to_ecef(r_teme, v_teme, gmst(jd, t / 86400.0))
    los = r - target  # target → satellite
    slant = np.linalg.norm(los, axis=-1)
    incidence = np.degrees(np.arccos(np.clip(np.einsum("ck,ck->c", los, up) / slant, -1.0, 1.0)))
    nadir_cos = np.einsum("ck,ck->c", -los, -r) / (slant * np.linalg.norm(r, axis=-1))
    off_nadir = np.degrees(np.arccos(np.clip(nadir_cos, -1.0, 1.0)))
    # Reference §5: n = r × v points to the left of the track; (T − r)·n > 0 means LEFT.
    left = np.einsum("ck,ck->c", -los, np.cross(r, v)) > 0
    sub_lat, sub_lon = _ecef_to_geodetic(r)
    heading = _heading(v, sub_lat, sub_lon)
    return np.stack([incidence, off_nadir, slant, heading, sub_lat, sub_lon], axis=-1), left


# --- frames --------------------------------------------------------------------------------------


def _target_teme(target: F64, theta: F64) -> tuple[F64, F64]:
    """Earth-fixed targets' (C, 3) TEME positions and velocities at GMST angles ``theta`` (C,)."""
    c, s = np.cos(theta), np.sin(theta)
    x = c * target[..., 0] - s * target[..., 1]
    y = s * target[..., 0] + c * target[..., 1]
    pos = np.stack([x, y, np.broadcast_to(target[..., 2], x.shape)], axis=-1)
    vel = np.stack([-EARTH_RATE_RAD_S * y, EARTH_RATE_RAD_S * x, np.zeros_like(x)], axis=-1)
    return pos, vel


def _ecef_states(sat: Satellite, t0: datetime, t: F64) -> tuple[F64, F64]:
    jd0, fr0 = julian_date(t0)
    fr = fr0 + t / 86400.0
    e, r, v = sat.satrec.sgp4_array(np.full(t.shape, jd0), fr)
    if np.any(e != 0):
        raise InputError(
            f"{sat.name}: SGP4 cannot propagate these elements to the times asked (decayed?)",
            field="satellite",
            rule="propagation",
        )
    return teme_to_ecef(r, v, gmst(jd0, fr))


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


def _up(lat: float, lon: float) -> F64:
    """The geodetic normal (unit ECEF) at the point."""
    phi, lam = math.radians(lat), math.radians(lon)
    return np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)])


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
