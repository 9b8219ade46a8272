"""The tasks on a map, coloured by status (All tasks)."""

from __future__ import annotations

from collections.abc import Sequence

import folium
import streamlit as st
from streamlit_folium import st_folium

from tasking.models import Task
from ui import keys
from ui.format import short_id
from ui.layers import dot, group
from ui.maps import base_map
from ui.task_table import MAX_MARKERS, OTHER_COLOUR, STATUS_COLOURS, legend_html


def markers(tasks: Sequence[Task]) -> folium.FeatureGroup:
    shown = list(tasks)[:MAX_MARKERS]
    dots = [
        dot(
            (t.pointOfInterest.lat, t.pointOfInterest.lon),
            color=STATUS_COLOURS.get(t.status, OTHER_COLOUR),
            tooltip=f"{t.reference or short_id(t.id)} · {t.status} · {t.imagingMode}",
        )
        for t in shown
    ]
    seed = "tasks:" + ",".join(f"{t.id}:{t.status}" for t in shown)
    return group("Tasks", seed, dots)


def task_map(tasks: Sequence[Task]) -> None:
    st_folium(
        base_map(),
        key=keys.TASKS_MAP.name,
        returned_objects=[],
        feature_group_to_add=markers(tasks),
        height=380,
        use_container_width=True,
    )
    st.markdown(legend_html(), unsafe_allow_html=True)
    if len(tasks) > MAX_MARKERS:
        st.caption(f"The map shows the first {MAX_MARKERS} of {len(tasks)} tasks.")
