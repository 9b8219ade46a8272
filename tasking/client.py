"""``TaskingClient``: the one object callers use for ICEYE's APIs.

Built like planet-client-python's ``Planet``: one ``Session`` (``tasking.http``: the one
``httpx.Client``, auth, retries, error mapping, logging, downloads, the server's time) shared by one
client per API, ``.company`` (``tasking.company``, Company API v1) and ``.tasking``
(``tasking.tasking_api``, Tasking API v2). The methods below delegate to those two, so call sites
keep one object and one spelling; ``api_url`` is like ``https://platform.iceye.com/api``
(``ICEYE_API_URL`` in ICEYE's demo). Paths, bodies and responses follow ``reference/iceye-api.md``
§3 and §4.

Resilience: idempotent calls retry with backoff on 429, 5xx and transport errors, honouring
``Retry-After``; a feasibility check is not retried after a read timeout; ``probe`` is one short
request. Creating a task never sends the create twice after an ambiguous failure: ``send_create``
retries only what the server certainly did not process, ``find_created`` looks for the task a
request made, and ``create_task`` combines them for a shell (``tasking.tasking_api``). Every failure
is an error of ``tasking.errors``, whose ``outcome_unknown`` says whether the server may have acted.

Time: ``server_now`` is the local clock (the machine's UTC, or the ``clock`` given) corrected by the
``Date`` header of the latest response: the server's time, on ICEYE and on the sandbox (whose
``Date`` is its simulation clock), so a lookup for a task finds it whatever the machine's clock says.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from tasking.auth import ClientCredentialsAuth
from tasking.company import PROBE_TIMEOUT_S, CompanyAPI
from tasking.config import Settings, token_url_for
from tasking.errors import ConfigurationError
from tasking.http import KEEPALIVE_S, MAX_ASSET_BYTES, MAX_ATTEMPTS, Session
from tasking.models import (
    Contract,
    ContractSummary,
    FeasibilityItem,
    FeasibilityResponse,
    Page,
    Price,
    Product,
    Scene,
    Task,
    TaskRequest,
)
from tasking.notifications_api import NotificationsAPI, Webhook
from tasking.tasking_api import CREATE_LOOKUP_SKEW, FEASIBILITY_MAX_ITEMS, TaskingAPI

# KEEPALIVE_S is re-exported for tasking.sandbox.control, CREATE_LOOKUP_SKEW for find_created's
# callers.
__all__ = ["CREATE_LOOKUP_SKEW", "KEEPALIVE_S", "TaskingClient"]


class TaskingClient:
    """ICEYE Company v1 + Tasking v2 operations; thread-safe, share one per process."""

    def __init__(
        self,
        api_url: str,
        auth: httpx.Auth | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
        rng: random.Random | None = None,
    ) -> None:
        self.session = Session(
            api_url,
            auth,
            timeout=timeout,
            transport=transport,
            http=http,
            clock=clock,
            sleep=sleep,
            max_attempts=max_attempts,
            rng=rng,
        )
        self.company = CompanyAPI(self.session)
        self.tasking = TaskingAPI(self.session)
        self.notifications = NotificationsAPI(self.session)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        api_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        auth_url: str | None = None,
        **kwargs: Any,
    ) -> TaskingClient:
        """A client for the settings; the app passes the sandbox's URLs and demo credentials."""
        url = api_url or settings.api_url
        if not url:
            raise ConfigurationError("ICEYE_API_URL is missing: no API to talk to")
        cid = client_id or settings.client_id
        secret = client_secret or settings.client_secret
        base = auth_url or settings.auth_url
        auth: httpx.Auth | None = None
        if cid and secret and base:
            auth = ClientCredentialsAuth(token_url_for(base), cid, secret)
        elif cid or secret or base:
            raise ConfigurationError(
                "Client credentials are incomplete: ICEYE_AUTH_URL, ICEYE_CLIENT_ID and "
                "ICEYE_CLIENT_SECRET are all needed to authenticate"
            )
        return cls(url, auth, timeout=settings.timeout_s, **kwargs)

    # --- lifecycle and session ---------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.session.api_url

    @property
    def request_count(self) -> int:
        """HTTP requests sent through this client (retries and token requests included)."""
        return self.session.request_count

    def server_now(self) -> datetime:
        """The server's time now (module doc: the local clock corrected by ``Date``)."""
        return self.session.server_now()

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> TaskingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TaskingClient(api_url={self.api_url!r})"

    # --- Company API v1 (tasking.company) ----------------------------------------------------

    def probe(self, timeout: float = PROBE_TIMEOUT_S) -> None:
        """Health check: one ``GET /company/v1/contracts?limit=1``, no retry."""
        self.company.probe(timeout)

    def list_contracts(self, limit: int | None = None, cursor: str | None = None) -> Page[Contract]:
        """ListContracts: ``GET /company/v1/contracts`` (one page)."""
        return self.company.list_contracts(limit, cursor)

    def iter_contracts(self, limit: int | None = None) -> Iterator[Contract]:
        """ListContracts, every page."""
        return self.company.iter_contracts(limit)

    def get_contract(self, contract_id: str) -> Contract:
        """GetContract: ``GET /company/v1/contracts/{contractID}``."""
        return self.company.get_contract(contract_id)

    def get_contract_summary(self, contract_id: str) -> ContractSummary:
        """GetSummary: ``GET /company/v1/contracts/{contractID}/summary``."""
        return self.company.get_contract_summary(contract_id)

    # --- Tasking API v2 (tasking.tasking_api) ------------------------------------------------

    def get_price(self, request: TaskRequest, contract: Contract | None = None) -> Price:
        """getPrice: ``GET /tasking/v2/price``."""
        return self.tasking.get_price(request, contract)

    def check_feasibility(self, requests: Sequence[TaskRequest]) -> FeasibilityResponse:
        """checkFeasibility: ``POST /tasking/v2/feasibility``."""
        return self.tasking.check_feasibility(requests)

    def check_feasibility_batch(
        self, requests: Sequence[TaskRequest], *, max_items: int = FEASIBILITY_MAX_ITEMS
    ) -> list[FeasibilityItem]:
        """checkFeasibility for many targets: one verdict per request, one request per priority
        and ``max_items`` requests."""
        return self.tasking.check_feasibility_batch(requests, max_items=max_items)

    def send_create(self, request: TaskRequest) -> Task:
        """createTask: one ``POST /tasking/v2/tasks``, retried only if certainly not processed."""
        return self.tasking.send_create(request)

    def find_created(self, request: TaskRequest, since: datetime) -> Task | None:
        """getTasks since ``since`` (server time): the task ``request`` made, or None."""
        return self.tasking.find_created(request, since)

    def matching_tasks(self, request: TaskRequest, since: datetime) -> list[Task]:
        """getTasks since ``since`` (server time): every task ``request`` could have made."""
        return self.tasking.matching_tasks(request, since)

    def create_task(self, request: TaskRequest) -> Task:
        """createTask, then a lookup after an ambiguous failure; never sends twice."""
        return self.tasking.create_task(request)

    def list_tasks(
        self,
        contract_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Task]:
        """getTasks: ``GET /tasking/v2/tasks`` (one page)."""
        return self.tasking.list_tasks(contract_id, created_after, created_before, limit, cursor)

    def iter_tasks(
        self,
        contract_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[Task]:
        """getTasks, every page."""
        return self.tasking.iter_tasks(contract_id, created_after, created_before, limit)

    def get_task(self, task_id: str) -> Task:
        """getTask: ``GET /tasking/v2/tasks/{taskID}``."""
        return self.tasking.get_task(task_id)

    def cancel_task(self, task_id: str) -> Task:
        """cancelTask: ``PATCH /tasking/v2/tasks/{taskID}``."""
        return self.tasking.cancel_task(task_id)

    def get_scene(self, task_id: str) -> Scene:
        """getTaskScene: ``GET /tasking/v2/tasks/{taskID}/scene``."""
        return self.tasking.get_scene(task_id)

    def list_products(self, task_id: str, product_type: str | None = None) -> list[Product]:
        """listTaskProducts / getTaskProduct: ``GET /tasking/v2/tasks/{taskID}/products[/{type}]``."""
        return self.tasking.list_products(task_id, product_type)

    def fetch_asset(self, href: str, *, max_bytes: int = MAX_ASSET_BYTES) -> bytes:
        """The bytes behind a product asset's signed link (``Session.download``)."""
        return self.session.download(href, max_bytes=max_bytes)

    # --- notifications (webhooks) ------------------------------------------------------------

    def register_webhook(
        self, url: str, *, username: str, password: str, description: str | None = None
    ) -> Webhook:
        return self.notifications.register_webhook(
            url, username=username, password=password, description=description
        )

    def list_webhooks(self) -> list[Webhook]:
        return list(self.notifications.iter_webhooks())

    def delete_webhook(self, webhook_id: str) -> None:
        self.notifications.delete_webhook(webhook_id)
