"""``GET /sandbox/v1/files/...``: the product files behind signed links (no token: the link is it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from tasking.sandbox import catalog
from tasking.sandbox.routes.deps import SandboxDep

router = APIRouter(prefix=catalog.FILES_PREFIX, tags=["files"])


@router.get(
    "/{taskID}/{productType}/{filename}",
    operation_id="getFile",
    summary="A product file; 403 when the link expired or was altered",
    response_class=Response,
)
def get_file(
    request: Request,
    sandbox: SandboxDep,
    task_id: Annotated[str, Path(alias="taskID")],
    product_type: Annotated[str, Path(alias="productType")],
    filename: str,
    expires: str | None = None,
    signature: str | None = None,
) -> Response:
    sandbox.catch_up()
    content, media_type = catalog.file_bytes(
        sandbox,
        path=request.url.path,
        task_id=task_id,
        product_type=product_type,
        filename=filename,
        expires=expires,
        signature=signature,
    )
    return Response(content, media_type=media_type, headers={"Cache-Control": "private, no-store"})
