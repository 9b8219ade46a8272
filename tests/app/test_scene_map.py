"""Scene geometry on the Monitor map: the pass found for a sandbox scene agrees with the scene, and
the footprint, look arrow and track are drawn where they should be."""

from __future__ import annotations

import io
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


# --- the quicklook on the rotated footprint (issue 11) -------------------------------------------


@pytest.mark.parametrize("side", ["LEFT", "RIGHT"])
def test_the_quicklook_corners_are_where_the_sandboxs_own_kml_puts_them(side: str) -> None:
    from xml.etree import ElementTree

    from tasking.geometry import scene_footprint
    from tasking.sandbox.products import make_quicklook_kml

    corners = scene_footprint(60.17, 24.94, 197.0, side, 5.0, 5.0)  # type: ignore[arg-type]
    names = ("coord_first_near", "coord_first_far", "coord_last_far", "coord_last_near")
    doc = {name: list(c) for name, c in zip(names, corners, strict=True)}
    doc |= {"look_side": side.lower(), "product_name": "x"}
    kml = ElementTree.fromstring(make_quicklook_kml(doc))
    text = kml.findtext(
        "{http://www.opengis.net/kml/2.2}GroundOverlay/"
        "{http://www.google.com/kml/ext/2.2}LatLonQuad/{http://www.opengis.net/kml/2.2}coordinates"
    )
    assert text is not None
    # gx:LatLonQuad: lower-left, lower-right, upper-right, upper-left of the image (lon,lat).
    quad = [tuple(reversed([float(v) for v in p.split(",")])) for p in text.split()]
    top_left, top_right, bottom_right, bottom_left = scene_map.quicklook_corners(corners, side)
    assert top_left == pytest.approx(quad[3])
    assert top_right == pytest.approx(quad[2])
    assert bottom_right == pytest.approx(quad[1])
    assert bottom_left == pytest.approx(quad[0])


def test_the_quicklook_is_a_rotated_overlay_whose_plugin_the_map_loads_from_the_app(
    client: TaskingClient, control: SandboxControl
) -> None:
    import folium
    from PIL import Image

    from tests.e2e.conftest import ROOT
    from ui.maps import STATIC_URL, asset_urls, base_map

    task = order(client, control, reference="Rotated")
    run_until(client, control, task.id, "DONE")
    scene = client.get_scene(task.id)
    elements = _parse(control.constellation_tle(), "sandbox")
    assert isinstance(elements, Constellation)
    geo = scene_map.geometry(elements, task, scene, actual=True)
    assert geo is not None
    png = io.BytesIO()
    Image.new("L", (8, 8)).save(png, format="PNG")

    layer = scene_map.layer(geo, png.getvalue(), task.id)

    overlays = [c for c in layer._children.values() if isinstance(c, scene_map.RotatedImageOverlay)]
    assert len(overlays) == 1
    assert not [
        c for c in layer._children.values() if isinstance(c, folium.raster_layers.ImageOverlay)
    ]
    top_left, top_right, _, bottom_left = scene_map.quicklook_corners(
        geo.corners, geo.pass_.look_side
    )
    assert overlays[0].top_left == list(top_left)
    assert overlays[0].top_right == list(top_right)
    assert overlays[0].bottom_left == list(bottom_left)
    # The map links the plugin from its first render (streamlit-folium loads scripts once), and
    # from the app, not a CDN.
    plain_map = base_map()
    supported = scene_map.with_overlay_support(base_map())
    plugin = scene_map.ROTATED_OVERLAY_JS[1]
    assert plugin in asset_urls(supported) and plugin not in asset_urls(plain_map)
    assert plugin.startswith(STATIC_URL)
    assert (ROOT / "static" / plugin.removeprefix(STATIC_URL + "/")).is_file()
