"""The map page: heritage places of the catalog on an outline of Đắk Lắk province.

The page lists every place of a public record (with coordinates or without), so it is
useful without script; the map island (viewer/src/map.js, Leaflet) draws the outline and
one marker per listed place from that same list. The outline is a file of the project
(``assets/dak-lak-province.geojson``, Natural Earth, public domain), served from here, so
by default nothing is fetched from another host. ``MUSEUM_MAP_TILE_URL`` adds a tile layer;
the page's Content-Security-Policy then admits that one tile host for images.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.api import access_levels
from server.errors import N_, NotFound
from server.i18n import localized
from server.middleware import CONTENT_SECURITY_POLICY
from server.models import Place, Record, RecordPlace
from server.records import visible
from server.responses import etag_for, if_none_match
from server.search import fold
from server.state import get_museum

OUTLINE_FILE = Path(__file__).resolve().parent.parent / "assets" / "dak-lak-province.geojson"
OUTLINE_TYPE = "application/geo+json"
OUTLINE_CACHE = "public, max-age=86400"
# A place takes the category of the most telling heritage linked to it.
CATEGORY_BY_KIND = (("di_tich", "relic_site"), ("di_san_phi_vat_the", "community"))
OTHER_CATEGORY = "place"
CATEGORY_LABELS = {
    "relic_site": N_("Relic site"),
    "community": N_("Community"),
    "place": N_("Other heritage place"),
}


@dataclass(frozen=True)
class MapRecord:
    id: str
    title: str


@dataclass
class MapPlace:
    """One place of the map page's list, with the public records linked to it."""

    id: str
    name: str
    latitude: float | None
    longitude: float | None
    kinds: set[str] = field(default_factory=set)
    records: list[MapRecord] = field(default_factory=list)

    @property
    def category(self) -> str:
        return next((c for kind, c in CATEGORY_BY_KIND if kind in self.kinds), OTHER_CATEGORY)

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def heritage_places(session: Session, levels: Sequence[str], lang: str) -> list[MapPlace]:
    """Places linked to at least one record the visitor may see, sorted by name.

    A place known only from restricted records is left out: its location is itself
    something the community has not agreed to publish.
    """
    rows = session.execute(
        visible(
            select(Place, Record)
            .join(RecordPlace, RecordPlace.place_id == Place.id)
            .join(Record, Record.id == RecordPlace.record_id)
            .order_by(Place.id, Record.id),
            levels,
        )
    ).all()
    places: dict[str, MapPlace] = {}
    for place, record in rows:
        entry = places.setdefault(
            place.id,
            MapPlace(place.id, localized(place.name, lang), place.latitude, place.longitude),
        )
        entry.kinds.add(record.kind)
        # Rows come by place, then record: a record linked in two roles is adjacent.
        if not entry.records or entry.records[-1].id != record.id:
            entry.records.append(MapRecord(record.id, localized(record.title, lang)))
    return sorted(places.values(), key=lambda p: (fold(p.name), p.id))


def tile_source(url: str) -> str:
    """The CSP source of a tile address template: its origin, ``{s}`` subdomains as ``*``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def with_image_source(policy: str, source: str) -> str:
    """The Content-Security-Policy with one more allowed image source."""
    directives = [d.strip() for d in policy.split(";")]
    widened = [f"{d} {source}" if d.startswith("img-src ") else d for d in directives]
    return "; ".join(widened)


async def map_page(request: Request) -> Response:
    """Heritage places on the province outline, and the same places as a list."""
    museum = get_museum(request)
    lang = request.state.lang
    levels = access_levels(request)
    places = await museum.db.run(lambda session: heritage_places(session, levels, lang))
    settings = museum.settings
    headers = {}
    if settings.map_tile_url:
        source = tile_source(settings.map_tile_url)
        headers["content-security-policy"] = with_image_source(CONTENT_SECURITY_POLICY, source)
    return museum.templates.TemplateResponse(
        request,
        "map.html",
        {
            "located": [p for p in places if p.located],
            "unlocated": [p for p in places if not p.located],
            "category_labels": CATEGORY_LABELS,
            "tile_url": settings.map_tile_url,
            "tile_attribution": settings.map_tile_attribution,
        },
        headers=headers,
    )


@functools.cache
def _outline() -> bytes:
    return OUTLINE_FILE.read_bytes()


async def province_outline(request: Request) -> Response:
    """The outline of Đắk Lắk province (GeoJSON) the maps draw; cached for a day."""
    try:
        body = await anyio.to_thread.run_sync(_outline)
    except FileNotFoundError as exc:
        raise NotFound(N_("There is nothing at this address.")) from exc
    etag = etag_for(body)
    headers = {"etag": etag, "cache-control": OUTLINE_CACHE}
    if if_none_match(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=OUTLINE_TYPE, headers=headers)
