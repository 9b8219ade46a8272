"""New campaign in Debian's Chromium (issue 12): draw a polygon on the map with the Leaflet.draw
toolbar (vendored: the route refuses every other origin), see its tiles and their count, check the
batch's feasibility, create the campaign, drive the sandbox clock until every task is DONE, and
open the campaign's view.

The app runs on a sandbox of this module (real time, so the default window does not move under
the test); the test reads the tasks and moves the clock through the sandbox's API. Every wait is on
a condition of the page or of the sandbox, never on time. Screenshots go to
``test-artifacts/campaign-<n>-<name>.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Frame, Locator, Page, Position, expect

from tasking.client import TaskingClient
from tasking.config import load_settings
from tasking.models import Task
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tests.e2e.conftest import ARTIFACTS, StreamlitApp, free_port

pytestmark = pytest.mark.browser

CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
NAME = "Baltic watch"
# A box over the southern Baltic, clicked corner by corner in the default world view (zoom 2: a
# pixel is about 0.35° of longitude). With Scan Wide scenes (200 × 300 km) it takes a few tiles.
CORNERS = ((52.0, 14.0), (52.0, 20.0), (55.0, 20.0), (55.0, 14.0))
MODE = "SCAN_WIDE"
# Each task passes through a few events (scheduling, capture, delivery); jumps to spare.
JUMPS_PER_TASK = 8


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("campaign-sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def campaign_app(sandbox: SandboxHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = StreamlitApp(
        tmp_path_factory.mktemp("campaign-app-data"),
        free_port(),
        env={"ICEYE_SANDBOX_URL": sandbox.url},
    )
    try:
        app.start()
        yield app.url
    finally:
        app.stop()


@pytest.fixture(scope="module")
def app_server(campaign_app: str) -> str:
    """The browser fixture's app: this module's, not the session's."""
    return campaign_app


@pytest.fixture
def client(sandbox: SandboxHandle, tmp_path: Path) -> Iterator[TaskingClient]:
    settings = load_settings(data_dir=tmp_path / "client")
    with TaskingClient.from_settings(
        settings,
        api_url=f"{sandbox.url}/api",
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=sandbox.url,
    ) as made:
        yield made


def settle(page: Page) -> None:
    page.wait_for_selector(CONNECTED, state="attached")
    page.wait_for_selector(IDLE, state="attached")
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def shot(page: Page, step: int, name: str) -> None:
    settle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"campaign-{step}-{name}.png"))


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def draw_ready_map(page: Page) -> Frame:
    """The campaign map's frame, once Leaflet, the basemap and the Draw toolbar are there."""
    iframe = main(page).locator(MAP_IFRAME)
    expect(iframe).to_have_count(1)
    handle = iframe.element_handle()
    frame = handle.content_frame() if handle is not None else None
    assert frame is not None, "the map iframe has no document"
    frame.wait_for_function("() => typeof window.L !== 'undefined' && !!window.L.Control.Draw")
    frame.wait_for_function(
        "() => document.querySelectorAll('#map_div .leaflet-basemap-pane svg path').length >= 2"
    )
    # The toolbar's icons are a spritesheet served by the app, not a CDN: loaded, not broken.
    frame.wait_for_function(
        """() => {
            const a = document.querySelector('.leaflet-draw-draw-polygon');
            return !!a && getComputedStyle(a).backgroundImage.includes('/app/static/vendor/leaflet-draw/');
        }"""
    )
    return frame


def leaflet_point(frame: Frame, lat: float, lon: float) -> Position:
    """Container pixel of (lat, lon) in the frame's Leaflet map."""
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


def campaign_tasks(client: TaskingClient) -> list[Task]:
    return [t for t in client.iter_tasks() if (t.reference or "").startswith(f"{NAME}: ")]


def test_draw_a_polygon_check_create_and_follow_the_campaign_to_done(
    browser_page: Page,
    app_server: str,
    sandbox: SandboxHandle,
    client: TaskingClient,
) -> None:
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{app_server}/new-campaign")
    settle(page)

    # The shared options: a mode with large scenes, and a name.
    main(page).get_by_role("combobox", name="Imaging mode").click()
    page.get_by_role("option", name=re.compile(MODE)).click()
    settle(page)
    name = main(page).get_by_role("textbox", name="Campaign name")
    name.fill(NAME)
    name.press("Enter")
    settle(page)

    # 1. Draw the polygon with the toolbar: the tool, four corners, Finish.
    frame = draw_ready_map(page)
    frame.get_by_title("Draw a polygon").click()
    surface = frame.locator("#map_div")
    for lat, lon in CORNERS:
        surface.click(position=leaflet_point(frame, lat, lon))
    frame.get_by_title("Finish drawing").click()
    expect(main(page)).to_contain_text("tiles over 1 area")
    settle(page)
    found = re.search(r"(\d+) tiles of Scan Wide", main(page).inner_text())
    assert found is not None, "the tile count is not shown"
    count = int(found.group(1))
    assert 2 <= count <= 20
    expect(main(page)).to_contain_text(f"{count} targets")
    # The tiles are drawn on the map: one footprint per tile (filled polygons of the overlay).
    frame.wait_for_function(
        "(n) => document.querySelectorAll('#map_div path.leaflet-interactive').length >= n",
        arg=count,
    )
    shot(page, 1, "tiles")

    # 2. One batch feasibility check: a verdict per target.
    main(page).get_by_role(
        "button", name=re.compile(f"Check feasibility of {count} targets")
    ).click()
    expect(main(page)).to_contain_text(f"Feasibility of {count} targets")
    settle(page)
    main(page).get_by_test_id("stDataFrame").first.scroll_into_view_if_needed()
    shot(page, 2, "feasibility")

    # 3. Confirm and create: a progress bar, then a result per target.
    main(page).get_by_role("button", name=re.compile(f"Create campaign of {count} tasks")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Cancellation policy")
    expect(dialog).to_contain_text(f"{count} tasks")
    shot(page, 3, "confirm")
    dialog.get_by_role("button", name=re.compile(f"Create {count} tasks")).click()
    expect(main(page)).to_contain_text(f"{count} of {count} tasks placed")
    settle(page)
    main(page).get_by_role(
        "button", name=re.compile("Open the campaign")
    ).scroll_into_view_if_needed()
    shot(page, 4, "created")
    tasks = campaign_tasks(client)
    assert len(tasks) == count

    # 4. The sandbox clock, event by event, until every task of the campaign is DONE.
    control = SandboxControl(sandbox.url)
    statuses: dict[str, str] = {}
    for _ in range(JUMPS_PER_TASK * count):
        statuses = {t.id: t.status for t in campaign_tasks(client)}
        if all(s == "DONE" for s in statuses.values()):
            break
        assert not {"REJECTED", "FAILED", "CANCELED"} & set(statuses.values()), statuses
        control.advance(to_next_event=True)
    assert len(statuses) == count and set(statuses.values()) == {"DONE"}, statuses

    # 5. The campaign's view opens from the result (its own page, ?campaign=<id>).
    main(page).get_by_role("button", name=re.compile("Open the campaign")).click()
    page.wait_for_url(re.compile(r"/campaigns\?campaign="))
    settle(page)
    expect(main(page)).to_contain_text(NAME)
    # The view reads the app's store, which the background worker brings up to date (the
    # sandbox's notifications, or polling): it follows the tasks to the end by itself.
    expect(main(page)).to_contain_text(re.compile(rf"Delivered\s*{count}(?!\d)"))
    expect(main(page).get_by_text(re.compile(r"· DONE"))).to_have_count(count)
    shot(page, 5, "campaign-view")
