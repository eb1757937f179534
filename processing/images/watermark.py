"""A text watermark repeated across public derivatives, sized to the picture.

The mark scales with the image (its height is a fixed share of the short
side), so it reads the same in a thumbnail and at full zoom, and it repeats
on a grid, so every deep-zoom tile carries part of it. It is lazy: the text
is rendered once (small) and replicated, never a full-size overlay in memory.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import pyvips

FONT = "DejaVu Sans Bold"  # covers Vietnamese; fontconfig falls back if absent
TEXT_SHARE = 1 / 18  # text height as a share of the image's short side
MIN_TEXT_PX = 10
MAX_TEXT_PX = 400  # the rendered mark stays small whatever the image size
SPACING = (1.5, 4.0)  # grid cell as a multiple of the text width, height
OPACITY = 0.35
INK = 128  # mid grey: visible on white paper and on dark objects alike
POINTS_PER_INCH = 72
LINE_HEIGHT = 1.3  # a line is about 1.3 em tall


def apply_watermark(image: pyvips.Image, text: str) -> pyvips.Image:
    """``image`` (8-bit, 1–4 bands) with ``text`` blended in at :data:`OPACITY`."""
    text_px = int(min(MAX_TEXT_PX, max(MIN_TEXT_PX, min(image.width, image.height) * TEXT_SHARE)))
    size_pt = 12
    dpi = max(1, round(text_px * POINTS_PER_INCH / (size_pt * LINE_HEIGHT)))
    mark = pyvips.Image.text(escape(text), font=f"{FONT} {size_pt}", dpi=dpi)
    cell_w = max(mark.width + 1, round(mark.width * SPACING[0]))
    cell_h = max(mark.height + 1, round(mark.height * SPACING[1]))
    cell = mark.embed((cell_w - mark.width) // 2, (cell_h - mark.height) // 2, cell_w, cell_h)
    across = -(-image.width // cell_w)
    down = -(-image.height // cell_h)
    mask = cell.replicate(across, down).crop(0, 0, image.width, image.height)
    weight = mask * (OPACITY / 255.0)
    colour_bands = image.bands - 1 if image.hasalpha() else image.bands
    colour = image.extract_band(0, n=colour_bands) if image.hasalpha() else image
    blended = (colour * (1 - weight) + weight * INK).rint().cast("uchar")
    blended = blended.copy(interpretation=image.interpretation)
    if image.hasalpha():
        blended = blended.bandjoin(image.extract_band(colour_bands))
    return blended
