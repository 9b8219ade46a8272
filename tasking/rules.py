"""Input rules checked before any call: one set of rules for the form, the client and the sandbox.

Every refusal is a ``Violation(field, rule, message)``; ``rule`` is one of the ``RULE_*`` names below.
The message ends by naming the rule id, for logs and API error bodies; ``user_message`` gives the same
sentence without it, for people (a page shows what to do, not an internal id). ``check_draft`` speaks the form's field
names (``TaskDraft``), ``check_request`` the wire names (``acquisitionWindow.start``): the same checks
run on both, because ``check_request`` converts the wire request to a draft first.

Sources: ``reference/iceye-api.md`` §6.1 (compiled rules), §4.1 (derivatives), ``seeds/`` (feasibility
page: window rules, incidence presets), ICEYE Product Specification 6.0.5 Table 3-2 (lead times).
SLA pairings (PSPEC tasking.md §3.7.3 and Table 3-2, compiled in ``reference/iceye-fleet-modes.md``
§3.1–3.2) are checked on the hours an SLA literal promises (``modes.sla_hours``), never on the literals
themselves: they differ between sources and contracts. An SLA whose hours cannot be read gets no
pairing rule (the contract's allowed list still applies).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final, TypeGuard

from tasking import modes
from tasking.errors import InputError, Violation
from tasking.models import (
    Contract,
    IncidenceAngle,
    OptionGroup,
    Point,
    Priority,
    TaskRequest,
    TimeWindow,
)
from tasking.times import to_utc

__all__ = [
    "BACKGROUND_MIN_SLA_HOURS",
    "DEFAULT_WINDOW",
    "DERIVATIVE_REQUIRES",
    "DURATION_MAX",
    "DURATION_MIN",
    "EXCLUSIVITIES",
    "EXCLUSIVITY_FALLBACK",
    "FAST_SLA_EXCLUDED_MODES",
    "FAST_SLA_HOURS",
    "INCIDENCE_MAX",
    "INCIDENCE_MIN",
    "LAT_LIMITS",
    "LEAD_TIME",
    "LON_LIMITS",
    "LOOK_SIDES",
    "MAX_AHEAD",
    "MIN_WINDOW",
    "PASS_DIRECTIONS",
    "PRIORITIES",
    "PRIORITY_FALLBACK",
    "REFERENCE_MAX",
    "RULE_BATCH_PRIORITY",
    "RULE_CONTRACT",
    "RULE_CONTRACT_ALLOWED",
    "RULE_CONTRACT_VALIDITY",
    "RULE_DERIVATIVE_CONTRACT",
    "RULE_DERIVATIVE_GRD",
    "RULE_DERIVATIVE_MODE",
    "RULE_DURATION",
    "RULE_ENUM",
    "RULE_INCIDENCE_ORDER",
    "RULE_INCIDENCE_PAIR",
    "RULE_INCIDENCE_RANGE",
    "RULE_LAT",
    "RULE_LEAD_TIME",
    "RULE_LON",
    "RULE_MAX_AHEAD",
    "RULE_MIN_WINDOW",
    "RULE_PRICE_FIELDS",
    "RULE_PRIORITY_SLA",
    "RULE_PRODUCT_TYPES",
    "RULE_REFERENCE",
    "RULE_REQUIRED",
    "RULE_SLA_MODE",
    "RULE_TEXT_ENCODING",
    "RULE_WINDOW_ORDER",
    "WIRE_FIELDS",
    "TaskDraft",
    "build_task_request",
    "check_batch",
    "check_draft",
    "check_point",
    "check_request",
    "default_window",
    "draft_from_request",
    "effective_exclusivity",
    "effective_priority",
    "effective_sla",
    "is_valid_point",
    "lead_time",
    "point_violations",
    "price_query",
    "sla_choices",
    "user_message",
]


# --- limits, each with its source ------------------------------------------------------------

# PSPEC 6.0.5 Table 3-2 "Min time before collection to choose target"; the feasibility page says the
# window start "cannot be immediate" and points to that table.
LEAD_TIME: Final[dict[str, timedelta]] = {
    "COMMERCIAL": timedelta(hours=12),
    "BACKGROUND": timedelta(hours=24),
}
# Feasibility page / SPEC: "end cannot be more than 14 days from the time of the tasking request".
MAX_AHEAD: Final = timedelta(days=14)
# Feasibility page: "The acquisition window must be at least 24h wide, end - start >= 24h".
MIN_WINDOW: Final = timedelta(hours=24)
# Default window width offered by ``default_window`` (a design choice: two days gives the scheduler
# room while staying far inside MAX_AHEAD).
DEFAULT_WINDOW: Final = timedelta(hours=48)
# SPEC TaskRequest: incidenceAngle min/max integers in 10..45 inclusive.
INCIDENCE_MIN, INCIDENCE_MAX = modes.INCIDENCE_LIMITS
# SPEC Task.imagingDuration: int32 1..180 seconds.
DURATION_MIN: Final = 1
DURATION_MAX: Final = 180
# DEMO UI limit and the purchases doc ("limitation of 256"); the tasking limit is inferred the same.
REFERENCE_MAX: Final = 256
# WGS84 ranges (DEMO UI hints). Checked in one place: ``point_violations``.
LAT_LIMITS: Final = (-90.0, 90.0)
LON_LIMITS: Final = (-180.0, 180.0)
# SPEC enums.
LOOK_SIDES: Final = ("LEFT", "RIGHT", "ANY")
PASS_DIRECTIONS: Final = ("ASCENDING", "DESCENDING", "ANY")
PRIORITIES: Final = tuple(p.value for p in Priority)
EXCLUSIVITIES: Final = ("PRIVATE", "PUBLIC")
# Derivatives need GRD among the product types (task-derivatives documentation).
DERIVATIVE_REQUIRES: Final = "GRD"
# Feasibility page: "If not provided, defaults to the contract's default exclusivity, or PRIVATE".
EXCLUSIVITY_FALLBACK: Final = "PRIVATE"
# PSPEC tasking.md §3.7.3 (iceye-fleet-modes.md §3.1–3.2): "24 h (Background only)", 3 h and 8 h are
# Commercial only. So BACKGROUND needs an SLA of at least 24 h; COMMERCIAL may still take a 24 h SLA
# (ICEYE's tutorial contract offers COMMERCIAL with SLA_24H+).
BACKGROUND_MIN_SLA_HOURS: Final = 24.0
# Same section: the 3 h SLA is "not available for Dwell Precise" (any SLA of 3 h or less).
FAST_SLA_HOURS: Final = 3.0
FAST_SLA_EXCLUDED_MODES: Final = frozenset({"SPOTLIGHT_EXTENDED_DWELL_PRECISE"})
# Priority used when neither the request nor the contract decides (contract has several allowed
# priorities and no default): COMMERCIAL, the common contract default in ICEYE's examples.
PRIORITY_FALLBACK: Final = "COMMERCIAL"

# --- rule names (Violation.rule) -------------------------------------------------------------

RULE_REQUIRED: Final = "required"
RULE_CONTRACT: Final = "contract-match"
RULE_CONTRACT_VALIDITY: Final = "contract-validity"
RULE_LAT: Final = "latitude-range"
RULE_LON: Final = "longitude-range"
RULE_WINDOW_ORDER: Final = "window-order"
RULE_LEAD_TIME: Final = "lead-time"
RULE_MAX_AHEAD: Final = "max-14-days-ahead"
RULE_MIN_WINDOW: Final = "min-24h-window"
RULE_INCIDENCE_PAIR: Final = "incidence-pair"
RULE_INCIDENCE_RANGE: Final = "incidence-range"
RULE_INCIDENCE_ORDER: Final = "incidence-order"
RULE_DURATION: Final = "duration-range"
RULE_REFERENCE: Final = "reference-length"
RULE_ENUM: Final = "allowed-values"
RULE_CONTRACT_ALLOWED: Final = "contract-allowed"
RULE_PRODUCT_TYPES: Final = "product-types"
RULE_DERIVATIVE_MODE: Final = "derivative-mode"
RULE_DERIVATIVE_CONTRACT: Final = "derivative-contract"
RULE_DERIVATIVE_GRD: Final = "derivative-needs-grd"
RULE_BATCH_PRIORITY: Final = "batch-same-priority"
RULE_PRICE_FIELDS: Final = "price-fields"
RULE_PRIORITY_SLA: Final = "priority-sla"
RULE_SLA_MODE: Final = "sla-mode"
RULE_TEXT_ENCODING: Final = "text-encoding"


@dataclass
class TaskDraft:
    """What the user asked for, before checking. ``None`` means "not set": omitted from the request."""

    contract_id: str
    lat: float | None
    lon: float | None
    window_start: datetime | None
    window_end: datetime | None
    imaging_mode: str
    priority: str | None = None
    sla: str | None = None
    exclusivity: str | None = None
    eula: str | None = None
    incidence_min: int | str | None = None
    incidence_max: int | str | None = None
    look_side: str | None = None
    pass_direction: str | None = None
    product_types: list[str] | None = None
    derivative_product_types: list[str] | None = None
    imaging_duration: int | None = None
    reference: str | None = None


# Draft field → wire field, for ``check_request``'s violations.
WIRE_FIELDS: Final[dict[str, str]] = {
    "contract_id": "contractID",
    "lat": "pointOfInterest.lat",
    "lon": "pointOfInterest.lon",
    "window_start": "acquisitionWindow.start",
    "window_end": "acquisitionWindow.end",
    "imaging_mode": "imagingMode",
    "priority": "priority",
    "sla": "sla",
    "exclusivity": "exclusivity",
    "eula": "eula",
    "incidence_min": "incidenceAngle.min",
    "incidence_max": "incidenceAngle.max",
    "look_side": "lookSide",
    "pass_direction": "passDirection",
    "product_types": "productTypes",
    "derivative_product_types": "derivativeProductTypes",
    "imaging_duration": "imagingDuration",
    "reference": "reference",
}
assert set(WIRE_FIELDS) == {f.name for f in fields(TaskDraft)}


# --- helpers ---------------------------------------------------------------------------------


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h"


def _fmt(value: datetime) -> str:
    return to_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def effective_priority(priority: str | None, contract: Contract) -> str:
    """The priority a task will have: the one given, else the contract's default, else COMMERCIAL."""
    if priority:
        return priority
    return contract.priority.resolved_default() or PRIORITY_FALLBACK


def effective_exclusivity(exclusivity: str | None, contract: Contract) -> str:
    """The exclusivity a task will have: the one given, else the contract's default, else PRIVATE."""
    return exclusivity or contract.exclusivity.resolved_default() or EXCLUSIVITY_FALLBACK


def effective_sla(sla: str | None, contract: Contract) -> str | None:
    """The SLA a task will have: the one given, else the contract's default (None: the server's)."""
    return sla or contract.sla.resolved_default()


def _sla_hours(sla: str) -> float | None:
    """Hours promised by an SLA literal, or None when they cannot be read."""
    try:
        return modes.sla_hours(sla)
    except ValueError:  # e.g. "SLA_1.2.3H": digits that are no number
        return None


def lead_time(priority: str) -> timedelta:
    """Minimum time between the request and the window start (unknown priority: the longest)."""
    return LEAD_TIME.get(priority, max(LEAD_TIME.values()))


def default_window(now: datetime, priority: str) -> tuple[datetime, datetime]:
    """A window that passes every window rule: start = now + lead time + 1 h, rounded up to the
    hour; end = start + 48 h (never more than 14 days ahead)."""
    now = to_utc(now)
    earliest = now + lead_time(priority) + timedelta(hours=1)
    start = earliest.replace(minute=0, second=0, microsecond=0)
    if start < earliest:
        start += timedelta(hours=1)
    end = min(start + DEFAULT_WINDOW, now + MAX_AHEAD)
    return start, end


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# --- points: the one check of a latitude and a longitude ---------------------------------------


def _degrees(
    value: float, limits: tuple[float, float] | None, field: str, rule: str, name: str
) -> Violation | None:
    if limits is None:
        if math.isfinite(value):
            return None
        return Violation(
            field, rule, f"The {name} must be a finite number, got {value} ({rule} rule)."
        )
    low, high = limits
    if math.isfinite(value) and low <= value <= high:
        return None
    return Violation(
        field,
        rule,
        f"The {name} must be between {low:g} and {high:g} degrees, got {value} ({rule} rule).",
    )


def point_violations(
    lat: float,
    lon: float,
    *,
    fields: tuple[str, str] = ("lat", "lon"),
    wrap_lon: bool = False,
) -> list[Violation]:
    """What is wrong with a WGS84 point: a latitude outside -90..90 or a longitude outside
    -180..180 degrees (NaN and infinities are outside). ``wrap_lon``: any finite longitude is
    accepted, for callers that wrap it themselves (geodesics, footprints across the antimeridian).
    ``fields`` names the two values in the violations."""
    found = (
        _degrees(lat, LAT_LIMITS, fields[0], RULE_LAT, "latitude"),
        _degrees(lon, None if wrap_lon else LON_LIMITS, fields[1], RULE_LON, "longitude"),
    )
    return [v for v in found if v is not None]


def check_point(lat: float, lon: float, *, wrap_lon: bool = False) -> None:
    """``point_violations`` (fields ``lat`` and ``lon``) as an ``InputError`` when there are any."""
    violations = point_violations(lat, lon, wrap_lon=wrap_lon)
    if violations:
        raise InputError(violations)


def is_valid_point(lat: float | None, lon: float | None) -> bool:
    """Both given and ``point_violations`` finds nothing (for widgets deciding what to draw)."""
    return lat is not None and lon is not None and not point_violations(lat, lon)


def user_message(violation: Violation) -> str:
    """The violation's sentence for people: its message without the rule id ("(lead-time rule)",
    "(lead-time rule, <source>)" keeps only "(<source>)"). The id stays in ``violation.rule``
    and in ``violation.message`` for logs, tests and API error bodies."""
    text = violation.message
    marker = f" ({violation.rule} rule"
    start = text.find(marker) if violation.rule else -1
    end = text.find(")", start) if start >= 0 else -1
    if end < 0:
        return text
    note = text[start + len(marker) : end].lstrip(",").strip()
    return text[:start] + (f" ({note})" if note else "") + text[end + 1 :]


# --- the checks ------------------------------------------------------------------------------


def _check_point(draft: TaskDraft) -> Iterable[Violation]:
    lat, lon = draft.lat, draft.lon
    # A missing value is checked as 0 (valid): only a given one can break the range rules.
    broken = point_violations(0.0 if lat is None else lat, 0.0 if lon is None else lon)
    for name, value, label in (("lat", lat, "Latitude"), ("lon", lon, "Longitude")):
        if value is None:
            yield Violation(name, RULE_REQUIRED, f"{label} is required (required rule).")
        yield from (v for v in broken if v.field == name)


def _check_window(draft: TaskDraft, contract: Contract, now: datetime) -> Iterable[Violation]:
    start, end = draft.window_start, draft.window_end
    if start is None:
        yield Violation("window_start", RULE_REQUIRED, "Window start is required (required rule).")
    if end is None:
        yield Violation("window_end", RULE_REQUIRED, "Window end is required (required rule).")
    now = to_utc(now)
    if start is not None:
        start = to_utc(start)
        priority = effective_priority(draft.priority, contract)
        lead = lead_time(priority)
        if start < now + lead:
            yield Violation(
                "window_start",
                RULE_LEAD_TIME,
                f"Window start must be at least {_hours(lead)} after now for {priority} priority, "
                f"i.e. not before {_fmt(now + lead)} ({RULE_LEAD_TIME} rule, ICEYE product "
                "specification Table 3-2).",
            )
    if end is not None:
        end = to_utc(end)
        if end > now + MAX_AHEAD:
            yield Violation(
                "window_end",
                RULE_MAX_AHEAD,
                f"Window end must be at most 14 days from now, i.e. not after "
                f"{_fmt(now + MAX_AHEAD)} ({RULE_MAX_AHEAD} rule).",
            )
    if start is not None and end is not None:
        if end <= start:
            yield Violation(
                "window_end",
                RULE_WINDOW_ORDER,
                f"Window end must be after its start ({RULE_WINDOW_ORDER} rule).",
            )
        elif end - start < MIN_WINDOW:
            yield Violation(
                "window_end",
                RULE_MIN_WINDOW,
                f"The window must be at least 24 h wide; it is {_hours(end - start)} "
                f"({RULE_MIN_WINDOW} rule).",
            )


def _check_incidence(draft: TaskDraft) -> Iterable[Violation]:
    low, high = draft.incidence_min, draft.incidence_max
    if low is None and high is None:
        return
    if low is None or high is None:
        missing = "incidence_min" if low is None else "incidence_max"
        yield Violation(
            missing,
            RULE_INCIDENCE_PAIR,
            f"Set both the minimum and the maximum incidence angle, or neither "
            f"({RULE_INCIDENCE_PAIR} rule).",
        )
    bad = False
    for name, value, label in (
        ("incidence_min", low, "Minimum"),
        ("incidence_max", high, "Maximum"),
    ):
        if value is None:
            continue
        if isinstance(value, str):
            ok = value in modes.INCIDENCE_PRESETS
        else:
            ok = _is_int(value) and INCIDENCE_MIN <= value <= INCIDENCE_MAX
        if not ok:
            bad = True
            yield Violation(
                name,
                RULE_INCIDENCE_RANGE,
                f"{label} incidence angle {value!r} must be a whole number of degrees in "
                f"{INCIDENCE_MIN}..{INCIDENCE_MAX} or one of {', '.join(modes.INCIDENCE_PRESETS)} "
                f"({RULE_INCIDENCE_RANGE} rule).",
            )
    if not bad and _is_int(low) and _is_int(high) and low > high:
        yield Violation(
            "incidence_min",
            RULE_INCIDENCE_ORDER,
            f"Minimum incidence angle {low} is greater than the maximum {high} "
            f"({RULE_INCIDENCE_ORDER} rule).",
        )


def _sla_pairings(hours: float, priority: str, mode: str) -> list[str]:
    """The pairing rules an SLA of ``hours`` breaks with the priority and the mode."""
    broken = []
    if priority == Priority.BACKGROUND.value and hours < BACKGROUND_MIN_SLA_HOURS:
        broken.append(RULE_PRIORITY_SLA)
    if mode and modes.mode_info(mode).name in FAST_SLA_EXCLUDED_MODES and hours <= FAST_SLA_HOURS:
        broken.append(RULE_SLA_MODE)
    return broken


def sla_choices(contract: Contract, priority: str | None, mode: str) -> list[str]:
    """The contract's allowed SLAs that can be ordered with the priority (the contract's default
    when None) and the mode: the pairing rules of ``check_draft``, applied before the user picks,
    so that options that cannot combine are not offered. An SLA whose hours cannot be read stays
    (no pairing rule applies to it)."""
    effective = effective_priority(priority, contract)
    return [
        sla
        for sla in contract.sla.allowed
        if (hours := _sla_hours(sla)) is None or not _sla_pairings(hours, effective, mode)
    ]


def _check_sla(draft: TaskDraft, contract: Contract) -> Iterable[Violation]:
    """SLA pairings with the priority and the mode, on the effective SLA and priority."""
    sla = effective_sla(draft.sla, contract)
    hours = _sla_hours(sla) if sla else None
    if sla is None or hours is None:
        return
    source = "" if draft.sla else " (the contract's default)"
    priority = effective_priority(draft.priority, contract)
    mode = draft.imaging_mode
    broken = _sla_pairings(hours, priority, mode)
    if RULE_PRIORITY_SLA in broken:
        slow = [s for s in contract.sla.allowed if (_sla_hours(s) or 0) >= BACKGROUND_MIN_SLA_HOURS]
        choice = " or ".join(slow) if slow else f"a {BACKGROUND_MIN_SLA_HOURS:g} h SLA"
        commercial = Priority.COMMERCIAL.value
        if not contract.priority.allowed or commercial in contract.priority.allowed:
            choice += f", or {commercial} priority"
        yield Violation(
            "sla",
            RULE_PRIORITY_SLA,
            f"BACKGROUND tasks are delivered within {BACKGROUND_MIN_SLA_HOURS:g} h only, but SLA "
            f"{sla}{source} promises {hours:g} h: choose {choice} ({RULE_PRIORITY_SLA} rule).",
        )
    if RULE_SLA_MODE in broken:
        yield Violation(
            "sla",
            RULE_SLA_MODE,
            f"A {FAST_SLA_HOURS:g} h SLA is not available for {modes.mode_label(mode)} ({mode}); "
            f"SLA {sla}{source} promises {hours:g} h: choose a slower SLA ({RULE_SLA_MODE} rule).",
        )


def _check_scalars(draft: TaskDraft) -> Iterable[Violation]:
    if not draft.imaging_mode:
        yield Violation("imaging_mode", RULE_REQUIRED, "Imaging mode is required (required rule).")
    duration = draft.imaging_duration
    if duration is not None and (
        not _is_int(duration) or not DURATION_MIN <= duration <= DURATION_MAX
    ):
        yield Violation(
            "imaging_duration",
            RULE_DURATION,
            f"Imaging duration {duration!r} must be a whole number of seconds in "
            f"{DURATION_MIN}..{DURATION_MAX} ({RULE_DURATION} rule).",
        )
    if draft.reference is not None and not _encodable(draft.reference):
        yield Violation(
            "reference",
            RULE_TEXT_ENCODING,
            "Reference has a character that is not valid text (an unpaired surrogate, e.g. from a "
            f"broken paste): retype it ({RULE_TEXT_ENCODING} rule).",
        )
    if draft.reference is not None and len(draft.reference) > REFERENCE_MAX:
        yield Violation(
            "reference",
            RULE_REFERENCE,
            f"Reference is {len(draft.reference)} characters; at most {REFERENCE_MAX} are allowed "
            f"({RULE_REFERENCE} rule).",
        )
    for name, value, allowed, label in (
        ("priority", draft.priority, PRIORITIES, "Priority"),
        ("exclusivity", draft.exclusivity, EXCLUSIVITIES, "Exclusivity"),
        ("look_side", draft.look_side, LOOK_SIDES, "Look side"),
        ("pass_direction", draft.pass_direction, PASS_DIRECTIONS, "Pass direction"),
    ):
        if value is not None and value not in allowed:
            yield Violation(
                name,
                RULE_ENUM,
                f"{label} {value!r} is not one of {', '.join(allowed)} ({RULE_ENUM} rule).",
            )


def _check_contract(draft: TaskDraft, contract: Contract, now: datetime) -> Iterable[Violation]:
    label = contract.name or contract.id
    if draft.contract_id != contract.id:
        yield Violation(
            "contract_id",
            RULE_CONTRACT,
            f"The request names contract {draft.contract_id!r}, not {label} ({RULE_CONTRACT} rule).",
        )
    now = to_utc(now)
    if (contract.start is not None and now < contract.start) or (
        contract.end is not None and now > contract.end
    ):
        span = f"{_fmt(contract.start) if contract.start else '…'} – "
        span += _fmt(contract.end) if contract.end else "…"
        yield Violation(
            "contract_id",
            RULE_CONTRACT_VALIDITY,
            f"Contract {label} accepts tasks only between {span} ({RULE_CONTRACT_VALIDITY} rule).",
        )
    groups: tuple[tuple[str, str | None, OptionGroup, str], ...] = (
        ("imaging_mode", draft.imaging_mode or None, contract.imagingModes, "Imaging mode"),
        ("priority", draft.priority, contract.priority, "Priority"),
        ("exclusivity", draft.exclusivity, contract.exclusivity, "Exclusivity"),
        ("sla", draft.sla, contract.sla, "SLA"),
        ("eula", draft.eula, contract.eula, "EULA"),
    )
    for name, value, group, what in groups:
        # An empty allowed list means the contract does not say: the server decides.
        if value is not None and group.allowed and value not in group.allowed:
            yield Violation(
                name,
                RULE_CONTRACT_ALLOWED,
                f"{what} {value} is not allowed by contract {label} (allowed: "
                f"{', '.join(group.allowed)}) ({RULE_CONTRACT_ALLOWED} rule).",
            )
    yield from _check_products(draft, contract, label)


def _check_products(draft: TaskDraft, contract: Contract, label: str) -> Iterable[Violation]:
    mode = draft.imaging_mode
    if draft.product_types and mode:
        from_contract = contract.product_types_for(mode)
        allowed = (
            from_contract
            if from_contract is not None
            else list(modes.mode_info(mode).product_types)
        )
        wrong = [p for p in draft.product_types if p not in allowed]
        if wrong:
            source = f"contract {label}" if from_contract is not None else "the imaging mode"
            yield Violation(
                "product_types",
                RULE_PRODUCT_TYPES,
                f"Product types {', '.join(wrong)} are not available for {mode} under {source} "
                f"(allowed: {', '.join(allowed) or 'none'}) ({RULE_PRODUCT_TYPES} rule).",
            )
    derivatives = draft.derivative_product_types
    if not derivatives:
        return
    if mode and not modes.mode_info(mode).allows_derivatives:
        yield Violation(
            "derivative_product_types",
            RULE_DERIVATIVE_MODE,
            f"Derivative products are only available for {', '.join(sorted(modes.DERIVATIVE_MODES))}"
            f", not {mode} ({RULE_DERIVATIVE_MODE} rule).",
        )
    refused = [d for d in derivatives if d not in contract.derivatives_allowed]
    if refused:
        yield Violation(
            "derivative_product_types",
            RULE_DERIVATIVE_CONTRACT,
            f"Contract {label} does not allow derivative products {', '.join(refused)} (allowed: "
            f"{', '.join(contract.derivatives_allowed) or 'none'}) ({RULE_DERIVATIVE_CONTRACT} rule).",
        )
    if DERIVATIVE_REQUIRES not in (draft.product_types or []):
        yield Violation(
            "product_types",
            RULE_DERIVATIVE_GRD,
            f"Derivative products need {DERIVATIVE_REQUIRES} among the product types "
            f"({RULE_DERIVATIVE_GRD} rule).",
        )


def check_draft(draft: TaskDraft, contract: Contract, now: datetime) -> list[Violation]:
    """Every broken rule of a draft (empty when it may be sent); field names are TaskDraft's."""
    return [
        *_check_contract(draft, contract, now),
        *_check_point(draft),
        *_check_window(draft, contract, now),
        *_check_scalars(draft),
        *_check_incidence(draft),
        *_check_sla(draft, contract),
    ]


def _blank_to_none(values: list[str] | None) -> list[str] | None:
    return list(values) if values else None


def build_task_request(draft: TaskDraft, contract: Contract, now: datetime) -> TaskRequest:
    """The one request builder for feasibility and creation; raises InputError on any violation.

    Only fields the user set are included (empty lists and a blank reference count as unset).
    """
    violations = check_draft(draft, contract, now)
    if violations:
        raise InputError(violations)
    assert draft.lat is not None and draft.lon is not None  # checked above
    assert draft.window_start is not None and draft.window_end is not None
    values: dict[str, Any] = {
        "contractID": draft.contract_id,
        "pointOfInterest": Point(lat=draft.lat, lon=draft.lon),
        "acquisitionWindow": TimeWindow(start=draft.window_start, end=draft.window_end),
        "imagingMode": draft.imaging_mode,
    }
    optional: dict[str, Any] = {
        "reference": draft.reference or None,
        "exclusivity": draft.exclusivity,
        "priority": draft.priority,
        "sla": draft.sla,
        "eula": draft.eula,
        "lookSide": draft.look_side,
        "passDirection": draft.pass_direction,
        "productTypes": _blank_to_none(draft.product_types),
        "derivativeProductTypes": _blank_to_none(draft.derivative_product_types),
        "imagingDuration": draft.imaging_duration,
    }
    if draft.incidence_min is not None and draft.incidence_max is not None:
        optional["incidenceAngle"] = IncidenceAngle(
            min=draft.incidence_min,
            max=draft.incidence_max,
        )
    values.update({k: v for k, v in optional.items() if v is not None})
    return TaskRequest(**values)


def draft_from_request(request: TaskRequest) -> TaskDraft:
    """The draft a wire request corresponds to (inverse of ``build_task_request``)."""
    angle = request.incidenceAngle
    return TaskDraft(
        contract_id=request.contractID,
        lat=request.pointOfInterest.lat,
        lon=request.pointOfInterest.lon,
        window_start=request.acquisitionWindow.start,
        window_end=request.acquisitionWindow.end,
        imaging_mode=request.imagingMode,
        priority=request.priority.value if request.priority else None,
        sla=request.sla,
        exclusivity=request.exclusivity,
        eula=request.eula,
        incidence_min=angle.min if angle else None,
        incidence_max=angle.max if angle else None,
        look_side=request.lookSide,
        pass_direction=request.passDirection,
        product_types=request.productTypes,
        derivative_product_types=request.derivativeProductTypes,
        imaging_duration=request.imagingDuration,
        reference=request.reference,
    )


def check_request(request: TaskRequest, contract: Contract, now: datetime) -> list[Violation]:
    """The same rules as ``check_draft`` on a wire request; field names are wire names."""
    return [
        Violation(WIRE_FIELDS.get(v.field, v.field), v.rule, v.message)
        for v in check_draft(draft_from_request(request), contract, now)
    ]


def check_batch(requests: Sequence[TaskRequest], contracts: dict[str, Contract]) -> list[Violation]:
    """Feasibility batch rule: "All tasks in a single request must have the same priority"
    (check-feasibility page). Priorities are resolved from each request's contract when known."""
    found: set[str] = set()
    for request in requests:
        given = request.priority.value if request.priority else None
        contract = contracts.get(request.contractID)
        resolved = effective_priority(given, contract) if contract else given
        if resolved:  # unset and no contract known: the server's default, not comparable here
            found.add(resolved)
    if len(found) > 1:
        return [
            Violation(
                "priority",
                RULE_BATCH_PRIORITY,
                f"All requests of one feasibility check must have the same priority; got "
                f"{', '.join(sorted(found))} ({RULE_BATCH_PRIORITY} rule).",
            )
        ]
    return []


def price_query(request: TaskRequest, contract: Contract | None = None) -> dict[str, str]:
    """Query of ``GET /tasking/v2/price``: all of its fields are required (SPEC getPrice), so any
    the request leaves unset come from the contract's defaults (when a contract is given). Raises
    InputError when neither the request nor the contract decides one."""
    priority = request.priority.value if request.priority else None
    resolved: dict[str, str | None] = {
        "exclusivity": request.exclusivity,
        "priority": priority,
        "sla": request.sla,
        "eula": request.eula,
    }
    if contract is not None:
        resolved = {
            "exclusivity": effective_exclusivity(request.exclusivity, contract),
            "priority": effective_priority(priority, contract),
            "sla": request.sla or contract.sla.resolved_default(),
            "eula": request.eula or contract.eula.resolved_default(),
        }
    missing = [name for name, value in resolved.items() if not value]
    if missing:
        raise InputError(
            [
                Violation(
                    name,
                    RULE_PRICE_FIELDS,
                    f"A price needs {name}: choose one (no contract default applies) "
                    f"({RULE_PRICE_FIELDS} rule).",
                )
                for name in missing
            ]
        )
    return {
        "contractID": request.contractID,
        "imagingMode": request.imagingMode,
        "pointOfInterest[lat]": repr(request.pointOfInterest.lat),
        "pointOfInterest[lon]": repr(request.pointOfInterest.lon),
        **{name: str(value) for name, value in resolved.items()},
    }
