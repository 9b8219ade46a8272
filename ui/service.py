"""The app's one ``TaskingService`` (``tasking.service``), built once per process.

``get_service()`` is cached with ``st.cache_resource``: every browser session shares one client (one
connection pool, one token), one store and, in sandbox mode, one sandbox. A failed build is not
cached (Retry builds again) and leaves nothing running (``build_service`` stops what it started);
the cache's release hook closes the service when Streamlit drops it (``st.cache_resource.clear``).
With ``ICEYE_WORKER=auto`` (the default) the service also runs the background worker in this
process (``tasking.worker``), so ``streamlit run app.py`` alone follows tasks and notifies.
"""

from __future__ import annotations

import logging

import streamlit as st

from tasking.config import load_settings
from tasking.service import TaskingService, build_service

__all__ = ["get_service"]

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
