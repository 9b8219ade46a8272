"""Benchmark: twenty Chromium sessions against one app (issue 13).

Run from the repository root:  python bench/bench_twenty.py [--sessions 20] [--quick]

The app runs as ``streamlit run app.py`` in sandbox mode on a fresh data directory (bench_memory's
``Server``), so it starts its built-in sandbox as a child process, as it does for a user. One
headless Chromium (Playwright, the flags of bench_memory.py), a browser context per session (a user
of their own, 1440×900), then:

1. **One after another**: ``--sessions`` sessions are opened in turn, each kept open: the app's
   URL (Contracts, the default page) → "Use this contract" on the broad demo contract → New task
   with its map drawn and no script running ("usable"). Timed from ``goto`` to usable, with the
   time to a usable Contracts page apart, and the server's CPU for each open.
2. **Clicks**: ``--clicks`` map clicks in each of the open sessions, session after session, all of
   them still connected. Click → settled is bench_click's: the Latitude and Longitude fields show
   the point and no script runs. Per click: the wall time, the server's CPU from the click to
   the settled page, and the bytes the server sent on that session's websocket.
3. **Idle Monitors**: one task is ordered from the first session (clock at 1×, so it stays open
   and its Monitor keeps polling); then every session opens that task's Monitor, and for
   ``--idle-seconds`` nothing is touched: the app's and the sandbox's CPU over the window, as % of
   one core, and the script runs the server reported finished (each Monitor reruns its panel and
   the sidebar every 5 s).
4. **At once**: the sessions are closed, and as many new ones are opened at the same time: every
   page's ``goto`` starts together, then each is driven to New task as soon as its Contracts page
   is usable. Timed from the common start to each session's usable New task (observed in turn, so
   a time can include up to the others' handling: a few ms each).

``--first ROUNDS`` measures something else: the first session of a fresh app, ROUNDS times
(Contracts usable; 8 s on it, as a person reads; then New task usable), for the warm-up that
ui/service.py starts after the first screen.

Memory: the app's and its sandbox's RSS (VmRSS, /proc) after start, after phase 1 and at the end
of phases 3 and 4, and Chromium's proportional set size (PSS, shared pages split, so its many
processes are not counted twice).

CPU is ``utime + stime`` from /proc (10 ms ticks), the app's process and its sandbox child apart.
Every wait is on a condition with a timeout, and the whole run on ``--max-minutes``. Not a test: it
prints figures and asserts nothing; timings depend on the machine and its load (printed).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_click import Bytes, percentile  # bench/
from bench_memory import (
    CHROMIUM_FLAGS,
    CONTRACT,
    IDLE,
    PARIS,
    TIMEOUT_MS,
    Click,
    Server,
    click_map,
    create_task,
    main_area,
    next_click,
    wait_for_app,
    wait_for_map,
)
from bench_sessions import pss_mib
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tasking.sandbox.process import lock_holder

VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
AT_ONCE_TIMEOUT_MS = 300_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_LEAFLET_POINT_JS = """(div, [lat, lon]) => {
    const map = Object.values(window).find(v => {
        try { return v instanceof L.Map; } catch (e) { return false; }
    });
    const p = map.latLngToContainerPoint([lat, lon]);
    return {x: p.x, y: p.y};
}"""


# --- /proc -----------------------------------------------------------------------------------


def cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else 0.0


def chromium_pids() -> list[int]:
    """Every Chromium process (the browser, its GPU/utility processes and a renderer per tab),
    descendants of this process through Playwright's driver."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        todo.extend(parents.get(pid, []))
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                found.append(pid)
        except OSError:
            continue
    return found


@dataclass
class Procs:
    app: int
    sandbox: int | None

    def cpu(self) -> tuple[float, float]:
        return cpu_s(self.app), cpu_s(self.sandbox)

    def memory(self) -> str:
        return (
            f"app RSS {rss_mib(self.app):.0f} MiB, sandbox RSS {rss_mib(self.sandbox):.0f} MiB, "
            f"Chromium PSS {pss_mib(chromium_pids()):.0f} MiB"
        )


# --- sessions --------------------------------------------------------------------------------


@dataclass
class Session:
    context: BrowserContext
    page: Page
    sent: Bytes = field(default_factory=Bytes)
    finished: int = 0

    def on_frame(self, payload: str | bytes) -> None:
        if not isinstance(payload, bytes):
            return
        message = ForwardMsg()
        try:
            message.ParseFromString(payload)
        except Exception:  # not a ForwardMsg
            return
        if message.WhichOneof("type") == "script_finished":
            self.finished += 1


def new_session(browser: Browser) -> Session:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    session = Session(context, page)
    page.on("websocket", session.sent.watch)
    page.on("websocket", lambda ws: ws.on("framereceived", session.on_frame))
    return session


def contracts_usable(page: Page) -> None:
    wait_for_app(page)
    expect(page.get_by_role("heading", name=CONTRACT, exact=True)).to_be_visible()


def use_contract(page: Page) -> None:
    heading = page.get_by_role("heading", name=CONTRACT, exact=True)
    card = main_area(page).get_by_test_id("stVerticalBlock").filter(has=heading).last
    card.get_by_role("button", name="Use this contract").click()


def new_task_usable(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/new-task"))
    expect(main_area(page).get_by_role("heading", name="New task", exact=True)).to_be_visible()
    wait_for_map(page)
    page.wait_for_selector(IDLE, state="attached")
    wait_for_app(page)


@dataclass
class Figures:
    open_s: list[float] = field(default_factory=list)
    contracts_s: list[float] = field(default_factory=list)
    open_cpu_ms: list[float] = field(default_factory=list)  # app + sandbox
    click_s: list[float] = field(default_factory=list)
    click_cpu_ms: list[float] = field(default_factory=list)  # app
    click_sandbox_ms: list[float] = field(default_factory=list)
    click_kib: list[float] = field(default_factory=list)
    missed: int = 0
    at_once_s: list[float] = field(default_factory=list)
    at_once_contracts_s: list[float] = field(default_factory=list)
    idle: str = ""
    memory: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def one_after_another(
    browser: Browser, procs: Procs, url: str, count: int, figures: Figures, deadline: float
) -> list[Session]:
    sessions = []
    for number in range(count):
        if time.monotonic() > deadline:
            figures.notes.append(f"time limit: {number} of {count} sessions opened in turn")
            break
        session = new_session(browser)
        cpu0 = sum(procs.cpu())
        started = time.perf_counter()
        session.page.goto(url)
        contracts_usable(session.page)
        figures.contracts_s.append(time.perf_counter() - started)
        use_contract(session.page)
        new_task_usable(session.page)
        figures.open_s.append(time.perf_counter() - started)
        figures.open_cpu_ms.append((sum(procs.cpu()) - cpu0) * 1000)
        sessions.append(session)
        print(
            f"  session {number + 1:2}: New task usable in {figures.open_s[-1]:.2f} s "
            f"(Contracts {figures.contracts_s[-1]:.2f} s), server CPU "
            f"{figures.open_cpu_ms[-1]:.0f} ms",
            flush=True,
        )
    return sessions


def clicks(
    sessions: list[Session], procs: Procs, per_session: int, figures: Figures, deadline: float
) -> None:
    rng = random.Random(2026)
    previous: dict[int, Click | None] = {}
    for _round in range(per_session):
        for index, session in enumerate(sessions):
            if time.monotonic() > deadline:
                figures.notes.append("time limit: fewer clicks than asked")
                return
            page = session.page
            div = wait_for_map(page)
            target = next_click(div, rng, previous.get(index))
            previous[index] = target
            wait_for_app(page)
            (app0, box0), bytes0 = procs.cpu(), session.sent.total
            started = time.perf_counter()
            shown = click_map(page, target)
            wall = time.perf_counter() - started
            if not shown:
                figures.missed += 1
                continue
            wait_for_app(page)
            app1, box1 = procs.cpu()
            figures.click_s.append(wall)
            figures.click_cpu_ms.append((app1 - app0) * 1000)
            figures.click_sandbox_ms.append((box1 - box0) * 1000)
            figures.click_kib.append((session.sent.total - bytes0) / 1024)
    print(line("click → settled", figures.click_s, "s"), flush=True)


def idle_monitors(sessions: list[Session], procs: Procs, seconds: float, figures: Figures) -> None:
    first = sessions[0].page
    div = wait_for_map(first)
    paris = div.evaluate(_LEAFLET_POINT_JS, list(PARIS))
    if not click_map(first, Click(round(paris["x"]), round(paris["y"]), *PARIS)):
        figures.notes.append("the click on Paris was not shown: no Monitor phase")
        return
    task_id = create_task(first, f"bench-twenty-{int(time.time())}")
    monitor = f"{first.url.split('/monitor', 1)[0]}/monitor?task={task_id}"
    for session in sessions[1:]:
        session.page.goto(monitor, wait_until="commit")
    for session in sessions:
        wait_for_app(session.page)
        main = main_area(session.page)
        expect(main.locator(".stMarkdownBadge").first).to_be_visible()
    runs0 = sum(s.finished for s in sessions)
    (app0, box0), started = procs.cpu(), time.monotonic()
    first.wait_for_timeout(seconds * 1000)  # the window itself; events are handled meanwhile
    (app1, box1), elapsed = procs.cpu(), time.monotonic() - started
    runs = sum(s.finished for s in sessions) - runs0
    figures.idle = (
        f"{len(sessions)} idle Monitors over {elapsed:.0f} s: app {100 * (app1 - app0) / elapsed:.1f} % "
        f"of a core, sandbox {100 * (box1 - box0) / elapsed:.1f} %, together "
        f"{100 * (app1 - app0 + box1 - box0) / elapsed:.1f} % (target < 15 %); "
        f"{runs} script runs finished ({runs / elapsed / len(sessions):.2f} per s per session)"
    )
    print("  " + figures.idle, flush=True)


def at_once(
    browser: Browser, procs: Procs, url: str, count: int, figures: Figures, deadline: float
) -> None:
    sessions = [new_session(browser) for _ in range(count)]
    for session in sessions:
        # 20 sessions loading at once on 2 cores: minutes, not the single page's 60 s.
        session.context.set_default_timeout(AT_ONCE_TIMEOUT_MS)
    expect.set_options(timeout=AT_ONCE_TIMEOUT_MS)
    started = time.perf_counter()
    try:
        for session in sessions:
            session.page.goto(url, wait_until="commit")
        driven = []
        for session in sessions:
            if time.monotonic() > deadline:
                break
            try:
                contracts_usable(session.page)
                figures.at_once_contracts_s.append(time.perf_counter() - started)
                use_contract(session.page)
                driven.append(session)
            except (AssertionError, PlaywrightError) as error:
                figures.notes.append(
                    f"at once: a Contracts page never became usable: {error!s:.80}"
                )
        for session in driven:
            if time.monotonic() > deadline:
                figures.notes.append("time limit: not every session opened at once was waited for")
                break
            try:
                new_task_usable(session.page)
                figures.at_once_s.append(time.perf_counter() - started)
            except (AssertionError, PlaywrightError) as error:
                figures.notes.append(f"at once: a New task never became usable: {error!s:.80}")
        figures.memory.append(f"{count} opened at once, on New task: {procs.memory()}")
    finally:
        expect.set_options(timeout=TIMEOUT_MS)
        for session in sessions:
            session.context.close()
    if figures.at_once_s:
        print(
            f"  {len(figures.at_once_s)} of {count} at once: the last New task usable after "
            f"{max(figures.at_once_s):.1f} s",
            flush=True,
        )


def line(name: str, values: list[float], unit: str, scale: float = 1.0) -> str:
    if not values:
        return f"  {name:<42} (none)"
    v = [x * scale for x in values]
    return (
        f"  {name:<42} p50 {statistics.median(v):8.2f}  p90 {percentile(v, 90):8.2f}  "
        f"range {min(v):.2f}–{max(v):.2f} {unit}  (n={len(v)})"
    )


def play(
    browser: Browser, app_pid: int, server: Server, args: argparse.Namespace, figures: Figures,
    deadline: float,
) -> None:  # fmt: skip
    print("1. one after another", flush=True)
    sessions = one_after_another(
        browser, Procs(app_pid, None), server.url, args.sessions, figures, deadline
    )
    holder = lock_holder(server.data_dir / "sandbox")
    procs = Procs(app_pid, holder.pid if holder else None)
    if holder is None:
        figures.notes.append("no sandbox child found: its CPU is not counted")
    figures.memory.append(f"{len(sessions)} sessions on New task: {procs.memory()}")
    print("2. clicks", flush=True)
    clicks(sessions, procs, args.clicks, figures, deadline)
    print("3. idle Monitors", flush=True)
    idle_monitors(sessions, procs, args.idle_seconds, figures)
    figures.memory.append(f"{len(sessions)} idle Monitors: {procs.memory()}")
    for session in sessions:
        session.context.close()
    print("4. at once", flush=True)
    at_once(browser, procs, server.url, args.sessions, figures, deadline)


def first_sessions(chromium: str, rounds: int, read_s: float) -> None:
    """The first session of a fresh app, ``rounds`` times: Contracts usable, ``read_s`` seconds
    on it (a person reading), then "Use this contract" → New task usable. What the warm-up after
    the first screen (ui/service.py) is for."""
    contracts_s, new_task_s = [], []
    for number in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-twenty-first-") as tmp:
            server = Server(Path(tmp), [])
            try:
                server.start()
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(
                        executable_path=chromium, args=CHROMIUM_FLAGS, headless=True
                    )
                    expect.set_options(timeout=TIMEOUT_MS)
                    try:
                        page = new_session(browser).page
                        started = time.perf_counter()
                        page.goto(server.url)
                        contracts_usable(page)
                        contracts_s.append(time.perf_counter() - started)
                        page.wait_for_timeout(read_s * 1000)  # the person reads the page
                        started = time.perf_counter()
                        use_contract(page)
                        new_task_usable(page)
                        new_task_s.append(time.perf_counter() - started)
                    finally:
                        browser.close()
            finally:
                server.stop()
        print(
            f"  round {number + 1}: Contracts {contracts_s[-1]:.2f} s; after {read_s:g} s, "
            f"New task {new_task_s[-1]:.2f} s (load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    print(line("first session: Contracts usable", contracts_s, "s"))
    print(line(f"… then, {read_s:g} s later, New task", new_task_s, "s"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--clicks", type=int, default=2, help="map clicks per session")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--max-minutes", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="5 sessions, 1 click, 20 s idle")
    parser.add_argument(
        "--first", type=int, default=0, metavar="ROUNDS",
        help="instead: the first session of a fresh app, ROUNDS times (Contracts, 8 s, New task)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.clicks, args.idle_seconds = 5, 1, 20.0
    chromium = os.environ.get("CHROMIUM") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), ""
    )
    if not chromium:
        raise SystemExit("no Chromium: apt-get install -y chromium")
    if args.first:
        print(f"bench_twenty --first: load average {os.getloadavg()[0]:.1f}", flush=True)
        first_sessions(chromium, args.first, 8.0)
        return 0
    deadline = time.monotonic() + args.max_minutes * 60
    print(
        f"bench_twenty: {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, Python {sys.version.split()[0]}; "
        f"{args.sessions} sessions, {args.clicks} click(s) each, {args.idle_seconds:g} s idle",
        flush=True,
    )
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="bench-twenty-") as tmp:
        server = Server(Path(tmp), [])
        try:
            app_pid = server.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=chromium, args=CHROMIUM_FLAGS, headless=True
                )
                expect.set_options(timeout=TIMEOUT_MS)
                try:
                    play(browser, app_pid, server, args, figures, deadline)
                except Exception as error:  # report what was measured before it
                    figures.notes.append(f"stopped by {type(error).__name__}: {error!s:.300}")
                    print(f"failed; the app's log ends with:\n{server.log_tail()}", flush=True)
                finally:
                    browser.close()
        finally:
            server.stop()
    print("\nFigures (seconds unless named):")
    print(line("open one after another → usable New task", figures.open_s, "s (target < 1)"))
    print(line("  of which Contracts usable", figures.contracts_s, "s"))
    print(line("  server CPU per open (app + sandbox)", figures.open_cpu_ms, "ms"))
    print(line("open at once → usable New task", figures.at_once_s, "s"))
    print(line("  of which Contracts usable", figures.at_once_contracts_s, "s"))
    print(line("click → settled", figures.click_s, "s (target < 1)"))
    print(line("server CPU per click (app)", figures.click_cpu_ms, "ms"))
    print(line("sandbox CPU per click", figures.click_sandbox_ms, "ms"))
    print(line("websocket bytes per click", figures.click_kib, "KiB (target < 15 KB)"))
    print(f"  clicks not shown: {figures.missed}")
    print("  " + (figures.idle or "idle Monitors: not measured"))
    for entry in figures.memory:
        print("  memory, " + entry)
    for note in figures.notes:
        print("  note: " + note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
