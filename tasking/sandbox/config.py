"""The sandbox's knobs, in one place (``python -m tasking.sandbox --help`` exposes the common ones).

Times are simulation seconds unless a name says ``real``: the simulation clock (``clock.py``) drives
the world, while tokens and rate limits follow real time because clients schedule them with their
own clocks (an ``expires_in`` of 3600 means an hour of the client's time).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tasking.times import utc_now


def _new_id() -> str:
    return str(uuid.uuid4())


MIN_SPEED = 1.0
MAX_SPEED = 10_000.0
"""Clock speed limits (issue 3: "1× real time up to thousands of times faster")."""


@dataclass
class SandboxConfig:
    """Everything a sandbox needs; only ``data_dir`` is required."""

    data_dir: Path
    seed: int = 2026
    # Initial clock speed; None keeps the speed persisted in the data dir (60 for a new one).
    speed: float | None = None
    # Simulation start for a new data dir; None = the real time of creation (whole seconds).
    epoch: datetime | None = None
    satellite_count: int = 40
    # ICEYE: "An optimizer runs within the next 20 minutes" (iceye-api.md §5.1); one minute keeps
    # demos lively while staying inside that promise.
    decision_latency_s: float = 60.0
    # Reference fleet-modes §7.4: no published agility figure; "≥60–90 s between spotlight targets".
    setup_gap_s: float = 90.0
    # Share of captures that fail (ICEYE: >90 % acquired); 0 keeps demos predictable.
    failure_rate: float = 0.0
    # Non-SLA products (SICD/SIDD) are "custom / on demand": ready this long after the SLA products.
    non_sla_delay_s: float = 2 * 3600.0
    # Signed product links expire one hour of simulation time after issue (iceye-api.md §4.8).
    link_ttl_s: float = 3600.0
    # Token lifetime in real seconds ("currently 3600 seconds", iceye-api.md §2).
    token_ttl_s: float = 3600.0
    # Token bucket per access token: 50 pollers at 1 request/s sharing one token stay well inside.
    rate_per_s: float = 100.0
    rate_burst: float = 200.0
    # Largest request body in bytes, refused with 413 before it is read (and before auth): the
    # biggest legitimate body, a feasibility request or a task, is a few kilobytes.
    max_body_bytes: int = 1024 * 1024
    # Failed token requests (wrong or malformed client credentials), counted per client id and per
    # peer address in token buckets: bursts of 10, then one more every 6 real seconds; an empty
    # bucket answers 429 with Retry-After before the secret is even checked (README "Limits").
    login_failure_burst: float = 10.0
    login_failure_refill_s: float = 6.0
    # Real seconds of simulated time the clock reserves ahead on disk (clock.py): a restart after
    # kill -9 resumes at most this much (× speed) ahead of the last time served, never behind it.
    clock_reserve_s: float = 1.0
    # The decider thread (core.py): it runs events as they fall due, waking at least every tick_s
    # real seconds. None = no thread, purely lazy: events run before each request.
    tick_s: float | None = None
    # Events run per store transaction, and real seconds one may hold the store's writer: a long
    # backlog is worked off in chunks, and other writers (a login, a create) get in between them.
    chunk_events: int = 50
    chunk_s: float = 0.02
    # Admission (issue 13): createTask answers 429 with Retry-After while more events than this
    # are due and not yet run, instead of letting the backlog grow without bound.
    max_backlog: int = 1000
    # Webhook callbacks (notifications.py): real seconds between the dispatcher's passes (None = no
    # dispatcher: callbacks wait in the store), and the real-time limit of one HTTP request.
    callback_period_s: float | None = 1.0
    callback_timeout_s: float = 5.0
    real_clock: Callable[[], datetime] = field(default=utc_now)
    id_factory: Callable[[], str] = field(default=_new_id)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.speed is not None and not MIN_SPEED <= self.speed <= MAX_SPEED:
            raise ValueError(f"speed must be within {MIN_SPEED:g}..{MAX_SPEED:g}, got {self.speed}")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be within 0..1, got {self.failure_rate}")
        if self.rate_per_s <= 0 or self.rate_burst < 1:
            raise ValueError("rate_per_s must be > 0 and rate_burst ≥ 1")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")
        if self.login_failure_burst < 1 or self.login_failure_refill_s <= 0:
            raise ValueError("login_failure_burst must be ≥ 1 and login_failure_refill_s > 0")
        if self.clock_reserve_s <= 0:
            raise ValueError("clock_reserve_s must be > 0")
        if self.callback_period_s is not None and self.callback_period_s <= 0:
            raise ValueError("callback_period_s must be > 0 (or None for no dispatcher)")
        if self.callback_timeout_s <= 0:
            raise ValueError("callback_timeout_s must be > 0")
        if self.satellite_count < 1:
            raise ValueError("satellite_count must be at least 1")
        if self.chunk_events < 1 or self.chunk_s <= 0:
            raise ValueError("chunk_events must be ≥ 1 and chunk_s > 0")
        if self.max_backlog < 0:
            raise ValueError("max_backlog must be ≥ 0")

    @property
    def database(self) -> Path:
        return self.data_dir / "sandbox.sqlite3"

    @property
    def clock_mark(self) -> Path:
        return self.data_dir / "clock-mark"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"
