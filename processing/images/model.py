"""The options, limits and error of the image pipeline.

Frozen dataclasses, so a job's options can be recorded in ``report.json`` and
sent across the sandbox boundary as JSON (:func:`processing.images.pipeline.options_to_json`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from processing.report import PipelineError

KINDS = ("image", "document")
GIB = 1024**3


class ImageError(PipelineError):
    """An input the image pipeline refuses or cannot read.

    ``reason`` is one English sentence naming the problem (it goes into
    ``report.json`` and on the command line); ``code`` is a stable key such as
    ``too_many_pixels`` or ``malformed`` for programs, tests and translations.
    """


@dataclass(frozen=True)
class ImageLimits:
    """What the pipeline accepts, checked from the headers before any pixel is decoded.

    ``max_pixels`` (per page) is 1 gigapixel: a 600 dpi scan of an A0 map is
    0.56 GP and stitched gigapixel panoramas are the largest captures museums
    make. libvips streams, so memory does not depend on it; what it bounds is
    time (about 2 s per 100 MP per output on 2 cores), the pyramid's disk use
    and the temporary file a rotated image needs (3 bytes per pixel).

    A raster larger than ``bomb_min_pixels`` that holds more than
    ``max_pixels_per_byte`` pixels per byte of file is a decompression bomb:
    photographs hold 1–30 pixels per byte, bilevel G4 text scans about 200,
    while a zero-filled PNG reaches 1,000 (8-bit) to 8,000 (1-bit). PDFs are
    vector pages rendered at a chosen resolution and are bounded by
    ``max_pixels`` and ``max_pages`` instead.
    """

    max_pixels: int = 1_000_000_000
    max_bytes: int = 8 * GIB
    max_pages: int = 1000
    max_pixels_per_byte: float = 400.0
    bomb_min_pixels: int = 64_000_000


@dataclass(frozen=True)
class ImageOptions:
    """How an image or a document is turned into tiles, a pyramid and thumbnails."""

    kind: str | None = None  # image | document | None (decide from the file)
    tile_size: int = 512  # IIIF level-0 tiles and the pyramidal TIFF's tiles, px
    thumbnail_widths: tuple[int, ...] = (150, 400, 1200)  # px, never upscaled
    jpeg_quality: int = 85  # tiles (encoded once, inside pyramid.tif), thumbnails, DeepZoom
    dzi: bool = False  # also write a DeepZoom pyramid (dzi/image.dzi)
    watermark: str | None = None  # text over every public derivative
    document_dpi: int = 300  # resolution PDF pages are rendered at
    ocr_images: bool = True  # documents: a lossless grey page image per page for OCR
    ocr_languages: str | None = "vie+eng"  # Tesseract languages for documents; None: no OCR
    limits: ImageLimits = ImageLimits()

    def __post_init__(self) -> None:
        problems = []
        if self.kind is not None and self.kind not in KINDS:
            problems.append(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not 64 <= self.tile_size <= 4096 or self.tile_size % 16:
            problems.append(
                f"tile_size must be a multiple of 16 from 64 to 4096 px, not {self.tile_size}"
            )
        if not self.thumbnail_widths or any(not 1 <= w <= 8192 for w in self.thumbnail_widths):
            problems.append(f"thumbnail widths must be 1–8192 px, not {self.thumbnail_widths}")
        if not 1 <= self.jpeg_quality <= 100:
            problems.append(f"jpeg_quality must be 1–100, not {self.jpeg_quality}")
        if not 36 <= self.document_dpi <= 1200:
            problems.append(f"document_dpi must be 36–1200, not {self.document_dpi}")
        if self.watermark is not None and not self.watermark.strip():
            problems.append("the watermark text is empty")
        if problems:
            raise ImageError("invalid_parameter", "; ".join(problems).capitalize() + ".")

    def parameters(self) -> dict[str, Any]:
        """The options as JSON for the report (what a rerun needs to reproduce the output)."""
        data = asdict(self)
        data["thumbnail_widths"] = list(self.thumbnail_widths)
        return data
