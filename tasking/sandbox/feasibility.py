"""checkFeasibility (iceye-api.md §4.10, seeds/check-task-feasibility.txt).

Input refusals, for the whole request (the sandbox's choice, following the doc page's error list):
- 400: not a non-empty JSON array of createTask bodies, mixed priorities ("All tasks in a single
  request must have the same priority"), or a value rule (point, incidence, duration, reference);
- 403: the doc page's "not allowed" cases: contract dates not valid, acquisition window not valid
  (lead time, 14 days ahead, 24 h wide), derivatives or any other option not enabled by the contract;
- 404: an unknown contract (or another company's).
A valid request answers 200 ``{id, status: "DONE", createdAt, feasibility: [...]}`` with one verdict
per item, ``id`` its index, ``result`` and ``status`` both FEASIBLE / INFEASIBLE (the tutorial reads
one, the doc page the other), a ``reason`` when infeasible and ``opportunities`` when feasible, in
time order (free slots and ones that would displace BACKGROUND bookings mixed). The
verdict uses the scheduler's own planner on real passes, the current bookings, and the contract's
available funds; items are planned in order, each seeing the slots and money the earlier ones took.

Many points cost little each (issue 12): the constellation's states are the same for every item, so
the passes of all items are predicted together on one shared grid (``World.passes_for_many``), and
the planner looks bookings up by satellite and time (``BookingIndex``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tasking import rules
from tasking.errors import Violation
from tasking.geometry import LookSide, look_bearing
from tasking.models import Opportunity, TaskRequest
from tasking.sandbox.core import Sandbox
from tasking.sandbox.planning import Booking, BookingIndex, Refusal, Slot, find_slots
from tasking.sandbox.pricing import task_price
from tasking.sandbox.problems import bad_request, from_violations
from tasking.sandbox.tasks import fill_defaults
from tasking.times import format_rfc3339

# ICEYE publishes no limit for the array; the sandbox's own, large enough for a campaign of a
# thousand targets in one request (well within the 1 MiB body limit: an item is ~0.4 kB).
MAX_ITEMS = 1000
OPPORTUNITIES = 5  # earliest slots shown with a FEASIBLE verdict
_FORBIDDEN_RULES = frozenset(
    {
        rules.RULE_CONTRACT_VALIDITY,
        rules.RULE_LEAD_TIME,
        rules.RULE_MAX_AHEAD,
        rules.RULE_MIN_WINDOW,
        rules.RULE_WINDOW_ORDER,
        rules.RULE_CONTRACT_ALLOWED,
        rules.RULE_PRODUCT_TYPES,
        rules.RULE_DERIVATIVE_CONTRACT,
        rules.RULE_DERIVATIVE_MODE,
        rules.RULE_DERIVATIVE_GRD,
    }
)


def check_feasibility(
    sandbox: Sandbox, company_id: str, items: Sequence[TaskRequest]
) -> dict[str, Any]:
    if not items:
        raise bad_request("feasibility needs a non-empty JSON array of task requests")
    if len(items) > MAX_ITEMS:
        raise bad_request(f"at most {MAX_ITEMS} task requests per feasibility check")
    contracts = {i.contractID: sandbox.contract(company_id, i.contractID) for i in items}
    batch = rules.check_batch(items, {k: v.contract for k, v in contracts.items()})
    if batch:
        raise from_violations(400, batch)

    now = sandbox.catch_up()
    broken: list[Violation] = []
    for index, item in enumerate(items):
        for v in rules.check_request(item, contracts[item.contractID].contract, now):
            broken.append(Violation(f"item {index}: {v.field}", v.rule, v.message))
    if broken:
        forbidden = all(v.rule in _FORBIDDEN_RULES for v in broken)
        raise from_violations(403 if forbidden else 400, broken)

    bookings = BookingIndex(sandbox.scheduler.bookings())
    funds: dict[str, int] = {}
    for contract_id, seeded in contracts.items():
        if seeded.spend_limit is not None:
            held, spent = sandbox.store.contract_money(contract_id)
            funds[contract_id] = seeded.spend_limit - held - spent

    documents = [fill_defaults(i, contracts[i.contractID].contract) for i in items]
    passes = sandbox.world.passes_for_many(documents)
    verdicts = []
    for index, (item, document) in enumerate(zip(items, documents, strict=True)):
        found = find_slots(
            passes[index],
            document,
            priority=document["priority"],
            not_before=now,
            bookings=bookings,
            gap_s=sandbox.config.setup_gap_s,
            limit=OPPORTUNITIES,
        )
        verdict: dict[str, Any] = {"id": str(index)}
        if isinstance(found, Refusal):
            verdicts.append(_infeasible(verdict, found.reason))
            continue
        if item.contractID in funds:
            price = task_price(
                item.imagingMode,
                document["priority"],
                document["sla"],
                document["exclusivity"],
                item.pointOfInterest.lat,
            )
            if price > funds[item.contractID]:
                reason = (
                    f"insufficient funds: the task costs {price} minor units and the contract has "
                    f"{funds[item.contractID]} available"
                )
                verdicts.append(_infeasible(verdict, reason))
                continue
            funds[item.contractID] -= price
        first = found[0]  # the planner's choice: what the scheduler would book
        bookings.add(
            Booking(
                f"item-{index}", document["priority"], first.pass_.satellite, first.start, first.end
            )
        )
        verdict |= {
            "result": "FEASIBLE",
            "status": "FEASIBLE",
            "opportunities": [_opportunity(s) for s in sorted(found, key=lambda s: s.start)],
        }
        verdicts.append(verdict)
    return {
        "id": sandbox.config.id_factory(),
        "status": "DONE",
        "createdAt": format_rfc3339(now),
        "feasibility": verdicts,
    }


def _infeasible(verdict: dict[str, Any], reason: str) -> dict[str, Any]:
    return verdict | {"result": "INFEASIBLE", "status": "INFEASIBLE", "reason": reason}


def _opportunity(slot: Slot) -> dict[str, Any]:
    """The spec's ``Opportunity``; ``azimuth`` = bearing from the target to the satellite."""
    p = slot.pass_
    side: LookSide = "LEFT" if p.look_side == "LEFT" else "RIGHT"
    towards_satellite = (look_bearing(p.heading, side) + 180.0) % 360.0
    return Opportunity(
        imagingStartTime=slot.start,
        incidenceAngle=round(p.incidence, 1),
        lookSide=p.look_side,
        passDirection=p.pass_direction,
        azimuth=round(towards_satellite, 1),
    ).to_wire()
