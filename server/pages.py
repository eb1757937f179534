"""Public pages, rendered on the server so they work before (and without) any script."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server import av_view, home_view, image_view, model_view, record_view
from server.api import access_levels, place_labels
from server.api_params import SEARCH_PARAMETERS, parse_search
from server.errors import N_, NotFound
from server.i18n import localized
from server.jsonld import record_jsonld, script_tag
from server.models import RECORD_KINDS, Record
from server.qr import qr_svg
from server.records import RecordBundle, load_bundle, visible
from server.samples import is_sample
from server.search import FACETS, search
from server.state import get_museum
from server.urls import public_base
from server.vocab import DESIGNATIONS, DIGITIZATION_STATUSES, DIGITIZED, KINDS, MEDIA_FACETS

KIND_LABELS = {
    "di_san_phi_vat_the": N_("Intangible cultural heritage"),
    "di_tich": N_("Relic sites"),
    "hien_vat": N_("Artefacts"),
    "di_san_tu_lieu": N_("Documentary heritage"),
}
FACET_TITLES = {
    "kind": N_("Kind of heritage"),
    "designation": N_("Ranking or listing"),
    "ethnic_group": N_("Communities"),
    "place": N_("Place"),
    "material": N_("Material"),
    "period": N_("Period"),
    "media": N_("Media"),
    "digitization": N_("Digitization"),
}
FACET_VALUE_LABELS = {
    "kind": KINDS,
    "designation": DESIGNATIONS,
    "digitization": DIGITIZATION_STATUSES,
    "media": MEDIA_FACETS,
}
SEARCH_PAGE_SIZE = 20
SITEMAP_CACHE = "public, max-age=3600"


@dataclass(frozen=True)
class ItemCard:
    id: str
    title: str
    other_title: str
    category: str
    ranking: str
    digitized: bool
    status_label: str
    search_text: str


def _card(record: Record, lang: str) -> ItemCard:
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
        digitized=record.digitization_status in DIGITIZED,
        status_label=DIGITIZATION_STATUSES.get(
            record.digitization_status, record.digitization_status
        ),
        search_text=search_text,
    )


async def home(request: Request) -> Response:
    """Featured exhibitions, the kinds of heritage, digitization so far, then the collection
    grouped by the plan's four kinds of heritage."""
    museum = get_museum(request)
    lang = request.state.lang
    levels = access_levels(request)

    def load(session: Session) -> dict[str, Any]:
        # The province's heritage only: sample media have their own exhibition.
        query = visible(select(Record), levels).where(~is_sample())
        records = session.scalars(query.order_by(Record.id)).all()
        groups: dict[str, list[ItemCard]] = {kind: [] for kind in RECORD_KINDS}
        for record in records:
            groups.setdefault(record.kind, []).append(_card(record, lang))
        return {
            "groups": [(kind, cards) for kind, cards in groups.items() if cards],
            "exhibitions": home_view.featured_exhibitions(session, levels, lang),
            "kinds": home_view.kind_counts(session, levels),
            "digitization": home_view.digitization_so_far(session, lang),
        }

    blocks = await museum.db.run(load)
    return museum.templates.TemplateResponse(
        request,
        "home.html",
        {
            **blocks,
            "kind_labels": KIND_LABELS,
            "total": sum(len(items) for _, items in blocks["groups"]),
        },
    )


async def item(request: Request) -> Response:
    """One heritage record, with its sources, a QR code and structured data for search engines."""
    museum = get_museum(request)
    record_id = request.path_params["record_id"]
    lang = request.state.lang
    base = public_base(request)

    def load(session: Session) -> tuple[RecordBundle, dict[str, Any]] | None:
        found = load_bundle(session, record_id, access_levels(request))
        return None if found is None else (found, record_view.extras(session, found, lang, base))

    loaded = await museum.db.run(load)
    if loaded is None:
        raise NotFound(
            N_("No heritage item with id {record_id}."), parameter="record_id", record_id=record_id
        )
    bundle, extras = loaded
    record = bundle.record
    description_lang = lang if lang in record.description else next(iter(record.description), lang)
    # The museum label staff accepted (server.review_actions), in the page's language only.
    labels = (record.extra or {}).get("label")
    museum_label = labels.get(lang, "") if isinstance(labels, dict) else ""
    return museum.templates.TemplateResponse(
        request,
        "item.html",
        {
            "record": record,
            "title": localized(record.title, lang),
            "other_title": record.title.get("en" if lang == "vi" else "vi", ""),
            "kind_label": KINDS.get(record.kind, record.kind),
            "designation_label": DESIGNATIONS.get(record.designation, ""),
            "status_label": DIGITIZATION_STATUSES.get(record.digitization_status, ""),
            "digitized": record.digitization_status in DIGITIZED,
            "description": record.description.get(description_lang, ""),
            "description_lang": description_lang,
            "museum_label": museum_label,
            "places": [(localized(link.place.name, lang), link) for link in bundle.places],
            "jsonld": script_tag(record_jsonld(bundle, base, lang)),
            "page_url": f"{base}/items/{record.id}",
            "players": av_view.players(bundle.assets, lang, museum.store.derivatives),
            "guide": av_view.guide_for(bundle.assets, lang),
            "models": model_view.viewers(bundle.assets, lang),
            "images": image_view.viewers(bundle.assets, lang),
            **extras,
        },
    )


async def item_qr(request: Request) -> Response:
    """A QR code (SVG) of the record's public address, for printed labels and kiosks."""
    museum = get_museum(request)
    record_id = request.path_params["record_id"]
    found = await museum.db.run(
        lambda session: session.scalars(
            visible(select(Record.id).where(Record.id == record_id), access_levels(request))
        ).first()
    )
    if found is None:
        raise NotFound(
            N_("No heritage item with id {record_id}."), parameter="record_id", record_id=record_id
        )
    svg = await anyio.to_thread.run_sync(qr_svg, f"{public_base(request)}/items/{record_id}")
    return Response(
        svg, media_type="image/svg+xml", headers={"cache-control": "public, max-age=86400"}
    )


@dataclass(frozen=True)
class FacetLink:
    value: str
    label: str
    count: int
    selected: bool
    query: str


async def search_page(request: Request) -> Response:
    """Search with facets as plain links: works without script, on any device; the
    search-suggest island adds results while typing, from the JSON API."""
    museum = get_museum(request)
    lang = request.state.lang
    gettext = museum.translations(lang).gettext
    params = request.query_params
    parsed, _ = parse_search(params, access_levels(request), SEARCH_PARAMETERS | {"page"})
    page_number = _page_number(params.get("page", "1"))
    query = replace(parsed, offset=(page_number - 1) * SEARCH_PAGE_SIZE, limit=SEARCH_PAGE_SIZE)

    def run(
        session: Session,
    ) -> tuple[list[ItemCard], int, dict[str, dict[str, int]], dict[str, str], str]:
        page = search(session, query)
        records = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(page.ids)))}
        cards = [_card(records[i], lang) for i in page.ids if i in records]
        places = place_labels(session, page.facets.get("place", {}), lang)
        total = f"{page.total}+" if not page.total_exact else str(page.total)
        return cards, page.total, page.facets, places, total

    cards, total, facets, place_names, total_label = await museum.db.run(run)
    facet_groups = [
        (
            FACET_TITLES[name],
            _facet_links(
                name, facets.get(name, {}), query.filters, query.text, gettext, place_names
            ),
        )
        for name in FACETS
        if facets.get(name)
    ]
    pages = max(1, -(-total // SEARCH_PAGE_SIZE))
    return museum.templates.TemplateResponse(
        request,
        "search.html",
        {
            "q": query.text,
            "cards": cards,
            "total": total,
            "total_label": total_label,
            "facet_groups": facet_groups,
            "page": page_number,
            "pages": pages,
            "page_query": _page_query(query.text, query.filters),
            # For the instant-results island, which names each result's kind.
            "kind_names": {code: gettext(label) for code, label in KINDS.items()},
        },
    )


def _page_number(raw: str) -> int:
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 500 else 1


def _page_query(text: str, filters: dict[str, tuple[str, ...]]) -> str:
    from urllib.parse import urlencode

    pairs = [("q", text)] if text else []
    pairs += [(name, value) for name, values in filters.items() for value in values]
    return urlencode(pairs)


def _facet_links(
    name: str,
    counts: dict[str, int],
    filters: dict[str, tuple[str, ...]],
    text: str,
    gettext: object,
    place_names: dict[str, str],
) -> list[FacetLink]:
    labels = FACET_VALUE_LABELS.get(name, {})
    links = []
    for value, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        chosen = set(filters.get(name, ()))
        selected = value in chosen
        toggled = chosen - {value} if selected else chosen | {value}
        new_filters = {**filters, name: tuple(sorted(toggled))}
        if name == "place":
            label = place_names.get(value, value)
        else:
            label = gettext(labels[value]) if value in labels else value  # type: ignore[operator]
        links.append(FacetLink(value, label, count, selected, _page_query(text, new_filters)))
    return links


async def sitemap(request: Request) -> Response:
    """Every public record page, for search engines; restricted and deleted ones never appear."""
    museum = get_museum(request)
    base = public_base(request)

    def run(session: Session) -> list[tuple[str, str]]:
        rows = session.execute(visible(select(Record.id, Record.updated_at)).order_by(Record.id))
        return [(record_id, updated.date().isoformat()) for record_id, updated in rows]

    entries = await museum.db.run(run)
    from xml.sax.saxutils import escape

    urls = "".join(
        f"<url><loc>{escape(base)}/items/{escape(record_id)}</loc><lastmod>{day}</lastmod></url>"
        for record_id, day in entries
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{escape(base)}/</loc></url>{urls}</urlset>'
    )
    return Response(body, media_type="application/xml", headers={"cache-control": SITEMAP_CACHE})


async def robots(request: Request) -> Response:
    body = f"User-agent: *\nDisallow: /admin/\nSitemap: {public_base(request)}/sitemap.xml\n"
    return Response(body, media_type="text/plain", headers={"cache-control": SITEMAP_CACHE})
