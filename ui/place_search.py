"""Setting the point without clicking: find a place by name or code (offline gazetteer of cities,
countries, ports, airports, straits and canals) or type coordinates in common forms (decimal,
degrees-minutes-seconds). Both centre the map on it."""

from __future__ import annotations

import threading
from operator import attrgetter

import streamlit as st

from tasking.coords import format_dms, parse_coordinates
from tasking.errors import InputError
from tasking.places import Place, search_places, warm_up
from tasking.rules import is_valid_point, user_message
from ui import keys
from ui import task_form as form
from ui.format import plain

MATCHES = 8
# A country is seen whole at a lower zoom than a city.
COUNTRY_ZOOM = 4


def set_point(lat: float, lon: float, zoom: int = form.POINT_ZOOM) -> None:
    keys.LAT.set(round(lat, 6))
    keys.LON.set(round(lon, 6))
    keys.CENTER.set((lat, lon))
    keys.ZOOM.set(zoom)


def _picked() -> None:
    place = keys.PLACE_PICK.get()
    if place is not None:
        set_point(
            place.lat, place.lon, COUNTRY_ZOOM if place.kind == "country" else form.POINT_ZOOM
        )


def _typed() -> None:
    text = keys.COORDS.get() or ""
    keys.COORDS_ERROR.pop()
    if not text.strip():
        return
    try:
        lat, lon = parse_coordinates(text)
    except InputError as error:
        keys.COORDS_ERROR.set("; ".join(user_message(v) for v in error.violations))
        return
    set_point(lat, lon)


def place_widgets() -> None:
    left, right = st.columns(2)
    with left:
        st.text_input(
            "Find a place",
            key=keys.PLACE_QUERY.name,
            placeholder="City, port, airport, strait… e.g. Helsinki, Port of Rotterdam, EHAM",
            persist_state="session",
            help=(
                "Offline gazetteer: cities over 15,000 people and countries (GeoNames); "
                "airports by name, ICAO or IATA code (airportsdata); ports, docks and "
                "anchorages (NGA World Port Index and GeoNames); ten straits and canals "
                "(Hormuz, Malacca, Suez, Panama…). Words in any order: “rotterdam port”."
            ),
        )
        query = (keys.PLACE_QUERY.get() or "").strip()
        if query:
            matches = _search(query)
            if matches:
                if keys.PLACE_PICK.get() not in matches:
                    keys.PLACE_PICK.set(None)
                st.selectbox(
                    "Matches",
                    matches,
                    key=keys.PLACE_PICK.name,
                    index=None,
                    format_func=attrgetter("summary"),
                    placeholder=f"{len(matches)} match{'es' if len(matches) > 1 else ''}: choose one",
                    on_change=_picked,
                    label_visibility="collapsed",
                )
            else:
                st.caption(f"No place is called “{plain(query)}”.")
    with right:
        st.text_input(
            "Coordinates",
            key=keys.COORDS.name,
            placeholder="60.17, 24.94  or  60°10'12\"N 24°56'18\"E",
            on_change=_typed,
            persist_state="session",
            help="Decimal degrees or degrees-minutes-seconds; N/S/E/W or signs.",
        )
        error = keys.COORDS_ERROR.get()
        if error:
            st.markdown(f":red[:material/error: {plain(error)}]")
        lat, lon = keys.LAT.get(), keys.LON.get()
        if lat is not None and lon is not None and is_valid_point(lat, lon):
            st.caption(f"Point: {format_dms(lat, lon)}")


@st.cache_data(show_spinner=False, max_entries=256)
def _search(query: str) -> list[Place]:
    return search_places(query, MATCHES)


@st.cache_resource(show_spinner=False)
def warm_up_in_background() -> threading.Thread:
    """Build the gazetteer's index (about 3 s) in the background once per process, so the first
    search does not wait for it."""
    thread = threading.Thread(target=warm_up, name="places-warm-up", daemon=True)
    thread.start()
    return thread
