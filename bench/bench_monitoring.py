"""Benchmark: HTTP requests, token requests and TCP connections per Monitor refresh, over a whole
task lifecycle on the sandbox.

Run from the repository root:  python bench/bench_monitoring.py [--interval 5] [--step-hours 3]

What runs is the app's own code: the backend is built by ``tasking.service.build_service`` (the function
the app's ``get_service`` caches), a task is ordered on the demo broad contract with the app's
client, and each refresh is ``tasking.watch.refresh`` (what the Monitor's fragment calls every
``POLL_INTERVAL_S``). Between refreshes the benchmark waits ``--interval`` real seconds (default:
the Monitor's 5 s, so HTTP keep-alive expiry is exercised as in the browser) and moves the
simulation clock ``--step-hours`` ahead with its own ``SandboxControl`` (its requests are counted
apart and excluded from the figures).

Counting: HTTP requests by an httpx request hook on each client (retries and token requests
included), token requests by the auth's ``token_requests``, and NEW TCP connections by wrapping the
httpcore network backend of each client's connection pool (every new connection goes through its
``connect_tcp``). The server's own request counter (uvicorn) cross-checks the client-side counts.

Targets (PRODUCT.md): one HTTP request per refresh in the steady state; scene and products fetched
only when the status changes; at most one token request per hour per process; one reused
connection. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpcore
import httpx

from tasking import rules
from tasking.auth import ClientCredentialsAuth, token_lifetime
from tasking.config import load_settings
from tasking.monitoring import POLL_INTERVAL_S
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tasking.service import TaskingService, build_service
from tasking.watch import Watch, refresh

HELSINKI = (60.1699, 24.9384)
# Bound on refreshes: a lifecycle is about three simulated days (12 h lead time + 48 h window +
# SLA), so at the default 1 h step it ends in ~30-60 refreshes; the bound only stops a runaway.
MAX_REFRESHES = 400


# --- counters ------------------------------------------------------------------------------------


class CountingBackend(httpcore.NetworkBackend):
    """httpcore's sync network backend, counting the TCP connections it opens."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner
        self.connects = 0

    def connect_tcp(
        self, host: str, port: int, *args: Any, **kwargs: Any
    ) -> httpcore.NetworkStream:
        self.connects += 1
        return self._inner.connect_tcp(host, port, *args, **kwargs)

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        self.connects += 1
        return self._inner.connect_unix_socket(*args, **kwargs)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@dataclass
class Wire:
    """Requests (by kind) and TCP connections of one httpx.Client."""

    name: str
    net: CountingBackend
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(self.kinds.values())

    def snapshot(self) -> tuple[Counter[str], int]:
        return Counter(self.kinds), self.net.connects


def pool_of(http: httpx.Client) -> httpcore.ConnectionPool:
    """The httpcore pool behind a client built without a custom transport or proxy."""
    pool = getattr(http._transport, "_pool", None)
    if not isinstance(pool, httpcore.ConnectionPool):
        raise SystemExit("expected an httpcore.ConnectionPool (is a proxy configured?)")
    return pool


def instrument(
    http: httpx.Client, name: str, task_id: list[str], keepalive_s: float | None = None
) -> Wire:
    """Count the requests and new connections of ``http`` (must not have connected yet);
    ``keepalive_s`` replaces the pool's idle-connection expiry (what-if runs only)."""
    pool = pool_of(http)
    if pool.connections:
        raise SystemExit(f"{name}: the pool already has connections; instrument it earlier")
    if keepalive_s is not None:
        pool._keepalive_expiry = keepalive_s
    net = CountingBackend(pool._network_backend)
    pool._network_backend = net
    wire = Wire(name, net)

    def hook(request: httpx.Request) -> None:
        wire.kinds[kind_of(request, task_id[0] if task_id else "")] += 1

    hooks = http.event_hooks
    http.event_hooks = {**hooks, "request": [*hooks.get("request", []), hook]}
    return wire


def kind_of(request: httpx.Request, task_id: str) -> str:
    path = request.url.path
    if path.endswith("/token"):
        return "token"
    if path.startswith("/sandbox/v1/clock"):
        return "clock"
    if task_id and path.endswith(f"/tasks/{task_id}"):
        return "task"
    if path.endswith("/scene"):
        return "scene"
    if "/products" in path:
        return "products"
    if "/contracts" in path:
        return "contract"
    if request.method == "POST" and path.endswith("/tasks"):
        return "create"
    if "/files/" in path or "signature=" in str(request.url.query, "ascii", "ignore"):
        return "asset"
    return f"other {request.method} {path}"


class SimMonotonic:
    """A monotonic clock for the auth that runs on simulation time (``--auth-on-sim-clock``): the
    lifecycle's simulated day then shows how often the client asks for a token."""

    def __init__(self, sim_start: datetime) -> None:
        self._base = time.monotonic()
        self._start = sim_start
        self.sim_now = sim_start

    def __call__(self) -> float:
        return self._base + (self.sim_now - self._start).total_seconds()

    def jumped(self, sim_now: datetime) -> None:
        self.sim_now = sim_now


def server_requests(handle: SandboxHandle) -> int:
    """Requests the sandbox's uvicorn has answered (its own counter)."""
    return int(handle._server.server_state.total_requests)


def settled_server_requests(handle: SandboxHandle, expected: int, timeout_s: float = 2.0) -> int:
    """The server's count once it reaches ``expected`` (or after ``timeout_s``): uvicorn counts a
    request when it has finished sending the response, which can be just after the client has
    read it."""
    deadline = time.monotonic() + timeout_s
    while (count := server_requests(handle)) < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return count


# --- one refresh ---------------------------------------------------------------------------------


@dataclass
class Row:
    index: int
    sim_hours: float
    before: str | None
    after: str | None
    api: Counter[str]
    api_connects: int
    clock: Counter[str]
    clock_connects: int
    tokens: int
    errors: int

    @property
    def changed(self) -> bool:
        return self.after != self.before

    @property
    def api_requests(self) -> int:
        return sum(self.api.values())


def diff(
    after: tuple[Counter[str], int], before: tuple[Counter[str], int]
) -> tuple[Counter[str], int]:
    kinds = Counter(after[0])
    kinds.subtract(before[0])
    return +kinds, after[1] - before[1]


def run_lifecycle(
    service: TaskingService,
    driver: SandboxControl,
    task_id: str,
    api: Wire,
    clock: Wire,
    auth: ClientCredentialsAuth,
    *,
    interval_s: float,
    step: timedelta,
    on_jump: Callable[[datetime], None] | None = None,
) -> list[Row]:
    """Refresh like the Monitor until the status is final; move the clock between refreshes."""
    watch = Watch(task_id)
    start = driver.clock().now
    rows: list[Row] = []
    for index in range(1, MAX_REFRESHES + 1):
        before_status = watch.status
        api0, clock0, tokens0 = api.snapshot(), clock.snapshot(), auth.token_requests
        refresh(watch, service.client, service.history, service.clock)
        api_d, clock_d = diff(api.snapshot(), api0), diff(clock.snapshot(), clock0)
        sim_now = driver.clock().now
        rows.append(
            Row(
                index=index,
                sim_hours=(sim_now - start).total_seconds() / 3600,
                before=before_status,
                after=watch.status,
                api=api_d[0],
                api_connects=api_d[1],
                clock=clock_d[0],
                clock_connects=clock_d[1],
                tokens=auth.token_requests - tokens0,
                errors=len(watch.errors),
            )
        )
        if watch.final:
            break
        # The Monitor's fragment reruns every POLL_INTERVAL_S of real time: wait that long (the
        # idle gap is what decides whether a kept-alive connection is still usable).
        time.sleep(interval_s)
        jumped = driver.advance(seconds=step.total_seconds())
        if on_jump is not None:
            on_jump(jumped.now)
    return rows


# --- report --------------------------------------------------------------------------------------


def fmt_kinds(kinds: Counter[str]) -> str:
    return " ".join(f"{k}×{n}" if n > 1 else k for k, n in sorted(kinds.items())) or "-"


def print_rows(rows: list[Row]) -> None:
    print(
        f"\n{'#':>3} {'sim h':>6}  {'status':<22} {'API req':>7}  {'what':<28} {'new conn':>8}"
        f"  {'clock req':>9} {'clk conn':>8} {'tokens':>6}"
    )
    for r in rows:
        status = r.after if not r.changed else f"{r.before or '·'} → {r.after}"
        print(
            f"{r.index:>3} {r.sim_hours:>6.1f}  {status:<22} {r.api_requests:>7}  "
            f"{fmt_kinds(r.api):<28} {r.api_connects:>8}  {sum(r.clock.values()):>9} "
            f"{r.clock_connects:>8} {r.tokens:>6}" + (f"  errors {r.errors}" if r.errors else "")
        )


def summarise(name: str, rows: list[Row]) -> None:
    if not rows:
        print(f"  {name:<24} none")
        return
    api = [r.api_requests for r in rows]
    clock = [sum(r.clock.values()) for r in rows]
    kinds: Counter[str] = Counter()
    for r in rows:
        kinds.update(r.api)
    print(
        f"  {name:<24} {len(rows):>3} refreshes  API requests {sum(api):>3} "
        f"(per refresh min {min(api)}, median {statistics.median(api):g}, max {max(api)})  "
        f"[{fmt_kinds(kinds)}]  clock reads {sum(clock)}  new API connections "
        f"{sum(r.api_connects for r in rows)}"
    )


def token_cadence(rows: list[Row]) -> None:
    """Token requests per hour of the (simulated) token clock, and the gaps between them."""
    at = [r.sim_hours for r in rows if r.tokens]
    span = rows[-1].sim_hours - rows[0].sim_hours if rows else 0.0
    if not at or span <= 0:
        print("\n  no token request during the lifecycle")
        return
    gaps = [(b - a) * 60 for a, b in itertools.pairwise(at)]
    print(
        f"\n  token clock on simulation time: {sum(r.tokens for r in rows)} token requests over "
        f"{span:.1f} h = {sum(r.tokens for r in rows) / span:.2f} per hour"
        + (
            f"; gaps between them {min(gaps):.0f}–{max(gaps):.0f} min (resolution: the step)"
            if gaps
            else ""
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--interval",
        type=float,
        default=POLL_INTERVAL_S,
        help=f"real seconds between refreshes (the Monitor's is {POLL_INTERVAL_S:g})",
    )
    parser.add_argument(
        "--step-hours", type=float, default=1.0, help="simulated hours between refreshes"
    )
    parser.add_argument(
        "--client-keepalive",
        type=float,
        default=None,
        help="what-if: idle keep-alive expiry (s) of the app's httpx pools (default: as built, "
        "httpx's 5 s)",
    )
    parser.add_argument(
        "--server-keepalive",
        type=float,
        default=None,
        help="what-if: the sandbox's uvicorn keep-alive timeout (s) (default: as started, 5 s)",
    )
    parser.add_argument(
        "--auth-on-sim-clock",
        action="store_true",
        help="run the auth's token clock on simulation time, to see the token cadence over the "
        "lifecycle's simulated hours (tokens stay valid: the sandbox checks them in real time)",
    )
    args = parser.parse_args()
    step = timedelta(hours=args.step_hours)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        # Speed 1: the clock only moves by the benchmark's jumps (and real time).
        handle = start_in_background(Path(tmp) / "sandbox", speed=1.0)
        if args.server_keepalive is not None:
            # uvicorn reads it for each new connection (h11_impl.H11Protocol.__init__).
            handle._server.config.timeout_keep_alive = args.server_keepalive
        try:
            bench(
                handle,
                Path(tmp),
                args.interval,
                step,
                args.client_keepalive,
                args.auth_on_sim_clock,
            )
        finally:
            handle.stop()


def bench(
    handle: SandboxHandle,
    tmp: Path,
    interval_s: float,
    step: timedelta,
    client_keepalive_s: float | None,
    auth_on_sim_clock: bool,
) -> None:
    for name in ("ICEYE_API_URL", "ICEYE_AUTH_URL", "ICEYE_CLIENT_ID", "ICEYE_CLIENT_SECRET"):
        os.environ.pop(name, None)  # sandbox mode, whatever this shell has configured
    settings = load_settings(sandbox_url=handle.url, data_dir=tmp / "app", history_url=None)
    service = build_service(settings)  # exactly what the app's get_service() builds
    assert service.mode == "sandbox" and service.control is not None
    auth = service.client.session.auth
    assert isinstance(auth, ClientCredentialsAuth)
    task_ref: list[str] = []
    api = instrument(service.client.session.http, "API client", task_ref, client_keepalive_s)
    clock = instrument(service.control._http, "sandbox clock", task_ref, client_keepalive_s)
    # The benchmark's own hand on the clock, on a client of its own (counted apart).
    driver_http = httpx.Client(timeout=30.0)
    driver_wire = instrument(driver_http, "benchmark driver", task_ref)
    driver = SandboxControl(handle.url, driver_http)
    served0 = settled_server_requests(handle, 1)  # the start-up health check

    # Order a task as the New task page does (contract → draft → rules → create).
    now = service.now()
    contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
    start, end = rules.default_window(now, "COMMERCIAL")
    draft = TaskDraft(
        contract_id=contract.id,
        lat=HELSINKI[0],
        lon=HELSINKI[1],
        window_start=start,
        window_end=end,
        imaging_mode="SPOTLIGHT",
        reference="bench_monitoring",
    )
    task = service.client.create_task(rules.build_task_request(draft, contract, now))
    service.history.record(task)
    task_ref.append(task.id)
    setup_api = api.snapshot()
    setup_tokens = auth.token_requests
    print(
        f"sandbox {handle.url}; task {task.id} on the broad contract, SPOTLIGHT at Helsinki, "
        f"window {start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M} UTC\n"
        f"refresh every {interval_s:g} s real, clock moved {step.total_seconds() / 3600:g} h "
        "between refreshes"
        + (f" (a {step.total_seconds() / interval_s:g}× clock)" if interval_s > 0 else "")
    )
    pool = pool_of(service.client.session.http)
    server_keepalive = handle._server.config.timeout_keep_alive
    print(
        f"keep-alive: client pool expiry {pool._keepalive_expiry:g} s, sandbox server timeout "
        f"{server_keepalive:g} s"
        + (
            " (what-if values, not the app's)"
            if client_keepalive_s or server_keepalive != 5
            else ""
        )
    )
    print(
        f"setup (contract + create): API requests {api.requests} [{fmt_kinds(api.kinds)}], "
        f"token requests {setup_tokens}, new API connections {api.net.connects}; clock reads "
        f"{clock.requests}, new clock connections {clock.net.connects}"
    )

    on_jump: Callable[[datetime], None] | None = None
    if auth_on_sim_clock:
        sim_clock = SimMonotonic(driver.clock().now)
        auth._clock = sim_clock
        on_jump = sim_clock.jumped
        print("token clock: simulation time (what-if --auth-on-sim-clock)")
    started = time.monotonic()
    rows = run_lifecycle(
        service,
        driver,
        task.id,
        api,
        clock,
        auth,
        interval_s=interval_s,
        step=step,
        on_jump=on_jump,
    )
    elapsed = time.monotonic() - started
    total = api.requests + clock.requests + driver_wire.requests
    served = settled_server_requests(handle, served0 + total) - served0
    driver_http.close()

    print_rows(rows)
    steady = [r for r in rows[1:] if not r.changed]
    changes = [r for r in rows[1:] if r.changed]
    print("\nSummary (the first refresh is the Monitor opening the task)")
    summarise("first refresh", rows[:1])
    summarise("steady state (no change)", steady)
    summarise("status changes", changes)
    summarise("whole lifecycle", rows)
    scene_on_steady = sum(r.api["scene"] + r.api["products"] + r.api["asset"] for r in steady)
    refresh_connects = sum(r.api_connects for r in rows)
    monitor_tokens = sum(r.tokens for r in rows)
    print(
        f"\n  API connections opened in the process: {api.net.connects} "
        f"({setup_api[1]} for setup, {refresh_connects} during {len(rows)} refreshes); "
        f"pool now holds {len(pool.connections)}"
    )
    print(
        f"  sandbox clock connections: {clock.net.connects} for {clock.requests} clock reads "
        f"(SandboxControl's own client; sandbox mode only)"
    )
    print(
        f"  token requests: {auth.token_requests} in the process ({setup_tokens} at setup, "
        f"{monitor_tokens} during {elapsed:.0f} s of monitoring); a token is used for "
        f"{token_lifetime(3600) / 60:.0f} min of a 60 min lifetime (tasking.auth), so at most "
        f"one request per {token_lifetime(3600) / 60:.0f} min"
    )
    print(
        f"  cross-check: the server counted {served} requests; the clients {total} = "
        f"{api.requests} API + {clock.requests} clock + {driver_wire.requests} benchmark driver "
        f"({'agrees' if served == total else 'DISAGREES'})"
    )

    if auth_on_sim_clock:
        token_cadence(rows)
        return
    steady_ok = bool(steady) and all(r.api_requests == 1 and r.api["task"] == 1 for r in steady)
    verdicts = [
        (
            "one API request per steady-state refresh (besides, sandbox mode only: "
            f"{sum(sum(r.clock.values()) for r in steady)} sandbox clock reads in "
            f"{len(steady)} steady refreshes, tasking/clock.py CLOCK_MAX_AGE_S)",
            steady_ok,
        ),
        ("scene/products only on status changes", scene_on_steady == 0),
        ("one connection, reused (no new one while monitoring)", api.net.connects == 1),
        ("no token request while monitoring (≤ 1 per hour)", monitor_tokens == 0),
        ("lifecycle reached a final status", bool(rows) and rows[-1].after == "DONE"),
    ]
    print()
    for label, ok in verdicts:
        print(f"  {'OK    ' if ok else 'MISSED'} {label}")


if __name__ == "__main__":
    main()
