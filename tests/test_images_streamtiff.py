"""The streaming pyramid writer: libjpeg reading a strip at a time, every tile of a tile row
encoded side by side, the TIFF assembled as tiles complete; checked against libvips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pyvips = pytest.importorskip("pyvips")
tifffile = pytest.importorskip("tifffile")

from processing.images import native, pyramid, streamtiff, tiffjpeg  # noqa: E402
from processing.images.model import ImageError  # noqa: E402
from processing.images.probe import damage_in  # noqa: E402

pytestmark = pytest.mark.skipif(
    native.library() is None, reason="libtilejpeg could not be built (no cc or libjpeg headers)"
)


def textured(width: int, height: int, bands: int = 3) -> pyvips.Image:
    x = pyvips.Image.xyz(width, height)
    r = (x[0] * 255 / width).cast("uchar")
    g = (x[1] * 255 / height).cast("uchar")
    b = ((x[0] + x[1]) * 255 / (width + height)).cast("uchar")
    if bands == 1:
        return r.copy(interpretation="b-w")
    return r.bandjoin([g, b]).copy(interpretation="srgb")


def pixels(image: pyvips.Image) -> np.ndarray:
    return image.numpy().astype(np.int16).reshape(image.height, image.width, image.bands)


def page(path: Path, number: int) -> pyvips.Image:
    return pyvips.Image.new_from_file(str(path), page=number)


@pytest.fixture(autouse=True)
def no_cache() -> None:
    pyvips.cache_set_max(0)


@pytest.mark.parametrize("size", [(1100, 600), (513, 300), (1024, 1024), (3001, 777)])
def test_levels_match_libvips_pyramid(tmp_path: Path, size: tuple[int, int]) -> None:
    image = textured(*size)
    ours, theirs = tmp_path / "ours.tif", tmp_path / "theirs.tif"
    streamtiff.write_pyramid(streamtiff.VipsRows(image), ours, 256, 85, bigtiff=False)
    image.tiffsave(
        str(theirs),
        tile=True,
        tile_width=256,
        tile_height=256,
        pyramid=True,
        compression="jpeg",
        Q=85,
    )
    with tifffile.TiffFile(ours) as a, tifffile.TiffFile(theirs) as b:
        assert [p.shape for p in a.pages] == [p.shape for p in b.pages]
        assert [p.subfiletype for p in a.pages] == [0] + [1] * (len(a.pages) - 1)
    count = pyvips.Image.new_from_file(str(ours)).get("n-pages")
    for number in range(count):
        got, want = pixels(page(ours, number)), pixels(page(theirs, number))
        # the same picture; the two differ by JPEG rounding and libvips' black edge padding
        assert np.abs(got - want)[:-2, :-2].mean() < 1.5, number


def test_a_half_size_source_feeds_the_second_level(tmp_path: Path) -> None:
    image = textured(1100, 600)
    path = tmp_path / "p.tif"
    half = streamtiff.VipsRows(image.resize(0.5))  # 550×300: the second level's size
    streamtiff.write_pyramid(streamtiff.VipsRows(image), path, 256, 85, bigtiff=True, half=half)
    assert [page(path, n).width for n in range(3)] == [1100, 550, 275]
    want = pixels(image.shrink(2, 2))
    assert np.abs(pixels(page(path, 1)) - want).mean() < 2.5


def test_edge_tiles_are_padded_with_their_last_column_and_row(tmp_path: Path) -> None:
    image = textured(300, 270)
    path = tmp_path / "p.tif"
    streamtiff.write_pyramid(streamtiff.VipsRows(image), path, 256, 90, bigtiff=False)
    with tiffjpeg.JpegTiles(path) as tiles:
        corner = tiles.tile(0, 1, 1)
    assert corner is not None
    tile = pixels(pyvips.Image.new_from_buffer(corner, ""))
    assert tile.shape == (256, 256, 3)
    last_column, last_row = 300 - 256 - 1, 270 - 256 - 1
    # the padding repeats the image's edge (JPEG blurs it a little), it is not black
    assert np.abs(tile[:14, last_column + 20] - tile[:14, last_column]).mean() < 4
    assert np.abs(tile[last_row + 50, :44] - tile[last_row, :44]).mean() < 4
    assert tile[100:, 100:].mean() > 20


def test_grey_images_and_rights_xmp(tmp_path: Path) -> None:
    path = tmp_path / "p.tif"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><!-- rights --></x:xmpmeta>'
    grey = textured(700, 300, bands=1)
    streamtiff.write_pyramid(streamtiff.VipsRows(grey), path, 256, 85, bigtiff=False, xmp=xmp)
    first = page(path, 0)
    assert first.bands == 1 and first.get("xmp-data") == xmp
    assert np.abs(pixels(first) - pixels(grey)).mean() < 1.5
    assert not page(path, 1).get_typeof("xmp-data")


def test_quality_90_keeps_full_resolution_colour(tmp_path: Path) -> None:
    path = tmp_path / "p.tif"
    streamtiff.write_pyramid(streamtiff.VipsRows(textured(600, 300)), path, 256, 92, bigtiff=False)
    with tifffile.TiffFile(path) as tiff:
        assert tuple(tiff.pages[0].tags["YCbCrSubSampling"].value) == (1, 1)


def test_libjpeg_reads_a_baseline_jpeg_as_libvips_does(tmp_path: Path) -> None:
    source = tmp_path / "s.jpg"
    image = textured(1001, 703)
    image.jpegsave(str(source), Q=90)
    full = streamtiff.JpegRows(source)
    decoded = np.concatenate(list(full.strips()))
    assert decoded.shape == (703, 1001, 3)
    assert np.array_equal(decoded, pixels(pyvips.Image.new_from_file(str(source))))
    half = streamtiff.JpegRows(source, 2)
    assert (half.width, half.height) == (501, 352)  # each side rounded up
    assert full.warnings == half.warnings == []


def test_progressive_jpegs_are_left_to_libvips(tmp_path: Path) -> None:
    source = tmp_path / "p.jpg"
    textured(300, 200).jpegsave(str(source), interlace=True)
    with pytest.raises(streamtiff.Unavailable, match="progressive"):
        streamtiff.JpegRows(source)


def test_a_truncated_jpeg_is_read_to_the_end_and_its_damage_reported(tmp_path: Path) -> None:
    source = tmp_path / "t.jpg"
    textured(800, 600).jpegsave(str(source), Q=90)
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2])
    reader = streamtiff.JpegRows(source)
    rows = sum(len(strip) for strip in reader.strips())
    assert rows == 600  # libjpeg fills the rest
    refusal = damage_in(reader.warnings, source)
    assert refusal is not None and refusal.code == "malformed", reader.warnings


def test_a_source_that_fails_leaves_a_file_without_pages(tmp_path: Path) -> None:
    class Failing:
        width, height, bands = 600, 600, 3

        def strips(self):  # type: ignore[no-untyped-def]
            yield np.zeros((32, 600, 3), np.uint8)
            raise OSError("the disk went away")

    path = tmp_path / "p.tif"
    with pytest.raises(OSError, match="went away"):
        streamtiff.write_pyramid(Failing(), path, 256, 85, bigtiff=False)
    with pytest.raises(Exception):  # noqa: B017 - any reader refuses it
        pyvips.Image.new_from_file(str(path)).avg()


@pytest.mark.parametrize("available", [True, False])
def test_a_plain_jpeg_is_streamed_and_without_the_library_libvips_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, available: bool
) -> None:
    source = tmp_path / "s.jpg"
    textured(700, 300).jpegsave(str(source), Q=90)
    image = pyvips.Image.new_from_file(str(source))
    if not available:
        monkeypatch.setattr(native, "library", lambda: None)
    path = tmp_path / "p.tif"
    warnings = pyramid.build_pyramid_tiff(
        image, path, 256, 85, keep_metadata=False, plain_jpeg=source
    )
    assert warnings == []
    with tifffile.TiffFile(path) as tiff:
        assert len(tiff.pages) == 3
        # libvips shares one set of tables per page; the streaming writer's tiles are whole
        assert (tiff.pages[0].tags.get("JPEGTables") is None) == available


def test_libjpeg_stopping_part_way_is_a_damaged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "s.jpg"
    image = textured(600, 300)
    image.jpegsave(str(source), Q=90)

    def stops(*args: object, **kwargs: object) -> None:
        raise streamtiff.DecodeError("Bogus marker length")

    monkeypatch.setattr(streamtiff, "write_pyramid", stops)
    with pytest.raises(ImageError, match=r"damaged.*Bogus marker length") as refused:
        pyramid.build_pyramid_tiff(
            image, tmp_path / "p.tif", 256, 85, keep_metadata=False, plain_jpeg=source
        )
    assert refused.value.code == "malformed"
