"""Acceptance on real third-party images (../shared/corpus/images): every pyramid is the
computed one, CMYK and 16-bit inputs match an independent sRGB conversion, damaged files are
refused with the reason, in the sandbox the CLI and the worker use."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyvips
from PIL import Image, ImageCms

from processing.images import color, pyramid
from processing.images.model import ImageOptions
from processing.images.probe import LOADERS, load, sniff_image
from processing.runner import Failure, process_image
from tests.conftest import CORPUS
from tests.test_images_pipeline import (
    LIMITS,
    FloatArray,
    block_means,
    delta_e_2000,
    flatten_white,
    read_pixels,
    srgb_to_lab,
    tiles_on_disk,
    vips_pixels,
)

IMAGES = CORPUS / "images"
pytestmark = [
    pytest.mark.corpus,
    pytest.mark.slow,
    pytest.mark.skipif(not IMAGES.is_dir(), reason=f"the image corpus is not at {IMAGES}"),
]
VALID = [
    "edge_cases/16bit.MM.deflate.tif",
    "edge_cases/hopper_bigtiff.tif",
    "edge_cases/hopper_jpg.tif",
    "edge_cases/hopper_lzw.tif",
    "edge_cases/icc_profile_big.jpg",
    "edge_cases/jpeg_with_cmyk_profile.jpg",
    "edge_cases/pil_sample_cmyk.jpg",
    "edge_cases/png16_trns_tbgn2c16.png",
    "edge_cases/png_alpha_blackbug.png",
    "edge_cases/relax.jp2",
    "edge_cases/tiff_16bit_RGB.tiff",
    "edge_cases/tiff_16bit_RGBa.tiff",
    "iiif/67352ccc-d1b0-11e1-89ae-279075081939.jp2",
    "iiif/67352ccc-d1b0-11e1-89ae-279075081939.png",
    "large/loris_gray_2477x3200.jp2",
    "large/natural_earth_NE2_4000x2000.jpg",
    "large/starfish_3000x4000_progressive.jpg",
    "large/tetons_4000x3000.jpg",
]
BROKEN = ["edge_cases/corrupt-header.jpg", "edge_cases/truncated.jpg"]
# CMYK, 16-bit and ICC-tagged inputs whose colour is checked against Pillow + LittleCMS.
COLOUR = [
    "edge_cases/jpeg_with_cmyk_profile.jpg",
    "edge_cases/pil_sample_cmyk.jpg",
    "edge_cases/tiff_16bit_RGB.tiff",
    "edge_cases/tiff_16bit_RGBa.tiff",
    "edge_cases/16bit.MM.deflate.tif",
    "edge_cases/png16_trns_tbgn2c16.png",
    "edge_cases/icc_profile_big.jpg",
]
DELTA_E_LIMIT = 3.0  # the acceptance criterion: ΔE2000 < 3 at sampled pixels


def test_the_corpus_lists_cover_every_file() -> None:
    on_disk = {p.relative_to(IMAGES).as_posix() for p in IMAGES.rglob("*") if p.is_file()}
    assert on_disk == set(VALID) | set(BROKEN)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("images")
    done = {}
    for number, name in enumerate(VALID):
        out = base / f"out{number}"
        done[name] = (out, process_image(IMAGES / name, out, ImageOptions(), LIMITS))
    return done


@pytest.mark.parametrize("name", VALID)
def test_tile_count_equals_the_computed_pyramid(
    runs: dict[str, tuple[Path, dict[str, Any]]], name: str
) -> None:
    out, report = runs[name]
    stats = report["statistics"]
    width, height = stats["width"], stats["height"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(IMAGES / name) as source:  # an independent reading of the size
            assert (width, height) == source.size
    assert tiles_on_disk(out / "iiif") == set(pyramid.tile_paths(width, height, 512))
    assert stats["tiles"] == pyramid.expected_tile_count(width, height, 512)
    info = json.loads((out / "iiif" / "info.json").read_text())
    assert info["tiles"][0]["scaleFactors"] == pyramid.scale_factors(width, height, 512)
    for size in info["sizes"]:
        assert (out / "iiif" / "full" / f"{size['width']},{size['height']}" / "0").is_dir()
    assert stats["colour"]["after"]["bits"] == 8
    assert stats["colour"]["after"]["interpretation"] in ("srgb", "b-w")


def reference_srgb(path: Path) -> FloatArray:
    """The file converted to 8-bit sRGB on white by Pillow and LittleCMS, never by libvips."""
    with Image.open(path) as opened:
        opened.load()
        image: Image.Image = opened
    if image.mode == "CMYK":
        profile = image.info.get("icc_profile") or _libvips_default_cmyk_profile()
        converted = ImageCms.profileToProfile(
            image,
            ImageCms.ImageCmsProfile(io.BytesIO(profile)),
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode="RGB",
        )
        assert converted is not None
        return np.asarray(converted, dtype=np.float64)
    if image.mode.startswith("I;16"):
        order = ">u2" if image.mode.endswith("B") else "<u2"
        grey = np.frombuffer(image.tobytes(), dtype=order).reshape(image.height, image.width)
        return flatten_white(grey[..., None].astype(np.float64) / 257)
    profile = image.info.get("icc_profile")
    if image.mode == "RGB" and profile:
        converted = ImageCms.profileToProfile(
            image,
            ImageCms.ImageCmsProfile(io.BytesIO(profile)),
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
        )
        assert converted is not None
        image = converted
    if "transparency" in image.info or image.mode in ("P", "LA"):
        image = image.convert("RGBA")
    pixels = np.asarray(image, dtype=np.float64)
    return flatten_white(pixels if pixels.ndim == 3 else pixels[..., None])


def _libvips_default_cmyk_profile() -> bytes:
    """The CMYK profile libvips assumes for untagged CMYK (the pipeline says so in a warning)."""
    tagged = pyvips.Image.black(1, 1, bands=3).icc_transform("cmyk", input_profile="srgb")
    return bytes(tagged.get("icc-profile-data"))


def difference(reference: FloatArray, got: FloatArray) -> FloatArray:
    return delta_e_2000(srgb_to_lab(reference), srgb_to_lab(flatten_white(got)))


@pytest.mark.parametrize("name", COLOUR)
def test_colour_matches_an_independent_srgb_conversion(
    runs: dict[str, tuple[Path, dict[str, Any]]], name: str
) -> None:
    out, report = runs[name]
    reference = reference_srgb(IMAGES / name)
    # The colour steps themselves, before any JPEG: every pixel.
    source = IMAGES / name
    image, _ = color.to_srgb(load(source, LOADERS[sniff_image(source)][0]))
    assert difference(reference, vips_pixels(image)).max() < DELTA_E_LIMIT
    # The pyramid dynamic IIIF renders from (JPEG q85 with colour at half resolution, or
    # lossless with alpha), sampled as means of 16×16 blocks, the unit JPEG codes colour in
    # (2×2-subsampled chroma, 8×8 DCT): its block noise averages out, colour errors do not.
    # (8×8 means straddle two colour blocks; a saturated edge of the CMYK sample then sits at
    # ΔE 3.0 ± 0.04 whichever encoder writes the tiles.)
    pyramid_pixels = flatten_white(read_pixels(out / "pyramid.tif"))
    sampled = difference(block_means(reference, 16), block_means(pyramid_pixels, 16))
    assert sampled.max() < DELTA_E_LIMIT
    # The public tile (JPEG q85, chroma subsampled): the same samples, on average.
    width, height = report["statistics"]["width"], report["statistics"]["height"]
    tile = out / "iiif" / f"0,0,{width},{height}" / f"{width},{height}" / "0" / "default.jpg"
    assert difference(block_means(reference), block_means(read_pixels(tile))).mean() < 1.5


def test_untagged_cmyk_is_reported_as_an_assumption(
    runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    _, untagged = runs["edge_cases/pil_sample_cmyk.jpg"]
    _, tagged = runs["edge_cases/jpeg_with_cmyk_profile.jpg"]
    assert any("default CMYK profile" in warning for warning in untagged["warnings"])
    assert tagged["warnings"] == []
    before = tagged["statistics"]["colour"]["before"]
    assert before["interpretation"] == "cmyk" and "SWOP" in before["icc"]


def test_alpha_survives_in_the_pyramid(runs: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    out, report = runs["edge_cases/png_alpha_blackbug.png"]
    assert report["statistics"]["colour"]["after"]["alpha"] is True
    pyramid_image = pyvips.Image.new_from_file(str(out / "pyramid.tif"))
    assert pyramid_image.bands == 4 and pyramid_image.extract_band(3).min() < 255


def test_jpeg2000_that_libvips_cannot_decode_is_read_by_pillow(
    runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    out, report = runs["large/loris_gray_2477x3200.jp2"]
    assert any("Pillow decoded it" in warning for warning in report["warnings"])
    with Image.open(IMAGES / "large/loris_gray_2477x3200.jp2") as source:
        expected = np.asarray(source.reduce(8), dtype=np.float64)
    level = pyvips.Image.new_from_file(str(out / "pyramid.tif"), page=3)  # 1/8 scale
    got = vips_pixels(level)[..., 0]
    rows, cols = min(len(got), len(expected)), min(got.shape[1], expected.shape[1])
    assert np.abs(got[:rows, :cols] - expected[:rows, :cols]).mean() < 3


def test_the_iiif_validator_image_from_png_and_jp2_agree(
    runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    png_out, png = runs["iiif/67352ccc-d1b0-11e1-89ae-279075081939.png"]
    jp2_out, jp2 = runs["iiif/67352ccc-d1b0-11e1-89ae-279075081939.jp2"]
    assert png["statistics"]["scale_factors"] == jp2["statistics"]["scale_factors"] == [1, 2]
    a, b = read_pixels(png_out / "thumb-400.jpg"), read_pixels(jp2_out / "thumb-400.jpg")
    assert a.shape == b.shape == (400, 400, 3)
    assert np.abs(a - b).mean() < 3


@pytest.mark.parametrize("name", BROKEN)
def test_damaged_files_are_refused_with_the_reason(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(Failure) as refused:
        process_image(IMAGES / name, out, ImageOptions(), LIMITS)
    assert refused.value.code == "malformed"
    assert Path(name).name in refused.value.reason and "truncated" in refused.value.reason
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed" and report["error"]["code"] == "malformed"
    assert [p.name for p in out.iterdir()] == ["report.json"]
