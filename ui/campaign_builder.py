"""The New campaign page's work (issue 12): targets, tiles, batch feasibility, create."""

from __future__ import annotations

import streamlit as st

from tasking.service import TaskingService


def render_builder(service: TaskingService) -> None:
    st.title("New campaign")
