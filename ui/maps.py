"""Folium maps for the pages that work with no internet: vendored assets, Natural Earth basemap.

folium 0.20 and streamlit-folium load Leaflet, jQuery, Bootstrap, Font Awesome and
Leaflet.awesome-markers from public CDNs; on a closed network the map stays blank.
`use_offline_assets` points folium at the copies under ``static/vendor`` (made by
``scripts/vendor_assets.py``, listed in ``static/vendor/SOURCES.md``), which Streamlit serves at
``/app/static/`` when ``server.enableStaticServing`` is on (``.streamlit/config.toml``). The
streamlit-folium iframe is served by the same Streamlit server, so root-relative URLs work in it.

`base_map` draws the offline basemap of ``static/basemap/`` (``scripts/build_basemap.py``): Natural
Earth land, borders, lakes and rivers and place names, fetched by URL as the view needs them (not
embedded in every map's HTML) by its Leaflet layer ``static/basemap/basemap.js``; OpenStreetMap
tiles are an optional online base layer. Every map stops at `MAX_ZOOM`, where that data ends.

Maps are deterministic: the same arguments give the same HTML, because streamlit-folium keys
its iframe on a hash of the map's JavaScript and re-mounts it when that changes
(shared/reference/streamlit-notes.md B1).
"""

from __future__ import annotations

import hashlib
import html
import importlib.metadata
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

import branca.element
import folium
import folium.folium
import xyzservices
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from tasking.geometry import normalize_lon
from tasking.rules import point_violations

# Where Streamlit serves ./static/ (server.enableStaticServing). Root-relative, so it assumes
# the app is served at the root of its host (no server.baseUrlPath).
STATIC_URL = "/app/static"

# Same names as folium's `_default_js` / `_default_css` (folium/folium.py), so any element
# that adds a link of the same name keeps ours.
OFFLINE_JS: tuple[tuple[str, str], ...] = (
    ("leaflet", "vendor/leaflet/leaflet.js"),
    ("jquery", "vendor/jquery/jquery.min.js"),
    ("bootstrap", "vendor/bootstrap/js/bootstrap.bundle.min.js"),
    ("awesome_markers", "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js"),
)
OFFLINE_CSS: tuple[tuple[str, str], ...] = (
    ("leaflet_css", "vendor/leaflet/leaflet.css"),
    ("bootstrap_css", "vendor/bootstrap/css/bootstrap.min.css"),
    ("glyphicons_css", "vendor/bootstrap3-glyphicons/css/bootstrap-glyphicons.css"),
    ("awesome_markers_font_css", "vendor/fontawesome-free/css/all.min.css"),
    ("awesome_markers_css", "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css"),
    ("awesome_rotate_css", "vendor/folium/leaflet.awesome.rotate.min.css"),
)
# The offline basemap (scripts/build_basemap.py writes the data, basemap.js draws it).
BASEMAP_JS: tuple[tuple[str, str], ...] = (
    ("topojson_client", "vendor/topojson-client/topojson-client.min.js"),
    ("natural_earth_basemap", "basemap/basemap.js"),
)
BASEMAP_CSS: tuple[tuple[str, str], ...] = (("natural_earth_basemap_css", "basemap/basemap.css"),)
LAND_GEOJSON = "basemap/ne_50m_land.geojson"
BORDERS_GEOJSON = "basemap/ne_50m_admin0_borders.geojson"
WATER_TOPOJSON = "basemap/ne_50m_water.json"
LABELS_JSON = "basemap/labels.json"
CELLS_DIR = "basemap/10m/"  # index.json and one TopoJSON file per 10° cell

# Basemap look: light land on a pale sea, thin grey borders, water a shade darker than the sea.
OCEAN_COLOUR = "#c9dde9"
LAND_COLOUR = "#f6f4ef"
BORDER_COLOUR = "#8f969c"
LAKE_COLOUR = "#bcd5e5"
RIVER_COLOUR = "#9fc1d8"

MIN_ZOOM = 1
# Where the offline data ends: at zoom 12 Natural Earth's 1:10m coast (its finest) still parts
# land from sea and the names reach down to harbours and docks; at 13 its ~200 m grid shows as
# straight runs of 20 px and more, around nothing new. Every map stops here, the online OSM
# layer too, so that a view reached online still shows something when the network goes.
MAX_ZOOM = 12

# Natural Earth asks for no credit; GeoNames' CC BY 4.0 licence requires it (static/basemap/).
ATTRIBUTION = "Natural Earth · GeoNames (CC BY 4.0)"
# The provider itself, looked up once: given its name (or any string), folium searches all of
# xyzservices' providers on every map it builds (about 1 ms; 5 % of idle Monitors' CPU, issue 13).
_OSM_TILES = xyzservices.providers.OpenStreetMap.Mapnik
_OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


def static_url(path: str) -> str:
    """URL at which Streamlit serves ``static/<path>``."""
    return f"{STATIC_URL}/{path}"


def use_offline_assets() -> None:
    """Point folium's Map at the vendored JS/CSS instead of CDNs (idempotent).

    Class-level: every folium.Map rendered afterwards, including ones a page builds itself,
    loads the local copies. Raises RuntimeError if folium links an asset we have not vendored
    (e.g. after a folium upgrade), rather than silently dropping it.
    """
    for kind, upstream, ours in (
        ("JS", folium.folium._default_js, OFFLINE_JS),
        ("CSS", folium.folium._default_css, OFFLINE_CSS),
    ):
        missing = {name for name, _ in upstream} - {name for name, _ in ours}
        if missing:
            raise RuntimeError(
                f"folium {importlib.metadata.version('folium')} links {kind} assets {sorted(missing)} that are "
                "not vendored; run scripts/vendor_assets.py and extend ui/maps.py"
            )
    folium.Map.default_js = [(name, static_url(path)) for name, path in OFFLINE_JS]
    folium.Map.default_css = [(name, static_url(path)) for name, path in OFFLINE_CSS]


class DefaultIconPath(MacroElement):
    """Tells Leaflet where its default marker images are. Leaflet guesses the folder from
    leaflet.css, but streamlit-folium adds the stylesheets just before running the map script,
    so the guess falls back to the stylesheet's folder without ``images/`` (Leaflet #8726,
    streamlit-folium #275) and a plain folium.Marker shows a broken image."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.Icon.Default.imagePath = {{ this.image_path|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
        self._name = "DefaultIconPath"
        self.image_path = static_url("vendor/leaflet/images/")


class NaturalEarthBasemap(JSCSSMixin, Layer):
    """Base layer drawing the offline basemap (``static/basemap/basemap.js``, which says how):
    the 1:50m world up to zoom 5, the 1:10m cells in view from zoom 6, lakes, rivers and place
    names, beneath every overlay, fetched from the static server. Paints the map container in
    the ocean colour. A file that fails to load is logged in the browser console only."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.naturalEarthBasemap({{ this.options|tojavascript }});
        {% endmacro %}
        """
    )

    def __init__(self, name: str = "Natural Earth (offline)") -> None:
        super().__init__(name=name, overlay=False, control=True, show=True)
        self._name = "NaturalEarthBasemap"
        # Loaded before the map's script runs (folium's header; st_folium's js_links).
        self.default_js = [(name, static_url(path)) for name, path in BASEMAP_JS]
        self.default_css = [(name, static_url(path)) for name, path in BASEMAP_CSS]
        self.options = {
            "pane": "basemap",
            "labelPane": "basemap-labels",
            "files": {
                "land50": static_url(LAND_GEOJSON),
                "borders50": static_url(BORDERS_GEOJSON),
                "water": static_url(WATER_TOPOJSON),
                "labels": static_url(LABELS_JSON),
                "cells": static_url(CELLS_DIR),
            },
            "colours": {
                "ocean": OCEAN_COLOUR,
                "land": LAND_COLOUR,
                "border": BORDER_COLOUR,
                "water": LAKE_COLOUR,
                "river": RIVER_COLOUR,
            },
            "attribution": ATTRIBUTION,
        }


def _fix_id(element: branca.element.Element, seed: str) -> None:
    # folium names elements with a random uuid4; a hash of the seed keeps the output stable and
    # has the same shape (32 hex digits), which streamlit-folium's renaming regexes expect.
    element._id = hashlib.sha256(seed.encode()).hexdigest()[:32]


def base_map(
    center: tuple[float, float] = (30.0, 10.0),
    zoom: int = 2,
    height_px: int | None = None,
) -> folium.Map:
    """A new map with the offline basemap, an optional online OSM layer and a layer control.

    Deterministic: same arguments, same HTML. A fresh map each call (streamlit-folium adds
    `feature_group_to_add` to the map it is given, so don't cache and reuse one).
    Raises ValueError naming the rule when an argument is out of range.
    """
    lat, lon = _check_lat_lon(center, "center")
    if isinstance(zoom, bool) or not isinstance(zoom, int) or not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise ValueError(f"zoom must be an integer from {MIN_ZOOM} to {MAX_ZOOM}, got {zoom!r}")
    if height_px is not None and (
        isinstance(height_px, bool) or not isinstance(height_px, int) or height_px <= 0
    ):
        raise ValueError(f"height_px must be a positive integer or None, got {height_px!r}")
    use_offline_assets()

    seed = f"base_map:{lat!r}:{lon!r}:{zoom}:{height_px}"
    m = folium.Map(
        location=(lat, lon),
        zoom_start=zoom,
        height="100%" if height_px is None else f"{height_px}px",
        tiles=None,
        min_zoom=MIN_ZOOM,
        max_zoom=MAX_ZOOM,
        # The basemap is one world wide: keep the view on it instead of showing empty copies.
        max_bounds=True,
        max_bounds_viscosity=1.0,
        control_scale=True,
    )
    # folium passes min_zoom/max_zoom to its default tile layer only (none here): without these
    # the map itself has no limit and zooms past its data to a blank view.
    m.options["minZoom"] = MIN_ZOOM
    m.options["maxZoom"] = MAX_ZOOM
    _fix_id(m, f"{seed}:map")
    _fix_id(m.get_root(), f"{seed}:figure")

    icon_path = DefaultIconPath()
    _fix_id(icon_path, f"{seed}:iconpath")
    icon_path.add_to(m)

    basemap = NaturalEarthBasemap()
    _fix_id(basemap, f"{seed}:naturalearth")
    basemap.add_to(m)

    osm = folium.TileLayer(
        _OSM_TILES,
        name="OpenStreetMap (online)",
        attr=_OSM_ATTRIBUTION,
        max_zoom=MAX_ZOOM,
        overlay=False,
        control=True,
        show=False,
    )
    _fix_id(osm, f"{seed}:osm")
    osm.add_to(m)

    layers = folium.LayerControl(position="topright", collapsed=True)
    _fix_id(layers, f"{seed}:layers")
    layers.add_to(m)
    return m


def escape_label(text: str) -> str:
    """`text` safe to show as HTML inside a JavaScript template literal (how folium's Tooltip
    embeds its text): HTML-escaped, and backtick, ``$`` and backslash turned into entities."""
    escaped = html.escape(text, quote=True)
    return escaped.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


def poi_feature_group(lat: float, lon: float, label: str) -> folium.FeatureGroup:
    """A feature group with the point-of-interest marker (label as tooltip), for st_folium's
    `feature_group_to_add`. Deterministic for the same arguments."""
    lat, lon = _check_lat_lon((lat, lon), "point of interest")
    use_offline_assets()
    seed = f"poi:{lat!r}:{lon!r}:{label}"
    group = folium.FeatureGroup(name="Point of interest", control=False)
    _fix_id(group, f"{seed}:group")
    icon = folium.Icon(color="red", icon="crosshairs", prefix="fa")
    _fix_id(icon, f"{seed}:icon")
    tooltip = folium.Tooltip(escape_label(label))
    _fix_id(tooltip, f"{seed}:tooltip")
    marker = folium.Marker(location=(lat, lon), icon=icon, tooltip=tooltip)
    _fix_id(marker, f"{seed}:marker")
    marker.add_to(group)
    return group


def click_to_point(value: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """(lat, lon) of st_folium's ``last_clicked`` ({"lat", "lng"}), lon wrapped to [-180, 180].

    None when there is no click or it is malformed (not numbers, not finite, |lat| > 90).
    """
    if not isinstance(value, Mapping):
        return None
    clicked = value.get("last_clicked")
    if not isinstance(clicked, Mapping):
        return None
    lat, lon = clicked.get("lat"), clicked.get("lng")
    if not (_is_number(lat) and _is_number(lon)):
        return None
    lat, lon = float(lat), float(lon)
    if point_violations(lat, lon, wrap_lon=True):
        return None
    # Leaflet reports clicks on a world copy as lon + k*360: bring them back.
    return lat, normalize_lon(lon)


def asset_urls(m: folium.Map) -> list[str]:
    """Every JS/CSS URL `m` makes the browser load: the ``<script src>``/``<link href>`` of its
    standalone HTML, and the `default_js`/`default_css` links st_folium sends to its iframe.
    For tests: on an offline map all of them start with `STATIC_URL`."""
    page = m.get_root().render()
    urls = re.findall(r"<script\b[^>]*\bsrc=[\"']([^\"']+)", page)
    urls += re.findall(r"<link\b[^>]*\bhref=[\"']([^\"']+)", page)

    def walk(element: branca.element.Element) -> list[str]:
        found = [url for _, url in getattr(element, "default_js", [])]
        found += [url for _, url in getattr(element, "default_css", [])]
        for child in element._children.values():
            found += walk(child)
        return found

    return list(dict.fromkeys(urls + walk(m)))


def _check_lat_lon(point: tuple[float, float], what: str) -> tuple[float, float]:
    try:
        lat, lon = point
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a (lat, lon) pair, got {point!r}") from None
    if not (_is_number(lat) and _is_number(lon)):
        raise ValueError(f"{what} must be numbers (lat, lon), got {point!r}")
    lat, lon = float(lat), float(lon)
    violations = point_violations(lat, lon)
    if violations:
        raise ValueError(f"{what}: " + " ".join(v.message for v in violations))
    return lat, lon


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
