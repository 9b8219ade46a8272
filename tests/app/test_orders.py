"""Ordering from the New task page: exactly one task whatever the user, the history or the
network does, and a page that always says where the order stands (issue 8)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.errors import HistoryError, RequestTimeout, ServerError
from tasking.history import TaskHistory
from tasking.models import Task, TaskRequest
from tasking.sandbox.server import start_in_background
from tests.app.conftest import free_port, texts

NEW_TASK = "views/new_task.py"
HELSINKI = {"poi_lat": 60.1699, "poi_lon": 24.9384}


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


def tasks_named(client: TaskingClient, reference: str) -> list[Task]:
    return [t for t in client.iter_tasks() if t.reference == reference]


def confirm(at: AppTest) -> AppTest:
    button(at, "Create task…").click().run()
    return at.button(key="nt_confirm").click().run()


def test_a_history_that_fails_after_create_still_opens_the_task_and_orders_once(
    open_app: Callable[..., AppTest], client: TaskingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise HistoryError("The local task history (sqlite) failed: OperationalError")

    monkeypatch.setattr(TaskHistory, "record", broken)
    at = confirm(open_app(NEW_TASK, **HELSINKI, nt_reference="history down"))

    (task,) = tasks_named(client, "history down")
    assert at.query_params["task"] == task.id  # the Monitor opened on it


def test_creating_the_same_order_again_is_refused_with_a_link_to_the_task(
    open_app: Callable[..., AppTest], client: TaskingClient
) -> None:
    at = confirm(open_app(NEW_TASK, **HELSINKI, nt_reference="double click"))
    (task,) = tasks_named(client, "double click")

    at.switch_page(NEW_TASK).run()
    button(at, "Create task…").click().run()

    assert "This exact order was already placed" in shown(at)
    assert task.id in shown(at)
    assert at.button(key="nt_confirm").disabled
    at.button(key="nt_existing_open").click().run()
    assert at.query_params["task"] == task.id
    assert len(tasks_named(client, "double click")) == 1


def test_an_unanswered_create_is_checked_and_confirmed_without_a_second_send(
    open_app: Callable[..., AppTest], client: TaskingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[TaskRequest] = []
    original_send = TaskingClient.send_create
    original_find = TaskingClient.matching_tasks

    def lost_answer(self: TaskingClient, request: TaskRequest) -> Task:
        sent.append(request)
        original_send(self, request)
        raise RequestTimeout("POST /api/tasking/v2/tasks timed out")

    def not_arrived_yet(self: TaskingClient, request: TaskRequest, since: object) -> list[Task]:
        return []

    monkeypatch.setattr(TaskingClient, "send_create", lost_answer)
    monkeypatch.setattr(TaskingClient, "matching_tasks", not_arrived_yet)
    at = confirm(open_app(NEW_TASK, **HELSINKI, nt_reference="lost answer"))

    assert "Checking whether the order was placed" in shown(at)
    assert "timed out" in shown(at)
    # The user tries again: nothing is sent while the order is being checked.
    button(at, "Create task…").click().run()
    assert "This exact order is being placed" in shown(at)
    assert at.button(key="nt_confirm").disabled

    monkeypatch.setattr(TaskingClient, "matching_tasks", original_find)
    at.button(key="nt_back").click().run()

    assert "The order is placed" in shown(at)
    assert len(sent) == 1 and len(tasks_named(client, "lost answer")) == 1
    at.button(key="nt_order_open").click().run()
    assert at.query_params["task"] == tasks_named(client, "lost answer")[0].id


def test_a_failed_recheck_clears_the_previous_verdict(
    open_app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)
    button(at, "Check feasibility").click().run()
    assert "**Feasible**" in texts(at)

    def down(*_args: object, **_kwargs: object) -> None:
        raise ServerError("feasibility failed", status_code=503, code="unavailable")

    monkeypatch.setattr(TaskingClient, "check_feasibility", down)
    button(at, "Check feasibility").click().run()

    assert "**Feasible**" not in texts(at)
    assert any("Could not check feasibility" in str(e.value) for e in at.error)


def test_new_task_recovers_by_itself_when_the_backend_comes_back_and_keeps_the_point(
    open_app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import streamlit as st

    port = free_port()
    monkeypatch.setenv("ICEYE_SANDBOX_URL", f"http://127.0.0.1:{port}")
    at = open_app(NEW_TASK, **HELSINKI, nt_reference="after the outage")
    assert any("Could not load your contracts" in str(e.value) for e in at.error)
    assert any("does not answer" in str(c.value) for c in at.sidebar.caption)

    handle = start_in_background(tmp_path / "late-sandbox", port=port, speed=1.0)
    try:
        st.cache_data.clear()  # the health reading's few seconds of validity have passed
        at.run()  # what the sidebar's timer does every few seconds; no Retry clicked
        assert not at.error, [e.value for e in at.error]
        assert any(" · answers" in str(c.value) for c in at.sidebar.caption)
        assert at.session_state["poi_lat"] == HELSINKI["poi_lat"]
        assert at.session_state["nt_reference"] == "after the outage"
        assert at.number_input(key="poi_lat").value == pytest.approx(HELSINKI["poi_lat"])
    finally:
        handle.stop()


def test_the_confirmation_sends_exactly_the_order_it_showed(
    open_app: Callable[..., AppTest], client: TaskingClient
) -> None:
    at = open_app(NEW_TASK, **HELSINKI, nt_reference="as shown")
    button(at, "Create task…").click().run()
    assert "as shown" in shown(at)
    # Between showing and sending, the form's request changes (a window that follows the clock
    # crossing the hour does the same): what is sent is what was shown.
    at.session_state["nt_reference"] = "changed behind the dialog"
    at.button(key="nt_confirm").click().run()

    assert len(tasks_named(client, "as shown")) == 1
    assert tasks_named(client, "changed behind the dialog") == []
