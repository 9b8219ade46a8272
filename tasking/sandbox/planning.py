"""Choosing where a task is imaged: pure functions over passes and the current bookings.

Rules (issue 3, PRODUCT.md "The sandbox is a simulated constellation"):
- a task is imaged on a real pass that satisfies its constraints (incidence range — numbers, or the
  mode's PERFORMANT / FULL_RANGE range — look side, pass direction), with the whole imaging interval
  inside its acquisition window and after the decision time;
- imaging is centred on the zero-Doppler time and lasts ``imagingDuration`` or the mode's nominal
  duration;
- a satellite images one target at a time: two bookings on one satellite keep ``gap`` seconds of
  setup between them;
- the earliest such pass wins. COMMERCIAL is first come, first served: it takes a free pass if there
  is one, otherwise the earliest pass held only by BACKGROUND bookings not yet captured, which are
  then displaced. BACKGROUND only ever takes free passes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tasking import modes
from tasking.passes import Constraints, Pass, exclusion_reason
from tasking.times import parse_time, to_utc


@dataclass(frozen=True)
class Booking:
    """A satellite's time reserved for a task's imaging."""

    task_id: str
    priority: str
    satellite: str
    start: datetime
    end: datetime
    locked: bool = False  # captured: can no longer move


@dataclass(frozen=True)
class Slot:
    """A planned imaging: the pass, the imaging interval and the bookings it displaces."""

    pass_: Pass
    start: datetime
    end: datetime
    duration: int
    displaced: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refusal:
    """Why no slot exists (the reason is shown in the feasibility verdict and the history)."""

    reason: str
    capacity: bool = False  # True when passes exist but other tasks hold them


def incidence_range(angle: Mapping[str, Any] | None, mode: str) -> tuple[int, int]:
    """Numeric incidence bounds: numbers as given; presets from the mode (modes.py).

    Without an ``incidenceAngle`` the mode's performant range applies (check-feasibility page:
    "The default incidence angle range is automatically set to the recommended range").
    """
    info = modes.mode_info(mode)
    if not angle:
        return info.performant
    bounds = []
    for index, key in enumerate(("min", "max")):
        value = angle.get(key)
        if value == "PERFORMANT":
            bounds.append(info.performant[index])
        elif value == "FULL_RANGE" or value is None:
            bounds.append(info.full_range[index])
        else:
            bounds.append(int(value))
    return bounds[0], bounds[1]


def constraints_of(document: Mapping[str, Any]) -> Constraints:
    """The geometry constraints of a task document (wire names)."""
    low, high = incidence_range(document.get("incidenceAngle"), document["imagingMode"])
    return Constraints(
        incidence_min=low,
        incidence_max=high,
        look_side=document.get("lookSide") or "ANY",
        pass_direction=document.get("passDirection") or "ANY",
    )


def imaging_duration(document: Mapping[str, Any]) -> int:
    """Seconds of imaging: the task's ``imagingDuration`` or the mode's nominal duration."""
    given = document.get("imagingDuration")
    return int(given) if given else modes.mode_info(document["imagingMode"]).nominal_duration_s


def imaging_interval(p: Pass, duration: int) -> tuple[datetime, datetime]:
    """Imaging centred on the zero-Doppler time of the pass."""
    start = p.time - timedelta(seconds=duration / 2)
    return start, start + timedelta(seconds=duration)


def conflicts(
    satellite: str, start: datetime, end: datetime, bookings: Iterable[Booking], gap_s: float
) -> list[Booking]:
    """Bookings on the satellite closer than the setup gap to [start, end]."""
    gap = timedelta(seconds=gap_s)
    return [
        b
        for b in bookings
        if b.satellite == satellite and start < b.end + gap and b.start < end + gap
    ]


def find_slots(
    passes: Sequence[Pass],
    document: Mapping[str, Any],
    *,
    priority: str,
    not_before: datetime,
    bookings: Sequence[Booking],
    gap_s: float,
    limit: int = 1,
) -> list[Slot] | Refusal:
    """Up to ``limit`` slots for a task, the planner's choice first, or why there is none.

    Free slots come first, earliest first; a COMMERCIAL task falls back to slots held only by
    BACKGROUND bookings that are not captured yet (``Slot.displaced`` names them), earliest first
    after the free ones. So the list is in time order only within each group: sort it by ``start``
    to show it as a timeline (feasibility does).
    """
    window = document["acquisitionWindow"]
    window_start = _as_time(window["start"])
    window_end = _as_time(window["end"])
    constraints = constraints_of(document)
    duration = imaging_duration(document)
    excluded: Counter[str] = Counter()
    usable: list[tuple[Pass, datetime, datetime]] = []
    for p in passes:
        reason = exclusion_reason(p, constraints)
        start, end = imaging_interval(p, duration)
        if reason is None and (start < window_start or end > window_end or start <= not_before):
            reason = "window"
        if reason is not None:
            excluded[reason.split()[0]] += 1
            continue
        usable.append((p, start, end))
    if not usable:
        return Refusal(_geometry_reason(len(passes), excluded, constraints))

    free: list[Slot] = []
    displacing: list[Slot] = []
    for p, start, end in usable:
        held = conflicts(p.satellite, start, end, bookings, gap_s)
        if not held:
            free.append(Slot(p, start, end, duration))
        elif priority == "COMMERCIAL" and all(
            b.priority == "BACKGROUND" and not b.locked and b.start > not_before for b in held
        ):
            displacing.append(Slot(p, start, end, duration, tuple(b.task_id for b in held)))
        if len(free) >= limit:
            break
    slots = (free + displacing)[:limit]
    if not slots:
        return Refusal(
            f"no capacity: all {len(usable)} passes that satisfy the task in its window are "
            "taken by other tasks",
            capacity=True,
        )
    return slots


def _geometry_reason(total: int, excluded: Counter[str], c: Constraints) -> str:
    if total == 0:
        return "no satellite passes within 45° incidence of the point during the window"
    labels = {
        "incidence": f"incidence outside {c.incidence_min:g}–{c.incidence_max:g}°",
        "look": f"look side not {c.look_side}",
        "pass": f"pass direction not {c.pass_direction}",
        "window": "imaging would not fit inside the window",
    }
    detail = ", ".join(f"{n} with {labels.get(k, k)}" for k, n in excluded.most_common())
    return f"no pass satisfies the task's constraints in its window ({total} passes: {detail})"


def _as_time(value: Any) -> datetime:
    return to_utc(value) if isinstance(value, datetime) else parse_time(str(value))
