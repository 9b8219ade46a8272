"""New campaign, step 1: the targets. A CSV or GeoJSON file, and points, lines and polygons drawn on
the map with Leaflet.draw (folium's ``Draw`` plugin, vendored under ``static/vendor/leaflet-draw``).

Everything a source gives is read by ``tasking.targets`` (the single task's rules, each refusal
naming its row or feature and rule) and areas are tiled by ``tasking.tiling`` into scenes of the
chosen mode, so a change of mode re-tiles. Nothing here sends anything.

The drawn shapes are the page's own list (``keys.CAMPAIGN_DRAWN``): a shape drawn is added to it
from the map's ``all_drawings``; "Clear drawn shapes" empties it and re-mounts the map (a new
generation in its script) so the old drawings leave the browser too. The list survives a page
switch, when the map's own layer (in the browser) does not: the page draws the shapes again.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import folium
import streamlit as st
from branca.element import MacroElement
from folium.plugins import Draw
from folium.template import Template
from streamlit_folium import st_folium

from tasking import modes
from tasking.errors import InputError
from tasking.targets import MAX_TARGETS, RULE_MAX_TARGETS, Area, Refusal, Target, read_targets
from tasking.targets import parse_geojson as parse_drawn
from tasking.tiling import Tiling, tile_area
from ui import keys
from ui.format import plain
from ui.layers import stable
from ui.maps import MAX_ZOOM, base_map, escape_label, static_url

DRAW_VENDOR = "vendor/leaflet-draw"
MAP_HEIGHT_PX = 480
# Colours of the map's marks: a target not checked yet, and the outline of a drawn or uploaded area.
UNCHECKED_COLOUR = "#0b6bcb"
AREA_COLOUR = "#3d4a57"
# The zoom the map fits the targets with: the widest span that fits this many pixels (the map is
# MAP_HEIGHT_PX high and about as wide; a margin keeps edge targets off the border).
FIT_PX = 400

FILE_TYPES = ["csv", "tsv", "txt", "geojson", "json"]


@dataclass(frozen=True)
class Tiled:
    """An area of a source and its tiles (None when it could not be tiled: see the refusals)."""

    source: str
    name: str
    area: Area
    tiling: Tiling | None


@dataclass(frozen=True)
class Targets:
    """Every target the campaign would order, in order (each source's points, then its tiles),
    the areas with their tiles, and every refusal with the source it came from."""

    targets: tuple[Target, ...]
    sources: tuple[str, ...]
    """The source of each target ("File ports.csv", "Drawn on the map")."""
    areas: tuple[Tiled, ...]
    refusals: tuple[tuple[str, Refusal], ...]

    @property
    def tile_count(self) -> int:
        return sum(a.tiling.count for a in self.areas if a.tiling is not None)


# --- reading the sources ---------------------------------------------------------------------


def _uploaded() -> None:
    """The uploader's on_change: keep the file's bytes (the uploader forgets them on a page
    switch), or forget them when the user removed the file."""
    upload = keys.CAMPAIGN_UPLOAD.get()
    if upload is None:
        keys.CAMPAIGN_FILE.pop()
    else:
        keys.CAMPAIGN_FILE.set((upload.name, upload.getvalue()))
    keys.CAMPAIGN_BATCH.pop()


def forget_file() -> None:
    keys.CAMPAIGN_FILE.pop()
    keys.CAMPAIGN_BATCH.pop()


@st.cache_data(show_spinner=False, max_entries=16)
def _read_file(digest: str, name: str, _data: bytes) -> Any:
    # ``digest`` stands for the bytes: a rerun does not parse the same file again.
    return read_targets(_data, name)


@st.cache_data(show_spinner=False, max_entries=256)
def _tile(wkb: bytes, mode: str, _area: Area) -> Tiling | InputError:
    # ``wkb`` stands for the area's geometry; a refusal is cached like a tiling.
    try:
        return tile_area(_area, mode)
    except InputError as error:
        return error


def _drawn_changed() -> None:
    """The map's on_change: every shape drawn is added to the page's list (once)."""
    value = keys.CAMPAIGN_MAP.get()
    drawings = value.get("all_drawings") if isinstance(value, dict) else None
    if not drawings:
        return
    kept = list(keys.CAMPAIGN_DRAWN.get([]))
    seen = {json.dumps(f.get("geometry"), sort_keys=True) for f in kept}
    for feature in drawings:
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            continue
        shape = json.dumps(feature["geometry"], sort_keys=True)
        if shape not in seen:
            seen.add(shape)
            kept.append({"type": "Feature", "properties": {}, "geometry": feature["geometry"]})
    keys.CAMPAIGN_DRAWN.set(kept)
    keys.CAMPAIGN_BATCH.pop()


def clear_drawn() -> None:
    keys.CAMPAIGN_DRAWN.pop()
    keys.CAMPAIGN_BATCH.pop()
    keys.CAMPAIGN_MAP_GENERATION.set(keys.CAMPAIGN_MAP_GENERATION.get(0) + 1)


def _named(target: Target, default: str) -> Target:
    return target if target.name else Target(default, target.lat, target.lon, target.row)


def gather(mode: str) -> Targets:
    """The targets of every source, the areas tiled with ``mode``'s scenes, and the refusals."""
    sources: list[tuple[str, Any, str]] = []
    stored = keys.CAMPAIGN_FILE.get()
    if stored is not None:
        name, data = stored
        parsed = _read_file(hashlib.sha256(data).hexdigest(), name, data)
        sources.append((f"File {name}", parsed, "file"))
    drawn = keys.CAMPAIGN_DRAWN.get([])
    if drawn:
        sources.append(
            (
                "Drawn on the map",
                parse_drawn({"type": "FeatureCollection", "features": drawn}),
                "map",
            )
        )
    targets: list[Target] = []
    origin: list[str] = []
    areas: list[Tiled] = []
    refusals: list[tuple[str, Refusal]] = []
    for label, found, kind in sources:
        refusals += [(label, r) for r in found.refusals]
        unit = "Row" if found.format == "csv" and kind == "file" else "Feature"
        for target in found.targets:
            default = f"Point {target.row}" if kind == "map" else f"{unit} {target.row}"
            targets.append(_named(target, default))
            origin.append(label)
        for area in found.areas:
            name = area.name or (f"Area {area.row}" if kind == "map" else f"{unit} {area.row}")
            if not mode:
                areas.append(Tiled(label, name, area, None))
                continue
            tiled = _tile(area.geometry.wkb, mode, area)
            if isinstance(tiled, InputError):
                refusals += [
                    (label, Refusal("feature", area.row, "area", v.rule, v.message))
                    for v in tiled.violations
                ]
                areas.append(Tiled(label, name, area, None))
                continue
            areas.append(Tiled(label, name, area, tiled))
            for tile in tiled.targets(name, area.row):
                targets.append(tile)
                origin.append(label)
    if len(targets) > MAX_TARGETS:
        refusals.append(
            (
                "All sources",
                Refusal(
                    "file",
                    None,
                    "",
                    RULE_MAX_TARGETS,
                    f"The campaign has {len(targets):,} targets; at most {MAX_TARGETS:,} can be "
                    f"ordered at once: remove some, or choose a mode with larger scenes "
                    f"({RULE_MAX_TARGETS} rule).",
                ),
            )
        )
        targets, origin = targets[:MAX_TARGETS], origin[:MAX_TARGETS]
    return Targets(tuple(targets), tuple(origin), tuple(areas), tuple(refusals))


# --- widgets -----------------------------------------------------------------------------------


def source_widgets() -> None:
    """The file uploader (its bytes kept in session state) and what is loaded now."""
    st.file_uploader(
        "Target file (CSV or GeoJSON)",
        type=FILE_TYPES,
        key=keys.CAMPAIGN_UPLOAD.name,
        on_change=_uploaded,
        help="CSV: name, lat, lon (decimal or degrees-minutes-seconds), with or without a header. "
        "GeoJSON: points are targets; lines and polygons are areas tiled into scenes.",
    )
    stored = keys.CAMPAIGN_FILE.get()
    row = st.container(horizontal=True, gap="small")
    if stored is not None and keys.CAMPAIGN_UPLOAD.get() is None:
        # Back from another page: the uploader is empty, the file is still here.
        row.caption(f":material/description: Using {plain(stored[0])} (uploaded earlier).")
    if stored is not None:
        row.button(
            "Forget the file",
            key=keys.CAMPAIGN_CLEAR_FILE.name,
            icon=":material/delete:",
            on_click=forget_file,
        )
    if keys.CAMPAIGN_DRAWN.get():
        row.button(
            "Clear drawn shapes",
            key=keys.CAMPAIGN_CLEAR_DRAWN.name,
            icon=":material/ink_eraser:",
            on_click=clear_drawn,
        )


def show_refusals(found: Targets) -> None:
    """Every refusal, with its source, row or feature and rule (nothing is sent for them)."""
    if not found.refusals:
        return
    lines = [
        f"- **{plain(source)}** · {plain(refusal.user_message)}"
        for source, refusal in found.refusals
    ]
    count = len(found.refusals)
    st.error(
        f"**{count} refused** (not ordered; fix the file or the shapes and they are read again):"
        "\n\n" + "\n".join(lines),
        icon=":material/rule:",
    )


def show_counts(found: Targets, mode: str) -> None:
    """How many targets, and for each area its tiles and covered area."""
    points = len(found.targets) - found.tile_count
    parts = [f"**{len(found.targets)} targets**"]
    if points:
        parts.append(f"{points} point{'s' if points != 1 else ''}")
    if found.areas:
        parts.append(f"{found.tile_count} tiles over {len(found.areas)} area(s)")
    st.markdown(" · ".join(parts))
    label = modes.mode_info(mode).label if mode else mode
    for tiled in found.areas:
        tiling = tiled.tiling
        if tiling is None:
            continue
        scene = f"{tiling.scene_km[0]:g} × {tiling.scene_km[1]:g} km"
        st.caption(
            f":material/grid_on: {plain(tiled.name)} ({plain(tiled.source)}): "
            f"**{tiling.count} tiles** of {plain(label)} ({scene}) · area "
            f"{tiling.area_km2:,.1f} km² · covered {tiling.covered_km2:,.1f} km²"
        )


# --- the map -----------------------------------------------------------------------------------


class Generation(MacroElement):
    """A comment in the map's script naming its generation: a new one (drawn shapes cleared)
    changes the script, so streamlit-folium re-mounts the map without the old drawings."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        // drawings generation {{ this.generation }}
        {% endmacro %}
        """
    )

    def __init__(self, generation: int) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Generation"
        self.generation = generation


class Marks(MacroElement):
    """Many scene footprints and target dots in one compact script (a footprint is a filled
    polygon, a target a circle marker, each with a colour and a tooltip), like ``ui.layers.Lines``:
    folium's own elements spend hundreds of bytes on each, and 500 tiles travel on every rerun."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var layer = {{ this._parent.get_name() }};
            {{ this.footprints|tojson }}.forEach(function (f) {
                L.polygon(f[0], {color: f[1], weight: 1, fillColor: f[1], fillOpacity: 0.18})
                    .bindTooltip(f[2], {sticky: true}).addTo(layer);
            });
            {{ this.outlines|tojson }}.forEach(function (o) {
                L.polyline(o[0], {color: {{ this.area_colour|tojson }}, weight: 2,
                                  dashArray: "6 4"}).bindTooltip(o[1], {sticky: true})
                    .addTo(layer);
            });
            {{ this.dots|tojson }}.forEach(function (d) {
                L.circleMarker(d[0], {radius: 5, color: "#ffffff", weight: 1.5, fill: true,
                                      fillColor: d[1], fillOpacity: 0.95})
                    .bindTooltip(d[2]).addTo(layer);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        footprints: Sequence[tuple[Sequence[tuple[float, float]], str, str]],
        outlines: Sequence[tuple[Sequence[tuple[float, float]], str]],
        dots: Sequence[tuple[tuple[float, float], str, str]],
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Marks"
        self.area_colour = AREA_COLOUR
        self.footprints = [
            [[[round(lat, 5), round(lon, 5)] for lat, lon in ring], colour, escape_label(tip)]
            for ring, colour, tip in footprints
        ]
        self.outlines = [
            [[[round(lat, 5), round(lon, 5)] for lat, lon in line], escape_label(tip)]
            for line, tip in outlines
        ]
        self.dots = [
            [[round(p[0], 5), round(p[1], 5)], colour, escape_label(tip)] for p, colour, tip in dots
        ]


def _outlines(area: Area, name: str) -> list[tuple[list[tuple[float, float]], str]]:
    """The area's rings or lines as (lat, lon) lists, for a dashed outline."""
    geometry = area.geometry
    parts = list(getattr(geometry, "geoms", [geometry]))
    lines = []
    for part in parts:
        rings = [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]
        for ring in rings:
            lines.append(([(lat, lon) for lon, lat in ring.coords], name))
    return lines


def marks_layer(found: Targets, colours: Sequence[str] | None, labels: Sequence[str]) -> Any:
    """The targets (coloured by verdict when ``colours`` is given), the tiles' footprints and the
    areas' outlines, as one feature group for the map."""
    tile_colour: dict[tuple[float, float], tuple[str, str]] = {}
    dots = []
    for index, target in enumerate(found.targets):
        colour = colours[index] if colours is not None else UNCHECKED_COLOUR
        label = labels[index] if index < len(labels) else target.name
        tile_colour[(target.lat, target.lon)] = (colour, label)
        dots.append(((target.lat, target.lon), colour, label))
    footprints = []
    outlines = []
    for tiled in found.areas:
        outlines += _outlines(tiled.area, tiled.name)
        if tiled.tiling is None:
            continue
        for tile in tiled.tiling.tiles:
            colour, label = tile_colour.get((tile.lat, tile.lon), (UNCHECKED_COLOUR, tiled.name))
            footprints.append(([*tile.footprint, tile.footprint[0]], colour, label))
    marks = Marks(footprints, outlines, dots)
    layer = folium.FeatureGroup(name="Campaign targets", control=False)
    marks.add_to(layer)
    seed = hashlib.sha256(
        json.dumps([marks.footprints, marks.outlines, marks.dots]).encode()
    ).hexdigest()
    stable(layer, f"campaign:marks:{seed}")
    return layer


def _mercator(lat: float) -> float:
    """Web Mercator's northing of a latitude, in degrees (equal to longitude's at the equator)."""
    clipped = max(-85.0, min(85.0, lat))
    return math.degrees(math.log(math.tan(math.pi / 4 + math.radians(clipped) / 2)))


def _view(found: Targets) -> tuple[tuple[float, float] | None, int | None]:
    """The centre and zoom that show every target and area (None: leave the view alone)."""
    lats = [t.lat for t in found.targets]
    lons = [t.lon for t in found.targets]
    for tiled in found.areas:
        minx, miny, maxx, maxy = tiled.area.geometry.bounds
        lats += [miny, maxy]
        lons += [minx, maxx]
    if not lats:
        return None, None
    # The map is Web Mercator: a degree of latitude takes more pixels away from the equator.
    span = max(max(lons) - min(lons), _mercator(max(lats)) - _mercator(min(lats)), 0.05)
    zoom = math.floor(math.log2(FIT_PX * 360 / (256 * span)))
    centre = ((max(lats) + min(lats)) / 2, (max(lons) + min(lons)) / 2)
    centre = (round(centre[0], 4), round(((centre[1] + 180) % 360) - 180, 4))
    return centre, max(2, min(zoom, MAX_ZOOM - 1))


def _draw_control(generation: int) -> Draw:
    draw = Draw(  # type: ignore[no-untyped-call]
        position="topleft",
        show_geometry_on_click=False,
        draw_options={
            "polyline": {"shapeOptions": {"color": AREA_COLOUR, "weight": 2}},
            "polygon": {"allowIntersection": False, "showArea": False},
            "rectangle": {"showArea": False},
            "marker": True,
            "circle": False,
            "circlemarker": False,
        },
        # Shapes leave the campaign with "Clear drawn shapes" (the page's list); editing them in
        # the browser would not reach that list.
        edit_options={"edit": False, "remove": False},
    )
    # folium's plugin links cdnjs; these are the vendored copies (scripts/vendor_assets.py).
    draw.default_js = [("leaflet_draw_js", static_url(f"{DRAW_VENDOR}/leaflet.draw.js"))]
    draw.default_css = [("leaflet_draw_css", static_url(f"{DRAW_VENDOR}/leaflet.draw.css"))]
    stable(draw, f"campaign_map:draw:{generation}")
    return draw


def drawing_map(generation: int) -> folium.Map:
    """The base map with the drawing toolbar; deterministic for a generation (a new generation,
    a new map: re-mounted without the shapes drawn before)."""
    m = base_map()
    _draw_control(generation).add_to(m)
    marker = Generation(generation)
    stable(marker, f"campaign_map:generation:{generation}")
    marker.add_to(m)
    return m


def campaign_map(layer: Any, found: Targets) -> None:
    """The map: draw points, lines and polygons; the targets, tiles and verdicts on it."""
    centre, zoom = _view(found)
    st_folium(
        drawing_map(keys.CAMPAIGN_MAP_GENERATION.get(0)),
        key=keys.CAMPAIGN_MAP.name,
        returned_objects=["all_drawings"],
        feature_group_to_add=[layer],
        center=centre,
        zoom=zoom,
        height=MAP_HEIGHT_PX,
        use_container_width=True,
        on_change=_drawn_changed,
    )
