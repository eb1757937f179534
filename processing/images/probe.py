"""Recognise an image from its bytes and read its header, refusing what is over a limit.

Nothing here decodes pixels: libvips loaders read the header when the image is
opened and the pixels only when something asks for them, so a decompression
bomb or an over-size scan is refused in milliseconds.

Only the loaders this pipeline supports may run. :func:`configure_vips` blocks
every libvips loader and unblocks the allow-list below, so ImageMagick
(``magickload``), SVG, MATLAB, FITS, CSV and the other untrusted loaders can
never be reached, whatever the file claims to be. Ghostscript is never used:
PDFs go through poppler (``pdfload``), which libvips marks untrusted, so it is
allowed by name and only ever runs in the resource-limited sandbox child.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips

from processing.images.model import ImageError, ImageOptions
from processing.sniff import HEADER_BYTES, sniff_bytes

# Sniffed media type -> (libvips loader, short format name).
LOADERS: dict[str, tuple[str, str]] = {
    "image/jpeg": ("jpegload", "jpeg"),
    "image/png": ("pngload", "png"),
    "image/tiff": ("tiffload", "tiff"),
    "image/webp": ("webpload", "webp"),
    "image/jp2": ("jp2kload", "jp2"),
    "image/jpx": ("jp2kload", "jp2"),
    "image/j2k": ("jp2kload", "j2k"),
    "image/heic": ("heifload", "heif"),
    "image/heif": ("heifload", "heif"),
    "image/avif": ("heifload", "avif"),
    "application/pdf": ("pdfload", "pdf"),
}
# The libvips classes behind those loaders (file, buffer and source variants).
ALLOWED_LOADER_CLASSES = (
    "VipsForeignLoadJpeg",
    "VipsForeignLoadPng",
    "VipsForeignLoadTiff",
    "VipsForeignLoadWebp",
    "VipsForeignLoadJp2k",
    "VipsForeignLoadHeif",
    "VipsForeignLoadPdf",
)
# Loaders whose "page" option selects a document page (jp2kload's selects a resolution).
PAGED_LOADERS = ("tiffload", "pdfload")
VECTOR_LOADERS = ("pdfload",)
# Truncated or corrupt data is an error, not a grey half-image. "warning" would
# also refuse the harmless libjpeg warnings many camera files trigger.
FAIL_ON = "error"
# Magic numbers processing.sniff leaves to filetype, which misses these two.
BIGTIFF_MAGIC = (b"II+\x00", b"MM\x00+")
J2K_CODESTREAM_MAGIC = b"\xff\x4f\xff\x51"
# Words in a libvips error that blame the input rather than the processing.
TRUNCATION_WORDS = ("premature end", "truncated", "unexpected end", "end of file", "short read")
DECODER_WORDS = (
    *("load", "vipsjpeg", "jpeg", "png", "spng", "tiff", "jp2k", "openjpeg", "heif", "webp"),
    *("poppler", "pdf", "corrupt", "decode", "invalid", "read error", "bad "),
)
SAMPLE_BITS = {
    "uchar": 8,
    "char": 8,
    "ushort": 16,
    "short": 16,
    "uint": 32,
    "int": 32,
    "float": 32,
    "double": 64,
    "complex": 64,
    "dpcomplex": 128,
}
# A pyramidal TIFF stores each level as a page about half the size of the one before.
PYRAMID_STEP_TOLERANCE = 1

_configured = False


def configure_vips() -> None:
    """Block every libvips loader except the allow-list (idempotent, process-wide)."""
    global _configured
    if _configured:
        return
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for name in ALLOWED_LOADER_CLASSES:
        pyvips.operation_block_set(name, False)
    _configured = True


@dataclass(frozen=True)
class Page:
    index: int  # 0-based page in the file
    width: int
    height: int


@dataclass(frozen=True)
class Probe:
    """What the header says, before any pixel is decoded."""

    path: Path
    media_type: str
    loader: str
    format: str  # jpeg, png, tiff, webp, jp2, j2k, heif, avif, pdf
    kind: str  # image | document
    width: int
    height: int
    bands: int
    bits: int
    interpretation: str
    orientation: int  # EXIF orientation 1-8
    page_count: int  # pages (or frames) in the file
    pages: tuple[Page, ...]  # what will be processed: one page for an image
    warnings: tuple[str, ...] = ()

    @property
    def pixels(self) -> int:
        return sum(page.width * page.height for page in self.pages)


def sniff_image(path: Path) -> str:
    """The media type from the file's bytes (never its name)."""
    with path.open("rb") as handle:
        header = handle.read(HEADER_BYTES)
    if header.startswith(BIGTIFF_MAGIC):
        return "image/tiff"
    if header.startswith(J2K_CODESTREAM_MAGIC):
        return "image/j2k"
    return sniff_bytes(header, path.name).media_type


SHRINK_ON_LOAD = frozenset({"jpegload"})


def load(
    path: Path,
    loader: str,
    *,
    page: int = 0,
    access: str = "sequential",
    dpi: int | None = None,
    fail_on: str = FAIL_ON,
    shrink: int = 1,
) -> pyvips.Image:
    """Open one page lazily (header now, pixels on demand) with truncation as an error.

    ``fail_on="none"`` turns damage found while decoding into libvips warnings
    (see :func:`vips_warnings`), for the one step where an error would crash libvips.
    ``shrink`` (2, 4 or 8; JPEG only) decodes at that fraction of the size, each side
    rounded up, by libjpeg's DCT scaling: far less work than decoding it all.
    """
    options: dict[str, Any] = {"access": access, "fail_on": fail_on}
    if shrink != 1:
        if loader not in SHRINK_ON_LOAD:
            raise ValueError(f"{loader} cannot shrink while decoding")
        options["shrink"] = shrink
    if loader in PAGED_LOADERS:
        options["page"] = page
    if loader in VECTOR_LOADERS and dpi is not None:
        options["dpi"] = dpi
    try:
        image = pyvips.Operation.call(loader, str(path), **options)
    except pyvips.Error as exc:
        raise vips_error(exc, path) from exc
    if not isinstance(image, pyvips.Image):  # pragma: no cover - libvips contract
        raise ImageError("unreadable", f"The {loader} loader returned no image for {path.name}.")
    return image


def vips_error(exc: pyvips.Error, path: Path) -> ImageError:
    """One English sentence from a libvips error: its last meaningful line.

    Errors from a loader or a codec (where a truncated file shows up, often
    only when the pixels are read) mean the file is damaged: ``malformed``.
    Anything else is the processing failing: ``failed``.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = next((line for line in reversed(lines) if not line.startswith("unable to")), "")
    detail = (detail or (lines[-1] if lines else "unknown error")).rstrip(".")
    lowered = str(exc).lower()
    if "operation is blocked" in lowered:
        return ImageError("unsupported_format", f"{path.name} needs a loader that is not allowed.")
    if any(word in lowered for word in TRUNCATION_WORDS):
        return malformed(path, detail, truncated=True)
    if any(word in lowered for word in DECODER_WORDS):
        return malformed(path, detail, truncated=False)
    return ImageError("failed", f"Processing {path.name} failed in libvips ({detail}).")


def malformed(path: Path, detail: str, *, truncated: bool) -> ImageError:
    """A damaged file's refusal, naming libvips' own words in ``detail``."""
    what = "is truncated" if truncated else "is damaged and cannot be decoded"
    return ImageError("malformed", f"{path.name} {what} ({detail}).")


@contextmanager
def vips_warnings() -> Iterator[list[str]]:
    """The warnings libvips gives while the block runs (pyvips passes them to ``logging``).

    libvips 8.14's pyramidal ``tiffsave`` crashes (a NULL seek while it cleans up)
    when its source fails half-way, as a truncated JPEG does with ``fail_on``: so the
    pyramid decodes with ``fail_on="none"`` and :func:`damage_in` reads the warnings.
    libvips logs them when the load is freed, so the block must let go of its images.
    """
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("pyvips")
    handler = Collect(logging.WARNING)
    level = logger.level
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield seen
        # A load logs its warnings when it is freed, and libvips' operation cache keeps it:
        # emptying the cache frees it now (the caller must hold no image from it).
        size = pyvips.cache_get_max()
        pyvips.cache_set_max(0)
        pyvips.cache_set_max(size)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def damage_in(warnings: list[str], path: Path) -> ImageError | None:
    """The refusal ``fail_on=FAIL_ON`` would have raised, from warnings libvips gave instead.

    Truncation and decoder errors (a PNG's CRC, a JPEG 2000 tile) refuse the file;
    libjpeg's "Corrupt JPEG data" notes, which many camera files trigger, do not,
    as with ``fail_on="error"``.
    """
    for message in warnings:
        lowered = message.lower()
        if "corrupt jpeg data" in lowered or ("gave" in lowered and "warning" in lowered):
            continue
        detail = message.removeprefix("VIPS: ").strip().rstrip(".")
        if any(word in lowered for word in (*TRUNCATION_WORDS, "not enough data")):
            return malformed(path, detail, truncated=True)
        if "error" in lowered or "crc" in lowered:
            return malformed(path, detail, truncated=False)
    return None


def probe(path: Path, options: ImageOptions) -> Probe:
    """Identify ``path`` and check every limit from its headers; raise :class:`ImageError`."""
    configure_vips()
    size = _check_size(path, options.limits.max_bytes)
    media_type = sniff_image(path)
    if media_type not in LOADERS:
        raise ImageError(
            "unsupported_format",
            f"{path.name} is {media_type}, which is not a supported image or document format "
            "(supported: JPEG, PNG, TIFF, WebP, JPEG 2000, HEIF/AVIF, PDF).",
        )
    loader, short = LOADERS[media_type]
    first = load(path, loader, dpi=options.document_dpi)
    page_count = _page_count(first, loader)
    if page_count > options.limits.max_pages:
        raise ImageError(
            "too_many_pages",
            f"{path.name} has {page_count} pages; the limit is {options.limits.max_pages}.",
        )
    pages = [Page(0, first.width, first.height)]
    if loader in PAGED_LOADERS and page_count > 1:
        pages += [_page_size(path, loader, index, options) for index in range(1, page_count)]
    kind = options.kind or _guess_kind(short, pages)
    chosen, warnings = _choose_pages(kind, pages, page_count, loader)
    result = Probe(
        path=path,
        media_type=media_type,
        loader=loader,
        format=short,
        kind=kind,
        width=first.width,
        height=first.height,
        bands=first.bands,
        bits=SAMPLE_BITS.get(str(first.format), 0),
        interpretation=str(first.interpretation),
        orientation=orientation_of(first),
        page_count=page_count,
        pages=tuple(chosen),
        warnings=tuple(warnings),
    )
    check_pixels(result, size, options)
    return result


def _check_size(path: Path, max_bytes: int) -> int:
    size = path.stat().st_size
    if size > max_bytes:
        raise ImageError(
            "input_too_large", f"{path.name} is {size:,} bytes; the limit is {max_bytes:,} bytes."
        )
    if size == 0:
        raise ImageError("malformed", f"{path.name} is empty.")
    return size


def _choose_pages(
    kind: str, pages: list[Page], page_count: int, loader: str
) -> tuple[list[Page], list[str]]:
    """The pages to process: all of a document, the first of an image or a pyramid's levels."""
    if _is_pyramid(pages):
        return pages[:1], []
    if kind == "image" and len(pages) > 1:
        note = (
            f"The file has {page_count} pages; only the first was processed "
            "(process it as a document for every page)."
        )
        return pages[:1], [note]
    if page_count > 1 and loader not in PAGED_LOADERS:
        return pages, [f"The file holds {page_count} images or frames; only the first was used."]
    return pages, []


def check_pixels(found: Probe, size: int, options: ImageOptions) -> None:
    """Refuse an over-size page, or a raster that expands far beyond its file (a bomb)."""
    limits = options.limits
    for page in found.pages:
        pixels = page.width * page.height
        if pixels > limits.max_pixels:
            where = found.path.name
            if found.kind == "document":
                where = f"page {page.index + 1} of {where}"
            raise ImageError(
                "too_many_pixels",
                f"{where} is {page.width}×{page.height} ({_megapixels(pixels)} megapixels); "
                f"the limit is {_megapixels(limits.max_pixels)} megapixels.",
            )
    if found.loader in VECTOR_LOADERS or found.pixels < limits.bomb_min_pixels:
        return
    ratio = found.pixels / size
    if ratio > limits.max_pixels_per_byte:
        raise ImageError(
            "decompression_bomb",
            f"{found.path.name} is {found.width}×{found.height} pixels in {size:,} bytes "
            f"({ratio:,.0f} pixels per byte, limit {limits.max_pixels_per_byte:,.0f}): "
            "a decompression bomb, refused without decoding.",
        )


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:,.0f}" if pixels >= 10_000_000 else f"{pixels / 1e6:.2g}"


def _page_count(image: pyvips.Image, loader: str) -> int:
    if loader == "jp2kload":  # its "pages" are resolution levels
        return 1
    if image.get_typeof("n-pages"):
        return max(1, int(image.get("n-pages")))
    return 1


def _page_size(path: Path, loader: str, index: int, options: ImageOptions) -> Page:
    page = load(path, loader, page=index, dpi=options.document_dpi)
    return Page(index, page.width, page.height)


def _guess_kind(short: str, pages: list[Page]) -> str:
    """PDFs and multi-page TIFFs (that are not pyramids) are documents; the rest are images."""
    if short == "pdf":
        return "document"
    if len(pages) > 1 and not _is_pyramid(pages):
        return "document"
    return "image"


def _is_pyramid(pages: list[Page]) -> bool:
    """Each page about half the one before: the levels of a pyramidal TIFF, not a document."""
    if len(pages) < 2:
        return False
    return all(
        abs(small.width - math.ceil(big.width / 2)) <= PYRAMID_STEP_TOLERANCE
        and abs(small.height - math.ceil(big.height / 2)) <= PYRAMID_STEP_TOLERANCE
        for big, small in itertools.pairwise(pages)
    )


def orientation_of(image: pyvips.Image) -> int:
    """The EXIF orientation libvips read (1, upright, when absent or out of range)."""
    if not image.get_typeof("orientation"):
        return 1
    value = int(image.get("orientation"))
    return value if 1 <= value <= 8 else 1
