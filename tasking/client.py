"""``TaskingClient``: one method per ICEYE operation over one ``httpx.Client``.

Paths, bodies and responses follow ``reference/iceye-api.md`` §3 (Company API v1) and §4 (Tasking
API v2); ``api_url`` is like ``https://platform.iceye.com/api`` (``ICEYE_API_URL`` in ICEYE's demo).

Resilience (issue 2): idempotent calls (GET, the cancel PATCH, the feasibility POST) are retried with
exponential backoff and jitter on 429, 5xx and transport errors, honouring ``Retry-After``. Creating
a task is never blindly retried: after an ambiguous failure the client first looks for the task it
may already have made (same contract, created since just before sending, same reference, point,
window and mode) and only if it is definitely absent sends the create once more. Every failure is an
error of ``tasking.errors``; httpx exceptions never leak. Logs carry method, path, status and
duration, never headers, query strings (signed links) or tokens.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urljoin

import httpx
from pydantic import BaseModel, SecretStr, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from tasking import rules
from tasking.auth import ClientCredentialsAuth
from tasking.config import Settings, token_url_for
from tasking.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    InputError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TaskingError,
    TransportError,
    error_from_response,
)
from tasking.models import (
    Contract,
    ContractSummary,
    FeasibilityResponse,
    Page,
    Price,
    Product,
    Scene,
    Task,
    TaskRequest,
    TaskStatus,
    TaskUpdateRequest,
    format_rfc3339,
)

log = logging.getLogger(__name__)


class _RedactQueries(logging.Filter):
    """httpx logs every request's full URL at INFO; signed asset links carry their signature in
    the query string, so queries are replaced by ``?…`` (STYLE: no secrets in logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, httpx.URL) and arg.query for arg in record.args
        ):
            record.args = tuple(
                f"{arg.copy_with(query=None)}?…"
                if isinstance(arg, httpx.URL) and arg.query
                else arg
                for arg in record.args
            )
        return True


_httpx_log = logging.getLogger("httpx")
if not any(isinstance(f, _RedactQueries) for f in _httpx_log.filters):
    _httpx_log.addFilter(_RedactQueries())

M = TypeVar("M", bound=BaseModel)

ACCEPT = "application/json, application/problem+json"
COMPANY = "/company/v1"
TASKING = "/tasking/v2"

# Retry policy (issue 2: "retry with backoff on 429, 5xx and transport errors").
MAX_ATTEMPTS = 3
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 8.0
BACKOFF_JITTER_S = 0.5
# A longer Retry-After than this is not waited for in a UI request; the error (with its
# retry_after) reaches the caller instead.
RETRY_AFTER_CAP_S = 30.0
# ICEYE's demo gives feasibility a 120 s timeout: it is synchronous and may be slow (§4.10).
FEASIBILITY_TIMEOUT_S = 120.0
# Clock difference tolerated between us and the server when looking for a task we may have made.
CREATE_LOOKUP_SKEW = timedelta(minutes=5)
# Largest asset fetched into memory; bigger products are for a download manager, not this client.
MAX_ASSET_BYTES = 256 * 1024 * 1024
# Safety net against a server that repeats a cursor forever.
MAX_PAGES = 1000
# Tolerance when matching a listed task's point to the one we sent (JSON float round trip).
POINT_TOLERANCE_DEG = 1e-7


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _version() -> str:
    try:
        return metadata.version("iceye-tasking-console")
    except metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0"


USER_AGENT = f"iceye-tasking-console/{_version()} httpx/{httpx.__version__}"


def backoff(attempt: int) -> float:
    """Exponential backoff before retry number ``attempt`` (1-based), without jitter."""
    return float(min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2.0 ** (attempt - 1)))


def _retryable(error: BaseException) -> bool:
    if isinstance(error, RateLimited | ServerError):
        return error.retry_after is None or error.retry_after <= RETRY_AFTER_CAP_S
    return isinstance(error, TransportError)


def _segment(value: str) -> str:
    """A path segment: IDs are quoted so that no value can change the path."""
    if not value:
        raise InputError("An ID is required", field="id", rule=rules.RULE_REQUIRED)
    return quote(value, safe="")


KEEPALIVE_S = 60.0
"""Idle connections stay open this long: longer than the Monitor's 5 s refresh interval."""


class TaskingClient:
    """ICEYE Company v1 + Tasking v2 operations; thread-safe, share one per process."""

    def __init__(
        self,
        api_url: str,
        auth: httpx.Auth | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
        rng: random.Random | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        try:
            self._origin = httpx.URL(self.api_url).copy_with(path="/", query=None, fragment=None)
        except httpx.InvalidURL as exc:
            raise ConfigurationError(f"ICEYE_API_URL is not a valid URL: {exc}") from None
        self._auth = auth
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._rng = rng or random.Random()
        self._count_lock = threading.Lock()
        self.request_count = 0
        """HTTP requests sent through this client (retries and token requests included)."""
        self._owns_http = http is None
        if http is None:
            http = httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                transport=transport,
                headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
                # Keep the connection across the Monitor's 5 s polls (httpx drops idle ones after 5 s).
                limits=httpx.Limits(keepalive_expiry=KEEPALIVE_S),
            )
        hooks = http.event_hooks
        http.event_hooks = {**hooks, "request": [*hooks.get("request", []), self._count]}
        self._http = http

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        api_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        auth_url: str | None = None,
        **kwargs: Any,
    ) -> TaskingClient:
        """A client for the settings; the app passes the sandbox's URLs and demo credentials."""
        url = api_url or settings.api_url
        if not url:
            raise ConfigurationError("ICEYE_API_URL is missing: no API to talk to")
        cid = client_id or settings.client_id
        secret = client_secret or settings.client_secret
        base = auth_url or settings.auth_url
        auth: httpx.Auth | None = None
        if cid and secret and base:
            auth = ClientCredentialsAuth(token_url_for(base), cid, secret)
        elif cid or secret or base:
            raise ConfigurationError(
                "Client credentials are incomplete: ICEYE_AUTH_URL, ICEYE_CLIENT_ID and "
                "ICEYE_CLIENT_SECRET are all needed to authenticate"
            )
        return cls(url, auth, timeout=settings.timeout_s, **kwargs)

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> TaskingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TaskingClient(api_url={self.api_url!r})"

    # --- plumbing ----------------------------------------------------------------------------

    def _count(self, request: httpx.Request) -> None:
        with self._count_lock:
            self.request_count += 1

    def _url(self, path: str) -> str:
        return self.api_url + path

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ApiError) and error.retry_after is not None:
            return min(error.retry_after, RETRY_AFTER_CAP_S)
        return backoff(state.attempt_number) + self._rng.uniform(0, BACKOFF_JITTER_S)

    def _attempt(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        timeout: float | None = None,
        authenticate: bool = True,
    ) -> httpx.Response:
        """One HTTP exchange; error statuses and httpx exceptions become ``tasking.errors``."""
        path = httpx.URL(url).path
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        try:
            response = self._http.request(
                method,
                url,
                params=params,
                json=json,
                auth=self._auth if authenticate else None,
                **extra,
            )
        except httpx.TimeoutException as exc:
            log.warning("%s %s timed out after %.0f ms", method, path, _ms(started))
            raise RequestTimeout(f"{method} {path} timed out") from exc
        except httpx.TransportError as exc:
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            raise TransportError(f"{method} {path} failed: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:  # e.g. an invalid URL or a stream error
            raise TransportError(f"{method} {path} failed: {exc}") from exc
        log.info("%s %s -> %s in %.0f ms", method, path, response.status_code, _ms(started))
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def _call(self, method: str, url: str, *, retry: bool = True, **kwargs: Any) -> httpx.Response:
        if not retry:
            return self._attempt(method, url, **kwargs)
        return self._retrying()(self._attempt, method, url, **kwargs)

    def _retrying(self) -> Retrying:
        """Backoff for idempotent calls: 429, 5xx and transport errors, honouring Retry-After."""
        return Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_log_retry,
        )

    def _get(self, path: str, model: type[M], params: dict[str, str] | None = None) -> M:
        return _parse(model, self._call("GET", self._url(path), params=params))

    # --- Company API v1 ----------------------------------------------------------------------

    def list_contracts(self, limit: int | None = None, cursor: str | None = None) -> Page[Contract]:
        """ListContracts: ``GET /company/v1/contracts`` (one page)."""
        return self._get(f"{COMPANY}/contracts", Page[Contract], _page_params(limit, cursor))

    def iter_contracts(self, limit: int | None = None) -> Iterator[Contract]:
        """Every contract, following the cursor to the end."""
        return _iterate(lambda cursor: self.list_contracts(limit=limit, cursor=cursor))

    def get_contract(self, contract_id: str) -> Contract:
        """GetContract: ``GET /company/v1/contracts/{contractID}``."""
        return self._get(f"{COMPANY}/contracts/{_segment(contract_id)}", Contract)

    def get_contract_summary(self, contract_id: str) -> ContractSummary:
        """GetSummary: ``GET /company/v1/contracts/{contractID}/summary`` (budget)."""
        return self._get(f"{COMPANY}/contracts/{_segment(contract_id)}/summary", ContractSummary)

    # --- Tasking API v2 ----------------------------------------------------------------------

    def get_price(self, request: TaskRequest, contract: Contract | None = None) -> Price:
        """getPrice: ``GET /tasking/v2/price``. Every query field is required by the API: the
        request must carry exclusivity, priority, sla and eula, unless ``contract`` is given to
        resolve the ones it leaves unset from the contract's defaults."""
        params = rules.price_query(request, contract)
        return self._get(f"{TASKING}/price", Price, params)

    def check_feasibility(self, requests: Sequence[TaskRequest]) -> FeasibilityResponse:
        """checkFeasibility: ``POST /tasking/v2/feasibility`` with a JSON array of task requests."""
        if not requests:
            raise InputError(
                "A feasibility check needs at least one request", field="requests", rule="required"
            )
        priorities = {r.priority for r in requests if r.priority is not None}
        if len(priorities) > 1:
            raise InputError(rules.check_batch(requests, {}))
        body = [r.to_wire() for r in requests]
        timeout = max(self._timeout, FEASIBILITY_TIMEOUT_S)
        response = self._call(
            "POST", self._url(f"{TASKING}/feasibility"), json=body, timeout=timeout
        )
        return _parse(FeasibilityResponse, response)

    def create_task(self, request: TaskRequest) -> Task:
        """createTask: ``POST /tasking/v2/tasks`` (201). Never makes a second task: see module doc."""
        url = self._url(f"{TASKING}/tasks")
        body = request.to_wire()
        for attempt in range(1, self._max_attempts + 1):
            sent_at = self._clock()
            try:
                return _parse(Task, self._attempt("POST", url, json=body))
            except RateLimited as error:
                # 429 is answered before processing: nothing was made, waiting is safe.
                if attempt == self._max_attempts or not _retryable(error):
                    raise
                self._sleep(min(error.retry_after or BACKOFF_INITIAL_S, RETRY_AFTER_CAP_S))
            except (TransportError, ServerError) as error:
                if _not_sent(error):
                    if attempt == self._max_attempts:
                        raise
                    self._sleep(backoff(attempt))
                    continue
                existing = self._find_created(request, sent_at, error)
                if existing is not None:
                    log.info("create_task: found the task made by the failed attempt")
                    return existing
                # Definitely not made: send it once more, and only once.
                log.info("create_task: no task was made; sending the create again once")
                return _parse(Task, self._attempt("POST", url, json=body))
        raise AssertionError("unreachable")  # pragma: no cover

    def _find_created(
        self, request: TaskRequest, sent_at: datetime, cause: TaskingError
    ) -> Task | None:
        try:
            for task in self.iter_tasks(
                contract_id=request.contractID, created_after=sent_at - CREATE_LOOKUP_SKEW
            ):
                if _same_task(task, request):
                    return task
        except TaskingError as lookup_error:
            raise _ambiguous(cause, lookup_error) from lookup_error
        return None

    def list_tasks(
        self,
        contract_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Task]:
        """getTasks: ``GET /tasking/v2/tasks`` (one page; filters omitted unless given)."""
        params = _page_params(limit, cursor)
        if contract_id:
            params["contractID"] = contract_id
        if created_after is not None:
            params["createdAfter"] = format_rfc3339(created_after)
        if created_before is not None:
            params["createdBefore"] = format_rfc3339(created_before)
        return self._get(f"{TASKING}/tasks", Page[Task], params)

    def iter_tasks(
        self,
        contract_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[Task]:
        """Every task matching the filters, over all pages (a missing or empty cursor ends)."""
        return _iterate(
            lambda cursor: self.list_tasks(
                contract_id, created_after, created_before, limit=limit, cursor=cursor
            )
        )

    def get_task(self, task_id: str) -> Task:
        """getTask: ``GET /tasking/v2/tasks/{taskID}``."""
        return self._get(f"{TASKING}/tasks/{_segment(task_id)}", Task)

    def cancel_task(self, task_id: str) -> Task:
        """cancelTask: ``PATCH /tasking/v2/tasks/{taskID}`` with ``{"status": "CANCELED"}``."""
        body = TaskUpdateRequest().to_wire()
        url = self._url(f"{TASKING}/tasks/{_segment(task_id)}")
        attempts = 0

        def patch() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return self._attempt("PATCH", url, json=body)

        try:
            response = self._retrying()(patch)
        except BadRequest:
            # A retried PATCH whose earlier attempt was cancelled but whose answer was lost is
            # refused ("cannot cancel a CANCELED task"): the cancel did happen, so say so.
            if attempts > 1:
                task = self.get_task(task_id)
                if task.status == TaskStatus.CANCELED:
                    return task
            raise
        return _parse(Task, response)

    def get_scene(self, task_id: str) -> Scene:
        """getTaskScene: ``GET /tasking/v2/tasks/{taskID}/scene`` (404 until ACTIVE)."""
        return self._get(f"{TASKING}/tasks/{_segment(task_id)}/scene", Scene)

    def list_products(self, task_id: str, product_type: str | None = None) -> list[Product]:
        """listTaskProducts / getTaskProduct: ``GET /tasking/v2/tasks/{taskID}/products[/{type}]``,
        all pages (404 until FULFILLED)."""
        path = f"{TASKING}/tasks/{_segment(task_id)}/products"
        if product_type:
            path += f"/{_segment(product_type)}"

        def page(cursor: str | None) -> Page[Product]:
            return self._get(path, Page[Product], _page_params(None, cursor))

        return list(_iterate(page))

    def fetch_asset(self, href: str, *, max_bytes: int = MAX_ASSET_BYTES) -> bytes:
        """The bytes behind a product asset's signed link (expires after 1 h, §4.8).

        A relative link is resolved against the API; the bearer token is only sent to the API's
        own origin, never to a storage host. Larger than ``max_bytes`` → InputError.
        """
        try:
            url = httpx.URL(urljoin(self.api_url + "/", href))
        except httpx.InvalidURL:  # not an HTTPError: it would leak past _download's handlers
            raise InputError(
                "Asset link is not a valid URL", field="href", rule="asset-url"
            ) from None
        if url.scheme not in ("http", "https"):
            raise InputError(
                f"Asset link must be an http(s) URL, got scheme {url.scheme!r}",
                field="href",
                rule="asset-url",
            )
        same_origin = (url.scheme, url.host, url.port) == (
            self._origin.scheme,
            self._origin.host,
            self._origin.port,
        )

        return self._retrying()(self._download, url, same_origin, max_bytes)

    def _download(self, url: httpx.URL, same_origin: bool, max_bytes: int) -> bytes:
        path = url.path
        started = time.perf_counter()
        try:
            with self._http.stream(
                "GET",
                url,
                auth=self._auth if same_origin else None,
                headers={"Accept": "*/*"},
                follow_redirects=True,
            ) as response:
                log.info("GET %s -> %s in %.0f ms", path, response.status_code, _ms(started))
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response)
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise _too_big(max_bytes)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_big(max_bytes)
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise RequestTimeout(f"GET {path} timed out") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"GET {path} failed: {type(exc).__name__}") from exc


# --- helpers -----------------------------------------------------------------------------------


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("attempt %d failed (%s); retrying in %.1f s", state.attempt_number, error, wait)


def _not_sent(error: TaskingError) -> bool:
    """The request never left: connecting failed, so the server cannot have acted on it."""
    return isinstance(error.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


def _ambiguous(cause: TaskingError, lookup_error: TaskingError) -> TaskingError:
    """The create's own error, saying that its outcome is unknown because the lookup failed."""
    message = (
        f"{cause.message}; the task may or may not have been created and looking for it failed "
        f"too ({lookup_error.message}): check the task list before trying again"
    )
    if isinstance(cause, ApiError):
        return type(cause)(
            message,
            status_code=cause.status_code,
            code=cause.code,
            details=cause.details,
            title=cause.title,
            reference=cause.reference,
            retry_after=cause.retry_after,
            method=cause.method,
            path=cause.path,
        )
    return type(cause)(message)


def _too_big(max_bytes: int) -> InputError:
    return InputError(
        f"The asset is larger than {max_bytes // (1024 * 1024)} MiB; download it outside the app",
        field="href",
        rule="asset-size",
    )


def _parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        request = response.request
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:3]
        )
        raise ApiError(
            f"Unexpected response from {request.method} {request.url.path}: {problems}",
            status_code=response.status_code,
            code="invalid_response",
            method=request.method,
            path=request.url.path,
        ) from None


def _page_params(limit: int | None, cursor: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if limit is not None:
        params["limit"] = str(limit)
    if cursor:
        params["cursor"] = cursor
    return params


T = TypeVar("T")


def _iterate(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = fetch(cursor)
        yield from page.data
        cursor = page.next_cursor
        if cursor is None or cursor in seen:
            return
        seen.add(cursor)


def _same_task(task: Task, request: TaskRequest) -> bool:
    """Is ``task`` the one ``request`` would have made? Reference, point, window and mode."""
    return (
        task.reference == request.reference
        and task.imagingMode == request.imagingMode
        and abs(task.pointOfInterest.lat - request.pointOfInterest.lat) <= POINT_TOLERANCE_DEG
        and abs(task.pointOfInterest.lon - request.pointOfInterest.lon) <= POINT_TOLERANCE_DEG
        and task.acquisitionWindow.start == request.acquisitionWindow.start
        and task.acquisitionWindow.end == request.acquisitionWindow.end
    )
