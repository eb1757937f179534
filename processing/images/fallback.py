"""A second decoder for JPEG 2000 files libvips 8.14 cannot read.

libvips decodes JPEG 2000 tile by tile, and OpenJPEG's per-tile API refuses
some valid files (tile-parts stored out of order: "Invalid tile part index"),
which Pillow, decoding the whole codestream at once, reads fine. Pillow holds
the whole image in memory, so the fallback is bounded by
:data:`MAX_FALLBACK_PIXELS`; larger files are refused with the reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image

from processing.images.model import ImageError

MAX_FALLBACK_PIXELS = 100_000_000  # about 300 MB of RGB in memory
FALLBACK_NAME = "jpeg2000-decoded.tif"


def transcode_jpeg2000(source: Path, scratch: Path, reason: str) -> Path:
    """``source`` decoded by Pillow (OpenJPEG) into an uncompressed TIFF in ``scratch``.

    ``reason`` is libvips' refusal; it is what the user sees when Pillow
    cannot decode the file either, or when the file is too large to try.
    """
    target = scratch / FALLBACK_NAME
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(source) as image:
                if image.width * image.height > MAX_FALLBACK_PIXELS:
                    raise ImageError(
                        "malformed",
                        f"{reason} The file is too large ({image.width}×{image.height}) for the "
                        f"second decoder (limit {MAX_FALLBACK_PIXELS / 1e6:,.0f} megapixels).",
                    )
                image.load()
                icc = image.info.get("icc_profile")
                image.save(target, format="TIFF", icc_profile=icc)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise ImageError("malformed", reason) from exc
    return target
