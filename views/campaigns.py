"""Campaigns: the campaigns and recurring series of this store. ``?campaign=<id>`` opens one
campaign (progress per target, coverage map, quicklooks, export), ``?series=<id>`` one series (past,
current and upcoming occurrences; pause, resume, cancel); without either, both are listed."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.campaign_view import render_campaign, render_campaign_list
from ui.series_view import render_series, render_series_list
from ui.service import get_service

service = get_service()
campaign_id = st.query_params.get(state.CAMPAIGN_PARAM)
series_id = st.query_params.get(state.SERIES_PARAM)
if campaign_id:
    render_campaign(service, campaign_id.strip())
elif series_id:
    render_series(service, series_id.strip())
else:
    st.title("Campaigns")
    render_campaign_list(service)
    render_series_list(service)
