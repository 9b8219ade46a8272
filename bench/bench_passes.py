"""Benchmark: pass prediction (tasking.passes) against skyfield's find_events on the same elements.

Run from the repository root:  python bench/bench_passes.py [--days 14] [--rounds 7]

Part 1, one point at a time: the equator, 60°N (Helsinki) and 78°N (Svalbard) over 14 days, the
sandbox's 40 satellites, incidence ≤ 45°. Each round runs, for each point and in an order that
rotates from round to round:
- skyfield: find_events(altitude_degrees=45) for every satellite;
- ours, cold: a new PassPredictor, so the constellation's grid is propagated for this one point
  (what the first prediction in a process pays);
- ours, warm: a predictor whose grid is already propagated (every later point in the process: the
  sandbox and the app's preview share it), the passes as Pass objects as predict_passes returns
  them, and as the PassTable the sandbox plans on.
Each figure is the median of the rounds (wall time; CPU time of this process beside it, which other
load disturbs less) with the range; the speed-up is skyfield's median over ours. The pass sets are
compared: matched by satellite and culmination (±1 s), largest time and incidence differences.

Part 2, many points in one call (PassPredictor.passes_many, as the sandbox's feasibility does): 1,
10, 100 and 1,000 seeded random points over 14 days on a warm grid, interleaved; the cost per
additional point is (t(N) − t(1)) / (N − 1).

Targets (PRODUCT.md, issue 13): ≥ 50× skyfield on medians, same passes (±1 s, ±0.1°). Not a test:
timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skyfield.api import EarthSatellite, load, wgs84

from tasking.orbits import generate_constellation
from tasking.passes import Pass, PassPredictor, PassQuery

EPOCH = datetime(2026, 11, 22, tzinfo=UTC)
POINTS = {
    "equator 0°N 25°E": (0.0, 25.0),
    "60°N Helsinki": (60.1699, 24.9384),
    "78°N Svalbard": (78.22, 15.65),
}
MAX_INCIDENCE = 45.0
MATCH_S = 1.0
BATCH_SIZES = (1, 10, 100, 1000)


def timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, CPU s of this process, result) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def summary(values: list[float]) -> str:
    return (
        f"{statistics.median(values) * 1000:8.1f} ms "
        f"({min(values) * 1000:.1f}–{max(values) * 1000:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-rounds", type=int, default=5)
    args = parser.parse_args()

    sats = generate_constellation(epoch=EPOCH)
    start, end = EPOCH, EPOCH + timedelta(days=args.days)
    ts = load.timescale(builtin=True)
    t0, t1 = ts.from_datetime(start), ts.from_datetime(end)
    sky_sats = {s.name: EarthSatellite(s.line1, s.line2, s.name, ts) for s in sats}
    print(
        f"{len(sats)} satellites, {args.days:g} days from {start:%Y-%m-%d}, incidence ≤ 45°; "
        f"{args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f} at the start"
    )
    warm = PassPredictor(sats)
    warm.passes(0.0, 0.0, start, end)  # propagates the grid once, as the first caller would

    def cold(lat: float, lon: float) -> list[Pass]:
        return objects(PassPredictor(sats), lat, lon)

    def objects(predictor: PassPredictor, lat: float, lon: float) -> list[Pass]:
        return predictor.passes(lat, lon, start, end, MAX_INCIDENCE).to_list()

    kinds = ("skyfield", "cold", "warm", "table")
    wall: dict[str, dict[str, list[float]]] = {p: {k: [] for k in kinds} for p in POINTS}
    cpu: dict[str, dict[str, list[float]]] = {p: {k: [] for k in kinds} for p in POINTS}
    results: dict[str, dict[str, Any]] = {p: {} for p in POINTS}
    for round_ in range(args.rounds):
        for label, (lat, lon) in POINTS.items():
            topos = wgs84.latlon(lat, lon)

            def skyfield_run(topos: Any = topos) -> dict[str, Any]:
                found = {}
                for name, sat in sky_sats.items():
                    times, events = sat.find_events(
                        topos, t0, t1, altitude_degrees=90.0 - MAX_INCIDENCE
                    )
                    found[name] = times[events == 1]
                return found

            runs: dict[str, Callable[[], Any]] = {
                "skyfield": skyfield_run,
                "cold": partial(cold, lat, lon),
                "warm": partial(objects, warm, lat, lon),
                "table": partial(warm.passes, lat, lon, start, end, MAX_INCIDENCE),
            }
            order = kinds[round_ % 4 :] + kinds[: round_ % 4]
            for kind in order:
                w, c, result = timed(runs[kind])
                wall[label][kind].append(w)
                cpu[label][kind].append(c)
                results[label][kind] = result

    all_ok = True
    for label, (lat, lon) in POINTS.items():
        got = results[label]
        ours: list[Pass] = got["warm"]
        assert got["cold"] == ours == got["table"].to_list()
        report = compare(ours, got["skyfield"], sky_sats, wgs84.latlon(lat, lon), ts)
        sky_wall = statistics.median(wall[label]["skyfield"])
        sky_cpu = statistics.median(cpu[label]["skyfield"])
        speed = {
            kind: (
                f"{sky_wall / statistics.median(wall[label][kind]):6.0f}× wall, "
                f"{sky_cpu / statistics.median(cpu[label][kind]):4.0f}× CPU"
            )
            for kind in ("cold", "warm", "table")
        }

        ok = report["agree"] and sky_wall / statistics.median(wall[label]["warm"]) >= 50
        all_ok &= ok
        print(
            f"\n{label} ({lat:.4f}, {lon:.4f}): {len(ours)} passes\n"
            f"  skyfield              {summary(wall[label]['skyfield'])}  "
            f"CPU {statistics.median(cpu[label]['skyfield']) * 1000:.1f} ms\n"
            f"  ours, cold (grid)     {summary(wall[label]['cold'])}  {speed['cold']}\n"
            f"  ours, warm (objects)  {summary(wall[label]['warm'])}  {speed['warm']}\n"
            f"  ours, warm (table)    {summary(wall[label]['table'])}  {speed['table']}\n"
            f"  matched {report['matched']}, only ours {report['only_ours']}, "
            f"only skyfield {report['only_sky']} (of which grazing 45° ±0.01°: "
            f"{report['grazing']})\n"
            f"  max |Δt| zero-Doppler vs culmination {report['max_dt']:.3f} s; "
            f"max |Δincidence| vs culmination {report['max_dinc_cul']:.4f}°, "
            f"at our time {report['max_dinc_ours']:.4f}°\n"
            f"  {'OK' if ok else 'MISSED'} (targets: ≥50× warm on medians, ±1 s, ±0.1°)"
        )
    print(f"\n{'all targets met' if all_ok else 'some targets missed'}")
    batch(warm, start, end, args.batch_rounds)


def batch(predictor: PassPredictor, start: datetime, end: datetime, rounds: int) -> None:
    """Part 2: many points in one call on the warm grid."""
    rng = random.Random(13)
    times: dict[int, list[float]] = {n: [] for n in BATCH_SIZES}
    counts: dict[int, list[int]] = {n: [] for n in BATCH_SIZES}
    for _ in range(rounds):
        for n in BATCH_SIZES:
            queries = [
                PassQuery(rng.uniform(-75.0, 80.0), rng.uniform(-180.0, 180.0), start, end)
                for _ in range(n)
            ]
            w, _, tables = timed(partial(predictor.passes_many, queries, MAX_INCIDENCE))
            times[n].append(w)
            counts[n].append(sum(len(t) for t in tables))
    print(f"\nMany points in one call (passes_many, tables), warm grid, {rounds} rounds")
    one = statistics.median(times[1])
    for n in BATCH_SIZES:
        med = statistics.median(times[n])
        extra = f"{(med - one) / (n - 1) * 1000:6.2f} ms" if n > 1 else "     -   "
        print(
            f"{n:5d} points {summary(times[n])}   per additional point {extra}   "
            f"{statistics.median(counts[n]) / n:6.0f} passes a point"
        )


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
