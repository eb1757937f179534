"""Joining two TIFFs into one multi-page TIFF by rewriting the second one's offsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pyvips = pytest.importorskip("pyvips")
tifffile = pytest.importorskip("tifffile")

from processing.images.tiffpages import append_pages  # noqa: E402


def gradient(width: int, height: int) -> pyvips.Image:
    x = pyvips.Image.xyz(width, height)
    r = (x[0] * 255 / width).cast("uchar")
    g = (x[1] * 255 / height).cast("uchar")
    return r.bandjoin([g, (x[0] ^ x[1]).cast("uchar")]).copy(interpretation="srgb")


def pages(path: Path) -> list[np.ndarray]:
    """Every page's pixels, as libvips decodes them (the server opens levels by page)."""
    count = pyvips.Image.new_from_file(str(path)).get("n-pages")
    return [pyvips.Image.new_from_file(str(path), page=n).numpy() for n in range(count)]


@pytest.mark.parametrize("bigtiff", [False, True])
@pytest.mark.parametrize("compression", ["jpeg", "deflate", "none"])
def test_the_second_files_pages_follow_the_first_files(
    tmp_path: Path, bigtiff: bool, compression: str
) -> None:
    pyvips.cache_set_max(0)
    first, second = tmp_path / "first.tif", tmp_path / "second.tif"
    options = {"tile": True, "tile_width": 128, "tile_height": 128, "bigtiff": bigtiff}
    gradient(700, 300).tiffsave(str(first), compression=compression, **options)
    # several pages, one of them a single tile (its offset fits in the directory entry)
    gradient(350, 150).tiffsave(str(second), compression=compression, pyramid=True, **options)
    want = pages(first) + pages(second)
    second_bytes = second.read_bytes()
    assert append_pages(first, second) == len(want) == 4
    got = pages(first)
    assert len(got) == len(want)
    for number, (a, b) in enumerate(zip(got, want, strict=True)):
        assert np.array_equal(a, b), f"page {number}"
    assert second.read_bytes() == second_bytes  # left as it was
    with tifffile.TiffFile(first) as tiff:  # and another reader agrees
        assert [page.shape[:2] for page in tiff.pages] == [
            (300, 700),
            (150, 350),
            (75, 175),
            (37, 87),
        ]
    level = pyvips.Image.new_from_file(str(first), page=2)
    assert (level.width, level.height) == (175, 75)


def test_files_that_cannot_be_joined_are_refused(tmp_path: Path) -> None:
    first, classic, nested = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "c.tif"
    gradient(200, 100).tiffsave(str(first), tile=True, bigtiff=True)
    gradient(100, 50).tiffsave(str(classic), tile=True)
    before = first.read_bytes()
    with pytest.raises(ValueError, match="different kinds"):
        append_pages(first, classic)
    # a page with sub-directories (SubIFDs) points at structure this does not move
    data = np.zeros((64, 64), np.uint8)
    with tifffile.TiffWriter(nested, bigtiff=True) as tiff:
        tiff.write(data, subifds=1)
        tiff.write(data[::2, ::2], subfiletype=1)
    with pytest.raises(ValueError, match="330"):
        append_pages(first, nested)
    assert first.read_bytes() == before  # nothing written when refused
