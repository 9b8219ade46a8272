"""Regressions found in review: the Retry of a failed call repeats the call (All tasks' first
load, New task's feasibility check), and a failed "Load more" stays on screen instead of being
wiped by a rerun."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.errors import ServerError
from tasking.models import Task
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tests.app.conftest import no_exception, texts
from tests.app.helpers import order
from ui import task_table

TASKS = "views/tasks.py"


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


def failing_list(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make getTasks fail with a 500 until the returned function is called."""
    original = TaskingClient.list_tasks

    def broken(self: TaskingClient, *args: object, **kwargs: object) -> object:
        raise ServerError("boom", status_code=500, code="ERR_INTERNAL")

    monkeypatch.setattr(TaskingClient, "list_tasks", broken)
    return lambda: monkeypatch.setattr(TaskingClient, "list_tasks", original)


@pytest.fixture
def two_tasks(client: TaskingClient, control: SandboxControl) -> list[Task]:
    return [order(client, control, reference=f"Review {n}") for n in ("one", "two")]


def test_retry_after_a_failed_first_load_loads_the_list(
    open_app: Callable[..., AppTest], two_tasks: list[Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    heal = failing_list(monkeypatch)
    at = open_app(TASKS)
    assert "Could not list the tasks" in shown(at)

    heal()
    next(b for b in at.button if b.label == "Retry").click().run()

    no_exception(at)
    references = set(at.dataframe[0].value["Reference"])
    assert {t.reference for t in two_tasks} <= references


def test_a_failed_load_more_shows_its_error(
    open_app: Callable[..., AppTest], two_tasks: list[Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_table, "PAGE_SIZE", 1)
    monkeypatch.setattr("views.tasks.PAGE_SIZE", 1, raising=False)
    at = open_app(TASKS)
    more = next(b for b in at.button if b.label == "Load more")

    failing_list(monkeypatch)
    more.click().run()

    no_exception(at)
    assert "Could not list the tasks" in shown(at)


def test_retry_after_a_failed_feasibility_check_checks_again(
    open_app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = TaskingClient.check_feasibility

    def broken(self: TaskingClient, *args: object, **kwargs: object) -> object:
        raise ServerError("boom", status_code=500, code="ERR_INTERNAL")

    monkeypatch.setattr(TaskingClient, "check_feasibility", broken)
    at = open_app(
        "views/new_task.py", contract_id=seed.BROAD_CONTRACT_ID, poi_lat=60.1699, poi_lon=24.9384
    )
    next(b for b in at.button if b.label == "Check feasibility").click().run()
    assert "Could not check feasibility" in shown(at)

    monkeypatch.setattr(TaskingClient, "check_feasibility", original)
    next(b for b in at.button if b.label == "Retry").click().run()

    no_exception(at)
    assert next(s.value for s in at.success).startswith("**Feasible**")


def test_a_failing_local_history_is_shown_readably_not_as_a_traceback(
    open_app: Callable[..., AppTest], two_tasks: list[Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasking.errors import HistoryError
    from tasking.history import TaskHistory

    def broken(self: TaskHistory, *args: object, **kwargs: object) -> object:
        raise HistoryError("The local task history (sqlite:///x) failed: OperationalError")

    monkeypatch.setattr(TaskHistory, "record_all", broken)
    at = open_app(TASKS)
    no_exception(at)
    assert "The local task history" in shown(at)
