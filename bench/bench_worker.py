"""Benchmark: one background worker following many open tasks, by webhook and by polling, under the
default request budget and a generous one (issue 10).

Run from the repository root:  python bench/bench_worker.py [--tasks 1000] [--quick]

Per task count (``--tasks``, one or more values), on one sandbox served in this process
(``sandbox_meter``: it counts every request by caller) and one SQLite store:

1. **The account.** A first worker (webhook, default budget) registers its webhook. A few template
   tasks are then ordered through the API (``TaskingService.place_order``, the app's code: they
   name the webhook) at different points and decided by the sandbox (ACTIVE, planned scene). The
   remaining tasks are *inserted* into the sandbox's own store the way ``tasking/sandbox/tasks.py``
   and its scheduler write a task (row, history, pending event), each a copy of a template under a
   new id, naming the webhook too. Creating 10,000 tasks through the API is far slower: the
   scheduler decides each task against every ACTIVE booking (a scan of all ACTIVE tasks per
   decision, so quadratic). The copies wait for a capture hours ahead. A few ("changers") are
   captured already and get their fulfilment at a chosen simulated time instead: when the
   benchmark moves the sandbox clock there (``SandboxControl.advance(to_next_event=True)``),
   exactly one batch goes ACTIVE → DONE.
2. **The import.** A second worker (webhook, default budget), started once the copies exist,
   imports the account into the store: its first sweep of the task list observes every task it
   does not know. Its time, its requests, the budget it is left with and how many tasks it counts
   as covered by callbacks are printed. Every later run starts from the store this worker wrote.
3. **Five runs**, each with a fresh worker process: webhook on the store as imported; then, with
   the copies marked as covered by callbacks (``Desk.mark_webhook``, what the worker records for
   a task once a callback or a GET shows it names the webhook; a sweep cannot tell, as ICEYE's
   ListTask has no ``notifications``), webhook and polling, each with the default budget (30
   requests/min) and ``--generous-budget``. Each run waits for the worker's first pass, then
   measures a window of ``--window`` real seconds in which ``--batches`` batches of
   ``--batch-size`` changers go DONE at evenly spaced real times.

The worker is its own process (this script with ``--child``), built as tests/test_worker.py
builds it: ``build_service(load_settings(data_dir, sandbox_url, history_url, worker="off"))`` and
``Worker(service, WorkerConfig(port, use_webhooks, budget_per_minute, poll_interval_s))``. A fixed
receiver port per task count keeps the callback URL, and so the registered webhook, across runs.

Measured:

* ICEYE requests per minute: the worker's Prometheus counter
  ``tasking_worker_iceye_requests_total`` (by operation, token requests and retries included),
  read from its ``/metrics`` every second, over the window; the busiest 60 s of the window; and,
  as a cross-check, what the sandbox counted (only the worker talks to its APIs in the window);
* lag, in real seconds, from a status change in the sandbox (the instant the clock advance that
  made it returned) to the store showing it (``desk.followed(task_id).status``, polled every
  50 ms by this process, as a Monitor reading the store would see it);
* the worker process's memory: ``VmRSS`` and its peak ``VmHWM`` from ``/proc/<pid>/status``.

Loopback only; every wait is bounded. Not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sandbox_meter import (  # bench/
    ICEYE_KINDS,
    RequestMeter,
    bench_control_http,
    start_metered_sandbox,
)

from tasking import rules
from tasking.config import load_settings
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.core import Sandbox
from tasking.sandbox.notifications import webhook_of
from tasking.sandbox.scheduler import CAPTURE, FULFIL
from tasking.sandbox.store import TaskRecord
from tasking.service import TaskingService, build_service
from tasking.times import parse_time

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUDGET = 30  # ICEYE_REQUEST_BUDGET's default (tasking/config.py)
# Template points: a few, so the sandbox's pass cache serves every copy.
POINTS = ((60.17, 24.94), (48.86, 2.35), (40.42, -3.70), (35.68, 139.69), (-33.87, 151.21))
# Simulated time between two batches of changes. The sandbox clock also runs at 1× real time, so
# this must exceed the longest real pause between two batches (a worker restart): then a batch is
# only ever set off by the benchmark's own advance, never by the clock catching up with it.
BATCH_SPACING = timedelta(minutes=30)
FIRST_BATCH_AFTER = timedelta(minutes=30)
STORE_POLL_S = 0.05
SAMPLE_S = 1.0


# --- small helpers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)  # between checks of a condition
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of ``pid`` in MiB (empty once it has exited)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for key in ("VmRSS", "VmHWM"):
        match = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        if match:
            found[key] = int(match.group(1)) / 1024
    return found


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); with few values p99 is the maximum."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


# --- the worker process ----------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    data_dir: str
    sandbox_url: str
    store_url: str
    port: int
    webhooks: bool
    budget: int
    poll_interval_s: float

    @property
    def label(self) -> str:
        how = "webhook" if self.webhooks else f"polling every {self.poll_interval_s:g} s"
        return f"{how}, budget {self.budget}/min"


def child_main(spec_json: str) -> int:
    """The worker process: built like tests/test_worker.py; stops on SIGTERM."""
    from tasking.worker import Worker, WorkerConfig
    from tasking.worker.logs import configure

    spec = WorkerSpec(**json.loads(spec_json))
    configure("WARNING", json_lines=False)
    settings = load_settings(
        data_dir=Path(spec.data_dir),
        sandbox_url=spec.sandbox_url,
        history_url=spec.store_url,
        worker="off",
    )
    service = build_service(settings)
    worker = Worker(
        service,
        WorkerConfig(
            port=spec.port,
            use_webhooks=spec.webhooks,
            budget_per_minute=spec.budget,
            poll_interval_s=spec.poll_interval_s,
        ),
    )
    signal.signal(signal.SIGTERM, lambda *_: worker.request_stop())
    worker.start()
    print(f"ready {worker.receiver_url}", flush=True)
    worker.wait_stopped()
    worker.stop()
    service.close()
    return 0


class WorkerProcess:
    def __init__(self, spec: WorkerSpec, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{spec.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._http = httpx.Client(timeout=5.0)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with self.log_path.open("a") as log:
            log.write(f"--- {self.spec.label}\n")
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(dataclasses.asdict(self.spec))],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(self._active, 60, "the worker to hold the store's lease")

    def _active(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise SystemExit(f"the worker exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return bool(self._http.get(f"{self.url}/health").json().get("active"))
        except (httpx.HTTPError, ValueError):
            return False

    def health(self) -> dict[str, Any]:
        return dict(self._http.get(f"{self.url}/health").json())

    def metrics(self) -> Metrics:
        return Metrics.parse(self._http.get(f"{self.url}/metrics").text)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._http.close()


@dataclass
class Metrics:
    """The worker's counters that matter here, from its Prometheus exposition."""

    requests: Counter[str] = field(default_factory=Counter)
    sweeps: float = 0.0
    callbacks: Counter[str] = field(default_factory=Counter)
    budget_tokens: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Metrics:
        found = cls()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "tasking_worker_iceye_requests_total":
                    found.requests[sample.labels["operation"]] += int(sample.value)
                elif sample.name == "tasking_worker_sweeps_total":
                    found.sweeps = sample.value
                elif sample.name == "tasking_worker_callbacks_total":
                    found.callbacks[sample.labels["outcome"]] += int(sample.value)
                elif sample.name == "tasking_worker_budget_tokens":
                    found.budget_tokens = sample.value
        return found

    @property
    def total(self) -> float:
        return sum(self.requests.values())

    def minus(self, other: Metrics) -> Metrics:
        return Metrics(
            requests=Counter({k: v - other.requests[k] for k, v in self.requests.items()}),
            sweeps=self.sweeps - other.sweeps,
            callbacks=Counter({k: v - other.callbacks[k] for k, v in self.callbacks.items()}),
            budget_tokens=self.budget_tokens,
        )


def settle(worker: WorkerProcess, quiet_s: float, timeout: float, what: str) -> Metrics:
    """Wait until the worker has swept once and made no request for ``quiet_s`` seconds."""
    deadline = time.monotonic() + timeout
    last = worker.metrics()
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)  # between reads of the worker's counters
        now = worker.metrics()
        if now.total != last.total or now.sweeps < 1:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return now
        last = now
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- the account -----------------------------------------------------------------------------


@dataclass
class Account:
    templates: list[TaskRecord]
    copies: list[str] = field(default_factory=list)
    changers: list[list[str]] = field(default_factory=list)  # one list per batch
    batch_times: list[datetime] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.templates) + len(self.copies) + sum(map(len, self.changers))

    def all_ids(self) -> list[str]:
        return [t.id for t in self.templates] + self.copies + [i for b in self.changers for i in b]


def order_templates(service: TaskingService, control: SandboxControl, sandbox: Sandbox) -> Account:
    """A few tasks through the API, decided by the sandbox (ACTIVE with a planned scene)."""
    now = service.now()
    contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
    start, end = rules.default_window(now, "COMMERCIAL")
    ids = []
    for n, (lat, lon) in enumerate(POINTS):
        draft = TaskDraft(
            contract_id=contract.id, lat=lat, lon=lon, window_start=start, window_end=end,
            imaging_mode="SPOTLIGHT", reference=f"bench-template-{n}",
        )  # fmt: skip
        placed = service.place_order(rules.build_task_request(draft, contract, now))
        assert placed.task is not None
        ids.append(placed.task.id)
    # Decisions are due a simulated minute after each create: two minutes decide them all, and
    # the first capture is hours ahead (rules.default_window starts after the lead time).
    control.advance(seconds=120)
    found = [sandbox.store.get_task(task_id) for task_id in ids]
    templates = [t for t in found if t is not None and t.status == "ACTIVE" and t.plan is not None]
    if len(templates) != len(ids):
        raise SystemExit(f"templates not planned: {[t and t.status for t in found]}")
    return Account(templates)


def insert_copies(
    sandbox: Sandbox,
    account: Account,
    count: int,
    batches: int,
    batch_size: int,
    webhook_id: str | None,
) -> float:
    """Insert ``count`` ACTIVE copies of the templates, as the sandbox's create and scheduler write
    a task (row, history, pending event), in transactions of 1000; returns the seconds taken."""
    store = sandbox.store
    started = time.perf_counter()
    now = sandbox.clock.now()
    first_capture = min(parse_time((t.plan or {})["start"]) for t in account.templates)
    account.batch_times = [now + FIRST_BATCH_AFTER + b * BATCH_SPACING for b in range(batches)]
    if account.batch_times and account.batch_times[-1] >= first_capture:
        raise SystemExit("the batches would run into the templates' captures; use fewer batches")
    changing = batches * batch_size
    account.changers = [[] for _ in range(batches)]
    made = 0
    while made < count:
        with store.transaction():
            for _ in range(min(1000, count - made)):
                template = account.templates[made % len(account.templates)]
                # A millisecond apart, the first one oldest, all just before now (the task list
                # is ordered by createdAt, then seq).
                created = now - timedelta(milliseconds=count - made)
                document = json.loads(json.dumps(template.document))
                document["reference"] = f"bench-{made}"
                if webhook_id is not None:
                    document["notifications"] = {"webhook": {"id": webhook_id}}
                plan = dict(template.plan or {})
                record = TaskRecord(
                    id=str(uuid.uuid4()),
                    company_id=template.company_id,
                    contract_id=template.contract_id,
                    created_at=created,
                    updated_at=created,
                    status="ACTIVE",
                    priority=template.priority,
                    document=document,
                    price=template.price,
                    plan=plan,
                )
                store.insert_task(record)
                store.add_history(
                    record.id, created, "received", "RECEIVED", {"price": template.price}
                )
                store.add_history(record.id, created, "planned", "ACTIVE", {})
                if made < changing:
                    batch = made % batches
                    plan["locked"] = True  # captured: its products are due at the batch time
                    store.update_task(record)
                    store.add_history(record.id, created, "captured", "ACTIVE", {})
                    store.add_event(record.id, FULFIL, account.batch_times[batch])
                    account.changers[batch].append(record.id)
                else:
                    store.add_event(record.id, CAPTURE, parse_time(plan["start"]))
                    account.copies.append(record.id)
                made += 1
    return time.perf_counter() - started


# --- one run ---------------------------------------------------------------------------------


@dataclass
class RunResult:
    label: str
    window_s: float
    requests: Counter[str]
    busiest_minute: float
    sandbox_count: int
    sweeps: float
    callbacks: float
    lags: list[float]
    missed: int
    changes: int
    seen_in_window: int
    advance_ms: list[float]
    rss_start: float
    rss_end: float
    hwm: float

    @property
    def per_minute(self) -> float:
        return sum(self.requests.values()) * 60 / self.window_s


def run_window(
    worker: WorkerProcess,
    service: TaskingService,
    control: SandboxControl,
    sandbox: Sandbox,
    meter: RequestMeter,
    batches: list[list[str]],
    batch_times: list[datetime],
    window_s: float,
    grace_s: float,
) -> RunResult:
    """The measured window: batches of changes at evenly spaced real times; lag per change."""
    assert service.desk is not None
    desk = service.desk
    before = settle(worker, quiet_s=3.0, timeout=600, what="the worker's first pass")
    counted_before = meter.snapshot()
    rss_start = proc_status(worker.pid).get("VmRSS", 0.0)
    t0 = time.monotonic()
    due = [t0 + 1.0 + i * window_s / len(batches) for i in range(len(batches))]
    changed_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    advance_ms: list[float] = []
    samples: list[tuple[float, float]] = [(t0, before.total)]
    next_sample = t0 + SAMPLE_S
    end = t0 + window_s
    hard_end = end + grace_s
    window_metrics: Metrics | None = None
    while True:
        now = time.monotonic()
        if due and now >= due[0]:
            due.pop(0)
            index = len(batches) - len(due) - 1
            started = time.monotonic()
            state = control.advance(to_next_event=True)
            done = time.monotonic()
            advance_ms.append((done - started) * 1000)
            if state.now < batch_times[index]:
                raise SystemExit(f"the clock stopped short of batch {index}: {state.now}")
            for task_id in batches[index]:
                record = sandbox.store.get_task(task_id)
                if record is None or record.status != "DONE":
                    raise SystemExit(f"changer {task_id} is {record and record.status}")
                changed_at[task_id] = done
        pending = [t for t in changed_at if t not in seen_at]
        if pending:
            for task_id, followed in desk.followed_many(pending).items():
                if followed.status == "DONE":
                    seen_at[task_id] = time.monotonic()
        if now >= next_sample:
            next_sample += SAMPLE_S
            current = worker.metrics()
            samples.append((now, current.total))
            if window_metrics is None and now >= end:
                window_metrics, counted_end, window_end = current, meter.snapshot(), now
        if window_metrics is not None and (not due and len(seen_at) == len(changed_at)):
            break
        if now >= hard_end:
            break
        time.sleep(STORE_POLL_S)
    if window_metrics is None:
        window_metrics, counted_end, window_end = worker.metrics(), meter.snapshot(), now
    status = proc_status(worker.pid)
    spent = window_metrics.minus(before)
    counted = counted_end - counted_before
    # In the window only the worker talks to the sandbox's APIs (the benchmark's own requests
    # carry its caller header; its store reads are local).
    sandbox_count = sum(
        n for (who, kind), n in counted.items() if who != "bench" and kind in ICEYE_KINDS
    )
    return RunResult(
        label=worker.spec.label,
        window_s=window_s,
        requests=+spent.requests,
        busiest_minute=busiest_minute(samples, t0, end),
        sandbox_count=sandbox_count,
        sweeps=spent.sweeps,
        callbacks=sum(spent.callbacks.values()),
        lags=[seen_at[t] - changed_at[t] for t in seen_at],
        missed=len(changed_at) - len(seen_at),
        changes=len(changed_at),
        seen_in_window=sum(1 for at in seen_at.values() if at <= window_end),
        advance_ms=advance_ms,
        rss_start=rss_start,
        rss_end=status.get("VmRSS", 0.0),
        hwm=status.get("VmHWM", 0.0),
    )


def busiest_minute(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """Most requests in any 60 s of the window (1 s samples of the worker's counter)."""
    inside = [(t, n) for t, n in samples if t <= end + SAMPLE_S]
    best = 0.0
    for i, (t, n) in enumerate(inside):
        later = [m for u, m in inside[i:] if u <= t + 60]
        best = max(best, later[-1] - n)
    return best


# --- one task count --------------------------------------------------------------------------


def bench_count(args: argparse.Namespace, count: int, workdir: Path) -> None:
    print(f"\n=== {count} open tasks ===", flush=True)
    sandbox = start_metered_sandbox(workdir / "sandbox", speed=1.0, nodelay=not args.nagle)
    store_url = f"sqlite:///{workdir / 'store.sqlite'}"
    settings = load_settings(
        data_dir=workdir / "bench", sandbox_url=sandbox.url, history_url=store_url, worker="off"
    )
    service = build_service(settings)
    control = SandboxControl(sandbox.url, bench_control_http())
    port = free_port()
    workers: list[WorkerProcess] = []

    def spec(webhooks: bool, budget: int) -> WorkerSpec:
        return WorkerSpec(
            data_dir=str(workdir / "worker"), sandbox_url=sandbox.url, store_url=store_url,
            port=port, webhooks=webhooks, budget=budget, poll_interval_s=args.poll_interval,
        )  # fmt: skip

    def start(s: WorkerSpec) -> WorkerProcess:
        worker = WorkerProcess(s, workdir / "worker.log")
        workers.append(worker)
        worker.start()
        return worker

    try:
        # The webhook first: the templates (ordered by the app's place_order while a worker is
        # active) and the copies name it, as tasks the app creates while a worker follows by
        # webhook do.
        first = start(spec(True, DEFAULT_BUDGET))
        wait_until(lambda: first.health().get("webhookID") is not None, 60, "the webhook")
        webhook_id = str(first.health()["webhookID"])
        account = order_templates(service, control, sandbox.sandbox)
        if any(webhook_of(t.document) != webhook_id for t in account.templates):
            raise SystemExit("the templates do not name the worker's webhook")
        settle(first, quiet_s=2.0, timeout=120, what="the first worker to follow the templates")
        first.stop()

        copies = count - len(account.templates)
        inserted_s = insert_copies(
            sandbox.sandbox, account, copies, args.runs_batches, args.batch_size, webhook_id
        )
        print(
            f"account: {account.size} ACTIVE tasks ({len(account.templates)} ordered through the "
            f"API, {copies} inserted into the sandbox's store in {inserted_s:.1f} s)",
            flush=True,
        )

        # The import: a fresh worker (webhook, default budget) meets the tasks it does not know.
        # Its first sweep records them from the list pages; their details (and whether they name
        # the webhook) come from its backlog, at the budget's pace, with a reserve for callbacks.
        # The store's first sweep is an import: forget the first worker's sweep, as a store that
        # holds the webhook and the templates but never listed the account (the team's new
        # PostgreSQL, say).
        assert service.desk is not None
        service.desk.set_setting("sweep.last", None)
        limited_before = sandbox.meter.limited()
        importer = start(spec(True, DEFAULT_BUDGET))
        started = time.monotonic()
        assert service.desk is not None
        desk = service.desk
        samples: list[tuple[float, float]] = [(started, 0.0)]
        while desk.open_count() < account.size:
            if time.monotonic() - started > args.import_timeout:
                raise SystemExit("timed out waiting for the worker to import the account")
            samples.append((time.monotonic(), importer.metrics().total))
            time.sleep(SAMPLE_S)  # between reads of the worker's counter
        imported_s = time.monotonic() - started
        at_import = importer.metrics()
        backlog_at_import = desk.lacking_details_count()
        uncovered_at_import = desk.open_without_webhook()
        observe_until = started + args.import_watch
        while time.monotonic() < observe_until:
            samples.append((time.monotonic(), importer.metrics().total))
            time.sleep(SAMPLE_S)
        after = importer.metrics()
        mem = proc_status(importer.pid)
        uncovered = desk.open_without_webhook()
        backlog_after = desk.lacking_details_count()
        importer.stop()
        limited = sum((sandbox.meter.limited() - limited_before).values())
        ops = ", ".join(f"{op} {int(n)}" for op, n in at_import.requests.most_common())
        later = ", ".join(
            f"{op} {int(n)}" for op, n in after.minus(at_import).requests.most_common() if n
        )
        watched = time.monotonic() - started
        print(
            f"import: the first sweep recorded {account.size} tasks in {imported_s:.1f} s with "
            f"{int(at_import.total)} ICEYE requests ({ops}); details to fetch then "
            f"{backlog_at_import}, open tasks not marked as covered {uncovered_at_import}. "
            f"In the first {watched:.0f} s: {int(after.total)} requests (later ones: {later or 'none'}), "
            f"busiest 60 s {busiest_minute(samples, started, started + watched):.0f} "
            f"(budget {DEFAULT_BUDGET}), {limited} answered 429; details still to fetch "
            f"{backlog_after}, not marked as covered {uncovered}; "
            f"worker RSS {mem.get('VmRSS', 0):.0f} MiB, peak {mem.get('VmHWM', 0):.0f} MiB",
            flush=True,
        )

        results = []
        # The first run meets the store as the import left it; then the copies are marked as
        # covered by callbacks, which they are (they name the webhook), as a worker marks a task
        # it has had a callback for: the steady state of tasks the app ordered while the worker
        # ran. A sweep cannot tell (ICEYE's ListTask has no ``notifications``).
        runs = [(True, DEFAULT_BUDGET, "as imported"), (True, DEFAULT_BUDGET, ""),
                (True, args.generous_budget, ""), (False, DEFAULT_BUDGET, ""),
                (False, args.generous_budget, "")]  # fmt: skip
        per_run = args.batches
        for number, (webhooks, budget, note) in enumerate(runs):
            if number == 1:
                for task_id in account.all_ids():
                    desk.mark_webhook(task_id)
            worker = start(spec(webhooks, budget))
            slots = slice(number * per_run, (number + 1) * per_run)
            result = run_window(
                worker, service, control, sandbox.sandbox, sandbox.meter,
                account.changers[slots], account.batch_times[slots],
                args.window, grace_s=args.poll_interval + 30,
            )  # fmt: skip
            worker.stop()
            if note:
                result.label += f" ({note}: {uncovered} open tasks not marked as covered)"
            results.append(result)
            print_run(result)
        print_table(count, results)
    finally:
        for worker in workers:
            worker.stop()
        control.close()
        service.close()
        sandbox.stop()


def print_run(r: RunResult) -> None:
    ops = ", ".join(f"{op} {int(n)}" for op, n in r.requests.most_common()) or "none"
    lag = (
        f"lag min {min(r.lags):.2f} s, p50 {percentile(r.lags, 50):.2f} s, "
        f"p99 {percentile(r.lags, 99):.2f} s, max {max(r.lags):.2f} s"
        if r.lags
        else "no change seen"
    )
    print(
        f"- {r.label}: {sum(r.requests.values()):.0f} ICEYE requests in {r.window_s:.0f} s "
        f"({ops}); sandbox counted {r.sandbox_count}; sweeps "
        f"{r.sweeps:.0f}, callbacks {r.callbacks:.0f}; {r.changes} changes "
        f"({r.seen_in_window} seen within the window), {lag}"
        f"{f', {r.missed} not seen' if r.missed else ''}; clock advances "
        f"{statistics.median(r.advance_ms):.0f} ms median; RSS {r.rss_start:.0f} → "
        f"{r.rss_end:.0f} MiB, peak {r.hwm:.0f} MiB",
        flush=True,
    )


def print_table(count: int, results: list[RunResult]) -> None:
    print(f"\n{count} open tasks:")
    print(
        "| run | ICEYE requests/min | busiest 60 s | list pages/min | per change | "
        "lag p50 | lag p99 | seen | worker RSS (peak) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        pages = r.requests.get("list_tasks", 0) * 60 / r.window_s
        # Details of the changes the worker saw within the window (a later one is fetched after).
        other = sum(n for op, n in r.requests.items() if op != "list_tasks")
        per_change = other / r.seen_in_window if r.seen_in_window else 0.0
        p50 = f"{percentile(r.lags, 50):.1f} s" if r.lags else "-"
        p99 = f"{percentile(r.lags, 99):.1f} s" if r.lags else "-"
        print(
            f"| {r.label} | {r.per_minute:.1f} | {r.busiest_minute:.0f} | {pages:.1f} | "
            f"{per_change:.1f} | {p50} | {p99} | {len(r.lags)}/{r.changes} | "
            f"{r.rss_end:.0f} MiB ({r.hwm:.0f}) |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000], help="open tasks")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 tasks, short")
    parser.add_argument("--window", type=float, default=90.0, help="measured seconds per run")
    parser.add_argument("--batches", type=int, default=3, help="batches of changes per run")
    parser.add_argument("--batch-size", type=int, default=5, help="changes per batch")
    parser.add_argument("--poll-interval", type=float, default=60.0, help="ICEYE_POLL_INTERVAL_S")
    parser.add_argument("--generous-budget", type=int, default=1000, help="requests/min")
    parser.add_argument("--import-timeout", type=float, default=900.0)
    parser.add_argument(
        "--import-watch", type=float, default=150.0, help="seconds the import's worker is watched"
    )
    parser.add_argument(
        "--nagle",
        action="store_true",
        help="what-if: serve the sandbox as start_in_background does (no TCP_NODELAY: about 40 ms "
        "more per request on a reused connection; sandbox_meter.py)",
    )
    args = parser.parse_args()
    if args.child:
        return child_main(args.child)
    if args.quick:
        args.tasks, args.window, args.poll_interval = [100], 30.0, 10.0
        args.import_watch = 70.0
        args.batches, args.batch_size = 2, 3
    args.runs_batches = 5 * args.batches
    logging.basicConfig(level=logging.WARNING)
    print(
        f"bench_worker: {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, Python {sys.version.split()[0]}; "
        f"window {args.window:g} s per run, {args.batches} batches of {args.batch_size} changes "
        f"(ACTIVE → DONE), poll interval {args.poll_interval:g} s, budgets {DEFAULT_BUDGET} and "
        f"{args.generous_budget} requests/min",
        flush=True,
    )
    for count in args.tasks:
        with tempfile.TemporaryDirectory(prefix="bench-worker-") as workdir:
            bench_count(args, count, Path(workdir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
