"""JSON API, version 1: search, records, collections, exhibitions, media, places, jobs.

Every GET answers with an ETag (304 when unchanged) and CORS ``*``; lists
page with opaque cursors. The OpenAPI document (server/openapi.py) describes
exactly these endpoints, and schemathesis checks that it does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.api_params import Cursor, encode_cursor, parse_list, parse_search
from server.errors import N_, NotFound
from server.jobs import read_job
from server.media_rights import rights_json
from server.models import (
    Collection,
    CollectionRecord,
    Exhibition,
    ExhibitionStop,
    Place,
    Record,
    RecordPlace,
)
from server.records import (
    asset_json,
    iso,
    load_bundle,
    place_json,
    record_json,
    visible,
    visible_asset,
)
from server.responses import cached_json
from server.search import search
from server.state import Museum, get_museum
from server.urls import public_base
from server.vocab import DESIGNATIONS, DIGITIZATION_STATUSES, KINDS, MEDIA_FACETS

_JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")
FACET_LABELS = {
    "kind": KINDS,
    "designation": DESIGNATIONS,
    "digitization": DIGITIZATION_STATUSES,
    "media": MEDIA_FACETS,
}


def access_levels(request: Request) -> tuple[str, ...]:
    """The access levels the requester's role may see (server.policy); visitors: public."""
    from server.auth import current_user
    from server.policy import access_levels_for, role_of

    return access_levels_for(role_of(current_user(request)))


def _gettext(request: Request) -> Callable[[str], str]:
    museum = get_museum(request)
    return museum.translations(request.state.lang).gettext


def record_summary(record: Record, base: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "title": record.title,
        "designation": record.designation,
        "digitization_status": record.digitization_status,
        "updated_at": iso(record.updated_at),
        "links": {
            "self": f"{base}/api/v1/records/{record.id}",
            "html": f"{base}/items/{record.id}",
        },
    }


def record_links(record_id: str, base: str) -> dict[str, str]:
    return {
        "self": f"{base}/api/v1/records/{record_id}",
        "html": f"{base}/items/{record_id}",
        "iiif_manifest": f"{base}/iiif/3/manifests/{record_id}",
        "qr": f"{base}/items/{record_id}/qr.svg",
    }


async def _run(request: Request, fn: Callable[[Session], Any]) -> Any:
    museum: Museum = get_museum(request)
    return await museum.db.run(fn)


# Search and records


async def search_records(request: Request) -> Response:
    """Ranked, diacritic-insensitive search with facets."""
    query, limit = parse_search(request.query_params, access_levels(request))
    base = public_base(request)
    gettext = _gettext(request)

    def run(session: Session) -> dict[str, Any]:
        page = search(session, query)
        records = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(page.ids)))}
        place_names = place_labels(session, page.facets.get("place", {}), request.state.lang)
        next_offset = query.offset + len(page.ids)
        return {
            "query": query.text,
            "total": page.total,
            "items": [record_summary(records[i], base) for i in page.ids if i in records],
            "facets": _facets_json(page.facets, gettext, place_names),
            "facets_complete": page.facets_complete,
            "total_exact": page.total_exact,
            "next_cursor": encode_cursor(Cursor(offset=next_offset))
            if next_offset < page.total
            else None,
            "limit": limit,
        }

    return cached_json(request, await _run(request, run))


def place_labels(session: Session, counts: dict[str, int], lang: str) -> dict[str, str]:
    from server.i18n import localized

    if not counts:
        return {}
    places = session.scalars(select(Place).where(Place.id.in_(list(counts))))
    return {p.id: localized(p.name, lang) for p in places}


def _facets_json(
    facets: dict[str, dict[str, int]], gettext: Callable[[str], str], place_names: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for facet, counts in facets.items():
        labels = FACET_LABELS.get(facet, {})
        entries = []
        for value, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            if facet == "place":
                label = place_names.get(value, value)
            else:
                label = gettext(labels[value]) if value in labels else value
            entries.append({"value": value, "count": count, "label": label})
        out[facet] = entries
    return out


async def list_records(request: Request) -> Response:
    """Every visible record, by id, a page at a time."""
    listing = parse_list(request.query_params)
    base = public_base(request)
    levels = access_levels(request)

    def run(session: Session) -> dict[str, Any]:
        statement = visible(select(Record), levels).order_by(Record.id).limit(listing.limit + 1)
        if listing.kinds:
            statement = statement.where(Record.kind.in_(listing.kinds))
        if listing.after:
            statement = statement.where(Record.id > listing.after)
        rows = session.scalars(statement).all()
        page = rows[: listing.limit]
        more = len(rows) > listing.limit
        return {
            "items": [record_summary(r, base) for r in page],
            "next_cursor": encode_cursor(Cursor(after=page[-1].id)) if more else None,
            "limit": listing.limit,
        }

    return cached_json(request, await _run(request, run))


async def record_detail(request: Request) -> Response:
    """One record with its places, people, collections and media."""
    record_id = request.path_params["record_id"]
    levels = access_levels(request)
    base = public_base(request)

    def run(session: Session) -> dict[str, Any] | None:
        bundle = load_bundle(session, record_id, levels)
        if bundle is None:
            return None
        data = record_json(bundle)
        data["links"] = record_links(record_id, base)
        for media in data["media"]:
            media["links"] = {"self": f"{base}/api/v1/media/{media['id']}"}
        return data

    data = await _run(request, run)
    if data is None:
        raise NotFound(
            N_("No heritage item with id {record_id}."), parameter="record_id", record_id=record_id
        )
    return cached_json(request, data)


# Collections, exhibitions, places, media


def _collection_summary(collection: Collection, count: int, base: str) -> dict[str, Any]:
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "record_count": count,
        "links": {
            "self": f"{base}/api/v1/collections/{collection.id}",
            "iiif_collection": f"{base}/iiif/3/collections/{collection.id}",
        },
    }


def _visible_member_counts(session: Session, levels: tuple[str, ...]) -> dict[str, int]:
    rows = session.execute(
        visible(
            select(CollectionRecord.collection_id, func.count())
            .join(Record, Record.id == CollectionRecord.record_id)
            .group_by(CollectionRecord.collection_id),
            levels,
        )
    )
    return {collection_id: int(count) for collection_id, count in rows}


async def list_collections(request: Request) -> Response:
    parse_list(request.query_params, {"lang"})
    levels = access_levels(request)
    base = public_base(request)

    def run(session: Session) -> dict[str, Any]:
        counts = _visible_member_counts(session, levels)
        collections = session.scalars(
            select(Collection).where(Collection.access_level.in_(levels)).order_by(Collection.id)
        )
        return {"items": [_collection_summary(c, counts.get(c.id, 0), base) for c in collections]}

    return cached_json(request, await _run(request, run))


async def collection_detail(request: Request) -> Response:
    collection_id = request.path_params["collection_id"]
    levels = access_levels(request)
    base = public_base(request)

    def run(session: Session) -> dict[str, Any] | None:
        collection = session.get(Collection, collection_id)
        if collection is None or collection.access_level not in levels:
            return None
        members = session.scalars(
            visible(
                select(Record)
                .join(CollectionRecord, CollectionRecord.record_id == Record.id)
                .where(CollectionRecord.collection_id == collection_id)
                .order_by(CollectionRecord.position, Record.id),
                levels,
            )
        ).all()
        data = _collection_summary(collection, len(members), base)
        data["records"] = [record_summary(r, base) for r in members]
        return data

    data = await _run(request, run)
    if data is None:
        raise NotFound(
            N_("No collection with id {id}."), parameter="collection_id", id=collection_id
        )
    return cached_json(request, data)


def _exhibition_summary(exhibition: Exhibition, base: str) -> dict[str, Any]:
    return {
        "id": exhibition.id,
        "title": exhibition.title,
        "summary": exhibition.summary,
        "links": {
            "self": f"{base}/api/v1/exhibitions/{exhibition.id}",
            "html": f"{base}/exhibitions/{exhibition.id}",
        },
    }


def _public_exhibitions(levels: tuple[str, ...]) -> Any:
    return select(Exhibition).where(
        Exhibition.published.is_(True), Exhibition.access_level.in_(levels)
    )


async def list_exhibitions(request: Request) -> Response:
    parse_list(request.query_params, {"lang"})
    levels = access_levels(request)
    base = public_base(request)

    def run(session: Session) -> dict[str, Any]:
        exhibitions = session.scalars(_public_exhibitions(levels).order_by(Exhibition.id))
        return {"items": [_exhibition_summary(e, base) for e in exhibitions]}

    return cached_json(request, await _run(request, run))


async def exhibition_detail(request: Request) -> Response:
    exhibition_id = request.path_params["exhibition_id"]
    levels = access_levels(request)
    base = public_base(request)

    def run(session: Session) -> dict[str, Any] | None:
        exhibition = session.scalars(
            _public_exhibitions(levels).where(Exhibition.id == exhibition_id)
        ).first()
        if exhibition is None:
            return None
        stops = session.scalars(
            select(ExhibitionStop)
            .where(ExhibitionStop.exhibition_id == exhibition_id)
            .order_by(ExhibitionStop.position)
        ).all()
        shown = set(
            session.scalars(
                visible(
                    select(Record.id).where(
                        Record.id.in_([s.record_id for s in stops if s.record_id])
                    ),
                    levels,
                )
            )
        )
        data = _exhibition_summary(exhibition, base)
        data["stops"] = [
            {
                "position": stop.position,
                "title": stop.title,
                "text": stop.text,
                "record_id": stop.record_id if stop.record_id in shown else None,
                "asset_id": stop.asset_id,
            }
            for stop in stops
            if stop.record_id is None or stop.record_id in shown
        ]
        return data

    data = await _run(request, run)
    if data is None:
        raise NotFound(
            N_("No exhibition with id {id}."), parameter="exhibition_id", id=exhibition_id
        )
    return cached_json(request, data)


async def list_places(request: Request) -> Response:
    parse_list(request.query_params, {"lang"})
    base = public_base(request)

    def run(session: Session) -> dict[str, Any]:
        places = session.scalars(select(Place).order_by(Place.id))
        return {
            "items": [
                {**place_json(p), "links": {"self": f"{base}/api/v1/places/{p.id}"}} for p in places
            ]
        }

    return cached_json(request, await _run(request, run))


async def place_detail(request: Request) -> Response:
    place_id = request.path_params["place_id"]
    levels = access_levels(request)
    base = public_base(request)

    def run(session: Session) -> dict[str, Any] | None:
        place = session.get(Place, place_id)
        if place is None:
            return None
        records = session.scalars(
            visible(
                select(Record)
                .join(RecordPlace, RecordPlace.record_id == Record.id)
                .where(RecordPlace.place_id == place_id)
                .order_by(Record.id)
                .distinct(),
                levels,
            )
        ).all()
        data = place_json(place)
        data["links"] = {"self": f"{base}/api/v1/places/{place.id}"}
        data["records"] = [record_summary(r, base) for r in records]
        return data

    data = await _run(request, run)
    if data is None:
        raise NotFound(N_("No place with id {id}."), parameter="place_id", id=place_id)
    return cached_json(request, data)


async def media_detail(request: Request) -> Response:
    """One media asset of a visible record, with the addresses of its derivatives."""
    asset_id = request.path_params["asset_id"]
    levels = access_levels(request)
    base = public_base(request)

    def run(session: Session) -> dict[str, Any] | None:
        asset = visible_asset(session, asset_id, levels)
        if asset is None:
            return None
        data = asset_json(asset)
        data["record_id"] = asset.record_id
        version = asset.published_version
        data["links"] = {
            "self": f"{base}/api/v1/media/{asset.id}",
            "record": f"{base}/api/v1/records/{asset.record_id}",
            "derivatives": f"{base}/media/{asset.id}/{version}/" if version else None,
        }
        data["rights"] = rights_json(asset, session.get(Record, asset.record_id), base)
        return data

    data = await _run(request, run)
    if data is None:
        raise NotFound(N_("No media with id {id}."), parameter="asset_id", id=asset_id)
    return cached_json(request, data)


# Jobs


async def job_detail(request: Request) -> Response:
    """A job's state, progress (0–100), message, attempts and timestamps."""
    job_id = request.path_params["job_id"]
    if not _JOB_ID_RE.match(job_id):
        raise NotFound(N_("No job with id {job_id}."), parameter="job_id", job_id=job_id)
    job = await _run(request, lambda session: read_job(session, job_id))
    return cached_json(request, job, cache_control="no-store")
