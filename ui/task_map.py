"""The tasks on a map (All tasks), and the footprints of their scenes for the GeoJSON export.

The map fits the tasks shown, clusters markers that overlap (Leaflet.markercluster, vendored under
``static/vendor/leaflet.markercluster``: folium's plugin links a CDN) and colours each marker by
status with the app's one status mapping (``ui.format.status_chip``); a cluster is a ring of its
tasks' status colours around their count. The markers are one JSON list drawn by a few lines of
JavaScript, not a folium element each, so that a long list costs milliseconds to build and
kilobytes to send.

Everything is in the ``feature_group_to_add`` layer, which streamlit-folium swaps without
re-mounting the map (reference/streamlit-notes.md B1): the view is fitted again only when the set
of tasks or their statuses change, not when the table is merely sorted.

Footprints: a scene names no satellite, so its footprint is drawn as the Monitor draws it
(``ui.scene_map``): on the predicted pass that matches the scene's time, look side and direction.
The scenes come from the background worker's copy in the desk and from what this session's Monitor
fetched.
"""

from __future__ import annotations

import html
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import folium
import streamlit as st
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template
from streamlit_folium import st_folium

from tasking.errors import TaskingError
from tasking.export import Footprint, tasks_to_geojson
from tasking.models import Scene, Task
from tasking.service import TaskingService
from ui import keys
from ui.elements import Constellation, constellation
from ui.format import short_id, status_chip
from ui.layers import group
from ui.maps import MAX_ZOOM, base_map, static_url
from ui.scene_map import geometry
from ui.task_table import MAX_MARKERS, OTHER_COLOUR, STATUS_COLOURS, legend_html

log = logging.getLogger(__name__)

MAP_HEIGHT = 380
# Padding around the tasks when the view is fitted, and the closest it zooms for one task (or a
# few close together): the region around them, as on New task's map (ui.task_form.POINT_ZOOM).
FIT_PADDING_PX = 28
FIT_MAX_ZOOM = 6
# Markers closer than this on screen join a cluster (the library's default is 80: too eager for
# a map that is meant to show where tasks are).
CLUSTER_RADIUS_PX = 40
CLUSTER_VENDOR = "vendor/leaflet.markercluster"

Bounds = tuple[tuple[float, float], tuple[float, float]]
SceneKnown = tuple[Scene | None, Scene | None]
"""(actual, planned) scene of a task, as far as the app knows them."""


class TaskCluster(JSCSSMixin, MacroElement):
    """The tasks as status-coloured dots in a marker cluster group, and the view fitted to them.

    Rendered inside a FeatureGroup that is on the map (as st_folium's ``feature_group_to_add``).
    """

    # Styles are inline: streamlit-folium sends a map's <head> once, when the map is first drawn,
    # before this layer exists.
    _template = Template(
        """
        {% macro script(this, kwargs) %}
            // The cluster library needs the map's zoom cap, which a map without tile layers
            // does not have (folium passes max_zoom to tile layers only).
            if (!isFinite({{ this._parent._parent.get_name() }}.getMaxZoom())) {
                {{ this._parent._parent.get_name() }}.setMaxZoom({{ this.max_zoom }});
            }
            var {{ this.get_name() }} = L.markerClusterGroup({{ this.options|tojson }});
            (function (cluster, tasks, order) {
                var ring = "width:100%;height:100%;border-radius:50%;display:flex;"
                    + "align-items:center;justify-content:center;"
                    + "box-shadow:0 0 0 2px #fff,0 0 3px 2px rgba(0,0,0,.35);background:";
                var hole = "width:62%;height:62%;border-radius:50%;background:#fff;display:flex;"
                    + "align-items:center;justify-content:center;font:600 12px/1 sans-serif;"
                    + "color:#263238";
                var dot = "display:block;width:14px;height:14px;border-radius:50%;"
                    + "box-sizing:border-box;border:2px solid #fff;"
                    + "box-shadow:0 0 2px rgba(0,0,0,.6);background:";
                cluster.options.iconCreateFunction = function (group) {
                    var markers = group.getAllChildMarkers(), counts = {};
                    markers.forEach(function (m) {
                        counts[m.options.statusColour] = (counts[m.options.statusColour] || 0) + 1;
                    });
                    var stops = [], start = 0;
                    order.forEach(function (colour) {
                        if (!counts[colour]) { return; }
                        var end = start + 360 * counts[colour] / markers.length;
                        stops.push(colour + " " + start + "deg " + end + "deg");
                        start = end;
                    });
                    var n = group.getChildCount(), size = n < 10 ? 30 : n < 100 ? 36 : 42;
                    return L.divIcon({
                        html: '<div style="' + ring + "conic-gradient(" + stops.join(",")
                            + ')"><span style="' + hole + '">' + n + "</span></div>",
                        className: "task-cluster",
                        iconSize: L.point(size, size)
                    });
                };
                tasks.forEach(function (t) {
                    var marker = L.marker([t.lat, t.lon], {
                        statusColour: t.colour,
                        icon: L.divIcon({
                            html: '<span style="' + dot + t.colour + '"></span>',
                            className: "task-marker",
                            iconSize: [14, 14],
                            iconAnchor: [7, 7]
                        })
                    });
                    marker.bindTooltip(t.label);
                    cluster.addLayer(marker);
                });
            })({{ this.get_name() }}, {{ this.tasks|tojson }}, {{ this.order|tojson }});
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
            {%- if this.bounds %}
            {{ this._parent._parent.get_name() }}.fitBounds(
                {{ this.bounds|tojson }}, {{ this.fit|tojson }}
            );
            {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, tasks: Sequence[Task]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
        self._name = "TaskCluster"
        # folium's MarkerCluster plugin links the same files on cdnjs; these are the vendored
        # copies (scripts/vendor_assets.py, static/vendor/SOURCES.md).
        self.default_js = [
            ("markerclusterjs", static_url(f"{CLUSTER_VENDOR}/leaflet.markercluster.js"))
        ]
        self.default_css = [
            ("markerclustercss", static_url(f"{CLUSTER_VENDOR}/MarkerCluster.css")),
            ("markerclusterdefaultcss", static_url(f"{CLUSTER_VENDOR}/MarkerCluster.Default.css")),
        ]
        # By id: the same tasks in another order (a sort of the table) give the same layer.
        ordered = sorted(tasks, key=lambda t: t.id)
        self.tasks = [
            {
                "lat": t.pointOfInterest.lat,
                "lon": t.pointOfInterest.lon,
                "colour": status_colour(t.status),
                # Leaflet puts a tooltip string in as HTML.
                "label": html.escape(
                    f"{t.reference or short_id(t.id)} · {t.status} · {t.imagingMode}"
                ),
            }
            for t in ordered
        ]
        self.order = [*STATUS_COLOURS.values(), OTHER_COLOUR]
        self.options = {
            "maxClusterRadius": CLUSTER_RADIUS_PX,
            "showCoverageOnHover": False,
            "spiderfyOnMaxZoom": True,
        }
        self.bounds = fit_bounds(ordered)
        self.max_zoom = MAX_ZOOM
        self.fit = {"padding": [FIT_PADDING_PX, FIT_PADDING_PX], "maxZoom": FIT_MAX_ZOOM}


def status_colour(status: str | None) -> str:
    return status_chip(status).hex


def fit_bounds(tasks: Sequence[Task]) -> Bounds | None:
    """``((south, west), (north, east))`` around the tasks' points (None without tasks)."""
    if not tasks:
        return None
    lats = [t.pointOfInterest.lat for t in tasks]
    lons = [t.pointOfInterest.lon for t in tasks]
    return (min(lats), min(lons)), (max(lats), max(lons))


def markers(tasks: Sequence[Task]) -> folium.FeatureGroup:
    """The layer of the tasks (at most ``MAX_MARKERS``): always a cluster group, even an empty
    one, because the map loads the cluster library only when it is first drawn."""
    shown = list(tasks)[:MAX_MARKERS]
    cluster = TaskCluster(shown)
    seed = "tasks:" + json.dumps([cluster.tasks, cluster.bounds])
    return group("Tasks", seed, [cluster])


def task_map(tasks: Sequence[Task]) -> None:
    st_folium(
        base_map(),
        key=keys.TASKS_MAP.name,
        returned_objects=[],
        feature_group_to_add=markers(tasks),
        height=MAP_HEIGHT,
        use_container_width=True,
    )
    st.markdown(legend_html(Counter(t.status for t in tasks)), unsafe_allow_html=True)
    if len(tasks) > MAX_MARKERS:
        st.caption(f"The map shows the first {MAX_MARKERS} of {len(tasks)} tasks.")


# --- footprints for the GeoJSON export -----------------------------------------------------------


def session_scenes() -> dict[str, SceneKnown]:
    """The scenes this session's Monitor fetched (when no worker keeps them in the desk)."""
    watches = keys.WATCHES.get() or {}
    return {task_id: (w.actual, w.planned) for task_id, w in watches.items()}


def desk_scenes(service: TaskingService, task_ids: Sequence[str]) -> dict[str, SceneKnown]:
    """The scenes the background worker keeps in the desk (nothing when there is no desk)."""
    if service.desk is None or not task_ids:
        return {}
    followed = service.desk.followed_many(task_ids)
    return {task_id: (f.actual, f.planned) for task_id, f in followed.items()}


def footprints(
    elements: Constellation, tasks: Sequence[Task], scenes: Mapping[str, SceneKnown]
) -> dict[str, Footprint]:
    """Task id → footprint of its actual scene, else its planned one, for every task whose scene
    is known and matches a predicted pass."""
    found: dict[str, Footprint] = {}
    for task in tasks:
        actual, planned = scenes.get(task.id, (None, None))
        for scene, kind in ((actual, "actual"), (planned, "planned")):
            if scene is None:
                continue
            try:
                geo = geometry(elements, task, scene, actual=kind == "actual")
            except TaskingError as error:
                log.warning("no footprint for task %s: %s", task.id, error)
                geo = None
            if geo is not None:
                found[task.id] = Footprint(geo.corners, "actual" if geo.actual else "planned")
                break
    return found


def geojson_file(service: TaskingService, tasks: Sequence[Task]) -> Callable[[], str]:
    """The GeoJSON download, made when the button is pressed (Streamlit runs it on another
    thread, outside the script: the session's scenes are taken now).

    Footprints are best effort: without orbital elements, or when the desk cannot be read, the
    file has points (each feature says whether it is a footprint)."""
    chosen = list(tasks)
    seen = {t.id: known for t in chosen if (known := session_scenes().get(t.id)) is not None}

    def build() -> str:
        shapes: dict[str, Footprint] = {}
        elements = constellation(service)
        if isinstance(elements, Constellation):
            try:
                stored = desk_scenes(service, [t.id for t in chosen])
            except TaskingError as error:
                log.warning("scenes not read from the desk for the export: %s", error)
                stored = {}
            merged = {
                task_id: _better(stored.get(task_id), seen.get(task_id))
                for task_id in stored.keys() | seen.keys()
            }
            shapes = footprints(elements, chosen, merged)
        return json.dumps(tasks_to_geojson(chosen, shapes), indent=2, ensure_ascii=False)

    return build


def _better(stored: SceneKnown | None, seen: SceneKnown | None) -> SceneKnown:
    """Each scene from the desk, else from the session."""
    stored = stored or (None, None)
    seen = seen or (None, None)
    return stored[0] or seen[0], stored[1] or seen[1]
