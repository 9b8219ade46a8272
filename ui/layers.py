"""Map overlays for ``st_folium(feature_group_to_add=...)``, with stable element ids.

folium names every element with a random id, so the same overlay drawn twice would differ and
streamlit-folium would swap the layer on every rerun; ids derived from the overlay's content keep
an unchanged overlay untouched in the browser (reference/streamlit-notes.md B1). Text shown in
tooltips is HTML-escaped (``ui.maps.escape_label``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import branca.element
import folium
from folium.template import Template
from markupsafe import Markup

from tasking.geometry import unwrap
from ui.maps import escape_label

LatLon = tuple[float, float]


def stable(element: branca.element.Element, seed: str) -> branca.element.Element:
    """Give ``element`` and all its children ids derived from ``seed`` (32 hex digits, folium's
    shape, which streamlit-folium's id handling expects)."""
    element._id = hashlib.sha256(seed.encode()).hexdigest()[:32]
    for index, child in enumerate(element._children.values()):
        stable(child, f"{seed}/{index}")
    return element


def group(name: str, seed: str, children: Sequence[branca.element.Element]) -> folium.FeatureGroup:
    layer = folium.FeatureGroup(name=name, control=False)
    for child in children:
        child.add_to(layer)
    stable(layer, seed)
    return layer


COORDINATE_DECIMALS = 5
"""Decimals of a degree sent to the browser: about 1 m, far below a map pixel at the maps' zoom
cap, and a third of the bytes of Python's full float repr (the map is re-sent on every rerun)."""


def _rounded(points: Sequence[LatLon]) -> list[LatLon]:
    return [
        (round(lat, COORDINATE_DECIMALS), round(lon, COORDINATE_DECIMALS)) for lat, lon in points
    ]


LINE_DECIMALS = 3
"""Decimals of a degree of the ``Lines`` tracks: about 100 m, below a pixel up to zoom 10 and far
below the accuracy of a track predicted from a TLE (a kilometre or so)."""


def second_differences(points: Sequence[LatLon], decimals: int = LINE_DECIMALS) -> list[int]:
    """A line's points as integers (units of 10^-decimals degree), each coordinate sent as its
    change of step: the first point, then for each next point (step − previous step). A smooth
    track's steps barely change, so most numbers are one to three digits."""
    scale = 10**decimals
    flat: list[int] = []
    previous: tuple[int, int] | None = None
    step = (0, 0)
    for lat, lon in points:
        here = (round(lat * scale), round(lon * scale))
        if previous is None:
            flat += here
        else:
            new_step = (here[0] - previous[0], here[1] - previous[1])
            flat += (new_step[0] - step[0], new_step[1] - step[1])
            step = new_step
        previous = here
    return flat


def from_second_differences(flat: Sequence[int], decimals: int = LINE_DECIMALS) -> list[LatLon]:
    """The inverse of ``second_differences`` (what the browser does; for tests)."""
    scale = 10**decimals
    lat, lon, d_lat, d_lon = flat[0], flat[1], 0, 0
    points = [(lat / scale, lon / scale)]
    for index in range(2, len(flat) - 1, 2):
        d_lat += flat[index]
        d_lon += flat[index + 1]
        lat += d_lat
        lon += d_lon
        points.append((lat / scale, lon / scale))
    return points


class Lines(branca.element.MacroElement):
    """Many polylines in one compact script: per line a style index, a tooltip and its points
    as second differences of integers (``second_differences``), drawn by one loop in the
    browser. folium's own ``PolyLine`` spends ~700 bytes of options and tooltip boilerplate on
    each line, and the map's overlays travel on every rerun of the page (40 faint pass tracks:
    39 KiB a click with PolyLine, 11 KiB as lists of 5-decimal pairs, ~4 KiB like this)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var styles = {{ this.styles|tojson }}, scale = {{ this.scale }};
            {{ this.data }}.forEach(function (line) {
                var q = line[2], lat = q[0], lon = q[1], dLat = 0, dLon = 0;
                var points = [[lat / scale, lon / scale]];
                for (var i = 2; i + 1 < q.length; i += 2) {
                    dLat += q[i]; dLon += q[i + 1]; lat += dLat; lon += dLon;
                    points.push([lat / scale, lon / scale]);
                }
                var drawn = L.polyline(points, styles[line[0]]);
                if (line[1]) { drawn.bindTooltip(line[1], {sticky: true}); }
                drawn.addTo({{ this._parent.get_name() }});
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        styles: Sequence[dict[str, object]],
        lines: Sequence[tuple[Sequence[LatLon], int, str]],
        decimals: int = LINE_DECIMALS,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Lines"
        self.styles = [dict(style) for style in styles]
        self.scale = 10**decimals
        self.lines = [
            [index, escape_label(tip) if tip else "", second_differences(unwrap(points), decimals)]
            for points, index, tip in lines
        ]
        self.data = compact_json(self.lines)


def compact_json(value: object) -> Markup:
    """JSON without spaces, safe inside a script element (like Jinja's ``tojson``: ``<``, ``>``,
    ``&`` and ``'`` as escapes)."""
    text = json.dumps(value, separators=(",", ":"))
    for char in "<>&'":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return Markup(text)


def polyline(
    points: Sequence[LatLon],
    *,
    color: str,
    weight: float,
    tooltip: str | None = None,
    dash: str | None = None,
    opacity: float = 0.9,
) -> folium.PolyLine:
    """A line with continuous longitudes (no band around the world across the antimeridian)."""
    return folium.PolyLine(  # type: ignore[no-untyped-call]
        _rounded(unwrap(points)),
        color=color,
        weight=weight,
        opacity=opacity,
        dash_array=dash,
        tooltip=escape_label(tooltip) if tooltip else None,
    )


def polygon(
    points: Sequence[LatLon], *, color: str, fill: str, tooltip: str | None = None
) -> folium.Polygon:
    return folium.Polygon(
        _rounded(unwrap(points)),
        color=color,
        weight=2,
        fill=True,
        fill_color=fill,
        fill_opacity=0.15,
        tooltip=escape_label(tooltip) if tooltip else None,
    )


def dot(point: LatLon, *, color: str, tooltip: str, radius: float = 6) -> folium.CircleMarker:
    return folium.CircleMarker(
        point,
        radius=radius,
        color="#ffffff",
        weight=1.5,
        fill=True,
        fill_color=color,
        fill_opacity=0.95,
        tooltip=escape_label(tooltip),
    )
