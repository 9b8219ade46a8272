"""Export of the task list: CSV for spreadsheets, GeoJSON for GIS tools.

Both exports carry the same columns (``COLUMNS``), taken from the documented Task fields
(``reference/iceye-api.md`` §4.2); times are RFC 3339 UTC, product types are joined with ``;``.

GeoJSON (RFC 7946): one Feature per task. Its geometry is the scene's footprint, a ``Polygon``,
when one is known (``Footprint``: the actual scene once captured, else the planned one), and the
point of interest, a ``Point``, otherwise. The point is always in the properties (``lat``,
``lon``), and ``footprint`` says which scene the polygon is (``actual``, ``planned``, or null for
a point). A Polygon rather than a GeometryCollection of point and footprint: GIS tools give a
layer one geometry type and handle GeometryCollections poorly (they cannot be styled or
measured as areas), while Polygons and Points open as ordinary layers everywhere; the point is
not lost, it is in the properties. A footprint across the antimeridian is cut there into a
``MultiPolygon`` (RFC 7946 §3.1.9).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tasking.campaign_progress import order_state
from tasking.campaigns import Campaign, CampaignTarget
from tasking.geometry import LatLon, normalize_lon, unwrap
from tasking.models import Task
from tasking.times import format_rfc3339

__all__ = [
    "CAMPAIGN_COLUMNS",
    "COLUMNS",
    "CSV_COLUMNS",
    "GEOJSON_PROPERTIES",
    "Footprint",
    "campaign_to_csv",
    "campaign_to_geojson",
    "tasks_to_csv",
    "tasks_to_geojson",
]


COLUMNS = (
    "id",
    "reference",
    "contractID",
    "status",
    "imagingMode",
    "priority",
    "sla",
    "exclusivity",
    "lookSide",
    "passDirection",
    "incidenceMin",
    "incidenceMax",
    "imagingDuration",
    "windowStart",
    "windowEnd",
    "createdAt",
    "updatedAt",
    "productTypes",
)
CSV_COLUMNS = (*COLUMNS[:4], "lat", "lon", *COLUMNS[4:])
GEOJSON_PROPERTIES = (*COLUMNS, "lat", "lon", "footprint")


@dataclass(frozen=True)
class Footprint:
    """A scene's footprint on the ground: its corners as (lat, lon), an open or closed ring."""

    corners: Sequence[LatLon]
    scene: Literal["planned", "actual"]


# OWASP "CSV Injection": a spreadsheet runs a cell that starts with = + - @ (or tab / carriage
# return) as a formula, so text cells starting with one get a leading apostrophe, which makes
# Excel, LibreOffice and Google Sheets show them as text. Numbers we write ourselves are left alone.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _properties(task: Task) -> dict[str, Any]:
    incidence = task.incidenceAngle
    return {
        "id": task.id,
        "reference": task.reference,
        "contractID": task.contractID,
        "status": task.status,
        "imagingMode": task.imagingMode,
        "priority": task.priority,
        "sla": task.sla,
        "exclusivity": task.exclusivity,
        "lookSide": task.lookSide,
        "passDirection": task.passDirection,
        "incidenceMin": incidence.min if incidence else None,
        "incidenceMax": incidence.max if incidence else None,
        "imagingDuration": task.imagingDuration,
        "windowStart": format_rfc3339(task.acquisitionWindow.start),
        "windowEnd": format_rfc3339(task.acquisitionWindow.end),
        "createdAt": format_rfc3339(task.createdAt),
        "updatedAt": format_rfc3339(task.updatedAt) if task.updatedAt else None,
        "productTypes": ";".join(task.productTypes) if task.productTypes else None,
    }


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def tasks_to_csv(tasks: Sequence[Task]) -> str:
    """CSV text (RFC 4180, header row, CRLF) with one row per task; safe to open in a spreadsheet.

    For Excel to read UTF-8 names, offer the download as ``text.encode("utf-8-sig")``.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for task in tasks:
        row = _properties(task)
        row["lat"] = task.pointOfInterest.lat
        row["lon"] = task.pointOfInterest.lon
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


def tasks_to_geojson(
    tasks: Sequence[Task], footprints: Mapping[str, Footprint] | None = None
) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection, one Feature per task: the footprint polygon when
    ``footprints`` (task id → footprint) has the task's, else its point ``[lon, lat]``;
    ``GEOJSON_PROPERTIES`` as properties."""
    footprints = footprints or {}
    features = []
    for task in tasks:
        point = task.pointOfInterest
        footprint = footprints.get(task.id)
        geometry = _polygon(footprint.corners) if footprint is not None else None
        properties = _properties(task)
        properties["lat"] = point.lat
        properties["lon"] = point.lon
        properties["footprint"] = footprint.scene if footprint and geometry else None
        features.append(
            {
                "type": "Feature",
                "id": task.id,
                "geometry": geometry or {"type": "Point", "coordinates": [point.lon, point.lat]},
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


# --- a campaign (issue 12): one row / feature per target, ordered or not --------------------------

CAMPAIGN_COLUMNS = (
    "campaign",
    "campaignID",
    "position",
    "target",
    "targetLat",
    "targetLon",
    "order",
    "orderError",
)
"""Per target, before the task's columns (``COLUMNS``): the campaign, the target's place (from
1), name and point, its order (PLACED, REFUSED, UNCONFIRMED or PENDING, ``tasking.campaigns``)
and why it was refused. A target without a task has empty task columns."""


def _target_properties(campaign: Campaign, target: CampaignTarget) -> dict[str, Any]:
    return {
        "campaign": campaign.name,
        "campaignID": campaign.id,
        "position": target.position + 1,
        "target": target.name,
        "targetLat": target.lat,
        "targetLon": target.lon,
        "order": order_state(target).value,
        "orderError": target.error,
    }


def _task_of(target: CampaignTarget, tasks: Mapping[str, Task]) -> Task | None:
    return tasks.get(target.task_id) if target.task_id is not None else None


def campaign_to_csv(campaign: Campaign, tasks: Mapping[str, Task]) -> str:
    """CSV text of every target of the campaign in its order: ``CAMPAIGN_COLUMNS`` then the task's
    ``COLUMNS`` (from ``tasks``, task id → its last known document; empty when unknown)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow((*CAMPAIGN_COLUMNS, *COLUMNS))
    for target in campaign.targets:
        task = _task_of(target, tasks)
        row = _target_properties(campaign, target)
        row.update(_properties(task) if task is not None else dict.fromkeys(COLUMNS))
        if task is None:
            row["id"] = target.task_id
        writer.writerow([_cell(row[column]) for column in (*CAMPAIGN_COLUMNS, *COLUMNS)])
    return buffer.getvalue()


def campaign_to_geojson(
    campaign: Campaign,
    tasks: Mapping[str, Task],
    footprints: Mapping[str, Footprint] | None = None,
) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection with one Feature per target, in the campaign's order: its
    task's scene footprint where known (``footprints``, task id → footprint), else the target's
    point; ``CAMPAIGN_COLUMNS``, the task's ``COLUMNS`` and ``footprint`` as properties. The
    collection's own ``campaign`` member names it (RFC 7946 §6.1 allows foreign members)."""
    footprints = footprints or {}
    features = []
    for target in campaign.targets:
        task = _task_of(target, tasks)
        footprint = footprints.get(target.task_id) if target.task_id is not None else None
        geometry = _polygon(footprint.corners) if footprint is not None else None
        properties = _target_properties(campaign, target)
        properties.update(_properties(task) if task is not None else dict.fromkeys(COLUMNS))
        if task is None:
            properties["id"] = target.task_id
        properties["footprint"] = footprint.scene if footprint and geometry else None
        features.append(
            {
                "type": "Feature",
                "id": f"{campaign.id}/{target.position + 1}",
                "geometry": geometry or {"type": "Point", "coordinates": [target.lon, target.lat]},
                "properties": properties,
            }
        )
    return {
        "type": "FeatureCollection",
        "campaign": {
            "id": campaign.id,
            "name": campaign.name,
            "contractID": campaign.contract_id,
            "createdAt": format_rfc3339(campaign.created_at),
            "options": campaign.options,
        },
        "features": features,
    }


Ring = list[list[float]]


def _polygon(corners: Sequence[LatLon]) -> dict[str, Any] | None:
    """A Polygon (a MultiPolygon when cut at the antimeridian) of the corners; None when they
    do not make an area."""
    points = unwrap(corners)
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]
    if len({(round(lat, 9), round(lon, 9)) for lat, lon in points}) < 3:
        return None
    ring = [[lon, lat] for lat, lon in points]
    if _signed_area(ring) < 0:
        ring.reverse()  # RFC 7946 §3.1.6: exterior rings are counterclockwise
    # unwrap keeps steps under 180°, so the ring leaves [-180, 180] on one side at most.
    west, east = min(x for x, _ in ring), max(x for x, _ in ring)
    shift = 360.0 if west < -180.0 else -360.0 if east > 180.0 else 0.0
    if shift == 0.0:
        return {"type": "Polygon", "coordinates": [_closed(ring)]}
    edge = 180.0 if shift < 0 else -180.0  # the antimeridian on the side the ring leaves
    inside = _clip(ring, edge, keep_below=edge > 0)
    outside = [[x + shift, y] for x, y in _clip(ring, edge, keep_below=edge < 0)]
    parts = [[_closed(_wrapped(part))] for part in (inside, outside) if len(part) >= 3]
    return {"type": "MultiPolygon", "coordinates": parts}


def _signed_area(ring: Ring) -> float:
    """Twice the shoelace area of a ring of [x, y]: positive when counterclockwise."""
    return sum(
        x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)
    )


def _clip(ring: Ring, x_edge: float, *, keep_below: bool) -> Ring:
    """The part of a ring on one side of the meridian ``x_edge`` (Sutherland–Hodgman; straight
    edges in degrees, which is how GeoJSON draws them)."""

    def inside(p: list[float]) -> bool:
        return p[0] <= x_edge if keep_below else p[0] >= x_edge

    out: Ring = []
    for current, following in zip(ring, ring[1:] + ring[:1], strict=True):
        if inside(current):
            out.append(current)
        if inside(current) != inside(following):
            t = (x_edge - current[0]) / (following[0] - current[0])
            out.append([x_edge, current[1] + t * (following[1] - current[1])])
    return out


def _wrapped(ring: Ring) -> Ring:
    # Exactly ±180 stays as it is (the cut edge); anything else comes back into range.
    return [[x if abs(x) == 180.0 else normalize_lon(x), y] for x, y in ring]


def _closed(ring: Ring) -> Ring:
    return [*ring, ring[0]]
