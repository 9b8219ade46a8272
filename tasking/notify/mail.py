"""Notices by email over SMTP.

``compose_email`` renders a notice as one message: plain text and HTML alternatives with the same
text, facts and deep link, and the quicklook (when there is one) shown inline in the HTML and
attached as a file. ``send_email`` sends it with ``smtplib``:

* ``tls``: implicit TLS from the first byte (``SMTP_SSL``, usually port 465);
* ``starttls``: plain SMTP upgraded with STARTTLS (usually port 587); a server that does not
  offer it, or a connection that did not upgrade, gets nothing, least of all the password;
* ``none``: plain SMTP, for a relay on a trusted network.

It logs in only when a username is set, and verifies the server's certificate against the system's
trust store (``ssl.create_default_context()``). Every failure is a ``DeliveryFailed`` whose
``permanent`` follows the SMTP reply code (RFC 5321 §4.2.1: 5yz permanent, 4yz transient);
failures without a code (refused or reset connections, timeouts, a dropped session) are transient,
except an untrusted certificate or a server lacking what the configuration needs.

The ``Message-ID`` is made from the delivery id, so that a retried delivery is the same message to
whoever can drop duplicates; ``References`` names the task, so that mail readers thread a task's
notices together.
"""

from __future__ import annotations

import html
import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Literal

from pydantic import SecretStr

from tasking.config import Settings
from tasking.errors import ConfigurationError
from tasking.notify.notice import DeliveryFailed, Notice, scrub
from tasking.times import format_rfc3339

__all__ = [
    "MESSAGE_ID_DOMAIN",
    "EmailSettings",
    "Security",
    "compose_email",
    "message_id",
    "send_email",
]

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]

# RFC 2606 reserves .invalid: the ids can never collide with a real host's.
MESSAGE_ID_DOMAIN = "tasking.invalid"

# A practical address check (ASCII, one @, a dotted domain of letters, digits and hyphens): what
# smtplib can send without SMTPUTF8, and enough to catch a typo or a list pasted with ";".
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_REPLY_CHARS = 200


@dataclass(frozen=True)
class EmailSettings:
    """Where and how to send notices by email; ``from_settings`` reads them from ``Settings``."""

    host: str
    port: int
    security: Security
    username: str | None
    password: SecretStr | None
    sender: str
    recipients: tuple[str, ...]
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailSettings | None:
        """The email channel as configured, or None when ``ICEYE_SMTP_HOST`` or
        ``ICEYE_NOTIFY_EMAILS`` is unset. ConfigurationError, naming the variable, when the sender
        is missing, an address is malformed, or only half of the login is set."""
        recipients = settings.email_recipients
        if settings.smtp_host is None or not recipients:
            return None
        if settings.smtp_sender is None:
            raise ConfigurationError(
                "ICEYE_SMTP_SENDER is missing: set the From address of notification emails "
                "(ICEYE_SMTP_HOST is set)"
            )
        if settings.smtp_username is None and settings.smtp_password is not None:
            raise ConfigurationError(
                "ICEYE_SMTP_USERNAME is missing: ICEYE_SMTP_PASSWORD is set, and a login needs both"
            )
        if settings.smtp_username is not None and settings.smtp_password is None:
            raise ConfigurationError(
                "ICEYE_SMTP_PASSWORD is missing: ICEYE_SMTP_USERNAME is set, and a login needs both"
            )
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=_mailbox(settings.smtp_sender, "ICEYE_SMTP_SENDER"),
            recipients=tuple(_mailbox(r, "ICEYE_NOTIFY_EMAILS") for r in recipients),
        )


def _mailbox(value: str, env: str) -> str:
    """``addr`` or ``Name <addr>``, normalised; ConfigurationError naming ``env`` otherwise."""
    name, address = parseaddr(value)
    # parseaddr reads the first address and drops the rest ("a@x.com; b@y.com" → a@x.com): the
    # whole value must be that address, bare or in angle brackets.
    whole = value.strip() == address or value.rstrip().endswith(f"<{address}>")
    if not whole or not _ADDRESS.fullmatch(address) or ".." in address:
        raise ConfigurationError(
            f"{env} has a malformed email address {value!r}: expected name@example.com or "
            "Name <name@example.com> (several recipients are separated by commas)"
        )
    return formataddr((name, address)) if name else address


def message_id(delivery_id: str) -> str:
    """The ``Message-ID`` of a delivery: the same for every attempt."""
    return f"<{delivery_id}@{MESSAGE_ID_DOMAIN}>"


def _task_token(task_id: str) -> str:
    # Task ids are UUIDs; anything else is made safe for a header and a file name.
    return re.sub(r"[^A-Za-z0-9_-]", "_", task_id) or "task"


def _rows(notice: Notice) -> list[tuple[str, str]]:
    rows = [("Task", notice.task_id)]
    if notice.reference:
        rows.append(("Reference", notice.reference))
    rows.append(("Status", notice.status))
    if notice.reason:
        rows.append(("Reason", notice.reason))
    rows.append(("Time (UTC)", format_rfc3339(notice.occurred_at)))
    # The worker's facts may repeat a row of ours (Task, Status): shown once, ours first.
    shown = {label.casefold() for label, _ in rows}
    rows.extend((label, value) for label, value in notice.facts if label.casefold() not in shown)
    return rows


def _plain(notice: Notice) -> str:
    rows = _rows(notice)
    width = max(len(label) for label, _ in rows) + 1
    table = "\n".join(f"{(label + ':').ljust(width)} {value}" for label, value in rows)
    return (
        f"{notice.title}\n\n{notice.text.strip()}\n\n{table}\n\nOpen the task: {notice.deep_link}\n"
    )


def _html(notice: Notice, image_cid: str | None) -> str:
    e = html.escape
    paragraphs = "".join(
        f"<p>{'<br>'.join(e(line) for line in block.splitlines())}</p>"
        for block in re.split(r"\n\s*\n", notice.text.strip())
        if block.strip()
    )
    image = (
        f'<p><img src="cid:{e(image_cid)}" alt="{e(f"Quicklook of task {notice.task_id}")}" '
        'style="max-width:100%;height:auto;border:1px solid #ccc"></p>'
        if image_cid
        else ""
    )
    cell = 'style="padding:2px 12px 2px 0;vertical-align:top"'
    rows = "".join(
        f'<tr><th align="left" {cell}>{e(label)}</th><td {cell}>{e(value)}</td></tr>'
        for label, value in _rows(notice)
    )
    # Only a web link becomes clickable: anything else is shown as text.
    link = e(notice.deep_link)
    if notice.deep_link.startswith(("http://", "https://")):
        link = f'<a href="{link}">{link}</a>'
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
        '<body style="font-family:sans-serif;font-size:14px;color:#222">'
        f'<h2 style="font-size:18px">{e(notice.title)}</h2>{paragraphs}{image}'
        f'<table style="border-collapse:collapse">{rows}</table>'
        f"<p>Open the task: {link}</p></body></html>\n"
    )


def compose_email(notice: Notice, settings: EmailSettings) -> EmailMessage:
    """The notice as an email from ``settings.sender`` to every recipient."""
    message = EmailMessage()
    message["Subject"] = notice.title
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = format_datetime(notice.occurred_at)
    message["Message-ID"] = message_id(notice.delivery_id)
    message["References"] = f"<task.{_task_token(notice.task_id)}@{MESSAGE_ID_DOMAIN}>"
    # RFC 3834: an automatic message, so that vacation responders stay quiet.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_plain(notice))
    png = notice.quicklook_png
    image_cid = f"quicklook.{notice.delivery_id}@{MESSAGE_ID_DOMAIN}" if png else None
    message.add_alternative(_html(notice, image_cid), subtype="html")
    if png:
        html_part = list(message.iter_parts())[1]
        html_part.add_related(png, "image", "png", cid=f"<{image_cid}>", filename="quicklook.png")
        name = f"quicklook-{_task_token(notice.task_id)}.png"
        message.add_attachment(png, "image", "png", filename=name)
    return message


def send_email(
    notice: Notice, settings: EmailSettings, *, tls_context: ssl.SSLContext | None = None
) -> None:
    """Send the notice by SMTP; DeliveryFailed when the server did not take it for every recipient.

    ``tls_context`` replaces ``ssl.create_default_context()`` (tests trust their own CA with it).
    """
    message = compose_email(notice, settings)
    envelope_from = parseaddr(settings.sender)[1]
    envelope_to = [parseaddr(r)[1] for r in settings.recipients]
    password = settings.password.get_secret_value() if settings.password else None
    where = f"SMTP server {settings.host}:{settings.port}"
    try:
        context = tls_context or ssl.create_default_context()
        smtp = _connect(settings, context)
        try:
            _secure_and_log_in(smtp, settings, context, password, where)
            refused = smtp.send_message(message, envelope_from, envelope_to)
        finally:
            _close(smtp)
    except DeliveryFailed:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        what, permanent = _failure(exc, where, settings)
        raise DeliveryFailed(scrub(what, password), permanent=permanent) from None
    if refused:
        # Sent to the others: a retry would send it to them again, so this is final.
        raise DeliveryFailed(
            f"{where} took the message for {len(envelope_to) - len(refused)} of "
            f"{len(envelope_to)} recipients but refused {_refusals(refused)}",
            permanent=True,
        )
    log.info(
        "email %s (task %s, %s) sent to %d recipient(s) via %s",
        notice.delivery_id,
        notice.task_id,
        notice.kind,
        len(envelope_to),
        where,
    )


def _connect(settings: EmailSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_s, context=context
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)


def _secure_and_log_in(
    smtp: smtplib.SMTP,
    settings: EmailSettings,
    context: ssl.SSLContext,
    password: str | None,
    where: str,
) -> None:
    if settings.security == "starttls":
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            raise DeliveryFailed(
                f"{where} does not offer STARTTLS, which ICEYE_SMTP_SECURITY=starttls requires; "
                "nothing was sent",
                permanent=True,
            )
        smtp.starttls(context=context)  # raises unless the server answered 220
        if not isinstance(smtp.sock, ssl.SSLSocket):
            raise DeliveryFailed(
                f"{where}: the connection did not switch to TLS; nothing was sent", permanent=True
            )
        smtp.ehlo()  # RFC 3207 §4.2: forget what was said before TLS
    if settings.username:
        smtp.login(settings.username, password or "")


def _close(smtp: smtplib.SMTP) -> None:
    # After the server took the message, nothing may turn it into a failure (and so a duplicate):
    # a QUIT that is not answered 221 is of no consequence.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reply(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= _REPLY_CHARS else text[: _REPLY_CHARS - 1] + "…"


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {_reply(text)})" for address, (code, text) in refused.items()
    )


def _failure(
    exc: smtplib.SMTPException | OSError, where: str, settings: EmailSettings
) -> tuple[str, bool]:
    """What an smtplib or socket failure means, and whether it is permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        permanent = any(code >= 500 for code, _ in exc.recipients.values())
        return f"{where} refused every recipient: {_refusals(exc.recipients)}", permanent
    if isinstance(exc, smtplib.SMTPSenderRefused):
        sender = parseaddr(settings.sender)[1]
        reply = f"{exc.smtp_code} {_reply(exc.smtp_error)}"
        return f"{where} refused the sender {sender}: {reply}", exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = f"{exc.smtp_code} {_reply(exc.smtp_error)}"
        return f"{where} refused the login of {settings.username}: {reply}", exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"{exc.smtp_code} {_reply(exc.smtp_error)}"
        return f"{where} answered {reply}", exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a reply that never came as a disconnection; its cause says which.
        if isinstance(exc.__context__, TimeoutError):
            return f"{where} did not answer within {settings.timeout_s:g} s", False
        return f"{where} closed the connection: {exc}", False
    if isinstance(exc, smtplib.SMTPException):
        # The server lacks what the configuration needs (AUTH, a common mechanism, SMTPUTF8).
        return f"{where}: {exc}", True
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{where}: its TLS certificate is not trusted ({exc.verify_message})", True
    if isinstance(exc, TimeoutError):
        return f"{where} did not answer within {settings.timeout_s:g} s", False
    return f"{where} could not be reached: {type(exc).__name__}: {exc.strerror or exc}", False
