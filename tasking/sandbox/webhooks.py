"""Notifications API v1: webhooks (iceye-api.md §7.1).

ICEYE documents ``POST /api/notifications/v1/webhooks`` (registerWebhook: the callback HTTPS URL in,
the webhook id out) and that callbacks authenticate to the receiver with Basic auth or OAuth2
client credentials. Every field name, the list/get/delete operations and the limits here are the
sandbox's choices (README "Notifications (webhooks)"):

    {"url": "https://…", "auth": {"type": "basic", "username": "…", "password": "…"},
     "description"?: "…"}
    {"url": "https://…", "auth": {"type": "oauth2", "tokenURL": "…", "clientID": "…",
                                  "clientSecret": "…", "scope"?: "…"}}
    → 201 {"id", "url", "authType", "description"?, "createdAt"}

**The URL rule** (``url`` and ``tokenURL``): ``https://`` to any host, or ``http://`` only to a
loopback host (127.0.0.0/8, ::1, ``localhost``), so the sandbox cannot be made to call into the
local network in plain HTTP; no credentials in the URL (they belong in ``auth``), no fragment,
RFC 3986 characters only. Hosts are read by httpx's own parser, the one that sends the requests.

A webhook of another company is answered exactly like an unknown one (404); secrets are stored (the
sandbox must send them) but never shown by the API nor logged.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Final, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tasking.errors import InputError, Violation
from tasking.http import check_text
from tasking.sandbox.core import Sandbox
from tasking.sandbox.problems import from_violations, not_found
from tasking.sandbox.store import WebhookRecord
from tasking.sandbox.tasks import check_limit, cursor_position, decode_cursor, encode_cursor
from tasking.times import format_rfc3339

MAX_URL: Final = 2048
MAX_FIELD: Final = 256
RULE_CALLBACK_URL: Final = "callback-url"
RULE_BASIC_USERNAME: Final = "basic-username"
LOOPBACK_RULE: Final = "http:// only to a loopback host (127.0.0.0/8, ::1, localhost)"
# RFC 3986: unreserved, reserved and percent-encoding; anything else must be percent-encoded.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")

_Text = Annotated[str, Field(min_length=1, max_length=MAX_FIELD)]
_Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_URL,
        description=f"https:// to any host, or {LOOPBACK_RULE}.",
    ),
]


class _Strict(BaseModel):
    # Strict: JSON only gives strings here (a number is not a username).
    model_config = ConfigDict(extra="forbid", strict=True)


class BasicCallbackAuth(_Strict):
    """Callbacks carry ``Authorization: Basic base64(username:password)``."""

    type: Literal["basic"]
    username: Annotated[_Text, Field(description="Without ':' (RFC 7617).")]
    password: Annotated[str, Field(max_length=MAX_FIELD)]


class OAuth2CallbackAuth(_Strict):
    """Callbacks carry a Bearer token from the receiver's token endpoint (client credentials)."""

    type: Literal["oauth2"]
    tokenURL: _Url
    clientID: _Text
    clientSecret: _Text
    scope: Annotated[str, Field(max_length=MAX_FIELD)] | None = None


class WebhookRequest(_Strict):
    """registerWebhook's body."""

    url: _Url
    auth: Annotated[BasicCallbackAuth | OAuth2CallbackAuth, Field(discriminator="type")]
    description: Annotated[str, Field(max_length=MAX_FIELD)] | None = None


class Webhook(BaseModel):
    """A registered webhook, as the API shows it: never its credentials."""

    id: Annotated[str, Field(json_schema_extra={"format": "uuid"})]
    url: str
    authType: Literal["basic", "oauth2"]
    description: str | None = None
    createdAt: Annotated[str, Field(json_schema_extra={"format": "date-time"})]


# --- checks ----------------------------------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why ``url`` may not receive callbacks (or get tokens), or None when it may."""
    if not _URL_CHARACTERS.fullmatch(url):
        return "must be a URL of RFC 3986 characters only (percent-encode the others)"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "is not a URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return f"must be an https:// URL, or {LOOPBACK_RULE}"
    if parsed.userinfo:
        return "must not carry credentials: give them in auth"
    if parsed.fragment or "#" in url:
        return "must not have a fragment"
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        return f"has port {parsed.port}; ports are 1 to 65535"
    if parsed.scheme == "http" and not is_loopback(parsed.host):
        return f"is {LOOPBACK_RULE}; host {parsed.host!r} is not one: use https://"
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def request_violations(request: WebhookRequest) -> list[Violation]:
    """What the schema cannot state: valid Unicode, the URL rule, a username without ':'."""
    try:
        check_text(request.model_dump())
    except InputError as exc:
        return exc.violations
    broken = []
    urls = [("url", request.url)]
    if isinstance(request.auth, OAuth2CallbackAuth):
        urls.append(("auth.tokenURL", request.auth.tokenURL))
    for name, url in urls:
        problem = url_problem(url)
        if problem:
            broken.append(
                Violation(name, RULE_CALLBACK_URL, f"{problem} ({RULE_CALLBACK_URL} rule)")
            )
    if isinstance(request.auth, BasicCallbackAuth) and ":" in request.auth.username:
        broken.append(
            Violation(
                "auth.username",
                RULE_BASIC_USERNAME,
                f"must not contain ':' (RFC 7617 §2) ({RULE_BASIC_USERNAME} rule)",
            )
        )
    return broken


# --- operations ------------------------------------------------------------------------------


def webhook_wire(webhook: WebhookRecord) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "id": webhook.id,
        "url": webhook.url,
        "authType": webhook.auth.get("type"),
        "createdAt": format_rfc3339(webhook.created_at),
    }
    if webhook.description is not None:
        wire["description"] = webhook.description
    return wire


def register(sandbox: Sandbox, company_id: str, request: WebhookRequest) -> dict[str, Any]:
    """registerWebhook: 201 with the new webhook."""
    broken = request_violations(request)
    if broken:
        raise from_violations(400, broken)
    with sandbox.store.transaction():
        webhook = WebhookRecord(
            id=sandbox.config.id_factory(),
            company_id=company_id,
            created_at=sandbox.now_in_transaction(),
            url=request.url,
            auth=request.auth.model_dump(exclude_none=True),
            description=request.description,
        )
        sandbox.store.insert_webhook(webhook)
    return webhook_wire(webhook)


def own_webhook(sandbox: Sandbox, company_id: str, webhook_id: str) -> WebhookRecord | None:
    """The company's webhook, or None for an unknown one or another company's."""
    webhook = sandbox.store.get_webhook(webhook_id)
    return webhook if webhook is not None and webhook.company_id == company_id else None


def get(sandbox: Sandbox, company_id: str, webhook_id: str) -> dict[str, Any]:
    """getWebhook; another company's is the same 404 as an unknown one."""
    webhook = own_webhook(sandbox, company_id, webhook_id)
    if webhook is None:
        raise not_found(f"webhook {webhook_id} not found", title="Webhook Not Found")
    return webhook_wire(webhook)


def list_page(
    sandbox: Sandbox, company_id: str, *, limit: int | None, cursor: str | None
) -> dict[str, Any]:
    """listWebhooks: the company's own, newest first, paged like getTasks."""
    size = check_limit(limit)
    below = cursor_position(decode_cursor(cursor)) if cursor else None
    found = sandbox.store.list_webhooks(company_id, limit=size + 1, below=below)
    page: dict[str, Any] = {"data": [webhook_wire(w) for w in found[:size]]}
    if len(found) > size:
        last = found[size - 1]
        page["cursor"] = encode_cursor(
            {"lastId": last.id, "createdAt": format_rfc3339(last.created_at), "seq": last.seq}
        )
    return page


def delete(sandbox: Sandbox, company_id: str, webhook_id: str) -> None:
    """deleteWebhook: pending callbacks to it are dropped; tasks naming it get no more."""
    with sandbox.store.transaction():
        if own_webhook(sandbox, company_id, webhook_id) is None:
            raise not_found(f"webhook {webhook_id} not found", title="Webhook Not Found")
        sandbox.store.delete_webhook(webhook_id)
