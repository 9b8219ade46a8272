"""``python -m tasking.sandbox``: run the ICEYE-compatible sandbox with uvicorn.

Example: ``python -m tasking.sandbox --host 127.0.0.1 --port 8765 --data-dir .data/sandbox
--seed 2026 --speed 60``. Prints the URLs and the demo login (sandbox-only constants).

It holds its data directory's lock (``tasking.sandbox.process``) while it serves, so a second
sandbox on the same files exits at once (status 75) naming the first. ``--port 0`` takes a free
port (the URL is printed and written in the lock file). ``--exit-with-parent`` is how the app
starts it: it stops when its stdin, a pipe from the app, ends (the app closed it or died).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn

from tasking.sandbox.app import create_app
from tasking.sandbox.config import MAX_SPEED, MIN_SPEED, SandboxConfig
from tasking.sandbox.process import EXIT_IN_USE, DataDirLock, lock_holder
from tasking.sandbox.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tasking.sandbox.server import uvicorn_options


def _speed(text: str) -> float:
    value = float(text)
    if not MIN_SPEED <= value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(f"speed must be within {MIN_SPEED:g}..{MAX_SPEED:g}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("failure rate must be within 0..1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tasking.sandbox",
        description="ICEYE-compatible tasking sandbox driven by a simulated SAR constellation.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: loopback only)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--data-dir", type=Path, default=Path(".data/sandbox"))
    parser.add_argument("--seed", type=int, default=2026, help="world seed (new data dirs only)")
    parser.add_argument(
        "--speed",
        type=_speed,
        default=None,
        help="simulated seconds per real second (default: as persisted; 60 for a new data dir)",
    )
    parser.add_argument(
        "--latency", type=float, default=60.0, help="simulated seconds until a task is decided"
    )
    parser.add_argument("--failure-rate", type=_rate, default=0.0, help="share of failed captures")
    parser.add_argument("--tick", type=float, default=1.0, help="real seconds between ticks")
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when stdin ends or the parent process is gone (how the app starts it)",
    )
    return parser.parse_args(argv)


_GRACE_S = 15.0
"""After its parent is gone, how long the sandbox may take to shut down cleanly before it exits."""


def _watch_parent(server: uvicorn.Server) -> None:
    """Stop the server when stdin ends (the parent closed its pipe, or died and the kernel closed
    it) or this process is re-parented; exit outright if a clean shutdown takes too long."""
    parent = os.getppid()

    def read_stdin() -> None:
        with open(sys.stdin.fileno(), "rb", buffering=0, closefd=False) as stdin:
            while stdin.read(4096):
                pass
        gone.set()

    def watch() -> None:
        while not gone.wait(1.0) and os.getppid() == parent:
            pass  # woken by stdin's end, or once a second to look at the parent
        server.should_exit = True
        time.sleep(_GRACE_S)  # a clean shutdown normally ends the process long before this
        os._exit(0)

    gone = threading.Event()
    threading.Thread(target=read_stdin, name="parent-stdin", daemon=True).start()
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    lock = DataDirLock(args.data_dir)
    if not lock.acquire():
        holder = lock_holder(args.data_dir)
        where = f" (pid {holder.pid}, {holder.url})" if holder and holder.url else ""
        print(f"another sandbox serves {args.data_dir}{where}; not starting a second", flush=True)
        raise SystemExit(EXIT_IN_USE)
    try:
        _serve(args, lock)
    finally:
        lock.release()


def _serve(args: argparse.Namespace, lock: DataDirLock) -> None:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the listening
    # socket names its protocol (tasking.sandbox.server). Bound here, so --port 0 has its port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    config = SandboxConfig(
        data_dir=args.data_dir,
        seed=args.seed,
        speed=args.speed,
        decision_latency_s=args.latency,
        failure_rate=args.failure_rate,
        tick_s=args.tick,
    )
    app = create_app(config)
    root = f"http://{args.host}:{port}"
    print(f"ICEYE sandbox on {root}   (API {root}/api, docs {root}/docs)", flush=True)
    print(f"  ICEYE_AUTH_URL={root}  ICEYE_API_URL={root}/api", flush=True)
    print(
        f"  demo login (sandbox-only, not a secret): client id {DEMO_CLIENT_ID}, "
        f"client secret {DEMO_CLIENT_SECRET}  — other companies: tasking/sandbox/README.md",
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=port,
            log_level=args.log_level.lower(),
            **uvicorn_options(),
        )
    )
    lock.publish(root, os.getppid() if args.exit_with_parent else None)
    if args.exit_with_parent:
        _watch_parent(server)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
