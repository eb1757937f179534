"""Any region of a pyramidal TIFF at any size, rotation, quality and format, with libvips.

Used by the IIIF Image API server for requests no pre-generated tile answers,
and by the pipeline for the tiles it cannot copy from the pyramid (edges, the
levels the TIFF does not have, images with alpha). One renderer for both means
a static tile and a dynamic answer for the same URL are the same pixels.

A request is anything with the attributes of :class:`Plan` (the server's
:class:`server.iiif_image_params.ImagePlan` is one): a region in full-resolution
pixels, an output size, rotation, mirroring, quality and format.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Protocol

JPEG_QUALITY = 85
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
    x, y, w, h = plan.region
    out_w, out_h = plan.size
    picture = open_level(pyramid, level_for(plan.region, plan.size, levels))
    factor = width / picture.width
    left, top = int(x / factor), int(y / factor)
    right = min(picture.width, max(left + 1, math.ceil((x + w) / factor)))
    bottom = min(picture.height, max(top + 1, math.ceil((y + h) / factor)))
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


@functools.lru_cache(maxsize=256)
def open_level(pyramid: Path, level: int) -> Any:
    """One level of a pyramidal TIFF, opened once: libvips images are immutable and shared."""
    import pyvips

    return pyvips.Image.new_from_file(str(pyramid), page=level, access="random")


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
