"""The app's one backend: settings → client (+ sandbox, its clock, the local history), built once.

``get_backend()`` is the only place the app builds long-lived objects. It is cached with
``st.cache_resource``, so every browser session of the process shares one ``TaskingClient`` (one
connection pool, one token), one sandbox and one ``TaskHistory``; each of those is thread-safe.

In sandbox mode the app starts the sandbox itself, once per process, on a free loopback port with its
data under ``<ICEYE_DATA_DIR>/sandbox`` (so tasks survive restarts), or it uses the sandbox already
running at ``ICEYE_SANDBOX_URL``. "Now" for rules and defaults is the sandbox's simulation clock in
sandbox mode and real UTC in live mode (``Backend.now``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import urlsplit

import streamlit as st

from tasking.config import Settings, load_settings
from tasking.errors import TaskingError, TransportError
from tasking.history import TaskHistory

if TYPE_CHECKING:
    from tasking.client import TaskingClient
    from tasking.sandbox.control import ClockState, SandboxControl
    from tasking.sandbox.server import SandboxHandle

# A reading of the sandbox clock is extrapolated for this long before it is read again: the clock is
# linear between changes (sim = anchor + elapsed × speed, sandbox clock.py), and the app re-reads it
# after every change it makes itself, so this only bounds how late a change made by another client
# (curl, a second app) shows up, while keeping a map click free of clock requests.
CLOCK_MAX_AGE_S = 30.0
IDLE_MAX_AGE_S = 5.0


@dataclass(frozen=True)
class ClockReading:
    """What the sidebar shows: the backend's time, the simulation speed and the next due event."""

    now: datetime
    speed: float = 1.0
    next_event: datetime | None = None


class Clock(Protocol):
    def now(self) -> datetime: ...

    def reading(self) -> ClockReading: ...

    def refresh(self) -> ClockReading:
        """Read the clock now instead of extrapolating (after something happened)."""
        ...


class RealClock:
    """Live mode: real UTC, speed 1, no events."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def reading(self) -> ClockReading:
        return ClockReading(now=self.now())

    def refresh(self) -> ClockReading:
        return self.reading()


class SimClock:
    """The sandbox's simulation clock, read over HTTP and extrapolated between reads."""

    def __init__(
        self,
        fetch: Callable[[], ClockReading],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_age_s: float = CLOCK_MAX_AGE_S,
    ) -> None:
        self._fetch = fetch
        self._monotonic = monotonic
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._last: tuple[ClockReading, float] | None = None

    def refresh(self) -> ClockReading:
        """Read the clock now (raises the TaskingError of a failed request)."""
        reading = self._fetch()
        self.remember(reading)
        return reading

    def remember(self, reading: ClockReading) -> None:
        """Keep a reading the sandbox just returned (after set_speed / advance)."""
        with self._lock:
            self._last = (reading, self._monotonic())

    def forget(self) -> None:
        with self._lock:
            self._last = None

    def reading(self) -> ClockReading:
        with self._lock:
            last = self._last
        age = None if last is None else self._monotonic() - last[1]
        # With nothing scheduled, a new event may appear any moment (another session's order):
        # read more often then.
        limit = self._max_age_s if last is None or last[0].next_event else IDLE_MAX_AGE_S
        if last is None or age is None or age > limit:
            return self.refresh()
        reading, taken = last
        elapsed = (self._monotonic() - taken) * reading.speed
        now = reading.now + timedelta(seconds=elapsed)
        if reading.next_event is not None and now >= reading.next_event:
            # The event is due: the sandbox has processed it and knows the one after.
            return self.refresh()
        return ClockReading(now, reading.speed, reading.next_event)

    def now(self) -> datetime:
        return self.reading().now


@dataclass
class Backend:
    """Everything the pages talk to; shared by all sessions of the process."""

    mode: Literal["sandbox", "live"]
    label: str
    host: str
    client: TaskingClient
    clock: Clock
    history: TaskHistory
    settings: Settings
    control: SandboxControl | None = None
    sandbox: SandboxHandle | None = None

    def now(self) -> datetime:
        """The backend's "now": the simulation clock in sandbox mode, real UTC live."""
        return self.clock.now()

    def set_speed(self, speed: float) -> ClockReading:
        """Change the simulation speed (sandbox only)."""
        assert self.control is not None and isinstance(self.clock, SimClock)
        return self._remember(self.control.set_speed(speed))

    def jump_to_next_event(self) -> ClockReading:
        """Advance the simulation clock to its next due event (sandbox only)."""
        assert self.control is not None and isinstance(self.clock, SimClock)
        return self._remember(self.control.advance(to_next_event=True))

    def _remember(self, state: ClockState) -> ClockReading:
        reading = _reading(state)
        if isinstance(self.clock, SimClock):
            self.clock.remember(reading)
        return reading

    def answers(self) -> bool:
        """Whether the backend answers right now (one cheap request)."""
        try:
            if self.control is not None:
                return self.control.health()
            self.client.list_contracts(limit=1)
        except TaskingError:
            return False
        return True


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _reading(state: ClockState) -> ClockReading:
    return ClockReading(state.now, float(state.speed), state.next_event)


def _sandbox_clock(control: SandboxControl) -> SimClock:
    return SimClock(lambda: _reading(control.clock()))


def build_backend(settings: Settings) -> Backend:
    """Build the client (and, in sandbox mode, start or join the sandbox). Raises TaskingError."""
    from tasking.client import TaskingClient

    history_url = settings.history_url or f"sqlite:///{(settings.data_dir / 'history.sqlite')}"
    if settings.mode == "live":
        assert settings.api_url is not None  # complete credentials: Settings.mode
        clock: Clock = RealClock()
        return Backend(
            mode="live",
            label="ICEYE live",
            host=_host(settings.api_url),
            client=TaskingClient.from_settings(settings),
            clock=clock,
            history=TaskHistory(history_url, clock=clock.now),
            settings=settings,
        )

    # Sandbox mode: imported here so live mode never loads FastAPI/uvicorn.
    from tasking.sandbox import seed
    from tasking.sandbox.control import SandboxControl

    handle: SandboxHandle | None = None
    root = settings.sandbox_url
    if root is None:
        from tasking.sandbox.server import start_in_background

        try:
            handle = start_in_background(settings.data_dir / "sandbox")
        except (RuntimeError, OSError) as error:
            # The edge of the in-process server (port, data directory): say it in the app's terms.
            raise TransportError(f"The built-in sandbox could not start: {error}") from error
        root = handle.url
    root = root.rstrip("/")
    control = SandboxControl(root)
    sim_clock = _sandbox_clock(control)
    client = TaskingClient.from_settings(
        settings,
        api_url=f"{root}/api",
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        auth_url=root,
        # The sandbox stamps tasks in simulated time: a safe create looks for a task it may have
        # made "since just before the attempt" on that clock, not the machine's.
        clock=_history_clock(sim_clock),
    )
    return Backend(
        mode="sandbox",
        label="Sandbox (simulated constellation)",
        host=_host(root),
        client=client,
        clock=sim_clock,
        history=TaskHistory(history_url, clock=_history_clock(sim_clock)),
        settings=settings,
        control=control,
        sandbox=handle,
    )


def _history_clock(clock: SimClock) -> Callable[[], datetime]:
    """Times the history records: simulation time, so they line up with the task's own times; real
    UTC if the sandbox cannot be read at that moment (a record is never lost for a clock)."""

    def now() -> datetime:
        try:
            return clock.now()
        except TaskingError:
            return datetime.now(UTC)

    return now


@st.cache_resource(show_spinner="Starting the backend…")
def get_backend() -> Backend:
    """The process-wide backend (built on first use; a failure is not cached, so Retry works)."""
    return build_backend(load_settings())
