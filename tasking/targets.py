"""Targets from a file: the rows of a CSV or the features of a GeoJSON, each checked with the rules
of a single task.

``read_targets(data, filename)`` reads either; ``parse_csv`` and ``parse_geojson`` read one format
(``parse_geojson`` also takes an already decoded document, e.g. a shape drawn on the map). They
never raise on what a user gives them: everything wrong is a ``Refusal`` naming where it is (the
row or the feature), the rule it breaks and what to do, next to what could be read
(``TargetFile``: targets, areas, refusals).

CSV:
- Columns are found by a header (``name``, ``lat``/``latitude``/``y``, ``lon``/``lng``/
  ``longitude``/``x``, or one ``coordinates`` column; in any order, any case, units in brackets
  ignored) or, without one, by position: ``lat, lon``; ``name, lat, lon``; or one column of
  typed coordinates. A first row that names none of these and holds no digit is a header we do
  not understand, and refused as such.
- Coordinates are read exactly as typed coordinates are (``tasking.coords``: decimal, degrees
  minutes seconds, hemisphere letters): the latitude and longitude cells are read as the text
  ``"<lat>, <lon>"``. One addition: a cell holding one number with a decimal comma (``60,17``, as
  spreadsheets write it in many locales) reads as ``60.17``: a cell holds one coordinate, so its
  comma cannot separate two.
- UTF-8 with or without a byte-order mark, UTF-16 with one, else Windows-1252 (what spreadsheets
  on Windows save); comma, semicolon, tab or ``|`` delimiters, detected from the first rows; any
  line ending; empty rows are skipped.
- Row numbers are as a spreadsheet shows them: the file's first row is row 1, the header counts,
  and so do empty rows.

GeoJSON (RFC 7946): a FeatureCollection, a Feature or a bare geometry. A ``Point`` or each point
of a ``MultiPoint`` is a target; a ``LineString``, ``Polygon`` or their ``Multi`` forms is an
``Area`` for ``tasking.tiling`` to cover with scenes; a ``GeometryCollection`` is read member by
member. A name comes from ``properties.name`` (else ``reference``, ``title``, ``label``).
Features are numbered from 1 in the order of the file.

Every target gets the point rules of a single task (``rules.point_violations``) and its name the
reference rules (``rules.REFERENCE_MAX`` characters, encodable text). Areas get the same name
rules; their vertices may run past ±180° of longitude (a shape drawn across the antimeridian on a
map does), are made continuous within each part, and a ring that goes around a pole or crosses
itself is refused.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.validation import explain_validity

from tasking import rules
from tasking.coords import parse_coordinates
from tasking.errors import InputError, Violation

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_TARGETS",
    "RULE_AREA_POLE",
    "RULE_AREA_SHAPE",
    "RULE_COLUMNS",
    "RULE_EMPTY",
    "RULE_FILE_FORMAT",
    "RULE_FILE_SIZE",
    "RULE_GEOJSON",
    "RULE_MAX_TARGETS",
    "Area",
    "Refusal",
    "Target",
    "TargetFile",
    "name_violations",
    "parse_csv",
    "parse_geojson",
    "read_targets",
]


# Our own limits (a design choice, not ICEYE's): 1,000 targets is the largest campaign the
# benchmarks measure (feasibility for 1,000 points in one request); 5 MiB holds that many rows
# many times over and a detailed coastline polygon, and keeps a careless upload from filling memory.
MAX_FILE_BYTES: Final = 5 * 1024 * 1024
MAX_TARGETS: Final = 1000

RULE_FILE_SIZE: Final = "file-size"
RULE_FILE_FORMAT: Final = "file-format"
RULE_MAX_TARGETS: Final = "max-targets"
RULE_EMPTY: Final = "no-targets"
RULE_COLUMNS: Final = "csv-columns"
RULE_GEOJSON: Final = "geojson"
RULE_AREA_SHAPE: Final = "area-shape"
RULE_AREA_POLE: Final = "area-pole"

Unit = Literal["row", "feature", "file"]


@dataclass(frozen=True)
class Target:
    """One point to image: ``name`` becomes the task's reference (may be empty)."""

    name: str
    lat: float
    lon: float
    row: int | None = None  # where it came from: the CSV row or GeoJSON feature number


@dataclass(frozen=True)
class Area:
    """A line or polygon to be covered with scenes (``tasking.tiling.tile_area``).

    ``geometry`` is a shapely (Multi)Polygon or (Multi)LineString in degrees, x = longitude,
    y = latitude; longitudes are continuous within each part, so a part across the antimeridian
    runs past ±180 instead of jumping.
    """

    name: str
    kind: Literal["polygon", "line"]
    geometry: Any
    row: int | None = None


@dataclass(frozen=True)
class Refusal:
    """One thing in a file that cannot be ordered: where (``unit`` and ``row``), which field and
    rule, and the sentence saying so (ending with the rule id, as ``Violation`` messages do)."""

    unit: Unit
    row: int | None
    field: str
    rule: str
    message: str

    @property
    def where(self) -> str:
        """``Row 3``, ``Feature 2`` or ``File``."""
        if self.unit == "file" or self.row is None:
            return "File"
        return f"{self.unit.capitalize()} {self.row}"

    @property
    def user_message(self) -> str:
        """``Row 3: <the sentence without its rule id>``, for people."""
        plain = rules.user_message(Violation(self.field, self.rule, self.message))
        return f"{self.where}: {plain}"

    def violation(self) -> Violation:
        """As a ``Violation`` whose field says where: ``row 3 lat``, ``feature 2``, ``file``."""
        where = self.where.lower()
        return Violation(f"{where} {self.field}".strip(), self.rule, self.message)


@dataclass(frozen=True)
class TargetFile:
    """What a file holds: the targets and areas that can be ordered, and what was refused."""

    format: Literal["csv", "geojson"]
    targets: tuple[Target, ...] = ()
    areas: tuple[Area, ...] = ()
    refusals: tuple[Refusal, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.refusals


def _file_refusal(fmt: Literal["csv", "geojson"], rule: str, message: str) -> TargetFile:
    return TargetFile(fmt, refusals=(Refusal("file", None, "", rule, message),))


def name_violations(name: str, field: str = "name") -> list[Violation]:
    """The reference rules of a single task (``rules``: at most ``REFERENCE_MAX`` characters of
    encodable text) for a name that will become a task's reference."""
    found = []
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        found.append(
            Violation(
                field,
                rules.RULE_TEXT_ENCODING,
                "The name has a character that is not valid text (an unpaired surrogate): "
                f"retype it ({rules.RULE_TEXT_ENCODING} rule).",
            )
        )
    if len(name) > rules.REFERENCE_MAX:
        found.append(
            Violation(
                field,
                rules.RULE_REFERENCE,
                f"The name is {len(name)} characters; a task's reference takes at most "
                f"{rules.REFERENCE_MAX} ({rules.RULE_REFERENCE} rule).",
            )
        )
    return found


def _size_refusal(size: int, fmt: Literal["csv", "geojson"]) -> TargetFile | None:
    if size <= MAX_FILE_BYTES:
        return None
    return _file_refusal(
        fmt,
        RULE_FILE_SIZE,
        f"The file is {size / 1024 / 1024:.1f} MiB; at most {MAX_FILE_BYTES // 1024 // 1024} MiB "
        f"can be read: split it ({RULE_FILE_SIZE} rule).",
    )


def _too_many(count: int, fmt: Literal["csv", "geojson"]) -> TargetFile:
    return _file_refusal(
        fmt,
        RULE_MAX_TARGETS,
        f"The file has {count:,} targets; at most {MAX_TARGETS:,} can be ordered at once: "
        f"split it ({RULE_MAX_TARGETS} rule).",
    )


def _nothing(fmt: Literal["csv", "geojson"], refusals: Sequence[Refusal]) -> TargetFile:
    """No target at all: the refusals found, or one saying the file is empty of targets."""
    if refusals:
        return TargetFile(fmt, refusals=tuple(refusals))
    what = "rows" if fmt == "csv" else "features"
    return _file_refusal(
        fmt, RULE_EMPTY, f"The file has no {what} with a target ({RULE_EMPTY} rule)."
    )


def read_targets(data: bytes | str, filename: str = "") -> TargetFile:
    """Targets and areas from an uploaded file: GeoJSON by its extension (``.geojson``,
    ``.json``) or, for any other name, when it starts with ``{``; CSV otherwise."""
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix in ("geojson", "json"):
        return parse_geojson(data)
    if suffix in ("csv", "tsv", "txt"):
        return parse_csv(data)
    head = data[:1024]
    text = head.decode("utf-8", "ignore") if isinstance(head, bytes) else head
    if text.lstrip("\ufeff \t\r\n").startswith("{"):
        return parse_geojson(data)
    return parse_csv(data)


# --- CSV -----------------------------------------------------------------------------------------

_DELIMITERS: Final = ("\t", ";", ",", "|")  # ties go to the first: a ';' or tab is rarely data
_SNIFF_ROWS: Final = 50

_NAME_COLUMNS: Final = (
    "name",
    "reference",
    "label",
    "title",
    "target",
    "site",
    "place",
    "ref",
    "id",
)
_LAT_COLUMNS: Final = frozenset({"lat", "latitude", "y"})
_LON_COLUMNS: Final = frozenset({"lon", "lng", "long", "longitude", "x"})
_COMBINED_COLUMNS: Final = frozenset(
    {
        "coordinates",
        "coordinate",
        "coords",
        "coord",
        "position",
        "location",
        "point",
        "latlon",
        "latlng",
        "latlong",
    }
)
_DECIMAL_COMMA: Final = re.compile(r"\s*[+\-−]?\d+,\d+\s*")


def _decode(data: bytes) -> str | None:
    """The text of a file: UTF-8 (BOM or not), UTF-16 with a BOM, else Windows-1252; None when
    none of them reads it or it holds NUL characters (a binary file)."""
    candidates: tuple[str, ...]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ("utf-16",)
    else:
        candidates = ("utf-8-sig", "cp1252")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return None if "\x00" in text else text
    return None


@dataclass(frozen=True)
class _Columns:
    lat: int | None = None
    lon: int | None = None
    combined: int | None = None
    name: int | None = None


def _records(text: str, delimiter: str) -> Iterator[list[str]]:
    # One string per physical line, so that a lone '\r' ends a line as '\n' does and the csv
    # module's count of records matches a spreadsheet's rows (quoted line breaks stay in one).
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return csv.reader((line + "\n" for line in lines), delimiter=delimiter)


def _delimiter(text: str) -> str:
    """The delimiter that splits the first rows into the same number (≥ 2) of cells most often."""
    best, best_score = ",", 0
    for candidate in _DELIMITERS:
        counts: list[int] = []
        try:
            for record in _records(text, candidate):
                if any(cell.strip() for cell in record):
                    counts.append(len(record))
                if len(counts) >= _SNIFF_ROWS:
                    break
        except csv.Error:
            continue
        if not counts:
            continue
        modal = max(set(counts), key=counts.count)
        score = counts.count(modal) if modal >= 2 else 0
        if score > best_score:
            best, best_score = candidate, score
    return best


def _column_words(cell: str) -> list[str]:
    """A header cell's words, lower case, without units in brackets (``Latitude (deg)`` →
    ``["latitude"]``, ``lat/lon`` → ``["lat", "lon"]``)."""
    text = re.split(r"[(\[]", cell.strip().strip("\"'").lower(), maxsplit=1)[0]
    return re.findall(r"[^\W\d_]+", text)


def _header_columns(cells: Sequence[str]) -> _Columns | None:
    """The columns a header row names, or None when the row is not a header: it names no column
    we know, or it names only some (a name column, no coordinates) and holds a digit, as a first
    target named ``Site`` would."""
    keyed = [(i, _column_words(cell)) for i, cell in enumerate(cells)]

    def combined(words: list[str]) -> bool:
        return "".join(words) in _COMBINED_COLUMNS

    def leftmost(names: frozenset[str]) -> int | None:
        # A coordinate column is named by its first word (``lat_dd``, ``Longitude E``) or by all
        # its words; ``lat/lon`` is the combined column, not a latitude.
        for index, words in keyed:
            if words and not combined(words) and (words[0] in names or "".join(words) in names):
                return index
        return None

    lat, lon = leftmost(_LAT_COLUMNS), leftmost(_LON_COLUMNS)
    both = next((i for i, words in keyed if words and combined(words)), None)
    name = next(
        (i for key in _NAME_COLUMNS for i, words in keyed if key in words and i not in (lat, lon)),
        None,
    )
    if (lat is not None and lon is not None) or both is not None:
        return _Columns(lat=lat, lon=lon, combined=both, name=name)
    if all(c is None for c in (lat, lon, name)) or any(ch.isdigit() for c in cells for ch in c):
        return None
    return _Columns(lat=lat, lon=lon, combined=both, name=name)


def _positional_columns(width: int) -> _Columns:
    if width <= 1:
        return _Columns(combined=0)
    if width == 2:
        return _Columns(lat=0, lon=1)
    return _Columns(name=0, lat=1, lon=2)


def _coordinate_text(lat_cell: str, lon_cell: str) -> str:
    def one(cell: str) -> str:
        return cell.replace(",", ".") if _DECIMAL_COMMA.fullmatch(cell) else cell

    return f"{one(lat_cell)}, {one(lon_cell)}"


def _row_refusals(row: int, violations: Iterable[Violation]) -> list[Refusal]:
    return [Refusal("row", row, v.field, v.rule, v.message) for v in violations]


def _read_row(row: int, cells: list[str], columns: _Columns) -> Target | list[Refusal]:
    def cell(index: int | None) -> str:
        return cells[index].strip() if index is not None and index < len(cells) else ""

    name = cell(columns.name)
    refusals = _row_refusals(row, name_violations(name))
    if columns.combined is not None and (columns.lat is None or columns.lon is None):
        text = cell(columns.combined)
        if not text:
            return [
                *refusals,
                Refusal(
                    "row",
                    row,
                    "coordinates",
                    rules.RULE_REQUIRED,
                    f"The coordinates are missing ({rules.RULE_REQUIRED} rule).",
                ),
            ]
    else:
        lat_text, lon_text = cell(columns.lat), cell(columns.lon)
        missing = [
            Refusal(
                "row",
                row,
                key,
                rules.RULE_REQUIRED,
                f"The {label} is missing ({rules.RULE_REQUIRED} rule).",
            )
            for key, label, value in (("lat", "latitude", lat_text), ("lon", "longitude", lon_text))
            if not value
        ]
        if missing:
            return [*refusals, *missing]
        text = _coordinate_text(lat_text, lon_text)
    try:
        lat, lon = parse_coordinates(text)
    except InputError as error:
        return [*refusals, *_row_refusals(row, error.violations)]
    if refusals:
        return refusals
    return Target(name=name, lat=lat, lon=lon, row=row)


def _listed(cells: Sequence[str]) -> str:
    text = ", ".join(c.strip() for c in cells if c.strip())
    return text if len(text) <= 80 else text[:79] + "…"


def _header_refusal(row: int, message: str) -> TargetFile:
    return TargetFile("csv", refusals=(Refusal("row", row, "header", RULE_COLUMNS, message),))


def parse_csv(data: bytes | str) -> TargetFile:
    """Targets from a CSV file (the module docstring says what is read); never raises on the
    file's content."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if (too_big := _size_refusal(size, "csv")) is not None:
        return too_big
    text = _decode(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    if text is None or "\x00" in text:
        return _file_refusal(
            "csv",
            RULE_FILE_FORMAT,
            "The file is not text (it is not UTF-8, UTF-16 or Windows-1252, or it holds binary "
            f"data): save it as CSV ({RULE_FILE_FORMAT} rule).",
        )
    delimiter = _delimiter(text)
    try:
        records = [(n, r) for n, r in enumerate(_records(text, delimiter), start=1)]
    except csv.Error as error:
        return _file_refusal(
            "csv",
            RULE_FILE_FORMAT,
            f"The file cannot be read as CSV ({error}) ({RULE_FILE_FORMAT} rule).",
        )
    rows = [(n, r) for n, r in records if any(cell.strip() for cell in r)]
    if not rows:
        return _nothing("csv", ())

    first_row, first_cells = rows[0]
    columns = _header_columns(first_cells)
    if columns is not None:
        rows = rows[1:]
        if columns.combined is None and (columns.lat is None or columns.lon is None):
            lacking = " and ".join(
                label
                for label, index in (("latitude", columns.lat), ("longitude", columns.lon))
                if index is None
            )
            return _header_refusal(
                first_row,
                f"The header has no {lacking} column (found: {_listed(first_cells)}): name the "
                f"columns name, lat, lon ({RULE_COLUMNS} rule).",
            )
    elif not any(ch.isdigit() for cell in first_cells for ch in cell):
        return _header_refusal(
            first_row,
            f"This row looks like a header but names no latitude and longitude columns (found: "
            f"{_listed(first_cells)}): name them lat and lon, or start the file with the first "
            f"target ({RULE_COLUMNS} rule).",
        )
    else:
        columns = _positional_columns(len(first_cells))
    if len(rows) > MAX_TARGETS:
        return _too_many(len(rows), "csv")

    targets: list[Target] = []
    refusals: list[Refusal] = []
    for row, cells in rows:
        read = _read_row(row, cells, columns)
        if isinstance(read, Target):
            targets.append(read)
        else:
            refusals.extend(read)
    if not targets:
        return _nothing("csv", refusals)
    return TargetFile("csv", targets=tuple(targets), refusals=tuple(refusals))


# --- GeoJSON -------------------------------------------------------------------------------------

_NAME_PROPERTIES: Final = ("name", "reference", "title", "label")
_POINT_TYPES: Final = frozenset({"Point", "MultiPoint"})
_AREA_TYPES: Final = frozenset({"LineString", "MultiLineString", "Polygon", "MultiPolygon"})
_GEOMETRY_NAMES: Final = {
    "Point": "The point",
    "MultiPoint": "The points",
    "LineString": "The line",
    "MultiLineString": "The lines",
    "Polygon": "The polygon",
    "MultiPolygon": "The polygons",
}
_SUPPORTED: Final = "Point, MultiPoint, LineString, MultiLineString, Polygon or MultiPolygon"


class _Bad(Exception):
    """A feature that cannot be read; carries its refusal's field, rule and message."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message


def _feature_name(properties: object) -> str:
    if not isinstance(properties, Mapping):
        return ""
    lowered = {str(k).lower(): v for k, v in properties.items()}
    for key in _NAME_PROPERTIES:
        value = lowered.get(key)
        if value is not None and not isinstance(value, (dict, list)):
            return str(value).strip()
    return ""


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _position(value: object, where: str) -> tuple[float, float]:
    """``(lon, lat)`` of a GeoJSON position (an altitude is ignored)."""
    if (
        not isinstance(value, (list, tuple))
        or len(value) < 2
        or not (_number(value[0]) and _number(value[1]))
    ):
        raise _Bad(
            "coordinates",
            RULE_GEOJSON,
            f"{where} is not a position [longitude, latitude] of two numbers, got "
            f"{_short(value)} ({RULE_GEOJSON} rule).",
        )
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise _Bad(
            "coordinates",
            RULE_GEOJSON,
            f"{where} has a coordinate that is not a finite number ({RULE_GEOJSON} rule).",
        )
    return lon, lat


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _positions(value: object, where: str, minimum: int) -> list[tuple[float, float]]:
    if not isinstance(value, list) or len(value) < minimum:
        raise _Bad(
            "coordinates",
            RULE_GEOJSON,
            f"{where} needs a list of at least {minimum} positions ({RULE_GEOJSON} rule).",
        )
    out = [_position(p, f"{where}, position {i}") for i, p in enumerate(value, start=1)]
    for lon, lat in out:
        broken = rules.point_violations(lat, lon, wrap_lon=True)
        if broken:
            raise _Bad("coordinates", broken[0].rule, f"{where}: {broken[0].message}")
    return out


def _continuous(positions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Longitudes made continuous (each step the short way, under 180°), the first one brought
    into [-180, 180]."""
    lons = np.unwrap(np.array([p[0] for p in positions]), period=360.0)
    lons -= 360.0 * np.round(lons[0] / 360.0)
    return [(float(lon), lat) for lon, (_, lat) in zip(lons, positions, strict=True)]


def _same_place(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[1] == b[1] and (a[0] - b[0]) % 360.0 == 0.0


def _ring(value: object, where: str) -> list[tuple[float, float]]:
    positions = _positions(value, where, 3)
    if not _same_place(positions[0], positions[-1]):
        positions.append(positions[0])  # RFC 7946 wants it closed; a drawn shape may not be
    ring = _continuous(positions)
    if abs(ring[-1][0] - ring[0][0]) > 180.0:
        raise _Bad(
            "coordinates",
            RULE_AREA_POLE,
            f"{where} goes around a pole (its longitudes turn a full circle): draw the area "
            f"so that it does not contain a pole ({RULE_AREA_POLE} rule).",
        )
    ring[-1] = ring[0]
    if len(set(ring)) < 3:
        raise _Bad(
            "coordinates",
            RULE_AREA_SHAPE,
            f"{where} has fewer than 3 distinct positions ({RULE_AREA_SHAPE} rule).",
        )
    return ring


def _polygon(value: object, where: str) -> Any:
    if not isinstance(value, list) or not value:
        raise _Bad(
            "coordinates", RULE_GEOJSON, f"{where} needs a list of rings ({RULE_GEOJSON} rule)."
        )
    rings = [_ring(r, f"{where}, ring {i}") for i, r in enumerate(value, start=1)]
    shell, holes = rings[0], rings[1:]
    # Holes must lie on the shell's side of the antimeridian: shift each by whole turns.
    shifted = []
    for hole in holes:
        turn = 360.0 * round((hole[0][0] - shell[0][0]) / 360.0)
        shifted.append([(lon - turn, lat) for lon, lat in hole])
    polygon = Polygon(shell, shifted)
    if not polygon.is_valid:
        raise _Bad(
            "coordinates",
            RULE_AREA_SHAPE,
            f"{where} is not a valid area ({_why_invalid(polygon)}): redraw it so that its "
            f"edges do not cross ({RULE_AREA_SHAPE} rule).",
        )
    if polygon.area <= 0:
        raise _Bad("coordinates", RULE_AREA_SHAPE, f"{where} has no area ({RULE_AREA_SHAPE} rule).")
    return polygon


def _why_invalid(polygon: Polygon) -> str:
    """GEOS's reason in words: ``Self-intersection[24.5 60.1]`` → ``self-intersection at 60.1,
    24.5`` (latitude first, as the app writes points)."""
    reason = str(explain_validity(polygon))
    found = re.fullmatch(r"(.*)\[(\S+) (\S+)\]", reason)
    if found is None:
        return reason.lower()
    text, lon, lat = found.groups()
    return f"{text.strip().lower()} at {lat}, {lon}"


def _area_geometry(kind: str, coordinates: object, where: str) -> Any:
    if kind == "LineString":
        return LineString(_continuous(_positions(coordinates, where, 2)))
    if kind == "Polygon":
        return _polygon(coordinates, where)
    if not isinstance(coordinates, list) or not coordinates:
        raise _Bad(
            "coordinates",
            RULE_GEOJSON,
            f"{where} needs a list of parts ({RULE_GEOJSON} rule).",
        )
    if kind == "MultiLineString":
        return MultiLineString(
            [
                _continuous(_positions(part, f"{where}, line {i}", 2))
                for i, part in enumerate(coordinates, start=1)
            ]
        )
    return MultiPolygon(
        [_polygon(part, f"{where}, polygon {i}") for i, part in enumerate(coordinates, start=1)]
    )


@dataclass
class _Collected:
    targets: list[Target] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    points: int = 0  # targets and areas seen, good or not, for the size limit


def _read_geometry(
    geometry: object, row: int, name: str, out: _Collected, depth: int = 0, where: str = ""
) -> None:
    def refuse(rule_field: str, rule: str, message: str) -> None:
        out.refusals.append(Refusal("feature", row, rule_field, rule, message))

    if not isinstance(geometry, Mapping):
        refuse("geometry", RULE_GEOJSON, f"The feature has no geometry ({RULE_GEOJSON} rule).")
        return
    kind = geometry.get("type")
    if kind == "GeometryCollection" and depth == 0:
        members = geometry.get("geometries")
        if not isinstance(members, list) or not members:
            refuse(
                "geometry",
                RULE_GEOJSON,
                f"The GeometryCollection has no geometries ({RULE_GEOJSON} rule).",
            )
            return
        for i, member in enumerate(members, start=1):
            _read_geometry(member, row, name, out, depth + 1, f"Geometry {i}")
        return
    coordinates = geometry.get("coordinates")
    where = where or _GEOMETRY_NAMES.get(str(kind), "The geometry")
    try:
        if kind == "Point":
            out.points += 1
            lon, lat = _position(coordinates, where)
            broken = rules.point_violations(lat, lon)
            if broken:
                out.refusals.extend(
                    Refusal("feature", row, v.field, v.rule, v.message) for v in broken
                )
            else:
                out.targets.append(Target(name, lat, lon, row))
        elif kind == "MultiPoint":
            if not isinstance(coordinates, list) or not coordinates:
                raise _Bad(
                    "coordinates",
                    RULE_GEOJSON,
                    f"{where} (MultiPoint) needs a list of positions ({RULE_GEOJSON} rule).",
                )
            many = len(coordinates) > 1
            for i, position in enumerate(coordinates, start=1):
                out.points += 1
                lon, lat = _position(position, f"Point {i}")
                broken = rules.point_violations(lat, lon)
                label = f"{name} {i}" if name and many else name
                long_name = name_violations(label)
                out.refusals.extend(
                    Refusal("feature", row, v.field, v.rule, f"Point {i}: {v.message}")
                    for v in (*broken, *long_name)
                )
                if not broken and not long_name:
                    out.targets.append(Target(label, lat, lon, row))
        elif kind in _AREA_TYPES:
            out.points += 1
            shape = _area_geometry(str(kind), coordinates, where)
            area_kind: Literal["polygon", "line"] = "line" if "Line" in str(kind) else "polygon"
            out.areas.append(Area(name, area_kind, shape, row))
        else:
            refuse(
                "geometry",
                RULE_GEOJSON,
                f"Geometry type {_short(kind)} is not supported: expected {_SUPPORTED} "
                f"({RULE_GEOJSON} rule).",
            )
    except _Bad as bad:
        refuse(bad.field, bad.rule, bad.message)


def _features(document: object) -> list[object] | str:
    """The features of a GeoJSON document, or the sentence saying why it has none."""
    if not isinstance(document, Mapping):
        return "The file is not a GeoJSON object (it does not start with '{')"
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            return "The FeatureCollection has no list of features"
        return list(features)
    if kind == "Feature":
        return [document]
    if kind in _POINT_TYPES or kind in _AREA_TYPES or kind == "GeometryCollection":
        return [{"type": "Feature", "geometry": document, "properties": {}}]
    return f"The file is not GeoJSON: its type is {_short(kind)}, not FeatureCollection or Feature"


def parse_geojson(data: bytes | str | Mapping[str, Any]) -> TargetFile:
    """Targets and areas from a GeoJSON document (the module docstring says what is read), as
    bytes, text or already decoded; never raises on the document's content."""
    if isinstance(data, (bytes, str)):
        size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "replace"))
        if (too_big := _size_refusal(size, "geojson")) is not None:
            return too_big
        try:
            text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
            document: object = json.loads(text.removeprefix("\ufeff"))
        except json.JSONDecodeError as error:
            return _file_refusal(
                "geojson",
                RULE_FILE_FORMAT,
                f"The file is not valid JSON (line {error.lineno}, column {error.colno}: "
                f"{error.msg}) ({RULE_FILE_FORMAT} rule).",
            )
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            reason = (
                "it is not UTF-8 text"
                if isinstance(error, UnicodeDecodeError)
                else "it is nested too deeply"
                if isinstance(error, RecursionError)
                else str(error)
            )
            return _file_refusal(
                "geojson",
                RULE_FILE_FORMAT,
                f"The file is not valid JSON ({reason}) ({RULE_FILE_FORMAT} rule).",
            )
    else:
        document = data
    features = _features(document)
    if isinstance(features, str):
        return _file_refusal("geojson", RULE_FILE_FORMAT, f"{features} ({RULE_FILE_FORMAT} rule).")

    out = _Collected()
    for row, feature in enumerate(features, start=1):
        if not isinstance(feature, Mapping):
            out.refusals.append(
                Refusal(
                    "feature",
                    row,
                    "",
                    RULE_GEOJSON,
                    f"The feature is not an object ({RULE_GEOJSON} rule).",
                )
            )
            continue
        name = _feature_name(feature.get("properties"))
        bad_name = name_violations(name)
        if bad_name:
            out.refusals.extend(
                Refusal("feature", row, v.field, v.rule, v.message) for v in bad_name
            )
            continue
        _read_geometry(feature.get("geometry"), row, name, out)
        if out.points > MAX_TARGETS:
            return _too_many(_count_all(features), "geojson")
    if not out.targets and not out.areas:
        return _nothing("geojson", out.refusals)
    return TargetFile(
        "geojson",
        targets=tuple(out.targets),
        areas=tuple(out.areas),
        refusals=tuple(out.refusals),
    )


def _count_all(features: Sequence[object]) -> int:
    """How many targets and areas the features hold (for the size refusal's figure)."""

    def count(geometry: object) -> int:
        if not isinstance(geometry, Mapping):
            return 0
        kind = geometry.get("type")
        if kind == "MultiPoint" and isinstance(geometry.get("coordinates"), list):
            return len(geometry["coordinates"])
        if kind == "GeometryCollection" and isinstance(geometry.get("geometries"), list):
            return sum(count(g) for g in geometry["geometries"])
        return 1 if kind in _POINT_TYPES or kind in _AREA_TYPES else 0

    return sum(count(f.get("geometry")) for f in features if isinstance(f, Mapping))
