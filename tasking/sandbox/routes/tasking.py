"""Tasking API v2: tasks, scenes, products, price, feasibility (iceye-api.md §4)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from tasking.models import (
    FeasibilityResponse,
    Page,
    Price,
    Product,
    Scene,
    Task,
    TaskUpdateRequest,
)
from tasking.sandbox import catalog, feasibility, ledger, tasks
from tasking.sandbox.problems import bad_request
from tasking.sandbox.routes.deps import (
    CheckedTaskRequest,
    CompanyDep,
    ContractIDQuery,
    CreatedAfter,
    CreatedBefore,
    OptionalContractIDQuery,
    ProductTypePath,
    SandboxDep,
    TaskID,
    check_request,
)

router = APIRouter(prefix="/api/tasking/v2", tags=["tasking"])


@router.post(
    "/tasks",
    status_code=201,
    operation_id="createTask",
    summary="Create a task",
    responses={201: {"model": Task}},
)
def create_task(sandbox: SandboxDep, company: CompanyDep, body: CheckedTaskRequest) -> Any:
    check_request(body)
    return tasks.create_task(sandbox, company, body)


@router.get(
    "/tasks",
    operation_id="getTasks",
    summary="List tasks, newest first",
    responses={200: {"model": Page[Task]}},
)
def list_tasks(
    sandbox: SandboxDep,
    company: CompanyDep,
    limit: int | None = None,
    cursor: str | None = None,
    contract_id: OptionalContractIDQuery = None,
    created_after: CreatedAfter = None,
    created_before: CreatedBefore = None,
) -> Any:
    return tasks.list_tasks(
        sandbox,
        company,
        limit=limit,
        cursor=cursor,
        contract_id=contract_id,
        created_after=created_after,
        created_before=created_before,
    )


@router.get(
    "/tasks/{taskID}",
    operation_id="getTask",
    summary="Get a task",
    responses={200: {"model": Task}},
)
def get_task(sandbox: SandboxDep, company: CompanyDep, task_id: TaskID) -> Any:
    return tasks.get_task(sandbox, company, task_id)


@router.patch(
    "/tasks/{taskID}",
    operation_id="cancelTask",
    summary='Cancel a task: body {"status": "CANCELED"}',
    responses={200: {"model": Task}},
)
def cancel_task(
    sandbox: SandboxDep, company: CompanyDep, task_id: TaskID, body: TaskUpdateRequest
) -> Any:
    if "status" not in body.model_fields_set:
        raise bad_request('field \'status\' is required: the only update is {"status": "CANCELED"}')
    return tasks.cancel_task(sandbox, company, task_id)


@router.get(
    "/tasks/{taskID}/scene",
    operation_id="getTaskScene",
    summary="Planned or captured scene (404 before ACTIVE and after cancel)",
    responses={200: {"model": Scene}},
)
def get_scene(sandbox: SandboxDep, company: CompanyDep, task_id: TaskID) -> Any:
    return tasks.get_scene(sandbox, company, task_id)


@router.get(
    "/tasks/{taskID}/products",
    operation_id="listTaskProducts",
    summary="Products as STAC items with fresh signed links (404 before FULFILLED)",
    responses={200: {"model": Page[Product]}},
)
def list_products(
    request: Request,
    sandbox: SandboxDep,
    company: CompanyDep,
    task_id: TaskID,
    cursor: str | None = None,
) -> Any:
    return catalog.list_products(sandbox, company, task_id, None, str(request.base_url))


@router.get(
    "/tasks/{taskID}/products/{productType}",
    operation_id="getTaskProduct",
    summary="One product type as STAC items (404 until it is ready)",
    responses={200: {"model": Page[Product]}},
)
def get_product(
    request: Request,
    sandbox: SandboxDep,
    company: CompanyDep,
    task_id: TaskID,
    product_type: ProductTypePath,
) -> Any:
    return catalog.list_products(sandbox, company, task_id, product_type, str(request.base_url))


@router.get(
    "/price",
    operation_id="getPrice",
    summary="Price of a task (contracts with a pricing plan; every parameter required)",
    responses={200: {"model": Price}},
)
def get_price(
    sandbox: SandboxDep,
    company: CompanyDep,
    contract_id: ContractIDQuery,
    imaging_mode: Annotated[str, Query(alias="imagingMode")],
    lat: Annotated[float, Query(alias="pointOfInterest[lat]")],
    lon: Annotated[float, Query(alias="pointOfInterest[lon]")],
    exclusivity: str,
    priority: str,
    sla: str,
    eula: str,
) -> Any:
    return ledger.price(
        sandbox,
        company,
        contract_id=contract_id,
        imaging_mode=imaging_mode,
        lat=lat,
        lon=lon,
        exclusivity=exclusivity,
        priority=priority,
        sla=sla,
        eula=eula,
    )


@router.post(
    "/feasibility",
    operation_id="checkFeasibility",
    summary="Check a list of task requests against passes, schedule and budget",
    responses={200: {"model": FeasibilityResponse}},
)
def check_feasibility(
    sandbox: SandboxDep, company: CompanyDep, body: list[CheckedTaskRequest]
) -> Any:
    for index, item in enumerate(body):
        check_request(item, prefix=f"item {index}: ")
    return feasibility.check_feasibility(sandbox, company, body)
