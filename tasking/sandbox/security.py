"""Access tokens (OAuth2 client credentials), the per-token rate limit and the login throttle.

Tokens are opaque random strings; only their SHA-256 is stored, so the database never holds a usable
token, and they survive a restart. They expire in REAL time (``config.token_ttl_s``): a client
schedules its refresh from ``expires_in`` with its own clock, so a token in simulated seconds would
die within a minute at 60× and force a re-login on every poll.

``LoginThrottle`` slows down secret guessing at the token endpoint: failed attempts are counted per
client id and per peer address, and once either has used up its allowance the endpoint answers 429
*before* looking at the secret, so a throttled guess learns nothing (not even "right secret").
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

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}


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


class LoginThrottle:
    """Token buckets of failed token requests, one per known client id and one per peer.

    Each bucket holds ``burst`` attempts and regains one every ``refill_s`` real seconds. Only
    failures take from it, so a client that logs in correctly is never slowed down; but an empty
    bucket refuses every attempt, right or wrong, until it refills. Unknown client ids get no
    bucket of their own (nothing to protect, and no memory to spend on made-up ids), and full
    buckets are forgotten once there are many, so the table stays small.
    """

    _PRUNE_ABOVE = 4096

    def __init__(self, burst: float, refill_s: float, real_clock: Callable[[], datetime]) -> None:
        self._burst = burst
        self._refill_s = refill_s
        self._clock = real_clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, client_id: str | None, peer: str) -> None:
        """OAuthError 429 with ``Retry-After`` if the client id or the peer has no attempt left."""
        now = self._clock().timestamp()
        with self._lock:
            wait = max(self._wait(key, now) for key in self._keys(client_id, peer))
        if wait > 0:
            raise OAuthError(
                429,
                "too_many_requests",
                f"too many failed token requests: at most {self._burst:g}, then one every "
                f"{self._refill_s:g} s, per client id and per address; retry after {wait} s",
                headers={"Retry-After": str(wait)},
            )

    def failed(self, client_id: str | None, peer: str) -> None:
        """Count one failed attempt against the client id and the peer."""
        now = self._clock().timestamp()
        with self._lock:
            for key in self._keys(client_id, peer):
                self._buckets[key] = (max(0.0, self._level(key, now) - 1.0), now)
            if len(self._buckets) > self._PRUNE_ABOVE:
                full = [k for k in self._buckets if self._level(k, now) >= self._burst]
                for key in full:
                    del self._buckets[key]

    def _keys(self, client_id: str | None, peer: str) -> list[str]:
        keys = [f"peer:{peer}"]
        if client_id is not None and company_by_client_id(client_id) is not None:
            keys.append(f"client:{client_id}")
        return keys

    def _level(self, key: str, now: float) -> float:
        level, last = self._buckets.get(key, (self._burst, now))
        return min(self._burst, level + max(0.0, now - last) / self._refill_s)

    def _wait(self, key: str, now: float) -> int:
        """Whole seconds until the bucket holds one attempt again (0: it holds one now)."""
        level = self._level(key, now)
        return 0 if level >= 1.0 else max(1, math.ceil((1.0 - level) * self._refill_s))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
