"""All tasks page: the table, contract and status filters, search, sorting, Load more; the map
(fitted, clustered, coloured by status, offline); filters and loaded pages across navigation;
clone; the footprints the GeoJSON export carries."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tasking import rules
from tasking.client import TaskingClient
from tasking.models import Scene, Task, TimeWindow
from tasking.orbits import generate_constellation
from tasking.passes import predict_passes
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tests.app.conftest import ROOT, no_exception, texts
from tests.app.helpers import order
from ui import task_form, task_map, task_table
from ui.elements import Constellation

TASKS = "views/tasks.py"


@pytest.fixture(scope="module")
def three_tasks(sandbox, tmp_path_factory) -> list[Task]:  # type: ignore[no-untyped-def]
    from tasking.config import load_settings

    control = SandboxControl(sandbox.url)
    with TaskingClient.from_settings(
        load_settings(data_dir=tmp_path_factory.mktemp("c")),
        api_url=sandbox.api_url,
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=sandbox.url,
    ) as client:
        made = [order(client, control, reference=f"Port {name}") for name in ("alpha", "beta")]
        cancelled = order(client, control, reference="Field gamma")
        made.append(client.cancel_task(cancelled.id))
    return made


def column(at: AppTest, name: str) -> list[object]:
    return list(at.dataframe[0].value[name])


def test_table_lists_every_task_with_the_issue_columns(
    open_app: Callable[..., AppTest], three_tasks: list[Task]
) -> None:
    at = open_app(TASKS)

    no_exception(at)
    frame = at.dataframe[0].value
    assert list(frame.columns) == list(task_table.COLUMNS)
    assert {"Port alpha", "Port beta", "Field gamma"} <= set(frame["Reference"])
    assert set(frame["Mode"]) == {"SPOTLIGHT"}
    assert all(" → " in w for w in frame["Window"])
    # The local history recorded each listed task: the time its status was first seen is shown.
    assert frame["Status seen"].notna().all()


def test_status_filter_keeps_only_that_status(
    open_app: Callable[..., AppTest], three_tasks: list[Task]
) -> None:
    at = open_app(TASKS, tl_status=["CANCELED"])

    assert column(at, "Reference") == ["Field gamma"]
    assert column(at, "Status") == ["CANCELED"]


def test_search_matches_reference_or_id(
    open_app: Callable[..., AppTest], three_tasks: list[Task]
) -> None:
    at = open_app(TASKS, tl_search="port")
    assert sorted(column(at, "Reference")) == ["Port alpha", "Port beta"]

    at.text_input(key="tl_search").input(three_tasks[2].id[:8]).run()
    assert column(at, "Reference") == ["Field gamma"]


def test_contract_filter_asks_the_api_for_that_contract_only(
    open_app: Callable[..., AppTest], three_tasks: list[Task]
) -> None:
    at = open_app(TASKS, tl_contract=seed.PRICED_CONTRACT_ID)

    no_exception(at)
    assert at.dataframe[0].value.empty
    at.selectbox(key="tl_contract").select(seed.BROAD_CONTRACT_ID).run()
    assert len(at.dataframe[0].value) >= 3


def test_sorting_by_reference(open_app: Callable[..., AppTest], three_tasks: list[Task]) -> None:
    at = open_app(TASKS, tl_sort="Reference", tl_search="a")

    refs = column(at, "Reference")
    assert refs == sorted(refs, key=str.casefold)


def test_load_more_follows_the_cursor(
    open_app: Callable[..., AppTest], three_tasks: list[Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_table, "PAGE_SIZE", 2)
    monkeypatch.setattr("views.tasks.PAGE_SIZE", 2, raising=False)
    at = open_app(TASKS)
    first = len(at.dataframe[0].value)
    more = [b for b in at.button if b.label == "Load more"]
    assert first == 2 and more

    more[0].click().run()

    no_exception(at)
    assert len(at.dataframe[0].value) > first


# --- the map: fitted, clustered, coloured, offline --------------------------------------------

MAP_POINTS = {
    "Map Rotterdam": (51.95, 4.14),
    "Map Sydney": (-33.86, 151.21),
    "Map Helsinki A": (60.1699, 24.9384),
    "Map Helsinki B": (60.1699, 24.9384),  # on the same spot: one cluster
}


@pytest.fixture(scope="module")
def map_tasks(sandbox, tmp_path_factory) -> list[Task]:  # type: ignore[no-untyped-def]
    from tasking.config import load_settings

    control = SandboxControl(sandbox.url)
    with TaskingClient.from_settings(
        load_settings(data_dir=tmp_path_factory.mktemp("m")),
        api_url=sandbox.api_url,
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=sandbox.url,
    ) as client:
        made = [
            order(client, control, reference=name, lat=lat, lon=lon)
            for name, (lat, lon) in MAP_POINTS.items()
        ]
        made[1] = client.cancel_task(made[1].id)
    return made


def map_args(at: AppTest) -> dict[str, Any]:
    """What the page sent to st_folium (AppTest sees the component's arguments only)."""
    (component,) = [
        c for c in at.get("component_instance") if c.proto.component_name.endswith("st_folium")
    ]
    args: dict[str, Any] = json.loads(component.proto.json_args)
    return args


def drawn_tasks(layer: str) -> list[dict[str, Any]]:
    """The task list the map's layer draws (the JSON handed to its script)."""
    start = layer.index("})(") + 3
    start = layer.index(", ", start) + 2
    tasks, _ = json.JSONDecoder().raw_decode(layer, start)
    return list(tasks)


def fitted_bounds(layer: str) -> list[list[float]]:
    match = re.search(r"\.fitBounds\(\s*(\[\[.*?\]\])", layer, re.DOTALL)
    assert match, "the map is not fitted to the tasks"
    bounds: list[list[float]] = json.loads(match.group(1))
    return bounds


def test_map_fits_the_tasks_shown(open_app: Callable[..., AppTest], map_tasks: list[Task]) -> None:
    at = open_app(TASKS, tl_search="Map ")

    layer = map_args(at)["feature_group"]
    lats = [lat for lat, _ in MAP_POINTS.values()]
    lons = [lon for _, lon in MAP_POINTS.values()]
    assert fitted_bounds(layer) == [[min(lats), min(lons)], [max(lats), max(lons)]]

    # Another filter, another view: only the Helsinki pair.
    at.text_input(key="tl_search").input("Map Helsinki").run()
    layer = map_args(at)["feature_group"]
    assert fitted_bounds(layer) == [[60.1699, 24.9384], [60.1699, 24.9384]]
    assert {t["label"] for t in drawn_tasks(layer)} == {
        f"Map Helsinki {x} · {map_tasks[2].status} · SPOTLIGHT" for x in "AB"
    }


def test_map_colours_each_task_by_its_status_with_one_mapping(
    open_app: Callable[..., AppTest], map_tasks: list[Task]
) -> None:
    at = open_app(TASKS, tl_search="Map ")

    drawn = drawn_tasks(map_args(at)["feature_group"])
    colours = {t["label"].split(" · ")[0]: t["colour"] for t in drawn}
    statuses = {t.reference: t.status for t in map_tasks}
    assert statuses["Map Sydney"] == "CANCELED"
    assert colours == {ref: task_table.STATUS_COLOURS[s] for ref, s in statuses.items()}
    assert len(set(colours.values())) == 2  # cancelled stands apart from the others
    # The legend uses the same colours and counts the tasks of each status.
    legend = next(m.value for m in at.markdown if "●" in m.value)
    assert f'color:{task_table.STATUS_COLOURS["CANCELED"]}">●</span> Canceled 1' in legend


def test_map_clusters_with_the_vendored_library_and_loads_nothing_from_a_cdn(
    open_app: Callable[..., AppTest], map_tasks: list[Task]
) -> None:
    at = open_app(TASKS, tl_search="Map ")

    args = map_args(at)
    assert "L.markerClusterGroup(" in args["feature_group"]
    assert "iconCreateFunction" in args["feature_group"]  # clusters coloured by their statuses
    cluster_files = {
        "/app/static/vendor/leaflet.markercluster/leaflet.markercluster.js",
        "/app/static/vendor/leaflet.markercluster/MarkerCluster.css",
        "/app/static/vendor/leaflet.markercluster/MarkerCluster.Default.css",
    }
    links = set(args["js_links"]) | set(args["css_links"])
    assert cluster_files <= links
    assert all(link.startswith("/app/static/") for link in links), links
    for link in links:
        assert (ROOT / "static" / link.removeprefix("/app/static/")).is_file(), link


def test_map_layer_is_the_same_whatever_the_sort(
    open_app: Callable[..., AppTest], map_tasks: list[Task]
) -> None:
    # streamlit-folium redraws (and re-fits) the layer only when its script changes.
    at = open_app(TASKS, tl_search="Map ")
    before = map_args(at)["feature_group"]

    at.selectbox(key="tl_sort").select("Reference").run()

    assert map_args(at)["feature_group"] == before


# --- filters and loaded pages survive navigation --------------------------------------------


def test_filters_and_loaded_pages_survive_going_to_the_monitor_and_back(
    open_app: Callable[..., AppTest],
    map_tasks: list[Task],
    three_tasks: list[Task],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(task_table, "PAGE_SIZE", 2)
    monkeypatch.setattr("views.tasks.PAGE_SIZE", 2, raising=False)
    at = open_app(TASKS)
    at.text_input(key="tl_search").input("Map").run()
    at.multiselect(key="tl_status").select("CANCELED").run()
    at.selectbox(key="tl_contract").select(seed.BROAD_CONTRACT_ID).run()
    at.date_input(key="tl_from").set_value(date(2020, 1, 1)).run()
    at.selectbox(key="tl_sort").select("Reference").run()
    while any(b.label == "Load more" for b in at.button):
        next(b for b in at.button if b.label == "Load more").click().run()
    loaded = at.session_state["tl_list"]
    assert loaded.loaded_pages > 1 and loaded.complete
    shown = column(at, "Reference")
    assert shown == ["Map Sydney"]

    at.switch_page("views/monitor.py").run()
    at.switch_page(TASKS).run()

    assert at.text_input(key="tl_search").value == "Map"
    assert at.multiselect(key="tl_status").value == ["CANCELED"]
    assert at.selectbox(key="tl_contract").value == seed.BROAD_CONTRACT_ID
    assert at.date_input(key="tl_from").value == date(2020, 1, 1)
    assert at.selectbox(key="tl_sort").value == "Reference"
    # The very list loaded before, every page of it: nothing was loaded again.
    assert at.session_state["tl_list"] is loaded
    assert loaded.loaded_pages > 1 and loaded.complete
    assert column(at, "Reference") == shown
    assert not any(b.label == "Load more" for b in at.button)


def test_folded_filters_say_what_they_are_set_to(
    open_app: Callable[..., AppTest], map_tasks: list[Task]
) -> None:
    at = open_app(TASKS)
    (folded,) = at.expander
    assert folded.label == "Contract, dates, sort: All contracts · any date · newest first"

    at.date_input(key="tl_from").set_value(date(2020, 1, 1)).run()
    at.selectbox(key="tl_sort").select("Status").run()

    assert at.expander[0].label == (
        "Contract, dates, sort: All contracts · created from 2020-01-01 · status"
    )


# --- clone --------------------------------------------------------------------------------------


def test_clone_names_itself_a_copy_starts_clean_and_says_where_it_came_from(
    open_app: Callable[..., AppTest], three_tasks: list[Task]
) -> None:
    # What an earlier task left in the New task form.
    at = open_app(
        TASKS,
        tl_search="Port alpha",
        nt_place_query="Rotterdam",
        nt_coords="51.95, 4.14",
        nt_coords_error="could not read it",
        nt_reference="an earlier order",
    )
    source = next(t for t in three_tasks if t.reference == "Port alpha")

    at.selectbox(key="tl_clone").select(source.id).run()
    next(b for b in at.button if b.label == "Clone into a new task").click().run()

    assert at.session_state["nt_reference"] == "copy of Port alpha"
    assert at.text_input(key="nt_reference").value == "copy of Port alpha"
    assert at.text_input(key="nt_place_query").value == ""
    assert at.text_input(key="nt_coords").value == ""
    assert "could not read it" not in texts(at)
    assert (at.session_state["poi_lat"], at.session_state["poi_lon"]) == (
        source.pointOfInterest.lat,
        source.pointOfInterest.lon,
    )
    assert f"Cloned from task “Port alpha” ({source.id.split('-')[0]})" in texts(at)


def task_named(reference: str | None) -> Task:
    return Task.model_validate(
        {
            "id": "7d2b0c1e-8a9f-4c51-9a0e-2f4b1c9d0e11",
            "contractID": seed.BROAD_CONTRACT_ID,
            "pointOfInterest": {"lat": 1.0, "lon": 2.0},
            "acquisitionWindow": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"},
            "imagingMode": "SPOTLIGHT",
            "status": "ACTIVE",
            "createdAt": "2026-11-22T09:30:00Z",
            "reference": reference,
        }
    )


def test_clone_reference_is_a_copy_within_iceyes_length() -> None:
    assert task_form.clone_reference(task_named("Helsinki port")) == "copy of Helsinki port"
    assert task_form.clone_reference(task_named(None)) == "copy of task 7d2b0c1e"
    longest = task_form.clone_reference(task_named("x" * rules.REFERENCE_MAX))
    assert len(longest) == rules.REFERENCE_MAX
    assert longest.startswith("copy of xxx") and longest.endswith("…")


# --- footprints for the GeoJSON export ----------------------------------------------------------


def test_footprints_come_from_the_known_scene_on_its_predicted_pass() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    satellites = tuple(generate_constellation(epoch=start))
    elements = Constellation(satellites, "test", "digest-of-the-test-constellation")
    task = task_named("Helsinki")
    point = task.pointOfInterest
    first = predict_passes(satellites, point.lat, point.lon, start, start + timedelta(days=1))[0]
    scene = Scene(
        imagingTime=TimeWindow(start=first.time - timedelta(seconds=5), end=first.time),
        duration=5,
        lookSide=first.look_side,
        passDirection=first.pass_direction,
    )
    other = task_named("no scene").model_copy(update={"id": "other"})

    found = task_map.footprints(elements, [task, other], {task.id: (None, scene)})

    assert set(found) == {task.id}
    assert found[task.id].scene == "planned"
    lats = [lat for lat, _ in found[task.id].corners]
    lons = [lon for _, lon in found[task.id].corners]
    assert min(lats) < point.lat < max(lats) and min(lons) < point.lon < max(lons)
    # Once captured, the actual scene is the footprint.
    assert task_map.footprints(elements, [task], {task.id: (scene, scene)})[task.id].scene == (
        "actual"
    )


def test_table_writes_each_status_in_the_map_colour() -> None:
    table = task_table.frame(
        [task_named("one"), task_named("two").model_copy(update={"status": "FAILED"})]
    )

    html = task_table.coloured(table).to_html()

    for status in ("ACTIVE", "FAILED"):
        assert f"color: {task_table.STATUS_COLOURS[status]};" in html
