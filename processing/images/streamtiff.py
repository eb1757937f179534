"""A pyramidal TIFF of JPEG tiles, written as the image's rows stream in.

libvips' ``tiffsave`` keeps, for each level, a strip of whole tile rows of pixels
(512 rows × the width × 3 bytes, and as much again while it writes): its memory
grows with the image's width. Here every tile of a tile row is encoded side by
side as the rows arrive (:mod:`processing.images.native`), so what is held is a
strip of 32 rows, each tile's encoder state and its compressed bytes so far: the
peak barely moves with the width, and not at all with the height.

- Rows come from libvips, a strip at a time (``Region.fetch``), decoded, oriented
  and converted as the pipeline prepared them.
- Level 0 comes from the image; the next level from ``half`` when the caller has
  one (a JPEG decoded at half size, on the second core), else from level 0's rows;
  every later level from the level above, 2×2 pixels to one (rounding down the
  size, libvips' rule). Encoding is shared by two threads.
- Tiles are appended to the file as their tile row completes; the page directories
  (one per level, the smaller ones marked reduced-resolution) go at the end, and the
  header is pointed at them last: a file cut short has no pages.

The tiles are whole JPEG files (TIFF Technical Note 2 allows tables in each tile),
YCbCr 4:2:0 below quality 90 and 4:4:4 from 90, as libvips writes them; edge tiles
are padded by repeating the last column and row, not with black.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from processing.images import native

STRIP = 32  # rows fetched from libvips at a time (a divisor of every tile size, 16·k)
SUBSAMPLED_BELOW = 90  # libvips keeps full-resolution colour from Q90 up
ENCODERS = 2  # threads encoding tiles
Pixels = npt.NDArray[np.uint8]

# TIFF tags and types
NEW_SUBFILE_TYPE, IMAGE_WIDTH, IMAGE_LENGTH, BITS_PER_SAMPLE = 254, 256, 257, 258
COMPRESSION, PHOTOMETRIC, SAMPLES_PER_PIXEL, PLANAR_CONFIGURATION = 259, 262, 277, 284
TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS, TILE_BYTE_COUNTS = 322, 323, 324, 325
SAMPLE_FORMAT, YCBCR_SUBSAMPLING, REFERENCE_BLACK_WHITE, XMP = 339, 530, 532, 700
BYTE, SHORT, LONG, RATIONAL, LONG8 = 1, 3, 4, 5, 16
JPEG, MINISBLACK, YCBCR, REDUCED = 7, 1, 6, 1
BLACK_WHITE = [0, 1, 255, 1, 128, 1, 255, 1, 128, 1, 255, 1]  # Y 0–255, Cb and Cr 128 ± 127


class Unavailable(RuntimeError):
    """libtilejpeg could not be built or loaded: write the pyramid another way."""


class DecodeError(ValueError):
    """libjpeg stopped part-way through a JPEG (its words): the file is damaged."""


def level_sizes(width: int, height: int, tile_size: int) -> list[tuple[int, int]]:
    """Each level half the one above (rounded down) until one fits in one tile."""
    sizes = [(width, height)]
    while sizes[-1][0] > tile_size or sizes[-1][1] > tile_size:
        w, h = sizes[-1]
        sizes.append((max(1, w // 2), max(1, h // 2)))
    return sizes


class Rows(Protocol):
    """Where a level's pixels come from: a strip of rows at a time, top to bottom."""

    width: int
    height: int
    bands: int

    def strips(self) -> Iterator[Pixels]: ...


class VipsRows:
    """A libvips image's rows (``Region.fetch``; libvips computes them in this thread)."""

    def __init__(self, image: Any) -> None:
        self.image = image
        self.width, self.height, self.bands = image.width, image.height, image.bands

    def strips(self) -> Iterator[Pixels]:
        import pyvips

        region = pyvips.Region.new(self.image)
        for top in range(0, self.height, STRIP):
            height = min(STRIP, self.height - top)
            data = region.fetch(0, top, self.width, height)
            yield np.frombuffer(data, np.uint8).reshape(height, self.width, self.bands)


class JpegRows:
    """A baseline JPEG's rows decoded by libjpeg, at 1/``denominator`` of its size (DCT
    scaling; each side rounded up): one MCU row of memory, whatever the image's size.

    libvips' JPEG loader keeps a cache of several hundred rows as wide as the image;
    this keeps none. What libjpeg warns of (damage, a file cut short) is in
    :attr:`warnings` once the rows are read.
    """

    def __init__(self, path: Path, denominator: int = 1) -> None:
        loaded = native.library()
        if loaded is None:
            raise Unavailable("libtilejpeg is not available")
        self.ffi, self.lib = loaded
        self.path, self.denominator = path, denominator
        self.warnings: list[str] = []
        reader, (self.width, self.height, self.bands) = self._open()
        self.lib.reader_free(reader)

    def _open(self) -> tuple[Any, tuple[int, int, int]]:
        reader = self.lib.reader_new()
        if reader == self.ffi.NULL:
            raise MemoryError("no memory for a JPEG reader")
        out = self.ffi.new("int[4]")
        status = self.lib.reader_open(
            reader, os.fsencode(self.path), self.denominator, out, out + 1, out + 2, out + 3
        )
        if status != 0 or out[3]:
            why = "progressive" if status == 0 else self._text(self.lib.reader_error(reader))
            self.lib.reader_free(reader)
            raise Unavailable(f"{self.path.name} cannot be read a strip at a time ({why})")
        return reader, (out[0], out[1], out[2])

    def strips(self) -> Iterator[Pixels]:
        reader, size = self._open()
        try:
            if size != (self.width, self.height, self.bands):
                raise ValueError(f"{self.path.name} changed while it was read")
            for top in range(0, self.height, STRIP):
                height = min(STRIP, self.height - top)
                strip = np.empty((height, self.width, self.bands), np.uint8)
                pointer = self.ffi.from_buffer("unsigned char[]", strip)
                done = self.lib.reader_read(reader, pointer, strip.strides[0], height)
                if done != height:
                    raise DecodeError(self._text(self.lib.reader_error(reader)) or "no rows")
                yield strip
        finally:
            self.warnings = self._text(self.lib.reader_warnings(reader)).splitlines()
            self.lib.reader_free(reader)

    def _text(self, pointer: Any) -> str:
        return str(self.ffi.string(pointer).decode("utf-8", "replace"))


def write_pyramid(
    full: Rows,
    path: Path,
    tile_size: int,
    quality: int,
    *,
    bigtiff: bool,
    xmp: bytes | None = None,
    half: Rows | None = None,
) -> None:
    """``full`` (8-bit, 1 or 3 bands) as a pyramidal TIFF at ``path``.

    ``half``, the same picture at half size or a little more (each side rounded up),
    feeds the second level while ``full`` feeds the first, on the other core.
    """
    loaded = native.library()
    if loaded is None:
        raise Unavailable("libtilejpeg is not available")
    ffi, lib = loaded
    if full.bands not in (1, 3):
        raise ValueError("the streaming writer takes grey or RGB images")
    sizes = level_sizes(full.width, full.height, tile_size)
    subsample = full.bands == 3 and quality < SUBSAMPLED_BELOW
    with (
        _TiffFile(path, sizes, tile_size, full.bands, subsample, bigtiff, xmp) as tiff,
        ThreadPoolExecutor(ENCODERS, thread_name_prefix="tiles") as pool,
    ):
        levels = [
            _Level(ffi, lib, pool, tiff, number, w, h, tile_size, full.bands, quality, subsample)
            for number, (w, h) in enumerate(sizes)
        ]
        try:
            if half is not None and len(levels) > 1:
                w, h = sizes[1]
                if half.width < w or half.height < h or half.bands != full.bands:
                    raise ValueError("the half-size image is smaller than the second level")
                _run_both(lambda: _stream(full, levels[:1]), lambda: _stream(half, levels[1:]))
            else:
                _stream(full, levels)
        finally:
            for level in levels:
                level.close()


def _run_both(first: Callable[[], None], second: Callable[[], None]) -> None:
    """Both at once (libvips and libjpeg release the GIL); the first error is raised."""
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller's thread
            errors.append(exc)

    other = threading.Thread(target=run, args=(second,), name="pyramid-levels")
    other.start()
    run(first)
    other.join()
    if errors:
        raise errors[0]


def _stream(rows: Rows, levels: list[_Level]) -> None:
    """Strips of ``rows`` into ``levels[0]``, each level's rows halved into the next."""
    halvers = [_Halver(level.width) for level in levels[:-1]]
    for strip in rows.strips():
        for index, level in enumerate(levels):
            level.feed(strip)
            if index == len(halvers):
                break
            halved = halvers[index].feed(strip, levels[index + 1].height)
            if halved is None:
                break
            strip = halved
    for level in levels:
        level.finish()


class _Halver:
    """A level's rows, as they come, into the next level's: 2×2 pixels to one (a rounded
    mean), an odd row carried to the next strip; the last odd row and column are dropped."""

    def __init__(self, width: int) -> None:
        self.width = width // 2
        self.carry: Pixels | None = None
        self.made = 0

    def feed(self, rows: Pixels, height: int) -> Pixels | None:
        if self.carry is not None:
            rows = np.concatenate([self.carry, rows])
            self.carry = None
        pairs = min(len(rows) // 2, height - self.made)
        if len(rows) > 2 * pairs and self.made + pairs < height:
            self.carry = rows[2 * pairs : 2 * pairs + 1].copy()
        if pairs <= 0:
            return None
        self.made += pairs
        a = rows[: 2 * pairs, : 2 * self.width].astype(np.uint16)
        total = a[0::2, 0::2] + a[0::2, 1::2]
        total += a[1::2, 0::2]
        total += a[1::2, 1::2]
        total += 2
        total >>= 2
        return total.astype(np.uint8)


class _Level:
    """One level's tiles, encoded a tile row at a time as its rows arrive."""

    def __init__(
        self,
        ffi: Any,
        lib: Any,
        pool: ThreadPoolExecutor,
        tiff: _TiffFile,
        number: int,
        width: int,
        height: int,
        tile_size: int,
        bands: int,
        quality: int,
        subsample: bool,
    ) -> None:
        self.ffi, self.lib, self.pool, self.tiff = ffi, lib, pool, tiff
        self.number, self.width, self.height, self.tile = number, width, height, tile_size
        self.bands, self.quality, self.subsample = bands, quality, subsample
        self.columns = -(-width // tile_size)
        self.last_present = width - (self.columns - 1) * tile_size
        self.row = 0  # the tile row being encoded
        self.filled = 0  # its pixel rows written so far
        self.received = 0  # pixel rows of the level received
        self.tiles: Any = None  # tile*[columns] while a tile row is open
        self.pending: list[Future[int]] = []
        self.held: list[Pixels] = []  # strips the pending writes read from

    def feed(self, rows: Pixels) -> None:
        rows = rows[: self.height - self.received]
        start = 0
        while start < len(rows):
            if self.tiles is None:
                self._open_row()
            take = min(self.tile - self.filled, len(rows) - start)
            self._write(np.ascontiguousarray(rows[start : start + take]))
            start += take
            self.filled += take
            self.received += take
            if self.filled == self.tile or self.received == self.height:
                self._close_row()

    def finish(self) -> None:
        if self.received != self.height:
            raise ValueError(f"level {self.number} got {self.received} of its {self.height} rows")
        self._wait()

    def close(self) -> None:
        """Frees what an error left open (after :meth:`finish`, nothing is)."""
        for future in self.pending:
            future.cancel()
        for future in self.pending:
            if not future.cancelled():
                future.exception()
        self.pending = []
        if self.tiles is not None:
            for column in range(self.columns):
                self.lib.tile_free(self.tiles[column])
            self.tiles = None

    def _open_row(self) -> None:
        """Encoders for the next tile row (whole tiles: TIFF wants them; the encoder pads)."""
        tiles = self.ffi.new("tile *[]", self.columns)
        self.tiles = tiles
        for column in range(self.columns):
            made = self.lib.tile_new()
            if made == self.ffi.NULL:
                raise MemoryError("no memory for a JPEG encoder")
            tiles[column] = made
            if (
                self.lib.tile_start(
                    made, self.tile, self.tile, self.bands, self.quality, int(self.subsample)
                )
                != 0
            ):
                raise RuntimeError(self._error(made))
        self.filled = 0

    def _write(self, strip: Pixels) -> None:
        """Hand ``strip`` to the encoders, the columns split between the two threads."""
        self._wait()  # one strip at a time per level: encoders take rows in order
        self.held = [strip]
        pointer = self.ffi.from_buffer("unsigned char[]", strip)
        stride = strip.strides[0]
        split = self.columns // 2 if self.columns > 1 else self.columns
        runs = (
            [(0, split), (split, self.columns)] if 0 < split < self.columns else [(0, self.columns)]
        )
        for first, end in runs:
            last = self.last_present if end == self.columns else self.tile
            offset = first * self.tile * self.bands
            self.pending.append(
                self.pool.submit(
                    self.lib.tiles_write,
                    self.tiles + first,
                    end - first,
                    pointer + offset,
                    stride,
                    len(strip),
                    self.tile,
                    last,
                )
            )

    def _wait(self) -> None:
        pending, self.pending = self.pending, []
        for future in pending:
            failed = future.result()
            if failed < 0:
                raise RuntimeError(self._error(self.tiles[-failed - 1]))
        self.held = []

    def _close_row(self) -> None:
        self._wait()
        tiles, self.tiles = self.tiles, None
        try:
            for column in range(self.columns):
                size = self.lib.tile_finish(tiles[column])
                if size < 0:
                    raise RuntimeError(self._error(tiles[column]))
                data = bytes(self.ffi.buffer(self.lib.tile_data(tiles[column]), size))
                self.tiff.put(self.number, self.row * self.columns + column, data)
        finally:
            for column in range(self.columns):
                self.lib.tile_free(tiles[column])
        self.row += 1

    def _error(self, tile: Any) -> str:
        message = bytes(self.ffi.string(self.lib.tile_error(tile)))
        return "JPEG encoder: " + message.decode("utf-8", "replace")


@dataclass
class _Page:
    width: int
    height: int
    offsets: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)


class _TiffFile:
    """A TIFF (classic or BigTIFF, little-endian) whose tiles are appended as they come."""

    def __init__(
        self,
        path: Path,
        sizes: list[tuple[int, int]],
        tile_size: int,
        bands: int,
        subsample: bool,
        bigtiff: bool,
        xmp: bytes | None,
    ) -> None:
        self.path, self.tile, self.bands = path, tile_size, bands
        self.subsample, self.bigtiff, self.xmp = subsample, bigtiff, xmp
        self.pages = []
        for w, h in sizes:
            count = -(-w // tile_size) * -(-h // tile_size)
            self.pages.append(_Page(w, h, [0] * count, [0] * count))
        self.lock = threading.Lock()
        self.file = path.open("wb")
        # the header points nowhere until the directories are written (see close)
        self.file.write(b"II+\x00\x08\x00\x00\x00" + bytes(8) if bigtiff else b"II*\x00" + bytes(4))

    def __enter__(self) -> _TiffFile:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        try:
            if kind is None:
                self._directories()
        finally:
            self.file.close()

    def put(self, page: int, index: int, data: bytes) -> None:
        with self.lock:
            self.pages[page].offsets[index] = self.file.tell()
            self.pages[page].counts[index] = len(data)
            self.file.write(data)

    def _directories(self) -> None:
        offset_type = LONG8 if self.bigtiff else LONG
        first = 0
        previous_link = None
        for number, page in enumerate(self.pages):
            if any(count == 0 for count in page.counts):
                raise ValueError(f"level {number} has tiles that were never written")
            entries: list[tuple[int, int, list[int] | bytes]] = [
                (NEW_SUBFILE_TYPE, LONG, [REDUCED if number else 0]),
                (IMAGE_WIDTH, LONG, [page.width]),
                (IMAGE_LENGTH, LONG, [page.height]),
                (BITS_PER_SAMPLE, SHORT, [8] * self.bands),
                (COMPRESSION, SHORT, [JPEG]),
                (PHOTOMETRIC, SHORT, [YCBCR if self.bands == 3 else MINISBLACK]),
                (SAMPLES_PER_PIXEL, SHORT, [self.bands]),
                (PLANAR_CONFIGURATION, SHORT, [1]),
                (TILE_WIDTH, LONG, [self.tile]),
                (TILE_LENGTH, LONG, [self.tile]),
                (TILE_OFFSETS, offset_type, page.offsets),
                (TILE_BYTE_COUNTS, offset_type, page.counts),
                (SAMPLE_FORMAT, SHORT, [1] * self.bands),
            ]
            if self.bands == 3:
                factor = 2 if self.subsample else 1
                entries.append((YCBCR_SUBSAMPLING, SHORT, [factor, factor]))
                entries.append((REFERENCE_BLACK_WHITE, RATIONAL, BLACK_WHITE))
            if number == 0 and self.xmp:
                entries.append((XMP, BYTE, self.xmp))
            position, link = self._directory(sorted(entries, key=lambda e: e[0]))
            if previous_link is None:
                first = position
            else:
                self._patch(previous_link, position)
            previous_link = link
        self.file.flush()
        os.fsync(self.file.fileno())
        # last: the header names the first directory
        self._patch(8 if self.bigtiff else 4, first)
        self.file.flush()
        os.fsync(self.file.fileno())

    def _directory(self, entries: list[tuple[int, int, list[int] | bytes]]) -> tuple[int, int]:
        """Writes out-of-line values, then the directory; its position and where its
        next-directory link is."""
        big = self.bigtiff
        inline = 8 if big else 4
        packed = []
        for tag, kind, values in entries:
            data = _pack(kind, values)
            count = len(values) if kind != RATIONAL else len(values) // 2
            if len(data) > inline:
                self._align()
                where = self.file.tell()
                self.file.write(data)
                data = struct.pack("<Q" if big else "<I", where)
            packed.append((tag, kind, count, data.ljust(inline, b"\x00")))
        self._align()
        position = self.file.tell()
        head = struct.pack("<Q" if big else "<H", len(packed))
        body = b"".join(
            struct.pack("<HHQ" if big else "<HHI", tag, kind, count) + data
            for tag, kind, count, data in packed
        )
        self.file.write(head + body)
        link = self.file.tell()
        self.file.write(bytes(8 if big else 4))
        return position, link

    def _align(self) -> None:
        if self.file.tell() % 2:
            self.file.write(b"\x00")

    def _patch(self, where: int, value: int) -> None:
        end = self.file.tell()
        self.file.seek(where)
        self.file.write(struct.pack("<Q" if self.bigtiff else "<I", value))
        self.file.seek(end)


def _pack(kind: int, values: list[int] | bytes) -> bytes:
    if kind == BYTE:
        return bytes(values)
    code = {SHORT: "H", LONG: "I", LONG8: "Q", RATIONAL: "I"}[kind]
    return struct.pack(f"<{len(values)}{code}", *values)
