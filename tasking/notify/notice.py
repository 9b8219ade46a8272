"""What a notification says (``Notice``) and how a channel reports that it could not say it
(``DeliveryFailed``). The worker decides which notices to send and keeps their bookkeeping; the
channels (``tasking.notify.mail``, ``tasking.notify.webhook``) only render and send one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from tasking.errors import TaskingError
from tasking.times import to_utc

__all__ = ["NOTICE_KINDS", "DeliveryFailed", "Notice", "scrub"]

NOTICE_KINDS: Final = (
    "accepted",
    "scheduled",
    "rejected",
    "captured",
    "fulfilled",
    "products_ready",
    "failed",
    "canceled",
)

# The left part of a Message-ID is an RFC 5322 dot-atom (§3.6.4); the same characters are safe in
# an HTTP header (Idempotency-Key), so one check serves both channels.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_MAX_DELIVERY_ID = 200


def _text(value: str) -> str:
    # A lone surrogate (a broken paste that came back from the backend) cannot be sent as UTF-8 in
    # either channel; it becomes U+FFFD here rather than an error in the middle of a send.
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


@dataclass(frozen=True)
class Notice:
    """One notification about one task, rendered the same way by every channel.

    ``delivery_id`` is the worker's stable id of this delivery: the email's ``Message-ID`` and the
    webhook's ``Idempotency-Key`` are made from it, so a retried delivery can be recognised as a
    duplicate downstream. ``occurred_at`` is kept in UTC (naive means UTC); ``title`` is kept on
    one line, since it becomes an email subject.
    """

    delivery_id: str
    task_id: str
    kind: str
    status: str
    title: str
    text: str
    occurred_at: datetime
    deep_link: str
    reference: str | None = None
    reason: str | None = None
    quicklook_png: bytes | None = None
    facts: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in NOTICE_KINDS:
            raise ValueError(f"Notice kind must be one of {', '.join(NOTICE_KINDS)}: {self.kind!r}")
        if len(self.delivery_id) > _MAX_DELIVERY_ID or not _DOT_ATOM.fullmatch(self.delivery_id):
            raise ValueError(
                "Notice delivery_id must be letters, digits and . _ - (an RFC 5322 dot-atom of "
                f"at most {_MAX_DELIVERY_ID} characters): {self.delivery_id!r}"
            )
        # Normalised once here, so that both channels render the same notice.
        set_ = object.__setattr__
        set_(self, "occurred_at", to_utc(self.occurred_at))
        set_(self, "title", " ".join(_text(self.title).split()))
        for name in ("task_id", "status", "text", "deep_link"):
            set_(self, name, _text(getattr(self, name)))
        for name in ("reference", "reason"):
            value = getattr(self, name)
            set_(self, name, None if value is None else _text(value))
        set_(self, "facts", tuple((_text(str(k)), _text(str(v))) for k, v in self.facts))


class DeliveryFailed(TaskingError):
    """A channel could not deliver a notice.

    ``permanent`` is True when trying again cannot help (a refused recipient, a 4xx answer other
    than 408/429, bad configuration) and False when a later attempt may succeed (connection
    refused or reset, a timeout, an SMTP 4xx, an HTTP 5xx/408/429). ``retry_after`` is the
    server's advice in seconds when it gave one. The message never holds a password, a secret or
    an ``Authorization`` value.
    """

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"DeliveryFailed({self.message!r}, permanent={self.permanent})"


def scrub(message: str, *secrets: str | None) -> str:
    """``message`` with every non-empty secret in it masked: a server's reply is quoted in our
    messages, and nothing stops a server from echoing what it was sent."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message
