"""The simulated world: the constellation and the passes it makes over points on the ground.

The constellation is generated once per data directory from the seed, at the sandbox's epoch
(``tasking.orbits.generate_constellation``), and its TLE lines are stored, so a restart — or a newer
generator — keeps exactly the same elements. Those lines are what ``/sandbox/v1/constellation``
publishes and what every pass below is computed from (``tasking.passes``, shared with the app).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sgp4.api import jday

from tasking.modes import INCIDENCE_LIMITS
from tasking.orbits import Satellite, generate_constellation
from tasking.passes import Pass, predict_passes
from tasking.sandbox.store import Store
from tasking.times import parse_time

_CACHE_SIZE = 256
_WGS84_A_KM = 6378.137
_WGS84_B_KM = _WGS84_A_KM * (1.0 - 1.0 / 298.257223563)


class World:
    """The satellites and a cache of their passes (windows repeat: feasibility, then create)."""

    def __init__(self, satellites: Sequence[Satellite]) -> None:
        if not satellites:
            raise ValueError("the world needs at least one satellite")
        self.satellites = list(satellites)
        self._by_name = {s.name: s for s in self.satellites}
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[float, float, datetime, datetime], list[Pass]] = (
            OrderedDict()
        )

    def satellite(self, name: str) -> Satellite:
        return self._by_name[name]

    def passes(self, lat: float, lon: float, start: datetime, end: datetime) -> list[Pass]:
        """Every pass over the point in [start, end] up to the commercial 45° incidence, by time."""
        key = (lat, lon, start, end)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        found = predict_passes(
            self.satellites, lat, lon, start, end, max_incidence=float(INCIDENCE_LIMITS[1])
        )
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return found

    def passes_for(self, document: Mapping[str, Any]) -> list[Pass]:
        """``passes`` over a task document's point during its acquisition window."""
        point, window = document["pointOfInterest"], document["acquisitionWindow"]
        start, end = parse_time(window["start"]), parse_time(window["end"])
        return self.passes(float(point["lat"]), float(point["lon"]), start, end)

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


def load_world(store: Store, seed: int, count: int, epoch: datetime) -> World:
    """The stored constellation, or a new one generated from the seed at ``epoch`` and stored."""
    rows = store.satellites()
    if rows:
        return World([Satellite(name, norad, l1, l2) for name, norad, l1, l2 in rows])
    satellites = generate_constellation(seed, count, epoch=epoch)
    store.save_satellites([(s.name, s.norad_id, s.line1, s.line2) for s in satellites])
    return World(satellites)
