"""ui.layers.Lines: many polylines in one compact script (issue 13: the map's overlays travel on
every map click). The points survive their encoding, and the text in the script stays inert."""

from __future__ import annotations

import json
import re

import folium
from hypothesis import given
from hypothesis import strategies as st

from ui.layers import (
    LINE_DECIMALS,
    Lines,
    compact_json,
    from_second_differences,
    group,
    second_differences,
)

coordinate = st.tuples(
    st.floats(min_value=-85, max_value=85, allow_nan=False),
    st.floats(min_value=-540, max_value=540, allow_nan=False),
)


@given(st.lists(coordinate, min_size=1, max_size=30))
def test_second_differences_give_back_the_points_to_the_decimals_sent(
    points: list[tuple[float, float]],
) -> None:
    decoded = from_second_differences(second_differences(points))
    assert len(decoded) == len(points)
    half_unit = 0.5 / 10**LINE_DECIMALS + 1e-9
    for (lat, lon), (lat2, lon2) in zip(points, decoded, strict=True):
        assert abs(lat - lat2) <= half_unit and abs(lon - lon2) <= half_unit


def test_a_smooth_track_is_mostly_short_numbers() -> None:
    track = [(-27.5 + 3.75 * i + 0.004 * i * i, -14.9 - 0.86 * i + 0.03 * i * i) for i in range(11)]
    flat = second_differences(track)
    assert len(flat) == 2 * len(track)
    assert all(abs(n) < 100 for n in flat[4:])  # after the first point and step


def script(m: folium.Map) -> str:
    return str(m.get_root().render())


def test_lines_draws_each_line_with_its_style_and_tooltip_in_one_loop() -> None:
    m = folium.Map()
    styles: list[dict[str, object]] = [{"color": "#8f9ba6"}, {"color": "#0b6bcb"}]
    lines = [([(10.0, 20.0), (11.0, 21.0)], 1, "SAT-1 · 30 Nov 19:34 UTC"), ([(0.0, 0.0)], 0, "")]
    group("Tracks", "tracks:test", [Lines(styles, lines)]).add_to(m)
    page = script(m)
    assert page.count("L.polyline(") == 1  # one loop, not one call per line
    data = re.search(r"(\[\[\d.*?\]\])\.forEach", page)
    assert data is not None
    decoded = json.loads(data.group(1))
    assert decoded[0][:2] == [1, "SAT-1 · 30 Nov 19:34 UTC"]
    assert from_second_differences(decoded[0][2]) == [(10.0, 20.0), (11.0, 21.0)]
    assert decoded[1][:2] == [0, ""]


def test_a_hostile_tooltip_cannot_close_the_script_or_inject_html() -> None:
    m = folium.Map()
    hostile = "</script><img src=x onerror=alert(1)>`${x}`'"
    group("Tracks", "tracks:hostile", [Lines([{}], [([(1.0, 2.0)], 0, hostile)])]).add_to(m)
    page = script(m)
    assert "</script><img" not in page and "<img" not in page
    assert "\\u0026lt;/script\\u0026gt;" in page  # HTML-escaped, then JSON-escaped
    assert compact_json("<>&'") == '"\\u003c\\u003e\\u0026\\u0027"'
