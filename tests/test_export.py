"""Task-list export: parsed back with the csv and json modules, not compared as text; GeoJSON
footprints checked as geometry (closed, counterclockwise, around the point, cut at ±180°)."""

from __future__ import annotations

import csv
import io
import itertools
import json
from typing import Any

import pytest

from tasking.campaign_progress import Bucket, TargetProgress, bucket_of, counts, is_settled, unsent
from tasking.campaigns import Campaign, CampaignStatus, CampaignTarget, TargetState
from tasking.export import (
    CAMPAIGN_COLUMNS,
    COLUMNS,
    CSV_COLUMNS,
    GEOJSON_PROPERTIES,
    Footprint,
    campaign_to_csv,
    campaign_to_geojson,
    tasks_to_csv,
    tasks_to_geojson,
)
from tasking.geometry import scene_footprint
from tasking.models import Task


def make_task(**overrides: Any) -> Task:
    document: dict[str, Any] = {
        "id": "7d2b0c1e-8a9f-4c51-9a0e-2f4b1c9d0e11",
        "contractID": "c0ffee00-0000-4000-8000-000000000001",
        "pointOfInterest": {"lat": -33.8688, "lon": 151.2093},
        "acquisitionWindow": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-03T12:30:00+02:00"},
        "imagingMode": "SPOTLIGHT",
        "status": "ACTIVE",
        "createdAt": "2026-11-22T09:30:00.123456Z",
        "updatedAt": "2026-11-22T09:45:00Z",
        "reference": 'harbour, "north" pier\nsecond line – ünïcødé 港',
        "priority": "COMMERCIAL",
        "sla": "SLA_8H",
        "exclusivity": "PUBLIC",
        "lookSide": "RIGHT",
        "passDirection": "ANY",
        "incidenceAngle": {"min": 20, "max": 40},
        "imagingDuration": 10,
        "productTypes": ["GRD", "SLC-COG"],
    }
    document.update(overrides)
    return Task.model_validate(document)


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_has_a_header_and_one_row_per_task() -> None:
    text = tasks_to_csv([make_task(), make_task(id="second")])
    rows = read_csv(text)
    assert list(rows[0].keys()) == list(CSV_COLUMNS)
    assert [r["id"] for r in rows] == ["7d2b0c1e-8a9f-4c51-9a0e-2f4b1c9d0e11", "second"]


def test_csv_values_survive_the_round_trip() -> None:
    (row,) = read_csv(tasks_to_csv([make_task()]))
    assert row["contractID"] == "c0ffee00-0000-4000-8000-000000000001"
    assert row["status"] == "ACTIVE"
    assert float(row["lat"]) == -33.8688 and float(row["lon"]) == 151.2093
    assert row["imagingMode"] == "SPOTLIGHT"
    assert (row["priority"], row["sla"], row["exclusivity"]) == ("COMMERCIAL", "SLA_8H", "PUBLIC")
    assert (row["incidenceMin"], row["incidenceMax"]) == ("20", "40")
    assert row["windowStart"] == "2026-12-01T00:00:00Z"
    assert row["windowEnd"] == "2026-12-03T10:30:00Z"  # converted to UTC
    assert row["createdAt"] == "2026-11-22T09:30:00.123456Z"
    assert row["productTypes"] == "GRD;SLC-COG"


def test_csv_escapes_commas_quotes_newlines_and_keeps_unicode() -> None:
    text = tasks_to_csv([make_task()])
    (row,) = read_csv(text)
    assert row["reference"] == 'harbour, "north" pier\nsecond line – ünïcødé 港'
    assert '"harbour, ""north"" pier' in text  # RFC 4180 quoting, not backslashes


def test_csv_leaves_missing_optional_fields_empty() -> None:
    task = make_task(reference=None, productTypes=None, updatedAt=None, incidenceAngle=None)
    (row,) = read_csv(tasks_to_csv([task]))
    assert row["reference"] == row["productTypes"] == row["updatedAt"] == row["incidenceMin"] == ""


@pytest.mark.parametrize("dangerous", ['=HYPERLINK("x")', "+1+1", "-2+3", "@SUM(A1)", "\tx"])
def test_csv_neutralises_spreadsheet_formulas(dangerous: str) -> None:
    (row,) = read_csv(tasks_to_csv([make_task(reference=dangerous)]))
    assert row["reference"] == "'" + dangerous


def test_csv_keeps_negative_coordinates_as_numbers() -> None:
    (row,) = read_csv(tasks_to_csv([make_task()]))
    assert row["lat"] == "-33.8688"


def test_csv_of_no_tasks_is_just_the_header() -> None:
    assert read_csv(tasks_to_csv([])) == []
    assert tasks_to_csv([]).splitlines() == [",".join(CSV_COLUMNS)]


def test_geojson_is_a_feature_collection_of_lon_lat_points() -> None:
    collection = json.loads(json.dumps(tasks_to_geojson([make_task()]), ensure_ascii=False))
    assert collection["type"] == "FeatureCollection"
    (feature,) = collection["features"]
    assert feature["type"] == "Feature"
    assert feature["id"] == "7d2b0c1e-8a9f-4c51-9a0e-2f4b1c9d0e11"
    assert feature["geometry"] == {"type": "Point", "coordinates": [151.2093, -33.8688]}


def test_geojson_properties_carry_the_task_fields() -> None:
    (feature,) = tasks_to_geojson([make_task()])["features"]
    props = feature["properties"]
    assert list(props) == list(GEOJSON_PROPERTIES)
    assert props["reference"] == 'harbour, "north" pier\nsecond line – ünïcødé 港'
    assert props["contractID"] == "c0ffee00-0000-4000-8000-000000000001"
    assert props["status"] == "ACTIVE"
    assert props["imagingMode"] == "SPOTLIGHT"
    assert props["priority"] == "COMMERCIAL"
    assert props["sla"] == "SLA_8H"
    assert props["windowStart"] == "2026-12-01T00:00:00Z"
    assert props["windowEnd"] == "2026-12-03T10:30:00Z"
    assert props["createdAt"] == "2026-11-22T09:30:00.123456Z"
    assert props["productTypes"] == "GRD;SLC-COG"


def test_geojson_keeps_text_unchanged_and_missing_values_null() -> None:
    task = make_task(reference="=1+1", priority=None)
    (feature,) = tasks_to_geojson([task])["features"]
    # Formula guarding is a spreadsheet concern: GeoJSON carries the real reference.
    assert feature["properties"]["reference"] == "=1+1"
    assert feature["properties"]["priority"] is None


def test_geojson_of_no_tasks_is_an_empty_collection() -> None:
    assert tasks_to_geojson([]) == {"type": "FeatureCollection", "features": []}


# --- footprints ------------------------------------------------------------------------------

SYDNEY = (-33.8688, 151.2093)


def signed_area(ring: list[list[float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))


def contains(ring: list[list[float]], lon: float, lat: float) -> bool:
    """Ray casting on a closed ring of [lon, lat]."""
    inside = False
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        if (y0 > lat) != (y1 > lat) and lon < x0 + (lat - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def round_trip(collection: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(json.dumps(collection, allow_nan=False))
    return parsed


def test_geojson_gives_the_footprint_polygon_when_a_scene_is_known() -> None:
    corners = scene_footprint(*SYDNEY, 190.0, "RIGHT", 5.0, 5.0)
    task = make_task()
    (feature,) = round_trip(tasks_to_geojson([task], {task.id: Footprint(corners, "actual")}))[
        "features"
    ]

    geometry = feature["geometry"]
    assert geometry["type"] == "Polygon"
    (ring,) = geometry["coordinates"]
    assert len(ring) == 5 and ring[0] == ring[-1]  # four corners, closed
    assert signed_area(ring) > 0  # RFC 7946 §3.1.6: exterior ring counterclockwise
    assert contains(ring, SYDNEY[1], SYDNEY[0])  # [lon, lat] order, around the point
    assert {(lat, lon) for lon, lat in ring} == set(corners)
    props = feature["properties"]
    assert (props["lat"], props["lon"]) == SYDNEY  # the point is kept in the properties
    assert props["footprint"] == "actual"
    assert props["id"] == feature["id"] == task.id


@pytest.mark.parametrize("look", ["LEFT", "RIGHT"])
def test_geojson_footprint_is_counterclockwise_whatever_the_corner_order(look: str) -> None:
    corners = scene_footprint(*SYDNEY, 10.0, look, 30.0, 50.0)  # type: ignore[arg-type]
    for given in (corners, corners[::-1], [*corners, corners[0]]):
        (feature,) = tasks_to_geojson([make_task()], {make_task().id: Footprint(given, "planned")})[
            "features"
        ]
        (ring,) = feature["geometry"]["coordinates"]
        assert len(ring) == 5 and ring[0] == ring[-1]
        assert signed_area(ring) > 0


def test_geojson_mixes_footprints_and_points_and_says_which() -> None:
    known, unknown = make_task(id="known"), make_task(id="unknown")
    corners = scene_footprint(*SYDNEY, 190.0, "LEFT", 5.0, 5.0)
    features = tasks_to_geojson([known, unknown], {"known": Footprint(corners, "planned")})[
        "features"
    ]

    assert [f["geometry"]["type"] for f in features] == ["Polygon", "Point"]
    assert [f["properties"]["footprint"] for f in features] == ["planned", None]
    assert features[1]["geometry"]["coordinates"] == [SYDNEY[1], SYDNEY[0]]


def test_geojson_falls_back_to_the_point_when_the_footprint_is_no_area() -> None:
    task = make_task()
    flat = [SYDNEY, (SYDNEY[0] + 0.1, SYDNEY[1]), SYDNEY]
    (feature,) = tasks_to_geojson([task], {task.id: Footprint(flat, "actual")})["features"]

    assert feature["geometry"]["type"] == "Point"
    assert feature["properties"]["footprint"] is None


@pytest.mark.parametrize("lon", [179.98, -179.98])
def test_geojson_footprint_across_the_antimeridian_is_cut_into_a_multipolygon(lon: float) -> None:
    task = make_task(pointOfInterest={"lat": -16.0, "lon": lon})
    corners = scene_footprint(-16.0, lon, 5.0, "RIGHT", 10.0, 10.0)
    (feature,) = round_trip(tasks_to_geojson([task], {task.id: Footprint(corners, "actual")}))[
        "features"
    ]

    geometry = feature["geometry"]
    assert geometry["type"] == "MultiPolygon"
    rings = [polygon[0] for polygon in geometry["coordinates"]]
    assert len(rings) == 2
    for ring in rings:
        assert ring[0] == ring[-1]
        assert all(-180.0 <= x <= 180.0 for x, _ in ring)
        assert signed_area(ring) > 0
    # One part on each side, meeting at the antimeridian.
    assert {max(abs(x) for x, _ in ring) for ring in rings} == {180.0}
    assert sorted(min(x for x, _ in ring) > 0 for ring in rings) == [False, True]


# --- a campaign's export (issue 12) ---------------------------------------------------------------


def make_campaign() -> Campaign:
    """Three targets: one placed (task known), one refused, one never sent."""
    from datetime import UTC, datetime

    from tasking.models import TaskRequest

    def request(lat: float, lon: float) -> TaskRequest:
        return TaskRequest.model_validate(
            {
                "contractID": "c0ffee00-0000-4000-8000-000000000001",
                "pointOfInterest": {"lat": lat, "lon": lon},
                "acquisitionWindow": {
                    "start": "2026-12-01T00:00:00Z",
                    "end": "2026-12-03T00:00:00Z",
                },
                "imagingMode": "SPOTLIGHT",
            }
        )

    return Campaign(
        id="5a5a5a5a-0000-4000-8000-000000000001",
        name="=Ports",  # a spreadsheet formula: neutralised in the CSV
        contract_id="c0ffee00-0000-4000-8000-000000000001",
        created_at=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
        options={"imagingMode": "SPOTLIGHT"},
        status=CampaignStatus.PARTIAL,
        targets=(
            CampaignTarget(
                0,
                "Sydney",
                -33.8688,
                151.2093,
                request(-33.8688, 151.2093),
                order_key="k1",
                task_id="7d2b0c1e-8a9f-4c51-9a0e-2f4b1c9d0e11",
            ),
            CampaignTarget(
                1,
                "Hobart",
                -42.88,
                147.33,
                request(-42.88, 147.33),
                order_key="k2",
                error="Window in the past",
            ),
            CampaignTarget(2, "Perth", -31.95, 115.86, request(-31.95, 115.86)),
        ),
    )


def test_campaign_csv_has_one_row_per_target_in_order_with_the_tasks_columns() -> None:
    campaign = make_campaign()
    task = make_task(status="DONE")
    rows = read_csv(campaign_to_csv(campaign, {task.id: task}))
    assert list(rows[0].keys()) == [*CAMPAIGN_COLUMNS, *COLUMNS]
    assert [r["target"] for r in rows] == ["Sydney", "Hobart", "Perth"]
    assert [r["position"] for r in rows] == ["1", "2", "3"]
    assert [r["order"] for r in rows] == ["PLACED", "REFUSED", "PENDING"]
    assert rows[0]["id"] == task.id and rows[0]["status"] == "DONE"
    assert rows[0]["campaign"] == "'=Ports"
    assert rows[1]["orderError"] == "Window in the past"
    assert rows[1]["id"] == rows[1]["status"] == "" and rows[2]["targetLat"] == "-31.95"


def test_campaign_csv_names_a_placed_task_whose_document_is_not_known_yet() -> None:
    rows = read_csv(campaign_to_csv(make_campaign(), {}))
    assert rows[0]["id"] == "7d2b0c1e-8a9f-4c51-9a0e-2f4b1c9d0e11"
    assert rows[0]["order"] == "PLACED" and rows[0]["status"] == ""


def test_campaign_geojson_has_a_footprint_where_known_and_the_targets_point_elsewhere() -> None:
    campaign = make_campaign()
    task = make_task(status="DONE")
    corners = scene_footprint(-33.8688, 151.2093, 190.0, "RIGHT", 5.0, 5.0)
    collection = json.loads(
        json.dumps(
            campaign_to_geojson(campaign, {task.id: task}, {task.id: Footprint(corners, "actual")})
        )
    )
    assert collection["type"] == "FeatureCollection"
    assert collection["campaign"]["id"] == campaign.id
    assert collection["campaign"]["name"] == "=Ports"
    features = collection["features"]
    assert [f["properties"]["target"] for f in features] == ["Sydney", "Hobart", "Perth"]
    assert features[0]["geometry"]["type"] == "Polygon"
    assert features[0]["properties"]["footprint"] == "actual"
    assert features[0]["properties"]["status"] == "DONE"
    ring = features[0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    for feature, (lon, lat) in zip(features[1:], [(147.33, -42.88), (115.86, -31.95)], strict=True):
        assert feature["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
        assert feature["properties"]["footprint"] is None
        assert feature["properties"]["status"] is None
    assert [f["properties"]["order"] for f in features] == ["PLACED", "REFUSED", "PENDING"]
    assert len({f["id"] for f in features}) == 3


def test_campaign_progress_counts_each_target_once_in_its_bucket() -> None:
    campaign = make_campaign()
    placed, refused, pending = campaign.targets
    rows = [
        TargetProgress(placed, status="FULFILLED"),
        TargetProgress(refused),
        TargetProgress(pending),
    ]
    assert counts(rows) == {
        Bucket.NOT_ORDERED: 2,
        Bucket.PLANNED: 0,
        Bucket.CAPTURED: 1,
        Bucket.DELIVERED: 0,
        Bucket.FAILED: 0,
    }
    assert not is_settled(rows)  # FULFILLED: products still to come
    assert [r.target.name for r in unsent(rows)] == ["Hobart", "Perth"]
    done = [TargetProgress(placed, status="DONE"), *rows[1:]]
    assert is_settled(done)
    assert bucket_of(placed, None) is Bucket.PLANNED  # placed, status not seen yet
    assert bucket_of(placed, "CANCELED") is Bucket.FAILED


def test_an_order_in_doubt_keeps_a_campaign_unsettled() -> None:
    campaign = make_campaign()
    doubtful = CampaignTarget(
        3, "Darwin", -12.46, 130.84, campaign.targets[2].request, order_key="k4"
    )
    row = TargetProgress(doubtful)
    assert row.state is TargetState.UNCONFIRMED and row.bucket is Bucket.NOT_ORDERED
    assert not is_settled([row])
