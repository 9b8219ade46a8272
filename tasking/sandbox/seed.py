"""Seeded companies, their client credentials and their contracts.

These credentials are public constants of a local sandbox, never secrets: they are printed by
``python -m tasking.sandbox`` and listed in the sandbox README. Contract validity is relative to the
sandbox's epoch (its simulated creation time), so the contracts are valid "now" in simulated time.

| Company            | Client id                     | Contracts                                        |
|--------------------|-------------------------------|--------------------------------------------------|
| Demo Analytics     | ``DEMO_CLIENT_ID`` (default)  | broad (no pricing), pay-as-you-go (small budget) |
| Northwind Maritime | ``NORTHWIND_CLIENT_ID``       | narrow (BACKGROUND, SLA_24H), expired pilot      |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tasking import modes
from tasking.models import Contract

DEMO_CLIENT_ID = "sandbox-demo-analytics"
DEMO_CLIENT_SECRET = "sandbox-only-demo-analytics-secret"  # public sandbox constant, not a secret
NORTHWIND_CLIENT_ID = "sandbox-northwind-maritime"
NORTHWIND_CLIENT_SECRET = "sandbox-only-northwind-secret"  # public sandbox constant, not a secret

DEMO_COMPANY_ID = "demo-analytics"
NORTHWIND_COMPANY_ID = "northwind-maritime"

BROAD_CONTRACT_ID = "3f0c6f2e-1a2b-4c3d-9e8f-0123456789ab"
PRICED_CONTRACT_ID = "8c5e2a71-4b0d-4f6e-a3c9-5d7b1e2f4a60"
NARROW_CONTRACT_ID = "c2d4e6f8-1357-4a9b-8c0d-2468ace13579"
EXPIRED_CONTRACT_ID = "e7f1a3b5-9d2c-4e8f-b6a4-1c3e5f7a9b2d"

# The small budget of the pay-as-you-go contract: a handful of tasks at the prices of pricing.py.
PRICED_SPEND_LIMIT = 2_000_000  # minor units (USD 20,000)
CURRENCY = "USD"


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    client_id: str
    client_secret: str


COMPANIES: tuple[Company, ...] = (
    Company(DEMO_COMPANY_ID, "Demo Analytics", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    Company(
        NORTHWIND_COMPANY_ID, "Northwind Maritime", NORTHWIND_CLIENT_ID, NORTHWIND_CLIENT_SECRET
    ),
)


@dataclass(frozen=True)
class SeededContract:
    """A contract, its owner and its pricing plan (``spend_limit`` None = no pricing plan)."""

    company_id: str
    contract: Contract
    spend_limit: int | None = None
    currency: str = CURRENCY

    @property
    def priced(self) -> bool:
        return self.spend_limit is not None


def company_by_client_id(client_id: str) -> Company | None:
    return next((c for c in COMPANIES if c.client_id == client_id), None)


def _group(allowed: list[str], default: str) -> dict[str, Any]:
    return {"allowed": allowed, "default": default}


def _products(mode_names: list[str]) -> dict[str, list[str]]:
    return {m: list(modes.mode_info(m).product_types) for m in mode_names}


def seeded_contracts(epoch: datetime) -> list[SeededContract]:
    """The contracts of every seeded company, valid relative to ``epoch``."""
    day = timedelta(days=1)
    broad_modes = [
        "SPOTLIGHT",
        "SPOTLIGHT_FINE",
        "SPOTLIGHT_EXTENDED_AREA",
        "SPOTLIGHT_EXTENDED_DWELL",
        "SPOTLIGHT_EXTENDED_DWELL_FINE",
        "STRIPMAP",
        "SCAN",
        "SCAN_WIDE",
    ]
    priced_modes = ["SPOTLIGHT", "STRIPMAP", "SCAN"]
    narrow_modes = ["STRIPMAP", "SCAN"]
    collections = _group(["private", "public"], "private")
    return [
        SeededContract(
            DEMO_COMPANY_ID,
            Contract.model_validate(
                {
                    "id": BROAD_CONTRACT_ID,
                    "name": "Demo Analytics — Constellation Tasking",
                    # Five years ahead: even a demo at 1000× stays inside the contract for days.
                    "start": epoch - 180 * day,
                    "end": epoch + 5 * 365 * day,
                    "imagingModes": _group(broad_modes, "SPOTLIGHT"),
                    "priority": _group(["COMMERCIAL", "BACKGROUND"], "COMMERCIAL"),
                    "exclusivity": _group(["PRIVATE", "PUBLIC"], "PRIVATE"),
                    "sla": _group(["SLA_3H", "SLA_8H", "SLA_24H"], "SLA_8H"),
                    "eula": _group(["STANDARD"], "STANDARD"),
                    "catalog_collections": collections,
                    "productTypes": _products(broad_modes),
                    "derivativeProductTypes": {"allowed": list(modes.DERIVATIVE_TYPES)},
                }
            ),
        ),
        SeededContract(
            DEMO_COMPANY_ID,
            Contract.model_validate(
                {
                    "id": PRICED_CONTRACT_ID,
                    "name": "Demo Analytics — Pay as you go",
                    "start": epoch - 30 * day,
                    "end": epoch + 5 * 365 * day,
                    "imagingModes": _group(priced_modes, "SPOTLIGHT"),
                    "priority": _group(["COMMERCIAL", "BACKGROUND"], "COMMERCIAL"),
                    "exclusivity": _group(["PUBLIC", "PRIVATE"], "PUBLIC"),
                    "sla": _group(["SLA_8H", "SLA_24H"], "SLA_8H"),
                    "eula": _group(["STANDARD"], "STANDARD"),
                    "catalog_collections": collections,
                    "productTypes": _products(priced_modes),
                }
            ),
            spend_limit=PRICED_SPEND_LIMIT,
        ),
        SeededContract(
            NORTHWIND_COMPANY_ID,
            Contract.model_validate(
                {
                    "id": NARROW_CONTRACT_ID,
                    "name": "Northwind Maritime — Background Monitoring",
                    "start": epoch - 60 * day,
                    "end": epoch + 5 * 365 * day,
                    "imagingModes": _group(narrow_modes, "STRIPMAP"),
                    "priority": _group(["BACKGROUND"], "BACKGROUND"),
                    "exclusivity": _group(["PUBLIC"], "PUBLIC"),
                    "sla": _group(["SLA_24H"], "SLA_24H"),
                    "eula": _group(["STANDARD"], "STANDARD"),
                    "productTypes": {"STRIPMAP": ["GRD", "QLK"], "SCAN": ["GRD", "QLK"]},
                }
            ),
        ),
        SeededContract(
            NORTHWIND_COMPANY_ID,
            Contract.model_validate(
                {
                    "id": EXPIRED_CONTRACT_ID,
                    "name": "Northwind Maritime — Pilot (expired)",
                    "start": epoch - 400 * day,
                    "end": epoch - 30 * day,
                    "imagingModes": _group(["SPOTLIGHT"], "SPOTLIGHT"),
                    "priority": _group(["COMMERCIAL"], "COMMERCIAL"),
                    "exclusivity": _group(["PRIVATE"], "PRIVATE"),
                    "sla": _group(["SLA_8H"], "SLA_8H"),
                    "eula": _group(["STANDARD"], "STANDARD"),
                    "productTypes": _products(["SPOTLIGHT"]),
                }
            ),
        ),
    ]
