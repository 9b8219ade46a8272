"""The journey's shared state: the pages' paths, the chosen contract, the task being monitored, the
contracts. The session-state keys themselves live in ``ui.keys``.

Widget values that must survive a page switch use ``persist_state="session"`` (Streamlit ≥ 1.6x)
instead of copies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import streamlit as st

from tasking.errors import RateLimited, ServerError, TaskingError, TransportError
from tasking.models import Contract
from tasking.service import TaskingService
from ui import keys
from ui.errors import show_error

T = TypeVar("T")

# Page files, as registered with st.navigation in app.py (paths relative to app.py).
PAGE_CONTRACTS = "views/contracts.py"
PAGE_NEW_TASK = "views/new_task.py"
PAGE_MONITOR = "views/monitor.py"
PAGE_TASKS = "views/tasks.py"
PAGE_NOTIFICATIONS = "views/notifications.py"
PAGE_WORK_QUEUE = "views/work_queue.py"
PAGE_NEW_CAMPAIGN = "views/new_campaign.py"
PAGE_CAMPAIGNS = "views/campaigns.py"

TASK_PARAM = "task"
"""The URL's query parameter of the monitored task (``?task=<id>``)."""

CAMPAIGN_PARAM = "campaign"
"""The URL's query parameter of the campaign shown on the Campaigns page (``?campaign=<id>``)."""

SERIES_PARAM = "series"
"""The URL's query parameter of the recurring series shown on the Campaigns page (``?series=<id>``)."""


def needed(action: str, call: Callable[[], T]) -> T | None:
    """What a page cannot go on without: on failure the error is shown (with Retry); when the
    backend was unreachable or failing (no answer, 5xx, 429) the page is also rerun by itself once
    it answers again. A refusal (4xx) would fail the same way again: Retry only."""
    try:
        return call()
    except TaskingError as error:
        show_error(error, action, retry_key=keys.retry(action))
        if isinstance(error, TransportError | ServerError | RateLimited):
            keys.AWAITING_BACKEND.set(True)
        return None


def contracts(service: TaskingService) -> list[Contract] | None:
    """The user's contracts (None after an error, which is shown with Retry)."""
    loaded = keys.CONTRACTS.get()
    if loaded is None:
        loaded = needed("load your contracts", lambda: list(service.client.iter_contracts()))
        if loaded is None:
            return None
        keys.CONTRACTS.set(loaded)
    return loaded


def ordering_contract(
    service: TaskingService, nothing: str
) -> tuple[dict[str, str], Contract, datetime]:
    """What a page that orders needs first: the contracts' names by id, the chosen contract (the
    session's, else the first) and the backend's clock. Stops the page when one cannot be had
    (the error is shown, with Retry), or with ``nothing`` as a note when there is no contract."""
    loaded = contracts(service)
    if loaded is None:
        st.stop()
    if not loaded:
        st.info(nothing, icon=":material/info:")
        st.stop()
    now = needed("read the backend's clock", service.now)
    if now is None:
        st.stop()
    names = {c.id: c.name or c.id for c in loaded}
    keys.CONTRACT_ID.ensure(loaded[0].id, list(names))
    return names, next(c for c in loaded if c.id == keys.CONTRACT_ID.get()), now


def forget_contracts() -> None:
    keys.CONTRACTS.pop()


def choose_contract(contract_id: str) -> None:
    keys.CONTRACT_ID.set(contract_id)


def current_task_id() -> str | None:
    """The monitored task: ``?task=`` in the URL wins (deep links), else the session's."""
    from_url = st.query_params.get(TASK_PARAM)
    if from_url:
        keys.TASK_ID.set(from_url.strip())
    task_id = keys.TASK_ID.get()
    if task_id and st.query_params.get(TASK_PARAM) != task_id:
        # Mirror into the URL so that a reload or a shared link opens the same task.
        st.query_params[TASK_PARAM] = task_id
    return task_id


def open_task(task_id: str) -> None:
    """Switch to the Monitor on a task (query params are cleared between pages, so pass it)."""
    keys.TASK_ID.set(task_id)
    st.switch_page(PAGE_MONITOR, query_params={TASK_PARAM: task_id})
