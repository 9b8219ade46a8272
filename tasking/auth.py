"""OAuth2 client-credentials authentication for ICEYE's API as an ``httpx.Auth``.

Why not a library: httpx-auth's ``OAuth2ClientCredentials`` sends its token request through a client
of its own (another connection pool, invisible to the transport the app's client was given) and does
not retry a request once with a fresh token after a 401; authlib's httpx integration is a client
subclass, not an ``Auth``, and refreshes without a lock shared by threads. This module does those
three things in one small class: the token request is yielded from ``sync_auth_flow`` (so it goes
through the same ``httpx.Client`` and its transport), a ``threading.Lock`` makes many threads
needing a token at once cause exactly one token request, and a 401 from the API gets one retry
with a fresh token.

Token request and lifetime: ``reference/iceye-api.md`` §2 (Basic auth, ``grant_type=
client_credentials``; ICEYE advises refreshing 5 minutes before expiry; ICEYE's demo uses half the
lifetime when it is short).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr, ValidationError

from tasking.errors import ApiError, RateLimited, ServerError, Unauthorized, error_from_response
from tasking.models import TokenResponse

__all__ = [
    "ACCEPT",
    "REFRESH_MARGIN_S",
    "SHORT_LIFETIME_S",
    "ClientCredentialsAuth",
    "token_lifetime",
]


# ICEYE (manage-access-tokens): refresh 5 minutes before the token expires.
REFRESH_MARGIN_S = 300.0
# Below this lifetime a 5-minute margin would leave (almost) nothing: use half the lifetime instead.
SHORT_LIFETIME_S = 600.0
ACCEPT = "application/json, application/problem+json"


def token_lifetime(expires_in: float) -> float:
    """Seconds a token is used for: ``expires_in`` − 5 min, or half of it when ``expires_in`` ≤ 600."""
    if expires_in <= SHORT_LIFETIME_S:
        return max(0.0, expires_in / 2)
    return expires_in - REFRESH_MARGIN_S


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)  # never in a repr, a log or a traceback
    use_until: float


class ClientCredentialsAuth(httpx.Auth):
    """Bearer tokens from an OAuth2 token endpoint, cached and shared by every thread.

    Sync clients only (a threading lock guards the cache). ``clock`` is monotonic seconds.
    """

    requires_request_body = True  # a 401 retry resends the body

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | SecretStr,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self._client_id = client_id
        self._secret = (
            client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self.token_requests = 0
        """Number of token requests sent (benchmarks and tests read it)."""

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(token_url={self.token_url!r}, client_id={self._client_id!r})"

    def _valid(self) -> str | None:
        token = self._token
        if token is not None and self._clock() < token.use_until:
            return token.value
        return None

    def _token_request(self) -> httpx.Request:
        basic = httpx.BasicAuth(self._client_id, self._secret.get_secret_value())
        request = httpx.Request(
            "POST",
            self.token_url,
            data={"grant_type": "client_credentials"},
            headers={"Accept": ACCEPT, "Cache-Control": "no-cache"},
        )
        # BasicAuth's flow only sets the header; reuse it rather than encode it by hand.
        return next(basic.auth_flow(request))

    def _store(self, response: httpx.Response) -> str:
        response.read()
        if response.status_code != 200:
            raise _token_error(response, self.token_url)
        try:
            parsed = TokenResponse.model_validate_json(response.content)
        except ValidationError:
            raise Unauthorized(
                f"The token endpoint {self.token_url} answered without an access token",
                status_code=response.status_code,
                method="POST",
                path=response.request.url.path,
            ) from None
        self._token = _Token(parsed.access_token, self._clock() + token_lifetime(parsed.expires_in))
        return parsed.access_token

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, str]:
        self.token_requests += 1
        response = yield self._token_request()
        return self._store(response)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._valid()
        if token is None:
            # Holding the lock while the token request is in flight is the point: other threads
            # wait for this one's token instead of asking for their own. httpx closes this
            # generator on any error, which releases the lock.
            with self._lock:
                token = self._valid() or (yield from self._fetch())
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        with self._lock:
            current = self._token
            if current is not None and current.value != token and self._valid():
                fresh = current.value  # another thread already refreshed it
            else:
                self._token = None
                fresh = yield from self._fetch()
        request.headers["Authorization"] = f"Bearer {fresh}"
        yield request


def _token_error(response: httpx.Response, token_url: str) -> ApiError:
    """A failed token request: credentials problems become Unauthorized (whatever 4xx the server
    chose), rate limits and server errors keep their own class so callers may retry them."""
    error = error_from_response(response)
    if isinstance(error, RateLimited | ServerError | Unauthorized):
        return error
    hint = " (is ICEYE_AUTH_URL right?)" if response.status_code == 404 else ""
    return Unauthorized(
        f"Token request to {token_url} failed: {error.message}{hint}",
        status_code=error.status_code,
        code=error.code,
        details=error.details,
        title=error.title,
        method=error.method,
        path=error.path,
    )
