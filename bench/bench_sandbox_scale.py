"""Benchmark: the sandbox with many tasks and a burst of creates being decided (issue 13).

Run from the repository root:  python bench/bench_sandbox_scale.py [--quick]

1. **The world.** A throw-away data directory gets ``--active`` ACTIVE tasks (default 10,000),
   *inserted* into the sandbox's own store the way createTask and the scheduler write a task (row,
   history, capture event, as ``bench_worker.insert_copies`` does), in transactions of 1,000. Each
   is planned on a real free pass: ``--pool`` points (default 300, latitudes ±60°), one 13-day
   window from 25 h ahead, ``planning.find_slots`` against the bookings already made, so the
   satellites are as busy as 10,000 honest decisions would leave them. Half COMMERCIAL, half
   BACKGROUND (which a COMMERCIAL task may displace).
2. **The server**: this script with ``--serve`` in a process of its own, ``create_app`` as
   ``python -m tasking.sandbox`` builds it (decider thread, 60× clock) and uvicorn with the
   sandbox's ``uvicorn_options``, on loopback. Two settings differ from the defaults: the rate
   limit per token is raised out of the way (it is not what is measured), and the scheduler's
   latency is 10 simulated minutes (ICEYE: "within the next 20 minutes"; the sandbox's default
   is 1), so that creates queued at 1× stay undecided until the clock jumps. ``--code DIR``
   serves another checkout's ``tasking`` (the before/after figures in bench/README.md).
3. **Readers**: ``--clients`` (10) GET clients in a process of their own (this script with
   ``--getters``), each with its own token and connection, each sending getTask for a random task
   (one in ten a getTasks page of 10) every ``--pace`` seconds (0.05; 0 = back to back), from the
   start to the end, through every phase.
4. **Phases**, each bounded by ``--timeout`` real seconds:
   - *steady* (``--steady`` s): nothing but the readers;
   - *burst*: ``--creators`` (4) threads post ``--burst`` creates (10,000) as fast as they are
     accepted, at ``--burst-points`` points (1,000), half COMMERCIAL, each with a window 26-74 h
     ahead of the simulated time it is sent at (the hour rounded down, so orders at one point in
     one hour share their passes); a 429 is retried after its ``Retry-After``. Their decisions
     fall due 10 simulated minutes (10 real seconds) after each create and the decider runs them
     while the creates go on. The phase ends when every create is answered and no task is
     RECEIVED;
   - *jump* (``--jump`` creates, 10,000; 0 skips it): the clock is set to 1×, the creates are
     posted (none is due yet, so none is refused), then one ``POST /sandbox/v1/clock/advance``
     of 11 minutes makes them all due at once, the case that made the server silent for 300 s
     (issue 13). Meanwhile a probe posts a create every 0.5 s (not honouring ``Retry-After``, to
     time the refusals) until one is accepted. The phase ends when no task but the probe's is
     RECEIVED.

Measured, per phase and per 5-second window: GET count, errors, p50 / p99 / max latency, and the
longest silence (the longest real time in which no GET answer arrived, across all clients);
creates accepted, 429 answers; decisions (tasks leaving RECEIVED, counted from the store file by a
read-only connection every second) and decisions per second; the server's RSS (``VmRSS``, peak
``VmHWM``) and CPU.

Loopback only; every wait is bounded. Not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

SPEED = 60.0
# The scheduler's latency: 10 simulated minutes (ICEYE decides "within the next 20 minutes",
# iceye-api.md §5.1; the sandbox's default is 1), so that creates queued at 1× stay undecided
# however long queueing them takes, until the clock jumps.
LATENCY_S = 600.0
WINDOW_SECONDS = 5.0
GET_TIMEOUT_S = 30.0


# --- the server and the readers (child processes) --------------------------------------------


def serve(data_dir: Path, port: int) -> None:
    """``--serve``: the sandbox as ``python -m tasking.sandbox`` serves it, rate limit raised."""
    import uvicorn

    from tasking.sandbox.app import create_app
    from tasking.sandbox.config import SandboxConfig
    from tasking.sandbox.server import uvicorn_options

    config = SandboxConfig(
        data_dir=data_dir,
        speed=SPEED,
        tick_s=1.0,
        decision_latency_s=LATENCY_S,
        rate_per_s=1e6,
        rate_burst=1e6,
    )
    app = create_app(config)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options())


def getters(root: str, setup: Path, out: Path, stop: Path) -> None:
    """``--getters``: the readers, until ``stop`` exists; their samples are written to ``out``."""
    import httpx

    plan = json.loads(setup.read_text())
    ids: list[str] = plan["ids"]
    pace: float = plan["pace"]
    samples: list[tuple[float, float, int, str]] = []
    lock = threading.Lock()

    def reader(index: int, token: str) -> None:
        rng = random.Random(index)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=root, headers=headers, timeout=GET_TIMEOUT_S) as http:
            while not stop.exists():
                listing = rng.random() < 0.1
                path = (
                    "/api/tasking/v2/tasks"
                    if listing
                    else f"/api/tasking/v2/tasks/{rng.choice(ids)}"
                )
                started = time.monotonic()
                try:
                    status = http.get(path, params={"limit": 10} if listing else None).status_code
                except httpx.HTTPError:
                    status = 0
                ended = time.monotonic()
                with lock:
                    samples.append((started, ended, status, "list" if listing else "task"))
                if pace:
                    time.sleep(max(0.0, pace - (ended - started)))

    threads = [
        threading.Thread(target=reader, args=(i, t), daemon=True)
        for i, t in enumerate(plan["tokens"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GET_TIMEOUT_S + 60 * 60)
    with lock:
        out.write_text(json.dumps(samples))


# --- the world ---------------------------------------------------------------------------------


def prepare(data_dir: Path, count: int, pool: int, seed_: int) -> list[str]:
    """Insert ``count`` ACTIVE tasks planned on real free passes; returns their ids."""
    sys.path.insert(0, str(REPO))
    from tasking.models import TaskRequest
    from tasking.sandbox import seed
    from tasking.sandbox.config import SandboxConfig
    from tasking.sandbox.core import Sandbox
    from tasking.sandbox.planning import Refusal, find_slots
    from tasking.sandbox.scheduler import CAPTURE, plan_of
    from tasking.sandbox.store import TaskRecord
    from tasking.sandbox.tasks import fill_defaults
    from tasking.times import format_rfc3339

    rng = random.Random(seed_)
    sandbox = Sandbox(SandboxConfig(data_dir=data_dir, speed=SPEED))
    started = time.perf_counter()
    try:
        seeded = sandbox.contracts[seed.BROAD_CONTRACT_ID]
        now = sandbox.clock.now()
        start = now + timedelta(hours=25)
        end = start + timedelta(days=13)
        documents = []
        for _ in range(pool):
            for priority in ("COMMERCIAL", "BACKGROUND"):
                wire = {
                    "contractID": seeded.contract.id,
                    "imagingMode": "SPOTLIGHT",
                    "pointOfInterest": {"lat": rng.uniform(-60, 60), "lon": rng.uniform(-180, 180)},
                    "acquisitionWindow": {
                        "start": format_rfc3339(start),
                        "end": format_rfc3339(end),
                    },
                    "priority": priority,
                    "sla": "SLA_24H",
                }
                documents.append(fill_defaults(TaskRequest.model_validate(wire), seeded.contract))
                if priority == "BACKGROUND":  # same point as the COMMERCIAL one
                    documents[-1]["pointOfInterest"] = documents[-2]["pointOfInterest"]
        passes = sandbox.world.passes_for_many(documents)
        store, ledger = sandbox.store, sandbox.scheduler.ledger
        ids: list[str] = []
        attempts = 0
        while len(ids) < count and attempts < 5 * count:
            with store.transaction():
                for _ in range(min(1000, count - len(ids))):
                    attempts += 1
                    which = rng.randrange(len(documents))
                    document = dict(documents[which], reference=f"bench-active-{len(ids)}")
                    found = find_slots(
                        passes[which], document, priority="BACKGROUND", not_before=now,
                        bookings=ledger, gap_s=sandbox.config.setup_gap_s,
                    )  # fmt: skip
                    if isinstance(found, Refusal):
                        continue
                    slot = found[0]
                    # A millisecond apart, all just before now (the list is by createdAt, seq).
                    created = now - timedelta(milliseconds=count - len(ids))
                    record = TaskRecord(
                        id=str(uuid.uuid4()),
                        company_id=seeded.company_id,
                        contract_id=seeded.contract.id,
                        created_at=created,
                        updated_at=created,
                        status="ACTIVE",
                        priority=document["priority"],
                        document=document,
                        plan=plan_of(slot),
                    )
                    store.insert_task(record)
                    store.add_history(record.id, created, "received", "RECEIVED", {"price": 0})
                    store.add_history(record.id, created, "planned", "ACTIVE", {})
                    store.add_event(record.id, CAPTURE, slot.start)
                    ids.append(record.id)
        print(
            f"world: {len(ids)} ACTIVE tasks at {pool} points inserted in "
            f"{time.perf_counter() - started:.1f} s ({len(ledger)} bookings)"
        )
        return ids
    finally:
        sandbox.close()


# --- measuring ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (kB) and CPU ticks (user + system) of a process."""
    values: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        values["cpu"] = int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        pass
    return values


@dataclass
class Sample:
    at: float
    received: int
    total: int
    rss_kb: int
    hwm_kb: int
    cpu_ticks: int


@dataclass
class Phase:
    name: str
    start: float
    end: float = 0.0
    creates: int = 0
    refused: int = 0  # 429 answers to creates
    failed: int = 0  # other answers than 201 and 429
    create_latency: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Sampler(threading.Thread):
    """Every second, and at each phase's start and end: tasks RECEIVED and in all (read from the
    store file), the server's memory and CPU."""

    def __init__(self, database: Path, pid: int) -> None:
        super().__init__(daemon=True)
        self.database, self.pid = database, pid
        self.samples: list[Sample] = []
        self.halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self.halt.is_set():
            self.take()
            self.halt.wait(1.0)

    def take(self) -> None:
        uri = f"file:{self.database}?mode=ro"
        try:
            with sqlite3.connect(uri, uri=True, timeout=10) as db:
                query = "SELECT COUNT(*) FROM tasks WHERE status = 'RECEIVED'"
                received = db.execute(query).fetchone()[0]
                total = db.execute("SELECT MAX(seq) FROM tasks").fetchone()[0] or 0
        except sqlite3.Error:
            return
        status = proc_status(self.pid)
        sample = Sample(
            time.monotonic(), received, total, status.get("VmRSS", 0), status.get("VmHWM", 0),
            status.get("cpu", 0),
        )  # fmt: skip
        with self._lock:
            self.samples.append(sample)
            self.samples.sort(key=lambda taken: taken.at)

    def latest(self) -> Sample | None:
        with self._lock:
            return self.samples[-1] if self.samples else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


def longest_silence(
    samples: list[tuple[float, float, int, str]], start: float, end: float
) -> float:
    """The longest time within [start, end] in which no GET answer arrived."""
    answers = sorted(e for _, e, status, _ in samples if status and start <= e <= end)
    marks = [start, *answers, end]
    return max((b - a for a, b in itertools.pairwise(marks)), default=end - start)


def get_figures(samples: list[tuple[float, float, int, str]], start: float, end: float) -> str:
    inside = [s for s in samples if start <= s[0] < end]
    ok = [(e - s) * 1000 for s, e, status, _ in inside if status == 200]
    errors = sum(1 for _, _, status, _ in inside if status != 200)
    if not ok:
        return f"GET: none answered ({errors} errors)"
    return (
        f"GET: {len(ok)} ({len(ok) / max(end - start, 1e-9):.0f}/s), {errors} errors, "
        f"p50 {percentile(ok, 50):.1f} ms, p99 {percentile(ok, 99):.1f} ms, "
        f"max {max(ok):.0f} ms, longest silence {longest_silence(inside, start, end) * 1000:.0f} ms"
    )


# --- creates -----------------------------------------------------------------------------------


class Creator:
    """Posts createTask bodies from a shared queue, honouring 429's Retry-After."""

    def __init__(
        self, root: str, token: str, phase: Phase, lock: threading.Lock, clock: SimTime
    ) -> None:
        import httpx

        self.clock = clock

        self.http = httpx.Client(
            base_url=root, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        self.phase, self.lock = phase, lock
        self.ids: list[str] = []

    def run(self, bodies: list[dict[str, Any]], deadline: float) -> None:
        import httpx

        while time.monotonic() < deadline:
            with self.lock:
                if not bodies:
                    return
                body = bodies.pop()
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = self.http.post(
                        "/api/tasking/v2/tasks",
                        json={**body, "acquisitionWindow": self.clock.window()},
                    )
                except httpx.HTTPError:
                    time.sleep(0.5)
                    continue
                if response.status_code == 429:
                    with self.lock:
                        self.phase.refused += 1
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                with self.lock:
                    self.phase.creates += response.status_code == 201
                    self.phase.failed += response.status_code != 201
                    self.phase.create_latency.append(time.monotonic() - started)
                if response.status_code == 201:
                    self.ids.append(response.json()["id"])
                break


PROBE_S = 0.5


def probe(
    root: str,
    token: str,
    bodies: list[dict[str, Any]],
    clock: SimTime,
    seen: list[tuple[float, int, str]],
    halt: threading.Event,
) -> None:
    """A create every PROBE_S seconds (not honouring Retry-After, to time the refusals)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=root, headers=headers, timeout=120) as http:
        while bodies and not halt.wait(PROBE_S):
            try:
                body = {**bodies.pop(), "acquisitionWindow": clock.window()}
                response = http.post("/api/tasking/v2/tasks", json=body)
            except httpx.HTTPError:
                continue
            seen.append(
                (time.monotonic(), response.status_code, response.headers.get("Retry-After", ""))
            )
            if response.status_code == 201:
                return  # admitted again (its decision is a minute away at 1×: the phase ignores it)


class SimTime:
    """The sandbox's simulated now, extrapolated from one reading of its clock."""

    def __init__(self, http: Any) -> None:
        state = http.get("/sandbox/v1/clock").json()
        self.at = time.monotonic()
        self.sim = datetime.fromisoformat(state["now"].replace("Z", "+00:00"))
        self.speed = float(state["speed"])

    def window(self) -> dict[str, str]:
        """26-74 h ahead, the hour rounded down (orders at a point in one hour share passes), so
        at least 25 h ahead: BACKGROUND's lead time is 24 h."""
        now = self.sim + timedelta(seconds=(time.monotonic() - self.at) * self.speed)
        start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=26)
        end = start + timedelta(hours=48)
        return {
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": end.isoformat().replace("+00:00", "Z"),
        }


def burst_bodies(count: int, points: int, seed_: int) -> list[dict[str, Any]]:
    """Create bodies without their window (``SimTime.window`` when each is sent)."""
    sys.path.insert(0, str(REPO))
    from tasking.sandbox import seed

    rng = random.Random(seed_)
    spots = [(rng.uniform(-60, 60), rng.uniform(-180, 180)) for _ in range(points)]
    bodies = []
    for index in range(count):
        lat, lon = spots[index % points]
        priority = "COMMERCIAL" if index % 2 else "BACKGROUND"
        bodies.append(
            {
                "contractID": seed.BROAD_CONTRACT_ID,
                "imagingMode": "SPOTLIGHT",
                "pointOfInterest": {"lat": lat, "lon": lon},
                "priority": priority,
                "sla": "SLA_24H",
                "reference": f"bench-burst-{index}",
            }
        )
    rng.shuffle(bodies)
    return bodies


def post_all(
    root: str,
    tokens: list[str],
    phase: Phase,
    bodies: list[dict[str, Any]],
    clock: SimTime,
    deadline: float,
) -> None:
    lock = threading.Lock()
    creators = [Creator(root, token, phase, lock, clock) for token in tokens]
    threads = [threading.Thread(target=c.run, args=(bodies, deadline)) for c in creators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic() + 5))


def wait_decided(
    sampler: Sampler, phase: Phase, deadline: float, left: Callable[[], int] = lambda: 0
) -> None:
    """Until at most ``left()`` tasks are RECEIVED (read every second by the sampler) or the
    deadline."""
    time.sleep(2.5)
    while time.monotonic() < deadline:
        last = sampler.latest()
        if last is not None and last.at > time.monotonic() - 1.5 and last.received <= left():
            return
        time.sleep(0.5)
    phase.notes.append("timed out with tasks still RECEIVED")


# --- the run -----------------------------------------------------------------------------------


def login(http: Any, count: int) -> list[str]:
    sys.path.insert(0, str(REPO))
    from tasking.sandbox import seed

    tokens = []
    for _ in range(count):
        response = http.post(
            "/v1/token",
            data={"grant_type": "client_credentials"},
            auth=(seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET),
        )
        response.raise_for_status()
        tokens.append(response.json()["access_token"])
    return tokens


def report(
    phases: list[Phase], samples: list[tuple[float, float, int, str]], sampler: Sampler
) -> None:
    hz = os.sysconf("SC_CLK_TCK")
    for phase in phases:
        print(f"\n== {phase.name}: {phase.end - phase.start:.0f} s ==")
        print("  " + get_figures(samples, phase.start, phase.end))
        if phase.creates or phase.refused:
            latency = [x * 1000 for x in phase.create_latency]
            print(
                f"  creates: {phase.creates} accepted, {phase.refused} answered 429, "
                f"{phase.failed} anything else; "
                f"create p50 {percentile(latency, 50):.0f} ms, p99 {percentile(latency, 99):.0f} ms"
            )
        inside = [s for s in sampler.samples if phase.start <= s.at <= phase.end]
        if len(inside) >= 2:
            first, last = inside[0], inside[-1]
            decided = (last.total - first.total) - (last.received - first.received)
            # From the first second a decision was seen to the second the last one was.
            done = [s.total - s.received for s in inside]
            moving = [i for i in range(1, len(done)) if done[i] > done[i - 1]]
            span = inside[moving[-1]].at - inside[moving[0] - 1].at if moving else 0.0
            rate = (done[moving[-1]] - done[moving[0] - 1]) / span if span else 0.0
            cpu = (last.cpu_ticks - first.cpu_ticks) / hz / max(last.at - first.at, 1e-9)
            print(
                f"  decisions: {decided} ({rate:.0f}/s from the first to the last); most "
                f"RECEIVED at once {max(s.received for s in inside)}; server CPU "
                f"{cpu * 100:.0f} % of a core; RSS {first.rss_kb / 1024:.0f} → "
                f"{last.rss_kb / 1024:.0f} MB (peak {last.hwm_kb / 1024:.0f} MB)"
            )
        for note in phase.notes:
            print(f"  note: {note}")
        print("  per 5 s: start  GETs    p50     p99     max   silence  RECEIVED")
        at = phase.start
        while at < phase.end:
            upto = min(at + WINDOW_SECONDS, phase.end)
            inside_get = [s for s in samples if at <= s[0] < upto]
            ok = [(e - s) * 1000 for s, e, st, _ in inside_get if st == 200]
            queued = [s.received for s in sampler.samples if at <= s.at < upto]
            print(
                f"          {at - phase.start:5.0f} {len(ok):5d} {percentile(ok, 50):6.1f} "
                f"{percentile(ok, 99):7.1f} {max(ok, default=0):7.0f} "
                f"{longest_silence(inside_get, at, upto) * 1000:7.0f} "
                f"{max(queued, default=-1):8d}"
            )
            at = upto


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--active", type=int, default=10_000)
    parser.add_argument("--pool", type=int, default=300)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--burst-points", type=int, default=1000)
    parser.add_argument("--jump", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--creators", type=int, default=4)
    parser.add_argument("--pace", type=float, default=0.05)
    parser.add_argument("--steady", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose tasking to serve")
    parser.add_argument("--quick", action="store_true", help="2,000 tasks, bursts of 2,000")
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--getters", nargs=4, metavar="X", help=argparse.SUPPRESS)
    if "--quick" in sys.argv:
        parser.set_defaults(active=2000, burst=2000, jump=2000, steady=10.0)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]))
        return
    if args.getters:
        root, setup, out, stop = args.getters
        getters(root, Path(setup), Path(out), Path(stop))
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    import httpx

    print(
        f"bench_sandbox_scale: {args.active} ACTIVE, burst {args.burst}, jump {args.jump}, "
        f"{args.clients} readers every {args.pace} s, {args.creators} creators; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; code {args.code}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        data_dir = Path(tmp) / "sandbox"
        ids = prepare(data_dir, args.active, args.pool, args.seed)
        port = free_port()
        root = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(args.code.resolve())}
        script = str(Path(__file__).resolve())
        server = subprocess.Popen(
            [sys.executable, script, "--serve", str(data_dir), str(port)], cwd=tmp, env=env
        )
        readers: subprocess.Popen[bytes] | None = None
        stop = Path(tmp) / "stop"
        try:
            started = time.monotonic()
            while True:
                try:
                    if httpx.get(root + "/sandbox/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() - started > 120 or server.poll() is not None:
                    raise SystemExit("the sandbox did not start")
                time.sleep(0.2)
            print(f"server up in {time.monotonic() - started:.1f} s (pid {server.pid})")
            http = httpx.Client(base_url=root, timeout=120)
            tokens = login(http, args.clients + args.creators)
            setup = Path(tmp) / "setup.json"
            setup.write_text(
                json.dumps({"ids": ids, "tokens": tokens[: args.clients], "pace": args.pace})
            )
            out = Path(tmp) / "samples.json"
            readers = subprocess.Popen(
                [sys.executable, script, "--getters", root, str(setup), str(out), str(stop)],
                cwd=tmp,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            sampler = Sampler(data_dir / "sandbox.sqlite3", server.pid)
            sampler.start()
            creators = tokens[args.clients :]
            phases = measure(args, http, root, creators, sampler)
            stop.touch()
            readers.wait(timeout=GET_TIMEOUT_S + 30)
            sampler.halt.set()
            sampler.join(5)
            samples = [(s[0], s[1], s[2], s[3]) for s in json.loads(out.read_text())]
            report(phases, samples, sampler)
        finally:
            stop.touch()
            for child in (readers, server):
                if child is not None and child.poll() is None:
                    child.terminate()
                    try:
                        child.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        child.kill()


def measure(
    args: argparse.Namespace, http: Any, root: str, creators: list[str], sampler: Sampler
) -> list[Phase]:
    import httpx

    phases = []
    time.sleep(2.0)  # the readers start
    steady = Phase("steady", time.monotonic())
    sampler.take()
    time.sleep(args.steady)
    sampler.take()
    steady.end = time.monotonic()
    phases.append(steady)

    if args.burst:
        bodies = burst_bodies(args.burst, args.burst_points, args.seed + 1)
        burst = Phase(f"burst of {args.burst} creates at {SPEED:g}×", time.monotonic())
        sampler.take()
        deadline = burst.start + args.timeout
        post_all(root, creators, burst, bodies, SimTime(http), deadline)
        burst.notes.append(f"all creates accepted after {time.monotonic() - burst.start:.0f} s")
        wait_decided(sampler, burst, deadline)
        sampler.take()
        burst.end = time.monotonic()
        phases.append(burst)

    if args.jump:
        http.put("/sandbox/v1/clock", json={"speed": 1.0}).raise_for_status()
        clock = SimTime(http)
        bodies = burst_bodies(args.jump, args.burst_points, args.seed + 2)
        queue = Phase(f"{args.jump} creates queued at 1×", time.monotonic())
        sampler.take()
        post_all(root, creators, queue, bodies, clock, queue.start + args.timeout)
        sampler.take()
        queue.end = time.monotonic()
        phases.append(queue)
        jump = Phase(f"clock jump over {args.jump} due decisions", time.monotonic())
        sampler.take()
        answered: list[float] = []

        def advance() -> None:
            began = time.monotonic()
            try:
                http.post(
                    "/sandbox/v1/clock/advance",
                    json={"seconds": LATENCY_S + 60},
                    timeout=args.timeout,
                )
            except httpx.HTTPError as error:
                jump.notes.append(f"the advance request got no answer: {type(error).__name__}")
                return
            answered.append(time.monotonic() - began)

        mover = threading.Thread(target=advance, daemon=True)
        mover.start()
        probed: list[tuple[float, int, str]] = []
        halt = threading.Event()
        spare = burst_bodies(1000, args.burst_points, args.seed + 3)
        prober = threading.Thread(
            target=probe, args=(root, creators[0], spare, clock, probed, halt), daemon=True
        )
        prober.start()
        wait_decided(
            sampler, jump, jump.start + args.timeout, lambda: sum(1 for p in probed if p[1] == 201)
        )
        halt.set()
        mover.join(max(1.0, jump.start + args.timeout - time.monotonic()))
        prober.join(30)
        sampler.take()
        jump.end = time.monotonic()
        if answered:
            jump.notes.append(f"the advance request itself answered after {answered[0]:.1f} s")
        refused = [(at, after) for at, status, after in probed if status == 429]
        accepted = [at for at, status, _ in probed if status == 201]
        waits = sorted({int(after) for _, after in refused if after.isdigit()})
        jump.notes.append(
            f"probe creates every {PROBE_S} s during the jump: {len(refused)} answered 429 "
            f"(Retry-After {waits[0] if waits else '-'}-{waits[-1] if waits else '-'} s), "
            f"{len(accepted)} accepted"
            + (f", the first {accepted[0] - jump.start:.1f} s after the jump" if accepted else "")
        )
        phases.append(jump)
        http.put("/sandbox/v1/clock", json={"speed": SPEED})
    return phases


if __name__ == "__main__":
    main()
