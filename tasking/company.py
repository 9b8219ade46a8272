"""``CompanyAPI``: ICEYE's Company API v1 (``reference/iceye-api.md`` §3) over a shared ``Session``.

Contracts (what the company may order) and their budgets; plus ``probe``, the health check, which
uses the cheapest call of the platform. Reads are retried as ``tasking.http`` describes.
"""

from __future__ import annotations

from collections.abc import Iterator

from tasking.http import Session, page_params, paginate, segment
from tasking.models import Contract, ContractSummary, Page

__all__ = ["COMPANY", "PROBE_TIMEOUT_S", "CompanyAPI"]

COMPANY = "/company/v1"
# A health check answers "is the backend there now?": a few seconds, not the 30 s of a UI call.
PROBE_TIMEOUT_S = 3.0


class CompanyAPI:
    """Company API v1 operations; thread-safe (the session is)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def list_contracts(self, limit: int | None = None, cursor: str | None = None) -> Page[Contract]:
        """ListContracts: ``GET /company/v1/contracts`` (one page)."""
        return self._session.get(f"{COMPANY}/contracts", Page[Contract], page_params(limit, cursor))

    def iter_contracts(self, limit: int | None = None) -> Iterator[Contract]:
        """ListContracts, every page: each contract, following the cursor to the end."""
        return paginate(lambda cursor: self.list_contracts(limit=limit, cursor=cursor))

    def get_contract(self, contract_id: str) -> Contract:
        """GetContract: ``GET /company/v1/contracts/{contractID}``."""
        return self._session.get(f"{COMPANY}/contracts/{segment(contract_id)}", Contract)

    def get_contract_summary(self, contract_id: str) -> ContractSummary:
        """GetSummary: ``GET /company/v1/contracts/{contractID}/summary`` (budget)."""
        path = f"{COMPANY}/contracts/{segment(contract_id)}/summary"
        return self._session.get(path, ContractSummary)

    def probe(self, timeout: float = PROBE_TIMEOUT_S) -> None:
        """Health check: one ListContracts ``GET /company/v1/contracts?limit=1`` with a short
        ``timeout`` and no retry (a token request first, if one is due). Raises TaskingError."""
        self._session.attempt(
            "GET", f"{COMPANY}/contracts", params=page_params(1, None), timeout=timeout
        )
