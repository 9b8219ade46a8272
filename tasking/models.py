"""Pydantic models of ICEYE's wire format (Company API v1, Tasking API v2).

Field names are the documented wire names (``contractID``, ``pointOfInterest``); Python code uses them as
attributes too, so there is one spelling of each field everywhere. Requests are strict (unknown fields
refused, optional fields omitted unless set, times RFC 3339 in UTC); responses are tolerant (unknown
fields ignored, optional fields optional) so that a new server field never breaks the app.
Sources: ``reference/iceye-api.md`` §3-§6 and the two pages in ``seeds/``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_serializer,
    field_validator,
    model_validator,
)

from tasking.times import format_rfc3339, to_utc

# to_utc and format_rfc3339 live in tasking.times; they stay importable from here for the modules
# that import them with the models (ui/order.py, ui/task_table.py, ui/contract_view.py).
__all__ = [
    "Asset",
    "Contract",
    "ContractSummary",
    "DeliveryLocation",
    "DeliveryRequest",
    "ErrorBody",
    "Exclusivity",
    "FeasibilityItem",
    "FeasibilityResponse",
    "IncidenceAngle",
    "IncidenceBound",
    "LookSide",
    "Notifications",
    "Opportunity",
    "OptionGroup",
    "Page",
    "PassDirection",
    "Point",
    "Price",
    "Priority",
    "ProblemBody",
    "Product",
    "Scene",
    "StrictWire",
    "Task",
    "TaskRequest",
    "TaskStatus",
    "TaskUpdateRequest",
    "TimeWindow",
    "TokenResponse",
    "UtcDatetime",
    "WebhookRef",
    "Wire",
    "format_rfc3339",
    "to_utc",
]


UtcDatetime = Annotated[
    datetime, AfterValidator(to_utc), PlainSerializer(format_rfc3339, return_type=str)
]


class TaskStatus(StrEnum):
    RECEIVED = "RECEIVED"
    ACTIVE = "ACTIVE"
    FULFILLED = "FULFILLED"
    DONE = "DONE"
    REJECTED = "REJECTED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"


class Priority(StrEnum):
    COMMERCIAL = "COMMERCIAL"
    BACKGROUND = "BACKGROUND"


LookSide = Literal["LEFT", "RIGHT", "ANY"]
PassDirection = Literal["ASCENDING", "DESCENDING", "ANY"]
Exclusivity = Literal["PRIVATE", "PUBLIC"]
IncidenceBound = int | Literal["PERFORMANT", "FULL_RANGE"]


class Wire(BaseModel):
    """A tolerant response model: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StrictWire(BaseModel):
    """A request model: unknown fields refused; only set fields are sent."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)


# --- shared pieces ---------------------------------------------------------------------------


class Point(StrictWire):
    """WGS84 point of interest."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    lat: float
    lon: float


class TimeWindow(StrictWire):
    """``{start, end}``: an acquisition window or a scene's imaging time."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    start: UtcDatetime
    end: UtcDatetime


class IncidenceAngle(StrictWire):
    """``{min, max}``: integers in 10..45, or the presets ``PERFORMANT`` / ``FULL_RANGE``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    min: IncidenceBound
    max: IncidenceBound

    @field_validator("min", "max", mode="before")
    @classmethod
    def _whole_numbers(cls, value: Any) -> Any:
        # A float like 20.0 from a JSON number is still an integer angle.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value


# --- Company API -----------------------------------------------------------------------------


class OptionGroup(Wire):
    """A contract's ``{allowed, default}`` for one option."""

    allowed: list[str] = Field(default_factory=list)
    default: str | None = None

    @field_validator("allowed", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        # The v1 list-contracts example nests the list (``[["SPOTLIGHT", "SCAN"]]``).
        if isinstance(value, list):
            flat: list[Any] = []
            for item in value:
                flat.extend(item if isinstance(item, list) else [item])
            return flat
        return value

    def resolved_default(self) -> str | None:
        """The default, or the only allowed value ("implied when you only have one")."""
        if self.default:
            return self.default
        return self.allowed[0] if len(self.allowed) == 1 else None


class Contract(Wire):
    """A contract: what a customer may order (``GET /company/v1/contracts/{id}``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    name: str = ""
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    imagingModes: OptionGroup = Field(default_factory=OptionGroup)
    priority: OptionGroup = Field(default_factory=OptionGroup)
    exclusivity: OptionGroup = Field(default_factory=OptionGroup)
    sla: OptionGroup = Field(default_factory=OptionGroup)
    eula: OptionGroup = Field(default_factory=OptionGroup)
    catalog_collections: OptionGroup | None = None
    # Field names for per-mode product types and derivatives are not public (iceye-api.md §3.1,
    # "GUESS"); these follow the reference's recommended composite and are optional.
    productTypes: dict[str, list[str]] | None = None
    derivativeProductTypes: OptionGroup | None = None

    def product_types_for(self, mode: str) -> list[str] | None:
        """Allowed product types for a mode, or None when the contract does not say."""
        if self.productTypes is None:
            return None
        return self.productTypes.get(mode)

    @property
    def derivatives_allowed(self) -> list[str]:
        return list(self.derivativeProductTypes.allowed) if self.derivativeProductTypes else []


class ContractSummary(Wire):
    """Budget of a contract with a pricing plan; amounts in minor currency units."""

    contractID: str
    consolidatedSpent: int = 0
    onHold: int = 0
    currency: str = "USD"
    spendLimit: int | None = None

    @property
    def available(self) -> int | None:
        """``spendLimit - consolidatedSpent - onHold``, or None without a spend limit."""
        if self.spendLimit is None:
            return None
        return self.spendLimit - self.consolidatedSpent - self.onHold


class Price(Wire):
    """``GET /tasking/v2/price``: amount in minor units of ``currency``."""

    amount: int
    currency: str


# --- Tasking API: requests -------------------------------------------------------------------


class WebhookRef(StrictWire):
    id: str


class Notifications(StrictWire):
    webhook: WebhookRef


class DeliveryLocation(StrictWire):
    configID: str
    path: str
    subPath: str | None = None


class DeliveryRequest(StrictWire):
    locations: list[DeliveryLocation]


class TaskRequest(StrictWire):
    """Body of createTask, and one item of checkFeasibility (same fields, same builder)."""

    contractID: str
    pointOfInterest: Point
    acquisitionWindow: TimeWindow
    imagingMode: str
    reference: str | None = None
    exclusivity: Exclusivity | None = None
    priority: Priority | None = None
    sla: str | None = None
    eula: str | None = None
    incidenceAngle: IncidenceAngle | None = None
    lookSide: LookSide | None = None
    passDirection: PassDirection | None = None
    productTypes: list[str] | None = None
    derivativeProductTypes: list[str] | None = None
    imagingDuration: int | None = None
    notifications: Notifications | None = None
    deliveries: list[DeliveryRequest] | None = None


class TaskUpdateRequest(StrictWire):
    """Body of cancelTask: the only allowed update."""

    status: Literal["CANCELED"] = "CANCELED"

    def to_wire(self) -> dict[str, Any]:
        return {"status": self.status}


# --- Tasking API: responses ------------------------------------------------------------------


class Task(Wire):
    """A task (createTask, getTask, cancelTask; list items lack notifications/deliveries)."""

    id: str
    contractID: str
    pointOfInterest: Point
    acquisitionWindow: TimeWindow
    imagingMode: str
    status: str
    createdAt: UtcDatetime
    updatedAt: UtcDatetime | None = None
    fulfilledAt: UtcDatetime | None = None
    reference: str | None = None
    imagingDuration: int | None = None
    exclusivity: str | None = None
    priority: str | None = None
    sla: str | None = None
    eula: str | None = None
    productsAvailableInSeconds: int | None = None
    incidenceAngle: IncidenceAngle | None = None
    lookSide: str | None = None
    passDirection: str | None = None
    productTypes: list[str] | None = None
    derivativeProductTypes: list[str] | None = None
    notifications: dict[str, Any] | None = None
    deliveries: list[dict[str, Any]] | None = None


class Scene(Wire):
    """``GET /tasks/{id}/scene``: planned imaging (ACTIVE) or actual (once captured)."""

    imagingTime: TimeWindow
    duration: int
    lookSide: str | None = None
    passDirection: str | None = None
    # The spec types it as a string ("27.4"); ICEYE's demo also accepts a number.
    incidenceAngle: float | None = None
    azimuth: float | None = None

    @field_validator("incidenceAngle", mode="before")
    @classmethod
    def _number_from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return float(value) if value.strip() else None
        return value

    @field_serializer("incidenceAngle")
    def _as_string(self, value: float | None) -> str | None:
        return None if value is None else f"{value:.1f}"


class Asset(Wire):
    """A STAC asset: a file of a product behind a signed link that expires."""

    href: str
    title: str | None = None
    type: str | None = None
    roles: list[str] | None = None


class Product(Wire):
    """A product as a STAC item (``CatalogItem``); the tutorial's simpler shape is accepted too."""

    id: str
    type: str = "Feature"
    stac_version: str | None = None
    collection: str | None = None
    geometry: dict[str, Any] | None = None
    bbox: list[float] | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    assets: dict[str, Asset] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _tutorial_shape(cls, data: Any) -> Any:
        # seeds/build-a-tasking-application: {id, productType, status, url, expiresAt, size}
        if isinstance(data, dict) and "productType" in data and "properties" not in data:
            asset: dict[str, Any] = {"href": data.get("url", ""), "title": data["productType"]}
            return {
                "id": data.get("id", data["productType"]),
                "properties": {
                    "sar:product_type": data["productType"],
                    "status": data.get("status"),
                    "expires": data.get("expiresAt"),
                    "size": data.get("size"),
                },
                "assets": {"product": asset} if data.get("url") else {},
            }
        return data

    @property
    def product_type(self) -> str:
        return str(self.properties.get("sar:product_type", self.id))


T = TypeVar("T")


class Page(Wire, Generic[T]):
    """The paged envelope ``{data, cursor}``; a missing or empty cursor ends the list."""

    data: list[T] = Field(default_factory=list)
    cursor: str | None = None

    @property
    def next_cursor(self) -> str | None:
        return self.cursor or None


class Opportunity(Wire):
    """An imaging opportunity (the spec's ``Opportunity`` schema) given with a feasibility verdict."""

    imagingStartTime: UtcDatetime | None = None
    incidenceAngle: float | None = None
    lookSide: str | None = None
    passDirection: str | None = None
    azimuth: float | None = None


class FeasibilityItem(Wire):
    """One verdict; the tutorial names it ``result``, the reference page ``status``."""

    id: str | None = None
    result: str | None = None
    status: str | None = None
    reason: str | None = None
    opportunities: list[Opportunity] | None = None

    @property
    def verdict(self) -> str:
        return (self.result or self.status or "UNKNOWN").upper()

    @property
    def feasible(self) -> bool:
        return self.verdict == "FEASIBLE"


class FeasibilityResponse(Wire):
    id: str | None = None
    status: str | None = None
    createdAt: UtcDatetime | None = None
    feasibility: list[FeasibilityItem] = Field(default_factory=list)


class TokenResponse(Wire):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = 3600
    scope: str | None = None


class ErrorBody(Wire):
    """Default error body ``{code, message}``."""

    code: str
    message: str


class ProblemBody(Wire):
    """Problem form, sent when ``Accept`` includes ``application/problem+json``."""

    title: str
    code: str
    details: str | None = None
    reference: str | None = None
