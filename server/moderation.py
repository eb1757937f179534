"""Moderating community contributions (``/admin/contributions``).

Staff read the queue and each contribution, with its media as processed (through signed
links: the file is not public yet). Curators approve or reject:

* **approve** attaches the media to the item (role "detail" for a photo, "audio" or "video"
  for a recording; after the item's other media), makes it public with the sender's
  licence and credit, and adds any text to ``Record.extra["community_stories"]``, which the
  item page shows under "Stories from the community";
* **reject** keeps everything (originals are never deleted) but staff-only, with an
  optional note.

Each decision writes one audit row (``contribution.approve`` / ``contribution.reject``)
in the transaction that makes it; a contribution is decided once (409 afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.admin import PRIVATE_HEADERS
from server.audit import Actor, log_change, snapshot
from server.auth import current_user
from server.av_view import Player, players
from server.contributions import KINDS, LICENCES, PRIVATE_COLUMNS, STORIES
from server.errors import N_, Conflict, Forbidden, NotFound, ValidationError
from server.i18n import localized
from server.models import CONTRIBUTION_STATES, Asset, Contribution, Job, Record, utcnow
from server.policy import can_see_in_admin, role_of
from server.rights import describe_rights
from server.search import index_record
from server.signing import file_url, link_for, log_issue, media_base, media_prefix
from server.state import get_museum

PAGE_SIZE = 50
PREVIEW_WIDTH = 800
MAX_NOTE = 2000
STATUS_LABELS = {
    "pending": N_("Waiting for review"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
}
ALL = "all"


@dataclass(frozen=True)
class QueueRow:
    id: int
    created_at: datetime
    kind: str
    title: str
    name: str
    record_id: str | None
    record_title: str
    status: str
    has_media: bool


def _contribution_id(request: Request) -> int:
    raw = str(request.path_params["contribution_id"])
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(N_("No contribution with id {id}."), parameter="contribution_id", id=raw)
    return int(raw)


async def queue(request: Request) -> Response:
    """``/admin/contributions``: the newest first, filtered by state (pending by default)."""
    museum = get_museum(request)
    lang = request.state.lang
    status = request.query_params.get("status", "pending")
    status = status if status in (*CONTRIBUTION_STATES, ALL) else "pending"
    raw_page = request.query_params.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) < 10_000 else 1

    def load(session: Session) -> tuple[list[QueueRow], dict[str, int]]:
        query = select(Contribution, Record).outerjoin(Record, Record.id == Contribution.record_id)
        if status != ALL:
            query = query.where(Contribution.status == status)
        query = query.order_by(Contribution.created_at.desc(), Contribution.id.desc())
        rows = [
            QueueRow(
                id=c.id,
                created_at=c.created_at,
                kind=c.kind,
                title=c.title,
                name=c.contributor_name,
                record_id=c.record_id,
                record_title=localized(r.title, lang) if r is not None else "",
                status=c.status,
                has_media=c.asset_id is not None,
            )
            for c, r in session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1))
        ]
        counts = {
            str(k): int(n)
            for k, n in session.execute(
                select(Contribution.status, func.count()).group_by(Contribution.status)
            )
        }
        return rows, counts

    rows, counts = await museum.db.run(load)
    return museum.templates.TemplateResponse(
        request,
        "admin_contributions.html",
        {
            "rows": rows[:PAGE_SIZE],
            "counts": counts,
            "status": status,
            "statuses": STATUS_LABELS,
            "kinds": KINDS,
            "page": page,
            "more": len(rows) > PAGE_SIZE,
        },
        headers=PRIVATE_HEADERS,
    )


@dataclass(frozen=True)
class Preview:
    """The contribution's media as staff may see it now: through signed links."""

    kind: str  # image, audio, video
    processed: bool
    job_state: str  # the latest processing job's state, "" when none
    job_message: str
    picture: str | None  # a signed thumbnail or poster address
    player: Player | None  # a recording, every address in it signed
    original: str  # a signed download of the original


def _preview(session: Session, asset: Asset, actor: Actor, user_id: int, settings: Any) -> Preview:
    """Signed links to the media (each issue audited in this transaction)."""
    job = session.scalars(
        select(Job).where(Job.asset_id == asset.id).order_by(Job.created_at.desc()).limit(1)
    ).first()
    original_path = f"/originals/{asset.id}"
    link = link_for(original_path, user_id, settings)
    log_issue(session, actor, asset.id, original_path, link.expires)
    picture, player = None, None
    version = asset.published_version
    if version is not None:
        prefix = media_prefix(asset.id, version)
        folder = link_for(prefix, user_id, settings)
        log_issue(session, actor, asset.id, prefix, folder.expires)
        base = media_base(asset.id, version, folder)
        technical = asset.technical or {}
        picture_file = _picture(technical)
        picture = base + picture_file if picture_file else None
        player = _signed_player(asset, prefix, base)
    return Preview(
        kind=asset.kind,
        processed=version is not None,
        job_state=job.state if job is not None else "",
        job_message=job.message if job is not None else "",
        picture=picture,
        player=player,
        original=file_url(original_path, link),
    )


def _signed_player(asset: Asset, prefix: str, base: str) -> Player | None:
    """The recording's player (server.av_view) with its playlist, poster, captions and
    waveform under the signed folder address: hls.js resolves the segments against it."""
    found = players([asset], "vi")
    if not found:
        return None

    def signed(url: str | None) -> str | None:
        return base + url.removeprefix(prefix) if url and url.startswith(prefix) else url

    player = found[0]
    tracks = tuple(replace(t, src=signed(t.src) or t.src) for t in player.captions)
    return replace(
        player,
        src=signed(player.src) or player.src,
        poster=signed(player.poster),
        captions=tracks,
        download=signed(player.download),
        waveform=signed(player.waveform),
    )


def _picture(technical: dict[str, Any]) -> str | None:
    """The largest thumbnail up to PREVIEW_WIDTH pixels wide, else the poster."""
    thumbs = technical.get("thumbnails")
    sizes = sorted(
        (int(role.rsplit(":", 1)[-1]), path)
        for role, path in (thumbs.items() if isinstance(thumbs, dict) else [])
        if role.rsplit(":", 1)[-1].isdigit() and isinstance(path, str)
    )
    fitting = [path for width, path in sizes if width <= PREVIEW_WIDTH] or [p for _, p in sizes]
    if fitting:
        return fitting[-1]
    poster = technical.get("poster")
    return poster if isinstance(poster, str) else None


async def detail(request: Request) -> Response:
    """One contribution: its text, sender, licence and media, with the curator's decision."""
    museum = get_museum(request)
    user = current_user(request)
    assert user is not None  # the route's rule needs staff
    contribution_id = _contribution_id(request)
    actor = Actor.from_request(request)
    lang = request.state.lang

    def load(session: Session) -> dict[str, Any] | None:
        contribution = session.get(Contribution, contribution_id)
        if contribution is None:
            return None
        record = session.get(Record, contribution.record_id) if contribution.record_id else None
        asset = session.get(Asset, contribution.asset_id) if contribution.asset_id else None
        preview = _preview(session, asset, actor, user.id, museum.settings) if asset else None
        return {
            "contribution": contribution,
            "record": record,
            "record_title": localized(record.title, lang) if record is not None else "",
            "preview": preview,
        }

    found = await museum.db.run(load, write=True)
    if found is None:
        raise NotFound(N_("No contribution with id {id}."), id=contribution_id)
    contribution = found["contribution"]
    return museum.templates.TemplateResponse(
        request,
        "admin_contribution.html",
        {
            **found,
            "kinds": KINDS,
            "statuses": STATUS_LABELS,
            "licence": describe_rights(contribution.license),
            "licence_names": {v.uri: v.name for v in LICENCES.values()},
        },
        headers=PRIVATE_HEADERS,
    )


def _note(form: Any) -> str:
    note = str(form.get("note") or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError(
            N_("The note may have at most {count} characters."), parameter="note", count=MAX_NOTE
        )
    return note


def _pending(session: Session, contribution_id: int) -> Contribution:
    contribution = session.get(Contribution, contribution_id, with_for_update=True)
    if contribution is None:
        raise NotFound(N_("No contribution with id {id}."), id=contribution_id)
    if contribution.status != "pending":
        raise Conflict(
            N_("This contribution has already been reviewed ({status})."),
            status=contribution.status,
        )
    return contribution


def _target(session: Session, contribution: Contribution, chosen: str, role: str) -> Record:
    record_id = contribution.record_id or chosen
    if not record_id:
        raise ValidationError(
            N_("Choose the heritage item this contribution belongs to."), parameter="record_id"
        )
    record = session.get(Record, record_id)
    if record is None or record.deleted_at is not None:
        raise ValidationError(
            N_("No heritage item with id {record_id}."), parameter="record_id", record_id=record_id
        )
    if not can_see_in_admin(role, record.access_level):
        raise Forbidden(N_("Your role does not allow this."))
    return record


def story_entry(contribution: Contribution, when: datetime) -> dict[str, Any]:
    """How a community story is kept in ``Record.extra["community_stories"]``."""
    return {
        "contribution": contribution.id,
        "name": contribution.contributor_name,
        "title": contribution.title,
        "text": contribution.story,
        "licence": contribution.license,
        "language": contribution.language,
        "date": when.date().isoformat(),
        "asset_id": contribution.asset_id,
    }


def approve_in(
    session: Session, contribution_id: int, chosen: str, note: str, actor: Actor, role: str
) -> None:
    contribution = _pending(session, contribution_id)
    before = snapshot(contribution, PRIVATE_COLUMNS)
    record = _target(session, contribution, chosen, role)
    now = utcnow()
    changes: dict[str, Any] = {}
    if contribution.asset_id is not None and (asset := session.get(Asset, contribution.asset_id)):
        last = session.scalar(select(func.max(Asset.position)).where(Asset.record_id == record.id))
        asset.record_id = record.id
        asset.position = (last or 0) + 1
        asset.access_level = "public"
        asset.license = asset.license or contribution.license
        asset.attribution = asset.attribution or contribution.contributor_name
        changes["asset"] = {"id": asset.id, "record_id": record.id, "access_level": "public"}
    if contribution.story.strip():
        stories = list((record.extra or {}).get(STORIES) or [])
        stories.append(story_entry(contribution, now))
        record.extra = {**(record.extra or {}), STORIES: stories}
        changes["story_added"] = True
    contribution.record_id = record.id
    contribution.status = "approved"
    contribution.moderator = actor.name
    contribution.moderated_at = now
    contribution.moderation_note = note
    index_record(session, record)
    after = {**snapshot(contribution, PRIVATE_COLUMNS), **changes}
    log_change(
        session, actor, "contribution.approve", "contribution", contribution.id, before, after
    )


def reject_in(session: Session, contribution_id: int, note: str, actor: Actor) -> None:
    contribution = _pending(session, contribution_id)
    before = snapshot(contribution, PRIVATE_COLUMNS)
    contribution.status = "rejected"
    contribution.moderator = actor.name
    contribution.moderated_at = utcnow()
    contribution.moderation_note = note
    after = snapshot(contribution, PRIVATE_COLUMNS)
    log_change(
        session, actor, "contribution.reject", "contribution", contribution.id, before, after
    )


async def approve(request: Request) -> Response:
    museum = get_museum(request)
    contribution_id = _contribution_id(request)
    form = await request.form()
    note = _note(form)
    chosen = str(form.get("record_id") or "").strip()[:64]
    actor = Actor.from_request(request)
    role = role_of(current_user(request))
    await museum.db.run(
        lambda s: approve_in(s, contribution_id, chosen, note, actor, role), write=True
    )
    return _back(request, contribution_id)


async def reject(request: Request) -> Response:
    museum = get_museum(request)
    contribution_id = _contribution_id(request)
    note = _note(await request.form())
    actor = Actor.from_request(request)
    await museum.db.run(lambda s: reject_in(s, contribution_id, note, actor), write=True)
    return _back(request, contribution_id)


def _back(request: Request, contribution_id: int) -> Response:
    target = request.url_for("admin_contribution", contribution_id=str(contribution_id)).path
    return RedirectResponse(target, status_code=303)
