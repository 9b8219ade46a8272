"""ui/maps.py and the assets it relies on: the map works with no internet access.

Also covers the TopoJSON decoding and cutting of scripts/build_basemap.py, which made
static/basemap/, and the stylesheets scripts/vendor_assets.py derives.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import itertools
import json
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import folium
import folium.folium
import numpy as np
import pytest

from ui import maps
from ui.maps import base_map, click_to_point, escape_label, poi_feature_group

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"

# The only internet URLs a map may contain: the optional online base layer and its attribution.
ALLOWED_INTERNET_URLS = {
    "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "https://www.openstreetmap.org/copyright",
}
HOSTILE_LABEL = "<script>alert(1)</script> `${alert(2)}` \\` <b>x</b> & \"q\" 'a'"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look the module up while building
    spec.loader.exec_module(module)
    return module


va = _script("vendor_assets")
bb = _script("build_basemap")


def _busy_map() -> folium.Map:
    """base_map with one of everything the pages draw."""
    m = base_map()
    poi_feature_group(48.85, 2.35, "Paris").add_to(m)
    group = folium.FeatureGroup(name="scenes").add_to(m)
    folium.Marker((40.0, -30.0), icon=folium.Icon()).add_to(group)
    folium.Marker((35.0, -20.0), icon=folium.Icon(icon="star", prefix="fa", angle=45)).add_to(m)
    folium.Marker((30.0, -40.0)).add_to(m)
    folium.PolyLine([(10, -60), (20, -40)]).add_to(group)
    folium.Polygon([(-10, -40), (-5, -20), (-20, -25)], fill=True).add_to(group)
    folium.GeoJson(
        {"type": "Polygon", "coordinates": [[[100, 0], [120, 0], [120, 20], [100, 0]]]}
    ).add_to(m)
    image = np.zeros((2, 2, 4), dtype=np.uint8)
    folium.raster_layers.ImageOverlay(image, bounds=[(-30, 60), (-10, 90)]).add_to(m)
    folium.LayerControl().add_to(m)
    return m


def _internet_urls(text: str) -> set[str]:
    return {u.rstrip("\\") for u in re.findall(r"https?://[^\s\"'<>`)]+", text)}


@pytest.fixture
def st_folium_args(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """What st_folium sends its browser component (the component itself is replaced)."""
    import streamlit_folium

    sent: dict[str, Any] = {}

    def fake_component(**kwargs: Any) -> dict[str, Any]:
        sent.update(kwargs)
        return kwargs["default"]

    monkeypatch.setattr(streamlit_folium, "_component_func", fake_component)
    yield sent


# --- offline assets ------------------------------------------------------------------------------


def test_rendered_map_references_no_internet_url_but_the_optional_tile_layer() -> None:
    page = _busy_map().get_root().render()

    assert _internet_urls(page) <= ALLOWED_INTERNET_URLS
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in page  # the online layer is there


def test_every_script_and_stylesheet_of_the_map_is_served_from_static() -> None:
    urls = maps.asset_urls(_busy_map())

    assert urls, "the map should load Leaflet at least"
    assert [u for u in urls if not u.startswith(maps.STATIC_URL + "/")] == []


def test_st_folium_sends_its_iframe_only_local_links(st_folium_args: dict[str, Any]) -> None:
    from streamlit_folium import st_folium

    st_folium(
        base_map(),
        key="k",
        returned_objects=["last_clicked"],
        feature_group_to_add=poi_feature_group(1.0, 2.0, "here"),
    )

    links = st_folium_args["js_links"] + st_folium_args["css_links"]
    assert links and all(link.startswith(maps.STATIC_URL + "/") for link in links)
    code = st_folium_args["script"] + st_folium_args["header"] + st_folium_args["feature_group"]
    assert _internet_urls(code) <= ALLOWED_INTERNET_URLS


def _local_path(url: str) -> Path:
    assert url.startswith(maps.STATIC_URL + "/"), url
    return STATIC / urlsplit(url).path.removeprefix(maps.STATIC_URL + "/")


def test_every_local_url_the_map_uses_is_a_file_under_static() -> None:
    page = _busy_map().get_root().render()
    urls = set(maps.asset_urls(_busy_map()))
    # ...and the URLs in the map's own script: basemap GeoJSON, Leaflet's icon folder.
    urls |= set(re.findall(rf'"({re.escape(maps.STATIC_URL)}/[^"]+)"', page))

    missing = [u for u in sorted(urls) if not _local_path(u).exists()]
    assert missing == []
    assert maps.static_url(maps.LAND_GEOJSON) in urls
    assert maps.static_url("vendor/leaflet/images/") in urls


def test_every_url_inside_the_vendored_stylesheets_resolves_to_a_file() -> None:
    missing = []
    for css in STATIC.glob("vendor/**/*.css"):
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css.read_text()):
            if ref.startswith(("data:", "#")):
                continue
            target = (css.parent / urlsplit(ref).path).resolve()
            if not target.is_file():
                missing.append(f"{css.relative_to(STATIC)} -> {ref}")
    assert missing == []


def test_every_asset_folium_links_by_default_has_a_vendored_replacement() -> None:
    upstream = folium.folium._default_js + folium.folium._default_css
    ours = maps.OFFLINE_JS + maps.OFFLINE_CSS

    assert {name for name, _ in upstream} == {name for name, _ in ours}


def test_use_offline_assets_is_idempotent() -> None:
    maps.use_offline_assets()
    first = (list(folium.Map.default_js), list(folium.Map.default_css))
    maps.use_offline_assets()

    assert (folium.Map.default_js, folium.Map.default_css) == first
    assert all(url.startswith(maps.STATIC_URL) for _, url in first[0] + first[1])


def test_use_offline_assets_refuses_a_folium_asset_it_has_not_vendored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = ("new_plugin", "https://cdn.example/new.js")
    monkeypatch.setattr(folium.folium, "_default_js", [*folium.folium._default_js, extra])

    with pytest.raises(RuntimeError, match="new_plugin"):
        maps.use_offline_assets()


def _listed(sources: Path) -> set[str]:
    return set(re.findall(r"^\| (\S+) \|", sources.read_text(), re.M))


def test_sources_md_lists_every_vendored_file() -> None:
    # A row may name a pattern (the basemap's cells: basemap/10m/*.json).
    listed = _listed(STATIC / "vendor" / "SOURCES.md")
    on_disk = {
        str(p.relative_to(STATIC))
        for p in [*STATIC.glob("vendor/**/*"), *STATIC.glob("basemap/**/*")]
        if p.is_file() and p != STATIC / "vendor" / "SOURCES.md"
    }

    assert {f for f in on_disk if not any(fnmatch.fnmatchcase(f, row) for row in listed)} == set()
    assert {row for row in listed if not fnmatch.filter(on_disk, row)} == set()


def test_basemap_sources_md_has_the_basemap_rows_of_the_vendor_sources_md() -> None:
    vendor = {r for r in _listed(STATIC / "vendor" / "SOURCES.md") if r.startswith("basemap/")}

    assert _listed(STATIC / "basemap" / "SOURCES.md") == vendor


def test_streamlit_config_turns_static_serving_on() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())

    assert config["server"]["enableStaticServing"] is True


# --- base map --------------------------------------------------------------------------------


def test_base_map_renders_the_same_html_every_call() -> None:
    assert base_map().get_root().render() == base_map().get_root().render()
    assert base_map((10.0, 20.0), 5, 400).get_root().render() == (
        base_map((10.0, 20.0), 5, 400).get_root().render()
    )


def test_base_map_gives_st_folium_the_same_script_every_run(st_folium_args: dict[str, Any]) -> None:
    from streamlit_folium import st_folium

    st_folium(base_map(), key="k")
    first = (st_folium_args["script"], st_folium_args["key"])
    st_folium(base_map(), key="k")

    assert (st_folium_args["script"], st_folium_args["key"]) == first


def test_base_map_follows_its_arguments() -> None:
    page = base_map((12.5, -45.0), 6, 480).get_root().render()

    assert "center: [12.5, -45.0]" in page
    assert '"zoom": 6' in page
    assert "height: 480.0px" in page


def test_base_map_has_offline_basemap_shown_and_osm_as_a_hidden_choice() -> None:
    page = base_map().get_root().render()

    layers = re.search(r"base_layers : \{(.*?)\}", page, re.S)
    assert layers is not None
    assert '"Natural Earth (offline)"' in layers.group(1)
    assert '"OpenStreetMap (online)"' in layers.group(1)
    osm_var = re.search(r'"OpenStreetMap \(online\)" : (\w+)', page)
    assert osm_var is not None and f"{osm_var.group(1)}.addTo(" not in page
    assert re.search(r"natural_earth_basemap_\w+\.addTo\(", page)


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"center": (91.0, 0.0)}, "center: The latitude must be between"),
        ({"center": (0.0, 180.5)}, "longitude-range rule"),
        ({"center": (float("nan"), 0.0)}, "latitude-range rule"),
        ({"center": ("1", 2)}, "must be numbers"),
        ({"zoom": 0}, "zoom must be an integer from 1 to 18"),
        ({"zoom": 2.5}, "zoom must be an integer"),
        ({"height_px": 0}, "height_px must be a positive integer"),
    ],
)
def test_base_map_rejects_out_of_range_arguments_naming_the_rule(
    kwargs: dict[str, Any], rule: str
) -> None:
    with pytest.raises(ValueError, match=rule):
        base_map(**kwargs)


# --- point of interest ---------------------------------------------------------------------------


def _render_group(group: folium.FeatureGroup) -> str:
    m = base_map()
    group.add_to(m)
    return m.get_root().render()


def test_poi_feature_group_puts_one_marker_at_the_point() -> None:
    page = _render_group(poi_feature_group(-33.5, 151.25, "Sydney"))

    assert page.count("L.marker(") == 1
    assert "[-33.5, 151.25]" in page
    assert "Sydney" in page


def test_poi_feature_group_is_deterministic() -> None:
    def script(group: folium.FeatureGroup) -> str:
        return _render_group(group)

    assert script(poi_feature_group(1.0, 2.0, "a")) == script(poi_feature_group(1.0, 2.0, "a"))


def test_poi_label_is_escaped_for_html_and_the_javascript_template_it_lands_in() -> None:
    page = _render_group(poi_feature_group(0.0, 0.0, HOSTILE_LABEL))

    assert "<script>alert(1)" not in page
    assert "${alert(2)}" not in page
    assert "`${" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &#96;&#36;{alert(2)}&#96;" in page


def test_escape_label_leaves_plain_text_alone_and_entities_every_special_character() -> None:
    assert escape_label("Port of Rotterdam 2") == "Port of Rotterdam 2"
    assert escape_label("<&>\"'`$\\") == "&lt;&amp;&gt;&quot;&#x27;&#96;&#36;&#92;"


def test_poi_feature_group_rejects_an_invalid_point() -> None:
    with pytest.raises(ValueError, match="point of interest: The latitude"):
        poi_feature_group(-91.0, 0.0, "x")


# --- clicks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"last_clicked": {"lat": 48.5, "lng": 2.25}}, (48.5, 2.25)),
        ({"last_clicked": {"lat": -10, "lng": 180}}, (-10.0, 180.0)),
        ({"last_clicked": {"lat": 0.0, "lng": -180.0}}, (0.0, -180.0)),
        ({"last_clicked": {"lat": 10.0, "lng": 190.0}}, (10.0, -170.0)),
        ({"last_clicked": {"lat": 10.0, "lng": -200.0}}, (10.0, 160.0)),
        ({"last_clicked": {"lat": 10.0, "lng": 370.5}}, (10.0, 10.5)),
        ({"last_clicked": {"lat": 1.0, "lng": 2.0}, "zoom": 4}, (1.0, 2.0)),
    ],
)
def test_click_to_point_returns_lat_and_wrapped_lon(
    value: dict[str, Any], expected: tuple[float, float]
) -> None:
    point = click_to_point(value)

    assert point == pytest.approx(expected)


@pytest.mark.parametrize(
    "value",
    [
        None,
        {},
        {"last_clicked": None},
        {"last_clicked": {"lat": 1.0}},
        {"last_clicked": {"lat": "1", "lng": "2"}},
        {"last_clicked": {"lat": True, "lng": 2.0}},
        {"last_clicked": {"lat": float("nan"), "lng": 2.0}},
        {"last_clicked": {"lat": 1.0, "lng": float("inf")}},
        {"last_clicked": {"lat": 90.5, "lng": 2.0}},
        {"last_clicked": [1.0, 2.0]},
        "not a dict",
    ],
)
def test_click_to_point_is_none_without_a_usable_click(value: Any) -> None:
    assert click_to_point(value) is None


# --- basemap data and its TopoJSON decoding ------------------------------------------------------


def test_vendored_basemap_is_planar_geojson_within_one_world() -> None:
    land = json.loads((STATIC / maps.LAND_GEOJSON).read_text())
    borders = json.loads((STATIC / maps.BORDERS_GEOJSON).read_text())

    polygons = land["features"][0]["geometry"]["coordinates"]
    assert len(polygons) > 1000
    rings = [ring for polygon in polygons for ring in polygon]
    assert all(len(r) >= 4 and r[0] == r[-1] for r in rings)
    lines = borders["features"][0]["geometry"]["coordinates"]
    assert len(lines) > 100
    for part in [*rings, *lines]:
        assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in part)
        # No edge jumps across the map, except the closing edge along a pole.
        jumps = [(a, b) for a, b in itertools.pairwise(part) if abs(b[0] - a[0]) > 180]
        assert all(abs(a[1]) == 90 and a[1] == b[1] for a, b in jumps)


# The quantised example of the TopoJSON specification, section 2.1.2 (a line and a polygon).
SPEC_TOPOLOGY = {
    "type": "Topology",
    "transform": {"scale": [0.0005000500050005, 0.00010001000100010001], "translate": [100, 0]},
    "objects": {
        "example": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "LineString", "properties": {"prop0": "value0"}, "arcs": [0]},
                {"type": "Polygon", "properties": {"prop0": "value0"}, "arcs": [[1]]},
            ],
        }
    },
    "arcs": [
        [[4000, 0], [1999, 9999], [2000, -9999], [2000, 9999]],
        [[0, 0], [0, 9999], [2000, 0], [0, -9999], [-2000, 0]],
    ],
}


def test_topojson_arcs_are_delta_decoded_and_dequantised() -> None:
    arcs = bb.decode_arcs(SPEC_TOPOLOGY)

    np.testing.assert_allclose(arcs[0], [(102, 0), (103, 1), (104, 0), (105, 1)], atol=1e-3)
    np.testing.assert_allclose(
        arcs[1], [(100, 0), (100, 1), (101, 1), (101, 0), (100, 0)], atol=1e-3
    )


def test_topojson_object_becomes_a_feature_collection_with_properties() -> None:
    collection = bb.topology_features(SPEC_TOPOLOGY, "example")

    line, polygon = collection["features"]
    assert line["geometry"]["type"] == "LineString"
    assert line["properties"] == {"prop0": "value0"}
    assert polygon["geometry"]["type"] == "Polygon"
    assert polygon["geometry"]["coordinates"][0][0] == pytest.approx((100, 0), abs=1e-3)


# Two unit squares side by side: arc 0 is their shared edge, walked backwards by the right one.
TWO_SQUARES = {
    "type": "Topology",
    "objects": {
        "countries": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "arcs": [[0, 1]]},
                {"type": "Polygon", "arcs": [[~0, 2]]},
            ],
        }
    },
    "arcs": [
        [[1, 0], [1, 1]],
        [[1, 1], [0, 1], [0, 0], [1, 0]],
        [[1, 0], [2, 0], [2, 1], [1, 1]],
    ],
}


def test_topojson_rings_join_arcs_and_walk_negative_indexes_backwards() -> None:
    left, right = bb.topology_features(TWO_SQUARES, "countries")["features"]

    assert left["geometry"]["coordinates"] == [[(1, 0), (1, 1), (0, 1), (0, 0), (1, 0)]]
    assert right["geometry"]["coordinates"] == [[(1, 1), (1, 0), (2, 0), (2, 1), (1, 1)]]


def test_borders_keep_only_arcs_shared_by_two_countries() -> None:
    borders = bb.topology_borders(TWO_SQUARES, "countries")

    assert borders["features"][0]["geometry"]["coordinates"] == [[(1, 0), (1, 1)]]


def _area(ring: list[tuple[float, float]]) -> float:
    pairs = itertools.pairwise(ring)
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in pairs)) / 2


def test_ring_across_the_antimeridian_is_cut_into_a_piece_on_each_side() -> None:
    # A 4°x2° box centred on the antimeridian, as spherical data stores it.
    ring = [(178.0, 0.0), (-178.0, 0.0), (-178.0, 2.0), (178.0, 2.0), (178.0, 0.0)]

    pieces = bb.planar_rings(ring)

    assert len(pieces) == 2
    east, west = sorted(pieces, key=lambda p: -p[0][0])
    assert {lon for lon, _ in east} == {178.0, 180.0}
    assert {lon for lon, _ in west} == {-180.0, -178.0}
    assert [_area(p) for p in pieces] == pytest.approx([4.0, 4.0])


def test_ring_around_a_pole_is_closed_over_the_pole_and_a_ring_on_the_pole_dropped() -> None:
    coast = [(-180.0 + 10 * i, -70.0 - (i % 2)) for i in range(36)]  # winds once around

    (piece,) = bb.planar_rings(coast)
    assert min(lat for _, lat in piece) == -90.0
    assert {lon for lon, _ in piece} >= {-180.0, 180.0}
    assert bb.planar_rings([(-180.0 + 10 * i, -89.999) for i in range(36)]) == []


def test_polygon_not_crossing_the_antimeridian_is_left_as_it_is() -> None:
    polygon = [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]]

    assert bb.planar_polygons(polygon) == [polygon]


def test_line_across_the_antimeridian_is_cut_at_the_crossing_latitude() -> None:
    parts = bb.planar_lines([(170.0, 0.0), (-170.0, 10.0), (-160.0, 10.0)])

    assert parts == [
        [(170.0, 0.0), (180.0, 5.0)],
        [(-180.0, 5.0), (-170.0, 10.0), (-160.0, 10.0)],
    ]


def test_glyphicons_css_is_cut_from_bootstrap3_without_other_rules() -> None:
    css = (STATIC / "vendor/bootstrap3-glyphicons/css/bootstrap-glyphicons.css").read_text()

    assert "Glyphicons Halflings" in css
    assert ".glyphicon-info-sign:before" in css  # folium.Icon's default icon
    selectors = re.findall(r"\}\s*([^{}]+?)\s*\{", css)
    assert all("glyphicon" in s for s in selectors)


def test_rotate_css_covers_every_whole_degree_folium_icon_angle_can_ask_for() -> None:
    css = va.awesome_rotate_css()

    assert all(f".fa-rotate-{d}{{" in css for d in range(1, 361))
    assert css.count("transform:rotate(") == 3 * 360  # -ms-, -webkit- and unprefixed
