"""Company API v1: contracts and their budget summary (iceye-api.md §3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tasking.models import Contract, ContractSummary
from tasking.sandbox import ledger
from tasking.sandbox.routes.deps import CompanyDep, ContractIDPath, SandboxDep
from tasking.sandbox.tasks import check_limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/api/company/v1", tags=["company"])


@router.get("/contracts", operation_id="ListContracts", summary="List contracts")
def list_contracts(
    sandbox: SandboxDep,
    company: CompanyDep,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    size = check_limit(limit)
    contracts = sandbox.contracts_of(company)
    start = 0
    if cursor:
        last = decode_cursor(cursor).get("lastId")
        ids = [c.contract.id for c in contracts]
        start = ids.index(last) + 1 if last in ids else len(ids)
    chunk = contracts[start : start + size]
    page: dict[str, Any] = {"data": [c.contract.to_wire() for c in chunk]}
    if start + size < len(contracts):
        page["cursor"] = encode_cursor({"lastId": chunk[-1].contract.id})
    return page


@router.get(
    "/contracts/{contractID}",
    operation_id="GetContract",
    summary="Get a contract",
    responses={200: {"model": Contract}},
)
def get_contract(sandbox: SandboxDep, company: CompanyDep, contract_id: ContractIDPath) -> Any:
    return sandbox.contract(company, contract_id).contract.to_wire()


@router.get(
    "/contracts/{contractID}/summary",
    operation_id="GetSummary",
    summary="Budget of a contract with a pricing plan (404 without one)",
    responses={200: {"model": ContractSummary}},
)
def get_summary(sandbox: SandboxDep, company: CompanyDep, contract_id: ContractIDPath) -> Any:
    return ledger.summary(sandbox, company, contract_id)
