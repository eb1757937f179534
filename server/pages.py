"""Public pages, rendered on the server so they work before (and without) any script."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.catalog import media_counts, records_by_kind
from server.errors import N_, NotFound
from server.i18n import localized
from server.models import Record
from server.state import get_museum

KIND_LABELS = {
    "di_san_phi_vat_the": N_("Intangible cultural heritage"),
    "di_tich": N_("Relic sites"),
    "hien_vat": N_("Artefacts"),
    "di_san_tu_lieu": N_("Documentary heritage"),
}
KIND_SINGULAR = {
    "di_san_phi_vat_the": N_("Intangible cultural heritage"),
    "di_tich": N_("Relic site"),
    "hien_vat": N_("Artefact"),
    "di_san_tu_lieu": N_("Documentary heritage"),
}


@dataclass(frozen=True)
class ItemCard:
    id: str
    title: str
    other_title: str
    category: str
    ranking: str
    location: str
    media: int
    search_text: str


def _card(record: Record, lang: str, media: int) -> ItemCard:
    other = "en" if lang == "vi" else "vi"
    title = localized(record.title, lang)
    other_title = record.title.get(other, "")
    search_text = " ".join(
        [
            *record.title.values(),
            record.category,
            record.ethnic_groups,
            record.location_current,
            record.id,
        ]
    )
    return ItemCard(
        id=record.id,
        title=title,
        other_title="" if other_title == title else other_title,
        category=record.category,
        ranking=record.ranking,
        location=record.location_current,
        media=media,
        search_text=search_text,
    )


async def home(request: Request) -> Response:
    """The collection, grouped by the plan's four kinds of heritage."""
    museum = get_museum(request)
    lang = request.state.lang

    def load(session: Session) -> list[tuple[str, list[ItemCard]]]:
        counts = media_counts(session)
        return [
            (kind, [_card(r, lang, counts.get(r.id, 0)) for r in records])
            for kind, records in records_by_kind(session).items()
        ]

    groups = await museum.db.run(load)
    return museum.templates.TemplateResponse(
        request,
        "home.html",
        {
            "groups": groups,
            "kind_labels": KIND_LABELS,
            "total": sum(len(items) for _, items in groups),
        },
    )


async def item(request: Request) -> Response:
    """One heritage record, with its sources."""
    museum = get_museum(request)
    record_id = request.path_params["record_id"]

    def load(session: Session) -> tuple[Record, int] | None:
        record = session.get(Record, record_id)
        if record is None:
            return None
        return record, media_counts(session).get(record.id, 0)

    found = await museum.db.run(load)
    if found is None:
        raise NotFound(
            N_("No heritage item with id {record_id}."), parameter="record_id", record_id=record_id
        )
    record, media = found
    lang = request.state.lang
    description_lang = lang if lang in record.description else next(iter(record.description), lang)
    return museum.templates.TemplateResponse(
        request,
        "item.html",
        {
            "record": record,
            "title": localized(record.title, lang),
            "other_title": record.title.get("en" if lang == "vi" else "vi", ""),
            "kind_label": KIND_SINGULAR.get(record.kind, record.kind),
            "description": record.description.get(description_lang, ""),
            "description_lang": description_lang,
            "media": media,
        },
    )
