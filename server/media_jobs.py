"""Media jobs: run a processing pipeline on an ingested original and publish the result.

Settings become pipeline options here (the ``processing`` package never reads
settings). A derivative version is named after the original's digest and the
options, so reprocessing with new parameters makes a new version while the old
one stays live until the new one is published.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from processing.av.pipeline import AvOptions
from processing.av.pipeline import options_to_json as av_options_to_json
from processing.images.model import KINDS as IMAGE_KINDS
from processing.images.model import ImageLimits, ImageOptions
from processing.runner import Failure, process_av, process_image, process_model
from processing.sandbox import ChildLimits
from processing.threed.model import Limits, LodSpec, ModelOptions
from server.captions import keep_captions, refresh_captions
from server.drafting.jobs import queue_after_media
from server.drafting.model import ASSET_ALT
from server.jobs import JobContext, JobRefused
from server.models import Asset, AssetText, Record
from server.search import index_record
from server.settings import Settings, env_name
from server.storage import free_space, staging_name

LOD_NAMES = ("high", "web", "thumb", "preview")
TEXTURE_SIZES = (4096, 2048, 1024, 512)
# Codes that mean the input itself is the problem: retrying cannot help.
# sandbox_unavailable is the machine's (MUSEUM_SANDBOX_NETWORK=require without namespaces).
RETRYABLE = {"crashed", "wall_time", "memory", "cpu_time", "file_size", "sandbox_unavailable"}
# How a pipeline's reason says a write ran out of space (ENOSPC, EDQUOT): retried too.
DISK_FULL = (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# Rights statements under which a recording may be downloaded as a file, not only streamed.
OPEN_RIGHTS = (
    "https://creativecommons.org/",
    "http://creativecommons.org/",
    "http://rightsstatements.org/vocab/NoC-",
    "https://rightsstatements.org/vocab/NoC-",
)


def download_allowed(rights: tuple[str, str] | None) -> bool:
    """Whether the record's rights statement is an open licence or says there is no copyright."""
    return rights is not None and rights[0].strip().startswith(OPEN_RIGHTS)


def av_options(settings: Settings, *, download: bool = False) -> AvOptions:
    """Video and audio options from the settings."""
    return AvOptions(
        loudness_target=settings.av_loudness_target,
        download=download,
        captions=settings.av_captions,
        asr_model=settings.asr_model or None,
        asr_beam_size=settings.asr_beam_size,
    )


# Settings one job may change for itself: reprocessing with new parameters
# (POST /admin/media/{asset_id}/reprocess) sends them in the job's params["settings"].
JOB_SETTINGS = frozenset(
    {
        "model_lod_triangles",
        "model_texture_format",
        "image_tile_size",
        "av_loudness_target",
        "av_captions",
    }
)


def settings_with(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    """``settings`` with some :data:`JOB_SETTINGS` replaced, each parsed as its ``MUSEUM_*``
    variable would be (a bad value raises :class:`server.settings.SettingsError`)."""
    parsers = {f.name: f.metadata["parse"] for f in fields(Settings) if f.name in JOB_SETTINGS}
    values = {
        name: parsers[name](env_name(name), str(value))
        for name, value in overrides.items()
        if name in parsers
    }
    return replace(settings, **values)


def _job_settings(context: JobContext) -> Settings:
    return settings_with(context.settings, context.params.get("settings") or {})


def child_limits(settings: Settings) -> ChildLimits:
    return ChildLimits(
        memory_bytes=settings.job_memory,
        cpu_seconds=settings.job_cpu_seconds,
        wall_seconds=settings.job_timeout,
        network=settings.sandbox_network,
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


def version_for(sha256: str, options: ModelOptions | ImageOptions | AvOptions) -> str:
    """A derivative version: the same original and options always give the same name."""
    if isinstance(options, ImageOptions):
        from processing.images.pipeline import options_to_json as image_options_to_json

        prefix, parameters = "img", image_options_to_json(options)
    elif isinstance(options, AvOptions):
        prefix, parameters = "av", av_options_to_json(options)
    else:
        from processing.threed.pipeline import options_to_json  # open3d: only when used

        prefix, parameters = "3d", options_to_json(options)
    digest = hashlib.sha256(sha256.encode() + json.dumps(parameters).encode())
    return f"{prefix}-{digest.hexdigest()[:16]}"


def process_model_job(context: JobContext) -> dict[str, Any]:
    """Turn an ingested scan into published levels of detail (``params``: asset_id, units, up)."""
    asset = _asset(context)
    settings = _job_settings(context)
    options = model_options(
        settings,
        context.params.get("kind"),
        str(context.params.get("units", "m")),
        str(context.params.get("up", "y")),
    )
    limits = child_limits(settings)

    def run(source: Path, out: Path) -> dict[str, Any]:
        return process_model(source, out, options, limits, context.progress)

    version = version_for(asset.sha256, options)
    technical = technical_summary(_publish(context, asset, version, run))
    _record(context, asset.id, version, technical)
    return {"asset_id": asset.id, "version": version, "lods": len(technical["lods"])}


def process_image_job(context: JobContext) -> dict[str, Any]:
    """Turn an ingested image or document into tiles, a pyramid and thumbnails."""
    asset = _asset(context)
    assert context.db is not None
    owner = asset.record_id
    rights = context.db.call(lambda s: _rights(s, owner)) if owner else None
    kind = context.params.get("kind") or (asset.kind if asset.kind in IMAGE_KINDS else None)
    settings = _job_settings(context)
    options = image_options(settings, kind, rights)
    limits = child_limits(settings)

    def run(source: Path, out: Path) -> dict[str, Any]:
        return process_image(source, out, options, limits, context.progress)

    version = version_for(asset.sha256, options)
    report = _publish(context, asset, version, run)
    folder = context.store.derivative_dir(asset.id, version)
    technical = image_summary(report)
    _record(context, asset.id, version, technical, ocr_text(folder, report, asset.id, version))
    return {"asset_id": asset.id, "version": version, "pages": len(technical["pages"])}


def process_av_job(context: JobContext) -> dict[str, Any]:
    """Turn an ingested video or recording into HLS, a poster, thumbnails and draft captions."""
    asset = _asset(context)
    assert context.db is not None
    owner = asset.record_id
    rights = context.db.call(lambda s: _rights(s, owner)) if owner else None
    settings = _job_settings(context)
    options = av_options(settings, download=download_allowed(rights))
    limits = child_limits(settings)

    def run(source: Path, out: Path) -> dict[str, Any]:
        return process_av(source, out, options, limits, context.progress)

    version = version_for(asset.sha256, options)
    report = _publish(context, asset, version, run)
    technical = av_summary(report)
    # Visitors get the pipeline's media with people's and reviewed captions, never its
    # machine draft, which waits for review (server/captions.py).
    version = keep_captions(context.db, context.store, asset.id, version, report)
    _record(context, asset.id, version, technical, speech_text(report, asset.id, version))
    version = refresh_captions(context.db, context.store, asset.id)
    return {"asset_id": asset.id, "version": version, "renditions": len(technical["renditions"])}


def av_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What the catalog keeps of a video or audio report (the rest is in the file)."""
    stats = report["statistics"]
    renditions = [
        {key: r[key] for key in ("name", "playlist", "codecs", "average_bps", "width", "height")
         if key in r}
        for r in stats["renditions"]
    ]  # fmt: skip
    video = [r for r in renditions if "width" in r]
    speech = stats.get("speech") or {}
    roles = {a["role"]: a["path"] for a in report["artefacts"]}
    summary: dict[str, Any] = {
        "pipeline": "av",
        "kind": report["kind"],
        "duration": stats["duration"],
        "master": "master.m3u8",
        "renditions": renditions,
        # languages of the published caption files (captions.{lang}.vtt): people's and
        # reviewed ones, which server.captions adds; the machine draft waits for review
        "captions": [],
        "caption_drafts": [speech["language"]] if speech.get("captions") else [],
        "loudness": stats.get("loudness"),
        "report": "report.json",
    }
    if video:
        summary["width"], summary["height"] = video[0]["width"], video[0]["height"]
    for role in ("poster", "thumbnails-track", "waveform", "download"):
        if role in roles:
            summary[role.replace("-", "_")] = roles[role]
    return summary


def speech_text(report: dict[str, Any], asset_id: str, version: str) -> AssetText | None:
    """The words heard in a recording, kept as a machine draft (source ``asr``) for review and
    search, or None when nobody speaks."""
    speech = report["statistics"].get("speech") or {}
    segments = speech.get("segments") or []
    if not segments:
        return None
    return AssetText(
        asset_id=asset_id,
        version=version,
        source="asr",
        model=f"faster-whisper {speech.get('model', '')}".strip(),
        language=str(speech.get("language", "")),
        text="\n".join(segment["text"] for segment in segments),
    )


def image_options(
    settings: Settings, kind: str | None = None, rights: tuple[str, str] | None = None
) -> ImageOptions:
    """Image options from the settings; ``rights`` (statement, holder) decides the watermark."""
    return ImageOptions(
        kind=kind,
        tile_size=settings.image_tile_size,
        dzi=settings.image_dzi,
        watermark=watermark_for(settings, rights),
        limits=ImageLimits(
            max_pixels=settings.image_max_pixels,
            max_bytes=settings.max_upload_size,
            max_pages=settings.image_max_pages,
        ),
    )


def watermark_for(settings: Settings, rights: tuple[str, str] | None) -> str | None:
    """The watermark text when the record's rights statement asks for one, else None."""
    if rights is None:
        return None
    statement, holder = rights
    prefixes = [p.strip() for p in settings.image_watermark_rights.split(",") if p.strip()]
    if not any(statement.startswith(prefix) for prefix in prefixes):
        return None
    return f"© {holder.strip()}" if holder.strip() else settings.image_watermark_text


def _rights(session: Session, record_id: str) -> tuple[str, str] | None:
    record = session.get(Record, record_id)
    return None if record is None else (record.rights, record.rights_holder)


def _asset(context: JobContext) -> Asset:
    assert context.db is not None
    asset_id = str(context.params["asset_id"])
    asset = context.db.call(lambda s: s.get(Asset, asset_id))
    if asset is None:
        raise JobRefused(f"asset {asset_id} no longer exists")
    return asset


def _publish(
    context: JobContext, asset: Asset, version: str, run: Callable[[Path, Path], dict[str, Any]]
) -> dict[str, Any]:
    """Run a pipeline on the asset's original and publish its output as ``version``."""
    store = context.store
    _check_space(context)
    source_dir = store.tmp / staging_name("source")
    source_dir.mkdir(parents=True)
    try:
        # Pipelines recognise some text formats (OBJ, XYZ) by their name too.
        source = source_dir / (_SAFE_NAME.sub("_", asset.filename) or "original")
        source.symlink_to(store.original_path(asset.sha256))
        with store.publish(asset.id, version) as folder:
            out = folder / "output"
            try:
                report = run(source, out)
            except Failure as exc:
                # "code: detail" — the code lets a page show the summary in the reader's language.
                message = f"{exc.code}: {exc.reason}"
                if exc.code in RETRYABLE or any(text in exc.reason for text in DISK_FULL):
                    raise RuntimeError(message) from exc  # not the input's fault: retry
                _check_space(context)  # the disk, not the input, may have failed it
                raise JobRefused(message) from exc
            for item in out.iterdir():
                item.rename(folder / item.name)
            out.rmdir()
    finally:
        shutil.rmtree(source_dir, ignore_errors=True)
    return report


def _check_space(context: JobContext) -> None:
    """Below the free-space reserve (MUSEUM_MIN_FREE_DISK) a job fails its attempt and is
    retried later, rather than start work it cannot finish or blame its input for it."""
    free = free_space(context.store.tmp)
    if free < context.settings.min_free_disk:
        raise RuntimeError(
            f"disk_full: {free} bytes free, below MUSEUM_MIN_FREE_DISK "
            f"({context.settings.min_free_disk}); retried later"
        )


def _record(
    context: JobContext,
    asset_id: str,
    version: str,
    technical: dict[str, Any],
    text: AssetText | None = None,
) -> None:
    """Publish ``version``, keep its machine-read text, refresh its record's search row."""
    assert context.db is not None

    def record(session: Session) -> None:
        row = session.get(Asset, asset_id)
        if row is None:
            return
        kept = {ASSET_ALT: row.technical[ASSET_ALT]} if ASSET_ALT in (row.technical or {}) else {}
        row.technical = technical | kept  # people's alt text describes the same picture
        row.published_version = version
        if text is not None:
            _machine_text(session, text)
        if row.record_id is not None and (owner := session.get(Record, row.record_id)):
            index_record(session, owner)  # its media facet and any new text

    context.db.call(record, write=True)
    queue_after_media(context, asset_id)


def _machine_text(session: Session, text: AssetText) -> None:
    """Keep newly read text as a draft for review; the same text of the same version (a
    retried job) keeps its review."""
    known = session.get(AssetText, text.asset_id)
    if known is not None and (known.version, known.text) == (text.version, text.text):
        return
    text.status, text.reviewer, text.reviewed_at = "draft", "", None
    session.merge(text)


def ocr_text(folder: Path, report: dict[str, Any], asset_id: str, version: str) -> AssetText | None:
    """The text OCR read from every page of a published document, or None when there is none."""
    pages = [page["ocr"] for page in report["statistics"].get("pages", []) if page.get("ocr")]
    if not pages:
        return None
    texts = [(folder / page["text"]).read_text("utf-8").strip() for page in pages]
    languages = sorted({page["language"] for page in pages})
    tesseract = report.get("tools", {}).get("tesseract", "")
    return AssetText(
        asset_id=asset_id,
        version=version,
        source="ocr",
        model=f"tesseract {tesseract} {report['parameters'].get('ocr_languages', '')}".strip(),
        language=",".join(languages),
        text="\n\n".join(texts),
    )


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


def image_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What the catalog keeps of an image report: size, pages, thumbnails (the rest in the file)."""
    stats = report["statistics"]
    pages = [
        {
            "page": page.get("page", number),
            "width": page["width"],
            "height": page["height"],
            # where the page's iiif/ and pyramid.tif are, relative to the version folder
            "folder": page["pyramid"].removesuffix("pyramid.tif"),
            "ocr": page["ocr"]["lines"] if page.get("ocr") else None,
        }
        for number, page in enumerate(stats["pages"], 1)
    ]
    thumbnails = {
        a["role"]: a["path"]
        for a in report["artefacts"]
        if a["role"].startswith("thumbnail:") and "page" not in a
    }
    return {
        "pipeline": "image",
        "kind": report["kind"],
        "width": stats["width"],
        "height": stats["height"],
        "tile_size": stats["tile_size"],
        "pages": pages,
        "thumbnails": thumbnails,
        "report": "report.json",
    }
