"""The image pipeline on generated images: pyramid geometry, colour, orientation, metadata,
refusals (the decompression bomb included), documents, watermark, determinism, the sandbox."""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import pyvips
from fpdf import FPDF
from PIL import ExifTags, Image, ImageCms

from processing.images import pyramid
from processing.images.model import ImageError, ImageLimits, ImageOptions
from processing.images.pipeline import options_from_json, options_to_json, process
from processing.images.probe import configure_vips
from processing.runner import Failure, process_image
from processing.sandbox import ChildLimits

LIMITS = ChildLimits(memory_bytes=4 * 1024**3, cpu_seconds=300, wall_seconds=300, threads=2)
FloatArray = npt.NDArray[np.float64]
# Pillow's transpose that turns a stored image upright, per EXIF orientation (as exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
INVERSE = {
    Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
    Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
}


# Colour science, independent of libvips: sRGB → CIELAB (D65) and CIEDE2000.


def srgb_to_lab(rgb: FloatArray) -> FloatArray:
    """(..., 3) sRGB 0–255 → (..., 3) CIELAB (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    matrix = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def delta_e_2000(lab1: FloatArray, lab2: FloatArray) -> FloatArray:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal 2005), element-wise over (..., 3)."""
    l1, a1, b1 = np.moveaxis(lab1, -1, 0)
    l2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    chromatic = c1 * c2 != 0
    dh = h2 - h1
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(chromatic, dh, 0)
    big_h = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1 + c2) / 2
    h_mean = np.where(np.abs(h1 - h2) > 180, (h1 + h2 + 360) / 2, (h1 + h2) / 2) % 360
    h_mean = np.where(chromatic, h_mean, h1 + h2)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = (
        -2
        * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
        * np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2))))
    )
    dl, dc = (l2 - l1) / s_l, (c2 - c1) / s_c
    dh_term = big_h / s_h
    return np.asarray(np.sqrt(dl**2 + dc**2 + dh_term**2 + r_t * dc * dh_term), dtype=np.float64)


def block_means(rgb: FloatArray, size: int = 8) -> FloatArray:
    """Mean colour of each ``size``² block: samples with JPEG's block noise averaged out."""
    h, w = rgb.shape[0] // size * size, rgb.shape[1] // size * size
    blocks = rgb[:h, :w].reshape(h // size, size, w // size, size, -1)
    return np.asarray(blocks.mean(axis=(1, 3)), dtype=np.float64)


def flatten_white(pixels: FloatArray) -> FloatArray:
    """RGB(A) or grey(+alpha) → RGB on white, as the pipeline flattens for JPEG."""
    if pixels.shape[-1] in (2, 4):
        alpha = pixels[..., -1:] / 255.0
        pixels = pixels[..., :-1] * alpha + 255.0 * (1 - alpha)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return pixels


def vips_pixels(image: pyvips.Image) -> FloatArray:
    """(height, width, bands) float64 of a small libvips image."""
    data = np.ndarray(
        buffer=image.write_to_memory(),
        dtype=np.uint8 if image.format == "uchar" else np.uint16,
        shape=(image.height, image.width, image.bands),
    )
    return data.astype(np.float64)


def read_pixels(path: Path) -> FloatArray:
    return vips_pixels(pyvips.Image.new_from_file(str(path)))


def test_delta_e_2000_matches_the_published_test_data() -> None:
    """Pairs and results from Sharma, Wu and Dalal's CIEDE2000 test data (2005), table 1."""
    pairs = [
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ]
    first = np.array([a for a, _, _ in pairs])
    second = np.array([b for _, b, _ in pairs])
    expected = np.array([e for _, _, e in pairs])
    np.testing.assert_allclose(delta_e_2000(first, second), expected, atol=1e-4)


# Generated inputs


def picture(width: int = 320, height: int = 200) -> npt.NDArray[np.uint8]:
    """An asymmetric RGB test picture: four coloured quadrants over smooth gradients."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = np.where(x < width // 2, 220, 40)
    pixels[..., 1] = np.where(y < height // 2, 200, 60)
    pixels[..., 2] = (x * 255 // max(1, width - 1)).astype(np.uint8)
    pixels[: height // 8, : width // 8] = (255, 255, 255)  # a marker in the top-left corner
    return pixels


def save_jpeg(path: Path, pixels: npt.NDArray[np.uint8], **extra: Any) -> Path:
    Image.fromarray(pixels).save(path, quality=95, **extra)
    return path


def palette_png_bomb(path: Path, side: int = 19000) -> Path:
    """A ``side``² 8-bit palette PNG of zeros: about 350 KB that expands to 361 megapixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + side)  # filter byte + one palette index per pixel
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 3, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"PLTE", b"\x00\x00\x00")
    path.write_bytes(png + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def multipage_tiff(path: Path, colours: list[tuple[int, int, int]], size: tuple[int, int]) -> Path:
    pages = [Image.new("RGB", size, colour) for colour in colours]
    pages[0].save(path, save_all=True, append_images=pages[1:], compression="tiff_lzw")
    return path


def run(source: Path, out: Path, **options: Any) -> dict[str, Any]:
    return process(source, out, ImageOptions(**options))


def tiles_on_disk(folder: Path) -> set[str]:
    """Region tiles written under an iiif/ folder (not the full/… size aliases)."""
    return {
        path.relative_to(folder).as_posix()
        for path in folder.glob(f"*/*/0/{pyramid.TILE_NAME}")
        if not path.relative_to(folder).as_posix().startswith("full/")
    }


def full_tile(out: Path, width: int, height: int) -> FloatArray:
    """The full-resolution pixels of an image that fits in one tile."""
    path = out / "iiif" / f"0,0,{width},{height}" / f"{width},{height}" / "0" / "default.jpg"
    return read_pixels(path)


# Pyramid geometry


def test_tile_count_formula_by_hand() -> None:
    # 4000×3000 at 512 px: 8×6 + 4×3 + 2×2 + 1×1 tiles at scale factors 1, 2, 4, 8.
    assert pyramid.scale_factors(4000, 3000, 512) == [1, 2, 4, 8]
    assert pyramid.expected_tile_count(4000, 3000, 512) == 48 + 12 + 4 + 1
    assert pyramid.scale_factors(512, 512, 512) == [1]
    assert pyramid.expected_tile_count(1, 1, 512) == 1
    # 1025²: 3×3 + 2×2 + 1, but the 1×1 corner region is the same URL at scale factors 1 and 2.
    assert pyramid.expected_tile_count(1025, 1025, 512) == 9 + 4 + 1 - 1
    # 513 wide: two columns at full size, then one tile.
    assert list(pyramid.tile_paths(513, 10, 512)) == [
        "0,0,512,10/512,10/0/default.jpg",
        "512,0,1,10/1,10/0/default.jpg",
        "0,0,513,10/257,5/0/default.jpg",
    ]


def built_tiles(
    folder: Path, image: pyvips.Image, tile_size: int = 512, xmp: bytes | None = None
) -> tuple[pyramid.Tiles, dict[str, str]]:
    """The pipeline's two tile steps: the pyramidal TIFF, then the IIIF tiles cut from it."""
    folder.mkdir(exist_ok=True)
    pyramid.build_pyramid_tiff(image, folder / "pyramid.tif", tile_size, 80, keep_metadata=False)
    return pyramid.build_tiles(
        folder / "pyramid.tif", folder / "iiif", image.width, image.height, tile_size, 80, xmp=xmp
    )


def textured(width: int, height: int, bands: int = 3) -> pyvips.Image:
    """Red across, green down, blue in waves: a tile in the wrong place shows."""
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    channels = [
        255 * x / width,
        255 * y / height,
        128 + 100 * np.sin(x / 37) * np.cos(y / 23),
    ]
    if bands == 4:
        channels.append(np.full_like(x, 255))
    array = np.rint(np.stack(channels, -1)).astype(np.uint8)
    return pyvips.Image.new_from_array(array, interpretation="srgb")


@pytest.mark.parametrize(
    "size", [(1, 1), (512, 512), (513, 300), (1025, 1025), (3001, 999), (100, 2100)]
)
def test_the_tiles_are_exactly_the_computed_ones(tmp_path: Path, size: tuple[int, int]) -> None:
    width, height = size
    grey = pyvips.Image.black(width, height, bands=3)
    image = grey.linear([1, 1, 1], [90, 120, 150]).cast("uchar").copy(interpretation="srgb")
    tiles, digests = built_tiles(tmp_path, image)
    expected = set(pyramid.tile_paths(width, height, 512))
    assert tiles_on_disk(tmp_path / "iiif") == expected
    assert tiles.count == len(expected) == pyramid.expected_tile_count(width, height, 512)
    assert list(tiles.scale_factors) == pyramid.scale_factors(width, height, 512)
    top = tmp_path / "iiif" / "full" / "{},{}".format(*tiles.sizes[0]) / "0" / "default.jpg"
    assert top.is_file()
    for relative, digest in digests.items():
        assert hashlib.sha256((tmp_path / "iiif" / relative).read_bytes()).hexdigest() == digest
    for path in expected:
        with Image.open(tmp_path / "iiif" / path) as tile:
            assert tile.size == tuple(int(v) for v in path.split("/")[1].split(","))


@pytest.mark.parametrize("size", [(1025, 1025, 512), (2148, 2148, 64), (2148, 300, 64)])
def test_the_computed_tiles_are_the_ones_libvips_dzsave_writes(
    tmp_path: Path, size: tuple[int, int, int]
) -> None:
    """An independent oracle for the geometry. 2148 px at 64: the corner region at x = 2048
    is a tile at two levels, at two sizes (7 px and 4 px): two URLs, two files."""
    width, height, tile = size
    image = pyvips.Image.black(width, height, bands=3).copy(interpretation="srgb")
    image.dzsave(str(tmp_path / "dz"), layout="iiif3", tile_size=tile, suffix=".jpg")
    assert set(pyramid.tile_paths(width, height, tile)) == tiles_on_disk(tmp_path / "dz")
    built_tiles(tmp_path / "ours", image, tile_size=tile)
    assert tiles_on_disk(tmp_path / "ours" / "iiif") == tiles_on_disk(tmp_path / "dz")


def test_whole_tiles_are_the_pyramids_own_bytes_and_edges_are_rendered(tmp_path: Path) -> None:
    """1100×600 at 256 px: whole tiles copied from the TIFF, in the right place; the rest
    (cut short at the edges, and the top level, which the TIFF rounds down) rendered."""
    from processing.images import tiffjpeg

    image = textured(1100, 600)
    built_tiles(tmp_path, image, tile_size=256)
    levels = [image, image.shrink(2, 2), image.shrink(4, 4), image.shrink(8, 8)]
    copied = rendered = 0
    with tiffjpeg.JpegTiles(tmp_path / "pyramid.tif") as tiff:
        for spec in pyramid.tile_specs(1100, 600, 256):
            data = (tmp_path / "iiif" / spec.path).read_bytes()
            own = pyramid._copied(tiff, spec, 256, None)
            if own is not None:
                copied += 1
                assert data == own
                assert data.startswith(tiffjpeg.SOI + tiffjpeg.JFIF)
            else:
                rendered += 1
            got = pyvips.Image.new_from_buffer(data, "")
            assert (got.width, got.height) == spec.size
            level = levels[spec.level]
            left, top = spec.region[0] >> spec.level, spec.region[1] >> spec.level
            if left + spec.size[0] <= level.width and top + spec.size[1] <= level.height:
                # The same pixels, up to JPEG's loss (rendered tiles are encoded twice).
                want = level.crop(left, top, *spec.size)
                assert (got - want).abs().avg() < (3 if own else 6), spec.path
    # Whole tiles: 4×2 at level 0, 2×1 at level 1; everything else is cut short.
    assert copied == 10
    assert rendered == pyramid.expected_tile_count(1100, 600, 256) - 10


def test_tiles_carry_the_rights_packet_when_asked(tmp_path: Path) -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><!-- rights --></x:xmpmeta>'
    built_tiles(tmp_path, textured(700, 300), tile_size=256, xmp=xmp)
    for path in pyramid.tile_paths(700, 300, 256):
        tile = pyvips.Image.new_from_file(str(tmp_path / "iiif" / path))
        assert tile.get("xmp-data") == xmp, path


def test_a_pyramid_with_alpha_gives_rendered_tiles_flattened_on_white(tmp_path: Path) -> None:
    image = textured(600, 300, bands=4)
    transparent = image.extract_band(0, n=3).bandjoin(0).copy(interpretation="srgb")
    tiles, _ = built_tiles(tmp_path, transparent, tile_size=256)
    assert tiles.count == pyramid.expected_tile_count(600, 300, 256)
    tile = pyvips.Image.new_from_file(str(tmp_path / "iiif" / "0,0,256,256/256,256/0/default.jpg"))
    assert tile.bands == 3 and tile.avg() > 250  # white, not black


# The whole pipeline


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A 1500×1000 photo with camera EXIF, GPS and Vietnamese rights, processed once.

    The copyright is UTF-8 in EXIF (as many tools write it); the creator is in
    both EXIF (ASCII) and XMP (Unicode), and XMP must win.
    """
    folder = tmp_path_factory.mktemp("photo")
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x8298] = "© Bảo tàng Đắk Lắk".encode()  # Copyright
    exif[0x013B] = "Nguyen Van A"  # Artist
    exif.get_ifd(ExifTags.IFD.GPSInfo)[2] = (12.0, 40.0, 0.0)  # GPSLatitude
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{rdf}"><rdf:Description '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq><rdf:li>Nguyễn Văn A'
        "</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).format(rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#")
    source = save_jpeg(
        folder / "photo.jpg", picture(1500, 1000), exif=exif.tobytes(), xmp=xmp.encode()
    )
    out = folder / "out"
    return out, run(source, out, dzi=True)


def test_report_lists_every_artefact_with_its_hash(photo: tuple[Path, dict[str, Any]]) -> None:
    out, report = photo
    assert report["status"] == "ok" and report["pipeline"] == "image" and report["kind"] == "image"
    assert report["source"]["format"] == "jpeg" and report["source"]["width"] == 1500
    roles = {artefact["role"]: artefact for artefact in report["artefacts"]}
    assert {"info", "checksums", "pyramid", "dzi", "thumbnail:150", "thumbnail:1200"} <= set(roles)
    for artefact in report["artefacts"]:
        data = (out / artefact["path"]).read_bytes()
        assert artefact["bytes"] == len(data)
        assert artefact["sha256"] == hashlib.sha256(data).hexdigest()
    stats = report["statistics"]
    assert (stats["width"], stats["height"], stats["tile_size"]) == (1500, 1000, 512)
    assert stats["scale_factors"] == [1, 2, 4]
    assert stats["tiles"] == roles["info"]["tiles"] == pyramid.expected_tile_count(1500, 1000, 512)
    assert tiles_on_disk(out / "iiif") == set(pyramid.tile_paths(1500, 1000, 512))
    assert stats["colour"]["before"]["interpretation"] == "srgb"
    assert stats["colour"]["after"] == {
        "interpretation": "srgb",
        "bands": 3,
        "bits": 8,
        "alpha": False,
        "icc": None,
    }


def test_checksum_manifest_covers_every_tile(photo: tuple[Path, dict[str, Any]]) -> None:
    out, _ = photo
    lines = (out / pyramid.CHECKSUMS_FILE).read_text().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest
    on_disk = {p.relative_to(out).as_posix() for p in (out / "iiif").rglob("*") if p.is_file()}
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


def test_info_json_lists_every_scale_factor_and_size(photo: tuple[Path, dict[str, Any]]) -> None:
    out, _ = photo
    info = json.loads((out / "iiif" / "info.json").read_text())
    assert info["type"] == "ImageService3" and info["profile"] == "level0"
    assert info["id"] == pyramid.PLACEHOLDER_ID
    assert (info["width"], info["height"]) == (1500, 1000)
    assert info["tiles"] == [{"width": 512, "height": 512, "scaleFactors": [1, 2, 4]}]
    sizes = [(size["width"], size["height"]) for size in info["sizes"]]
    assert sizes == sorted(sizes) and (375, 250) in sizes and (150, 100) in sizes
    for width, height in sizes:
        with Image.open(out / "iiif" / "full" / f"{width},{height}" / "0" / "default.jpg") as jpeg:
            assert jpeg.size == (width, height)


def test_thumbnails_have_the_requested_widths(photo: tuple[Path, dict[str, Any]]) -> None:
    out, _ = photo
    for width in (150, 400, 1200):
        with Image.open(out / f"thumb-{width}.jpg") as thumb:
            assert thumb.size == (width, round(width * 1000 / 1500))
            assert np.abs(np.asarray(thumb, np.float64).mean() - picture(1500, 1000).mean()) < 4


def test_metadata_in_the_report_rights_only_on_public_files(
    photo: tuple[Path, dict[str, Any]],
) -> None:
    out, report = photo
    metadata = report["statistics"]["metadata"]
    assert metadata["exif"]["Make"] == "Canon"
    assert "GPSLatitude" in metadata["exif"]
    assert metadata["rights"] == {"copyright": "© Bảo tàng Đắk Lắk", "artist": "Nguyễn Văn A"}
    tile = next((out / "iiif").glob("0,0,512,512/*/0/default.jpg"))
    for public in (out / "thumb-400.jpg", tile, out / "pyramid.tif"):
        with Image.open(public) as image:
            exif = image.getexif()
            assert 0x010F not in exif and 0x8825 not in exif, public  # no camera, no GPS
            tags = getattr(image, "tag_v2", {})
            xmp = tags.get(700) if public.suffix == ".tif" else image.info.get("xmp")
            text = xmp.decode("utf-8") if isinstance(xmp, bytes) else str(xmp)
            assert "© Bảo tàng Đắk Lắk" in text and "Nguyễn Văn A" in text, public
            assert "icc_profile" not in image.info


def iptc_block(datasets: list[tuple[int, str]]) -> bytes:
    """IPTC IIM record-2 datasets wrapped in a Photoshop 8BIM 0x0404 resource, as in APP13."""
    iim = b"".join(
        b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(value.encode())) + value.encode()
        for number, value in datasets
    )
    padding = b"\x00" * (len(iim) % 2)
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim + padding
    return b"Photoshop 3.0\x00" + resource


def test_iptc_rights_are_read_and_carried_as_xmp(tmp_path: Path) -> None:
    image = pyvips.Image.new_from_memory(picture(200, 100).tobytes(), 200, 100, 3, "uchar")
    image = image.copy(interpretation="srgb")
    block = iptc_block([(116, "© Bảo tàng"), (80, "Y Khu"), (25, "gốm"), (25, "chiêng")])
    image.set_type(pyvips.GValue.blob_type, "iptc-data", block)
    source = tmp_path / "iptc.jpg"
    image.jpegsave(str(source))
    report = run(source, tmp_path / "out")
    metadata = report["statistics"]["metadata"]
    assert metadata["iptc"] == {
        "CopyrightNotice": ["© Bảo tàng"],
        "By-line": ["Y Khu"],
        "Keywords": ["gốm", "chiêng"],
    }
    assert metadata["rights"] == {"copyright": "© Bảo tàng", "artist": "Y Khu"}
    with Image.open(tmp_path / "out" / "thumb-150.jpg") as thumb:
        assert "photoshop" not in thumb.info  # no IPTC block on public files
        assert "© Bảo tàng" in thumb.info["xmp"].decode()


def test_a_photo_without_rights_keeps_no_metadata(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    source = save_jpeg(tmp_path / "plain.jpg", picture(), exif=exif.tobytes())
    report = run(source, tmp_path / "out")
    assert report["statistics"]["metadata"]["rights"] == {}
    with Image.open(tmp_path / "out" / "thumb-150.jpg") as thumb:
        assert "xmp" not in thumb.info and "exif" not in thumb.info


def test_deepzoom_has_every_level_down_to_one_pixel(photo: tuple[Path, dict[str, Any]]) -> None:
    out, report = photo
    dzi = (out / "dzi" / "image.dzi").read_text()
    assert 'Width="1500"' in dzi and 'Height="1000"' in dzi and 'TileSize="254"' in dzi
    levels = math.ceil(math.log2(1500)) + 1  # 1500 px wide down to 1 px
    expected = 0
    for level in range(levels):
        scale = 2 ** (levels - 1 - level)
        width, height = math.ceil(1500 / scale), math.ceil(1000 / scale)
        expected += math.ceil(width / 254) * math.ceil(height / 254)
    (artefact,) = [a for a in report["artefacts"] if a["role"] == "dzi"]
    assert artefact["tiles"] == expected
    assert sum(1 for _ in (out / "dzi" / "image_files").rglob("*.jpg")) == expected


def test_small_images_are_never_upscaled(tmp_path: Path) -> None:
    source = save_jpeg(tmp_path / "small.jpg", picture(100, 80))
    out = tmp_path / "out"
    report = run(source, out)
    for artefact in report["artefacts"]:
        if artefact["role"].startswith("thumbnail:"):
            assert (artefact["width"], artefact["height"]) == (100, 80)
    assert report["statistics"]["scale_factors"] == [1]
    assert (out / "iiif" / "full" / "max" / "0" / "default.jpg").is_file()


def test_same_input_and_options_give_identical_files(tmp_path: Path) -> None:
    source = save_jpeg(tmp_path / "photo.jpg", picture(1100, 700))
    options = {"dzi": True, "watermark": "Bảo tàng"}
    first = run(source, tmp_path / "a", **options)
    second = run(source, tmp_path / "b", **options)

    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and p.name != "report.json"
        }

    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert len(files(tmp_path / "a")) > 20
    first.pop("timings"), second.pop("timings")
    assert first == second


@pytest.mark.parametrize(
    ("suffix", "save"),
    [
        (".webp", {"Q": 95}),
        (".jp2", {"lossless": True}),
        (".avif", {"compression": "av1", "lossless": True}),
        (".heic", {"compression": "hevc", "Q": 95}),
        (".tif", {"compression": "lzw"}),
    ],
)
def test_each_supported_format_is_read(tmp_path: Path, suffix: str, save: dict[str, Any]) -> None:
    pixels = picture(300, 200)
    image = pyvips.Image.new_from_memory(pixels.tobytes(), 300, 200, 3, "uchar")
    source = tmp_path / f"photo{suffix}"
    try:
        image.copy(interpretation="srgb").write_to_file(str(source), **save)
    except pyvips.Error as exc:
        pytest.skip(f"this libvips cannot write {suffix}: {exc}")
    report = run(source, tmp_path / "out")
    assert (report["statistics"]["width"], report["statistics"]["height"]) == (300, 200)
    got = flatten_white(full_tile(tmp_path / "out", 300, 200))
    assert np.abs(got - pixels).mean() < 8


# Orientation and colour


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_renders_upright(tmp_path: Path, orientation: int) -> None:
    upright = picture(240, 160)
    stored = Image.fromarray(upright)
    if orientation in UPRIGHT:
        method = UPRIGHT[orientation]
        stored = stored.transpose(INVERSE.get(method, method))
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = tmp_path / "oriented.jpg"
    stored.save(source, quality=95, exif=exif.tobytes())
    out = tmp_path / "out"
    report = run(source, out)
    assert (report["statistics"]["width"], report["statistics"]["height"]) == (240, 160)
    difference = np.abs(full_tile(out, 240, 160) - upright.astype(np.float64))
    assert difference.mean() < 6, f"orientation {orientation} not upright"


@pytest.mark.parametrize("orientation", [1, 3, 6, 7])
def test_a_jpegs_smaller_levels_come_from_a_half_size_decode_upright(
    tmp_path: Path, orientation: int
) -> None:
    """A JPEG's levels below the first are written from a second decode at half size (libjpeg
    shrinks while decoding) and joined to the first: same geometry as libvips' own pyramid,
    the same picture, upright, every level."""
    upright = picture(1000, 640)
    stored = Image.fromarray(upright)
    if orientation in UPRIGHT:
        method = UPRIGHT[orientation]
        stored = stored.transpose(INVERSE.get(method, method))
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = tmp_path / "oriented.jpg"
    stored.save(source, quality=95, exif=exif.tobytes())
    out = tmp_path / "out"
    report = run(source, out, tile_size=256)
    assert report["statistics"]["tiles"] == pyramid.expected_tile_count(1000, 640, 256)
    tiff = out / "pyramid.tif"
    pages = pyvips.Image.new_from_file(str(tiff)).get("n-pages")
    levels = [pyvips.Image.new_from_file(str(tiff), page=page) for page in range(pages)]
    assert [(level.width, level.height) for level in levels] == [
        (1000, 640),
        (500, 320),
        (250, 160),
    ]
    assert not (tmp_path / "out" / ".pyramid-levels.tif").exists()
    whole = pyvips.Image.new_from_array(upright, interpretation="srgb")
    for number, level in enumerate(levels):
        want = vips_pixels(whole.shrink(2**number, 2**number) if number else whole)
        assert np.abs(vips_pixels(level) - want).mean() < 4, f"level {number}"


def test_sixteen_bits_are_scaled_not_clipped(tmp_path: Path) -> None:
    y, x = np.mgrid[0:64, 0:256]
    sixteen = np.stack([x * 257, (255 - x) * 257, y * 1000], -1).astype(np.uint16)
    image = pyvips.Image.new_from_memory(sixteen.tobytes(), 256, 64, 3, "ushort")
    source = tmp_path / "sixteen.png"
    image.copy(interpretation="rgb16").pngsave(str(source))
    out = tmp_path / "out"
    report = run(source, out)
    assert report["statistics"]["colour"]["before"]["bits"] == 16
    expected = sixteen.astype(np.float64) / 257
    got = read_pixels(out / "pyramid.tif")
    assert np.abs(got - expected).mean() < 1.5
    # Inside the last pixel: a JPEG-in-TIFF edge tile is padded (libvips pads with black),
    # and the decoder's chroma upsampling mixes a quarter of the padding into that column.
    assert np.abs(got - expected)[:-1, :-1].max() < 8


def test_profiled_sixteen_bit_rgba_converts_colour_and_scales_alpha(tmp_path: Path) -> None:
    """A Display P3 16-bit image with alpha: colours to sRGB, alpha 0–65535 to 0–255."""
    y, x = np.mgrid[0:48, 0:160]
    rgb = np.stack([x * 400, 65535 - x * 400, y * 1300], -1)
    alpha = np.where(x < 80, 65535, 32896)[..., None]
    pixels = np.concatenate([rgb, alpha], -1).astype(np.uint16)
    image = pyvips.Image.new_from_memory(pixels.tobytes(), 160, 48, 4, "ushort")
    p3 = image.copy(interpretation="rgb16").icc_transform("p3", input_profile="srgb", depth=16)
    source = tmp_path / "p3.png"
    p3.pngsave(str(source))
    profile = p3.get("icc-profile-data")
    report = run(source, tmp_path / "out")
    assert report["statistics"]["colour"]["before"]["icc"] not in (None, "unreadable profile")
    got = read_pixels(tmp_path / "out" / "pyramid.tif")  # lossless with alpha
    assert got.shape[-1] == 4
    np.testing.assert_allclose(got[..., 3], (alpha[..., 0] / 257).round(), atol=1)
    with Image.open(source) as opened:  # Pillow reads 16-bit RGBA PNGs as 8-bit
        p3_8 = opened.convert("RGBA")
    reference = ImageCms.profileToProfile(
        p3_8.convert("RGB"),
        ImageCms.ImageCmsProfile(io.BytesIO(profile)),
        ImageCms.createProfile("sRGB"),
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )
    assert reference is not None
    difference = delta_e_2000(
        srgb_to_lab(np.asarray(reference, np.float64)), srgb_to_lab(got[..., :3])
    )
    assert difference.max() < 3


def test_cmyk_without_profile_uses_the_default_cmyk_profile(tmp_path: Path) -> None:
    cmyk = Image.fromarray(picture(160, 96)).convert("CMYK")
    source = tmp_path / "cmyk.jpg"
    cmyk.save(source, quality=95)
    report = run(source, tmp_path / "out")
    assert report["statistics"]["colour"]["before"]["interpretation"] == "cmyk"
    assert any("CMYK" in warning for warning in report["warnings"])
    default_cmyk = pyvips.Image.black(1, 1, bands=3).icc_transform("cmyk", input_profile="srgb")
    with Image.open(source) as decoded:
        reference = ImageCms.profileToProfile(
            decoded,
            ImageCms.ImageCmsProfile(io.BytesIO(default_cmyk.get("icc-profile-data"))),
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode="RGB",
        )
    assert reference is not None
    got = read_pixels(tmp_path / "out" / "pyramid.tif")
    difference = delta_e_2000(
        srgb_to_lab(block_means(np.asarray(reference, np.float64))),
        srgb_to_lab(block_means(got)),
    )
    assert difference.max() < 3


def test_alpha_is_flattened_on_white_for_jpeg_and_kept_in_the_pyramid(tmp_path: Path) -> None:
    rgba = np.zeros((100, 200, 4), np.uint8)
    rgba[..., :3] = (200, 30, 30)
    rgba[:, 100:, 3] = 255  # left half transparent
    source = tmp_path / "alpha.png"
    Image.fromarray(rgba).save(source)
    out = tmp_path / "out"
    report = run(source, out)
    assert report["statistics"]["colour"]["after"]["alpha"] is True
    tile = full_tile(out, 200, 100)
    assert tile[:, :90].min() > 245  # transparent → white
    assert np.abs(tile[:, 110:] - (200, 30, 30)).max() < 12
    assert read_pixels(out / "pyramid.tif").shape[-1] == 4


def test_watermark_marks_public_files_only(tmp_path: Path) -> None:
    source = multipage_tiff(tmp_path / "doc.tif", [(250, 250, 250)] * 2, (600, 400))
    plain = run(source, tmp_path / "plain", kind="document")
    marked = run(source, tmp_path / "marked", kind="document", watermark="Bảo tàng Đắk Lắk")
    page = Path("pages/0001")
    for name in ("thumb-400.jpg", "iiif/0,0,512,400/512,400/0/default.jpg", "pyramid.tif"):
        a = read_pixels(tmp_path / "plain" / page / name)
        b = read_pixels(tmp_path / "marked" / page / name)
        assert np.abs(a - b).max() > 40, name  # the text is visible
        assert (np.abs(a - b).max(axis=-1) > 40).mean() < 0.5, name  # and does not cover the page
    ocr = "ocr.png"
    assert (tmp_path / "plain" / page / ocr).read_bytes() == (
        tmp_path / "marked" / page / ocr
    ).read_bytes()
    assert plain["parameters"]["watermark"] is None
    assert marked["parameters"]["watermark"] == "Bảo tàng Đắk Lắk"


# Documents


def test_a_three_page_tiff_gives_three_page_pyramids(tmp_path: Path) -> None:
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
    source = multipage_tiff(tmp_path / "letters.tif", colours, (700, 500))
    out = tmp_path / "out"
    report = run(source, out)
    assert report["kind"] == "document"
    pages = report["statistics"]["pages"]
    assert [page["page"] for page in pages] == [1, 2, 3]
    for number, (page, colour) in enumerate(zip(pages, colours, strict=True), 1):
        folder = out / "pages" / f"{number:04d}"
        assert page["info"] == f"pages/{number:04d}/iiif/info.json"
        assert tiles_on_disk(folder / "iiif") == set(pyramid.tile_paths(700, 500, 512))
        assert page["tiles"] == pyramid.expected_tile_count(700, 500, 512)
        thumb = read_pixels(folder / "thumb-150.jpg")
        assert np.abs(thumb.mean(axis=(0, 1)) - colour).max() < 6
        ocr = pyvips.Image.new_from_file(str(folder / "ocr.png"))
        assert (ocr.width, ocr.height, ocr.bands) == (700, 500, 1)
        assert page["ocr_image"]["path"] == f"pages/{number:04d}/ocr.png"
    roles = [(a.get("page"), a["role"]) for a in report["artefacts"]]
    assert (
        (2, "pyramid") in roles and (3, "ocr-input") in roles and (None, "thumbnail:150") in roles
    )
    assert (out / "thumb-150.jpg").read_bytes() == (out / "pages/0001/thumb-150.jpg").read_bytes()


def test_a_pdf_is_rendered_page_by_page_at_the_document_dpi(tmp_path: Path) -> None:
    pdf = FPDF(unit="mm", format=(105, 148))  # A6
    pdf.set_font("helvetica", size=16)
    for text in ("Trang mot", "Trang hai"):
        pdf.add_page()
        pdf.cell(text=text)
    source = tmp_path / "scan.pdf"
    pdf.output(str(source))
    report = run(source, tmp_path / "out", document_dpi=100)
    assert report["kind"] == "document" and report["source"]["format"] == "pdf"
    pages = report["statistics"]["pages"]
    assert len(pages) == 2
    assert abs(pages[0]["width"] - 105 / 25.4 * 100) <= 1  # A6 is 105 × 148 mm
    assert abs(pages[0]["height"] - 148 / 25.4 * 100) <= 1
    assert pages[1]["ocr_image"]["dpi"] == 100


def test_a_multipage_tiff_as_an_image_keeps_the_first_page_and_says_so(tmp_path: Path) -> None:
    source = multipage_tiff(tmp_path / "two.tif", [(10, 10, 10), (240, 240, 240)], (300, 200))
    report = run(source, tmp_path / "out", kind="image")
    assert report["kind"] == "image" and len(report["statistics"]["pages"]) == 1
    assert any("only the first" in warning for warning in report["warnings"])
    assert read_pixels(tmp_path / "out" / "thumb-150.jpg").mean() < 30


def test_a_pyramidal_tiff_is_one_image_not_a_document(
    photo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = photo
    report = run(out / "pyramid.tif", tmp_path / "out")
    assert report["kind"] == "image" and report["source"]["pages"] > 1
    assert report["warnings"] == []
    assert report["statistics"]["width"] == 1500


# Refusals


def test_the_palette_png_bomb_is_refused_in_under_two_seconds(tmp_path: Path) -> None:
    bomb = palette_png_bomb(tmp_path / "bomb.png")
    started = time.monotonic()
    with pytest.raises(ImageError) as refused:
        run(bomb, tmp_path / "out")
    assert time.monotonic() - started < 2.0
    assert refused.value.code == "decompression_bomb"
    assert "19000×19000" in refused.value.reason and "bomb" in refused.value.reason
    started = time.monotonic()  # the same through the sandbox, as museum process runs it
    with pytest.raises(Failure) as failed:
        process_image(bomb, tmp_path / "sandboxed", ImageOptions(), LIMITS)
    assert time.monotonic() - started < 2.0
    assert failed.value.code == "decompression_bomb"
    left = json.loads((tmp_path / "sandboxed" / "report.json").read_text())
    assert left["status"] == "failed" and left["error"]["code"] == "decompression_bomb"
    assert sorted(p.name for p in (tmp_path / "sandboxed").iterdir()) == ["report.json"]


@pytest.mark.parametrize(
    ("limits", "code", "words"),
    [
        (ImageLimits(max_pixels=50_000), "too_many_pixels", ("320×200", "megapixels")),
        (ImageLimits(max_bytes=1000), "input_too_large", ("bytes", "1,000")),
    ],
)
def test_over_limit_images_are_refused_naming_the_limit(
    tmp_path: Path, limits: ImageLimits, code: str, words: tuple[str, ...]
) -> None:
    source = save_jpeg(tmp_path / "photo.jpg", picture(320, 200))
    with pytest.raises(ImageError) as refused:
        process(source, tmp_path / "out", ImageOptions(limits=limits))
    assert refused.value.code == code
    assert all(word in refused.value.reason for word in words), refused.value.reason


def test_too_many_pages_are_refused(tmp_path: Path) -> None:
    source = multipage_tiff(tmp_path / "pages.tif", [(0, 0, 0)] * 3, (64, 64))
    with pytest.raises(ImageError) as refused:
        process(source, tmp_path / "out", ImageOptions(limits=ImageLimits(max_pages=2)))
    assert refused.value.code == "too_many_pages" and "3 pages" in refused.value.reason


def test_truncated_and_corrupt_files_are_refused_not_rendered_grey(tmp_path: Path) -> None:
    whole = save_jpeg(tmp_path / "whole.jpg", picture(800, 600)).read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageError) as refused:
        run(truncated, tmp_path / "a")
    assert refused.value.code == "malformed" and "truncated" in refused.value.reason
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(whole[:20] + bytes(range(256)) * 4)  # a JFIF header, then noise
    with pytest.raises(ImageError) as refused:
        run(corrupt, tmp_path / "b")
    assert refused.value.code == "malformed" and "corrupt.jpg" in refused.value.reason
    png = io.BytesIO()
    Image.fromarray(np.asarray(picture(800, 600), dtype=np.uint8)).save(png, "PNG")
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes(png.getvalue()[: len(png.getvalue()) * 2 // 3])
    with pytest.raises(ImageError) as refused:
        run(cut_png, tmp_path / "p")
    assert refused.value.code == "malformed" and "cut.png" in refused.value.reason
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError) as refused:
        run(empty, tmp_path / "c")
    assert refused.value.code == "malformed" and "empty" in refused.value.reason


def test_damage_is_read_from_libvips_warnings() -> None:
    """The pyramid decodes with fail_on="none" (libvips 8.14 crashes otherwise): its warnings
    must refuse what fail_on="error" refused, and only that."""
    from processing.images.probe import damage_in

    path = Path("scan.jpg")
    truncated = damage_in(["VIPS: VipsJpeg: Premature end of JPEG file\n"], path)
    assert truncated is not None and "truncated" in truncated.reason
    crc = damage_in(["VIPS: IDAT: CRC error"], path)
    assert crc is not None and crc.code == "malformed" and "damaged" in crc.reason
    harmless = ["VIPS: read gave 1 warnings", "VIPS: VipsJpeg: Corrupt JPEG data: 2 extraneous"]
    assert damage_in(harmless, path) is None


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="9"/></svg>'


def test_formats_outside_the_allow_list_are_refused(tmp_path: Path) -> None:
    svg = tmp_path / "drawing.jpg"  # the name lies; the bytes decide
    svg.write_bytes(SVG)
    bmp = tmp_path / "picture.bmp"  # only ImageMagick would read a BMP in libvips
    Image.new("RGB", (8, 8)).save(bmp)
    for source in (svg, bmp):
        with pytest.raises(ImageError) as refused:
            run(source, tmp_path / source.stem)
        assert refused.value.code == "unsupported_format", source
        assert source.name in refused.value.reason


def test_untrusted_libvips_loaders_are_blocked(tmp_path: Path) -> None:
    configure_vips()
    svg = tmp_path / "drawing.svg"
    svg.write_bytes(SVG)
    matrix = tmp_path / "numbers.csv"
    matrix.write_text("1,2\n3,4\n")
    bmp = tmp_path / "picture.bmp"
    Image.new("RGB", (8, 8)).save(bmp)
    for path, loader in ((svg, "svgload"), (matrix, "csvload"), (bmp, "magickload")):
        with pytest.raises(pyvips.Error, match=f"{loader}: operation is blocked"):
            pyvips.Image.new_from_file(str(path)).avg()
    allowed = save_jpeg(tmp_path / "ok.jpg", picture(16, 16))
    assert pyvips.Image.new_from_file(str(allowed)).avg() > 0


def test_options_are_checked_and_survive_json() -> None:
    with pytest.raises(ImageError) as refused:
        ImageOptions(tile_size=10, kind="video")
    assert refused.value.code == "invalid_parameter"
    assert "tile_size" in refused.value.reason and "kind" in refused.value.reason.lower()
    options = ImageOptions(
        kind="document", thumbnail_widths=(200,), watermark="x", limits=ImageLimits(max_pages=5)
    )
    assert options_from_json(json.loads(json.dumps(options_to_json(options)))) == options


def test_the_sandboxed_run_renames_the_output_into_place(tmp_path: Path) -> None:
    source = save_jpeg(tmp_path / "photo.jpg", picture(600, 400))
    progress: list[float] = []
    out = tmp_path / "out"
    report = process_image(
        source, out, ImageOptions(), LIMITS, lambda percent, _: progress.append(percent)
    )
    assert report["status"] == "ok"
    assert json.loads((out / "report.json").read_text())["artefacts"] == report["artefacts"]
    assert progress == sorted(progress) and progress[-1] > 50
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
