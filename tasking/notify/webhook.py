"""Notices as an outgoing JSON webhook: one POST per delivery.

The body (``webhook_payload``) names the delivery (``id``), the event (``type``: ``task.<kind>``),
the task and what happened; its ``text`` is a complete message on its own (title, sentences, link)
because Slack's and Mattermost's incoming webhooks show ``text`` and ignore the rest, while
``message`` keeps the worker's sentences alone for receivers that lay out the fields themselves.
The quicklook never travels in the body: the ``link`` leads to it.

Headers: ``Idempotency-Key`` (the delivery id, the same on every attempt, so a receiver can drop
a duplicate) and, with a secret, ``X-Tasking-Signature: sha256=<hex>``, the HMAC-SHA256 of the
exact body bytes under the secret, with ``X-Tasking-Timestamp`` (Unix seconds of the attempt). A
receiver verifies by computing the same HMAC over the raw body it read, before parsing it::

    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    hmac.compare_digest(expected, request.headers["X-Tasking-Signature"])

2xx is delivered; 408, 429, 5xx and transport failures are worth another attempt; any other
answer, a redirect included (never followed: a webhook that moved is a configuration to fix), is
permanent. Messages name the receiver by scheme, host and port only: chat webhooks carry their
secret in the path.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from tasking.config import Settings
from tasking.errors import parse_retry_after
from tasking.notify.notice import DeliveryFailed, Notice, scrub
from tasking.times import format_rfc3339, utc_now

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "USER_AGENT",
    "WebhookSettings",
    "send_webhook",
    "signature",
    "webhook_body",
    "webhook_payload",
]

log = logging.getLogger(__name__)

USER_AGENT = "tasking-desk/1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_HEADER = "X-Tasking-Signature"
TIMESTAMP_HEADER = "X-Tasking-Timestamp"
# Worth another attempt: the receiver timed out waiting for us (408), asked us to slow down (429)
# or failed itself (5xx).
_TRANSIENT = frozenset({408, 429})
_ERROR_BODY_CHARS = 200


@dataclass(frozen=True)
class WebhookSettings:
    """Where to POST notices, and the secret that signs them (optional)."""

    url: str
    secret: SecretStr | None
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookSettings | None:
        """The webhook channel as configured, or None when ``ICEYE_NOTIFY_WEBHOOK_URL`` is unset
        (``Settings`` has already refused a URL that is not http(s))."""
        if settings.notify_webhook_url is None:
            return None
        return cls(url=settings.notify_webhook_url, secret=settings.notify_webhook_secret)


def webhook_payload(notice: Notice) -> dict[str, Any]:
    """The JSON object posted for a notice."""
    return {
        "id": notice.delivery_id,
        "type": f"task.{notice.kind}",
        "taskID": notice.task_id,
        "status": notice.status,
        "title": notice.title,
        "text": f"{notice.title}\n{notice.text.strip()}\n{notice.deep_link}",
        "message": notice.text,
        "occurredAt": format_rfc3339(notice.occurred_at),
        "link": notice.deep_link,
        "reference": notice.reference,
        "reason": notice.reason,
        "facts": dict(notice.facts),
    }


def webhook_body(notice: Notice) -> bytes:
    """The exact bytes posted (and signed) for a notice: compact UTF-8 JSON."""
    return json.dumps(webhook_payload(notice), ensure_ascii=False, separators=(",", ":")).encode()


def signature(body: bytes, secret: str) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(
    notice: Notice,
    settings: WebhookSettings,
    client: httpx.Client | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """POST the notice to the webhook; DeliveryFailed unless the answer is 2xx.

    ``client`` is the caller's long-lived ``httpx.Client`` (its timeout is replaced by
    ``settings.timeout_s``); without one, a client is made for this call and closed.
    """
    body = webhook_body(notice)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: notice.delivery_id,
    }
    secret = settings.secret.get_secret_value() if settings.secret else None
    if secret:
        headers[SIGNATURE_HEADER] = signature(body, secret)
        headers[TIMESTAMP_HEADER] = str(int(clock().timestamp()))
    try:
        url = httpx.URL(settings.url)
    except httpx.InvalidURL:
        raise DeliveryFailed(
            "ICEYE_NOTIFY_WEBHOOK_URL is not a valid URL", permanent=True
        ) from None
    where = _receiver(url)
    http = client or httpx.Client()
    try:
        request = http.build_request(
            "POST", url, content=body, headers=headers, timeout=settings.timeout_s
        )
        response = http.send(request, stream=True, follow_redirects=False)
        try:
            status = response.status_code
            if 200 <= status < 300:
                log.info(
                    "webhook %s (task %s) delivered to %s: %d",
                    notice.delivery_id,
                    notice.task_id,
                    where,
                    status,
                )
                return
            answer = _error_body(response)
        finally:
            response.close()
    except httpx.TimeoutException:
        raise DeliveryFailed(
            f"{where} did not answer within {settings.timeout_s:g} s", permanent=False
        ) from None
    except httpx.UnsupportedProtocol:
        raise DeliveryFailed(f"{where} is not an http(s) URL", permanent=True) from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(
            f"{where} could not be reached: {type(exc).__name__}", permanent=False
        ) from None
    finally:
        if client is None:
            http.close()
    permanent = status not in _TRANSIENT and status < 500
    if 300 <= status < 400:
        what = (
            f"{where} answered {status}, a redirect, which is not followed: set "
            "ICEYE_NOTIFY_WEBHOOK_URL to where the receiver is now"
        )
    else:
        what = f"{where} answered {status}" + (f": {answer}" if answer else "")
    raise DeliveryFailed(
        scrub(what, secret, url.password),
        permanent=permanent,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def _receiver(url: httpx.URL) -> str:
    """The receiver by scheme, host and port: a chat webhook's path is its secret, and userinfo
    is a password."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = f":{url.port}" if url.port is not None else ""
    return f"webhook {url.scheme}://{host}{port}"


def _error_body(response: httpx.Response) -> str:
    """The start of an error answer, one line (Slack says what is wrong: ``invalid_payload``)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= 4 * _ERROR_BODY_CHARS:
            break
    text = " ".join(b"".join(chunks).decode("utf-8", "replace").split())
    return text if len(text) <= _ERROR_BODY_CHARS else text[: _ERROR_BODY_CHARS - 1] + "…"
