"""Reading records for the public surfaces, with access levels applied in one place.

Every surface (pages, JSON API, search, IIIF, OAI-PMH, exports, sitemaps)
goes through :func:`visible` or :func:`load_bundle`, so a restricted or deleted
record can never leak through one of them by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.models import (
    Agent,
    Asset,
    Collection,
    CollectionRecord,
    Place,
    Record,
    RecordAgent,
    RecordPlace,
)
from server.search import split_list
from server.visibility import record_shown
from server.vocab import PUBLIC_ACCESS

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


def visible(statement: S, access_levels: Sequence[str] = PUBLIC_ACCESS) -> S:
    """Restrict a ``select(Record ...)`` to records the requester may see."""
    return statement.where(record_shown(access_levels))


def visible_asset(
    session: Session, asset_id: str, access_levels: Sequence[str] = PUBLIC_ACCESS
) -> Asset | None:
    """The asset when the requester may see it: its own access and its record's allow it."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.access_level not in access_levels or asset.record_id is None:
        return None
    owner = session.scalars(
        visible(select(Record.id).where(Record.id == asset.record_id), access_levels)
    ).first()
    return asset if owner is not None else None


@dataclass(frozen=True)
class PlaceLink:
    place: Place
    role: str


@dataclass(frozen=True)
class AgentLink:
    agent: Agent
    role: str


@dataclass(frozen=True)
class RecordBundle:
    """A record with everything its public representations need."""

    record: Record
    assets: list[Asset]
    places: list[PlaceLink]
    agents: list[AgentLink]
    collections: list[Collection]


def load_bundle(
    session: Session, record_id: str, access_levels: Sequence[str] = PUBLIC_ACCESS
) -> RecordBundle | None:
    record = session.scalars(
        visible(select(Record).where(Record.id == record_id), access_levels)
    ).first()
    if record is None:
        return None
    return bundle_for(session, record, access_levels)


def bundle_for(
    session: Session, record: Record, access_levels: Sequence[str] = PUBLIC_ACCESS
) -> RecordBundle:
    assets = session.scalars(
        select(Asset)
        .where(Asset.record_id == record.id, Asset.access_level.in_(tuple(access_levels)))
        .order_by(Asset.position, Asset.created_at, Asset.id)
    ).all()
    places = session.execute(
        select(Place, RecordPlace.role)
        .join(RecordPlace, RecordPlace.place_id == Place.id)
        .where(RecordPlace.record_id == record.id)
        .order_by(Place.id)
    ).all()
    agents = session.execute(
        select(Agent, RecordAgent.role)
        .join(RecordAgent, RecordAgent.agent_id == Agent.id)
        .where(RecordAgent.record_id == record.id)
        .order_by(Agent.id)
    ).all()
    collections = session.scalars(
        select(Collection)
        .join(CollectionRecord, CollectionRecord.collection_id == Collection.id)
        .where(
            CollectionRecord.record_id == record.id,
            Collection.access_level.in_(tuple(access_levels)),
        )
        .order_by(Collection.id)
    ).all()
    return RecordBundle(
        record=record,
        assets=list(assets),
        places=[PlaceLink(p, role) for p, role in places],
        agents=[AgentLink(a, role) for a, role in agents],
        collections=list(collections),
    )


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def place_json(place: Place, role: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": place.id,
        "name": place.name,
        "kind": place.kind,
        "commune_current": place.commune_current,
        "province_current": place.province_current,
        "district_historical": place.district_historical,
        "province_historical": place.province_historical,
        "latitude": place.latitude,
        "longitude": place.longitude,
    }
    if role is not None:
        out["role"] = role
    return out


def asset_json(asset: Asset) -> dict[str, Any]:
    return {
        "id": asset.id,
        "kind": asset.kind,
        "role": asset.role,
        "media_type": asset.media_type,
        "label": asset.label,
        "technical": asset.technical,
        "published": asset.published_version is not None,
        "sha256": asset.sha256,
        "size": asset.size,
    }


def record_json(bundle: RecordBundle) -> dict[str, Any]:
    """The canonical JSON form of a record (API, JSON export); plain data, no URLs."""
    r = bundle.record
    return {
        "id": r.id,
        "kind": r.kind,
        "title": r.title,
        "alt_titles": r.alt_titles,
        "description": r.description,
        "significance": r.significance,
        "category": r.category,
        "subtype": r.subtype,
        "designation": r.designation,
        "ranking": r.ranking,
        "ranking_year": r.ranking_year,
        "decisions": r.decisions,
        "registration_number": r.registration_number,
        "materials": r.materials,
        "techniques": r.techniques,
        "dimensions": r.dimensions,
        "dating": r.dating,
        "date_earliest": r.date_earliest,
        "date_latest": r.date_latest,
        "period": r.period,
        "condition": r.condition,
        "provenance": r.provenance,
        "ethnic_groups": split_list(r.ethnic_groups),
        "location": {"current": r.location_current, "historical": r.location_historical},
        "places": [place_json(link.place, link.role) for link in bundle.places],
        "agents": [
            {
                "id": link.agent.id,
                "name": link.agent.name,
                "kind": link.agent.kind,
                "role": link.role,
            }
            for link in bundle.agents
        ],
        "collections": [c.id for c in bundle.collections],
        "media": [asset_json(a) for a in bundle.assets],
        "rights": r.rights,
        "rights_holder": r.rights_holder,
        "credit_line": r.credit_line,
        "access_level": r.access_level,
        "digitization": {
            "status": r.digitization_status,
            "priority": r.digitization_priority,
            "published_at": iso(r.published_at),
        },
        "sources": r.sources,
        "needs_verify": r.needs_verify,
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
    }
