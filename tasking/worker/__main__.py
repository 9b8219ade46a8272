"""``python -m tasking.worker``: the background worker as its own process.

It follows the backend the settings name (``ICEYE_*``, as the app reads them) and the shared store
(``ICEYE_HISTORY_URL``). In sandbox mode it needs ``ICEYE_SANDBOX_URL``: it follows the sandbox the
apps use and never starts one of its own. Stops cleanly on SIGINT/SIGTERM (the lease is released);
a ``kill -9`` loses nothing: another worker takes over when the lease expires.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from tasking.config import load_settings
from tasking.errors import TaskingError
from tasking.service import build_service
from tasking.worker.core import Worker, WorkerConfig
from tasking.worker.logs import configure

log = logging.getLogger("tasking.worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasking.worker", description=__doc__)
    parser.add_argument("--host", help="receiver address (default ICEYE_WORKER_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="receiver port (default ICEYE_WORKER_PORT, 8600)")
    parser.add_argument(
        "--lease-seconds",
        type=float,
        help="how long the worker's lease lasts without renewal (default 15): after a crash, "
        "another worker takes over when it runs out",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--plain-logs", action="store_true", help="text logs instead of JSON")
    args = parser.parse_args(argv)
    configure(args.log_level, json_lines=not args.plain_logs)
    try:
        settings = load_settings()
        if settings.mode == "sandbox" and settings.sandbox_url is None:
            print(
                "The worker follows the sandbox the apps use: start it with "
                "`python -m tasking.sandbox` and set ICEYE_SANDBOX_URL to its URL "
                "(or set the ICEYE_* credentials for live ICEYE).",
                file=sys.stderr,
            )
            return 2
        overrides = {
            k: v
            for k, v in (
                ("host", args.host),
                ("port", args.port),
                ("lease_ttl_s", args.lease_seconds),
            )
            if v is not None
        }
        config = WorkerConfig.from_settings(settings, **overrides)
        service = build_service(settings)
    except TaskingError as error:
        print(f"worker: {error.message}", file=sys.stderr)
        return 2
    worker = Worker(service, config)
    try:
        worker.start()
    except OSError as error:
        print(
            f"worker: the receiver cannot listen on {config.host}:{config.port}: {error}",
            file=sys.stderr,
        )
        service.close()
        return 2

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        worker.request_stop()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(
        f"worker ready: receiver {worker.receiver_url} (health /health, metrics /metrics)",
        flush=True,
    )
    worker.wait_stopped()
    worker.stop()
    service.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
