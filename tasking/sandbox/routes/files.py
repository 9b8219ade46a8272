"""``GET /sandbox/v1/files/...``: the product files behind signed links (no token: the link is it).

Each file comes with its media type and a ``Content-Disposition`` file name
(``products.asset_file_name``: ``<product name>-<asset key>.<ext>``), the name the quicklook KML
uses for its PNG, so a client that keeps the server's names gets a KML that finds its image.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from tasking.sandbox import catalog, products
from tasking.sandbox.routes.deps import SandboxDep
from tasking.sandbox.scheduler import scene_of
from tasking.sandbox.tasks import task_model

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
    sandbox.observe()
    content, media_type = catalog.file_bytes(
        sandbox,
        path=request.url.path,
        task_id=task_id,
        product_type=product_type,
        filename=filename,
        expires=expires,
        signature=signature,
    )
    headers = {"Cache-Control": "private, no-store"}
    record = sandbox.store.get_task(task_id)
    if record is not None and record.plan is not None:  # always, once file_bytes has served it
        plan = record.plan
        name = products.product_id(
            task_model(record), scene_of(plan), plan["satellite"], product_type
        )
        saved_as = products.asset_file_name(name, PurePosixPath(filename).stem)
        headers["Content-Disposition"] = f'inline; filename="{saved_as}"'
    return Response(content, media_type=media_type, headers=headers)
