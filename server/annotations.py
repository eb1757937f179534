"""Annotations (hotspots) on 3D models: numbered points with a title, a text and an optional
media link in Vietnamese and English, kept in the catalog rather than in files.

In the database they survive reprocessing (a new derivative version keeps the model's frame:
the pipeline always leaves a scan in metres, Y up, centred, standing on y = 0), every server
process sees the same ones, and backups hold them with the records. Staff add them with
``museum annotations`` (``server/cli_annotations.py``); visitors read them through
``GET /api/v1/media/{asset_id}/annotations``, which the 3D viewer draws as markers.

Parsers turn what people typed into a :class:`NewAnnotation` or raise a
:class:`~server.errors.ValidationError` naming the option at fault, so the command line
(and the web admin later) only translate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.errors import N_, NotFound, ValidationError
from server.i18n import nfc
from server.models import Annotation, Asset
from server.records import visible_asset
from server.responses import cached_json
from server.state import get_museum

MODEL_KIND = "model"
CONTENT_LANGUAGES = ("vi", "en")
MAX_TITLE = 200
MAX_TEXT = 4000
MAX_URL = 2048
MAX_ORDER = 100_000
MAX_ID = 2**31 - 1  # an INTEGER column on both engines
# A point may lie this share of the model's largest side outside its bounding box (the box
# is rounded to 0.1 mm); further out it is almost always millimetres typed as metres.
BOUNDS_MARGIN = 0.05
AXES = ("x", "y", "z")

Vector = tuple[float, float, float]


@dataclass(frozen=True)
class NewAnnotation:
    """An annotation as parsed, before it is checked against its model."""

    position: Vector  # metres, in the published model's frame
    title: dict[str, str]  # {"vi": …, "en": …}, both present
    text: dict[str, str]  # only the languages given
    normal: Vector | None = None  # unit length
    media_url: str | None = None
    sort_order: int | None = None  # None: after the model's other annotations


# Parsing what people typed


def parse_number(raw: str, parameter: str) -> float:
    """A finite decimal number ("0.12", "0,12", "-3e-2"); anything else names ``parameter``."""
    text = raw.strip()
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # a Vietnamese decimal comma: 0,12
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValidationError(
            N_("{option} must be a number, e.g. 0.12 (metres), not “{value}”."),
            parameter=parameter,
            option=parameter,
            value=raw,
        )
    return value


def parse_normal(raw: tuple[str, str, str] | None, parameter: str = "--normal") -> Vector | None:
    """Three numbers scaled to unit length; None when not given. A zero vector is refused."""
    if raw is None:
        return None
    x, y, z = (parse_number(value, parameter) for value in raw)
    length = math.sqrt(x * x + y * y + z * z)
    if length == 0:
        raise ValidationError(
            N_("{option} must point somewhere: 0 0 0 has no direction."),
            parameter=parameter,
            option=parameter,
        )
    return (x / length, y / length, z / length)


def parse_texts(
    values: dict[str, str | None], option: str, limit: int, required: bool
) -> dict[str, str]:
    """``{"vi": …, "en": …}`` from the options ``{option}-vi`` and ``{option}-en``, NFC, trimmed."""
    texts: dict[str, str] = {}
    for lang in CONTENT_LANGUAGES:
        parameter = f"{option}-{lang}"
        value = nfc(values.get(lang) or "").strip()
        if required and not value:
            raise ValidationError(
                N_(
                    "{option} is empty: every annotation needs a title in Vietnamese "
                    "and in English."
                ),
                parameter=parameter,
                option=parameter,
            )
        if len(value) > limit:
            raise ValidationError(
                N_("{option} is longer than {limit} characters ({length})."),
                parameter=parameter,
                option=parameter,
                limit=limit,
                length=len(value),
            )
        if value:
            texts[lang] = value
    return texts


def parse_media_url(raw: str | None, parameter: str = "--media") -> str | None:
    """An http(s) address, or a path on this site ("/items/…"); None when not given."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    parts = urlsplit(value)
    web = parts.scheme in ("http", "https") and bool(parts.netloc)
    local = not parts.scheme and not parts.netloc and value.startswith("/")
    # Browsers read "/\\host" as "//host": a backslash could make a local path leave the site.
    unsafe = "\\" in value or not value.isprintable() or any(c.isspace() for c in value)
    if not (web or local) or len(value) > MAX_URL or unsafe:
        raise ValidationError(
            N_(
                "{option} must be an http or https address, or a path on this site "
                "starting with /, of at most {limit} characters; “{value}” is not."
            ),
            parameter=parameter,
            option=parameter,
            value=value[:100],
            limit=MAX_URL,
        )
    return value


def parse_order(raw: str | None, parameter: str = "--order") -> int | None:
    if raw is None:
        return None
    if not _is_count(raw) or int(raw) > MAX_ORDER:
        raise ValidationError(
            N_("{option} must be a whole number from 0 to {limit}, not “{value}”."),
            parameter=parameter,
            option=parameter,
            limit=MAX_ORDER,
            value=raw,
        )
    return int(raw)


def parse_annotation_id(raw: str, parameter: str = "ANNOTATION_ID") -> int:
    if not _is_count(raw) or int(raw) > MAX_ID:
        raise ValidationError(
            N_(
                "{option} must be an annotation's id, a whole number as "
                "“museum annotations list” prints it, not “{value}”."
            ),
            parameter=parameter,
            option=parameter,
            value=raw,
        )
    return int(raw)


def _is_count(raw: str) -> bool:
    text = raw.strip()
    return text.isascii() and text.isdigit()


# Reading and writing


def add_annotation(session: Session, asset_id: str, new: NewAnnotation) -> Annotation:
    """Store ``new`` on the 3D model ``asset_id``; its position must lie on the model's box."""
    asset = _model_asset(session, asset_id)
    _check_inside(new.position, asset.technical.get("dimensions_mm"))
    order = new.sort_order
    if order is None:
        last = session.scalar(
            select(func.max(Annotation.sort_order)).where(Annotation.asset_id == asset_id)
        )
        order = 0 if last is None else last + 1
    normal = new.normal or (None, None, None)
    row = Annotation(
        asset_id=asset_id,
        x=new.position[0],
        y=new.position[1],
        z=new.position[2],
        normal_x=normal[0],
        normal_y=normal[1],
        normal_z=normal[2],
        title=new.title,
        text=new.text,
        media_url=new.media_url,
        sort_order=order,
    )
    session.add(row)
    session.flush()
    return row


def update_annotation(session: Session, annotation_id: int, new: NewAnnotation) -> Annotation:
    """Give an annotation a new position, texts, link and (if given) place in the list.

    Checked like :func:`add_annotation`; the surface normal is kept unless ``new`` has one.
    """
    row = session.get(Annotation, annotation_id)
    if row is None:
        raise NotFound(
            N_("No annotation with id {id}."), parameter="annotation_id", id=annotation_id
        )
    asset = _model_asset(session, row.asset_id)
    _check_inside(new.position, asset.technical.get("dimensions_mm"))
    row.x, row.y, row.z = new.position
    if new.normal is not None:
        row.normal_x, row.normal_y, row.normal_z = new.normal
    row.title, row.text, row.media_url = new.title, new.text, new.media_url
    if new.sort_order is not None:
        row.sort_order = new.sort_order
    session.flush()
    return row


def list_annotations(session: Session, asset_id: str) -> list[Annotation]:
    """The model's annotations in display order; an unknown asset is an error, not []."""
    if session.get(Asset, asset_id) is None:
        raise NotFound(N_("No media with id {id}."), parameter="asset_id", id=asset_id)
    return _ordered(session, asset_id)


def remove_annotation(session: Session, annotation_id: int) -> Annotation:
    """Delete one annotation; the row as it was."""
    row = session.get(Annotation, annotation_id)
    if row is None:
        raise NotFound(
            N_("No annotation with id {id}."), parameter="annotation_id", id=annotation_id
        )
    session.delete(row)
    return row


def annotation_json(row: Annotation, number: int) -> dict[str, Any]:
    """The public form: ``number`` is its place in the list (1, 2 …), as markers show it."""
    normal = (row.normal_x, row.normal_y, row.normal_z)
    return {
        "id": row.id,
        "number": number,
        "position": [row.x, row.y, row.z],
        "normal": list(normal) if None not in normal else None,
        "title": row.title,
        "text": row.text,
        "media_url": row.media_url,
    }


def _ordered(session: Session, asset_id: str) -> list[Annotation]:
    statement = select(Annotation).where(Annotation.asset_id == asset_id)
    return list(session.scalars(statement.order_by(Annotation.sort_order, Annotation.id)))


def _model_asset(session: Session, asset_id: str) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(N_("No media with id {id}."), parameter="asset_id", id=asset_id)
    if asset.kind != MODEL_KIND and (asset.technical or {}).get("pipeline") != "3d":
        raise ValidationError(
            N_("Asset {id} is a {kind}, not a 3D model: annotations belong on 3D models."),
            parameter="asset_id",
            id=asset_id,
            kind=asset.kind,
        )
    return asset


def _check_inside(position: Vector, dimensions_mm: Any) -> None:
    """Refuse a point far outside the model's box (x, z centred on 0; y from 0 up)."""
    if not isinstance(dimensions_mm, dict):
        return  # not processed yet: nothing to check against
    sizes = [float(dimensions_mm.get(key) or 0) / 1000 for key in ("width", "height", "depth")]
    margin = max(sizes) * BOUNDS_MARGIN
    bounds = [(-sizes[0] / 2, sizes[0] / 2), (0.0, sizes[1]), (-sizes[2] / 2, sizes[2] / 2)]
    for axis, value, (low, high) in zip(AXES, position, bounds, strict=True):
        if not low - margin <= value <= high + margin:
            raise ValidationError(
                N_(
                    "--{axis} {value} lies outside the model, which spans {low} to {high} "
                    "on that axis. Positions are in metres, not millimetres."
                ),
                parameter=f"--{axis}",
                axis=axis,
                value=f"{value:g}",
                low=f"{low:.4g}",
                high=f"{high:.4g}",
            )


# The public endpoint


async def media_annotations(request: Request) -> Response:
    """A visible 3D model's annotations, in display order, with their text in every language."""
    asset_id = request.path_params["asset_id"]
    from server.api import access_levels  # the web API; the CLI imports this module too

    levels = access_levels(request)

    def run(session: Session) -> dict[str, Any] | None:
        if visible_asset(session, asset_id, levels) is None:
            return None
        rows = _ordered(session, asset_id)
        items = [annotation_json(row, number) for number, row in enumerate(rows, 1)]
        return {"asset_id": asset_id, "units": "m", "items": items}

    data = await get_museum(request).db.run(run)
    if data is None:
        raise NotFound(N_("No media with id {id}."), parameter="asset_id", id=asset_id)
    return cached_json(request, data)
