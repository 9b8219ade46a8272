"""The Monitor's map: the point, the scene footprint (the mode's scene size, oriented along the
satellite's track, on the side it looks from), the look direction, the satellite's ground track
around the imaging time, and the quicklook laid on the footprint once it exists.

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
from typing import Literal

import folium
import streamlit as st
from PIL import Image

from tasking import modes
from tasking.errors import TaskingError
from tasking.geometry import image_bounds, look_arrow, scene_footprint
from tasking.models import Scene, Task
from tasking.passes import Pass, ground_track
from ui.elements import Constellation
from ui.format import when
from ui.layers import dot, group, polygon, polyline
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
        children.append(
            folium.raster_layers.ImageOverlay(
                image=_data_url(quicklook),
                bounds=[list(corner) for corner in image_bounds(geo.corners)],
                opacity=0.85,
            )
        )
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
