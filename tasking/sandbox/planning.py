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

The passes are judged as columns (``tasking.pass_table.PassTable``) and a ``Pass`` is made only for a
slot that is returned; the bookings are looked up by satellite and time (``BookingIndex``), so a
feasibility request of many items costs little per item whatever the number of tasks.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tasking import modes
from tasking.pass_table import (
    KIND_INCIDENCE,
    KIND_LOOK,
    KIND_PASS,
    Constraints,
    Pass,
    PassTable,
)
from tasking.times import parse_time, to_utc

_KIND_WINDOW = 4  # after ``PassTable.exclusion_kinds``'s kinds
# The first word of each exclusion, as ``exclusion_reason`` words it (the refusal counts them).
_KIND_WORDS = {
    KIND_INCIDENCE: "incidence",
    KIND_LOOK: "look",
    KIND_PASS: "pass",
    _KIND_WINDOW: "window",
}


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


class BookingIndex:
    """Bookings by satellite in order of start, for ``conflicts`` without a scan of them all.

    ``conflicts`` answers as the function of that name does on the bookings in the order they
    were added (displacements follow that order).
    """

    def __init__(self, bookings: Iterable[Booking] = ()) -> None:
        self._starts: dict[str, list[datetime]] = {}
        self._entries: dict[str, list[tuple[int, Booking]]] = {}
        self._longest = timedelta(0)
        self._seq = itertools.count()
        for b in bookings:
            self.add(b)

    def add(self, booking: Booking) -> None:
        starts = self._starts.setdefault(booking.satellite, [])
        entries = self._entries.setdefault(booking.satellite, [])
        at = bisect.bisect_right(starts, booking.start)
        starts.insert(at, booking.start)
        entries.insert(at, (next(self._seq), booking))
        self._longest = max(self._longest, booking.end - booking.start)

    def conflicts(
        self, satellite: str, start: datetime, end: datetime, gap_s: float
    ) -> list[Booking]:
        starts = self._starts.get(satellite)
        if not starts:
            return []
        gap = timedelta(seconds=gap_s)
        # b.start < end + gap, and b.end + gap > start needs b.start > start − gap − longest.
        lo = bisect.bisect_right(starts, start - gap - self._longest)
        hi = bisect.bisect_left(starts, end + gap)
        near = [e for e in self._entries[satellite][lo:hi] if start < e[1].end + gap]
        return [b for _, b in sorted(near, key=lambda e: e[0])]


def find_slots(
    passes: Sequence[Pass],
    document: Mapping[str, Any],
    *,
    priority: str,
    not_before: datetime,
    bookings: Sequence[Booking] | BookingIndex,
    gap_s: float,
    limit: int = 1,
) -> list[Slot] | Refusal:
    """Up to ``limit`` slots for a task, the planner's choice first, or why there is none.

    Free slots come first, earliest first; a COMMERCIAL task falls back to slots held only by
    BACKGROUND bookings that are not captured yet (``Slot.displaced`` names them), earliest first
    after the free ones. So the list is in time order only within each group: sort it by ``start``
    to show it as a timeline (feasibility does). ``passes`` are in time order (a ``PassTable`` is
    judged without making a ``Pass`` of each).
    """
    table = PassTable.from_passes(passes)
    window = document["acquisitionWindow"]
    constraints = constraints_of(document)
    duration = imaging_duration(document)
    # imaging_interval in exact microseconds: the start is the pass time less duration / 2 s.
    starts = table.offsets_us() - duration * 500_000
    ends = starts + duration * 1_000_000
    outside = (
        (starts < table.offset_us(_as_time(window["start"])))
        | (ends > table.offset_us(_as_time(window["end"])))
        | (starts <= table.offset_us(not_before))
    )
    kinds = table.exclusion_kinds(constraints)
    kinds[(kinds == 0) & outside] = _KIND_WINDOW
    usable = np.flatnonzero(kinds == 0)
    if not usable.size:
        return Refusal(_geometry_reason(len(table), _excluded(kinds), constraints))

    index = bookings if isinstance(bookings, BookingIndex) else BookingIndex(bookings)
    free: list[Slot] = []
    displacing: list[Slot] = []
    for i in usable.tolist():
        start = table.at_offset(int(starts[i]))
        end = start + timedelta(seconds=duration)
        held = index.conflicts(table.satellite(i), start, end, gap_s)
        if not held:
            free.append(Slot(table[i], start, end, duration))
        elif priority == "COMMERCIAL" and all(
            b.priority == "BACKGROUND" and not b.locked and b.start > not_before for b in held
        ):
            displacing.append(Slot(table[i], start, end, duration, tuple(b.task_id for b in held)))
        if len(free) >= limit:
            break
    slots = (free + displacing)[:limit]
    if not slots:
        return Refusal(
            f"no capacity: all {usable.size} passes that satisfy the task in its window are "
            "taken by other tasks",
            capacity=True,
        )
    return slots


def _excluded(kinds: np.ndarray[Any, np.dtype[np.int8]]) -> Counter[str]:
    """Passes per exclusion, counted as a Counter fed pass by pass would (ties keep the order in
    which the exclusions first occur)."""
    present = [k for k in _KIND_WORDS if (kinds == k).any()]
    present.sort(key=lambda k: int(np.argmax(kinds == k)))
    return Counter({_KIND_WORDS[k]: int((kinds == k).sum()) for k in present})


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
