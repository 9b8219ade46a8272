"""Notifications API v1: webhooks (iceye-api.md §7.1; shapes in ``webhooks.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from tasking.models import Page
from tasking.sandbox import webhooks
from tasking.sandbox.routes.deps import CompanyDep, SandboxDep, Uuid
from tasking.sandbox.webhooks import Webhook, WebhookRequest

router = APIRouter(prefix="/api/notifications/v1", tags=["notifications"])

WebhookID = Annotated[Uuid, Path(alias="webhookID")]


@router.post(
    "/webhooks",
    status_code=201,
    operation_id="registerWebhook",
    summary="Register a webhook for task status callbacks",
    responses={201: {"model": Webhook}},
)
def register_webhook(sandbox: SandboxDep, company: CompanyDep, body: WebhookRequest) -> Any:
    return webhooks.register(sandbox, company, body)


@router.get(
    "/webhooks",
    operation_id="listWebhooks",
    summary="List the company's webhooks, newest first",
    responses={200: {"model": Page[Webhook]}},
)
def list_webhooks(
    sandbox: SandboxDep, company: CompanyDep, limit: int | None = None, cursor: str | None = None
) -> Any:
    return webhooks.list_page(sandbox, company, limit=limit, cursor=cursor)


@router.get(
    "/webhooks/{webhookID}",
    operation_id="getWebhook",
    summary="Get a webhook",
    responses={200: {"model": Webhook}},
)
def get_webhook(sandbox: SandboxDep, company: CompanyDep, webhook_id: WebhookID) -> Any:
    return webhooks.get(sandbox, company, webhook_id)


@router.delete(
    "/webhooks/{webhookID}",
    status_code=204,
    operation_id="deleteWebhook",
    summary="Delete a webhook: no more callbacks to it",
    response_class=Response,
)
def delete_webhook(sandbox: SandboxDep, company: CompanyDep, webhook_id: WebhookID) -> Response:
    webhooks.delete(sandbox, company, webhook_id)
    return Response(status_code=204)
