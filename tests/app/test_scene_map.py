"""Scene geometry on the Monitor map: the pass found for a sandbox scene agrees with the scene, and
the footprint, look arrow and track are drawn where they should be."""

from __future__ import annotations

import math

import pytest

from tasking import modes
from tasking.client import TaskingClient
from tasking.sandbox.control import SandboxControl
from tests.app.helpers import order, run_until
from ui import scene_map
from ui.elements import Constellation, _parse


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    # Equirectangular distance: plenty for a few tens of km.
    mean = math.radians((a[0] + b[0]) / 2)
    dx = math.radians(b[1] - a[1]) * math.cos(mean)
    dy = math.radians(b[0] - a[0])
    return 6371.0 * math.hypot(dx, dy)


def test_the_pass_found_for_a_scene_matches_the_scene(
    client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Footprint")
    run_until(client, control, task.id, "ACTIVE")
    scene = client.get_scene(task.id)
    elements = _parse(control.constellation_tle(), "sandbox")
    assert isinstance(elements, Constellation)

    geo = scene_map.geometry(elements, task, scene, actual=False)

    assert geo is not None
    assert geo.pass_.look_side == scene.lookSide
    assert geo.pass_.pass_direction == scene.passDirection
    assert scene.incidenceAngle is not None
    assert geo.pass_.incidence == pytest.approx(scene.incidenceAngle, abs=0.5)
    point = (task.pointOfInterest.lat, task.pointOfInterest.lon)
    info = modes.mode_info(task.imagingMode)
    half_diagonal = math.hypot(info.range_km, info.azimuth_km) / 2
    assert len(geo.corners) == 4
    for corner in geo.corners:
        assert _km(point, corner) == pytest.approx(half_diagonal, rel=0.05)
    assert geo.arrow[-1] == pytest.approx(point)
    # The arrow starts on the satellite's side: closer to the sub-satellite point than the target.
    sub = (geo.pass_.sub_lat, geo.pass_.sub_lon)
    assert _km(geo.arrow[0], sub) < _km(point, sub)
    assert len(geo.track) == 31  # ±5 min every 20 s


def test_without_a_matching_pass_only_the_point_is_claimed(
    client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Nowhere")
    run_until(client, control, task.id, "ACTIVE")
    scene = client.get_scene(task.id)
    nobody = Constellation((), "nowhere", "0" * 16)

    assert scene_map.geometry(nobody, task, scene, actual=False) is None
    assert scene_map.caption(None, True, False).startswith("No predicted pass matches")
    assert scene_map.caption(None, False, False) == "No scene to draw: only the point is shown."
