"""Task products as STAC items with signed links, and the files behind those links.

Availability (iceye-api.md §4.8, §5.1): the SLA product types once FULFILLED, every ordered type
once DONE, 404 before. Each call signs fresh links that expire ``config.link_ttl_s`` of simulated
time later (ICEYE: "Download URLs expire in 1 hour"). The files (``products.py`` renders them) are
deterministic per task and cached under ``<data dir>/files/<task>/<product type>/``.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tasking import modes
from tasking.geometry import LookSide, scene_footprint
from tasking.models import Scene, Task, TaskStatus
from tasking.monitoring import PRODUCT_STATUSES, statuses_text
from tasking.sandbox import datafiles, products
from tasking.sandbox.core import Sandbox
from tasking.sandbox.problems import ApiProblem, not_found
from tasking.sandbox.scheduler import scene_of
from tasking.sandbox.store import TaskRecord
from tasking.sandbox.tasks import own_task, task_model
from tasking.times import parse_time

FILES_PREFIX = "/sandbox/v1/files"
_SUFFIX = {"metadata-json": ".json", **products.LINK_SUFFIXES}


def ready_types(record: TaskRecord) -> list[str]:
    """Product types downloadable now: SLA types when FULFILLED, all ordered types when DONE."""
    ordered = list(record.document.get("productTypes") or [])
    if record.status == TaskStatus.DONE:
        return ordered
    if record.status == TaskStatus.FULFILLED:
        return [t for t in ordered if t in modes.SLA_PRODUCTS]
    return []


def list_products(
    sandbox: Sandbox,
    company_id: str,
    task_id: str,
    product_type: str | None,
    base_url: str,
) -> dict[str, Any]:
    """listTaskProducts / getTaskProduct: ``{data: [CatalogItem]}`` (no cursor: one page)."""
    record = own_task(sandbox, company_id, task_id)
    ready = ready_types(record)
    if not ready:
        raise not_found(
            f"products of task {task_id} are not available in status {record.status} "
            f"(only {statuses_text(PRODUCT_STATUSES)})",
            title="Products Not Found",
        )
    if product_type is not None:
        if product_type not in ready:
            raise not_found(
                f"product type {product_type} of task {task_id} is not available "
                f"(available now: {', '.join(ready)})",
                title="Product Not Found",
            )
        ready = [product_type]
    now = sandbox.clock.now()
    return {"data": [_item(sandbox, record, t, base_url.rstrip("/"), now) for t in ready]}


def _footprint(task: Task, plan: dict[str, Any]) -> list[tuple[float, float]]:
    info = modes.mode_info(task.imagingMode)
    side: LookSide = "LEFT" if plan["lookSide"] == "LEFT" else "RIGHT"
    return scene_footprint(
        task.pointOfInterest.lat,
        task.pointOfInterest.lon,
        float(plan["heading"]),
        side,
        info.range_km,
        info.azimuth_km,
    )


def metadata(sandbox: Sandbox, record: TaskRecord, product_type: str) -> dict[str, Any]:
    """The scene's metadata document (true geometry of the pass it was imaged on)."""
    assert record.plan is not None
    task, plan = task_model(record), record.plan
    return products.make_metadata(
        task=task,
        scene=scene_of(plan),
        satellite=plan["satellite"],
        footprint=_footprint(task, plan),
        heading=float(plan["heading"]),
        off_nadir=float(plan["offNadir"]),
        slant_range_km=float(plan["slantRangeKm"]),
        orbit_altitude_km=sandbox.world.altitude_km(
            plan["satellite"], parse_time(plan["zeroDoppler"]), float(plan["subLat"])
        ),
        product_type=product_type,
    )


def _item(
    sandbox: Sandbox, record: TaskRecord, product_type: str, base_url: str, now: datetime
) -> dict[str, Any]:
    assert record.plan is not None
    task, plan = task_model(record), record.plan
    scene: Scene = scene_of(plan)
    expires = now + timedelta(seconds=sandbox.config.link_ttl_s)
    assets = {}
    for key, title, media_type, roles in products.asset_plan(product_type):
        path = f"{FILES_PREFIX}/{record.id}/{product_type}/{key}{_SUFFIX.get(key, '')}"
        href = base_url + products.sign_link(sandbox.secret, path, expires)
        assets[key] = products.asset_entry(href, title, media_type, roles)
    doc = metadata(sandbox, record, product_type)
    # SLA products appear at fulfilment, the others when the task is DONE.
    created = record.fulfilled_at if product_type in modes.SLA_PRODUCTS else record.updated_at
    return products.stac_item(
        task=task,
        scene=scene,
        product_type=product_type,
        satellite=plan["satellite"],
        footprint=_footprint(task, plan),
        assets=assets,
        created=created or record.updated_at,
        properties_extra={
            "iceye:incidence_near": doc["incidence_near"],
            "iceye:incidence_far": doc["incidence_far"],
            "iceye:satellite_look_angle": doc["satellite_look_angle"],
        },
    )


def file_bytes(
    sandbox: Sandbox,
    *,
    path: str,
    task_id: str,
    product_type: str,
    filename: str,
    expires: str | None,
    signature: str | None,
) -> tuple[bytes, str]:
    """(content, media type) behind a signed link; 403 for a bad link, 404 for no such file."""
    try:
        products.verify_link(
            sandbox.secret, path, expires or "", signature or "", sandbox.clock.now()
        )
    except products.LinkError as exc:
        raise ApiProblem(403, str(exc)) from None
    record = sandbox.store.get_task(task_id)
    plan = {key: media for key, _, media, _ in products.asset_plan(product_type)}
    key = Path(filename).stem
    if record is None or product_type not in ready_types(record) or key not in plan:
        raise not_found(f"no such file: {product_type}/{filename} of task {task_id}")
    cached = sandbox.config.files_dir / task_id / product_type / filename
    if cached.exists():
        return cached.read_bytes(), plan[key]
    doc = metadata(sandbox, record, product_type)
    seed = products.scene_seed(sandbox.seed, task_id)
    content = datafiles.render_asset(key, seed=seed, metadata=doc)
    _write_atomically(cached, content)
    return content, plan[key]


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    os.replace(temporary, path)
