"""The sandbox's API docs pages, working offline: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

FastAPI's own docs pages load Swagger UI and ReDoc from jsDelivr (and ReDoc's fonts from Google),
so on a closed network they stay blank. ``create_app`` turns those routes off and ``install``
serves the same pages (``fastapi.openapi.docs``) pointed at the copies in ``static/vendor/``,
which ``scripts/vendor_assets.py`` fetches from npm (versions and licences in
``static/vendor/SOURCES.md``). The sandbox serves those folders itself under ``STATIC_PREFIX``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

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
