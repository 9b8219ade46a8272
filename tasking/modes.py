"""ICEYE imaging modes: the facts the rules, the sandbox and the app share.

Figures from ICEYE's SAR Product Specification 6.0.5 (imagingmodes.md Tables 2-2…2-18, tasking.md
Table 3-6) as compiled in ``reference/iceye-fleet-modes.md`` §1.2 and §1.4; derivative modes from the
check-feasibility documentation. Modes are free strings from the contract: an unknown mode is still
accepted and gets ``GENERIC``'s conservative figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ALIASES",
    "DERIVATIVE_MODES",
    "DERIVATIVE_TYPES",
    "INCIDENCE_LIMITS",
    "INCIDENCE_PRESETS",
    "MODES",
    "NON_SLA_PRODUCTS",
    "SLA_PRODUCTS",
    "ImagingMode",
    "mode_info",
    "mode_label",
    "sla_hours",
]


INCIDENCE_LIMITS = (10, 45)
"""Commercially supported incidence range (Tasking API v2: min/max each in 10..45, inclusive)."""

INCIDENCE_PRESETS = ("PERFORMANT", "FULL_RANGE")
"""String forms of ``incidenceAngle.min/max`` (check-feasibility documentation)."""

SLA_PRODUCTS = ("GRD", "GRD-COG", "SLC", "SLC-COG", "QLK", "CSI", "CSI-COG", "VID", "VID-COG")
NON_SLA_PRODUCTS = ("SICD", "SIDD")

DERIVATIVE_TYPES = ("DC_AIRCRAFT", "DC_VESSELS", "DC_VEHICLES")
DERIVATIVE_MODES = frozenset(
    {
        "SPOTLIGHT",
        "SPOTLIGHT_FINE",
        "SPOTLIGHT_FINE_1L",
        "SPOTLIGHT_EXTENDED_DWELL",
        "SPOTLIGHT_EXTENDED_DWELL_FINE",
    }
)


@dataclass(frozen=True)
class ImagingMode:
    """What one imaging mode can do."""

    name: str
    label: str
    range_km: float
    azimuth_km: float
    nominal_duration_s: int
    max_duration_s: int
    performant: tuple[int, int]
    product_types: tuple[str, ...]
    beams: int = 1

    @property
    def full_range(self) -> tuple[int, int]:
        """FULL_RANGE: the commercially supported 10–45° (wider angles are not sold)."""
        return INCIDENCE_LIMITS

    @property
    def allows_derivatives(self) -> bool:
        return self.name in DERIVATIVE_MODES


_SPOT_PRODUCTS = ("GRD", "GRD-COG", "SLC", "SLC-COG", "QLK", "SICD", "SIDD")
_DWELL_PRODUCTS = (*_SPOT_PRODUCTS[:5], "CSI", "CSI-COG", "VID", "VID-COG", "SICD", "SIDD")
_SCAN_PRODUCTS = ("GRD", "GRD-COG", "QLK")

# Durations: the spec's typical/nominal imaging time; max: Strip/Scan 70 s, Scan Wide 84 s, otherwise
# the API's 180 s ceiling (variable imaging time for Spot and Dwell since spec 6.0.5).
_MODES = [
    ImagingMode("SPOTLIGHT", "Spot", 5, 5, 10, 180, (20, 40), _SPOT_PRODUCTS),
    ImagingMode("SPOTLIGHT_HIGH_1L", "Spot 1-look", 5, 5, 10, 180, (20, 40), _SPOT_PRODUCTS),
    ImagingMode("SPOTLIGHT_HIGH_2L", "Spot 2-looks", 5, 5, 10, 180, (20, 40), _SPOT_PRODUCTS),
    ImagingMode("SPOTLIGHT_FINE", "Spot Fine", 5, 5, 15, 180, (20, 40), _SPOT_PRODUCTS),
    ImagingMode("SPOTLIGHT_FINE_1L", "Spot Fine 1-look", 5, 5, 3, 180, (20, 40), _SPOT_PRODUCTS),
    ImagingMode("SPOTLIGHT_FINE_2L", "Spot Fine 2-looks", 5, 5, 6, 180, (20, 40), _SPOT_PRODUCTS),
    ImagingMode("SPOTLIGHT_FINE_3L", "Spot Fine 3-looks", 5, 5, 9, 180, (20, 40), _SPOT_PRODUCTS),
    ImagingMode(
        "SPOTLIGHT_EXTENDED_AREA", "Spot Extended Area", 15, 15, 10, 180, (20, 40), _SPOT_PRODUCTS
    ),
    ImagingMode("SPOTLIGHT_EXTENDED_DWELL", "Dwell", 5, 5, 25, 180, (20, 40), _DWELL_PRODUCTS),
    ImagingMode(
        "SPOTLIGHT_EXTENDED_DWELL_FINE", "Dwell Fine", 5, 5, 25, 180, (20, 40), _DWELL_PRODUCTS
    ),
    ImagingMode(
        "SPOTLIGHT_EXTENDED_DWELL_PRECISE",
        "Dwell Precise",
        5,
        5,
        25,
        180,
        (20, 33),
        _DWELL_PRODUCTS,
    ),
    ImagingMode("STRIPMAP", "Strip", 30, 50, 10, 70, (15, 35), _SPOT_PRODUCTS),
    ImagingMode("SCAN", "Scan", 100, 100, 15, 70, (21, 29), _SCAN_PRODUCTS, beams=4),
    ImagingMode("SCAN_WIDE", "Scan Wide", 200, 300, 42, 84, (21, 26), _SCAN_PRODUCTS, beams=8),
]

MODES: dict[str, ImagingMode] = {m.name: m for m in _MODES}

# The tutorial's contract uses short names (SPOT, STRIP); treat them as their API equivalents.
ALIASES = {"SPOT": "SPOTLIGHT", "STRIP": "STRIPMAP"}


def mode_info(name: str) -> ImagingMode:
    """The figures of a mode; unknown modes get Spot-like figures under their own name."""
    known = MODES.get(name) or MODES.get(ALIASES.get(name, ""))
    if known is not None:
        return known
    return ImagingMode(
        name, name.replace("_", " ").title(), 5, 5, 10, 180, (20, 40), _SPOT_PRODUCTS
    )


def mode_label(name: str) -> str:
    return mode_info(name).label


def sla_hours(sla: str) -> float | None:
    """Hours promised by an SLA literal such as ``SLA_8H`` or ``SLA_2D`` (never hard-code the list:
    contracts vary); None when the literal does not read as a number of hours or days."""
    text = sla.upper().removeprefix("SLA_")
    unit = text[-1:]
    number = text[:-1] if unit in ("H", "D") else text
    try:
        value = float(number)
    except ValueError:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return value * 24 if unit == "D" else value
