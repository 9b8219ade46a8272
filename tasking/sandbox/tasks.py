"""Tasking API operations on tasks: create, list, get, cancel, scene (iceye-api.md §4.3-§4.7).

Create checks the request with ``tasking.rules.check_request`` — the client's own rules, so client and
sandbox cannot disagree — then the budget, fills the contract's defaults into the stored task (§9.5)
and hands it to the scheduler. Another company's task is answered exactly like an unknown one (404),
so task ids do not leak between companies.

A write is committed only with its answer: create and cancel render the response inside their
transaction, so a task that cannot be rendered is never saved. A stored task that cannot be
rendered (a row written by an older sandbox, or edited by hand) is logged and treated as absent:
lists skip it and its id answers 404, so one bad row never breaks a company's list.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import datetime
from typing import Any

from pydantic import ValidationError

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
from tasking.sandbox.notifications import queue_status_change, webhook_of
from tasking.sandbox.planning import imaging_duration, incidence_range
from tasking.sandbox.pricing import task_price
from tasking.sandbox.problems import (
    INVALID_STATUS_CODE,
    WEBHOOK_NOT_FOUND_CODE,
    ApiProblem,
    bad_request,
    from_violations,
    insufficient_funds,
    not_found,
)
from tasking.sandbox.scheduler import scene_of
from tasking.sandbox.store import TaskRecord
from tasking.times import format_rfc3339, parse_time

log = logging.getLogger(__name__)

# Paging (iceye-api.md §1.1 and §9.8): default 10; ICEYE's changelog (2025-02-17) refuses a
# `limit` outside 0..10000 with a 400. A page of 0 could carry no cursor, so the sandbox starts at 1.
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
# SQLite's INTEGER (a cursor's seq must fit it).
_MAX_SEQ = 2**63 - 1
_LIST_OMITS = ("notifications", "deliveries")  # ListTask = Task minus these (SPEC)
# Accepted in requests (§4.3) but not a field of ICEYE's Task object (SPEC Task, §4.2).
_TASK_OMITS = ("derivativeProductTypes",)
_BAD_CURSOR = "cursor is not one this API issued"


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
    """The Task (or ListTask) JSON of a record: wire names, no empty fields.

    Raises ``ValueError`` (pydantic's ``ValidationError`` is one) when the record cannot be
    rendered as JSON text, e.g. a NaN or a document without its required fields.
    """
    wire = task_model(record).to_wire()
    for key in (*_TASK_OMITS, *(_LIST_OMITS if listing else ())):
        wire.pop(key, None)
    json_bytes(wire)
    return wire


def json_bytes(payload: Any) -> bytes:
    """The response body exactly as FastAPI's ``JSONResponse`` renders it (``ValueError`` for what
    it cannot render: text UTF-8 cannot encode, NaN or infinity)."""
    try:
        return json.dumps(
            payload, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text that UTF-8 cannot encode: {exc}") from None


def readable_wire(record: TaskRecord, *, listing: bool = False) -> dict[str, Any] | None:
    """``task_wire``, or None (logged) for a stored task that cannot be rendered."""
    try:
        return task_wire(record, listing=listing)
    except (ValidationError, ValueError, KeyError, TypeError):
        log.exception("stored task %s cannot be rendered; it is left out of the API", record.id)
        return None


def own_task(sandbox: Sandbox, company_id: str, task_id: str) -> TaskRecord:
    """The company's task; unknown, another company's and unreadable tasks are the same 404."""
    record = sandbox.store.get_task(task_id)
    if record is None or record.company_id != company_id or readable_wire(record) is None:
        raise not_found(f"task {task_id} not found", title="Task Not Found")
    return record


def _answer(record: TaskRecord) -> dict[str, Any]:
    """The Task answering a write, rendered before the write commits (a failure rolls it back)."""
    try:
        return task_wire(record)
    except (ValidationError, ValueError, KeyError, TypeError):
        log.exception("task %s cannot be rendered; the change is not saved", record.id)
        raise ApiProblem(500, "the task could not be rendered; nothing was saved") from None


# --- operations ------------------------------------------------------------------------------


def create_task(sandbox: Sandbox, company_id: str, request: TaskRequest) -> dict[str, Any]:
    """createTask: 201 with the RECEIVED task, defaults filled in; 429 while the scheduler's
    backlog is too long (``Sandbox.check_backlog``)."""
    seeded = sandbox.contract(company_id, request.contractID)
    sandbox.check_backlog()
    # Only the funds of a priced contract depend on what is due (a rejection frees its hold);
    # any other create gives a RECEIVED task whatever else is due (core.py).
    priced = seeded.spend_limit is not None
    if priced:
        sandbox.catch_up()  # committed on its own, so that a refusal below rolls back nothing
    with sandbox.store.transaction():
        now = sandbox.now_in_transaction() if priced else sandbox.clock.now()
        violations = check_request(request, seeded.contract, now)
        if violations:
            raise from_violations(400, violations)
        document = fill_defaults(request, seeded.contract)
        if request.notifications is not None:
            document["notifications"] = {
                "webhook": {"id": _own_webhook(sandbox, company_id, document)}
            }
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
        queue_status_change(sandbox.store, sandbox.config.id_factory, record, now)
        sandbox.scheduler.submitted(record)
        answer = _answer(record)
    return answer


def _own_webhook(sandbox: Sandbox, company_id: str, document: dict[str, Any]) -> str:
    """The canonical id of the company's webhook the task names; 400 ``ERR_WEBHOOK_NOT_FOUND``
    for an unknown one or another company's (the code is the sandbox's choice)."""
    webhook_id = webhook_of(document)  # the edge has checked it is a UUID
    webhook = sandbox.store.get_webhook(webhook_id) if webhook_id else None
    if webhook is None or webhook.company_id != company_id:
        shown = document["notifications"]["webhook"]["id"]
        raise ApiProblem(
            400,
            f"notifications.webhook.id: webhook {shown} not found; register one with "
            "POST /api/notifications/v1/webhooks",
            code=WEBHOOK_NOT_FOUND_CODE,
        )
    return webhook.id


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
    below = cursor_position(decode_cursor(cursor)) if cursor else None
    records = sandbox.store.list_tasks(
        company_id,
        limit=size + 1,
        contract_id=contract_id,
        created_after=created_after,
        created_before=created_before,
        below=below,
    )
    # A row that cannot be rendered is skipped (and logged); it still counts for the cursor, so
    # paging goes on past it.
    rendered = (readable_wire(r, listing=True) for r in records[:size])
    page: dict[str, Any] = {"data": [wire for wire in rendered if wire is not None]}
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
        queue_status_change(sandbox.store, sandbox.config.id_factory, record, now)
        answer = _answer(record)
    return answer


def get_task(sandbox: Sandbox, company_id: str, task_id: str) -> dict[str, Any]:
    """getTask."""
    return task_wire(own_task(sandbox, company_id, task_id))


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
        raise bad_request(_BAD_CURSOR) from None
    if not isinstance(position, dict):
        raise bad_request(_BAD_CURSOR)
    return position


def cursor_position(position: dict[str, Any]) -> tuple[datetime, int]:
    """(createdAt, seq) of a task-list (or webhook-list) cursor; 400 for anything this API would not have issued."""
    created, seq = position.get("createdAt"), position.get("seq")
    if not isinstance(created, str) or type(seq) is not int or not 0 <= seq <= _MAX_SEQ:
        raise bad_request(_BAD_CURSOR)
    try:
        return parse_time(created), seq
    except (ValueError, OverflowError):
        raise bad_request(_BAD_CURSOR) from None
