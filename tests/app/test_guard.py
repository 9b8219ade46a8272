"""Every fragment and dialog body goes through ``ui.guard``: a failure inside one is shown readably
and recorded, never a traceback, and the tests' guard (conftest ``no_page_ever_raises``) sees it."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.sandbox.control import SandboxControl
from tasking.service import TaskingService
from tests.app.conftest import ROOT, Unexpected
from tests.app.helpers import order

NEW_TASK = "views/new_task.py"
MONITOR = "views/monitor.py"
NOTIFICATIONS = "views/notifications.py"
WORK_QUEUE = "views/work_queue.py"
HELSINKI = {"poi_lat": 60.1699, "poi_lon": 24.9384}


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    return ast.unparse(target)


def fragments_and_dialogs() -> Iterator[tuple[str, ast.FunctionDef]]:
    for folder in ("ui", "views"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef) and any(
                    _decorator_name(d) in ("st.fragment", "st.dialog") for d in node.decorator_list
                ):
                    yield f"{folder}/{path.name}:{node.name}", node


def test_every_fragment_and_dialog_body_is_guarded() -> None:
    found = list(fragments_and_dialogs())
    # the sidebar, the monitor's two, new task's two, the notification list, the work queue
    assert len(found) >= 7, found
    for where, node in found:
        names = [_decorator_name(d) for d in node.decorator_list]
        streamlit_at = max(i for i, n in enumerate(names) if n in ("st.fragment", "st.dialog"))
        # ``guarded`` directly under the Streamlit decorator: it is what Streamlit calls.
        assert names[streamlit_at + 1 : streamlit_at + 2] == ["guarded"], (where, names)


def boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("injected failure")


@pytest.fixture
def injected(no_page_ever_raises: Unexpected) -> Unexpected:
    no_page_ever_raises.allowed = True
    return no_page_ever_raises


def explained(at: AppTest, seen: Unexpected, action: str) -> None:
    """The failure reached the guard, was logged once, shown in words, and never as a traceback."""
    assert not at.exception, [e.value for e in at.exception]
    assert not seen.handled_by_streamlit, seen.handled_by_streamlit
    assert [r.args[0] for r in seen.guarded] == [action], [r.getMessage() for r in seen.guarded]
    errors = [str(e.value) for e in [*at.error, *at.sidebar.error]]
    assert any(f"Could not {action}" in e and "RuntimeError" in e for e in errors), errors


def test_a_failure_in_the_backend_panel_is_explained(
    open_app: Callable[..., AppTest], injected: Unexpected, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TaskingService, "answers", boom)
    explained(open_app(), injected, "check the backend")


def test_a_failure_in_the_clock_panel_is_explained(
    open_app: Callable[..., AppTest], injected: Unexpected, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ui.sidebar.when", boom)
    explained(open_app(), injected, "show the simulation clock")


def test_a_failure_in_the_notifications_panel_is_explained(
    open_app: Callable[..., AppTest], injected: Unexpected, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ui.sidebar.toast_new", boom)
    explained(open_app(), injected, "check the notifications")


def test_a_failure_in_the_notification_list_is_explained(
    open_app: Callable[..., AppTest], injected: Unexpected, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tasking.desk.Desk.unread_count", boom)
    explained(open_app(NOTIFICATIONS), injected, "list the notifications")


def test_a_failure_in_the_work_queue_is_explained(
    open_app: Callable[..., AppTest], injected: Unexpected, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ui.desk_view.worker_view", boom)
    explained(open_app(WORK_QUEUE), injected, "show the work queue")


def test_a_failure_in_the_monitors_live_panel_is_explained(
    open_app: Callable[..., AppTest],
    injected: Unexpected,
    monkeypatch: pytest.MonkeyPatch,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    task = order(client, control, reference="guarded monitor")
    monkeypatch.setattr("tasking.watch.refresh", boom)
    explained(open_app(MONITOR, query={"task": task.id}), injected, "refresh the task")


def test_a_failure_in_the_cancel_dialog_is_explained(
    open_app: Callable[..., AppTest],
    injected: Unexpected,
    monkeypatch: pytest.MonkeyPatch,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    task = order(client, control, reference="guarded cancel")
    at = open_app(MONITOR, query={"task": task.id})
    monkeypatch.setattr("tasking.monitoring.cancellation_fee", boom)
    at.button(key="mon_cancel").click().run()
    explained(at, injected, "cancel the task")


def test_a_failure_in_the_order_confirmation_is_explained(
    open_app: Callable[..., AppTest], injected: Unexpected, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)
    monkeypatch.setattr("ui.order.summary_rows", boom)
    next(b for b in at.button if b.label == "Create task…").click().run()
    explained(at, injected, "prepare the order")


def test_a_failure_in_the_order_outcome_panel_is_explained(
    open_app: Callable[..., AppTest],
    injected: Unexpected,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    at = open_app(NEW_TASK, **HELSINKI, nt_reference="guarded outcome")
    next(b for b in at.button if b.label == "Create task…").click().run()
    at.button(key="nt_confirm").click().run()  # placed: the page moved to the Monitor
    assert injected.guarded == []
    key = next(iter(journal_keys(tmp_path)))
    monkeypatch.setattr("ui.order.show_order", boom)
    at.switch_page(NEW_TASK)
    at.session_state["nt_order"] = key
    explained(at.run(), injected, "check whether the order was placed")


def journal_keys(tmp_path: Path) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'history.sqlite'}")
    with engine.connect() as conn:
        keys = [row[0] for row in conn.execute(text("SELECT key FROM orders"))]
    engine.dispose()
    return keys


def test_the_tests_guard_sees_an_exception_that_streamlit_handled_in_a_fragment(
    open_app: Callable[..., AppTest], injected: Unexpected, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proof that conftest's guard can fail a test: an unguarded fragment body that raises."""
    import ui.guard

    def unguarded(action: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
        return lambda body: body

    monkeypatch.setattr(ui.guard, "guarded", unguarded)
    monkeypatch.setattr("ui.sidebar.guarded", unguarded, raising=False)
    monkeypatch.setattr(TaskingService, "answers", boom)
    import importlib

    import ui.sidebar

    importlib.reload(ui.sidebar)
    try:
        open_app()
    finally:
        monkeypatch.undo()
        importlib.reload(ui.sidebar)
    assert [type(e) for e in injected.handled_by_streamlit] == [RuntimeError]
