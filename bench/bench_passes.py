"""Benchmark: tasking.passes.predict_passes against skyfield's find_events on the same elements.

Run from the repository root:  python bench/bench_passes.py [--days 14] [--repeat 3]

For each point it prints our time, skyfield's time (find_events(altitude_degrees=45) for every
satellite), their ratio, and whether the two pass sets agree: passes are matched by satellite and
culmination (±1 s); for matched passes it reports the largest time difference and the largest
incidence difference (ours vs 90° − skyfield's altitude). Targets (PRODUCT.md): ≥10× faster, ±1 s,
±0.1°. Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skyfield.api import EarthSatellite, load, wgs84

from tasking.orbits import generate_constellation
from tasking.passes import Pass, predict_passes

EPOCH = datetime(2026, 11, 22, tzinfo=UTC)
POINTS = {
    "Helsinki": (60.1699, 24.9384),
    "Equator 0°N 25°E": (0.0, 25.0),
    "Svalbard": (78.22, 15.65),
}
MAX_INCIDENCE = 45.0
MATCH_S = 1.0


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest wall time of `repeat` runs (the least disturbed by other load) and the result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    sats = generate_constellation(epoch=EPOCH)
    start, end = EPOCH, EPOCH + timedelta(days=args.days)
    ts = load.timescale(builtin=True)
    t0, t1 = ts.from_datetime(start), ts.from_datetime(end)
    sky_sats = {s.name: EarthSatellite(s.line1, s.line2, s.name, ts) for s in sats}
    print(f"{len(sats)} satellites, {args.days:g} days from {start:%Y-%m-%d}, incidence ≤ 45°")

    all_ok = True
    for label, (lat, lon) in POINTS.items():
        topos = wgs84.latlon(lat, lon)
        predict_passes(sats, lat, lon, start, end)  # warm-up (imports, caches)

        def ours_run(lat: float = lat, lon: float = lon) -> list[Pass]:
            return predict_passes(sats, lat, lon, start, end, MAX_INCIDENCE)

        ours_s, ours = best_of(args.repeat * 3, ours_run)

        def skyfield_run(topos: Any = topos) -> dict[str, Any]:
            found = {}
            for name, sat in sky_sats.items():
                times, events = sat.find_events(
                    topos, t0, t1, altitude_degrees=90.0 - MAX_INCIDENCE
                )
                found[name] = times[events == 1]
            return found

        sky_s, culminations = best_of(args.repeat, skyfield_run)
        report = compare(ours, culminations, sky_sats, topos, ts)
        ratio = sky_s / ours_s
        ok = ratio >= 10 and report["agree"]
        all_ok &= ok
        print(
            f"\n{label} ({lat:.4f}, {lon:.4f})\n"
            f"  ours     {ours_s * 1000:8.1f} ms  {len(ours):5d} passes\n"
            f"  skyfield {sky_s * 1000:8.1f} ms  {report['sky_count']:5d} culminations ≥ 45°\n"
            f"  speed-up {ratio:8.1f}×\n"
            f"  matched {report['matched']}, only ours {report['only_ours']}, "
            f"only skyfield {report['only_sky']} (of which grazing 45° ±0.01°: "
            f"{report['grazing']})\n"
            f"  max |Δt| zero-Doppler vs culmination {report['max_dt']:.3f} s; "
            f"max |Δincidence| vs culmination {report['max_dinc_cul']:.4f}°, "
            f"at our time {report['max_dinc_ours']:.4f}°\n"
            f"  {'OK' if ok else 'MISSED'} (targets: ≥10×, ±1 s, ±0.1°)"
        )
    print(f"\n{'all targets met' if all_ok else 'some targets missed'}")


def compare(
    ours: list[Pass], culminations: dict[str, Any], sky_sats: dict[str, Any], topos: Any, ts: Any
) -> dict[str, Any]:
    """Match our passes to skyfield culminations by satellite and time; collect differences."""
    remaining: dict[str, list[tuple[datetime, float]]] = {}
    for name, times in culminations.items():
        if len(times):
            alts = (sky_sats[name] - topos).at(times).altaz()[0].degrees
            remaining[name] = list(zip(times.utc_datetime(), alts.tolist(), strict=True))
    sky_count = sum(len(v) for v in remaining.values())
    matched = only_ours = 0
    max_dt = max_dinc_cul = max_dinc_ours = 0.0
    for p in ours:
        candidates = remaining.get(p.satellite, [])
        best = min(candidates, key=lambda c: abs((c[0] - p.time).total_seconds()), default=None)
        if best is None or abs((best[0] - p.time).total_seconds()) > MATCH_S:
            only_ours += 1
            continue
        candidates.remove(best)
        matched += 1
        max_dt = max(max_dt, abs((best[0] - p.time).total_seconds()))
        max_dinc_cul = max(max_dinc_cul, abs(p.incidence - (90.0 - best[1])))
        alt = (sky_sats[p.satellite] - topos).at(ts.from_datetime(p.time)).altaz()[0].degrees
        max_dinc_ours = max(max_dinc_ours, abs(p.incidence - (90.0 - alt)))
    leftovers = [alt for v in remaining.values() for _, alt in v]
    grazing = sum(abs(alt - 45.0) < 0.01 for alt in leftovers)
    agree = (
        only_ours == 0
        and len(leftovers) == grazing
        and max_dt <= MATCH_S
        and max(max_dinc_cul, max_dinc_ours) <= 0.1
    )
    return {
        "sky_count": sky_count,
        "matched": matched,
        "only_ours": only_ours,
        "only_sky": len(leftovers),
        "grazing": grazing,
        "max_dt": max_dt,
        "max_dinc_cul": max_dinc_cul,
        "max_dinc_ours": max_dinc_ours,
        "agree": agree,
    }


if __name__ == "__main__":
    main()
