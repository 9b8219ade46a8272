"""Money: getPrice (iceye-api.md §4.11) and the contract summary (§3.2).

Only contracts with a pricing plan have prices and a budget; for the others both operations answer
404 ``not_found`` ("unavailable", §3.2): the summary resource does not exist for them, and a 404
tells a client to stop asking rather than to fix its request. The budget is derived from the
contract's tasks (``Store.contract_money``), so it can never drift from their statuses.
"""

from __future__ import annotations

from typing import Any

from tasking.errors import Violation
from tasking.models import ContractSummary, OptionGroup, Price
from tasking.rules import RULE_CONTRACT_ALLOWED, point_violations
from tasking.sandbox.core import Sandbox
from tasking.sandbox.pricing import task_price
from tasking.sandbox.problems import from_violations, not_found
from tasking.sandbox.seed import SeededContract


def _priced(sandbox: Sandbox, company_id: str, contract_id: str) -> SeededContract:
    seeded = sandbox.contract(company_id, contract_id)
    if not seeded.priced:
        raise not_found(
            f"contract {contract_id} has no pricing plan: prices and summary are unavailable",
            title="Pricing Not Found",
        )
    return seeded


def summary(sandbox: Sandbox, company_id: str, contract_id: str) -> dict[str, Any]:
    """GetSummary: ``{contractID, consolidatedSpent, currency, onHold, spendLimit}``."""
    seeded = _priced(sandbox, company_id, contract_id)
    held, spent = sandbox.store.contract_money(contract_id)
    return ContractSummary(
        contractID=contract_id,
        consolidatedSpent=spent,
        onHold=held,
        currency=seeded.currency,
        spendLimit=seeded.spend_limit,
    ).to_wire()


def price(
    sandbox: Sandbox,
    company_id: str,
    *,
    contract_id: str,
    imaging_mode: str,
    lat: float,
    lon: float,
    exclusivity: str,
    priority: str,
    sla: str,
    eula: str,
) -> dict[str, Any]:
    """getPrice: every parameter is required (SPEC) and must be allowed by the contract."""
    seeded = _priced(sandbox, company_id, contract_id)
    contract = seeded.contract
    broken = point_violations(lat, lon, fields=("pointOfInterest[lat]", "pointOfInterest[lon]"))
    options: tuple[tuple[str, str, OptionGroup], ...] = (
        ("imagingMode", imaging_mode, contract.imagingModes),
        ("exclusivity", exclusivity, contract.exclusivity),
        ("priority", priority, contract.priority),
        ("sla", sla, contract.sla),
        ("eula", eula, contract.eula),
    )
    for name, value, group in options:
        if group.allowed and value not in group.allowed:
            broken.append(
                Violation(
                    name,
                    RULE_CONTRACT_ALLOWED,
                    f"{name} {value} is not allowed by contract {contract.name or contract.id} "
                    f"(allowed: {', '.join(group.allowed)}) ({RULE_CONTRACT_ALLOWED} rule).",
                )
            )
    if broken:
        raise from_violations(400, broken)
    amount = task_price(imaging_mode, priority, sla, exclusivity, lat)
    return Price(amount=amount, currency=seeded.currency).to_wire()
