"""The app's edge (README "Limits"): the request size limit, 413 before the body is read and
before authentication; 405s that list every method; an access log without signatures."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tasking.sandbox import __main__ as command
from tasking.sandbox.config import SandboxConfig
from tasking.sandbox.server import (
    REDACTED,
    RedactedAccessLog,
    SandboxHandle,
    redact_target,
    start_in_background,
)
from tests.sandbox.conftest import login, task_body

TASKS = "/api/tasking/v2/tasks"
LIMIT = 2048
TOO_LARGE = {"code": "content_too_large", "message": f"request body larger than {LIMIT} bytes"}


@pytest.fixture
def small(client_for: Any) -> TestClient:
    client: TestClient = client_for(max_body_bytes=LIMIT)
    return client


def test_a_declared_body_over_the_limit_is_413_before_authentication(small: TestClient) -> None:
    response = small.post(TASKS, content=b"x" * (LIMIT + 1))  # no token, not even JSON
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert response.headers["Connection"] == "close"
    assert "Date" in response.headers  # the simulation clock's, like every other answer


def test_the_refusal_takes_the_problem_form_when_asked(small: TestClient) -> None:
    response = small.post(
        TASKS,
        content=b"x" * (LIMIT + 1),
        headers={"Accept": "application/json, application/problem+json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["title"], body["code"]) == ("Content Too Large", "content_too_large")


def test_a_streamed_body_is_counted_as_it_arrives(small: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"y" * LIMIT
        yield b"y"

    response = small.post(TASKS, content=chunks())  # no Content-Length to go by
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


def test_the_token_endpoint_refuses_in_oauth2_form(small: TestClient) -> None:
    response = small.post("/v1/token", content=b"grant_type=" + b"z" * LIMIT)
    assert response.status_code == 413
    assert response.json() == {
        "error": "invalid_request",
        "error_description": f"request body larger than {LIMIT} bytes",
    }


def test_a_body_of_exactly_the_limit_is_served(client_for: Any) -> None:
    body = httpx.Request("POST", "/", json=task_body()).content
    client = client_for(max_body_bytes=len(body))
    headers = {**login(client), "Content-Type": "application/json"}
    assert client.post(TASKS, content=body, headers=headers).status_code == 201
    over = client.post(TASKS, content=body + b" ", headers=headers)
    assert over.status_code == 413


def test_the_default_limit_is_one_mebibyte_and_must_be_positive(tmp_path: Path) -> None:
    assert SandboxConfig(data_dir=tmp_path).max_body_bytes == 1024 * 1024
    with pytest.raises(ValueError, match="max_body_bytes"):
        SandboxConfig(data_dir=tmp_path, max_body_bytes=0)


def test_a_405_allows_every_method_of_the_resource(client: TestClient) -> None:
    # GET and POST /tasks are two routes; Starlette alone would name only the first one's method.
    assert client.delete(TASKS).headers["Allow"] == "GET, POST"
    assert client.delete("/sandbox/v1/clock").headers["Allow"] == "GET, PUT"


# --- a real server ------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path / "limits", speed=1.0)
    yield handle
    handle.stop()


def _send(handle: SandboxHandle, head: bytes, chunks: Sequence[bytes] = ()) -> bytes:
    """Send a raw request and return the answer's status line and headers."""
    host, port = handle.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed before the rest was sent: read its answer
        answer = b""
        while b"\r\n\r\n" not in answer:  # read no further: the server closes after the 413
            received = sock.recv(4096)
            assert received, f"the server closed without answering: {answer!r}"
            answer += received
    return answer


def test_a_200_mb_declaration_is_answered_without_reading_the_body(served: SandboxHandle) -> None:
    answer = _send(
        served,
        b"POST /api/tasking/v2/tasks HTTP/1.1\r\nHost: sandbox\r\n"
        b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n",
    )  # headers only: a server that waited for the body would never answer
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in answer.lower()


def test_a_chunked_upload_is_refused_once_it_passes_the_limit(served: SandboxHandle) -> None:
    piece = b"y" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 17  # 1 MiB + 64 KiB, no Content-Length
    answer = _send(
        served,
        b"POST /api/tasking/v2/tasks HTTP/1.1\r\nHost: sandbox\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        [*chunks, b"0\r\n\r\n"],
    )
    assert answer.startswith(b"HTTP/1.1 413 ")


# --- access log ---------------------------------------------------------------------------------

SIGNED = "/sandbox/v1/files/5b1e/GRD/quicklook-png.png?expires=1777000000&signature=ab12cd"


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        (SIGNED, f"/sandbox/v1/files/5b1e/GRD/quicklook-png.png?{REDACTED}"),
        (
            "/api/tasking/v2/tasks?limit=100&cursor=abc",
            "/api/tasking/v2/tasks?limit=100&cursor=abc",
        ),
        ("/x?signature=s&a=1", f"/x?signature={REDACTED}&a=1"),
        ("/x?access_token=t", f"/x?access_token={REDACTED}"),
        ("/sandbox/v1/clock", "/sandbox/v1/clock"),
    ],
)
def test_log_targets_lose_signatures_and_keep_the_rest(target: str, logged: str) -> None:
    assert redact_target(target) == logged


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_background_servers_access_log_hides_signed_links(served: SandboxHandle) -> None:
    access = logging.getLogger("uvicorn.access")
    lines, level = _Lines(), access.level
    access.addHandler(lines)
    access.setLevel(logging.INFO)  # start_in_background logs warnings only; the filter is there
    try:
        assert httpx.get(served.url + SIGNED).status_code == 403  # a made-up signature
    finally:
        access.removeHandler(lines)
        access.setLevel(level)
    assert any("/sandbox/v1/files/5b1e/GRD/quicklook-png.png?" + REDACTED in x for x in lines.lines)
    assert not any("ab12cd" in x for x in lines.lines)


def test_the_command_line_server_logs_through_the_same_filter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran: dict[str, Any] = {}

    class Server:
        """Records the configuration the command serves with, and serves nothing."""

        def __init__(self, config: Any) -> None:
            ran["config"] = config

        def run(self, sockets: list[Any]) -> None:
            for sock in sockets:
                sock.close()

    monkeypatch.setattr(command, "create_app", lambda config: "app")
    monkeypatch.setattr(command.uvicorn, "Server", Server)
    command.main(["--data-dir", str(tmp_path), "--port", "0", "--log-level", "warning"])
    config = ran["config"].log_config
    (name,) = config["loggers"]["uvicorn.access"]["filters"]
    assert config["filters"][name]["()"] is RedactedAccessLog
    assert ran["config"].date_header is False
