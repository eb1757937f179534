"""IIIF Presentation API 3.0 endpoints: one Manifest per heritage record, Collections of Manifests.

The pure builders live in :mod:`server.iiif_manifest`; here the request's
parameters are parsed, the records are loaded inside ``museum.db.run`` and the
two endpoints only parse, load and answer. ``docs/iiif.md`` says what a
harvester gets and why (no Manifest without media, the 3D draft flag).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.errors import N_, BadRequest, NotFound
from server.iiif_manifest import (
    ALL_COLLECTION,
    COLLECTION_PREFIX,
    CONTEXT,
    DISPLAY_KINDS,
    EXHIBITION_PREFIX,
    IMAGE_KINDS,
    PLAIN_JSON,
    CollectionSource,
    ManifestEntry,
    Translate,
    bilingual,
    build_collection,
    build_manifest,
    displayable,
    language_map,
    none_map,
)
from server.models import Asset, Collection, CollectionRecord, Exhibition, ExhibitionStop, Record
from server.records import load_bundle, visible
from server.responses import cached_json
from server.state import get_museum
from server.urls import public_base
from server.vocab import PUBLIC_ACCESS

LD_JSON = f'application/ld+json;profile="{CONTEXT}"'
CACHE_CONTROL = "public, max-age=300"
CORS_HEADERS = {"access-control-allow-origin": "*", "vary": "Accept"}

ALL_LABEL = N_("Heritage of Đắk Lắk")
ALL_SUMMARY = N_("Every public heritage item of the museum that has digitized media.")

DRAFT3D_PARAMETER = "draft3d"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


# Parameters


@dataclass(frozen=True)
class CollectionKey:
    """A parsed collection id: ``all``, ``collection-<id>`` or ``exhibition-<id>``."""

    kind: str
    key: str


def parse_collection_id(value: str) -> CollectionKey:
    """Split a collection id into its kind and key; anything else is a 404 naming the parameter."""
    if value == ALL_COLLECTION:
        return CollectionKey(ALL_COLLECTION, "")
    for prefix in (COLLECTION_PREFIX, EXHIBITION_PREFIX):
        if value.startswith(prefix) and len(value) > len(prefix):
            return CollectionKey(prefix.rstrip("-"), value.removeprefix(prefix))
    raise NotFound(
        N_(
            "No IIIF collection {collection_id}. Collections are all, "
            "collection-<id> and exhibition-<id>."
        ),
        parameter="collection_id",
        collection_id=value,
    )


def parse_draft3d(value: str | None) -> bool:
    """``?draft3d=1`` turns on draft 3D Scenes; absent or 0 leaves them out."""
    lowered = (value or "").strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadRequest(
        N_("The draft3d parameter takes 1 or 0, not {value!r}."),
        parameter=DRAFT3D_PARAMETER,
        value=value,
    )


# Loading


def manifest_entries(
    session: Session, record_ids: Sequence[str] | None
) -> dict[str, ManifestEntry]:
    """Visible records (all, or those named) that have a Manifest, keyed by id, in id order."""
    statement = visible(
        select(Record, Asset)
        .join(Asset, Asset.record_id == Record.id)
        .where(
            Asset.published_version.is_not(None),
            Asset.access_level.in_(PUBLIC_ACCESS),
            Asset.kind.in_(sorted(DISPLAY_KINDS)),
        )
    ).order_by(Record.id, Asset.position, Asset.created_at, Asset.id)
    if record_ids is not None:
        statement = statement.where(Record.id.in_(list(record_ids)))
    entries: dict[str, ManifestEntry] = {}
    for record, asset in session.execute(statement):
        if not displayable(asset):
            continue
        entry = entries.get(record.id)
        thumb = asset.id if asset.kind in IMAGE_KINDS else None
        if entry is None or (entry.thumbnail_asset is None and thumb):
            entries[record.id] = ManifestEntry(record.id, record.title, thumb)
    return entries


def _in_order(
    record_ids: Iterable[str], entries: Mapping[str, ManifestEntry]
) -> list[ManifestEntry]:
    ordered = dict.fromkeys(r for r in record_ids if r in entries)
    return [entries[r] for r in ordered]


def _catalog_collection(session: Session, key: str) -> CollectionSource | None:
    found = session.scalars(
        select(Collection).where(Collection.id == key, Collection.access_level.in_(PUBLIC_ACCESS))
    ).first()
    if found is None:
        return None
    order = session.scalars(
        select(CollectionRecord.record_id)
        .where(CollectionRecord.collection_id == key)
        .order_by(CollectionRecord.position, CollectionRecord.record_id)
    ).all()
    entries = _in_order(order, manifest_entries(session, order))
    title = language_map(found.title) or none_map(found.id)
    return CollectionSource(
        COLLECTION_PREFIX + key, title, language_map(found.description), entries
    )


def _exhibition(session: Session, key: str) -> CollectionSource | None:
    found = session.scalars(
        select(Exhibition).where(
            Exhibition.id == key,
            Exhibition.published.is_(True),
            Exhibition.access_level.in_(PUBLIC_ACCESS),
        )
    ).first()
    if found is None:
        return None
    stops = session.scalars(
        select(ExhibitionStop.record_id)
        .where(ExhibitionStop.exhibition_id == key, ExhibitionStop.record_id.is_not(None))
        .order_by(ExhibitionStop.position)
    ).all()
    order = [r for r in stops if r is not None]
    entries = _in_order(order, manifest_entries(session, order))
    title = language_map(found.title) or none_map(found.id)
    return CollectionSource(EXHIBITION_PREFIX + key, title, language_map(found.summary), entries)


def load_collection(session: Session, key: CollectionKey, vi: Translate) -> CollectionSource | None:
    """The source of a Collection, or None when it does not exist or is not public."""
    if key.kind == ALL_COLLECTION:
        entries = list(manifest_entries(session, None).values())
        return CollectionSource(
            ALL_COLLECTION, bilingual(ALL_LABEL, vi), bilingual(ALL_SUMMARY, vi), entries
        )
    loader = _catalog_collection if key.kind == COLLECTION_PREFIX.rstrip("-") else _exhibition
    return loader(session, key.key)


# Endpoints


def negotiate_media_type(accept: str | None) -> str:
    """JSON-LD with the IIIF profile, unless the client asks for plain JSON only (spec §6.3)."""
    value = (accept or "").lower()
    if "application/json" in value and "application/ld+json" not in value:
        return PLAIN_JSON
    return LD_JSON


def _answer(request: Request, document: dict[str, Any]) -> Response:
    return cached_json(
        request,
        document,
        media_type=negotiate_media_type(request.headers.get("accept")),
        cache_control=CACHE_CONTROL,
        headers=CORS_HEADERS,
    )


async def manifest(request: Request) -> Response:
    """The Manifest of a public record with published media (``?draft3d=1``: with 3D Scenes)."""
    museum = get_museum(request)
    record_id = request.path_params["record_id"]
    # Draft IIIF 3D Scenes: for the whole site (MUSEUM_IIIF_DRAFT_3D) or one request (?draft3d=1).
    asked = parse_draft3d(request.query_params.get(DRAFT3D_PARAMETER))
    include_3d = asked or museum.settings.iiif_draft_3d
    base = public_base(request)
    vi = museum.translations("vi").gettext

    def build(session: Session) -> dict[str, Any] | None:
        bundle = load_bundle(session, record_id, PUBLIC_ACCESS)
        return None if bundle is None else build_manifest(bundle, base, vi, include_3d=include_3d)

    document = await museum.db.run(build)
    if document is None:
        raise NotFound(
            N_("No heritage item with id {record_id}."), parameter="record_id", record_id=record_id
        )
    return _answer(request, document)


async def collection(request: Request) -> Response:
    """``all``, a public catalog collection or a published exhibition, as a Collection."""
    museum = get_museum(request)
    collection_id = request.path_params["collection_id"]
    key = parse_collection_id(collection_id)
    base = public_base(request)
    vi = museum.translations("vi").gettext

    def build(session: Session) -> dict[str, Any] | None:
        source = load_collection(session, key, vi)
        return None if source is None else build_collection(source, base, vi)

    document = await museum.db.run(build)
    if document is None:
        raise NotFound(
            N_("No public collection or exhibition {collection_id}."),
            parameter="collection_id",
            collection_id=collection_id,
        )
    return _answer(request, document)
