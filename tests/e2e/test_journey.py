"""The whole tasking journey in Debian's Chromium against `streamlit run app.py`, network closed.

Contracts → New task (click the map, check feasibility, create) → Monitor (jump the simulation
clock to DONE, quicklook, download) → All tasks (search, open) → a deep link reloaded; then the
issue 5 extras (pass timeline, footprint, exports), each skipped only while its page does not
import the feature; last, the deep link as the first visit after the app restarts.

Every wait is on a condition of the page (Streamlit's script state, a text, an element, a
JavaScript predicate), never on time. Screenshots of each step go to
``test-artifacts/journey-<n>-<name>.png``; the conftest adds a screenshot, trace and browser log
of any failure.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import uuid4
from xml.etree import ElementTree

import pytest
from playwright.sync_api import Download, Frame, Locator, Page, Position, expect

from tests.e2e.conftest import ARTIFACTS, ROOT, StreamlitApp

pytestmark = pytest.mark.browser

CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
# The broad demo contract of the sandbox (tasking/sandbox/seed.py): every mode, no pricing.
CONTRACT = "Demo Analytics — Constellation Tasking"
# A point over land in the default view (ui/maps.py: centre 30° N 10° E, zoom 2): Paris.
TARGET = (48.8566, 2.3522)
# One pixel at zoom 2 is about 0.35° of longitude: a click lands within a degree of its target.
CLICK_TOLERANCE_DEG = 1.0
# Each jump reaches the next event (scheduling, capture, delivery); a few spare for other events.
MAX_JUMPS = 12
STAGES = ("Received", "Scheduled", "Captured", "Complete")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF

# Shared by the tests of this module, in order: what the journey created.
JOURNEY: dict[str, str] = {}


# --- helpers ---------------------------------------------------------------------------------


def shot(page: Page, step: int, name: str) -> None:
    """Screenshot of what the user sees once the page has settled (Streamlit scrolls inside the
    page, so it is the viewport)."""
    settle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"journey-{step}-{name}.png"))


def wait_for_app(page: Page) -> None:
    """Streamlit connected and no script running (after a navigation; actions wait on results)."""
    page.wait_for_selector(CONNECTED, state="attached")
    page.wait_for_selector(IDLE, state="attached")


def settle(page: Page) -> None:
    """Idle, and every element drawn: Streamlit shows a skeleton (``stSkeleton``) while an
    element's code or a component's iframe is still loading."""
    wait_for_app(page)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    # Issue 4: "no page ever shows a traceback".
    expect(page.get_by_test_id("stException")).to_have_count(0)


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def sidebar(page: Page) -> Locator:
    return page.get_by_test_id("stSidebar")


def map_frame(page: Page, scope: Locator | None = None) -> Frame:
    """The (only) streamlit-folium iframe of ``scope``, once Leaflet and the basemap are drawn."""
    iframe = (scope or main(page)).locator(MAP_IFRAME)
    expect(iframe).to_have_count(1)
    handle = iframe.element_handle()
    frame = handle.content_frame() if handle is not None else None
    assert frame is not None, "the map iframe has no document"
    # Leaflet itself, loaded from the app (the route refuses every other origin).
    frame.wait_for_function("() => typeof window.L !== 'undefined' && !!window.L.Map")
    frame.wait_for_function("() => !!document.querySelector('#map_div.leaflet-container')")
    # The offline basemap: Natural Earth land and borders, drawn as SVG in their own pane once
    # both GeoJSON files have loaded from /app/static (ui/maps.py NaturalEarthBasemap).
    frame.wait_for_function(
        "() => document.querySelectorAll('#map_div .leaflet-basemap-pane svg path').length >= 2"
    )
    return frame


# In the world view of New task the coastlines and borders are long outlines, not clipped stubs.
_BASEMAP_DRAWN_JS = """() => Array.from(document.querySelectorAll('.leaflet-basemap-pane svg path'))
    .filter(p => (p.getAttribute('d') || '').length > 1000).length >= 2"""


def leaflet_point(frame: Frame, lat: float, lon: float) -> Position:
    """Container pixel of (lat, lon) in the frame's Leaflet map, whatever its name."""
    point: Position = frame.evaluate(
        """([lat, lon]) => {
            const map = Object.values(window).find(v => {
                try { return v instanceof L.Map; } catch (e) { return false; }
            });
            if (!map) { throw new Error('no Leaflet map in the frame'); }
            const p = map.latLngToContainerPoint([lat, lon]);
            return {x: p.x, y: p.y};
        }""",
        [lat, lon],
    )
    return point


def number_value(field: Locator) -> float:
    text = field.input_value().strip()
    assert text, "the field is empty"
    return float(text)


def status_badge(page: Page) -> Locator:
    return main(page).locator(".stMarkdownBadge").first


def status_of(page: Page) -> str:
    # The badge's text is its icon's ligature name then the status, e.g. "check DONE".
    return status_badge(page).inner_text().split()[-1]


# Sidebar caption of the simulation clock, without the "(in … simulated)" part that ticks.
_NEXT_EVENT_JS = """() => {
    const side = document.querySelector("[data-testid='stSidebar']");
    const found = side && side.innerText.match(/Next event [^(\\n]*|No event due/);
    return found ? found[0].trim() : '';
}"""
_STATUS_JS = """() => {
    const badge = document.querySelector("[data-testid='stMain'] .stMarkdownBadge");
    return badge ? badge.innerText.trim().split(/\\s+/).pop() : '';
}"""


def jump_until_done(page: Page) -> list[str]:
    """Press "Jump to next event" until the task is DONE; the statuses seen, in order."""
    jump = sidebar(page).get_by_role("button", name="Jump to next event")
    seen = [status_of(page)]
    for _ in range(MAX_JUMPS):
        # Ready when DONE or when there is an event to jump to. The sidebar re-reads the clock at
        # most every 30 s (tasking/clock.py CLOCK_MAX_AGE_S): right after creation it may still say
        # "No event due" for a while.
        page.wait_for_function(
            f"""() => ({_STATUS_JS})() === 'DONE' || Array.from(
                document.querySelectorAll("[data-testid='stSidebar'] button")
            ).some(b => b.innerText.includes('Jump to next event') && !b.disabled)"""
        )
        status = status_of(page)
        if status != seen[-1]:
            seen.append(status)
        if status == "DONE":
            return seen
        assert status in ("RECEIVED", "ACTIVE", "FULFILLED"), f"unexpected status {status}"
        before = [page.evaluate(_STATUS_JS), page.evaluate(_NEXT_EVENT_JS)]
        jump.click()
        # The jump is done when the status or the next event changed.
        page.wait_for_function(
            f"""(before) => {{
                const now = [({_STATUS_JS})(), ({_NEXT_EVENT_JS})()];
                return now[0] !== '' && (now[0] !== before[0] || now[1] !== before[1]);
            }}""",
            arg=before,
        )
    pytest.fail(f"not DONE after {MAX_JUMPS} jumps; statuses seen: {seen}")


def check_file(download: Download, target: Path) -> str:
    """Save a download and check it is the file its name says; returns its kind."""
    download.save_as(target)
    data = target.read_bytes()
    name = download.suggested_filename
    assert data, f"{name} is empty"
    suffix = Path(name).suffix.lower()
    if suffix == ".png":
        assert data.startswith(PNG_MAGIC), f"{name} is not a PNG: {data[:8]!r}"
        return "png"
    if suffix in (".tif", ".tiff"):
        assert data.startswith(TIFF_MAGICS), f"{name} is not a TIFF: {data[:4]!r}"
        return "tiff"
    if suffix in (".json", ".geojson"):
        json.loads(data)  # raises on anything but JSON
        return "json"
    if suffix in (".xml", ".kml"):
        root = ElementTree.fromstring(data)  # raises on anything but XML
        if suffix == ".kml":
            assert root.tag.endswith("kml"), f"{name} is not KML: root {root.tag}"
            return "kml"
        return "xml"
    pytest.fail(f"unexpected product file {name!r} (first bytes {data[:8]!r})")


def _imports(path: Path) -> set[str]:
    """Modules a file imports (``from a import b`` gives ``a`` and ``a.b``: b may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def page_uses(page_file: str, module: str) -> bool:
    """Whether ``views/<page_file>`` imports ``module``, directly or through the app's own
    modules: how the issue 5 extras tell a feature not built into the page yet (skip) from one
    that is built and broken (fail)."""
    seen: set[str] = set()
    todo = [ROOT / "views" / page_file]
    while todo:
        path = todo.pop()
        for name in _imports(path) - seen:
            seen.add(name)
            candidate = ROOT.joinpath(*name.split(".")).with_suffix(".py")
            if candidate.is_file():
                todo.append(candidate)
    return module in seen


def journey_task() -> dict[str, str]:
    if "task_id" not in JOURNEY:
        pytest.skip("needs the task created by test_journey, which did not get that far")
    return JOURNEY


def open_from_sidebar(page: Page, app: str, title: str) -> None:
    """Open the app at its root, then a page by its sidebar link (as a user does)."""
    page.goto(app)
    wait_for_app(page)
    sidebar(page).get_by_role("link", name=title, exact=True).click()
    expect(main(page).get_by_role("heading", name=title, exact=True)).to_be_visible()
    wait_for_app(page)


def open_task_in_new_page(page: Page, app: str, task_id: str) -> Page:
    fresh = page.context.new_page()
    fresh.goto(f"{app}/monitor?task={task_id}")
    wait_for_app(fresh)
    return fresh


# --- the journey -----------------------------------------------------------------------------


def test_journey_from_contract_to_download_works_offline(
    browser_page: Page, app_server: str, tmp_path: Path
) -> None:
    page = browser_page
    reference = f"e2e-journey-{uuid4().hex[:10]}"

    # 1. Open the app: the Contracts page of the sandbox.
    page.goto(app_server)
    wait_for_app(page)
    expect(main(page).get_by_role("heading", name="Contracts", exact=True)).to_be_visible()
    expect(sidebar(page).get_by_text("Sandbox", exact=False).first).to_be_visible()
    card_heading = page.get_by_role("heading", name=CONTRACT, exact=True)
    expect(main(page).locator(card_heading)).to_be_visible()
    shot(page, 1, "contracts")

    # 2. Choose the broad demo contract → New task.
    card = main(page).get_by_test_id("stVerticalBlock").filter(has=card_heading).last
    card.get_by_role("button", name="Use this contract").click()
    expect(page).to_have_url(re.compile(r"/new-task"))
    expect(main(page).get_by_role("heading", name="New task", exact=True)).to_be_visible()
    wait_for_app(page)
    expect(main(page).get_by_text(CONTRACT).first).to_be_visible()
    shot(page, 2, "new-task")

    # 3. The map: Leaflet and the offline basemap load from the app; a click over land sets the
    #    point and moves the marker without re-mounting the map.
    frame = map_frame(page)
    assert frame.evaluate(_BASEMAP_DRAWN_JS), "the basemap has no coastline or border outlines"
    leaflet = f"{app_server}/app/static/vendor/leaflet/leaflet.js"
    assert (leaflet, 200) in page.browser_log.responses, "Leaflet did not come from /app/static"  # type: ignore[attr-defined]
    from_map = [url for url, origin in page.browser_log.blocked if "streamlit_folium" in origin]  # type: ignore[attr-defined]
    assert not from_map, f"the map asked for files outside the app: {from_map}"
    latitude = main(page).get_by_label("Latitude (°)", exact=True)
    longitude = main(page).get_by_label("Longitude (°)", exact=True)
    expect(latitude).to_have_value("")
    frame.evaluate("() => { window.__e2eMounted = true; }")
    main(page).frame_locator(MAP_IFRAME).locator("#map_div").click(
        position=leaflet_point(frame, *TARGET)
    )
    expect(latitude).not_to_have_value("")
    expect(longitude).not_to_have_value("")
    assert number_value(latitude) == pytest.approx(TARGET[0], abs=CLICK_TOLERANCE_DEG)
    assert number_value(longitude) == pytest.approx(TARGET[1], abs=CLICK_TOLERANCE_DEG)
    marker = main(page).frame_locator(MAP_IFRAME).locator(".leaflet-marker-pane > *")
    expect(marker).to_have_count(1)
    assert map_frame(page).evaluate("() => window.__e2eMounted === true"), "the map re-mounted"
    reference_field = main(page).get_by_role("textbox", name="Reference", exact=True)
    reference_field.fill(reference)
    reference_field.press("Enter")
    expect(reference_field).to_have_value(reference)
    wait_for_app(page)
    shot(page, 3, "point-set")

    # 4. Feasibility: a clear verdict, feasible for a 2-day default window on the broad contract.
    main(page).get_by_role("button", name="Check feasibility").click()
    verdict = (
        main(page).get_by_test_id("stAlert").filter(has_text=re.compile(r"Feasible|Not feasible"))
    )
    expect(verdict).to_have_count(1)
    expect(verdict).to_contain_text("Feasible: the constellation can image this point")
    expect(verdict).not_to_contain_text("check again")
    verdict.scroll_into_view_if_needed()
    shot(page, 4, "feasibility")

    # 5. Create → confirmation (full order, cancellation policy) → Monitor on the new task.
    main(page).get_by_role("button", name=re.compile(r"^Create task")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(reference)
    expect(dialog).to_contain_text(CONTRACT)
    expect(dialog).to_contain_text("Cancellation policy")
    shot(page, 5, "confirmation")
    dialog.get_by_role("button", name="Create task", exact=True).click()
    expect(page).to_have_url(re.compile(r"/monitor\?(.*&)?task="))
    task_id = parse_qs(urlparse(page.url).query)["task"][0]
    JOURNEY.update(task_id=task_id, reference=reference)
    expect(main(page).get_by_role("heading", name=reference)).to_be_visible()
    expect(status_badge(page)).to_have_text(re.compile(r"RECEIVED|ACTIVE"))
    expect(main(page).get_by_text(task_id).first).to_be_visible()
    shot(page, 5, "monitor")

    # 6. Jump the simulation clock until DONE: timeline, quicklook, product downloads.
    seen = jump_until_done(page)
    expect(main(page).get_by_text("Final status", exact=False)).to_be_visible()
    timeline = main(page).locator(".tl")
    for label in STAGES:
        expect(timeline.get_by_text(label, exact=True)).to_be_visible()
    expect(timeline.locator(".tl-step.done")).to_have_count(len(STAGES))
    shot(page, 6, "done")
    quicklook = main(page).get_by_test_id("stImage").filter(has_text="Quicklook").locator("img")
    expect(quicklook).to_have_count(1)
    quicklook.scroll_into_view_if_needed()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0",
        arg=quicklook.element_handle(),
    )
    shot(page, 6, "quicklook")
    buttons = main(page).get_by_test_id("stDownloadButton").get_by_role("button")
    expect(buttons.first).to_be_visible()
    kinds: dict[str, str] = {}
    for index in range(buttons.count()):
        button = buttons.nth(index)
        label = button.inner_text().strip()
        if label in kinds:
            continue  # one file of each kind of asset is enough
        with page.expect_download() as download:
            button.click()
        kinds[label] = check_file(download.value, tmp_path / f"download-{index}")
    assert "png" in kinds.values(), f"no PNG among the downloads: {kinds}"
    print(f"statuses seen: {seen}; downloads: {kinds}")

    # 7. All tasks: search by the reference, find the row, open it in the Monitor.
    sidebar(page).get_by_role("link", name="All tasks").click()
    expect(main(page).get_by_role("heading", name="All tasks", exact=True)).to_be_visible()
    wait_for_app(page)
    search = main(page).get_by_role("textbox", name="Search", exact=True)
    search.fill(reference)
    search.press("Enter")
    expect(main(page).get_by_text(re.compile(r"^1 of \d+ loaded tasks match"))).to_be_visible()
    grid = main(page).get_by_test_id("stDataFrame")
    canvas = grid.get_by_test_id("data-grid-canvas")
    # The grid draws on a canvas; focused, it renders its cells as an accessible table inside
    # the canvas (fallback content, so not "visible": matched by CSS, not by role).
    canvas.focus()

    def cell(text: str) -> Locator:
        return page.locator("td[role='gridcell']", has_text=re.compile(rf"^{re.escape(text)}$"))

    row = grid.locator("tr[role='row']").filter(has=cell(reference))
    expect(row).to_have_count(1)
    # The task id is the last column, drawn only when scrolled to: the Monitor's URL shows it.
    expect(row.locator(cell("DONE"))).to_have_count(1)
    shot(page, 7, "all-tasks")
    # Select the row: its selection box is in the first column, and the row is the only one.
    box = canvas.bounding_box()
    header = grid.locator("canvas").nth(1).bounding_box()
    assert box is not None and header is not None
    # (A mouse click where the user would click: the grid's scroller lies over its canvas.)
    page.mouse.click(
        box["x"] + 12, box["y"] + header["height"] + (box["height"] - header["height"]) / 2
    )
    expect(page).to_have_url(re.compile(rf"/monitor\?(.*&)?task={task_id}"))
    expect(main(page).get_by_role("heading", name=reference)).to_be_visible()

    # 8. A deep link, loaded in a fresh page (a new session), then reloaded.
    linked = open_task_in_new_page(page, app_server, task_id)
    expect(main(linked).get_by_role("heading", name=reference)).to_be_visible()
    expect(status_badge(linked)).to_have_text(re.compile(r"DONE$"))
    linked.reload()
    wait_for_app(linked)
    expect(main(linked).get_by_role("heading", name=reference)).to_be_visible()
    expect(linked).to_have_url(re.compile(rf"/monitor\?(.*&)?task={task_id}"))
    map_frame(linked)  # the task's map, drawn in the new session too
    shot(linked, 8, "deep-link")

    # Nothing was needed from outside the app: no CDN, no tiles, no fonts.
    assert page.blocked_requests == [], f"requests outside the app: {page.blocked_requests}"  # type: ignore[attr-defined]


# --- issue 5 extras --------------------------------------------------------------------------


def test_new_task_shows_the_pass_timeline_chart(browser_page: Page, app_server: str) -> None:
    if not page_uses("new_task.py", "tasking.passes"):
        pytest.skip(
            "New task has no pass prediction yet (views/new_task.py never imports tasking.passes)"
        )
    page = browser_page
    open_from_sidebar(page, app_server, "New task")
    frame = map_frame(page)
    main(page).frame_locator(MAP_IFRAME).locator("#map_div").click(
        position=leaflet_point(frame, *TARGET)
    )
    expect(main(page).get_by_label("Latitude (°)", exact=True)).not_to_have_value("")
    chart = main(page).get_by_test_id("stVegaLiteChart").first
    expect(chart).to_be_visible()
    # Drawn, not just declared: Vega's SVG renderer gives every mark item an ARIA role, and the
    # passes are symbols (kept / excluded by colour, look side by shape).
    passes = chart.locator("[aria-roledescription='symbol mark container'] > *")
    expect(passes.first).to_be_attached()
    print(f"pass marks drawn: {passes.count()}")
    chart.scroll_into_view_if_needed()
    shot(page, 9, "pass-timeline")


def test_monitor_map_shows_the_scene_footprint(browser_page: Page, app_server: str) -> None:
    if not page_uses("monitor.py", "tasking.geometry"):
        pytest.skip(
            "the Monitor has no scene geometry yet (views/monitor.py never imports tasking.geometry)"
        )
    task = journey_task()
    page = open_task_in_new_page(browser_page, app_server, task["task_id"])
    expect(main(page).get_by_role("heading", name=task["reference"])).to_be_visible()
    frame = map_frame(page)
    # The footprint: an SVG path drawn over the basemap (the basemap has its own pane).
    frame.wait_for_function(
        """() => Array.from(document.querySelectorAll('#map_div .leaflet-map-pane svg path'))
                   .filter(p => !p.closest('.leaflet-basemap-pane'))
                   .filter(p => /L/.test(p.getAttribute('d') || '')).length >= 1"""
    )
    main(page).locator(MAP_IFRAME).scroll_into_view_if_needed()
    shot(page, 9, "footprint")


def _download(page: Page, name: re.Pattern[str], target: Path) -> bytes:
    button = main(page).get_by_test_id("stDownloadButton").get_by_role("button", name=name)
    expect(button).to_have_count(1)
    with page.expect_download() as download:
        button.click()
    download.value.save_as(target)
    return target.read_bytes()


def test_all_tasks_exports_the_list_as_csv_and_geojson(
    browser_page: Page, app_server: str, tmp_path: Path
) -> None:
    if not page_uses("tasks.py", "tasking.export"):
        pytest.skip("All tasks has no export yet (views/tasks.py never imports tasking.export)")
    task = journey_task()
    page = browser_page
    open_from_sidebar(page, app_server, "All tasks")
    expect(main(page).get_by_text(re.compile(r"loaded tasks match"))).to_be_visible()

    table = _download(page, re.compile("CSV", re.I), tmp_path / "tasks.csv").decode("utf-8-sig")
    rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(table)))
    mine = [r for r in rows if task["task_id"] in r.values()]
    assert len(mine) == 1, f"the CSV has {len(mine)} rows for the journey's task: {rows}"
    assert task["reference"] in mine[0].values()

    collection = json.loads(
        _download(page, re.compile("GeoJSON", re.I), tmp_path / "tasks.geojson")
    )
    assert collection["type"] == "FeatureCollection"
    features = [
        f for f in collection["features"] if task["task_id"] in json.dumps(f.get("properties"))
    ]
    assert len(features) == 1, "the GeoJSON has no single feature for the journey's task"
    assert features[0]["geometry"]["type"] in ("Point", "Polygon", "MultiPolygon")
    main(page).get_by_test_id("stDownloadButton").first.scroll_into_view_if_needed()
    shot(page, 9, "exports")


# --- last: the same deep link after a restart of the app -------------------------------------


def test_deep_link_opens_the_task_after_the_app_restarts(
    browser_page: Page, streamlit_app: StreamlitApp
) -> None:
    """A bookmark (or a tab reconnecting) right after the app restarts: the first session of the
    new process opens the task in the app's own frame, with its history kept on disk."""
    task = journey_task()
    streamlit_app.restart()
    page = browser_page
    page.goto(f"{streamlit_app.url}/monitor?task={task['task_id']}")
    wait_for_app(page)
    # The app's navigation and sidebar, not a page run on its own (Streamlit's pages/ folder).
    expect(sidebar(page).get_by_role("link", name="All tasks")).to_be_visible()
    expect(sidebar(page).get_by_text("Sandbox", exact=False).first).to_be_visible()
    expect(main(page).get_by_role("heading", name=task["reference"])).to_be_visible()
    expect(status_badge(page)).to_have_text(re.compile(r"DONE$"))
    expect(main(page).locator(".tl .tl-step.done")).to_have_count(len(STAGES))
    shot(page, 10, "after-restart")
