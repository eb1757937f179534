"""What a record page needs to show its images and documents in deep zoom.

Only an asset with a published version of the image pipeline is shown. Each page of a
document is its own IIIF image (``<asset id>~<n>``, as in the record's Manifest), with its
OCR lines at ``/iiif/3/annotations/<image id>`` when Tesseract read any; an image is one
page named by the asset id. The template turns these into addresses with ``path_for``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from server.i18n import localized
from server.iiif_manifest import (
    IMAGE_KINDS,
    document_pages,
    image_size,
    ocr_layer_public,
    page_identifier,
)
from server.models import Asset
from server.vocab import GUIDE_ROLE

# The widest thumbnail a record page shows before script runs: its column is at most
# 68rem (about 1100 CSS px), and the pipeline's thumbnails are 150, 400 and 1200 px wide.
DISPLAY_WIDTH = 1200
THUMBNAIL_ROLE = "thumbnail:"


@dataclass(frozen=True)
class Page:
    number: int
    identifier: str  # the IIIF image id: the asset id, or "<asset id>~<n>" for a document page
    width: int
    height: int
    text: bool  # OCR read lines on it: /iiif/3/annotations/<identifier> answers


@dataclass(frozen=True)
class Thumbnail:
    path: str  # below /media/: "<asset>/<version>/thumb-1200.jpg"
    width: int
    height: int


@dataclass(frozen=True)
class ImageViewer:
    asset_id: str
    kind: str  # "image" or "document"
    label: str  # the asset's own label in the page's language; "" when it has none
    pages: tuple[Page, ...]
    thumbnails: tuple[Thumbnail, ...]  # narrowest first, of the first page
    alt: str = ""  # the alt text a person accepted, in the page's language ("": none yet)

    @property
    def thumbnail(self) -> Thumbnail | None:
        """The widest thumbnail a page column needs (the no-script picture)."""
        fitting = [t for t in self.thumbnails if t.width <= DISPLAY_WIDTH] or self.thumbnails[:1]
        return fitting[-1] if fitting else None

    @property
    def has_text(self) -> bool:
        return any(page.text for page in self.pages)


def viewers(assets: Iterable[Asset], lang: str) -> list[ImageViewer]:
    """The record's published images and documents, in catalog order, for ``_images.html``."""
    return [_viewer(asset, lang) for asset in assets if _viewable(asset)]


def _viewable(asset: Asset) -> bool:
    technical = asset.technical or {}
    return (
        asset.kind in IMAGE_KINDS
        and asset.role != GUIDE_ROLE
        and asset.published_version is not None
        and technical.get("pipeline") == "image"
        and image_size(technical) is not None
    )


def _viewer(asset: Asset, lang: str) -> ImageViewer:
    technical = asset.technical
    pages = _pages(asset)
    first = pages[0]
    return ImageViewer(
        asset_id=asset.id,
        kind=asset.kind,
        label=localized(asset.label, lang) if asset.label else "",
        pages=pages,
        thumbnails=_thumbnails(
            f"{asset.id}/{asset.published_version}", technical, first.width, first.height
        ),
        alt=str((technical.get("alt") or {}).get(lang) or ""),
    )


def _pages(asset: Asset) -> tuple[Page, ...]:
    """A document's usable pages; an image (or a document without page data) is one page.
    A page has text only once a person accepted the machine's reading."""
    technical = asset.technical
    reviewed = ocr_layer_public(asset)
    found = document_pages(technical) if asset.kind == "document" else []
    if not found:
        width, height = image_size(technical) or (0, 0)
        text = reviewed and bool(_first_page_ocr(technical))
        return (Page(1, asset.id, width, height, text),)
    return tuple(
        Page(
            number=int(page["page"]),
            identifier=page_identifier(asset.id, int(page["page"])),
            width=int(page["width"]),
            height=int(page["height"]),
            text=reviewed and bool(page.get("ocr")),
        )
        for page in found
    )


def _first_page_ocr(technical: Mapping[str, Any]) -> Any:
    """The OCR lines of an image's only page (the annotations endpoint reads page 1)."""
    pages = technical.get("pages")
    first = pages[0] if isinstance(pages, list) and pages else None
    return first.get("ocr") if isinstance(first, dict) else None


def _thumbnails(
    folder: str, technical: Mapping[str, Any], width: int, height: int
) -> tuple[Thumbnail, ...]:
    """The pipeline's thumbnails (``thumbnail:<width>`` roles), each as large as it really is.

    The pipeline never enlarges: a thumbnail asked 1200 px wide of an 800 px image is
    800 px, so two of them may be the same picture; only the first of those is kept.
    """
    named = technical.get("thumbnails")
    if not isinstance(named, dict) or width <= 0 or height <= 0:
        return ()
    found: dict[int, Thumbnail] = {}
    for role, path in named.items():
        wanted = role.removeprefix(THUMBNAIL_ROLE)
        if not role.startswith(THUMBNAIL_ROLE) or not wanted.isdigit() or not isinstance(path, str):
            continue
        shown = min(int(wanted), width)
        found.setdefault(shown, Thumbnail(f"{folder}/{path}", shown, round(height * shown / width)))
    return tuple(found[w] for w in sorted(found))
