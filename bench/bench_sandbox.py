"""Sandbox benchmarks: feasibility latency for 14-day windows, and 50 concurrent pollers.

    python bench/bench_sandbox.py                      # both, pollers for 60 s
    python bench/bench_sandbox.py --duration 10        # a short run
    python bench/bench_sandbox.py --url http://127.0.0.1:8765 --skip-feasibility

Without ``--url`` a sandbox is started as a separate process (``python -m tasking.sandbox``) on a
free loopback port with a throw-away data directory, so the pollers and the server do not share a
GIL. Targets (PRODUCT.md): feasibility for a 14-day window under 100 ms; 50 pollers, no errors.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tasking.sandbox import seed  # noqa: E402  (after the path set-up above)

POINTS = {
    "Helsinki": (60.1699, 24.9384),
    "Equator": (0.0, 30.0),
    "Sydney": (-33.8688, 151.2093),
    "Anchorage": (61.2181, -149.9003),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox(url: str | None, speed: float) -> Iterator[str]:
    """An existing sandbox at ``url``, or a fresh one in a child process."""
    if url:
        yield url.rstrip("/")
        return
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as data_dir:
        port = _free_port()
        command = [
            sys.executable, "-m", "tasking.sandbox", "--port", str(port), "--data-dir", data_dir,
            "--speed", str(speed), "--log-level", "warning",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        root = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(root + "/sandbox/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise SystemExit("the sandbox did not start")
            yield root
        finally:
            process.terminate()
            process.wait(timeout=15)


def token(http: httpx.Client) -> dict[str, str]:
    response = http.post(
        "/v1/token",
        data={"grant_type": "client_credentials"},
        auth=(seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET),
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def sim_now(http: httpx.Client) -> datetime:
    return datetime.fromisoformat(
        http.get("/sandbox/v1/clock").json()["now"].replace("Z", "+00:00")
    )


def request_body(now: datetime, lat: float, lon: float, days: float) -> dict[str, Any]:
    start = now + timedelta(hours=13)
    end = min(start + timedelta(days=days), now + timedelta(days=14) - timedelta(minutes=5))
    return {
        "contractID": seed.BROAD_CONTRACT_ID,
        "pointOfInterest": {"lat": lat, "lon": lon},
        "acquisitionWindow": {
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": end.isoformat().replace("+00:00", "Z"),
        },
        "imagingMode": "SPOTLIGHT",
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_feasibility(root: str, repeats: int) -> None:
    print("\n== Feasibility, 14-day window (HTTP round trip, one item per request) ==")
    with httpx.Client(base_url=root, timeout=60) as http:
        headers = token(http)
        for name, (lat, lon) in POINTS.items():
            # A fresh clock reading per point keeps the window inside the 14-day rule.
            body = [request_body(sim_now(http), lat, lon, days=13.5)]
            times = []
            verdict = ""
            for _ in range(repeats):
                started = time.perf_counter()
                response = http.post("/api/tasking/v2/feasibility", json=body, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                verdict = response.json()["feasibility"][0]["result"]
            warm = times[1:] or times
            print(
                f"{name:10s} cold {times[0]:7.1f} ms   warm p50 {statistics.median(warm):6.1f} ms"
                f"   p99 {percentile(warm, 99):6.1f} ms   ({verdict})"
            )
    print("target: < 100 ms")


def bench_pollers(root: str, pollers: int, duration: float, interval: float, shared: bool) -> None:
    print(f"\n== {pollers} concurrent pollers for {duration:g} s, one GET every {interval:g} s ==")
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    with httpx.Client(base_url=root, timeout=30) as http:
        common = token(http)
        now = sim_now(http)
        task_ids = []
        for index in range(pollers):
            body = request_body(now, 60.0 - index, 25.0, days=2)
            body["reference"] = f"poller {index}"
            created = http.post("/api/tasking/v2/tasks", json=body, headers=common)
            created.raise_for_status()
            task_ids.append(created.json()["id"])

    start_gate = threading.Barrier(pollers)
    stop_at: list[float] = []

    def poll(index: int, task_id: str) -> None:
        with httpx.Client(base_url=root, timeout=30) as http:
            headers = common if shared else token(http)
            start_gate.wait()
            with lock:
                if not stop_at:
                    stop_at.append(time.monotonic() + duration)
            # Pollers are spread over the interval, as independent monitors would be.
            next_at = time.monotonic() + interval * index / pollers
            time.sleep(max(0.0, next_at - time.monotonic()))
            while time.monotonic() < stop_at[0]:
                started = time.perf_counter()
                try:
                    response = http.get(f"/api/tasking/v2/tasks/{task_id}", headers=headers)
                    problem = None if response.status_code == 200 else str(response.status_code)
                except httpx.HTTPError as exc:
                    problem = type(exc).__name__
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if problem:
                        errors.append(problem)
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))  # pacing, not waiting for state

    threads = [threading.Thread(target=poll, args=(i, t)) for i, t in enumerate(task_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kinds = {kind: errors.count(kind) for kind in sorted(set(errors))}
    print(f"requests {len(latencies)}   errors {len(errors)} {kinds if kinds else ''}")
    if latencies:
        print(
            f"latency p50 {percentile(latencies, 50):.1f} ms   p99 {percentile(latencies, 99):.1f} ms"
            f"   max {max(latencies):.1f} ms"
        )
    print(f"target: no errors ({'met' if not errors else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="root URL of a running sandbox (default: start one)")
    parser.add_argument("--duration", type=float, default=60.0, help="poller run, seconds")
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--own-tokens", action="store_true", help="one token per poller")
    parser.add_argument("--repeats", type=int, default=10, help="feasibility calls per point")
    parser.add_argument("--speed", type=float, default=600.0, help="clock speed of a started one")
    parser.add_argument("--skip-feasibility", action="store_true")
    parser.add_argument("--skip-pollers", action="store_true")
    args = parser.parse_args()
    with sandbox(args.url, args.speed) as root:
        print(f"sandbox: {root}")
        if not args.skip_feasibility:
            bench_feasibility(root, args.repeats)
        if not args.skip_pollers:
            bench_pollers(root, args.pollers, args.duration, args.interval, not args.own_tokens)


if __name__ == "__main__":
    main()
