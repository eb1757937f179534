"""What a draft is made from: a record's facts, and a small picture of a media item."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.drafting.model import Facts
from server.models import Asset, Place, Record, RecordPlace
from server.search import split_list
from server.storage import Store, resolve_inside

# The widest published thumbnail sent to a vision model: enough to see an object, small
# enough for a 7B model on a CPU (its cost grows with the pixels).
PREVIEW_WIDTH = 800
MAX_PREVIEW_BYTES = 4 * 1024 * 1024
PREVIEW_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".png": "image/png",
}


def record_facts(session: Session, record: Record) -> Facts:
    """The record's facts as catalogued; its linked places, else its location text."""
    rows = session.execute(
        select(Place.name)
        .join(RecordPlace, RecordPlace.place_id == Place.id)
        .where(RecordPlace.record_id == record.id)
        .order_by(RecordPlace.role, Place.id)
    )
    places = tuple(dict(name) for (name,) in rows if name)
    if not places and record.location_current:
        places = ({"vi": record.location_current},)
    return Facts(
        record_id=record.id,
        title=dict(record.title or {}),
        description=dict(record.description or {}),
        kind=record.kind,
        subtype=record.subtype or "",
        designation=record.designation or "",
        category=record.category or "",
        ethnic_groups=tuple(split_list(record.ethnic_groups or "")),
        places=places,
        dating=record.dating or "",
        earliest=record.date_earliest,
        latest=record.date_latest,
        materials=tuple(record.materials or ()),
        techniques=tuple(record.techniques or ()),
        dimensions=record.dimensions or "",
    )


def preview_path(technical: Mapping[str, Any]) -> str | None:
    """The published picture of a media item, relative to its version folder: an image's or
    a document's thumbnail (the widest up to ``PREVIEW_WIDTH``), a model's or a video's poster."""
    thumbnails = technical.get("thumbnails")
    if isinstance(thumbnails, dict) and thumbnails:
        sized = sorted(
            (int(role.partition(":")[2]), path)
            for role, path in thumbnails.items()
            if isinstance(path, str) and role.partition(":")[2].isdigit()
        )
        fitting = [item for item in sized if item[0] <= PREVIEW_WIDTH]
        chosen = fitting[-1] if fitting else (sized[0] if sized else None)
        if chosen is not None:
            return chosen[1]
    for key in ("poster", "thumbnail"):
        value = technical.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def preview_image(store: Store, asset: Asset) -> tuple[bytes, str] | None:
    """The bytes and media type of the asset's published picture, or None (no picture, an
    unexpected format, or larger than ``MAX_PREVIEW_BYTES``)."""
    if asset.published_version is None:
        return None
    relative = preview_path(asset.technical or {})
    media_type = PREVIEW_TYPES.get(Path(relative).suffix.lower()) if relative else None
    if relative is None or media_type is None:
        return None
    folder = store.derivative_dir(asset.id, asset.published_version)
    path = resolve_inside(folder, relative)
    if path is None or not path.is_file() or path.stat().st_size > MAX_PREVIEW_BYTES:
        return None
    return path.read_bytes(), media_type
