"""Exhibition pages: the list, one exhibition's stops, and its walkable 3D room.

Every page works without script: the room page's island (``viewer/src/room.js``) starts
from the plain list of stops and a JSON description of the exhibits the server writes
beside it. Access follows the JSON API: a draft or a restricted exhibition is a 404, and a
stop whose record the visitor may not see is left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.api import access_levels
from server.errors import N_, NotFound
from server.models import Asset, Exhibition, ExhibitionStop, Record
from server.records import visible
from server.search import fold
from server.state import get_museum
from server.vocab import GUIDE_ROLE

Gettext = Callable[[str], str]
Link = Callable[..., str]

PAGE_PICTURE_WIDTH = 400  # px: a stop's picture on the exhibition page (sharp at 2x)
ROOM_PICTURE_WIDTH = 1200  # px: an image framed on the room's wall
# The 3D pipeline's poster: 1024 × 768 px (processing.threed: poster_size, POSTER_ASPECT).
MODEL_POSTER_SIZE = (1024, 768)
# A room shows several models at once on machines without a GPU: its levels of detail stop
# at the pipeline's "web" level (150k triangles); the "high" level is for the record page.
ROOM_MAX_PRIMITIVES = 200_000
MESH_ROLE = "lod:"
POINTS_ROLE = "points:"
KIND_LABELS = {
    "model": N_("3D model"),
    "image": N_("Image"),
    "video": N_("Video"),
    "audio": N_("Recording"),
}  # a "text" stop (no media) is named by its title alone


@dataclass(frozen=True)
class Localized:
    """A text and the language it is really in (a fallback keeps its own ``lang``)."""

    text: str
    lang: str


def pick(values: Mapping[str, str] | None, lang: str) -> Localized:
    """The page's language, else Vietnamese, else any language; empty when there is none."""
    for code in (lang, "vi", *(values or {})):
        text = (values or {}).get(code)
        if text:
            return Localized(text, code)
    return Localized("", lang)


@dataclass(frozen=True)
class Picture:
    src: str
    width: int
    height: int
    alt: str


@dataclass(frozen=True)
class Lod:
    url: str
    primitives: int  # triangles, or points for a point cloud
    bytes: int


@dataclass(frozen=True)
class Stop:
    number: int  # 1, 2, … in walking order
    kind: str  # model, image, video, audio or text
    title: Localized
    text: Localized
    record_id: str | None
    record_title: Localized | None
    picture: Picture | None  # for the exhibition page
    room_picture: Picture | None  # for a wall of the room
    lods: tuple[Lod, ...] = ()  # smallest first
    size_m: tuple[float, float, float] | None = None  # width, height, depth

    @property
    def anchor(self) -> str:
        return f"stop-{self.number}"


@dataclass(frozen=True)
class ExhibitionView:
    id: str
    title: Localized
    summary: Localized
    stops: list[Stop] = field(default_factory=list)


# Loading


def published_exhibitions(levels: Sequence[str]) -> Any:
    """``select(Exhibition)`` restricted to what the requester may see (as the JSON API)."""
    return select(Exhibition).where(
        Exhibition.published.is_(True), Exhibition.access_level.in_(tuple(levels))
    )


def load_view(
    session: Session, exhibition_id: str, levels: Sequence[str], lang: str, gettext: Gettext
) -> ExhibitionView | None:
    """The exhibition with its visible stops, each with the media it shows; None if unseen."""
    exhibition = session.scalars(
        published_exhibitions(levels).where(Exhibition.id == exhibition_id)
    ).first()
    if exhibition is None:
        return None
    rows = session.scalars(
        select(ExhibitionStop)
        .where(ExhibitionStop.exhibition_id == exhibition_id)
        .order_by(ExhibitionStop.position)
    ).all()
    records = visible_records(session, {r.record_id for r in rows if r.record_id}, levels)
    rows = [r for r in rows if r.record_id is None or r.record_id in records]
    chosen = stop_assets(session, rows, records, levels)
    stops = [
        make_stop(number, row, records.get(row.record_id or ""), chosen.get(row.id), lang, gettext)
        for number, row in enumerate(rows, 1)
    ]
    return ExhibitionView(
        exhibition.id, pick(exhibition.title, lang), pick(exhibition.summary, lang), stops
    )


def visible_records(
    session: Session, ids: Iterable[str], levels: Sequence[str]
) -> dict[str, Record]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = session.scalars(visible(select(Record).where(Record.id.in_(wanted)), levels))
    return {record.id: record for record in found}


def stop_assets(
    session: Session,
    rows: Sequence[ExhibitionStop],
    records: Mapping[str, Record],
    levels: Sequence[str],
) -> dict[int, Asset]:
    """Each stop's media: the asset it names, else its record's first showable one."""
    named = {r.asset_id for r in rows if r.asset_id}
    assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(named)))}
    owners = visible_records(session, {a.record_id for a in assets.values() if a.record_id}, levels)
    by_record: dict[str, Asset] = {}
    unnamed = {r.record_id for r in rows if r.record_id and not r.asset_id}
    candidates = session.scalars(
        select(Asset)
        .where(Asset.record_id.in_(unnamed), Asset.access_level.in_(tuple(levels)))
        .order_by(Asset.position, Asset.created_at, Asset.id)
    )
    for asset in candidates:
        if asset.record_id and asset.record_id not in by_record and media_kind(asset):
            by_record[asset.record_id] = asset
    chosen: dict[int, Asset] = {}
    for row in rows:
        shown = assets.get(row.asset_id) if row.asset_id else by_record.get(row.record_id or "")
        if shown is None or shown.access_level not in levels or not media_kind(shown):
            continue
        if shown.record_id and shown.record_id not in owners and shown.record_id not in records:
            continue  # the asset's own record is hidden from this visitor
        chosen[row.id] = shown
    return chosen


def media_kind(asset: Asset) -> str | None:
    """``model``, ``image``, ``video`` or ``audio`` for a published asset a stop can show."""
    if asset.published_version is None or asset.role == GUIDE_ROLE:
        return None
    technical = asset.technical or {}
    pipeline = technical.get("pipeline")
    if pipeline == "3d" and _lods(asset):
        return "model"
    if pipeline == "image" and technical.get("thumbnails"):
        return "image"
    if pipeline == "av":
        return "video" if (technical.get("kind") or asset.kind) == "video" else "audio"
    return None


# Building one stop


def make_stop(
    number: int,
    row: ExhibitionStop,
    record: Record | None,
    asset: Asset | None,
    lang: str,
    gettext: Gettext,
) -> Stop:
    record_title = pick(record.title, lang) if record is not None else None
    title = pick(row.title, lang)
    if not title.text:
        title = record_title or pick(asset.label if asset else None, lang)
    if not title.text:
        title = Localized(gettext(N_("Stop {number}")).format(number=number), lang)
    kind = (media_kind(asset) if asset else None) or "text"
    # An image's own label describes it best; a model or a video is named by the stop.
    alt = (pick(asset.label, lang).text if asset and kind == "image" else "") or title.text
    return Stop(
        number=number,
        kind=kind,
        title=title,
        text=pick(row.text, lang),
        record_id=record.id if record is not None else None,
        record_title=record_title,
        picture=picture_for(asset, kind, PAGE_PICTURE_WIDTH, alt, gettext) if asset else None,
        room_picture=picture_for(asset, kind, ROOM_PICTURE_WIDTH, alt, gettext) if asset else None,
        lods=_lods(asset) if asset and kind == "model" else (),
        size_m=_size_m(asset.technical) if asset and kind == "model" else None,
    )


def _media(asset: Asset, path: str) -> str:
    return f"/media/{asset.id}/{asset.published_version}/{path}"


def picture_for(asset: Asset, kind: str, width: int, name: str, gettext: Gettext) -> Picture | None:
    """The stop's picture: a model's poster, a video's still or an image's thumbnail."""
    technical = asset.technical or {}
    if kind == "model" and technical.get("poster"):
        alt = gettext(N_("{title} (3D model)")).format(title=name)
        return Picture(_media(asset, technical["poster"]), *MODEL_POSTER_SIZE, alt)
    if kind == "video" and technical.get("poster"):
        size = _size(technical) or (16, 9)
        alt = gettext(N_("{title} (still from the video)")).format(title=name)
        return Picture(_media(asset, technical["poster"]), *size, alt)
    if kind == "image":
        return _thumbnail(asset, width, name)
    return None


def _thumbnail(asset: Asset, width: int, alt: str) -> Picture | None:
    """The pipeline's thumbnail closest above ``width`` (``thumb-400.jpg`` …), never upscaled."""
    technical = asset.technical or {}
    files = {
        int(role.split(":", 1)[1]): path
        for role, path in (technical.get("thumbnails") or {}).items()
        if role.split(":", 1)[-1].isdigit()
    }
    size = _size(technical)
    if not files or size is None:
        return None
    chosen = min((w for w in files if w >= width), default=max(files))
    scale = min(1.0, chosen / size[0])
    return Picture(
        _media(asset, files[chosen]),
        max(1, round(size[0] * scale)),
        max(1, round(size[1] * scale)),
        alt,
    )


def _size(technical: Mapping[str, Any]) -> tuple[int, int] | None:
    width, height = technical.get("width"), technical.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    return None


def _lods(asset: Asset) -> tuple[Lod, ...]:
    """The model's levels a room may load, smallest first (mesh levels before points)."""
    raw = [lod for lod in (asset.technical or {}).get("lods") or [] if isinstance(lod, dict)]
    meshes = [lod for lod in raw if str(lod.get("role", "")).startswith(MESH_ROLE)]
    chosen = meshes or [lod for lod in raw if str(lod.get("role", "")).startswith(POINTS_ROLE)]
    levels = sorted(
        (
            Lod(
                _media(asset, str(lod["path"])),
                int(lod.get("triangles") or lod.get("points") or 0),
                int(lod.get("bytes") or 0),
            )
            for lod in chosen
            if lod.get("path")
        ),
        key=lambda lod: (lod.primitives, lod.bytes),
    )
    small = [lod for lod in levels if lod.primitives <= ROOM_MAX_PRIMITIVES] or levels[:1]
    # A small scan's levels can all be the whole scan: one of them is enough.
    distinct = {lod.primitives: lod for lod in reversed(small)}
    return tuple(sorted(distinct.values(), key=lambda lod: (lod.primitives, lod.bytes)))


def _size_m(technical: Mapping[str, Any] | None) -> tuple[float, float, float] | None:
    """``dimensions_mm`` (width, height, depth) in metres, or None when unknown."""
    dims = (technical or {}).get("dimensions_mm") or {}
    values = [dims.get(axis) for axis in ("width", "height", "depth")]
    if not all(isinstance(v, int | float) and v > 0 for v in values):
        return None
    width, height, depth = (float(v) / 1000 for v in values)  # type: ignore[arg-type]
    return width, height, depth


# The room's description for viewer/src/room.js


def room_description(view: ExhibitionView, link: Link) -> dict[str, Any]:
    """What the room island builds its gallery from; ``link(name, **params)`` makes paths."""
    exhibition_path = link("exhibition", exhibition_id=view.id)
    return {
        "id": view.id,
        "title": view.title.text,
        "exhibits": [
            {
                "number": stop.number,
                "kind": stop.kind,
                "label": stop.title.text,
                "lang": stop.title.lang,
                "url": link("item", record_id=stop.record_id)
                if stop.record_id
                else f"{exhibition_path}#{stop.anchor}",
                "picture": _picture_json(stop.room_picture),
                "lods": [
                    {"url": lod.url, "primitives": lod.primitives, "bytes": lod.bytes}
                    for lod in stop.lods
                ],
                "size_m": list(stop.size_m) if stop.size_m else None,
            }
            for stop in view.stops
        ],
    }


def _picture_json(picture: Picture | None) -> dict[str, Any] | None:
    if picture is None:
        return None
    return {"src": picture.src, "width": picture.width, "height": picture.height}


def json_script(data: dict[str, Any], element_id: str) -> Markup:
    """``<script type="application/json">`` whose content can never close the tag early."""
    text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(  # noqa: S704 - escaped above
        f'<script type="application/json" id="{element_id}" class="room-data">{text}</script>'
    )


# Endpoints


async def exhibition_list(request: Request) -> Response:
    """The published exhibitions the visitor may see, by title in the page's language."""
    museum = get_museum(request)
    lang = request.state.lang
    levels = access_levels(request)

    def load(session: Session) -> list[ExhibitionView]:
        found = session.scalars(published_exhibitions(levels))
        return [ExhibitionView(e.id, pick(e.title, lang), pick(e.summary, lang)) for e in found]

    # Folded (no diacritics) first: "Ảnh" sorts among the a's, not after "z".
    views = sorted(await museum.db.run(load), key=lambda v: (fold(v.title.text), v.id))
    return museum.templates.TemplateResponse(request, "exhibitions.html", {"exhibitions": views})


async def _view(request: Request) -> ExhibitionView:
    museum = get_museum(request)
    exhibition_id = request.path_params["exhibition_id"]
    lang = request.state.lang
    levels = access_levels(request)
    gettext = museum.translations(lang).gettext
    view = await museum.db.run(
        lambda session: load_view(session, exhibition_id, levels, lang, gettext)
    )
    if view is None:
        raise NotFound(
            N_("No exhibition with id {id}."), parameter="exhibition_id", id=exhibition_id
        )
    return view


async def exhibition(request: Request) -> Response:
    """One exhibition: its summary and stops in walking order, each with its picture."""
    view = await _view(request)
    return get_museum(request).templates.TemplateResponse(
        request, "exhibition.html", {"exhibition": view, "kind_labels": KIND_LABELS}
    )


async def exhibition_room(request: Request) -> Response:
    """The walkable room: the list of stops, which the room island turns into a 3D gallery."""
    view = await _view(request)

    def link(name: str, **params: Any) -> str:
        return str(request.url_for(name, **params).path)

    return get_museum(request).templates.TemplateResponse(
        request,
        "room.html",
        {
            "exhibition": view,
            "kind_labels": KIND_LABELS,
            "room_data": json_script(room_description(view, link), "room-data"),
        },
    )
