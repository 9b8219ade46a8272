"""Download and prepare the offline map and API-docs assets under ``static/`` (reproducible).

folium 0.20 and streamlit-folium load Leaflet & friends from public CDNs, which analysts on
closed networks cannot reach. This script fetches the same libraries, at the versions folium
0.20 references (``folium.Map.default_js`` / ``default_css``), from the npm registry, checks
each tarball against a pinned integrity hash, and copies only the dist files the map needs.
FastAPI's /docs and /redoc pages load Swagger UI and ReDoc from a CDN too; the sandbox serves
the copies made here instead (``tasking/sandbox/docs.py``).

    static/vendor/<package>/...   JS, CSS, fonts, images and the package's licence file
    static/vendor/SOURCES.md      every vendored file, its package, origin and licence
    static/basemap/*.geojson      Natural Earth 1:50m land and country borders (from the
                                  ``world-atlas`` TopoJSON, decoded here)

Run it from the repository root (needs ``npm`` and the npm registry, nothing else):

    python scripts/vendor_assets.py

``ui/maps.py`` points folium at these files; ``tests/test_maps.py`` checks that every URL the
rendered map references exists under ``static/``, ``tests/sandbox/test_docs.py`` the same for the
sandbox's docs pages.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import itertools
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
NPM_REGISTRY = "https://registry.npmjs.org"

Position = tuple[float, float]
Line = list[Position]


@dataclass(frozen=True)
class Package:
    """One npm package: the files we take from its tarball and where they go under static/."""

    name: str
    version: str
    integrity: str  # the registry's dist.integrity; npm pack output is checked against it
    licence: str
    licence_file: str  # path inside the tarball, copied next to the vendored files
    dest: str  # folder under static/
    files: tuple[tuple[str, str], ...]  # (path inside the tarball, path under dest)

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball_url(self) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return f"{NPM_REGISTRY}/{self.name}/-/{base}-{self.version}.tgz"


# Versions follow folium 0.20's CDN links (folium/folium.py `_default_js`, `_default_css`).
LEAFLET = Package(
    name="leaflet",
    version="1.9.3",
    integrity="sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D/uSIzhZgGMfQ==",
    licence="BSD-2-Clause",
    licence_file="package/LICENSE",
    dest="vendor/leaflet",
    files=(
        ("package/dist/leaflet.js", "leaflet.js"),
        ("package/dist/leaflet.css", "leaflet.css"),
        ("package/dist/images/layers.png", "images/layers.png"),
        ("package/dist/images/layers-2x.png", "images/layers-2x.png"),
        ("package/dist/images/marker-icon.png", "images/marker-icon.png"),
        ("package/dist/images/marker-icon-2x.png", "images/marker-icon-2x.png"),
        ("package/dist/images/marker-shadow.png", "images/marker-shadow.png"),
    ),
)
JQUERY = Package(
    name="jquery",
    version="3.7.1",
    integrity="sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
    licence="MIT",
    licence_file="package/LICENSE.txt",
    dest="vendor/jquery",
    files=(("package/dist/jquery.min.js", "jquery.min.js"),),
)
BOOTSTRAP = Package(
    name="bootstrap",
    version="5.2.2",
    integrity="sha512-dEtzMTV71n6Fhmbg4fYJzQsw1N29hJKO1js5ackCgIpDcGid2ETMGC6zwSYw09v05Y+oRdQ9loC54zB1La3hHQ==",
    licence="MIT",
    licence_file="package/LICENSE",
    dest="vendor/bootstrap",
    files=(
        ("package/dist/js/bootstrap.bundle.min.js", "js/bootstrap.bundle.min.js"),
        ("package/dist/css/bootstrap.min.css", "css/bootstrap.min.css"),
    ),
)
# folium links the Bootstrap 3.0.0 glyphicons stylesheet (the default folium.Icon prefix is
# "glyphicon"). 3.0.0 is not on npm; 3.4.1, the last 3.x, has a superset of the glyphs. Only
# its fonts are copied; the stylesheet is cut out of bootstrap.css by `glyphicons_css`.
BOOTSTRAP3 = Package(
    name="bootstrap",
    version="3.4.1",
    integrity="sha512-yN5oZVmRCwe5aKwzRj6736nSmKDX7pLYwsXiCj/EYmo16hODaBiT4En5btW/jhBF/seV+XMx3aYwukYC3A49DA==",
    licence="MIT",
    licence_file="package/LICENSE",
    dest="vendor/bootstrap3-glyphicons",
    files=tuple(
        (f"package/dist/fonts/glyphicons-halflings-regular.{ext}", f"fonts/{name}.{ext}")
        for name in ("glyphicons-halflings-regular",)
        for ext in ("eot", "svg", "ttf", "woff", "woff2")
    ),
)
FONTAWESOME = Package(
    name="@fortawesome/fontawesome-free",
    version="6.2.0",
    integrity="sha512-CNR7qRIfCwWHNN7FnKUniva94edPdyQzil/zCwk3v6k4R6rR2Fr8i4s3PM7n/lyfPA6Zfko9z5WDzFxG9SW1uQ==",
    licence="CC-BY-4.0 (icons) AND OFL-1.1 (fonts) AND MIT (code)",
    licence_file="package/LICENSE.txt",
    dest="vendor/fontawesome-free",
    files=(
        ("package/css/all.min.css", "css/all.min.css"),
        *(
            (f"package/webfonts/{font}.{ext}", f"webfonts/{font}.{ext}")
            for font in ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")
            for ext in ("woff2", "ttf")
        ),
    ),
)
# folium links Leaflet.awesome-markers 2.0.2 (lvoogdt) on cdnjs. The npm package of that name is
# the maintained fork (sigma-geosistemas) at 2.0.5: same JavaScript, and a stylesheet whose only
# addition is the `awesome-marker-square` variant (with its taller sprite images).
AWESOME_MARKERS = Package(
    name="leaflet.awesome-markers",
    version="2.0.5",
    integrity="sha512-Ne/xDjkGyaujwNVVkv2tyXQUV0ZW7gZ0Mo0FuQY4jp2qWrvXi0hwDBvmZyF/8YOvybyMabTMM/mFWCTd1jZIQA==",
    licence="MIT (LICENSE file; package.json says ISC)",
    licence_file="package/LICENSE",
    dest="vendor/leaflet.awesome-markers",
    files=(
        ("package/dist/leaflet.awesome-markers.js", "leaflet.awesome-markers.js"),
        ("package/dist/leaflet.awesome-markers.css", "leaflet.awesome-markers.css"),
        *(
            (f"package/dist/images/{img}", f"images/{img}")
            for img in (
                "markers-soft.png",
                "markers-soft@2x.png",
                "markers-shadow.png",
                "markers-shadow@2x.png",
            )
        ),
    ),
)
# folium's MarkerCluster plugin links leaflet.markercluster 1.1.0 on cdnjs (2017, before Leaflet
# 1.9); 1.5.3 is the newest release, made for Leaflet ^1.3.1, with the same API. All tasks uses it.
MARKERCLUSTER = Package(
    name="leaflet.markercluster",
    version="1.5.3",
    integrity="sha512-vPTw/Bndq7eQHjLBVlWpnGeLa3t+3zGiuM7fJwCkiMFq+nmRuG3RI3f7f4N4TDX7T4NpbAXpR2+NTRSEGfCSeA==",
    licence="MIT",
    licence_file="package/MIT-LICENCE.txt",
    dest="vendor/leaflet.markercluster",
    files=tuple(
        (f"package/dist/{name}", name)
        for name in (
            "leaflet.markercluster.js",
            "MarkerCluster.css",
            "MarkerCluster.Default.css",
        )
    ),
)
WORLD_ATLAS = Package(
    name="world-atlas",
    version="2.0.2",
    integrity="sha512-IXfV0qwlKXpckz1FhwXVwKRjiIhOnWttOskm5CtxMsjgE/MXAYRHWJqgXOpM8IkcPBoXnyTU5lFHcYa5ChG0LQ==",
    licence="ISC (packaging); Natural Earth data: public domain",
    licence_file="package/LICENSE",
    dest="basemap",
    files=(),  # the TopoJSON is decoded, not copied: see `write_basemap`
)
# FastAPI's docs pages link swagger-ui-dist@5 and redoc@2 on jsDelivr
# (fastapi/openapi/docs.py `get_swagger_ui_html`, `get_redoc_html`): the newest of each major.
# Source maps are left out (DevTools only; 7 MB); the bundles' own third-party notices are kept.
SWAGGER_UI = Package(
    name="swagger-ui-dist",
    version="5.35.0",
    integrity="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
    licence="Apache-2.0",
    licence_file="package/LICENSE",
    dest="vendor/swagger-ui",
    files=tuple(
        (f"package/{name}", name)
        for name in (
            "swagger-ui-bundle.js",
            "swagger-ui-bundle.js.LICENSE.txt",
            "swagger-ui.css",
            "favicon-32x32.png",
            "NOTICE",
        )
    ),
)
REDOC = Package(
    name="redoc",
    version="2.5.4",
    integrity="sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==",
    licence="MIT",
    licence_file="package/LICENSE",
    dest="vendor/redoc",
    files=(
        ("package/bundles/redoc.standalone.js", "redoc.standalone.js"),
        ("package/bundles/redoc.standalone.js.LICENSE.txt", "redoc.standalone.js.LICENSE.txt"),
    ),
)
PACKAGES = (
    LEAFLET,
    JQUERY,
    BOOTSTRAP,
    BOOTSTRAP3,
    FONTAWESOME,
    AWESOME_MARKERS,
    MARKERCLUSTER,
    WORLD_ATLAS,
    SWAGGER_UI,
    REDOC,
)

WORLD_ATLAS_TOPOLOGY = "package/countries-50m.json"
LAND_GEOJSON = "ne_50m_land.geojson"
BORDERS_GEOJSON = "ne_50m_admin0_borders.geojson"
# 3 decimals is ~110 m: finer than the 1:50m data (quantised to 0.0036° x 0.0017° by world-atlas)
# and a third smaller than full precision.
COORD_DECIMALS = 3

NATURAL_EARTH_TERMS = """\
Natural Earth data (https://www.naturalearthdata.com/), version 4.1.0, 1:50m Admin 0 countries,
as redistributed in TopoJSON by the npm package world-atlas@2.0.2 (see LICENSE in this folder
for the packaging) and converted to GeoJSON by scripts/vendor_assets.py.

Terms of use (https://www.naturalearthdata.com/about/terms-of-use/): "All versions of Natural
Earth raster + vector map data found on this website are in the public domain. You may use the
maps in any manner, including modifying the content and design, electronic dissemination, and
offset printing." Crediting Natural Earth is appreciated but not required.
"""


# --- npm -------------------------------------------------------------------------------------


def npm_pack(pkg: Package, workdir: Path) -> Path:
    """Download `pkg`'s tarball with `npm pack` and check it against the pinned integrity."""
    out = subprocess.run(
        ["npm", "pack", pkg.spec, "--json", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / str(json.loads(out.stdout)[0]["filename"])
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != pkg.integrity:
        raise SystemExit(f"{pkg.spec}: tarball integrity sha512-{digest} != pinned {pkg.integrity}")
    return tarball


def read_member(tarball: Path, member: str) -> bytes:
    # Members are read by exact name, never extracted wholesale: no path from the archive
    # decides where anything is written.
    with tarfile.open(tarball, "r:gz") as tar:
        f = tar.extractfile(member)
        if f is None:
            raise SystemExit(f"{tarball.name}: {member} is not a regular file")
        return f.read()


# --- derived stylesheets -----------------------------------------------------------------------


def glyphicons_css(bootstrap3_css: str) -> str:
    """Cut the Glyphicons @font-face and `.glyphicon*` rules out of Bootstrap 3's bootstrap.css."""
    start = bootstrap3_css.index('@font-face {\n  font-family: "Glyphicons Halflings";')
    rules = []
    for match in re.finditer(r"([^{}]+)\{([^{}]*)\}", bootstrap3_css[start:]):
        selector = match.group(1).strip()
        if "glyphicon" not in selector.lower() and not (
            selector == "@font-face" and "Glyphicons Halflings" in match.group(2)
        ):
            break
        rules.append(match.group(0).strip())
    if len(rules) < 250:  # Bootstrap 3.4.1 has 263 glyphs; fewer means the layout changed
        raise SystemExit(f"glyphicons: only {len(rules)} rules found in bootstrap.css")
    header = "/* Glyphicons rules from Bootstrap v3.4.1 dist/css/bootstrap.css (MIT). */\n"
    return header + "\n".join(rules) + "\n"


def awesome_rotate_css() -> str:
    """The `.fa-rotate-N` classes folium.Icon(angle=N) uses (folium's
    templates/leaflet.awesome.rotate.css, regenerated: it is a loop over 1..360 degrees)."""
    rule = "-ms-transform:rotate({0}deg);-webkit-transform:rotate({0}deg);transform:rotate({0}deg)"
    lines = [f".fa-rotate-{deg}{{{rule.format(deg)}}}" for deg in range(1, 361)]
    return "/* folium leaflet.awesome.rotate.css, regenerated (MIT) */\n" + "\n".join(lines) + "\n"


# --- TopoJSON -> GeoJSON (https://github.com/topojson/topojson-specification) --------------------


def decode_arcs(topology: dict[str, Any]) -> list[Line]:
    """Absolute positions of every arc (delta-decoded and de-quantised when transformed)."""
    transform = topology.get("transform")
    arcs: list[Line] = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        line: Line = []
        for p in arc:
            x += p[0]
            y += p[1]
            line.append((x * sx + tx, y * sy + ty))
        arcs.append(line)
    return arcs


def _arc(arcs: Sequence[Line], index: int) -> Line:
    # A negative index ~i means arc i walked backwards (spec 2.2.2.1).
    return list(arcs[index]) if index >= 0 else list(reversed(arcs[~index]))


def _ring(arcs: Sequence[Line], indexes: Iterable[int]) -> Line:
    points: Line = []
    for index in indexes:
        line = _arc(arcs, index)
        # Consecutive arcs share their joining point; keep it once.
        points.extend(line[1:] if points else line)
    return points


def _geometry(obj: dict[str, Any], arcs: Sequence[Line]) -> dict[str, Any] | None:
    kind = obj["type"]
    if kind == "Polygon":
        return {"type": kind, "coordinates": [_ring(arcs, r) for r in obj["arcs"]]}
    if kind == "MultiPolygon":
        polys = [[_ring(arcs, r) for r in poly] for poly in obj["arcs"]]
        return {"type": kind, "coordinates": polys}
    if kind == "LineString":
        return {"type": kind, "coordinates": _ring(arcs, obj["arcs"])}
    if kind == "MultiLineString":
        return {"type": kind, "coordinates": [_ring(arcs, line) for line in obj["arcs"]]}
    if kind in ("Point", "MultiPoint", None):
        return None  # not in the basemap data; points carry no arcs anyway
    raise ValueError(f"unsupported TopoJSON geometry type {kind!r}")


def topology_features(topology: dict[str, Any], name: str) -> dict[str, Any]:
    """The object `name` of `topology` as a GeoJSON FeatureCollection."""
    arcs = decode_arcs(topology)
    obj = topology["objects"][name]
    members = obj["geometries"] if obj["type"] == "GeometryCollection" else [obj]
    features = []
    for member in members:
        geometry = _geometry(member, arcs)
        if geometry is not None:
            props = dict(member.get("properties") or {})
            features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}


def _arc_indexes(obj: dict[str, Any]) -> Iterable[int]:
    def walk(value: Any) -> Iterable[int]:
        if isinstance(value, int):
            yield value if value >= 0 else ~value
        else:
            for item in value:
                yield from walk(item)

    if obj["type"] == "GeometryCollection":
        for member in obj["geometries"]:
            yield from _arc_indexes(member)
    elif "arcs" in obj:
        yield from walk(obj["arcs"])


def topology_borders(topology: dict[str, Any], name: str) -> dict[str, Any]:
    """Arcs shared by two different geometries of `name` (topojson-client's
    `mesh(topology, object, (a, b) => a !== b)`): land borders without coastlines."""
    arcs = decode_arcs(topology)
    owners: dict[int, set[int]] = {}
    for owner, member in enumerate(topology["objects"][name]["geometries"]):
        for index in _arc_indexes(member):
            owners.setdefault(index, set()).add(owner)
    lines = [arcs[i] for i in sorted(owners) if len(owners[i]) > 1]
    geometry = {"type": "MultiLineString", "coordinates": lines}
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": geometry}],
    }


# --- antimeridian -------------------------------------------------------------------------------
# world-atlas geometry is spherical (d3-geo): a ring may cross the antimeridian (Chukotka, Fiji)
# or wind around a pole (Antarctica). Leaflet draws GeoJSON on a plane, where such a ring would
# paint a band across the whole map, so rings and lines are cut at ±180° here.


def _unwrap(line: Sequence[Position]) -> Line:
    """`line` with longitudes made continuous (steps over 180° become ±360° shifts)."""
    out: Line = [line[0]]
    for lon, lat in line[1:]:
        prev = out[-1][0]
        lon += 360.0 * round((prev - lon) / 360.0)
        out.append((lon, lat))
    return out


def _crosses(line: Sequence[Position]) -> bool:
    return any(abs(b[0] - a[0]) > 180.0 for a, b in itertools.pairwise(line))


def _clip_half(ring: Line, x: float, keep_below: bool) -> Line:
    # One Sutherland-Hodgman pass against the vertical line `x`, on an open ring.
    def inside(p: Position) -> bool:
        return p[0] <= x if keep_below else p[0] >= x

    out: Line = []
    for i, cur in enumerate(ring):
        prev = ring[i - 1]
        if inside(cur) != inside(prev):
            t = (x - prev[0]) / (cur[0] - prev[0])
            out.append((x, prev[1] + t * (cur[1] - prev[1])))
        if inside(cur):
            out.append(cur)
    return out


def _area(ring: Sequence[Position]) -> float:
    # Shoelace formula, absolute value, on an open ring.
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise([*ring, ring[0]]))) / 2


def planar_rings(ring: Sequence[Position]) -> list[Line]:
    """A spherical ring as closed rings within [-180, 180]: closed over the pole it winds
    around, cut at the antimeridian. A ring lying on the pole itself (lat ±90) is dropped."""
    unwrapped = _unwrap([*ring, ring[0]])
    if abs(unwrapped[-1][0] - unwrapped[0][0]) > 180.0:  # winds once around a pole
        if all(abs(lat) > 89.9 for _, lat in ring):
            return []
        pole = -90.0 if sum(lat for _, lat in ring) < 0 else 90.0
        unwrapped = [*unwrapped, (unwrapped[-1][0], pole), (unwrapped[0][0], pole)]
    open_ring = unwrapped[:-1] if unwrapped[0] == unwrapped[-1] else unwrapped
    lons = [lon for lon, _ in open_ring]
    pieces = []
    for k in range(int((min(lons) + 180.0) // 360.0), int((max(lons) + 180.0) // 360.0) + 1):
        west, east = -180.0 + 360.0 * k, 180.0 + 360.0 * k
        piece = _clip_half(_clip_half(open_ring, west, keep_below=False), east, keep_below=True)
        if _area(piece) > 1e-9:  # a slab that only touches the ring yields a flat sliver
            shifted = [(lon - 360.0 * k, lat) for lon, lat in piece]
            pieces.append([*shifted, shifted[0]])
    return pieces


def planar_polygons(polygon: Sequence[Line]) -> list[list[Line]]:
    """A spherical polygon as planar polygons. One that crosses the antimeridian becomes one
    polygon per piece of ring (holes included): Leaflet fills a layer's rings even-odd, so the
    pieces of a hole still cut out of the piece around them."""
    if not any(_crosses([*ring, ring[0]]) for ring in polygon):
        return [list(polygon)]
    return [[piece] for ring in polygon for piece in planar_rings(ring)]


def planar_lines(line: Sequence[Position]) -> list[Line]:
    """A line cut where it crosses the antimeridian, each part ending on ±180°."""
    parts: list[Line] = [[line[0]]]
    for lon, lat in line[1:]:
        prev_lon, prev_lat = parts[-1][-1]
        if abs(lon - prev_lon) <= 180.0:
            parts[-1].append((lon, lat))
            continue
        edge = 180.0 if prev_lon > 0 else -180.0
        unwrapped = lon + (360.0 if edge > 0 else -360.0)
        t = (edge - prev_lon) / (unwrapped - prev_lon)
        cross_lat = prev_lat + t * (lat - prev_lat)
        parts[-1].append((edge, cross_lat))
        parts.append([(-edge, cross_lat), (lon, lat)])
    return [p for p in parts if len(p) >= 2]


def planar_geometry(geometry: dict[str, Any]) -> dict[str, Any]:
    """`geometry` (Polygon, MultiPolygon, LineString, MultiLineString) cut at the antimeridian."""
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind in ("Polygon", "MultiPolygon"):
        polygons = [coords] if kind == "Polygon" else coords
        out = [p for polygon in polygons for p in planar_polygons(polygon)]
        return {"type": "MultiPolygon", "coordinates": out}
    if kind in ("LineString", "MultiLineString"):
        lines = [coords] if kind == "LineString" else coords
        return {
            "type": "MultiLineString",
            "coordinates": [p for ln in lines for p in planar_lines(ln)],
        }
    raise ValueError(f"unsupported geometry type {kind!r}")


def planar_features(collection: dict[str, Any]) -> dict[str, Any]:
    features = [{**f, "geometry": planar_geometry(f["geometry"])} for f in collection["features"]]
    return {**collection, "features": features}


def round_coordinates(value: Any, decimals: int = COORD_DECIMALS) -> Any:
    """Round every coordinate, dropping points that rounding makes repeat their predecessor."""
    if isinstance(value, tuple | list) and value and isinstance(value[0], int | float):
        return [round(float(c), decimals) for c in value]
    if isinstance(value, tuple | list):
        items = [round_coordinates(v, decimals) for v in value]
        if items and isinstance(items[0], list) and items[0] and isinstance(items[0][0], float):
            items = [p for i, p in enumerate(items) if i == 0 or p != items[i - 1]]
        return items
    if isinstance(value, dict):
        return {k: round_coordinates(v, decimals) for k, v in value.items()}
    return value


def dump_geojson(collection: dict[str, Any]) -> bytes:
    return json.dumps(round_coordinates(collection), separators=(",", ":")).encode() + b"\n"


# --- writing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vendored:
    path: str  # under static/
    package: str
    origin: str
    licence: str


def write(static: Path, rel: str, data: bytes) -> None:
    target = static / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def vendor_package(pkg: Package, tarball: Path, static: Path) -> list[Vendored]:
    out = []
    for member, rel in pkg.files:
        write(static, f"{pkg.dest}/{rel}", read_member(tarball, member))
        out.append(
            Vendored(f"{pkg.dest}/{rel}", pkg.spec, f"{pkg.tarball_url} {member}", pkg.licence)
        )
    licence_rel = f"{pkg.dest}/{Path(pkg.licence_file).name}"
    write(static, licence_rel, read_member(tarball, pkg.licence_file))
    out.append(
        Vendored(licence_rel, pkg.spec, f"{pkg.tarball_url} {pkg.licence_file}", pkg.licence)
    )
    return out


def write_derived(tarballs: dict[Package, Path], static: Path) -> list[Vendored]:
    b3 = BOOTSTRAP3
    css = read_member(tarballs[b3], "package/dist/css/bootstrap.css").decode()
    glyph_rel = f"{b3.dest}/css/bootstrap-glyphicons.css"
    write(static, glyph_rel, glyphicons_css(css).encode())

    folium = importlib.metadata.distribution("folium")
    licence = next(f for f in folium.files or () if f.name.startswith("LICENSE"))
    rotate_rel = "vendor/folium/leaflet.awesome.rotate.min.css"
    write(static, rotate_rel, awesome_rotate_css().encode())
    write(static, "vendor/folium/LICENSE.txt", Path(licence.locate()).read_bytes())
    spec = f"folium@{folium.version} (PyPI)"
    return [
        Vendored(
            glyph_rel,
            b3.spec,
            f"{b3.tarball_url} package/dist/css/bootstrap.css (Glyphicons rules only)",
            b3.licence,
        ),
        Vendored(
            rotate_rel, spec, "generated; same rules as folium's leaflet.awesome.rotate.css", "MIT"
        ),
        Vendored("vendor/folium/LICENSE.txt", spec, "the installed package's licence file", "MIT"),
    ]


def write_basemap(tarball: Path, static: Path) -> list[Vendored]:
    wa = WORLD_ATLAS
    topology = json.loads(read_member(tarball, WORLD_ATLAS_TOPOLOGY))
    origin = f"{wa.tarball_url} {WORLD_ATLAS_TOPOLOGY}"
    land = planar_features(topology_features(topology, "land"))
    write(static, f"{wa.dest}/{LAND_GEOJSON}", dump_geojson(land))
    borders = planar_features(topology_borders(topology, "countries"))
    write(static, f"{wa.dest}/{BORDERS_GEOJSON}", dump_geojson(borders))
    write(static, f"{wa.dest}/LICENSE", read_member(tarball, wa.licence_file))
    write(static, f"{wa.dest}/NATURAL-EARTH.txt", NATURAL_EARTH_TERMS.encode())
    return [
        Vendored(
            f"{wa.dest}/{LAND_GEOJSON}", wa.spec, f"{origin} objects.land, converted", wa.licence
        ),
        Vendored(
            f"{wa.dest}/{BORDERS_GEOJSON}",
            wa.spec,
            f"{origin} objects.countries: arcs shared by two countries, converted",
            wa.licence,
        ),
        Vendored(f"{wa.dest}/LICENSE", wa.spec, f"{wa.tarball_url} package/LICENSE", "ISC"),
        Vendored(f"{wa.dest}/NATURAL-EARTH.txt", wa.spec, "written by this script", "-"),
    ]


def sources_md(entries: Sequence[Vendored]) -> str:
    lines = [
        "# Vendored map and API-docs assets",
        "",
        "Generated by `scripts/vendor_assets.py` (do not edit by hand; re-run the script).",
        "Served by Streamlit at `/app/static/<path>`; `ui/maps.py` points folium at them.",
        "`vendor/swagger-ui/` and `vendor/redoc/` are served by the sandbox at",
        "`/sandbox/v1/static/<folder>/` for its `/docs` and `/redoc` pages",
        "(`tasking/sandbox/docs.py`).",
        "",
        "- Files are byte-identical to the named file of the npm tarball, except where the",
        "  origin says generated, cut or converted (glyphicons and rotate stylesheets, the",
        "  basemap GeoJSON: TopoJSON decoded, cut at the antimeridian, rounded to 3 decimals).",
        "- Tarballs are checked against the registry's sha512 integrity pinned in the script.",
        "- Versions are those of folium 0.20's CDN links, except: Glyphicons from Bootstrap",
        "  3.4.1 (folium links 3.0.0, not on npm) and Leaflet.awesome-markers 2.0.5 from npm",
        "  (folium links 2.0.2 on cdnjs: same JavaScript, CSS adds a square-marker variant).",
        "  Leaflet.markercluster 1.5.3 (folium's plugin links 1.1.0, older than Leaflet 1.9).",
        "  Swagger UI and ReDoc: the newest release of the major version FastAPI's docs pages",
        "  link (swagger-ui-dist@5, redoc@2); their source maps are not vendored.",
        "",
        "| File (under static/) | Package | Origin | Licence |",
        "|---|---|---|---|",
    ]
    for e in sorted(entries, key=lambda e: e.path):
        lines.append(f"| {e.path} | {e.package} | {e.origin} | {e.licence} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--static", type=Path, default=REPO_ROOT / "static", help="output root")
    args = parser.parse_args(argv)
    static: Path = args.static

    with tempfile.TemporaryDirectory() as tmp:
        tarballs = {pkg: npm_pack(pkg, Path(tmp)) for pkg in PACKAGES}
        for folder in {pkg.dest for pkg in PACKAGES} | {"vendor/folium"}:
            shutil.rmtree(static / folder, ignore_errors=True)
        entries: list[Vendored] = []
        for pkg in PACKAGES:
            if pkg is not WORLD_ATLAS:
                entries += vendor_package(pkg, tarballs[pkg], static)
        entries += write_derived(tarballs, static)
        entries += write_basemap(tarballs[WORLD_ATLAS], static)
    write(static, "vendor/SOURCES.md", sources_md(entries).encode())
    for e in sorted(entries, key=lambda e: e.path):
        print(f"{(static / e.path).stat().st_size:>10,}  {e.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
