"""The pages while a background worker follows the tasks: the Monitor and All tasks read its store
and send ICEYE nothing, notifications are listed, toasted once per session and marked read, and
the work queue shows the worker and what it has to do. Without a worker the work queue says so.

The worker runs on its own service over the same store and sandbox, as ``python -m
tasking.worker`` would, and the test drives it one pass at a time (``run_once``): the app's client
counts only the app's own requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from streamlit.testing.v1 import AppTest

import ui.service
from tasking.client import TaskingClient
from tasking.config import Settings, load_settings
from tasking.notify import DeliveryFailed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tasking.service import TaskingService, build_service
from tasking.worker import Worker, WorkerConfig
from tests.app.conftest import APP, RUN_TIMEOUT_S, no_exception, texts
from tests.app.helpers import order

MONITOR = "views/monitor.py"
TASKS = "views/tasks.py"
NOTIFICATIONS = "views/notifications.py"
WORK_QUEUE = "views/work_queue.py"


@pytest.fixture
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """A sandbox per test (not per module): a worker's first sweep follows every task of the
    account, so each test counts only its own tasks."""
    handle = start_in_background(tmp_path_factory.mktemp("sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def app_services(monkeypatch: pytest.MonkeyPatch) -> list[TaskingService]:
    """The service the app builds (to count the app's own ICEYE requests)."""
    built: list[TaskingService] = []
    original = ui.service.build_service

    def recording(settings: Settings) -> TaskingService:
        built.append(original(settings))
        return built[-1]

    monkeypatch.setattr(ui.service, "build_service", recording)
    return built


@pytest.fixture
def worker_service(app_env: SandboxHandle) -> Iterator[TaskingService]:
    """A second service on the app's sandbox and store: the worker's own process."""
    service = build_service(load_settings())
    try:
        yield service
    finally:
        service.close()


def refuse(notice: object) -> None:
    raise DeliveryFailed("550 mailbox unavailable", permanent=True)


@pytest.fixture
def worker(worker_service: TaskingService) -> Iterator[Worker]:
    """A worker driven by the test: a long lease (active until the test ends), a sweep on every
    pass, a budget no test reaches; a webhook channel that delivers and an email one that refuses."""
    config = WorkerConfig(budget_per_minute=100_000, lease_ttl_s=600, poll_interval_s=0)
    made = Worker(worker_service, config, senders={"webhook": lambda notice: None, "email": refuse})
    try:
        yield made
    finally:
        made.stop()


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


def badge(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "-badge[" in m.value and "unread" not in m.value)


def toasts(at: AppTest) -> list[str]:
    return [str(t.value).replace("\\", "") for t in at.toast]


def sidebar_link(at: AppTest) -> str:
    links = [el.proto.label for el in at.sidebar.get("page_link")]
    return next(label for label in links if label.endswith(("unread", "unread notifications")))


def requests_during(service: TaskingService, at: AppTest) -> int:
    before = service.client.request_count
    at.run()
    no_exception(at)
    return service.client.request_count - before


def test_monitor_reads_the_workers_store_and_sends_iceye_nothing(
    open_app: Callable[..., AppTest],
    app_services: list[TaskingService],
    worker: Worker,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    task = order(client, control, reference="Desk monitor")
    worker.run_once()
    at = open_app(MONITOR, query={"task": task.id})
    no_exception(at)
    (app,) = app_services
    assert "RECEIVED" in badge(at)
    assert "Followed by the background worker (polling) · checked " in shown(at)

    statuses = ["RECEIVED"]
    for _ in range(12):
        if statuses[-1] == "DONE":
            break
        control.advance(to_next_event=True)
        worker.run_once()
        assert requests_during(app, at) == 0  # the refresh read the store only
        statuses.append(next(s for s in ("RECEIVED", "ACTIVE", "FULFILLED", "DONE")
                             if s in badge(at)))  # fmt: skip

    assert statuses[-1] == "DONE", statuses
    text = shown(at)
    assert "| Planned | Actual |" in text
    assert "Final status: no more refreshes." in text
    images = at.get("image")
    assert len(images) == 1 and images[0].captions[0].startswith("Quicklook")
    assert any(d.proto.label == "Quicklook" for d in at.get("download_button"))
    # A reload of a final task costs nothing either (no contracts, no task, no products).
    assert requests_during(app, at) == 0


def test_ten_monitor_tabs_cost_iceye_nothing_while_the_worker_runs(
    app_services: list[TaskingService],
    worker: Worker,
    app_env: SandboxHandle,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    task = order(client, control, reference="Ten tabs")
    worker.run_once()
    tabs = [AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run() for _ in range(10)]
    (app,) = app_services
    before = app.client.request_count
    for tab in tabs:
        tab.switch_page(MONITOR)
        del tab.session_state["contracts"]  # a fresh tab has not loaded the contracts either
        tab.query_params["task"] = task.id
        tab.run()
        no_exception(tab)
        assert "RECEIVED" in badge(tab)
    control.advance(to_next_event=True)
    worker.run_once()
    for tab in tabs:
        tab.run()  # the refresh every tab's fragment makes
        assert "ACTIVE" in badge(tab)

    assert app.client.request_count == before


def test_each_notification_is_toasted_once_per_session(
    open_app: Callable[..., AppTest], worker: Worker, client: TaskingClient, control: SandboxControl
) -> None:
    order(client, control, reference="Toast me")
    worker.run_once()
    at = open_app()  # a session on Contracts, started before anything happened
    assert at.toast.len == 0

    control.advance(to_next_event=True)  # scheduled (ACTIVE)
    worker.run_once()
    at.run()

    assert toasts(at) == ["Scheduled: Toast me (SPOTLIGHT)"]
    assert sidebar_link(at) == "1 unread"
    at.run()
    assert at.toast.len == 0  # never twice in a session

    later = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run()
    assert later.toast.len == 0  # a session opened afterwards is not told the past
    assert sidebar_link(later) == "1 unread"


def test_a_rejection_is_toasted_and_shown_with_its_reason(
    open_app: Callable[..., AppTest], worker: Worker, client: TaskingClient, control: SandboxControl
) -> None:
    from datetime import UTC, datetime

    from tasking.desk import Details, NewNotification

    task = order(client, control, reference="Refused")
    worker.run_once()
    at = open_app(MONITOR, query={"task": task.id})
    # The sandbox's scheduler rarely refuses a broad task: what its worker would record is written
    # to the store directly (the reason is what the page must show).
    why = "no satellite can image the point in the window"
    worker.desk.apply(
        task.id,
        status="REJECTED",
        created_at=task.createdAt,
        status_at=datetime.now(UTC),
        details=Details(reason=why),
        notifications=[
            NewNotification(
                "rejected", "Rejected: Refused (SPOTLIGHT)", f"ICEYE rejected it: {why}.",
                datetime.now(UTC), why,
            )
        ],
        channels=[],
    )  # fmt: skip
    at.run()

    no_exception(at)
    assert "REJECTED" in badge(at)
    assert f"**Why it rejected:** {why}" in shown(at)
    assert toasts(at) == [f"Rejected: Refused (SPOTLIGHT) — {why}"]


def test_a_deep_link_to_a_task_the_worker_has_not_seen_asks_it_to_fetch_it(
    open_app: Callable[..., AppTest],
    app_services: list[TaskingService],
    worker: Worker,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    worker.run_once()  # the worker is active; the task is made afterwards, elsewhere
    task = order(client, control, reference="Made elsewhere")

    at = open_app(MONITOR, query={"task": task.id})

    no_exception(at)
    assert "Waiting for the worker to fetch this task…" in shown(at)
    followed = worker.desk.followed(task.id)
    assert followed is not None and followed.due_at is not None  # hinted
    (app,) = app_services
    assert requests_during(app, at) == 0
    assert "Waiting for the worker to fetch this task…" in shown(at)

    worker.run_once()
    at.run()
    assert [s.value for s in at.subheader] == ["Made elsewhere"]
    assert "RECEIVED" in badge(at)
    assert "Waiting for the worker" not in shown(at)


def test_opening_an_imported_task_whose_details_the_store_lacks_asks_the_worker_for_them(
    open_app: Callable[..., AppTest],
    worker: Worker,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    """The import records tasks from the task list only; their scenes come from the backlog at
    the budget's pace. Opening one in the Monitor puts it ahead of the backlog."""
    worker.run_once()  # the worker is active; the task is made afterwards, elsewhere
    task = order(client, control, reference="Imported")
    for _ in range(10):
        if client.get_task(task.id).status == "ACTIVE":
            break
        control.advance(to_next_event=True)
    listed = next(t for t in client.iter_tasks() if t.id == task.id)
    worker._observe(listed, source="poll", initial=True)  # what an import records
    followed = worker.desk.followed(task.id)
    assert followed is not None and followed.status == "ACTIVE" and followed.planned is None
    assert followed.due_at is None  # waits for the backlog

    at = open_app(MONITOR, query={"task": task.id})

    no_exception(at)
    followed = worker.desk.followed(task.id)
    assert followed is not None and followed.due_at is not None  # asked for
    worker.run_once()
    followed = worker.desk.followed(task.id)
    assert followed is not None and followed.details_for == "ACTIVE"
    assert followed.planned is not None


def test_notifications_page_lists_deliveries_and_marks_all_read(
    open_app: Callable[..., AppTest], worker: Worker, client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Listed")
    worker.run_once()
    control.advance(to_next_event=True)
    worker.run_once()  # scheduled
    worker.deliver_due()  # the webhook delivers, the mail server refuses for good

    at = open_app(NOTIFICATIONS)

    no_exception(at)
    text = shown(at)
    assert "**1 unread**" in text
    assert "**Scheduled: Listed (SPOTLIGHT)** :blue-badge[unread]" in text
    assert "webhook: sent " in text
    assert "email: **failed** after 1 attempt: 550 mailbox unavailable" in text
    links = [el.proto for el in at.get("page_link") if el.proto.label == "Open in Monitor"]
    assert [link.query_string for link in links] == [f"task={task.id}"]
    assert sidebar_link(at) == "1 unread"

    at.button(key="nf_mark_all_read").click().run()

    no_exception(at)
    assert worker.desk.unread_count() == 0
    assert sidebar_link(at) == "No unread notifications"
    assert "Nothing unread." in shown(at)
    assert ":blue-badge[unread]" not in shown(at)


def test_work_queue_shows_the_worker_and_its_counts(
    open_app: Callable[..., AppTest], worker: Worker, client: TaskingClient, control: SandboxControl
) -> None:
    order(client, control, reference="Queued")
    worker.run_once()
    control.advance(to_next_event=True)
    worker.run_once()
    worker.deliver_due()

    at = open_app(WORK_QUEUE)

    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Worker"] == "active"
    assert metrics["Mode"] == "polling"
    assert metrics["Request budget"] == "100000/min"
    assert metrics["Tasks followed"] == "1" and metrics["Still open"] == "1"
    assert metrics["Fetches due now"] == "0"
    assert metrics["Sent"] == "1" and metrics["Failed"] == "1"
    text = shown(at)
    assert worker.holder in text
    assert "This app runs no worker itself (ICEYE_WORKER=off)." in text
    assert "No open order" in text
    status_table = at.dataframe[0].value
    assert dict(zip(status_table["Status"], status_table["Tasks"], strict=True)) == {"ACTIVE": 1}
    failed = at.dataframe[-1].value
    assert list(failed["State"]) == ["FAILED"]
    assert list(failed["Last error"]) == ["550 mailbox unavailable"]


def test_work_queue_says_when_no_worker_is_running(open_app: Callable[..., AppTest]) -> None:
    at = open_app(WORK_QUEUE)

    no_exception(at)
    text = shown(at)
    assert "No worker is running: the Monitor polls ICEYE itself." in text.replace("*", "")
    assert "python -m tasking.worker" in text


def test_all_tasks_is_the_workers_copy_filtered_here(
    open_app: Callable[..., AppTest],
    app_services: list[TaskingService],
    worker: Worker,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    kept = order(client, control, reference="Copy alpha")
    cancelled = client.cancel_task(order(client, control, reference="Copy beta").id)
    worker.run_once()

    at = open_app(TASKS)

    no_exception(at)
    assert "The background worker's copy of the account's tasks" in shown(at)
    frame = at.dataframe[0].value
    assert set(frame["Task ID"]) == {kept.id, cancelled.id}
    (app,) = app_services
    assert requests_during(app, at) == 0  # contracts were loaded once; the list is the store's
    at.multiselect(key="tl_status").select("CANCELED").run()
    assert list(at.dataframe[0].value["Reference"]) == ["Copy beta"]
