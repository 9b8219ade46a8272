"""New campaign (issue 12): targets from a file (or drawn), each refusal named by row and rule
before anything is sent, areas tiled by the chosen mode, one batch feasibility request with a
verdict per target, a campaign created task by task, and a resume after an interrupted run that
sends only what is missing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.errors import ServerError, TransportError
from tasking.models import Task, TaskRequest
from tasking.sandbox import seed
from tasking.service import TaskingService
from tasking.tasking_api import TaskingAPI
from tests.app.conftest import texts
from ui import keys, state

PAGE = state.PAGE_NEW_CAMPAIGN

PORTS_CSV = (
    b"name,lat,lon\n"
    b"Helsinki port,60.1699,24.9384\n"
    b"Tallinn port,59.4370,24.7536\n"
    b"Riga port,56.9496,24.1052\n"
    b"Gdansk port,54.3520,18.6466\n"
)
# Row 3 has a latitude past the pole, row 4 a longitude that is not a number.
BAD_CSV = b"name,lat,lon\nHelsinki port,60.1699,24.9384\nNowhere,95.0,24.0\nTypo,59.4,24.x\n"
# About 20 km × 20 km near Helsinki: many Spot scenes (5 × 5 km), few Strip ones (30 × 50 km).
SQUARE = {
    "type": "Feature",
    "properties": {"name": "Helsinki bay"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[24.80, 60.05], [25.16, 60.05], [25.16, 60.23], [24.80, 60.23], [24.80, 60.05]]
        ],
    },
}


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


def campaign_tasks(client: TaskingClient, campaign_id: str) -> list[Task]:
    tag = f"[{campaign_id[:8]}/"
    return [t for t in client.iter_tasks() if tag in (t.reference or "")]


def open_with(open_app: Callable[..., AppTest], data: bytes, filename: str, **more: Any) -> AppTest:
    return open_app(
        PAGE,
        **{
            keys.CONTRACT_ID.name: seed.BROAD_CONTRACT_ID,
            keys.CAMPAIGN_FILE.name: (filename, data),
            keys.CAMPAIGN_NAME.name: "Baltic ports",
            **more,
        },
    )


@pytest.fixture
def feasibility_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every checkFeasibility request the app sends."""
    sizes: list[int] = []
    original = TaskingAPI.check_feasibility

    def counted(self: TaskingAPI, requests: list[TaskRequest]) -> Any:
        sizes.append(len(requests))
        return original(self, requests)

    monkeypatch.setattr(TaskingAPI, "check_feasibility", counted)
    return sizes


def test_a_bad_row_is_refused_by_row_and_rule_and_nothing_is_sent(
    open_app: Callable[..., AppTest], client: TaskingClient, feasibility_calls: list[int]
) -> None:
    before = {t.id for t in client.iter_tasks()}
    at = open_with(open_app, BAD_CSV, "ports.csv")

    page = shown(at)
    assert "2 refused" in page
    assert "Row 3" in page and "latitude must be between -90 and 90" in page
    assert "latitude-range rule" not in page  # the rule's words, not its internal id
    assert "Row 4" in page
    # The good row stays a target; nothing was asked of ICEYE.
    assert "1 targets" in page
    assert feasibility_calls == []
    assert {t.id for t in client.iter_tasks()} == before
    assert keys.CAMPAIGN_BATCH.name not in at.session_state


def test_a_good_file_gets_one_verdict_per_target_from_one_batch_request(
    open_app: Callable[..., AppTest], feasibility_calls: list[int]
) -> None:
    at = open_with(open_app, PORTS_CSV, "ports.csv")
    assert "4 targets" in shown(at)

    at.button(key=keys.CAMPAIGN_CHECK.name).click().run()

    assert feasibility_calls == [4]  # one request, the whole batch
    page = shown(at)
    assert "Feasibility of 4 targets" in page
    table = at.dataframe[0].value
    assert list(table["target"]) == ["Helsinki port", "Tallinn port", "Riga port", "Gdansk port"]
    assert set(table["verdict"]) <= {"FEASIBLE", "NOT_FEASIBLE"}
    # The timeline has every target's passes.
    assert "4 of 4 targets have at least one" in page


def test_the_total_price_and_the_budget_after_the_batch_are_shown_where_priced(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_with(
        open_app, PORTS_CSV, "ports.csv", **{keys.CONTRACT_ID.name: seed.PRICED_CONTRACT_ID}
    )
    at.button(key=keys.CAMPAIGN_CHECK.name).click().run()

    page = shown(at)
    assert "for the whole campaign" in page
    assert "budget after the campaign" in page


def test_the_confirmation_shows_the_total_price_even_unchecked(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_with(
        open_app, PORTS_CSV, "ports.csv", **{keys.CONTRACT_ID.name: seed.PRICED_CONTRACT_ID}
    )
    at.button(key=keys.CAMPAIGN_OPEN_CONFIRM.name).click().run()

    page = shown(at)
    assert "Feasibility not checked" in page
    assert "for the whole campaign" in page and "Cancellation policy" in page


def confirm(at: AppTest) -> AppTest:
    at.button(key=keys.CAMPAIGN_OPEN_CONFIRM.name).click().run()
    page = shown(at)
    assert "4 tasks" in page and "Cancellation policy" in page
    return at.button(key=keys.CAMPAIGN_CREATE.name).click().run()


def test_create_makes_one_task_per_target(
    open_app: Callable[..., AppTest], client: TaskingClient
) -> None:
    at = open_with(open_app, PORTS_CSV, "ports.csv")
    campaign_id = at.session_state[keys.CAMPAIGN_DRAFT_ID.name]

    at = confirm(at)

    assert "4 of 4 tasks placed" in shown(at)
    assert len(campaign_tasks(client, campaign_id)) == 4
    results = at.dataframe[-1].value
    assert list(results["result"]) == ["placed"] * 4
    # A new campaign gets a new id: this one is never recorded twice.
    at.run()
    assert at.session_state[keys.CAMPAIGN_DRAFT_ID.name] != campaign_id


def test_resume_after_an_interrupted_run_sends_only_the_missing_targets(
    open_app: Callable[..., AppTest],
    client: TaskingClient,
    monkeypatch: pytest.MonkeyPatch,
    no_page_ever_raises: Any,
) -> None:
    at = open_with(open_app, PORTS_CSV, "ports.csv")
    campaign_id = at.session_state[keys.CAMPAIGN_DRAFT_ID.name]
    sent: list[str] = []
    original = TaskingService.place_order

    def down_after_two(self: TaskingService, request: TaskRequest, **kwargs: Any) -> Any:
        if len(sent) >= 2:
            raise TransportError("backend down (test)")
        sent.append(request.reference or "")
        return original(self, request, **kwargs)

    monkeypatch.setattr(TaskingService, "place_order", down_after_two)
    at = confirm(at)
    assert "2 of 4 tasks placed" in shown(at)
    assert len(campaign_tasks(client, campaign_id)) == 2

    # The backend is back: Resume sends the two missing ones, and only those.
    monkeypatch.setattr(TaskingService, "place_order", original)
    resumed: list[str] = []

    def recorded(self: TaskingService, request: TaskRequest, **kwargs: Any) -> Any:
        resumed.append(request.reference or "")
        return original(self, request, **kwargs)

    monkeypatch.setattr(TaskingService, "place_order", recorded)
    at.button(key=keys.resume_campaign(campaign_id).name).click().run()

    assert len(resumed) == 2
    assert not set(resumed) & set(sent)
    assert len(campaign_tasks(client, campaign_id)) == 4
    assert "4 of 4 tasks placed" in shown(at)
    # Nothing is left to resume.
    assert not [b for b in at.button if b.key == keys.resume_campaign(campaign_id).name]


def tile_count(at: AppTest) -> int:
    line = next(c.value for c in at.caption if "Helsinki bay" in str(c.value))
    return int(str(line).split("**")[1].split(" ")[0])


def test_a_mode_change_re_tiles_a_polygon(open_app: Callable[..., AppTest]) -> None:
    geojson = json.dumps({"type": "FeatureCollection", "features": [SQUARE]}).encode()
    at = open_with(open_app, geojson, "bay.geojson", **{keys.MODE.name: "SPOTLIGHT"})
    spot = tile_count(at)
    assert spot >= 16  # 20 km × 20 km of 5 km scenes
    assert f"{spot} targets" in shown(at)

    at.selectbox(key=keys.MODE.name).set_value("STRIPMAP").run()

    strip = tile_count(at)
    assert 1 <= strip < spot
    assert f"{strip} targets" in shown(at)


def test_shapes_drawn_on_the_map_are_targets_and_areas(open_app: Callable[..., AppTest]) -> None:
    point = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Point", "coordinates": [24.9, 60.1]},
    }
    at = open_app(
        PAGE,
        **{
            keys.CONTRACT_ID.name: seed.BROAD_CONTRACT_ID,
            keys.CAMPAIGN_DRAWN.name: [point, {**SQUARE, "properties": {}}],
            keys.MODE.name: "STRIPMAP",
        },
    )
    page = shown(at)
    assert "1 point" in page and "tiles over 1 area" in page
    # Without a name nothing can be checked; the rule says why.
    assert at.button(key=keys.CAMPAIGN_CHECK.name).disabled
    assert "Name the campaign" in page


def test_the_drawing_map_loads_leaflet_draw_and_its_icons_from_the_app() -> None:
    from tests.app.conftest import ROOT
    from ui import maps
    from ui.campaign_targets import drawing_map

    m = drawing_map(0)
    urls = maps.asset_urls(m)
    draw = [u for u in urls if "leaflet-draw" in u or "leaflet.draw" in u]
    assert draw, "the drawing toolbar's files are not linked"
    assert [u for u in urls if not u.startswith(maps.STATIC_URL + "/")] == []
    static = ROOT / "static"
    assert [u for u in urls if not (static / u.removeprefix(maps.STATIC_URL + "/")).exists()] == []
    # The toolbar's icons: the spritesheets the vendored stylesheet names sit beside it.
    css = next(u for u in draw if u.endswith(".css"))
    folder = (static / css.removeprefix(maps.STATIC_URL + "/")).parent
    for image in ("spritesheet.png", "spritesheet-2x.png", "spritesheet.svg"):
        assert f"images/{image}" in (folder / "leaflet.draw.css").read_text()
        assert (folder / "images" / image).exists()
    # Same generation, same map (no re-mount); another generation, another map.
    first = drawing_map(0).get_root().render()
    assert drawing_map(0).get_root().render() == first
    assert drawing_map(1).get_root().render() != first


def test_a_failed_check_is_explained_and_keeps_what_was_entered(
    open_app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_with(open_app, PORTS_CSV, "ports.csv")
    original = TaskingAPI.check_feasibility

    def unavailable(self: TaskingAPI, requests: list[TaskRequest]) -> Any:
        raise ServerError("feasibility failed", status_code=503, code="unavailable")

    monkeypatch.setattr(TaskingAPI, "check_feasibility", unavailable)
    at.button(key=keys.CAMPAIGN_CHECK.name).click().run()

    page = shown(at)
    assert "Could not check the campaign's feasibility" in page and "HTTP 503" in page
    assert keys.CAMPAIGN_BATCH.name not in at.session_state
    assert "4 targets" in page
    assert at.session_state[keys.CAMPAIGN_NAME.name] == "Baltic ports"
    assert at.session_state[keys.CAMPAIGN_FILE.name][0] == "ports.csv"

    # The backend is back: Retry checks again, with nothing to re-enter.
    monkeypatch.setattr(TaskingAPI, "check_feasibility", original)
    at.button(key=keys.retry("check the campaign's feasibility").name).click().run()
    assert "Feasibility of 4 targets" in shown(at)


def test_clearing_the_drawn_shapes_gives_a_new_map(open_app: Callable[..., AppTest]) -> None:
    at = open_app(
        PAGE,
        **{
            keys.CONTRACT_ID.name: seed.BROAD_CONTRACT_ID,
            keys.CAMPAIGN_DRAWN.name: [{**SQUARE, "properties": {}}],
            keys.MODE.name: "STRIPMAP",
        },
    )
    assert "tiles over 1 area" in shown(at)

    at.button(key=keys.CAMPAIGN_CLEAR_DRAWN.name).click().run()

    assert "0 targets" in shown(at)
    assert at.session_state[keys.CAMPAIGN_MAP_GENERATION.name] == 1


def test_repeat_creates_a_series_and_opens_it(
    open_app: Callable[..., AppTest], client: TaskingClient
) -> None:
    """The confirmation's "Repeat" makes a recurring series of the same targets and options
    instead of a one-off campaign; its page then orders the first occurrence, already within
    ICEYE's 14 days (no worker runs here): one task per target, the later ones not yet."""
    from ui.campaign_create import REPEAT

    at = open_with(open_app, PORTS_CSV, "ports.csv")
    before = {t.id for t in client.iter_tasks()}
    at.button(key=keys.CAMPAIGN_OPEN_CONFIRM.name).click().run()
    at.radio(key=keys.CAMPAIGN_REPEAT.name).set_value(REPEAT).run()
    at.number_input(key=keys.recurrence_field("nc_", "every").name).set_value(0).run()
    assert "Every N days needs N between 1 and" in shown(at)
    assert at.button(key=keys.CAMPAIGN_CREATE.name).disabled  # nothing to create yet
    at.number_input(key=keys.recurrence_field("nc_", "every").name).set_value(14)
    at.number_input(key=keys.recurrence_field("nc_", "count").name).set_value(3).run()
    create = at.button(key=keys.CAMPAIGN_CREATE.name)
    assert create.label == "Create the series (3 occurrences)" and not create.disabled

    at = create.click().run()

    assert not at.exception
    page = shown(at)
    assert [t.value for t in at.title] == ["Baltic ports"]  # the series' own page
    assert "Every 14 days, 3 times" in page
    made = [t for t in client.iter_tasks() if t.id not in before]
    assert len(made) == 4  # the first occurrence's four targets; the others are weeks away
    assert {t.pointOfInterest.lat for t in made} == {60.1699, 59.437, 56.9496, 54.352}
