"""Targets from files (tasking.targets): CSV rows and GeoJSON features read as typed coordinates
are, each refusal naming its row or feature and its rule, and nothing a user uploads raises."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasking import rules
from tasking.coords import format_dms, parse_coordinates
from tasking.errors import InputError
from tasking.targets import (
    MAX_FILE_BYTES,
    MAX_TARGETS,
    RULE_AREA_POLE,
    RULE_AREA_SHAPE,
    RULE_COLUMNS,
    RULE_EMPTY,
    RULE_FILE_FORMAT,
    RULE_FILE_SIZE,
    RULE_GEOJSON,
    RULE_MAX_TARGETS,
    Refusal,
    TargetFile,
    parse_csv,
    parse_geojson,
    read_targets,
)

HELSINKI = (60.1699, 24.9384)
HELSINKI_DMS = (60 + 10 / 60 + 11.6 / 3600, 24 + 56 / 60 + 18.2 / 3600)


def points(parsed: TargetFile) -> list[tuple[str, float, float, int | None]]:
    return [(t.name, round(t.lat, 9), round(t.lon, 9), t.row) for t in parsed.targets]


def where_and_rule(parsed: TargetFile) -> list[tuple[str, str]]:
    return [(r.where, r.rule) for r in parsed.refusals]


# --- CSV: what is read ---------------------------------------------------------------------------


def test_a_header_names_the_columns_and_counts_as_row_1() -> None:
    parsed = parse_csv("name,lat,lon\nHelsinki,60.1699,24.9384\nOslo,59.9139,10.7522\n")
    assert points(parsed) == [
        ("Helsinki", 60.1699, 24.9384, 2),
        ("Oslo", 59.9139, 10.7522, 3),
    ]
    assert parsed.refusals == ()
    assert parsed.format == "csv"


@pytest.mark.parametrize(
    "header",
    [
        "lon,lat,name",
        "Longitude,Latitude,Name",
        "LONGITUDE (deg),LATITUDE (deg),Reference",
        "lng,lat,label",
        "X,Y,Site",
        "lon_dd,lat_dd,Port name",
    ],
)
def test_header_columns_are_found_in_any_order_and_spelling(header: str) -> None:
    parsed = parse_csv(f"{header}\n24.9384,60.1699,Helsinki\n")
    assert points(parsed) == [("Helsinki", *HELSINKI, 2)]


def test_without_a_header_columns_are_name_lat_lon_or_lat_lon() -> None:
    assert points(parse_csv("Helsinki,60.1699,24.9384,ignored\n")) == [("Helsinki", *HELSINKI, 1)]
    assert points(parse_csv("60.1699,24.9384\n")) == [("", *HELSINKI, 1)]


def test_a_single_column_holds_typed_coordinates() -> None:
    parsed = parse_csv("60.1699 24.9384\nN60.1699 E24.9384\n")
    assert points(parsed) == [("", *HELSINKI, 1), ("", *HELSINKI, 2)]
    combined = parse_csv('name,coordinates\nHelsinki,"60°10\'11.6""N 24°56\'18.2""E"\n')
    [target] = combined.targets
    assert target.name == "Helsinki"
    assert (target.lat, target.lon) == pytest.approx(HELSINKI_DMS)


@pytest.mark.parametrize(
    "row",
    [
        "Helsinki,60°10'11.6\"N,24°56'18.2\"E",  # a spreadsheet cell's quote marks left bare
        'Helsinki,"60°10\'11.6""N","24°56\'18.2""E"',  # the same, quoted as Excel writes it
        "Helsinki,60 10 11.6 N,24 56 18.2 E",
        "Helsinki,60°10′11.6″N,24°56′18.2″E",
        "Helsinki,24°56'18.2\"E,60°10'11.6\"N",  # hemisphere letters decide, as when typed
    ],
)
def test_degrees_minutes_seconds_are_read_as_typed_coordinates_are(row: str) -> None:
    parsed = parse_csv(f"name,lat,lon\n{row}\n")
    assert parsed.refusals == ()
    assert (parsed.targets[0].lat, parsed.targets[0].lon) == pytest.approx(HELSINKI_DMS)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column() -> None:
    data = "\ufeffname,lat,lon\nHelsinki,60.1699,24.9384\n".encode()
    assert points(parse_csv(data)) == [("Helsinki", *HELSINKI, 2)]


def test_utf16_with_a_byte_order_mark_and_windows_1252_are_read() -> None:
    utf16 = "name\tlat\tlon\r\nSão Paulo\t-23.55\t-46.63\r\n".encode("utf-16")
    assert points(parse_csv(utf16)) == [("São Paulo", -23.55, -46.63, 2)]
    cp1252 = "name;lat;lon\nCôte d’Azur;43.5;7.0\n".encode("cp1252")
    assert points(parse_csv(cp1252)) == [("Côte d’Azur", 43.5, 7.0, 2)]


def test_semicolons_with_decimal_commas_as_european_spreadsheets_save_them() -> None:
    parsed = parse_csv(b"Name;Lat;Lon\r\nHelsinki;60,1699;24,9384\r\nOslo;59,9139;10,7522\r\n")
    assert points(parsed) == [
        ("Helsinki", 60.1699, 24.9384, 2),
        ("Oslo", 59.9139, 10.7522, 3),
    ]


def test_tab_and_pipe_delimiters_are_detected() -> None:
    assert points(parse_csv("name\tlat\tlon\nHelsinki\t60.1699\t24.9384\n"))[0][0] == "Helsinki"
    assert points(parse_csv("name|lat|lon\nHelsinki|60.1699|24.9384\n"))[0][0] == "Helsinki"


def test_a_comma_in_a_quoted_name_does_not_change_the_delimiter() -> None:
    parsed = parse_csv('name,lat,lon\n"Port; north, quay 3",60.1699,24.9384\n')
    assert points(parsed) == [("Port; north, quay 3", *HELSINKI, 2)]


def test_empty_lines_are_skipped_but_keep_their_row_numbers() -> None:
    text = "\n\nname,lat,lon\n\nHelsinki,60.1699,24.9384\n  , \nBad,91,0\n"
    parsed = parse_csv(text)
    assert points(parsed) == [("Helsinki", *HELSINKI, 5)]
    assert where_and_rule(parsed) == [("Row 7", rules.RULE_LAT)]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending_counts_rows_the_same(newline: str) -> None:
    text = newline.join(["name,lat,lon", "A,1,2", "", "B,95,2", ""])
    parsed = parse_csv(text)
    assert points(parsed) == [("A", 1.0, 2.0, 2)]
    assert where_and_rule(parsed) == [("Row 4", rules.RULE_LAT)]


def test_a_quoted_line_break_keeps_the_spreadsheet_row_number() -> None:
    parsed = parse_csv('name,lat,lon\n"two\nlines",1,2\nBad,1,500\n')
    assert points(parsed) == [("two\nlines", 1.0, 2.0, 2)]
    assert where_and_rule(parsed) == [("Row 3", rules.RULE_LON)]


def test_a_first_target_named_like_a_column_is_not_taken_for_a_header() -> None:
    parsed = parse_csv("Site,60.1699,24.9384\nTarget,61,25\n")
    assert [t.name for t in parsed.targets] == ["Site", "Target"]


# --- CSV: refusals -------------------------------------------------------------------------------


def test_each_broken_row_is_refused_with_its_row_and_rule_while_the_rest_is_read() -> None:
    text = "\n".join(
        [
            "name,lat,lon",
            "ok,10,20",
            "north,91,0",
            "east,0,180.5",
            "junk,sixty,24",
            "blank,,24",
            "order,60 70 0,24",
            "x" * 257 + ",1,2",
            "both,-60N,24E",
        ]
    )
    parsed = parse_csv(text)
    assert points(parsed) == [("ok", 10.0, 20.0, 2)]
    assert where_and_rule(parsed) == [
        ("Row 3", rules.RULE_LAT),
        ("Row 4", rules.RULE_LON),
        ("Row 5", "format"),
        ("Row 6", rules.RULE_REQUIRED),
        ("Row 7", "minutes-range"),
        ("Row 8", rules.RULE_REFERENCE),
        ("Row 9", "sign-and-hemisphere"),
    ]


def test_a_refusal_speaks_to_people_without_its_rule_id() -> None:
    refusal = parse_csv("name,lat,lon\nA,91,0\n").refusals[0]
    assert refusal.user_message == (
        "Row 2: The latitude must be between -90 and 90 degrees, got 91.0."
    )
    assert "(latitude-range rule)" in refusal.message
    violation = refusal.violation()
    assert (violation.field, violation.rule) == ("row 2 lat", rules.RULE_LAT)


def test_a_name_that_is_not_text_is_refused_as_a_reference_would_be() -> None:
    parsed = parse_csv("name,lat,lon\nbad\ud800,1,2\n")
    assert where_and_rule(parsed) == [("Row 2", rules.RULE_TEXT_ENCODING)]


def test_a_name_of_256_characters_is_accepted_as_a_reference_is() -> None:
    assert len(parse_csv("x" * 256 + ",1,2\n").targets[0].name) == rules.REFERENCE_MAX


def test_a_header_without_a_longitude_column_is_refused_naming_it() -> None:
    parsed = parse_csv("name,lat,elevation\nA,1,2\n")
    assert parsed.targets == ()
    [refusal] = parsed.refusals
    assert (refusal.where, refusal.rule) == ("Row 1", RULE_COLUMNS)
    assert "no longitude column" in refusal.message
    assert "name, lat, elevation" in refusal.message


def test_a_header_we_do_not_understand_is_refused_rather_than_read_as_a_target() -> None:
    [refusal] = parse_csv("\nPort,North,East\nA,1,2\n").refusals
    assert (refusal.where, refusal.rule) == ("Row 2", RULE_COLUMNS)
    assert refusal.user_message.startswith("Row 2: This row looks like a header")


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", "name,lat,lon\n", b"\xef\xbb\xbf"])
def test_a_file_without_targets_says_so(data: bytes | str) -> None:
    parsed = parse_csv(data)
    assert parsed.targets == ()
    assert [(r.where, r.rule) for r in parsed.refusals] == [("File", RULE_EMPTY)]


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)),
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",  # a spreadsheet saved as .xlsx, not CSV
        b"name,lat,lon\nA,1,2\x00\n",
        b"\x81\x8d\x8f\x90\x9d",  # neither UTF-8 nor Windows-1252
    ],
)
def test_binary_junk_is_refused_as_not_text(data: bytes) -> None:
    parsed = parse_csv(data)
    assert parsed.targets == ()
    assert where_and_rule(parsed) == [("File", RULE_FILE_FORMAT)]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read() -> None:
    data = b"1,2\n" * (MAX_FILE_BYTES // 4 + 1)
    [refusal] = parse_csv(data).refusals
    assert refusal.rule == RULE_FILE_SIZE
    assert "at most 5 MiB" in refusal.message


def test_more_than_the_maximum_of_targets_is_refused_naming_the_count() -> None:
    rows = "\n".join(f"t{i},1,2" for i in range(MAX_TARGETS + 1))
    parsed = parse_csv(f"name,lat,lon\n{rows}\n")
    assert parsed.targets == ()
    [refusal] = parsed.refusals
    assert refusal.rule == RULE_MAX_TARGETS
    assert "1,001 targets" in refusal.message and "at most 1,000" in refusal.message
    rows = "\n".join(f"t{i},1,2" for i in range(MAX_TARGETS))
    assert len(parse_csv(f"name,lat,lon\n{rows}\n").targets) == MAX_TARGETS


# --- CSV: properties -----------------------------------------------------------------------------

latitudes = st.floats(-90, 90, allow_nan=False)
longitudes = st.floats(-180, 180, allow_nan=False)
names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20).map(str.strip)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(names, latitudes, longitudes, st.booleans(), st.integers(0, 2)), max_size=15
    ),
    bad=st.sets(st.integers(0, 14), max_size=4),
    delimiter=st.sampled_from([",", ";", "\t"]),
    bom=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_written_rows_come_back_with_their_spreadsheet_row_numbers(
    rows: list[tuple[str, float, float, bool, int]],
    bad: set[int],
    delimiter: str,
    bom: bool,
    newline: str,
) -> None:
    """Rows written by the csv module (decimal or DMS, blank lines between, some out of range)
    come back as targets at their row numbers, the broken ones refused at theirs."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(["name", "lat", "lon"])
    spreadsheet_row = 1
    expected, refused = [], []
    for i, (name, lat, lon, dms, blanks) in enumerate(rows):
        for _ in range(blanks):
            out.write(newline)
            spreadsheet_row += 1
        spreadsheet_row += 1
        if i in bad:
            writer.writerow([name or "x", "95.5", f"{lon:.7f}"])
            refused.append((f"Row {spreadsheet_row}", rules.RULE_LAT))
            continue
        if dms:
            lat_text, lon_text = format_dms(lat, lon, decimals=4).split(" ")
            lat, lon = parse_coordinates(f"{lat_text}, {lon_text}")
        else:
            lat_text, lon_text = f"{lat:.7f}", f"{lon:.7f}"  # typed coordinates have no exponents
            lat, lon = float(lat_text), float(lon_text)
        writer.writerow([name, lat_text, lon_text])
        expected.append((name, lat, lon, spreadsheet_row))
    data = out.getvalue().encode("utf-8-sig" if bom else "utf-8")
    parsed = parse_csv(data)
    if not expected:
        assert parsed.targets == ()
        return
    assert [(t.name, t.lat, t.lon, t.row) for t in parsed.targets] == expected
    assert where_and_rule(parsed) == refused


cell_text = st.one_of(
    st.floats(-200, 200, allow_nan=False).map(repr),
    st.sampled_from(
        [
            "60°10'11.6\"N",
            "24°56'18.2\"E",
            "33 52 7.7 S",
            "-0 30 0",
            "N60.5",
            "12.5W",
            "60°70'",
            "abc",
            "1,5,5",
            "E",
            "+-1",
        ]
    ),
)


@settings(max_examples=60, deadline=None)
@given(lat_cell=cell_text, lon_cell=cell_text)
def test_cells_are_read_exactly_as_the_typed_coordinates_they_make(
    lat_cell: str, lon_cell: str
) -> None:
    """A row's latitude and longitude cells give what typing "<lat>, <lon>" gives: the same
    point, or a refusal of the same rule."""
    out = io.StringIO()
    csv.writer(out).writerows([["name", "lat", "lon"], ["t", lat_cell, lon_cell]])
    parsed = parse_csv(out.getvalue())
    try:
        expected = parse_coordinates(f"{lat_cell}, {lon_cell}")
    except InputError as error:
        assert parsed.targets == ()
        assert {r.rule for r in parsed.refusals} == {v.rule for v in error.violations}
        assert {r.where for r in parsed.refusals} == {"Row 2"}
    else:
        assert [(t.lat, t.lon) for t in parsed.targets] == [expected]


@settings(max_examples=80, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_no_bytes_make_the_csv_reader_raise(data: bytes) -> None:
    parsed = parse_csv(data)
    assert parsed.targets or parsed.refusals
    for refusal in parsed.refusals:
        assert refusal.rule and refusal.message and refusal.where


@settings(max_examples=40, deadline=None)
@given(
    text=st.lists(
        st.text(st.sampled_from("0123456789.,;\t -NSEW°'\"\n\rab"), max_size=30), max_size=8
    ).map("\n".join)
)
def test_no_near_miss_text_makes_the_csv_reader_raise(text: str) -> None:
    parsed = parse_csv(text)
    assert parsed.targets or parsed.refusals


# --- GeoJSON -------------------------------------------------------------------------------------


def feature(geometry: Any, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features: Any) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def point(lon: Any, lat: Any, *altitude: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat, *altitude]}


def square(lon: float, lat: float, size: float = 0.1) -> list[list[list[float]]]:
    return [
        [
            [lon, lat],
            [lon + size, lat],
            [lon + size, lat + size],
            [lon, lat + size],
            [lon, lat],
        ]
    ]


def test_points_of_a_feature_collection_are_targets_named_by_their_properties() -> None:
    parsed = parse_geojson(
        collection(
            feature(point(24.9384, 60.1699), name="Helsinki"),
            feature(point(10.7522, 59.9139), reference="Oslo"),
            feature(point(18.0686, 59.3293, 12.0)),  # an altitude is ignored
        )
    )
    assert points(parsed) == [
        ("Helsinki", *HELSINKI, 1),
        ("Oslo", 59.9139, 10.7522, 2),
        ("", 59.3293, 18.0686, 3),
    ]
    assert parsed.refusals == () and parsed.areas == ()


def test_a_single_feature_a_bare_geometry_and_a_decoded_document_are_read() -> None:
    assert points(parse_geojson(json.dumps(feature(point(1, 2), name="a")))) == [("a", 2, 1, 1)]
    assert points(parse_geojson(json.dumps(point(1, 2)))) == [("", 2, 1, 1)]
    assert points(parse_geojson(feature(point(1, 2), Name="drawn"))) == [("drawn", 2, 1, 1)]


def test_each_point_of_a_multipoint_is_a_target_numbered_in_its_name() -> None:
    parsed = parse_geojson(
        collection(feature({"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}, name="port"))
    )
    assert points(parsed) == [("port 1", 2, 1, 1), ("port 2", 4, 3, 1)]


def test_lines_and_polygons_are_areas_for_tiling() -> None:
    parsed = parse_geojson(
        collection(
            feature({"type": "Polygon", "coordinates": square(24, 60)}, name="bay"),
            feature({"type": "LineString", "coordinates": [[24, 60], [25, 60.5]]}, name="road"),
            feature(
                {
                    "type": "MultiPolygon",
                    "coordinates": [square(0, 0), square(1, 1)],
                },
                name="fields",
            ),
            feature(
                {
                    "type": "GeometryCollection",
                    "geometries": [point(5, 6), {"type": "Polygon", "coordinates": square(5, 6)}],
                },
                name="mixed",
            ),
        )
    )
    assert parsed.refusals == ()
    assert [(a.name, a.kind, a.geometry.geom_type, a.row) for a in parsed.areas] == [
        ("bay", "polygon", "Polygon", 1),
        ("road", "line", "LineString", 2),
        ("fields", "polygon", "MultiPolygon", 3),
        ("mixed", "polygon", "Polygon", 4),
    ]
    assert points(parsed) == [("mixed", 6, 5, 4)]


def test_an_unclosed_drawn_ring_is_closed() -> None:
    ring = square(24, 60)[0][:-1]
    [area] = parse_geojson(feature({"type": "Polygon", "coordinates": [ring]})).areas
    assert area.geometry.area == pytest.approx(0.01)


def test_an_area_across_the_antimeridian_keeps_continuous_longitudes() -> None:
    ring = [[179.9, -17], [-179.9, -17], [-179.9, -16.9], [179.9, -16.9], [179.9, -17]]
    [area] = parse_geojson(feature({"type": "Polygon", "coordinates": [ring]})).areas
    assert area.geometry.bounds == pytest.approx((179.9, -17, 180.1, -16.9))
    drawn = [[181.5, 10], [182, 10], [182, 11]]  # Leaflet past the antimeridian
    [line] = parse_geojson(feature({"type": "LineString", "coordinates": drawn})).areas
    assert line.geometry.bounds == pytest.approx((-178.5, 10, -178, 11))


def test_each_broken_feature_is_refused_with_its_number_and_rule() -> None:
    bowtie = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]
    around_the_pole = [[-170, 80], [-50, 80], [70, 80], [-170, 80]]
    parsed = parse_geojson(
        collection(
            feature(point(24, 60), name="ok"),
            feature(point(24, 91)),
            feature(point(181, 0)),
            feature(point("24", 60)),
            feature({"type": "Polygon", "coordinates": [bowtie]}),
            feature({"type": "Polygon", "coordinates": [around_the_pole]}),
            feature({"type": "Circle", "coordinates": [0, 0], "radius": 5}),
            feature(None),
            "junk",
            feature({"type": "LineString", "coordinates": [[0, 0]]}),
            feature(point(1, 2), name="n" * 257),
            feature({"type": "MultiPoint", "coordinates": [[1, 2], [1, 95]]}),
            feature({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}),
        )
    )
    assert points(parsed) == [("ok", 60, 24, 1), ("", 2, 1, 12)]
    assert where_and_rule(parsed) == [
        ("Feature 2", rules.RULE_LAT),
        ("Feature 3", rules.RULE_LON),
        ("Feature 4", RULE_GEOJSON),
        ("Feature 5", RULE_AREA_SHAPE),
        ("Feature 6", RULE_AREA_POLE),
        ("Feature 7", RULE_GEOJSON),
        ("Feature 8", RULE_GEOJSON),
        ("Feature 9", RULE_GEOJSON),
        ("Feature 10", RULE_GEOJSON),
        ("Feature 11", rules.RULE_REFERENCE),
        ("Feature 12", rules.RULE_LAT),
        ("Feature 13", RULE_AREA_SHAPE),
    ]
    by_row = {r.row: r for r in parsed.refusals}
    assert by_row[7].user_message.startswith("Feature 7: Geometry type 'Circle' is not supp")
    assert by_row[12].user_message.startswith("Feature 12: Point 2: The latitude must be")
    assert "edges do not cross" in by_row[5].message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ('{"type": "FeatureCollection", "features": [', "line 1, column"),
        ("[1, 2]", "not a GeoJSON object"),
        ('{"type": "Topology"}', "its type is 'Topology'"),
        ('{"type": "FeatureCollection"}', "no list of features"),
        (b"\xff\xfe{", "not UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_a_document_that_is_not_geojson_is_refused_saying_why(
    data: str | bytes, words: str
) -> None:
    parsed = parse_geojson(data)
    [refusal] = parsed.refusals
    assert (refusal.where, refusal.rule) == ("File", RULE_FILE_FORMAT)
    assert words in refusal.message


def test_geojson_with_a_byte_order_mark_is_read() -> None:
    data = ("\ufeff" + collection(feature(point(1, 2)))).encode()
    assert points(parse_geojson(data)) == [("", 2, 1, 1)]


def test_more_geojson_targets_than_the_maximum_are_refused_naming_the_count() -> None:
    many = [[0, 0]] * (MAX_TARGETS + 5)
    parsed = parse_geojson(collection(feature({"type": "MultiPoint", "coordinates": many})))
    [refusal] = parsed.refusals
    assert refusal.rule == RULE_MAX_TARGETS and "1,005 targets" in refusal.message


def test_an_empty_feature_collection_says_it_has_no_targets() -> None:
    assert where_and_rule(parse_geojson(collection())) == [("File", RULE_EMPTY)]


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
geojsonish = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["FeatureCollection", "Feature", "Point", "MultiPoint", "Polygon", "LineString"]
        ),
        "features": st.lists(
            st.fixed_dictionaries(
                {"type": st.just("Feature"), "geometry": json_values, "properties": json_values}
            ),
            max_size=3,
        ),
        "coordinates": json_values,
        "geometry": json_values,
    }
)


@settings(max_examples=40, deadline=None)
@given(document=st.one_of(json_values, geojsonish))
def test_no_json_document_makes_the_geojson_reader_raise(document: Any) -> None:
    parsed = parse_geojson(json.dumps(document))
    assert parsed.targets or parsed.areas or parsed.refusals
    assert all(isinstance(r, Refusal) and r.message for r in parsed.refusals)


# --- either format -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "data", "fmt"),
    [
        ("ports.csv", "1,2\n", "csv"),
        ("ports.TXT", "1,2\n", "csv"),
        ("area.geojson", collection(feature(point(1, 2))), "geojson"),
        ("area.json", collection(feature(point(1, 2))), "geojson"),
        ("upload", "\ufeff " + collection(feature(point(1, 2))), "geojson"),
        ("upload", "1,2\n", "csv"),
    ],
)
def test_read_targets_picks_the_format_by_name_or_content(
    filename: str, data: str, fmt: str
) -> None:
    parsed = read_targets(data.encode(), filename)
    assert parsed.format == fmt
    expected = [("", 1, 2, 1)] if fmt == "csv" else [("", 2, 1, 1)]
    assert points(parsed) == expected
