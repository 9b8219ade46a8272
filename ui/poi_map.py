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
from branca.element import MacroElement
from folium.template import Template
from streamlit_folium import st_folium

from tasking.rules import is_valid_point
from ui import keys
from ui.layers import group, stable
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


class PromptClick(MacroElement):
    """Tell Streamlit of a click at once. streamlit-folium (0.27) reports map events through a
    250 ms debounce, which was half of a click's time to settle in the browser (bench_click.py).
    This handler posts the same component value (``{"last_clicked": latlng}``: the map returns
    only that) the moment the click happens, and records it as streamlit-folium's previous value,
    so its own debounced report finds nothing new and sends nothing. Only for a map whose
    ``returned_objects`` is exactly ``["last_clicked"]``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.on("click", function (event) {
            var value = {last_clicked: {lat: event.latlng.lat, lng: event.latlng.lng}};
            var shared = window.__GLOBAL_DATA__;
            if (!shared || JSON.stringify(shared.previous_data) === JSON.stringify(value)) {
                return;
            }
            shared.previous_data = value;
            window.parent.postMessage({
                isStreamlitMessage: true,
                type: "streamlit:setComponentValue",
                value: value,
                dataType: "json"
            }, "*");
        });
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "PromptClick"


def _point_map() -> folium.Map:
    m = base_map()
    prompt = PromptClick()
    stable(prompt, "poi_map:prompt-click")
    prompt.add_to(m)
    return m


def poi_map(label: str, overlays: Sequence[folium.FeatureGroup] = ()) -> None:
    lat, lon = keys.LAT.get(), keys.LON.get()
    st_folium(
        _point_map(),
        key=keys.POI_MAP.name,
        returned_objects=["last_clicked"],
        feature_group_to_add=[point_layer(lat, lon, label), *overlays],
        center=keys.CENTER.get(),
        zoom=keys.ZOOM.get(),
        height=MAP_HEIGHT_PX,
        use_container_width=True,
        on_change=_on_click,
    )
