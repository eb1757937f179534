"""The image pipeline: a photograph, scan or document in; IIIF tiles, a pyramid, thumbnails out.

Steps, each timed in the report: probe (format from the bytes, every limit
from the headers, nothing decoded), metadata, then per page: a pyramidal TIFF
(the one full decode), the IIIF level-0 tiles cut from it, thumbnails (from
the TIFF's nearest level), checksums, and optionally DeepZoom and a lossless
page image for OCR.

Every output streams from a fresh, lazy open of the source through the same
image → image steps (orient, to sRGB, watermark, strip metadata), so memory
does not grow with the image: libvips never holds more than a few tile rows
(a rotated image needs random access, which libvips serves from a temporary
file beside, not in, memory). The same input and options give byte-identical
files; only the report's timings differ.

:func:`process` works in-process; :func:`run_job` is the entry point for
:mod:`processing.sandbox` (a child process with memory and CPU limits).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pyvips

from processing.images import color, pyramid
from processing.images.fallback import transcode_jpeg2000
from processing.images.metadata import public_copy, read_metadata, rights_xmp
from processing.images.model import ImageError, ImageLimits, ImageOptions
from processing.images.probe import (
    FAIL_ON,
    SHRINK_ON_LOAD,
    Page,
    Probe,
    damage_in,
    load,
    orientation_of,
    probe,
    vips_error,
    vips_warnings,
)
from processing.images.report import (
    PIPELINE,
    REPORT_VERSION,
    Progress,
    Steps,
    describe,
    failure_report,
    sha256,
    tool_versions,
    write_report,
)
from processing.images.watermark import apply_watermark

__all__ = ["failure_report", "options_from_json", "options_to_json", "process", "run_job"]

JPEG = "image/jpeg"
INFO_TYPE = "application/ld+json"
SEQUENTIAL_ORIENTATIONS = (1, 2)  # upright or mirrored: rows still come top to bottom
MM_PER_INCH = 25.4
OCR_PNG_COMPRESSION = 3  # fast; the page image is an intermediate, not an archive
OCR_LINES = "lines.json"  # the text lines with their boxes in page pixels, for IIIF


def process(
    source: Path, out: Path, options: ImageOptions, progress: Progress | None = None
) -> dict[str, Any]:
    """Process ``source`` into the empty folder ``out``; return (and write) the report.

    Raises :class:`ImageError` for a refused or unreadable input; the caller
    decides where the failure report goes.
    """
    steps = Steps(progress)
    with steps.step("probe", 1):
        found = probe(source, options)
    with steps.step("metadata", 2):
        metadata = read_metadata(
            load(source, found.loader, dpi=options.document_dpi), source, found.format
        )
    xmp = rights_xmp(metadata["rights"])
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "status": "ok",
        "pipeline": PIPELINE,
        "kind": found.kind,
        "source": _describe_source(found),
        "parameters": options.parameters(),
    }
    out.mkdir(parents=True, exist_ok=True)
    warnings = list(found.warnings)
    artefacts: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    document = found.kind == "document"
    span = 95 / len(found.pages)
    with tempfile.TemporaryDirectory(prefix="image-") as scratch:
        for number, page in enumerate(found.pages, 1):
            work = _PageWork(found, page, out, options, xmp, steps, warnings)
            work.place(number if document else None, (3 + (number - 1) * span, span))
            page_artefacts, stats = _run_page(work, Path(scratch))
            artefacts += page_artefacts
            pages.append(stats)
    if document:
        artefacts += _document_thumbnails(out, pages[0], options)
    first = pages[0]
    statistics = {
        key: first[key]
        for key in ("width", "height", "tile_size", "scale_factors", "sizes", "tiles", "colour")
    }
    statistics.update(pages=pages, page_count=len(pages), metadata=metadata)
    report.update(
        artefacts=artefacts,
        statistics=statistics,
        timings=steps.timings,
        tools=_tools(pages),
        warnings=list(dict.fromkeys(warnings)),
    )
    write_report(out, report)
    return report


def _tools(pages: list[dict[str, Any]]) -> dict[str, str]:
    tools = tool_versions()
    if any(page.get("ocr") for page in pages):
        from processing.ocr import tesseract_version

        tools["tesseract"] = tesseract_version()
    return tools


def _run_page(work: _PageWork, scratch: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run one page; a JPEG 2000 libvips cannot decode is retried through Pillow."""
    try:
        return work.run()
    except ImageError as exc:
        if work.found.loader != "jp2kload" or exc.code != "malformed":
            raise
        _clear(work.out / work.prefix)
        decoded = transcode_jpeg2000(work.found.path, scratch, exc.reason)
        work.warnings.append(
            f"libvips could not decode this JPEG 2000 ({exc.reason.rstrip('.')}); "
            "Pillow decoded it instead."
        )
        found = replace(work.found, path=decoded, loader="tiffload", format="tiff")
        retry = _PageWork(
            found,
            replace(work.page, index=0),
            work.out,
            work.options,
            work.xmp,
            work.steps,
            work.warnings,
        )
        retry.place(work.number, work.percent)
        return retry.run()


def _clear(folder: Path) -> None:
    """Remove what a failed attempt left in ``folder`` (the page's own, empty at the start)."""
    for child in folder.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


class _PageWork:
    """Every derivative of one page (an image is a one-page document without the prefix)."""

    def __init__(
        self,
        found: Probe,
        page: Page,
        out: Path,
        options: ImageOptions,
        xmp: bytes | None,
        steps: Steps,
        warnings: list[str],
    ) -> None:
        self.found, self.page, self.out, self.options = found, page, out, options
        self.xmp, self.steps, self.warnings = xmp, steps, warnings
        self.number: int | None = None
        self.prefix = ""
        self.percent = (3.0, 95.0)
        self.artefacts: list[dict[str, Any]] = []

    def place(self, number: int | None, percent: tuple[float, float]) -> None:
        """Page ``number`` of a document (files under ``pages/0001/``), or the image itself."""
        self.number = number
        self.prefix = "" if number is None else f"pages/{number:04d}/"
        self.percent = percent

    def run(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Tiles, pyramid, thumbnails, info.json, checksums (+ DeepZoom, + OCR input)."""
        folder = self.out / self.prefix
        folder.mkdir(parents=True, exist_ok=True)
        before = color.describe(self._open())
        public = self._prepared(public=True)
        tiles, digests = self._tiles(public, folder)
        sizes = sorted({*tiles.sizes, *self._thumbnails(folder, digests)})
        pyramid.write_info(
            folder / "iiif", public.width, public.height, self.options.tile_size, sizes
        )
        with self._step("checksums", 0.8):
            files, tile_bytes = pyramid.checksum_tiles(
                folder / "iiif", folder / pyramid.CHECKSUMS_FILE, digests
            )
        self._add(
            "iiif/info.json",
            INFO_TYPE,
            "info",
            tiles=tiles.count,
            files=files,
            bytes_total=tile_bytes,
            scale_factors=list(tiles.scale_factors),
            checksums=self.prefix + pyramid.CHECKSUMS_FILE,
        )
        self._add(pyramid.CHECKSUMS_FILE, "text/plain", "checksums")
        stats = self._stats(public, tiles, sizes, before, color.describe(public))
        if self.options.dzi:
            self._dzi(folder)
        if self.found.kind == "document" and self.options.ocr_images:
            with self._step("ocr-input", 0.92):
                stats["ocr_image"] = self._ocr_image(folder)
            if self.options.ocr_languages:
                with self._step("ocr", 0.94):
                    stats["ocr"] = self._ocr(folder, public.width)
        return self.artefacts, stats

    def _ocr(self, folder: Path, page_width: int) -> dict[str, Any] | None:
        """Tesseract on the page: hOCR, ALTO, text, and the lines the viewer highlights.

        A document that cannot be read as text is still a document: a missing
        language pack or a timeout becomes a warning, not a refusal.
        """
        from processing import ocr

        assert self.options.ocr_languages
        try:
            page = ocr.ocr_page(folder / "ocr.png", folder / "ocr", self.options.ocr_languages)
        except ocr.OcrError as exc:
            where = f"page {self.number}" if self.number else "the image"
            self.warnings.append(f"No text was read from {where}: {exc.reason}")
            return None
        scale = page_width / page.width if page.width else 1.0
        lines = {
            "language": page.language,
            "width": page.width,
            "height": page.height,
            "scale": scale,
            "lines": [
                {
                    "text": line.text,
                    "bbox": list(line.bbox),
                    "confidence": round(line.confidence, 3),
                    "language": line.language,
                }
                for line in page.lines
            ],
        }
        (folder / "ocr" / OCR_LINES).write_text(
            json.dumps(lines, ensure_ascii=False, separators=(",", ":")), "utf-8"
        )
        for name, media_type, role in (
            (ocr.TEXT_NAME, "text/plain", "ocr:text"),
            (ocr.HOCR_NAME, "text/vnd.hocr+html", "ocr:hocr"),
            (ocr.ALTO_NAME, "application/alto+xml", "ocr:alto"),
            (OCR_LINES, "application/json", "ocr:lines"),
        ):
            self._add(f"ocr/{name}", media_type, role)
        return {
            "text": self.prefix + "ocr/" + ocr.TEXT_NAME,
            "lines": self.prefix + "ocr/" + OCR_LINES,
            "language": page.language,
            "line_count": len(page.lines),
            "characters": len(page.text),
            "mean_confidence": round(page.mean_confidence, 3),
        }

    def _tiles(self, public: pyvips.Image, folder: Path) -> tuple[pyramid.Tiles, dict[str, str]]:
        """The pyramidal TIFF (the one full decode of the source; a JPEG's smaller levels from
        a second decode at half size, at the same time), then the IIIF tiles cut from it."""
        options = self.options
        with self._step("pyramid", 0.0), vips_warnings() as warnings:
            plain = self._plain_jpeg()
            warnings += pyramid.build_pyramid_tiff(
                self._prepared(public=True, fail_on="none"),
                folder / "pyramid.tif",
                options.tile_size,
                options.jpeg_quality,
                keep_metadata=self._keep,
                half=None if plain else self._half(),
                plain_jpeg=plain,
            )
        damage = damage_in(warnings, self.found.path)
        if damage is not None:
            raise damage
        self._add("pyramid.tif", "image/tiff", "pyramid", width=public.width, height=public.height)
        with self._step("tiles", 0.6):
            return pyramid.build_tiles(
                folder / "pyramid.tif",
                folder / "iiif",
                public.width,
                public.height,
                options.tile_size,
                options.jpeg_quality,
                xmp=self.xmp,
            )

    def _dzi(self, folder: Path) -> None:
        with self._step("dzi", 0.85):
            count = pyramid.build_dzi(
                self._prepared(public=True),
                folder / "dzi",
                self.options.jpeg_quality,
                keep_metadata=self._keep,
            )
        self._add(f"dzi/{pyramid.DZI_NAME}.dzi", "application/xml", "dzi", tiles=count)

    @property
    def _keep(self) -> bool:
        return self.xmp is not None

    @contextmanager
    def _step(self, name: str, share: float) -> Iterator[None]:
        start, span = self.percent
        with self.steps.step(name, start + share * span), vips_errors(self.found.path):
            yield

    def _open(
        self, access: str = "sequential", fail_on: str = FAIL_ON, shrink: int = 1
    ) -> pyvips.Image:
        return load(
            self.found.path,
            self.found.loader,
            page=self.page.index,
            access=access,
            dpi=self.options.document_dpi,
            fail_on=fail_on,
            shrink=shrink,
        )

    def _prepared(self, *, public: bool, fail_on: str = FAIL_ON, shrink: int = 1) -> pyvips.Image:
        """Upright 8-bit sRGB, lazily; public derivatives get the watermark and lose metadata."""
        image = self._open(fail_on=fail_on, shrink=shrink)
        orientation = orientation_of(image)
        if orientation not in SEQUENTIAL_ORIENTATIONS:
            image = self._open("random", fail_on, shrink)
        with vips_errors(self.found.path):
            image = color.orient(image, orientation)
            image, notes = color.to_srgb(image)
            if orientation != 1:
                notes.append(f"The EXIF orientation {orientation} was applied.")
            self.warnings.extend(notes)
            if public and self.options.watermark:
                image = apply_watermark(image, self.options.watermark)
        return public_copy(image, self.xmp if public else None)

    def _plain_jpeg(self) -> Path | None:
        """The source, when its decoded pixels are the public image as they are: a baseline
        JPEG, upright, sRGB (or grey) without another profile, with no watermark. libjpeg
        then reads it a strip at a time, without libvips' row cache."""
        if self.found.loader != "jpegload" or self.options.watermark or self.page.index:
            return None
        raw = self._open()
        progressive = raw.get("jpeg-multiscan") if raw.get_typeof("jpeg-multiscan") else 1
        description = color.icc_description(raw)
        plain = (
            orientation_of(raw) == 1
            and not progressive
            and raw.format == "uchar"
            and (raw.interpretation, raw.bands) in (("srgb", 3), ("b-w", 1))
            and (description is None or description.lower() in color.SRGB_DESCRIPTIONS)
        )
        return self.found.path if plain else None

    def _half(self) -> pyvips.Image | None:
        """The public image at half size, decoded on its own, when that is cheap: a JPEG
        shrinks while it decodes. Not with a watermark, whose size follows the image's."""
        if self.found.loader not in SHRINK_ON_LOAD or self.options.watermark:
            return None
        noted = len(self.warnings)
        half = self._prepared(public=True, fail_on="none", shrink=2)
        del self.warnings[noted:]  # the same notes as the full image's
        return half

    def _thumbnails(self, folder: Path, digests: dict[str, str]) -> list[tuple[int, int]]:
        """thumb-150.jpg … from the pyramid, each also a IIIF size under iiif/full/."""
        made = []
        with self._step("thumbnails", 0.75):
            for width in self.options.thumbnail_widths:
                name = f"thumb-{width}.jpg"
                w, h = pyramid.build_thumbnail(
                    folder / "pyramid.tif",
                    folder / name,
                    width,
                    self.options.jpeg_quality,
                    xmp=self.xmp,
                )
                thumb = (folder / name).read_bytes()
                digests.update(pyramid.add_size(folder / "iiif", (w, h), thumb))
                self._add(name, JPEG, f"thumbnail:{width}", width=w, height=h)
                made.append((w, h))
        return made

    def _ocr_image(self, folder: Path) -> dict[str, Any]:
        """A lossless grey page, unwatermarked, for Tesseract (a hook: OCR runs elsewhere)."""
        image = color.flatten(self._prepared(public=False)).colourspace("b-w")
        image.pngsave(str(folder / "ocr.png"), compression=OCR_PNG_COMPRESSION, strip=True)
        dpi = self._dpi(image)
        self._add("ocr.png", "image/png", "ocr-input", dpi=dpi)
        return {"path": self.prefix + "ocr.png", "dpi": dpi}

    def _dpi(self, image: pyvips.Image) -> float | None:
        if self.found.loader == "pdfload":
            return float(self.options.document_dpi)
        if image.get_typeof("resolution-unit") or self.found.format == "tiff":
            return round(image.xres * MM_PER_INCH, 1) if image.xres > 1 else None
        return None

    def _stats(
        self,
        public: pyvips.Image,
        tiles: pyramid.Tiles,
        sizes: list[tuple[int, int]],
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> dict[str, Any]:
        stats: dict[str, Any] = {
            "width": public.width,
            "height": public.height,
            "tile_size": self.options.tile_size,
            "scale_factors": list(tiles.scale_factors),
            "sizes": [{"width": w, "height": h} for w, h in sizes],
            "tiles": tiles.count,
            "colour": {"before": before, "after": after},
            "info": self.prefix + "iiif/info.json",
            "pyramid": self.prefix + "pyramid.tif",
        }
        if self.number is not None:
            stats = {"page": self.number, **stats}
        return stats

    def _add(self, name: str, media_type: str, role: str, **extra: Any) -> None:
        if self.number is not None:
            extra = {"page": self.number, **extra}
        self.artefacts.append(describe(self.out, self.prefix + name, media_type, role, **extra))


def _document_thumbnails(
    out: Path, first: dict[str, Any], options: ImageOptions
) -> list[dict[str, Any]]:
    """The first page's thumbnails, also at the top: the document's picture in lists."""
    made = []
    for width in options.thumbnail_widths:
        name = f"thumb-{width}.jpg"
        shutil.copyfile(out / "pages" / f"{first['page']:04d}" / name, out / name)
        made.append(describe(out, name, JPEG, f"thumbnail:{width}"))
    return made


@contextmanager
def vips_errors(path: Path) -> Iterator[None]:
    """libvips failures (a truncated file shows up only when pixels are read) as ImageError."""
    try:
        yield
    except pyvips.Error as exc:
        raise vips_error(exc, path) from exc


def _describe_source(found: Probe) -> dict[str, Any]:
    path = found.path
    return {
        "name": path.name,
        "bytes": path.stat().st_size,
        "sha256": sha256(path),
        "format": found.format,
        "media_type": found.media_type,
        "loader": found.loader,
        "width": found.width,
        "height": found.height,
        "bands": found.bands,
        "bits": found.bits,
        "interpretation": found.interpretation,
        "orientation": found.orientation,
        "pages": found.page_count,
    }


# Options across the process boundary


def options_to_json(options: ImageOptions) -> dict[str, Any]:
    return options.parameters()


def options_from_json(data: dict[str, Any]) -> ImageOptions:
    """Options a (possibly older) caller sent; names this version no longer has are dropped."""
    known = {field.name for field in fields(ImageOptions)}
    values = {key: value for key, value in data.items() if key in known}
    values["limits"] = ImageLimits(**values["limits"])
    values["thumbnail_widths"] = tuple(values["thumbnail_widths"])
    return replace(ImageOptions(), **values)


def run_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Sandbox entry point: ``{"source", "out", "options"}`` → the report."""
    from processing.sandbox_child import report_progress

    pyvips.cache_set_max(0)  # one job per process: cached operations would only hold memory
    return process(
        Path(payload["source"]),
        Path(payload["out"]),
        options_from_json(payload["options"]),
        progress=report_progress,
    )
