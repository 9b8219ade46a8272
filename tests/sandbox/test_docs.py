"""The sandbox's /docs (Swagger UI) and /redoc pages work offline: every URL they load is one the
sandbox serves itself (tasking/sandbox/docs.py, assets from scripts/vendor_assets.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tasking.sandbox.app import create_app
from tasking.sandbox.config import SandboxConfig

DOC_PAGES = ("/docs", "/redoc")
# Attributes and Swagger UI's `url: '...'` option: everything the two pages make the browser load.
URL_PATTERN = re.compile(r"""(?:\b(?:src|href|spec-url)="([^"]*)"|\burl: '([^']*)')""")
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


def page_urls(html: str) -> list[str]:
    return [a or b for a, b in URL_PATTERN.findall(html)]


def media_type(response: Any) -> str:
    return str(response.headers["content-type"]).split(";")[0].strip()


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_page_loads_only_urls_the_sandbox_serves(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert media_type(response) == "text/html"
    html = response.text
    urls = page_urls(html)

    assert len(urls) >= 3, urls  # openapi.json, script, favicon (+ stylesheet for Swagger UI)
    assert "://" not in html, "the page names an absolute URL (a CDN?)"
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), url
        suffix = "." + url.rsplit(".", 1)[-1]
        fetched = client.get(url)
        assert fetched.status_code == 200, url
        assert media_type(fetched) in CONTENT_TYPES[suffix], (url, fetched.headers)
        assert fetched.content, url


def test_swagger_ui_page_loads_the_vendored_bundle_and_stylesheet(client: TestClient) -> None:
    urls = page_urls(client.get("/docs").text)

    assert "/sandbox/v1/static/swagger-ui/swagger-ui-bundle.js" in urls
    assert "/sandbox/v1/static/swagger-ui/swagger-ui.css" in urls
    assert "/openapi.json" in urls
    bundle = client.get("/sandbox/v1/static/swagger-ui/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle


def test_redoc_page_loads_the_vendored_standalone_bundle(client: TestClient) -> None:
    html = client.get("/redoc").text

    assert "/sandbox/v1/static/redoc/redoc.standalone.js" in page_urls(html)
    assert 'spec-url="/openapi.json"' in html
    assert "fonts.googleapis.com" not in html


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_pages_forbid_images_from_other_hosts(client: TestClient, page: str) -> None:
    # ReDoc's bundle hard-codes a logo on cdn.redoc.ly; the page's policy keeps it from loading.
    policy = client.get(page).headers["content-security-policy"]

    assert "img-src 'self' data:" in [d.strip() for d in policy.split(";")]


def test_swagger_ui_never_calls_the_online_validator(client: TestClient) -> None:
    # Swagger UI's default validatorUrl would send the spec's URL to validator.swagger.io.
    assert '"validatorUrl": null' in client.get("/docs").text


def test_docs_urls_carry_the_proxy_root_path(make_config: Callable[..., SandboxConfig]) -> None:
    with TestClient(create_app(make_config()), root_path="/proxy") as proxied:
        urls = page_urls(proxied.get("/docs").text)

        assert urls and all(url.startswith("/proxy/") for url in urls), urls
        for url in urls:
            assert proxied.get(url).status_code == 200, url


def test_unknown_vendored_file_is_404(client: TestClient) -> None:
    assert client.get("/sandbox/v1/static/swagger-ui/no-such-file.js").status_code == 404


def test_docs_routes_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert not {p for p in paths if p in DOC_PAGES or p.startswith("/sandbox/v1/static")}


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_openapi_document_is_well_formed_and_its_refs_resolve(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert media_type(response) == "application/json"
    spec = response.json()

    assert spec["openapi"].startswith("3.")
    assert {"/v1/token", "/api/tasking/v2/tasks", "/sandbox/v1/clock"} <= set(spec["paths"])
    refs = _refs(spec)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = spec
        for key in ref[2:].split("/"):
            node = node[key.replace("~1", "/").replace("~0", "~")]


def test_openapi_document_passes_the_openapi_spec_validator(client: TestClient) -> None:
    # openapi-spec-validator is installed here but not pinned in requirements-dev.txt.
    validator = pytest.importorskip("openapi_spec_validator")

    validator.validate(client.get("/openapi.json").json())
