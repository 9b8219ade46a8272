"""Map overlays for ``st_folium(feature_group_to_add=...)``, with stable element ids.

folium names every element with a random id, so the same overlay drawn twice would differ and
streamlit-folium would swap the layer on every rerun; ids derived from the overlay's content keep
an unchanged overlay untouched in the browser (reference/streamlit-notes.md B1). Text shown in
tooltips is HTML-escaped (``ui.maps.escape_label``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import branca.element
import folium
from folium.template import Template

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


class Lines(branca.element.MacroElement):
    """Many polylines in one compact script: the points, a style index and a tooltip per line,
    drawn by one loop in the browser. folium's own ``PolyLine`` spends ~700 bytes of options and
    tooltip boilerplate on each line, and the map's overlays travel on every rerun of the page
    (40 faint pass tracks: 39 KiB a click with PolyLine, a third of that with this)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var styles = {{ this.styles|tojson }};
            {{ this.lines|tojson }}.forEach(function (line) {
                var drawn = L.polyline(line[0], styles[line[1]]);
                if (line[2]) { drawn.bindTooltip(line[2], {sticky: true}); }
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
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Lines"
        self.styles = [dict(style) for style in styles]
        self.lines = [
            [[list(p) for p in _rounded(unwrap(points))], index, escape_label(tip) if tip else ""]
            for points, index, tip in lines
        ]


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
