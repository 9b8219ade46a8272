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
        unwrap(points),
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
        unwrap(points),
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
