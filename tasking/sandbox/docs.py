"""The sandbox's API docs: an OpenAPI document that says what the server really does, and its
pages, working offline: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

**The document.** FastAPI describes what the route signatures say: a 422 for validation (which
``problems.py`` turns into 400, as ICEYE lists no 422), no 401/403/404/429, JSON for every 200.
``complete`` rewrites the generated document in one place, from the tables below: every operation's
real error statuses with the two ICEYE error bodies (``{code, message}``, or the problem form when
``Accept`` asks for ``application/problem+json``; the token endpoint's RFC 6749 body), the media
types of the constellation and file routes, and the limits (list sizes, body size, rate limit) in
the descriptions and parameter schemas. ``install`` puts it behind ``app.openapi``.

**The pages.**
FastAPI's own docs pages load Swagger UI and ReDoc from jsDelivr (and ReDoc's fonts from Google),
so on a closed network they stay blank. ``create_app`` turns those routes off and ``install``
serves the same pages (``fastapi.openapi.docs``) pointed at the copies in ``static/vendor/``,
which ``scripts/vendor_assets.py`` fetches from npm (versions and licences in
``static/vendor/SOURCES.md``). The sandbox serves those folders itself under ``STATIC_PREFIX``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from tasking.models import ErrorBody, ProblemBody
from tasking.sandbox import feasibility, notifications, products, tasks, webhooks
from tasking.sandbox.config import MAX_SPEED, MIN_SPEED, SandboxConfig
from tasking.sandbox.core import MAX_ADVANCE_S, MAX_FAST_FORWARD_EVENTS
from tasking.sandbox.problems import PROBLEM_JSON

# tasking/sandbox/docs.py -> the repository root, which holds static/ (see scripts/vendor_assets.py)
VENDOR_DIR = Path(__file__).resolve().parents[2] / "static" / "vendor"
STATIC_PREFIX = "/sandbox/v1/static"
DOCS_FOLDERS = ("swagger-ui", "redoc")

SWAGGER_JS = f"{STATIC_PREFIX}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{STATIC_PREFIX}/swagger-ui/swagger-ui.css"
FAVICON = f"{STATIC_PREFIX}/swagger-ui/favicon-32x32.png"
REDOC_JS = f"{STATIC_PREFIX}/redoc/redoc.standalone.js"

# FastAPI's layout (BaseLayout) shows no validator badge; null keeps it off under any layout, as
# the badge would send the spec's URL to validator.swagger.io (Swagger UI's default validatorUrl).
SWAGGER_PARAMETERS = {"validatorUrl": None}
# ReDoc 2.5.4 always shows "API docs by Redocly" with an <img> from cdn.redoc.ly (no option turns
# it off; offline the image fails and ReDoc hides it). Limiting images to the sandbox and data:
# URIs keeps the docs pages from reaching out to any third party, online or not.
DOCS_CSP = "img-src 'self' data:"


def install(app: FastAPI) -> None:
    """Serve the vendored docs assets and the ``/docs`` and ``/redoc`` pages on ``app``.

    ``app`` must be created with ``docs_url=None, redoc_url=None`` and keep an ``openapi_url``.
    A checkout without ``static/vendor/`` still starts: the pages load, their assets answer 404.
    """
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("docs pages need the app's openapi_url (it is None)")
    _complete_app_openapi(app)
    for folder in DOCS_FOLDERS:
        app.mount(
            f"{STATIC_PREFIX}/{folder}",
            StaticFiles(directory=VENDOR_DIR / folder, check_dir=False),
            name=f"static-{folder}",
        )
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=root + SWAGGER_JS,
            swagger_css_url=root + SWAGGER_CSS,
            swagger_favicon_url=root + FAVICON,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=root + REDOC_JS,
            redoc_favicon_url=root + FAVICON,
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page


def _root_path(request: Request) -> str:
    # Behind a proxy that mounts the sandbox under a prefix (uvicorn --root-path), every URL the
    # page loads needs that prefix, as FastAPI's own docs route does for openapi_url.
    return str(request.scope.get("root_path", "")).rstrip("/")


# --- the OpenAPI document --------------------------------------------------------------------

MAX_BODY_BYTES = 16 * 1024 * 1024
"""The largest request body the sandbox takes (16 MiB), unless ``SandboxConfig.max_body_bytes``
says otherwise; larger bodies are refused with 413 before they are read."""

_BEARER = "HTTPBearer"
_UUID_PARAMETERS = ("taskID", "contractID", "webhookID")
_TOKEN_OPERATION = "getToken"
_ERROR = "Error"
_PROBLEM = "Problem"
_OAUTH_ERROR = "OAuthError"

_TASK_404 = "Unknown task id, or a task of another company (the same answer: ICEYE gives 404)."
_CONTRACT_404 = "Unknown contract id, or a contract of another company."
_WEBHOOK_404 = "Unknown webhook id, or a webhook of another company (the same answer)."
_LINK_403 = "The link expired (one simulated hour after the products call) or was altered."

# What a 401/403/404 means, per operation; an operation not named here never sends the status.
# 400 (malformed input), 401 and 429 (token operations), 413 (bodies) and 500 follow from the
# operation's shape in ``_operation_errors``.
ERRORS_BY_OPERATION: dict[str, dict[int, str]] = {
    "getToken": {
        400: "No form body or grant type (`invalid_request`), or a grant type other than "
        "client_credentials (`unsupported_grant_type`).",
        401: "Missing, malformed or wrong HTTP Basic client credentials (`invalid_client`).",
        429: "Too many failed token requests for this client id or address; retry after "
        "`Retry-After` s.",
    },
    "GetContract": {404: _CONTRACT_404},
    "GetSummary": {404: _CONTRACT_404 + " Also a contract without a pricing plan."},
    "createTask": {404: _CONTRACT_404},
    "getTask": {404: _TASK_404},
    "cancelTask": {404: _TASK_404},
    "getTaskScene": {404: _TASK_404 + " Also before ACTIVE and after a cancel (no scene)."},
    "listTaskProducts": {404: _TASK_404 + " Also before FULFILLED (no products yet)."},
    "getTaskProduct": {404: _TASK_404 + " Also a product type that is not ready (yet)."},
    "getPrice": {404: _CONTRACT_404 + " Also a contract without a pricing plan."},
    "checkFeasibility": {
        403: "Every broken rule is one the contract forbids (contract dates, window rules, "
        "options the contract does not allow).",
        404: _CONTRACT_404,
    },
    "getTaskHistory": {404: _TASK_404},
    "fastForwardTask": {404: _TASK_404},
    "getWebhook": {404: _WEBHOOK_404},
    "deleteWebhook": {404: _WEBHOOK_404},
    "getFile": {403: _LINK_403, 404: "No such file: the product or asset is not ready or unknown."},
}

_LIST_NOTE = (
    f"Pages hold `limit` items, 1 to {tasks.MAX_LIMIT} (default {tasks.DEFAULT_LIMIT}), newest "
    "first; `cursor` is absent on the last page and only cursors this API issued are accepted."
)
# Limits and behaviour worth reading before a call, added to the operation's description.
NOTES_BY_OPERATION: dict[str, str] = {
    "ListContracts": _LIST_NOTE,
    "getTasks": _LIST_NOTE + " `createdAfter`/`createdBefore` are RFC 3339 times.",
    "createTask": "400 lists every broken rule; over the contract's budget: 400 "
    "`ERR_INSUFFICIENT_FUNDS`; a `notifications.webhook.id` that is not one of the company's "
    "webhooks: 400 `ERR_WEBHOOK_NOT_FOUND`.",
    "registerWebhook": f"`url` (and an oauth2 `tokenURL`): `https://` to any host, or "
    f"{webhooks.LOOPBACK_RULE}; no credentials or fragment in it; at most {webhooks.MAX_URL} "
    f"characters. Other strings at most {webhooks.MAX_FIELD}. Credentials are never shown again. "
    "Every status change of a task naming the webhook is POSTed to `url` as "
    f'`{{"id", "type": "{notifications.EVENT_TYPE}", "webhookID", "resourceType": "task", '
    '"resourceID", "status", "timestamp"}` (see the sandbox README for retries).',
    "listWebhooks": _LIST_NOTE,
    "deleteWebhook": "Callbacks not yet delivered to it are dropped.",
    "listCallbacks": f"`limit` 1 to {tasks.MAX_LIMIT} (default {tasks.DEFAULT_LIMIT}). Retries "
    f"follow the simulation clock: {notifications.FIRST_RETRY_S:g} s after the first failure, "
    f"doubling up to {notifications.MAX_RETRY_S:g} s; `failed` after "
    f"{notifications.MAX_ATTEMPTS} attempts.",
    "cancelTask": 'The only update is `{"status": "CANCELED"}`; a task in a final status: 400 '
    "`ERR_INVALID_STATUS`.",
    "listTaskProducts": "One page: every product ready now, as STAC items whose asset links "
    "expire one simulated hour later; `cursor` is accepted and ignored.",
    "checkFeasibility": f"A JSON array of 1 to {feasibility.MAX_ITEMS} task requests.",
    "setClockSpeed": f"`speed` from {MIN_SPEED:g} to {MAX_SPEED:g} × real time.",
    "advanceClock": f"`seconds` above 0 and at most {MAX_ADVANCE_S:g} (60 days).",
    "fastForwardTask": "The clock is global: it goes from one pending event to the next, whichever "
    "task it belongs to, and every event runs at its own time, so other tasks move too. "
    "`next-event` stops once one of the task's events has run; `final` once the task is final, "
    f"after at most {MAX_FAST_FORWARD_EVENTS} of its events; neither goes more than "
    f"{MAX_ADVANCE_S / 86400:g} days ahead. `events` counts the task's history entries added; a "
    "task already final: 0, and the clock does not move.",
    "getConstellation": "`format=tle` (default): three-line TLE text; `format=omm`: a JSON array "
    "of CCSDS OMM records.",
    "getFile": "The link is the credential (no token). Media types: PNG quicklook, GeoTIFF GRD, "
    "XML metadata, KML quicklook overlay, and the other product types' files (COG, complex "
    "GeoTIFF, NITF, GIF, JSON metadata).",
}

# Success bodies the route signatures cannot state.
_FILE_TYPES = products.MEDIA_TYPES
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_SUCCESS_CONTENT: dict[str, dict[str, Any]] = {
    "getConstellation": {
        "text/plain": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    },
    "getFile": {media: _BINARY for media in _FILE_TYPES},
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before the token's next request is accepted.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "The authentication challenge.",
        "schema": {"type": "string"},
    }
}


def complete(spec: dict[str, Any], config: SandboxConfig | None = None) -> dict[str, Any]:
    """``spec`` (FastAPI's document of the sandbox) rewritten to what the server really does."""
    max_body = _max_body(config)
    rate = f"{config.rate_per_s:g}" if config else "100"
    burst = f"{config.rate_burst:g}" if config else "200"
    done = copy.deepcopy(spec)
    schemas = done.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas[_ERROR] = _schema(ErrorBody, "ICEYE's default error body.")
    schemas[_PROBLEM] = _schema(
        ProblemBody, f"ICEYE's problem form, sent when `Accept` includes `{PROBLEM_JSON}`."
    )
    schemas[_OAUTH_ERROR] = {
        "title": "OAuthError",
        "description": "RFC 6749 §5.2 token endpoint error.",
        "type": "object",
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
        "required": ["error", "error_description"],
    }
    for ops in done.get("paths", {}).values():
        for operation in ops.values():
            _complete_operation(operation, max_body=max_body, rate=rate, burst=burst)
    for name in ("TaskRequest",):  # ids are UUIDs; anything else is refused with 400
        field = schemas.get(name, {}).get("properties", {}).get("contractID")
        if isinstance(field, dict):
            field["format"] = "uuid"
    speed = schemas.get("SpeedChange", {}).get("properties", {}).get("speed")
    if isinstance(speed, dict):
        speed |= {"minimum": MIN_SPEED, "maximum": MAX_SPEED}
    return done


def _complete_operation(operation: dict[str, Any], *, max_body: int, rate: str, burst: str) -> None:
    op_id = operation.get("operationId", "")
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    if op_id in _SUCCESS_CONTENT:
        ok = next(code for code in responses if code.startswith("2"))
        responses[ok]["content"] = copy.deepcopy(_SUCCESS_CONTENT[op_id])
    for parameter in operation.get("parameters", []):
        if parameter.get("name") in _UUID_PARAMETERS and op_id != "getFile":
            parameter["schema"] = {"type": "string", "format": "uuid", "title": parameter["name"]}
        if parameter.get("in") == "query" and parameter.get("name") == "limit":
            parameter["schema"] = {
                "type": "integer",
                "minimum": 1,
                "maximum": tasks.MAX_LIMIT,
                "default": tasks.DEFAULT_LIMIT,
                "title": "Limit",
            }
            parameter["description"] = f"Page size, 1 to {tasks.MAX_LIMIT}."
    notes = [NOTES_BY_OPERATION[op_id]] if op_id in NOTES_BY_OPERATION else []
    if "requestBody" in operation:
        notes.append(f"Request bodies up to {size_text(max_body)} (413 beyond).")
    if _needs_token(operation):
        notes.append(
            f"Rate limit per access token: {rate} requests/s, bursts of {burst} "
            "(429 with `Retry-After`)."
        )
    if notes:
        lead = operation.get("description", "").strip()
        operation["description"] = "\n\n".join(([lead] if lead else []) + notes)
    for status, why in _operation_errors(operation).items():
        responses[str(status)] = _error_response(op_id, status, why)


def _operation_errors(operation: dict[str, Any]) -> dict[int, str]:
    """Every error status the operation can send, with what it means there."""
    op_id = operation.get("operationId", "")
    why = ERRORS_BY_OPERATION.get(op_id, {})
    errors: dict[int, str] = {}
    if operation.get("parameters") or "requestBody" in operation:
        errors[400] = why.get(400, "Malformed input: the message names each broken rule.")
    if _needs_token(operation):
        errors[401] = "Missing, invalid or expired access token."
    errors |= {status: text for status, text in why.items() if status not in errors}
    if "requestBody" in operation:
        errors[413] = "The request body is larger than the sandbox takes."
    if _needs_token(operation):
        errors[429] = "The access token's rate limit is exceeded; retry after `Retry-After` s."
    errors[500] = "Unexpected server error, without internals."
    return dict(sorted(errors.items()))


def _error_response(op_id: str, status: int, why: str) -> dict[str, Any]:
    if op_id == _TOKEN_OPERATION:
        # The token endpoint answers every refusal in RFC 6749's form, for OAuth2 clients.
        content: dict[str, Any] = {"application/json": {"schema": _ref(_OAUTH_ERROR)}}
    else:
        content = {
            "application/json": {"schema": _ref(_ERROR)},
            PROBLEM_JSON: {"schema": _ref(_PROBLEM)},
        }
    response: dict[str, Any] = {"description": why, "content": content}
    if status == 401:
        response["headers"] = copy.deepcopy(_WWW_AUTHENTICATE)
    if status == 429:
        response["headers"] = copy.deepcopy(_RETRY_AFTER)
    return response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _needs_token(operation: dict[str, Any]) -> bool:
    return any(_BEARER in requirement for requirement in operation.get("security", []))


def _schema(model: Any, description: str) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(mode="serialization")
    schema["title"] = model.__name__.removesuffix("Body") or model.__name__
    schema["description"] = description
    return schema


def _max_body(config: SandboxConfig | None) -> int:
    # A config field, once there is one, wins over the default.
    return int(getattr(config, "max_body_bytes", None) or MAX_BODY_BYTES)


def size_text(size: int) -> str:
    return f"{size / 1024 / 1024:g} MiB" if size % 1024 == 0 else f"{size} bytes"


def _complete_app_openapi(app: FastAPI) -> None:
    """Make ``app.openapi`` serve the completed document (built once, like FastAPI's)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    sandbox = getattr(app.state, "sandbox", None)
    config = getattr(sandbox, "config", None)

    def openapi() -> dict[str, Any]:
        if not getattr(app.state, "openapi_completed", False):
            app.openapi_schema = complete(generate(), config)
            app.state.openapi_completed = True
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
