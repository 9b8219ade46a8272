"""New task in Debian's Chromium (issue 11): the order's actions above the fold beside a live
summary, a pass picked on the table (and on the chart) highlighted on the map, "Aim for this pass",
feasibility with the satellite named; screenshots at 1440×900, 1024×768 and 390×844 go to
``test-artifacts/new-task-<size>-<name>.png``.

Every wait is on a condition of the page (Streamlit's script state, a text, an element), never on
time.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, WebSocket, expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
SIZES = ((1440, 900), (1024, 768), (390, 844))
# The selected pass's colour on the map (ui/passes_view.py SELECTED_COLOUR).
SELECTED = "#e08a00"
QUALIFIES = "✓ qualifies"
# st.dataframe draws 35 px rows (Streamlit's e2e helpers click cells by that pitch).
ROW_PX = 35


def wait_for_app(page: Page) -> None:
    page.wait_for_selector(CONNECTED, state="attached")
    page.wait_for_selector(IDLE, state="attached")


def settle(page: Page) -> None:
    wait_for_app(page)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def panel(page: Page) -> Locator:
    """The live order summary with its actions (ui/keys.py ORDER_PANEL)."""
    return main(page).locator(".st-key-nt_order_panel")


def to_top(page: Page) -> None:
    heading = main(page).get_by_role("heading", name="New task", exact=True)
    heading.scroll_into_view_if_needed()
    expect(heading).to_be_in_viewport()


def shot(page: Page, name: str) -> None:
    settle(page)
    size = page.viewport_size
    assert size is not None
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"new-task-{size['width']}x{size['height']}-{name}.png"))


def within_viewport(page: Page, target: Locator) -> None:
    """``target`` is wholly visible without scrolling (above the fold)."""
    box = target.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (box, size)
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (box, size)


def selected_tracks(page: Page) -> int:
    """Lines and shapes drawn in the selected pass's colour on the map."""
    frame = page.frame_locator(MAP_IFRAME).locator(f"#map_div path[stroke='{SELECTED}']")
    return frame.count()


def pass_grid(page: Page) -> Locator:
    return (
        main(page)
        .get_by_test_id("stDataFrame")
        .filter(has=page.locator("td[role='gridcell']", has_text="SANDSAT-"))
    )


def first_qualifying_row(page: Page, grid: Locator) -> int:
    """Index of the first visible row whose pass qualifies (the grid renders its visible rows as
    an accessible table inside the canvas once focused)."""
    grid.get_by_test_id("data-grid-canvas").focus()
    rows = grid.locator("tbody tr[role='row']")
    expect(rows.first).to_be_attached()
    texts = rows.all_inner_texts()
    for index, text in enumerate(texts[:7]):  # the first seven rows are on screen
        if QUALIFIES in text:
            return index
    pytest.fail(f"no qualifying pass among the first rows: {texts[:7]}")


def set_speed(page: Page, option: str) -> None:
    """The sidebar's simulation speed. The default window follows the clock and starts on the
    hour: at 60× it moves every real minute, and a new window may clear a selected pass (its
    row would now mean another pass), so the steps below run at real time."""
    speed = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Speed")
    speed.click()
    page.get_by_role("option", name=option).click()
    expect(speed).to_have_value(option)
    wait_for_app(page)


def test_new_task_actions_above_the_fold_and_a_pass_aimed_from_the_table(
    browser_page: Page, app_server: str
) -> None:
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{app_server}/new-task")
    wait_for_app(page)
    expect(main(page).get_by_role("heading", name="New task", exact=True)).to_be_visible()
    settle(page)
    set_speed(page, "real time (1×)")
    try:
        _aim_from_the_table(page)
    finally:  # the session's app goes on at the sandbox's default speed for the other tests
        page.set_viewport_size({"width": 1440, "height": 900})
        set_speed(page, "60×")


def _aim_from_the_table(page: Page) -> None:

    # The point: typed coordinates (Helsinki), as an analyst would.
    coordinates = main(page).get_by_role("textbox", name="Coordinates", exact=True)
    coordinates.fill("60.1699, 24.9384")
    coordinates.press("Enter")
    summary = main(page).get_by_text(re.compile(r"predicted passes satisfy the options"))
    expect(summary).to_be_visible()
    settle(page)

    # Above the fold at 1440×900: the live summary and both actions.
    to_top(page)
    check = main(page).get_by_role("button", name="Check feasibility")
    create = main(page).get_by_role("button", name=re.compile(r"^Create task"))
    order = panel(page).get_by_text("Your order", exact=True)
    for target in (order, check, create):
        expect(target).to_be_visible()
        within_viewport(page, target)
    expect(panel(page)).to_contain_text("Where 60.169900, 24.938400")
    shot(page, "1-point")

    # Pick a pass on the table: its track, footprint and line of sight turn orange on the map.
    assert selected_tracks(page) == 0
    grid = pass_grid(page)
    grid.scroll_into_view_if_needed()
    row = first_qualifying_row(page, grid)
    box = grid.get_by_test_id("data-grid-canvas").bounding_box()
    header = grid.locator("canvas").nth(1).bounding_box()
    assert box is not None and header is not None
    # (A mouse click where the user would click: the row's selection box, first column.)
    page.mouse.click(box["x"] + 12, box["y"] + header["height"] + ROW_PX * row + ROW_PX / 2)
    aim = main(page).get_by_role("button", name="Aim for this pass")
    expect(aim).to_be_enabled()
    chosen = main(page).get_by_text(re.compile(r"^SANDSAT-\d+ · \d{4}-\d\d-\d\d"))
    expect(chosen).to_be_visible()
    satellite = chosen.inner_text().split(" · ")[0]
    settle(page)
    page.frame_locator(MAP_IFRAME).locator(f"#map_div path[stroke='{SELECTED}']").first.wait_for(
        state="attached"
    )
    assert selected_tracks(page) >= 3  # ground track, line of sight, footprint
    chart = main(page).get_by_test_id("stVegaLiteChart").first
    chart.scroll_into_view_if_needed()
    shot(page, "2-pass-selected")

    # Aim for it: look side, direction and an incidence range in the form, and what still
    # qualifies.
    aim.click()
    aimed = main(page).get_by_test_id("stAlert").filter(has_text="Aimed at")
    expect(aimed).to_contain_text(f"Aimed at {satellite}")
    expect(aimed).to_contain_text(re.compile(r"still qualif|No other pass"))
    expect(main(page).get_by_text("Advanced options")).to_be_visible()
    expect(panel(page)).to_contain_text(re.compile(r"Geometry \d+–\d+° · (LEFT|RIGHT) · "))
    settle(page)
    shot(page, "3-aimed")

    # A click on another pass of the chart selects its row (Streamlit's chart selection).
    marks = chart.locator("[aria-roledescription='symbol mark container']").first.locator("path")
    expect(marks.first).to_be_attached()
    before = chosen.inner_text()
    marks.nth(marks.count() // 2).click(force=True)
    expect(main(page).get_by_text(re.compile(r"^SANDSAT-\d+ · \d{4}-"))).not_to_have_text(before)
    settle(page)

    # Check feasibility, from the top of the page: the verdict names the satellite.
    to_top(page)
    within_viewport(page, check)
    check.click()
    verdict = (
        main(page).get_by_test_id("stAlert").filter(has_text=re.compile(r"Feasible|Not feasible"))
    )
    expect(verdict).to_have_count(1)
    settle(page)
    within_viewport(page, create)
    shot(page, "4-feasibility")
    opportunities = main(page).get_by_text(re.compile(r"opportunit(y|ies): satellite"))
    if opportunities.count():
        opportunities.click()
        expect(
            main(page).get_by_text(re.compile(r"SANDSAT-\d+ \(predicted\)")).first
        ).to_be_visible()

    # The three sizes: nothing clipped at 1024×768, usable on a phone.
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        settle(page)
        to_top(page)
        shot(page, "top")
        if width == 1440:
            within_viewport(page, check)
            within_viewport(page, create)
    # Back at 1440: the actions are still above the fold.
    page.set_viewport_size({"width": 1440, "height": 900})
    settle(page)
    to_top(page)
    within_viewport(page, create)
    assert page.blocked_requests == [], page.blocked_requests  # type: ignore[attr-defined]


def server_messages(frames: list[bytes]) -> list[ForwardMsg]:
    messages = []
    for payload in frames:
        message = ForwardMsg()
        message.ParseFromString(payload)
        messages.append(message)
    return messages


def elements_by_fragment(messages: list[ForwardMsg]) -> dict[str, set[str]]:
    """The kinds of element each fragment sent (``""``: a run of the whole page)."""
    sent: dict[str, set[str]] = {}
    for message in messages:
        if message.WhichOneof("type") == "delta" and message.delta.HasField("new_element"):
            kind = message.delta.new_element.WhichOneof("type") or ""
            sent.setdefault(message.delta.fragment_id, set()).add(kind)
    return sent


def test_a_map_click_reruns_only_what_depends_on_the_point(
    browser_page: Page, app_server: str
) -> None:
    """Issue 13: a click on the map reruns New task's point fragment (the map, the coordinates,
    the order panel, the predicted passes), not the page: the options, the sidebar and the app's
    frame are not sent again, and everything that depends on the point shows the new one."""
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})
    frames: list[bytes] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framereceived", lambda p: frames.append(p) if isinstance(p, bytes) else None)

    page.on("websocket", watch)
    page.goto(f"{app_server}/new-task")
    settle(page)
    leaflet = page.frame_locator(MAP_IFRAME).locator("#map_div")
    expect(leaflet.locator(".leaflet-basemap-pane svg path").nth(1)).to_be_attached()
    latitude = main(page).get_by_role("spinbutton", name="Latitude (°)")
    summary = main(page).get_by_text(re.compile(r"predicted passes satisfy the options"))

    leaflet.click(position={"x": 260, "y": 180})
    expect(latitude).not_to_have_value("")
    expect(summary).to_be_visible()
    settle(page)
    first_point, first_summary = latitude.input_value(), summary.inner_text()

    frames.clear()
    leaflet.click(position={"x": 330, "y": 250})
    expect(latitude).not_to_have_value(first_point)
    settle(page)
    expect(panel(page)).to_contain_text(f"Where {float(latitude.input_value()):.6f}")
    expect(summary).not_to_have_text(first_summary)

    messages = server_messages(frames)
    finished = [m.script_finished for m in messages if m.WhichOneof("type") == "script_finished"]
    assert finished, "the click reran nothing"
    # Only fragments ran (the point's, and maybe the sidebar's own timer), never the whole page.
    assert set(finished) == {ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}, finished
    sent = elements_by_fragment(messages)
    assert "" not in sent, sent  # no element of the page outside a fragment: no option widget
    point = next(kinds for kinds in sent.values() if "component_instance" in kinds)
    # What depends on the point was sent again, and none of the options.
    assert {"vega_lite_chart", "dataframe", "number_input"} <= point, point
    assert not point & {"selectbox", "radio", "date_time_input", "multiselect"}, point

    # The passes' CSV is made when asked for (not sent after every click), for the new point.
    button = main(page).get_by_role("button", name="Passes as CSV")
    button.scroll_into_view_if_needed()
    with page.expect_download() as download:
        button.click()
    path = download.value.path()
    rows = path.read_text().splitlines()
    assert rows[0].startswith("satellite,time_utc,incidence_deg")
    assert len(rows) > 1 and rows[1].startswith("SANDSAT-")
