"""A finished upload becomes an original: verify the whole file, ingest it, queue its pipeline.

Blocking (hashing a multi-GB file takes a while): callers run it in a thread, holding the
part file's lock so nothing else writes it meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit import Actor
from server.jobs import JobService
from server.models import Upload, utcnow
from server.storage import Store
from server.tus import Locked
from server.upload_files import PartFiles
from server.upload_service import KIND_PIPELINES, attachable, fail_upload, finish, mismatch

log = logging.getLogger(__name__)

# A completion still "verifying" this long after its last byte was recorded has lost the
# process that ran it (``museum uploads sweep`` resumes it).
STALE_VERIFYING = timedelta(minutes=10)


@dataclass(frozen=True)
class Completed:
    upload_id: str
    asset_id: str
    job_id: str | None


def choose_pipeline(sniffed_kind: str, hint: str | None) -> tuple[str | None, dict[str, Any]]:
    """The job for a file: by what its bytes are; the uploader's ``kind`` hint may refine it
    (a point cloud, a document) or choose one when the bytes alone do not say."""
    from processing.registry import pipeline_for

    pipeline = pipeline_for(sniffed_kind)
    if hint is not None and (pipeline is None or KIND_PIPELINES[hint] == pipeline):
        return KIND_PIPELINES[hint], {"kind": hint}
    return pipeline, {}


def complete_upload(jobs: JobService, files: PartFiles, upload_id: str, actor: Actor) -> Completed:
    """Verify the finished upload ``upload_id`` (state verifying) and store it as an asset.

    Raises :class:`~server.tus.ChecksumMismatch` (the upload is then failed and its bytes
    deleted) when the file is not the one declared.
    """
    from processing.sniff import sniff_file
    from server.cli import ingest_file

    upload = jobs.db.call(lambda s: s.get(Upload, upload_id))
    assert upload is not None and upload.state == "verifying"
    expected = str((upload.meta or {}).get("sha256", ""))
    actual = Store.hash_file(files.path(upload_id))
    if actual != expected:
        error = mismatch(expected, actual)

        def fail(session: Session) -> None:
            fail_upload(session, upload_id, actor, error.message, **error.params)

        jobs.db.call(fail, write=True)
        files.remove(upload_id)
        raise error
    record_id = jobs.db.call(lambda s: attachable(s, upload))
    with files.named_copy(upload_id, upload.filename) as path:
        sniffed = sniff_file(path)
        asset_id, stored = ingest_file(jobs, path, record_id, sniffed, queue=False)
    if stored.sha256 != expected:  # the store re-hashes while copying: changed under us
        raise mismatch(expected, stored.sha256)
    pipeline, params = choose_pipeline(sniffed.kind, (upload.meta or {}).get("kind"))

    def complete(session: Session) -> str | None:
        """The upload's end, its audit entry and its processing job in one transaction."""
        job_id = (
            jobs.submit(pipeline, {"asset_id": asset_id, **params}, asset_id, session=session)
            if pipeline
            else None
        )
        finish(session, upload_id, actor, asset_id, job_id, record_id)
        return job_id

    job_id = jobs.db.call(complete, write=True)
    files.remove(upload_id)
    return Completed(upload_id, asset_id, job_id)


def complete_locked(jobs: JobService, files: PartFiles, upload: Upload, actor: Actor) -> Completed:
    """:func:`complete_upload` while holding the part file's lock (another process may be
    on it)."""
    writer = files.open_writer(upload.id, upload.length)
    try:
        return complete_upload(jobs, files, upload.id, actor)
    finally:
        writer.close()


def resume_stale(jobs: JobService, files: PartFiles, actor: Actor) -> list[tuple[str, str]]:
    """Finish completions a stopped server left in ``verifying``: ``(upload id, outcome)``."""
    cutoff = utcnow() - STALE_VERIFYING

    def stale(session: Session) -> list[Upload]:
        query = select(Upload).where(Upload.state == "verifying", Upload.updated_at <= cutoff)
        return list(session.scalars(query))

    outcomes: list[tuple[str, str]] = []
    for upload in jobs.db.call(stale):
        try:
            done = complete_locked(jobs, files, upload, actor)
        except Locked:
            outcomes.append((upload.id, "busy"))
        except Exception as exc:  # one bad upload must not stop the sweep of the others
            log.exception("resuming upload %s failed", upload.id)
            outcomes.append((upload.id, f"failed: {exc}"))
        else:
            outcomes.append((upload.id, f"complete: asset {done.asset_id}"))
    return outcomes
