"""The offline basemap in Debian's Chromium with the network closed: the map of New task zoomed
to its cap over Rotterdam draws Natural Earth's 1:10m coast and names the places there.

The conftest's browser refuses every request that leaves the app (and its dead proxy catches
any that would slip past), so whatever is drawn came from ``/app/static/basemap/``. Waits are
on conditions of the page, never on time. The screenshot goes to
``test-artifacts/basemap-rotterdam-z12.png``.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Frame, Locator, Page, expect

from tests.e2e.conftest import ARTIFACTS
from ui.maps import MAX_ZOOM

pytestmark = pytest.mark.browser

CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
# The mouth of the port of Rotterdam (Europoort, Hoek van Holland, the Maasvlakte): at zoom 12 the
# view spans ~0.17° of longitude, with Natural Earth's coast (~4.02° E here) in its western part.
ROTTERDAM = (51.95, 4.07)
ROTTERDAM_CELL = "0_50"  # the 10° cell of static/basemap/10m/ that holds it
# Names the data has in that view (the gazetteer's World Port Index and GeoNames ports and
# harbours): at least two must be drawn, the rest may be left out where they would overlap.
NAMES_IN_VIEW = {
    "Europoort", "Hoek Van Holland", "Maasvlakte", "Beneluxhaven", "Berghaven", "Mississippiehaven",
    "Achtste Petroleumhaven", "Vierde Petroleumhaven", "Zesde Petroleumhaven", "Dintelhaven",
}  # fmt: skip

# The map's Leaflet object: streamlit-folium keeps it as window.map.
LEAFLET_MAP = "window.map"
PATHS_IN = "Array.from(document.querySelectorAll({selector!r})).filter(p => (p.getAttribute('d') || '').length > 20).length"
LAND_PATHS = PATHS_IN.format(
    selector="#map_div .leaflet-basemap-pane .leaflet-basemap-land-pane svg path"
)
LABELS = "Array.from(document.querySelectorAll('#map_div .leaflet-basemap-labels-pane .ne-label')).map(e => e.textContent)"


def wait_for_app(page: Page) -> None:
    page.wait_for_selector(CONNECTED, state="attached")
    page.wait_for_selector(IDLE, state="attached")


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def open_new_task(page: Page, app: str) -> None:
    page.goto(app)
    wait_for_app(page)
    page.get_by_test_id("stSidebar").get_by_role("link", name="New task", exact=True).click()
    expect(main(page).get_by_role("heading", name="New task", exact=True)).to_be_visible()
    wait_for_app(page)


def map_frame(page: Page) -> Frame:
    """The New task map's iframe, once Leaflet runs in it and the basemap has drawn land."""
    iframe = main(page).locator(MAP_IFRAME)
    expect(iframe).to_have_count(1)
    # First through a frame locator, which follows the iframe should Streamlit re-mount it while
    # the page settles (a handle taken too early can point at a detached frame and wait forever),
    # then the handle, once the page is idle.
    land = page.frame_locator(MAP_IFRAME).locator(
        "#map_div .leaflet-basemap-pane .leaflet-basemap-land-pane svg path"
    )
    expect(land.first).to_be_attached()
    wait_for_app(page)
    handle = iframe.element_handle()
    frame = handle.content_frame() if handle is not None else None
    assert frame is not None, "the map iframe has no document"
    frame.wait_for_function(
        f"() => !!{LEAFLET_MAP} && typeof L !== 'undefined' && !!L.NaturalEarthBasemap"
    )
    frame.wait_for_function(f"() => {LAND_PATHS} >= 1")
    return frame


def view(frame: Frame) -> dict[str, Any]:
    state: dict[str, Any] = frame.evaluate(
        f"""() => {{
            const m = {LEAFLET_MAP};
            const c = m.getCenter();
            return {{zoom: m.getZoom(), maxZoom: m.getMaxZoom(), lat: c.lat, lon: c.lng}};
        }}"""
    )
    return state


def test_basemap_at_zoom_12_over_rotterdam_draws_the_coast_and_names_places_offline(
    browser_page: Page, app_server: str
) -> None:
    page = browser_page
    open_new_task(page, app_server)
    frame = map_frame(page)
    assert view(frame)["maxZoom"] == MAX_ZOOM == 12

    # Zoom as far as the map lets anyone: a request for more stops at the cap.
    frame.evaluate(
        f"([lat, lon]) => {LEAFLET_MAP}.setView([lat, lon], {MAX_ZOOM + 3}, {{animate: false}})",
        list(ROTTERDAM),
    )
    frame.wait_for_function(f"() => {LEAFLET_MAP}.getZoom() === {MAX_ZOOM}")
    state = view(frame)
    assert state["zoom"] == MAX_ZOOM
    assert (state["lat"], state["lon"]) == pytest.approx(ROTTERDAM, abs=0.01), state

    # The 1:10m cell came from the app, and its land is drawn in place of the 1:50m world.
    cell = f"{app_server}/app/static/basemap/10m/{ROTTERDAM_CELL}.json"
    frame.wait_for_function(f"() => {LAND_PATHS} >= 1")
    frame.wait_for_function(f"() => {LABELS}.length >= 1")
    assert (cell, 200) in page.browser_log.responses, "the 1:10m cell was not loaded"  # type: ignore[attr-defined]

    ARTIFACTS.mkdir(exist_ok=True)
    main(page).locator(MAP_IFRAME).screenshot(path=str(ARTIFACTS / "basemap-rotterdam-z12.png"))

    # Land and sea both in view: sampled on a grid, some points of the map are inside a land
    # path's fill and some are not (the coast runs through the view).
    coverage = frame.evaluate(
        """() => {
            const box = document.querySelector('#map_div').getBoundingClientRect();
            const paths = Array.from(
                document.querySelectorAll('#map_div .leaflet-basemap-land-pane svg path'));
            let land = 0, total = 0;
            for (let x = box.left + 10; x < box.right; x += 40) {
                for (let y = box.top + 10; y < box.bottom; y += 40) {
                    total += 1;
                    if (paths.some(p => p.isPointInFill(
                            new DOMPoint(x, y).matrixTransform(p.getScreenCTM().inverse())))) {
                        land += 1;
                    }
                }
            }
            return {paths: paths.length, land: land, total: total};
        }"""
    )
    assert 0 < coverage["land"] < coverage["total"], f"no coast in view: {coverage}"

    names = set(frame.evaluate(LABELS))
    assert len(names & NAMES_IN_VIEW) >= 2, f"the port's places are not named: {sorted(names)}"

    print(f"names drawn at zoom {MAX_ZOOM} over Rotterdam: {sorted(names)}; land {coverage}")

    # Nothing left the app, for the basemap or anything else on the page.
    assert page.blocked_requests == [], f"requests outside the app: {page.blocked_requests}"  # type: ignore[attr-defined]
    basemap = ("/app/static/basemap/", "/app/static/vendor/topojson-client/")
    failed = [
        (u, s) for u, s in page.browser_log.responses if s >= 400 and any(b in u for b in basemap)
    ]  # type: ignore[attr-defined]
    assert failed == [], f"basemap files the app could not serve: {failed}"
