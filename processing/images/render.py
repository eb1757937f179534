"""Any region of a pyramidal TIFF at any size, rotation, quality and format, with libvips.

Used by the IIIF Image API server for requests no pre-generated tile answers,
and by the pipeline for the tiles it cannot copy from the pyramid (edges, the
levels the TIFF does not have, images with alpha). One renderer for both means
a static tile and a dynamic answer for the same URL are the same pixels.

A request is anything with the attributes of :class:`Plan` (the server's
:class:`server.iiif_image_params.ImagePlan` is one): a region in full-resolution
pixels, an output size, rotation, mirroring, quality and format.

The commonest request, a viewer's tile, is a JPEG of some pyramid level's pixels at
that level's own scale, upright, in colour. :func:`from_jpeg_tiles` answers it without
libvips: the JPEG tiles of the TIFF that cover it are decoded with libjpeg-turbo
(``simplejpeg``), the region is cut out of them and encoded once. It is the same
decoder libvips uses (libtiff hands the same tile bytes to libjpeg), so the pixels
are the same; it skips libvips' pipeline set-up, which costs more than the pixels
for a 256-px tile. Anything else is rendered by libvips.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Protocol

from processing.images import tiffjpeg

JPEG_QUALITY = 85
SUBSAMPLED_BELOW = 90  # libvips' jpegsave keeps full-resolution colour from Q90 up
COPY_TILES = 16  # the most TIFF tiles the libjpeg-turbo path decodes for one answer
BITONAL_THRESHOLD = 128
RIGHT_ANGLES: dict[float, str | None] = {0.0: None, 90.0: "d90", 180.0: "d180", 270.0: "d270"}


class Plan(Protocol):
    """What to render (see :class:`server.iiif_image_params.ImagePlan`)."""

    @property
    def region(self) -> tuple[int, int, int, int]: ...
    @property
    def size(self) -> tuple[int, int]: ...
    @property
    def rotation(self) -> float: ...
    @property
    def mirror(self) -> bool: ...
    @property
    def quality(self) -> str: ...
    @property
    def format(self) -> str: ...


def level_for(region: tuple[int, int, int, int], size: tuple[int, int], levels: int) -> int:
    """The pyramid level just above the size asked for (each level half the one before)."""
    _, _, w, h = region
    out_w, out_h = size
    shrink = min(w / out_w, h / out_h)
    wanted = math.floor(math.log2(shrink)) if shrink >= 1 else 0
    return min(wanted, levels - 1)


def render(
    pyramid: Path, width: int, levels: int, plan: Plan, *, jpeg_quality: int = JPEG_QUALITY
) -> bytes:
    """``plan`` rendered from ``pyramid`` (``width``: its full resolution's; ``levels``: pages)."""
    level = level_for(plan.region, plan.size, levels)
    decoded = from_jpeg_tiles(pyramid, width, level, plan, jpeg_quality=jpeg_quality)
    if decoded is not None:
        return decoded
    return with_libvips(pyramid, width, level, plan, jpeg_quality=jpeg_quality)


def with_libvips(
    pyramid: Path, width: int, level: int, plan: Plan, *, jpeg_quality: int = JPEG_QUALITY
) -> bytes:
    """``plan`` rendered by libvips from page ``level`` of ``pyramid``: any request."""
    out_w, out_h = plan.size
    picture = open_level(pyramid, level)
    left, top, right, bottom = _window(plan.region, width / picture.width, picture)
    picture = picture.crop(left, top, right - left, bottom - top)
    if (picture.width, picture.height) != (out_w, out_h):
        picture = picture.thumbnail_image(out_w, height=out_h, size="force")
    if plan.mirror:
        picture = picture.fliphor()
    picture = _rotated(picture, plan.rotation, plan.format)
    if plan.quality in ("gray", "bitonal"):
        picture = picture.colourspace("b-w")
        if plan.quality == "bitonal":
            picture = (picture[0] > BITONAL_THRESHOLD).ifthenelse(255, 0).cast("uchar")
    return encode(picture, plan.format, jpeg_quality)


def from_jpeg_tiles(
    pyramid: Path, width: int, level: int, plan: Plan, *, jpeg_quality: int = JPEG_QUALITY
) -> bytes | None:
    """``plan`` from the JPEG tiles of page ``level`` decoded by libjpeg-turbo, when it asks
    for that page's pixels as they are (no scaling, rotation, mirroring or grey) in JPEG;
    None: libvips must render it."""
    if plan.rotation != 0 or plan.mirror or plan.quality not in ("default", "color"):
        return None
    if plan.format != "jpg":
        return None
    tiles = jpeg_tiles(pyramid)
    page = tiles.levels[level]
    if page is None or page.bands not in (1, 3):
        return None
    left, top, right, bottom = _window(plan.region, width / page.width, page)
    if (right - left, bottom - top) != plan.size:
        return None
    columns = range(left // page.tile_width, (right - 1) // page.tile_width + 1)
    rows = range(top // page.tile_height, (bottom - 1) // page.tile_height + 1)
    if len(columns) * len(rows) > COPY_TILES:
        return None
    import numpy as np
    import simplejpeg

    colour = "RGB" if page.bands == 3 else "GRAY"
    pixels = np.empty((bottom - top, right - left, page.bands), np.uint8)
    try:
        for row in rows:
            for column in columns:
                data = tiles.tile(level, column, row)
                decoded = simplejpeg.decode_jpeg(data, colorspace=colour)
                x0, y0 = column * page.tile_width, row * page.tile_height
                cut_left, cut_top = max(left, x0), max(top, y0)
                cut_right = min(right, x0 + page.tile_width)
                cut_bottom = min(bottom, y0 + page.tile_height)
                pixels[cut_top - top : cut_bottom - top, cut_left - left : cut_right - left] = (
                    decoded[cut_top - y0 : cut_bottom - y0, cut_left - x0 : cut_right - x0]
                )
    except ValueError:  # a tile libjpeg-turbo will not read: libvips says why
        return None
    subsampling = "Gray" if page.bands == 1 else "420" if jpeg_quality < SUBSAMPLED_BELOW else "444"
    return bytes(
        simplejpeg.encode_jpeg(
            pixels, jpeg_quality, colorspace=colour, colorsubsampling=subsampling
        )
    )


class _Sized(Protocol):
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...


def _window(
    region: tuple[int, int, int, int], factor: float, level: _Sized
) -> tuple[int, int, int, int]:
    """``region`` (full-resolution pixels) on a level ``factor`` times smaller: left, top,
    right, bottom, at least one pixel, inside the level."""
    x, y, w, h = region
    left, top = int(x / factor), int(y / factor)
    right = min(level.width, max(left + 1, math.ceil((x + w) / factor)))
    bottom = min(level.height, max(top + 1, math.ceil((y + h) / factor)))
    return left, top, right, bottom


@functools.lru_cache(maxsize=64)
def jpeg_tiles(pyramid: Path) -> tiffjpeg.JpegTiles:
    """Where each JPEG tile of a pyramidal TIFF is, read once (published files never change)."""
    return tiffjpeg.JpegTiles(pyramid)


@functools.lru_cache(maxsize=256)
def open_level(pyramid: Path, level: int) -> Any:
    """One level of a pyramidal TIFF, opened once: libvips images are immutable and shared.

    The serving process allows libvips the pipeline's loaders only (TIFF among them),
    as the sandboxed jobs do: the untrusted ones (ImageMagick, SVG, …) are blocked."""
    import pyvips

    from processing.images.probe import configure_vips

    configure_vips()
    return pyvips.Image.tiffload(str(pyramid), page=level, access="random")


def _rotated(picture: Any, degrees: float, fmt: str) -> Any:
    if degrees in RIGHT_ANGLES:
        angle = RIGHT_ANGLES[degrees]
        return picture if angle is None else picture.rot(angle)
    # Arbitrary angles: the corners outside the image are transparent where the format
    # can say so (PNG, WebP) and white in JPEG.
    if fmt != "jpg" and not picture.hasalpha():
        picture = picture.bandjoin(255)
    background = [0] * picture.bands if fmt != "jpg" else [255] * picture.bands
    return picture.rotate(degrees, background=background)


def encode(picture: Any, fmt: str, jpeg_quality: int = JPEG_QUALITY) -> bytes:
    """``picture`` as ``jpg`` (alpha flattened on white), ``png`` or ``webp``, metadata stripped."""
    if fmt == "jpg":
        if picture.hasalpha():
            picture = picture.flatten(background=[255] * (picture.bands - 1))
        data: bytes = picture.jpegsave_buffer(Q=jpeg_quality, strip=True)
    elif fmt == "png":
        data = picture.pngsave_buffer(strip=True)
    else:
        data = picture.webpsave_buffer(Q=jpeg_quality, strip=True)
    return data
