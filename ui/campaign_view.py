"""A campaign's view and the list of campaigns (issue 12)."""

from __future__ import annotations

import streamlit as st

from tasking.service import TaskingService


def render_campaign(service: TaskingService, campaign_id: str) -> None:
    st.title("Campaign")


def render_campaign_list(service: TaskingService) -> None:
    st.subheader("Campaigns")
