"""The constellation's SGP4 states on a fixed time lattice: the half of pass prediction that does
not depend on the point.

Every point of a feasibility request, the sandbox's scheduler and the app's preview search the
same satellites' states on the same coarse grid; only the geometry against the point differs
(issue 13 measured the grid at 57 % of a prediction). So the grid is a lattice anchored at the Unix
epoch (its points are multiples of the step), which makes two windows that overlap share their
states whatever their start, and it is propagated six hours at a time (so a window pays for little
more than itself) and kept in caches bounded by bytes: a day of 40 satellites on the 20-minute
lattice is about 0.26 MB.

Frames (reference/iceye-fleet-modes.md §5 "Frames"): SGP4 gives TEME; ECEF = R_z(GMST)·TEME with
GMST (IAU 1982) of UTC, i.e. UT1 ≈ UTC and no polar motion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from sgp4.api import Satrec, SatrecArray, jday

from tasking.lru import BoundedCache

__all__ = [
    "EARTH_RATE_RAD_S",
    "UNIX_EPOCH_JD",
    "Ephemeris",
    "Grid",
    "gmst",
    "julian_date",
    "teme_to_ecef",
]

F64 = npt.NDArray[np.float64]

# dGMST/dt of the IAU 1982 formula below: sidereal seconds per UT1 second × 2π/86400.
EARTH_RATE_RAD_S = (
    (876600.0 * 3600.0 + 8640184.812866) / (36525.0 * 86400.0) * 2.0 * math.pi / 86400.0
)
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNIX_EPOCH_JD = 2440587.5
_DAY_S = 86400.0
_CHUNK_S = 6 * 3600.0
# Days of states kept per constellation (0.26 MB a day for 40 satellites at 20 min: about two
# months) and windows' assembled grids (3.6 MB for 14 days: the current window and the previous).
CHUNK_CACHE_BYTES = 16 * 2**20
GRID_CACHE_BYTES = 8 * 2**20


@dataclass(frozen=True, eq=False)
class Grid:
    """States of every satellite at consecutive lattice points, seconds ``t`` after ``origin``.

    Arrays are (time, satellite[, xyz]), time-major so that one matrix product per time step
    serves many points; TEME km and km/s. Read-only: it is shared between threads.
    """

    origin: datetime  # the lattice point of t = 0, aware UTC
    first: int  # lattice index of t = 0
    step_s: float
    t: F64  # (T,) seconds since origin
    rv: F64  # (T, S, 6) position then velocity
    r_dot_v: F64  # (T, S)
    orbit_normal: F64  # (T, S, 3) unit r × v
    radius: F64  # (T, S) |r|
    cos_gmst: F64  # (T,)
    sin_gmst: F64  # (T,)
    alive: npt.NDArray[np.bool_]  # (T, S) no SGP4 failure at or before this point of the grid

    @property
    def nbytes(self) -> int:
        arrays = (self.t, self.rv, self.r_dot_v, self.orbit_normal, self.radius)
        return sum(a.nbytes for a in arrays) + 2 * self.t.nbytes + self.alive.nbytes

    def index_span(self, start: datetime, end: datetime) -> tuple[int, int]:
        """Positions in ``t`` of the lattice points just around [start, end] (both inside)."""
        k0, k1 = _lattice_span(start, end, self.step_s)
        return k0 - self.first, k1 - self.first


@dataclass(frozen=True, eq=False)
class _Chunk:
    """One block of lattice points, [c·K, (c+1)·K) with K points in six hours; as ``Grid``."""

    rv: F64
    r_dot_v: F64
    orbit_normal: F64
    radius: F64
    cos_gmst: F64
    sin_gmst: F64
    failed: npt.NDArray[np.bool_]

    @property
    def nbytes(self) -> int:
        arrays = (self.rv, self.r_dot_v, self.orbit_normal, self.radius, self.cos_gmst)
        return sum(a.nbytes for a in arrays) + self.sin_gmst.nbytes + self.failed.nbytes


class Ephemeris:
    """The lattice states of a fixed list of satellites, computed once and shared (thread-safe)."""

    def __init__(
        self,
        satrecs: Sequence[Satrec],
        *,
        chunk_cache_bytes: int = CHUNK_CACHE_BYTES,
        grid_cache_bytes: int = GRID_CACHE_BYTES,
    ) -> None:
        if not satrecs:
            raise ValueError("an ephemeris needs at least one satellite")
        self._array = SatrecArray(list(satrecs))
        self._chunks: BoundedCache[tuple[float, int], _Chunk] = BoundedCache(
            chunk_cache_bytes, lambda c: c.nbytes
        )
        self._grids: BoundedCache[tuple[float, int, int], Grid] = BoundedCache(
            grid_cache_bytes, lambda g: g.nbytes
        )

    def grid(self, start: datetime, end: datetime, step_s: float) -> Grid:
        """The lattice points from the last one at or before ``start`` to the first at or after
        ``end`` (aware datetimes, start ≤ end)."""
        k0, k1 = _lattice_span(start, end, step_s)
        k1 = max(k1, k0 + 1)  # at least one interval
        return self._grids.get_or_make((step_s, k0, k1), lambda: self._assemble(k0, k1, step_s))

    @property
    def cached_bytes(self) -> int:
        """Bytes held by the caches now (bounded by their budgets)."""
        return self._chunks.nbytes + self._grids.nbytes

    def _assemble(self, k0: int, k1: int, step_s: float) -> Grid:
        per_chunk = _points_per_chunk(step_s)
        c0, c1 = k0 // per_chunk, k1 // per_chunk
        chunks = [self._chunk(c, step_s) for c in range(c0, c1 + 1)]
        cut = slice(k0 - c0 * per_chunk, k1 - c0 * per_chunk + 1)

        def joined(name: str) -> F64:
            parts = [getattr(c, name) for c in chunks]
            whole = parts[0] if len(parts) == 1 else np.concatenate(parts)
            return np.ascontiguousarray(whole[cut])

        failed = joined("failed")
        # Once SGP4 fails (decay), later states are meaningless even where it reports no error.
        alive = ~np.logical_or.accumulate(failed, axis=0)
        return Grid(
            origin=_UNIX_EPOCH + timedelta(seconds=k0 * step_s),
            first=k0,
            step_s=step_s,
            t=np.arange(k1 - k0 + 1, dtype=np.float64) * step_s,
            rv=joined("rv"),
            r_dot_v=joined("r_dot_v"),
            orbit_normal=joined("orbit_normal"),
            radius=joined("radius"),
            cos_gmst=joined("cos_gmst"),
            sin_gmst=joined("sin_gmst"),
            alive=alive,
        )

    def _chunk(self, chunk: int, step_s: float) -> _Chunk:
        return self._chunks.get_or_make((step_s, chunk), lambda: self._propagate(chunk, step_s))

    def _propagate(self, chunk: int, step_s: float) -> _Chunk:
        per_chunk = _points_per_chunk(step_s)
        seconds = (chunk * per_chunk + np.arange(per_chunk)) * step_s
        days = np.floor(seconds / _DAY_S)
        jd = UNIX_EPOCH_JD + days
        fr = (seconds - days * _DAY_S) / _DAY_S
        e, r, v = self._array.sgp4(jd, fr)
        # Time-major (see Grid).
        e, r, v = e.T, np.ascontiguousarray(r.transpose(1, 0, 2)), v.transpose(1, 0, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            h = np.cross(r, v)
            normal = h / np.linalg.norm(h, axis=-1, keepdims=True)
        theta = gmst(UNIX_EPOCH_JD, days + fr)
        return _Chunk(
            rv=np.concatenate([r, v], axis=-1),
            r_dot_v=np.einsum("tsk,tsk->ts", r, v),
            orbit_normal=normal,
            radius=np.linalg.norm(r, axis=-1),
            cos_gmst=np.cos(theta),
            sin_gmst=np.sin(theta),
            failed=(e != 0) | ~np.isfinite(r).all(axis=-1),
        )


def _points_per_chunk(step_s: float) -> int:
    return max(1, int(_CHUNK_S // step_s))


def _lattice_span(start: datetime, end: datetime, step_s: float) -> tuple[int, int]:
    first = (start - _UNIX_EPOCH) / timedelta(seconds=1)
    last = (end - _UNIX_EPOCH) / timedelta(seconds=1)
    return math.floor(first / step_s), math.ceil(last / step_s)


def julian_date(t: datetime) -> tuple[float, float]:
    """(whole, fraction) Julian date of an aware UTC datetime, as sgp4 wants it."""
    jd, fr = jday(t.year, t.month, t.day, t.hour, t.minute, t.second + t.microsecond / 1e6)
    return float(jd), float(fr)


def gmst(jd: float | F64, fr: F64) -> F64:
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


def teme_to_ecef(r: F64, v: F64, theta: F64) -> tuple[F64, F64]:
    """Rotate TEME states into the Earth-fixed frame (reference §5 "Frames")."""
    c, s = np.cos(theta), np.sin(theta)
    x = c * r[..., 0] + s * r[..., 1]
    y = -s * r[..., 0] + c * r[..., 1]
    vx = c * v[..., 0] + s * v[..., 1] + EARTH_RATE_RAD_S * y
    vy = -s * v[..., 0] + c * v[..., 1] - EARTH_RATE_RAD_S * x
    return np.stack([x, y, r[..., 2]], axis=-1), np.stack([vx, vy, v[..., 2]], axis=-1)
