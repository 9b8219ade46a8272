"""Issue 5 workspace: All tasks date filter, map, CSV/GeoJSON export and clone; the Monitor's
scene geometry and clone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.models import Task
from tasking.sandbox.control import SandboxControl
from tests.app.conftest import no_exception, texts
from tests.app.helpers import order, run_until

TASKS = "views/tasks.py"
MONITOR = "views/monitor.py"


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


@pytest.fixture
def task(client: TaskingClient, control: SandboxControl) -> Task:
    return order(client, control, reference='Workspace, "quoted"', lat=-33.86, lon=151.21)


def test_date_filter_asks_for_tasks_created_in_the_range(
    open_app: Callable[..., AppTest], task: Task, control: SandboxControl
) -> None:
    today = control.clock().now.date()

    at = open_app(TASKS, tl_from=today - timedelta(days=1), tl_until=today)
    assert task.reference in list(at.dataframe[0].value["Reference"])

    at.date_input(key="tl_from").set_value(today + timedelta(days=1)).run()
    no_exception(at)
    assert at.dataframe[0].value.empty


def test_exports_and_map_cover_the_filtered_list(
    open_app: Callable[..., AppTest], task: Task
) -> None:
    at = open_app(TASKS, tl_search=task.id)

    no_exception(at)
    labels = {b.proto.label: b for b in at.get("download_button")}
    assert set(labels) >= {"Download CSV", "Download GeoJSON"}
    assert not labels["Download CSV"].proto.disabled
    assert "The 1 task shown in the table" in shown(at)
    assert f"● {task.status.title()} 1" in shown(at).replace("</span> ", " ")  # map legend


def test_clone_opens_new_task_with_the_parameters_and_a_fresh_valid_window(
    open_app: Callable[..., AppTest], task: Task
) -> None:
    at = open_app(TASKS, tl_search=task.id)

    at.selectbox(key="tl_clone").select(task.id).run()
    next(b for b in at.button if b.label == "Clone into a new task").click().run()

    no_exception(at)
    assert [t.value for t in at.title] == ["New task"]
    assert at.session_state["poi_lat"] == pytest.approx(-33.86)
    assert at.text_input(key="nt_reference").value == f"copy of {task.reference}"
    assert at.session_state["nt_window_auto"] is True
    assert "required rule" not in shown(at) and "lead-time" not in shown(at)
    assert not next(b for b in at.button if b.label == "Check feasibility").disabled


def test_monitor_draws_planned_then_actual_scene_geometry(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Geometry")
    run_until(client, control, task.id, "ACTIVE")
    at = open_app(MONITOR, query={"task": task.id})

    no_exception(at)
    assert "Planned geometry: SANDSAT-" in shown(at)

    run_until(client, control, task.id, "DONE")
    at.run()
    no_exception(at)
    assert "Actual geometry: SANDSAT-" in shown(at)


def test_monitor_clone_button_opens_new_task(open_app: Callable[..., AppTest], task: Task) -> None:
    at = open_app(MONITOR, query={"task": task.id})

    at.button(key="mon_clone").click().run()

    no_exception(at)
    assert [t.value for t in at.title] == ["New task"]
    assert at.session_state["poi_lon"] == pytest.approx(151.21)
