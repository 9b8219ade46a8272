"""Setting the point without clicking: find a place by name (offline gazetteer) or type
coordinates in common forms (decimal, degrees-minutes-seconds). Both centre the map on it."""

from __future__ import annotations

import threading

import streamlit as st

from tasking.coords import format_dms, parse_coordinates
from tasking.errors import InputError
from tasking.places import Place, search_places, warm_up
from tasking.rules import is_valid_point
from ui import task_form as form
from ui.format import plain

QUERY = "nt_place_query"
PICK = "nt_place_pick"
COORDS = "nt_coords"
COORDS_ERROR = "nt_coords_error"
MATCHES = 8
# A country is seen whole at a lower zoom than a city.
COUNTRY_ZOOM = 4


def set_point(lat: float, lon: float, zoom: int = form.POINT_ZOOM) -> None:
    st.session_state[form.LAT] = round(lat, 6)
    st.session_state[form.LON] = round(lon, 6)
    st.session_state[form.CENTER] = (lat, lon)
    st.session_state[form.ZOOM] = zoom


def _picked() -> None:
    place: Place | None = st.session_state.get(PICK)
    if place is not None:
        set_point(
            place.lat, place.lon, COUNTRY_ZOOM if place.kind == "country" else form.POINT_ZOOM
        )


def _typed() -> None:
    text = st.session_state.get(COORDS) or ""
    st.session_state.pop(COORDS_ERROR, None)
    if not text.strip():
        return
    try:
        lat, lon = parse_coordinates(text)
    except InputError as error:
        st.session_state[COORDS_ERROR] = error.message
        return
    set_point(lat, lon)


def _label(place: Place) -> str:
    if place.kind == "country":
        return f"{place.label} (country)"
    return f"{place.label} · pop. {place.population:,}"


def place_widgets() -> None:
    left, right = st.columns(2)
    with left:
        st.text_input(
            "Find a place",
            key=QUERY,
            placeholder="City or country, e.g. Helsinki",
            persist_state="session",
            help="Offline gazetteer (GeoNames cities over 15,000 people, and countries).",
        )
        query = (st.session_state.get(QUERY) or "").strip()
        if query:
            matches = _search(query)
            if matches:
                if st.session_state.get(PICK) not in matches:
                    st.session_state[PICK] = None
                st.selectbox(
                    "Matches",
                    matches,
                    key=PICK,
                    index=None,
                    format_func=_label,
                    placeholder=f"{len(matches)} match{'es' if len(matches) > 1 else ''}: choose one",
                    on_change=_picked,
                    label_visibility="collapsed",
                )
            else:
                st.caption(f"No place is called “{plain(query)}”.")
    with right:
        st.text_input(
            "Coordinates",
            key=COORDS,
            placeholder="60.17, 24.94  or  60°10'12\"N 24°56'18\"E",
            on_change=_typed,
            persist_state="session",
            help="Decimal degrees or degrees-minutes-seconds; N/S/E/W or signs.",
        )
        error = st.session_state.get(COORDS_ERROR)
        if error:
            st.markdown(f":red[:material/error: {plain(error)}]")
        lat, lon = st.session_state.get(form.LAT), st.session_state.get(form.LON)
        if lat is not None and lon is not None and is_valid_point(lat, lon):
            st.caption(f"Point: {format_dms(lat, lon)}")


@st.cache_data(show_spinner=False, max_entries=256)
def _search(query: str) -> list[Place]:
    return search_places(query, MATCHES)


@st.cache_resource(show_spinner=False)
def warm_up_in_background() -> threading.Thread:
    """Build the gazetteer's index (about 2 s) in the background once per process, so the first
    search does not wait for it."""
    thread = threading.Thread(target=warm_up, name="places-warm-up", daemon=True)
    thread.start()
    return thread
