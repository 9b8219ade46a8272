"""The application service against a real sandbox on loopback, under injected network faults:
every scenario ends with exactly one task and an order whose state says so (issue 8)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tasking import rules
from tasking.auth import ClientCredentialsAuth
from tasking.client import TaskingClient
from tasking.clock import ClockReading, ServerClock, SimClock
from tasking.config import load_settings, token_url_for
from tasking.errors import HistoryError, InputError, RequestTimeout, TransportError
from tasking.history import TaskHistory
from tasking.journal import OrderJournal, OrderState
from tasking.models import Task, TaskRequest, TaskStatus
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tasking.service import TaskingService, build_service
from tasking.store import make_engine

TASKS_PATH = "/api/tasking/v2/tasks"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


Action = Callable[[httpx.Request, httpx.BaseTransport], httpx.Response]


@dataclass
class Faults(httpx.BaseTransport):
    """The network between client and sandbox: rules act once on the first matching request."""

    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    rules: list[tuple[str, str, Action]] = field(default_factory=list)
    held: list[httpx.Request] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, method: str, path: str, action: Action) -> None:
        self.rules.append((method, path, action))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            rule = next(
                (r for r in self.rules if (r[0], r[1]) == (request.method, request.url.path)),
                None,
            )
            if rule is not None:
                self.rules.remove(rule)
        if rule is not None:
            return rule[2](request, self)
        return self.forward(request)

    def forward(self, request: httpx.Request) -> httpx.Response:
        self.reached.append(f"{request.method} {request.url.path}")
        response = self.inner.handle_request(request)
        response.read()
        return response

    def release(self) -> None:
        """Deliver the requests the network held back (they reach the server now)."""
        while self.held:
            self.forward(self.held.pop(0))


def answer_lost(request: httpx.Request, net: Faults) -> httpx.Response:
    net.forward(request)
    raise httpx.ReadTimeout("the answer never came", request=request)


def reset_after_sending(request: httpx.Request, net: Faults) -> httpx.Response:
    net.forward(request)
    raise httpx.RemoteProtocolError("Server disconnected without sending a response")


def delayed_past_timeout(request: httpx.Request, net: Faults) -> httpx.Response:
    request.read()
    net.held.append(request)
    raise httpx.ReadTimeout("timed out (the request is still on its way)", request=request)


def unavailable(request: httpx.Request, net: Faults) -> httpx.Response:
    return httpx.Response(503, json={"code": "unavailable", "message": "down"}, request=request)


def refused(request: httpx.Request, net: Faults) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@dataclass
class Rig:
    service: TaskingService
    net: Faults
    control: SandboxControl
    observer: TaskingClient

    def request(self, reference: str) -> TaskRequest:
        now = self.control.clock().now
        contract = self.observer.get_contract(seed.BROAD_CONTRACT_ID)
        start, end = rules.default_window(now, "COMMERCIAL")
        draft = TaskDraft(
            contract_id=contract.id,
            lat=60.17,
            lon=24.94,
            window_start=start,
            window_end=end,
            imaging_mode="SPOTLIGHT",
            reference=reference,
        )
        return rules.build_task_request(draft, contract, now)

    def tasks(self, reference: str) -> list[Task]:
        return [t for t in self.observer.iter_tasks() if t.reference == reference]

    def posts(self) -> int:
        return self.net.reached.count(f"POST {TASKS_PATH}")


@pytest.fixture
def rig(sandbox: SandboxHandle, tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(sandbox, tmp_path)


def _rig(
    sandbox: SandboxHandle,
    tmp_path: Path,
    *,
    local_clock: Callable[[], datetime] | None = None,
    live_like: bool = False,
) -> Iterator[Rig]:
    settings = load_settings(data_dir=tmp_path / "data")
    net = Faults()
    control = SandboxControl(sandbox.url)
    sim = SimClock(lambda: _reading(control))
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    auth = ClientCredentialsAuth(
        token_url_for(sandbox.url), seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET
    )
    kwargs = {} if local_clock is None else {"clock": local_clock}
    client = TaskingClient(
        sandbox.api_url,
        auth,
        transport=net,
        sleep=lambda _s: None,
        **kwargs,
    )
    clock = ServerClock(client.server_now) if live_like else sim
    service = TaskingService(
        mode="live" if live_like else "sandbox",
        label="test",
        host="sandbox",
        settings=settings,
        client=client,
        clock=clock,
        history=TaskHistory(engine, clock=clock.estimate),
        journal=OrderJournal(engine),
        engine=engine,
        control=None if live_like else control,
        reconcile_hold_s=600,
    )
    observer = TaskingClient(
        sandbox.api_url,
        ClientCredentialsAuth(
            token_url_for(sandbox.url), seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET
        ),
    )
    try:
        yield Rig(service, net, control, observer)
    finally:
        service.close()
        observer.close()
        control.close()


def _reading(control: SandboxControl) -> ClockReading:
    state = control.clock()
    return ClockReading(state.now, state.speed, state.next_event)


# --- the six network scenarios -------------------------------------------------------------------


@pytest.mark.parametrize("fault", [answer_lost, reset_after_sending], ids=lambda f: f.__name__)
def test_a_create_whose_answer_is_lost_is_found_and_not_sent_again(rig: Rig, fault: Action) -> None:
    reference = f"lost-{fault.__name__}"
    rig.net.on("POST", TASKS_PATH, fault)
    placement = rig.service.place_order(rig.request(reference))
    assert placement.order.state is OrderState.PLACED
    assert [t.id for t in rig.tasks(reference)] == [placement.order.task_id]
    assert rig.posts() == 1


def test_a_create_delayed_past_the_timeout_is_never_resent_and_is_found_when_it_lands(
    rig: Rig,
) -> None:
    reference = "delayed"
    rig.net.on("POST", TASKS_PATH, delayed_past_timeout)
    placement = rig.service.place_order(rig.request(reference))
    assert placement.order.state is OrderState.UNCONFIRMED
    assert isinstance(placement.error, RequestTimeout)
    # The user clicks Create again while the first request is still on its way: nothing is sent.
    again = rig.service.place_order(rig.request(reference))
    assert not again.new and again.order.key == placement.order.key and again.order.open
    assert rig.service.reconcile(placement.order.key).state is OrderState.UNCONFIRMED
    rig.net.release()  # the delayed request reaches the server after the lookups found nothing
    settled = rig.service.reconcile(placement.order.key)
    assert settled.state is OrderState.PLACED
    assert [t.id for t in rig.tasks(reference)] == [settled.task_id]
    assert rig.posts() == 1


def test_an_order_that_never_reached_the_server_is_proven_absent_after_the_hold(
    rig: Rig,
) -> None:
    reference = "never-arrived"
    rig.net.on("POST", TASKS_PATH, delayed_past_timeout)
    placement = rig.service.place_order(rig.request(reference))
    assert placement.order.state is OrderState.UNCONFIRMED
    rig.net.held.clear()  # lost for good
    rig.service.reconcile_hold = timedelta(0)
    absent = rig.service.reconcile(placement.order.key)
    assert absent.state is OrderState.NOT_PLACED and "No task was made" in (absent.error or "")
    # Only now may the same order be sent again, and it makes exactly one task.
    again = rig.service.place_order(rig.request(reference))
    assert again.new and again.order.state is OrderState.PLACED
    assert len(rig.tasks(reference)) == 1


def test_a_failing_lookup_leaves_the_order_unconfirmed_until_the_lookup_works(rig: Rig) -> None:
    reference = "lookup-fails"
    rig.net.on("POST", TASKS_PATH, answer_lost)
    for _ in range(3):  # the lookup's own retries all fail
        rig.net.on("GET", TASKS_PATH, unavailable)
    placement = rig.service.place_order(rig.request(reference))
    assert placement.order.state is OrderState.UNCONFIRMED
    assert "Looking for the task failed" in (placement.order.error or "")
    settled = rig.service.reconcile(placement.order.key)
    assert settled.state is OrderState.PLACED
    assert len(rig.tasks(reference)) == 1 and rig.posts() == 1


def test_a_client_whose_clock_is_a_day_ahead_still_finds_its_task(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    ahead = lambda: datetime.now(UTC) + timedelta(days=1)  # noqa: E731
    rigs = _rig(sandbox, tmp_path, local_clock=ahead, live_like=True)
    rig = next(rigs)
    try:
        rig.service.client.list_contracts()  # as the app does first: any answer carries Date
        reference = "clock-ahead"
        rig.net.on("POST", TASKS_PATH, answer_lost)
        placement = rig.service.place_order(rig.request(reference))
        assert placement.order.state is OrderState.PLACED
        assert len(rig.tasks(reference)) == 1 and rig.posts() == 1
    finally:
        rigs.close()


def test_a_create_that_could_not_connect_is_not_placed_and_says_why(rig: Rig) -> None:
    reference = "refused"
    for _ in range(3):
        rig.net.on("POST", TASKS_PATH, refused)
    with pytest.raises(TransportError):
        rig.service.place_order(rig.request(reference))
    order = rig.service.journal.active(rig.request(reference))
    assert order is None  # certainly not made: the same order may be sent again
    assert rig.tasks(reference) == [] and rig.posts() == 0


# --- clicks, tabs and local failures -------------------------------------------------------------


def test_a_history_failure_after_create_neither_raises_nor_allows_a_second_task(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise HistoryError("The local task history (sqlite) failed: OperationalError")

    monkeypatch.setattr(rig.service.history, "record", broken)
    placement = rig.service.place_order(rig.request("history-down"))
    assert placement.order.state is OrderState.PLACED
    again = rig.service.place_order(rig.request("history-down"))
    assert not again.new and again.order.task_id == placement.order.task_id
    assert len(rig.tasks("history-down")) == 1 and rig.posts() == 1


def test_a_journal_that_cannot_record_the_order_sends_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise HistoryError("The order journal (sqlite) failed: OperationalError")

    monkeypatch.setattr(rig.service.journal, "begin", broken)
    with pytest.raises(HistoryError):
        rig.service.place_order(rig.request("journal-down"))
    assert rig.posts() == 0


def test_a_double_click_and_two_tabs_at_once_make_one_task(rig: Rig) -> None:
    request = rig.request("two-tabs")
    barrier = threading.Barrier(4)
    results: list[object] = []

    def click() -> None:
        barrier.wait()
        results.append(rig.service.place_order(request))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 4
    assert len(rig.tasks("two-tabs")) == 1 and rig.posts() == 1


def test_unencodable_text_is_an_input_error_before_any_call(rig: Rig) -> None:
    request = rig.request("fine").model_copy(update={"reference": "bad \ud800 text"})
    with pytest.raises(InputError, match="text-encoding"):
        rig.service.place_order(request)
    assert rig.posts() == 0


def test_a_second_cancel_of_a_cancelled_task_returns_it(rig: Rig) -> None:
    placement = rig.service.place_order(rig.request("cancel-twice"))
    assert placement.order.task_id is not None
    first = rig.service.cancel_task(placement.order.task_id)
    second = rig.service.cancel_task(placement.order.task_id)
    assert first.status == second.status == TaskStatus.CANCELED


def test_open_orders_left_by_a_stopped_app_are_settled_at_start(rig: Rig) -> None:
    reference = "left-open"
    rig.net.on("POST", TASKS_PATH, answer_lost)
    rig.net.on("GET", TASKS_PATH, unavailable)
    rig.net.on("GET", TASKS_PATH, unavailable)
    rig.net.on("GET", TASKS_PATH, unavailable)
    placement = rig.service.place_order(rig.request(reference))
    assert placement.order.open
    (settled,) = rig.service.reconcile_open()
    assert settled.state is OrderState.PLACED


# --- building and closing ---------------------------------------------------------------------------


def test_a_failed_build_after_the_sandbox_started_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[SandboxHandle] = []

    def start(data_dir: Path) -> SandboxHandle:
        started.append(start_in_background(data_dir, speed=1.0))
        return started[-1]

    def broken(*_args: object, **_kwargs: object) -> TaskingClient:
        raise TransportError("the client could not be made")

    monkeypatch.setattr(TaskingClient, "from_settings", broken)
    settings = load_settings(data_dir=tmp_path / "data", sandbox_url=None)
    for _ in range(2):  # the user's Retry
        with pytest.raises(TransportError):
            build_service(settings, start_sandbox=start)
    assert len(started) == 2 and not any(handle.running for handle in started)


def test_closing_the_service_stops_its_sandbox(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", sandbox_url=None)
    service = build_service(settings)
    assert service.sandbox is not None and service.sandbox.running and service.answers()
    service.close()
    assert not service.sandbox.running


# --- review findings -----------------------------------------------------------------------------


def test_the_page_is_told_of_the_order_before_anything_is_sent(rig: Rig) -> None:
    seen: list[tuple[OrderState, int]] = []
    placement = rig.service.place_order(
        rig.request("told-first"), on_journaled=lambda o: seen.append((o.state, rig.posts()))
    )
    assert seen == [(OrderState.SENDING, 0)]
    assert placement.order.state is OrderState.PLACED


def test_a_task_another_order_made_is_never_claimed(rig: Rig) -> None:
    first = rig.request("claimed-once").model_copy(update={"exclusivity": "PRIVATE"})
    placed = rig.service.place_order(first)
    assert placed.order.state is OrderState.PLACED
    # Same place, window and reference, exclusivity left to the contract: the earlier task matches
    # it on the server, but it is the first order's.
    second = rig.request("claimed-once")
    rig.net.on("POST", TASKS_PATH, delayed_past_timeout)
    pending = rig.service.place_order(second)
    rig.net.held.clear()  # never arrives
    assert pending.order.state is OrderState.UNCONFIRMED
    rig.service.reconcile_hold = timedelta(0)
    assert rig.service.reconcile(pending.order.key).state is OrderState.NOT_PLACED
    assert [t.id for t in rig.tasks("claimed-once")] == [placed.order.task_id]


def test_a_task_with_another_option_set_is_not_the_orders(rig: Rig) -> None:
    public = rig.request("other-option").model_copy(update={"exclusivity": "PUBLIC"})
    private = rig.request("other-option").model_copy(update={"exclusivity": "PRIVATE"})
    assert rig.service.place_order(public).order.state is OrderState.PLACED
    rig.net.on("POST", TASKS_PATH, delayed_past_timeout)
    pending = rig.service.place_order(private)
    rig.net.held.clear()
    assert rig.service.reconcile(pending.order.key).state is OrderState.UNCONFIRMED


def test_an_order_still_sending_is_not_declared_absent_before_a_send_could_have_ended(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, _ = rig.service.journal.begin(rig.request("in-flight"), rig.service.now())
    rig.service.reconcile_hold = timedelta(0)
    assert rig.service.reconcile(order.key).state is OrderState.SENDING  # maybe still in flight
    later = order.journaled_at + timedelta(minutes=10)
    monkeypatch.setattr(rig.service, "_real_clock", lambda: later)
    assert rig.service.reconcile(order.key).state is OrderState.NOT_PLACED


def test_a_live_health_check_trusts_recent_traffic_and_probes_at_most_once_a_minute(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live mode: the sidebar's health check costs ICEYE no request while the app's own traffic
    shows it answers, one probe when nothing was heard for a minute, and a failure is re-checked
    after 10 s so a recovery shows soon (bench/README.md counted 12 probes a minute before)."""
    moment = [1000.0]
    rigs = _rig(sandbox, tmp_path, live_like=True)
    rig = next(rigs)
    try:
        service = rig.service
        monkeypatch.setattr(service.client.session, "_monotonic", lambda: moment[0])
        reached = rig.net.reached

        def probes() -> int:
            return reached.count("GET /api/company/v1/contracts")

        assert service.answers() and probes() == 1  # nothing heard yet: one probe
        service.client.get_contract(seed.BROAD_CONTRACT_ID)  # the app's own traffic
        moment[0] += 59
        assert service.answers() and probes() == 1
        moment[0] += 2  # a minute without a word: probe again
        assert service.answers() and probes() == 2
        rig.net.rules.append(("GET", "/api/company/v1/contracts", refused))
        moment[0] += 61
        assert not service.answers() and probes() == 2  # refused before reaching the server
        moment[0] += 9
        assert not service.answers()  # the failure is trusted for 10 s, nothing is sent
        moment[0] += 2
        assert service.answers() and probes() == 3  # the backend is back
    finally:
        rigs.close()
