"""Webhook callbacks: one per status change of a task that names a webhook, delivered over HTTP.

ICEYE documents that it POSTs to the registered URL "when the resource status changes", with Basic
auth or an OAuth2 client-credentials token (iceye-api.md §7.1); the body, the headers and the retry
policy below are the sandbox's choices (README "Notifications (webhooks)").

**Queued with the change.** ``queue_status_change`` writes the pending callback in the caller's
transaction — the scheduler's ``_transition``, the create, the cancel — so a status change and its
callback are committed together: ``kill -9`` can neither lose one nor invent one, and pending
callbacks survive restarts.

**Delivered by a dispatcher** (``Dispatcher``), a daemon thread of its own that never holds the
store while it waits on the network, so requests are never blocked by a slow receiver. Each pass
(every ``callback_period_s`` real seconds) sends the callbacks that are due, oldest first, at most
``PASS_LIMIT`` of them and for at most ``PASS_BUDGET_S`` real seconds, each at most once:

- any 2xx → ``delivered``; anything else (another status, a redirect, a timeout after
  ``callback_timeout_s``, a refused connection, a token endpoint that refuses) → retried after
  ``backoff(n)`` **simulated** seconds (30, 60, 120 … capped at one hour), and ``failed`` after
  ``MAX_ATTEMPTS`` attempts;
- callbacks to one webhook go out in the order of the changes: one waiting for its retry holds back
  the later ones to the same webhook (the others go on).

Every attempt is logged at INFO on this module's logger (``tasking.sandbox.notifications``): event,
task, status, webhook, the URL's host only, attempt number, outcome, next attempt. httpx's own
request log line (the full URL, query string included) is dropped for the dispatcher's thread.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from tasking.auth import ACCEPT, ClientCredentialsAuth
from tasking.errors import ApiError
from tasking.sandbox.store import (
    DELIVERED,
    FAILED,
    PENDING,
    CallbackRecord,
    Store,
    TaskRecord,
    WebhookRecord,
)
from tasking.times import format_rfc3339

log = logging.getLogger(__name__)

EVENT_TYPE = "task.status_changed"
USER_AGENT = "iceye-sandbox-notifications/1"
MAX_ATTEMPTS = 10
FIRST_RETRY_S = 30.0
MAX_RETRY_S = 3600.0
PASS_LIMIT = 200
"""Callbacks one pass sends at most, so that a huge backlog cannot hold the thread."""
PASS_BUDGET_S = 10.0
"""Real seconds after which a pass stops starting new attempts (the next pass goes on)."""
_THREAD_NAME = "sandbox-notifications"


def backoff(attempts: int) -> timedelta:
    """Simulated wait after the ``attempts``-th failed attempt: 30 s doubled each time, ≤ 1 h."""
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** (attempts - 1), MAX_RETRY_S))


# --- queueing (inside the caller's transaction) ----------------------------------------------


def webhook_of(document: Mapping[str, Any]) -> str | None:
    """The webhook id a task document names in ``notifications.webhook.id``, canonical, or None."""
    notifications = document.get("notifications")
    webhook = notifications.get("webhook") if isinstance(notifications, dict) else None
    found = webhook.get("id") if isinstance(webhook, dict) else None
    if not isinstance(found, str):
        return None
    try:
        return str(uuid.UUID(found))
    except ValueError:
        return None


def queue_status_change(
    store: Store, new_id: Callable[[], str], task: TaskRecord, at: datetime
) -> None:
    """Owe the task's webhook a callback for its new status (nothing when it names none, or
    names one since deleted). Call it inside the transaction that changes the status."""
    webhook_id = webhook_of(task.document)
    if webhook_id is None:
        return
    webhook = store.get_webhook(webhook_id)
    if webhook is None or webhook.company_id != task.company_id:
        return
    store.add_callback(
        CallbackRecord(
            id=new_id(),
            webhook_id=webhook_id,
            task_id=task.id,
            status=task.status,
            occurred_at=at,
            next_attempt_at=at,
        )
    )


def callback_body(callback: CallbackRecord) -> dict[str, Any]:
    """The JSON body POSTed to the webhook (the same on every attempt)."""
    return {
        "id": callback.id,
        "type": EVENT_TYPE,
        "webhookID": callback.webhook_id,
        "resourceType": "task",
        "resourceID": callback.task_id,
        "status": callback.status,
        "timestamp": format_rfc3339(callback.occurred_at),
    }


def callback_wire(callback: CallbackRecord) -> dict[str, Any]:
    """One entry of ``GET /sandbox/v1/callbacks``."""
    upcoming = callback.next_attempt_at if callback.state == PENDING else None
    return {
        "id": callback.id,
        "webhookID": callback.webhook_id,
        "taskID": callback.task_id,
        "status": callback.status,
        "occurredAt": format_rfc3339(callback.occurred_at),
        "state": callback.state,
        "attempts": callback.attempts,
        "nextAttemptAt": format_rfc3339(upcoming) if upcoming else None,
        "lastError": callback.last_error,
    }


# --- delivery --------------------------------------------------------------------------------


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, for a log line: no path, query string or credentials."""
    try:
        return httpx.URL(url).netloc.decode("ascii", "replace") or "-"
    except httpx.InvalidURL:
        return "-"


class _ScopedClientCredentials(ClientCredentialsAuth):
    """The project's client-credentials auth (token cache, one refresh after a 401), with the
    receiver's optional ``scope`` in the token request's form."""

    def __init__(self, token_url: str, client_id: str, secret: str, scope: str | None) -> None:
        super().__init__(token_url, client_id, secret)
        self._scope = scope

    def _token_request(self) -> httpx.Request:
        request = super()._token_request()
        if not self._scope:
            return request
        return httpx.Request(
            "POST",
            request.url,
            data={"grant_type": "client_credentials", "scope": self._scope},
            headers={
                "Accept": ACCEPT,
                "Cache-Control": "no-cache",
                "Authorization": request.headers["Authorization"],
            },
        )


class _QuietDispatcherRequests(logging.Filter):
    """Drops httpx's "HTTP Request: POST <full URL>" lines sent from the dispatcher's thread: its
    own log names the host only, as a callback URL's query string may carry a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != _THREAD_NAME


_QUIET = _QuietDispatcherRequests()


class Dispatcher:
    """Sends due callbacks from a daemon thread (``start``/``stop``); ``run_pass`` is one pass."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        *,
        period_s: float | None,
        timeout_s: float,
    ) -> None:
        self._store = store
        self._clock = clock
        self._period = period_s
        self._timeout = timeout_s
        self._stopping = threading.Event()
        self._one_pass = threading.Lock()  # passes never overlap: one attempt per pass at most
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._tokens: dict[str, _ScopedClientCredentials] = {}  # per webhook id

    def start(self) -> None:
        if self._period is None or self._thread is not None:
            return
        logging.getLogger("httpx").addFilter(_QUIET)  # idempotent: one shared instance
        self._http = httpx.Client(
            timeout=self._timeout,
            # A redirect could lead anywhere, around the URL rule: it counts as a failed attempt.
            follow_redirects=False,
            # Proxy variables are for the operator's own traffic, not for loopback receivers.
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )
        self._thread = threading.Thread(target=self._run, name=_THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the attempt in flight, if any (each request is bounded by the timeout)."""
        self._stopping.set()
        if self._thread is not None:
            # An attempt is at most four requests (token, callback, new token after a 401, retry).
            self._thread.join(timeout=4 * self._timeout + 1)
            if self._thread.is_alive():
                log.warning("the notification dispatcher did not stop in time")
        if self._http is not None:
            self._http.close()

    def _run(self) -> None:
        assert self._period is not None
        pause = self._period
        while not self._stopping.wait(pause):
            try:
                sent = self.run_pass()
            except Exception:  # the thread must outlive any one pass; the next one tries again
                log.exception("notification dispatcher pass failed")
                sent = 0
            # A full pass means a backlog: go on at once rather than a period later.
            pause = 0.0 if sent >= PASS_LIMIT else self._period

    def run_pass(self) -> int:
        """Attempt each due callback once; returns the number of attempts made."""
        with self._one_pass:
            if self._http is None or not self._store.has_pending_callbacks():
                return 0
            return self._pass()

    def _pass(self) -> int:
        ends = time.monotonic() + PASS_BUDGET_S
        held: set[str] = set()  # webhooks whose earlier callback just failed: keep the order
        attempted = 0
        for callback in self._store.due_callbacks(self._clock(), PASS_LIMIT):
            if self._stopping.is_set() or time.monotonic() > ends:
                break
            if callback.webhook_id in held:
                continue
            if not self._attempt(callback):
                held.add(callback.webhook_id)
            attempted += 1
        return attempted

    def _attempt(self, callback: CallbackRecord) -> bool:
        """One delivery attempt, recorded and logged; True when delivered."""
        webhook = self._store.get_webhook(callback.webhook_id)
        attempt = callback.attempts + 1
        if webhook is None:  # deleted (its pending callbacks went with it) or unreadable
            self._tokens.pop(callback.webhook_id, None)
            delivered, result, host = False, "the webhook no longer exists", "-"
            attempt = callback.attempts
        else:
            delivered, result = self._send(callback, webhook)
            host = host_of(webhook.url)
        upcoming: datetime | None = None
        if delivered:
            state, outcome = DELIVERED, f"{result}, delivered"
        elif webhook is None or attempt >= MAX_ATTEMPTS:
            state, outcome = FAILED, f"{result}; giving up"
        else:
            state, upcoming = PENDING, self._clock() + backoff(attempt)
            outcome = f"{result}; next attempt at {format_rfc3339(upcoming)}"
        self._store.record_attempt(
            callback.id,
            state=state,
            attempts=attempt,
            next_attempt_at=upcoming,
            last_error=callback.last_error if delivered else result,
        )
        log.info(
            "callback %s (task %s %s) to webhook %s at %s, attempt %d: %s",
            callback.id,
            callback.task_id,
            callback.status,
            callback.webhook_id,
            host,
            attempt,
            outcome,
        )
        return delivered

    def _send(self, callback: CallbackRecord, webhook: WebhookRecord) -> tuple[bool, str]:
        """POST the callback: (whether the receiver answered 2xx, the outcome: ``HTTP <status>``
        or an error class, never a URL or a credential)."""
        assert self._http is not None
        try:
            with self._http.stream(
                "POST", webhook.url, json=callback_body(callback), auth=self._auth(webhook)
            ) as response:
                status = response.status_code  # the body is never read: only the status counts
        except ApiError as exc:  # raised by the token request of an oauth2 webhook
            return False, f"token endpoint: HTTP {exc.status_code}"
        except httpx.HTTPError as exc:
            where = "token endpoint: " if self._from_token_request(exc, webhook) else ""
            return False, f"{where}{type(exc).__name__}"
        except httpx.InvalidURL:
            return False, "InvalidURL"
        return 200 <= status < 300, f"HTTP {status}"

    def _auth(self, webhook: WebhookRecord) -> httpx.Auth:
        auth = webhook.auth
        if auth.get("type") == "oauth2":
            cached = self._tokens.get(webhook.id)
            if cached is None:
                scope = auth.get("scope")
                cached = _ScopedClientCredentials(
                    str(auth.get("tokenURL", "")),
                    str(auth.get("clientID", "")),
                    str(auth.get("clientSecret", "")),
                    scope if isinstance(scope, str) else None,
                )
                self._tokens[webhook.id] = cached
            return cached
        return httpx.BasicAuth(str(auth.get("username", "")), str(auth.get("password", "")))

    @staticmethod
    def _from_token_request(exc: httpx.HTTPError, webhook: WebhookRecord) -> bool:
        try:
            url = exc.request.url
        except RuntimeError:  # no request attached
            return False
        token_url = webhook.auth.get("tokenURL")
        return isinstance(token_url, str) and url == httpx.URL(token_url)
