"""Uploads in the catalog: creation with quotas, recorded offsets, completion, expiry.

Blocking functions (a session, a file): :mod:`server.uploads` runs them off the event
loop. The order that keeps an upload safe:

* bytes are appended and fsynced, *then* ``Upload.offset`` is advanced, by an UPDATE
  guarded with the offset it expects, so a crash can only leave extra bytes on disk
  (cut off by the next writer), never a recorded offset without its bytes;
* at the last byte the upload turns ``verifying`` in the same transaction; the whole
  file's SHA-256 is compared with the one declared at creation, and only then is it
  stored as an original through the same path as ``museum ingest``
  (:func:`server.cli.ingest_file`), so an unverified or partial file never becomes one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.audit import Actor, log_change, snapshot
from server.errors import (
    N_,
    Conflict,
    Forbidden,
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
)
from server.models import Asset, Job, Record, Upload, User, utcnow
from server.policy import can_edit_record, has_permission, owns_or_staff, role_of
from server.settings import Settings
from server.storage import free_space
from server.tus import ChecksumMismatch, Gone, UploadMeta
from server.upload_files import PartFiles

# States whose bytes count against the owner's quota (until the upload expires).
QUOTA_STATES = ("receiving", "verifying", "complete")
OPEN_STATES = ("receiving", "verifying")
# Pipelines by the "kind" hint of the upload's metadata (as `museum process --kind`).
KIND_PIPELINES = {
    "mesh": "process_model",
    "pointcloud": "process_model",
    "image": "process_image",
    "document": "process_image",
    "video": "process_av",
    "audio": "process_av",
}
CONTRIBUTOR_ACCESS = "staff"  # what a contributor's upload becomes: seen by staff only


@dataclass(frozen=True)
class Owner:
    """Who is asking about an upload: their id and role."""

    id: int | None
    role: str


def set_message(upload: Upload, message: str, **params: Any) -> None:
    """A message id (translated when shown) and its parameters, kept with the upload."""
    upload.message = message
    meta = dict(upload.meta or {})
    meta["message_params"] = json.dumps(params, ensure_ascii=False)
    upload.meta = meta


def render_message(upload: Upload, gettext: Any) -> str:
    if not upload.message:
        return ""
    try:
        params = json.loads((upload.meta or {}).get("message_params") or "{}")
        text: str = gettext(upload.message).format(**params)
    except (KeyError, IndexError, ValueError, TypeError):
        return upload.message
    return text


def is_expired(upload: Upload, now: datetime) -> bool:
    return upload.state in OPEN_STATES and upload.expires_at <= now


# Creation --------------------------------------------------------------------


def quota_used(session: Session, user_id: int, now: datetime) -> int:
    used = session.scalar(
        select(func.coalesce(func.sum(Upload.length), 0)).where(
            Upload.user_id == user_id,
            Upload.state.in_(QUOTA_STATES),
            Upload.expires_at > now,
        )
    )
    return int(used or 0)


def check_disk(settings: Settings, files: PartFiles, needed: int) -> None:
    """507 when ``needed`` more bytes would take the disk below MUSEUM_MIN_FREE_DISK."""
    free = free_space(files.root)
    if free - needed < settings.min_free_disk:
        raise InsufficientStorage(
            N_(
                "The museum's disk is nearly full ({free} bytes free); uploads are paused "
                "until space is freed. Tell an administrator."
            ),
            parameter="Upload-Length",
            free=free,
        )


def check_record(session: Session, owner: Owner, record_id: str) -> None:
    """The upload may be attached to ``record_id`` only by someone who may edit it."""
    if not has_permission(owner.role, "staff"):
        raise Forbidden(
            N_("Contributors' uploads cannot be attached to a record; staff attach them later."),
            parameter="record",
        )
    record = session.get(Record, record_id)
    if record is None or record.deleted_at is not None:
        raise NotFound(
            N_("No heritage item with id {record_id}."), parameter="record", record_id=record_id
        )
    if not can_edit_record(owner.role, record.status, record.access_level):
        raise Forbidden(
            N_("Your role may not add media to {record_id} in its current state."),
            parameter="record",
            record_id=record_id,
        )


def create_upload(
    session: Session,
    settings: Settings,
    actor: Actor,
    owner: Owner,
    upload_id: str,
    length: int,
    meta: UploadMeta,
) -> Upload:
    """The upload row (state receiving) with its audit entry; checks quota and record."""
    assert owner.id is not None
    now = utcnow()
    user = session.get(User, owner.id)
    quota = (
        settings.upload_quota if user is None or user.upload_quota is None else user.upload_quota
    )
    used = quota_used(session, owner.id, now)
    if used + length > quota:
        raise PayloadTooLarge(
            N_(
                "This upload would go over your upload quota of {quota} bytes "
                "({used} bytes already in use). Finish or cancel other uploads, "
                "or ask an administrator to raise the quota."
            ),
            parameter="Upload-Length",
            quota=quota,
            used=used,
        )
    if meta.record:
        check_record(session, owner, meta.record)
    upload = Upload(
        id=upload_id,
        user_id=owner.id,
        length=length,
        offset=0,
        filename=meta.filename,
        meta=meta.as_dict(),
        state="receiving",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=settings.upload_expiry),
    )
    session.add(upload)
    session.flush()
    log_change(session, actor, "upload.create", "upload", upload_id, None, snapshot(upload))
    return upload


# Reading ---------------------------------------------------------------------


def get_upload(session: Session, upload_id: str, owner: Owner) -> Upload:
    """The upload if ``owner`` may reach it (their own, or any for staff); else 404."""
    upload = session.get(Upload, upload_id)
    if upload is None or not owns_or_staff(owner.role, owner.id, upload.user_id):
        raise NotFound(N_("There is no upload {id}."), parameter="upload_id", id=upload_id)
    return upload


def check_open(upload: Upload, now: datetime) -> None:
    """410 for an upload whose bytes are gone (terminated, expired, failed)."""
    if upload.state == "terminated" or upload.state == "failed" or is_expired(upload, now):
        raise Gone(
            N_("Upload {id} has expired or was cancelled; start it again."),
            parameter="upload_id",
            id=upload.id,
        )


def status_of(session: Session, upload: Upload, gettext: Any) -> dict[str, Any]:
    job = session.get(Job, upload.job_id) if upload.job_id else None
    return {
        "id": upload.id,
        "state": upload.state,
        "offset": upload.offset,
        "length": upload.length,
        "filename": upload.filename,
        "record": (upload.meta or {}).get("record"),
        "asset_id": upload.asset_id,
        "job_id": upload.job_id,
        "job": None
        if job is None
        else {"state": job.state, "progress": job.progress, "message": job.message},
        "message": render_message(upload, gettext),
        "created_at": upload.created_at.isoformat() + "Z",
        "expires_at": upload.expires_at.isoformat() + "Z",
    }


def recent_uploads(session: Session, user_id: int, limit: int = 20) -> list[Upload]:
    return list(
        session.scalars(
            select(Upload)
            .where(Upload.user_id == user_id)
            .order_by(Upload.created_at.desc())
            .limit(limit)
        )
    )


# Progress --------------------------------------------------------------------


def advance(
    session: Session,
    settings: Settings,
    upload_id: str,
    expected: int,
    new_offset: int,
    actor: Actor | None,
) -> str | None:
    """Record ``new_offset`` (durable on disk already) if the row still says ``expected``;
    at the upload's length it turns ``verifying``. Writes the PATCH's audit entry when
    ``actor`` is given. Returns the new state, or None when the row changed meanwhile."""
    now = utcnow()
    upload = session.get(Upload, upload_id)
    if upload is None:
        return None
    state = "verifying" if new_offset == upload.length else "receiving"
    result = session.execute(
        update(Upload)
        .where(Upload.id == upload_id, Upload.offset == expected, Upload.state == "receiving")
        .values(
            offset=new_offset,
            state=state,
            updated_at=now,
            expires_at=now + timedelta(seconds=settings.upload_expiry),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    if actor is not None:
        log_change(
            session,
            actor,
            "upload.receive",
            "upload",
            upload_id,
            {"offset": expected},
            {"offset": new_offset, "state": state},
        )
    return state


def terminate(session: Session, upload_id: str, actor: Actor) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFound(N_("There is no upload {id}."), parameter="upload_id", id=upload_id)
    if upload.state not in ("receiving", "failed"):  # finished meanwhile, or already gone
        raise Conflict(
            N_("Upload {id} is already complete and cannot be cancelled."),
            parameter="upload_id",
            id=upload_id,
        )
    before = snapshot(upload)
    upload.state = "terminated"
    upload.updated_at = utcnow()
    set_message(upload, N_("Cancelled."))
    log_change(session, actor, "upload.terminate", "upload", upload_id, before, snapshot(upload))
    return upload


# Expiry ----------------------------------------------------------------------


def any_expired(session: Session, now: datetime | None = None) -> bool:
    """Whether :func:`sweep` has work: a read, so callers take the write lock only then."""
    now = now or utcnow()
    query = select(Upload.id).where(Upload.state == "receiving", Upload.expires_at <= now)
    return session.scalars(query.limit(1)).first() is not None


def sweep(session: Session, files: PartFiles, now: datetime | None = None) -> list[str]:
    """Mark unfinished uploads past their expiry terminated and delete their bytes.

    Housekeeping, like the sweep of expired sessions: no audit entry. The part files are
    removed after the rows change, inside the transaction: if the commit fails the rows
    still say expired, and the next sweep removes what is left.
    """
    now = now or utcnow()
    rows = list(
        session.scalars(select(Upload).where(Upload.state == "receiving", Upload.expires_at <= now))
    )
    for upload in rows:
        upload.state = "terminated"
        upload.updated_at = now
        set_message(upload, N_("Expired before it was finished."))
    session.flush()
    for upload in rows:
        files.remove(upload.id)
    return [upload.id for upload in rows]


# Completion ------------------------------------------------------------------


def fail_upload(
    session: Session, upload_id: str, actor: Actor, message: str, **params: Any
) -> None:
    upload = session.get(Upload, upload_id)
    if upload is None:
        return
    before = snapshot(upload)
    upload.state = "failed"
    upload.updated_at = utcnow()
    set_message(upload, message, **params)
    log_change(session, actor, "upload.fail", "upload", upload_id, before, snapshot(upload))


def mismatch(expected: str, actual: str) -> ChecksumMismatch:
    return ChecksumMismatch(
        N_(
            "The uploaded file's SHA-256 is {actual}, not {expected} as declared: it was "
            "damaged on the way and has not been kept. Upload it again."
        ),
        parameter="sha256",
        actual=actual,
        expected=expected,
    )


def owner_role(session: Session, upload: Upload) -> str:
    user = session.get(User, upload.user_id) if upload.user_id is not None else None
    return role_of(None) if user is None or not user.active else user.role


def attachable(session: Session, upload: Upload) -> str | None:
    """The record the asset joins: the one named at creation, if its owner may still edit it."""
    record_id = (upload.meta or {}).get("record")
    if not record_id:
        return None
    try:
        check_record(session, Owner(upload.user_id, owner_role(session, upload)), record_id)
    except (Forbidden, NotFound):
        return None
    return record_id


def finish(
    session: Session,
    upload_id: str,
    actor: Actor,
    asset_id: str,
    job_id: str | None,
    record_id: str | None,
) -> Upload:
    """The upload complete, its asset marked with who uploaded it, one audit entry."""
    upload = session.get(Upload, upload_id)
    asset = session.get(Asset, asset_id)
    assert upload is not None and asset is not None
    before = snapshot(upload)
    # An asset made by this upload (a crash-resumed completion finds it again): its uploader,
    # and for a contributor's file the staff-only access it keeps until staff publish it.
    if asset.uploaded_by is None and asset.created_at >= upload.created_at:
        asset.uploaded_by = upload.user_id
        if not has_permission(owner_role(session, upload), "staff"):
            asset.access_level = CONTRIBUTOR_ACCESS
    upload.state = "complete"
    upload.asset_id = asset_id
    upload.job_id = job_id
    upload.updated_at = utcnow()
    wanted = (upload.meta or {}).get("record")
    if wanted and record_id is None:
        set_message(
            upload,
            N_("Stored, but not attached to {record_id}: you may no longer edit it."),
            record_id=wanted,
        )
    elif job_id is None:
        set_message(upload, N_("Stored; there is no processing for this kind of file."))
    else:
        set_message(upload, N_("Stored; processing has been queued."))
    log_change(
        session,
        actor,
        "upload.complete",
        "upload",
        upload_id,
        before,
        {**snapshot(upload), "asset": {"id": asset_id, "record_id": asset.record_id}},
    )
    return upload
