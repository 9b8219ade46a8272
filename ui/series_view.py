"""Recurring series: the list, one series' occurrences, and the recurrence input (issue 12)."""

from __future__ import annotations

import streamlit as st

from tasking.service import TaskingService


def render_series(service: TaskingService, series_id: str) -> None:
    st.title("Series")


def render_series_list(service: TaskingService) -> None:
    st.subheader("Recurring series")
