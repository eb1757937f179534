"""IIIF Presentation API 3.0 documents: a Manifest per heritage record, Collections of Manifests.

Pure builders: :func:`build_manifest` and :func:`build_collection` turn catalog
rows into plain JSON-ready dicts, with bilingual language maps, one Canvas per
published image, page, sound or video (draft 3D Scenes on request), metadata,
rights and links. Nothing here reads the database or a request; the endpoints
and loaders are in :mod:`server.iiif_presentation`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.errors import N_, NotFound
from server.i18n import nfc
from server.models import Asset, Record
from server.records import RecordBundle
from server.search import split_list
from server.vocab import DESIGNATIONS, GUIDE_ROLE, KINDS, LANGUAGE_NAMES

log = logging.getLogger(__name__)

Translate = Callable[[str], str]
LanguageMap = dict[str, list[str]]

CONTEXT = "http://iiif.io/api/presentation/3/context.json"
PLAIN_JSON = "application/json"

IMAGE_KINDS = frozenset({"image", "document"})
AV_TYPES = {"audio": "Sound", "video": "Video"}
MODEL_KIND = "model"
# What a Presentation 3.0 Manifest can show; 3D only through the draft flag.
DISPLAY_KINDS = IMAGE_KINDS | frozenset(AV_TYPES)
IMAGE_FORMAT = "image/jpeg"
HLS_FORMAT = "application/vnd.apple.mpegurl"
VTT_FORMAT = "text/vtt"
GLB_FORMAT = "model/gltf-binary"
DEFAULT_MODEL_FILE = "web.glb"  # the 3D pipeline's web level of detail
IMAGE_SERVICE_TYPE = "ImageService3"
IMAGE_SERVICE_PROFILE = "level2"
# "!w,h" never upscales (Image API 3.0 §4.2), so it is safe for small originals too.
THUMBNAIL_SIZE = "^!400,400"  # fits a 400 px box; small images are enlarged, not refused
PAGE_ROLE = "page"

# The spec's rights vocabularies, in their canonical http form (the schema checks these).
RIGHTS_PREFIXES = (
    "http://creativecommons.org/licenses/",
    "http://creativecommons.org/publicdomain/",
    "http://rightsstatements.org/vocab/",
)
RIGHTS_HOSTS = ("creativecommons.org", "rightsstatements.org")

MUSEUM_NAME = N_("Đắk Lắk Digital Heritage Museum")
DEFAULT_HOLDER = N_("Đắk Lắk Department of Culture, Sports and Tourism")

ALL_COLLECTION = "all"
COLLECTION_PREFIX = "collection-"
EXHIBITION_PREFIX = "exhibition-"

# Language-map keys the 3.0 schema accepts: letters and hyphens (BCP 47 without digits).
_LANGUAGE_KEY = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z]{1,8})*$")


# Language maps


def _plain(value: str) -> str:
    """NFC text; a value shaped like markup gets a trailing space so clients read it as text."""
    text = nfc(value.strip())
    return text + " " if text.startswith("<") and text.endswith(">") else text


def language_map(values: Mapping[str, Any] | None) -> LanguageMap:
    """``{"vi": "…", "en": "…"}`` → ``{"vi": ["…"], "en": ["…"]}``; empty values dropped."""
    out: LanguageMap = {}
    for lang, value in (values or {}).items():
        if isinstance(value, str) and value.strip():
            key = lang if _LANGUAGE_KEY.match(lang) else "none"
            out.setdefault(key, []).append(_plain(value))
    return out


def none_map(*values: str) -> LanguageMap:
    """Values with no language (names, places, dates); empty when every value is blank."""
    texts = [_plain(v) for v in values if v and v.strip()]
    return {"none": texts} if texts else {}


def bilingual(msgid: str, vi: Translate, **params: Any) -> LanguageMap:
    """An interface message in Vietnamese (translated) and English (the msgid itself)."""
    english = msgid.format(**params)
    try:
        vietnamese = vi(msgid).format(**params)
    except (KeyError, IndexError, ValueError):
        vietnamese = english
    return {"vi": [vietnamese], "en": [english]}


# Technical data written by the pipelines


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value <= 0 or int(value) != value:
        return None
    return int(value)


def _positive_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def image_size(technical: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(width, height)`` in pixels, or None when either is missing or not a positive integer."""
    width = _positive_int(technical.get("width"))
    height = _positive_int(technical.get("height"))
    return (width, height) if width and height else None


def duration_of(technical: Mapping[str, Any]) -> float | None:
    """Duration in seconds, or None when missing, not positive or not finite."""
    return _positive_float(technical.get("duration"))


def caption_languages(technical: Mapping[str, Any]) -> list[str]:
    """The valid, distinct language tags of the asset's published captions, in order; never
    a machine draft waiting for review (assets processed before review existed list theirs
    under both keys)."""
    raw = technical.get("captions", [])
    drafts = technical.get("caption_drafts") or []
    if not isinstance(raw, list):
        return []
    tags = [
        tag
        for tag in raw
        if isinstance(tag, str) and _LANGUAGE_KEY.match(tag) and tag not in drafts
    ]
    return list(dict.fromkeys(tags))


# Asset.technical: the version whose OCR lines a reviewer accepted as read (server.review).
OCR_LAYER = "ocr_layer"


def ocr_layer_public(asset: Asset) -> bool:
    """Whether visitors get the OCR text layer of the asset's published version: only once a
    person accepted the machine's reading unchanged (an edited text no longer matches the
    positioned lines, so only search gets it)."""
    version = asset.published_version
    return version is not None and (asset.technical or {}).get(OCR_LAYER) == version


def displayable(asset: Asset, include_3d: bool = False) -> bool:
    """Whether the asset becomes a Canvas (or, with the draft flag, a Scene). An audio guide
    does not: it is the page's label read aloud, not a recording of the heritage."""
    if asset.published_version is None or asset.role == GUIDE_ROLE:
        return False
    technical = asset.technical or {}
    if asset.kind in IMAGE_KINDS:
        return image_size(technical) is not None
    if asset.kind in AV_TYPES:
        return duration_of(technical) is not None
    return include_3d and asset.kind == MODEL_KIND


# URLs


def manifest_url(base: str, record_id: str) -> str:
    return f"{base}/iiif/3/manifests/{record_id}"


def collection_url(base: str, collection_id: str) -> str:
    return f"{base}/iiif/3/collections/{collection_id}"


def image_service(base: str, asset_id: str) -> dict[str, str]:
    return {
        "id": f"{base}/iiif/3/{asset_id}",
        "type": IMAGE_SERVICE_TYPE,
        "profile": IMAGE_SERVICE_PROFILE,
    }


def thumbnail(base: str, asset_id: str) -> dict[str, Any]:
    service = image_service(base, asset_id)
    return {
        "id": f"{service['id']}/full/{THUMBNAIL_SIZE}/0/default.jpg",
        "type": "Image",
        "format": IMAGE_FORMAT,
        "service": [service],
    }


def media_url(base: str, asset: Asset, filename: str) -> str:
    return f"{base}/media/{asset.id}/{asset.published_version}/{filename}"


# Canvases


@dataclass(frozen=True)
class Frame:
    """What every canvas of one Manifest needs to know."""

    base: str
    manifest_id: str
    vi: Translate


def _painting_page(container_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{container_id}/page",
        "type": "AnnotationPage",
        "items": [
            {
                "id": f"{container_id}/painting",
                "type": "Annotation",
                "motivation": "painting",
                "body": body,
                "target": container_id,
            }
        ],
    }


def _canvas_label(asset: Asset, number: int, frame: Frame) -> LanguageMap:
    own = language_map(asset.label)
    if own:
        return own
    if asset.kind in IMAGE_KINDS:
        return bilingual(N_("Page {number}"), frame.vi, number=number)
    return bilingual(N_("Part {number}"), frame.vi, number=number)


PAGE_SEPARATOR = "~"  # image id of a document's page n: "<asset id>~<n>"


def page_identifier(asset_id: str, page: int) -> str:
    return f"{asset_id}{PAGE_SEPARATOR}{page}"


def document_pages(technical: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The usable pages of a processed document (each with a positive width and height)."""
    pages = technical.get("pages")
    if not isinstance(pages, list):
        return []
    return [
        page
        for page in pages
        if isinstance(page, dict) and image_size(page) and _positive_int(page.get("page"))
    ]


def image_canvases(asset: Asset, number: int, frame: Frame) -> list[dict[str, Any]]:
    """One Canvas per page of a document, with its OCR lines as annotations; else one."""
    pages = document_pages(asset.technical or {}) if asset.kind == "document" else []
    if len(pages) < 1:
        return [image_canvas(asset, number, frame)]
    canvases = []
    for offset, page in enumerate(pages):
        identifier = page_identifier(asset.id, int(page["page"]))
        size = image_size(page)
        assert size is not None  # checked by document_pages
        canvas = image_canvas(asset, number + offset, frame, identifier, size)
        canvas["label"] = bilingual(N_("Page {number}"), frame.vi, number=page["page"])
        if page.get("ocr") and ocr_layer_public(asset):
            canvas["annotations"] = [
                {"id": annotations_url(frame.base, identifier), "type": "AnnotationPage"}
            ]
        canvases.append(canvas)
    return canvases


def annotations_url(base: str, identifier: str) -> str:
    return f"{base}/iiif/3/annotations/{identifier}"


def image_canvas(
    asset: Asset,
    number: int,
    frame: Frame,
    identifier: str | None = None,
    size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    size = size or image_size(asset.technical or {})
    assert size is not None  # guaranteed by displayable()
    width, height = size
    identifier = identifier or asset.id
    canvas_id = f"{frame.manifest_id}/canvas/{identifier}"
    service = image_service(frame.base, identifier)
    body = {
        "id": f"{service['id']}/full/max/0/default.jpg",
        "type": "Image",
        "format": IMAGE_FORMAT,
        "width": width,
        "height": height,
        "service": [service],
    }
    return {
        "id": canvas_id,
        "type": "Canvas",
        "label": _canvas_label(asset, number, frame),
        "width": width,
        "height": height,
        "thumbnail": [thumbnail(frame.base, identifier)],
        "items": [_painting_page(canvas_id, body)],
    }


def _captions_page(asset: Asset, canvas_id: str, frame: Frame) -> dict[str, Any] | None:
    languages = caption_languages(asset.technical or {})
    if not languages:
        return None
    page_id = f"{canvas_id}/captions"
    items = []
    for lang in languages:
        body: dict[str, Any] = {
            "id": media_url(frame.base, asset, f"captions.{lang}.vtt"),
            "type": "Text",
            "format": VTT_FORMAT,
            "language": lang,
        }
        if lang in LANGUAGE_NAMES:
            body["label"] = bilingual(LANGUAGE_NAMES[lang], frame.vi)
        items.append(
            {
                "id": f"{page_id}/{lang}",
                "type": "Annotation",
                "motivation": "supplementing",
                "body": body,
                "target": canvas_id,
            }
        )
    return {"id": page_id, "type": "AnnotationPage", "items": items}


def av_canvas(asset: Asset, number: int, frame: Frame) -> dict[str, Any]:
    technical = asset.technical or {}
    duration = duration_of(technical)
    canvas_id = f"{frame.manifest_id}/canvas/{asset.id}"
    body: dict[str, Any] = {
        "id": media_url(frame.base, asset, "master.m3u8"),
        "type": AV_TYPES[asset.kind],
        "format": HLS_FORMAT,
        "duration": duration,
    }
    canvas: dict[str, Any] = {
        "id": canvas_id,
        "type": "Canvas",
        "label": _canvas_label(asset, number, frame),
        "duration": duration,
    }
    size = image_size(technical) if asset.kind == "video" else None
    if size:
        body["width"], body["height"] = size
        canvas["width"], canvas["height"] = size
    canvas["items"] = [_painting_page(canvas_id, body)]
    captions = _captions_page(asset, canvas_id, frame)
    if captions:
        canvas["annotations"] = [captions]
    return canvas


def model_scene(asset: Asset, number: int, frame: Frame) -> dict[str, Any]:
    """A draft IIIF 3D Scene (Presentation 4.0 draft): not valid Presentation 3.0."""
    scene_id = f"{frame.manifest_id}/scene/{asset.id}"
    filename = str((asset.technical or {}).get("model") or DEFAULT_MODEL_FILE)
    body = {"id": media_url(frame.base, asset, filename), "type": "Model", "format": GLB_FORMAT}
    return {
        "id": scene_id,
        "type": "Scene",
        "label": _canvas_label(asset, number, frame),
        "items": [_painting_page(scene_id, body)],
    }


def build_items(
    assets: Iterable[Asset],
    frame: Frame,
    include_3d: bool,
    rights: Callable[[Asset], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One Canvas (or draft Scene) per displayable published asset, in the assets' order;
    ``rights(asset)`` adds what each of the asset's canvases says of its own rights."""
    items: list[dict[str, Any]] = []
    for asset in assets:
        if not displayable(asset, include_3d):
            if asset.published_version is not None and asset.kind in DISPLAY_KINDS:
                log.warning("asset %s has unusable technical data; left out of IIIF", asset.id)
            continue
        number = len(items) + 1
        if asset.kind in IMAGE_KINDS:
            made = image_canvases(asset, number, frame)
        elif asset.kind in AV_TYPES:
            made = [av_canvas(asset, number, frame)]
        else:
            made = [model_scene(asset, number, frame)]
        extra = rights(asset) if rights is not None else {}
        items.extend({**canvas, **extra} for canvas in made)
    return items


def canvas_rights(asset: Asset, record: Record, vi: Translate) -> dict[str, Any]:
    """A canvas's own ``requiredStatement`` and ``rights`` where its media item's credit or
    licence differs from the record's (a visitor's photograph on a museum record)."""
    from server.media_rights import attribution_of, own_licence

    out: dict[str, Any] = {}
    if credit := attribution_of(asset, "vi"):
        out["requiredStatement"] = {
            "label": bilingual(N_("Attribution"), vi),
            "value": none_map(credit),
        }
    licence = own_licence(asset)
    if licence and licence != (record.rights or "").strip() and (rights := iiif_rights(licence)):
        out["rights"] = rights
    return out


# The Manifest


def iiif_rights(uri: str) -> str | None:
    """The record's rights URI in the form the spec requires, or None when it cannot be used.

    Creative Commons and RightsStatements.org URIs must be given as ``http``
    (the canonical form; IIIF/api#1874); anything else is left to
    ``requiredStatement``.
    """
    value = uri.strip()
    for host in RIGHTS_HOSTS:
        if value.startswith(f"https://{host}/"):
            value = "http://" + value.removeprefix("https://")
    return value if value.startswith(RIGHTS_PREFIXES) else None


def _ranking_text(record: Record) -> str:
    year = record.ranking_year.strip()
    if record.ranking and year and year not in record.ranking:
        return f"{record.ranking} ({year})"
    return record.ranking


def metadata(record: Record, vi: Translate) -> list[dict[str, LanguageMap]]:
    """Label/value pairs people read; labels bilingual, vocabulary values translated."""
    pairs: list[tuple[str, LanguageMap]] = [
        (N_("Identifier"), none_map(record.id)),
        (N_("Kind of heritage"), bilingual(KINDS[record.kind], vi) if record.kind in KINDS else {}),
        (
            N_("Designation"),
            bilingual(DESIGNATIONS[record.designation], vi)
            if record.designation in DESIGNATIONS
            else {},
        ),
        (N_("Category"), language_map({"vi": record.category})),
        (N_("Ranking or listing"), language_map({"vi": _ranking_text(record)})),
        (N_("Dating"), none_map(record.dating)),
        (N_("Communities"), none_map(*split_list(record.ethnic_groups))),
        (N_("Location"), none_map(record.location_current)),
        (N_("Location before 1 July 2025"), none_map(record.location_historical)),
        (N_("Materials"), none_map(*record.materials)),
    ]
    return [{"label": bilingual(label, vi), "value": value} for label, value in pairs if value]


def required_statement(record: Record, vi: Translate) -> dict[str, LanguageMap]:
    """Credit line, else rights holder, else the provincial Department of Culture."""
    value = language_map(record.credit_line) or none_map(record.rights_holder)
    return {
        "label": bilingual(N_("Attribution"), vi),
        "value": value or bilingual(DEFAULT_HOLDER, vi),
    }


def provider(base: str, vi: Translate) -> list[dict[str, Any]]:
    name = bilingual(MUSEUM_NAME, vi)
    home = {
        "id": f"{base}/",
        "type": "Text",
        "label": name,
        "format": "text/html",
        "language": ["vi", "en"],
    }
    return [{"id": f"{base}/#museum", "type": "Agent", "label": name, "homepage": [home]}]


def _links(bundle: RecordBundle, base: str, label: LanguageMap, vi: Translate) -> dict[str, Any]:
    record_id = bundle.record.id
    part_of = [{"id": collection_url(base, ALL_COLLECTION), "type": "Collection"}]
    part_of += [
        {"id": collection_url(base, COLLECTION_PREFIX + c.id), "type": "Collection"}
        for c in bundle.collections
    ]
    return {
        "homepage": [
            {
                "id": f"{base}/items/{record_id}",
                "type": "Text",
                "label": label,
                "format": "text/html",
                "language": ["vi", "en"],
            }
        ],
        "seeAlso": [
            {
                "id": f"{base}/api/v1/records/{record_id}",
                "type": "Dataset",
                "label": bilingual(N_("Catalog record (JSON)"), vi),
                "format": PLAIN_JSON,
            }
        ],
        "partOf": part_of,
    }


def _behavior(shown: Sequence[Asset], items: Sequence[dict[str, Any]]) -> list[str]:
    """``paged`` when every item is a page image and there are several; nothing otherwise."""
    pages = sum(1 for a in shown if a.kind == "document" or a.role == PAGE_ROLE)
    still = all(item["type"] == "Canvas" and "duration" not in item for item in items)
    return ["paged"] if len(items) > 1 and still and pages == len(items) else []


def no_manifest(bundle: RecordBundle) -> NotFound:
    """Why a visible record has no Manifest: nothing published, or 3D only."""
    record_id = bundle.record.id
    if any(displayable(a, include_3d=True) for a in bundle.assets):
        return NotFound(
            N_(
                "Heritage item {record_id} has only 3D media, which IIIF Presentation 3.0 "
                "cannot describe; add ?draft3d=1 for a draft 3D manifest."
            ),
            parameter="record_id",
            record_id=record_id,
        )
    return NotFound(
        N_("Heritage item {record_id} has no digitized media yet, so it has no IIIF manifest."),
        parameter="record_id",
        record_id=record_id,
    )


def build_manifest(
    bundle: RecordBundle, base: str, vi: Translate, *, include_3d: bool = False
) -> dict[str, Any]:
    """The Presentation 3.0 Manifest of a record (``include_3d`` adds draft 3D Scenes).

    Raises :class:`NotFound` when nothing can be shown: the spec requires at
    least one item, so a record without published media has no Manifest.
    """
    record = bundle.record
    manifest_id = manifest_url(base, record.id)
    items = build_items(
        bundle.assets,
        Frame(base, manifest_id, vi),
        include_3d,
        lambda asset: canvas_rights(asset, record, vi),
    )
    if not items:
        raise no_manifest(bundle)
    shown = [a for a in bundle.assets if displayable(a, include_3d)]
    label = language_map(record.title) or none_map(record.id)
    manifest: dict[str, Any] = {"@context": CONTEXT, "id": manifest_id, "type": "Manifest"}
    manifest["label"] = label
    if summary := language_map(record.description):
        manifest["summary"] = summary
    manifest["metadata"] = metadata(record, vi)
    manifest["requiredStatement"] = required_statement(record, vi)
    if rights := iiif_rights(record.rights):
        manifest["rights"] = rights
    manifest["provider"] = provider(base, vi)
    first_image = next((a for a in shown if a.kind in IMAGE_KINDS), None)
    if first_image is not None:
        manifest["thumbnail"] = [thumbnail(base, first_image.id)]
    if behavior := _behavior(shown, items):
        manifest["behavior"] = behavior
    manifest.update(_links(bundle, base, label, vi))
    manifest["items"] = items
    return manifest


@dataclass(frozen=True)
class ManifestEntry:
    """A record that has a Manifest, as a Collection lists it."""

    record_id: str
    title: Mapping[str, str]
    thumbnail_asset: str | None


@dataclass(frozen=True)
class CollectionSource:
    """Everything a Collection document is built from."""

    collection_id: str
    title: LanguageMap
    summary: LanguageMap
    entries: list[ManifestEntry]


def build_collection(source: CollectionSource, base: str, vi: Translate) -> dict[str, Any]:
    """A Presentation 3.0 Collection that references (never embeds) each Manifest."""
    items = []
    for entry in source.entries:
        item: dict[str, Any] = {
            "id": manifest_url(base, entry.record_id),
            "type": "Manifest",
            "label": language_map(entry.title) or none_map(entry.record_id),
        }
        if entry.thumbnail_asset:
            item["thumbnail"] = [thumbnail(base, entry.thumbnail_asset)]
        items.append(item)
    collection: dict[str, Any] = {
        "@context": CONTEXT,
        "id": collection_url(base, source.collection_id),
        "type": "Collection",
        "label": source.title,
    }
    if source.summary:
        collection["summary"] = source.summary
    collection["provider"] = provider(base, vi)
    collection["items"] = items
    return collection
