"""Predicted passes for the New task form: every opportunity of the constellation over the point in
the window, kept or excluded by the current options (with the option that excludes it), as a
timeline chart and as ground tracks on the map.

Uses ``tasking.passes`` — the code the sandbox schedules with — so the preview and the sandbox
agree. Predictions are cached per (elements, point, window); the options only re-label them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import altair as alt
import folium
import pandas as pd
import streamlit as st

from tasking import modes
from tasking.errors import TaskingError
from tasking.passes import Constraints, Pass, exclusion_reason, ground_track, predict_passes
from tasking.rules import TaskDraft
from ui.elements import Constellation
from ui.format import plain, when
from ui.layers import group, polyline

# The commercially supported ceiling (Tasking API v2: incidence 10..45): passes steeper than 45°
# cannot be ordered, so the preview does not list them; shallower than 10° are listed as excluded.
MAX_INCIDENCE = float(modes.INCIDENCE_LIMITS[1])
# Ground track drawn around each kept pass (issue 5: "the satellite's ground track around the
# imaging time"): ±5 min is ~±2,200 km of track at ICEYE's ~7.6 km/s ground speed.
TRACK_HALF_SPAN = timedelta(minutes=5)
TRACK_STEP_S = 30.0
# Enough tracks to see the geometry; more only clutters the map.
MAX_TRACKS = 24
KEPT, EXCLUDED = "kept", "excluded"
KEPT_COLOUR, EXCLUDED_COLOUR = "#0b6bcb", "#a9b6c2"


@dataclass(frozen=True)
class Verdict:
    pass_: Pass
    reason: str | None

    @property
    def kept(self) -> bool:
        return self.reason is None


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


def frame(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "time": v.pass_.time,
                "when": when(v.pass_.time, seconds=True),
                "satellite": v.pass_.satellite,
                "incidence": round(v.pass_.incidence, 1),
                "look side": v.pass_.look_side,
                "pass": v.pass_.pass_direction,
                "verdict": KEPT if v.kept else EXCLUDED,
                "reason": v.reason or "satisfies the options",
            }
            for v in verdicts
        ],
        columns=[
            "time",
            "when",
            "satellite",
            "incidence",
            "look side",
            "pass",
            "verdict",
            "reason",
        ],
    )


@st.cache_data(show_spinner=False, max_entries=32)
def chart_spec(
    incidence_min: float, incidence_max: float, start: datetime, end: datetime
) -> dict[str, Any]:
    """The Altair chart as a Vega-Lite spec without its data: time on x (UTC), incidence on y,
    colour by kept/excluded, the allowed incidence band shaded. Built (and validated) once per
    options and window; each rerun only sends the data, which keeps a map click cheap."""
    x_scale = alt.Scale(type="utc", domain=[start.isoformat(), end.isoformat()])
    band = (
        alt.Chart(alt.InlineData(values=[{"low": incidence_min, "high": incidence_max}]))
        .mark_rect(color=KEPT_COLOUR, opacity=0.07)
        .encode(y="low:Q", y2="high:Q")
    )
    points = (
        alt.Chart()
        .mark_point(filled=True, size=70)
        .encode(
            x=alt.X(
                "time:T", scale=x_scale, title="Time (UTC)", axis=alt.Axis(format="%d %b %H:%M")
            ),
            y=alt.Y(
                "incidence:Q",
                scale=alt.Scale(domain=[0, MAX_INCIDENCE]),
                title="Incidence angle (°)",
            ),
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
                alt.Tooltip("when:N", title="Time (UTC)"),
                alt.Tooltip("satellite:N"),
                alt.Tooltip("incidence:Q", title="Incidence (°)"),
                alt.Tooltip("look side:N"),
                alt.Tooltip("pass:N", title="Pass direction"),
                alt.Tooltip("reason:N"),
            ],
        )
    )
    spec: dict[str, Any] = alt.layer(band, points).properties(height=240).to_dict()
    # Altair names a data-less chart's dataset "empty"; without it the points layer takes the
    # data Streamlit attaches at the top level on every rerun.
    spec["layer"][1].pop("data", None)
    return spec


def tracks(constellation: Constellation, verdicts: Sequence[Verdict]) -> folium.FeatureGroup:
    """Ground tracks (±5 min) of the first kept passes, for the map's ``feature_group_to_add``."""
    satellites = constellation.by_name()
    lines = []
    kept = [v.pass_ for v in verdicts if v.kept][:MAX_TRACKS]
    for p in kept:
        sat = satellites.get(p.satellite)
        if sat is None:
            continue
        try:
            points = ground_track(
                sat, p.time - TRACK_HALF_SPAN, p.time + TRACK_HALF_SPAN, TRACK_STEP_S
            )
        except TaskingError:
            continue
        label = (
            f"{p.satellite} · {when(p.time)} · {p.incidence:.1f}° {p.look_side} {p.pass_direction}"
        )
        lines.append(polyline(points, color=KEPT_COLOUR, weight=2, opacity=0.7, tooltip=label))
    seed = (
        "tracks:"
        + constellation.digest
        + ":"
        + ",".join(f"{p.satellite}@{p.time.isoformat()}" for p in kept)
    )
    return group("Predicted passes", seed, lines)


def show_panel(
    verdicts: Sequence[Verdict], constraints: Constraints, start: datetime, end: datetime
) -> None:
    st.markdown(summary(verdicts))
    if not verdicts:
        return
    data = frame(verdicts)
    spec = chart_spec(constraints.incidence_min, constraints.incidence_max, start, end)
    st.vega_lite_chart(data, spec, width="stretch")
    st.caption(
        "Blue: passes the options allow (their ground tracks are on the map); grey: excluded, "
        "with the option that excludes them in the tooltip. Same prediction code as the sandbox's "
        "scheduler; the real schedule also depends on other orders."
    )
    with st.expander(f"All {len(verdicts)} passes"):
        st.dataframe(data.drop(columns=["time"]), hide_index=True, width="stretch")
