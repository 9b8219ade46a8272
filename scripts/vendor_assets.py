"""Download and prepare the offline map and API-docs assets under ``static/`` (reproducible).

folium 0.20 and streamlit-folium load Leaflet & friends from public CDNs, which analysts on
closed networks cannot reach. This script fetches the same libraries, at the versions folium
0.20 references (``folium.Map.default_js`` / ``default_css``), from the npm registry, checks
each tarball against a pinned integrity hash, and copies only the dist files the map needs.
FastAPI's /docs and /redoc pages load Swagger UI and ReDoc from a CDN too; the sandbox serves
the copies made here instead (``tasking/sandbox/docs.py``).

    static/vendor/<package>/...   JS, CSS, fonts, images and the package's licence file
    static/vendor/SOURCES.md      every vendored file, its package, origin and licence (the
                                  ``basemap/`` rows are ``scripts/build_basemap.py``'s: kept)

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
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NPM_REGISTRY = "https://registry.npmjs.org"


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
# The Monitor lays the quicklook on the rotated scene footprint (Leaflet's ImageOverlay is
# axis-aligned). Its licence (Beerware) is stated in its README; the package has no licence file.
IMAGEOVERLAY_ROTATED = Package(
    name="leaflet-imageoverlay-rotated",
    version="0.2.1",
    integrity="sha512-8MsrIuW/aXI0EjDXgJSJJ67nqVNQJsP/glmND9g6yc6t+zQgdPUbTRHC65jSs/IBwzwyhggnDgDuydalcEX+ew==",
    licence="Beerware",
    licence_file="package/README.md",
    dest="vendor/leaflet-imageoverlay-rotated",
    files=(("package/Leaflet.ImageOverlay.Rotated.js", "Leaflet.ImageOverlay.Rotated.js"),),
)
# New campaign draws points, lines and polygons with folium's Draw plugin, which links
# Leaflet.draw 1.0.2 on cdnjs; 1.0.4 is the newest release (fixes for Leaflet 1.x touch events,
# same API). Its toolbar icons are a spritesheet the stylesheet finds at images/ beside it. The
# package ships no licence file; its README states MIT (and package.json).
LEAFLET_DRAW = Package(
    name="leaflet-draw",
    version="1.0.4",
    integrity="sha512-rsQ6saQO5ST5Aj6XRFylr5zvarWgzWnrg46zQ1MEOEIHsppdC/8hnN8qMoFvACsPvTioAuysya/TVtog15tyAQ==",
    licence="MIT",
    licence_file="package/README.md",
    dest="vendor/leaflet-draw",
    files=(
        ("package/dist/leaflet.draw.js", "leaflet.draw.js"),
        ("package/dist/leaflet.draw.css", "leaflet.draw.css"),
        *(
            (f"package/dist/images/{img}", f"images/{img}")
            for img in ("spritesheet.png", "spritesheet-2x.png", "spritesheet.svg")
        ),
    ),
)
# The offline basemap's 1:10m cells are TopoJSON (scripts/build_basemap.py); its Leaflet layer
# (static/basemap/basemap.js) decodes them with the reference client.
TOPOJSON_CLIENT = Package(
    name="topojson-client",
    version="3.1.0",
    integrity="sha512-605uxS6bcYxGXw9qi62XyrV6Q3xwbndjachmNxu8HWTtVPxZfEJN9fd/SZS1Q54Sn2y0TMyMxFj/cJINqGHrKw==",
    licence="ISC",
    licence_file="package/LICENSE",
    dest="vendor/topojson-client",
    files=(("package/dist/topojson-client.min.js", "topojson-client.min.js"),),
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
    IMAGEOVERLAY_ROTATED,
    LEAFLET_DRAW,
    TOPOJSON_CLIENT,
    SWAGGER_UI,
    REDOC,
)

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


def sources_md(entries: Sequence[Vendored], kept_rows: Sequence[str] = ()) -> str:
    """The SOURCES.md table of `entries`, with `kept_rows` (another script's rows) in order."""
    lines = [
        "# Vendored map and API-docs assets",
        "",
        "Generated by `scripts/vendor_assets.py` (do not edit by hand; re-run the script).",
        "Served by Streamlit at `/app/static/<path>`; `ui/maps.py` points folium at them.",
        "`vendor/swagger-ui/` and `vendor/redoc/` are served by the sandbox at",
        "`/sandbox/v1/static/<folder>/` for its `/docs` and `/redoc` pages",
        "(`tasking/sandbox/docs.py`).",
        "",
        "The `basemap/` rows are written by `scripts/build_basemap.py` (the offline basemap's",
        "data; `static/basemap/SOURCES.md` says more) and kept by this script.",
        "",
        "- Files are byte-identical to the named file of the npm tarball, except where the",
        "  origin says generated or cut (glyphicons and rotate stylesheets).",
        "- Tarballs are checked against the registry's sha512 integrity pinned in the script.",
        "- Versions are those of folium 0.20's CDN links, except: Glyphicons from Bootstrap",
        "  3.4.1 (folium links 3.0.0, not on npm) and Leaflet.awesome-markers 2.0.5 from npm",
        "  (folium links 2.0.2 on cdnjs: same JavaScript, CSS adds a square-marker variant).",
        "  Leaflet.markercluster 1.5.3 (folium's plugin links 1.1.0, older than Leaflet 1.9).",
        "  Leaflet.draw 1.0.4 (folium's Draw plugin links 1.0.2; its licence is in README.md).",
        "  Swagger UI and ReDoc: the newest release of the major version FastAPI's docs pages",
        "  link (swagger-ui-dist@5, redoc@2); their source maps are not vendored.",
        "",
        "| File (under static/) | Package | Origin | Licence |",
        "|---|---|---|---|",
    ]
    rows = [f"| {e.path} | {e.package} | {e.origin} | {e.licence} |" for e in entries]
    lines += sorted([*rows, *kept_rows], key=lambda row: row.split(" | ", 1)[0])
    return "\n".join(lines) + "\n"


def basemap_rows(sources: Path) -> list[str]:
    """The ``basemap/`` rows of an existing SOURCES.md (``scripts/build_basemap.py`` owns them)."""
    if not sources.exists():
        return []
    return [ln for ln in sources.read_text().splitlines() if ln.startswith("| basemap/")]


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
            entries += vendor_package(pkg, tarballs[pkg], static)
        entries += write_derived(tarballs, static)
    kept = basemap_rows(static / "vendor" / "SOURCES.md")
    write(static, "vendor/SOURCES.md", sources_md(entries, kept).encode())
    for e in sorted(entries, key=lambda e: e.path):
        print(f"{(static / e.path).stat().st_size:>10,}  {e.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
