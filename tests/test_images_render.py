"""The renderer behind dynamic IIIF answers and the pipeline's edge tiles: the
libjpeg-turbo path for a level's own pixels agrees with libvips and with the image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pyvips = pytest.importorskip("pyvips")
pytest.importorskip("simplejpeg")

from processing.images import render  # noqa: E402


@dataclass(frozen=True)
class Plan:
    region: tuple[int, int, int, int]
    size: tuple[int, int]
    rotation: float = 0.0
    mirror: bool = False
    quality: str = "default"
    format: str = "jpg"


def textured(width: int, height: int, bands: int = 3) -> pyvips.Image:
    """Smooth gradients with a grain: every tile different, JPEG-friendly."""
    x = pyvips.Image.xyz(width, height)
    r = (x[0] * 255 / width).cast("uchar")
    g = (x[1] * 255 / height).cast("uchar")
    b = ((x[0] + x[1]) % 256).cast("uchar")
    image = r.bandjoin([g, b])[: bands if bands < 3 else 3]
    if bands == 1:
        return image[0].copy(interpretation="b-w")
    return image.copy(interpretation="srgb")


def build(tmp_path: Path, image: pyvips.Image, *, quality: int = 85, **options: object) -> Path:
    path = tmp_path / "pyramid.tif"
    image.tiffsave(
        str(path),
        tile=True,
        tile_width=256,
        tile_height=256,
        pyramid=True,
        Q=quality,
        **({"compression": "jpeg"} | options),
    )
    render.jpeg_tiles.cache_clear()
    render.open_level.cache_clear()
    return path


def pixels(data: bytes) -> np.ndarray:
    return pyvips.Image.new_from_buffer(data, "").numpy().astype(np.int16)


def level_pixels(image: pyvips.Image, level: int, plan: Plan) -> np.ndarray:
    """What ``plan`` shows, from the image itself (not from the pyramid)."""
    scaled = image.shrink(2**level, 2**level) if level else image
    x, y, _, _ = plan.region
    cut = scaled.crop(x >> level, y >> level, *plan.size).numpy().astype(np.int16)
    return cut if cut.ndim == 3 else cut[..., None]


@pytest.mark.parametrize(
    ("region", "size", "level"),
    [
        ((256, 0, 128, 128), (128, 128), 0),  # a quarter of one tile
        ((200, 100, 300, 300), (300, 300), 0),  # across four tiles
        ((1024, 512, 76, 88), (76, 88), 0),  # cut short by the right and bottom edges
        ((0, 0, 512, 512), (256, 256), 1),  # one whole tile of level 1
        ((512, 0, 588, 600), (294, 300), 1),  # the right part of level 1, to its edges
    ],
)
def test_a_levels_own_pixels_are_decoded_cut_and_encoded_once(
    tmp_path: Path, region: tuple[int, int, int, int], size: tuple[int, int], level: int
) -> None:
    image = textured(1100, 600)
    pyramid = build(tmp_path, image)
    plan = Plan(region, size)
    assert render.level_for(region, size, 4) == level
    fast = render.from_jpeg_tiles(pyramid, 1100, level, plan)
    assert fast is not None
    slow = render.with_libvips(pyramid, 1100, level, plan)
    assert pixels(fast).shape == pixels(slow).shape == (size[1], size[0], 3)
    # Both encode the same decoded pixels: they differ by the two encoders' rounding only.
    assert np.abs(pixels(fast) - pixels(slow)).mean() < 1.0
    assert np.abs(pixels(fast) - level_pixels(image, level, plan)).mean() < 4
    assert render.render(pyramid, 1100, 4, plan) == fast


def test_grey_pyramids_and_full_colour_tiles_keep_their_colours(tmp_path: Path) -> None:
    grey = textured(700, 500, bands=1)
    plan = Plan((300, 200, 256, 256), (256, 256))
    (tmp_path / "g").mkdir()
    fast = render.from_jpeg_tiles(build(tmp_path / "g", grey), 700, 0, plan)
    assert fast is not None
    assert pyvips.Image.new_from_buffer(fast, "").bands == 1
    assert np.abs(pixels(fast)[..., None] - level_pixels(grey, 0, plan)).mean() < 4
    # From Q90 up libvips stores R, G, B in the TIFF's JPEG tiles, not Y, Cb, Cr.
    colour = textured(700, 500)
    (tmp_path / "c").mkdir()
    fast = render.from_jpeg_tiles(build(tmp_path / "c", colour, quality=95), 700, 0, plan)
    assert fast is not None
    assert np.abs(pixels(fast) - level_pixels(colour, 0, plan)).mean() < 3


@pytest.mark.parametrize(
    "plan",
    [
        Plan((0, 0, 512, 512), (200, 200)),  # scaled
        Plan((0, 0, 256, 256), (256, 256), rotation=90.0),
        Plan((0, 0, 256, 256), (256, 256), mirror=True),
        Plan((0, 0, 256, 256), (256, 256), quality="gray"),
        Plan((0, 0, 256, 256), (256, 256), format="png"),
    ],
)
def test_anything_else_is_left_to_libvips(tmp_path: Path, plan: Plan) -> None:
    pyramid = build(tmp_path, textured(1100, 600))
    level = render.level_for(plan.region, plan.size, 4)
    assert render.from_jpeg_tiles(pyramid, 1100, level, plan) is None
    assert pyvips.Image.new_from_buffer(render.render(pyramid, 1100, 4, plan), "").width > 0


def test_too_many_tiles_and_lossless_pyramids_are_left_to_libvips(tmp_path: Path) -> None:
    (tmp_path / "big").mkdir()
    pyramid = build(tmp_path / "big", textured(1300, 1300))
    whole = Plan((0, 0, 1300, 1300), (1300, 1300))  # 6×6 tiles
    assert render.from_jpeg_tiles(pyramid, 1300, 0, whole) is None
    (tmp_path / "flat").mkdir()
    lossless = build(tmp_path / "flat", textured(600, 300), compression="deflate")
    assert render.from_jpeg_tiles(lossless, 600, 0, Plan((0, 0, 256, 256), (256, 256))) is None


def test_a_damaged_tile_falls_back_to_libvips(tmp_path: Path) -> None:
    pyramid = build(tmp_path, textured(600, 300))
    tiles = render.jpeg_tiles(pyramid)
    page = tiles.levels[0]
    assert page is not None
    # Overwrite the middle of tile 0's entropy-coded data: libjpeg-turbo reports it.
    offset = page.offsets[0] + page.counts[0] // 2
    with pyramid.open("r+b") as file:
        file.seek(offset)
        file.write(b"\xff\xd0" * 64)
    plan = Plan((0, 0, 256, 256), (256, 256))
    assert render.from_jpeg_tiles(pyramid, 600, 0, plan) is None
    assert len(render.render(pyramid, 600, 3, plan)) > 0
