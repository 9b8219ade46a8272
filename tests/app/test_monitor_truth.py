"""Issue 11, the Monitor: every text is true for the task's status and the backend's time.

Between capture and delivery the page says when the task was captured and when its products are
due, never that it may still be re-planned; a rejected, canceled or failed task gets no planning
hint and no "products appear when…", with the reason where one is known (the worker's store) and
"ICEYE gives no reason" in live mode; the cancel confirmation lists only the fees still ahead and
names no order value where the contract has no price list; the azimuth row is ICEYE's, or the app's
own labelled so, or absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tasking import rules
from tasking.client import TaskingClient
from tasking.config import load_settings
from tasking.desk import Details, NewNotification
from tasking.models import Task
from tasking.modes import sla_hours
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle
from tasking.service import TaskingService, build_service
from tasking.watch import Watch
from tasking.worker import Worker, WorkerConfig
from tests.app.conftest import APP, RUN_TIMEOUT_S, no_exception, texts
from tests.app.helpers import order, run_until
from ui.monitor_view import COMPUTED_AZIMUTH, NO_PRICE_LIST, NOT_REPORTED

MONITOR = "views/monitor.py"
REPLAN = "re-plan"
PLANNING_HINTS = ("ICEYE plans one", "footprint appears once", "Products appear when")


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


def badge(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "-badge[" in m.value and "unread" not in m.value)


def timeline(at: AppTest) -> str:
    return next(m.value for m in at.markdown if 'class="tl"' in m.value)


def step(drawn: str, label: str) -> tuple[str, str]:
    """(css class, time text) of one timeline step."""
    head, tail = drawn.split(f'<div class="tl-label">{label}</div>', 1)
    css = head.rsplit('<div class="tl-step', 1)[1].split('"', 1)[0].strip()
    time = tail.split('<div class="tl-time">', 1)[1].split("</div>", 1)[0]
    return css, time


def hhmm(value: datetime) -> str:
    """A time as the page writes it: ``14:05 UTC``, maybe after its date."""
    return rf"(\d{{4}}-\d\d-\d\d )?{value.astimezone(UTC):%H:%M} UTC"


def order_with(
    client: TaskingClient,
    control: SandboxControl,
    *,
    reference: str,
    contract_id: str = seed.BROAD_CONTRACT_ID,
    start_in: timedelta | None = None,
    product_types: list[str] | None = None,
) -> Task:
    """A SPOTLIGHT task at Helsinki on ``contract_id`` (``helpers.order`` with the contract and
    product types chosen)."""
    now = control.clock().now
    contract = client.get_contract(contract_id)
    start, end = rules.default_window(now, "COMMERCIAL")
    if start_in is not None:
        start, end = now + start_in, now + start_in + timedelta(hours=48)
    draft = TaskDraft(
        contract_id=contract.id,
        lat=60.1699,
        lon=24.9384,
        window_start=start,
        window_end=end,
        imaging_mode="SPOTLIGHT",
        reference=reference,
        product_types=product_types,
    )
    return client.create_task(rules.build_task_request(draft, contract, now))


def past_the_imaging(client: TaskingClient, control: SandboxControl, task_id: str) -> Task:
    """Make the task ACTIVE, then move the clock two minutes past its planned imaging end (its
    products come the SLA later, so it is still ACTIVE)."""
    run_until(client, control, task_id, "ACTIVE")
    scene = client.get_scene(task_id)
    ahead = scene.imagingTime.end - control.clock().now
    control.advance(seconds=ahead.total_seconds() + 120)
    task = client.get_task(task_id)
    assert task.status == "ACTIVE"
    return task


# --- 1. between the capture and the products --------------------------------------------------


def test_an_active_task_past_its_imaging_says_captured_and_when_its_products_are_due(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Between capture and delivery")
    task = past_the_imaging(client, control, task.id)
    end = client.get_scene(task.id).imagingTime.end
    sla = task.sla or "SLA_8H"

    at = open_app(MONITOR, query={"task": task.id})

    no_exception(at)
    assert "ACTIVE" in badge(at)
    text = shown(at)
    hours = sla_hours(sla)
    assert hours is not None
    due = end + timedelta(hours=hours)
    captured = rf"Captured at {hhmm(end)}; products due by {hhmm(due)} \({sla}\)"
    assert re.search(captured, text), text
    assert REPLAN not in text
    assert f"| {NOT_REPORTED} |" in text  # the actual column, not "—"
    assert re.search(rf"Products due by {hhmm(due)} \({sla}\)", text)
    # The timeline is at Captured, with the imaging time, and Scheduled is done.
    drawn = timeline(at)
    assert step(drawn, "Scheduled")[0] == "done"
    css, when = step(drawn, "Captured")
    assert css == "current" and when.startswith("imaged ") and when.endswith(" UTC")


def test_the_session_that_saw_the_plan_stops_saying_re_plan_once_the_imaging_passed(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    import streamlit as st

    task = order(client, control, reference="Seen planned")
    run_until(client, control, task.id, "ACTIVE")
    at = open_app(MONITOR, query={"task": task.id})
    assert "Planned: ICEYE may still re-plan it until the capture." in shown(at)

    past_the_imaging(client, control, task.id)
    # The app's clock reads the sandbox afresh (it would within 30 s; a new process at once);
    # the session, with what it saw of the task, stays.
    st.cache_resource.clear()
    at.run()

    no_exception(at)
    text = shown(at)
    assert "ACTIVE" in badge(at)
    assert REPLAN not in text
    assert "Captured at " in text and "; products due by " in text


def test_a_fulfilled_task_says_its_sla_products_are_ready_and_the_others_still_processing(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    # SICD is a non-SLA product: the task stays FULFILLED until it is ready (DONE).
    task = order_with(client, control, reference="Partly delivered", product_types=["GRD", "SICD"])
    task = run_until(client, control, task.id, "FULFILLED")
    end = client.get_scene(task.id).imagingTime.end  # the captured scene
    due = end + timedelta(hours=8)  # the broad contract's default SLA

    at = open_app(MONITOR, query={"task": task.id})

    no_exception(at)
    text = shown(at)
    assert "FULFILLED" in badge(at)
    assert task.sla == "SLA_8H"
    assert re.search(rf"Captured at {hhmm(end)}; products due by {hhmm(due)} \(SLA_8H\)", text)
    assert "the SLA products are ready, the other ordered products are still processing" in text
    assert REPLAN not in text
    assert "Products appear when" not in text


# --- 2. rejected, canceled, failed --------------------------------------------------------------


def ended(task: Task, status: str) -> dict[str, dict[str, Watch]]:
    """Session state of a Monitor that has seen ``task`` end in ``status`` (final: no request)."""
    final = task.model_copy(update={"status": status})
    return {"mon_watches": {task.id: Watch(task.id, task=final, status=status)}}


def test_a_rejected_task_gets_no_planning_hint_and_no_promise_of_products(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    # The sandbox rarely refuses a broad task: the page is given what it would have seen.
    task = order(client, control, reference="Refused")

    at = open_app(MONITOR, query={"task": task.id}, **ended(task, "REJECTED"))

    no_exception(at)
    text = shown(at)
    assert "REJECTED" in badge(at)
    assert "No scene: ICEYE rejected the task." in text
    assert "No products: ICEYE rejected the task." in text
    assert "No scene to draw: only the point is shown." in text
    for hint in PLANNING_HINTS:
        assert hint not in text
    # Sandbox polling mode: the page does not read the sandbox's history, so it says nothing of
    # the reason rather than something untrue.
    assert "gives no reason" not in text


def test_a_task_cancelled_after_its_plan_shows_the_plan_as_such_and_no_products(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Planned then cancelled")
    run_until(client, control, task.id, "ACTIVE")
    at = open_app(MONITOR, query={"task": task.id})
    assert "| Planned | Actual |" in shown(at)

    client.cancel_task(task.id)
    at.run()

    no_exception(at)
    text = shown(at)
    assert "CANCELED" in badge(at)
    assert "| Planned | Actual |" in text
    assert "Planned before the task was canceled." in text
    assert "No products: the task was canceled." in text
    assert REPLAN not in text
    for hint in PLANNING_HINTS:
        assert hint not in text


@pytest.fixture
def live_env(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> pytest.MonkeyPatch:
    """Live mode (complete credentials, no sandbox control, no orbital elements) against the
    sandbox's API."""
    monkeypatch.delenv("ICEYE_SANDBOX_URL", raising=False)
    monkeypatch.delenv("ICEYE_TLE_SOURCE", raising=False)
    monkeypatch.delenv("ICEYE_HISTORY_URL", raising=False)
    monkeypatch.setenv("ICEYE_WORKER", "off")
    monkeypatch.setenv("ICEYE_API_URL", sandbox.api_url)
    monkeypatch.setenv("ICEYE_AUTH_URL", sandbox.url)
    monkeypatch.setenv("ICEYE_CLIENT_ID", seed.DEMO_CLIENT_ID)
    monkeypatch.setenv("ICEYE_CLIENT_SECRET", seed.DEMO_CLIENT_SECRET)
    monkeypatch.setenv("ICEYE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def open_live(task_id: str, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.run().switch_page(MONITOR)
    for key, value in state.items():
        at.session_state[key] = value
    at.query_params["task"] = task_id
    return at.run()


@pytest.mark.usefixtures("live_env")
@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        ("REJECTED", "No scene: ICEYE rejected the task. ICEYE gives no reason."),
        ("FAILED", "No scene: ICEYE failed to image the task. ICEYE gives no reason."),
    ],
)
def test_in_live_mode_a_rejection_or_failure_says_iceye_gives_no_reason(
    client: TaskingClient, control: SandboxControl, status: str, sentence: str
) -> None:
    task = order(client, control, reference=f"Live {status.lower()}")

    at = open_live(task.id, **ended(task, status))

    no_exception(at)
    text = shown(at)
    assert status in badge(at)
    assert sentence in text
    for hint in PLANNING_HINTS:
        assert hint not in text


# The desk: a worker follows the tasks and keeps the reason the sandbox gives.


@pytest.fixture
def worker(app_env: SandboxHandle) -> Iterator[Worker]:
    """A worker on its own service over the app's store and sandbox, driven one pass at a time
    (as in test_desk_pages)."""
    service: TaskingService = build_service(load_settings())
    config = WorkerConfig(budget_per_minute=100_000, lease_ttl_s=600, poll_interval_s=0)
    made = Worker(service, config, senders={})
    try:
        yield made
    finally:
        made.stop()
        service.close()


def test_a_failed_task_shows_the_workers_reason_its_plan_and_no_products(
    open_app: Callable[..., AppTest], worker: Worker, client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Failed capture")
    run_until(client, control, task.id, "ACTIVE")
    worker.run_once()  # the worker has the task ACTIVE with its planned scene
    at = open_app(MONITOR, query={"task": task.id})
    assert "Followed by the background worker" in shown(at)
    assert "Planned: ICEYE may still re-plan it until the capture." in shown(at)
    # The sandbox fails no capture unless told to: what its worker would record is written to
    # the store directly.
    why = "unplanned satellite maintenance"
    worker.desk.apply(
        task.id,
        status="FAILED",
        created_at=task.createdAt,
        status_at=datetime.now(UTC),
        details=Details(reason=why),
        notifications=[
            NewNotification(
                "failed", "Failed: Failed capture (SPOTLIGHT)", f"ICEYE failed it: {why}.",
                datetime.now(UTC), why,
            )
        ],
        channels=[],
    )  # fmt: skip
    at.run()

    no_exception(at)
    text = shown(at)
    assert "FAILED" in badge(at)
    assert f"**Why it failed:** {why}" in text
    assert "| Planned | Actual |" in text
    assert "Planned, but ICEYE failed to image it." in text
    assert "gives no reason" not in text  # the sandbox gave one
    assert "No products: ICEYE failed to image the task." in text
    assert REPLAN not in text
    for hint in PLANNING_HINTS:
        assert hint not in text


# --- 3. the cancel confirmation ---------------------------------------------------------------


def confirmation(at: AppTest) -> str:
    at.button(key="mon_cancel").click().run()
    no_exception(at)
    return shown(at)


def fee_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and " | " in line[2:]]


def test_without_a_price_list_the_fee_is_a_share_and_only_the_tiers_ahead_are_listed(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Cancel at 60 h", start_in=timedelta(hours=60))
    at = open_app(MONITOR, query={"task": task.id})

    text = confirmation(at)

    assert "): **10 %**" in text
    assert NO_PRICE_LIST in text
    assert "order value" not in text
    rows = [r for r in fee_rows(text) if "%" in r or "free" in r]
    assert len(rows) == 3, rows  # 10 % now, 20 %, 100 %: the free tier has passed
    assert rows[0].startswith("| now until ") and "**10 %** (applies now)" in rows[0]
    assert "| 20 % |" in rows[1] and rows[2].startswith("| from ") and "100 %" in rows[2]
    assert "free" not in "\n".join(rows)
    at.button(key="mon_cancel_keep").click().run()


def test_a_priced_contract_states_the_fee_of_the_order_value_and_marks_the_tier_of_now(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order_with(
        client,
        control,
        reference="Priced, far ahead",
        contract_id=seed.PRICED_CONTRACT_ID,
        start_in=timedelta(days=5),
    )
    at = open_app(MONITOR, query={"task": task.id})

    text = confirmation(at)

    assert "): **free**" in text
    assert NO_PRICE_LIST not in text
    rows = [r for r in fee_rows(text) if "%" in r or "free" in r]
    assert len(rows) == 4, rows
    assert "**free** (applies now)" in rows[0]
    assert "10 % of the order value" in rows[1] and "(applies now)" not in rows[1]
    assert "100 % of the order value (no refund)" in rows[3]
    at.button(key="mon_cancel_keep").click().run()
    assert client.get_task(task.id).status != "CANCELED"


def test_within_a_day_of_the_window_only_the_full_fee_is_stated(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Cancel late")  # the window starts in ~13 h
    at = open_app(MONITOR, query={"task": task.id})

    text = confirmation(at)

    assert "): **100 %**" in text
    assert not [r for r in fee_rows(text) if "free" in r or "10 %" in r or "20 %" in r]
    at.button(key="mon_cancel_keep").click().run()


# --- 4. the azimuth ---------------------------------------------------------------------------


def test_the_azimuth_is_the_apps_own_labelled_so_and_agrees_with_the_map(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Azimuth")
    run_until(client, control, task.id, "ACTIVE")

    at = open_app(MONITOR, query={"task": task.id})

    no_exception(at)
    text = shown(at)
    assert "| **Azimuth** |" not in text  # the sandbox's scene has none: no row of dashes
    row = re.search(rf"\| \*\*{re.escape(COMPUTED_AZIMUTH)}\*\* \| ([\d.]+)° \| — \|", text)
    assert row, text
    azimuth = float(row.group(1))
    # The map's caption: "... heading 123°, looking RIGHT ...": the satellite is abeam, on the
    # side opposite to where it looks.
    geometry = re.search(r"heading (\d+)°, looking (LEFT|RIGHT)", text)
    assert geometry, text
    heading, side = float(geometry.group(1)), geometry.group(2)
    expected = (heading + (90 if side == "LEFT" else -90)) % 360
    assert abs((azimuth - expected + 180) % 360 - 180) <= 1.0


@pytest.mark.usefixtures("live_env")
def test_without_an_azimuth_from_iceye_or_the_app_there_is_no_azimuth_row(
    client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="No azimuth")
    run_until(client, control, task.id, "ACTIVE")

    at = open_live(task.id)  # live mode without orbital elements: no predicted pass

    no_exception(at)
    text = shown(at)
    assert "| Planned | Actual |" in text
    assert "Azimuth" not in text


# --- the plan across reloads, the layout, the status chip (issue 11) ---------------------------


def test_the_planned_scene_is_shown_after_a_reload_marked_with_when_it_was_seen(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Plan kept")
    run_until(client, control, task.id, "ACTIVE")
    plan = client.get_scene(task.id)
    first = open_app(MONITOR, query={"task": task.id})
    assert "Planned values as this app first saw them at " in shown(first)

    run_until(client, control, task.id, "DONE")
    # A reload: a new session, without the first one's Watch; ICEYE's scene is now the actual.
    at = open_app(MONITOR, query={"task": task.id})

    no_exception(at)
    text = shown(at)
    assert "DONE" in badge(at)
    assert re.search(
        r"Planned values as this app first saw them at \d{4}-\d\d-\d\d \d\d:\d\d UTC "
        r"\(kept in this app's local history\)\.",
        text,
    ), text
    planned_start = f"{plan.imagingTime.start.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    row = next(line for line in text.splitlines() if line.startswith("| **Imaging start**"))
    assert planned_start in row.split("|")[2], row  # the planned column, not "—"
    assert "not seen by this app" not in text


def test_details_are_collapsed_and_the_status_chip_has_its_statuss_colour(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    from ui.format import STATUS_CHIPS, status_chip
    from ui.task_table import STATUS_COLOURS

    task = order(client, control, reference="Chip")
    at = open_app(MONITOR, query={"task": task.id})
    no_exception(at)
    (details,) = [e for e in at.expander if e.label == "Task details"]
    assert details.proto.expanded is False
    received = badge(at)
    assert received.startswith(f":{status_chip('RECEIVED').colour}-badge["), received

    run_until(client, control, task.id, "DONE")
    at = open_app(MONITOR, query={"task": task.id})
    assert badge(at).startswith(":green-badge["), badge(at)
    # One mapping for the whole app: the Monitor's chips and All tasks' markers and legend.
    assert {s: c.colour for s, c in STATUS_CHIPS.items()} == {
        "RECEIVED": "gray",
        "ACTIVE": "blue",
        "FULFILLED": "green",
        "DONE": "green",
        "REJECTED": "red",
        "FAILED": "orange",
        "CANCELED": "yellow",
    }
    assert status_chip("SOMETHING_NEW").colour == "gray"
    assert {s: c.hex for s, c in STATUS_CHIPS.items()} == STATUS_COLOURS
