"""Tiling speed: a 100 × 100 km area covered with each imaging mode's scenes, and the slow cases.

    python bench/bench_tiling.py [--repeat 30]

Each case is tiled ``--repeat`` times after one warm-up run; the figures are the median and the
range (fastest–slowest) of the runs, in milliseconds, for ``tasking.tiling.tile_area`` from the
area to the finished tiles (centres, footprints in degrees, areas). Target: under 100 ms.
The area is a square of 100 km sides on the ground centred on Helsinki (a square in the local
equidistant plane, its edges cut every kilometre). For comparison, a box drawn along meridians and
parallels with 100 km sides at its middle: its parallels bulge (the corners reach 0.34 km further
north than the middle of its top edge), so it needs a row and a column more. Then the slow cases:
nearly the most tiles allowed (500) as a square and along a long diagonal corridor, whose bounding
box holds many empty cells; and reading a 1,000-row CSV.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from tasking.geometry import destination, unwrap
from tasking.modes import MODES
from tasking.targets import parse_csv
from tasking.tiling import _Projection, tile_area

HELSINKI = (60.1699, 24.9384)


def square(lat: float, lon: float, side_km: float) -> Polygon:
    """A square of ``side_km`` in the azimuthal equidistant plane centred on (lat, lon)."""
    plane = shapely.segmentize(shapely.box(*(side_km / 2 * np.array([-1, -1, 1, 1]))), 1.0)
    projection = _Projection.around(np.array([lon]), np.array([lat]))
    return shapely.transform(plane, projection.inverse)


def lonlat_box(lat: float, lon: float, side_km: float) -> Polygon:
    """A box along meridians and parallels whose sides are ``side_km`` at its middle."""
    corners = []
    for north, east in ((-1, -1), (-1, 1), (1, 1), (1, -1)):
        mid = destination(lat, lon, 0 if north > 0 else 180, side_km / 2)
        corners.append(destination(*mid, 90 if east > 0 else 270, side_km / 2))
    return Polygon([(x, y) for y, x in unwrap(corners)])


def timed(run: Callable[[], Any], repeat: int) -> tuple[Any, list[float]]:
    result = run()  # warm-up (imports, caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - start) * 1000)
    return result, times


def line(label: str, times: list[float], detail: str) -> None:
    print(
        f"{label:<46} {statistics.median(times):8.2f} {min(times):7.2f}–{max(times):<7.2f} {detail}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; {args.repeat} runs per case after one warm-up"
    )
    print(f"{'case':<46} {'median ms':>8} {'range ms':>15} tiles, area, covered")
    area = square(*HELSINKI, 100.0)
    slowest = 0.0
    for name in MODES:
        tiling, times = timed(lambda name=name: tile_area(area, name), args.repeat)
        slowest = max(slowest, statistics.median(times))
        line(
            f"100 × 100 km, {name}",
            times,
            f"{tiling.count} tiles, {tiling.area_km2:,.0f} km², {tiling.covered_km2:,.0f} km²",
        )
    print(f"slowest mode (median): {slowest:.1f} ms (target < 100 ms)")

    box = lonlat_box(*HELSINKI, 100.0)
    for name in ("SPOTLIGHT", "STRIPMAP"):
        tiling, times = timed(lambda name=name: tile_area(box, name), args.repeat)
        line(f"lon/lat box, {name}", times, f"{tiling.count} tiles, {tiling.area_km2:,.0f} km²")
    big = square(*HELSINKI, 110.0)
    tiling, times = timed(lambda: tile_area(big, "SPOTLIGHT"), args.repeat)
    line("110 × 110 km, SPOTLIGHT", times, f"{tiling.count} tiles")
    end = destination(*HELSINKI, 45.0, 850.0)
    corridor = LineString([(HELSINKI[1], HELSINKI[0]), (end[1], end[0])])
    tiling, times = timed(lambda: tile_area(corridor, "SPOTLIGHT"), args.repeat)
    line("850 km diagonal line, SPOTLIGHT", times, f"{tiling.count} tiles")

    rows = "\n".join(
        f"port {i},{HELSINKI[0] + i / 1000:.5f},{HELSINKI[1] - i / 1000:.5f}" for i in range(1000)
    )
    data = f"name,lat,lon\n{rows}\n".encode()
    parsed, times = timed(lambda: parse_csv(data), args.repeat)
    line("parse_csv, 1,000 rows", times, f"{len(parsed.targets)} targets")
    dms = "\n".join(f"port {i},60°10'{i % 60}\"N,24°56'{i % 60}\"E" for i in range(1000))
    data = f"name,lat,lon\n{dms}\n".encode()
    parsed, times = timed(lambda: parse_csv(data), args.repeat)
    line("parse_csv, 1,000 rows in DMS", times, f"{len(parsed.targets)} targets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
