"""``python -m tasking.sandbox``: run the ICEYE-compatible sandbox with uvicorn.

Example: ``python -m tasking.sandbox --host 127.0.0.1 --port 8765 --data-dir .data/sandbox
--seed 2026 --speed 60``. Prints the URLs and the demo login (sandbox-only constants).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from tasking.sandbox.app import create_app
from tasking.sandbox.config import MAX_SPEED, MIN_SPEED, SandboxConfig
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    config = SandboxConfig(
        data_dir=args.data_dir,
        seed=args.seed,
        speed=args.speed,
        decision_latency_s=args.latency,
        failure_rate=args.failure_rate,
        tick_s=args.tick,
    )
    app = create_app(config)
    root = f"http://{args.host}:{args.port}"
    print(f"ICEYE sandbox on {root}   (API {root}/api, docs {root}/docs)", flush=True)
    print(f"  ICEYE_AUTH_URL={root}  ICEYE_API_URL={root}/api", flush=True)
    print(
        f"  demo login (sandbox-only, not a secret): client id {DEMO_CLIENT_ID}, "
        f"client secret {DEMO_CLIENT_SECRET}  — other companies: tasking/sandbox/README.md",
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        **uvicorn_options(),
    )


if __name__ == "__main__":
    main()
