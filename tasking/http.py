"""``Session``: the one HTTP session every ICEYE API client shares.

It owns what the API clients (``tasking.company``, ``tasking.tasking_api``) must not repeat: the one
``httpx.Client`` (connection pool, User-Agent, Accept, keep-alive), the auth, the retry policy
(tenacity: exponential backoff with jitter, ``Retry-After`` honoured up to a cap), the mapping of
every failure to ``tasking.errors`` (httpx exceptions never leak), logging (method, path, status,
duration; never headers, query strings or tokens), parsing into pydantic models, cursor pagination,
asset downloads and the server's time (the local clock corrected by the ``Date`` header of the
latest response). Every member is thread-safe: one session serves every Streamlit session.

Which failures a call retries is the caller's choice of predicate:

* ``retry_idempotent``: 429, 5xx and transport errors (GET, the cancel PATCH);
* ``retry_unless_timed_out``: the same except a timeout waiting for the answer, which already took
  the longest wait we accept (feasibility, 120 s);
* ``retry_unprocessed``: only what the server certainly did not act on, a 429 (answered before
  processing) or a request that never left (createTask).

Text that cannot be sent as UTF-8 (a lone surrogate from a broken paste) is an ``InputError`` before
anything is sent, naming the field.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urljoin

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from tasking import rules, times
from tasking.errors import (
    ApiError,
    ConfigurationError,
    InputError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TaskingError,
    TransportError,
    error_from_response,
)
from tasking.models import Page
from tasking.times import parse_http_date

__all__ = [
    "ACCEPT",
    "KEEPALIVE_S",
    "MAX_ASSET_BYTES",
    "MAX_ATTEMPTS",
    "RETRY_AFTER_CAP_S",
    "USER_AGENT",
    "RetryPolicy",
    "Session",
    "backoff",
    "check_text",
    "page_params",
    "paginate",
    "parse",
    "retry_idempotent",
    "retry_unless_timed_out",
    "retry_unprocessed",
    "segment",
]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

ACCEPT = "application/json, application/problem+json"
# Retry policy (issue 2: "retry with backoff on 429, 5xx and transport errors").
MAX_ATTEMPTS = 3
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 8.0
BACKOFF_JITTER_S = 0.5
# A longer Retry-After than this is not waited for in a UI request; the error (with its
# retry_after) reaches the caller instead.
RETRY_AFTER_CAP_S = 30.0
KEEPALIVE_S = 60.0
"""Idle connections stay open this long: longer than the Monitor's 5 s refresh interval."""
# Largest asset fetched into memory; bigger products are for a download manager, not this client.
MAX_ASSET_BYTES = 256 * 1024 * 1024
# Safety net against a server that repeats a cursor forever.
MAX_PAGES = 1000

RetryPolicy = Callable[[BaseException], bool]
"""Which failures a call retries (``retry_idempotent``, ``retry_unless_timed_out``, ...)."""


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


# --- retry policies ----------------------------------------------------------------------------


def backoff(attempt: int) -> float:
    """Exponential backoff before retry number ``attempt`` (1-based), without jitter."""
    return float(min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2.0 ** (attempt - 1)))


def retry_idempotent(error: BaseException) -> bool:
    """429 and 5xx (unless their Retry-After exceeds the cap) and every transport error."""
    if isinstance(error, RateLimited | ServerError):
        return error.retry_after is None or error.retry_after <= RETRY_AFTER_CAP_S
    return isinstance(error, TransportError)


def retry_unless_timed_out(error: BaseException) -> bool:
    """As ``retry_idempotent``, but not after waiting out the read timeout for an answer."""
    timed_out = isinstance(error, RequestTimeout) and error.outcome_unknown
    return retry_idempotent(error) and not timed_out


def retry_unprocessed(error: BaseException) -> bool:
    """Only failures the server certainly did not act on: 429, or a request that never left."""
    return retry_idempotent(error) and isinstance(error, TaskingError) and not error.outcome_unknown


# --- the session -------------------------------------------------------------------------------


class Session:
    """One ``httpx.Client`` with auth, retries, error mapping, logging and the server's time.

    ``clock`` is the local clock (the machine's UTC by default; tests inject one); ``server_now``
    is it corrected by the ``Date`` header of the latest response. The sandbox sends its
    simulation clock as ``Date``, so this is the simulated time there too.
    """

    def __init__(
        self,
        api_url: str,
        auth: httpx.Auth | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
        rng: random.Random | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        try:
            self.origin = httpx.URL(self.api_url).copy_with(path="/", query=None, fragment=None)
        except httpx.InvalidURL as exc:
            raise ConfigurationError(f"ICEYE_API_URL is not a valid URL: {exc}") from None
        self.auth = auth
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self.request_count = 0
        """HTTP requests sent through this session (retries and token requests included)."""
        self._monotonic: Callable[[], float] = time.monotonic
        self._heard: tuple[float, bool] | None = None
        """(monotonic time, whether it answered) of the latest exchange: a response below 500
        answers, a 5xx or no response at all does not."""
        self._owns_http = http is None
        if http is None:
            http = httpx.Client(
                timeout=_timeout(timeout),
                transport=transport,
                headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
                # Keep the connection across the Monitor's 5 s polls (httpx drops idle ones after 5 s).
                limits=httpx.Limits(keepalive_expiry=KEEPALIVE_S),
            )
        hooks = http.event_hooks
        http.event_hooks = {
            "request": [*hooks.get("request", []), self._on_request],
            "response": [*hooks.get("response", []), self._on_response],
        }
        self.http = http

    def close(self) -> None:
        """Close the ``httpx.Client`` unless it was given (then its owner closes it)."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the server's time -----------------------------------------------------------------

    def local_now(self) -> datetime:
        """The injected clock, or the machine's UTC."""
        # Looked up at each call, not bound as a default: tests replace ``times.utc_now`` to play
        # a machine whose clock is wrong.
        return self._clock() if self._clock is not None else times.utc_now()

    def server_time(self, local: datetime) -> datetime:
        """The server's time at the instant ``local_now()`` read ``local``, by the latest offset."""
        with self._lock:
            return local + self._offset

    def server_now(self) -> datetime:
        """The server's time now: ``local_now()`` corrected by the latest ``Date`` offset (0 until
        a response came)."""
        return self.server_time(self.local_now())

    def _on_request(self, request: httpx.Request) -> None:
        with self._lock:
            self.request_count += 1
        # The auth's token request is built as a bare httpx.Request, which httpcore would let
        # wait forever: it gets the client's timeout.
        request.extensions.setdefault("timeout", self.http.timeout.as_dict())

    def last_heard(self) -> tuple[float, bool] | None:
        """(seconds ago, whether the API answered) for the latest exchange, None before any: a
        health check can trust what the session's own traffic already showed."""
        with self._lock:
            heard = self._heard
        return None if heard is None else (self._monotonic() - heard[0], heard[1])

    def _heard_now(self, answered: bool) -> None:
        with self._lock:
            self._heard = (self._monotonic(), answered)

    def _on_response(self, response: httpx.Response) -> None:
        self._heard_now(response.status_code < 500)
        # A cached response (Age) carries the origin's old Date: not measured. The sandbox sends
        # its simulation clock as Date, so the offset works there too.
        if "Age" in response.headers:
            return
        date = parse_http_date(response.headers.get("Date"))
        if date is not None:
            # Date has 1 s resolution: the offset may be up to 1 s early, harmless for a lookup.
            offset = date - self.local_now()
            with self._lock:
                self._offset = offset

    # --- requests ----------------------------------------------------------------------------

    def attempt(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One HTTP exchange with the API; error statuses and httpx exceptions become
        ``tasking.errors``; text that cannot be sent is an InputError before anything is sent."""
        check_text(params)
        check_text(json)
        extra: dict[str, Any] = {} if timeout is None else {"timeout": _timeout(timeout)}
        request = self.http.build_request(
            method, self.api_url + path, params=params, json=json, **extra
        )
        started = time.perf_counter()
        try:
            response = self.http.send(request, auth=self.auth)
        except httpx.HTTPError as exc:
            self._heard_now(False)
            raise _transport_error(exc, request, started) from exc
        log.info(
            "%s %s -> %s in %.0f ms", method, request.url.path, response.status_code, _ms(started)
        )
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def retrying(self, retry: RetryPolicy = retry_idempotent) -> Retrying:
        """Up to ``max_attempts`` attempts, retrying the failures ``retry`` accepts."""
        return Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(retry),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_log_retry,
        )

    def request(
        self, method: str, path: str, *, retry: RetryPolicy = retry_idempotent, **kwargs: Any
    ) -> httpx.Response:
        """``attempt``, retried as ``retry`` allows."""
        return self.retrying(retry)(self.attempt, method, path, **kwargs)

    def get(self, path: str, model: type[M], params: dict[str, str] | None = None) -> M:
        """A retried GET parsed into ``model``."""
        return parse(model, self.request("GET", path, params=params))

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ApiError) and error.retry_after is not None:
            return min(error.retry_after, RETRY_AFTER_CAP_S)
        return backoff(state.attempt_number) + self._rng.uniform(0, BACKOFF_JITTER_S)

    # --- assets ------------------------------------------------------------------------------

    def download(self, href: str, *, max_bytes: int = MAX_ASSET_BYTES) -> bytes:
        """The bytes behind a product asset's signed link (expires after 1 h, §4.8).

        A relative link is resolved against the API; the token is only sent to the API's own
        origin, never to a storage host. Larger than ``max_bytes`` → InputError.
        """
        try:
            url = httpx.URL(urljoin(self.api_url + "/", href))
        except httpx.InvalidURL:  # not an HTTPError: it would leak past _fetch's handlers
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
            self.origin.scheme,
            self.origin.host,
            self.origin.port,
        )
        return self.retrying()(self._fetch, url, same_origin, max_bytes)

    def _fetch(self, url: httpx.URL, same_origin: bool, max_bytes: int) -> bytes:
        request = self.http.build_request("GET", url, headers={"Accept": "*/*"})
        started = time.perf_counter()
        try:
            response = self.http.send(
                request, auth=self.auth if same_origin else None, stream=True, follow_redirects=True
            )
            try:
                log.info("GET %s -> %s in %.0f ms", url.path, response.status_code, _ms(started))
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response)
                return _read_limited(response, max_bytes)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            self._heard_now(False)
            raise _transport_error(exc, request, started) from exc


# --- helpers for the API clients ---------------------------------------------------------------


def parse(model: type[M], response: httpx.Response) -> M:
    """The response body as ``model``; a body that does not fit is an ApiError, not a crash."""
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


def paginate(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of every page ``fetch(cursor)`` returns; a missing, empty or repeated cursor
    ends the list."""
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = fetch(cursor)
        yield from page.data
        cursor = page.next_cursor
        if cursor is None or cursor in seen:
            return
        seen.add(cursor)


def page_params(limit: int | None, cursor: str | None) -> dict[str, str]:
    """``limit`` and ``cursor`` query fields, only those given."""
    params: dict[str, str] = {}
    if limit is not None:
        params["limit"] = str(limit)
    if cursor:
        params["cursor"] = cursor
    return params


def segment(value: str) -> str:
    """A path segment: IDs are quoted so that no value can change the path."""
    if not value:
        raise InputError("An ID is required", field="id", rule=rules.RULE_REQUIRED)
    try:
        return quote(value, safe="")
    except UnicodeEncodeError as exc:
        raise _unencodable("id", "id", exc) from None


def check_text(value: Any, path: tuple[str | int, ...] = ()) -> None:
    """Refuse (InputError) a string in ``value`` (a JSON-like body or query) that UTF-8 cannot
    encode, naming the request field it is in; httpx would raise UnicodeEncodeError mid-call."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            field = next((p for p in path if isinstance(p, str)), "request")
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
            raise _unencodable(field, where.lstrip(".") or field, exc) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path)
            check_text(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_text(item, (*path, index))


def _unencodable(field: str, where: str, exc: UnicodeEncodeError) -> InputError:
    return InputError(
        f"{where} has a character that is not valid text at position {exc.start + 1} (an "
        f"unpaired surrogate): text must be encodable as UTF-8 ({rules.RULE_TEXT_ENCODING} rule).",
        field=field,
        rule=rules.RULE_TEXT_ENCODING,
    )


def _transport_error(
    exc: httpx.HTTPError, request: httpx.Request, started: float
) -> TransportError:
    """No HTTP answer. ``sent`` is False when ours certainly did not reach the server: connecting
    failed, or the failing request was the auth's token request (ours not sent yet, or refused
    with 401 before it)."""
    try:
        failed: httpx.Request | None = exc.request
    except RuntimeError:  # raised before any request existed
        failed = None
    connect = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    sent = not connect and (failed is None or failed is request)
    what = f"{request.method} {request.url.path}"
    if isinstance(exc, httpx.TimeoutException):
        log.warning("%s timed out after %.0f ms", what, _ms(started))
        return RequestTimeout(f"{what} timed out", sent=sent)
    log.warning("%s failed: %s", what, type(exc).__name__)
    return TransportError(f"{what} failed: {type(exc).__name__}", sent=sent)


def _read_limited(response: httpx.Response, max_bytes: int) -> bytes:
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


def _too_big(max_bytes: int) -> InputError:
    return InputError(
        f"The asset is larger than {max_bytes // (1024 * 1024)} MiB; download it outside the app",
        field="href",
        rule="asset-size",
    )


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("attempt %d failed (%s); retrying in %.1f s", state.attempt_number, error, wait)
