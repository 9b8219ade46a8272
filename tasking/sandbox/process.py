"""The built-in sandbox as a process of its own, and the lock that keeps one sandbox per data dir.

The app starts its sandbox with ``start_process``: ``python -m tasking.sandbox`` on a free loopback
port with the app's data directory, so the sandbox's CPU (decisions, feasibility, pass prediction)
never competes with the Streamlit sessions for the app's GIL. The child

- holds ``server.lock`` in its data directory (``DataDirLock``, an ``flock``) for as long as it
  serves the directory, with its pid, URL and parent's pid written in it, so a second sandbox on
  the same files refuses to start and a second app finds the first's URL (``lock_holder``);
- with ``--exit-with-parent`` reads its stdin, a pipe from the app, and stops when it ends: the
  app closed it (``SandboxProcess.stop``, at the service's close and at exit) or the app died,
  even by ``kill -9``, when the kernel closes the app's end. It also stops if it is re-parented.

Kept free of FastAPI and uvicorn imports: the app process loads only this module.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

HEALTH_PATH = "/sandbox/v1/health"
LOCK_NAME = "server.lock"
LOG_NAME = "server.log"
EXIT_IN_USE = 75
"""The child's exit status when another process already serves its data directory (EX_TEMPFAIL)."""
START_TIMEOUT_S = 60.0
"""How long a start may take: a new data directory builds its world and pass tables first."""
STOP_TIMEOUT_S = 15.0
LOG_KEEP_BYTES = 1024 * 1024
"""A start moves a log larger than this to ``server.log.1``."""
_POLL_S = 0.05
_ROOT = Path(__file__).resolve().parents[2]


class RunningSandbox(Protocol):
    """What the service needs of a sandbox it started (in-process or a child process)."""

    @property
    def url(self) -> str: ...

    @property
    def api_url(self) -> str: ...

    @property
    def running(self) -> bool: ...

    def stop(self, timeout: float = ...) -> None: ...


@dataclass(frozen=True)
class LockInfo:
    """What the process serving a data directory wrote in its lock file."""

    pid: int
    url: str | None
    parent: int | None
    """The app that started it (``--exit-with-parent``), None for one started by hand."""


class DataDirLock:
    """An exclusive ``flock`` on ``<data dir>/server.lock``, held while a sandbox serves the
    directory. The kernel drops it when the process ends, however it ends."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, wait_s: float = 1.0) -> bool:
        """Take the lock, trying for up to ``wait_s`` (a ``lock_holder`` probe holds it shared for
        an instant); False if another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(_POLL_S)  # between attempts, bounded by wait_s
                continue
            self._fd = fd
            return True

    def publish(self, url: str, parent: int | None) -> None:
        """Write who serves the directory, for ``lock_holder``."""
        assert self._fd is not None, "publish() before acquire()"
        body = json.dumps({"pid": os.getpid(), "url": url, "parent": parent}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, body, 0)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock


def lock_holder(data_dir: Path) -> LockInfo | None:
    """The process serving ``data_dir`` now, or None if no process holds its lock. A holder that
    has not written its URL yet has ``url`` None."""
    path = Path(data_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: read what the holder wrote
        else:
            return None  # nobody holds it (our shared lock goes with the close below)
        text = os.pread(fd, 4096, 0).decode(errors="replace")
    finally:
        os.close(fd)
    try:
        body = json.loads(text)
        return LockInfo(int(body["pid"]), body.get("url"), body.get("parent"))
    except (ValueError, KeyError, TypeError):
        return LockInfo(0, None, None)  # held, being written


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + HEALTH_PATH, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


class SandboxProcess:
    """A sandbox serving ``url`` from another process. ``owned``: this process started it (a
    child), and ``stop`` ends it; otherwise another app's (or one started by hand), left alone."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes] | None, log_path: Path) -> None:
        self.url = url
        self.proc = proc
        self.log_path = log_path

    def __repr__(self) -> str:
        return f"SandboxProcess(url={self.url!r}, pid={self.pid})"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def owned(self) -> bool:
        return self.proc is not None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        if self.proc is None:
            return _answers(self.url)
        return self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """End the child: close its stdin (it shuts down cleanly: the store closes, the clock's
        exact time is written), then terminate, then kill if it has not ended in ``timeout``.
        Safe to call twice; does nothing to a sandbox this process did not start."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        for end in (None, proc.terminate, proc.kill):
            if end is not None:
                with contextlib.suppress(OSError):
                    end()
            try:
                proc.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                continue


def log_tail(path: Path, start: int = 0, lines: int = 12) -> str:
    """The last lines the child wrote to its log since ``start`` (a byte offset)."""
    try:
        with path.open("rb") as log:
            log.seek(start)
            tail = deque(log.read().decode(errors="replace").splitlines(), maxlen=lines)
    except OSError:
        return ""
    return "\n".join(tail)


def start_process(
    data_dir: Path,
    *,
    speed: float | None = None,
    seed: int | None = None,
    timeout: float = START_TIMEOUT_S,
    python: str = sys.executable,
) -> SandboxProcess:
    """Serve ``data_dir`` with a sandbox: the one already serving it if its app is alive (or it was
    started by hand), else a new child process on a free loopback port. Returns once the health
    route answers. Raises RuntimeError (with the child's last log lines) if the child exits or does
    not answer within ``timeout``."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    reused = _reuse(data_dir, deadline)
    if reused is not None:
        return reused
    log_path = data_dir / LOG_NAME
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > LOG_KEEP_BYTES:  # one older log is kept beside it
            log_path.replace(log_path.with_suffix(".log.1"))
    command = [
        python, "-m", "tasking.sandbox", "--host", "127.0.0.1", "--port", "0",
        "--data-dir", str(data_dir), "--log-level", "warning", "--exit-with-parent",
    ]  # fmt: skip
    if speed is not None:
        command += ["--speed", str(speed)]
    if seed is not None:
        command += ["--seed", str(seed)]
    with log_path.open("ab") as log:
        start = log.tell()
        proc = subprocess.Popen(
            command,
            cwd=_ROOT,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C meant for the app reaches the app, which then stops it.
            start_new_session=True,
        )
    handle = SandboxProcess("", proc, log_path)
    atexit.register(handle.stop)
    try:
        while time.monotonic() < deadline:
            code = proc.poll()
            if code == EXIT_IN_USE:  # another app's child won the race for the lock
                atexit.unregister(handle.stop)
                reused = _reuse(data_dir, deadline)
                if reused is not None:
                    return reused
                raise RuntimeError(
                    f"another sandbox serves {data_dir.name} and did not answer:\n"
                    + log_tail(log_path, start)
                )
            if code is not None:
                raise RuntimeError(
                    f"the sandbox process exited with status {code} during start-up; its last "
                    f"lines:\n{log_tail(log_path, start)}"
                )
            holder = lock_holder(data_dir)
            if holder is not None and holder.pid == proc.pid and holder.url:
                handle.url = holder.url
                if _answers(holder.url):
                    return handle
            time.sleep(_POLL_S)  # between checks of a condition, bounded by the deadline
        raise RuntimeError(
            f"the sandbox process did not answer within {timeout:g} s; its last lines:\n"
            + log_tail(log_path, start)
        )
    except BaseException:
        handle.stop(timeout=5.0)
        atexit.unregister(handle.stop)
        raise


def _reuse(data_dir: Path, deadline: float) -> SandboxProcess | None:
    """The sandbox already serving ``data_dir``, once it answers; None if none does (after waiting
    for one whose app has died to finish shutting down)."""
    while time.monotonic() < deadline:
        holder = lock_holder(data_dir)
        if holder is None:
            return None
        orphan = holder.parent is not None and not _alive(holder.parent)
        if not orphan and holder.url and _answers(holder.url):
            return SandboxProcess(holder.url, None, data_dir / LOG_NAME)
        time.sleep(_POLL_S)  # it is starting, or stopping because its app is gone
    holder = lock_holder(data_dir)
    raise RuntimeError(
        f"another process (pid {holder.pid if holder else '?'}) holds the sandbox data directory "
        f"{data_dir.name} and its sandbox does not answer"
    )
