"""IIIF Image API 3.0 at compliance level 2, for the published images of visible records.

``/iiif/3/{id}/info.json`` describes an image; ``/iiif/3/{id}/{region}/{size}/{rotation}/
{quality}.{format}`` returns pixels. A request that names one of the tiles the image
pipeline wrote (``iiif/`` beside ``pyramid.tif`` in the derivative folder, libvips'
``iiif3`` layout) is answered from that file; anything else is rendered from the
pyramidal TIFF with libvips, from the pyramid level just above the size asked for, and
kept in a bounded disk cache under its canonical form. The parameters are parsed by the
pure :mod:`server.iiif_image_params`.

Every answer, errors included, carries ``Access-Control-Allow-Origin: *``; images carry
the ``Link`` headers of their canonical form and of the level-2 profile.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anyio import to_thread
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Scope

from processing.images import render as renderer
from server.api import access_levels
from server.errors import N_, MuseumError, NotFound
from server.handlers import error_response
from server.iiif_cache import DiskCache, FastTile, Lookups, TileAnswers, TileMemory
from server.iiif_image_params import ImagePlan, parse_request, plan_request
from server.iiif_manifest import PAGE_SEPARATOR, annotations_url, manifest_url, ocr_layer_public
from server.models import Asset
from server.records import visible_asset
from server.state import get_museum
from server.urls import public_base
from server.vocab import PUBLIC_ACCESS

CONTEXT = "http://iiif.io/api/image/3/context.json"
PROFILE = "level2"
PROFILE_URL = "http://iiif.io/api/image/3/level2.json"
INFO_TYPE = f'application/ld+json;profile="{CONTEXT}"'
CORS = {"access-control-allow-origin": "*"}
IMAGE_CACHE = "public, max-age=86400"
INFO_CACHE = "public, max-age=300"
PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
PRESENTATION_TYPE = f'application/ld+json;profile="{PRESENTATION_CONTEXT}"'
EXTRA_FORMATS = ["webp"]
EXTRA_QUALITIES = ["color", "gray", "bitonal"]
EXTRA_FEATURES = [
    "baseUriRedirect",
    "canonicalLinkHeader",
    "cors",
    "jsonldMediaType",
    "mirroring",
    "profileLinkHeader",
    "regionByPct",
    "regionByPx",
    "regionSquare",
    "rotationArbitrary",
    "rotationBy90s",
    "sizeByConfinedWh",
    "sizeByH",
    "sizeByPct",
    "sizeByW",
    "sizeByWh",
    "sizeUpscaling",
]
IMAGE_KINDS = ("image", "document")


@dataclass(frozen=True)
class ImageSource:
    """A published image: its derivative folder and the size of its full resolution."""

    identifier: str
    folder: Path
    width: int
    height: int
    tiles: dict[str, Any]  # info.json's "tiles" entry as the pipeline wrote it
    sizes: list[dict[str, int]]
    levels: int  # pages of the pyramidal TIFF, each half the size of the one before

    @property
    def pyramid(self) -> Path:
        return self.folder / "pyramid.tif"

    def static_tile(self, plan: ImagePlan) -> Path | None:
        """The pre-generated file for ``plan``, when the pipeline wrote one."""
        if (plan.rotation, plan.mirror, plan.quality, plan.format) not in (
            (0.0, False, "default", "jpg"),
        ):
            return None
        x, y, w, h = plan.region
        width, height = plan.size
        path = self.folder / "iiif" / f"{x},{y},{w},{h}" / f"{width},{height}" / "0" / "default.jpg"
        return path if path.is_file() else None


# Endpoints


async def base_redirect(request: Request) -> Response:
    """The image's base URI redirects to its info.json (feature ``baseUriRedirect``) — for
    images the requester may see; others are not found, as their info.json is."""
    identifier = request.path_params["identifier"]
    try:
        await _published(request, identifier)
    except MuseumError as exc:
        return _error(request, exc)
    return RedirectResponse(f"{_service_id(request, identifier)}/info.json", 303, headers=CORS)


async def info_json(request: Request) -> Response:
    identifier = request.path_params["identifier"]
    try:
        source = await _source(request, identifier)
    except MuseumError as exc:
        return _error(request, exc)
    settings = get_museum(request).settings
    info: dict[str, Any] = {
        "@context": CONTEXT,
        "id": _service_id(request, identifier),
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": PROFILE,
        "width": source.width,
        "height": source.height,
        "maxArea": settings.iiif_max_area,
        "sizes": source.sizes,
        "tiles": [source.tiles] if source.tiles else [],
        "extraFormats": EXTRA_FORMATS,
        "extraQualities": EXTRA_QUALITIES,
        "extraFeatures": EXTRA_FEATURES,
    }
    media_type = INFO_TYPE if "application/ld+json" in request.headers.get("accept", "") else None
    body = json.dumps(info, separators=(",", ":")).encode()
    headers = {
        **CORS,
        "cache-control": INFO_CACHE,
        "link": f'<{PROFILE_URL}>;rel="profile"',
    }
    return Response(body, media_type=media_type or "application/json", headers=headers)


async def image(request: Request) -> Response:
    params = request.path_params
    identifier = params["identifier"]
    try:
        parsed = parse_request(params["region"], params["size"], params["rotation"], params["qf"])
        source = await _source(request, identifier)
        settings = get_museum(request).settings
        plan = plan_request(parsed, source.width, source.height, max_area=settings.iiif_max_area)
    except MuseumError as exc:
        return _error(request, exc)
    headers = {
        **CORS,
        "cache-control": IMAGE_CACHE,
        "link": f'<{_service_id(request, identifier)}/{plan.canonical}>;rel="canonical", '
        f'<{PROFILE_URL}>;rel="profile"',
    }
    state = request.app.state
    static = source.static_tile(plan)
    if static is not None:
        tiles: TileMemory = state.iiif_tiles
        body = tiles.get(static)
        if body is None:
            body = await to_thread.run_sync(tiles.read, static)
        response = Response(body, media_type=plan.media_type, headers=headers)
        if access_levels(request) == PUBLIC_ACCESS and not request.url.query:
            answers: TileAnswers = state.iiif_answers
            tile = FastTile(identifier, source.folder, response.raw_headers, body)
            answers.remember(request.url.path, tile)
        return response
    body = await to_thread.run_sync(_rendered, state.iiif_cache, source, plan)
    return Response(body, media_type=plan.media_type, headers=headers)


_IMAGE_PATH = re.compile(r"/iiif/3/([^/]+)/([^/]+)/([^/]+)/([^/]+)/([^/]+)")
INLINE_PIXELS = 1024 * 1024  # renders this small run on the event loop: a thread hop costs more


async def fast_render(scope: Scope) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
    """A rendered public image, answered before routing and middleware; None: the app answers.

    Only for images whose lookup and source are already known (the app has served
    them within the lookup time) and requests that parse: errors, unknown images,
    pre-generated tiles and everything else go through the app as usual.
    """
    match = _IMAGE_PATH.fullmatch(scope["path"])
    if match is None:
        return None
    identifier, region, size, rotation, quality_format = match.groups()
    state = scope["app"].state
    lookups: Lookups[Published] = state.iiif_lookups
    published = lookups.get((identifier, PUBLIC_ACCESS))
    source = _SOURCES.get(published.folder) if published is not None else None
    if source is None or lookups.claim_refresh((identifier, PUBLIC_ACCESS)):
        return None  # unknown here, or due to be looked up again: the app answers
    try:
        parsed = parse_request(region, size, rotation, quality_format)
        max_area = state.museum.settings.iiif_max_area
        plan = plan_request(parsed, source.width, source.height, max_area=max_area)
    except MuseumError:
        return None
    if source.static_tile(plan) is not None:
        return None
    width, height = plan.size
    if width * height <= INLINE_PIXELS:
        body = _rendered(state.iiif_cache, source, plan)
    else:
        body = await to_thread.run_sync(_rendered, state.iiif_cache, source, plan)
    base = public_base(Request(scope))
    headers = [
        (b"content-type", plan.media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"access-control-allow-origin", b"*"),
        (b"cache-control", IMAGE_CACHE.encode()),
        (
            b"link",
            f'<{base}/iiif/3/{identifier}/{plan.canonical}>;rel="canonical", '
            f'<{PROFILE_URL}>;rel="profile"'.encode(),
        ),
    ]
    return headers, body


async def text_annotations(request: Request) -> Response:
    """A document page's OCR text lines as a IIIF AnnotationPage (``supplementing``), once a
    person accepted them (:func:`server.iiif_manifest.ocr_layer_public`)."""
    identifier = request.path_params["identifier"]
    try:
        published = await _published(request, identifier)
        lines_path = published.page_info.get("ocr")
        reviewed = ocr_layer_public(published.asset)
        if not lines_path or not reviewed or published.asset.record_id is None:
            raise NotFound(N_("No text for image {id}."), parameter="identifier", id=identifier)
        ocr = await to_thread.run_sync(_read_lines, published, str(lines_path))
    except MuseumError as exc:
        return _error(request, exc)
    base = public_base(request)
    canvas_id = f"{manifest_url(base, published.asset.record_id)}/canvas/{identifier}"
    page_id = annotations_url(base, identifier)
    scale = float(ocr.get("scale") or 1.0)
    items = []
    for number, line in enumerate(ocr.get("lines", []), 1):
        x, y, w, h = (float(v) * scale for v in line["bbox"])
        left, top = math.floor(x), math.floor(y)
        width, height = math.ceil(x + w) - left, math.ceil(y + h) - top
        body: dict[str, Any] = {
            "type": "TextualBody",
            "value": line["text"],
            "format": "text/plain",
        }
        if line.get("language") and line["language"] != "und":
            body["language"] = line["language"]
        items.append(
            {
                "id": f"{page_id}/line/{number}",
                "type": "Annotation",
                "motivation": "supplementing",
                "body": body,
                "target": f"{canvas_id}#xywh={left},{top},{width},{height}",
            }
        )
    document: dict[str, Any] = {
        "@context": PRESENTATION_CONTEXT,
        "id": page_id,
        "type": "AnnotationPage",
        "items": items,
    }
    headers = {**CORS, "cache-control": INFO_CACHE}
    body_bytes = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body_bytes, media_type=PRESENTATION_TYPE, headers=headers)


def _read_lines(published: Published, lines_path: str) -> dict[str, Any]:
    """The lines.json the pipeline wrote (its path is relative to the version folder)."""
    path = (published.version / lines_path).resolve()
    if not path.is_relative_to(published.version.resolve()) or not path.is_file():
        raise NotFound(N_("No text for image {id}."), parameter="identifier", id="")
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


# Finding the image


@dataclass(frozen=True)
class Published:
    """A visible asset's published version, and where one page's files are in it."""

    asset: Asset
    version: Path  # the published version's folder
    folder: Path  # the page's folder in it: iiif/, pyramid.tif, ocr/
    page_info: dict[str, Any]


async def _published(request: Request, identifier: str) -> Published:
    """The page an image id names: ``<asset id>`` (a document's first page) or ``…~<n>``.

    Remembered for a few seconds (:class:`server.iiif_cache.Lookups`): a viewer asks for
    dozens of tiles of one image at once.
    """
    levels = access_levels(request)
    lookups: Lookups[Published] = request.app.state.iiif_lookups
    known = lookups.current((identifier, levels))
    if known is not None:
        return known
    return await lookups.single_flight(
        (identifier, levels), lambda: _look_up(request, identifier, levels)
    )


async def _look_up(request: Request, identifier: str, levels: tuple[str, ...]) -> Published:
    museum = get_museum(request)
    asset_id, separator, page_text = identifier.partition(PAGE_SEPARATOR)
    page = _page_number(page_text) if separator else 1

    def find(session: Session) -> Asset | None:
        asset = visible_asset(session, asset_id, levels)
        if asset is None or asset.kind not in IMAGE_KINDS or not asset.published_version:
            return None
        return asset

    asset = await museum.db.run(find) if page else None
    pages = ((asset.technical or {}).get("pages") or []) if asset is not None else []
    info = next((p for p in pages if isinstance(p, dict) and p.get("page") == page), None)
    if asset is None or (separator and info is None):
        raise NotFound(N_("No image with id {id}."), parameter="identifier", id=identifier)
    assert asset.published_version is not None
    version = museum.store.derivative_dir(asset.id, asset.published_version)
    folder = version / str((info or {}).get("folder", ""))
    if not folder.resolve().is_relative_to(version.resolve()):
        raise NotFound(N_("No image with id {id}."), parameter="identifier", id=identifier)
    return Published(asset, version, folder, info or {})


def _page_number(text: str) -> int:
    """``3`` from ``"3"``; 0 (no such page) for anything but a plain positive number."""
    if not text.isascii() or not text.isdigit() or text.startswith("0") or len(text) > 6:
        return 0
    return int(text)


async def _source(request: Request, identifier: str) -> ImageSource:
    published = await _published(request, identifier)
    known = _SOURCES.get(published.folder)
    if known is not None:
        return known
    source = await to_thread.run_sync(_load_source, identifier, published.folder)
    if len(_SOURCES) >= SOURCE_ENTRIES:
        _SOURCES.clear()  # rare: thousands of versions served by one process
    _SOURCES[published.folder] = source
    return source


# What the pipeline wrote, by folder: kept, since a published version never changes.
_SOURCES: dict[Path, ImageSource] = {}
SOURCE_ENTRIES = 4096


def _load_source(identifier: str, folder: Path) -> ImageSource:
    import pyvips

    from processing.images.probe import configure_vips

    configure_vips()  # libvips' untrusted loaders blocked in the serving process too
    stored = json.loads((folder / "iiif" / "info.json").read_text("utf-8"))
    tiles = (stored.get("tiles") or [{}])[0]
    header = pyvips.Image.tiffload(str(folder / "pyramid.tif"), access="sequential")
    pages = header.get("n-pages") if "n-pages" in header.get_fields() else 1
    return ImageSource(
        identifier=identifier,
        folder=folder,
        width=int(stored["width"]),
        height=int(stored["height"]),
        tiles=tiles,
        sizes=list(stored.get("sizes", [])),
        levels=int(pages),
    )


def _service_id(request: Request, identifier: str) -> str:
    return f"{public_base(request)}/iiif/3/{identifier}"


def _error(request: Request, exc: MuseumError) -> Response:
    museum = get_museum(request)
    lang = getattr(request.state, "lang", museum.settings.language)
    message = exc.render(museum.translations(lang).gettext)
    return error_response(request, exc.status, exc.code, message, exc.parameter, headers=CORS)


# Pixels


def _rendered(cache: DiskCache, source: ImageSource, plan: ImagePlan) -> bytes:
    """From the disk cache, or rendered (and kept) now."""
    key = f"{source.folder}/{plan.canonical}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    body = render(source, plan)
    cache.put(key, body)
    return body


def render(source: ImageSource, plan: ImagePlan) -> bytes:
    """``plan`` rendered from the pyramid level just above the size it asks for."""
    return renderer.render(source.pyramid, source.width, source.levels, plan)
