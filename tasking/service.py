"""The application service: what the pages (and a shell, and later the worker) call.

``TaskingService`` owns the long-lived parts: the ICEYE client, the local store (task history and
order journal), the backend's clock and, in sandbox mode, the sandbox. ``build_service`` makes it
once per process (the app caches it with ``st.cache_resource`` and closes it in the cache's release
hook). It never imports Streamlit.

Ordering is exactly-once (``place_order``):

1. The order is written to the journal before anything is sent; an identical order (same wire body)
   that is placed or in flight is returned instead, so a double click or a second tab sends nothing.
2. The create is sent once. 201 → PLACED. A definite refusal (4xx) or a request that never left →
   NOT_PLACED and the error is raised. No definite answer (timeout, reset, 5xx) → UNCONFIRMED:
   nothing is resent.
3. ``reconcile`` looks for an UNCONFIRMED (or orphaned SENDING) order's task on the server, by the
   server's clock, until it is found (PLACED) or the hold has passed without it (NOT_PLACED: proven
   absent, the user may send it again). The hold outlasts a request delayed in the network.

Once the server has made the task, nothing local raises: the history, the journal update and the
clock refresh are best-effort (logged); a journal row left behind is repaired by ``reconcile`` and a
history row by the next refresh of the task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from tasking.campaigns import (
    CampaignRun,
    CampaignStore,
    Progress,
    campaign_requests,
    run_campaign,
)
from tasking.client import CREATE_LOOKUP_SKEW, TaskingClient
from tasking.clock import Clock, ClockReading, ServerClock, SimClock
from tasking.config import Settings
from tasking.desk import Desk
from tasking.errors import BadRequest, HistoryError, TaskingError, TransportError
from tasking.history import TaskHistory
from tasking.http import MAX_ATTEMPTS, RETRY_AFTER_CAP_S, check_text
from tasking.journal import Order, OrderJournal, OrderState
from tasking.models import (
    Contract,
    FeasibilityItem,
    Notifications,
    Task,
    TaskRequest,
    TaskStatus,
    WebhookRef,
)
from tasking.rules import TaskDraft
from tasking.series import (
    CancellableTask,
    CancelOutcome,
    Recurrence,
    Series,
    SeriesPass,
    SeriesStatus,
    SeriesStore,
    cancel_preview,
    cancel_series,
    make_series,
    order_due,
)
from tasking.store import make_engine
from tasking.times import utc_now

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tasking.sandbox.control import (
        ClockState,
        FastForwarded,
        FastForwardTo,
        SandboxControl,
        ScenarioLoaded,
    )
    from tasking.sandbox.process import RunningSandbox
    from tasking.targets import Target
    from tasking.worker import Worker

__all__ = ["RECONCILE_HOLD_MIN_S", "Placement", "TaskingService", "build_service"]

log = logging.getLogger(__name__)

# What the worker pays to follow a task it has not seen: getTask, its scene, its products and the
# quicklook (tasking.worker.core: _details).
_REQUESTS_PER_NEW_TASK = 4

RECONCILE_HOLD_MIN_S = 120.0
"""An unconfirmed order is looked for at least this long (real seconds, and at least four request
timeouts) before it is declared absent: a create delayed in the network past our timeout still
reaches the server within it."""
LIVE_ANSWERED_TRUST_S = 60.0
"""A live health check trusts an answer the session saw this recently (no probe to ICEYE)."""
LIVE_FAILED_TRUST_S = 10.0
"""... and a failure this recently (so a recovery shows within 10 s)."""


@dataclass(frozen=True)
class Placement:
    """What ``place_order`` did."""

    order: Order
    new: bool
    """False: an identical order was already placed or in flight; nothing was sent."""
    task: Task | None = None
    error: TaskingError | None = None
    """Why the outcome is not known yet (UNCONFIRMED)."""


class TaskingService:
    """Everything the pages talk to; thread-safe, shared by every session of the process."""

    def __init__(
        self,
        *,
        mode: Literal["sandbox", "live"],
        label: str,
        host: str,
        settings: Settings,
        client: TaskingClient,
        clock: Clock,
        history: TaskHistory,
        journal: OrderJournal,
        desk: Desk | None = None,
        engine: Engine | None = None,
        control: SandboxControl | None = None,
        sandbox: RunningSandbox | None = None,
        reconcile_hold_s: float | None = None,
        real_clock: Callable[[], datetime] = utc_now,
        campaigns: CampaignStore | None = None,
    ) -> None:
        self.mode = mode
        self.label = label
        self.host = host
        self.settings = settings
        self.client = client
        self.clock = clock
        self.history = history
        self.journal = journal
        self.desk = desk
        self.worker: Worker | None = None
        """The worker this process runs (``ICEYE_WORKER=auto``), once started."""
        self.control = control
        self.sandbox = sandbox
        self._engine = engine
        self._real_clock = real_clock
        self._campaigns = campaigns
        self._series: SeriesStore | None = None
        self.reconcile_hold = timedelta(
            seconds=reconcile_hold_s
            if reconcile_hold_s is not None
            else max(RECONCILE_HOLD_MIN_S, 4 * settings.timeout_s)
        )

    def __repr__(self) -> str:
        return f"TaskingService(mode={self.mode!r}, host={self.host!r})"

    # --- clock and health --------------------------------------------------------------------

    def now(self) -> datetime:
        """The backend's "now": the simulation clock in sandbox mode, the server's time live."""
        return self.clock.now()

    def set_speed(self, speed: float) -> ClockReading:
        """Change the simulation speed (sandbox only)."""
        return self._remember(self._control().set_speed(speed))

    def jump_to_next_event(self) -> ClockReading:
        """Advance the simulation clock to its next due event (sandbox only)."""
        return self._remember(self._control().advance(to_next_event=True))

    def fast_forward(self, task_id: str, to: FastForwardTo = "next-event") -> FastForwarded:
        """Move the simulation clock, for every task, to this task's next event or until it is
        final (sandbox only), with this app's company token. Once the sandbox has answered,
        nothing here raises: the clock reading and the history are kept best-effort."""
        result = self._control().fast_forward(task_id, to, auth=self.client.session.auth)
        self._remember(result.clock)
        self.record(result.task)
        self._hint(task_id)
        return result

    def load_demo_scenario(self, seed: int | None = None) -> ScenarioLoaded:
        """Replace this account's tasks on the sandbox by the demo scenario (sandbox only): a
        world with tasks at every stage (``POST /sandbox/v1/scenario``, with this app's company
        token). The local store then forgets the removed tasks (only the ids the sandbox names,
        so nothing else is touched, least of all a task of a live backend sharing the store) and
        knows the new ones with the times they reached each status. Once the sandbox has
        answered, nothing here raises: the local part is best-effort (logged)."""
        result = self._control().load_demo_scenario(seed, auth=self.client.session.auth)
        self._remember(result.clock)
        self._forget(list(result.removed))
        # Newest first, at the pace the worker's budget pays for them: a task someone opens
        # meanwhile (the Monitor hints it "now") is fetched before the rest of the queue.
        pace = 60.0 * _REQUESTS_PER_NEW_TASK / self.settings.request_budget_per_min
        start = self._real_clock()
        for index, item in enumerate(reversed(result.tasks)):
            try:
                for status, at in item.statuses:
                    self.history.record_status(item.task.id, status, at)
            except TaskingError as error:
                log.warning("task %s: status times not recorded: %s", item.task.id, error)
            self.record(item.task)
            self._hint(item.task.id, start + timedelta(seconds=pace * index))
        return result

    def _forget(self, task_ids: list[str]) -> None:
        """Tasks the sandbox removed: out of the history and the desk, and their orders no
        longer hold their fingerprint (best-effort, each part on its own)."""
        if not task_ids:
            return
        why = "Its task was removed when the sandbox's demo scenario was loaded"
        parts: list[tuple[str, Callable[[], object]]] = [
            ("history", lambda: self.history.forget(task_ids)),
            ("order journal", lambda: self.journal.release(task_ids, why)),
        ]
        if self.desk is not None:
            desk = self.desk
            parts.append(("desk", lambda: desk.forget(task_ids)))
        for what, forget in parts:
            try:
                forget()
            except TaskingError as error:
                log.warning("the %s still has %d removed tasks: %s", what, len(task_ids), error)

    def _hint(self, task_id: str, at: datetime | None = None) -> None:
        """Ask the worker (if one follows the tasks) to fetch this task now (or at ``at``, real
        time): the pages read its store, and a change made from here should not wait for a
        callback or a sweep."""
        if self.desk is None:
            return
        try:
            self.desk.hint(task_id, at)
        except HistoryError as error:
            log.warning("task %s: the worker was not asked to fetch it: %s", task_id, error)

    def _control(self) -> SandboxControl:
        if self.control is None:
            raise TransportError("The simulation clock exists only in sandbox mode")
        return self.control

    def _remember(self, state: ClockState) -> ClockReading:
        reading = _reading(state)
        if isinstance(self.clock, SimClock):
            self.clock.remember(reading)
        return reading

    def answers(self) -> bool:
        """Whether the backend answers right now. The sandbox: its own health route. ICEYE: what
        this process's latest exchange with it showed, if recent (an answer within
        ``LIVE_ANSWERED_TRUST_S``, a failure within ``LIVE_FAILED_TRUST_S``), else one short
        request with no retries; so a live app's health check costs ICEYE at most one request a
        minute while it answers, and none while the app or its worker talk to it anyway."""
        try:
            if self.control is not None:
                return self.control.health()
            heard = self.client.session.last_heard()
            if heard is not None:
                age, answered = heard
                if age < (LIVE_ANSWERED_TRUST_S if answered else LIVE_FAILED_TRUST_S):
                    return answered
            self.client.probe()
        except TaskingError:
            return False
        return True

    def refresh_clock(self) -> None:
        """Something changed on the backend (an order, a cancel): read its clock afresh so the
        sidebar knows the next event. Best-effort."""
        with contextlib.suppress(TaskingError):
            self.clock.refresh()

    # --- the desk (background worker) -------------------------------------------------------

    def worker_active(self) -> bool:
        """Whether a worker (this process's or another's) follows the tasks now: then the pages
        read the desk instead of polling ICEYE. False when the store cannot say."""
        if self.desk is None:
            return False
        try:
            return self.desk.worker_alive()
        except HistoryError as error:
            log.warning("the worker's lease cannot be read: %s", error)
            return False

    def start_worker(self) -> Worker | None:
        """Run a worker in this process (``ICEYE_WORKER=auto``): it works only while it holds the
        store's lease, so app instances sharing a store never follow twice. Idempotent."""
        if self.worker is not None or self.desk is None or self.settings.worker != "auto":
            return self.worker
        from tasking.worker import Worker, WorkerConfig

        self.worker = Worker(self, WorkerConfig.embedded(self.settings))
        self.worker.start()
        return self.worker

    def _with_webhook(self, request: TaskRequest) -> TaskRequest:
        """The request with the worker's webhook, so ICEYE calls the worker back on each status
        change; as it is when no worker is active or it follows by polling."""
        if request.notifications is not None or self.desk is None or not self.worker_active():
            return request
        from tasking.worker.core import WEBHOOK_ID_SETTING

        try:
            webhook_id = self.desk.setting(WEBHOOK_ID_SETTING)
        except HistoryError:
            return request
        if webhook_id is None:
            return request
        return request.model_copy(
            update={"notifications": Notifications(webhook=WebhookRef(id=webhook_id))}
        )

    # --- orders ------------------------------------------------------------------------------

    def place_order(
        self,
        request: TaskRequest,
        *,
        on_journaled: Callable[[Order], None] | None = None,
        refresh_clock: bool = True,
    ) -> Placement:
        """Create the task exactly once (module doc). ``on_journaled`` is told the order as soon
        as it is written down, before anything is sent (a page keeps its key, so that an
        interrupted page still knows the order exists). ``refresh_clock=False``: the caller reads
        the clock once after many orders (a campaign). Raises the TaskingError of a journal that
        cannot record the order (nothing sent) or of a definite refusal by the API."""
        check_text(request.to_wire())  # unencodable text: InputError, nothing journaled or sent
        request = self._with_webhook(request)
        sent_at = self._server_time()
        order, new = self.journal.begin(request, sent_at)
        if on_journaled is not None:
            on_journaled(order)
        if not new:
            if order.open:
                order = self.reconcile(order.key)
            return Placement(order, new=False, task=self._known_task(order))
        try:
            task = self.client.send_create(request)
        except TaskingError as error:
            if not error.outcome_unknown:
                self._settle(order, OrderState.NOT_PLACED, error.message)
                raise
            log.warning("create of order %s has no definite answer: %s", order.key, error)
            order = self._settle(order, OrderState.UNCONFIRMED, error.message)
            order = self.reconcile(order.key, fallback=order)
            return Placement(order, new=True, task=self._known_task(order), error=error)
        order = self._placed(order, task, refresh_clock=refresh_clock)
        return Placement(order, new=True, task=task)

    def reconcile(self, key: str, *, fallback: Order | None = None) -> Order:
        """Settle an open order against the server: PLACED when its task is found, NOT_PLACED once
        the hold has passed without it, else still open. Never raises for a failed lookup (the
        order stays open and says why); raises HistoryError only if the journal cannot be read."""
        order = self._journal_get(key, fallback)
        if not order.open:
            return order
        try:
            found = self.client.matching_tasks(order.request, order.sent_at - CREATE_LOOKUP_SKEW)
        except TaskingError as error:
            log.warning("looking for the task of order %s failed: %s", order.key, error)
            return dataclasses.replace(order, error=f"Looking for the task failed: {error.message}")
        candidates = [task for task in found if not self._made_by_another_order(task, order)]
        if len(candidates) == 1:
            return self._placed(order, candidates[0])
        if candidates:
            # Identical tasks made elsewhere (another client, by hand): which one is ours cannot be
            # told, and none may be claimed. Never "absent" either: the user decides.
            return dataclasses.replace(
                order,
                error=f"{len(candidates)} tasks on the server match this order; which one it made "
                "cannot be told: look for them in All tasks",
            )
        if self._real_clock() - self._hold_start(order) < self.reconcile_hold:
            return order
        return self._settle(
            order,
            OrderState.NOT_PLACED,
            f"No task was made: none appeared in {self.reconcile_hold.total_seconds():.0f} s",
        )

    def _hold_start(self, order: Order) -> datetime:
        """From when an absent task proves the order was not placed: an UNCONFIRMED order's hold
        starts when its send ended; a SENDING one may still be in flight in some process, so its
        hold starts only after the longest a send can take (every attempt timing out after the
        longest Retry-After it honours)."""
        if order.state is OrderState.UNCONFIRMED:
            return order.updated_at
        longest_send = MAX_ATTEMPTS * (self.settings.timeout_s + RETRY_AFTER_CAP_S)
        return order.journaled_at + timedelta(seconds=longest_send)

    def _made_by_another_order(self, task: Task, order: Order) -> bool:
        try:
            owner = self.journal.for_task(task.id)
        except HistoryError:
            return False
        return owner is not None and owner.key != order.key

    def reconcile_open(self) -> list[Order]:
        """Reconcile every open order of the journal (at start-up, or by a worker); an order
        whose row cannot be settled now is logged and left for the next time."""
        settled = []
        for order in self.journal.open_orders():
            try:
                settled.append(self.reconcile(order.key))
            except TaskingError as error:
                log.warning("order %s not reconciled: %s", order.key, error)
        return settled

    def order(self, key: str) -> Order | None:
        return self.journal.get(key)

    def _journal_get(self, key: str, fallback: Order | None) -> Order:
        try:
            found = self.journal.get(key)
        except HistoryError:
            if fallback is None:
                raise
            return fallback
        if found is None:
            raise HistoryError(f"The order journal has no order {key}")
        return found

    def _placed(self, order: Order, task: Task, *, refresh_clock: bool = True) -> Order:
        settled = self._settle(order, OrderState.PLACED, task.id)
        self.record(task)
        if refresh_clock:
            self.refresh_clock()
        return settled

    def _settle(self, order: Order, state: OrderState, detail: str) -> Order:
        """Record the order's new state (``detail``: the task id when PLACED, else why); if the
        journal fails, log it and carry on in memory (``reconcile`` repairs a row left open)."""
        write = {
            OrderState.PLACED: self.journal.placed,
            OrderState.UNCONFIRMED: self.journal.unconfirmed,
            OrderState.NOT_PLACED: self.journal.not_placed,
        }[state]
        try:
            return write(order.key, detail)
        except HistoryError as error:
            log.error("order %s: the journal could not record %s: %s", order.key, state, error)
            if state is OrderState.PLACED:
                return dataclasses.replace(order, state=state, task_id=detail, error=None)
            return dataclasses.replace(order, state=state, error=detail)

    def _known_task(self, order: Order) -> Task | None:
        if order.task_id is None:
            return None
        try:
            return self.history.get(order.task_id)
        except HistoryError:
            return None

    def _server_time(self) -> datetime:
        """The server's time before sending (where to look for the task later); the best estimate
        without a request, so a failing clock never blocks an order."""
        try:
            return self.clock.estimate()
        except TaskingError:
            return self.client.server_now()

    # --- campaigns (tasking.campaigns) -------------------------------------------------------

    @property
    def campaigns(self) -> CampaignStore:
        """The campaign store, on the service's own store (made on first use)."""
        if self._campaigns is None:
            if self._engine is None:
                raise HistoryError("Campaigns need the local store, and this service has none")
            # "Created" on the backend's clock, as every other time the pages show (a sandbox
            # running faster than real time would otherwise show two clocks side by side).
            self._campaigns = CampaignStore(self._engine, clock=self._recorded_at)
        return self._campaigns

    def _recorded_at(self) -> datetime:
        try:
            return self.clock.estimate()
        except TaskingError:
            return self._real_clock()

    def campaign_requests(
        self, name: str, draft: TaskDraft, targets: Sequence[Target], contract: Contract
    ) -> tuple[str, list[TaskRequest]]:
        """A new campaign id and its requests, one per target, checked by the single task's rules
        (InputError naming each refused target); nothing is recorded or sent."""
        campaign_id = self.campaigns.new_id()
        now = self._server_time()
        return campaign_id, campaign_requests(campaign_id, name, draft, targets, contract, now)

    def check_feasibility_batch(self, requests: Sequence[TaskRequest]) -> list[FeasibilityItem]:
        """One verdict per request, through ICEYE's array form (as few requests as its limits
        allow)."""
        return self.client.check_feasibility_batch(requests)

    def create_campaign(
        self,
        name: str,
        draft: TaskDraft,
        targets: Sequence[Target],
        contract: Contract,
        *,
        requests: Sequence[TaskRequest] | None = None,
        campaign_id: str | None = None,
        on_progress: Progress | None = None,
    ) -> CampaignRun:
        """Record the campaign, then create its tasks exactly once each (``tasking.campaigns``).
        ``requests`` and ``campaign_id`` from ``campaign_requests`` (the ones checked for
        feasibility) are used as they are; otherwise they are built here. Raises InputError before
        anything is recorded; whatever ``on_progress`` raises stops the run, and
        ``resume_campaign`` goes on from there."""
        if requests is None or campaign_id is None:
            campaign_id, built = self.campaign_requests(name, draft, targets, contract)
            requests = built
        self.campaigns.create(campaign_id, name, targets, requests)
        return run_campaign(self, self.campaigns, campaign_id, on_progress)

    def resume_campaign(
        self, campaign_id: str, *, on_progress: Progress | None = None
    ) -> CampaignRun:
        """Reconcile the campaign's targets in doubt, then send only those without a task."""
        return run_campaign(self, self.campaigns, campaign_id, on_progress)

    # --- recurring series (tasking.series) ----------------------------------------------------

    @property
    def series(self) -> SeriesStore:
        """The series store, on the service's own store (made on first use)."""
        if self._series is None:
            if self._engine is None:
                raise HistoryError("Series need the local store, and this service has none")
            self._series = SeriesStore(self._engine)
        return self._series

    def create_series(
        self,
        name: str,
        draft: TaskDraft,
        targets: Sequence[Target],
        contract: Contract,
        window: timedelta,
        recurrence: Recurrence,
    ) -> Series:
        """Check and record a recurring series (nothing is sent: each occurrence is ordered when
        its window comes within ICEYE's 14-day reach, by the worker or ``order_due_occurrences``).
        Raises InputError naming every broken rule, before anything is recorded."""
        made = make_series(
            self.series.new_id(), name, draft, targets, contract, window, recurrence, self.now()
        )
        return self.series.add(made)

    def order_due_occurrences(self) -> SeriesPass:
        """Order the series' occurrences that are due, when no worker does it (a page asks, so a
        single tab is never stuck); nothing when a worker is active."""
        if self.worker_active():
            return SeriesPass()
        return order_due(self, self.series)

    def pause_series(self, series_id: str) -> bool:
        return self.series.set_status(series_id, SeriesStatus.PAUSED, (SeriesStatus.ACTIVE,))

    def resume_series(self, series_id: str) -> bool:
        return self.series.set_status(series_id, SeriesStatus.ACTIVE, (SeriesStatus.PAUSED,))

    def series_cancel_preview(self, series_id: str) -> list[CancellableTask]:
        """The series' tasks still cancellable, each with the fee tier a cancel now costs."""
        found = self.series.get(series_id)
        if found is None:
            raise HistoryError(f"The series store has no series {series_id}")
        return cancel_preview(self, found, self.now())

    def cancel_series(self, series_id: str) -> list[CancelOutcome]:
        """Order nothing more, and cancel every task still cancellable, each with its fee tier."""
        return cancel_series(self, self.series, series_id)

    # --- other writes ------------------------------------------------------------------------

    def cancel_task(self, task_id: str) -> Task:
        """cancelTask, idempotent: a task already CANCELED (a double click, a second tab, an answer
        that was lost) is returned, not refused. Never raises once the API has cancelled it."""
        try:
            task = self.client.cancel_task(task_id)
        except BadRequest:
            current = self.client.get_task(task_id)
            if current.status != TaskStatus.CANCELED:
                raise
            task = current
        self.record(task)
        self.refresh_clock()
        return task

    def record(self, task: Task) -> None:
        """Keep the task in the local history, best-effort (the next refresh repairs a miss)."""
        try:
            self.history.record(task)
        except TaskingError as error:
            log.warning("task %s not recorded in the local history: %s", task.id, error)

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Release everything: worker, client, sandbox control and server, store. Safe to call
        twice."""
        if self.worker is not None:
            try:
                self.worker.stop()
            except Exception:
                log.exception("stopping the worker failed")
        for part, what in (
            (self.client, "client"),
            (self.control, "sandbox control"),
            (self.history, "history"),
        ):
            if part is not None:
                try:
                    part.close()
                except Exception:  # closing must go on with the rest
                    log.exception("closing the %s failed", what)
        if self.sandbox is not None:
            self.sandbox.stop()
        if self._engine is not None:
            self._engine.dispose()


def _reading(state: ClockState) -> ClockReading:
    return ClockReading(state.now, float(state.speed), state.next_event)


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def build_service(
    settings: Settings,
    *,
    start_sandbox: Callable[[Path], RunningSandbox] | None = None,
    reconcile_hold_s: float | None = None,
) -> TaskingService:
    """Build the service for the settings. The store comes first and the sandbox last, and if
    anything fails after the sandbox started it is stopped again: a failed start (and the user's
    Retry) never leaves a server running. Raises TaskingError."""
    url = settings.history_url or f"sqlite:///{(settings.data_dir / 'history.sqlite')}"
    engine = _engine(url)
    built: list[Callable[[], object]] = [engine.dispose]
    # The clock is made after the sandbox starts; the history reads it through this late binding.
    clocks: list[Clock] = []

    def history_time() -> datetime:
        return clocks[0].estimate()

    try:
        history = TaskHistory(engine, clock=history_time)
        journal = OrderJournal(engine)
        desk = Desk(engine)
        if settings.mode == "live":
            assert settings.api_url is not None  # complete credentials: Settings.mode
            client = TaskingClient.from_settings(settings)
            clocks.append(ServerClock(client.server_now))
            return TaskingService(
                mode="live",
                label="ICEYE live",
                host=_host(settings.api_url),
                settings=settings,
                client=client,
                clock=clocks[0],
                history=history,
                journal=journal,
                desk=desk,
                engine=engine,
                reconcile_hold_s=reconcile_hold_s,
            )
        return _sandbox_service(
            settings, engine, history, journal, desk, clocks, built, start_sandbox, reconcile_hold_s
        )
    except BaseException:
        for undo in reversed(built):
            with contextlib.suppress(Exception):
                undo()
        raise


def _engine(url: str) -> Engine:
    try:
        return make_engine(url)
    except Exception as error:  # a malformed URL, a missing driver, an unwritable folder
        raise HistoryError(
            f"The local store ({url.split('@')[-1]}) cannot be opened: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}"
        ) from error


def _sandbox_service(
    settings: Settings,
    engine: Engine,
    history: TaskHistory,
    journal: OrderJournal,
    desk: Desk,
    clocks: list[Clock],
    built: list[Callable[[], object]],
    start_sandbox: Callable[[Path], RunningSandbox] | None,
    reconcile_hold_s: float | None,
) -> TaskingService:
    # Imported here so live mode never loads FastAPI/uvicorn.
    from tasking.sandbox import seed
    from tasking.sandbox.control import SandboxControl

    handle: RunningSandbox | None = None
    root = settings.sandbox_url
    if root is None:
        # A process of its own (tasking.sandbox.process), so its CPU never competes with the
        # Streamlit sessions for this process's GIL; or the one already serving the same data
        # directory. Tests may pass tasking.sandbox.server.start_in_background (in-process).
        from tasking.sandbox.process import start_process

        start = start_sandbox or start_process
        try:
            handle = start(settings.data_dir / "sandbox")
        except (RuntimeError, OSError) as error:
            # The edge of the sandbox's start (process, port, data directory): in the app's terms.
            raise TransportError(f"The built-in sandbox could not start: {error}") from error
        built.append(handle.stop)
        root = handle.url
    root = root.rstrip("/")
    control = SandboxControl(root)
    built.append(control.close)
    clock = SimClock(lambda: _reading(control.clock()))
    clocks.append(clock)
    client = TaskingClient.from_settings(
        settings,
        api_url=f"{root}/api",
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=root,
    )
    return TaskingService(
        mode="sandbox",
        label="Sandbox (simulated constellation)",
        host=_host(root),
        settings=settings,
        client=client,
        clock=clock,
        history=history,
        journal=journal,
        desk=desk,
        engine=engine,
        control=control,
        sandbox=handle,
        reconcile_hold_s=reconcile_hold_s,
    )
