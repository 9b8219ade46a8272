"""Orbital elements for the pass preview: the sandbox's published constellation, or in live mode
the TLE file or URL of ``ICEYE_TLE_SOURCE``; without either, a sentence saying how to provide them.

The elements are read once per process and source (``st.cache_resource``: the parsed satellites
hold SGP4 state that is not worth pickling), so a rerun of New task costs no request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st

from tasking.errors import TaskingError
from tasking.orbits import Satellite, parse_tle_text, read_tle_source
from ui.backend import Backend

HOW_TO = (
    "The pass preview needs orbital elements. In live mode, set ICEYE_TLE_SOURCE to a TLE file "
    "(3-line or 2-line sets) or to a URL serving one, e.g. a CelesTrak query for ICEYE "
    "satellites, then restart the app."
)


@dataclass(frozen=True)
class Constellation:
    satellites: tuple[Satellite, ...]
    source: str
    digest: str
    """Hash of the elements text: part of every cache key that depends on the elements."""

    def by_name(self) -> dict[str, Satellite]:
        return {s.name: s for s in self.satellites}


@dataclass(frozen=True)
class Unavailable:
    message: str


def _parse(text: str, source: str) -> Constellation | Unavailable:
    try:
        satellites = parse_tle_text(text)
    except ValueError as error:
        return Unavailable(f"The orbital elements from {source} could not be read: {error}")
    if not satellites:
        return Unavailable(f"{source} holds no orbital elements. {HOW_TO}")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Constellation(tuple(satellites), source, digest)


@st.cache_resource(show_spinner="Reading the orbital elements…", ttl="6h")
def _load(key: str, _backend: Backend) -> Constellation | Unavailable:
    # ``key`` (backend host + source) keys the cache; failures are returned, not raised, so
    # the cache keeps them only until the next process or ttl, and a page never crashes.
    if _backend.control is not None:
        try:
            text = _backend.control.constellation_tle()
        except TaskingError as error:
            return Unavailable(f"The sandbox's constellation could not be read: {error.message}")
        return _parse(text, "the sandbox")
    source = _backend.settings.tle_source
    if not source:
        return Unavailable(HOW_TO)
    try:
        text = read_tle_source(source, _backend.settings.timeout_s)
    except TaskingError as error:
        return Unavailable(f"ICEYE_TLE_SOURCE could not be read: {error.message}. {HOW_TO}")
    return _parse(text, source)


def constellation(backend: Backend) -> Constellation | Unavailable:
    """The satellites whose passes the preview shows, or why there are none."""
    source = "sandbox" if backend.control is not None else (backend.settings.tle_source or "")
    loaded = _load(f"{backend.host}|{source}", backend)
    if isinstance(loaded, Unavailable) and backend.control is not None:
        # A sandbox that did not answer may answer next time: do not keep the failure.
        _load.clear()
    return loaded
