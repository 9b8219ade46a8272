"""Session state shared by the pages: the chosen contract, the task being monitored, the contracts.

Keys live here so that pages (and tests, which seed them) agree on their names. Widget values that
must survive a page switch use ``persist_state="session"`` (Streamlit ≥ 1.6x) instead of copies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from tasking.models import Contract
from tasking.service import TaskingService
from ui.errors import attempt

T = TypeVar("T")

# Page files, as registered with st.navigation in app.py (paths relative to app.py).
PAGE_CONTRACTS = "views/contracts.py"
PAGE_NEW_TASK = "views/new_task.py"
PAGE_MONITOR = "views/monitor.py"
PAGE_TASKS = "views/tasks.py"

CONTRACT_ID = "contract_id"
"""The contract chosen on the Contracts page (step 1)."""
TASK_ID = "task_id"
"""The task on the Monitor page (step 3); mirrored into the URL as ``?task=<id>``."""
TASK_PARAM = "task"
BUDGETS = "contract_budgets"
"""Budgets of the contracts (read once per session; forgotten when an order changes them)."""
CONTRACTS = "contracts"
"""The user's contracts, loaded once per session (ICEYE's demo: "GET Contracts … once")."""
LAST_ORDER = "nt_order"
"""Journal key of this session's last order, while New task shows where it stands."""
AWAITING_BACKEND = "awaiting_backend"
"""Set when a page could not load what it needs: the sidebar's health check reruns the page as
soon as the backend answers (recovery without Retry)."""
BACKEND_ANSWERED = "backend_answered"
"""The sidebar's last health reading in this session (a change to True reruns the page)."""


def needed(action: str, call: Callable[[], T]) -> T | None:
    """What a page cannot go on without: on failure the error is shown (with Retry) and the page
    is rerun by itself once the backend answers again."""
    value = attempt(action, call)
    if value is None:
        st.session_state[AWAITING_BACKEND] = True
    return value


def contracts(service: TaskingService) -> list[Contract] | None:
    """The user's contracts (None after an error, which is shown with Retry)."""
    if CONTRACTS not in st.session_state:
        loaded = needed("load your contracts", lambda: list(service.client.iter_contracts()))
        if loaded is None:
            return None
        st.session_state[CONTRACTS] = loaded
    value: list[Contract] = st.session_state[CONTRACTS]
    return value


def forget_contracts() -> None:
    st.session_state.pop(CONTRACTS, None)


def chosen_contract(available: list[Contract]) -> Contract | None:
    wanted = st.session_state.get(CONTRACT_ID)
    return next((c for c in available if c.id == wanted), None)


def choose_contract(contract_id: str) -> None:
    st.session_state[CONTRACT_ID] = contract_id


def current_task_id() -> str | None:
    """The monitored task: ``?task=`` in the URL wins (deep links), else the session's."""
    from_url = st.query_params.get(TASK_PARAM)
    if from_url:
        st.session_state[TASK_ID] = from_url.strip()
    task_id: str | None = st.session_state.get(TASK_ID)
    if task_id and st.query_params.get(TASK_PARAM) != task_id:
        # Mirror into the URL so that a reload or a shared link opens the same task.
        st.query_params[TASK_PARAM] = task_id
    return task_id


def open_task(task_id: str) -> None:
    """Switch to the Monitor on a task (query params are cleared between pages, so pass it)."""
    st.session_state[TASK_ID] = task_id
    st.switch_page(PAGE_MONITOR, query_params={TASK_PARAM: task_id})


def ensure(key: str, default: Any, options: list[Any] | None = None) -> None:
    """Give a widget's key its default, unless it holds a value that is still one of ``options``."""
    if key not in st.session_state or (
        options is not None and st.session_state[key] not in options
    ):
        st.session_state[key] = default
