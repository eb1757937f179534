"""``/admin/upload``: the browser uploader (viewer/src/uploader.js), the records one may
attach to, and one's recent uploads with their processing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.admin import PRIVATE_HEADERS
from server.admin_lists import local_time
from server.auth import current_user
from server.errors import N_
from server.models import Asset, Job, Record, utcnow
from server.policy import can_edit_record, has_permission
from server.reprocess import FIELDS
from server.state import get_museum
from server.tus import UPLOAD_KINDS
from server.upload_service import quota_used, recent_uploads, render_message

# Bytes per PATCH the browser sends: each request is resumable on its own, and writes one
# audit entry.
CHUNK_SIZE = 50 * 1024 * 1024
RECORD_CHOICES = 2000  # records offered in the chooser (type an id for the others)

KIND_LABELS = {
    "mesh": N_("3D mesh"),
    "pointcloud": N_("3D point cloud"),
    "image": N_("Image"),
    "document": N_("Document (pages, OCR)"),
    "video": N_("Video"),
    "audio": N_("Audio recording"),
}
STATE_LABELS = {
    "receiving": N_("Uploading"),
    "verifying": N_("Checking"),
    "complete": N_("Stored"),
    "failed": N_("Failed"),
    "terminated": N_("Cancelled"),
}
JOB_LABELS = {
    "queued": N_("queued"),
    "running": N_("processing"),
    "succeeded": N_("processed"),
    "failed": N_("processing failed"),
}
# What the island shows; each {name} is filled in by the script.
UPLOADER_LABELS = {
    "progress": N_("Upload progress"),
    "hashing": N_("Checking the file before sending it: {percent}%"),
    "uploading": N_("{done} of {total} ({percent}%) · {speed}"),
    "rate": N_("{size}/s"),
    "paused": N_("Paused at {done} of {total}. You may also close the page and continue later."),
    "offline": N_("The connection is lost. The upload continues when the network is back."),
    "verifying": N_("All bytes received; the museum is checking the file…"),
    "complete": N_("Stored. Processing: {job} {progress}%"),
    "failed": N_("The upload failed: {message}"),
    "cancelled": N_("The upload was cancelled."),
    "pause": N_("Pause"),
    "resume": N_("Resume"),
    "cancel": N_("Cancel"),
    "noFile": N_("Choose a file first."),
    "tooLarge": N_("This file is larger than the limit of {limit}."),
}


@dataclass(frozen=True)
class UploadRow:
    id: str
    filename: str
    size: str
    percent: int
    state: str
    state_label: str
    job_id: str | None
    job_label: str
    job_progress: int
    asset_id: str | None
    asset_kind: str | None
    reprocess: str | None  # the pipeline whose parameters the reprocess form offers
    message: str
    created: str


def format_bytes(count: int, lang: str) -> str:
    """Sizes as the uploader writes them: steps of 1024, as MUSEUM_* sizes count (1,5 MB)."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            pattern = "#,##0" if unit == "B" or value >= 100 else "#,##0.#"
            return f"{format_decimal(value, format=pattern, locale=lang)} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _rows(session: Session, user: Any, lang: str, gettext: Any) -> list[UploadRow]:
    from processing.registry import pipeline_for

    rows = []
    for upload in recent_uploads(session, user.id):
        job = session.get(Job, upload.job_id) if upload.job_id else None
        asset = session.get(Asset, upload.asset_id) if upload.asset_id else None
        pipeline = pipeline_for(asset.kind) if asset is not None else None
        rows.append(
            UploadRow(
                id=upload.id,
                filename=upload.filename,
                size=format_bytes(upload.length, lang),
                percent=100 * upload.offset // upload.length if upload.length else 100,
                state=upload.state,
                state_label=gettext(STATE_LABELS[upload.state]),
                job_id=upload.job_id,
                job_label=gettext(JOB_LABELS.get(job.state, job.state)) if job else "",
                job_progress=job.progress if job else 0,
                asset_id=upload.asset_id,
                asset_kind=asset.kind if asset else None,
                reprocess=pipeline
                if pipeline in FIELDS and has_permission(user.role, "edit")
                else None,
                message=render_message(upload, gettext),
                created=local_time(upload.created_at),
            )
        )
    return rows


def _records(session: Session, role: str) -> list[tuple[str, str]]:
    """(id, title) of the records ``role`` may attach media to."""
    if not has_permission(role, "staff"):
        return []
    records = session.scalars(
        select(Record).where(Record.deleted_at.is_(None)).order_by(Record.id).limit(RECORD_CHOICES)
    )
    return [
        (r.id, r.title.get("vi") or next(iter(r.title.values()), ""))
        for r in records
        if can_edit_record(role, r.status, r.access_level)
    ]


async def upload_page(request: Request) -> Response:
    museum = get_museum(request)
    settings = museum.settings
    user = current_user(request)
    assert user is not None
    lang: str = request.state.lang
    gettext = museum.translations(lang).gettext

    def load(session: Session) -> dict[str, Any]:
        from server.models import User

        account = session.get(User, user.id)
        quota = (
            account.upload_quota
            if account is not None and account.upload_quota is not None
            else settings.upload_quota
        )
        return {
            "rows": _rows(session, user, lang, gettext),
            "records": _records(session, user.role),
            "quota": format_bytes(quota, lang),
            "used": format_bytes(quota_used(session, user.id, utcnow()), lang),
        }

    context = await museum.db.run(load)
    receiving = any(row.state in ("receiving", "verifying") for row in context["rows"])
    context.update(
        {
            "max_size": settings.max_upload_size,
            "max_size_text": format_bytes(settings.max_upload_size, lang),
            "chunk_size": CHUNK_SIZE,
            "kinds": [(kind, gettext(KIND_LABELS[kind])) for kind in UPLOAD_KINDS],
            "labels": _labels(gettext),
            "queued": request.query_params.get("queued", "")[:32],
            "has_unfinished": receiving,
        }
    )
    return museum.templates.TemplateResponse(
        request, "admin_upload.html", context, headers=PRIVATE_HEADERS
    )


def _labels(gettext: Any) -> dict[str, Any]:
    labels: dict[str, Any] = {key: gettext(text) for key, text in UPLOADER_LABELS.items()}
    labels["jobStates"] = {key: gettext(text) for key, text in JOB_LABELS.items()}
    return labels
