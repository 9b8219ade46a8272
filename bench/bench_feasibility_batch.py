"""Benchmark: checkFeasibility for many points in one request on the sandbox (issue 12).

    python bench/bench_feasibility_batch.py                 # 1, 10, 100, 1,000 points; 5 rounds
    python bench/bench_feasibility_batch.py --rounds 3 --sizes 1 10 100
    python bench/bench_feasibility_batch.py --url http://127.0.0.1:8765 --max-items 50

Without ``--url`` a sandbox is started in its own process (``python -m tasking.sandbox``, as
bench_sandbox.py does) on a throw-away data directory, its clock at 1×. Each request is one JSON
array of SPOTLIGHT items on the broad demo contract, each item a point of its own with the longest
window the rules allow: from 13 h ahead (the 12 h COMMERCIAL lead time) to 14 days ahead less 5
min, i.e. 13.4 days. Points are seeded random positions between 75°S and 80°N, fresh for every
request, so every request predicts new passes (the server's pass cache never answers) while the
constellation's grid stays warm after the first request, as in a running sandbox.

Rounds are interleaved (1, 10, 100, 1,000 points, then again), so load from other work spreads
over every size; each size reports the median and range of its rounds. The first request of the
run (cold: the grid is propagated) is reported apart. For comparison it times 100 points sent as
100 one-item requests (what a client did before batching), and reads the server's RSS.

Target (PRODUCT.md, issue 12): 100 points in one request under 1 s. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox import request_body, sim_now, token  # noqa: E402

WINDOW_DAYS = 14.0  # clipped by request_body to 14 days ahead less 5 min


@contextmanager
def sandbox(url: str | None, pid: int | None) -> Iterator[tuple[str, int | None]]:
    """(root URL, server pid): an existing sandbox, or a fresh one in a child process at 1×."""
    if url:
        yield url.rstrip("/"), pid
        return
    with tempfile.TemporaryDirectory(prefix="bench-feasibility-") as data_dir:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        command = [
            sys.executable, "-m", "tasking.sandbox", "--port", str(port), "--data-dir", data_dir,
            "--speed", "1", "--log-level", "warning",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        root = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(root + "/sandbox/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the sandbox did not start") from None
                    time.sleep(0.1)
            yield root, process.pid
        finally:
            process.terminate()
            process.wait(timeout=15)


def points(rng: random.Random, count: int) -> list[tuple[float, float]]:
    return [
        (round(rng.uniform(-75.0, 80.0), 4), round(rng.uniform(-180.0, 180.0), 4))
        for _ in range(count)
    ]


def check(
    http: httpx.Client, headers: dict[str, str], pts: list[tuple[float, float]], pid: int | None
) -> tuple[float, float, int]:
    """(wall s, server CPU s, feasible items) of one request."""
    now = sim_now(http)
    body = [request_body(now, lat, lon, WINDOW_DAYS) for lat, lon in pts]
    cpu = server_cpu_s(pid)
    started = time.perf_counter()
    response = http.post("/api/tasking/v2/feasibility", json=body, headers=headers)
    elapsed = time.perf_counter() - started
    cpu = server_cpu_s(pid) - cpu
    response.raise_for_status()
    verdicts = response.json()["feasibility"]
    assert len(verdicts) == len(pts)
    return elapsed, cpu, sum(v["result"] == "FEASIBLE" for v in verdicts)


def server_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of the server so far (0 when it is not known)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="root URL of a running sandbox (default: start one)")
    parser.add_argument("--pid", type=int, help="the running sandbox's process id, for its RSS")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--singles", type=int, default=100, help="points sent one per request")
    parser.add_argument("--max-items", type=int, help="split larger sizes into requests of this")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with (
        sandbox(args.url, args.pid) as (root, pid),
        httpx.Client(base_url=root, timeout=600) as http,
    ):
        headers = token(http)
        print(f"sandbox {root}; window {WINDOW_DAYS:g} days clipped to the 14-day rule")
        rss0 = server_rss_mib(pid)
        cold, _, _ = check(http, headers, points(rng, 1), pid)
        print(f"first request of the run (grid propagated): 1 point {cold * 1000:.0f} ms")

        times: dict[int, list[float]] = {n: [] for n in args.sizes}
        cpus: dict[int, list[float]] = {n: [] for n in args.sizes}
        ratio: dict[int, list[float]] = {n: [] for n in args.sizes}
        singles: list[float] = []
        singles_cpu: list[float] = []
        for _ in range(args.rounds):
            for n in args.sizes:
                pts = points(rng, n)
                step = args.max_items or n
                total = cpu = 0.0
                feasible = 0
                for i in range(0, n, step):
                    elapsed, used, ok = check(http, headers, pts[i : i + step], pid)
                    total, cpu, feasible = total + elapsed, cpu + used, feasible + ok
                times[n].append(total)
                cpus[n].append(cpu)
                ratio[n].append(feasible / n)
            if args.singles:
                total = cpu = 0.0
                for lat, lon in points(rng, args.singles):
                    elapsed, used, _ = check(http, headers, [(lat, lon)], pid)
                    total, cpu = total + elapsed, cpu + used
                singles.append(total)
                singles_cpu.append(cpu)
        rss1 = server_rss_mib(pid)

        load = os.getloadavg()[0]
        print(f"\n{args.rounds} interleaved rounds, new points in every request, load {load:.1f}")
        print(
            f"{'points':>7} {'median':>9} {'min':>9} {'max':>9} {'per point':>10} "
            f"{'server CPU':>11} {'feasible':>9}"
        )
        for n in args.sizes:
            med = statistics.median(times[n])
            print(
                f"{n:7d} {med * 1000:7.0f} ms {min(times[n]) * 1000:6.0f} ms "
                f"{max(times[n]) * 1000:6.0f} ms {med / n * 1000:7.2f} ms "
                f"{statistics.median(cpus[n]) * 1000:8.0f} ms {statistics.median(ratio[n]):8.0%}"
            )
        if singles:
            med = statistics.median(singles)
            print(
                f"{args.singles} points as {args.singles} one-item requests: median {med:.2f} s "
                f"(range {min(singles):.2f}–{max(singles):.2f} s), server CPU "
                f"{statistics.median(singles_cpu):.2f} s"
            )
        if rss0 is not None and rss1 is not None:
            print(f"server RSS {rss0:.0f} MiB before the first request, {rss1:.0f} MiB at the end")
        if 100 in times:
            met = statistics.median(times[100]) < 1.0
            print(f"target, 100 points in one request under 1 s: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
