"""Access tokens (OAuth2 client credentials) and the per-token rate limit.

Tokens are opaque random strings; only their SHA-256 is stored, so the database never holds a usable
token, and they survive a restart. They expire in REAL time (``config.token_ttl_s``): a client
schedules its refresh from ``expires_in`` with its own clock, so a token in simulated seconds would
die within a minute at 60× and force a re-login on every poll.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import secrets
import threading
from collections.abc import Callable
from datetime import datetime

from tasking.sandbox.problems import ApiProblem
from tasking.sandbox.seed import company_by_client_id
from tasking.sandbox.store import Store

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="iceye-sandbox"'}


class OAuthError(Exception):
    """A token-endpoint refusal in RFC 6749 §5.2 form (``{error, error_description}``)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def basic_credentials(header: str | None) -> tuple[str, str]:
    """(client id, secret) from an ``Authorization: Basic`` header, or OAuthError."""
    if not header or not header.lower().startswith("basic "):
        raise OAuthError(401, "invalid_client", "client authentication with HTTP Basic is required")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(401, "invalid_client", "malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError(401, "invalid_client", "malformed Basic credentials")
    return client_id, secret


class TokenService:
    """Issues tokens to seeded companies and resolves a bearer token to its company."""

    def __init__(self, store: Store, ttl_s: float, real_clock: Callable[[], datetime]) -> None:
        self._store = store
        self._ttl = ttl_s
        self._clock = real_clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[str, float]] = {}

    def issue(self, client_id: str, client_secret: str) -> tuple[str, int]:
        """(access token, expires_in seconds) for valid client credentials."""
        company = company_by_client_id(client_id)
        if company is None or not secrets.compare_digest(
            company.client_secret.encode(), client_secret.encode()
        ):
            raise OAuthError(401, "invalid_client", "unknown client or wrong client secret")
        token = secrets.token_urlsafe(32)
        expires_at = self._clock().timestamp() + self._ttl
        digest = _digest(token)
        self._store.save_token(digest, company.id, expires_at)
        with self._lock:
            self._cache[digest] = (company.id, expires_at)
        return token, int(self._ttl)

    def company_id(self, authorization: str | None) -> str:
        """The company of a ``Bearer`` token; ApiProblem 401 (code ``unauthorized``) otherwise."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiProblem(401, "missing bearer token", headers=_BEARER_CHALLENGE)
        digest = _digest(authorization[7:].strip())
        with self._lock:
            found = self._cache.get(digest)
        if found is None:
            found = self._store.token(digest)
            if found is None:
                raise ApiProblem(401, "invalid access token", headers=_BEARER_CHALLENGE)
            with self._lock:
                self._cache[digest] = found
        company_id, expires_at = found
        if self._clock().timestamp() >= expires_at:
            raise ApiProblem(401, "access token expired", headers=_BEARER_CHALLENGE)
        return company_id


class RateLimiter:
    """A token bucket per key (an access token): ``rate`` requests/s, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float, real_clock: Callable[[], datetime]) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = real_clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> None:
        """Take one request from the key's bucket, or raise 429 with ``Retry-After``."""
        now = self._clock().timestamp()
        with self._lock:
            level, last = self._buckets.get(key, (self._burst, now))
            level = min(self._burst, level + max(0.0, now - last) * self._rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                return
            self._buckets[key] = (level, now)
        wait = max(1, math.ceil((1.0 - level) / self._rate))
        raise ApiProblem(
            429,
            f"rate limit exceeded: at most {self._rate:g} requests per second per token "
            f"(bursts of {self._burst:g}); retry after {wait} s",
            headers={"Retry-After": str(wait)},
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
