"""What the review pages show: the queue's rows and each piece of machine output as an
:class:`Item` (its text, provenance, the picture it is about and where its form posts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from processing.av.captions import CaptionError
from processing.av.captions import parse_captions as parse_cues
from server.drafting.facts import preview_path
from server.drafting.jobs import PICTURED
from server.drafting.model import needs_translator
from server.errors import N_
from server.i18n import localized
from server.models import Asset, AssetCaption, AssetText, MachineDraft, Record
from server.policy import access_levels_for
from server.review_actions import WAITING, may_decide
from server.vocab import GUIDE_ROLE

LIMIT = 200  # items listed per kind (the oldest first) or per page
FIELD_LABELS = {
    "label": N_("Museum label"),
    "description": N_("Description"),
    "title": N_("Title"),
    "alt_text": N_("Alt text"),
    "caption": N_("Captions from speech"),
    "text": N_("Text read from the document"),
}
KIND_HEADINGS = {
    "draft": N_("Labels, alt texts and translations"),
    "caption": N_("Captions made from speech"),
    "text": N_("Text read from documents (OCR)"),
}


@dataclass(frozen=True)
class QueueRow:
    page: str  # the route of the page where it is decided
    params: dict[str, str]
    anchor: str
    record_id: str | None
    record_title: str
    what: str  # a FIELD_LABELS key
    language: str
    source: str
    model: str
    created_at: datetime
    editable: bool


@dataclass
class Item:
    """One piece of machine output as its review page shows it."""

    anchor: str
    what: str  # a FIELD_LABELS key
    language: str
    status: str
    text: str  # as the machine wrote it
    final_text: str  # as accepted
    source: str
    model: str
    model_version: str
    created_at: datetime | None
    reviewer: str
    reviewed_at: datetime | None
    action: str  # where its decision is posted
    hidden: dict[str, str]  # the form fields that name it
    editable: bool
    source_language: str = ""
    picture: str | None = None
    media_link: str | None = None
    cues: list[tuple[str, str]] = field(default_factory=list)
    needs_translator: bool = False
    again: str | None = None  # "Draft again" posts here

    @property
    def waiting(self) -> bool:
        return self.status == WAITING


# The queue


def queue_rows(session: Session, role: str, lang: str) -> dict[str, list[QueueRow]]:
    """What waits for review, per kind, that ``role`` may see."""
    levels = access_levels_for(role)
    owner_level = Record.id.is_(None) | Record.access_level.in_(levels)
    drafts = session.execute(
        select(MachineDraft, Record)
        .join(Record, Record.id == MachineDraft.record_id)
        .where(MachineDraft.status == WAITING, Record.deleted_at.is_(None))
        .where(Record.access_level.in_(levels))
        .order_by(MachineDraft.created_at, MachineDraft.id)
        .limit(LIMIT)
    )
    captions = session.execute(
        select(AssetCaption, Asset, Record)
        .join(Asset, Asset.id == AssetCaption.asset_id)
        .outerjoin(Record, Record.id == Asset.record_id)
        .where(AssetCaption.source == "asr", AssetCaption.status == WAITING)
        .where(Asset.access_level.in_(levels), owner_level)
        .order_by(AssetCaption.created_at)
        .limit(LIMIT)
    )
    texts = session.execute(
        select(AssetText, Asset, Record)
        .join(Asset, Asset.id == AssetText.asset_id)
        .outerjoin(Record, Record.id == Asset.record_id)
        .where(AssetText.status == WAITING, AssetText.source != "asr")
        .where(AssetText.version == Asset.published_version)
        .where(Asset.access_level.in_(levels), owner_level)
        .order_by(AssetText.created_at)
        .limit(LIMIT)
    )

    def row(anchor: str, record: Record | None, asset: Asset | None, **values: Any) -> QueueRow:
        page, params = (
            ("admin_review_media", {"asset_id": asset.id})
            if asset is not None
            else ("admin_review_record", {"record_id": record.id if record else ""})
        )
        return QueueRow(
            page=page,
            params=params,
            anchor=anchor,
            record_id=record.id if record else None,
            record_title=localized(record.title, lang) if record else "",
            editable=may_decide(role, record, asset),
            **values,
        )

    def about(value: MachineDraft | AssetCaption | AssetText) -> dict[str, Any]:
        return {"source": value.source, "model": value.model, "created_at": value.created_at}

    return {
        "draft": [
            row(f"draft-{d.id}", r, None, what=d.field,
                language=d.language, **about(d))
            for d, r in drafts
        ],
        "caption": [
            row(f"caption-{c.language}", r, a, what="caption",
                language=c.language, **about(c))
            for c, a, r in captions
        ],
        "text": [
            row("text", r, a, what="text", language=t.language,
                **about(t))
            for t, a, r in texts
        ],
    }  # fmt: skip


# Items


def media_path(request: Request, asset: Asset, relative: str | None) -> str | None:
    if not relative or asset.published_version is None:
        return None
    path = f"{asset.id}/{asset.published_version}/{relative}"
    return str(request.app.url_path_for("media", path=path))


def _record_picture(session: Session, record_id: str) -> Asset | None:
    """The record's first published picture, to show beside a record-wide draft."""
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
    return next((a for a in session.scalars(query) if preview_path(a.technical or {})), None)


def _cues(vtt: str) -> list[tuple[str, str]]:
    try:
        cues = parse_cues(vtt.encode("utf-8"), "captions.vtt")
    except CaptionError:
        return []
    return [
        (f"{int(c.start // 60)}:{int(c.start % 60):02d}", " ".join(c.plain.split())) for c in cues
    ]


def draft_item(
    request: Request, session: Session, draft: MachineDraft, record: Record, role: str
) -> Item:
    asset = session.get(Asset, draft.asset_id) if draft.asset_id else None
    pictured = asset or _record_picture(session, record.id)
    picture = (
        media_path(request, pictured, preview_path(pictured.technical or {})) if pictured else None
    )
    action = str(request.app.url_path_for("admin_review_record_decide", record_id=record.id))
    again = str(request.app.url_path_for("admin_review_again", record_id=record.id))
    return Item(
        anchor=f"draft-{draft.id}",
        what=draft.field,
        language=draft.language,
        source_language=draft.source_language,
        status=draft.status,
        text=draft.text,
        final_text=draft.final_text,
        source=draft.source,
        model=draft.model,
        model_version=draft.model_version,
        created_at=draft.created_at,
        reviewer=draft.reviewer,
        reviewed_at=draft.reviewed_at,
        action=action,
        hidden={"draft": str(draft.id)},
        editable=may_decide(role, record, asset),
        picture=picture,
        needs_translator=needs_translator(draft.text),
        again=again,
    )


def caption_item(
    request: Request, row: AssetCaption, asset: Asset, record: Record | None, role: str
) -> Item:
    technical = asset.technical or {}
    action = str(request.app.url_path_for("admin_review_media_decide", asset_id=asset.id))
    return Item(
        anchor=f"caption-{row.language}",
        what="caption",
        language=row.language,
        status=row.status,
        text=row.text,
        final_text=row.text if row.status != WAITING else "",
        source=row.source,
        model=row.model,
        model_version="",
        created_at=row.created_at,
        reviewer=row.reviewer,
        reviewed_at=row.reviewed_at,
        action=action,
        hidden={"kind": "caption", "language": row.language},
        editable=may_decide(role, record, asset),
        picture=media_path(request, asset, technical.get("poster")),
        media_link=media_path(request, asset, technical.get("download") or technical.get("master")),
        cues=_cues(row.text),
    )


def text_item(
    request: Request, text: AssetText, asset: Asset, record: Record | None, role: str
) -> Item:
    action = str(request.app.url_path_for("admin_review_media_decide", asset_id=asset.id))
    return Item(
        anchor="text",
        what="text",
        language=text.language,
        status=text.status,
        text=text.text,
        final_text=text.text if text.status == "accepted" else "",
        source=text.source,
        model=text.model,
        model_version=text.version,
        created_at=text.created_at,
        reviewer=text.reviewer,
        reviewed_at=text.reviewed_at,
        action=action,
        hidden={"kind": "text"},
        editable=may_decide(role, record, asset) and text.version == asset.published_version,
        picture=media_path(request, asset, preview_path(asset.technical or {})),
    )
