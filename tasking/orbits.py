"""The sandbox constellation: generation and TLE / OMM export and import.

Everything downstream (the sandbox scheduler, the app's pass preview, the published element sets)
propagates the same TLE lines: `generate_constellation` builds each satellite with
`Satrec.sgp4init`, exports it with `sgp4.exporter.export_tle`, and keeps only the lines.

Orbit design follows reference/iceye-fleet-modes.md §2.2-§2.3 and §6: sun-synchronous orbits at
520-590 km, local times of the ascending node spread over the day (the fleet is not dawn-dusk),
several planes with a few phased satellites each, near-circular.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sgp4 import io as sgp4_io
from sgp4 import omm
from sgp4.api import WGS72, Satrec
from sgp4.conveniences import sat_epoch_datetime
from sgp4.earth_gravity import wgs72
from sgp4.exporter import export_omm, export_tle

from tasking.errors import InputError, TransportError, error_from_response
from tasking.times import parse_time, require_aware

__all__ = [
    "Satellite",
    "generate_constellation",
    "parse_omm",
    "parse_tle_text",
    "to_omm",
    "to_tle_text",
]

# WGS72 is the gravity model SGP4 element sets are defined in (AIAA 2006-6753), so the SSO
# inclination is solved in the same constants the propagator uses.
_EARTH_RADIUS_KM = 6378.135
_MU_KM3_S2 = 398600.8
_J2 = 0.001082616
# A sun-synchronous node turns 360° per tropical year eastwards.
_SSO_NODE_RATE_RAD_PER_MIN = 2.0 * math.pi / (365.2422 * 1440.0)

# Product brief / reference §2.3: ~520-590 km.
_ALTITUDE_RANGE_KM = (520.0, 590.0)
# Five satellites per plane gives the reference's "40 satellites in 8 planes".
_SATS_PER_PLANE = 5
_ECCENTRICITY_RANGE = (0.0001, 0.0015)
# B* of the 585 km ICEYE-X44 TLE in reference §4 is 3.98e-4; vary around that order.
_BSTAR_RANGE = (1.0e-4, 4.0e-4)
_FIRST_NORAD_ID = 90001  # a private range: no catalogued object uses 90001+
_EPOCH_1949 = datetime(1949, 12, 31, tzinfo=UTC)  # sgp4init's epoch origin


@dataclass(frozen=True)
class Satellite:
    """A named TLE. The parsed SGP4 record is built once and excluded from equality and hashing."""

    name: str
    norad_id: int
    line1: str
    line2: str
    _satrec: Satrec = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_line(self.line1, 1)
        _check_line(self.line2, 2)
        if self.line1[2:7] != self.line2[2:7]:
            raise InputError(
                f"{self.name}: TLE lines 1 and 2 carry different catalogue numbers "
                f"{self.line1[2:7]!r} and {self.line2[2:7]!r}",
                field="tle",
                rule="tle-catalogue-number",
            )
        satrec = Satrec.twoline2rv(self.line1, self.line2)
        if satrec.satnum != self.norad_id:
            raise InputError(
                f"{self.name}: NORAD id {self.norad_id} does not match the TLE's {satrec.satnum}",
                field="tle",
                rule="tle-catalogue-number",
            )
        object.__setattr__(self, "_satrec", satrec)

    def __reduce__(self) -> tuple[type[Satellite], tuple[str, int, str, str]]:
        # Satrec cannot be pickled or deep-copied; the lines rebuild it (st.cache_data pickles).
        return (Satellite, (self.name, self.norad_id, self.line1, self.line2))

    @property
    def satrec(self) -> Satrec:
        """The SGP4 record of the lines (shared; treat as read-only)."""
        return self._satrec

    @property
    def epoch(self) -> datetime:
        """Epoch of the elements, aware UTC."""
        epoch: datetime = sat_epoch_datetime(self._satrec)
        return epoch.astimezone(UTC)


def generate_constellation(
    seed: int = 2026, count: int = 40, *, epoch: datetime
) -> list[Satellite]:
    """Build a deterministic sun-synchronous constellation of `count` satellites at `epoch`."""
    if count < 1:
        raise InputError(f"count must be at least 1, got {count}", field="count", rule="count")
    if _FIRST_NORAD_ID + count - 1 > 99999:
        raise InputError(
            f"count must keep NORAD ids within 5 digits (at most {99999 - 90000})",
            field="count",
            rule="count",
        )
    epoch = require_aware(epoch, "epoch")
    rng = np.random.default_rng(seed)
    planes = max(1, round(count / _SATS_PER_PLANE))
    sun_ra = _mean_sun_right_ascension(epoch)
    epoch_days = (epoch - _EPOCH_1949).total_seconds() / 86400.0

    # Spread the planes' LTANs evenly over 24 h with a random offset and jitter so that the
    # constellation does not look machine-made and a seed change moves every plane.
    ltan_offset = rng.uniform(0.0, 24.0 / planes)
    ltans = [
        (ltan_offset + 24.0 * j / planes + rng.uniform(-0.15, 0.15) * 24.0 / planes) % 24.0
        for j in range(planes)
    ]
    plane_phase = rng.uniform(0.0, 360.0, size=planes)
    members = [[i for i in range(count) if i % planes == j] for j in range(planes)]

    sats: list[Satellite] = []
    for i in range(count):
        plane = i % planes
        slot = members[plane].index(i)
        per_plane = len(members[plane])
        altitude = rng.uniform(*_ALTITUDE_RANGE_KM)
        raan = (sun_ra + 15.0 * (ltans[plane] - 12.0)) % 360.0
        anomaly = (plane_phase[plane] + 360.0 * slot / per_plane + rng.uniform(-8.0, 8.0)) % 360.0
        satrec = _sso_satrec(
            satnum=_FIRST_NORAD_ID + i,
            epoch_days=epoch_days,
            altitude_km=altitude,
            eccentricity=rng.uniform(*_ECCENTRICITY_RANGE),
            arg_perigee_deg=rng.uniform(0.0, 360.0),
            raan_deg=raan,
            mean_anomaly_deg=anomaly,
            bstar=rng.uniform(*_BSTAR_RANGE),
        )
        satrec.intldesg = f"{epoch.year % 100:02d}{900 + plane:03d}{_piece(slot)}"
        satrec.elnum = 999
        line1, line2 = export_tle(satrec)
        sats.append(Satellite(f"SANDSAT-{i + 1:02d}", _FIRST_NORAD_ID + i, line1, line2))
    return sats


def to_tle_text(sats: Iterable[Satellite]) -> str:
    """The satellites as 3-line element sets (name, line 1, line 2), newline-terminated."""
    return "".join(f"{s.name}\n{s.line1}\n{s.line2}\n" for s in sats)


def parse_tle_text(text: str) -> list[Satellite]:
    """Parse 2- or 3-line element sets; blank lines are ignored.

    A 2-line set is named "NORAD <id>"; a "0 " prefix on a name line (3LE style) is dropped.
    Raises InputError (a ValueError) naming the 1-based line number of the first bad line.
    """
    lines = [(n, raw.rstrip()) for n, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    sats: list[Satellite] = []
    i = 0
    while i < len(lines):
        n, line = lines[i]
        name: str | None = None
        if not line.startswith("1 "):
            if line.startswith("2 "):
                raise _tle_error(f"line {n}: TLE line 2 without a line 1 before it: {line!r}")
            name = line[2:].strip() if line.startswith("0 ") else line.strip()
            i += 1
            if i >= len(lines):
                raise _tle_error(f"line {n}: name {name!r} is not followed by TLE lines")
            n, line = lines[i]
        if i + 1 >= len(lines):
            raise _tle_error(f"line {n}: TLE line 1 is not followed by a line 2: {line!r}")
        n2, line2 = lines[i + 1]
        for number, which, content in ((n, 1, line), (n2, 2, line2)):
            try:
                _check_line(content, which)
            except ValueError as exc:
                raise _tle_error(f"line {number}: {exc}") from None
        norad_id = Satrec.twoline2rv(line, line2).satnum
        try:
            sats.append(Satellite(name or f"NORAD {norad_id}", norad_id, line, line2))
        except ValueError as exc:
            raise _tle_error(f"line {n2}: {exc}") from None
        i += 2
    return sats


def to_omm(sats: Iterable[Satellite]) -> list[dict[str, Any]]:
    """CelesTrak-style OMM JSON records (the `FORMAT=json` keys) of the satellites."""
    return [export_omm(s.satrec, s.name) for s in sats]


# OMM keys without which no element set can be built; the others default as CelesTrak's would.
_OMM_REQUIRED = (
    "NORAD_CAT_ID",
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "BSTAR",
)
_OMM_DEFAULTS: dict[str, Any] = {
    "CLASSIFICATION_TYPE": "U",
    "OBJECT_ID": "",
    "EPHEMERIS_TYPE": 0,
    "ELEMENT_SET_NO": 999,
    "REV_AT_EPOCH": 0,
    "MEAN_MOTION_DOT": 0.0,
    "MEAN_MOTION_DDOT": 0.0,
}


def parse_omm(records: Sequence[Mapping[str, Any]]) -> list[Satellite]:
    """Satellites from OMM JSON records; raises InputError naming the record and the field."""
    sats: list[Satellite] = []
    for index, record in enumerate(records):
        missing = [key for key in _OMM_REQUIRED if record.get(key) in (None, "")]
        if missing:
            raise InputError(
                f"OMM record {index}: missing {', '.join(missing)}", field="omm", rule="omm-fields"
            )
        fields = {**_OMM_DEFAULTS, **{k: v for k, v in record.items() if v is not None}}
        try:
            epoch = parse_time(str(fields["EPOCH"]))  # OMM epochs are UTC (CCSDS 502.0-B-3)
            # sgp4's OMM reader wants exactly this layout (fractional seconds included).
            fields["EPOCH"] = epoch.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")
            satrec = Satrec()
            omm.initialize(satrec, {k: str(v) for k, v in fields.items()})
            line1, line2 = export_tle(satrec)
            name = str(fields.get("OBJECT_NAME") or f"NORAD {satrec.satnum}")
            sats.append(Satellite(name, satrec.satnum, line1, line2))
        except ValueError as exc:
            raise InputError(f"OMM record {index}: {exc}", field="omm", rule="omm-values") from None
    return sats


def _check_line(line: str, which: int) -> None:
    """Reject a TLE line with a message naming the rule it breaks."""
    if len(line) != 69:
        raise _tle_error(f"TLE line {which} must be 69 characters, got {len(line)}: {line!r}")
    if not line.startswith(f"{which} "):
        raise _tle_error(f"TLE line {which} must start with '{which} ': {line!r}")
    if not line[68].isdigit() or int(line[68]) != sgp4_io.compute_checksum(line):
        raise _tle_error(
            f"TLE line {which} checksum is {line[68]!r}, the line tallies to "
            f"{sgp4_io.compute_checksum(line)}: {line!r}"
        )
    # The pure-Python reader checks every column against the TLE layout (the C++ one does not);
    # pair the line with a well-formed partner carrying the same catalogue number.
    number = line[2:7]
    pair = (line, _PARTNER_LINE2 % number) if which == 1 else (_PARTNER_LINE1 % number, line)
    try:
        sgp4_io.twoline2rv(pair[0], pair[1], wgs72)
    except ValueError:
        raise _tle_error(
            f"TLE line {which} does not follow the TLE column layout: {line!r}"
        ) from None


_PARTNER_LINE1 = "1 %sU 00001A   00001.00000000  .00000000  00000-0  00000-0 0    00"
_PARTNER_LINE2 = "2 %s  00.0000 000.0000 0000000 000.0000 000.0000 15.00000000    00"


def _sso_satrec(
    *,
    satnum: int,
    epoch_days: float,
    altitude_km: float,
    eccentricity: float,
    arg_perigee_deg: float,
    raan_deg: float,
    mean_anomaly_deg: float,
    bstar: float,
) -> Satrec:
    """An SGP4 record whose secular node rate is sun-synchronous at the given altitude."""
    a = _EARTH_RADIUS_KM + altitude_km
    n_rad_s = math.sqrt(_MU_KM3_S2 / a**3)
    p = a * (1.0 - eccentricity**2)
    # J2 nodal regression dΩ/dt = -1.5 J2 (R/p)² n cos i (Vallado §9.6), solved for cos i.
    cos_i = -_SSO_NODE_RATE_RAD_PER_MIN / 60.0 / (1.5 * _J2 * (_EARTH_RADIUS_KM / p) ** 2 * n_rad_s)
    rad = math.radians
    satrec = Satrec()
    # SGP4's own secular theory differs slightly from the first-order formula: correct cos i
    # against the node rate it reports so the elements are sun-synchronous for the propagator.
    for _ in range(3):
        satrec.sgp4init(
            WGS72,
            "i",
            satnum,
            epoch_days,
            bstar,
            0.0,
            0.0,
            eccentricity,
            rad(arg_perigee_deg),
            math.acos(cos_i),
            rad(mean_anomaly_deg),
            n_rad_s * 60.0,
            rad(raan_deg),
        )
        cos_i *= _SSO_NODE_RATE_RAD_PER_MIN / satrec.nodedot
    return satrec


def _mean_sun_right_ascension(t: datetime) -> float:
    """RA of the mean sun in degrees: its hour angle at Greenwich is 15°·(UT − 12 h)."""
    d = (t - datetime(2000, 1, 1, 12, tzinfo=UTC)).total_seconds() / 86400.0
    # GMST, IAU 1982 (Vallado eq. 3-47) in its days-since-J2000 form.
    gmst = 280.46061837 + 360.98564736629 * d
    ut_hours = t.hour + t.minute / 60.0 + (t.second + t.microsecond / 1e6) / 3600.0
    return (gmst - 15.0 * (ut_hours - 12.0)) % 360.0


def _tle_error(message: str) -> InputError:
    return InputError(message, field="tle", rule="tle-format")


def _piece(index: int) -> str:
    """Launch piece letters as in international designators: A…Z, AA…"""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


MAX_TLE_BYTES = 5_000_000
"""A public TLE file is a few hundred kB at most; anything larger is not what was meant."""


def read_tle_source(source: str, timeout_s: float = 30.0) -> str:
    """The text of a TLE file path or http(s) URL (``ICEYE_TLE_SOURCE`` in live mode).

    Failures are ``TaskingError``s naming the source: ``TransportError`` when a URL does not answer,
    the API error tree for an HTTP error status, ``InputError`` for an unreadable file or a body too
    large to be a TLE file.
    """
    if source.startswith(("http://", "https://")):
        try:
            with httpx.Client(timeout=timeout_s, follow_redirects=True) as http:
                response = http.get(source)
        except httpx.TransportError as error:
            raise TransportError(f"{source} did not answer: {error}") from error
        if response.is_error:
            raise error_from_response(response)
        if len(response.content) > MAX_TLE_BYTES:
            raise InputError(
                f"{source} sent more than {MAX_TLE_BYTES} bytes: not a TLE file",
                field="tle_source",
                rule="tle-size",
            )
        return response.text
    try:
        return Path(source).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            f"{source} could not be read as a TLE file: {error}",
            field="tle_source",
            rule="tle-source",
        ) from error
