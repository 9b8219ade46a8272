"""The simulated world: the constellation and the passes it makes over points on the ground.

The constellation is generated once per data directory from the seed, at the sandbox's epoch
(``tasking.orbits.generate_constellation``), and its TLE lines are stored, so a restart — or a newer
generator — keeps exactly the same elements. Those lines are what ``/sandbox/v1/constellation``
publishes and what every pass below is computed from (``tasking.passes``, shared with the app: in
one process the two use the same predictor, so the constellation's grid is propagated once).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sgp4.api import jday

from tasking.lru import BoundedCache
from tasking.modes import INCIDENCE_LIMITS
from tasking.orbits import Satellite, generate_constellation
from tasking.passes import PassQuery, PassTable, predictor_for
from tasking.sandbox.store import Store
from tasking.times import parse_time

# Pass tables kept (windows repeat: feasibility, then create, then the decision). A 14-day table
# is 25-220 kB (the equator to 78°N), so this holds a few hundred points; issue 13 measured the
# former cache of 256 lists of pass objects at ~110 MB.
PASS_CACHE_BYTES = 16 * 2**20
_WGS84_A_KM = 6378.137
_WGS84_B_KM = _WGS84_A_KM * (1.0 - 1.0 / 298.257223563)


class World:
    """The satellites and a cache of their passes, bounded by bytes."""

    def __init__(
        self, satellites: Sequence[Satellite], *, pass_cache_bytes: int = PASS_CACHE_BYTES
    ) -> None:
        if not satellites:
            raise ValueError("the world needs at least one satellite")
        self.satellites = list(satellites)
        self._by_name = {s.name: s for s in self.satellites}
        self.predictor = predictor_for(self.satellites)
        self.pass_cache: BoundedCache[PassQuery, PassTable] = BoundedCache(
            pass_cache_bytes, lambda table: table.nbytes
        )

    def satellite(self, name: str) -> Satellite:
        return self._by_name[name]

    def passes(self, lat: float, lon: float, start: datetime, end: datetime) -> PassTable:
        """Every pass over the point in [start, end] up to the commercial 45° incidence, by time."""
        return self.passes_many([PassQuery(lat, lon, start, end)])[0]

    def passes_many(self, queries: Sequence[PassQuery]) -> list[PassTable]:
        """``passes`` for many points and windows; the ones not cached are computed together."""
        found = [self.pass_cache.get(q) for q in queries]
        missing = list(
            dict.fromkeys(q for q, hit in zip(queries, found, strict=True) if hit is None)
        )
        made: dict[PassQuery, PassTable] = {}
        if missing:
            limit = float(INCIDENCE_LIMITS[1])
            for q, table in zip(missing, self.predictor.passes_many(missing, limit), strict=True):
                made[q] = self.pass_cache.put(q, table)
        return [made[q] if hit is None else hit for q, hit in zip(queries, found, strict=True)]

    def passes_for(self, document: Mapping[str, Any]) -> PassTable:
        """``passes`` over a task document's point during its acquisition window."""
        return self.passes_many([query_of(document)])[0]

    def passes_for_many(self, documents: Sequence[Mapping[str, Any]]) -> list[PassTable]:
        """``passes_for`` of many task documents, computed together (a feasibility request)."""
        return self.passes_many([query_of(d) for d in documents])

    def altitude_km(self, name: str, when: datetime, sub_lat: float) -> float:
        """Height of a satellite above the WGS84 ellipsoid below it at ``when``."""
        satrec = self._by_name[name].satrec
        jd, fr = jday(
            when.year, when.month, when.day, when.hour, when.minute,
            when.second + when.microsecond / 1e6,
        )  # fmt: skip
        error, r, _ = satrec.sgp4(jd, fr)
        if error:
            raise ValueError(f"{name}: SGP4 error {error} at {when.isoformat()}")
        phi = math.radians(sub_lat)
        a2, b2 = _WGS84_A_KM**2, _WGS84_B_KM**2
        radius = math.sqrt(
            (a2**2 * math.cos(phi) ** 2 + b2**2 * math.sin(phi) ** 2)
            / (a2 * math.cos(phi) ** 2 + b2 * math.sin(phi) ** 2)
        )
        return math.sqrt(sum(c * c for c in r)) - radius


def query_of(document: Mapping[str, Any]) -> PassQuery:
    """A task document's point and acquisition window."""
    point, window = document["pointOfInterest"], document["acquisitionWindow"]
    start, end = parse_time(window["start"]), parse_time(window["end"])
    return PassQuery(float(point["lat"]), float(point["lon"]), start, end)


def load_world(store: Store, seed: int, count: int, epoch: datetime) -> World:
    """The stored constellation, or a new one generated from the seed at ``epoch`` and stored."""
    rows = store.satellites()
    if rows:
        return World([Satellite(name, norad, l1, l2) for name, norad, l1, l2 in rows])
    satellites = generate_constellation(seed, count, epoch=epoch)
    store.save_satellites([(s.name, s.norad_id, s.line1, s.line2) for s in satellites])
    return World(satellites)
