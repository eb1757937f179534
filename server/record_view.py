"""The rest of a record page: related items, its places on a small map, how to cite it,
licence and attribution.

Everything here is read in the item page's database session. Related items are public
records only, whatever the visitor may see: the block is a suggestion list, and a
restricted record (a sacred rite awaiting community sign-off) must never be suggested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.contributions import community_stories
from server.errors import N_
from server.exports import CATALOG_LICENCE
from server.i18n import localized
from server.media_rights import media_rights, own_licence, rights_by_asset
from server.models import Asset, CollectionRecord, Record, RecordFacet, RecordPlace
from server.records import RecordBundle, visible
from server.report import format_day, today_in_vietnam
from server.rights import Rights, describe_rights
from server.search import split_list
from server.vocab import DIGITIZED, GUIDE_ROLE, KINDS, PUBLIC_ACCESS

RELATED_LIMIT = 4
CANDIDATE_LIMIT = 200  # per kind of link: enough to rank, bounded in a large catalog
# What a shared link is worth when ranking related items: a place or a collection says
# more than a community, which says more than only being the same kind of heritage.
PLACE_WEIGHT = 3
COLLECTION_WEIGHT = 3
COMMUNITY_WEIGHT = 2
KIND_WEIGHT = 1
DEFAULT_HOLDER = N_("Đắk Lắk Department of Culture, Sports and Tourism")


@dataclass(frozen=True)
class RelatedItem:
    id: str
    title: str
    kind_label: str  # English message id
    reason: str  # English message id: the strongest link it shares with the record
    digitized: bool


@dataclass(frozen=True)
class MapPlace:
    """A place of the record; ``latitude``/``longitude`` None: shown by name only."""

    id: str
    name: str
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class MediaCredit:
    """A media file's own attribution, where it differs from the record's."""

    label: str
    attribution: str
    rights: Rights | None


@dataclass
class _Candidates:
    """Record id → score, and the strongest link each shares with the record."""

    scores: Counter[str]
    reasons: dict[str, tuple[int, str]]

    def add(self, ids: Iterable[str], weight: int, reason: str) -> None:
        for record_id in set(ids):
            self.scores[record_id] += weight
            if weight > self.reasons.get(record_id, (0, ""))[0]:
                self.reasons[record_id] = (weight, reason)


def _public_ids(session: Session, column: Any, join_on: Any, condition: Any) -> list[str]:
    """Up to CANDIDATE_LIMIT public record ids linked through ``column``."""
    statement = select(column).join(Record, join_on).where(condition).distinct().order_by(column)
    return list(session.scalars(visible(statement, PUBLIC_ACCESS).limit(CANDIDATE_LIMIT)))


def _candidates(session: Session, bundle: RecordBundle) -> _Candidates:
    """Public records sharing a place, a collection or a community with the record."""
    found = _Candidates(Counter(), {})
    place_ids = [link.place.id for link in bundle.places]
    if place_ids:
        ids = _public_ids(
            session,
            RecordPlace.record_id,
            Record.id == RecordPlace.record_id,
            RecordPlace.place_id.in_(place_ids),
        )
        found.add(ids, PLACE_WEIGHT, N_("Same place"))
    collection_ids = [c.id for c in bundle.collections]
    if collection_ids:
        ids = _public_ids(
            session,
            CollectionRecord.record_id,
            Record.id == CollectionRecord.record_id,
            CollectionRecord.collection_id.in_(collection_ids),
        )
        found.add(ids, COLLECTION_WEIGHT, N_("Same collection"))
    groups = split_list(bundle.record.ethnic_groups)
    if groups:
        ids = _public_ids(
            session,
            RecordFacet.record_id,
            Record.id == RecordFacet.record_id,
            (RecordFacet.facet == "ethnic_group") & RecordFacet.value.in_(groups),
        )
        found.add(ids, COMMUNITY_WEIGHT, N_("Same community"))
    found.scores.pop(bundle.record.id, None)
    return found


def _related(record: Record, reason: str, lang: str) -> RelatedItem:
    return RelatedItem(
        id=record.id,
        title=localized(record.title, lang),
        kind_label=KINDS.get(record.kind, record.kind),
        reason=reason,
        digitized=record.digitization_status in DIGITIZED,
    )


def related_items(session: Session, bundle: RecordBundle, lang: str) -> list[RelatedItem]:
    """A few public records sharing places, collections, communities or the kind.

    The candidates of each link are capped, and records that share only the kind are read
    just to fill the list: a record page stays a handful of small queries in a catalog of
    millions.
    """
    record = bundle.record
    found = _candidates(session, bundle)
    candidates = session.scalars(
        visible(select(Record).where(Record.id.in_(list(found.scores))), PUBLIC_ACCESS)
    ).all()
    same_kind = N_("Same kind of heritage")
    found.add((r.id for r in candidates if r.kind == record.kind), KIND_WEIGHT, same_kind)
    ranked = sorted(candidates, key=lambda r: (-found.scores[r.id], r.id))[:RELATED_LIMIT]
    related = [_related(r, found.reasons[r.id][1], lang) for r in ranked]
    if len(related) < RELATED_LIMIT:
        taken = [record.id, *(r.id for r in ranked)]
        more = session.scalars(
            visible(select(Record), PUBLIC_ACCESS)
            .where(Record.kind == record.kind, Record.id.not_in(taken))
            .order_by(Record.id)
            .limit(RELATED_LIMIT - len(related))
        )
        related += [_related(r, same_kind, lang) for r in more]
    return related


def map_places(bundle: RecordBundle, lang: str) -> list[MapPlace]:
    """The record's places, each once (a place can be linked in several roles)."""
    seen: dict[str, MapPlace] = {}
    for link in bundle.places:
        place = link.place
        if place.id not in seen:
            located = place.latitude is not None and place.longitude is not None
            seen[place.id] = MapPlace(
                id=place.id,
                name=localized(place.name, lang),
                latitude=place.latitude if located else None,
                longitude=place.longitude if located else None,
            )
    return list(seen.values())


def media_credits(
    assets: Iterable[Asset], lang: str, record: Record | None = None
) -> list[MediaCredit]:
    """Published media with their own attribution or licence (``server.media_rights``):
    a file made by someone other than the record's rights holder (a visitor's photograph, a
    partner's recording). The record's own rights cover every other file. (The demo's
    sample media are one record per file, with the file's licence on the record.)
    """
    credits = []
    for asset in assets:
        if asset.published_version is None or asset.role == GUIDE_ROLE:
            continue
        rights = media_rights(asset, record, lang)
        if rights.own:
            label = localized(asset.label, lang) or asset.filename
            own = describe_rights(own_licence(asset)) if own_licence(asset) else None
            credits.append(MediaCredit(label, rights.attribution, own))
    return credits


def extras(session: Session, bundle: RecordBundle, lang: str, base: str) -> dict[str, Any]:
    """Context for ``_record_more.html``, read in the page's database session."""
    record = bundle.record
    places = map_places(bundle, lang)
    return {
        "related": related_items(session, bundle, lang),
        "located_places": [p for p in places if p.latitude is not None],
        "unlocated_places": [p for p in places if p.latitude is None],
        "citation": {
            "title": localized(record.title, lang),
            "identifier": record.id,
            "url": f"{base}/items/{record.id}",
            "accessed": format_day(today_in_vietnam(), lang),
        },
        "rights": describe_rights(record.rights) if record.rights.strip() else None,
        "rights_holder": record.rights_holder.strip(),
        "credit_line": localized(record.credit_line, lang),
        "default_holder": DEFAULT_HOLDER,
        "catalog_licence": CATALOG_LICENCE,
        "media_credits": media_credits(bundle.assets, lang, record),
        "media_rights": rights_by_asset(bundle.assets, record, lang),
        "community_stories": community_stories(record),
    }
