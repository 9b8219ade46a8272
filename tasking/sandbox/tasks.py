"""Tasking API operations on tasks: create, list, get, cancel, scene (iceye-api.md §4.3-§4.7).

Create checks the request with ``tasking.rules.check_request`` — the client's own rules, so client and
sandbox cannot disagree — then the budget, fills the contract's defaults into the stored task (§9.5)
and hands it to the scheduler. Another company's task is answered exactly like an unknown one (404),
so task ids do not leak between companies.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from tasking import modes
from tasking.models import Contract, Task, TaskRequest
from tasking.monitoring import (
    CANCELLABLE,
    DEFAULT_SLA,
    SCENE_STATUSES,
    cancellation_fee,
    statuses_text,
)
from tasking.rules import check_request, effective_exclusivity, effective_priority, effective_sla
from tasking.sandbox.core import Sandbox
from tasking.sandbox.planning import imaging_duration, incidence_range
from tasking.sandbox.pricing import task_price
from tasking.sandbox.problems import (
    INVALID_STATUS_CODE,
    ApiProblem,
    bad_request,
    from_violations,
    insufficient_funds,
    not_found,
)
from tasking.sandbox.scheduler import scene_of
from tasking.sandbox.store import TaskRecord
from tasking.times import format_rfc3339, parse_time

# Paging (iceye-api.md §1.1): default 10; the Delivery API's maximum of 100 applies here too.
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
_LIST_OMITS = ("notifications", "deliveries")  # ListTask = Task minus these (SPEC)


# --- documents -------------------------------------------------------------------------------


def fill_defaults(request: TaskRequest, contract: Contract) -> dict[str, Any]:
    """The stored task document: the request plus every default the contract or mode implies."""
    doc = request.to_wire()
    mode = request.imagingMode
    info = modes.mode_info(mode)
    doc["priority"] = effective_priority(
        request.priority.value if request.priority else None, contract
    )
    doc["exclusivity"] = effective_exclusivity(request.exclusivity, contract)
    doc["sla"] = effective_sla(request.sla, contract) or DEFAULT_SLA
    eula = request.eula or contract.eula.resolved_default()
    if eula:
        doc["eula"] = eula
    if "incidenceAngle" not in doc:
        low, high = incidence_range(None, mode)
        doc["incidenceAngle"] = {"min": low, "max": high}
    doc.setdefault("lookSide", "ANY")
    doc.setdefault("passDirection", "ANY")
    if "productTypes" not in doc:
        offered = contract.product_types_for(mode) or list(info.product_types)
        doc["productTypes"] = [t for t in offered if t in modes.SLA_PRODUCTS]
    doc["imagingDuration"] = imaging_duration(doc)
    hours = modes.sla_hours(doc["sla"])
    if hours is not None:
        doc["productsAvailableInSeconds"] = int(hours * 3600)
    if "deliveries" in doc:
        doc["deliveries"] = [{**d, "status": "pending"} for d in doc["deliveries"]]
    return doc


def task_model(record: TaskRecord) -> Task:
    return Task.model_validate(
        {
            **record.document,
            "id": record.id,
            "status": record.status,
            "createdAt": record.created_at,
            "updatedAt": record.updated_at,
            "fulfilledAt": record.fulfilled_at,
        }
    )


def task_wire(record: TaskRecord, *, listing: bool = False) -> dict[str, Any]:
    """The Task (or ListTask) JSON of a record: wire names, no empty fields."""
    wire = task_model(record).to_wire()
    if listing:
        for key in _LIST_OMITS:
            wire.pop(key, None)
    return wire


def own_task(sandbox: Sandbox, company_id: str, task_id: str) -> TaskRecord:
    record = sandbox.store.get_task(task_id)
    if record is None or record.company_id != company_id:
        raise not_found(f"task {task_id} not found", title="Task Not Found")
    return record


# --- operations ------------------------------------------------------------------------------


def create_task(sandbox: Sandbox, company_id: str, request: TaskRequest) -> dict[str, Any]:
    """createTask: 201 with the RECEIVED task, defaults filled in."""
    seeded = sandbox.contract(company_id, request.contractID)
    sandbox.catch_up()  # committed on its own, so that a refusal below rolls back nothing of it
    with sandbox.store.transaction():
        now = sandbox.now_in_transaction()
        violations = check_request(request, seeded.contract, now)
        if violations:
            raise from_violations(400, violations)
        document = fill_defaults(request, seeded.contract)
        price = 0
        if seeded.spend_limit is not None:
            price = task_price(
                request.imagingMode,
                document["priority"],
                document["sla"],
                document["exclusivity"],
                request.pointOfInterest.lat,
            )
            held, spent = sandbox.store.contract_money(seeded.contract.id)
            if price > seeded.spend_limit - held - spent:
                raise insufficient_funds()
        record = TaskRecord(
            id=sandbox.config.id_factory(),
            company_id=company_id,
            contract_id=seeded.contract.id,
            created_at=now,
            updated_at=now,
            status="RECEIVED",
            priority=document["priority"],
            document=document,
            price=price,
        )
        sandbox.store.insert_task(record)
        sandbox.store.add_history(record.id, now, "received", "RECEIVED", {"price": price})
        sandbox.scheduler.submitted(record)
    return task_wire(record)


def list_tasks(
    sandbox: Sandbox,
    company_id: str,
    *,
    limit: int | None,
    cursor: str | None,
    contract_id: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
) -> dict[str, Any]:
    """getTasks: newest first; ``cursor`` only when another page exists."""
    size = check_limit(limit)
    below = None
    if cursor:
        position = decode_cursor(cursor)
        try:
            below = (parse_time(position["createdAt"]), int(position["seq"]))
        except (KeyError, TypeError, ValueError):
            raise bad_request("cursor is not one this API issued") from None
    records = sandbox.store.list_tasks(
        company_id,
        limit=size + 1,
        contract_id=contract_id,
        created_after=created_after,
        created_before=created_before,
        below=below,
    )
    page: dict[str, Any] = {"data": [task_wire(r, listing=True) for r in records[:size]]}
    if len(records) > size:
        last = records[size - 1]
        page["cursor"] = encode_cursor(
            {"lastId": last.id, "createdAt": format_rfc3339(last.created_at), "seq": last.seq}
        )
    return page


def cancel_task(sandbox: Sandbox, company_id: str, task_id: str) -> dict[str, Any]:
    """cancelTask: only from RECEIVED or ACTIVE; the fee tier of PSPEC 3.6 is charged."""
    sandbox.catch_up()
    with sandbox.store.transaction():
        now = sandbox.now_in_transaction()
        record = own_task(sandbox, company_id, task_id)
        if record.status not in CANCELLABLE:
            raise ApiProblem(
                400,
                f"task cannot be canceled in status {record.status} "
                f"(only {statuses_text(CANCELLABLE)})",
                code=INVALID_STATUS_CODE,
            )
        window_start = parse_time(record.document["acquisitionWindow"]["start"])
        tier = cancellation_fee(now, window_start)
        record.fee = record.price * tier.percent // 100
        record.status = "CANCELED"
        record.updated_at = now
        sandbox.store.update_task(record)
        sandbox.scheduler.canceled(record)
        sandbox.store.add_history(
            record.id,
            now,
            "canceled",
            "CANCELED",
            {"feePercent": tier.percent, "fee": record.fee, "tier": tier.label},
        )
    return task_wire(record)


def get_scene(sandbox: Sandbox, company_id: str, task_id: str) -> dict[str, Any]:
    """getTaskScene: planned while ACTIVE, locked once captured; 404 otherwise."""
    record = own_task(sandbox, company_id, task_id)
    if record.status not in SCENE_STATUSES or record.plan is None:
        raise not_found(
            f"scene of task {task_id} is not available in status {record.status} "
            f"(only {statuses_text(SCENE_STATUSES)})",
            title="Scene Not Found",
        )
    return scene_of(record.plan).to_wire()


# --- paging ----------------------------------------------------------------------------------


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def encode_cursor(position: dict[str, Any]) -> str:
    """Opaque cursor: base64 of a JSON position, like ICEYE's ``eyJsYXN0SWQiOi...``."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad_request("cursor is not one this API issued") from None
    if not isinstance(position, dict):
        raise bad_request("cursor is not one this API issued")
    return position
