"""The routes' edge: the sandbox, the calling company, and every input checked and normalised once.

Every authenticated request is resolved to its company, counted against its token's rate limit
and preceded by the scheduler catching up with the simulation clock (issue 3: "before serving any
request ... process every due event"), without ever making a read wait for it
(``Sandbox.observe``, issue 13).

Inputs are refused here with a 400 in ICEYE's error body that names the field and the rule, so that
nothing reaches the store that cannot be served back: ids are UUIDs (iceye-api.md §1, SPEC
``ResourceID``: ``format: uuid``), normalised to lower-case canonical text; times are RFC 3339, a time
without an offset is UTC (§1: ICEYE speaks UTC), and one that leaves the years 1..9999 once converted
to UTC is refused; product types are the SPEC's ``ProductType`` enum; every string is valid Unicode.
Limits, each with its source:

- ``productTypes``: each known type at most once, so at most ``len(PRODUCT_TYPES)`` entries (SPEC
  ``ProductType`` enum plus the ``-COG`` types of the task-products page, iceye-api.md §4.1);
- ``derivativeProductTypes``: each of the three documented types at most once (§4.1);
- ``reference``: 256 characters (§6.1), checked by ``tasking.rules`` with the other request rules;
- the sandbox's own choices where ICEYE documents nothing: other strings at most
  ``MAX_TEXT`` characters, at most ``MAX_DELIVERIES`` deliveries of ``MAX_LOCATIONS`` locations.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from tasking import modes
from tasking.errors import InputError, Violation
from tasking.http import check_text
from tasking.models import TaskRequest, TimeWindow
from tasking.sandbox.core import Sandbox
from tasking.sandbox.problems import from_violations
from tasking.times import to_utc

# Declares the Bearer scheme in the OpenAPI document (the "Authorize" button of /docs); the token
# itself is checked by TokenService so that every failure has ICEYE's 401 body.
_bearer = HTTPBearer(auto_error=False, description="Access token from POST /v1/token")

# SPEC ProductType enum, plus CSI-COG and VID-COG named by the task-products page (§4.1).
PRODUCT_TYPES: Final = (*modes.SLA_PRODUCTS, *modes.NON_SLA_PRODUCTS)
# The sandbox's choices (nothing documented): far above any real use, far below a harmful size.
MAX_TEXT: Final = 1024
MAX_DELIVERIES: Final = 10
MAX_LOCATIONS: Final = 10

RULE_UUID: Final = "uuid-format"
RULE_TIME_RANGE: Final = "time-range"
RULE_TIME_FORMAT: Final = "rfc3339-date-time"
RULE_PRODUCT_TYPE: Final = "product-type-enum"
RULE_LIST_LENGTH: Final = "list-length"
RULE_UNIQUE: Final = "unique-items"
RULE_TEXT_LENGTH: Final = "text-length"


def get_sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


def caller(
    request: Request,
    sandbox: SandboxDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The id of the company whose token came with the request."""
    authorization = request.headers.get("authorization")
    company_id = sandbox.tokens.company_id(authorization)
    sandbox.limiter.check(authorization or "")
    sandbox.observe()
    return company_id


CompanyDep = Annotated[str, Depends(caller)]


# --- scalar inputs ---------------------------------------------------------------------------


def shown(value: object, width: int = 60) -> str:
    """``repr`` of a refused value, cut short: an error message never echoes a huge input."""
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 1]}…"


def canonical_uuid(value: str) -> str:
    """Lower-case canonical UUID text; ``ValueError`` naming the rule otherwise."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise ValueError(
            f"must be a UUID such as 3f0c6f2e-1a2b-4c3d-9e8f-0123456789ab, got {shown(value)} "
            f"({RULE_UUID} rule)"
        ) from None


def utc_time(value: datetime) -> datetime:
    """Aware UTC (naive means UTC); ``ValueError`` when UTC cannot hold it (year 1 or 9999 with an
    offset that leaves the years 1..9999)."""
    try:
        return to_utc(value)
    except ValueError as error:
        raise ValueError(f"{error} ({RULE_TIME_RANGE} rule)") from None


def _pydantic(check: Any) -> Any:
    """A check as a pydantic validator whose message is the check's own sentence."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except ValueError as exc:
            raise PydanticCustomError("invalid_input", str(exc)) from None

    return AfterValidator(validate)


def _product_type(value: str) -> str:
    if value not in PRODUCT_TYPES:
        raise ValueError(
            f"{shown(value)} is not a product type (one of {', '.join(PRODUCT_TYPES)}) "
            f"({RULE_PRODUCT_TYPE} rule)"
        )
    return value


Uuid = Annotated[str, _pydantic(canonical_uuid)]
# RFC 3339 date-time (iceye-api.md: times are RFC 3339); without an offset it is read as UTC.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?")


def _rfc3339_text(value: Any) -> Any:
    """Only RFC 3339 text is a time here: pydantic would also take a number (or a numeric string)
    as seconds since 1970, and a bare date as midnight."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise PydanticCustomError(
            "invalid_input",
            f"{shown(str(value))} is not an RFC 3339 date-time such as 2026-05-01T08:00:00Z "
            f"({RULE_TIME_FORMAT} rule)",
        )
    return value


UtcTime = Annotated[datetime, BeforeValidator(_rfc3339_text), _pydantic(utc_time)]
TaskID = Annotated[Uuid, Path(alias="taskID")]
ContractIDPath = Annotated[Uuid, Path(alias="contractID")]
ContractIDQuery = Annotated[Uuid, Query(alias="contractID")]
OptionalContractIDQuery = Annotated[Uuid | None, Query(alias="contractID")]
CreatedAfter = Annotated[UtcTime | None, Query(alias="createdAfter")]
CreatedBefore = Annotated[UtcTime | None, Query(alias="createdBefore")]
ProductTypePath = Annotated[str, Path(alias="productType"), _pydantic(_product_type)]


# --- request bodies --------------------------------------------------------------------------


class CheckedWindow(TimeWindow):
    """``acquisitionWindow`` whose times are refused (400) rather than crashing when out of range."""

    start: UtcTime
    end: UtcTime


class CheckedTaskRequest(TaskRequest):
    """createTask's body (and a feasibility item) as the sandbox parses it; see ``check_request``."""

    contractID: Uuid
    acquisitionWindow: CheckedWindow


def check_request(request: TaskRequest, prefix: str = "") -> None:
    """400 for what parsing alone does not refuse: text that is not Unicode, list limits, unknown
    product types, malformed webhook ids, oversized strings."""
    broken = request_violations(request)
    if broken:
        raise from_violations(400, broken, prefix)


def request_violations(request: TaskRequest) -> list[Violation]:
    wire = request.to_wire()
    try:
        check_text(wire)
    except InputError as exc:
        return exc.violations  # the rest would only repeat it with mangled text
    broken: list[Violation] = []
    broken += _list_violations("productTypes", request.productTypes, PRODUCT_TYPES)
    broken += _list_violations(
        "derivativeProductTypes", request.derivativeProductTypes, modes.DERIVATIVE_TYPES
    )
    broken += _text_violations(wire)
    if request.notifications is not None:
        try:
            canonical_uuid(request.notifications.webhook.id)
        except ValueError as exc:
            broken.append(Violation("notifications.webhook.id", RULE_UUID, str(exc)))
    deliveries = request.deliveries or []
    if len(deliveries) > MAX_DELIVERIES:
        broken.append(_too_long("deliveries", len(deliveries), MAX_DELIVERIES))
    for index, delivery in enumerate(deliveries):
        if len(delivery.locations) > MAX_LOCATIONS:
            field = f"deliveries[{index}].locations"
            broken.append(_too_long(field, len(delivery.locations), MAX_LOCATIONS))
    return broken


def _too_long(field: str, size: int, limit: int) -> Violation:
    return Violation(
        field,
        RULE_LIST_LENGTH,
        f"has {size} entries; at most {limit} are allowed ({RULE_LIST_LENGTH} rule)",
    )


def _list_violations(
    field: str, values: list[str] | None, known: tuple[str, ...]
) -> list[Violation]:
    if values is None:
        return []
    if len(values) > len(known):
        return [_too_long(field, len(values), len(known))]
    broken = []
    unknown = [v for v in values if v not in known]
    if unknown:
        broken.append(
            Violation(
                field,
                RULE_PRODUCT_TYPE,
                f"{', '.join(shown(v) for v in unknown)} not known (one of {', '.join(known)}) "
                f"({RULE_PRODUCT_TYPE} rule)",
            )
        )
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        broken.append(
            Violation(
                field,
                RULE_UNIQUE,
                f"{', '.join(repeated)} given more than once; each at most once ({RULE_UNIQUE} rule)",
            )
        )
    return broken


def _text_violations(value: Any, path: str = "") -> list[Violation]:
    """Strings longer than ``MAX_TEXT`` (``reference`` has its own, documented, rule)."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT and path != "reference":
            return [
                Violation(
                    path,
                    RULE_TEXT_LENGTH,
                    f"is {len(value)} characters; at most {MAX_TEXT} are allowed "
                    f"({RULE_TEXT_LENGTH} rule)",
                )
            ]
        return []
    if isinstance(value, dict):
        return [
            v
            for key, item in value.items()
            for v in _text_violations(item, f"{path}.{key}" if path else key)
        ]
    if isinstance(value, list):
        return [v for i, item in enumerate(value) for v in _text_violations(item, f"{path}[{i}]")]
    return []
