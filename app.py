"""ICEYE tasking console: settings → one cached backend → st.navigation.

Run with ``streamlit run app.py``. Without ICEYE credentials the app starts its own sandbox (a
simulated ICEYE constellation) and needs no network at all; with ``ICEYE_API_URL``,
``ICEYE_AUTH_URL``, ``ICEYE_CLIENT_ID`` and ``ICEYE_CLIENT_SECRET`` (environment, ``.env`` or
``.streamlit/secrets.toml``) it talks to ICEYE's API Platform with the same code.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import streamlit as st

from tasking.errors import TaskingError
from ui import keys, state
from ui.errors import show_error
from ui.guard import show_unexpected
from ui.progress import Steps, render_progress
from ui.service import get_service, warm_up_in_background
from ui.sidebar import render_sidebar

timing = logging.getLogger("ui.timing")

st.set_page_config(
    page_title="ICEYE tasking console",
    page_icon="🛰️",  # an emoji favicon is drawn locally; a :material: one loads from Google
    layout="wide",
)

# The product's name on every page, above the navigation (local SVGs: nothing is fetched); with
# the sidebar collapsed (a phone) the header shows the icon, drawn for the light page background.
BRAND = Path(__file__).parent / "static" / "brand"
st.logo(str(BRAND / "logo.svg"), size="large", icon_image=str(BRAND / "icon.svg"))

contracts = st.Page(
    state.PAGE_CONTRACTS,
    title="Contracts",
    url_path="contracts",
    icon=":material/contract:",
    default=True,
)
new_task = st.Page(
    state.PAGE_NEW_TASK, title="New task", url_path="new-task", icon=":material/add_location_alt:"
)
monitor = st.Page(
    state.PAGE_MONITOR, title="Monitor", url_path="monitor", icon=":material/monitoring:"
)
new_campaign = st.Page(
    state.PAGE_NEW_CAMPAIGN,
    title="New campaign",
    url_path="new-campaign",
    icon=":material/scatter_plot:",
)
campaigns = st.Page(
    state.PAGE_CAMPAIGNS, title="Campaigns", url_path="campaigns", icon=":material/map:"
)
tasks = st.Page(state.PAGE_TASKS, title="All tasks", url_path="tasks", icon=":material/list_alt:")
notifications = st.Page(
    state.PAGE_NOTIFICATIONS,
    title="Notifications",
    url_path="notifications",
    icon=":material/notifications:",
)
work_queue = st.Page(
    state.PAGE_WORK_QUEUE,
    title="Work queue",
    url_path="work-queue",
    icon=":material/pending_actions:",
)
page = st.navigation(
    {
        "Tasking": [contracts, new_task, monitor, new_campaign],
        "Workspace": [tasks, campaigns, notifications, work_queue],
    }
)

try:
    service = get_service()
except TaskingError as error:
    # Bad settings or a sandbox that could not start: nothing else can work, say why and stop.
    st.title("ICEYE tasking console")
    action = "start the backend"
    show_error(error, action, retry_key=keys.retry(action))
    st.stop()

started = time.perf_counter()
render_sidebar(service)
if page.url_path in (contracts.url_path, new_task.url_path, monitor.url_path):
    # The journey's three steps; the workspace pages stand apart from it.
    render_progress(Steps(contracts, new_task, monitor), page)
try:
    page.run()
except TaskingError as error:
    # Last resort: a failure a page did not handle itself is still shown readably, never as a
    # traceback (st.rerun and st.stop derive from BaseException and pass through).
    show_error(error, f"show {page.title}")
except Exception as error:
    show_unexpected(error, f"show {page.title}")
finally:
    # The page's own work per rerun (PRODUCT.md target: under 100 ms after a map click), for
    # bench/ and for anyone running with --logger.level=debug. st.rerun/st.stop pass through.
    timing.debug("%s rerun %.1f ms", page.url_path or "home", (time.perf_counter() - started) * 1e3)

# Once per process, once a first screen is drawn: the map pages' imports and the place index, in
# the background (ui.service), so the first New task does not wait for them.
warm_up_in_background()
