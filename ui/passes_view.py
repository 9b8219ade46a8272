"""Predicted passes for the New task form, as objects the user can pick: every opportunity of the
constellation over the point in the window, kept or excluded by the current options (with the
option that excludes it), in one table linked both ways to a timeline chart and to the map.

Selecting a row (or clicking a pass on the chart) highlights the pass's ground track, its predicted
footprint and its line of sight on the map and its mark on the chart; "Aim for this pass" sets look
side, pass direction and an incidence range around it in the form, and says which other passes
still qualify. The table exports as CSV.

Uses ``tasking.passes``, the code the sandbox schedules with, so the preview and the sandbox agree.
Predictions are cached per (elements, point, window); the options only re-label them.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import altair as alt
import folium
import pandas as pd
import pyarrow as pa
import streamlit as st

from tasking import modes
from tasking.errors import TaskingError
from tasking.geometry import scene_footprint
from tasking.passes import Constraints, Pass, exclusion_reason, ground_track, predict_passes
from tasking.rules import TaskDraft
from ui import keys
from ui.elements import Constellation
from ui.format import plain, when
from ui.layers import Lines, dot, group, polygon, polyline

# The commercially supported ceiling (Tasking API v2: incidence 10..45): passes steeper than 45°
# cannot be ordered, so the preview does not list them; shallower than 10° are listed as excluded.
MAX_INCIDENCE = float(modes.INCIDENCE_LIMITS[1])
# Ground track drawn around each pass (issue 5: "the satellite's ground track around the imaging
# time"): ±5 min is ~±2,200 km of track at ICEYE's ~7.6 km/s ground speed.
TRACK_HALF_SPAN = timedelta(minutes=5)
# A point a minute (~460 km of track): the arc is near straight at that scale, and each point is
# sent to the browser on every rerun of the page.
TRACK_STEP_S = 60.0
# Enough tracks to see the geometry of a window (a two-day window has 100+ passes within 45°);
# more only clutter the map and the page's payload. The first ones in time of each kind.
MAX_KEPT_TRACKS, MAX_EXCLUDED_TRACKS = 24, 16
# "Aim for this pass": the incidence range set around the pass's incidence. ±2° leaves the planner
# the jitter of a re-plan (reference: scene parameters firm up as acquisition approaches) while
# excluding most other passes.
AIM_MARGIN_DEG = 2
# An opportunity of a feasibility answer is this pass when their times are this close (ICEYE gives
# the imaging start; the pass is its zero-Doppler centre, at most half a 180 s imaging away).
OPPORTUNITY_TOLERANCE = timedelta(minutes=5)
KEPT, EXCLUDED = "qualifies", "excluded"
MAP_LEGEND = (
    f"Ground tracks ±5 min around each pass: blue qualifying (the first {MAX_KEPT_TRACKS}), grey "
    f"dashed excluded (the first {MAX_EXCLUDED_TRACKS}), orange the selected pass with its "
    "predicted footprint and line of sight."
)
KEPT_COLOUR, EXCLUDED_COLOUR, SELECTED_COLOUR = "#0b6bcb", "#8f9ba6", "#e08a00"
CHART_PARAM = "pick"

LookSide = Literal["LEFT", "RIGHT"]


def pass_id(p: Pass) -> str:
    """A pass's identity in tables, charts and session state: satellite and zero-Doppler time."""
    return f"{p.satellite}@{p.time.isoformat()}"


@dataclass(frozen=True)
class Verdict:
    pass_: Pass
    reason: str | None

    @property
    def kept(self) -> bool:
        return self.reason is None

    @property
    def id(self) -> str:
        return pass_id(self.pass_)


def _bound(value: int | str | None, index: int, mode: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if value == "FULL_RANGE":
        return float(modes.INCIDENCE_LIMITS[index])
    # PERFORMANT, or not set: ICEYE's default is the mode's performant range (check-feasibility
    # documentation), which is also what the sandbox's scheduler applies.
    return float(modes.mode_info(mode).performant[index])


def constraints_for(draft: TaskDraft) -> Constraints:
    """The geometry options of the draft as pass constraints (unset = ICEYE's defaults)."""
    mode = draft.imaging_mode
    return Constraints(
        incidence_min=_bound(draft.incidence_min, 0, mode),
        incidence_max=_bound(draft.incidence_max, 1, mode),
        look_side=draft.look_side or "ANY",
        pass_direction=draft.pass_direction or "ANY",
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _predict(
    digest: str, lat: float, lon: float, start: datetime, end: datetime, _sats: Constellation
) -> list[Pass]:
    # ``digest`` stands for the elements (``_sats`` is not hashed).
    return predict_passes(_sats.satellites, lat, lon, start, end, MAX_INCIDENCE, 0.0)


def predicted(
    constellation: Constellation, lat: float, lon: float, start: datetime, end: datetime
) -> list[Pass]:
    """Every pass in the window (cached: a map click or an option change costs no prediction)."""
    return _predict(constellation.digest, round(lat, 6), round(lon, 6), start, end, constellation)


def judge(passes: Sequence[Pass], constraints: Constraints) -> list[Verdict]:
    return [Verdict(p, exclusion_reason(p, constraints)) for p in passes]


def _reason_kind(reason: str) -> str:
    return reason.split(" ", 1)[0] if not reason.startswith("look side") else "look side"


def summary(verdicts: Sequence[Verdict]) -> str:
    kept = [v for v in verdicts if v.kept]
    total = len(verdicts)
    if not total:
        return "No satellite of the constellation passes within 45° of incidence in this window."
    text = f"**{len(kept)} of {total}** predicted passes satisfy the options."
    if kept:
        first = kept[0].pass_
        text += (
            f" Next: {plain(first.satellite)} at {when(first.time)}, {first.incidence:.1f}°, "
            f"{first.look_side}, {first.pass_direction}."
        )
    excluded = Counter(_reason_kind(v.reason) for v in verdicts if v.reason)
    if excluded:
        parts = ", ".join(f"{count} by {kind}" for kind, count in excluded.most_common())
        text += f" Excluded: {parts}."
    return text


# --- the table -------------------------------------------------------------------------------

TABLE_COLUMNS = (
    "Satellite",
    "Time (UTC)",
    "Incidence (°)",
    "Look side",
    "Direction",
    "Why excluded",
)
QUALIFIES = "✓ qualifies"


def _categories(values: Sequence[str | None]) -> pa.DictionaryArray:
    """Repeated strings sent once each (an Arrow dictionary column, one byte a row while there
    are fewer than 128 distinct values)."""
    encoded = pa.array(list(values), pa.string()).dictionary_encode()
    if len(encoded.dictionary) < 128:
        encoded = encoded.cast(pa.dictionary(pa.int8(), pa.string()))
    return encoded


def table(verdicts: Sequence[Verdict]) -> pa.Table:
    """One row per pass, in time order (row i is ``verdicts[i]``). An Arrow table with repeated
    strings as dictionaries and no pandas metadata: it travels on every rerun (a map click is a
    new point, so new passes), and this is a third of its size as a DataFrame."""
    return pa.table(
        {
            "Satellite": _categories([v.pass_.satellite for v in verdicts]),
            "Time (UTC)": pa.array(
                [v.pass_.time.replace(microsecond=0) for v in verdicts], pa.timestamp("s", "UTC")
            ),
            "Incidence (°)": pa.array(
                [round(v.pass_.incidence, 1) for v in verdicts], pa.float32()
            ),
            "Look side": _categories([v.pass_.look_side for v in verdicts]),
            "Direction": _categories([v.pass_.pass_direction for v in verdicts]),
            "Why excluded": _categories([v.reason or QUALIFIES for v in verdicts]),
        }
    )


def csv_text(verdicts: Sequence[Verdict]) -> str:
    """The table as CSV, with the geometry an analyst needs beside it (ISO 8601 UTC times)."""
    rows = [
        {
            "satellite": v.pass_.satellite,
            "time_utc": v.pass_.time.isoformat().replace("+00:00", "Z"),
            "incidence_deg": round(v.pass_.incidence, 2),
            "look_side": v.pass_.look_side,
            "pass_direction": v.pass_.pass_direction,
            "qualifies": "yes" if v.kept else "no",
            "why_excluded": v.reason or "",
            "off_nadir_deg": round(v.pass_.off_nadir, 2),
            "slant_range_km": round(v.pass_.slant_range_km, 1),
            "heading_deg": round(v.pass_.heading, 1),
            "subsatellite_lat": round(v.pass_.sub_lat, 5),
            "subsatellite_lon": round(v.pass_.sub_lon, 5),
        }
        for v in verdicts
    ]
    columns = [
        "satellite",
        "time_utc",
        "incidence_deg",
        "look_side",
        "pass_direction",
        "qualifies",
        "why_excluded",
        "off_nadir_deg",
        "slant_range_km",
        "heading_deg",
        "subsatellite_lat",
        "subsatellite_lon",
    ]
    return str(pd.DataFrame(rows, columns=columns).to_csv(index=False))


# --- which pass is selected ------------------------------------------------------------------


def _signature(verdicts: Sequence[Verdict]) -> str:
    return hashlib.sha256("|".join(v.id for v in verdicts).encode()).hexdigest()[:16]


def _table_state(rows: list[int]) -> dict[str, Any]:
    return {"selection": {"rows": rows, "columns": [], "cells": []}}


def _selected_rows(state: Any) -> list[int]:
    try:
        rows = state["selection"]["rows"]
    except (KeyError, TypeError):
        return []
    return [int(r) for r in rows]


def selected(verdicts: Sequence[Verdict]) -> Verdict | None:
    """The selected pass of this list (call before the map and the table are drawn).

    Table rows are positions: when the list itself changed (another point or window), the row
    would name another pass, so the selection follows the pass's identity instead, or is cleared.
    """
    ids = [v.id for v in verdicts]
    signature = _signature(verdicts)
    if keys.PASS_LIST.get() == signature:
        rows = [r for r in _selected_rows(keys.PASS_TABLE.get()) if 0 <= r < len(ids)]
        if rows:
            keys.SELECTED_PASS.set(ids[rows[0]])
        else:
            keys.SELECTED_PASS.pop()
    else:
        chosen = keys.SELECTED_PASS.get()
        if chosen in ids:
            keys.PASS_TABLE.set(_table_state([ids.index(chosen)]))
        else:
            keys.SELECTED_PASS.pop()
            keys.PASS_TABLE.set(_table_state([]))
        keys.PASS_LIST.set(signature)
    chosen = keys.SELECTED_PASS.get()
    return next((v for v in verdicts if v.id == chosen), None)


def _picked_on_chart(ids: Mapping[tuple[str, int], str]) -> None:
    """A click on a pass of the chart selects its row (the chart's own state is read-only).
    The chart names a pass by satellite and time (``chart_key``); ``ids`` maps those back."""
    state: Any = keys.PASS_CHART.get()
    try:
        picked = state["selection"][CHART_PARAM]
    except (KeyError, TypeError):
        return
    chosen = None
    for point in picked or []:
        if isinstance(point, dict) and isinstance(point.get("t"), int | float):
            chosen = ids.get((str(point.get("satellite")), round(point["t"])))
            break
    if chosen is not None:
        keys.SELECTED_PASS.set(chosen)
        keys.PASS_TABLE.set(_table_state([list(ids.values()).index(chosen)]))


# --- the chart -------------------------------------------------------------------------------


def epoch_ms(time: datetime) -> int:
    """A time as milliseconds since 1970 (UTC): how the chart carries it (Vega's own time)."""
    return round(time.timestamp() * 1000)


def chart_key(p: Pass) -> tuple[str, int]:
    """How the chart's selection names a pass: its satellite and time in milliseconds."""
    return p.satellite, epoch_ms(p.time)


INCIDENCE_SLOT = "{}"
"""Where the chart puts a pass's incidence back into its reason (``reason_template``)."""


def reason_template(v: Verdict) -> str | None:
    """The reason a pass is excluded, with its incidence (``41.3``) as ``INCIDENCE_SLOT``: the
    reasons of a window then repeat (an incidence outside 20–40°, a look side...) and travel
    once each; the chart fills the incidence back in. None: the pass qualifies."""
    if v.reason is None:
        return None
    return v.reason.replace(f"{v.pass_.incidence:.1f}°", f"{INCIDENCE_SLOT}°", 1)


def chart_data(verdicts: Sequence[Verdict], chosen: Verdict | None) -> pa.Table:
    """What the chart draws, one row per pass, as compact as the chart allows (it travels on
    every rerun: a map click is a new point, so new passes): time as epoch milliseconds,
    repeated strings as dictionaries, reasons as templates (``reason_template``), none on a
    qualifying pass. The spec derives the rest (verdict, the tooltip's time and reason)."""
    return pa.table(
        {
            "t": pa.array([float(epoch_ms(v.pass_.time)) for v in verdicts], pa.float64()),
            "satellite": _categories([v.pass_.satellite for v in verdicts]),
            "incidence": pa.array([round(v.pass_.incidence, 1) for v in verdicts], pa.float32()),
            "look side": _categories([v.pass_.look_side for v in verdicts]),
            "pass": _categories([v.pass_.pass_direction for v in verdicts]),
            "reason": _categories([reason_template(v) for v in verdicts]),
            "selected": pa.array(
                [chosen is not None and v.id == chosen.id for v in verdicts], pa.bool_()
            ),
        }
    )


@st.cache_data(show_spinner=False, max_entries=32)
def chart_spec(
    incidence_min: float, incidence_max: float, start: datetime, end: datetime
) -> dict[str, Any]:
    """The Altair chart as a Vega-Lite spec without its data: time on x (UTC), incidence on y,
    colour by qualifying/excluded, the allowed incidence band shaded, a ring on the selected pass,
    and a click selection (``pick``, by satellite and time). Built (and validated) once per
    options and window; each rerun only sends the data, which keeps a map click cheap."""
    x_scale = alt.Scale(type="utc", domain=[start.isoformat(), end.isoformat()])
    x = alt.X("t:T", scale=x_scale, title="Time (UTC)", axis=alt.Axis(format="%d %b %H:%M"))
    y = alt.Y(
        "incidence:Q", scale=alt.Scale(domain=[0, MAX_INCIDENCE]), title="Incidence angle (°)"
    )
    # The band is two numbers of the spec, not a dataset of its own.
    band = (
        alt.Chart()
        .mark_rect(color=KEPT_COLOUR, opacity=0.07)
        .encode(y=alt.datum(incidence_min), y2=alt.datum(incidence_max))
    )
    pick = alt.selection_point(name=CHART_PARAM, fields=["satellite", "t"], on="click", clear=False)
    points = (
        alt.Chart()
        .mark_point(filled=True, size=80, cursor="pointer")
        .transform_calculate(
            verdict=f"datum.reason ? '{EXCLUDED}' : '{KEPT}'",
            when="utcFormat(datum.t, '%Y-%m-%d %H:%M:%S') + ' UTC'",
            why=(
                f"datum.reason ? replace(datum.reason, '{INCIDENCE_SLOT}', "
                "format(datum.incidence, '.1f')) : 'satisfies the options'"
            ),
        )
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "verdict:N",
                scale=alt.Scale(domain=[KEPT, EXCLUDED], range=[KEPT_COLOUR, EXCLUDED_COLOUR]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            shape=alt.Shape(
                "look side:N",
                scale=alt.Scale(
                    domain=["LEFT", "RIGHT"], range=["triangle-left", "triangle-right"]
                ),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("satellite:N"),
                alt.Tooltip("when:N", title="Time (UTC)"),
                alt.Tooltip("incidence:Q", title="Incidence (°)", format=".1f"),
                alt.Tooltip("look side:N"),
                alt.Tooltip("pass:N", title="Pass direction"),
                alt.Tooltip("why:N", title="reason"),
            ],
        )
        .add_params(pick)
    )
    ring = (
        alt.Chart()
        .mark_point(filled=False, size=420, strokeWidth=2.5, color=SELECTED_COLOUR)
        .encode(x=x, y=y)
        .transform_filter("datum.selected")
    )
    spec: dict[str, Any] = alt.layer(band, points, ring).properties(height=220).to_dict()
    # Altair names a data-less chart's dataset "empty"; without it the points and the ring take
    # the data Streamlit attaches at the top level on every rerun (the band needs none).
    for layer in spec["layer"]:
        layer.pop("data", None)
    spec["layer"][0]["data"] = {"values": [{}]}
    spec.pop("datasets", None)
    return spec


# --- the map ---------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=1024)
def _track(digest: str, satellite: str, time: datetime, _sats: Constellation) -> list[Any]:
    # ``digest`` stands for the elements (``_sats`` is not hashed); a pass's track never changes.
    sat = _sats.by_name().get(satellite)
    if sat is None:
        return []
    try:
        return ground_track(sat, time - TRACK_HALF_SPAN, time + TRACK_HALF_SPAN, TRACK_STEP_S)
    except TaskingError:
        return []


def _label(p: Pass) -> str:
    """A tooltip short enough to read in one glance (the table has the rest)."""
    return f"{p.satellite} · {p.time:%d %b %H:%M} UTC"


def tracks(constellation: Constellation, verdicts: Sequence[Verdict]) -> folium.FeatureGroup:
    """Faint ground tracks (±5 min) of the passes, qualifying ones in blue, excluded ones grey and
    dashed, for the map's ``feature_group_to_add``."""
    excluded = [v for v in verdicts if not v.kept][:MAX_EXCLUDED_TRACKS]
    drawn = excluded + [v for v in verdicts if v.kept][:MAX_KEPT_TRACKS]  # qualifying on top
    styles: list[dict[str, object]] = [
        {"color": EXCLUDED_COLOUR, "weight": 1, "opacity": 0.4, "dashArray": "3 5"},
        {"color": KEPT_COLOUR, "weight": 1.5, "opacity": 0.4},
    ]
    lines = []
    for v in drawn:
        points = _track(constellation.digest, v.pass_.satellite, v.pass_.time, constellation)
        if points:
            lines.append((points, 1 if v.kept else 0, _label(v.pass_)))
    seed = "tracks:" + constellation.digest + ":" + ",".join(f"{v.id}:{v.kept}" for v in drawn)
    return group("Predicted passes", seed, [Lines(styles, lines)] if lines else [])


def highlight(
    constellation: Constellation, chosen: Verdict | None, lat: float, lon: float, mode: str
) -> folium.FeatureGroup:
    """The selected pass: its ground track, the predicted scene footprint at the point (the
    mode's scene size, along the track) and the line of sight from the satellite's ground
    position at imaging time to the point (empty when nothing is selected)."""
    if chosen is None:
        return group("Selected pass", "selected:none", [])
    p = chosen.pass_
    children: list[folium.Element] = []
    points = _track(constellation.digest, p.satellite, p.time, constellation)
    if points:
        children.append(
            polyline(
                points,
                color=SELECTED_COLOUR,
                weight=4,
                opacity=1.0,
                tooltip=f"Selected: {_label(p)}",
            )
        )
    sub = (p.sub_lat, p.sub_lon)
    children.append(
        polyline(
            [sub, (lat, lon)],
            color=SELECTED_COLOUR,
            weight=2,
            dash="6 6",
            opacity=0.9,
            tooltip=f"Line of sight, looking {p.look_side}",
        )
    )
    children.append(dot(sub, color=SELECTED_COLOUR, tooltip=f"{p.satellite} at imaging time"))
    info = modes.mode_info(mode)
    look: LookSide = "LEFT" if p.look_side == "LEFT" else "RIGHT"
    try:
        corners = scene_footprint(lat, lon, p.heading, look, info.range_km, info.azimuth_km)
    except TaskingError:
        corners = []
    if corners:
        children.append(
            polygon(
                corners,
                color=SELECTED_COLOUR,
                fill=SELECTED_COLOUR,
                tooltip=f"Predicted footprint ({info.label}, {info.range_km:g}×{info.azimuth_km:g} km)",
            )
        )
    seed = f"selected:{constellation.digest}:{chosen.id}:{lat!r}:{lon!r}:{info.name}"
    return group("Selected pass", seed, children)


# --- aiming at a pass ------------------------------------------------------------------------


@dataclass(frozen=True)
class Aim:
    """The options that aim an order at one pass: its look side and direction, and an incidence
    range around its incidence inside what ICEYE accepts."""

    pass_id: str
    satellite: str
    time: datetime
    look_side: str
    pass_direction: str
    incidence_min: int
    incidence_max: int


def aim_for(p: Pass) -> Aim | None:
    """The aim at ``p``; None when its incidence is outside what can be ordered (10–45°)."""
    low_limit, high_limit = modes.INCIDENCE_LIMITS
    if not low_limit <= p.incidence <= high_limit:
        return None
    low = max(low_limit, math.floor(p.incidence - AIM_MARGIN_DEG))
    high = min(high_limit, math.ceil(p.incidence + AIM_MARGIN_DEG))
    return Aim(pass_id(p), p.satellite, p.time, p.look_side, p.pass_direction, low, high)


def aim_constraints(aim: Aim) -> Constraints:
    return Constraints(aim.incidence_min, aim.incidence_max, aim.look_side, aim.pass_direction)


def still_qualifying(aim: Aim, verdicts: Sequence[Verdict]) -> list[Pass]:
    """The other passes that the aimed options keep."""
    wanted = aim_constraints(aim)
    return [
        v.pass_
        for v in verdicts
        if v.id != aim.pass_id and exclusion_reason(v.pass_, wanted) is None
    ]


def aim_message(aim: Aim, verdicts: Sequence[Verdict]) -> str:
    others = still_qualifying(aim, verdicts)
    text = (
        f"**Aimed at {plain(aim.satellite)}** ({when(aim.time)}): look side {aim.look_side}, "
        f"{aim.pass_direction} pass, incidence {aim.incidence_min}–{aim.incidence_max}°. "
    )
    if all(v.id != aim.pass_id for v in verdicts):
        # The window moved (it follows the clock until edited) or was changed.
        text += "That pass is no longer inside the window. "
    if not others:
        return text + (
            "No other pass of the window qualifies: if another order takes this one, the task "
            "is rejected. Widen the incidence range or the window to keep alternatives."
            if any(v.id == aim.pass_id for v in verdicts)
            else "No pass of the window qualifies with these options."
        )
    listed = ", ".join(f"{plain(p.satellite)} at {when(p.time)}" for p in others[:5])
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    count = f"{len(others)} other pass{'es' if len(others) > 1 else ''}"
    return text + f"{count} still qualif{'y' if len(others) > 1 else 'ies'}: {listed}{more}."


# --- feasibility opportunities ---------------------------------------------------------------


def matching_pass(
    passes: Sequence[Pass],
    start: datetime | None,
    look_side: str | None,
    pass_direction: str | None,
) -> Pass | None:
    """The predicted pass an opportunity of a feasibility answer is on (ICEYE's opportunity does
    not name the satellite): the nearest in time within ``OPPORTUNITY_TOLERANCE`` with the same
    look side and direction, or None."""
    if start is None:
        return None
    candidates = [
        p
        for p in passes
        if abs(p.time - start) <= OPPORTUNITY_TOLERANCE
        and look_side in (None, "ANY", p.look_side)
        and pass_direction in (None, "ANY", p.pass_direction)
    ]
    return min(candidates, key=lambda p: abs(p.time - start), default=None)


# --- the panel -------------------------------------------------------------------------------


def show_panel(
    verdicts: Sequence[Verdict],
    chosen: Verdict | None,
    constraints: Constraints,
    start: datetime,
    end: datetime,
    on_aim: Any,
) -> None:
    """Summary, chart, table (with CSV), and the selected pass with "Aim for this pass".
    ``on_aim(aim)`` is the callback that puts an aim into the form."""
    st.markdown(summary(verdicts))
    if not verdicts:
        return
    ids = {chart_key(v.pass_): v.id for v in verdicts}
    spec = chart_spec(constraints.incidence_min, constraints.incidence_max, start, end)
    st.vega_lite_chart(
        chart_data(verdicts, chosen),
        spec,
        width="stretch",
        key=keys.PASS_CHART.name,
        # st.vega_lite_chart takes no ``args`` for its callback (Streamlit 1.67).
        on_select=functools.partial(_picked_on_chart, ids),
        selection_mode=CHART_PARAM,
    )
    st.caption(
        "Blue: passes the options allow; grey: excluded, with the reason. Click a pass, or a row "
        "below, to see its track and footprint on the map. Same prediction code as the sandbox's "
        "scheduler; the real schedule also depends on other orders."
    )
    st.dataframe(
        table(verdicts),
        hide_index=True,
        width="stretch",
        height=min(36 + 35 * len(verdicts), 36 + 35 * 8),
        key=keys.PASS_TABLE.name,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "Satellite": st.column_config.TextColumn(width="small"),
            "Time (UTC)": st.column_config.DatetimeColumn(format="D MMM HH:mm:ss"),
            "Incidence (°)": st.column_config.NumberColumn("Incidence", format="%.1f°"),
            "Look side": st.column_config.TextColumn("Look", width="small"),
            "Why excluded": st.column_config.TextColumn(width="large"),
        },
    )
    left, right = st.columns([3, 1], vertical_alignment="center")
    with right:
        st.download_button(
            "Passes as CSV",
            # Made when the button is pressed, not on every rerun: the browser fetched the
            # file after each map click (3 KiB) although nobody had asked for it.
            functools.partial(csv_text, list(verdicts)),
            file_name=f"passes-{start:%Y%m%dT%H%M}Z.csv",
            mime="text/csv",
            key=keys.PASS_CSV.name,
            icon=":material/download:",
            on_click="ignore",
            width="stretch",
        )
    with left:
        if chosen is None:
            st.caption("Select a pass to aim the order at it.")
        else:
            _show_chosen(chosen, on_aim)
    aimed = keys.AIMED.get()
    if isinstance(aimed, Aim) and aim_constraints(aimed) == constraints:
        st.info(aim_message(aimed, verdicts), icon=":material/my_location:")


def _show_chosen(chosen: Verdict, on_aim: Any) -> None:
    p = chosen.pass_
    state = "qualifies" if chosen.kept else f"excluded: {chosen.reason}"
    st.markdown(
        f"**{plain(p.satellite)}** · {when(p.time, seconds=True)} · {p.incidence:.1f}° · "
        f"{p.look_side} · {p.pass_direction} · {plain(state)}"
    )
    aim = aim_for(p)
    st.button(
        "Aim for this pass",
        key=keys.AIM.name,
        icon=":material/my_location:",
        disabled=aim is None,
        on_click=on_aim,
        args=(aim,),
        help=(
            "Sets look side, pass direction and an incidence range of about "
            f"±{AIM_MARGIN_DEG}° around this pass in the options."
            if aim is not None
            else f"Its incidence {p.incidence:.1f}° is outside the 10–45° ICEYE accepts."
        ),
    )
