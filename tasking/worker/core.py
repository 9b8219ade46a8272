"""The background worker: follows every open task of the account and tells people.

One loop, active only while the worker holds the store's lease (``Desk.acquire_lease``), so any
number of app instances (each may run a worker in its process, ``ICEYE_WORKER=auto``) and separate
workers share one store without following twice. Each pass:

1. **Webhook** (when the backend can reach the receiver): registered once with the Notifications
   API, Basic auth with a random password of which only the hash is kept; the app passes its id in
   each create. A callback is a hint: the receiver marks the task due, the loop fetches it.
2. **Due tasks**: a GET per hinted task (and per task whose details failed or waited for the
   budget), the longest waiting first.
3. **Sweep**: one pass over the task list (``createdAfter`` the oldest open task, or the last sweep)
   every ``poll_interval_s`` when polling, every ``safety_sweep_s`` with a webhook (callbacks can be
   lost); a task whose status differs from the store's is observed from the list item itself. A
   sweep that runs out of budget between pages goes on from its cursor at the next pass.
4. **Backlog**: open tasks whose details the store lacks (the first sweep of an account records
   each task from its list item and fetches nothing more), one GET at a time with what budget the
   first three left. That GET also shows whether the task names the webhook.
5. **Reconcile** the order journal's open orders (the app may not be running).
6. **Deliveries** go out on their own thread (``_deliver``), so a slow mail server never delays
   following.

Every ICEYE request is paid from a ``Budget`` (``ICEYE_REQUEST_BUDGET`` per minute, a sliding
window): the worker asks before each request (a list page, a task, a scene, a product list, a
quicklook) and defers the rest, however many tasks or browser tabs there are.

Observing a task (``_observe``): the status change, its details (scene, products, quicklook,
reason) and its notifications with one delivery per channel are written in one transaction; the
statuses a verified callback reported in between (the worker was down, or fetched late) are
recorded at the callback's time and notified too, in lifecycle order.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tasking.desk import Delivery, Desk, Details, Followed, NewNotification
from tasking.errors import NotFound, TaskingError
from tasking.models import Task
from tasking.monitoring import fetches_after, is_captured, is_terminal
from tasking.times import parse_time_or_none, utc_now
from tasking.watch import QUICKLOOK_ASSET, ProductView
from tasking.worker.budget import Budget
from tasking.worker.messages import LIFECYCLE_RANK, notification_for
from tasking.worker.metrics import WorkerMetrics

if TYPE_CHECKING:
    from tasking.config import Settings
    from tasking.service import TaskingService
    from tasking.worker.receiver import Receiver

__all__ = [
    "CALLBACK_PATH",
    "CALLBACK_USER",
    "TOKEN_PATH",
    "WEBHOOK_ID_SETTING",
    "Worker",
    "WorkerConfig",
]

log = logging.getLogger("tasking.worker")

CALLBACK_PATH = "/callbacks/iceye"
TOKEN_PATH = "/oauth/token"
TOKEN_TTL_S = 3600
CALLBACK_USER = "iceye-callback"
WEBHOOK_ID_SETTING = "webhook.id"
_WEBHOOK_URL = "webhook.url"
_WEBHOOK_HASH = "webhook.password_sha256"
_SWEEP_LAST = "sweep.last"
_SWEEP_MARGIN = timedelta(minutes=10)
_PAGE = 1000
_FETCH_COST = 4
"""The most one fetch costs: the task, its scene, its products and the quicklook. A fetch starts
only when all of it fits, so none is cut short after its GET and repeated."""
_RETRY_BASE_S = 30.0
_RETRY_CAP_S = 3600.0


@dataclass(frozen=True)
class WorkerConfig:
    host: str = "127.0.0.1"
    port: int = 8600
    callback_url: str | None = None
    """Where the backend reaches the receiver; None: the receiver's own URL in sandbox mode,
    polling in live mode."""
    callback_auth: str = "basic"
    """"basic" or "oauth2": how the backend authenticates its callbacks to the receiver."""
    use_webhooks: bool = True
    """False: follow by polling even where the backend could call back."""
    poll_interval_s: float = 60.0
    safety_sweep_s: float = 600.0
    budget_per_minute: int = 30
    lease_ttl_s: float = 15.0
    tick_s: float = 1.0
    delivery_lease_s: float = 120.0
    max_delivery_attempts: int = 8
    reconcile_every_s: float = 30.0
    app_url: str = "http://localhost:8501"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WorkerConfig:
        values: dict[str, Any] = {
            "host": settings.worker_host,
            "port": settings.worker_port,
            "callback_url": settings.callback_url,
            "callback_auth": settings.callback_auth,
            "poll_interval_s": settings.poll_interval_s,
            "budget_per_minute": settings.request_budget_per_min,
            "app_url": settings.app_url,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def embedded(cls, settings: Settings) -> WorkerConfig:
        """The worker an app runs in its own process: its receiver on a free loopback port."""
        return cls.from_settings(settings, host="127.0.0.1", port=0)


@dataclass
class _Pass:
    """What one pass of the loop did (for tests and the log)."""

    fetched: int = 0
    observed: int = 0
    swept: bool = False
    backlog: int = 0
    reconciled: int = 0
    series_ordered: int = 0


@dataclass
class _Sweep:
    """A sweep under way: where it goes on when the budget ran out between two pages."""

    since: datetime | None
    started_server: datetime
    known: dict[str, str | None]
    cursor: str | None = None


@dataclass
class _State:
    active: bool = False
    webhook_id: str | None = None
    webhook_checked: float = 0.0
    last_sweep: float = 0.0
    sweep: _Sweep | None = None
    last_reconcile: float = 0.0
    last_series_resume: float | None = None
    series_stopped: bool = False
    last_pass: datetime | None = None
    errors: list[str] = field(default_factory=list)


Sender = Callable[[Any], None]


class Worker:
    """Follows the tasks of ``service``'s account; thread-safe ``start``/``stop``."""

    def __init__(
        self,
        service: TaskingService,
        config: WorkerConfig,
        *,
        senders: dict[str, Sender] | None = None,
        real_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if service.desk is None:
            raise ValueError("the worker needs the service's desk (the shared store)")
        self.service = service
        self.desk: Desk = service.desk
        self.config = config
        self.metrics = WorkerMetrics()
        self.budget = Budget(config.budget_per_minute)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.senders = senders if senders is not None else _senders(service.settings)
        self._now = real_clock
        self._state = _State()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._receiver: Receiver | None = None
        self._started_at = real_clock()
        self._pass_lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        """OAuth2 tokens this worker issued to the backend → monotonic expiry (memory only: a
        restarted worker's 401 makes the backend fetch a new one)."""
        self._tokens_lock = threading.Lock()
        self._clock_read = 0.0

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, *, loops: bool = True) -> None:
        """Start the receiver and (unless ``loops`` is False: a test drives ``run_once``) the
        loops; returns at once."""
        from tasking.worker.receiver import Receiver

        if self._threads:
            return
        self._receiver = Receiver(self, self.config.host, self.config.port)
        self._receiver.start()
        if not loops:
            return
        for name, target in (("worker-loop", self._loop), ("worker-deliveries", self._deliver)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info(
            "worker %s started: receiver %s, budget %d requests/min",
            self.holder,
            self._receiver.url,
            self.config.budget_per_minute,
        )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self._threads = []
        if self._receiver is not None:
            self._receiver.stop()
        with contextlib.suppress(TaskingError):
            self.desk.release_lease(self.holder)
        self._state.active = False
        self.metrics.active.set(0)

    def request_stop(self) -> None:
        """Ask the loops to end (a signal handler); ``stop`` then joins them."""
        self._stop.set()

    def wait_stopped(self) -> None:
        """Block until ``stop`` (the command line's main thread)."""
        while not self._stop.wait(1.0):
            pass

    @property
    def active(self) -> bool:
        return self._state.active

    @property
    def receiver_url(self) -> str | None:
        return None if self._receiver is None else self._receiver.url

    @property
    def webhook_id(self) -> str | None:
        return self._state.webhook_id

    def health(self) -> dict[str, Any]:
        """What ``GET /health`` answers: alive while the loop passes regularly."""
        last = self._state.last_pass
        stale = last is None or (self._now() - last).total_seconds() > max(
            10.0, 5 * self.config.tick_s
        )
        return {
            "status": "down" if stale else ("active" if self.active else "standby"),
            "holder": self.holder,
            "active": self.active,
            "mode": self.mode,
            "webhookID": self._state.webhook_id,
            "lastPass": last.isoformat() if last else None,
            "budgetPerMinute": self.config.budget_per_minute,
            "errors": self._state.errors[-5:],
        }

    @property
    def mode(self) -> str:
        return "webhook" if self._state.webhook_id else "polling"

    # --- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as error:  # the loop must go on; the next pass tries again
                log.exception("worker pass failed")
                self._state.errors.append(f"{type(error).__name__}: {error}")
                del self._state.errors[:-20]
            self._stop.wait(self.config.tick_s)

    def run_once(self) -> _Pass:
        """One pass (module doc); returns what it did. Standby when another worker holds the
        lease."""
        with self._pass_lock:
            done = _Pass()
            self._state.last_pass = self._now()
            if not self._hold_lease():
                return done
            self._ensure_webhook()
            done.fetched = self._fetch_due()
            if self._sweep_due():
                done.observed = self.sweep()
                done.swept = self._state.sweep is None
            done.series_ordered = self._order_series()
            done.backlog = self._fetch_backlog()
            done.reconciled = self._reconcile()
            self._gauges()
            return done

    def _hold_lease(self) -> bool:
        info = {
            "mode": self.mode,
            "receiver": self.receiver_url,
            "webhookID": self._state.webhook_id,
            "startedAt": self._started_at.isoformat(),
            "budgetPerMinute": self.config.budget_per_minute,
            "pollIntervalS": self.config.poll_interval_s,
            "safetySweepS": self.config.safety_sweep_s,
            "lastSweep": self.desk.setting(_SWEEP_LAST),
        }
        try:
            held = self.desk.acquire_lease(self.holder, self.config.lease_ttl_s, info)
        except TaskingError as error:
            log.warning("the worker lease cannot be renewed: %s", error)
            held = False
        if held != self._state.active:
            log.info("worker %s is %s", self.holder, "active" if held else "on standby")
            if held:
                self._state.webhook_checked = 0.0  # check the webhook afresh when taking over
                with contextlib.suppress(TaskingError):
                    if requeued := self.desk.requeue_sending():
                        log.info(
                            "%d deliveries a previous worker left in flight are due again", requeued
                        )
        self._state.active = held
        self.metrics.active.set(1 if held else 0)
        return held

    # --- ICEYE requests, paid from the budget ---------------------------------------------

    @contextlib.contextmanager
    def _call(self, operation: str) -> Iterator[None]:
        client = self.service.client
        before = client.request_count
        started = time.perf_counter()
        try:
            yield
        except TaskingError as error:
            self.metrics.iceye_errors.labels(operation, type(error).__name__).inc()
            raise
        finally:
            spent = client.request_count - before
            self.budget.spend(spent)
            self.metrics.iceye_requests.labels(operation).inc(spent)
            self.metrics.iceye_latency.labels(operation).observe(time.perf_counter() - started)

    # --- the webhook -------------------------------------------------------------------------

    def callback_url(self) -> str | None:
        if not self.config.use_webhooks:
            return None
        if self.config.callback_url:
            return self.config.callback_url.rstrip("/") + CALLBACK_PATH
        if self.service.mode == "sandbox" and self.receiver_url:
            return self.receiver_url + CALLBACK_PATH
        return None

    def _ensure_webhook(self) -> None:
        """Register the webhook once per activation (and re-check it every 10 minutes)."""
        if time.monotonic() - self._state.webhook_checked < 600 and self._state.webhook_checked:
            return
        url = self.callback_url()
        if url is None:
            self._forget_webhook()
            self._state.webhook_checked = time.monotonic()
            return
        if not self.budget.allows(3):
            return
        stored_id = self.desk.setting(WEBHOOK_ID_SETTING)
        stored_url = self.desk.setting(_WEBHOOK_URL)
        # The URL and the kind of auth: a change of either registers afresh.
        wanted = f"{self.config.callback_auth} {url}"
        try:
            if stored_id and stored_url == wanted and self._webhook_exists(stored_id):
                self._state.webhook_id = stored_id
            else:
                if stored_id:
                    with contextlib.suppress(TaskingError), self._call("delete_webhook"):
                        self.service.client.delete_webhook(stored_id)
                secret = secrets.token_urlsafe(32)
                with self._call("register_webhook"):
                    webhook = self._register(url, secret)
                self.desk.set_setting(_WEBHOOK_HASH, _digest(secret))
                self.desk.set_setting(_WEBHOOK_URL, wanted)
                self.desk.set_setting(WEBHOOK_ID_SETTING, webhook.id)
                self._state.webhook_id = webhook.id
                log.info(
                    "webhook %s registered for %s (%s auth)",
                    webhook.id,
                    _host_of(url),
                    self.config.callback_auth,
                    extra={"webhook_id": webhook.id},
                )
        except TaskingError as error:
            # The backend has no Notifications API, or refused the URL: poll instead.
            log.warning("webhook not registered (%s); following by polling", error)
            self._state.webhook_id = None
            self.desk.set_setting(WEBHOOK_ID_SETTING, None)
        self._state.webhook_checked = time.monotonic()

    def _forget_webhook(self) -> None:
        """Polling only: the app must not pass a webhook nobody listens to."""
        self._state.webhook_id = None
        stored_id = self.desk.setting(WEBHOOK_ID_SETTING)
        if stored_id is None:
            return
        with contextlib.suppress(TaskingError), self._call("delete_webhook"):
            self.service.client.delete_webhook(stored_id)
        for key in (WEBHOOK_ID_SETTING, _WEBHOOK_URL, _WEBHOOK_HASH):
            self.desk.set_setting(key, None)

    def _webhook_exists(self, webhook_id: str) -> bool:
        try:
            with self._call("get_webhook"):
                self.service.client.notifications.get_webhook(webhook_id)
        except NotFound:
            return False
        return True

    def _register(self, url: str, secret: str) -> Any:
        notifications = self.service.client.notifications
        if self.config.callback_auth == "oauth2":
            base = url[: -len(CALLBACK_PATH)] if url.endswith(CALLBACK_PATH) else url
            return notifications.register_webhook_oauth2(
                url,
                token_url=base + TOKEN_PATH,
                client_id=CALLBACK_USER,
                client_secret=secret,
                description="tasking desk worker",
            )
        return notifications.register_webhook(
            url, username=CALLBACK_USER, password=secret, description="tasking desk worker"
        )

    def _secret_matches(self, user: str, secret: str) -> str | None:
        expected = self.desk.setting(_WEBHOOK_HASH)
        if expected is None:
            return "no webhook registered"
        user_ok = hmac.compare_digest(user.encode(), CALLBACK_USER.encode())
        secret_ok = hmac.compare_digest(_digest(secret), expected)
        return None if user_ok and secret_ok else "wrong credentials"

    def issue_token(self, client_id: str, client_secret: str) -> str | None:
        """The receiver's OAuth2 token endpoint: a bearer token for the callbacks, or None for
        wrong client credentials (or when the webhook uses Basic auth)."""
        if self.config.callback_auth != "oauth2" or self._secret_matches(client_id, client_secret):
            return None
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._tokens_lock:
            for old in [t for t, until in self._tokens.items() if until <= now]:
                del self._tokens[old]
            if len(self._tokens) >= 1000:  # bounded: a flood of logins cannot grow it
                self._tokens.pop(next(iter(self._tokens)))
            self._tokens[token] = now + TOKEN_TTL_S
        return token

    def verify_callback(
        self, scheme: str, credentials: tuple[str, ...], webhook_id: str
    ) -> str | None:
        """Why a callback is refused (None: it is ours). ``scheme``: "basic" with (user, password)
        or "bearer" with (token,). Constant-time on secrets."""
        if self.config.callback_auth == "oauth2":
            if scheme != "bearer":
                return "wrong credentials"
            with self._tokens_lock:
                until = self._tokens.get(credentials[0])
            if until is None or until <= time.monotonic():
                return "wrong credentials"
        else:
            if scheme != "basic":
                return "wrong credentials"
            why = self._secret_matches(*credentials)
            if why is not None:
                return why
        if webhook_id != self.desk.setting(WEBHOOK_ID_SETTING):
            return "unknown webhook"
        return None

    # --- following ---------------------------------------------------------------------------

    def _fetch_due(self) -> int:
        fetched = 0
        for task_id in self.desk.due(limit=50):
            if self._stop.is_set() or not self.budget.allows(_FETCH_COST):
                break
            self.fetch(task_id)
            fetched += 1
        return fetched

    def _fetch_backlog(self) -> int:
        """GET open tasks whose details the store lacks, newest first, while the budget has room
        after the due fetches (module doc, 4.), keeping half of it for callbacks: a backlog of
        thousands never makes a real change wait for a whole minute's window."""
        need = self._backlog_reserve() + _FETCH_COST
        if self._stop.is_set() or not self.budget.allows(need):
            return 0
        fetched = 0
        for task_id in self.desk.lacking_details(limit=20):
            if self._stop.is_set() or not self.budget.allows(need):
                break
            self.fetch(task_id, source="backlog")
            fetched += 1
        return fetched

    def _backlog_reserve(self) -> int:
        """Requests of each minute the backlog leaves to callbacks' fetches and sweeps: half the
        budget (a burst of changes still finds room), at least one fetch, and never so much that
        the backlog cannot run."""
        per_minute = self.budget.per_minute
        return max(0, min(max(_FETCH_COST, per_minute // 2), per_minute - _FETCH_COST))

    def fetch(self, task_id: str, *, source: str = "callback") -> None:
        """GET one task and observe it (``source``: why, for the log and the lag metric)."""
        fetched_at = self._now()
        try:
            with self._call("get_task"):
                task = self.service.client.get_task(task_id)
        except NotFound:
            log.warning(
                "task %s is unknown to the backend; no longer followed",
                task_id,
                extra={"task_id": task_id},
            )
            self.desk.stop_following(task_id, "unknown to the backend")
            return
        except TaskingError as error:
            followed = self.desk.followed(task_id)
            errors = followed.fetch_errors if followed else 0
            log.warning("task %s: fetch failed (%s)", task_id, error, extra={"task_id": task_id})
            self.desk.fetch_failed(task_id, error.message, retry_at=self._retry_at(errors))
            return
        self._observe(task, source=source, fetched_at=fetched_at)

    def _sweep_due(self) -> bool:
        """Polling: every ``poll_interval_s``. With a webhook, a safety sweep every
        ``safety_sweep_s``, unless some open task is not covered by callbacks (ordered elsewhere,
        or before this webhook existed): those are polled at ``poll_interval_s``."""
        period = self.config.poll_interval_s
        if self._state.webhook_id:
            try:
                uncovered = self.desk.open_without_webhook()
            except TaskingError:
                uncovered = 1
            if not uncovered:
                period = self.config.safety_sweep_s
        if self._state.sweep is not None:
            return self.budget.allows(1)  # one under way goes on as soon as there is budget
        if self._state.last_sweep and time.monotonic() - self._state.last_sweep < period:
            return False
        return self.budget.allows(1)

    def sweep(self) -> int:
        """Go on with the sweep under way, or start one: page after page of the task list while
        the budget allows, observing each task whose status the store does not know. Returns how
        many were observed by this call; the sweep is over when ``_state.sweep`` is None again."""
        state = self._state.sweep
        if state is None:
            since = self._sweep_since()
            state = _Sweep(
                since=since, started_server=self._backend_now(), known=self.desk.known_statuses()
            )
            self._state.sweep = state
            self._state.last_sweep = time.monotonic()
            self.metrics.sweeps.inc()
        observed = 0
        while not self._stop.is_set():
            if not self.budget.allows(1):
                return observed  # the next pass goes on from ``state.cursor``
            fetched_at = self._now()
            try:
                with self._call("list_tasks"):
                    page = self.service.client.tasking.list_tasks(
                        created_after=state.since, limit=_PAGE, cursor=state.cursor
                    )
            except TaskingError as error:
                log.warning("sweep of the task list failed: %s", error)
                self._state.sweep = None
                return observed
            known = state.known
            unchanged = [t.id for t in page.data if known.get(t.id, "") == t.status]
            self.desk.confirmed([t for t in unchanged if not _final(known[t])])
            changed = [t for t in page.data if known.get(t.id, "") != t.status]
            if state.since is None:
                changed = self._import([t for t in changed if t.id not in known]) + [
                    t for t in changed if t.id in known
                ]
                observed += len(page.data) - len(unchanged) - len(changed)
            for task in changed:
                self._observe(
                    task, source="poll", initial=state.since is None, fetched_at=fetched_at
                )
                observed += 1
            state.cursor = page.next_cursor
            if state.cursor is None:
                break
        if state.cursor is None:
            self.desk.set_setting(_SWEEP_LAST, state.started_server.isoformat())
            self._state.sweep = None
        return observed

    def _import(self, tasks: list[Task]) -> list[Task]:
        """The first sweep's tasks the store does not know, recorded in bulk (one transaction for
        the history and one for the desk per page, not a dozen per task): old news, details from
        the backlog. Returns the tasks left to observe one by one (all of them if the bulk write
        failed, e.g. another process wrote some of them first)."""
        if not tasks:
            return []
        now_backend = self._backend_now()
        try:
            self.service.history.import_new((t, t.updatedAt or now_backend) for t in tasks)
            self.desk.import_tasks(
                [(t.id, t.status, t.createdAt, t.updatedAt or now_backend) for t in tasks]
            )
        except TaskingError as error:
            log.warning("bulk import of %d tasks failed (%s); one by one", len(tasks), error)
            return tasks
        return []

    def _sweep_since(self) -> datetime | None:
        last = parse_time_or_none(self.desk.setting(_SWEEP_LAST))
        if last is None:
            return None  # the first sweep of this store reads every task
        oldest = self.desk.oldest_open_created()
        start = min(last, oldest) if oldest is not None else last
        return start - _SWEEP_MARGIN

    def _fresh_clock(self) -> None:
        """Read the backend's clock afresh (at most once a second): a status changed, maybe
        because the simulation clock was jumped."""
        now = time.monotonic()
        if now - self._clock_read < 1.0:
            return
        self._clock_read = now
        with contextlib.suppress(TaskingError):
            self.service.clock.refresh()

    def _backend_now(self) -> datetime:
        try:
            return self.service.clock.estimate()
        except TaskingError:
            return self.service.client.server_now()

    def _observe(
        self,
        task: Task,
        *,
        source: str,
        initial: bool = False,
        fetched_at: datetime | None = None,
    ) -> None:
        """Record what ``task`` shows (module doc). ``initial``: the store's first sweep, which
        imports the account: what a task it did not know already shows is old news, not notified,
        and its details wait for the backlog (``_fetch_backlog``) instead of costing the import a
        request per task."""
        observed_at = self._now()
        previous = self.desk.followed(task.id)
        old = previous.status if previous is not None else None
        seen_before = self._history_statuses(task.id)
        if old is None and seen_before:
            old = max(seen_before, key=lambda s: LIFECYCLE_RANK.get(s, 9))
        new = task.status
        reported = self._reported_times(task.id)
        between = self._reported_between(reported, seen_before, new)
        # Callbacks tell the exact time of a status the worker noticed only later (a task's
        # updatedAt also moves for a re-plan or a capture): such times are moved earlier.
        corrections = [(s, at) for s, at in reported.items() if s in seen_before]
        if old == new and previous is not None and previous.details_for == new and not between:
            with contextlib.suppress(TaskingError):
                for status, at in corrections:
                    self.service.history.record_status(task.id, status, at)
            self.desk.checked(task.id, next_due=None, fetched_at=fetched_at)
            return
        basis = old if old != new else (previous.details_for if previous else None)
        needs: set[str] = set(fetches_after(basis, new))
        importing = initial and previous is None
        details = Details(complete=not needs) if importing else self._details(task, needs)
        if old != new:
            self._fresh_clock()
        now_backend = self._backend_now()
        occurred = {status: at for status, at in between}
        # When the status changed, on the backend's clock: the callback's time, else the task's
        # updatedAt (its last change), else now. Never the worker's own estimate alone, which
        # lags a simulation clock that was jumped.
        status_at = reported.get(new) or task.updatedAt or now_backend
        with contextlib.suppress(TaskingError):
            for status, at in [*corrections, *between, (new, status_at)]:
                self.service.history.record_status(task.id, status, at)
            self.service.history.record(task)
        notices: list[NewNotification] = []
        old_news = importing
        told = {n.kind for n in self.desk.notifications(task_id=task.id, limit=20)}
        reached = max((LIFECYCLE_RANK.get(s, 4) for s in seen_before), default=-1)
        to_tell = [s for s, _ in between if LIFECYCLE_RANK[s] > reached]
        if old != new:
            to_tell.append(new)
        if not old_news:
            for status in to_tell:
                at = occurred.get(status) or task.updatedAt or now_backend
                notice = notification_for(task, status, at, details)
                # A status learnt late (a callback after the task moved on) is recorded but not
                # told after a later stage was: "scheduled" after "products ready" helps nobody.
                if notice is not None and notice.kind not in told:
                    notices.append(notice)
        changed = self.desk.apply(
            task.id,
            status=new,
            created_at=task.createdAt,
            status_at=status_at,
            details=details,
            notifications=notices,
            channels=list(self.senders),
            next_due=self._next_due(details, importing),
            fetched_at=fetched_at,
        )
        if self._carries_webhook(task) and (previous is None or not previous.via_webhook):
            with contextlib.suppress(TaskingError):
                self.desk.mark_webhook(task.id)
        if changed and old != new:
            if not importing:
                self.metrics.status_lag.labels(source).observe(
                    self._lag(previous, source, observed_at)
                )
            log.info(
                "task %s: %s -> %s (%s)",
                task.id,
                old or "new",
                new,
                source,
                extra={"task_id": task.id},
            )

    def _next_due(self, details: Details, importing: bool) -> datetime | None:
        """When to fetch again: never while the details are complete; for an import, when the
        backlog gets to it; at once when the budget stopped the details (the due queue waits for
        the budget anyway); after a back-off when a fetch failed."""
        if details.complete or importing:
            return None
        if details.deferred:
            return self._now()
        return self._retry_at(0)

    @staticmethod
    def _lag(previous: Followed | None, source: str, observed_at: datetime) -> float:
        """Real seconds the store lagged behind what it could know: from a callback's arrival (the
        hint set the task due) for a fetch, from the previous look that still saw the old status
        for a sweep (an upper bound: the change came somewhere in between). Real seconds, not
        the backend's clock, which a simulation jumps."""
        since = None
        if previous is not None:
            since = previous.due_at if source != "poll" else previous.checked_at
        if since is None:
            return 0.0
        return max(0.0, (observed_at - since).total_seconds())

    def _carries_webhook(self, task: Task) -> bool:
        webhook = (task.notifications or {}).get("webhook")
        return (
            self._state.webhook_id is not None
            and isinstance(webhook, dict)
            and webhook.get("id") == self._state.webhook_id
        )

    def _history_statuses(self, task_id: str) -> set[str]:
        try:
            return set(self.service.history.first_seen(task_id))
        except TaskingError:
            return set()

    def _reported_times(self, task_id: str) -> dict[str, datetime]:
        """Status → the earliest time an authenticated callback said the task reached it."""
        try:
            pairs = self.desk.reported_statuses(task_id)
        except TaskingError:
            return {}
        times: dict[str, datetime] = {}
        for status, at in pairs:
            if at is not None and (status not in times or at < times[status]):
                times[status] = at
        return times

    @staticmethod
    def _reported_between(
        reported: dict[str, datetime], seen: set[str], new: str
    ) -> list[tuple[str, datetime]]:
        """Statuses verified callbacks reported that the history lacks and the fetched task has
        gone beyond, in lifecycle order: a callback alone is never trusted, but an authenticated
        one about a stage the task has since passed tells a change the worker missed (it was
        down, or fetched after the next change)."""
        high = LIFECYCLE_RANK.get(new, 4)
        found = [
            (status, at)
            for status, at in reported.items()
            if status in LIFECYCLE_RANK and LIFECYCLE_RANK[status] < high and status not in seen
        ]
        return sorted(found, key=lambda item: LIFECYCLE_RANK[item[0]])

    def _details(self, task: Task, needs: set[str]) -> Details:
        """Fetch what ``needs`` names, each request only while the budget allows it: what did
        not fit is ``deferred`` (the task stays due and the rest comes at a later pass)."""
        client = self.service.client
        planned = actual = None
        products: tuple[ProductView, ...] | None = None
        quicklook: bytes | None = None
        reason: str | None = None
        complete = True
        cost = len(needs) + (1 if "products" in needs else 0)  # + the quicklook
        if task.status in ("REJECTED", "FAILED") and self.service.mode == "sandbox":
            cost += 1
        if cost and not self.budget.allows(cost):
            return Details(complete=False, deferred=True)
        if "scene" in needs:
            try:
                with self._call("get_scene"):
                    scene = client.get_scene(task.id)
                if is_captured(task.status):
                    actual = scene
                else:
                    planned = scene
            except NotFound:
                pass
            except TaskingError as error:
                log.warning(
                    "task %s: scene not fetched (%s)", task.id, error, extra={"task_id": task.id}
                )
                complete = False
        if "products" in needs:
            try:
                with self._call("list_products"):
                    listed = client.list_products(task.id)
                products = tuple(ProductView.of(p) for p in listed)
                source = next((p for p in listed if QUICKLOOK_ASSET in p.assets), None)
                if source is not None:
                    with self._call("quicklook"):
                        quicklook = client.fetch_asset(source.assets[QUICKLOOK_ASSET].href)
            except NotFound:
                pass
            except TaskingError as error:
                log.warning(
                    "task %s: products not fetched (%s)", task.id, error, extra={"task_id": task.id}
                )
                complete = False
        if task.status in ("REJECTED", "FAILED"):
            reason = self._reason(task.id)
        return Details(planned, actual, products, quicklook, reason, complete=complete)

    def _reason(self, task_id: str) -> str | None:
        """Why a task was rejected or failed. ICEYE's task has no such field; the sandbox tells it
        in its task history (``/sandbox/v1/tasks/{id}/history``)."""
        if self.service.mode != "sandbox" or self.service.control is None:
            return None
        session = self.service.client.session
        url = f"{self.service.control.root}/sandbox/v1/tasks/{task_id}/history"
        try:
            with self._call("sandbox_history"):
                response = session.http.get(url, auth=session.auth)
            if response.status_code != 200:
                return None
            for entry in reversed(response.json().get("data", [])):
                detail = entry.get("detail") or {}
                if isinstance(detail, dict) and detail.get("reason"):
                    return str(detail["reason"])
        except (TaskingError, ValueError, OSError) as error:
            log.warning(
                "task %s: reason not fetched (%s)", task_id, error, extra={"task_id": task_id}
            )
        except Exception as error:  # httpx errors outside the session's mapping
            log.warning(
                "task %s: reason not fetched (%s)",
                task_id,
                type(error).__name__,
                extra={"task_id": task_id},
            )
        return None

    def _retry_at(self, errors: int) -> datetime:
        delay = min(_RETRY_CAP_S, _RETRY_BASE_S * 2 ** min(errors, 10))
        return self._now() + timedelta(seconds=delay)

    # --- orders ------------------------------------------------------------------------------

    def _reconcile(self) -> int:
        if time.monotonic() - self._state.last_reconcile < self.config.reconcile_every_s:
            return 0
        self._state.last_reconcile = time.monotonic()
        try:
            open_orders = self.service.journal.open_orders()
        except TaskingError:
            return 0
        self.metrics.unconfirmed_orders.set(len(open_orders))
        if not open_orders or not self.budget.allows(len(open_orders)):
            return 0
        with self._call("reconcile"):
            settled = self.service.reconcile_open()
        return sum(1 for order in settled if not order.open)

    # --- recurring series --------------------------------------------------------------------

    def _order_series(self) -> int:
        """Order the series' occurrences whose windows came within ICEYE's reach, and resume any
        left ORDERING (a restart): each create paid from the budget, the run stopped (the
        occurrence stays ORDERING, resumed next pass) when the next would not fit."""
        from tasking.series import order_due

        if self._stop.is_set() or not self.budget.allows(2):
            return 0
        client = self.service.client
        before = client.request_count
        room = self.budget.available()

        def may_send() -> bool:
            # +2: the create, and a lookup should it need reconciling.
            return not self._stop.is_set() and client.request_count - before + 2 <= room

        # Occurrences left ORDERING (orders in doubt cost lookups) are resumed at the journal's
        # reconcile pace, at once after a restart or when the budget cut the last run short.
        last = self._state.last_series_resume
        resume = (
            last is None
            or self._state.series_stopped
            or time.monotonic() - last >= self.config.reconcile_every_s
        )
        try:
            with self._call("series"):
                done = order_due(
                    self.service,
                    self.service.series,
                    may_send=may_send,
                    channels=list(self.senders),
                    resume=resume,
                )
        except TaskingError as error:
            log.warning("series not ordered this pass: %s", error)
            return 0
        if resume:
            self._state.last_series_resume = time.monotonic()
        self._state.series_stopped = done.stopped
        return len(done.ordered)

    # --- deliveries --------------------------------------------------------------------------

    def _deliver(self) -> None:
        while not self._stop.wait(self.config.tick_s):
            if not self.active or not self.senders:
                continue
            try:
                self.deliver_due()
            except Exception:
                log.exception("delivering notifications failed")

    def deliver_due(self) -> int:
        """Send the deliveries due now; returns how many were sent."""
        sent = 0
        for delivery in self.desk.claim(lease_s=self.config.delivery_lease_s, limit=20):
            if self._stop.is_set():
                break
            if self._send(delivery):
                sent += 1
        return sent

    def _send(self, delivery: Delivery) -> bool:
        from tasking.notify import DeliveryFailed

        sender = self.senders.get(delivery.channel)
        try:
            notice = self._notice(delivery)
        except (ValueError, TaskingError) as error:  # cannot be composed: retrying won't help
            log.exception(
                "delivery %s cannot be composed", delivery.id, extra={"delivery_id": delivery.id}
            )
            self.desk.delivery_failed(delivery.id, f"cannot be composed: {error}", retry_at=None)
            return False
        if sender is None or notice is None:
            why = "channel not configured" if sender is None else "notification is gone"
            self.desk.delivery_failed(delivery.id, why, retry_at=None)
            return False
        try:
            sender(notice)
        except DeliveryFailed as error:
            final = error.permanent or delivery.attempts >= self.config.max_delivery_attempts
            retry_at = None if final else self._retry_at(delivery.attempts - 1)
            self.desk.delivery_failed(delivery.id, str(error), retry_at=retry_at)
            self.metrics.notifications.labels(
                delivery.channel, "failed" if final else "retry"
            ).inc()
            log.warning(
                "task %s: %s delivery %s attempt %d failed (%s)%s",
                notice.task_id,
                delivery.channel,
                delivery.id,
                delivery.attempts,
                error,
                "" if final else f"; again at {retry_at:%H:%M:%S}",
                extra={"task_id": notice.task_id, "delivery_id": delivery.id},
            )
            return False
        self.desk.delivered(delivery.id)
        self.metrics.notifications.labels(delivery.channel, "sent").inc()
        log.info(
            "task %s: %s delivery %s sent",
            notice.task_id,
            delivery.channel,
            delivery.id,
            extra={"task_id": notice.task_id},
        )
        return True

    def _notice(self, delivery: Delivery) -> Any:
        from tasking.notify import Notice

        notification = self.desk.notification(delivery.notification_id)
        if notification is None:
            return None
        followed = self.desk.followed(notification.task_id)
        task = None
        with contextlib.suppress(TaskingError):
            task = self.service.history.get(notification.task_id)
        facts: list[tuple[str, str]] = [("Task", notification.task_id)]
        if task is not None:
            facts += [
                ("Contract", task.contractID),
                ("Imaging mode", task.imagingMode),
                ("Point", f"{task.pointOfInterest.lat:.5f}, {task.pointOfInterest.lon:.5f}"),
                ("Status", notification.status),
            ]
        scene = (followed.actual or followed.planned) if followed is not None else None
        if scene is not None:
            facts.append(("Imaging", scene.imagingTime.start.strftime("%Y-%m-%d %H:%M:%S UTC")))
        quicklook = None
        if followed is not None and notification.kind in ("captured", "products_ready"):
            quicklook = followed.quicklook
        return Notice(
            delivery_id=delivery.id,
            task_id=notification.task_id,
            kind=notification.kind,
            status=notification.status,
            title=notification.title,
            text=notification.text,
            occurred_at=notification.occurred_at,
            deep_link=f"{self.config.app_url}/monitor?task={notification.task_id}",
            reference=task.reference if task is not None else None,
            reason=notification.reason,
            quicklook_png=quicklook,
            facts=tuple(facts),
        )

    # --- gauges ------------------------------------------------------------------------------

    def _gauges(self) -> None:
        self.metrics.budget_tokens.set(self.budget.available())
        try:
            counts = self.desk.status_counts()
        except TaskingError:
            return
        self.metrics.tasks_followed.clear()  # a status no task is in any more shows no series
        for status, n in counts.items():
            self.metrics.tasks_followed.labels(status).set(n)


def _final(status: str | None) -> bool:
    return status is not None and is_terminal(status)


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc


def _senders(settings: Settings) -> dict[str, Sender]:
    """The channels configured in the settings (email, outgoing webhook); none by default."""
    from tasking.notify import EmailSettings, WebhookSettings, send_email, send_webhook

    senders: dict[str, Sender] = {}
    email = EmailSettings.from_settings(settings)
    if email is not None:
        senders["email"] = lambda notice: send_email(notice, email)
    webhook = WebhookSettings.from_settings(settings)
    if webhook is not None:
        senders["webhook"] = lambda notice: send_webhook(notice, webhook)
    return senders
