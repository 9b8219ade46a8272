"""The Monitor's refresh policy against the sandbox: one request per refresh in the steady state,
scene and products only on a status change, nothing once final, links never stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasking.client import TaskingClient
from tasking.errors import ServerError
from tasking.history import TaskHistory
from tasking.sandbox.control import SandboxControl
from tasking.watch import Watch, fresh_asset, refresh
from tests.app.helpers import order, run_until

PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class FixedClock:
    at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    refreshes: int = 0

    def now(self) -> datetime:
        return self.at

    def refresh(self) -> object:
        self.refreshes += 1
        return None


@pytest.fixture
def history(tmp_path: Path) -> TaskHistory:
    return TaskHistory(f"sqlite:///{tmp_path / 'history.sqlite'}", clock=FixedClock().now)


def sent(client: TaskingClient, action) -> int:  # type: ignore[no-untyped-def]
    before = client.request_count
    action()
    return client.request_count - before


def test_steady_state_costs_one_request_per_refresh(
    client: TaskingClient, control: SandboxControl, history: TaskHistory
) -> None:
    task = order(client, control)
    watch = Watch(task.id)
    clock = FixedClock()
    refresh(watch, client, history, clock)  # first look (token included)

    assert sent(client, lambda: refresh(watch, client, history, clock)) == 1
    assert sent(client, lambda: refresh(watch, client, history, clock)) == 1
    assert watch.status == "RECEIVED" and clock.refreshes == 0


def test_status_change_fetches_the_scene_once(
    client: TaskingClient, control: SandboxControl, history: TaskHistory
) -> None:
    task = order(client, control)
    watch = Watch(task.id)
    clock = FixedClock()
    refresh(watch, client, history, clock)
    run_until(client, control, task.id, "ACTIVE")

    assert sent(client, lambda: refresh(watch, client, history, clock)) == 2  # task + scene
    assert watch.planned is not None and watch.actual is None
    assert clock.refreshes == 1  # the clock is read again when something happened
    assert sent(client, lambda: refresh(watch, client, history, clock)) == 1


def test_done_task_gets_products_and_quicklook_then_no_more_requests(
    client: TaskingClient, control: SandboxControl, history: TaskHistory
) -> None:
    task = order(client, control)
    run_until(client, control, task.id, "DONE")
    watch = Watch(task.id)

    refresh(watch, client, history, FixedClock())

    assert watch.final and watch.actual is not None
    assert watch.quicklook is not None and watch.quicklook.startswith(PNG)
    assert watch.products and all(p.assets for p in watch.products)
    assert "signature" not in repr(watch.products)  # signed links are never kept
    assert sent(client, lambda: refresh(watch, client, history, FixedClock())) == 0
    assert set(history.first_seen(task.id)) == {"DONE"}


def test_download_fetches_a_fresh_link_even_after_the_listed_ones_expired(
    client: TaskingClient, control: SandboxControl, history: TaskHistory
) -> None:
    task = order(client, control)
    run_until(client, control, task.id, "DONE")
    watch = Watch(task.id)
    refresh(watch, client, history, FixedClock())
    product = next(p for p in watch.products if any(a.key == "quicklook-png" for a in p.assets))

    control.advance(seconds=3 * 3600)  # links expire one simulated hour after issue

    data = fresh_asset(client, task.id, product.product_type, product.id, "quicklook-png")
    assert data.startswith(PNG)


class FlakyProducts:
    """The real client, except that listing products fails once with a 503."""

    def __init__(self, client: TaskingClient) -> None:
        self._client = client
        self.failures = 1

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def list_products(self, task_id: str, product_type: str | None = None) -> object:
        if self.failures:
            self.failures -= 1
            raise ServerError("unavailable", status_code=503)
        return self._client.list_products(task_id, product_type)


def test_a_failed_fetch_stays_pending_and_is_retried_on_the_next_refresh(
    client: TaskingClient, control: SandboxControl, history: TaskHistory
) -> None:
    task = order(client, control)
    run_until(client, control, task.id, "DONE")
    flaky = FlakyProducts(client)
    watch = Watch(task.id)

    refresh(watch, flaky, history, FixedClock())  # type: ignore[arg-type]
    assert watch.errors and watch.errors[0][0] == "list the products"
    assert not watch.final and "products" in watch.pending

    refresh(watch, flaky, history, FixedClock())  # type: ignore[arg-type]
    assert not watch.errors and watch.products and watch.final


def test_a_final_task_whose_products_keep_failing_is_given_up_after_a_few_refreshes(
    client: TaskingClient, control: SandboxControl, history: TaskHistory
) -> None:
    from tasking.watch import MAX_FINAL_RETRIES

    task = order(client, control)
    run_until(client, control, task.id, "DONE")
    broken = FlakyProducts(client)
    broken.failures = 10**6
    watch = Watch(task.id)
    for _ in range(MAX_FINAL_RETRIES):
        assert not watch.final
        refresh(watch, broken, history, FixedClock())  # type: ignore[arg-type]
    assert watch.final and watch.errors  # the last error stays on screen
    assert sent(client, lambda: refresh(watch, broken, history, FixedClock())) == 0  # type: ignore[arg-type]


def test_an_unknown_task_is_not_polled_again(client: TaskingClient, history: TaskHistory) -> None:
    watch = Watch("00000000-0000-4000-8000-000000000000")
    refresh(watch, client, history, FixedClock())
    assert watch.errors and watch.final
    assert sent(client, lambda: refresh(watch, client, history, FixedClock())) == 0


def test_a_failing_local_history_does_not_stop_the_monitor(
    client: TaskingClient, control: SandboxControl, history: TaskHistory, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from tasking.errors import HistoryError

    def broken(*args: object) -> object:
        raise HistoryError("The local task history (sqlite:///x) failed: OperationalError")

    monkeypatch.setattr(history, "record", broken)
    task = order(client, control)
    watch = Watch(task.id)
    refresh(watch, client, history, FixedClock())
    assert watch.status == "RECEIVED"
    assert watch.errors[0][0] == "record the task in the local history"
