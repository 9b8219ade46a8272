"""Recurring series: the same targets ordered again and again, one window per occurrence (issue 12).

A series is a name, a contract, the options its orders share (a campaign's), its targets, a window
length and a ``Recurrence`` ("every N days" or "on these weekdays", for M occurrences or until a
date). Its occurrences are computed once, when the series is made, and stored with their windows.

ICEYE accepts a window only if it ends at most 14 days after the request (``rules.MAX_AHEAD``), so
the occurrences cannot all be ordered at once. Each is ordered when its window comes within that
reach on the backend's clock (``order_at`` = window end − 14 days + ``ORDER_MARGIN``), never
before, by ``order_due`` (the worker's step, or a page when no worker runs):

1. **Claim**: UPCOMING → ORDERING with a campaign id derived from the series and the occurrence
   (a conditional UPDATE: two processes never both start it);
2. **Campaign**: the occurrence's campaign (``tasking.campaigns``) is recorded with one request
   per target, then run through the journaled campaign path: a kill at any point leaves either no
   campaign (nothing sent; it is made on the next pass) or a campaign whose resume reconciles the
   orders in doubt and sends only what is missing;
3. **Settle**: every target placed (or refused for good) → ORDERED, and people are told once per
   occurrence (a desk notification, unique per task and kind, written before the state); every
   target refused → SKIPPED with ICEYE's reason; a window whose start is no longer a lead time away
   → SKIPPED with that rule. A run cut short (request budget, backend down, orders in doubt)
   leaves the occurrence ORDERING; the next pass resumes it.

A series is ACTIVE (its occurrences are ordered as they fall due), PAUSED (none is started;
one already ORDERING is finished, as any started campaign), CANCELED, or FINISHED (every
occurrence settled). Cancelling cancels the tasks still cancellable, each with its fee tier.

Tables ``series`` and ``series_occurrences`` (revision 0005 of ``tasking/migrations``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from tasking import rules
from tasking.campaigns import CampaignRun, CampaignStatus, TargetState, campaign_requests
from tasking.errors import HistoryError, InputError, TaskingError, Violation
from tasking.models import Contract
from tasking.monitoring import FeeTier, can_cancel, cancellation_fee
from tasking.rules import TaskDraft
from tasking.store import UtcDateTime, guarded, migrate
from tasking.targets import Target
from tasking.times import to_utc

if TYPE_CHECKING:
    from tasking.config import Settings
    from tasking.service import TaskingService

__all__ = [
    "MAX_EVERY_DAYS",
    "MAX_OCCURRENCES",
    "ORDERED_KIND",
    "ORDER_MARGIN",
    "WEEKDAYS",
    "CancelOutcome",
    "CancellableTask",
    "Occurrence",
    "OccurrenceState",
    "Recurrence",
    "Series",
    "SeriesPass",
    "SeriesStatus",
    "SeriesStore",
    "cancel_preview",
    "cancel_series",
    "configured_channels",
    "make_series",
    "order_due",
]

log = logging.getLogger(__name__)

_guarded = guarded("series store")

MAX_OCCURRENCES = 100
"""At most this many occurrences in one series (about two years weekly): a sane bound on what one
form can order, and on the rows a series writes at once."""
MAX_EVERY_DAYS = 365
ORDER_MARGIN = timedelta(minutes=10)
"""An occurrence is ordered this long after its window end comes within 14 days: a clock read a
little ahead of the server's never makes a request the server finds too far ahead."""
ORDERED_KIND = "accepted"
"""The desk notification's kind when an occurrence was ordered (one per occurrence, keyed on its
first task): the channels' "accepted" (``tasking.notify.NOTICE_KINDS``), which no status change
uses."""
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

RULE_KIND = "recurrence-kind"
RULE_EVERY = "every-n-days"
RULE_WEEKDAYS = "weekdays-required"
RULE_END = "count-or-until"
RULE_COUNT = "occurrence-count"
RULE_UNTIL = "until-after-start"
RULE_MAX = "max-occurrences"
RULE_WINDOW = "series-window-length"
RULE_NAME = "required"
RULE_CONTRACT_END = rules.RULE_CONTRACT_VALIDITY


# --- the recurrence ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recurrence:
    """When a series' windows start: from ``start`` (whose time of day every window keeps),
    every ``every_days`` days or on ``weekdays`` (0 = Monday), ``count`` times or until the date
    ``until`` (inclusive, UTC). Made freely (a form's input); ``violations`` names what is wrong,
    ``starts`` computes the windows' starts (deterministic)."""

    start: datetime
    every_days: int | None = None
    weekdays: tuple[int, ...] = ()
    count: int | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start))
        object.__setattr__(self, "weekdays", tuple(sorted(set(self.weekdays))))

    def violations(self) -> list[Violation]:
        """Every broken rule, each naming it (empty: ``starts`` may be called)."""
        found: list[Violation] = []
        weekly = bool(self.weekdays)
        if self.every_days is not None and weekly:
            found.append(
                Violation(
                    "recurrence",
                    RULE_KIND,
                    f"Choose either every N days or weekdays, not both ({RULE_KIND} rule).",
                )
            )
        elif self.every_days is None and not weekly:
            found.append(
                Violation(
                    "weekdays",
                    RULE_WEEKDAYS,
                    f"Choose every N days, or at least one weekday ({RULE_WEEKDAYS} rule).",
                )
            )
        if self.every_days is not None and not 1 <= self.every_days <= MAX_EVERY_DAYS:
            found.append(
                Violation(
                    "every_days",
                    RULE_EVERY,
                    f"Every N days needs N between 1 and {MAX_EVERY_DAYS}; it is "
                    f"{self.every_days} ({RULE_EVERY} rule).",
                )
            )
        if any(not 0 <= d <= 6 for d in self.weekdays):
            found.append(
                Violation(
                    "weekdays",
                    RULE_WEEKDAYS,
                    f"Weekdays are 0 (Monday) to 6 (Sunday) ({RULE_WEEKDAYS} rule).",
                )
            )
        if (self.count is None) == (self.until is None):
            found.append(
                Violation(
                    "count",
                    RULE_END,
                    "Say how many occurrences, or until which date, one of the two "
                    f"({RULE_END} rule).",
                )
            )
        if self.count is not None and self.count < 1:
            found.append(
                Violation(
                    "count",
                    RULE_COUNT,
                    f"A series needs at least 1 occurrence; it is {self.count} ({RULE_COUNT} rule).",
                )
            )
        if self.count is not None and self.count > MAX_OCCURRENCES:
            found.append(
                Violation(
                    "count",
                    RULE_MAX,
                    f"A series has at most {MAX_OCCURRENCES} occurrences; it is {self.count} "
                    f"({RULE_MAX} rule).",
                )
            )
        if self.until is not None and self.until < self.start.date():
            found.append(
                Violation(
                    "until",
                    RULE_UNTIL,
                    f"The end date {self.until.isoformat()} must not be before the first window's "
                    f"start {self.start.date().isoformat()} ({RULE_UNTIL} rule).",
                )
            )
        if found:
            return found
        starts = self._starts(MAX_OCCURRENCES + 1)
        if not starts:
            found.append(
                Violation(
                    "until",
                    RULE_UNTIL,
                    f"No chosen weekday falls between {self.start.date().isoformat()} and "
                    f"{self.until.isoformat() if self.until else ''} ({RULE_UNTIL} rule).",
                )
            )
        elif len(starts) > MAX_OCCURRENCES:
            found.append(
                Violation(
                    "until",
                    RULE_MAX,
                    f"Until {self.until} this makes more than {MAX_OCCURRENCES} occurrences, the "
                    f"most a series may have ({RULE_MAX} rule).",
                )
            )
        return found

    def check(self) -> None:
        """Raise InputError naming every broken rule."""
        found = self.violations()
        if found:
            raise InputError(found)

    def starts(self) -> list[datetime]:
        """The windows' starts, in order (raises InputError for a broken rule)."""
        self.check()
        return self._starts(MAX_OCCURRENCES)

    def _starts(self, limit: int) -> list[datetime]:
        found: list[datetime] = []
        wanted = self.count if self.count is not None else limit
        if self.every_days is not None:
            step = timedelta(days=self.every_days)
            at = self.start
            while len(found) < min(wanted, limit) and (
                self.until is None or at.date() <= self.until
            ):
                found.append(at)
                at += step
            return found
        day = self.start.date()
        clock = self.start.timetz()
        while len(found) < min(wanted, limit) and (self.until is None or day <= self.until):
            if day.weekday() in self.weekdays:
                found.append(datetime.combine(day, clock).astimezone(UTC))
            day += timedelta(days=1)
        return found

    def describe(self) -> str:
        """E.g. "every 7 days, 6 times" / "on Monday and Thursday until 2026-03-01"."""
        if self.every_days is not None:
            how = "every day" if self.every_days == 1 else f"every {self.every_days} days"
        else:
            names = [WEEKDAYS[d] for d in self.weekdays if 0 <= d <= 6]
            how = "on " + (
                ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
            )
        if self.count is not None:
            return f"{how}, {self.count} time{'s' if self.count != 1 else ''}"
        return f"{how} until {self.until.isoformat() if self.until else '?'}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "start": self.start.isoformat(),
                "everyDays": self.every_days,
                "weekdays": list(self.weekdays),
                "count": self.count,
                "until": self.until.isoformat() if self.until else None,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Recurrence:
        data = json.loads(text)
        return cls(
            start=datetime.fromisoformat(data["start"]),
            every_days=data.get("everyDays"),
            weekdays=tuple(data.get("weekdays") or ()),
            count=data.get("count"),
            until=date.fromisoformat(data["until"]) if data.get("until") else None,
        )


# --- series and occurrences --------------------------------------------------------------------


class SeriesStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    CANCELED = "CANCELED"
    FINISHED = "FINISHED"


class OccurrenceState(enum.StrEnum):
    UPCOMING = "UPCOMING"
    """Its window is not within ICEYE's reach yet (or the series is paused)."""
    ORDERING = "ORDERING"
    """Its campaign is being created (resumed after a restart until every target is settled)."""
    ORDERED = "ORDERED"
    """Its tasks exist (a target refused by ICEYE is named in ``reason``)."""
    SKIPPED = "SKIPPED"
    """Not ordered: ``reason`` says why (its window could no longer be met, ICEYE refused)."""
    CANCELED = "CANCELED"
    """The series was cancelled before it was ordered."""


OPEN_STATES = (OccurrenceState.UPCOMING, OccurrenceState.ORDERING)


@dataclass(frozen=True)
class Occurrence:
    series_id: str
    position: int
    """From 0; shown as ``number``."""
    window_start: datetime
    window_end: datetime
    order_at: datetime
    """When its window comes within ICEYE's reach (backend clock): ordered then, not before."""
    state: OccurrenceState
    campaign_id: str | None = None
    reason: str | None = None
    """Why it was skipped, which targets were refused, or how far its ordering got."""
    ordered_at: datetime | None = None

    @property
    def number(self) -> int:
        return self.position + 1


@dataclass(frozen=True)
class Series:
    id: str
    name: str
    contract_id: str
    created_at: datetime
    options: dict[str, Any]
    """The TaskDraft's shared fields (all but the point, the window and the reference)."""
    targets: tuple[Target, ...]
    window: timedelta
    recurrence: Recurrence
    status: SeriesStatus
    occurrences: tuple[Occurrence, ...] = ()

    def draft(self, occurrence: Occurrence) -> TaskDraft:
        return TaskDraft(
            **self.options,
            lat=None,
            lon=None,
            window_start=occurrence.window_start,
            window_end=occurrence.window_end,
            reference=None,
        )

    def next_occurrence(self) -> Occurrence | None:
        """The first occurrence not settled yet (ORDERING or UPCOMING)."""
        return next((o for o in self.occurrences if o.state in OPEN_STATES), None)

    def occurrence(self, position: int) -> Occurrence | None:
        return next((o for o in self.occurrences if o.position == position), None)


_SHARED_NOT = ("lat", "lon", "window_start", "window_end", "reference")


def _options(draft: TaskDraft) -> dict[str, Any]:
    values = dataclasses.asdict(draft)
    for name in _SHARED_NOT:
        values.pop(name)
    return values


def occurrence_windows(
    recurrence: Recurrence, window: timedelta
) -> list[tuple[datetime, datetime, datetime]]:
    """(start, end, order_at) per occurrence."""
    return [
        (start, start + window, start + window - rules.MAX_AHEAD + ORDER_MARGIN)
        for start in recurrence.starts()
    ]


def window_limits(priority: str) -> tuple[timedelta, timedelta]:
    """The shortest and longest window a series may have: ICEYE's 24 h, and short enough that a
    window ordered as soon as it ends within 14 days still starts a lead time later."""
    return rules.MIN_WINDOW, rules.MAX_AHEAD - rules.lead_time(priority) - ORDER_MARGIN


def make_series(
    series_id: str,
    name: str,
    draft: TaskDraft,
    targets: Sequence[Target],
    contract: Contract,
    window: timedelta,
    recurrence: Recurrence,
    now: datetime,
) -> Series:
    """Check a series and compute its occurrences; raises InputError naming every broken rule
    (the recurrence's, the window's, and each target's as a campaign checks it), nothing made."""
    found: list[Violation] = []
    if not name.strip():
        found.append(Violation("name", RULE_NAME, "The series needs a name (required rule)."))
    found.extend(recurrence.violations())
    priority = rules.effective_priority(draft.priority, contract)
    shortest, longest = window_limits(priority)
    if not shortest <= window <= longest:
        found.append(
            Violation(
                "window",
                RULE_WINDOW,
                f"Each window must be between 24 h and {_days(longest)} wide for {priority} "
                "priority, so it can be ordered within ICEYE's 14-day reach and still start a "
                f"lead time later; it is {_days(window)} ({RULE_WINDOW} rule).",
            )
        )
    if found:
        raise InputError(found)
    windows = occurrence_windows(recurrence, window)
    first_start, first_end, first_order = windows[0]
    lead = rules.lead_time(priority)
    if first_start < to_utc(now) + lead:
        found.append(
            Violation(
                "start",
                rules.RULE_LEAD_TIME,
                f"The first window must start at least {lead.total_seconds() / 3600:.0f} h after "
                f"now for {priority} priority ({rules.RULE_LEAD_TIME} rule).",
            )
        )
    last_order = max(to_utc(now), windows[-1][2])
    if contract.end is not None and last_order > contract.end:
        found.append(
            Violation(
                "recurrence",
                RULE_CONTRACT_END,
                f"Contract {contract.name or contract.id} ends on {contract.end:%Y-%m-%d}, before "
                f"the last occurrence would be ordered ({last_order:%Y-%m-%d}) "
                f"({RULE_CONTRACT_END} rule).",
            )
        )
    if found:
        raise InputError(found)
    # The targets and options, as a campaign of the first occurrence checks them when it is due.
    checked_at = max(to_utc(now), first_order)
    probe = dataclasses.replace(draft, window_start=first_start, window_end=first_end)
    campaign_requests(series_id, name, probe, targets, contract, checked_at)
    occurrences = tuple(
        Occurrence(series_id, i, start, end, order_at, OccurrenceState.UPCOMING)
        for i, (start, end, order_at) in enumerate(windows)
    )
    return Series(
        id=series_id,
        name=name.strip(),
        contract_id=contract.id,
        created_at=to_utc(now),
        options=_options(draft),
        targets=tuple(targets),
        window=window,
        recurrence=recurrence,
        status=SeriesStatus.ACTIVE,
        occurrences=occurrences,
    )


def _days(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.1f} days".replace(".0 days", " days")


def campaign_id_for(series_id: str, position: int) -> str:
    """The occurrence's campaign id: the same on every pass and in every process."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"iceye-series:{series_id}/{position}"))


# --- the store ---------------------------------------------------------------------------------

metadata = MetaData()
"""The series tables as the queries see them; ``tasking/migrations`` (0005) makes them so."""
_series = Table(
    "series",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", Text, nullable=False),
    Column("contract_id", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("options", Text, nullable=False),
    Column("targets", Text, nullable=False),
    Column("window_s", Integer, nullable=False),
    Column("recurrence", Text, nullable=False),
    Column("status", String(16), nullable=False),
)
_occurrences = Table(
    "series_occurrences",
    metadata,
    Column(
        "series_id",
        String(36),
        ForeignKey("series.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("order_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("campaign_id", String(36), nullable=True),
    Column("reason", Text, nullable=True),
    Column("ordered_at", UtcDateTime, nullable=True),
    Index("ix_series_occurrences_due", "state", "order_at"),
)


class SeriesStore:
    """Series and their occurrences in the local store; thread-safe, shared by every session.
    Every state change is a conditional UPDATE (the state it leaves in the WHERE): two processes
    racing on one occurrence leave one winner."""

    @_guarded
    def __init__(
        self,
        engine: Engine,
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.ordering = threading.Lock()
        """Held by the ``order_due`` under way in this process: the sessions of one app never
        order side by side (across processes the claim and the journal keep orders single)."""
        self.new_id = new_id
        migrate(engine)

    @_guarded
    def add(self, series: Series) -> Series:
        row = {
            "id": series.id,
            "name": series.name,
            "contract_id": series.contract_id,
            "created_at": series.created_at,
            "options": json.dumps(series.options, sort_keys=True),
            "targets": json.dumps(
                [{"name": t.name, "lat": t.lat, "lon": t.lon, "row": t.row} for t in series.targets]
            ),
            "window_s": int(series.window.total_seconds()),
            "recurrence": series.recurrence.to_json(),
            "status": series.status.value,
        }
        rows = [
            {
                "series_id": series.id,
                "position": o.position,
                "window_start": o.window_start,
                "window_end": o.window_end,
                "order_at": o.order_at,
                "state": o.state.value,
            }
            for o in series.occurrences
        ]
        with self._lock, self._engine.begin() as conn:
            conn.execute(insert(_series).values(**row))
            conn.execute(insert(_occurrences), rows)
        made = self.get(series.id)
        if made is None:
            raise HistoryError("The series store lost the series it just recorded")
        return made

    @_guarded
    def get(self, series_id: str) -> Series | None:
        with self._engine.connect() as conn:
            head = conn.execute(select(_series).where(_series.c.id == series_id)).mappings().first()
            if head is None:
                return None
            rows = list(
                conn.execute(
                    select(_occurrences)
                    .where(_occurrences.c.series_id == series_id)
                    .order_by(_occurrences.c.position)
                ).mappings()
            )
        try:
            return Series(
                id=head["id"],
                name=head["name"],
                contract_id=head["contract_id"],
                created_at=head["created_at"],
                options=json.loads(head["options"]),
                targets=tuple(Target(**t) for t in json.loads(head["targets"])),
                window=timedelta(seconds=head["window_s"]),
                recurrence=Recurrence.from_json(head["recurrence"]),
                status=SeriesStatus(head["status"]),
                occurrences=tuple(_occurrence_of(r) for r in rows),
            )
        except (ValueError, TypeError, KeyError) as error:
            raise HistoryError(
                f"The series store has a series it cannot read ({series_id}): "
                f"{type(error).__name__}"
            ) from None

    @_guarded
    def ids(self) -> list[str]:
        """Every series' id, newest first."""
        with self._engine.connect() as conn:
            return list(
                conn.execute(select(_series.c.id).order_by(_series.c.created_at.desc()))
                .scalars()
                .all()
            )

    @_guarded
    def due(self, now: datetime, *, resume: bool = True) -> list[tuple[str, int]]:
        """(series id, position) to work on now, oldest window first: every ORDERING occurrence
        (a run to finish, whatever the series' state; unless ``resume`` is False), and the
        UPCOMING ones of ACTIVE series whose window is within reach."""
        upcoming = (
            (_occurrences.c.state == OccurrenceState.UPCOMING.value)
            & (_occurrences.c.order_at <= now)
            & (_series.c.status == SeriesStatus.ACTIVE.value)
        )
        ordering = _occurrences.c.state == OccurrenceState.ORDERING.value
        query = (
            select(_occurrences.c.series_id, _occurrences.c.position)
            .join(_series, _series.c.id == _occurrences.c.series_id)
            .where((ordering | upcoming) if resume else upcoming)
            .order_by(_occurrences.c.window_start, _occurrences.c.series_id)
        )
        with self._engine.connect() as conn:
            return [(r.series_id, r.position) for r in conn.execute(query)]

    @_guarded
    def next_due_at(self) -> datetime | None:
        """When the next UPCOMING occurrence of an ACTIVE series falls due (backend clock)."""
        query = (
            select(_occurrences.c.order_at)
            .join(_series, _series.c.id == _occurrences.c.series_id)
            .where(
                _occurrences.c.state == OccurrenceState.UPCOMING.value,
                _series.c.status == SeriesStatus.ACTIVE.value,
            )
            .order_by(_occurrences.c.order_at)
            .limit(1)
        )
        with self._engine.connect() as conn:
            return conn.execute(query).scalar()

    @_guarded
    def move(
        self,
        series_id: str,
        position: int,
        from_states: Sequence[OccurrenceState],
        to: OccurrenceState,
        **values: Any,
    ) -> bool:
        """Change an occurrence's state if it is still in one of ``from_states``; False when
        another writer moved it first (nothing written then)."""
        where = (
            (_occurrences.c.series_id == series_id)
            & (_occurrences.c.position == position)
            & _occurrences.c.state.in_([s.value for s in from_states])
        )
        with self._lock, self._engine.begin() as conn:
            return bool(
                conn.execute(
                    update(_occurrences).where(where).values(state=to.value, **values)
                ).rowcount
            )

    @_guarded
    def note(self, series_id: str, position: int, reason: str | None) -> None:
        where = (_occurrences.c.series_id == series_id) & (_occurrences.c.position == position)
        with self._lock, self._engine.begin() as conn:
            conn.execute(update(_occurrences).where(where).values(reason=reason))

    @_guarded
    def set_status(
        self, series_id: str, to: SeriesStatus, from_statuses: Sequence[SeriesStatus]
    ) -> bool:
        where = (_series.c.id == series_id) & _series.c.status.in_([s.value for s in from_statuses])
        with self._lock, self._engine.begin() as conn:
            return bool(conn.execute(update(_series).where(where).values(status=to.value)).rowcount)

    @_guarded
    def cancel_open(self, series_id: str) -> int:
        """Every UPCOMING or ORDERING occurrence → CANCELED; returns how many."""
        where = (_occurrences.c.series_id == series_id) & _occurrences.c.state.in_(
            [s.value for s in OPEN_STATES]
        )
        with self._lock, self._engine.begin() as conn:
            return int(
                conn.execute(
                    update(_occurrences)
                    .where(where)
                    .values(state=OccurrenceState.CANCELED.value, reason="The series was cancelled")
                ).rowcount
            )

    def finish_if_done(self, series_id: str) -> None:
        """ACTIVE or PAUSED with every occurrence settled → FINISHED."""
        series = self.get(series_id)
        if series is not None and series.next_occurrence() is None:
            self.set_status(
                series_id, SeriesStatus.FINISHED, (SeriesStatus.ACTIVE, SeriesStatus.PAUSED)
            )


def _occurrence_of(row: Any) -> Occurrence:
    return Occurrence(
        series_id=row["series_id"],
        position=row["position"],
        window_start=row["window_start"],
        window_end=row["window_end"],
        order_at=row["order_at"],
        state=OccurrenceState(row["state"]),
        campaign_id=row["campaign_id"],
        reason=row["reason"],
        ordered_at=row["ordered_at"],
    )


# --- ordering ------------------------------------------------------------------------------------


class _Stop(Exception):
    """Raised from a campaign's progress callback: no room left in the request budget."""


@dataclass
class SeriesPass:
    """What one ``order_due`` did."""

    ordered: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[tuple[str, int]] = field(default_factory=list)
    waiting: list[tuple[str, int]] = field(default_factory=list)
    """Still ORDERING (budget, backend down, an order in doubt): the next pass resumes them."""
    sent: int = 0
    stopped: bool = False
    """The request budget ran out: the rest waits for the next pass."""


def configured_channels(settings: Settings) -> list[str]:
    """The delivery channels the worker sends through (as ``tasking.worker.core._senders``)."""
    from tasking.notify import EmailSettings, WebhookSettings

    channels = []
    if EmailSettings.from_settings(settings) is not None:
        channels.append("email")
    if WebhookSettings.from_settings(settings) is not None:
        channels.append("webhook")
    return channels


def order_due(
    service: TaskingService,
    store: SeriesStore,
    *,
    may_send: Callable[[], bool] | None = None,
    channels: Sequence[str] | None = None,
    resume: bool = True,
) -> SeriesPass:
    """Order every occurrence whose window is within reach and finish those left ORDERING
    (module doc). ``may_send()`` is asked before each create (the worker's request budget); when
    it says no, the run stops and the occurrence stays ORDERING. ``resume=False``: only the
    occurrences falling due, not those left ORDERING (whose orders in doubt cost lookups: the
    worker resumes them less often). Never raises for one
    occurrence's failure (logged, tried again on the next pass); raises HistoryError only when the
    store cannot be read at all."""
    done = SeriesPass()
    if not store.ordering.acquire(blocking=False):
        return done  # another session of this process is ordering: it sees the same occurrences
    try:
        return _order_due(service, store, done, may_send, channels, resume)
    finally:
        store.ordering.release()


def _order_due(
    service: TaskingService,
    store: SeriesStore,
    done: SeriesPass,
    may_send: Callable[[], bool] | None,
    channels: Sequence[str] | None,
    resume: bool,
) -> SeriesPass:
    due = store.due(service.now(), resume=resume)
    if not due:
        return done
    # An order made on an extrapolated clock could be early: read the backend's clock first.
    service.refresh_clock()
    now = service.now()
    due = store.due(now, resume=resume)
    if channels is None:
        channels = configured_channels(service.settings)
    contracts: dict[str, Contract] = {}
    for series_id, position in due:
        if may_send is not None and not may_send():
            done.stopped = True
            break
        try:
            outcome = _order_one(
                service, store, series_id, position, now, contracts, may_send, channels
            )
        except _Stop:
            done.stopped = True
            done.waiting.append((series_id, position))
            break
        except TaskingError as error:
            log.warning(
                "series %s occurrence %d: not ordered now: %s", series_id, position + 1, error
            )
            done.waiting.append((series_id, position))
            continue
        if outcome is None:
            continue
        state, sent = outcome
        done.sent += sent
        {
            OccurrenceState.ORDERED: done.ordered,
            OccurrenceState.SKIPPED: done.skipped,
        }.get(state, done.waiting).append((series_id, position))
    return done


def _order_one(
    service: TaskingService,
    store: SeriesStore,
    series_id: str,
    position: int,
    now: datetime,
    contracts: dict[str, Contract],
    may_send: Callable[[], bool] | None,
    channels: Sequence[str],
) -> tuple[OccurrenceState, int] | None:
    series = store.get(series_id)
    occurrence = series.occurrence(position) if series is not None else None
    if series is None or occurrence is None or occurrence.state not in OPEN_STATES:
        return None
    campaign_id = occurrence.campaign_id or campaign_id_for(series_id, position)
    campaigns = service.campaigns
    if campaigns.get(campaign_id) is None:
        # Nothing was sent for it yet: build its campaign (checked by the rules at ``now``).
        if series.contract_id not in contracts:
            contracts[series.contract_id] = service.client.get_contract(series.contract_id)
        contract = contracts[series.contract_id]
        label = f"{series.name} #{occurrence.number}"
        try:
            requests = campaign_requests(
                campaign_id, label, series.draft(occurrence), series.targets, contract, now
            )
        except InputError as error:
            rules_broken = {v.rule for v in error.violations}
            if rules_broken == {rules.RULE_MAX_AHEAD}:
                return None  # not within reach on the server's clock yet: the next pass
            reason = _skip_reason(error, occurrence, now)
            if store.move(series_id, position, OPEN_STATES, OccurrenceState.SKIPPED, reason=reason):
                log.info(
                    "series %s occurrence %d skipped: %s", series_id, occurrence.number, reason
                )
                store.finish_if_done(series_id)
            return OccurrenceState.SKIPPED, 0
        if occurrence.state is OccurrenceState.UPCOMING and not store.move(
            series_id,
            position,
            (OccurrenceState.UPCOMING,),
            OccurrenceState.ORDERING,
            campaign_id=campaign_id,
        ):
            return None  # another process started it
        try:
            campaigns.create(campaign_id, label, series.targets, requests)
        except HistoryError:
            if campaigns.get(campaign_id) is None:
                raise
            # Another process recorded it in between: its run (or ours, now) goes on from there.
    elif occurrence.state is OccurrenceState.UPCOMING:
        store.move(
            series_id,
            position,
            (OccurrenceState.UPCOMING,),
            OccurrenceState.ORDERING,
            campaign_id=campaign_id,
        )

    def check_budget(settled: int, total: int, result: Any) -> None:
        if settled < total and may_send is not None and not may_send():
            raise _Stop

    try:
        run = service.resume_campaign(campaign_id, on_progress=check_budget)
    except _Stop:
        _note_progress(service, store, series_id, position, campaign_id, "the request budget")
        raise
    return _settle(service, store, series, occurrence, run, channels), run.sent


def _skip_reason(error: InputError, occurrence: Occurrence, now: datetime) -> str:
    if any(v.rule == rules.RULE_LEAD_TIME for v in error.violations):
        return (
            f"Its window (from {occurrence.window_start:%Y-%m-%d %H:%M} UTC) could no longer be "
            f"met: it was due to be ordered at {occurrence.order_at:%Y-%m-%d %H:%M} UTC, and at "
            f"{now:%Y-%m-%d %H:%M} UTC it starts less than a lead time away."
        )
    broken = "; ".join(rules.user_message(v) for v in error.violations)
    return f"Its orders break the input rules now: {broken}"


def _note_progress(
    service: TaskingService,
    store: SeriesStore,
    series_id: str,
    position: int,
    campaign_id: str,
    waiting_for: str,
) -> None:
    try:
        campaign = service.campaigns.get(campaign_id)
        placed = sum(1 for t in campaign.targets if t.task_id) if campaign else 0
        total = len(campaign.targets) if campaign else 0
        store.note(
            series_id,
            position,
            f"{placed} of {total} tasks ordered; the rest when {waiting_for} allows",
        )
    except HistoryError as error:
        log.warning(
            "series %s occurrence %d: progress not noted: %s", series_id, position + 1, error
        )


def _settle(
    service: TaskingService,
    store: SeriesStore,
    series: Series,
    occurrence: Occurrence,
    run: CampaignRun,
    channels: Sequence[str],
) -> OccurrenceState:
    placed = [r for r in run.results if r.state is TargetState.PLACED and r.task_id]
    refused = [r for r in run.results if r.state is TargetState.REFUSED]
    if run.campaign.status is CampaignStatus.CREATING:
        _note_progress(
            service,
            store,
            series.id,
            occurrence.position,
            run.campaign.id,
            "the backend answers and the orders in doubt are settled",
        )
        return OccurrenceState.ORDERING
    if not placed:
        reason = "ICEYE refused every target: " + "; ".join(
            sorted({r.error or "no reason given" for r in refused})
        )
        if store.move(
            series.id, occurrence.position, OPEN_STATES, OccurrenceState.SKIPPED, reason=reason
        ):
            store.finish_if_done(series.id)
            return OccurrenceState.SKIPPED
        return _after_cancel(service, store, series, occurrence, placed)
    note: str | None = None
    if refused:
        note = f"{len(refused)} of {len(run.results)} targets refused: " + "; ".join(
            f"{r.name}: {r.error}" for r in refused[:5]
        )
    _tell(service, series, occurrence, [r.task_id for r in placed if r.task_id], channels)
    if store.move(
        series.id,
        occurrence.position,
        (OccurrenceState.ORDERING, OccurrenceState.UPCOMING),
        OccurrenceState.ORDERED,
        reason=note,
        ordered_at=service.now(),
    ):
        store.finish_if_done(series.id)
        log.info(
            "series %s occurrence %d ordered: %d tasks", series.id, occurrence.number, len(placed)
        )
        return OccurrenceState.ORDERED
    return _after_cancel(service, store, series, occurrence, placed)


def _after_cancel(
    service: TaskingService,
    store: SeriesStore,
    series: Series,
    occurrence: Occurrence,
    placed: Sequence[Any],
) -> OccurrenceState:
    """The series was cancelled while this occurrence was being ordered: its tasks made meanwhile
    are cancelled too (best-effort; the series view lists what is left)."""
    current = store.get(series.id)
    now_state = current.occurrence(occurrence.position) if current else None
    if now_state is not None and now_state.state is OccurrenceState.CANCELED:
        for result in placed:
            try:
                service.cancel_task(result.task_id)
            except TaskingError as error:
                log.warning(
                    "task %s of a cancelled series not cancelled: %s", result.task_id, error
                )
        return OccurrenceState.CANCELED
    return now_state.state if now_state is not None else OccurrenceState.CANCELED


def _tell(
    service: TaskingService,
    series: Series,
    occurrence: Occurrence,
    task_ids: Sequence[str],
    channels: Sequence[str],
) -> None:
    """Tell people the occurrence was ordered, once: the desk's notification is unique per task
    and kind, and is keyed on the occurrence's first task (the same on every pass)."""
    if service.desk is None or not task_ids:
        return
    from tasking.desk import NewNotification

    first = sorted(task_ids)[0]
    count = len(task_ids)
    title = f"Series ordered: {series.name} #{occurrence.number}"
    text = (
        f"{count} task{'s' if count != 1 else ''} ordered for the window "
        f"{occurrence.window_start:%Y-%m-%d %H:%M} – {occurrence.window_end:%Y-%m-%d %H:%M} UTC "
        f"(occurrence {occurrence.number} of {len(series.occurrences)}, "
        f"{series.recurrence.describe()})."
    )
    try:
        service.desk.tell(
            first,
            status="RECEIVED",
            notification=NewNotification(ORDERED_KIND, title, text, service.now()),
            channels=channels,
        )
    except TaskingError as error:
        log.warning(
            "series %s occurrence %d: notification not written: %s",
            series.id,
            occurrence.number,
            error,
        )


# --- cancelling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancellableTask:
    occurrence: int
    """The occurrence's number (from 1)."""
    target: str
    task_id: str
    status: str
    window_start: datetime
    fee: FeeTier
    """The fee for cancelling it now (ICEYE product specification §3.6)."""


@dataclass(frozen=True)
class CancelOutcome:
    task: CancellableTask
    canceled: bool
    error: str | None = None


def series_tasks(service: TaskingService, series: Series) -> list[tuple[Occurrence, str, str]]:
    """(occurrence, target name, task id) of every task the series made, in order."""
    found: list[tuple[Occurrence, str, str]] = []
    for occurrence in series.occurrences:
        if occurrence.campaign_id is None:
            continue
        campaign = service.campaigns.get(occurrence.campaign_id)
        if campaign is None:
            continue
        found.extend(
            (occurrence, t.name, t.task_id) for t in campaign.targets if t.task_id is not None
        )
    return found


def task_statuses(service: TaskingService, task_ids: Sequence[str]) -> dict[str, str]:
    """What the store knows of each task's status: the worker's desk, else the history."""
    statuses: dict[str, str] = {}
    if service.desk is not None:
        try:
            for task_id, followed in service.desk.followed_many(task_ids).items():
                if followed.status:
                    statuses[task_id] = followed.status
        except TaskingError as error:
            log.warning("task statuses not read from the desk: %s", error)
    for task_id in task_ids:
        if task_id in statuses:
            continue
        try:
            task = service.history.get(task_id)
        except TaskingError:
            task = None
        if task is not None:
            statuses[task_id] = str(task.status)
    return statuses


def cancel_preview(service: TaskingService, series: Series, now: datetime) -> list[CancellableTask]:
    """The series' tasks that can still be cancelled (RECEIVED or ACTIVE as the store knows
    them), each with the fee tier a cancel now costs."""
    made = series_tasks(service, series)
    statuses = task_statuses(service, [task_id for _, _, task_id in made])
    return [
        CancellableTask(
            occurrence.number,
            target,
            task_id,
            statuses.get(task_id, "RECEIVED"),
            occurrence.window_start,
            cancellation_fee(now, occurrence.window_start),
        )
        for occurrence, target, task_id in made
        if can_cancel(statuses.get(task_id, "RECEIVED"))
    ]


def cancel_series(
    service: TaskingService, store: SeriesStore, series_id: str
) -> list[CancelOutcome]:
    """Cancel the series: nothing more is ordered, and every task still cancellable is cancelled
    (``service.cancel_task``), each reported with its fee tier. Raises HistoryError when the
    series is unknown or cannot be recorded as cancelled (nothing is cancelled then)."""
    series = store.get(series_id)
    if series is None:
        raise HistoryError(f"The series store has no series {series_id}")
    store.set_status(series_id, SeriesStatus.CANCELED, (SeriesStatus.ACTIVE, SeriesStatus.PAUSED))
    store.cancel_open(series_id)
    now = service.now()
    outcomes = []
    for item in cancel_preview(service, series, now):
        try:
            task = service.cancel_task(item.task_id)
        except TaskingError as error:
            outcomes.append(CancelOutcome(item, False, error.message))
            continue
        outcomes.append(
            CancelOutcome(
                dataclasses.replace(item, status=str(task.status)),
                str(task.status) == "CANCELED",
            )
        )
        if service.desk is not None:
            with contextlib.suppress(TaskingError):
                service.desk.hint(item.task_id)
    return outcomes


def start_of_day(day: date, at: time) -> datetime:
    """``day`` at ``at`` (UTC): a form's date and time as the first window's start."""
    return datetime.combine(day, at).replace(tzinfo=UTC)
