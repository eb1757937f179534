"""Media jobs: run a processing pipeline on an ingested original and publish the result.

Settings become pipeline options here (the ``processing`` package never reads
settings). A derivative version is named after the original's digest and the
options, so reprocessing with new parameters makes a new version while the old
one stays live until the new one is published.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from typing import Any

from processing.runner import Failure, process_model
from processing.sandbox import ChildLimits
from processing.threed.model import Limits, LodSpec, ModelOptions
from processing.threed.pipeline import options_to_json
from server.jobs import JobContext, JobRefused
from server.models import Asset
from server.settings import Settings

LOD_NAMES = ("high", "web", "thumb", "preview")
TEXTURE_SIZES = (4096, 2048, 1024, 512)
# Codes that mean the input itself is the problem: retrying cannot help.
RETRYABLE = {"crashed", "wall_time", "memory", "cpu_time", "file_size"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def child_limits(settings: Settings) -> ChildLimits:
    return ChildLimits(
        memory_bytes=settings.job_memory,
        cpu_seconds=settings.job_cpu_seconds,
        wall_seconds=settings.job_timeout,
    )


def model_options(
    settings: Settings,
    kind: str | None = None,
    units: str = "m",
    up: str = "y",
) -> ModelOptions:
    budgets = [int(n) for n in settings.model_lod_triangles.split(",")]
    return ModelOptions(
        kind=kind,
        units=units,
        up=up,
        limits=Limits(
            max_vertices=settings.model_max_vertices,
            max_faces=settings.model_max_faces,
            max_points=settings.model_max_points,
            max_texture_pixels=settings.model_max_texture_pixels,
            max_archive_entries=settings.model_max_archive_entries,
            max_archive_bytes=settings.model_max_archive_bytes,
            max_input_bytes=settings.max_upload_size,
        ),
        lods=tuple(
            LodSpec(name, budget, size)
            for name, budget, size in zip(LOD_NAMES, budgets, TEXTURE_SIZES, strict=True)
        ),
        debris_fraction=settings.model_debris_fraction,
        lock_borders=settings.model_lock_borders,
        texture_format=settings.model_texture_format,
    )


def version_for(sha256: str, options: ModelOptions) -> str:
    """A derivative version: the same original and options always give the same name."""
    digest = hashlib.sha256(sha256.encode() + json.dumps(options_to_json(options)).encode())
    return f"3d-{digest.hexdigest()[:16]}"


def process_model_job(context: JobContext) -> dict[str, Any]:
    """Turn an ingested scan into published levels of detail (``params``: asset_id, units, up)."""
    assert context.db is not None
    asset_id = str(context.params["asset_id"])
    asset = context.db.call(lambda s: s.get(Asset, asset_id))
    if asset is None:
        raise JobRefused(f"asset {asset_id} no longer exists")
    options = model_options(
        context.settings,
        context.params.get("kind"),
        str(context.params.get("units", "m")),
        str(context.params.get("up", "y")),
    )
    version = version_for(asset.sha256, options)
    store = context.store
    source_dir = store.tmp / f"source-{uuid.uuid4().hex}"
    source_dir.mkdir(parents=True)
    try:
        # The pipeline recognises text formats (OBJ, XYZ) by their name too.
        source = source_dir / (_SAFE_NAME.sub("_", asset.filename) or "scan")
        source.symlink_to(store.original_path(asset.sha256))
        with store.publish(asset_id, version) as folder:
            out = folder / "model"
            try:
                report = process_model(
                    source, out, options, child_limits(context.settings), context.progress
                )
            except Failure as exc:
                # "code: detail" — the code lets a page show the summary in the reader's language.
                message = f"{exc.code}: {exc.reason}"
                if exc.code in RETRYABLE:
                    raise RuntimeError(message) from exc
                raise JobRefused(message) from exc
            for item in out.iterdir():
                item.rename(folder / item.name)
            out.rmdir()
    finally:
        shutil.rmtree(source_dir, ignore_errors=True)
    technical = technical_summary(report)

    def record(session: Any) -> None:
        row = session.get(Asset, asset_id)
        if row is not None:
            row.technical = technical
            row.published_version = version

    context.db.call(record, write=True)
    return {"asset_id": asset_id, "version": version, "lods": len(technical["lods"])}


def technical_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What the catalog keeps of a 3D report: sizes, levels, poster (the rest is in the file)."""
    stats = report["statistics"]
    lods = [
        {key: lod[key] for key in ("name", "role", "path", "triangles", "points", "bytes")}
        for lod in stats["lods"]
    ]
    posters = {
        a["role"]: a["path"] for a in report["artefacts"] if a["role"] in {"poster", "thumbnail"}
    }
    return {
        "pipeline": "3d",
        "kind": report["kind"],
        "dimensions_mm": stats["dimensions_mm"],
        "lods": lods,
        "model": next((lod["path"] for lod in lods if lod["role"] == "lod:web"), lods[0]["path"]),
        **posters,
        "report": "report.json",
    }
