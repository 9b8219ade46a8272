"""Typed coordinates: the forms people paste, the rules they break, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasking.coords import format_dms, parse_coordinates
from tasking.errors import InputError

HELSINKI_DMS = (60 + 10 / 60 + 11.6 / 3600, 24 + 56 / 60 + 18.2 / 3600)
ARCSECOND = 1 / 3600


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60.1699, 24.9384", (60.1699, 24.9384)),
        ("60.1699,24.9384", (60.1699, 24.9384)),
        ("60.1699 24.9384", (60.1699, 24.9384)),
        ("  60.1699 ;  24.9384  ", (60.1699, 24.9384)),
        ("(60.1699, 24.9384)", (60.1699, 24.9384)),
        ("60.1699N 24.9384E", (60.1699, 24.9384)),
        ("60.1699 n, 24.9384 e", (60.1699, 24.9384)),
        ("N60.1699 E24.9384", (60.1699, 24.9384)),
        ("N 60.1699 E 24.9384", (60.1699, 24.9384)),
        ("24.9384E 60.1699N", (60.1699, 24.9384)),
        ("60°10.194'N 24°56.304'E", (60.1699, 24.9384)),
        ("-33.8688, -151.2093", (-33.8688, -151.2093)),
        ("−33.8688, 151.2093", (-33.8688, 151.2093)),
        ("33.8688S 151.2093W", (-33.8688, -151.2093)),
        ("+60, +25", (60.0, 25.0)),
        ("-0.5, 0.5", (-0.5, 0.5)),
        ("90, 180", (90.0, 180.0)),
        ("-90, -180", (-90.0, -180.0)),
    ],
)
def test_decimal_and_decimal_minute_forms_are_read(
    text: str, expected: tuple[float, float]
) -> None:
    assert parse_coordinates(text) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "text",
    [
        "60°10'11.6\"N 24°56'18.2\"E",
        "60°10′11.6″N 24°56′18.2″E",
        "60°10’11.6”N, 24°56’18.2”E",
        "60º10'11.6''N 24º56'18.2''E",
        "60 10 11.6 N, 24 56 18.2 E",
        "N 60 10 11.6 E 24 56 18.2",
        "60°10'11.6\" 24°56'18.2\"",
        "60 10 11.6, 24 56 18.2",
        "60 10 11.6 24 56 18.2",
    ],
)
def test_degrees_minutes_seconds_forms_are_read(text: str) -> None:
    assert parse_coordinates(text) == pytest.approx(HELSINKI_DMS, abs=1e-12)


def test_southern_and_western_dms_are_negative() -> None:
    lat, lon = parse_coordinates("33°52′7.7″S 70°40′0″W")
    assert lat == pytest.approx(-(33 + 52 / 60 + 7.7 / 3600))
    assert lon == pytest.approx(-(70 + 40 / 60))


def test_a_minus_sign_applies_to_the_whole_dms_value() -> None:
    lat, _ = parse_coordinates("-0 30 0, 10")
    assert lat == pytest.approx(-0.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("91, 0", "latitude must be between -90 and 90"),
        ("-90.0001, 0", "latitude must be between -90 and 90"),
        ("0, 180.5", "longitude must be between -180 and 180"),
        ("91N 10E", "latitude must be between -90 and 90"),
        ("60 60 0 N, 24 E", "minutes must be < 60"),
        ("60°75'N 24°E", "minutes must be < 60"),
        ("60 10 60 N, 24 E", "seconds must be < 60"),
        ("60.5 10 N, 24 E", "only the last of degrees, minutes and seconds may have decimals"),
        ("60 -10 N, 24 E", "minutes must not carry a sign"),
        ("60\"10' N, 24 E", "degrees, minutes and seconds must come in that order"),
        ("-60 S, 24 E", "use a minus sign or a hemisphere letter, not both"),
        ("60N 24S", "one coordinate must be N/S (latitude) and the other E/W"),
        ("24E 60W", "one coordinate must be N/S (latitude) and the other E/W"),
        ("", "could not read coordinates"),
        ("Helsinki", "could not read coordinates"),
        ("60.17", "could not read coordinates"),
        ("60.17, 24.94, 3", "could not read coordinates"),
        ("60,17 24,94", "could not read coordinates"),
        ("60.17 24.94 1", "could not read coordinates"),
        ("1e5, 2", "could not read coordinates"),
    ],
)
def test_bad_coordinates_are_refused_with_the_rule_they_break(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_coordinates(text)


def test_the_format_error_shows_examples_of_what_is_expected() -> None:
    with pytest.raises(InputError) as caught:
        parse_coordinates("somewhere nice")
    assert "expected e.g. '60.17, 24.94' or 60°10'12\"N 24°56'18\"E" in str(caught.value)
    assert caught.value.violations[0].rule == "format"


@pytest.mark.parametrize(
    ("lat", "lon", "text"),
    [
        (*HELSINKI_DMS, "60°10'11.6\"N 24°56'18.2\"E"),
        (-33.8688, -151.2093, "33°52'07.7\"S 151°12'33.5\"W"),
        (0.0, 0.0, "0°00'00.0\"N 0°00'00.0\"E"),
        (59.999999, -0.00000001, "60°00'00.0\"N 0°00'00.0\"E"),
        (-90.0, 180.0, "90°00'00.0\"S 180°00'00.0\"E"),
    ],
)
def test_format_dms_writes_rounded_seconds_with_carry(lat: float, lon: float, text: str) -> None:
    assert format_dms(lat, lon) == text


def test_format_dms_refuses_out_of_range_values() -> None:
    with pytest.raises(InputError, match="latitude must be between -90 and 90"):
        format_dms(90.5, 0)
    with pytest.raises(InputError, match="longitude must be between -180 and 180"):
        format_dms(0, -181)


latitudes = st.floats(min_value=-90, max_value=90, allow_nan=False)
longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)


@given(lat=latitudes, lon=longitudes)
@settings(max_examples=300, deadline=None)
def test_dms_round_trip_is_within_a_twentieth_of_an_arcsecond(lat: float, lon: float) -> None:
    back = parse_coordinates(format_dms(lat, lon))
    # One decimal of seconds: rounding error at most 0.05".
    assert back[0] == pytest.approx(lat, abs=0.05 * ARCSECOND + 1e-12)
    assert back[1] == pytest.approx(lon, abs=0.05 * ARCSECOND + 1e-12)


@given(lat=latitudes, lon=longitudes, decimals=st.integers(0, 3))
@settings(max_examples=100, deadline=None)
def test_dms_round_trip_holds_for_every_precision(lat: float, lon: float, decimals: int) -> None:
    back = parse_coordinates(format_dms(lat, lon, decimals=decimals))
    tolerance = 0.5 * 10**-decimals * ARCSECOND + 1e-12
    assert back == pytest.approx((lat, lon), abs=tolerance)


@given(lat=latitudes, lon=longitudes, separator=st.sampled_from([", ", ",", " ", "; ", "  "]))
@settings(max_examples=300, deadline=None)
def test_decimal_round_trip(lat: float, lon: float, separator: str) -> None:
    text = f"{lat:.10f}{separator}{lon:.10f}"
    assert parse_coordinates(text) == pytest.approx((lat, lon), abs=1e-10)


@pytest.mark.parametrize(
    ("text", "rules_broken"),
    [
        ("91, 0", ["latitude-range"]),
        ("0, 180.5", ["longitude-range"]),
        ("91, 181", ["latitude-range", "longitude-range"]),
    ],
)
def test_out_of_range_coordinates_break_the_task_rules_point_rules(
    text: str, rules_broken: list[str]
) -> None:
    with pytest.raises(InputError) as caught:
        parse_coordinates(text)
    assert [v.rule for v in caught.value.violations] == rules_broken
    assert [v.field for v in caught.value.violations] == [r[:3] for r in rules_broken]
