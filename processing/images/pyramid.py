"""A pyramidal TIFF, the IIIF level-0 tiles cut from it, thumbnails and DeepZoom.

The image goes into a tiled pyramidal TIFF (JPEG tiles of the IIIF tile size
and quality), and the IIIF tiles are that TIFF's tiles, copied as standalone
JPEG files (:mod:`processing.images.tiffjpeg`); only the tiles the TIFF does not
hold as they are (edges, cut short) are rendered. So one encode serves both the
static tiles and the dynamic server.

A plain JPEG (baseline, upright, sRGB: what cameras write) streams into the TIFF
(:mod:`processing.images.streamtiff`), in memory that does not grow with the
image. Everything else is written by libvips' ``tiffsave`` (deflate tiles with
alpha); for a JPEG that needs orienting or converting, two pipelines at once, the
second from a decode at half size, joined (:mod:`processing.images.tiffpages`).

The tile geometry is computed here (:func:`scale_factors`, :func:`tile_specs`),
so tests can check that the pyramid on disk is exactly the one a IIIF client
will ask for.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips

from processing.images import render, streamtiff, tiffjpeg, tiffpages
from processing.images.color import flatten
from processing.images.metadata import public_copy
from processing.images.probe import malformed

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
RENDER_THREADS = 2  # tiles the pyramid cannot give as they are (libvips releases the GIL)


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


@dataclass(frozen=True)
class TileSpec:
    """One IIIF tile: its region in full-resolution pixels, its size, and its pyramid level."""

    level: int  # scale factor 2**level
    column: int
    row: int
    region: tuple[int, int, int, int]
    size: tuple[int, int]

    @property
    def path(self) -> str:
        x, y, w, h = self.region
        return f"{x},{y},{w},{h}/{self.size[0]},{self.size[1]}/0/{TILE_NAME}"

    # What a renderer needs (see processing.images.render.Plan).
    rotation = 0.0
    mirror = False
    quality = "default"
    format = "jpg"


def tile_specs(width: int, height: int, tile_size: int) -> Iterator[TileSpec]:
    """Every tile a IIIF Image API 3.0 client asks for, finest level first.

    A URL a coarser level repeats is given once (a 1×1 corner region is 1×1 at
    every scale: 1025×1025 has 13 tiles, not 14).
    """
    seen: set[tuple[int, int, int, int, int, int]] = set()
    for level, factor in enumerate(scale_factors(width, height, tile_size)):
        span = tile_size * factor
        for row, y in enumerate(range(0, height, span)):
            for column, x in enumerate(range(0, width, span)):
                w, h = min(span, width - x), min(span, height - y)
                size = (math.ceil(w / factor), math.ceil(h / factor))
                if (x, y, w, h, *size) in seen:  # the same URL: the same region and size
                    continue
                seen.add((x, y, w, h, *size))
                yield TileSpec(level, column, row, (x, y, w, h), size)


def tile_paths(width: int, height: int, tile_size: int) -> Iterator[str]:
    """Every tile's ``x,y,w,h/w,h/0/default.jpg``, finest level first (see :func:`tile_specs`)."""
    return (spec.path for spec in tile_specs(width, height, tile_size))


def expected_tile_count(width: int, height: int, tile_size: int) -> int:
    """How many tile files the pyramid has (columns × rows summed over the levels, less repeats)."""
    return sum(1 for _ in tile_specs(width, height, tile_size))


# IIIF level 0


def build_tiles(
    pyramid_tif: Path,
    folder: Path,
    width: int,
    height: int,
    tile_size: int,
    quality: int,
    *,
    xmp: bytes | None,
    threads: int = RENDER_THREADS,
) -> tuple[Tiles, dict[str, str]]:
    """IIIF Image API 3.0 level-0 tiles in ``folder`` (which must not exist), from the pyramid.

    A whole tile at a level the TIFF holds, in JPEG tiles of ``tile_size``, is the
    TIFF's own tile, copied (:mod:`processing.images.tiffjpeg`): the pixels were
    encoded once, when the pyramid was written. The others (edge tiles, cut short;
    levels the TIFF stops before; a pyramid with alpha, kept lossless) are rendered
    from the pyramid by :func:`processing.images.render.render`, as the server would.
    ``xmp`` (the rights packet) goes into every tile. Returns what was written and
    the SHA-256 of each file, by path relative to ``folder``.
    """
    folder.mkdir()
    digests: dict[str, str] = {}

    def write(spec: TileSpec, data: bytes) -> None:
        _write(folder / spec.path, data)
        digests[spec.path] = hashlib.sha256(data).hexdigest()

    with tiffjpeg.JpegTiles(pyramid_tif) as tiff, ThreadPoolExecutor(threads) as pool:
        levels = len(tiff.levels)  # every page, JPEG or not

        def rendered(spec: TileSpec) -> bytes:
            data = render.render(pyramid_tif, width, levels, spec, jpeg_quality=quality)
            return tiffjpeg.with_xmp(data, xmp)

        pending = []
        for spec in tile_specs(width, height, tile_size):
            copied = _copied(tiff, spec, tile_size, xmp)
            if copied is None:
                pending.append((spec, pool.submit(rendered, spec)))
            else:
                write(spec, copied)
        for spec, future in pending:
            write(spec, future.result())
    count = len(digests)  # the region tiles, before the full/ aliases join them
    factors = scale_factors(width, height, tile_size)
    top = level_size(width, height, factors[-1])
    _alias_full(folder, width, height, top, tile_size, digests)
    return Tiles(count=count, scale_factors=tuple(factors), sizes=(top,)), digests


def _copied(
    tiff: tiffjpeg.JpegTiles, spec: TileSpec, tile_size: int, xmp: bytes | None
) -> bytes | None:
    """The TIFF's own tile for ``spec`` when it is exactly that tile, else None."""
    level = tiff.levels[spec.level] if spec.level < len(tiff.levels) else None
    if level is None or spec.size != (tile_size, tile_size):
        return None
    if (level.tile_width, level.tile_height) != (tile_size, tile_size):
        return None
    if (spec.column + 1) * tile_size > level.width or (spec.row + 1) * tile_size > level.height:
        return None
    return tiff.tile(spec.level, spec.column, spec.row, xmp=xmp)


def _alias_full(
    folder: Path,
    width: int,
    height: int,
    top: tuple[int, int],
    tile_size: int,
    digests: dict[str, str],
) -> None:
    """The single-tile top level under ``full/…`` too: where OpenSeadragon and others ask for it."""
    source = folder / f"0,0,{width},{height}" / f"{top[0]},{top[1]}" / "0" / TILE_NAME
    data = source.read_bytes()
    digests.update(add_size(folder, top, data))
    if width <= tile_size and height <= tile_size:
        _write(folder / "full" / "max" / "0" / TILE_NAME, data)
        digests[f"full/max/0/{TILE_NAME}"] = hashlib.sha256(data).hexdigest()


def add_size(folder: Path, size: tuple[int, int], jpeg: bytes) -> dict[str, str]:
    """A whole-image JPEG at ``full/w,h/0/default.jpg`` (listed in ``info.json``'s sizes).

    Returns its SHA-256 by path relative to ``folder``.
    """
    relative = f"full/{size[0]},{size[1]}/0/{TILE_NAME}"
    _write(folder / relative, jpeg)
    return {relative: hashlib.sha256(jpeg).hexdigest()}


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


def checksum_tiles(
    folder: Path, target: Path, known: dict[str, str] | None = None
) -> tuple[int, int]:
    """A ``sha256sum -c`` manifest of every file under ``folder``; returns (files, bytes).

    ``known`` holds digests already taken as the files were written (by path
    relative to ``folder``): only the others are read. Every tile is covered for
    fixity, while the report stays small (it records this file's hash).
    """
    known = known or {}
    prefix = folder.relative_to(target.parent).as_posix()
    files = sorted(
        Path(root, name).relative_to(folder).as_posix()
        for root, _, names in os.walk(folder)
        for name in names
    )
    lines = []
    total = 0
    for relative in files:
        path = folder / relative
        total += path.stat().st_size
        digest = known.get(relative) or hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {prefix}/{relative}\n")
    target.write_text("".join(lines), "utf-8")
    return len(lines), total


# Pyramidal TIFF and thumbnails


def build_pyramid_tiff(
    image: pyvips.Image,
    path: Path,
    tile_size: int,
    quality: int,
    *,
    keep_metadata: bool,
    half: pyvips.Image | None = None,
    plain_jpeg: Path | None = None,
) -> list[str]:
    """A tiled pyramidal TIFF: JPEG tiles (the IIIF tiles' bytes), or lossless deflate with alpha.

    Each level is the one above shrunk 2×2 (its size rounded down, libvips'
    rule), down to the first level that fits in one tile.

    ``plain_jpeg``, a baseline JPEG whose decoded pixels are ``image`` as it is, is
    streamed (:mod:`processing.images.streamtiff`): libjpeg reads it twice at once,
    at full and at half size, and every tile of a tile row is encoded side by side,
    in memory that does not grow with the image. Anything else goes to libvips'
    ``tiffsave``, which decodes tiled and strip sources on both cores; ``half``, the
    same image at half size decoded on its own, lets it write the smaller levels at
    the same time. Returns what libjpeg warned of while reading ``plain_jpeg`` (the
    caller judges it).
    """
    lossless = image.hasalpha()
    bigtiff = image.width * image.height * image.bands * PYRAMID_SHARE > BIGTIFF_BYTES
    if plain_jpeg is not None and not lossless and image.bands in (1, 3):
        xmp = image.get("xmp-data") if keep_metadata and image.get_typeof("xmp-data") else None
        try:
            return _streamed(image, path, tile_size, quality, bigtiff, xmp, plain_jpeg)
        except streamtiff.Unavailable:
            pass  # progressive, or no libtilejpeg here: libvips writes it
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
    half = _levels_source(image, half, tile_size)
    if half is None:
        image.tiffsave(str(path), **options)
        return []
    levels = path.with_name(f".{path.stem}-levels{path.suffix}")
    try:
        with ThreadPoolExecutor(2) as pool:  # libvips releases the GIL
            top = pool.submit(image.tiffsave, str(path), **(options | {"pyramid": False}))
            rest = pool.submit(half.tiffsave, str(levels), **(options | {"strip": True}))
            top.result()
            rest.result()
        tiffpages.append_pages(path, levels)
    finally:
        levels.unlink(missing_ok=True)
    return []


def _streamed(
    image: pyvips.Image,
    path: Path,
    tile_size: int,
    quality: int,
    bigtiff: bool,
    xmp: bytes | None,
    plain_jpeg: Path,
) -> list[str]:
    full, half = streamtiff.JpegRows(plain_jpeg), streamtiff.JpegRows(plain_jpeg, 2)
    if (full.width, full.height, full.bands) != (image.width, image.height, image.bands):
        raise streamtiff.Unavailable(f"{plain_jpeg.name} does not decode to the image given")
    try:
        streamtiff.write_pyramid(
            full, path, tile_size, quality, bigtiff=bigtiff, xmp=xmp, half=half
        )
    except streamtiff.DecodeError as exc:
        raise malformed(plain_jpeg, str(exc), truncated=False) from exc
    return full.warnings + half.warnings


def _levels_source(
    image: pyvips.Image, half: pyvips.Image | None, tile_size: int
) -> pyvips.Image | None:
    """``half`` cut to the second level's size (libvips rounds a level's size down), or None
    when there is no second level or ``half`` cannot be it."""
    if half is None or max(image.width, image.height) <= tile_size:
        return None
    width, height = image.width // 2, image.height // 2
    same = (half.bands, half.format, half.interpretation) == (
        image.bands,
        image.format,
        image.interpretation,
    )
    if not same or half.width < width or half.height < height:
        return None
    return half.crop(0, 0, width, height) if (half.width, half.height) != (width, height) else half


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
