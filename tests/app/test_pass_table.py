"""New task, issue 11: the predicted passes as objects the user picks. One table (satellite, time,
incidence, look side, direction, why excluded) linked to the map and the chart; "Aim for this pass"
sets the form and says which other passes still qualify; CSV export; the satellite of each
feasibility opportunity.

A row is selected the way the browser does it, through the table's selection state (AppTest cannot
click a canvas grid); the map is read from the arguments the page sends to streamlit-folium."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tasking.sandbox import seed
from tests.app.conftest import no_exception, texts
from ui import passes_view

NEW_TASK = "views/new_task.py"
HELSINKI = {"contract_id": seed.BROAD_CONTRACT_ID, "poi_lat": 60.1699, "poi_lon": 24.9384}


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


def pass_table(at: AppTest) -> pd.DataFrame:
    (table,) = [d for d in at.dataframe if d.key == "nt_pass_table"]
    return table.value


def select_row(at: AppTest, row: int) -> AppTest:
    """What a click on the row's selection box does: the table's selection state, then a rerun."""
    at.session_state["nt_pass_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def map_overlays(at: AppTest) -> str:
    """The JavaScript of the overlays the page sends to the map (``feature_group_to_add``)."""
    found = []

    def walk(node: Any) -> None:
        for child in getattr(node, "children", {}).values():
            if type(child).__name__ == "UnknownElement" and child.type == "component_instance":
                found.append(json.loads(child.proto.json_args))
            walk(child)

    walk(at._tree)
    (args,) = [a for a in found if "script" in a]
    return str(args.get("feature_group", ""))


def chart_data(at: AppTest) -> pd.DataFrame:
    (chart,) = at.get("vega_lite_chart")
    return dataframe_util.convert_arrow_bytes_to_pandas_df(chart.proto.data.data)


def orderable_row(at: AppTest) -> int:
    """A row whose pass can be aimed at (incidence inside ICEYE's 10–45°)."""
    table = pass_table(at)
    return int(table.index[(table["Incidence (°)"] >= 12) & (table["Incidence (°)"] <= 43)][0])


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[bytes, str]]]:
    """(data, mimetype) of every file the page hands to a download button."""
    served: list[tuple[bytes, str]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def record(
        self: MemoryMediaFileStorage, path_or_data: Any, mimetype: str, *a: Any, **k: Any
    ) -> str:
        data = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
        served.append((bytes(data), mimetype))
        return original(self, path_or_data, mimetype, *a, **k)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    deferred = MediaFileManager.add_deferred

    def made_now(
        self: MediaFileManager, data: Callable[[], Any], mimetype: str, *a: Any, **k: Any
    ) -> str:
        # A file made on demand (the CSV): what the button would serve when pressed.
        made = data()
        served.append((made.encode() if isinstance(made, str) else bytes(made), mimetype))
        return deferred(self, data, mimetype, *a, **k)

    monkeypatch.setattr(MediaFileManager, "add_deferred", made_now)
    yield served


def test_the_table_lists_every_pass_with_why_it_is_excluded(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)

    no_exception(at)
    table = pass_table(at)
    assert list(table.columns) == list(passes_view.TABLE_COLUMNS)
    assert table["Satellite"].str.startswith("SANDSAT-").all()
    assert table["Time (UTC)"].is_monotonic_increasing
    assert set(table["Look side"]) <= {"LEFT", "RIGHT"}
    assert set(table["Direction"]) <= {"ASCENDING", "DESCENDING"}
    reasons = table["Why excluded"]
    assert (reasons == passes_view.QUALIFIES).any()
    assert reasons.str.startswith("incidence").any()  # Spot's performant range is 20–40°
    assert len(table) == len(chart_data(at))


def test_the_chart_and_the_table_say_the_same_of_every_pass(
    open_app: Callable[..., AppTest],
) -> None:
    """The chart's data is compact (issue 13: times in milliseconds, reasons as templates the
    chart fills with the incidence) but says what the table says, row for row."""
    at = open_app(NEW_TASK, **HELSINKI)
    table, marks = pass_table(at), chart_data(at)
    assert len(table) == len(marks) > 0
    for row in range(len(table)):
        assert marks["satellite"][row] == table["Satellite"][row]
        seconds = pd.Timestamp(marks["t"][row], unit="ms", tz="UTC").floor("s")
        assert seconds == table["Time (UTC)"][row]
        incidence = f"{marks['incidence'][row]:.1f}"
        assert incidence == f"{table['Incidence (°)'][row]:.1f}"
        template = marks["reason"][row]
        said = passes_view.QUALIFIES if pd.isna(template) else template.replace("{}", incidence)
        assert said == table["Why excluded"][row]
    assert marks["reason"].dropna().str.contains("{}", regex=False).any()


def test_selecting_a_row_highlights_its_track_footprint_and_chart_mark(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)
    assert passes_view.SELECTED_COLOUR not in map_overlays(at)
    assert not chart_data(at)["selected"].any()
    assert "Select a pass to aim the order at it." in shown(at)

    row = orderable_row(at)
    satellite = pass_table(at)["Satellite"][row]
    select_row(at, row)

    no_exception(at)
    overlays = map_overlays(at)
    assert passes_view.SELECTED_COLOUR in overlays
    assert f"Selected: {satellite}" in overlays  # the highlighted ground track
    assert "Predicted footprint (Spot, 5×5 km)" in overlays
    assert "Line of sight" in overlays
    marks = chart_data(at)
    assert marks["selected"].sum() == 1
    assert marks.loc[marks["selected"], "satellite"].item() == satellite
    # The unselected tracks stay faint and their tooltips short: satellite and time only.
    assert overlays.count("Selected:") == 1


def test_a_new_point_keeps_no_row_that_now_means_another_pass(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)
    select_row(at, orderable_row(at))
    assert passes_view.SELECTED_COLOUR in map_overlays(at)

    at.session_state["poi_lat"] = -33.86
    at.session_state["poi_lon"] = 151.21
    at.run()

    no_exception(at)
    assert passes_view.SELECTED_COLOUR not in map_overlays(at)
    assert not chart_data(at)["selected"].any()


def test_aim_for_this_pass_sets_the_form_and_says_which_passes_still_qualify(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)
    row = orderable_row(at)
    chosen = pass_table(at).iloc[row]
    select_row(at, row)

    at.button(key="nt_aim").click().run()

    no_exception(at)
    incidence = float(chosen["Incidence (°)"])
    assert at.session_state["nt_look"] == chosen["Look side"]
    assert at.session_state["nt_pass"] == chosen["Direction"]
    assert at.session_state["nt_incidence"] == "range"
    low, high = at.session_state["nt_inc_min"], at.session_state["nt_inc_max"]
    assert 10 <= low <= incidence <= high <= 45 and high - low <= 2 * passes_view.AIM_MARGIN_DEG + 1
    # The table now judges with the aimed options: the chosen pass qualifies...
    table = pass_table(at)
    assert table["Why excluded"][row] == passes_view.QUALIFIES
    # ... and the message names exactly the other passes that still do.
    others = table[(table["Why excluded"] == passes_view.QUALIFIES) & (table.index != row)]
    message = next(i.value for i in at.info if "Aimed at" in i.value).replace("\\", "")
    assert f"Aimed at {chosen['Satellite']}" in message
    if len(others):
        assert f"{len(others)} other pass" in message
        assert str(others["Satellite"].iloc[0]) in message
    else:
        assert "No other pass of the window qualifies" in message
    assert at.expander[0].proto.expanded  # Advanced options opens to show what changed
    # The live order summary says what the order now asks for.
    assert f"{low}–{high}° · {chosen['Look side']} · {chosen['Direction']}" in shown(at)


def test_the_csv_export_has_every_pass_with_its_geometry(
    open_app: Callable[..., AppTest], downloads: list[tuple[bytes, str]]
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)

    no_exception(at)
    assert [b for b in at.get("download_button") if b.proto.label == "Passes as CSV"]
    data, mimetype = next((d, m) for d, m in downloads if m == "text/csv")
    assert mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    table = pass_table(at)
    assert len(rows) == len(table)
    assert [r["satellite"] for r in rows] == list(table["Satellite"])
    assert {r["qualifies"] for r in rows} == {"yes", "no"}
    first = rows[0]
    assert first["time_utc"].endswith("Z")
    assert float(first["incidence_deg"]) == pytest.approx(table["Incidence (°)"][0], abs=0.06)
    assert first["look_side"] == table["Look side"][0]
    assert first["pass_direction"] == table["Direction"][0]
    for column in ("off_nadir_deg", "slant_range_km", "heading_deg", "why_excluded"):
        assert column in first
    excluded = [r for r in rows if r["qualifies"] == "no"]
    assert all(r["why_excluded"] for r in excluded)


def test_the_feasibility_opportunities_name_their_satellite(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)

    next(b for b in at.button if b.label == "Check feasibility").click().run()

    no_exception(at)
    assert next(s.value for s in at.success).startswith("**Feasible**")
    listing = next(m.value for m in at.markdown if m.value.startswith("- SANDSAT"))
    rows = [line.replace("\\", "") for line in listing.splitlines()]
    assert rows
    satellites = set(pass_table(at)["Satellite"])
    for line in rows:
        satellite, start, incidence, look, direction = line.removeprefix("- ").split(" · ")
        assert satellite.endswith("(predicted)"), line
        assert satellite.removesuffix(" (predicted)") in satellites
        assert start.endswith("UTC") and incidence.endswith("°")
        assert look in ("LEFT", "RIGHT") and direction in ("ASCENDING", "DESCENDING")
