"""Notifications API (webhooks) and the callbacks the sandbox POSTs on every task status change.

Callbacks go to a real HTTP receiver on 127.0.0.1 (a ``ThreadingHTTPServer`` in a thread, which also
serves an OAuth2 token endpoint). The simulation clock stands still unless a test advances it, so a
retry happens exactly when the test moves the clock past its due time; deliveries are awaited with
bounded polling, and ``Dispatcher.run_pass`` (which never overlaps the dispatcher's own passes)
shows that nothing more is due.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi.testclient import TestClient

from tasking.sandbox import notifications, seed
from tasking.sandbox.core import Sandbox
from tasking.sandbox.store import Store
from tests.sandbox.conftest import EPOCH, advance, history, iso, login, run_until, task_body
from tests.sandbox.test_persistence import free_port, start_process, wait_healthy

TASKS = "/api/tasking/v2/tasks"
WEBHOOKS = "/api/notifications/v1/webhooks"
CALLBACKS = "/sandbox/v1/callbacks"
USERNAME, PASSWORD = "iceye-callbacks", "pw-never-shown-7f3a"
CLIENT_ID, CLIENT_SECRET = "receiver-client", "client-secret-never-shown-91c2"
BODY_KEYS = {"id", "type", "webhookID", "resourceType", "resourceID", "status", "timestamp"}
# History kinds that are status changes (the others: captured, replanned).
STATUS_KINDS = {"received", "planned", "rejected", "failed", "fulfilled", "done", "canceled"}
T = TypeVar("T")


# --- a local receiver ------------------------------------------------------------------------


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """Records every request; callbacks are answered from ``answers`` (then 204), and under
    ``bearer`` only with a token the token endpoint issued and has not revoked."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    bearer: bool = False
    calls: list[Call] = field(default_factory=list)
    token_calls: list[Call] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def callbacks(self) -> list[dict[str, Any]]:
        with self.lock:
            return [c.json() for c in self.calls]

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        size = int(handler.headers.get("Content-Length") or 0)
        call = Call(
            handler.path,
            {k.lower(): v for k, v in handler.headers.items()},
            handler.rfile.read(size),
        )
        if len(call.body) < size:
            # The sender died mid-request (the kill -9 test): nothing was delivered.
            return 400, b""
        with self.lock:
            if handler.path == "/token":
                self.token_calls.append(call)
                token = f"token-{len(self.token_calls)}"
                self.valid_tokens.add(token)
                body = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
                return 200, json.dumps(body).encode()
            self.calls.append(call)
            presented = call.headers.get("authorization", "").removeprefix("Bearer ")
            if self.bearer and presented not in self.valid_tokens:
                return 401, b""
            return (self.answers.pop(0) if self.answers else 204), b""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        status, body = self.server.receiver.answer(self)
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender was killed while waiting for the answer

    def log_message(self, *_: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    receiver: Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server.receiver
    server.shutdown()
    server.server_close()
    thread.join()


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def hooks(client_for: Callable[..., TestClient]) -> TestClient:
    """A sandbox whose dispatcher looks for due callbacks every 20 ms."""
    return client_for(callback_period_s=0.02)


def sandbox_of(client: TestClient) -> Sandbox:
    sandbox: Sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    return sandbox


def wait_for(condition: Callable[[], T], timeout: float = 5.0) -> T:
    """``condition()`` once it is truthy, polled until ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout} s; last value {value!r}")
        time.sleep(0.01)  # between polls of the condition


def basic(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "auth": {"type": "basic", "username": USERNAME, "password": PASSWORD},
        **extra,
    }


def register(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(WEBHOOKS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def create(
    client: TestClient, headers: dict[str, str], webhook_id: str, **fields: Any
) -> dict[str, Any]:
    body = task_body(notifications={"webhook": {"id": webhook_id}}, **fields)
    response = client.post(TASKS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def deliveries(client: TestClient, limit: int = 100) -> list[dict[str, Any]]:
    response = client.get(CALLBACKS, params={"limit": limit})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def delivery(client: TestClient, event_id: str) -> dict[str, Any]:
    (found,) = [d for d in deliveries(client) if d["id"] == event_id]
    return found


def delivery_once(client: TestClient, event_id: str, **expected: Any) -> dict[str, Any]:
    """The callback's entry in ``/sandbox/v1/callbacks`` once it shows ``expected`` (polled)."""

    def matching() -> dict[str, Any] | None:
        found = delivery(client, event_id)
        return found if all(found[k] == v for k, v in expected.items()) else None

    return wait_for(matching)


def status_changes(client: TestClient, headers: dict[str, str], task_id: str) -> list[Any]:
    return [
        (h["status"], h["at"])
        for h in history(client, headers, task_id)
        if h["kind"] in STATUS_KINDS
    ]


# --- the Notifications API -------------------------------------------------------------------


def test_register_get_list_and_delete_a_webhook_never_showing_its_credentials(
    hooks: TestClient,
) -> None:
    demo = login(hooks)
    made = register(hooks, demo, basic("https://hooks.example.com/iceye", description="ops"))
    assert set(made) == {"id", "url", "authType", "description", "createdAt"}
    assert str(uuid.UUID(made["id"])) == made["id"]
    assert made["url"] == "https://hooks.example.com/iceye"
    assert (made["authType"], made["description"]) == ("basic", "ops")
    assert made["createdAt"] == hooks.get("/sandbox/v1/clock").json()["now"]
    oauth = register(
        hooks,
        demo,
        {
            "url": "http://127.0.0.1:9/cb",
            "auth": {
                "type": "oauth2",
                "tokenURL": "https://auth.example.com/token",
                "clientID": CLIENT_ID,
                "clientSecret": CLIENT_SECRET,
                "scope": "callbacks",
            },
        },
    )
    assert oauth["authType"] == "oauth2" and "description" not in oauth

    assert hooks.get(f"{WEBHOOKS}/{made['id']}", headers=demo).json() == made
    listed = hooks.get(WEBHOOKS, headers=demo).json()
    assert listed == {"data": [oauth, made]}  # newest first, no cursor on the last page
    shown = json.dumps([listed, made, oauth])
    assert PASSWORD not in shown and CLIENT_SECRET not in shown and USERNAME not in shown

    assert hooks.delete(f"{WEBHOOKS}/{made['id']}", headers=demo).status_code == 204
    gone = hooks.get(f"{WEBHOOKS}/{made['id']}", headers=demo)
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    assert hooks.delete(f"{WEBHOOKS}/{made['id']}", headers=demo).status_code == 404
    assert hooks.get(WEBHOOKS, headers=demo).json() == {"data": [oauth]}


def test_webhooks_page_with_limit_and_cursor_like_the_task_list(hooks: TestClient) -> None:
    demo = login(hooks)
    made = [register(hooks, demo, basic(f"https://h{i}.example.com/")) for i in range(3)]
    first = hooks.get(WEBHOOKS, params={"limit": 2}, headers=demo).json()
    assert [w["id"] for w in first["data"]] == [made[2]["id"], made[1]["id"]]
    second = hooks.get(WEBHOOKS, params={"limit": 2, "cursor": first["cursor"]}, headers=demo)
    assert second.json() == {"data": [made[0]]}
    for params in ({"limit": 0}, {"limit": 10_001}, {"cursor": "bm90IGEgY3Vyc29y"}):
        refused = hooks.get(WEBHOOKS, params=params, headers=demo)
        assert refused.status_code == 400, params
        assert set(refused.json()) == {"code", "message"}
    assert hooks.get(WEBHOOKS).status_code == 401


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (basic("ftp://hooks.example.com/"), "callback-url rule"),
        (basic("hooks.example.com/iceye"), "callback-url rule"),
        (basic("http://hooks.example.com/iceye"), "loopback"),
        (basic("http://10.0.0.5:8080/iceye"), "loopback"),
        (basic("http://192.168.1.1/"), "loopback"),
        (basic("http://127.0.0.1.nip.io/"), "loopback"),
        (basic("https://user:pw@hooks.example.com/"), "credentials"),
        (basic("https://hooks.example.com/a b"), "RFC 3986"),
        (basic("https://hooks.example.com/#frag"), "fragment"),
        (basic("https://hooks.example.com/" + "a" * 2048), "url"),
        ({"url": "https://h.example.com/", "auth": {"type": "digest", "username": "u"}}, "auth"),
        ({"url": "https://h.example.com/"}, "auth"),
        ({**basic("https://h.example.com/"), "secret": "x"}, "unknown field 'secret'"),
        (
            {
                "url": "https://h.example.com/",
                "auth": {
                    "type": "basic",
                    "username": "u",
                    "password": "p",
                    "tokenURL": "https://a/",
                },
            },
            "unknown field",
        ),
        (
            {
                "url": "https://h.example.com/",
                "auth": {
                    "type": "oauth2",
                    "clientID": "c",
                    "clientSecret": "s",
                    "tokenURL": "http://10.1.1.1/token",
                },
            },
            "auth.tokenURL",
        ),
        (
            {
                "url": "https://h.example.com/",
                "auth": {"type": "basic", "username": "a:b", "password": "p"},
            },
            "basic-username rule",
        ),
        (
            {
                "url": "https://h.example.com/",
                "auth": {"type": "basic", "username": 7, "password": "p"},
            },
            "auth",
        ),
        (basic("https://h.example.com/", description="d" * 257), "description"),
        (basic("https://h.example.com/", description="bad \udfff text"), "description"),
    ],
)
def test_registration_refuses_what_breaks_a_rule_with_a_400_naming_it(
    hooks: TestClient, body: dict[str, Any], named: str
) -> None:
    demo = login(hooks)
    content = json.dumps(body).encode()  # keeps a lone surrogate as its \\u escape
    response = hooks.post(
        WEBHOOKS, content=content, headers={**demo, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert named in response.json()["message"]
    assert PASSWORD not in response.text
    assert hooks.get(WEBHOOKS, headers=demo).json() == {"data": []}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/cb",
        "http://127.9.8.7/cb",
        "http://localhost:1/cb",
        "http://[::1]:8080/cb",
        "https://10.0.0.5/cb?token=abc",
        "HTTPS://Hooks.Example.com/",
    ],
)
def test_https_to_any_host_and_http_to_a_loopback_host_are_accepted(
    hooks: TestClient, url: str
) -> None:
    assert hooks.post(WEBHOOKS, json=basic(url), headers=login(hooks)).status_code == 201


def test_another_company_s_webhook_is_a_404_and_its_id_a_400_on_create(hooks: TestClient) -> None:
    demo = login(hooks)
    northwind = login(hooks, seed.NORTHWIND_CLIENT_ID, seed.NORTHWIND_CLIENT_SECRET)
    theirs = register(hooks, northwind, basic("https://northwind.example.com/"))
    unknown_task = hooks.get(f"{TASKS}/{uuid.uuid4()}", headers=demo)
    for response in (
        hooks.get(f"{WEBHOOKS}/{theirs['id']}", headers=demo),
        hooks.delete(f"{WEBHOOKS}/{theirs['id']}", headers=demo),
        hooks.get(f"{WEBHOOKS}/{uuid.uuid4()}", headers=demo),
    ):
        assert response.status_code == 404
        assert set(response.json()) == set(unknown_task.json()) == {"code", "message"}
        assert response.json()["code"] == unknown_task.json()["code"] == "not_found"
    assert hooks.get(WEBHOOKS, headers=demo).json() == {"data": []}
    assert hooks.get(f"{WEBHOOKS}/{theirs['id']}", headers=northwind).status_code == 200
    assert hooks.get(f"{WEBHOOKS}/not-a-uuid", headers=demo).status_code == 400

    for webhook_id in (theirs["id"], str(uuid.uuid4())):
        body = task_body(notifications={"webhook": {"id": webhook_id}})
        refused = hooks.post(TASKS, json=body, headers=demo)
        assert refused.status_code == 400
        assert refused.json()["code"] == "ERR_WEBHOOK_NOT_FOUND"
        assert webhook_id in refused.json()["message"]
    assert hooks.get(TASKS, headers=demo).json()["data"] == []
    assert deliveries(hooks) == []


def test_a_task_echoes_its_notifications_except_in_the_list(
    hooks: TestClient, receiver: Receiver
) -> None:
    demo = login(hooks)
    made = register(hooks, demo, basic(receiver.url))
    created = create(hooks, demo, made["id"].upper())  # ids are UUIDs, canonical once stored
    echoed = {"webhook": {"id": made["id"]}}
    assert created["notifications"] == echoed
    assert hooks.get(f"{TASKS}/{created['id']}", headers=demo).json()["notifications"] == echoed
    (listed,) = hooks.get(TASKS, headers=demo).json()["data"]
    assert "notifications" not in listed and "deliveries" not in listed
    canceled = hooks.patch(f"{TASKS}/{created['id']}", json={"status": "CANCELED"}, headers=demo)
    assert canceled.json()["notifications"] == echoed


# --- callbacks -------------------------------------------------------------------------------


def test_a_full_lifecycle_sends_one_callback_per_status_change_with_basic_auth(
    hooks: TestClient, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # every logger, httpx's too
    demo = login(hooks)
    made = register(hooks, demo, basic(receiver.url + "/cb?key=query-secret"))
    task = create(hooks, demo, made["id"], productTypes=["GRD", "SICD"])
    run_until(hooks, demo, task["id"], {"DONE"})
    changes = status_changes(hooks, demo, task["id"])
    assert [s for s, _ in changes] == ["RECEIVED", "ACTIVE", "FULFILLED", "DONE"]

    got = wait_for(lambda: len(receiver.calls) >= 4 and receiver.callbacks())
    assert [(b["status"], b["timestamp"]) for b in got] == changes
    for body in got:
        assert set(body) == BODY_KEYS
        assert body["type"] == "task.status_changed"
        assert body["webhookID"] == made["id"]
        assert (body["resourceType"], body["resourceID"]) == ("task", task["id"])
    assert len({b["id"] for b in got}) == 4  # one event id per status change
    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    for call in receiver.calls:
        assert call.path == "/cb?key=query-secret"
        assert call.headers["authorization"] == f"Basic {token}"
        assert call.headers["content-type"] == "application/json"
        assert call.headers["user-agent"] == "iceye-sandbox-notifications/1"

    listed = wait_for(
        lambda: all(d["state"] == "delivered" for d in deliveries(hooks)) and deliveries(hooks)
    )
    assert [d["id"] for d in listed] == [b["id"] for b in reversed(got)]  # newest first
    assert all(d["attempts"] == 1 and d["nextAttemptAt"] is None for d in listed)
    assert listed[0] == {
        "id": got[-1]["id"],
        "webhookID": made["id"],
        "taskID": task["id"],
        "status": "DONE",
        "occurredAt": got[-1]["timestamp"],
        "state": "delivered",
        "attempts": 1,
        "nextAttemptAt": None,
        "lastError": None,
    }
    logged = [r.getMessage() for r in caplog.records if r.name == notifications.__name__]
    assert len(logged) == 4
    assert all(
        "attempt 1: HTTP 204, delivered" in line and receiver.url[7:] in line for line in logged
    )
    everything = caplog.text
    assert "query-secret" not in everything and "/cb" not in everything
    assert PASSWORD not in everything and token not in everything


def test_canceled_rejected_and_failed_tasks_get_their_callbacks(
    client_for: Callable[..., TestClient], receiver: Receiver
) -> None:
    hooks = client_for(callback_period_s=0.02, failure_rate=1.0)
    demo = login(hooks)
    made = register(hooks, demo, basic(receiver.url))
    canceled = create(hooks, demo, made["id"], reference="cancel")
    hooks.patch(f"{TASKS}/{canceled['id']}", json={"status": "CANCELED"}, headers=demo)
    pole = create(hooks, demo, made["id"], pointOfInterest={"lat": 90.0, "lon": 0.0})
    failing = create(hooks, demo, made["id"], reference="fail")
    run_until(hooks, demo, pole["id"], {"REJECTED"})
    run_until(hooks, demo, failing["id"], {"FAILED"})

    wait_for(lambda: len(receiver.calls) >= 7)
    by_task: dict[str, list[str]] = {}
    for body in receiver.callbacks():
        by_task.setdefault(body["resourceID"], []).append(body["status"])
    assert by_task == {
        canceled["id"]: ["RECEIVED", "CANCELED"],
        pole["id"]: ["RECEIVED", "REJECTED"],
        failing["id"]: ["RECEIVED", "ACTIVE", "FAILED"],
    }


def test_oauth2_callbacks_carry_a_cached_bearer_token_refreshed_once_after_a_401(
    hooks: TestClient, receiver: Receiver
) -> None:
    receiver.bearer = True
    demo = login(hooks)
    auth = {
        "type": "oauth2",
        "tokenURL": receiver.url + "/token",
        "clientID": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "scope": "callbacks.write",
    }
    made = register(hooks, demo, {"url": receiver.url + "/cb", "auth": auth})
    task = create(hooks, demo, made["id"])
    hooks.patch(f"{TASKS}/{task['id']}", json={"status": "CANCELED"}, headers=demo)
    wait_for(lambda: len(receiver.calls) == 2)
    assert [c.headers["authorization"] for c in receiver.calls] == ["Bearer token-1"] * 2
    (asked,) = receiver.token_calls  # one token for both callbacks: it is cached
    secret = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert asked.headers["authorization"] == f"Basic {secret}"
    assert parse_qs(asked.body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["callbacks.write"],
    }

    with receiver.lock:
        receiver.valid_tokens.clear()  # the receiver revokes token-1
    again = create(hooks, demo, made["id"])
    wait_for(lambda: len(receiver.calls) == 4)
    assert [c.headers["authorization"] for c in receiver.calls[2:]] == [
        "Bearer token-1",
        "Bearer token-2",
    ]
    assert len(receiver.token_calls) == 2
    mine = [d for d in deliveries(hooks) if d["taskID"] == again["id"]]
    # The refresh and the resend are part of one attempt.
    assert delivery_once(hooks, mine[0]["id"], state="delivered")["attempts"] == 1
    assert all(d["state"] == "delivered" for d in deliveries(hooks))


def test_a_failing_receiver_is_retried_with_backoff_on_the_simulation_clock_in_order(
    hooks: TestClient, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tasking.sandbox.notifications")
    receiver.answers = [503, 503]
    dispatcher = sandbox_of(hooks).notifications
    demo = login(hooks)
    made = register(hooks, demo, basic(receiver.url))
    task = create(hooks, demo, made["id"])
    (queued,) = deliveries(hooks)

    first = delivery_once(hooks, queued["id"], attempts=1)
    assert first["state"] == "pending" and first["lastError"] == "HTTP 503"
    assert first["nextAttemptAt"] == iso(EPOCH + timedelta(seconds=30))
    assert dispatcher.run_pass() == 0  # the clock stands still: the retry is not due
    assert len(receiver.calls) == 1

    advance(hooks, 30)
    second = delivery_once(hooks, queued["id"], attempts=2)
    assert second["nextAttemptAt"] == iso(EPOCH + timedelta(seconds=30 + 60))
    advance(hooks, 60)  # the decision (ACTIVE, at +60 s) is queued behind the retried RECEIVED
    wait_for(lambda: len(receiver.calls) == 4)
    assert [b["status"] for b in receiver.callbacks()] == ["RECEIVED"] * 3 + ["ACTIVE"]
    assert len({b["id"] for b in receiver.callbacks()[:3]}) == 1  # the same event, retried
    done = delivery_once(hooks, queued["id"], state="delivered")
    assert (done["attempts"], done["lastError"], done["nextAttemptAt"]) == (3, "HTTP 503", None)

    advance(hooks, 7200)
    assert dispatcher.run_pass() == 0
    assert [b["status"] for b in receiver.callbacks()].count("RECEIVED") == 3  # no duplicate
    assert task["id"] in {b["resourceID"] for b in receiver.callbacks()}
    retried = [r.getMessage() for r in caplog.records if "HTTP 503" in r.getMessage()]
    assert len(retried) == 2
    assert f"attempt 1: HTTP 503; next attempt at {first['nextAttemptAt']}" in retried[0]
    assert queued["id"] in retried[0] and task["id"] in retried[0] and made["id"] in retried[0]


def test_a_receiver_that_never_answers_fails_the_callback_after_ten_attempts(
    hooks: TestClient,
) -> None:
    demo = login(hooks)
    made = register(hooks, demo, basic(f"http://127.0.0.1:{free_port()}/nobody-listens"))
    create(hooks, demo, made["id"])
    (queued,) = deliveries(hooks)
    for attempt in range(1, notifications.MAX_ATTEMPTS + 1):
        seen = delivery_once(hooks, queued["id"], attempts=attempt)
        assert seen["lastError"] == "ConnectError"
        if attempt < notifications.MAX_ATTEMPTS:
            assert seen["state"] == "pending"
            wait = notifications.backoff(attempt).total_seconds()
            assert wait == min(30 * 2 ** (attempt - 1), 3600)
            advance(hooks, wait)
    assert (seen["state"], seen["nextAttemptAt"]) == ("failed", None)


def test_pending_callbacks_survive_a_restart_and_are_delivered_after_it(
    client_for: Callable[..., TestClient], receiver: Receiver
) -> None:
    receiver.answers = [503]
    first = client_for(callback_period_s=0.02)
    demo = login(first)
    made = register(first, demo, basic(receiver.url))
    create(first, demo, made["id"])
    (queued,) = deliveries(first)
    delivery_once(first, queued["id"], attempts=1)
    first.__exit__(None, None, None)

    second = client_for(callback_period_s=0.02, speed=None)
    assert delivery(second, queued["id"])["state"] == "pending"
    advance(second, 30)
    done = delivery_once(second, queued["id"], state="delivered")
    assert done["attempts"] == 2
    assert [b["id"] for b in receiver.callbacks()] == [queued["id"]] * 2


def test_deleting_the_webhook_drops_its_pending_callbacks_and_stops_new_ones(
    hooks: TestClient, receiver: Receiver
) -> None:
    receiver.answers = [503]
    demo = login(hooks)
    made = register(hooks, demo, basic(receiver.url))
    task = create(hooks, demo, made["id"])
    (queued,) = deliveries(hooks)
    delivery_once(hooks, queued["id"], attempts=1)

    assert hooks.delete(f"{WEBHOOKS}/{made['id']}", headers=demo).status_code == 204
    assert deliveries(hooks) == []
    run_until(hooks, demo, task["id"], {"DONE"})
    assert sandbox_of(hooks).notifications.run_pass() == 0
    assert deliveries(hooks) == [] and len(receiver.calls) == 1
    assert hooks.get(f"{TASKS}/{task['id']}", headers=demo).json()["notifications"] == {
        "webhook": {"id": made["id"]}
    }


def test_callbacks_route_takes_a_bounded_limit(hooks: TestClient) -> None:
    assert hooks.get(CALLBACKS).json() == {"data": []}
    for limit in ("0", "10001", "x"):
        assert hooks.get(CALLBACKS, params={"limit": limit}).status_code == 400


def test_the_openapi_document_declares_the_notifications_routes(hooks: TestClient) -> None:
    spec = hooks.get("/openapi.json").json()
    ops = {op["operationId"]: op for item in spec["paths"].values() for op in item.values()}
    assert {"registerWebhook", "listWebhooks", "getWebhook", "deleteWebhook", "listCallbacks"} <= (
        set(ops)
    )
    assert "404" in ops["getWebhook"]["responses"] and "404" in ops["deleteWebhook"]["responses"]
    assert "content" not in ops["deleteWebhook"]["responses"]["204"]
    (path_id,) = ops["getWebhook"]["parameters"]
    assert path_id["schema"]["format"] == "uuid"
    webhook = spec["components"]["schemas"]["Webhook"]
    assert set(webhook["properties"]) == {"id", "url", "authType", "description", "createdAt"}
    assert "ERR_WEBHOOK_NOT_FOUND" in ops["createTask"]["description"]
    assert "security" not in ops["listCallbacks"]


# --- durability across kill -9 ---------------------------------------------------------------


@pytest.fixture
def process(tmp_path: Path) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"data_dir": tmp_path / "killed", "port": free_port()}
    state["process"] = start_process(state["data_dir"], state["port"])
    yield state
    if state["process"].poll() is None:
        state["process"].kill()
        state["process"].wait()


def test_kill_9_neither_loses_nor_invents_a_callback(
    process: dict[str, Any], receiver: Receiver
) -> None:
    base = f"http://127.0.0.1:{process['port']}"
    with httpx.Client(base_url=base, timeout=10) as http:
        wait_healthy(http, process["process"])
        token = http.post(
            "/v1/token",
            data={"grant_type": "client_credentials"},
            auth=(seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET),
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        made = http.post(WEBHOOKS, json=basic(receiver.url), headers=headers).json()
        now = datetime.fromisoformat(http.get("/sandbox/v1/clock").json()["now"])
        for i in range(4):  # at 3000× these are decided within the second
            body = task_body(now, start_in_h=13 + i, notifications={"webhook": {"id": made["id"]}})
            assert http.post(TASKS, json=body, headers=headers).status_code == 201
        wait_for(lambda: any(b["status"] == "ACTIVE" for b in receiver.callbacks()), 30)
    os.kill(process["process"].pid, signal.SIGKILL)
    process["process"].wait()

    store = Store(process["data_dir"] / "sandbox.sqlite3")
    try:
        owed = store.recent_callbacks(1000)
        for task_id in {c.task_id for c in owed}:
            changes = [(h.status, h.at) for h in store.history(task_id) if h.kind in STATUS_KINDS]
            queued = sorted((c for c in owed if c.task_id == task_id), key=lambda c: c.seq)
            assert [(c.status, c.occurred_at) for c in queued] == changes, task_id
        assert len({c.task_id for c in owed}) == 4
    finally:
        store.close()

    process["process"] = start_process(process["data_dir"], process["port"])
    with httpx.Client(base_url=base, timeout=10) as http:
        wait_healthy(http, process["process"])
        owed_ids = {c.id for c in owed}
        # Delivered at least once each after the restart (one sent just before the kill may be
        # sent again: receivers dedupe by event id), and nothing the store does not hold.
        wait_for(lambda: owed_ids <= {b["id"] for b in receiver.callbacks()}, 30)
        listed = http.get(CALLBACKS, params={"limit": 10_000}).json()["data"]
        assert {b["id"] for b in receiver.callbacks()} <= {d["id"] for d in listed}
