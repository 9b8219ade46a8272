"""The Monitor in Debian's Chromium, as it is shown in a demo: the quicklook lies on the rotated
scene footprint (its corners on the footprint's corners, oriented as the sandbox renders it),
the planned scene survives a reload without a worker (``ICEYE_WORKER=off``), and the layout holds
at 1440×900 (map, status and products above the fold, details collapsed), 1024×768 (no clipped
text) and 390×844 (the timeline fits the screen).

The app runs against a sandbox started here (the test moves its clock and orders through its API,
as another client would) and polls it itself. Screenshots go to
``test-artifacts/monitor-layout-<width>x<height>.png``. Every wait is on a condition.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Frame, Page, expect

from tasking.client import TaskingClient
from tasking.config import load_settings
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tests.app.helpers import order
from tests.e2e.conftest import ARTIFACTS, StreamlitApp, free_port
from tests.e2e.test_journey import main, map_frame, settle, wait_for_app

pytestmark = pytest.mark.browser

QUICKLOOK_IMG = "#map_div .leaflet-overlay-pane img[alt='Quicklook on the scene footprint']"
# The plugin places three corners exactly (sub-pixel rounding of CSS transforms aside) and the
# fourth where they imply: on a 5 km scene that is within a pixel of the geodesic corner.
CORNER_TOLERANCE_PX = 2.5
MIN_FOOTPRINT_PX = 40  # the check means something only when the footprint is drawn large
SIZES = ((1440, 900), (1024, 768), (390, 844))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("layout-sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def polling_app(
    sandbox: SandboxHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StreamlitApp]:
    """The app without a worker: the Monitor polls the sandbox itself."""
    env = {"ICEYE_SANDBOX_URL": sandbox.url, "ICEYE_WORKER": "off"}
    app = StreamlitApp(tmp_path_factory.mktemp("layout-app-data"), free_port(), env=env)
    try:
        app.start()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def app_server(polling_app: StreamlitApp) -> str:
    """The browser fixture's app: this module's, not the session's."""
    return polling_app.url


@pytest.fixture()
def client(sandbox: SandboxHandle, tmp_path: Path) -> Iterator[TaskingClient]:
    with TaskingClient.from_settings(
        load_settings(data_dir=tmp_path),
        api_url=sandbox.api_url,
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=sandbox.url,
    ) as made:
        yield made


def advance_until(
    client: TaskingClient, control: SandboxControl, task_id: str, status: str
) -> None:
    for _ in range(20):
        if client.get_task(task_id).status == status:
            return
        control.advance(to_next_event=True)
    pytest.fail(f"task {task_id} never reached {status}")


def screenshot(page: Page, width: int, height: int) -> Path:
    settle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"monitor-layout-{width}x{height}.png"
    page.screenshot(path=str(path))
    return path


# The screen corners of the quicklook image (through every CSS transform, read from zero-size
# probes at the corners of a copy of the image's box) and of the footprint polygon (Leaflet's
# projection of its vertices), in the frame's viewport pixels.
_CORNERS_JS = """(selector) => {
    const map = Object.values(window).find(v => {
        try { return v instanceof L.Map; } catch (e) { return false; }
    });
    let footprint = null;
    map.eachLayer(layer => {
        const tip = layer instanceof L.Polygon && layer.getTooltip && layer.getTooltip();
        if (tip && String(tip.getContent()).includes('Scene footprint')) { footprint = layer; }
    });
    if (!footprint) { return null; }
    const box = map.getContainer().getBoundingClientRect();
    const polygon = footprint.getLatLngs()[0].map(ll => {
        const p = map.latLngToContainerPoint(ll);
        return [p.x + box.left, p.y + box.top];
    });
    const img = document.querySelector(selector);
    const probe = document.createElement('div');
    const style = getComputedStyle(img);
    probe.style.cssText = 'position:absolute;left:0;top:0;pointer-events:none;'
        + `width:${img.offsetWidth}px;height:${img.offsetHeight}px;`
        + `transform-origin:${style.transformOrigin};transform:${style.transform}`;
    const probes = [[0, 0], [100, 0], [100, 100], [0, 100]].map(([x, y]) => {
        const corner = document.createElement('div');
        corner.style.cssText = `position:absolute;left:${x}%;top:${y}%;width:0;height:0`;
        probe.appendChild(corner);
        return corner;
    });
    img.parentElement.appendChild(probe);
    const image = probes.map(c => { const r = c.getBoundingClientRect(); return [r.left, r.top]; });
    probe.remove();
    return {polygon, image};
}"""


def quicklook_on_map(frame: Frame) -> dict[str, Any]:
    frame.wait_for_function(
        """(selector) => {
            const img = document.querySelector(selector);
            return !!img && img.complete && img.naturalWidth > 0
                && img.style.display !== 'none' && getComputedStyle(img).transform !== 'none';
        }""",
        arg=QUICKLOOK_IMG,
    )
    corners: dict[str, Any] | None = frame.evaluate(_CORNERS_JS, QUICKLOOK_IMG)
    assert corners is not None, "no scene footprint on the map"
    return corners


def _distance(a: list[float], b: list[float]) -> float:
    return float(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5)


def expected_image_corners(polygon: list[list[float]], look_side: str) -> list[list[float]]:
    """Image top-left, top-right, bottom-right, bottom-left on the footprint (near-start,
    far-start, far-end, near-end), as the sandbox renders its quicklook: flight direction up,
    near range on the satellite's side (left of the image when looking RIGHT)."""
    near_start, far_start, far_end, near_end = polygon
    if look_side == "LEFT":
        return [far_end, near_end, near_start, far_start]
    return [near_end, far_end, far_start, near_start]


def clipped_texts(page: Page) -> list[str]:
    """Texts of the main area cut off by their box: wider than it, with the overflow hidden (an
    ellipsis, a cut label such as "COMMERCIA")."""
    found: list[str] = page.evaluate(
        """() => Array.from(document.querySelectorAll("[data-testid='stMain'] *"))
            .filter(el => el.offsetParent !== null && el.children.length === 0
                && el.innerText && el.innerText.trim() !== ''
                && el.scrollWidth > el.clientWidth + 1
                && ['hidden', 'clip'].includes(getComputedStyle(el).overflowX))
            .map(el => el.innerText.trim())"""
    )
    return found


def test_monitor_quicklook_on_footprint_planned_scene_after_reload_and_layouts(
    browser_page: Page, sandbox: SandboxHandle, client: TaskingClient, app_server: str
) -> None:
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})
    control = SandboxControl(sandbox.url)
    task = order(client, control, reference="Layout demo")
    advance_until(client, control, task.id, "ACTIVE")

    # ACTIVE: the page reads the plan and keeps it in the app's local history.
    page.goto(f"{app_server}/monitor?task={task.id}")
    wait_for_app(page)
    expect(main(page).get_by_role("heading", name="Layout demo")).to_be_visible()
    expect(main(page).get_by_text("Planned values as this app first saw them at")).to_be_visible()

    # Captured and delivered while the page is open; then a reload (a new session) in DONE,
    # when ICEYE's scene endpoint gives only the actual scene.
    advance_until(client, control, task.id, "DONE")
    page.reload()
    wait_for_app(page)
    badge = main(page).locator(".stMarkdownBadge").first
    expect(badge).to_contain_text("DONE")
    expect(main(page).get_by_text("(kept in this app's local history)")).to_be_visible()
    scene_table = main(page).locator("table").filter(has_text="Planned")
    expect(scene_table).to_contain_text("Imaging start")
    assert "—" not in scene_table.locator("tr").nth(1).inner_text(), "planned start missing"

    # The quicklook on the rotated footprint, corner on corner.
    frame = map_frame(page)
    found = quicklook_on_map(frame)
    caption = main(page).get_by_text(re.compile(r"^Actual geometry: .* looking (LEFT|RIGHT)"))
    expect(caption).to_be_visible()
    look = re.search(r"looking (LEFT|RIGHT)", caption.inner_text())
    assert look is not None
    polygon, image = found["polygon"], found["image"]
    assert len(polygon) == 4
    assert _distance(polygon[0], polygon[2]) > MIN_FOOTPRINT_PX, found
    wanted = expected_image_corners(polygon, look.group(1))
    for name, got, want in zip(
        ("top-left", "top-right", "bottom-right", "bottom-left"), image, wanted, strict=True
    ):
        assert _distance(got, want) <= CORNER_TOLERANCE_PX, (name, got, want, found)
    # Not drawn upright: a footprint on a polar orbit's track is turned well off north.
    assert abs(image[0][1] - image[1][1]) > 5, f"the quicklook is not rotated: {image}"

    # 1440×900: status, map and products above the fold; details collapsed.
    expect(badge).to_be_in_viewport()
    expect(main(page).locator('iframe[title="streamlit_folium.st_folium"]')).to_be_in_viewport()
    products = main(page).get_by_text("Products", exact=True)
    expect(products).to_be_in_viewport()
    first_download = main(page).get_by_test_id("stDownloadButton").first
    expect(first_download).to_be_in_viewport()
    details = main(page).get_by_test_id("stExpander").filter(has_text="Task details")
    expect(details.locator("details")).not_to_have_attribute("open", re.compile(".*"))
    shots = [screenshot(page, 1440, 900)]

    # 1024×768: nothing cut off.
    page.set_viewport_size({"width": 1024, "height": 768})
    wait_for_app(page)
    map_frame(page)
    assert clipped_texts(page) == []
    shots.append(screenshot(page, 1024, 768))

    # 390×844 (a phone): the timeline fits the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    wait_for_app(page)
    timeline = main(page).locator(".tl")
    expect(timeline).to_be_visible()
    overflow = timeline.evaluate("el => el.scrollWidth - el.clientWidth")
    box = timeline.bounding_box()
    assert overflow <= 1 and box is not None and box["x"] + box["width"] <= 390, (overflow, box)
    assert clipped_texts(page) == []
    shots.append(screenshot(page, 390, 844))
    print("screenshots:", ", ".join(p.name for p in shots))
    assert page.blocked_requests == []  # type: ignore[attr-defined]
