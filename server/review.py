"""Review of machine output: the queue of everything machine-written waiting for a person, and
the pages where it is decided, each text beside its media with what wrote it.

* ``/admin/review``: the queue, oldest first;
* ``/admin/review/records/{id}``: a record's machine drafts (labels, alt texts, translations),
  each beside the picture it is about;
* ``/admin/review/media/{id}``: a video's or recording's machine captions and a document's
  OCR text, beside the poster or page.

Pages are addressed by the record or media item, so the role × route × state test
(``tests/test_policy_matrix.py``) covers them like any record or media route. Decisions are
made by :mod:`server.review_actions`; nothing machine-written reaches visitors before one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.admin import PRIVATE_HEADERS
from server.audit import Actor, log_change, snapshot
from server.auth import current_user
from server.drafting.jobs import draft_key, request_drafts
from server.errors import N_, NotFound, ValidationError
from server.i18n import localized
from server.models import Asset, AssetCaption, AssetText, MachineDraft, Record, utcnow
from server.policy import role_of
from server.review_actions import (
    WAITING,
    caption_key,
    check_decide,
    decide_caption,
    decide_draft,
    decide_text,
    load_draft,
    may_decide,
    may_see,
)
from server.review_items import (
    FIELD_LABELS,
    KIND_HEADINGS,
    LIMIT,
    Item,
    caption_item,
    draft_item,
    queue_rows,
    text_item,
)
from server.state import get_museum
from server.vocab import LANGUAGE_NAMES

T = TypeVar("T")
NOT_HERE = N_("There is no machine output with this address.")
RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


async def _in_thread(work: Callable[[], T]) -> T:
    """Blocking work (building a caption version, queueing) off the event loop."""
    return await to_thread.run_sync(work)


async def _form_value(request: Request, name: str) -> str | None:
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else None


async def _draft_field(request: Request) -> str:
    """The form's ``draft`` (an id), or a 422 naming the field."""
    key = (await _form_value(request, "draft") or "").strip()
    if not key.isdigit() or len(key) > 11:
        raise ValidationError(
            N_("Say which draft: the form field draft must be a draft's number."),
            parameter="draft",
        )
    return key


def _role(request: Request) -> str:
    return role_of(current_user(request))


def _page(request: Request, title: str, items: list[Item], **context: Any) -> Response:
    museum = get_museum(request)
    return museum.templates.TemplateResponse(
        request,
        "admin_review_item.html",
        {"title": title, "items": items, "fields": FIELD_LABELS, "languages": LANGUAGE_NAMES}
        | context,
        headers=PRIVATE_HEADERS,
    )


def _redirect(request: Request, name: str, anchor: str = "", **params: str) -> Response:
    target = str(request.app.url_path_for(name, **params))
    return RedirectResponse(target + (f"#{anchor}" if anchor else ""), status_code=303)


# The queue


async def review_queue(request: Request) -> Response:
    """``/admin/review``: everything machine-written waiting for a person (``?record=`` opens
    one record's page)."""
    museum = get_museum(request)
    wanted = (request.query_params.get("record") or "").strip()
    if wanted:
        if not RECORD_ID.fullmatch(wanted):
            raise ValidationError(
                N_("No heritage item with id {record_id}."), parameter="record", record_id=wanted
            )
        return _redirect(request, "admin_review_record", record_id=wanted)
    role = _role(request)
    lang: str = request.state.lang
    rows = await museum.db.run(lambda session: queue_rows(session, role, lang))
    return museum.templates.TemplateResponse(
        request,
        "admin_review.html",
        {
            "rows": rows,
            "headings": KIND_HEADINGS,
            "fields": FIELD_LABELS,
            "languages": LANGUAGE_NAMES,
            "limit": LIMIT,
            "llm": bool(museum.settings.llm_url and museum.settings.llm_model),
        },
        headers=PRIVATE_HEADERS,
    )


# A record's drafts


def _record(session: Session, record_id: str, role: str, deciding: bool = False) -> Record:
    """The record, when ``role`` may see it (and, ``deciding``, decide on its drafts)."""
    record = session.get(Record, record_id)
    if record is None or record.deleted_at is not None or not may_see(role, record, None):
        raise NotFound(NOT_HERE, parameter="record_id")
    if deciding:
        check_decide(role, record, None)
    return record


async def record_page(request: Request) -> Response:
    """``/admin/review/records/{id}``: the record's machine drafts, waiting ones first."""
    museum = get_museum(request)
    record_id, role = request.path_params["record_id"], _role(request)
    lang: str = request.state.lang

    def load(session: Session) -> tuple[str, list[Item], bool]:
        record = _record(session, record_id, role)
        drafts = session.scalars(
            select(MachineDraft)
            .where(MachineDraft.record_id == record_id)
            .order_by(MachineDraft.status != WAITING, MachineDraft.created_at.desc())
            .limit(LIMIT)
        )
        items = [draft_item(request, session, draft, record, role) for draft in drafts]
        return localized(record.title, lang), items, may_decide(role, record, None)

    title, items, deciding = await museum.db.run(load)
    return _page(request, title, items, record_id=record_id, asset_id=None, can_request=deciding)


async def record_decide(request: Request) -> Response:
    """POST ``draft`` (its id), ``decision`` (accept, edit, reject) and, to edit, ``text``."""
    museum = get_museum(request)
    record_id, role = request.path_params["record_id"], _role(request)
    actor = Actor.from_request(request)
    await museum.db.run(lambda session: _record(session, record_id, role, deciding=True))
    key = await _draft_field(request)
    decision = await _form_value(request, "decision") or ""
    text = await _form_value(request, "text")
    await museum.db.run(
        lambda session: decide_draft(session, key, decision, text, actor, role, record_id),
        write=True,
    )
    return _redirect(request, "admin_review_record", f"draft-{key}", record_id=record_id)


async def record_again(request: Request) -> Response:
    """POST ``draft``: set that waiting draft aside (rejected) and queue a fresh one."""
    museum = get_museum(request)
    record_id, role = request.path_params["record_id"], _role(request)
    actor = Actor.from_request(request)
    await museum.db.run(lambda session: _record(session, record_id, role, deciding=True))
    key = await _draft_field(request)

    def set_aside(session: Session) -> str:
        draft, record, asset = load_draft(session, key, record_id)
        check_decide(role, record, asset)
        before = snapshot(draft)
        if draft.status == WAITING:
            draft.status, draft.reviewer, draft.reviewed_at = "rejected", actor.name, utcnow()
        after = {**snapshot(draft), "redraft": True}
        log_change(session, actor, "review.redraft", "machine_draft", draft.id, before, after)
        return draft_key(draft.field, draft.language, draft.asset_id)

    wanted = await museum.db.run(set_aside, write=True)
    jobs = museum.jobs
    await _in_thread(lambda: request_drafts(jobs, record_id, only=[wanted], force=True))
    return _redirect(request, "admin_review_record", record_id=record_id)


async def record_drafts(request: Request) -> Response:
    """POST: queue drafts of what the record lacks (``force=1``: of everything)."""
    museum = get_museum(request)
    record_id, role = request.path_params["record_id"], _role(request)
    actor = Actor.from_request(request)
    await museum.db.run(lambda session: _record(session, record_id, role, deciding=True))
    force = (await _form_value(request, "force")) == "1"
    jobs = museum.jobs
    job_id = await _in_thread(lambda: request_drafts(jobs, record_id, force=force))
    after = {"job": job_id, "force": force}
    await museum.db.run(
        lambda session: log_change(
            session, actor, "review.request", "record", record_id, None, after
        ),
        write=True,
    )
    target = request.app.url_path_for("admin_review_record", record_id=record_id)
    return RedirectResponse(f"{target}?requested=1", status_code=303)


# A media item's captions and text


def _asset(
    session: Session, asset_id: str, role: str, deciding: bool = False
) -> tuple[Asset, Record | None]:
    asset = session.get(Asset, asset_id)
    record = session.get(Record, asset.record_id) if asset and asset.record_id else None
    if asset is None or not may_see(role, record, asset):
        raise NotFound(NOT_HERE, parameter="asset_id")
    if deciding:
        check_decide(role, record, asset)
    return asset, record


async def media_page(request: Request) -> Response:
    """``/admin/review/media/{id}``: the item's machine captions and OCR text."""
    museum = get_museum(request)
    asset_id, role = request.path_params["asset_id"], _role(request)
    lang: str = request.state.lang

    def load(session: Session) -> tuple[str, list[Item], str | None]:
        asset, record = _asset(session, asset_id, role)
        captions = session.scalars(
            select(AssetCaption)
            .where(AssetCaption.asset_id == asset_id, AssetCaption.source == "asr")
            .order_by(AssetCaption.language)
        )
        items = [caption_item(request, row, asset, record, role) for row in captions]
        text = session.get(AssetText, asset_id)
        if text is not None and text.source != "asr":
            items.append(text_item(request, text, asset, record, role))
        title = localized(record.title, lang) if record else asset.filename
        return title, items, record.id if record else None

    title, items, record_id = await museum.db.run(load)
    return _page(request, title, items, record_id=record_id, asset_id=asset_id)


async def media_decide(request: Request) -> Response:
    """POST ``kind`` (``caption`` with its ``language``, or ``text``), ``decision`` and, to
    edit, ``text``."""
    museum = get_museum(request)
    asset_id, role = request.path_params["asset_id"], _role(request)
    actor = Actor.from_request(request)
    await museum.db.run(lambda session: _asset(session, asset_id, role, deciding=True))
    kind = await _form_value(request, "kind") or ""
    decision = await _form_value(request, "decision") or ""
    text = await _form_value(request, "text")
    if kind == "caption":
        key = caption_key(asset_id, (await _form_value(request, "language") or "").strip())
        db, store = museum.db, museum.store
        await _in_thread(lambda: decide_caption(db, store, key, decision, text, actor, role))
        anchor = f"caption-{key.partition('~')[2]}"
    elif kind == "text":
        await museum.db.run(
            lambda session: decide_text(session, asset_id, decision, text, actor, role),
            write=True,
        )
        anchor = "text"
    else:
        raise ValidationError(
            N_("Say what to decide on: kind must be caption or text."), parameter="kind"
        )
    return _redirect(request, "admin_review_media", anchor, asset_id=asset_id)
