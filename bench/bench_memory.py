"""Benchmark: the streamlit server's memory and CPU over a long browser session, with the project's
``runner.postScriptGC = false`` and with Streamlit's default (a ``gc.collect(2)`` after every script
and fragment run).

Run from the repository root:  python bench/bench_memory.py [--clicks 200] [--idle-seconds 120]

For each setting the script starts ``python3 -m streamlit run app.py`` as a user does: headless, on
a free loopback port, sandbox mode (no ICEYE_* variable in its environment) on a fresh temporary
``ICEYE_DATA_DIR``. The first run uses the project's .streamlit/config.toml; the second adds
``--runner.postScriptGC true`` (a command-line flag overrides config.toml). Debian's Chromium,
driven by Playwright with a fresh profile and no network beyond loopback, then plays one long
session:

* Contracts → "Use this contract" on the broad demo contract → New task;
* ``--clicks`` map clicks at different points of the world view (a fixed seed, so both runs click
  the same pixels). A click is done when the Latitude and Longitude fields show its point and
  Streamlit's script state is ``notRunning``: every wait is on a condition, with a timeout;
* a click on Paris, a reference, the sandbox clock set to real time (1×, so the task stays open and
  the Monitor keeps polling), "Create task…" → confirm → the Monitor of the new task;
* ``--idle-seconds`` on that Monitor, untouched. The waits there are on the next script run the
  server reports finished (the Monitor's 5 s refresh, the sidebar's 5 s health and clock panels).

Measured from outside the server, so nothing is added to it:

* RSS: ``VmRSS`` of the server process and of any child of it, from /proc, every
  ``--sample-every`` clicks and every ``--idle-sample`` seconds of the idle Monitor;
* CPU: ``utime + stime`` of the same processes (/proc/<pid>/stat, 10 ms ticks). A click is charged
  everything from its start to the next click's start, which includes the ``gc.collect(2)`` that
  Streamlit runs after it has already told the browser that the script finished;
* script runs: Streamlit's ``script_finished`` messages on the page's websocket (full runs and
  fragment runs counted apart), so CPU per run is known as well as CPU per click; and the reruns
  the browser asked for (``rerun_script`` messages it sent). Fragment reruns asked for while a run
  is still going are queued and served together by the next run (Streamlit's ScriptRequests), so
  there can be fewer runs than requests: CPU per second is the idle figure to compare.

RSS is what the kernel sees: memory that Python frees but the allocator keeps (pymalloc arenas,
glibc heaps) stays in it. It rises to a plateau as caches fill; a leak shows as a slope that does
not flatten. The verdict is the least-squares slope over the second half of the clicks.

Not a test: it never asserts, and its timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import streamlit
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, WebSocket, expect, sync_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".streamlit" / "config.toml"
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
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
# The broad demo contract of the sandbox (tasking/sandbox/seed.py): every mode, no pricing.
CONTRACT = "Demo Analytics — Constellation Tasking"
# The point the task is ordered at (the journey test's: over land in the default view).
PARIS = (48.8566, 2.3522)
# The map's default view is zoom 2 (ui/maps.py): about 0.35° per pixel, and clicks land on whole
# pixels, so a field within half a degree of the pixel's point shows this click.
CLICK_TOLERANCE_DEG = 0.5
# Clicks stay this far from the previous one (the marker is there, and Leaflet does not pass a
# click on a marker to the map) and from the map's edges and zoom buttons.
MIN_STEP_PX = 50
MARGIN_PX = 60
TIMEOUT_MS = 60_000  # page loads and navigations on a shared 2-core machine
CLICK_TIMEOUT_MS = 30_000
MAX_MISSED_CLICKS = 5
# The last stretch of every run is kept for the Monitor and for shutting down.
RESERVE_S = 90.0
# A slope under this is "flat": a leak of 20 KiB per click (a small map's HTML) would exceed it.
FLAT_MIB_PER_100 = 2.0
# RSS climbs to its plateau over the first hundred clicks or so: a shorter half reads that climb.
MIN_VERDICT_CLICKS = 100
SETTINGS = (
    ("postScriptGC=false (project config)", []),
    ("postScriptGC=true (Streamlit default)", ["--runner.postScriptGC", "true"]),
)


# --- the server and /proc --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)  # polling a condition before there is a browser, not a wait for time
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Server:
    """``streamlit run app.py`` in sandbox mode on a fresh data directory (as tests/e2e does)."""

    def __init__(self, workdir: Path, flags: list[str]) -> None:
        self.data_dir = workdir / "data"
        self.log_path = workdir / "streamlit.log"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.flags = flags
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ICEYE_")}
        env["ICEYE_DATA_DIR"] = str(self.data_dir)
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
                    *self.flags,
                ],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        proc = self.proc

        def healthy() -> bool:
            if proc.poll() is not None:
                raise SystemExit(f"streamlit exited early:\n{self.log_path.read_text()}")
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
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its living descendants (the app starts its sandbox in-process: usually none)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def rss_mib(pid: int) -> float:
    total_kib = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total_kib += int(found.group(1)) if found else 0
    return total_kib / 1024


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree (fields 14 and 15 of /proc/<pid>/stat)."""
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


# --- the browser side ------------------------------------------------------------------------


@dataclass
class ScriptRuns:
    """Script runs the server reported finished on the page's websocket(s)."""

    full: int = 0
    fragment: int = 0
    other: int = 0
    requested: int = 0  # reruns the browser asked for (clicks, fragment timers)
    sockets: int = 0
    socket: WebSocket | None = None

    @property
    def total(self) -> int:
        return self.full + self.fragment + self.other

    def watch(self, ws: WebSocket) -> None:
        self.sockets += 1
        self.socket = ws
        ws.on("framereceived", self.on_frame)
        ws.on("framesent", self.on_sent)

    def on_sent(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            message = BackMsg()
            try:
                message.ParseFromString(payload)
            except Exception:  # not a BackMsg: nothing to count
                return
            if message.WhichOneof("type") == "rerun_script":
                self.requested += 1

    def on_frame(self, payload: str | bytes) -> None:
        status = finished_status(payload)
        if status is None:
            return
        if status == ForwardMsg.FINISHED_SUCCESSFULLY:
            self.full += 1
        elif status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            self.fragment += 1
        else:
            self.other += 1  # stopped early for a rerun, or a compile error


def finished_status(payload: str | bytes) -> int | None:
    """The ``script_finished`` status of a server message, or None for any other message."""
    if not isinstance(payload, bytes):
        return None
    message = ForwardMsg()
    try:
        message.ParseFromString(payload)
    except Exception:  # not a ForwardMsg: nothing to count
        return None
    if message.WhichOneof("type") != "script_finished":
        return None
    return int(message.script_finished)


def main_area(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def wait_for_app(page: Page) -> None:
    """Streamlit connected, no script running, and no page showing an error."""
    page.wait_for_selector(CONNECTED, state="attached")
    page.wait_for_selector(IDLE, state="attached")
    failed = (
        main_area(page)
        .get_by_test_id("stException")
        .or_(main_area(page).get_by_text("the app hit an unexpected problem"))
    )
    if failed.count():
        raise SystemExit(
            "the app shows an error (someone may be editing it; retry in a few minutes):\n"
            + failed.first.inner_text()
        )


# Container pixel → point, or point → pixel, and the map's size, in the Leaflet map of the frame
# (whatever its variable's name).
_LEAFLET_JS = """(div, [x, y]) => {
    const map = Object.values(window).find(v => {
        try { return v instanceof L.Map; } catch (e) { return false; }
    });
    if (!map) { throw new Error('no Leaflet map in the frame'); }
    const size = map.getSize();
    if (x === null) {
        return {w: size.x, h: size.y};
    }
    if (typeof x === 'string') {
        const p = map.latLngToContainerPoint([y[0], y[1]]);
        return {x: p.x, y: p.y};
    }
    const p = map.containerPointToLatLng([x, y]);
    return {lat: p.lat, lon: p.lng, w: size.x, h: size.y};
}"""

# Done: no script running, and both fields show the clicked point.
_CLICK_DONE_JS = """([lat, lon, tol]) => {
    const app = document.querySelector("[data-testid='stApp']");
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') { return false; }
    const value = (label) => {
        const input = document.querySelector(`[data-testid='stMain'] input[aria-label="${label}"]`);
        return input && input.value !== '' ? parseFloat(input.value) : NaN;
    };
    return Math.abs(value('Latitude (°)') - lat) <= tol
        && Math.abs(value('Longitude (°)') - lon) <= tol;
}"""


def map_div(page: Page) -> Locator:
    """The New task map's Leaflet container, found afresh on every use (Streamlit may replace
    the iframe while the page settles, so a handle to the first one can go stale)."""
    return main_area(page).frame_locator(MAP_IFRAME).locator("#map_div")


def wait_for_map(page: Page) -> Locator:
    """The map, once Leaflet and the offline basemap (two SVG paths, ui/maps.py) are drawn."""
    div = map_div(page)
    expect(div.locator(".leaflet-basemap-pane svg path").nth(1)).to_be_attached()
    return div


@dataclass
class Click:
    x: int
    y: int
    lat: float
    lon: float


def next_click(div: Locator, rng: random.Random, previous: Click | None) -> Click:
    """A pixel of the map away from its edges and from the previous click, over -65..75° N."""
    size = div.evaluate(_LEAFLET_JS, [None, None])
    for _ in range(200):
        x = rng.randint(MARGIN_PX, size["w"] - MARGIN_PX)
        y = rng.randint(MARGIN_PX // 2, size["h"] - MARGIN_PX // 2)
        if previous is not None and abs(x - previous.x) + abs(y - previous.y) < MIN_STEP_PX:
            continue
        point = div.evaluate(_LEAFLET_JS, [x, y])
        if -65 <= point["lat"] <= 75 and -180 <= point["lon"] <= 180:
            return Click(x, y, point["lat"], point["lon"])
    raise SystemExit(f"no usable pixel in a map of {size['w']}×{size['h']} px")


def click_map(page: Page, target: Click) -> bool:
    """Click the map at ``target``; True once the page shows its point, False on a timeout."""
    map_div(page).click(position={"x": target.x, "y": target.y})
    try:
        page.wait_for_function(
            _CLICK_DONE_JS,
            arg=[target.lat, target.lon, CLICK_TOLERANCE_DEG],
            timeout=CLICK_TIMEOUT_MS,
        )
    except PlaywrightError:
        return False
    return True


def open_new_task(page: Page, url: str) -> None:
    page.goto(url)
    wait_for_app(page)
    card_heading = page.get_by_role("heading", name=CONTRACT, exact=True)
    card = main_area(page).get_by_test_id("stVerticalBlock").filter(has=card_heading).last
    card.get_by_role("button", name="Use this contract").click()
    expect(page).to_have_url(re.compile(r"/new-task"))
    expect(main_area(page).get_by_role("heading", name="New task", exact=True)).to_be_visible()
    wait_for_app(page)


def create_task(page: Page, reference: str) -> str:
    """From New task with a point set: real-time clock, a reference, create → the Monitor."""
    speed = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Speed")
    speed.click()
    page.get_by_role("option", name="real time (1×)").click()
    expect(speed).to_have_value("real time (1×)")
    wait_for_app(page)
    reference_field = main_area(page).get_by_role("textbox", name="Reference", exact=True)
    reference_field.fill(reference)
    reference_field.press("Enter")
    expect(reference_field).to_have_value(reference)
    wait_for_app(page)
    main_area(page).get_by_role("button", name=re.compile(r"^Create task")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Create task", exact=True).click()
    expect(page).to_have_url(re.compile(r"/monitor\?(.*&)?task="))
    expect(main_area(page).get_by_role("heading", name=reference)).to_be_visible()
    wait_for_app(page)
    return page.url.split("task=", 1)[1].split("&", 1)[0]


# --- one session -----------------------------------------------------------------------------


@dataclass
class Idle:
    seconds: float
    cpu_s: float
    runs: int
    requested: int
    samples: list[tuple[float, float]]  # (seconds idle, RSS MiB)
    status: str


@dataclass
class Session:
    label: str
    samples: list[tuple[int, float]] = field(default_factory=list)  # (clicks done, RSS MiB)
    cpu_ms: list[float] = field(default_factory=list)  # per click, to the next click's start
    full_runs: list[int] = field(default_factory=list)  # script runs finished, same intervals
    fragment_runs: list[int] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)  # per click, to its point shown
    missed: int = 0
    start_rss: float = 0.0  # after the server's start, before any browser
    idle: Idle | None = None
    notes: list[str] = field(default_factory=list)


def play_session(
    page: Page, server_pid: int, url: str, session: Session, args: Any, deadline: float
) -> None:
    runs = ScriptRuns()
    page.on("websocket", runs.watch)
    open_new_task(page, url)
    div = wait_for_map(page)
    rng = random.Random(2026)
    previous: Click | None = None
    click_deadline = deadline - RESERVE_S - args.idle_seconds
    # A click is charged from its start to the next click's start, so the last click is timed
    # but not charged: the GC of a run goes on after the browser has been told it finished.
    mark: tuple[float, int, int] | None = None  # (CPU s, full runs, fragment runs) at a start
    done = 0
    while done < args.clicks:
        if time.monotonic() > click_deadline:
            session.notes.append(f"time limit: stopped after {done} of {args.clicks} clicks")
            break
        if done % args.sample_every == 0 and (not session.samples or session.samples[-1][0] < done):
            session.samples.append((done, rss_mib(server_pid)))
        target = next_click(div, rng, previous)
        now = (cpu_seconds(server_pid), runs.full, runs.fragment)
        if mark is not None:
            session.cpu_ms.append((now[0] - mark[0]) * 1000)
            session.full_runs.append(now[1] - mark[1])
            session.fragment_runs.append(now[2] - mark[2])
        started = time.perf_counter()
        shown = click_map(page, target)
        wall = time.perf_counter() - started
        previous = target
        if not shown:
            mark = None  # its interval holds a timeout, not a click
            session.missed += 1
            if session.missed >= MAX_MISSED_CLICKS:
                session.notes.append(f"{session.missed} clicks not shown: stopped after {done}")
                break
            continue
        mark = now
        session.wall_ms.append(wall * 1000)
        done += 1
    wait_for_app(page)
    session.samples.append((done, rss_mib(server_pid)))

    if args.idle_seconds <= 0:
        return
    paris = div.evaluate(_LEAFLET_JS, ["point", list(PARIS)])
    target = Click(round(paris["x"]), round(paris["y"]), *PARIS)
    if not click_map(page, target):
        session.notes.append("the click on Paris was not shown: no Monitor phase")
        return
    create_task(page, f"bench-memory-{int(time.time())}")
    idle_end = min(time.monotonic() + args.idle_seconds, deadline - RESERVE_S / 2)
    started = time.monotonic()
    cpu0, runs0, requested0 = cpu_seconds(server_pid), runs.total, runs.requested
    samples = [(0.0, rss_mib(server_pid))]
    next_sample = started + args.idle_sample
    quiet = False
    while time.monotonic() < idle_end:
        ws = runs.socket
        if ws is None:
            raise SystemExit("no websocket to the app")
        # The next script run the server reports finished (a refresh of the Monitor or sidebar).
        remaining_ms = max(1.0, (idle_end - time.monotonic()) * 1000)
        try:
            ws.wait_for_event(
                "framereceived",
                predicate=lambda payload: finished_status(payload) is not None,
                timeout=min(CLICK_TIMEOUT_MS, remaining_ms),
            )
        except PlaywrightError:
            if ws.is_closed():
                wait_for_app(page)  # Streamlit reconnects by itself; runs.watch takes the new one
            elif time.monotonic() < idle_end and not quiet:
                quiet = True
                session.notes.append("idle Monitor: 30 s without a script run")
        if time.monotonic() >= next_sample:
            samples.append((time.monotonic() - started, rss_mib(server_pid)))
            next_sample += args.idle_sample
    elapsed = time.monotonic() - started
    samples.append((elapsed, rss_mib(server_pid)))
    badge = main_area(page).locator(".stMarkdownBadge").first
    status = badge.inner_text().split()[-1] if badge.count() else "?"
    session.idle = Idle(
        elapsed,
        cpu_seconds(server_pid) - cpu0,
        runs.total - runs0,
        runs.requested - requested0,
        samples,
        status,
    )
    if runs.sockets > 1:
        session.notes.append(f"the page reconnected: {runs.sockets} websockets")


def run_setting(label: str, flags: list[str], chromium: str, args: Any, deadline: float) -> Session:
    session = Session(label)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        server = Server(Path(tmp), flags)
        try:
            pid = server.start()
            session.start_rss = rss_mib(pid)
            with sync_playwright() as pw:
                context = pw.chromium.launch_persistent_context(
                    str(Path(tmp) / "chromium-profile"),
                    executable_path=chromium,
                    args=CHROMIUM_FLAGS,
                    headless=True,
                    viewport={"width": 1366, "height": 900},
                )
                try:
                    context.set_default_timeout(TIMEOUT_MS)
                    expect.set_options(timeout=TIMEOUT_MS)
                    page = context.pages[0] if context.pages else context.new_page()
                    play_session(page, pid, server.url, session, args, deadline)
                finally:
                    context.close()
        except BaseException:
            print(
                f"\n{label}: the session failed; the server's log ends with:\n{server.log_tail()}"
            )
            raise
        finally:
            server.stop()
    return session


# --- the report ------------------------------------------------------------------------------


def slope_per_100(points: list[tuple[int, float]]) -> float | None:
    """Least-squares MiB per 100 clicks."""
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return 100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def report(sessions: list[Session], args: Any) -> None:
    labels = [s.label.split(" ")[0] for s in sessions]
    print("\nServer RSS (VmRSS of the streamlit process tree), MiB")
    print("  clicks done  " + "".join(f"{label:>22}" for label in labels))
    print("  (server up)  " + "".join(f"{s.start_rss:>22.1f}" for s in sessions))
    rows = sorted({n for s in sessions for n, _ in s.samples})
    for n in rows:
        cells = []
        for s in sessions:
            value = dict(s.samples).get(n)
            cells.append(f"{value:>22.1f}" if value is not None else f"{'':>22}")
        print(f"  {n:>11}  " + "".join(cells))

    print("\nServer CPU per click (from a click's start to the next one's; /proc utime+stime)")
    for s in sessions:
        if not s.cpu_ms:
            print(f"  {s.label}: no clicks")
            continue
        full, fragments = sum(s.full_runs), sum(s.fragment_runs)
        print(
            f"  {s.label}: median {statistics.median(s.cpu_ms):6.1f} ms, mean "
            f"{statistics.fmean(s.cpu_ms):6.1f} ms over {len(s.cpu_ms)} clicks\n"
            f"    script runs in those intervals: {full} full (per click: "
            f"{sorted(set(s.full_runs))}) + {fragments} fragment runs (timers); "
            f"{sum(s.cpu_ms) / max(1, full + fragments):.1f} ms CPU per run\n"
            f"    click to point shown in the browser: median {statistics.median(s.wall_ms):.0f} ms"
            + (f"; {s.missed} clicks not shown" if s.missed else "")
        )

    print("\nIdle Monitor of the created task (sandbox clock at 1×)")
    for s in sessions:
        idle = s.idle
        if idle is None:
            print(f"  {s.label}: not run")
            continue
        rss = [value for _, value in idle.samples]
        per_run = 1000 * idle.cpu_s / max(1, idle.runs)
        print(
            f"  {s.label}: {idle.seconds:.0f} s, {idle.runs} script runs finished "
            f"for {idle.requested} reruns asked for by the browser's timers, CPU "
            f"{1000 * idle.cpu_s / idle.seconds:.1f} ms per s ({per_run:.1f} ms per run); "
            f"task status at the end {idle.status}\n"
            f"    RSS {rss[0]:.1f} → {rss[-1]:.1f} MiB (max {max(rss):.1f}); every "
            f"{args.idle_sample:g} s: {', '.join(f'{v:.1f}' for v in rss)}"
        )

    print("\nVerdict: RSS growth over the second half of the clicks (least squares)")
    for s in sessions:
        total = s.samples[-1][0] if s.samples else 0
        half = [(n, v) for n, v in s.samples if n >= total / 2]
        slope = slope_per_100(half)
        if slope is None:
            print(f"  {s.label}: too few samples")
            continue
        if half[-1][0] - half[0][0] < MIN_VERDICT_CLICKS:
            word = f"too short to judge (the half needs {MIN_VERDICT_CLICKS} clicks or more)"
        else:
            word = "GROWING" if slope >= FLAT_MIB_PER_100 else "flat or falling"
            word += f" (growing: {FLAT_MIB_PER_100:g} or more)"
        print(
            f"  {s.label}: {slope:+.2f} MiB per 100 clicks over clicks {half[0][0]}–{half[-1][0]} "
            f"({len(half)} samples): {word}"
        )
    for s in sessions:
        for note in s.notes:
            print(f"  note, {s.label}: {note}")


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=200, help="map clicks per setting")
    parser.add_argument("--sample-every", type=int, default=10, help="clicks between RSS samples")
    parser.add_argument("--idle-seconds", type=float, default=120, help="0: no Monitor phase")
    parser.add_argument("--idle-sample", type=float, default=15, help="seconds between samples")
    parser.add_argument(
        "--time-limit", type=float, default=2400, help="seconds for everything, both settings"
    )
    args = parser.parse_args()
    if args.clicks < 1 or args.sample_every < 1 or args.idle_sample <= 0:
        parser.error("--clicks and --sample-every must be ≥ 1, --idle-sample > 0")

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is not installed (./scripts/test installs it)")
    runner = tomllib.loads(CONFIG.read_text()).get("runner", {})
    started = time.monotonic()
    deadline = started + args.time_limit

    print(
        f"Python {sys.version.split()[0]}, Streamlit {streamlit.__version__}, {os.cpu_count()} "
        f"CPUs, load average {os.getloadavg()[0]:.1f}; .streamlit/config.toml: postScriptGC = "
        f"{str(runner.get('postScriptGC', 'unset')).lower()}; {args.clicks} clicks, RSS every "
        f"{args.sample_every}, {args.idle_seconds:g} s idle Monitor; time limit {args.time_limit:g} s"
    )
    sessions = []
    for index, (label, flags) in enumerate(SETTINGS):
        # Each setting gets an equal share of what is left, so the second is never starved.
        share = (deadline - time.monotonic()) / (len(SETTINGS) - index)
        print(f"… {label}", flush=True)
        run_started = time.monotonic()
        sessions.append(run_setting(label, flags, chromium, args, time.monotonic() + share))
        print(f"  done in {time.monotonic() - run_started:.0f} s", flush=True)
    report(sessions, args)
    print(f"\n(total {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
