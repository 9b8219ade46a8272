"""Benchmark: how long a map click on New task takes to settle in a real browser (issue 11), and
what it costs the server and the websocket (issue 13).

Run from the repository root:  python bench/bench_click.py [--clicks 20] [--rounds 1]

The app runs as ``streamlit run app.py`` in sandbox mode on a fresh data directory (bench_memory's
``Server``); Debian's Chromium, through Playwright with a fresh profile, opens New task with the
broad demo contract at 1440×900 and clicks the map ``--clicks`` times at different pixels (after
3 warm-up clicks). A click is settled when Streamlit reports no script running and the Latitude
and Longitude fields show the clicked point (bench_memory's ``click_map``). Per click:

* click → settled, in the browser's wall time (the target: under 0.5 s, median of 20 clicks);
* the server's CPU (``utime + stime`` of the app's process tree) from the click to the next;
* the bytes the server sent on the websocket for the click, in all and by kind of message (each
  element by its type, a component by its name, ``ref`` for an unchanged large element the
  browser had cached), and the script runs it caused.

Not a test: it prints figures and asserts nothing. Timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench_memory import (  # bench/
    CHROMIUM_FLAGS,
    TIMEOUT_MS,
    Click,
    ScriptRuns,
    Server,
    click_map,
    cpu_seconds,
    next_click,
    open_new_task,
    wait_for_app,
    wait_for_map,
)
from playwright.sync_api import ViewportSize, WebSocket, expect, sync_playwright
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

WARM_UP = 3
DUMP = os.environ.get("BENCH_CLICK_DUMP")  # a file to append every server message to, as text
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}


def kind_of(payload: str | bytes) -> str:
    """What a server message carries: the element of a new-element delta (a component by its
    name), a reference to an element the browser has cached (``ref``), or the message's type."""
    if not isinstance(payload, bytes):
        return "text"
    message = ForwardMsg()
    try:
        message.ParseFromString(payload)
    except Exception:  # not a ForwardMsg
        return "other"
    kind = message.WhichOneof("type") or "other"
    if kind == "ref_hash":
        return "ref (cached element)"
    if kind != "delta":
        return kind
    delta = message.delta.WhichOneof("type") or "delta"
    if delta != "new_element":
        return delta
    element = message.delta.new_element.WhichOneof("type") or "element"
    if element == "component_instance":
        return f"component {message.delta.new_element.component_instance.component_name}"
    return element


@dataclass
class Bytes:
    """Bytes the server sent on the app's websocket, in all and by kind of message."""

    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    def watch(self, ws: WebSocket) -> None:
        ws.on("framereceived", self.on_frame)

    def on_frame(self, payload: str | bytes) -> None:
        self.total += len(payload)
        kind = kind_of(payload)
        self.by_kind[kind] += len(payload)
        if DUMP and isinstance(payload, bytes):
            with open(DUMP, "ab") as out:
                out.write(kind.encode() + b"\t" + str(len(payload)).encode() + b"\n")
                message = ForwardMsg()
                message.ParseFromString(payload)
                out.write(str(message).encode()[:60000] + b"\n====\n")


def tcp_sent(port: int) -> dict[str, int]:
    """Bytes the server has sent on each of its open TCP connections (``ss``), by peer: what
    actually crossed the wire, after the websocket's compression when it is on."""
    try:
        out = subprocess.run(
            ["ss", "-tinH", "state", "established", f"( sport = :{port} )"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    sent: dict[str, int] = {}
    peer = ""
    for row in out.splitlines():
        fields = row.split()
        if not row.startswith(("\t", " ")) and len(fields) >= 4:
            peer = fields[3]
        found = re.search(r"bytes_sent:(\d+)", row)
        if found and peer:
            sent[peer] = int(found.group(1))
    return sent


def wire_delta(before: dict[str, int], after: dict[str, int]) -> int:
    return sum(n - before.get(peer, 0) for peer, n in after.items())


@dataclass
class Round:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    sent_kb: list[float] = field(default_factory=list)
    wire_kb: list[float] = field(default_factory=list)
    kinds: list[Counter[str]] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    kinds_of_runs: Counter[str] = field(default_factory=Counter)
    missed: int = 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def play(url: str, server_pid: int, clicks: int, chromium: str, profile: Path) -> Round:
    result = Round()
    port = int(url.rsplit(":", 1)[1])
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport=VIEWPORT,
        )
        try:
            context.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            page = context.pages[0] if context.pages else context.new_page()
            runs, sent = ScriptRuns(), Bytes()
            page.on("websocket", runs.watch)
            page.on("websocket", sent.watch)
            open_new_task(page, url)
            div = wait_for_map(page)
            rng = random.Random(2026)
            previous: Click | None = None
            for number in range(WARM_UP + clicks):
                target = next_click(div, rng, previous)
                previous = target
                wait_for_app(page)
                cpu0, bytes0, runs0 = cpu_seconds(server_pid), sent.total, runs.total
                split0 = (runs.full, runs.fragment, runs.other)
                kinds0 = Counter(sent.by_kind)
                wire0 = tcp_sent(port)
                started = time.perf_counter()
                shown = click_map(page, target)
                wall = time.perf_counter() - started
                if number < WARM_UP:
                    continue
                if not shown:
                    result.missed += 1
                    continue
                wait_for_app(page)  # the click's own work, also what comes after it settled
                result.wall_ms.append(wall * 1000)
                result.cpu_ms.append((cpu_seconds(server_pid) - cpu0) * 1000)
                result.sent_kb.append((sent.total - bytes0) / 1024)
                result.kinds.append(sent.by_kind - kinds0)
                result.wire_kb.append(wire_delta(wire0, tcp_sent(port)) / 1024)
                result.runs.append(runs.total - runs0)
                split = (runs.full - split0[0], runs.fragment - split0[1], runs.other - split0[2])
                result.kinds_of_runs[
                    f"{split[0]} full, {split[1]} fragment, {split[2]} cut short"
                ] += 1
        finally:
            context.close()
    return result


def line(name: str, values: list[float], unit: str) -> str:
    return (
        f"  {name:<34} median {statistics.median(values):8.1f}  p90 {percentile(values, 90):8.1f}"
        f"  min {min(values):8.1f}  max {max(values):8.1f} {unit}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="fresh app and browser per round")
    args = parser.parse_args()
    chromium = os.environ.get("CHROMIUM") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), ""
    )
    if not chromium:
        raise SystemExit("no Chromium: apt-get install -y chromium")
    print(
        f"bench_click: {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, Python {sys.version.split()[0]}; "
        f"{args.clicks} clicks per round after {WARM_UP} warm-up, {args.rounds} round(s), "
        f"viewport {VIEWPORT['width']}×{VIEWPORT['height']}",
        flush=True,
    )
    total = Round()
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-click-") as tmp:
            server = Server(Path(tmp), [])
            try:
                pid = server.start()
                done = play(server.url, pid, args.clicks, chromium, Path(tmp) / "profile")
            except BaseException:
                print(
                    f"round {number + 1} failed; the server's log ends with:\n{server.log_tail()}"
                )
                raise
            finally:
                server.stop()
        for name in ("wall_ms", "cpu_ms", "sent_kb", "wire_kb", "kinds", "runs"):
            getattr(total, name).extend(getattr(done, name))
        total.kinds_of_runs.update(done.kinds_of_runs)
        total.missed += done.missed
    if not total.wall_ms:
        raise SystemExit("no click was shown")
    print(f"Map clicks on New task ({len(total.wall_ms)} shown, {total.missed} not shown):")
    print(line("click → settled in the browser", total.wall_ms, "ms (target < 500)"))
    print(line("server CPU per click", total.cpu_ms, "ms"))
    print(line("websocket bytes per click", total.sent_kb, "KiB (issue 13: < 15 KB)"))
    if total.wire_kb:
        print(line("TCP bytes sent per click (wire)", total.wire_kb, "KiB (issue 13: < 15 KB)"))
    print(f"  script runs per click: {sorted(set(total.runs))}")
    for name, count in total.kinds_of_runs.most_common():
        print(f"    {count:3d} clicks: {name}")
    print("  websocket bytes per click by kind of message (median over the clicks, KiB):")
    names = sorted({name for kinds in total.kinds for name in kinds})
    medians = {name: statistics.median(k[name] / 1024 for k in total.kinds) for name in names}
    for name in sorted(names, key=lambda n: -medians[n]):
        largest = max(k[name] for k in total.kinds) / 1024
        print(f"    {name:<44} median {medians[name]:7.2f}  max {largest:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
