"""Sandbox products: signed links, SAR-like images, metadata and STAC items."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tasking import modes
from tasking.errors import InputError
from tasking.geometry import scene_footprint
from tasking.models import Product, Scene, Task
from tasking.sandbox.products import (
    LINK_LIFETIME,
    LinkError,
    asset_entry,
    asset_file_name,
    asset_plan,
    frame_id,
    link_expiry,
    make_grd_tiff,
    make_metadata,
    make_metadata_xml,
    make_quicklook_kml,
    make_quicklook_png,
    product_id,
    render_asset,
    scene_seed,
    sign_link,
    split_link,
    stac_item,
    verify_link,
)
from tasking.watch import AssetView, ProductView
from tests.sandbox.conftest import run_until, task_body
from ui.monitor_view import file_name

TASKS = "/api/tasking/v2/tasks"
SECRET = b"test-secret"
PATH = "/sandbox/v1/files/7d1f0c52/GRD/quicklook-png"
ISSUED = datetime(2026, 5, 2, 18, 0, 0, tzinfo=UTC)

# iceye-api.md §4.8: CatalogItem's documented properties and asset fields.
DOCUMENTED_PROPERTIES = {
    "frame_id",
    "created",
    "updated",
    "start_datetime",
    "end_datetime",
    "sar:instrument_mode",
    "sar:frequency_band",
    "sar:polarizations",
    "sar:product_type",
    "sar:looks_range",
    "sar:looks_azimuth",
    "sar:observation_direction",
    "sat:orbit_state",
    "iceye:acquisition_mode",
    "iceye:incidence_center",
    "iceye:incidence_near",
    "iceye:incidence_far",
    "iceye:satellite_look_angle",
    "iceye:processing_mode",
}
DOCUMENTED_ASSET_FIELDS = {"href", "title", "type", "roles", "coordinates"}
KML_NS = {"kml": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def task(golden: Callable[[str], Any]) -> Task:
    return Task.model_validate(golden("task_full"))


@pytest.fixture
def scene(golden: Callable[[str], Any]) -> Scene:
    return Scene.model_validate(golden("scene_spec"))


def footprint_for(
    task: Task, heading: float = 190.0, look: str = "RIGHT"
) -> list[tuple[float, float]]:
    poi = task.pointOfInterest
    return scene_footprint(poi.lat, poi.lon, heading, look, 5.0, 5.0)  # type: ignore[arg-type]


def metadata_for(task: Task, scene: Scene, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "task": task,
        "scene": scene,
        "satellite": "SANDSAT-07",
        "footprint": footprint_for(task),
        "heading": 190.0,
        "off_nadir": 24.3,
        "slant_range_km": 610.0,
        "orbit_altitude_km": 560.0,
    }
    return make_metadata(**(args | overrides))


def item_for(
    task: Task, scene: Scene, product_type: str = "GRD", **overrides: Any
) -> dict[str, Any]:
    assets = {
        key: asset_entry(f"/files/{key}?expires=1&signature=ab", title, media, roles)
        for key, title, media, roles in asset_plan(product_type)
    }
    args: dict[str, Any] = {
        "task": task,
        "scene": scene,
        "product_type": product_type,
        "satellite": "SANDSAT-07",
        "footprint": footprint_for(task),
        "assets": assets,
        "created": datetime(2026, 5, 2, 17, 41, 22, tzinfo=UTC),
    }
    return stac_item(**(args | overrides))


def gray(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "L"
    return np.asarray(image, dtype=np.float64)


def median_block_cv(pixels: np.ndarray, block: int = 8) -> float:
    """Median coefficient of variation over small blocks: speckle makes every block grainy."""
    h, w = (s - s % block for s in pixels.shape)
    blocks = pixels[:h, :w].reshape(h // block, block, w // block, block).swapaxes(1, 2)
    means = blocks.mean(axis=(2, 3))
    stds = blocks.std(axis=(2, 3))
    return float(np.median(stds[means > 0] / means[means > 0]))


# --- signed links ----------------------------------------------------------------------------


def test_a_signed_link_verifies_until_it_expires() -> None:
    link = sign_link(SECRET, PATH, link_expiry(ISSUED))
    path, expires, signature = split_link(link)
    assert path == PATH
    verify_link(SECRET, path, expires, signature, now=ISSUED)
    verify_link(SECRET, path, expires, signature, now=ISSUED + timedelta(minutes=59))


def test_the_link_carries_unix_seconds_and_the_hmac_of_path_and_expires() -> None:
    expires = datetime(2026, 5, 2, 19, 0, 0, 900_000, tzinfo=UTC)
    link = sign_link(SECRET, PATH, expires)
    seconds = str(int(datetime(2026, 5, 2, 19, 0, 0, tzinfo=UTC).timestamp()))
    expected = hmac.new(SECRET, f"{PATH}\n{seconds}".encode(), hashlib.sha256).hexdigest()
    assert link == f"{PATH}?expires={seconds}&signature={expected}"


def test_links_expire_one_hour_of_simulation_time_after_issue() -> None:
    assert timedelta(hours=1) == LINK_LIFETIME
    assert link_expiry(ISSUED) == ISSUED + timedelta(hours=1)


def test_a_link_is_valid_at_its_expiry_second_and_refused_just_after() -> None:
    _, expires, signature = split_link(sign_link(SECRET, PATH, link_expiry(ISSUED)))
    at_expiry = ISSUED + timedelta(hours=1)
    verify_link(SECRET, PATH, expires, signature, now=at_expiry)
    with pytest.raises(LinkError) as refused:
        verify_link(SECRET, PATH, expires, signature, now=at_expiry + timedelta(microseconds=1))
    assert refused.value.reason == "expired"


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda p, e, s: (p.replace("quicklook-png", "grd-tif"), e, s), id="path"),
        pytest.param(lambda p, e, s: (p, str(int(e) + 3600), s), id="expires-pushed-forward"),
        pytest.param(lambda p, e, s: (p, str(int(e) - 1), s), id="expires-earlier"),
        pytest.param(lambda p, e, s: (p, e, ("0" if s[0] != "0" else "1") + s[1:]), id="signature"),
    ],
)
def test_an_altered_link_is_refused_as_an_invalid_signature(
    alter: Callable[[str, str, str], tuple[str, str, str]],
) -> None:
    path, expires, signature = alter(*split_link(sign_link(SECRET, PATH, link_expiry(ISSUED))))
    with pytest.raises(LinkError) as refused:
        verify_link(SECRET, path, expires, signature, now=ISSUED)
    assert refused.value.reason == "invalid signature"


def test_a_link_signed_with_another_secret_is_refused() -> None:
    _, expires, signature = split_link(sign_link(b"other", PATH, link_expiry(ISSUED)))
    with pytest.raises(LinkError) as refused:
        verify_link(SECRET, PATH, expires, signature, now=ISSUED)
    assert refused.value.reason == "invalid signature"


def test_path_and_expires_cannot_trade_digits() -> None:
    # Signed as /a/1 with expires 23…, presented as /a/ with expires 123…
    link = sign_link(SECRET, "/files/1", datetime.fromtimestamp(2_300_000_000, UTC))
    _, expires, signature = split_link(link)
    with pytest.raises(LinkError):
        verify_link(SECRET, "/files/", "1" + expires, signature, now=ISSUED)


@pytest.mark.parametrize(
    ("expires", "signature"),
    [("soon", "a" * 64), ("-5", "a" * 64), ("1777748400", "abc"), ("1777748400", "g" * 64)],
)
def test_a_malformed_link_is_refused_as_malformed(expires: str, signature: str) -> None:
    with pytest.raises(LinkError) as refused:
        verify_link(SECRET, PATH, expires, signature, now=ISSUED)
    assert refused.value.reason == "malformed"


def test_a_link_without_its_query_is_malformed() -> None:
    with pytest.raises(LinkError) as refused:
        split_link(PATH + "?expires=1777748400")
    assert refused.value.reason == "malformed"


def test_signing_refuses_a_path_with_a_query_and_naive_times() -> None:
    with pytest.raises(InputError, match="path"):
        sign_link(SECRET, PATH + "?x=1", link_expiry(ISSUED))
    with pytest.raises(InputError, match="timezone-aware"):
        sign_link(SECRET, PATH, datetime(2026, 5, 2, 19, 0))
    _, expires, signature = split_link(sign_link(SECRET, PATH, link_expiry(ISSUED)))
    with pytest.raises(InputError, match="timezone-aware"):
        verify_link(SECRET, PATH, expires, signature, now=datetime(2026, 5, 2, 18, 0))


# --- images ----------------------------------------------------------------------------------


def test_the_quicklook_is_a_grayscale_png_of_the_requested_size() -> None:
    assert gray(make_quicklook_png(7)).shape == (640, 640)
    assert gray(make_quicklook_png(7, width=320, height=200)).shape == (200, 320)


def test_the_quicklook_is_deterministic_for_a_seed_and_differs_between_seeds() -> None:
    first = make_quicklook_png(11)
    assert make_quicklook_png(11) == first
    other = gray(make_quicklook_png(12))
    assert np.mean(np.abs(gray(first) - other)) > 10


def test_the_quicklook_is_speckled_not_flat() -> None:
    flat = np.asarray(Image.new("L", (640, 640), 128), dtype=np.float64)
    assert median_block_cv(flat) == 0.0
    speckled = median_block_cv(gray(make_quicklook_png(3)))
    assert speckled > 0.1


def test_more_looks_mean_less_speckle() -> None:
    one_look = median_block_cv(gray(make_quicklook_png(5, looks=1.0)))
    many_looks = median_block_cv(gray(make_quicklook_png(5, looks=16.0)))
    assert one_look > 1.5 * many_looks


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_quicklook_shows_a_dark_low_backscatter_area_and_bright_targets(seed: int) -> None:
    pixels = gray(make_quicklook_png(seed))
    blocks = pixels.reshape(40, 16, 40, 16).swapaxes(1, 2).reshape(40, 40, 256)
    means = blocks.mean(axis=2)
    # Water (a river or the sea) is much darker than the land…
    assert np.percentile(means, 2) < 0.4 * np.percentile(means, 75)
    # …and point scatterers (ships, buildings) stand far above their surroundings, which speckle
    # alone does not do.
    standouts = blocks.max(axis=2) - np.median(blocks, axis=2) > 150
    assert standouts.sum() >= 10


def test_the_near_range_side_is_brighter_and_follows_the_look_side() -> None:
    right = gray(make_quicklook_png(8, look_side="RIGHT"))
    left = gray(make_quicklook_png(8, look_side="LEFT"))
    # Same scene; a RIGHT-looking satellite has its near range on the left edge, LEFT on the right,
    # so the RIGHT image is the brighter one on the left and the darker one on the right.
    difference = right.mean(axis=0) - left.mean(axis=0)
    assert difference[:160].mean() > difference[-160:].mean() + 10


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"seed": -1}, "seed"),
        ({"width": 0}, "image width"),
        ({"height": 5000}, "image height"),
        ({"look_side": "UP"}, "look side"),
        ({"incidence": float("nan")}, "incidence"),
        ({"looks": 0.5}, "looks"),
    ],
)
def test_bad_image_arguments_are_refused_with_the_rule(kwargs: dict[str, Any], rule: str) -> None:
    args = {"seed": 1} | kwargs
    with pytest.raises(InputError, match=rule):
        make_quicklook_png(**args)


def test_the_grd_is_a_16_bit_geotiff_of_the_same_scene(task: Task) -> None:
    footprint = footprint_for(task)
    image = Image.open(io.BytesIO(make_grd_tiff(4, footprint=footprint)))
    assert image.format == "TIFF"
    assert image.mode == "I;16"
    assert image.size == (640, 640)
    ties = image.tag_v2[33922]
    # Four tie points (col, row, 0, lon, lat, 0); the first corner (near range, first line) is
    # bottom-left for a RIGHT-looking pass.
    assert len(ties) == 24
    assert ties[:6] == pytest.approx((0, 640, 0, footprint[0][1], footprint[0][0], 0))
    assert image.tag_v2[34735][-1] == 4326
    amplitude_db = 20 * np.log10(np.asarray(image, dtype=np.float64) + 1)
    quicklook = gray(make_quicklook_png(4))
    assert np.corrcoef(amplitude_db.ravel(), quicklook.ravel())[0, 1] > 0.9


def test_scene_seeds_are_stable_and_distinct() -> None:
    assert scene_seed(2026, "task-a") == scene_seed(2026, "task-a")
    assert scene_seed(2026, "task-a") != scene_seed(2026, "task-b")
    assert 0 <= scene_seed(2026, "task-a") < 2**63


# --- metadata --------------------------------------------------------------------------------


def test_metadata_carries_the_scene_geometry_in_iceye_style(task: Task, scene: Scene) -> None:
    doc = metadata_for(task, scene, product_type="GRD")
    json.dumps(doc)  # JSON-able
    assert doc["product_name"] == f"ICEYE_SANDSAT-07_GRD_SLH_{task.id}_20260502T094112"
    assert doc["frame_id"] == frame_id(task, scene) == f"{task.id}_20260502T094112"
    assert doc["satellite_name"] == "SANDSAT-07"
    assert doc["imaging_mode"] == "SPOTLIGHT"
    assert doc["acquisition_mode"] == "spotlight"
    assert doc["acquisition_start_utc"] == "2026-05-02T09:41:12Z"
    assert doc["acquisition_end_utc"] == "2026-05-02T09:41:22Z"
    assert doc["look_side"] == "right"
    assert doc["orbit_direction"] == "DESCENDING"
    assert doc["heading"] == 190.0
    assert doc["incidence_center"] == 27.4
    assert doc["satellite_look_angle"] == 24.3
    assert doc["slant_range_to_scene_center"] == 610_000.0
    assert doc["mean_orbit_altitude"] == 560_000.0
    assert doc["point_of_interest"] == {"lat": 60.1699, "lon": 24.9384}
    corners = footprint_for(task)
    assert doc["coord_first_near"] == pytest.approx(list(corners[0]))
    assert doc["coord_last_near"] == pytest.approx(list(corners[3]))
    assert doc["coord_center"] == pytest.approx([60.1699, 24.9384], abs=1e-4)


def test_near_and_far_incidence_agree_with_spherical_geometry(task: Task, scene: Scene) -> None:
    doc = metadata_for(task, scene)
    earth, slant, theta = 6371.0088, 610.0, math.radians(27.4)
    # Independent: put the satellite above a sphere, then measure the incidence 2.5 km either side.
    target = np.array([0.0, earth])
    normal = target / earth
    to_satellite = np.array([math.sin(theta), math.cos(theta)]) * slant
    satellite = target + to_satellite

    def incidence_at(ground_km: float) -> float:
        angle = ground_km / earth  # away from the satellite is negative x here
        point = earth * np.array([-math.sin(angle), math.cos(angle)])
        ray = satellite - point
        cos_i = ray @ (point / earth) / np.linalg.norm(ray)
        return math.degrees(math.acos(cos_i))

    assert incidence_at(0.0) == pytest.approx(27.4, abs=1e-9)
    assert normal @ normal == pytest.approx(1.0)
    assert doc["incidence_near"] == pytest.approx(incidence_at(-2.5), abs=0.002)
    assert doc["incidence_far"] == pytest.approx(incidence_at(2.5), abs=0.002)
    assert doc["incidence_near"] < doc["incidence_center"] < doc["incidence_far"]
    assert doc["slant_range_to_first_pixel"] < doc["slant_range_to_scene_center"]


def test_metadata_refuses_a_scene_without_its_geometry(task: Task, scene: Scene) -> None:
    with pytest.raises(InputError, match="incidence"):
        metadata_for(task, scene.model_copy(update={"incidenceAngle": None}))
    with pytest.raises(InputError, match="lookSide"):
        metadata_for(task, scene.model_copy(update={"lookSide": None}))  # the task says ANY
    with pytest.raises(InputError, match="4 footprint corners"):
        metadata_for(task, scene, footprint=footprint_for(task)[:3])


# --- STAC items ------------------------------------------------------------------------------


def test_assets_use_iceyes_documented_keys_titles_and_media_types(
    golden: Callable[[str], Any],
) -> None:
    keys = {ptype: [key for key, *_ in asset_plan(ptype)] for ptype in ("GRD", "SLC", "QLK")}
    assert keys == {
        "GRD": ["grd-tif", "grd-xml", "quicklook-kml", "quicklook-png"],
        "SLC": ["slc-tif", "slc-xml", "quicklook-kml", "quicklook-png"],
        "QLK": ["quicklook-kml", "quicklook-png"],
    }
    documented = golden("products_response_doc")["data"][0]["assets"]
    plan = {key: (title, media) for key, title, media, _ in asset_plan("GRD")}
    for key, asset in documented.items():
        assert plan[key] == (asset["title"], asset["type"]), key
    assert plan["quicklook-png"] == ("Quicklook image", "image/png")
    with pytest.raises(InputError, match="product type"):
        asset_plan("grd tif")


def test_the_stac_item_parses_as_a_product(task: Task, scene: Scene) -> None:
    item = item_for(task, scene)
    product = Product.model_validate(item)
    assert product.product_type == "GRD"
    assert product.id == product_id(task, scene, "SANDSAT-07", "GRD")
    assert product.collection == "private"
    assert product.stac_version == "1.0.0"
    assert product.assets["quicklook-png"].type == "image/png"
    assert product.assets["grd-tif"].title == "GRD data file"


def test_the_stac_item_has_the_documented_shape(
    task: Task, scene: Scene, golden: Callable[[str], Any]
) -> None:
    item = item_for(task, scene)
    documented = golden("products_response_doc")["data"][0]
    assert set(item) == set(documented)
    assert set(item["properties"]) <= DOCUMENTED_PROPERTIES  # closed: no STAC datetime/platform
    for asset in item["assets"].values():
        assert set(asset) <= DOCUMENTED_ASSET_FIELDS
    props = item["properties"]
    assert props["frame_id"] == f"{task.id}_20260502T094112"
    assert props["created"] == props["updated"] == "2026-05-02T17:41:22Z"
    assert props["start_datetime"] == "2026-05-02T09:41:12Z"
    assert props["end_datetime"] == "2026-05-02T09:41:22Z"
    assert props["sar:instrument_mode"] == "spotlight"
    assert props["sar:frequency_band"] == "X"
    assert props["sar:polarizations"] == ["VV"]
    assert props["sar:observation_direction"] == "right"
    assert props["sat:orbit_state"] == "descending"
    assert props["iceye:incidence_center"] == 27.4


def test_the_footprint_is_a_closed_counter_clockwise_lon_lat_ring(task: Task, scene: Scene) -> None:
    for look in ("RIGHT", "LEFT"):
        corners = footprint_for(task, look=look)
        item = item_for(task, scene, footprint=corners)
        assert item["geometry"]["type"] == "Polygon"
        ring = item["geometry"]["coordinates"][0]
        assert len(ring) == 5
        assert ring[0] == ring[-1]
        expected = sorted((lon, lat) for lat, lon in corners)
        assert np.allclose(sorted(map(tuple, ring[:-1])), expected, atol=1e-6)
        twice_area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring))
        assert twice_area > 0
        west, south, east, north = item["bbox"]
        assert all(west <= lon <= east and south <= lat <= north for lon, lat in ring)


def test_a_footprint_across_the_antimeridian_stays_one_piece(task: Task, scene: Scene) -> None:
    corners = [(10.0, 179.98), (10.0, -179.97), (10.05, -179.97), (10.05, 179.98)]
    item = item_for(task, scene, footprint=corners)
    lons = [lon for lon, _ in item["geometry"]["coordinates"][0]]
    assert max(lons) - min(lons) < 1.0  # continuous, not a band around the world
    west, _, east, _ = item["bbox"]
    assert (west, east) == pytest.approx((179.98, -179.97))  # RFC 7946 §5.2: west > east


def test_extra_properties_are_merged_and_bad_inputs_refused(task: Task, scene: Scene) -> None:
    item = item_for(task, scene, properties_extra={"iceye:incidence_near": 27.2})
    assert item["properties"]["iceye:incidence_near"] == 27.2
    with pytest.raises(InputError, match="href"):
        item_for(task, scene, assets={"quicklook-png": {"title": "no link"}})
    with pytest.raises(InputError, match="timezone-aware"):
        item_for(task, scene, created=datetime(2026, 5, 2, 17, 41))
    with pytest.raises(InputError, match="3 distinct corners"):
        item_for(task, scene, footprint=[(60.0, 24.0), (60.1, 24.1)])


def test_extra_properties_outside_iceyes_list_are_refused(task: Task, scene: Scene) -> None:
    with pytest.raises(InputError, match="platform"):
        item_for(task, scene, properties_extra={"platform": "SANDSAT-07"})
    with pytest.raises(InputError, match="datetime"):
        item_for(task, scene, properties_extra={"datetime": "2026-05-02T09:41:12Z"})


def test_render_asset_makes_each_planned_file(task: Task, scene: Scene) -> None:
    doc = metadata_for(task, scene, product_type="GRD")
    seed = scene_seed(2026, task.id)
    assert render_asset("quicklook-png", seed=seed, metadata=doc) == make_quicklook_png(
        seed, look_side="RIGHT", incidence=27.4
    )
    assert render_asset("grd-xml", seed=seed, metadata=doc) == make_metadata_xml(doc)
    assert render_asset("quicklook-kml", seed=seed, metadata=doc) == make_quicklook_kml(doc)
    tiff = Image.open(io.BytesIO(render_asset("grd-tif", seed=seed, metadata=doc)))
    assert tiff.mode == "I;16"
    assert tiff.tag_v2[33922][3:5] == pytest.approx(tuple(doc["coord_first_near"][::-1]))
    for unknown in ("slc-h5", "metadata-json"):
        with pytest.raises(InputError, match="asset key"):
            render_asset(unknown, seed=seed, metadata=doc)


def _text(root: ElementTree.Element, path: str) -> str:
    found = root.find(path, KML_NS)
    assert found is not None and found.text is not None, path
    return found.text


def test_grd_xml_holds_every_metadata_value_of_the_scene(task: Task, scene: Scene) -> None:
    doc = metadata_for(task, scene, product_type="GRD")
    root = ElementTree.fromstring(make_metadata_xml(doc))
    assert root.tag == "product"
    assert [child.tag for child in root] == list(doc)
    for key, value in doc.items():
        if key.startswith("coord_"):
            assert [float(_text(root, f"{key}/{axis}")) for axis in ("lat", "lon")] == value
        elif key == "point_of_interest":
            assert float(_text(root, f"{key}/lat")) == value["lat"]
        elif isinstance(value, str):
            assert _text(root, key) == value
        else:
            assert json.loads(_text(root, key)) == value, key
    assert _text(root, "product_name") == product_id(task, scene, "SANDSAT-07", "GRD")


@pytest.mark.parametrize("look", ["RIGHT", "LEFT"])
def test_quicklook_kml_lays_the_png_on_the_footprint_corners(
    task: Task, scene: Scene, look: str
) -> None:
    corners = footprint_for(task, look=look)
    doc = metadata_for(task, scene.model_copy(update={"lookSide": look}), footprint=corners,
                       product_type="GRD")  # fmt: skip
    root = ElementTree.fromstring(make_quicklook_kml(doc))
    assert root.tag == "{http://www.opengis.net/kml/2.2}kml"
    overlay = "kml:GroundOverlay"
    png = asset_file_name(doc["product_name"], "quicklook-png")
    assert _text(root, f"{overlay}/kml:Icon/kml:href") == png
    assert png.endswith("-quicklook-png.png")
    assert _text(root, f"{overlay}/kml:TimeSpan/kml:begin") == "2026-05-02T09:41:12Z"
    quad = [
        tuple(map(float, point.split(",")))
        for point in _text(root, f"{overlay}/gx:LatLonQuad/kml:coordinates").split()
    ]
    # KML: lower-left, lower-right, upper-right, upper-left of the image. Flight direction up
    # puts the first line at the bottom; the near range is on the left for a RIGHT look.
    near_start, far_start, far_end, near_end = [(lon, lat) for lat, lon in corners]
    if look == "RIGHT":
        expected = [near_start, far_start, far_end, near_end]
    else:
        expected = [far_start, near_start, near_end, far_end]
    assert np.allclose(quad, expected, atol=1e-6)


def test_file_names_match_the_apps_download_names() -> None:
    # The KML finds its PNG only if both are saved under these names; the app's download
    # buttons name files the same way.
    name = "ICEYE_SANDSAT-07_GRD_SLH_7d1f0c52_20260502T094112"
    for product_type in modes.mode_info("SPOTLIGHT_EXTENDED_DWELL").product_types:
        for key, _, media, _ in asset_plan(product_type):
            product = ProductView(name, product_type, None, (AssetView(key, key, media),))
            assert file_name(product, key, media) == asset_file_name(name, key), key


# --- served files ------------------------------------------------------------------------------


def test_every_grd_asset_link_serves_its_file_with_its_media_type(
    client: TestClient, demo: dict[str, str]
) -> None:
    created = client.post(TASKS, json=task_body(productTypes=["GRD"]), headers=demo).json()
    run_until(client, demo, created["id"], {"DONE"})
    item = client.get(f"{TASKS}/{created['id']}/products/GRD", headers=demo).json()["data"][0]
    served = {}
    for key, asset in item["assets"].items():
        response = client.get(asset["href"])
        assert response.status_code == 200, key
        assert response.headers["content-type"] == asset["type"], key
        disposition = response.headers["content-disposition"]
        assert disposition == f'inline; filename="{asset_file_name(item["id"], key)}"'
        served[key] = response.content
    assert served["quicklook-png"].startswith(b"\x89PNG")
    assert served["grd-tif"][:4] in (b"II*\x00", b"MM\x00*")
    annotation = ElementTree.fromstring(served["grd-xml"])
    corners = item["geometry"]["coordinates"][0][:-1]
    first_near = [float(_text(annotation, f"coord_first_near/{a}")) for a in ("lon", "lat")]
    assert any(np.allclose(first_near, corner, atol=1e-6) for corner in corners)
    assert _text(annotation, "incidence_center") == str(
        item["properties"]["iceye:incidence_center"]
    )
    overlay = ElementTree.fromstring(served["quicklook-kml"])
    assert _text(overlay, "kml:GroundOverlay/kml:Icon/kml:href") == asset_file_name(
        item["id"], "quicklook-png"
    )
    quad = _text(overlay, "kml:GroundOverlay/gx:LatLonQuad/kml:coordinates").split()
    points = [list(map(float, p.split(","))) for p in quad]
    assert np.allclose(sorted(points), sorted(corners), atol=1e-6)


# --- a data file for every product type (issue 11) --------------------------------------------

DWELL = "SPOTLIGHT_EXTENDED_DWELL"  # the mode with every product type (CSI and VID are Dwell's)
MAGIC = {
    "tif": (b"II*\x00", b"MM\x00*"),
    "ntf": (b"NITF02.10",),
    "gif": (b"GIF89a",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "json": (b"{",),
    "xml": (b"<?xml",),
    "kml": (b"<?xml",),
}
MAX_NEW_FILE_BYTES = 80_000  # "tens of KB" (GRD's own GeoTIFF is ICEYE's documented product)


def _tiff_tags(data: bytes) -> dict[int, tuple[int, ...]]:
    """The first IFD's tags of a little-endian TIFF (numbers only), read by hand: Pillow reads
    no complex samples."""
    import struct

    assert data[:4] == b"II*\x00"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    sizes = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4), 12: ("d", 8), 2: ("c", 1)}
    tags: dict[int, tuple[int, ...]] = {}
    for index in range(count):
        tag, kind, n, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * index)
        fmt, size = sizes[kind]
        where = ifd + 2 + 12 * index + 8 if n * size <= 4 else value
        if kind != 2:
            tags[tag] = struct.unpack_from(f"<{n}{fmt}", data, where)
    return tags


def _nitf_segments(data: bytes) -> tuple[bytes, bytes, list[bytes]]:
    """(image subheader, image data, [DES data]) of a NITF 2.1 file, from its header's lengths."""
    assert data.startswith(b"NITF02.10")
    assert int(data[342:354]) == len(data)  # FL
    header_length = int(data[354:360])
    at = 360
    images = int(data[at : at + 3])
    at += 3
    image_sizes = [(int(data[at + 16 * i : at + 16 * i + 6]), int(data[at + 16 * i + 6 : at + 16 * i + 16])) for i in range(images)]  # fmt: skip
    at += 16 * images + 9  # graphics, reserved, text: none
    extensions = int(data[at : at + 3])
    at += 3
    des_sizes = [(int(data[at + 13 * i : at + 13 * i + 4]), int(data[at + 13 * i + 4 : at + 13 * i + 13])) for i in range(extensions)]  # fmt: skip
    assert images == 1
    position = header_length
    subheader = data[position : position + image_sizes[0][0]]
    position += image_sizes[0][0]
    pixels = data[position : position + image_sizes[0][1]]
    position += image_sizes[0][1]
    des: list[bytes] = []
    for sub, length in des_sizes:
        des_header = data[position : position + sub]
        assert des_header.startswith(b"DEXML_DATA_CONTENT")
        position += sub
        des.append(data[position : position + length])
        position += length
    assert position == len(data)
    return subheader, pixels, des


def test_every_product_type_a_task_can_order_is_downloadable_as_a_small_real_file(
    client: TestClient, demo: dict[str, str]
) -> None:
    ordered = list(modes.mode_info(DWELL).product_types)
    assert set(ordered) >= {"GRD", "SLC", "CSI", "VID", "SICD", "SIDD", "QLK"}
    body = task_body(imagingMode=DWELL, productTypes=ordered)
    created = client.post(TASKS, json=body, headers=demo)
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    run_until(client, demo, task_id, {"DONE"})
    for product_type in ordered:
        listed = client.get(f"{TASKS}/{task_id}/products/{product_type}", headers=demo)
        assert listed.status_code == 200, (product_type, listed.text)
        item = listed.json()["data"][0]
        data_roles = [k for k, a in item["assets"].items() if "data" in a["roles"]]
        assert data_roles or product_type == "QLK", f"{product_type} has no data file"
        for key, asset in item["assets"].items():
            response = client.get(asset["href"])
            assert response.status_code == 200, (product_type, key)
            assert response.headers["content-type"] == asset["type"], (product_type, key)
            saved_as = response.headers["content-disposition"].split('filename="')[1].rstrip('"')
            extension = saved_as.rsplit(".", 1)[1]
            assert response.content.startswith(MAGIC[extension]), (product_type, key)
            if key in data_roles and key != "grd-tif":
                assert len(response.content) <= MAX_NEW_FILE_BYTES, (key, len(response.content))


@pytest.fixture
def dwell_doc(task: Task, scene: Scene) -> dict[str, Any]:
    dwell = task.model_copy(update={"imagingMode": DWELL})
    return metadata_for(dwell, scene)


def _render(key: str, doc: dict[str, Any], seed: int = 11) -> bytes:
    from tasking.sandbox.datafiles import render_asset as render_data

    return render_data(key, seed=seed, metadata=doc)


def test_cogs_are_tiled_with_their_tags_before_the_data_and_tied_to_the_footprint(
    dwell_doc: dict[str, Any],
) -> None:
    corners = [dwell_doc[k] for k in ("coord_first_near", "coord_first_far", "coord_last_far", "coord_last_near")]  # fmt: skip
    for key in ("grd-cog", "slc-cog", "csi-cog", "vid-cog"):
        data = _render(key, dwell_doc)
        tags = _tiff_tags(data)
        assert tags[322] == (64,) and tags[323] == (64,), key  # tiled
        assert min(tags[324]) > 8 + 2 + 12 * 10, key  # every tag before the first tile
        tiepoints = tags[33922]
        lat_lons = [[tiepoints[i + 4], tiepoints[i + 3]] for i in range(0, len(tiepoints), 6)]
        assert np.allclose(lat_lons, corners), key
    assert _tiff_tags(_render("slc-cog", dwell_doc))[339] == (5,)  # complex signed integer
    assert _tiff_tags(_render("slc-tif", dwell_doc))[258] == (32,)  # 16-bit I + 16-bit Q
    frames = _tiff_tags(_render("vid-cog", dwell_doc))[277]
    assert frames == (25,)
    assert Image.open(io.BytesIO(_render("vid-gif", dwell_doc))).n_frames == 25
    csi = Image.open(io.BytesIO(_render("csi-tif", dwell_doc)))
    assert csi.mode == "RGB"
    grd = np.asarray(Image.open(io.BytesIO(_render("grd-cog", dwell_doc))))
    assert grd.dtype == np.uint16 and grd.shape == (128, 128)


def test_data_files_come_from_the_scene_not_a_fixed_blob(dwell_doc: dict[str, Any]) -> None:
    for key in ("grd-cog", "slc-tif", "csi-tif", "vid-gif", "sicd-nitf", "sidd-nitf"):
        assert _render(key, dwell_doc, seed=1) == _render(key, dwell_doc, seed=1), key
        assert _render(key, dwell_doc, seed=1) != _render(key, dwell_doc, seed=2), key


def test_sicd_and_sidd_are_nitf_with_their_xml_and_the_scenes_corners(
    dwell_doc: dict[str, Any],
) -> None:
    from tasking.sandbox.formats import nitf_igeolo

    near_start, far_start, far_end, near_end = (
        tuple(dwell_doc[k])
        for k in ("coord_first_near", "coord_first_far", "coord_last_far", "coord_last_near")
    )
    subheader, pixels, des = _nitf_segments(_render("sicd-nitf", dwell_doc))
    assert subheader.startswith(b"IM")
    rows, columns = int(subheader[333:341]), int(subheader[341:349])
    assert len(pixels) == rows * columns * 4  # I and Q, 16 bits each
    assert subheader[349:352] == b"SI " and subheader[352:360] == b"NODISPLY"
    # SICD's rows run along range from the near edge, its columns along azimuth from the start.
    igeolo = nitf_igeolo([near_start, near_end, far_end, far_start]).encode()
    assert igeolo in subheader
    (sicd,) = des
    root = ElementTree.fromstring(sicd)
    assert root.tag == "{urn:SICD:1.3.0}SICD"
    ns = {"s": "urn:SICD:1.3.0"}
    side = root.findtext("s:SCPCOA/s:SideOfTrack", namespaces=ns)
    assert side == dwell_doc["look_side"][0].upper()
    assert (
        root.findtext("s:CollectionInfo/s:CollectorName", namespaces=ns)
        == dwell_doc["satellite_name"]
    )
    assert root.findtext("s:ImageData/s:PixelType", namespaces=ns) == "RE16I_IM16I"

    subheader, pixels, des = _nitf_segments(_render("sidd-nitf", dwell_doc))
    rows, columns = int(subheader[333:341]), int(subheader[341:349])
    assert len(pixels) == rows * columns  # 8-bit detected
    assert subheader[352:360] == b"MONO    "
    sidd, sicd = (ElementTree.fromstring(x) for x in des)
    assert sidd.tag == "{urn:SIDD:2.0.0}SIDD" and sicd.tag == "{urn:SICD:1.3.0}SICD"


def test_every_file_media_type_is_declared_in_the_openapi_document(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    content = spec["paths"]["/sandbox/v1/files/{taskID}/{productType}/{filename}"]["get"][
        "responses"
    ]["200"]["content"]
    planned = {
        media
        for product_type in modes.mode_info(DWELL).product_types
        for _, _, media, _ in asset_plan(product_type)
    }
    assert planned <= set(content)
