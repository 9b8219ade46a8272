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
from tasking.service import TaskingService

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


class _NotLoaded(Exception):
    """Raised out of the cached loader so that a failure is never kept for its 6 h."""

    def __init__(self, unavailable: Unavailable) -> None:
        super().__init__(unavailable.message)
        self.unavailable = unavailable


def _checked(loaded: Constellation | Unavailable) -> Constellation:
    if isinstance(loaded, Unavailable):
        raise _NotLoaded(loaded)
    return loaded


@st.cache_resource(show_spinner="Reading the orbital elements…", ttl="6h")
def _load(key: str, _service: TaskingService) -> Constellation:
    # ``key`` (backend host + source) keys the cache. Only a success is cached: a failure
    # raises _NotLoaded (Streamlit never caches an exception).
    if _service.control is not None:
        try:
            text = _service.control.constellation_tle()
        except TaskingError as error:
            raise _NotLoaded(
                Unavailable(f"The sandbox's constellation could not be read: {error.message}")
            ) from error
        return _checked(_parse(text, "the sandbox"))
    source = _service.settings.tle_source
    if not source:
        raise _NotLoaded(Unavailable(HOW_TO))
    try:
        text = read_tle_source(source, _service.settings.timeout_s)
    except TaskingError as error:
        raise _NotLoaded(
            Unavailable(f"ICEYE_TLE_SOURCE could not be read: {error.message}. {HOW_TO}")
        ) from error
    return _checked(_parse(text, source))


FAILURE_TTL_S = 60
"""A failed live TLE source is tried again after this long (not on every rerun: a URL that
times out would block each one). The sandbox answers or refuses at once: tried every time."""


@st.cache_data(ttl=FAILURE_TTL_S, show_spinner=False)
def _live_attempt(key: str, _service: TaskingService) -> Unavailable | None:
    """None once the live elements are loaded (then cached by ``_load``); else why not."""
    try:
        _load(key, _service)
    except _NotLoaded as failure:
        return failure.unavailable
    return None


def constellation(service: TaskingService) -> Constellation | Unavailable:
    """The satellites whose passes the preview shows, or why there are none."""
    source = "sandbox" if service.control is not None else (service.settings.tle_source or "")
    key = f"{service.host}|{source}"
    if service.control is None:
        failure = _live_attempt(key, service)
        if failure is not None:
            return failure
    try:
        return _load(key, service)
    except _NotLoaded as failure:
        return failure.unavailable
