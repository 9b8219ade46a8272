"""tasking.notify: notices by email through a real SMTP server (aiosmtpd on loopback, with STARTTLS
and implicit TLS under a CA made for the test by trustme) and by webhook to a real HTTP server
(http.server on loopback): what arrives, what each failure means for a retry, and that no
password or secret ever shows in an error. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import email
import hashlib
import hmac
import html
import json
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from tasking.config import load_settings
from tasking.errors import ConfigurationError, TaskingError
from tasking.notify import (
    NOTICE_KINDS,
    DeliveryFailed,
    EmailSettings,
    Notice,
    WebhookSettings,
    compose_email,
    send_email,
    send_webhook,
    signature,
    webhook_payload,
)

TASK_ID = "3f1c2a9e-7b4d-4e0a-9c61-2d8e5f4a1b07"
LINK = f"http://localhost:8501/monitor?task={TASK_ID}&tab=scene"
OCCURRED = datetime(2026, 5, 1, 8, 30, 15, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PASSWORD = "pa55-w0rd-that-must-not-leak"
WEBHOOK_SECRET = "whsec-that-must-not-leak"
SENDER = "Tasking desk <desk@example.com>"
RECIPIENTS = ("ops@example.com", "Analyst <analyst@example.org>")


def make_notice(**changes: Any) -> Notice:
    values: dict[str, Any] = {
        "delivery_id": "dlv-0042.email",
        "task_id": TASK_ID,
        "kind": "products_ready",
        "status": "DONE",
        "title": "Products ready: Helsinki harbour <north> & pier (SPOTLIGHT)",
        "text": "The products of task Helsinki harbour are ready.\n\nGRD and SLC can be downloaded.",
        "occurred_at": OCCURRED,
        "deep_link": LINK,
        "reference": "Helsinki harbour",
        "facts": (("Contract", "Demo contract"), ("Mode", "SPOTLIGHT"), ("Point", "60.16, 24.95")),
    }
    values.update(changes)
    return Notice(**values)


def email_settings(port: int, **changes: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": None,
        "password": None,
        "sender": SENDER,
        "recipients": RECIPIENTS,
        "timeout_s": 5.0,
    }
    values.update(changes)
    return EmailSettings(**values)


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain text and HTML bodies of a message."""
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


def assert_no_secret(error: BaseException, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in str(error)
        assert secret not in repr(error)


@contextmanager
def unused_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it), not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# --- Notice ----------------------------------------------------------------------------------


def test_a_notice_keeps_its_time_in_utc_and_its_title_on_one_line() -> None:
    helsinki = timezone(timedelta(hours=3))
    notice = make_notice(
        occurred_at=datetime(2026, 5, 1, 11, 30, 15, tzinfo=helsinki), title="A\r\n B"
    )
    assert notice.occurred_at == OCCURRED and notice.occurred_at.tzinfo is UTC
    assert notice.title == "A B"
    assert make_notice(occurred_at=datetime(2026, 5, 1, 8, 30, 15)).occurred_at == OCCURRED


@pytest.mark.parametrize(
    "changes",
    [{"kind": "done"}, {"delivery_id": "has space"}, {"delivery_id": "a@b"}, {"delivery_id": ""}],
)
def test_a_notice_refuses_an_unknown_kind_or_a_delivery_id_unfit_for_headers(
    changes: dict[str, str],
) -> None:
    with pytest.raises(ValueError):
        make_notice(**changes)


def test_every_documented_kind_is_accepted() -> None:
    assert NOTICE_KINDS == (
        "accepted",
        "scheduled",
        "rejected",
        "captured",
        "fulfilled",
        "products_ready",
        "failed",
        "canceled",
    )
    for kind in NOTICE_KINDS:
        assert make_notice(kind=kind).kind == kind


def test_delivery_failed_is_a_tasking_error_that_says_whether_to_retry() -> None:
    error = DeliveryFailed("nope", permanent=True)
    assert isinstance(error, TaskingError)
    assert error.permanent and str(error) == "nope" and error.retry_after is None


# --- composing the email ---------------------------------------------------------------------


def test_the_email_has_the_title_as_subject_all_recipients_the_time_and_a_stable_message_id() -> (
    None
):
    notice = make_notice()
    message = compose_email(notice, email_settings(25))
    assert message["Subject"] == notice.title
    assert message["From"] == SENDER
    assert [a.addr_spec for a in message["To"].addresses] == [
        "ops@example.com",
        "analyst@example.org",
    ]
    assert message["Date"].datetime == OCCURRED
    assert message["Message-ID"] == "<dlv-0042.email@tasking.invalid>"
    assert compose_email(notice, email_settings(25))["Message-ID"] == message["Message-ID"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["References"] == f"<task.{TASK_ID}@tasking.invalid>"


def test_both_parts_carry_the_text_the_facts_and_the_deep_link_and_the_html_escapes_them() -> None:
    message = compose_email(make_notice(reason=None), email_settings(25))
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = parts(message)
    for expected in (
        "GRD and SLC can be downloaded.",
        "SPOTLIGHT",
        "60.16, 24.95",
        "Demo contract",
    ):
        assert expected in plain and expected in rich
    assert LINK in plain
    assert f'<a href="{html.escape(LINK)}">' in rich
    assert "Helsinki harbour &lt;north&gt; &amp; pier" in rich
    assert "<north>" not in rich
    assert "2026-05-01T08:30:15Z" in plain
    assert message.get_body(("related",)) is None
    assert not list(message.iter_attachments())


def test_the_reason_of_a_rejection_is_shown_in_both_parts() -> None:
    notice = make_notice(kind="rejected", status="REJECTED", reason="No capacity <in window>")
    plain, rich = parts(compose_email(notice, email_settings(25)))
    assert "No capacity <in window>" in plain
    assert "No capacity &lt;in window&gt;" in rich


def test_a_fact_that_repeats_a_row_of_the_email_is_shown_once() -> None:
    notice = make_notice(facts=(("Task", TASK_ID), ("status", "DONE"), ("Mode", "SPOTLIGHT")))
    plain, rich = parts(compose_email(notice, email_settings(25)))
    assert plain.count(TASK_ID) == 2  # the Task row and the deep link
    assert plain.count("DONE") == 1 and rich.count("DONE") == 1
    assert "SPOTLIGHT" in plain


def test_the_quicklook_is_shown_inline_in_the_html_and_attached_as_a_file() -> None:
    message = compose_email(make_notice(quicklook_png=PNG), email_settings(25))
    assert message.get_content_type() == "multipart/mixed"
    related = message.get_body(("related",))
    assert related is not None
    inline = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert len(inline) == 1 and inline[0].get_content() == PNG
    cid = inline[0]["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in parts(message)[1]
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == f"quicklook-{TASK_ID}.png"
    assert attachment.get_content_type() == "image/png"
    assert attachment.get_content() == PNG


# --- a real SMTP server ----------------------------------------------------------------------


class _LoopbackController(Controller):
    """aiosmtpd's Controller on a port the system chose (it pokes its own port when it starts,
    so that port is read from the bound socket first)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Mailbox:
    """What the test server received; ``refuse`` maps a recipient to the reply that refuses it."""

    refuse: dict[str, str] = field(default_factory=dict)
    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticator(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        # handled=False: aiosmtpd answers a refusal with 535 itself.
        return AuthResult(success=(login, password) == ("desk", PASSWORD), handled=False)

    def message(self) -> EmailMessage:
        (envelope,) = self.envelopes
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


SmtpServer = Callable[..., tuple[Mailbox, int]]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """``smtp_server(**aiosmtpd_options)`` → (mailbox, port) of a server stopped after the test."""
    started: list[Controller] = []

    def start(
        *,
        refuse: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> tuple[Mailbox, int]:
        box = Mailbox(refuse=refuse or {})
        if options.pop("with_auth", False):
            options["authenticator"] = box.authenticator
        controller = _LoopbackController(
            box, hostname="127.0.0.1", port=0, ssl_context=ssl_context, **options
        )
        controller.start()
        started.append(controller)
        return box, controller.port

    yield start
    for controller in started:
        controller.stop()


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls() -> Tls:
    """A CA made for this test run, a server certificate for 127.0.0.1, and a client that trusts
    that CA (and nothing else)."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return Tls(server=server, client=client)


def test_the_email_arrives_once_over_plain_smtp_with_the_quicklook(smtp_server: SmtpServer) -> None:
    box, port = smtp_server()
    send_email(make_notice(quicklook_png=PNG), email_settings(port))
    (envelope,) = box.envelopes
    assert envelope.mail_from == "desk@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "analyst@example.org"]
    message = box.message()
    assert message["Subject"] == make_notice().title
    assert message["Message-ID"] == "<dlv-0042.email@tasking.invalid>"
    plain, rich = parts(message)
    assert LINK in plain and html.escape(LINK) in rich
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == f"quicklook-{TASK_ID}.png"
    assert attachment.get_content() == PNG
    related = message.get_body(("related",))
    assert related is not None
    (inline,) = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert f"cid:{inline['Content-ID'].strip('<>')}" in rich
    assert box.logins == []


def test_the_email_logs_in_only_after_starttls_with_a_trusted_certificate(
    smtp_server: SmtpServer, tls: Tls
) -> None:
    box, port = smtp_server(
        tls_context=tls.server, require_starttls=True, auth_required=True, with_auth=True
    )
    settings = email_settings(
        port, security="starttls", username="desk", password=SecretStr(PASSWORD)
    )
    send_email(make_notice(), settings, tls_context=tls.client)
    assert box.logins == [("desk", PASSWORD)]
    assert len(box.envelopes) == 1
    assert box.message()["Message-ID"] == "<dlv-0042.email@tasking.invalid>"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_the_email_is_sent_over_implicit_tls(smtp_server: SmtpServer, tls: Tls) -> None:
    # aiosmtpd counts only STARTTLS as TLS when it decides whether to offer AUTH.
    box, port = smtp_server(
        ssl_context=tls.server, auth_required=True, auth_require_tls=False, with_auth=True
    )
    settings = email_settings(port, security="tls", username="desk", password=SecretStr(PASSWORD))
    send_email(make_notice(), settings, tls_context=tls.client)
    assert box.logins == [("desk", PASSWORD)] and len(box.envelopes) == 1


def test_starttls_without_an_offer_from_the_server_sends_nothing_least_of_all_the_password(
    smtp_server: SmtpServer,
) -> None:
    # AUTH is offered in clear here: a client that skipped the upgrade would log in.
    box, port = smtp_server(auth_require_tls=False, with_auth=True)
    settings = email_settings(
        port, security="starttls", username="desk", password=SecretStr(PASSWORD)
    )
    with pytest.raises(DeliveryFailed) as caught:
        send_email(make_notice(), settings)
    assert caught.value.permanent
    assert "STARTTLS" in str(caught.value)
    assert_no_secret(caught.value, PASSWORD)
    assert box.logins == [] and box.envelopes == []


def test_a_certificate_the_system_does_not_trust_is_permanent(
    smtp_server: SmtpServer, tls: Tls
) -> None:
    box, port = smtp_server(tls_context=tls.server, require_starttls=True)
    with pytest.raises(DeliveryFailed) as caught:
        send_email(make_notice(), email_settings(port, security="starttls"))
    assert caught.value.permanent
    assert "not trusted" in str(caught.value)
    assert box.envelopes == []


def test_a_wrong_password_is_permanent_and_never_shown(smtp_server: SmtpServer, tls: Tls) -> None:
    box, port = smtp_server(
        tls_context=tls.server, require_starttls=True, auth_required=True, with_auth=True
    )
    wrong = "wr0ng-" + PASSWORD
    settings = email_settings(port, security="starttls", username="desk", password=SecretStr(wrong))
    with pytest.raises(DeliveryFailed) as caught:
        send_email(make_notice(), settings, tls_context=tls.client)
    assert caught.value.permanent
    assert "535" in str(caught.value) and "desk" in str(caught.value)
    assert_no_secret(caught.value, wrong)
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN) before it gives up.
    assert box.logins[0] == ("desk", wrong) and box.envelopes == []


def test_a_recipient_refused_with_550_is_permanent(smtp_server: SmtpServer) -> None:
    refused = {
        address: "550 5.1.1 No such user" for address in ("ops@example.com", "analyst@example.org")
    }
    box, port = smtp_server(refuse=refused)
    with pytest.raises(DeliveryFailed) as caught:
        send_email(make_notice(), email_settings(port))
    assert caught.value.permanent
    assert "550" in str(caught.value) and "ops@example.com" in str(caught.value)
    assert box.envelopes == []


def test_a_recipient_greylisted_with_451_is_tried_again_later(smtp_server: SmtpServer) -> None:
    _, port = smtp_server(refuse={"ops@example.com": "451 4.7.1 Greylisted, try again later"})
    with pytest.raises(DeliveryFailed) as caught:
        send_email(make_notice(), email_settings(port, recipients=("ops@example.com",)))
    assert not caught.value.permanent


def test_one_refused_recipient_among_others_is_permanent_so_the_others_get_no_duplicate(
    smtp_server: SmtpServer,
) -> None:
    box, port = smtp_server(refuse={"analyst@example.org": "550 5.1.1 No such user"})
    with pytest.raises(DeliveryFailed) as caught:
        send_email(make_notice(), email_settings(port))
    assert caught.value.permanent
    assert "1 of 2" in str(caught.value) and "analyst@example.org" in str(caught.value)
    assert [e.rcpt_tos for e in box.envelopes] == [["ops@example.com"]]


def test_a_refused_connection_is_tried_again_and_never_shows_the_password() -> None:
    with unused_port() as port:
        settings = email_settings(
            port, security="starttls", username="desk", password=SecretStr(PASSWORD)
        )
        with pytest.raises(DeliveryFailed) as caught:
            send_email(make_notice(), settings)
    assert not caught.value.permanent
    assert "ConnectionRefusedError" in str(caught.value)
    assert_no_secret(caught.value, PASSWORD)


def test_a_server_that_never_greets_is_a_timeout_tried_again() -> None:
    # The kernel completes the handshake for a listening socket; nobody ever says 220.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        settings = email_settings(listener.getsockname()[1], timeout_s=0.2)
        with pytest.raises(DeliveryFailed) as caught:
            send_email(make_notice(), settings)
    assert not caught.value.permanent
    assert "did not answer within 0.2 s" in str(caught.value)


# --- email settings --------------------------------------------------------------------------


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ICEYE_* variables and an empty directory: only the overrides are seen."""
    for name in list(os.environ):
        if name.upper().startswith("ICEYE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_environment")
def test_email_settings_come_from_the_settings() -> None:
    settings = load_settings(
        smtp_host="smtp.example.com",
        smtp_port=465,
        smtp_security="tls",
        smtp_username="desk",
        smtp_password=PASSWORD,
        smtp_sender=" Tasking desk <desk@example.com> ",
        notify_emails="ops@example.com, Analyst <analyst@example.org>",
    )
    channel = EmailSettings.from_settings(settings)
    assert channel == EmailSettings(
        host="smtp.example.com",
        port=465,
        security="tls",
        username="desk",
        password=SecretStr(PASSWORD),
        sender=SENDER,
        recipients=RECIPIENTS,
    )
    assert PASSWORD not in repr(channel)


@pytest.mark.usefixtures("no_environment")
@pytest.mark.parametrize(
    "overrides",
    [{}, {"smtp_host": "smtp.example.com"}, {"notify_emails": "ops@example.com"}],
)
def test_no_email_channel_without_a_host_and_recipients(overrides: dict[str, str]) -> None:
    assert EmailSettings.from_settings(load_settings(**overrides)) is None


@pytest.mark.usefixtures("no_environment")
@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({}, "ICEYE_SMTP_SENDER"),
        ({"smtp_sender": "desk.example.com"}, "ICEYE_SMTP_SENDER"),
        (
            {"smtp_sender": "desk@example.com", "notify_emails": "a@x.com; b@y.com"},
            "ICEYE_NOTIFY_EMAILS",
        ),
        (
            {"smtp_sender": "desk@example.com", "notify_emails": "a@x.com, b@"},
            "ICEYE_NOTIFY_EMAILS",
        ),
        ({"smtp_sender": "desk@example.com", "smtp_username": "desk"}, "ICEYE_SMTP_PASSWORD"),
        ({"smtp_sender": "desk@example.com", "smtp_password": PASSWORD}, "ICEYE_SMTP_USERNAME"),
    ],
)
def test_an_incomplete_or_malformed_email_configuration_names_the_variable(
    overrides: dict[str, str], named: str
) -> None:
    settings = load_settings(
        **{"smtp_host": "smtp.example.com", "notify_emails": "ops@example.com", **overrides}
    )
    with pytest.raises(ConfigurationError) as caught:
        EmailSettings.from_settings(settings)
    assert named in str(caught.value)
    assert_no_secret(caught.value, PASSWORD)


@pytest.mark.usefixtures("no_environment")
def test_webhook_settings_come_from_the_settings() -> None:
    assert WebhookSettings.from_settings(load_settings()) is None
    settings = load_settings(
        notify_webhook_url="https://hooks.example.com/in/", notify_webhook_secret=WEBHOOK_SECRET
    )
    channel = WebhookSettings.from_settings(settings)
    assert channel == WebhookSettings(
        url="https://hooks.example.com/in", secret=SecretStr(WEBHOOK_SECRET)
    )
    assert WEBHOOK_SECRET not in repr(channel)


# --- a real HTTP receiver --------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A loopback HTTP server that records each request and gives the configured answer."""

    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                Received(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
            )
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        do_POST = do_GET = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll: shutdown() waits for the loop to look, 0.5 s by default.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tasking"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def fixed_clock() -> datetime:
    return datetime(2026, 5, 1, 8, 31, tzinfo=UTC)


def test_the_webhook_payload_names_the_delivery_the_event_and_the_task() -> None:
    notice = make_notice(quicklook_png=PNG, reason="none")
    assert webhook_payload(notice) == {
        "id": "dlv-0042.email",
        "type": "task.products_ready",
        "taskID": TASK_ID,
        "status": "DONE",
        "title": notice.title,
        "text": f"{notice.title}\n{notice.text}\n{LINK}",
        "message": notice.text,
        "occurredAt": "2026-05-01T08:30:15Z",
        "link": LINK,
        "reference": "Helsinki harbour",
        "reason": "none",
        "facts": {"Contract": "Demo contract", "Mode": "SPOTLIGHT", "Point": "60.16, 24.95"},
    }
    assert webhook_payload(make_notice(reference=None))["reference"] is None


def test_the_webhook_posts_the_payload_with_an_idempotency_key_and_a_signature_that_verifies(
    receiver: Receiver,
) -> None:
    notice = make_notice(quicklook_png=PNG, title="Prêt: Helsinki")
    send_webhook(
        notice,
        WebhookSettings(url=receiver.url, secret=SecretStr(WEBHOOK_SECRET)),
        clock=fixed_clock,
    )
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/tasking")
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "tasking-desk/1"
    assert headers["idempotency-key"] == "dlv-0042.email"
    assert headers["x-tasking-timestamp"] == str(int(fixed_clock().timestamp()))
    expected = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-tasking-signature"], f"sha256={expected}")
    assert signature(request.body, WEBHOOK_SECRET) == headers["x-tasking-signature"]
    assert json.loads(request.body) == webhook_payload(notice)
    assert "authorization" not in headers
    assert b"PNG" not in request.body and len(request.body) < len(PNG)


def test_the_webhook_without_a_secret_is_not_signed(receiver: Receiver) -> None:
    send_webhook(make_notice(), WebhookSettings(url=receiver.url, secret=None))
    (request,) = receiver.requests
    names = {k.lower() for k in request.headers}
    assert "x-tasking-signature" not in names and "x-tasking-timestamp" not in names


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (503, False), (408, False), (429, False), (400, True), (404, True), (410, True)],
)
def test_an_error_answer_says_whether_to_try_again_and_never_shows_the_secret(
    receiver: Receiver, status: int, permanent: bool
) -> None:
    receiver.status = status
    receiver.body = b"invalid_payload"
    receiver.headers = {"Retry-After": "30"} if status == 429 else {}
    settings = WebhookSettings(url=receiver.url, secret=SecretStr(WEBHOOK_SECRET))
    with pytest.raises(DeliveryFailed) as caught:
        send_webhook(make_notice(), settings)
    assert caught.value.permanent is permanent
    assert f"answered {status}: invalid_payload" in str(caught.value)
    assert caught.value.retry_after == (30.0 if status == 429 else None)
    assert_no_secret(caught.value, WEBHOOK_SECRET)
    assert len(receiver.requests) == 1


def test_a_redirect_is_permanent_and_not_followed(receiver: Receiver) -> None:
    receiver.status = 302
    receiver.headers = {"Location": "/moved"}
    with pytest.raises(DeliveryFailed) as caught:
        send_webhook(make_notice(), WebhookSettings(url=receiver.url, secret=None))
    assert caught.value.permanent
    assert "302" in str(caught.value) and "ICEYE_NOTIFY_WEBHOOK_URL" in str(caught.value)
    assert [r.path for r in receiver.requests] == ["/hooks/tasking"]


def test_an_error_names_the_receiver_without_its_path_or_credentials(receiver: Receiver) -> None:
    receiver.status = 403
    url = receiver.url.replace("http://", "http://user:url-password@") + "/T000/SECRETPATH"
    with pytest.raises(DeliveryFailed) as caught:
        send_webhook(make_notice(), WebhookSettings(url=url, secret=SecretStr(WEBHOOK_SECRET)))
    message = str(caught.value)
    assert message.startswith("webhook http://127.0.0.1:")
    assert_no_secret(caught.value, "SECRETPATH", "url-password", WEBHOOK_SECRET)


def test_a_refused_connection_to_the_webhook_is_tried_again() -> None:
    with unused_port() as port:
        settings = WebhookSettings(
            url=f"http://127.0.0.1:{port}/hook", secret=SecretStr(WEBHOOK_SECRET)
        )
        with pytest.raises(DeliveryFailed) as caught:
            send_webhook(make_notice(), settings)
    assert not caught.value.permanent
    assert "ConnectError" in str(caught.value)
    assert_no_secret(caught.value, WEBHOOK_SECRET)


def test_the_webhook_uses_the_callers_client_and_leaves_it_open(receiver: Receiver) -> None:
    with httpx.Client() as client:
        send_webhook(make_notice(), WebhookSettings(url=receiver.url, secret=None), client)
        send_webhook(
            make_notice(delivery_id="dlv-0043"),
            WebhookSettings(url=receiver.url, secret=None),
            client,
        )
        assert not client.is_closed
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [
        "dlv-0042.email",
        "dlv-0043",
    ]
