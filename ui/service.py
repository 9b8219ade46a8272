"""The app's one ``TaskingService`` (``tasking.service``), built once per process.

``get_service()`` is cached with ``st.cache_resource``: every browser session shares one client (one
connection pool, one token), one store and, in sandbox mode, one sandbox. A failed build is not
cached (Retry builds again) and leaves nothing running (``build_service`` stops what it started);
the cache's release hook closes the service when Streamlit drops it (``st.cache_resource.clear``).
With ``ICEYE_WORKER=auto`` (the default) the service also runs the background worker in this
process (``tasking.worker``), so ``streamlit run app.py`` alone follows tasks and notifies.

The first screen (Contracts) needs only the service. ``warm_up_in_background`` (called by app.py
once a page has been drawn) then imports what the map pages need and builds the place-search
index in a background thread, once per process, so the first New task does not wait for them.
"""

from __future__ import annotations

import importlib
import logging
import threading

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from tasking.config import load_settings
from tasking.service import TaskingService, build_service

__all__ = ["get_service", "warm_up_in_background"]

log = logging.getLogger(__name__)


def _close(service: TaskingService) -> None:
    service.close()


@st.cache_resource(show_spinner="Starting the backend…", on_release=_close)
def get_service() -> TaskingService:
    """The process-wide service (built on first use; a failure is not cached, so Retry works)."""
    service = build_service(load_settings())
    # Orders a previous run left open (the app stopped mid-create) are settled first.
    try:
        service.reconcile_open()
    except Exception:  # never let this keep the app (and its sandbox) from starting
        # The journal's own problem shows on the pages that use it.
        log.exception("open orders not reconciled at start-up")
    # ICEYE_WORKER=auto: this process also runs a worker, active while no other holds the lease.
    try:
        service.start_worker()
    except Exception:  # the pages still work without it: the Monitor polls ICEYE itself
        log.exception("the background worker did not start")
    return service


LATER_MODULES = ("ui.passes_view", "ui.poi_map", "ui.scene_map")
"""What New task and the Monitor import beyond the first screen (folium, altair, pandas, pyarrow,
streamlit-folium): about 4 s of CPU on a busy 2-core machine (bench/README.md)."""


def _warm_up() -> None:
    for name in LATER_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # its page imports it again and reports the failure there
            log.exception("warm-up: %s not imported", name)
    try:
        from ui.place_search import warm_up_in_background as places

        places()  # st.cache_resource: New task's own call gets this same index-building thread
    except Exception:
        log.exception("warm-up: the place-search index was not built")


@st.cache_resource(show_spinner=False)
def warm_up_in_background() -> threading.Thread:
    """Once per process, after the first screen: the later pages' imports and the place-search
    index, in a background thread (a page that needs one first simply waits for its import)."""
    thread = threading.Thread(target=_warm_up, name="pages-warm-up", daemon=True)
    # With this run's context: Streamlit registers a component (st_folium's) only when it is
    # declared with a ScriptRunContext, and a module is imported once, so without it the map's
    # frame would be a 404. Nothing in the thread draws anything.
    add_script_run_ctx(thread, get_script_run_ctx())
    thread.start()
    return thread
