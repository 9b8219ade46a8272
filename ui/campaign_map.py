"""A campaign's coverage on a map: each target a dot in its task's status colour (grey while it has
no task), and the scene footprints known so far (blue once captured, orange while planned).

The targets and footprints are one JSON list drawn by a few lines of JavaScript (a campaign of an
area may have hundreds of tiles: a folium element each would cost ~700 bytes a target on every
refresh), in the ``feature_group_to_add`` layer, whose ids come from its content: a refresh that
changes nothing leaves the map alone, and the view is fitted again only when something changed
(reference/streamlit-notes.md B1).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence

import folium
from branca.element import MacroElement
from folium.template import Template
from streamlit_folium import st_folium

from tasking.campaign_progress import TargetProgress
from tasking.export import Footprint
from tasking.geometry import unwrap
from ui import keys
from ui.format import status_chip
from ui.layers import COORDINATE_DECIMALS, group
from ui.maps import base_map
from ui.scene_map import ACTUAL_COLOUR, PLANNED_COLOUR
from ui.task_map import FIT_PADDING_PX

MAP_HEIGHT = 420
FIT_MAX_ZOOM = 10
"""The closest the view fits: an area's tiles (a few km apart) stay apart on screen."""
NOT_ORDERED_COLOUR = "#b0bec5"
"""A target without a task: lighter than any status colour (RECEIVED is grey too)."""


class CoverageLayer(MacroElement):
    """Footprints (polygons) under target dots, and the view fitted to them."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (layer, map) {
            {{ this.footprints|tojson }}.forEach(function (f) {
                L.polygon(f[0], {color: f[1], weight: 1.5, fillColor: f[1], fillOpacity: 0.18})
                    .bindTooltip(f[2], {sticky: true}).addTo(layer);
            });
            {{ this.targets|tojson }}.forEach(function (t) {
                L.circleMarker([t[0], t[1]], {radius: 6, color: "#ffffff", weight: 1.5,
                    fillColor: t[2], fillOpacity: 0.95}).bindTooltip(t[3]).addTo(layer);
            });
            {%- if this.bounds %}
            map.fitBounds({{ this.bounds|tojson }}, {{ this.fit|tojson }});
            {%- endif %}
        })({{ this._parent.get_name() }}, {{ this._parent._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: Sequence[TargetProgress], shapes: Mapping[str, Footprint]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
        self._name = "CoverageLayer"
        places = COORDINATE_DECIMALS
        self.targets = [
            [
                round(r.target.lat, places),
                round(r.target.lon, places),
                target_colour(r),
                # Leaflet puts a tooltip string in as HTML.
                html.escape(f"{r.target.position + 1}. {r.target.name} · {status_text(r)}"),
            ]
            for r in rows
        ]
        self.footprints = []
        for r in rows:
            shape = shapes.get(r.target.task_id) if r.target.task_id else None
            if shape is None:
                continue
            colour = ACTUAL_COLOUR if shape.scene == "actual" else PLANNED_COLOUR
            ring = [[round(lat, places), round(lon, places)] for lat, lon in unwrap(shape.corners)]
            label = html.escape(f"{r.target.name}: {shape.scene} scene footprint")
            self.footprints.append([ring, colour, label])
        lats = [r.target.lat for r in rows]
        lons = [r.target.lon for r in rows]
        self.bounds = [[min(lats), min(lons)], [max(lats), max(lons)]] if rows else None
        self.fit = {"padding": [FIT_PADDING_PX, FIT_PADDING_PX], "maxZoom": FIT_MAX_ZOOM}


def status_text(row: TargetProgress) -> str:
    if row.target.task_id is None:
        return f"no task ({row.state.value.lower()})"
    return row.status or "status not seen yet"


def target_colour(row: TargetProgress) -> str:
    return status_chip(row.status).hex if row.target.task_id else NOT_ORDERED_COLOUR


def coverage_layer(
    rows: Sequence[TargetProgress], shapes: Mapping[str, Footprint]
) -> folium.FeatureGroup:
    layer = CoverageLayer(rows, shapes)
    seed = "coverage:" + json.dumps([layer.targets, layer.footprints])
    return group("Coverage", seed, [layer])


def coverage_map(rows: Sequence[TargetProgress], shapes: Mapping[str, Footprint]) -> None:
    st_folium(
        base_map(),
        key=keys.CAMPAIGN_VIEW_MAP.name,
        returned_objects=[],
        feature_group_to_add=coverage_layer(rows, shapes),
        height=MAP_HEIGHT,
        use_container_width=True,
    )
