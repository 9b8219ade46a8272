"""Constellation generation and TLE / OMM round trips (tasking/orbits.py)."""

from __future__ import annotations

import itertools
import math
import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load, wgs84

from tasking.errors import InputError
from tasking.orbits import (
    Satellite,
    generate_constellation,
    parse_omm,
    parse_tle_text,
    to_omm,
    to_tle_text,
)

EPOCH = datetime(2026, 11, 22, tzinfo=UTC)
MS = timedelta(milliseconds=1)

# reference/iceye-fleet-modes.md §4: NORAD 62707 (ICEYE-X44), checksums verified there.
X44_NAME = "ICEYE-X44"
X44_LINE1 = "1 62707U 25009DC  25306.22031033  .00004207  00000+0  39848-3 0  9995"
X44_LINE2 = "2 62707  97.7269  23.9854 0002193 135.9671 224.1724 14.94137357 66022"
# The same element set typed by hand as a CelesTrak OMM JSON record (FORMAT=json keys).
X44_OMM = {
    "OBJECT_NAME": "ICEYE-X44",
    "OBJECT_ID": "2025-009DC",
    "EPOCH": "2025-11-02T05:17:14.812512",
    "MEAN_MOTION": 14.94137357,
    "ECCENTRICITY": 0.0002193,
    "INCLINATION": 97.7269,
    "RA_OF_ASC_NODE": 23.9854,
    "ARG_OF_PERICENTER": 135.9671,
    "MEAN_ANOMALY": 224.1724,
    "EPHEMERIS_TYPE": 0,
    "CLASSIFICATION_TYPE": "U",
    "NORAD_CAT_ID": 62707,
    "ELEMENT_SET_NO": 999,
    "REV_AT_EPOCH": 6602,
    "BSTAR": 0.00039848,
    "MEAN_MOTION_DOT": 4.207e-5,
    "MEAN_MOTION_DDOT": 0,
}


@pytest.fixture(scope="module")
def sats() -> list[Satellite]:
    return generate_constellation(epoch=EPOCH)


def test_generation_is_deterministic_for_a_seed_and_changes_with_it(sats: list[Satellite]) -> None:
    assert generate_constellation(epoch=EPOCH) == sats
    assert generate_constellation(seed=7, epoch=EPOCH) != sats


def test_constellation_has_count_satellites_with_sandbox_names_and_private_ids(
    sats: list[Satellite],
) -> None:
    assert len(sats) == 40
    assert [s.name for s in sats] == [f"SANDSAT-{i:02d}" for i in range(1, 41)]
    assert [s.norad_id for s in sats] == list(range(90001, 90041))
    assert len(generate_constellation(count=3, epoch=EPOCH)) == 3


def test_every_orbit_is_sun_synchronous_by_sgp4s_own_node_rate(sats: list[Satellite]) -> None:
    # SSO: the node turns 360° per tropical year; nodedot is SGP4's secular rate in rad/min.
    for s in sats:
        turns_per_year = s.satrec.nodedot * 1440.0 * 365.2422 / (2.0 * math.pi)
        assert turns_per_year == pytest.approx(1.0, rel=1e-3), s.name
        # Reference §2.2 / §5: 97.40° at 500 km, 97.6° at 560 km, 97.77° at 595 km.
        assert 97.4 < math.degrees(s.satrec.inclo) < 97.8, s.name


def test_altitudes_spread_over_520_to_590_km_and_orbits_are_near_circular(
    sats: list[Satellite],
) -> None:
    altitudes = [s.satrec.a * 6378.135 - 6378.135 for s in sats]
    assert min(altitudes) > 518.0 and max(altitudes) < 592.0
    assert max(altitudes) - min(altitudes) > 40.0
    assert all(s.satrec.ecco < 0.002 for s in sats)


def test_inclination_grows_with_altitude_as_the_j2_sso_condition_requires(
    sats: list[Satellite],
) -> None:
    by_altitude = sorted(sats, key=lambda s: s.satrec.a)
    inclinations = [s.satrec.inclo for s in by_altitude]
    assert inclinations == sorted(inclinations)


def test_local_times_of_the_ascending_node_are_spread_over_the_day(sats: list[Satellite]) -> None:
    # Independent of the generator: find each satellite's first ascending node with skyfield and
    # read the local mean solar time there (UT + longitude / 15°).
    ts = load.timescale(builtin=True)
    minutes = ts.utc(2026, 11, 22, 0, range(0, 100))
    ltans = []
    for s in sats:
        lat = wgs84.latlon_of(EarthSatellite(s.line1, s.line2, s.name, ts).at(minutes))[0].degrees
        k = int(np.flatnonzero((lat[:-1] < 0) & (lat[1:] >= 0))[0])
        _, lon = wgs84.latlon_of(EarthSatellite(s.line1, s.line2, s.name, ts).at(minutes[k]))
        ltans.append((k / 60.0 + lon.degrees / 15.0) % 24.0)
    hours = sorted(ltans)
    gaps = [b - a for a, b in itertools.pairwise(hours)] + [hours[0] + 24 - hours[-1]]
    assert max(gaps) < 6.0  # not a dawn-dusk fleet: every quarter of the day has a plane
    assert len({round(h) % 24 for h in ltans}) >= 6


def test_tle_text_round_trips_in_three_line_format(sats: list[Satellite]) -> None:
    text = to_tle_text(sats)
    assert text.splitlines()[:3] == [sats[0].name, sats[0].line1, sats[0].line2]
    assert parse_tle_text(text) == sats


def test_parse_tle_accepts_two_line_sets_3le_names_and_blank_lines() -> None:
    text = f"\n{X44_LINE1}\n{X44_LINE2}\n\n0 {X44_NAME}\n{X44_LINE1}\n{X44_LINE2}\n"
    first, second = parse_tle_text(text)
    assert first.name == "NORAD 62707" and first.norad_id == 62707
    assert second.name == X44_NAME and second.line1 == X44_LINE1


def test_parse_tle_names_the_line_with_a_bad_checksum() -> None:
    bad = X44_LINE2[:-1] + "0"
    with pytest.raises(InputError, match=r"line 3: TLE line 2 checksum") as err:
        parse_tle_text(f"{X44_NAME}\n{X44_LINE1}\n{bad}\n")
    assert err.value.violations[0].rule == "tle-format"


def test_parse_tle_names_a_line_that_breaks_the_column_layout() -> None:
    shifted = "1 62707U 25009DC 25306.22031033  .00004207  00000+0  39848-3 0  9995 "
    with pytest.raises(ValueError, match=r"line 2: TLE line 1"):
        parse_tle_text(f"{X44_NAME}\n{shifted}\n{X44_LINE2}\n")


def test_parse_tle_names_a_missing_second_line_and_a_stray_second_line() -> None:
    with pytest.raises(ValueError, match=r"line 2: TLE line 1 is not followed by a line 2"):
        parse_tle_text(f"{X44_NAME}\n{X44_LINE1}\n")
    with pytest.raises(ValueError, match=r"line 1: TLE line 2 without a line 1"):
        parse_tle_text(f"{X44_LINE2}\n")
    with pytest.raises(ValueError, match=r"line 4: name 'ORPHAN' is not followed"):
        parse_tle_text(f"{X44_NAME}\n{X44_LINE1}\n{X44_LINE2}\nORPHAN\n")


def test_parse_tle_rejects_lines_of_two_different_objects() -> None:
    other = generate_constellation(count=1, epoch=EPOCH)[0]
    with pytest.raises(ValueError, match="different catalogue numbers"):
        parse_tle_text(f"{X44_LINE1}\n{other.line2}\n")


def test_satellite_rejects_a_norad_id_that_disagrees_with_its_lines() -> None:
    with pytest.raises(ValueError, match="does not match"):
        Satellite(X44_NAME, 12345, X44_LINE1, X44_LINE2)


def test_omm_export_has_celestrak_keys_and_round_trips(sats: list[Satellite]) -> None:
    records = to_omm(sats)
    assert set(X44_OMM) <= set(records[0])
    assert records[0]["OBJECT_NAME"] == "SANDSAT-01" and records[0]["NORAD_CAT_ID"] == 90001
    assert parse_omm(records) == sats


def test_parse_omm_of_a_celestrak_record_gives_the_published_tle() -> None:
    (sat,) = parse_omm([X44_OMM])
    assert (sat.name, sat.line2) == (X44_NAME, X44_LINE2)
    # sgp4's exporter writes a zero second derivative as "00000-0" where this TLE has "00000+0"
    # (same value); every other column of line 1 matches.
    assert sat.line1[:44] + sat.line1[52:68] == X44_LINE1[:44] + X44_LINE1[52:68]
    reference = Satellite(X44_NAME, 62707, X44_LINE1, X44_LINE2)
    assert sat.satrec.sgp4(2460982.5, 0.3) == reference.satrec.sgp4(2460982.5, 0.3)
    # A TLE epoch has 1e-8 day (0.86 ms) resolution.
    assert abs(sat.epoch - datetime(2025, 11, 2, 5, 17, 14, 812512, tzinfo=UTC)) < MS


def test_parse_omm_fills_optional_fields_and_accepts_an_epoch_without_fraction() -> None:
    minimal = {k: X44_OMM[k] for k in ("NORAD_CAT_ID", "MEAN_MOTION", "ECCENTRICITY", "BSTAR")}
    minimal |= {k: X44_OMM[k] for k in ("INCLINATION", "RA_OF_ASC_NODE", "ARG_OF_PERICENTER")}
    minimal |= {"MEAN_ANOMALY": 224.1724, "EPOCH": "2025-11-02T05:17:14"}
    (sat,) = parse_omm([minimal])
    assert sat.name == "NORAD 62707"
    assert abs(sat.epoch - datetime(2025, 11, 2, 5, 17, 14, tzinfo=UTC)) < MS


def test_parse_omm_names_the_record_and_missing_fields() -> None:
    broken = {k: v for k, v in X44_OMM.items() if k not in ("EPOCH", "BSTAR")}
    with pytest.raises(InputError, match=r"OMM record 1: missing EPOCH, BSTAR"):
        parse_omm([X44_OMM, broken])
    with pytest.raises(InputError, match=r"OMM record 0: "):
        parse_omm([X44_OMM | {"EPOCH": "yesterday"}])


def test_satellites_are_hashable_picklable_and_compare_by_their_lines(
    sats: list[Satellite],
) -> None:
    copy = pickle.loads(pickle.dumps(sats[0]))
    assert copy == sats[0] and hash(copy) == hash(sats[0])
    assert copy.satrec.satnum == 90001
    assert len(set(sats)) == 40


def test_generated_elements_propagate_identically_from_the_published_lines(
    sats: list[Satellite],
) -> None:
    # The lines are the truth: a client re-reading the published text gets the same states.
    reread = parse_tle_text(to_tle_text(sats[:2]))
    for a, b in zip(sats[:2], reread, strict=True):
        jd, fr = 2461366.5, 0.25
        assert a.satrec.sgp4(jd, fr) == b.satrec.sgp4(jd, fr)
    assert sats[0].epoch == EPOCH


def test_generation_rejects_naive_epochs_and_impossible_counts() -> None:
    with pytest.raises(InputError, match="timezone-aware"):
        generate_constellation(epoch=datetime(2026, 1, 1))
    with pytest.raises(InputError, match="at least 1"):
        generate_constellation(count=0, epoch=EPOCH)
    with pytest.raises(InputError, match="5 digits"):
        generate_constellation(count=10_000, epoch=EPOCH + timedelta(days=1))


def test_read_tle_source_reads_a_file_and_names_an_unreadable_one(tmp_path):
    from tasking.errors import InputError
    from tasking.orbits import read_tle_source

    path = tmp_path / "elements.tle"
    path.write_text("ISS\nline1\nline2\n", encoding="utf-8")
    assert read_tle_source(str(path)) == "ISS\nline1\nline2\n"
    with pytest.raises(InputError) as refused:
        read_tle_source(str(tmp_path / "missing.tle"))
    assert "missing.tle" in refused.value.message


def test_read_tle_source_fetches_a_url_and_maps_http_errors():
    import httpx
    import respx

    from tasking.errors import NotFound, TransportError
    from tasking.orbits import read_tle_source

    with respx.mock:
        respx.get("https://elements.example/iceye.tle").mock(
            return_value=httpx.Response(200, text="SAT\n1 ...\n2 ...\n")
        )
        respx.get("https://elements.example/gone.tle").mock(return_value=httpx.Response(404))
        respx.get("https://elements.example/down.tle").mock(
            side_effect=httpx.ConnectError("refused")
        )
        assert read_tle_source("https://elements.example/iceye.tle").startswith("SAT")
        with pytest.raises(NotFound):
            read_tle_source("https://elements.example/gone.tle")
        with pytest.raises(TransportError):
            read_tle_source("https://elements.example/down.tle")
