"""All tasks page: the table, contract and status filters, search, sorting, Load more."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.models import Task
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tests.app.conftest import no_exception
from tests.app.helpers import order
from ui import task_table

TASKS = "views/tasks.py"


@pytest.fixture(scope="module")
def three_tasks(sandbox, tmp_path_factory) -> list[Task]:  # type: ignore[no-untyped-def]
    from tasking.config import load_settings

    control = SandboxControl(sandbox.url)
    with TaskingClient.from_settings(
        load_settings(data_dir=tmp_path_factory.mktemp("c")),
        api_url=sandbox.api_url,
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=sandbox.url,
    ) as client:
        made = [order(client, control, reference=f"Port {name}") for name in ("alpha", "beta")]
        cancelled = order(client, control, reference="Field gamma")
        made.append(client.cancel_task(cancelled.id))
    return made


def column(at: AppTest, name: str) -> list[object]:
    return list(at.dataframe[0].value[name])


def test_table_lists_every_task_with_the_issue_columns(
    open_app: Callable[..., AppTest], three_tasks: list[Task]
) -> None:
    at = open_app(TASKS)

    no_exception(at)
    frame = at.dataframe[0].value
    assert list(frame.columns) == list(task_table.COLUMNS)
    assert {"Port alpha", "Port beta", "Field gamma"} <= set(frame["Reference"])
    assert set(frame["Mode"]) == {"SPOTLIGHT"}
    assert all(" → " in w for w in frame["Window"])
    # The local history recorded each listed task: the time its status was first seen is shown.
    assert frame["Status seen"].notna().all()


def test_status_filter_keeps_only_that_status(
    open_app: Callable[..., AppTest], three_tasks: list[Task]
) -> None:
    at = open_app(TASKS, tl_status=["CANCELED"])

    assert column(at, "Reference") == ["Field gamma"]
    assert column(at, "Status") == ["CANCELED"]


def test_search_matches_reference_or_id(
    open_app: Callable[..., AppTest], three_tasks: list[Task]
) -> None:
    at = open_app(TASKS, tl_search="port")
    assert sorted(column(at, "Reference")) == ["Port alpha", "Port beta"]

    at.text_input(key="tl_search").input(three_tasks[2].id[:8]).run()
    assert column(at, "Reference") == ["Field gamma"]


def test_contract_filter_asks_the_api_for_that_contract_only(
    open_app: Callable[..., AppTest], three_tasks: list[Task]
) -> None:
    at = open_app(TASKS, tl_contract=seed.PRICED_CONTRACT_ID)

    no_exception(at)
    assert at.dataframe[0].value.empty
    at.selectbox(key="tl_contract").select(seed.BROAD_CONTRACT_ID).run()
    assert len(at.dataframe[0].value) >= 3


def test_sorting_by_reference(open_app: Callable[..., AppTest], three_tasks: list[Task]) -> None:
    at = open_app(TASKS, tl_sort="Reference", tl_search="a")

    refs = column(at, "Reference")
    assert refs == sorted(refs, key=str.casefold)


def test_load_more_follows_the_cursor(
    open_app: Callable[..., AppTest], three_tasks: list[Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_table, "PAGE_SIZE", 2)
    monkeypatch.setattr("views.tasks.PAGE_SIZE", 2, raising=False)
    at = open_app(TASKS)
    first = len(at.dataframe[0].value)
    more = [b for b in at.button if b.label == "Load more"]
    assert first == 2 and more

    more[0].click().run()

    no_exception(at)
    assert len(at.dataframe[0].value) > first
