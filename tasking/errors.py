"""The one error tree of the tasking package.

Pages catch ``TaskingError`` and nothing else::

    TaskingError                  outcome_unknown: the server may have acted on the request
    ├── ConfigurationError        settings incomplete or contradictory (names what is missing)
    ├── InputError                a request breaks a documented rule; raised before any call
    ├── HistoryError              the app's local task history (database) failed
    ├── TransportError            no HTTP answer: connection refused, DNS, reset, timeout
    │   │                         (outcome unknown unless the request certainly never left)
    │   └── RequestTimeout        the request timed out (outcome unknown unless connecting did)
    └── ApiError                  the API answered with an error status
        ├── BadRequest            400: syntax, validation or contract rule
        │   └── InsufficientFunds 400 with code ERR_INSUFFICIENT_FUNDS
        ├── Unauthorized          401: missing, expired or invalid token / credentials
        ├── Forbidden             403: not allowed for this company or contract
        ├── NotFound              404: unknown resource, or not available yet (scene, products)
        ├── RateLimited           429: too many requests (``retry_after`` seconds when given)
        └── ServerError           5xx (outcome unknown: it may have failed after acting)

``outcome_unknown`` is what a caller of a non-idempotent call (creating a task) must look at: False
means the server certainly did not act (a definite refusal, or a request that never left), True
means it may have, and only a lookup can tell.

``error_from_response`` is the single place where an HTTP response becomes an ``ApiError``; it keeps
ICEYE's ``code``, message/details and ``Retry-After`` whichever of the two documented error bodies
(``{code, message}`` or the problem form ``{title, code, details, reference}``) the server sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import httpx

from tasking.times import parse_http_date

__all__ = [
    "INSUFFICIENT_FUNDS_CODE",
    "ApiError",
    "BadRequest",
    "ConfigurationError",
    "Forbidden",
    "HistoryError",
    "InputError",
    "InsufficientFunds",
    "NotFound",
    "RateLimited",
    "RequestTimeout",
    "ServerError",
    "TaskingError",
    "TransportError",
    "Unauthorized",
    "Violation",
    "error_from_response",
    "parse_retry_after",
]


class TaskingError(Exception):
    """Base of every error the tasking package raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def outcome_unknown(self) -> bool:
        """True when the server may have acted on the request though no definite answer came."""
        return False

    def with_message(self, message: str) -> Self:
        """The same error (class and every field) saying ``message`` instead."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.args = (message,)
        clone.message = message
        return clone


class ConfigurationError(TaskingError):
    """Settings are incomplete or contradictory."""


@dataclass(frozen=True)
class Violation:
    """One broken input rule: which field, which rule, and a sentence for the user."""

    field: str
    rule: str
    message: str


class InputError(TaskingError, ValueError):
    """A request breaks one or more documented rules; nothing was sent."""

    def __init__(self, violations: list[Violation] | str, field: str = "", rule: str = "") -> None:
        if isinstance(violations, str):
            violations = [Violation(field=field, rule=rule, message=violations)]
        self.violations = violations
        super().__init__("; ".join(v.message for v in violations))


class HistoryError(TaskingError):
    """The app's local task history (SQLite or another SQLAlchemy database) failed."""


class TransportError(TaskingError):
    """The request got no HTTP answer (connection refused, reset, DNS failure, timeout).

    ``sent`` is False when the request certainly never reached the server (connecting failed, or
    the auth's token request failed before it); otherwise it may have arrived and been acted on,
    and the outcome is unknown.
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent

    @property
    def outcome_unknown(self) -> bool:
        return self.sent


class RequestTimeout(TransportError):
    """The request timed out; unless connecting timed out, the server may have acted on it."""


class ApiError(TaskingError):
    """The API answered with an error status."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        details: str | None = None,
        title: str | None = None,
        reference: str | None = None,
        retry_after: float | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.details = details
        self.title = title
        self.reference = reference
        self.retry_after = retry_after
        self.method = method
        self.path = path

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        return f"HTTP {self.status_code}{code}: {self.message}"

    @property
    def outcome_unknown(self) -> bool:
        """A success status whose body could not be read (``invalid_response``): the server did
        act, but what it made is not known."""
        return 200 <= self.status_code < 300


class BadRequest(ApiError):
    """400: the request broke a syntax, validation or contract rule."""


class InsufficientFunds(BadRequest):
    """400 ERR_INSUFFICIENT_FUNDS: the price exceeds the contract's available funds."""


class Unauthorized(ApiError):
    """401: missing, expired or invalid token, or bad client credentials."""


class Forbidden(ApiError):
    """403: not allowed (another company's resource, contract dates, window rules on feasibility)."""


class NotFound(ApiError):
    """404: unknown resource, or one that is not available yet (scene before ACTIVE, products...)."""


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` holds the server's advice in seconds, if any."""


class ServerError(ApiError):
    """5xx: the server failed, possibly after acting on the request (a gateway timing out)."""

    @property
    def outcome_unknown(self) -> bool:
        return True


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}

INSUFFICIENT_FUNDS_CODE = "ERR_INSUFFICIENT_FUNDS"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = parse_http_date(value)
    if when is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def error_from_response(response: httpx.Response) -> ApiError:
    """Map an error response to the error tree, keeping ICEYE's code, message and Retry-After.

    Reads both documented bodies: ``{code, message}`` and the problem form ``{title, code, details,
    reference}`` (tolerating RFC 7807's ``detail``); the token endpoint's OAuth2
    ``{error, error_description}`` as well.
    """
    body = _body(response)
    code = body.get("code") or body.get("error")
    details = body.get("details") or body.get("detail")
    title = body.get("title")
    message = (
        body.get("message")
        or body.get("error_description")
        or details
        or title
        or response.reason_phrase
        or f"HTTP {response.status_code}"
    )
    status = response.status_code
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, ApiError)
    if code == INSUFFICIENT_FUNDS_CODE:
        cls = InsufficientFunds
    request = response.request if response._request is not None else None
    return cls(
        str(message),
        status_code=status,
        code=str(code) if code else None,
        details=str(details) if details else None,
        title=str(title) if title else None,
        reference=body.get("reference"),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        method=request.method if request else "",
        path=request.url.path if request else "",
    )
