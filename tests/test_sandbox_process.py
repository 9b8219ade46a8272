"""The app's built-in sandbox runs as a child process (tasking.sandbox.process): started by the
service, stopped when the service closes or the app dies, one per data directory, and a failed start
says why."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tasking.config import load_settings
from tasking.errors import TransportError
from tasking.sandbox.process import (
    EXIT_IN_USE,
    DataDirLock,
    SandboxProcess,
    lock_holder,
    start_process,
)
from tasking.service import build_service

ROOT = Path(__file__).resolve().parents[1]
BOUND_S = 60.0  # generous on a shared 2-core machine; every wait ends on its condition


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = BOUND_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)  # polling interval of a condition
    raise AssertionError(f"timed out waiting for {what}")


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for its reaper counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_the_apps_service_runs_the_sandbox_as_a_child_and_closing_the_service_stops_it(
    tmp_path: Path,
) -> None:
    service = build_service(load_settings(data_dir=tmp_path / "data", sandbox_url=None))
    sandbox = service.sandbox
    try:
        assert isinstance(sandbox, SandboxProcess) and sandbox.owned
        assert sandbox.pid is not None and sandbox.pid != os.getpid()
        assert parent_of(sandbox.pid) == os.getpid()
        assert service.answers() and sandbox.running
        holder = lock_holder(tmp_path / "data" / "sandbox")
        assert holder is not None and holder.pid == sandbox.pid and holder.url == sandbox.url
        assert holder.parent == os.getpid()
    finally:
        service.close()
    assert not sandbox.running and gone(sandbox.pid)
    assert lock_holder(tmp_path / "data" / "sandbox") is None
    service.close()  # twice is fine


def test_a_second_service_on_the_same_data_directory_uses_the_first_ones_sandbox(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", sandbox_url=None)
    first = build_service(settings)
    try:
        second = build_service(settings)
        try:
            assert isinstance(second.sandbox, SandboxProcess) and not second.sandbox.owned
            assert second.sandbox.url == first.sandbox.url and second.answers()
        finally:
            second.close()
        assert first.sandbox.running and first.answers()  # the second left it alone
    finally:
        first.close()


_PARENT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tasking.sandbox.process import start_process

    handle = start_process(Path(sys.argv[1]))
    print(handle.pid, handle.url, flush=True)
    sys.stdin.read()  # until the test kills this process
    """
)


def test_a_sandbox_outlives_no_parent_killed_with_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "sandbox"
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(data_dir)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()  # the child answers before the parent prints
        assert line, f"the parent exited with {parent.wait()}"
        child = int(line.split()[0])
        assert not gone(child) and parent_of(child) == parent.pid
        parent.kill()
        parent.wait()
        wait_until(lambda: gone(child), "the sandbox to exit after its parent was killed")
        wait_until(lambda: lock_holder(data_dir) is None, "the data directory's lock to be free")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def test_a_sandbox_that_fails_to_start_is_a_clear_error_with_its_last_lines(
    tmp_path: Path,
) -> None:
    python = _fake_python(
        tmp_path, 'echo "OSError: [Errno 28] No space left on device" >&2\nexit 3'
    )
    settings = load_settings(data_dir=tmp_path / "data", sandbox_url=None)
    with pytest.raises(TransportError) as error:
        build_service(settings, start_sandbox=lambda d: start_process(d, python=python))
    message = str(error.value)
    assert "The built-in sandbox could not start" in message
    assert "exited with status 3" in message and "No space left on device" in message


def test_a_sandbox_that_never_answers_is_stopped_and_reported(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    python = _fake_python(tmp_path, f'echo $$ > "{pid_file}"\necho "stuck loading"\nexec sleep 600')
    with pytest.raises(RuntimeError) as error:
        start_process(tmp_path / "sandbox", python=python, timeout=2.0)
    assert "did not answer within 2 s" in str(error.value)
    assert "stuck loading" in str(error.value)
    wait_until(pid_file.exists, "the fake child's pid")
    assert gone(int(pid_file.read_text()))


def test_a_second_sandbox_on_a_held_data_directory_refuses_to_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "sandbox"
    lock = DataDirLock(data_dir)
    assert lock.acquire()
    lock.publish("http://127.0.0.1:1", None)
    try:
        holder = lock_holder(data_dir)
        assert holder is not None and holder.pid == os.getpid() and holder.parent is None
        run = subprocess.run(
            [sys.executable, "-m", "tasking.sandbox", "--port", "0", "--data-dir", str(data_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=BOUND_S,
        )
        assert run.returncode == EXIT_IN_USE
        assert "another sandbox serves" in run.stdout and "http://127.0.0.1:1" in run.stdout
    finally:
        lock.release()
    assert lock_holder(data_dir) is None
