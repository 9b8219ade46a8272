"""Benchmark: ICEYE requests per minute with 1, 10 and 50 browser sessions on the Monitor, without
and with the background worker (issue 10: "independent of the number of sessions" with a worker).

Run from the repository root:  python bench/bench_sessions.py [--sessions 1 10 50] [--window 60]

The sandbox runs in this process (``sandbox_meter``) and counts every request it answers, by caller
(each process has its own access token) and kind (ICEYE's APIs, token requests and signed product
links on one side; the sandbox's own clock and health routes on the other).

Twice, the benchmark starts ``python -m streamlit run app.py`` as a user does, on the same sandbox
(``ICEYE_SANDBOX_URL``) and store (``ICEYE_HISTORY_URL``, SQLite):

* ``ICEYE_WORKER=auto`` (the default): the app runs the worker in its own process, and the Monitor
  reads the worker's store. The worker's own requests are read from its ``/metrics`` (the receiver
  URL is in the store's worker lease) and reported apart. While this app's worker is active, the
  benchmark orders ``--tasks`` tasks through the API with ``TaskingService.place_order`` (the
  app's code, on the same store: they name the worker's webhook, as tasks ordered in the app do) and lets the sandbox decide them: ACTIVE,
  captures hours away, the clock at 1×, so nothing changes during the measurement;
* ``ICEYE_WORKER=off``, once the first app's lease has expired: no worker; each Monitor polls
  ICEYE itself (``tasking.watch.refresh``).

Debian's Chromium, driven by Playwright with a fresh profile and the flags of bench_memory.py,
opens Monitor tabs (``/monitor?task=<id>``, the tasks in turn) until 1, then 10, then 50 are open;
each tab is a Streamlit session whose fragments rerun by the browser's timers, exactly as for a
user. After ``--settle`` seconds, a window of ``--window`` seconds is counted: requests at the
sandbox, the worker's counter, the script runs the server reported finished on every tab's
websocket (a check that the sessions really refresh: each Monitor should run its panel and the
sidebar every 5 s), the app server's CPU and RSS, and the browser's proportional set size (PSS: Chromium's processes
share much of their memory, so their RSS would count it once per tab).

Loopback only; every wait is bounded. Not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from playwright.sync_api import BrowserContext, Page, WebSocket, expect, sync_playwright
from prometheus_client.parser import text_string_to_metric_families
from sandbox_meter import ICEYE_KINDS, RequestMeter, bench_control_http, start_metered_sandbox
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tasking import rules
from tasking.config import load_settings
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.service import TaskingService, build_service

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # As tests/e2e/conftest.py: Chromium never proxies loopback, so a dead proxy (port 9, discard)
    # lets the app through and fails anything else at once.
    "--proxy-server=http://127.0.0.1:9",
]
CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
TIMEOUT_MS = 120_000  # a page load while 50 other tabs refresh on 2 cores
OPEN_AT_ONCE = 5  # tabs loading at the same time
POINTS = ((60.17, 24.94), (48.86, 2.35), (40.42, -3.70), (35.68, 139.69), (-33.87, 151.21),
          (52.52, 13.40), (59.33, 18.07), (41.90, 12.50), (38.72, -9.14), (55.68, 12.57))  # fmt: skip
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- processes -------------------------------------------------------------------------------


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


def children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        found.setdefault(ppid, []).append(int(entry.name))
    return found


def tree(pid: int) -> list[int]:
    kids, todo, found = children(), [pid], []
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(kids.get(current, []))
    return found


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
        except OSError:
            continue
        total += int(match.group(1)) if match else 0
    return total / 1024


def pss_mib(pids: list[int]) -> float:
    """Proportional set size: shared pages split between the processes that share them, so the
    sum over Chromium's many processes is the memory they really take."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        total += int(match.group(1)) if match else 0
    return total / 1024


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def browser_pids() -> list[int]:
    """Chromium's processes (every renderer of every tab), children of Playwright's driver."""
    found = []
    for pid in tree(os.getpid()):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if "chrom" in comm:
            found.append(pid)
    return found


class App:
    """``streamlit run app.py`` on the benchmark's sandbox and store (as tests/e2e starts it)."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.log_path = workdir / "streamlit.log"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ICEYE_")}
        env.update(self.env, ICEYE_DATA_DIR=str(self.workdir / "data"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "streamlit", "run", "app.py",
                    "--server.headless", "true",
                    "--server.port", self.url.rsplit(":", 1)[1],
                    "--server.address", "127.0.0.1",
                    "--browser.gatherUsageStats", "false",
                    # Others edit this checkout meanwhile: a watcher would rerun on their saves.
                    "--server.fileWatcherType", "none",
                ],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        proc = self.proc

        def healthy() -> bool:
            if proc.poll() is not None:
                raise SystemExit(f"streamlit exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                return httpx.get(f"{self.url}/_stcore/health", timeout=2).text == "ok"
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, "the app's health check")
        return proc.pid

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


# --- the browser side ------------------------------------------------------------------------


@dataclass
class ScriptRuns:
    """Script runs the server reported finished, over every tab's websocket."""

    finished: int = 0
    sockets: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, ws: WebSocket) -> None:
        self.sockets += 1
        ws.on("framereceived", self.on_frame)

    def on_frame(self, payload: str | bytes) -> None:
        if not isinstance(payload, bytes):
            return
        message = ForwardMsg()
        try:
            message.ParseFromString(payload)
        except Exception:  # not a ForwardMsg: nothing to count
            return
        if message.WhichOneof("type") == "script_finished":
            self.finished += 1


def open_tabs(
    context: BrowserContext, pages: list[Page], target: int, app_url: str, tasks: list[Task],
    runs: ScriptRuns,
) -> None:  # fmt: skip
    """Open Monitor tabs until ``target`` are open, a few loading at a time, each waited for until
    it shows its task."""
    while len(pages) < target:
        batch = []
        for _ in range(min(OPEN_AT_ONCE, target - len(pages))):
            task = tasks[len(pages) % len(tasks)]
            page = context.new_page()
            page.on("websocket", runs.watch)
            page.goto(f"{app_url}/monitor?task={task.id}", wait_until="commit")
            pages.append(page)
            batch.append((page, task))
        for page, task in batch:
            page.wait_for_selector(CONNECTED, state="attached")
            main = page.get_by_test_id("stMain")
            expect(main.get_by_role("heading", name=task.reference)).to_be_visible()
            expect(main.locator(".stMarkdownBadge").first).to_contain_text("ACTIVE")
            expect(page.get_by_test_id("stException")).to_have_count(0)


@dataclass(frozen=True)
class Task:
    id: str
    reference: str


def order_tasks(service: TaskingService, control: SandboxControl, count: int) -> list[Task]:
    now = service.now()
    contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
    start, end = rules.default_window(now, "COMMERCIAL")
    made = []
    for n in range(count):
        lat, lon = POINTS[n % len(POINTS)]
        reference = f"Session bench {n + 1}"
        draft = TaskDraft(
            contract_id=contract.id, lat=lat, lon=lon + n // len(POINTS), window_start=start,
            window_end=end, imaging_mode="SPOTLIGHT", reference=reference,
        )  # fmt: skip
        placed = service.place_order(rules.build_task_request(draft, contract, now))
        assert placed.task is not None
        made.append(Task(placed.task.id, reference))
    control.advance(seconds=120)  # decisions are due a simulated minute after each create
    statuses = {service.client.get_task(t.id).status for t in made}
    if statuses != {"ACTIVE"}:
        raise SystemExit(f"the tasks were not all planned: {statuses}")
    return made


# --- measuring -------------------------------------------------------------------------------


def worker_requests(service: TaskingService) -> float | None:
    """The active worker's ICEYE requests so far (its Prometheus counter), or None without one."""
    assert service.desk is not None
    status = service.desk.worker_status()
    if status is None or not service.worker_active():
        return None
    receiver = status.info.get("receiver")
    text = httpx.get(f"{receiver}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "tasking_worker_iceye_requests_total"
    )


@dataclass
class Row:
    mode: str
    sessions: int
    window_s: float
    iceye: Counter[str]
    sandbox_only: int
    routes: Counter[str]
    worker: float | None
    runs: int
    app_cpu_s: float
    app_rss: float
    browser_pss: float

    @property
    def iceye_total(self) -> int:
        return sum(self.iceye.values())

    def per_min(self, value: float) -> float:
        return value * 60 / self.window_s


def measure(
    mode: str, sessions: int, window_s: float, meter: RequestMeter, service: TaskingService,
    app_pid: int, runs: ScriptRuns, page: Page,
) -> Row:  # fmt: skip
    page.wait_for_timeout(1)  # Playwright's sync API delivers the websocket events queued so far
    counted_before = meter.snapshot()
    routes_before = meter.routes()
    worker_before = worker_requests(service)
    runs_before = runs.finished
    cpu_before = cpu_s(app_pid)
    # The measured window: the tabs refresh by themselves meanwhile. A Playwright wait, not a
    # sleep, so that the websocket events of the window are delivered as they come.
    page.wait_for_timeout(window_s * 1000)
    counted = meter.snapshot() - counted_before
    routes: Counter[str] = Counter()
    for (who, route), n in (meter.routes() - routes_before).items():
        if who != "bench":
            routes[route.rsplit("/", 1)[-1]] += n
    worker_after = worker_requests(service)
    iceye: Counter[str] = Counter()
    sandbox_only = 0
    for (who, kind), n in counted.items():
        if who == "bench":
            continue
        if kind in ICEYE_KINDS:
            iceye[kind] += n
        else:
            sandbox_only += n
    worker = None
    if worker_before is not None and worker_after is not None:
        worker = worker_after - worker_before
    return Row(
        mode=mode,
        sessions=sessions,
        window_s=window_s,
        iceye=iceye,
        sandbox_only=sandbox_only,
        routes=routes,
        worker=worker,
        runs=runs.finished - runs_before,
        app_cpu_s=cpu_s(app_pid) - cpu_before,
        app_rss=rss_mib(tree(app_pid)),
        browser_pss=pss_mib(browser_pids()),
    )


def print_row(row: Row) -> None:
    kinds = ", ".join(f"{k} {n}" for k, n in row.iceye.most_common()) or "none"
    routes = ", ".join(f"{k} {n}" for k, n in row.routes.most_common()) or "none"
    worker = "-" if row.worker is None else f"{row.worker:.0f}"
    print(
        f"- worker {row.mode}, {row.sessions} tabs: ICEYE {row.iceye_total} requests in "
        f"{row.window_s:.0f} s ({kinds}), of which the worker's {worker}; sandbox-only routes "
        f"{row.sandbox_only} ({routes}); script runs {row.runs} "
        f"({row.per_min(row.runs) / row.sessions:.1f} per tab per min); app CPU "
        f"{100 * row.app_cpu_s / row.window_s:.0f} %, RSS {row.app_rss:.0f} MiB; browser PSS "
        f"{row.browser_pss:.0f} MiB",
        flush=True,
    )


def print_table(rows: list[Row]) -> None:
    print(
        "\n| worker | tabs | ICEYE requests/min | of which the worker's | the pages' | "
        "per tab per min | sandbox-only routes/min | script runs per tab per min | app CPU | "
        "app RSS | browser PSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        worker = r.worker or 0.0
        pages = r.iceye_total - worker
        print(
            f"| {r.mode} | {r.sessions} | {r.per_min(r.iceye_total):.1f} | "
            f"{'-' if r.worker is None else f'{r.per_min(worker):.1f}'} | "
            f"{r.per_min(pages):.1f} | {r.per_min(pages) / r.sessions:.2f} | "
            f"{r.per_min(r.sandbox_only):.1f} | {r.per_min(r.runs) / r.sessions:.1f} | "
            f"{100 * r.app_cpu_s / r.window_s:.0f} % | {r.app_rss:.0f} MiB | "
            f"{r.browser_pss:.0f} MiB |"
        )


# --- main ------------------------------------------------------------------------------------


def run_mode(
    mode: str, args: argparse.Namespace, workdir: Path, sandbox_url: str, store_url: str,
    meter: RequestMeter, service: TaskingService, control: SandboxControl, tasks: list[Task],
    chromium: str,
) -> list[Row]:  # fmt: skip
    """One app (``ICEYE_WORKER=mode``) and one browser; ``tasks`` is filled on the first call."""
    app = App(
        workdir / f"app-{mode}",
        {"ICEYE_SANDBOX_URL": sandbox_url, "ICEYE_HISTORY_URL": store_url, "ICEYE_WORKER": mode},
    )
    rows = []
    try:
        pid = app.start()
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(workdir / f"chromium-{mode}"),
                executable_path=chromium,
                args=CHROMIUM_FLAGS,
                headless=True,
                viewport={"width": 1280, "height": 800},
            )
            try:
                context.set_default_timeout(TIMEOUT_MS)
                expect.set_options(timeout=TIMEOUT_MS)
                for blank in context.pages:
                    blank.close()
                if mode == "auto":
                    # The app builds its service, and starts its worker, for the first session.
                    first = context.new_page()
                    first.goto(app.url)
                    first.wait_for_selector(CONNECTED, state="attached")
                    wait_until(service.worker_active, 60, "the app's worker")
                    first.close()
                else:
                    wait_until(lambda: not service.worker_active(), 60, "no worker's lease")
                if not tasks:
                    # Ordered while the app's worker is active, the tasks name its webhook, as
                    # tasks ordered in the app do.
                    tasks += order_tasks(service, control, args.tasks)
                pages: list[Page] = []
                runs = ScriptRuns()
                for sessions in args.sessions:
                    started = time.monotonic()
                    open_tabs(context, pages, sessions, app.url, tasks, runs)
                    print(
                        f"  {sessions} tabs open ({time.monotonic() - started:.0f} s to open)",
                        flush=True,
                    )
                    pages[0].wait_for_timeout(args.settle * 1000)  # the newest tabs' first runs
                    row = measure(mode, sessions, args.window, meter, service, pid, runs, pages[0])
                    rows.append(row)
                    print_row(row)
            finally:
                context.close()
    except BaseException:
        print(f"\nworker {mode}: the run failed; the app's log ends with:\n{app.log_tail()}")
        raise
    finally:
        app.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--window", type=float, default=60.0, help="measured seconds per count")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before a window")
    parser.add_argument("--tasks", type=int, default=10, help="tasks the tabs monitor in turn")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 and 3 tabs, 20 s")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.window, args.settle = [1, 3], 20.0, 5.0
    args.sessions = sorted(set(args.sessions))
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    print(
        f"bench_sessions: {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, Python {sys.version.split()[0]}; "
        f"tabs {args.sessions}, window {args.window:g} s after {args.settle:g} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as tmp:
        workdir = Path(tmp)
        sandbox = start_metered_sandbox(workdir / "sandbox", speed=1.0)
        store_url = f"sqlite:///{workdir / 'store.sqlite'}"
        settings = load_settings(
            data_dir=workdir / "bench", sandbox_url=sandbox.url, history_url=store_url, worker="off"
        )
        service = build_service(settings)
        control = SandboxControl(sandbox.url, bench_control_http())
        try:
            tasks: list[Task] = []
            rows = []
            for mode in ("auto", "off"):
                print(f"\nICEYE_WORKER={mode}", flush=True)
                rows += run_mode(
                    mode, args, workdir, sandbox.url, store_url, sandbox.meter, service, control,
                    tasks, chromium,
                )  # fmt: skip
            print_table(rows)
        finally:
            control.close()
            service.close()
            sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
