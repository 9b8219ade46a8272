"""The worker's small HTTP server: ICEYE's callbacks, its health and its metrics.

* ``POST /callbacks/iceye``: a Notifications API callback. Refused unless it carries the Basic
  credentials the worker registered (401) and names the worker's webhook (403); a body that is not
  the callback's JSON is a 400; an event id already taken is a replay: 200, nothing done. An
  accepted callback only marks its task due (202): the worker fetches the task, never trusting the
  body alone.
* ``POST /oauth/token``: with ``ICEYE_CALLBACK_AUTH=oauth2``, the token endpoint ICEYE calls with
  the client credentials the worker registered; callbacks then carry ``Bearer`` tokens.
* ``GET /health``: the worker's state (200 while its loop runs, 503 when it stalled).
* ``GET /metrics``: Prometheus text.

stdlib ``ThreadingHTTPServer``: one thread per request, bodies capped at 64 KiB.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST

from tasking.errors import TaskingError
from tasking.times import parse_time_or_none

if TYPE_CHECKING:
    from tasking.worker.core import Worker

__all__ = ["MAX_BODY", "Receiver"]

log = logging.getLogger("tasking.worker.receiver")

MAX_BODY = 64 * 1024
_ID_LIMIT = 64


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    worker: Worker


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _answer(
        self,
        status: HTTPStatus,
        body: bytes | dict[str, Any] = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        worker = self.server.worker
        if self.path == "/health":
            health = worker.health()
            status = HTTPStatus.SERVICE_UNAVAILABLE if health["status"] == "down" else HTTPStatus.OK
            self._answer(status, health)
        elif self.path == "/metrics":
            self._answer(HTTPStatus.OK, worker.metrics.exposition(), CONTENT_TYPE_LATEST)
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"code": "not_found", "message": "no such path"})

    def do_POST(self) -> None:
        from tasking.worker.core import CALLBACK_PATH, TOKEN_PATH, TOKEN_TTL_S

        if self.path == TOKEN_PATH:
            self._token(TOKEN_TTL_S)
            return
        if self.path != CALLBACK_PATH:
            self._answer(HTTPStatus.NOT_FOUND, {"code": "not_found", "message": "no such path"})
            return
        outcome, status, message = self._callback()
        self.server.worker.metrics.callbacks.labels(outcome).inc()
        if outcome != "accepted":
            log.info("callback refused: %s (%s)", outcome, message)
        headers = {"WWW-Authenticate": 'Basic realm="tasking"'} if status == 401 else None
        self._answer(status, {"outcome": outcome, "message": message}, headers=headers)

    def _token(self, ttl_s: int) -> None:
        """OAuth2 client credentials (RFC 6749 §4.4): Basic client id and secret, form body
        ``grant_type=client_credentials``; errors in OAuth2's shape."""
        raw = self._body()
        credentials = _basic(self.headers.get("Authorization"))
        form = parse_qs(raw.decode("utf-8", "replace")) if raw is not None else {}
        if raw is None or form.get("grant_type") != ["client_credentials"]:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": "unsupported_grant_type"})
            return
        token = None
        if credentials is not None:
            try:
                token = self.server.worker.issue_token(*credentials)
            except TaskingError:
                self._answer(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "temporarily_unavailable"})
                return
        if token is None:
            self.server.worker.metrics.callbacks.labels("token_refused").inc()
            self._answer(
                HTTPStatus.UNAUTHORIZED,
                {"error": "invalid_client"},
                headers={"WWW-Authenticate": 'Basic realm="tasking"'},
            )
            return
        self._answer(
            HTTPStatus.OK,
            {"access_token": token, "token_type": "Bearer", "expires_in": ttl_s},
            headers={"Cache-Control": "no-store"},
        )

    def _body(self) -> bytes | None:
        """The request body, or None when it is missing its length or too large."""
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length)

    def _callback(self) -> tuple[str, HTTPStatus, str]:
        worker = self.server.worker
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return "malformed", HTTPStatus.BAD_REQUEST, "bad Content-Length"
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            return "malformed", HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large"
        raw = self.rfile.read(length)
        header = self.headers.get("Authorization")
        basic = _basic(header)
        bearer = _bearer(header)
        if basic is None and bearer is None:
            return "unauthorized", HTTPStatus.UNAUTHORIZED, "credentials required"
        try:
            body = json.loads(raw)
        except ValueError:
            return "malformed", HTTPStatus.BAD_REQUEST, "body is not JSON"
        fields = _fields(body)
        if fields is None:
            return "malformed", HTTPStatus.BAD_REQUEST, "not a task status callback"
        event_id, webhook_id, task_id, status, occurred = fields
        try:
            if basic is not None:
                why = worker.verify_callback("basic", basic, webhook_id)
            else:
                assert bearer is not None
                why = worker.verify_callback("bearer", (bearer,), webhook_id)
            if why == "wrong credentials" or why == "no webhook registered":
                return "unauthorized", HTTPStatus.UNAUTHORIZED, why
            if why is not None:
                return "unknown_webhook", HTTPStatus.FORBIDDEN, why
            taken = worker.desk.take_callback(
                event_id,
                webhook_id=webhook_id,
                task_id=task_id,
                status=status,
                occurred_at=parse_time_or_none(occurred),
            )
            if not taken:
                return "replayed", HTTPStatus.OK, "event already received"
            worker.desk.hint(task_id, callback=True)
        except TaskingError as error:
            # The store is down: 503 makes the sender retry later; nothing was taken.
            log.warning("callback %s not taken: %s", event_id, error)
            return "store_error", HTTPStatus.SERVICE_UNAVAILABLE, "try again later"
        return "accepted", HTTPStatus.ACCEPTED, "task will be fetched"


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def _bearer(header: str | None) -> str | None:
    if not header or not header.lower().startswith("bearer "):
        return None
    token = header[7:].strip()
    return token if 0 < len(token) <= 256 else None


def _fields(body: Any) -> tuple[str, str, str, str, str | None] | None:
    if not isinstance(body, dict):
        return None
    values = [body.get(k) for k in ("id", "webhookID", "resourceID", "status")]
    if not all(isinstance(v, str) and 0 < len(v) <= _ID_LIMIT for v in values):
        return None
    if body.get("type") != "task.status_changed":
        return None
    timestamp = body.get("timestamp")
    event_id, webhook_id, task_id, status = (str(v) for v in values)
    return event_id, webhook_id, task_id, status, timestamp if isinstance(timestamp, str) else None


class Receiver:
    """The server, on its own thread."""

    def __init__(self, worker: Worker, host: str, port: int) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.worker = worker
        self._thread: threading.Thread | None = None
        bound_host, bound_port = self._server.server_address[:2]
        host = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.url = f"http://{shown}:{bound_port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="worker-receiver", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
