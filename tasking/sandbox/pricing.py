"""The sandbox's price model: price = f(mode, priority, SLA, exclusivity, latitude region).

ICEYE prices by "region, priority, imaging mode, SLA, exclusivity" (pricing-model page, iceye-api.md
§4.11) but publishes no numbers; every figure below is invented for the sandbox and only keeps the
documented direction of each factor (finer modes, COMMERCIAL, faster SLA and PRIVATE cost more).
Amounts are integers in minor currency units (cents), rounded to whole currency units.
"""

from __future__ import annotations

from tasking import modes

# List prices per imaging mode, USD cents.
_BASE_BY_MODE: dict[str, int] = {
    "SPOTLIGHT": 300_000,
    "SPOTLIGHT_HIGH_1L": 300_000,
    "SPOTLIGHT_HIGH_2L": 300_000,
    "SPOTLIGHT_FINE": 450_000,
    "SPOTLIGHT_FINE_1L": 400_000,
    "SPOTLIGHT_FINE_2L": 420_000,
    "SPOTLIGHT_FINE_3L": 440_000,
    "SPOTLIGHT_EXTENDED_AREA": 500_000,
    "SPOTLIGHT_EXTENDED_DWELL": 600_000,
    "SPOTLIGHT_EXTENDED_DWELL_FINE": 750_000,
    "SPOTLIGHT_EXTENDED_DWELL_PRECISE": 900_000,
    "STRIPMAP": 200_000,
    "SCAN": 150_000,
    "SCAN_WIDE": 180_000,
}
_UNKNOWN_MODE = 350_000
_PRIORITY = {"COMMERCIAL": 1.0, "BACKGROUND": 0.6}
_EXCLUSIVITY = {"PRIVATE": 1.3, "PUBLIC": 1.0}
# Delivery speed: ≤3 h costs half as much again, ≤8 h is the list price, slower is cheaper.
_SLA_STEPS = ((3.0, 1.5), (8.0, 1.0))
_SLA_SLOW = 0.9
# Region: the densely tasked mid-latitudes (|lat| ≤ 60°) carry a premium over polar regions,
# where the sun-synchronous fleet passes far more often (fleet-modes §2.3: 53 vs 26 accesses/day).
_MID_LATITUDE = 60.0
_MID_LATITUDE_FACTOR = 1.1


def _sla_factor(sla: str) -> float:
    hours = modes.sla_hours(sla)
    if hours is None:
        return 1.0
    for limit, factor in _SLA_STEPS:
        if hours <= limit:
            return factor
    return _SLA_SLOW


def task_price(mode: str, priority: str, sla: str, exclusivity: str, lat: float) -> int:
    """The price of one task in minor units, rounded to whole currency units."""
    base = _BASE_BY_MODE.get(modes.ALIASES.get(mode, mode), _UNKNOWN_MODE)
    factor = (
        _PRIORITY.get(priority, 1.0)
        * _EXCLUSIVITY.get(exclusivity, 1.0)
        * _sla_factor(sla)
        * (_MID_LATITUDE_FACTOR if abs(lat) <= _MID_LATITUDE else 1.0)
    )
    return round(base * factor / 100.0) * 100
