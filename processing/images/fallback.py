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
    previous = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # Pillow's bomb check is set to this decoder's own limit and made an error, so
        # a header claiming more pixels is refused before anything is decoded.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        Image.MAX_IMAGE_PIXELS = MAX_FALLBACK_PIXELS
        try:
            with Image.open(source, formats=["JPEG2000"]) as image:
                image.load()
                icc = image.info.get("icc_profile")
                image.save(target, format="TIFF", icc_profile=icc)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ImageError(
                "malformed",
                f"{reason} The file is too large for the second decoder ({exc}; limit "
                f"{MAX_FALLBACK_PIXELS / 1e6:,.0f} megapixels).",
            ) from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageError("malformed", reason) from exc
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    return target
