"""The point-of-interest picker: a folium map where a click sets the point and moves the marker
without re-mounting the map.

How (reference/streamlit-notes.md B1): the base map is deterministic (``ui.maps.base_map()`` with
the same arguments every run), so streamlit-folium keeps its iframe; the marker and any overlays
travel in ``feature_group_to_add``; only ``last_clicked`` comes back, so panning and zooming never
rerun the app; the click is read in ``on_change`` from ``keys.POI_MAP`` (session state) before the
script reruns, so the number inputs show the new point in the same run.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
from streamlit_folium import st_folium

from tasking.rules import is_valid_point
from ui import keys
from ui.layers import group
from ui.maps import base_map, click_to_point, poi_feature_group
from ui.task_form import touch

MAP_HEIGHT_PX = 440
# Six decimals of a degree are about 0.1 m: finer than any SAR pixel, short enough to read.
DECIMALS = 6


def _on_click() -> None:
    point = click_to_point(keys.POI_MAP.get())
    if point is not None:
        keys.LAT.set(round(point[0], DECIMALS))
        keys.LON.set(round(point[1], DECIMALS))
        touch("lat", "lon")


def point_layer(lat: float | None, lon: float | None, label: str) -> folium.FeatureGroup:
    """The marker of a valid point, else an empty layer (so a cleared point disappears)."""
    if lat is None or lon is None or not is_valid_point(lat, lon):
        return group("Point of interest", "poi:none", [])
    return poi_feature_group(lat, lon, label)


def poi_map(label: str, overlays: Sequence[folium.FeatureGroup] = ()) -> None:
    lat, lon = keys.LAT.get(), keys.LON.get()
    st_folium(
        base_map(),
        key=keys.POI_MAP.name,
        returned_objects=["last_clicked"],
        feature_group_to_add=[point_layer(lat, lon, label), *overlays],
        center=keys.CENTER.get(),
        zoom=keys.ZOOM.get(),
        height=MAP_HEIGHT_PX,
        use_container_width=True,
        on_change=_on_click,
    )
