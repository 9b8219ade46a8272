"""The three-step progress shown above every page: contract → task → monitor (ICEYE's demo, "The
demo uses a 3-step interface that mirrors the API workflow"). Each step links to its page."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from ui import keys, state
from ui.format import short_id

DONE = ":material/check_circle:"
CURRENT = ":material/radio_button_checked:"
TODO = ":material/radio_button_unchecked:"


@dataclass(frozen=True)
class Steps:
    contracts: StreamlitPage
    new_task: StreamlitPage
    monitor: StreamlitPage


def _contract_name() -> str | None:
    chosen = keys.CONTRACT_ID.get()
    if not chosen:
        return None
    loaded = keys.CONTRACTS.get([])
    match = next((c for c in loaded if c.id == chosen), None)
    return (match.name or match.id) if match else short_id(chosen)


def render_progress(steps: Steps, current: StreamlitPage) -> None:
    contract = _contract_name()
    task_id = keys.TASK_ID.get()
    labels = [
        (
            steps.contracts,
            f"1 · Contract: {contract}" if contract else "1 · Choose a contract",
            bool(contract),
        ),
        (steps.new_task, "2 · Describe the task", bool(task_id)),
        (steps.monitor, f"3 · Monitor {short_id(task_id)}" if task_id else "3 · Monitor", False),
    ]
    # A row that sizes each step to its label and wraps on a narrow screen (equal columns cut
    # a long contract name at 1024 px: "1 · Contract: Demo Analytic…").
    with st.container(horizontal=True, gap="small"):
        for page, label, done in labels:
            is_current = page.url_path == current.url_path
            icon = CURRENT if is_current else DONE if done else TODO
            params = {state.TASK_PARAM: task_id} if page is steps.monitor and task_id else None
            st.page_link(page, label=label, icon=icon, query_params=params, width="content")
