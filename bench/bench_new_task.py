"""Benchmark: the New task page's own time per rerun after a map click, and the pass preview's
prediction time at the default window.

Run from the repository root:  python bench/bench_new_task.py [--clicks 20]

Map clicks. The app runs under ``streamlit.testing.v1.AppTest`` against a sandbox started in this
process (``ICEYE_SANDBOX_URL``), on New task with the demo broad contract chosen. A click is sent the
way the browser sends it: a new value of the st_folium component's widget (``{"last_clicked":
{"lat", "lng"}}``) in the widget states of the rerun, so Streamlit calls the component's
``on_change`` (which sets ``poi_lat``/``poi_lon``) and then reruns the script, exactly as after a
real click. Per click it measures:

* the script run(s): Streamlit's ``exec_func_with_error_handling`` around ``app.py`` (sidebar,
  navigation and the page), i.e. the server-side work of a rerun; the number of such runs is the
  number of reruns the click caused;
* the page body alone (``StreamlitPage.run`` of views/new_task.py);
* the whole ``AppTest`` run: the above plus AppTest's own overhead (a fresh ScriptRunner and
  thread per run, turning the output messages into an element tree), which a browser session
  does not pay;
* HTTP requests the rerun sent to the sandbox (the server's own request counter).

A cProfile of the script thread over the same clicks shows where the page's time goes.

Pass preview. ``tasking.passes.predict_passes`` on the sandbox's published constellation (TLE text
from ``SandboxControl.constellation_tle``) for ``rules.default_window`` from the sandbox clock:
cold (a fresh interpreter: import, parse, first prediction), warm (repeated calls), and a
``st.cache_data`` hit of the same call (what a rerun pays when the preview is cached).

Target (PRODUCT.md): a map click reruns the page once, and the page's own work per rerun stays
under 100 ms. Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.scriptrunner import script_runner
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

from tasking import rules
from tasking.orbits import parse_tle_text
from tasking.passes import predict_passes
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from ui import keys

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
NEW_TASK = "views/new_task.py"
TARGET_MS = 100.0
CREDENTIAL_ENV = ("ICEYE_API_URL", "ICEYE_AUTH_URL", "ICEYE_CLIENT_ID", "ICEYE_CLIENT_SECRET")
COMPONENT = "component_instance"
ST_FOLIUM = "streamlit_folium.st_folium"
# Streamlit's ScriptRunner runs every script run through this function (script_runner.py).
EXEC = "exec_func_with_error_handling"
# AppTest makes a new one of these per run (app_test.py).
SCRIPT_CACHE = "ScriptCache"
WARM_UP_CLICKS = 3


# --- timing hooks ----------------------------------------------------------------------------


@dataclass
class Probe:
    """Durations recorded by the hooks while a click is being served."""

    scripts: list[float] = field(default_factory=list)
    script_cpu: list[float] = field(default_factory=list)
    pages: list[float] = field(default_factory=list)
    profiler: cProfile.Profile | None = None


PROBE = Probe()


@contextmanager
def hooks() -> Iterator[None]:
    """Time every script run and every page body (they run in AppTest's script thread).

    Also keeps one ScriptCache for all runs, as a Streamlit server does: AppTest makes a new one
    per run, so every run would recompile app.py and the page (a cost a server pays once)."""
    original_exec = getattr(script_runner, EXEC)
    original_page_run = StreamlitPage.run
    original_cache = getattr(app_test_module, SCRIPT_CACHE)
    shared_cache = ScriptCache()

    def timed_exec(func: Callable[[], Any], ctx: Any) -> Any:
        profiler = PROBE.profiler
        started, cpu_started = time.perf_counter(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        try:
            return original_exec(func, ctx)
        finally:
            if profiler is not None:
                profiler.disable()
            PROBE.scripts.append(time.perf_counter() - started)
            # CPU time of the script thread: the work itself, less inflated by other processes.
            PROBE.script_cpu.append(time.thread_time() - cpu_started)

    def timed_page_run(page: StreamlitPage) -> None:
        # Under AppTest the main script (the router) runs as a page too, so only the New task
        # page's own run is kept.
        started = time.perf_counter()
        try:
            original_page_run(page)
        finally:
            if str(getattr(page, "_page", "")).endswith(NEW_TASK):
                PROBE.pages.append(time.perf_counter() - started)

    setattr(script_runner, EXEC, timed_exec)
    setattr(StreamlitPage, "run", timed_page_run)  # noqa: B010 - mypy refuses a method assignment
    setattr(app_test_module, SCRIPT_CACHE, lambda: shared_cache)
    try:
        yield
    finally:
        setattr(script_runner, EXEC, original_exec)
        setattr(StreamlitPage, "run", original_page_run)  # noqa: B010
        setattr(app_test_module, SCRIPT_CACHE, original_cache)


# --- clicks ----------------------------------------------------------------------------------


@dataclass
class Click:
    lat: float
    lon: float
    wall: float
    scripts: list[float]
    script_cpu: list[float]
    pages: list[float]
    requests: int
    point_set: bool


def server_requests(handle: SandboxHandle) -> int:
    return int(handle._server.server_state.total_requests)


def map_widget_id(at: AppTest) -> str:
    """Widget id of the st_folium component on the page (it changes with the marker's layer)."""
    ids = [
        node.proto.id
        for node in at._tree
        if getattr(node, "type", None) == COMPONENT and node.proto.component_name == ST_FOLIUM
    ]
    if len(ids) != 1:
        raise SystemExit(f"expected one map component on New task, found {len(ids)}")
    return str(ids[0])


def click(at: AppTest, handle: SandboxHandle, lat: float, lon: float) -> Click:
    """One map click as the browser sends it, and what serving it cost."""
    states = at._tree.get_widget_states()
    value = {"last_clicked": {"lat": lat, "lng": lon}}
    states.widgets.append(WidgetState(id=map_widget_id(at), json_value=json.dumps(value)))
    PROBE.scripts.clear()
    PROBE.script_cpu.clear()
    PROBE.pages.clear()
    served = server_requests(handle)
    started = time.perf_counter()
    at._run(states)
    wall = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"the page failed: {[e.value for e in at.exception]}")
    point = (at.session_state[keys.LAT.name], at.session_state[keys.LON.name])
    return Click(
        lat,
        lon,
        wall,
        list(PROBE.scripts),
        list(PROBE.script_cpu),
        list(PROBE.pages),
        server_requests(handle) - served,
        point == (round(lat, 6), round(lon, 6)),
    )


def click_points(count: int) -> list[tuple[float, float]]:
    """Points spread over the map (fixed seed: the same clicks on every run)."""
    rng = random.Random(2026)
    return [
        (round(rng.uniform(-70, 75), 4), round(rng.uniform(-180, 180), 4)) for _ in range(count)
    ]


def open_new_task(handle: SandboxHandle) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["contract_id"] = seed.BROAD_CONTRACT_ID
    at.run()  # the default page (Contracts): builds the backend, loads the contracts
    at.switch_page(NEW_TASK)
    at.run()  # first New task run: imports folium and friends
    if at.exception:
        raise SystemExit(f"New task failed: {[e.value for e in at.exception]}")
    return at


def stats_ms(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return (
        f"median {statistics.median(ms):7.1f}  p90 {p90:7.1f}  min {ms[0]:7.1f}  "
        f"max {ms[-1]:7.1f} ms"
    )


def bench_clicks(handle: SandboxHandle, count: int, profile_top: int) -> None:
    at = open_new_task(handle)
    for lat, lon in click_points(WARM_UP_CLICKS):
        click(at, handle, lat + 1, lon + 1)  # warm-up: first-use caches of folium/Streamlit

    clicks = [click(at, handle, lat, lon) for lat, lon in click_points(count)]
    runs = [len(c.scripts) for c in clicks]
    scripts = [sum(c.scripts) for c in clicks]
    cpu = [sum(c.script_cpu) for c in clicks]
    pages = [sum(c.pages) for c in clicks]
    walls = [c.wall for c in clicks]
    overhead = [c.wall - sum(c.scripts) for c in clicks]
    requests = [c.requests for c in clicks]
    print(
        f"\nMap clicks on New task: {count} clicks at different points (after {WARM_UP_CLICKS} warm-up)"
    )
    print(f"  script reruns per click: {sorted(set(runs))} (target: one)")
    print(f"  point set by the click:  {sum(c.point_set for c in clicks)}/{count}")
    print(f"  page's own work (app.py + sidebar + New task)  {stats_ms(scripts)}")
    print(f"    the same, CPU time of the script thread      {stats_ms(cpu)}")
    print(f"  New task page body only                        {stats_ms(pages)}")
    print(f"  whole AppTest run (incl. AppTest overhead)     {stats_ms(walls)}")
    print(f"  AppTest overhead (whole run − script)          {stats_ms(overhead)}")
    print(
        f"  HTTP requests to the sandbox per click: total {sum(requests)} over {count} clicks "
        f"(per click max {max(requests)}; the sidebar's health check is cached 10 s and the "
        "clock is extrapolated for 30 s, ui/sidebar.py and tasking/clock.py)"
    )
    median_ms = statistics.median(scripts) * 1000
    cpu_ms = statistics.median(cpu) * 1000
    print(
        f"  {'OK    ' if median_ms < TARGET_MS and set(runs) == {1} else 'MISSED'} "
        f"one rerun per click, page's own work median {median_ms:.1f} ms wall, "
        f"{cpu_ms:.1f} ms CPU (target < {TARGET_MS:g} ms)"
    )

    if profile_top:
        profiler = cProfile.Profile()
        PROBE.profiler = profiler
        try:
            for lat, lon in click_points(count):
                click(at, handle, lat - 0.5, lon - 0.5)
        finally:
            PROBE.profiler = None
        print(
            f"\n  Where the script's time goes: share of the script thread's time, cumulative "
            f"(cProfile over {count} more clicks; profiling slows everything down):"
        )
        stats = pstats.Stats(profiler)
        total = stats.total_tt  # type: ignore[attr-defined]
        project: list[tuple[float, str]] = []
        libraries: list[tuple[float, str]] = []
        for func, (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            filename, line, name = func
            label = f"{_short(filename)}:{line}({name})"
            if _is_project(filename) and name != "<module>":
                project.append((ct, label))
            elif any(f"site-packages/{lib}/" in filename for lib in LIBRARIES):
                libraries.append((ct, label))
        for title, rows, top in (
            ("project code", project, profile_top),
            ("libraries it calls", libraries, max(1, profile_top // 2)),
        ):
            print(f"    {title}:")
            for ct, label in sorted(rows, reverse=True)[:top]:
                print(f"      {100 * ct / total:5.1f} %  {label}")


# Libraries whose share of a rerun is worth seeing (maps, charts, frames).
LIBRARIES = ("streamlit_folium", "folium", "branca", "jinja2", "altair", "pandas")


def _is_project(filename: str) -> bool:
    """The app's own code, not this benchmark."""
    return filename != __file__ and filename.startswith(str(ROOT))


def _short(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        parts = path.parts
        if "site-packages" in parts:
            return "/".join(parts[parts.index("site-packages") + 1 :])
        return path.name


# --- pass preview ----------------------------------------------------------------------------

COLD_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from datetime import datetime
    sys.path.insert(0, sys.argv[1])
    t0 = time.perf_counter()
    from tasking.orbits import parse_tle_text
    from tasking.passes import predict_passes
    t1 = time.perf_counter()
    sats = parse_tle_text(sys.stdin.read())
    t2 = time.perf_counter()
    lat, lon = float(sys.argv[2]), float(sys.argv[3])
    start, end = datetime.fromisoformat(sys.argv[4]), datetime.fromisoformat(sys.argv[5])
    passes = predict_passes(sats, lat, lon, start, end)
    t3 = time.perf_counter()
    predict_passes(sats, lat, lon, start, end)
    t4 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "parse": t2 - t1, "first": t3 - t2, "second": t4 - t3,
                      "passes": len(passes)}))
    """
)

PREVIEW_POINTS = {"Helsinki": (60.1699, 24.9384), "Equator 0°N 25°E": (0.0, 25.0)}


@st.cache_data(show_spinner=False)
def _cached_prediction(tle_text: str, lat: float, lon: float, start: Any, end: Any) -> list[Any]:
    # The shape a cached preview would take: keyed by the published elements, point and window.
    return predict_passes(parse_tle_text(tle_text), lat, lon, start, end)


def bench_passes(handle: SandboxHandle, repeat: int) -> None:
    control = SandboxControl(handle.url)
    tle = control.constellation_tle()
    now = control.clock().now
    control.close()
    start, end = rules.default_window(now, "COMMERCIAL")
    sats = parse_tle_text(tle)
    print(
        f"\nPass preview: {len(sats)} satellites from the sandbox, default window "
        f"{start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M} UTC ({(end - start).total_seconds() / 3600:g} h, "
        "rules.default_window for COMMERCIAL), incidence ≤ 45°"
    )
    for label, (lat, lon) in PREVIEW_POINTS.items():
        cold = subprocess.run(
            [
                sys.executable,
                "-c",
                COLD_SCRIPT,
                str(ROOT),
                str(lat),
                str(lon),
                start.isoformat(),
                end.isoformat(),
            ],
            input=tle,
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(cold.stdout.strip().splitlines()[-1])
        warm = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            passes = predict_passes(sats, lat, lon, start, end)
            warm.append(time.perf_counter() - t0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _cached_prediction(tle, lat, lon, start, end)  # fills the cache
            hits = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                _cached_prediction(tle, lat, lon, start, end)
                hits.append(time.perf_counter() - t0)
        print(
            f"  {label}: {len(passes)} passes\n"
            f"    cold, fresh interpreter: import {figures['import'] * 1000:6.0f} ms, "
            f"parse TLE {figures['parse'] * 1000:5.1f} ms, first prediction "
            f"{figures['first'] * 1000:6.1f} ms, second {figures['second'] * 1000:6.1f} ms\n"
            f"    warm, in process ({repeat} runs): {stats_ms(warm)}\n"
            f"    st.cache_data hit ({repeat} runs):  {stats_ms(hits)}"
        )


# --- main ------------------------------------------------------------------------------------


def quiet_logs() -> None:
    # The sandbox's access log would interleave with the figures.
    logging.getLogger("uvicorn.access").disabled = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=10, help="runs of each pass timing")
    parser.add_argument("--profile-top", type=int, default=12, help="0: no profile")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-new-task-") as tmp:
        # As tests/app/conftest.py: sandbox mode on our sandbox, nothing of the checkout's settings.
        for name in CREDENTIAL_ENV:
            os.environ.pop(name, None)
        os.environ.pop("ICEYE_HISTORY_URL", None)
        os.environ["ICEYE_DATA_DIR"] = str(Path(tmp) / "data")
        handle = start_in_background(Path(tmp) / "sandbox")
        os.environ["ICEYE_SANDBOX_URL"] = handle.url
        quiet_logs()
        cwd = Path.cwd()
        os.chdir(tmp)
        try:
            print(
                f"sandbox {handle.url}; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
                f"load average {os.getloadavg()[0]:.1f} (other work on the machine inflates times)"
            )
            with hooks():
                quiet_logs()
                bench_clicks(handle, args.clicks, args.profile_top)
            bench_passes(handle, args.repeat)
        finally:
            os.chdir(cwd)
            handle.stop()


if __name__ == "__main__":
    main()
