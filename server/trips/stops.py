"""An exhibition's stops as a field trip shows them, with the media viewers of each stop.

A trip shows what a visitor without an account sees (pupils have none): the published,
public exhibition and its stops whose records are public, numbered as on the exhibition
page. Each stop carries the same viewer data as a record page (3D model, deep zoom, player),
so the trip pages reuse ``_model.html``, ``_images.html`` and ``_av.html`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import av_view, image_view, model_view
from server.exhibition_pages import (
    ExhibitionView,
    Stop,
    load_view,
    published_exhibitions,
    stop_assets,  # the exhibition page's own choice of each stop's media
    visible_records,
)
from server.media_rights import MediaRights, media_rights
from server.models import Asset, ExhibitionStop, Record
from server.search import fold
from server.vocab import PUBLIC_ACCESS

Gettext = Callable[[str], str]


@dataclass(frozen=True)
class TripStop:
    index: int  # 0-based, as the protocol counts
    stop: Stop
    asset_id: str | None
    models: list[model_view.ModelViewer] = field(default_factory=list)
    images: list[image_view.ImageViewer] = field(default_factory=list)
    players: list[av_view.Player] = field(default_factory=list)


@dataclass(frozen=True)
class TripExhibition:
    view: ExhibitionView
    stops: list[TripStop]
    rights: dict[str, MediaRights]


def public_exhibitions(session: Session, lang: str, gettext: Gettext) -> list[ExhibitionView]:
    """Every exhibition a class can visit (public, published, with stops), by title."""
    ids = [e.id for e in session.scalars(published_exhibitions(PUBLIC_ACCESS))]
    views = [load_view(session, i, PUBLIC_ACCESS, lang, gettext) for i in ids]
    found = [view for view in views if view is not None and view.stops]
    return sorted(found, key=lambda view: (fold(view.title.text), view.id))


def stop_count(session: Session, exhibition_id: str, gettext: Gettext) -> int | None:
    """How many stops a pupil sees; None when the exhibition is not public."""
    view = load_view(session, exhibition_id, PUBLIC_ACCESS, "vi", gettext)
    return None if view is None else len(view.stops)


def load_trip_exhibition(
    session: Session, exhibition_id: str, lang: str, gettext: Gettext, derivatives: Path
) -> TripExhibition | None:
    view = load_view(session, exhibition_id, PUBLIC_ACCESS, lang, gettext)
    if view is None:
        return None
    # The same rows, in the same order, as load_view numbered them.
    rows = session.scalars(
        select(ExhibitionStop)
        .where(ExhibitionStop.exhibition_id == exhibition_id)
        .order_by(ExhibitionStop.position)
    ).all()
    records = visible_records(session, {r.record_id for r in rows if r.record_id}, PUBLIC_ACCESS)
    rows = [r for r in rows if r.record_id is None or r.record_id in records]
    chosen = stop_assets(session, rows, records, PUBLIC_ACCESS)
    stops: list[TripStop] = []
    rights: dict[str, MediaRights] = {}
    for index, (row, stop) in enumerate(zip(rows, view.stops, strict=True)):
        asset = chosen.get(row.id)
        stops.append(_trip_stop(index, stop, asset, lang, derivatives))
        if asset is not None:
            record = records.get(row.record_id or "") or _owner(session, asset)
            rights[asset.id] = media_rights(asset, record, lang)
    return TripExhibition(view, stops, rights)


def _owner(session: Session, asset: Asset) -> Record | None:
    return session.get(Record, asset.record_id) if asset.record_id else None


def _trip_stop(
    index: int, stop: Stop, asset: Asset | None, lang: str, derivatives: Path
) -> TripStop:
    if asset is None:
        return TripStop(index, stop, None)
    assets = [asset]
    return TripStop(
        index,
        stop,
        asset.id,
        models=model_view.viewers(assets, lang),
        images=image_view.viewers(assets, lang),
        players=av_view.players(assets, lang, derivatives),
    )


def stop_json(stops: list[TripStop]) -> list[dict[str, Any]]:
    """The stops as the trip islands read them (number, title, kind, media id)."""
    return [
        {
            "index": s.index,
            "number": s.stop.number,
            "title": s.stop.title.text,
            "kind": s.stop.kind,
            "asset": s.asset_id,
        }
        for s in stops
    ]
