"""Monitor page: deep links, the lifecycle after clock jumps with the timeline from the local
history, products with the quicklook inline, cancel behind a confirmation stating the fee."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tasking.client import TaskingClient
from tasking.sandbox.control import SandboxControl
from tests.app.conftest import no_exception, texts
from tests.app.helpers import order

MONITOR = "views/monitor.py"


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


def badge(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "-badge[" in m.value)


def timeline(at: AppTest) -> str:
    return next(m.value for m in at.markdown if 'class="tl"' in m.value)


def test_deep_link_opens_the_task_and_stays_in_the_url(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control, reference="Deep link")

    at = open_app(MONITOR, query={"task": task.id})

    no_exception(at)
    assert [s.value for s in at.subheader] == ["Deep link"]
    assert "RECEIVED" in badge(at)
    assert at.query_params["task"] == task.id
    at.run()  # a reload keeps it
    assert at.query_params["task"] == task.id
    assert [s.value for s in at.subheader] == ["Deep link"]


def test_monitor_follows_the_lifecycle_to_done_with_products_and_quicklook(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control)
    at = open_app(MONITOR, query={"task": task.id})
    seen = [badge(at)]

    for _ in range(12):
        if "DONE" in seen[-1]:
            break
        control.advance(to_next_event=True)
        at.run()
        no_exception(at)
        seen.append(badge(at))

    statuses = [s for s in ("RECEIVED", "ACTIVE", "DONE") if any(s in b for b in seen)]
    assert statuses == ["RECEIVED", "ACTIVE", "DONE"], seen
    text = shown(at)
    assert "Final status: no more refreshes." in text
    assert "| Planned | Actual |" in text
    images = at.get("image")
    assert len(images) == 1 and images[0].captions[0].startswith("Quicklook")  # inline
    downloads = at.get("download_button")
    assert any(d.proto.label == "Quicklook" for d in downloads)
    assert any("Quicklook image" in d.proto.help for d in downloads)  # its title, as a tooltip
    # Each stage the app saw has the time it was first seen (the sandbox may go from ACTIVE
    # straight to DONE when no product is left to process after the SLA ones).
    drawn = timeline(at)
    for label in ("Received", "Scheduled", "Complete"):
        after = drawn.split(f'tl-label">{label}</div><div class="tl-time">', 1)[1]
        assert after.split("</div>", 1)[0].endswith(" UTC"), label
    assert not [b for b in at.button if b.key == "mon_cancel"]


def test_timeline_times_come_from_the_history_after_a_restart(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control)
    at = open_app(MONITOR, query={"task": task.id})
    control.advance(to_next_event=True)
    at.run()
    before = timeline(at)
    assert "ACTIVE" in badge(at)

    st.cache_resource.clear()  # a new process: new backend, same data directory
    again = open_app(MONITOR, query={"task": task.id})

    assert timeline(again) == before


def test_cancel_states_the_fee_tier_then_cancels(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    task = order(client, control)  # the default window starts in ~13 h: the 100 % tier
    at = open_app(MONITOR, query={"task": task.id})

    at.button(key="mon_cancel").click().run()

    no_exception(at)
    # The broad contract has no price list: a share, not "of the order value".
    assert "): **100 %**" in shown(at)
    assert "this contract has no price list" in shown(at).lower()
    at.button(key="mon_cancel_confirm").click().run()

    no_exception(at)
    assert client.get_task(task.id).status == "CANCELED"
    assert "CANCELED" in badge(at)
    assert "Canceled" in timeline(at)
    assert not [b for b in at.button if b.key == "mon_cancel"]


def test_cancel_far_ahead_is_free(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    from datetime import timedelta

    task = order(client, control, start_in=timedelta(days=5))
    at = open_app(MONITOR, query={"task": task.id})

    at.button(key="mon_cancel").click().run()
    assert "): **free**" in shown(at)
    at.button(key="mon_cancel_keep").click().run()

    no_exception(at)
    assert client.get_task(task.id).status != "CANCELED"


def test_unknown_task_is_a_readable_not_found(open_app: Callable[..., AppTest]) -> None:
    at = open_app(MONITOR, query={"task": "00000000-0000-0000-0000-000000000000"})

    no_exception(at)
    error = shown(at)
    assert "Could not refresh the task" in error
    assert "HTTP 404" in error
    retry = next(b for b in at.button if b.label == "Retry")
    retry.click().run()  # Retry looks the task up again (the page stopped polling it)
    no_exception(at)
    assert "Could not refresh the task" in shown(at)


@pytest.mark.usefixtures("app_env")
def test_without_a_task_the_page_offers_the_tasks_seen_and_an_id_box(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    at = open_app(MONITOR)

    no_exception(at)
    assert "Choose a task to monitor" in shown(at)
    assert at.text_input(key="mon_typed_id") is not None
