"""Audio guides: each catalog record's label spoken in Vietnamese and English (issue 6).

A guide is an asset of its record (role ``guide``, kind ``audio``, one per language) whose
original is the WAV espeak-ng wrote (:mod:`processing.av.guide`) and whose published version
is the audio pipeline's HLS tree, like any recording. Its ``technical`` keeps the
``guide_key`` of the text it speaks, so a guide is made again only when its label changes:
planning compares the stored key with the current one, and a job that finds them equal (a
retried or duplicate job) does nothing.

A guide's asset id is derived from its record and language: a remade guide is the same
asset with a new original and a new published version (old versions stay on disk, as for
any asset), and two jobs racing to make the first guide cannot make two assets (the second
insert fails on the primary key, and its retry finds the guide made).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from processing.av.guide import GuideError, guide_key, guide_text, speak
from processing.runner import process_av
from server.db import Database
from server.errors import N_, NotFound
from server.jobs import JobContext, JobRefused, JobService
from server.media_jobs import _publish, av_options, av_summary, child_limits, version_for
from server.models import Asset, Job, Record
from server.storage import Store, StoredOriginal
from server.vocab import GUIDE_ROLE

JOB_KIND = "make_guide"
GUIDE_KIND = "audio"
LANGUAGES = ("vi", "en")  # the languages processing.av.guide has a voice for
WAV_TYPE = "audio/x-wav"  # what processing.sniff calls a WAV file
GUIDE_POSITION = 10_000  # after the record's own media in every list (the IIIF canvases)
PENDING = ("queued", "running")
# Refusals of the text itself: another attempt would say the same (espeak-ng failing or
# missing is retried).
REFUSED = {"unsupported_language", "empty_text", "text_too_long"}


class Guide(NamedTuple):
    """One guide to make: its language, the text it speaks and that text's key."""

    language: str
    text: str
    key: str


def guide_texts(record: Record) -> dict[str, str]:
    """What each language's guide says: the record's title (its label on every page).

    The one place that decides it: speak more (the description, say) and every guide's
    key changes, so the next ``museum guides`` remakes them all.
    """
    titles = record.title or {}
    texts = {language: guide_text(titles.get(language) or "") for language in LANGUAGES}
    return {language: text for language, text in texts.items() if text}


def guide_asset_id(record_id: str, language: str) -> str:
    """The id of the record's guide in ``language``: the same for every remake."""
    return hashlib.sha256(f"guide|{record_id}|{language}".encode()).hexdigest()[:32]


def stored_keys(
    session: Session, record_ids: Sequence[str] | None = None
) -> dict[str, dict[str, str]]:
    """record id → language → the key of its published guide (of every record, or these)."""
    query = select(Asset.record_id, Asset.technical).where(
        Asset.role == GUIDE_ROLE, Asset.published_version.is_not(None)
    )
    if record_ids is not None:
        query = query.where(Asset.record_id.in_(record_ids))
    keys: dict[str, dict[str, str]] = {}
    for record_id, technical in session.execute(query):
        language, key = (technical or {}).get("guide_language"), (technical or {}).get("guide_key")
        if record_id and language and key:
            keys.setdefault(record_id, {})[language] = key
    return keys


def plan_guides(
    session: Session, record: Record, stored: Mapping[str, str] | None = None
) -> list[Guide]:
    """The record's guides that are missing or speak an old label.

    ``stored`` (language → key, from :func:`stored_keys`) saves a query per record when
    planning many; an empty mapping plans every guide.
    """
    if stored is None:
        stored = stored_keys(session, [record.id]).get(record.id, {})
    wanted = [
        Guide(language, text, guide_key(text, language))
        for language, text in guide_texts(record).items()
    ]
    return [guide for guide in wanted if stored.get(guide.language) != guide.key]


def enqueue_guides(
    db: Database, jobs: JobService, record_ids: Sequence[str] | None = None, force: bool = False
) -> int:
    """Queue a ``make_guide`` job for each missing or outdated guide of these records (of
    every record when None); ``force`` queues every guide. Returns how many were queued.

    A guide already waiting in the queue for the same text is not queued again, so a
    catalog imported twice before a worker ran queues its guides once. An unknown record
    id raises :class:`NotFound` before anything is queued.
    """
    planned = db.call(lambda session: _plan(session, record_ids, force))
    for record_id, guide in planned:
        params = {"record_id": record_id, "language": guide.language, "key": guide.key}
        jobs.submit(JOB_KIND, {**params, "force": force})
    return len(planned)


def _plan(
    session: Session, record_ids: Sequence[str] | None, force: bool
) -> list[tuple[str, Guide]]:
    query = select(Record).options(load_only(Record.id, Record.title))
    query = query.where(Record.deleted_at.is_(None)).order_by(Record.id)
    if record_ids is not None:
        query = query.where(Record.id.in_(record_ids))
    records = session.scalars(query).all()
    unknown = sorted(set(record_ids or ()) - {record.id for record in records})
    if unknown:
        raise NotFound(
            N_("No heritage item with id {record_id}."),
            parameter="record",
            record_id=", ".join(unknown),
        )
    stored = {} if force else stored_keys(session, record_ids)
    waiting = set() if force else _waiting(session)
    return [
        (record.id, guide)
        for record in records
        for guide in plan_guides(session, record, stored.get(record.id, {}))
        if (record.id, guide.language, guide.key) not in waiting
    ]


def _waiting(session: Session) -> set[tuple[str, str, str]]:
    """(record, language, key) of the guide jobs queued or running."""
    query = select(Job.params).where(Job.kind == JOB_KIND, Job.state.in_(PENDING))
    return {
        (str(p.get("record_id")), str(p.get("language")), str(p.get("key")))
        for p in session.scalars(query)
    }


def make_guide_job(context: JobContext) -> dict[str, Any]:
    """Speak a record's current label in one language and publish it as the record's guide.

    ``params``: record_id, language, and ``force`` to remake a guide that is up to date
    (after a change of voice or pipeline settings); ``key``, the text's when it was queued,
    only tells :func:`enqueue_guides` the guide is waiting. The text is read when the job
    runs, so a job queued before a second edit speaks the newer label.
    """
    assert context.db is not None
    record_id, language = str(context.params["record_id"]), str(context.params["language"])
    force = bool(context.params.get("force"))
    guide = context.db.call(lambda session: _next_guide(session, record_id, language, force))
    result: dict[str, Any] = {"record_id": record_id, "language": language}
    if guide is None:
        return result | {"skipped": "the guide is up to date, or there is no label to speak"}
    original = _speak_into_store(context.store, guide)
    asset = Asset(
        id=guide_asset_id(record_id, language),
        sha256=original.sha256,
        size=original.size,
        filename=f"guide-{language}.wav",
    )
    # The words are known: reading them back from the speech would only add errors.
    options = replace(av_options(context.settings), captions=False)
    limits = child_limits(context.settings)

    def run(source: Path, out: Path) -> dict[str, Any]:
        return process_av(source, out, options, limits, context.progress)

    version = version_for(asset.sha256, options)
    technical = av_summary(_publish(context, asset, version, run))
    technical |= {"guide_language": language, "guide_key": guide.key, "guide_text": guide.text}
    context.db.call(
        lambda session: _save(session, record_id, asset, guide, version, technical), write=True
    )
    return result | {"asset_id": asset.id, "version": version}


def _next_guide(session: Session, record_id: str, language: str, force: bool) -> Guide | None:
    """The guide to make now, or None when it is up to date or its label is gone."""
    record = session.get(Record, record_id)
    if record is None or record.deleted_at is not None:
        raise JobRefused(f"record {record_id} no longer exists")
    planned = plan_guides(session, record, {} if force else None)
    return next((guide for guide in planned if guide.language == language), None)


def _speak_into_store(store: Store, guide: Guide) -> StoredOriginal:
    """The guide spoken into a WAV and kept as an immutable original, by its SHA-256."""
    store.ensure()
    wav = store.tmp / f"guide-{uuid.uuid4().hex}.wav"
    try:
        try:
            speak(guide.text, guide.language, wav)
        except GuideError as exc:
            message = f"{exc.code}: {exc.reason}"
            raise (JobRefused(message) if exc.code in REFUSED else RuntimeError(message)) from exc
        with wav.open("rb") as source:
            return store.ingest(source)
    finally:
        wav.unlink(missing_ok=True)


def _save(
    session: Session,
    record_id: str,
    asset: Asset,
    guide: Guide,
    version: str,
    technical: dict[str, Any],
) -> None:
    """Point the guide at its new original, label and version in one transaction: until it
    commits, visitors hear the old guide under its old label."""
    owner = session.get(Record, record_id)
    row = session.get(Asset, asset.id)
    if row is None:
        row = Asset(
            id=asset.id,
            record_id=record_id,
            role=GUIDE_ROLE,
            kind=GUIDE_KIND,
            media_type=WAV_TYPE,
            filename=asset.filename,
            position=GUIDE_POSITION,
        )
        session.add(row)
    row.sha256, row.size = asset.sha256, asset.size
    if owner is not None:
        row.access_level = owner.access_level  # a restricted record's guide is restricted too
    row.label = {guide.language: guide.text}
    row.technical = technical
    row.published_version = version
