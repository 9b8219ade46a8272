"""What a pass is, the task options that exclude one, and passes kept as columns.

``tasking.passes`` predicts passes into a ``PassTable``: about 60 bytes a pass instead of about 600
for a list of ``Pass`` objects, and judged against a task's options without making an object of
each (the sandbox's planner makes one for each slot it returns).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "FLAG_ASCENDING",
    "FLAG_LEFT",
    "KIND_INCIDENCE",
    "KIND_LOOK",
    "KIND_PASS",
    "Constraints",
    "Pass",
    "PassTable",
    "exclusion_reason",
    "feasible_passes",
]

I64 = npt.NDArray[np.int64]
IntP = npt.NDArray[np.intp]
F64 = npt.NDArray[np.float64]
_US = timedelta(microseconds=1)

# The columns of ``PassTable``'s values, and its flag bits.
_INCIDENCE, _OFF_NADIR, _SLANT, _HEADING, _SUB_LAT, _SUB_LON = range(6)
FLAG_LEFT, FLAG_ASCENDING = 1, 2

# Why a pass is excluded (``PassTable.exclusion_kinds``): 0 = it satisfies the constraints.
KIND_INCIDENCE, KIND_LOOK, KIND_PASS = 1, 2, 3


@dataclass(frozen=True)
class Pass:
    """One imaging opportunity: the zero-Doppler instant of one satellite over one point."""

    satellite: str
    time: datetime  # aware UTC, zero-Doppler (closest approach, broadside)
    incidence: float  # deg at the target, 90° − elevation over the geodetic normal
    look_side: str  # "LEFT" | "RIGHT"
    pass_direction: str  # "ASCENDING" | "DESCENDING"
    off_nadir: float  # deg at the satellite, from its geocentric nadir
    slant_range_km: float
    heading: float  # deg clockwise from north of the ground track at `time`
    sub_lat: float
    sub_lon: float


@dataclass(frozen=True)
class Constraints:
    """The geometry options of a task (ICEYE createTask: incidenceAngle, lookSide, passDirection)."""

    incidence_min: float
    incidence_max: float
    look_side: str = "ANY"
    pass_direction: str = "ANY"


class PassTable(Sequence[Pass]):
    """Passes as columns, in order; a ``Pass`` is made each time one is read.

    Per pass: its satellite (an index into ``names``), its time in microseconds after ``origin``,
    six values (incidence, off-nadir, slant range, heading, sub-satellite latitude and longitude)
    and flags (``FLAG_LEFT``, ``FLAG_ASCENDING``). About 60 bytes a pass instead of about 600 for
    a list of objects: what the sandbox caches. Read-only and shared between threads.
    """

    __slots__ = ("_flags", "_names", "_objects", "_sat", "_t_us", "_values", "origin")

    def __init__(
        self,
        names: tuple[str, ...],
        origin: datetime,
        sat: npt.NDArray[np.int32],
        t_us: I64,
        values: F64,
        flags: npt.NDArray[np.uint8],
        objects: Sequence[Pass] | None = None,
    ) -> None:
        self._names = names
        self.origin = origin  # the passes' times are microseconds after it
        self._sat, self._t_us, self._values, self._flags = sat, t_us, values, flags
        self._objects = objects  # the passes themselves, when the table was made from them

    @classmethod
    def empty(cls, names: tuple[str, ...] = (), origin: datetime | None = None) -> PassTable:
        return cls(
            names,
            origin or datetime(1970, 1, 1, tzinfo=UTC),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros((0, 6)),
            np.zeros(0, np.uint8),
        )

    @classmethod
    def from_passes(cls, passes: Sequence[Pass]) -> PassTable:
        """A table of existing passes, in their order (the passes are returned as they are)."""
        if isinstance(passes, PassTable):
            return passes
        passes = list(passes)
        if not passes:
            return cls.empty()
        names = tuple(dict.fromkeys(p.satellite for p in passes))
        index = {name: i for i, name in enumerate(names)}
        origin = passes[0].time
        values = [
            (p.incidence, p.off_nadir, p.slant_range_km, p.heading, p.sub_lat, p.sub_lon)
            for p in passes
        ]
        flags = [
            (FLAG_LEFT if p.look_side == "LEFT" else 0)
            | (FLAG_ASCENDING if p.pass_direction == "ASCENDING" else 0)
            for p in passes
        ]
        return cls(
            names,
            origin,
            np.array([index[p.satellite] for p in passes], np.int32),
            np.array([(p.time - origin) // _US for p in passes], np.int64),
            np.array(values, np.float64),
            np.array(flags, np.uint8),
            passes,
        )

    def __len__(self) -> int:
        return int(self._t_us.size)

    @overload
    def __getitem__(self, index: int) -> Pass: ...

    @overload
    def __getitem__(self, index: slice) -> PassTable: ...

    def __getitem__(self, index: int | slice) -> Pass | PassTable:
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        i = range(len(self))[index]  # IndexError and negative indices as a list has them
        if self._objects is not None:
            return self._objects[i]
        row = self._values[i]
        flags = int(self._flags[i])
        return Pass(
            satellite=self._names[int(self._sat[i])],
            time=self.origin + timedelta(microseconds=int(self._t_us[i])),
            incidence=float(row[_INCIDENCE]),
            look_side="LEFT" if flags & FLAG_LEFT else "RIGHT",
            pass_direction="ASCENDING" if flags & FLAG_ASCENDING else "DESCENDING",
            off_nadir=float(row[_OFF_NADIR]),
            slant_range_km=float(row[_SLANT]),
            heading=float(row[_HEADING]),
            sub_lat=float(row[_SUB_LAT]),
            sub_lon=float(row[_SUB_LON]),
        )

    def __iter__(self) -> Iterator[Pass]:
        if self._objects is not None:
            return iter(self._objects)
        return iter(self.to_list())

    def to_list(self) -> list[Pass]:
        """Every pass as an object (plain Python lists: per-element numpy conversion would
        dominate for thousands of passes)."""
        if self._objects is not None:
            return list(self._objects)
        origin, names = self.origin, self._names
        flags = self._flags.tolist()
        return [
            Pass(
                satellite=names[sat],
                time=origin + timedelta(microseconds=t),
                incidence=row[_INCIDENCE],
                look_side="LEFT" if flag & FLAG_LEFT else "RIGHT",
                pass_direction="ASCENDING" if flag & FLAG_ASCENDING else "DESCENDING",
                off_nadir=row[_OFF_NADIR],
                slant_range_km=row[_SLANT],
                heading=row[_HEADING],
                sub_lat=row[_SUB_LAT],
                sub_lon=row[_SUB_LON],
            )
            for sat, t, row, flag in zip(
                self._sat.tolist(), self._t_us.tolist(), self._values.tolist(), flags, strict=True
            )
        ]

    def take(self, index: IntP) -> PassTable:
        """The passes at ``index`` (positions), in that order."""
        objects = None if self._objects is None else [self._objects[i] for i in index.tolist()]
        return PassTable(
            self._names,
            self.origin,
            self._sat[index],
            self._t_us[index],
            self._values[index],
            self._flags[index],
            objects,
        )

    @property
    def nbytes(self) -> int:
        arrays = (self._sat, self._t_us, self._values, self._flags)
        held = sum(a.nbytes for a in arrays) + 4 * 112  # + the arrays' own headers
        return held if self._objects is None else held + 600 * len(self._objects)

    def satellite(self, i: int) -> str:
        return self._names[int(self._sat[i])]

    def offsets_us(self) -> I64:
        """Each pass's time as microseconds after ``origin`` (read-only)."""
        return self._t_us

    def offset_us(self, t: datetime) -> int:
        """``t`` as microseconds after ``origin``: exact, like the passes' own offsets."""
        return (t - self.origin) // _US

    def at_offset(self, offset_us: int) -> datetime:
        return self.origin + timedelta(microseconds=offset_us)

    def exclusion_kinds(self, c: Constraints) -> npt.NDArray[np.int8]:
        """Per pass, the first option that excludes it (``exclusion_reason``'s order), as
        0 (none), ``KIND_INCIDENCE``, ``KIND_LOOK`` or ``KIND_PASS``."""
        if self._objects is not None:
            reasons = [exclusion_reason(p, c) for p in self._objects]
            return np.array([_KIND_OF_WORD[r.split()[0]] if r else 0 for r in reasons], np.int8)
        incidence = self._values[:, _INCIDENCE]
        left = (self._flags & FLAG_LEFT) != 0
        ascending = (self._flags & FLAG_ASCENDING) != 0
        kinds = np.zeros(len(self), np.int8)
        kinds[~((c.incidence_min <= incidence) & (incidence <= c.incidence_max))] = KIND_INCIDENCE
        if c.look_side != "ANY":
            wrong = {"LEFT": ~left, "RIGHT": left}.get(c.look_side, np.ones_like(left))
            kinds[(kinds == 0) & wrong] = KIND_LOOK
        if c.pass_direction != "ANY":
            wrong = {"ASCENDING": ~ascending, "DESCENDING": ascending}.get(
                c.pass_direction, np.ones_like(ascending)
            )
            kinds[(kinds == 0) & wrong] = KIND_PASS
        return kinds


_KIND_OF_WORD = {"incidence": KIND_INCIDENCE, "look": KIND_LOOK, "pass": KIND_PASS}


def exclusion_reason(p: Pass, c: Constraints) -> str | None:
    """None if the pass satisfies the constraints, else the option that excludes it."""
    if not c.incidence_min <= p.incidence <= c.incidence_max:
        return f"incidence {p.incidence:.1f}° outside {c.incidence_min:g}–{c.incidence_max:g}°"
    if c.look_side != "ANY" and p.look_side != c.look_side:
        return f"look side {p.look_side}, task asks {c.look_side}"
    if c.pass_direction != "ANY" and p.pass_direction != c.pass_direction:
        return f"pass {p.pass_direction}, task asks {c.pass_direction}"
    return None


def feasible_passes(passes: Sequence[Pass], c: Constraints) -> list[Pass]:
    """The passes that satisfy the constraints, in their original order."""
    return [p for p in passes if exclusion_reason(p, c) is None]
