"""The ``draft_text`` job: labels, alt texts and translations a person then reviews.

What a record lacks is planned when the job runs (:func:`plan_drafts`): a label in each
draft language, an alt text in each for every published picture (image, document page, 3D
model poster, video poster), and each title or description missing in one of them but
written in another. Something already waiting for review is never drafted twice; a draft a
reviewer rejected, or a field people filled, is drafted again only when asked ("Draft
again", ``force``).

Each draft is written by the OpenAI-compatible backend when ``MUSEUM_LLM_URL`` and
``MUSEUM_LLM_MODEL`` are set, else by the template backend. When the server fails, the
draft comes from the template backend (``source`` "template", ``model_version`` naming the
failure, the failure in the job's result), and the rest of the job does not wait on a
server that did not answer; ``fallback: false`` in the job's parameters makes the failure
fail the job instead (retried when trying again may help).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.drafting.facts import preview_image, record_facts
from server.drafting.llm import OpenAICompatibleBackend
from server.drafting.model import (
    ASSET_ALT,
    DRAFT_LANGUAGES,
    RECORD_LABEL,
    TRANSLATABLE,
    Backend,
    Draft,
    DraftingError,
    DraftRequest,
    Facts,
)
from server.drafting.template import TemplateBackend
from server.i18n import localized
from server.jobs import JobContext, JobRefused, JobService
from server.models import Asset, MachineDraft, Record
from server.settings import Settings
from server.vocab import GUIDE_ROLE

log = logging.getLogger(__name__)

JOB_KIND = "draft_text"
# Media with a picture to describe (an audio recording has none).
PICTURED = ("image", "document", "model", "video")
WAITING = "draft"


@dataclass(frozen=True)
class Planned:
    """One draft to write. ``field`` is a :data:`server.models.DRAFT_FIELDS` value: a
    translation's is the record field it fills."""

    task: str
    field: str
    language: str
    asset_id: str | None = None
    source_language: str = ""

    @property
    def key(self) -> str:
        """``field:language[:asset]``, as "Draft again" names one draft."""
        return f"{self.field}:{self.language}" + (f":{self.asset_id}" if self.asset_id else "")


def draft_key(field: str, language: str, asset_id: str | None) -> str:
    return Planned("", field, language, asset_id).key


def backend_for(settings: Settings) -> Backend | None:
    """The HTTP backend when one is configured, else None (templates only)."""
    if settings.llm_url and settings.llm_model:
        return OpenAICompatibleBackend(settings.llm_url, settings.llm_model, settings.llm_timeout)
    return None


# Planning


def _pictured(session: Session, record_id: str) -> list[Asset]:
    query = (
        select(Asset)
        .where(
            Asset.record_id == record_id,
            Asset.kind.in_(PICTURED),
            Asset.role != GUIDE_ROLE,
            Asset.published_version.is_not(None),
        )
        .order_by(Asset.position, Asset.id)
    )
    return list(session.scalars(query))


def _blocking(session: Session, record_id: str, force: bool) -> set[str]:
    """Keys of drafts that stop another: waiting ones always, rejected ones unless forced."""
    statuses = (WAITING,) if force else (WAITING, "rejected")
    rows = session.execute(
        select(MachineDraft.field, MachineDraft.language, MachineDraft.asset_id).where(
            MachineDraft.record_id == record_id, MachineDraft.status.in_(statuses)
        )
    )
    return {draft_key(field, language, asset) for field, language, asset in rows}


def _candidates(record: Record, assets: Iterable[Asset]) -> list[tuple[Planned, bool]]:
    """Every draft the record could have, each with whether its target is filled already."""
    labels = (record.extra or {}).get(RECORD_LABEL) or {}
    found = [(Planned("label", "label", lang), bool(labels.get(lang))) for lang in DRAFT_LANGUAGES]
    for asset in assets:
        alts = (asset.technical or {}).get(ASSET_ALT) or {}
        found += [
            (Planned("alt_text", "alt_text", lang, asset.id), bool(alts.get(lang)))
            for lang in DRAFT_LANGUAGES
        ]
    for field in TRANSLATABLE:
        values: dict[str, str] = getattr(record, field) or {}
        written = [lang for lang in (*DRAFT_LANGUAGES, *values) if values.get(lang)]
        for lang in DRAFT_LANGUAGES:
            source = next((other for other in written if other != lang), None)
            if source is not None:
                planned = Planned("translation", field, lang, source_language=source)
                found.append((planned, bool(values.get(lang))))
    return found


def plan_drafts(
    session: Session, record: Record, *, force: bool = False, only: Sequence[str] = ()
) -> list[Planned]:
    """The drafts the record needs now (``only``: just these keys)."""
    blocked = _blocking(session, record.id, force)
    return [
        planned
        for planned, filled in _candidates(record, _pictured(session, record.id))
        if planned.key not in blocked
        and (force or not filled)
        and (not only or planned.key in only)
    ]


# Queueing


def request_drafts(
    jobs: JobService,
    record_id: str,
    *,
    only: Sequence[str] = (),
    force: bool = False,
    asset_id: str | None = None,
) -> str:
    """Queue a ``draft_text`` job for the record; its id."""
    params: dict[str, Any] = {"record_id": record_id, "force": force, "only": list(only)}
    return jobs.submit(JOB_KIND, params, asset_id=asset_id)


def queue_after_media(context: JobContext, asset_id: str) -> None:
    """After a media job published ``asset_id``: queue drafts for its record when it needs
    any. A failure here is logged and never fails the media job, which has succeeded."""
    from server.queue import Queue
    from server.tasks import job_handlers

    assert context.db is not None
    db = context.db
    try:
        record_id = db.call(lambda session: _needing_drafts(session, asset_id))
        if record_id is None:
            return
        # The worker's job service is not at hand here: a producer of its own, on the same
        # queue (cheap: one connection, closed at once).
        queue = Queue(context.settings.resolved_queue_url)
        try:
            jobs = JobService(db, queue, context.settings, job_handlers(), context.store)
            request_drafts(jobs, record_id, asset_id=asset_id)
        finally:
            queue.huey.storage.close()
    except Exception:  # the media is published; drafts can be asked for later
        log.exception("could not queue drafts after processing asset %s", asset_id)


def _needing_drafts(session: Session, asset_id: str) -> str | None:
    """The id of the asset's record when it needs drafts, else None."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.record_id is None or asset.role == GUIDE_ROLE:
        return None
    record = session.get(Record, asset.record_id)
    if record is None or record.deleted_at is not None or not plan_drafts(session, record):
        return None
    return record.id


# The job


@dataclass(frozen=True)
class _Work:
    planned: Planned
    request: DraftRequest


def draft_text_job(context: JobContext) -> dict[str, Any]:
    """Draft what the record lacks (``params``: record_id; ``only``, a list of draft keys;
    ``force``; ``fallback``, default true)."""
    assert context.db is not None
    db = context.db
    record_id = str(context.params["record_id"])
    force = bool(context.params.get("force"))
    only = [str(key) for key in context.params.get("only") or ()]
    work = db.call(lambda session: _prepare(session, context, record_id, force, only))
    backend = backend_for(context.settings)
    fallback = bool(context.params.get("fallback", True))
    written: list[dict[str, str]] = []
    failed: DraftingError | None = None
    for number, item in enumerate(work):
        draft, failed = _draft(backend, item.request, fallback, failed)
        if db.call(partial(_save, record_id=record_id, item=item, draft=draft), write=True):
            written.append({"key": item.planned.key, "source": draft.source, "model": draft.model})
        context.progress(100 * (number + 1) / max(1, len(work)), item.planned.key)
    result: dict[str, Any] = {"record_id": record_id, "drafts": written}
    if failed is not None:
        result["fallback"] = [str(failed)]
    return result


def _prepare(
    session: Session, context: JobContext, record_id: str, force: bool, only: Sequence[str]
) -> list[_Work]:
    record = session.get(Record, record_id)
    if record is None or record.deleted_at is not None:
        raise JobRefused(f"record {record_id} no longer exists")
    facts = record_facts(session, record)
    return [
        _Work(planned, _request(session, context, facts, planned))
        for planned in plan_drafts(session, record, force=force, only=only)
    ]


def _request(session: Session, context: JobContext, facts: Facts, planned: Planned) -> DraftRequest:
    if planned.task != "alt_text" or planned.asset_id is None:
        return DraftRequest(
            planned.task,
            planned.language,
            facts,
            field=planned.field if planned.task == "translation" else "",
            source_language=planned.source_language,
        )
    asset = session.get(Asset, planned.asset_id)
    assert asset is not None  # planned from the record's assets in this transaction
    picture = preview_image(context.store, asset)
    return DraftRequest(
        "alt_text",
        planned.language,
        facts,
        media_kind=asset.kind,
        media_label=localized(asset.label or {}, planned.language),
        image=picture[0] if picture else None,
        image_type=picture[1] if picture else "image/jpeg",
    )


def _draft(
    backend: Backend | None, request: DraftRequest, fallback: bool, failed: DraftingError | None
) -> tuple[Draft, DraftingError | None]:
    """The draft, and the server's failure (this one's, or ``failed``, an earlier one's:
    after a failure the job stops asking the server and marks every draft as a fallback)."""
    template = TemplateBackend()
    if backend is not None and failed is None:
        try:
            return backend.draft(request), None
        except DraftingError as exc:
            if not fallback:
                raise (RuntimeError(str(exc)) if exc.retryable else JobRefused(str(exc))) from exc
            log.warning("drafting server failed, using the template backend: %s", exc)
            failed = exc
    made = template.draft(request)
    if failed is None:
        return made, None
    version = f"fallback: {failed.reason}"[:128]
    return Draft(made.text, made.source, made.model, version), failed


def _save(session: Session, record_id: str, item: _Work, draft: Draft) -> bool:
    """Write the draft unless one for the same key is waiting already (another job wrote
    it meanwhile) or the record is gone; whether it was written."""
    planned = item.planned
    record = session.get(Record, record_id)
    if record is None or planned.key in _blocking(session, record_id, force=True):
        return False
    if planned.asset_id is not None and session.get(Asset, planned.asset_id) is None:
        return False
    session.add(
        MachineDraft(
            record_id=record_id,
            asset_id=planned.asset_id,
            field=planned.field,
            language=planned.language,
            source_language=planned.source_language,
            text=draft.text,
            source=draft.source,
            model=draft.model[:128],
            model_version=draft.model_version[:128],
            status=WAITING,
        )
    )
    return True
