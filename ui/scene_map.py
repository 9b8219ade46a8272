"""The Monitor's map: the point, the scene footprint (the mode's scene size, oriented along the
satellite's track, on the side it looks from), the look direction, the satellite's ground track
around the imaging time, and the quicklook laid on the footprint once it exists.

The quicklook is drawn on the rotated footprint, not upright in its bounding box: Leaflet's
``ImageOverlay`` is axis-aligned, so the map uses the vendored Leaflet.ImageOverlay.Rotated plugin
(``static/vendor/leaflet-imageoverlay-rotated``), which places the image by three of its corners.
Which footprint corner each image corner is follows the sandbox's quicklook orientation
(``tasking/sandbox/products.py``: flight direction up, near range on the satellite's side, so on
the left for a RIGHT-looking pass): ``quicklook_corners``.

The scene names no satellite, so the pass is found by predicting the constellation's passes around
the scene's imaging time (``tasking.passes``, the sandbox's own code) and taking the one closest to
it that matches the scene's look side and pass direction. Planned geometry while ACTIVE, actual
once captured.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar, Literal

import folium
import streamlit as st
from folium.elements import JSCSSMixin
from folium.template import Template
from PIL import Image

from tasking import modes
from tasking.errors import TaskingError
from tasking.geometry import look_arrow, scene_footprint, unwrap
from tasking.models import Scene, Task
from tasking.passes import Pass, ground_track
from ui.elements import Constellation
from ui.format import when
from ui.layers import dot, group, polygon, polyline, stable
from ui.maps import static_url
from ui.passes_view import predicted

# How far from the scene's mid-time a zero-Doppler instant may be and still be "its" pass: longer
# than any imaging (≤ 180 s, SPEC imagingDuration) yet far shorter than the time between two
# passes of one satellite (~95 min).
MATCH_TOLERANCE = timedelta(minutes=5)
SEARCH_SPAN = timedelta(minutes=20)
TRACK_HALF_SPAN = timedelta(minutes=5)
TRACK_STEP_S = 20.0
# The look arrow starts this many scene widths away from the target, on the satellite's side.
ARROW_SCENES = 2.5
ARROW_MIN_KM = 25.0
# Quicklook overlay: enough pixels for the footprint on screen, small enough to resend cheaply.
OVERLAY_PX = 384
PLANNED_COLOUR, ACTUAL_COLOUR, TRACK_COLOUR = "#e08a00", "#0b6bcb", "#5b6b78"


ROTATED_OVERLAY_JS = (
    "leaflet_imageoverlay_rotated",
    static_url("vendor/leaflet-imageoverlay-rotated/Leaflet.ImageOverlay.Rotated.js"),
)
QUICKLOOK_ALT = "Quicklook on the scene footprint"

LatLon = tuple[float, float]


@dataclass(frozen=True)
class SceneGeometry:
    pass_: Pass
    corners: list[tuple[float, float]]
    arrow: list[tuple[float, float]]
    track: list[tuple[float, float]]
    actual: bool


def find_pass(constellation: Constellation, task: Task, scene: Scene) -> Pass | None:
    """The predicted pass the scene was (or will be) imaged on, or None."""
    window = scene.imagingTime
    middle = window.start + (window.end - window.start) / 2
    point = task.pointOfInterest
    try:
        passes = predicted(
            constellation, point.lat, point.lon, middle - SEARCH_SPAN, middle + SEARCH_SPAN
        )
    except TaskingError:
        return None
    candidates = [
        p
        for p in passes
        if scene.lookSide in (None, "ANY", p.look_side)
        and scene.passDirection in (None, "ANY", p.pass_direction)
        and abs(p.time - middle) <= MATCH_TOLERANCE
    ]
    return min(candidates, key=lambda p: abs(p.time - middle), default=None)


def geometry(
    constellation: Constellation, task: Task, scene: Scene, *, actual: bool
) -> SceneGeometry | None:
    found = find_pass(constellation, task, scene)
    if found is None:
        return None
    info = modes.mode_info(task.imagingMode)
    point = task.pointOfInterest
    look: Literal["LEFT", "RIGHT"] = "LEFT" if found.look_side == "LEFT" else "RIGHT"
    corners = scene_footprint(
        point.lat, point.lon, found.heading, look, info.range_km, info.azimuth_km
    )
    length = max(ARROW_MIN_KM, ARROW_SCENES * max(info.range_km, info.azimuth_km))
    arrow = look_arrow(point.lat, point.lon, found.heading, look, length)
    satellite = constellation.by_name().get(found.satellite)
    track: list[tuple[float, float]] = []
    if satellite is not None:
        track = ground_track(
            satellite, found.time - TRACK_HALF_SPAN, found.time + TRACK_HALF_SPAN, TRACK_STEP_S
        )
    return SceneGeometry(found, corners, arrow, track, actual)


def zoom_for(task: Task) -> int:
    """A zoom at which the scene fills a good part of a 360 px map."""
    info = modes.mode_info(task.imagingMode)
    size = max(info.range_km, info.azimuth_km)
    if size <= 10:
        return 11
    if size <= 40:
        return 9
    if size <= 120:
        return 8
    return 7


@st.cache_data(show_spinner=False, max_entries=16)
def _data_url(png: bytes) -> str:
    image = Image.open(io.BytesIO(png))
    image.thumbnail((OVERLAY_PX, OVERLAY_PX))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def quicklook_corners(
    corners: list[LatLon], look_side: str
) -> tuple[LatLon, LatLon, LatLon, LatLon]:
    """(top-left, top-right, bottom-right, bottom-left) of the quicklook image on the footprint.

    ``corners`` in ``scene_footprint``'s order: near-start, far-start, far-end, near-end. The
    sandbox renders its quicklook with the flight direction up (the last line at the top) and the
    near range on the satellite's side: left for a RIGHT-looking pass, right for a LEFT-looking
    one (``tasking/sandbox/products.py``, ``_corner_pixels``; its KML's ``gx:LatLonQuad`` says
    the same). Longitudes are unwrapped so that a scene across the antimeridian stays whole."""
    near_start, far_start, far_end, near_end = unwrap(corners)
    if look_side == "LEFT":
        return far_end, near_end, near_start, far_start
    return near_end, far_end, far_start, near_start


class RotatedImageOverlay(JSCSSMixin):
    """An image laid on a rotated quadrilateral: ``L.imageOverlay.rotated`` (three corners; the
    plugin puts the fourth where they imply, which on a scene-sized footprint is the fourth
    corner to within a pixel or two)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.imageOverlay.rotated(
                {{ this.url|tojson }},
                {{ this.top_left|tojson }},
                {{ this.top_right|tojson }},
                {{ this.bottom_left|tojson }},
                {{ this.options|tojson }}
            ).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )
    default_js: ClassVar[list[tuple[str, str]]] = [ROTATED_OVERLAY_JS]  # type: ignore[misc]

    def __init__(
        self, url: str, top_left: LatLon, top_right: LatLon, bottom_left: LatLon, **options: object
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
        self._name = "RotatedImageOverlay"
        self.url = url
        self.top_left, self.top_right, self.bottom_left = (
            list(top_left),
            list(top_right),
            list(bottom_left),
        )
        self.options = options


class RotatedOverlaySupport(JSCSSMixin):
    """Only the plugin's script link, for the map itself: streamlit-folium loads a map's scripts
    once, when its iframe mounts, so the plugin must be there before the quicklook arrives in a
    later refresh. Renders no JavaScript of its own (the map's script, and so its iframe, stay
    the same)."""

    default_js: ClassVar[list[tuple[str, str]]] = [ROTATED_OVERLAY_JS]  # type: ignore[misc]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
        self._name = "RotatedOverlaySupport"


def with_overlay_support(m: folium.Map) -> folium.Map:
    """``m`` able to show a rotated quicklook (the plugin's script linked); returns ``m``."""
    support = RotatedOverlaySupport()
    stable(support, "rotated-overlay-support")
    support.add_to(m)
    return m


def quicklook_overlay(geo: SceneGeometry, png: bytes) -> RotatedImageOverlay:
    top_left, top_right, _, bottom_left = quicklook_corners(geo.corners, geo.pass_.look_side)
    return RotatedImageOverlay(
        _data_url(png), top_left, top_right, bottom_left, opacity=0.85, alt=QUICKLOOK_ALT
    )


def layer(geo: SceneGeometry, quicklook: bytes | None, seed: str) -> folium.FeatureGroup:
    """Footprint, look arrow, ground track (and the quicklook on the footprint once captured)."""
    p = geo.pass_
    colour = ACTUAL_COLOUR if geo.actual else PLANNED_COLOUR
    state = "actual" if geo.actual else "planned"
    children: list[folium.Element] = []
    if geo.track:
        children.append(
            polyline(
                geo.track,
                color=TRACK_COLOUR,
                weight=2,
                dash="6 6",
                tooltip=f"{p.satellite} ground track ±5 min around {when(p.time)}",
            )
        )
    if quicklook is not None and geo.actual:
        children.append(quicklook_overlay(geo, quicklook))
    children.append(
        polygon(
            geo.corners,
            color=colour,
            fill=colour,
            tooltip=(
                f"Scene footprint ({state}): {p.satellite}, {p.look_side} looking, "
                f"{p.pass_direction}, heading {p.heading:.0f}°, incidence {p.incidence:.1f}°"
            ),
        )
    )
    children.append(
        polyline(geo.arrow, color=colour, weight=3, tooltip=f"Look direction ({p.look_side})")
    )
    children.append(dot(geo.arrow[0], color=colour, tooltip="Satellite side", radius=4))
    key = f"{seed}:{state}:{p.satellite}:{p.time.isoformat()}:{quicklook is not None}"
    return group("Scene geometry", key, children)


def caption(geo: SceneGeometry | None, has_scene: bool, live_without_elements: bool) -> str:
    if geo is not None:
        p = geo.pass_
        state = "Actual" if geo.actual else "Planned"
        return (
            f"{state} geometry: {p.satellite}, zero-Doppler {when(p.time, seconds=True)}, "
            f"heading {p.heading:.0f}°, looking {p.look_side}, incidence {p.incidence:.1f}°. "
            "Dashed grey: ground track ±5 min."
        )
    if not has_scene:
        # True in every status: no hint that a scene will come (a rejected task never gets one).
        return "No scene to draw: only the point is shown."
    if live_without_elements:
        return "Set ICEYE_TLE_SOURCE to see the scene's footprint and the satellite's track."
    return "No predicted pass matches the scene's time: only the point is shown."
