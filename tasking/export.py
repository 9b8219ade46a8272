"""Export of the task list: CSV for spreadsheets, GeoJSON for GIS tools.

Both exports carry the same columns (``COLUMNS``), taken from the documented Task fields
(``reference/iceye-api.md`` §4.2); times are RFC 3339 UTC, product types are joined with ``;``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from tasking.models import Task
from tasking.times import format_rfc3339

__all__ = [
    "COLUMNS",
    "CSV_COLUMNS",
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


def tasks_to_geojson(tasks: Sequence[Task]) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection: one Point ``[lon, lat]`` per task, ``COLUMNS`` as properties."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": task.id,
                "geometry": {
                    "type": "Point",
                    "coordinates": [task.pointOfInterest.lon, task.pointOfInterest.lat],
                },
                "properties": _properties(task),
            }
            for task in tasks
        ],
    }
