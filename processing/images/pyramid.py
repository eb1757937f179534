"""IIIF level-0 tiles, a pyramidal TIFF, thumbnails and DeepZoom, all streamed by libvips.

The tile geometry is computed here independently of libvips
(:func:`scale_factors`, :func:`tile_paths`) so tests can check that the
pyramid on disk is exactly the one a IIIF client will ask for, and so
``info.json`` can be corrected: libvips 8.14's ``iiif3`` layout writes the
single-tile top level but leaves its scale factor out of ``info.json``
(a 512×512 image gets ``"scaleFactors": []``), and writes a
``vips-properties.xml`` holding the save date and the source's metadata.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips

from processing.images.color import flatten
from processing.images.metadata import public_copy

IIIF_CONTEXT = "http://iiif.io/api/image/3/context.json"
IIIF_PROTOCOL = "http://iiif.io/api/image"
# Rewritten per request by the server; a reserved (.invalid) host can never resolve.
PLACEHOLDER_ID = "https://iiif.invalid/placeholder"
TILE_NAME = "default.jpg"
PROPERTIES_FILE = "vips-properties.xml"
CHECKSUMS_FILE = "tiles.sha256"
DZI_NAME = "image"
# BigTIFF when the uncompressed pyramid could pass 4 GiB (a classic TIFF's offsets are 32-bit).
BIGTIFF_BYTES = 3 * 1024**3
PYRAMID_SHARE = 4 / 3  # a pyramid holds 1 + 1/4 + 1/16 + … of the full image


@dataclass(frozen=True)
class Tiles:
    """What :func:`build_tiles` wrote."""

    count: int  # region tiles (not the full-image aliases)
    scale_factors: tuple[int, ...]
    sizes: tuple[tuple[int, int], ...]


# Geometry


def scale_factors(width: int, height: int, tile_size: int) -> list[int]:
    """1, 2, 4, … down to the first level that fits in one tile (libvips' ``depth=onetile``)."""
    factors = [1]
    while math.ceil(width / factors[-1]) > tile_size or math.ceil(height / factors[-1]) > tile_size:
        factors.append(factors[-1] * 2)
    return factors


def level_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """The full image's size at ``factor``, as IIIF rounds it (up)."""
    return math.ceil(width / factor), math.ceil(height / factor)


def tile_paths(width: int, height: int, tile_size: int) -> Iterator[str]:
    """Every tile a IIIF Image API 3.0 client asks for, as ``x,y,w,h/w,h/0/default.jpg``.

    Levels are walked finest first; a URL a coarser level repeats is given once
    (a 1×1 corner region is 1×1 at every scale: 1025×1025 has 13 tiles, not 14).
    """
    seen: set[str] = set()
    for factor in scale_factors(width, height, tile_size):
        span = tile_size * factor
        for y in range(0, height, span):
            for x in range(0, width, span):
                w, h = min(span, width - x), min(span, height - y)
                size = f"{math.ceil(w / factor)},{math.ceil(h / factor)}"
                path = f"{x},{y},{w},{h}/{size}/0/{TILE_NAME}"
                if path not in seen:
                    seen.add(path)
                    yield path


def expected_tile_count(width: int, height: int, tile_size: int) -> int:
    """How many tile files the pyramid has (columns × rows summed over the levels, less repeats)."""
    return sum(1 for _ in tile_paths(width, height, tile_size))


# IIIF level 0


def build_tiles(
    image: pyvips.Image,
    folder: Path,
    tile_size: int,
    quality: int,
    *,
    keep_metadata: bool,
) -> Tiles:
    """IIIF Image API 3.0 level-0 tiles and ``info.json`` in ``folder`` (which must not exist).

    ``image`` is 8-bit sRGB or grey; alpha is flattened on white (JPEG).
    ``keep_metadata`` keeps the image's (already cleaned) rights packet in every tile.
    """
    flat = flatten(image)
    flat.dzsave(
        str(folder),
        layout="iiif3",
        tile_size=tile_size,
        overlap=0,
        suffix=f".jpg[Q={quality}]",
        id=PLACEHOLDER_ID,
        no_strip=keep_metadata,
    )
    (folder / PROPERTIES_FILE).unlink(missing_ok=True)
    factors = scale_factors(image.width, image.height, tile_size)
    top = level_size(image.width, image.height, factors[-1])
    count = sum(1 for _ in folder.glob(f"*/*/0/{TILE_NAME}"))
    _alias_full(folder, image.width, image.height, top, tile_size)
    return Tiles(count=count, scale_factors=tuple(factors), sizes=(top,))


def _alias_full(
    folder: Path, width: int, height: int, top: tuple[int, int], tile_size: int
) -> None:
    """The single-tile top level under ``full/…`` too: where OpenSeadragon and others ask for it."""
    source = folder / f"0,0,{width},{height}" / f"{top[0]},{top[1]}" / "0" / TILE_NAME
    add_size(folder, top, source.read_bytes())
    if width <= tile_size and height <= tile_size:
        _write(folder / "full" / "max" / "0" / TILE_NAME, source.read_bytes())


def add_size(folder: Path, size: tuple[int, int], jpeg: bytes) -> None:
    """A whole-image JPEG at ``full/w,h/0/default.jpg`` (listed in ``info.json``'s sizes)."""
    _write(folder / "full" / f"{size[0]},{size[1]}" / "0" / TILE_NAME, jpeg)


def write_info(
    folder: Path,
    width: int,
    height: int,
    tile_size: int,
    sizes: list[tuple[int, int]],
) -> dict[str, Any]:
    """``info.json`` with every scale factor and the ``sizes`` written under ``full/``."""
    info = {
        "@context": IIIF_CONTEXT,
        "id": PLACEHOLDER_ID,
        "type": "ImageService3",
        "protocol": IIIF_PROTOCOL,
        "profile": "level0",
        "width": width,
        "height": height,
        "sizes": [{"width": w, "height": h} for w, h in sorted(set(sizes))],
        "tiles": [
            {
                "width": tile_size,
                "height": tile_size,
                "scaleFactors": scale_factors(width, height, tile_size),
            }
        ],
    }
    (folder / "info.json").write_text(json.dumps(info, indent=2) + "\n", "utf-8")
    return info


def checksum_tiles(folder: Path, target: Path) -> tuple[int, int]:
    """A ``sha256sum -c`` manifest of every file under ``folder``; returns (files, bytes).

    Hashing is a small fraction of encoding the tiles, so every tile is covered
    for fixity, while the report stays small (it records this file's hash).
    """
    lines = []
    total = 0
    base = target.parent
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            total += path.stat().st_size
            relative = path.relative_to(base).as_posix()
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {relative}\n")
    target.write_text("".join(lines), "utf-8")
    return len(lines), total


# Pyramidal TIFF and thumbnails


def build_pyramid_tiff(
    image: pyvips.Image, path: Path, tile_size: int, quality: int, *, keep_metadata: bool
) -> None:
    """A tiled pyramidal TIFF for dynamic IIIF: JPEG inside, or lossless deflate with alpha."""
    lossless = image.hasalpha()
    bigtiff = image.width * image.height * image.bands * PYRAMID_SHARE > BIGTIFF_BYTES
    options: dict[str, Any] = {
        "tile": True,
        "pyramid": True,
        "tile_width": tile_size,
        "tile_height": tile_size,
        "bigtiff": bigtiff,
        "strip": not keep_metadata,
    }
    if lossless:
        options.update(compression="deflate", predictor="horizontal")
    else:
        options.update(compression="jpeg", Q=quality)
    image.tiffsave(str(path), **options)


def build_thumbnail(
    pyramid: Path, target: Path, width: int, quality: int, *, xmp: bytes | None
) -> tuple[int, int]:
    """A JPEG at most ``width`` wide (never upscaled), from the pyramid's nearest level."""
    level = _nearest_level(pyramid, width)
    height = max(1, math.ceil(width * level.height / level.width))
    thumb = level.thumbnail_image(width, height=height, size="down")
    thumb = public_copy(flatten(thumb), xmp)
    thumb.jpegsave(str(target), Q=quality, strip=xmp is None)
    return thumb.width, thumb.height


def _nearest_level(pyramid: Path, width: int) -> pyvips.Image:
    """The smallest level at least ``width`` wide (or the full image).

    Chosen here because libvips 8.14's ``thumbnail`` picks one level too small
    (a 400 px thumbnail of a 4000 px pyramid came out 250 px wide).
    """
    full = pyvips.Image.tiffload(str(pyramid), access="sequential")
    chosen = full
    pages = int(full.get("n-pages")) if full.get_typeof("n-pages") else 1
    for page in range(1, pages):
        level = pyvips.Image.tiffload(str(pyramid), page=page, access="sequential")
        if level.width < width:
            break
        chosen = level
    return chosen


def build_dzi(image: pyvips.Image, folder: Path, quality: int, *, keep_metadata: bool) -> int:
    """DeepZoom (libvips' defaults: 254 px tiles, 1 px overlap); returns the tile count."""
    folder.mkdir()
    flatten(image).dzsave(
        str(folder / DZI_NAME), layout="dz", suffix=f".jpg[Q={quality}]", no_strip=keep_metadata
    )
    for properties in folder.rglob(PROPERTIES_FILE):
        properties.unlink()
    return sum(1 for _ in (folder / f"{DZI_NAME}_files").rglob("*.jpg"))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
