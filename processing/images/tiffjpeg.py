"""The JPEG tiles inside a pyramidal TIFF, as standalone JPEG files, without decoding them.

A JPEG-compressed TIFF tile is an abbreviated JPEG stream: its quantisation and
Huffman tables live once in the page's ``JPEGTables`` tag (TIFF Technical Note 2).
Splicing the tables in front of a tile's scan gives an ordinary JPEG of exactly
that tile, as libtiff would decode it: so the pipeline can write IIIF level-0
tiles from the pyramid it has just built by copying bytes, not by encoding again.

The TIFF's structure (page sizes, tile offsets) is read with ``tifffile``; tile
bytes are read with :func:`os.pread`, so one :class:`JpegTiles` serves many threads.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
# JFIF 1.01, no density (aspect 1:1), no thumbnail: what libvips' jpegsave writes first.
JFIF = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
# Adobe APP14, transform 0: the three components are R, G, B, not Y, Cb, Cr (libvips writes
# TIFF JPEG as RGB from quality 90 up, where it does not subsample colour).
ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"
XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\x00"
MAX_SEGMENT = 65533  # a marker segment's payload, length field included, is at most 65535
TIFF_JPEG = 7  # Compression tag: "new-style" JPEG (Technical Note 2)
TIFF_RGB = 2  # PhotometricInterpretation: RGB (a JPEG tile is then not YCbCr)


@dataclass(frozen=True)
class Level:
    """One page of the pyramid: its size, tile grid and where each tile's bytes are."""

    width: int
    height: int
    tile_width: int
    tile_height: int
    tables: bytes  # the JPEGTables tag: SOI, DQT/DHT segments, EOI (may be empty)
    bands: int  # samples per pixel
    rgb: bool  # the tiles' JPEG holds R, G, B (else Y, Cb, Cr, or grey)
    offsets: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def columns(self) -> int:
        return -(-self.width // self.tile_width)

    @property
    def rows(self) -> int:
        return -(-self.height // self.tile_height)


class JpegTiles:
    """The JPEG-compressed, tiled pages of a TIFF (levels that are not are left out as None)."""

    def __init__(self, path: Path) -> None:
        import tifffile

        self.path = path
        self._fd = -1
        with tifffile.TiffFile(path) as tiff:
            self.levels: list[Level | None] = [_level(page) for page in tiff.pages]
        self._fd = os.open(path, os.O_RDONLY)

    def __enter__(self) -> JpegTiles:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:  # a cache may drop it without closing it
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def tile(self, level: int, column: int, row: int, *, xmp: bytes | None = None) -> bytes | None:
        """Tile (``column``, ``row``) of page ``level`` as a JPEG file; None if not JPEG-tiled.

        Edge tiles are whole tiles, padded past the image as the TIFF stores them.
        ``xmp`` (a rights packet) goes into an APP1 segment.
        """
        page = self.levels[level] if 0 <= level < len(self.levels) else None
        if page is None or not (0 <= column < page.columns and 0 <= row < page.rows):
            return None
        index = row * page.columns + column
        scan = os.pread(self._fd, page.counts[index], page.offsets[index])
        if not scan.startswith(SOI) or not scan.endswith(EOI):
            raise ValueError(f"tile {column},{row} of page {level} of {self.path} is not a JPEG")
        return join(page.tables, scan, xmp=xmp, rgb=page.rgb)


def join(tables: bytes, scan: bytes, *, xmp: bytes | None = None, rgb: bool = False) -> bytes:
    """A standalone JPEG: SOI, JFIF (or Adobe's RGB marker), optional XMP, the shared
    tables, then the tile's own stream."""
    head = SOI + (ADOBE_RGB if rgb else JFIF) + (xmp_segment(xmp) if xmp else b"")
    middle = tables[2:-2] if tables.startswith(SOI) and tables.endswith(EOI) else b""
    body = scan[2:]
    if body.startswith(JFIF[:2]):  # the tile has its own APP0: keep ours only
        body = body[2 + struct.unpack(">H", body[2:4])[0] :]
    return head + middle + body


def xmp_segment(xmp: bytes) -> bytes:
    """An APP1 XMP segment (``xmp`` must fit in one: rights packets are a few kB)."""
    payload = XMP_NAMESPACE + xmp
    if len(payload) + 2 > MAX_SEGMENT:
        raise ValueError("the XMP packet does not fit in one JPEG segment")
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def with_xmp(jpeg: bytes, xmp: bytes | None) -> bytes:
    """``jpeg`` with an APP1 XMP segment after its SOI (and its JFIF or Adobe segment)."""
    if not xmp:
        return jpeg
    cut = 2 + 2 + struct.unpack(">H", jpeg[4:6])[0] if jpeg[2:4] in (JFIF[:2], ADOBE_RGB[:2]) else 2
    return jpeg[:cut] + xmp_segment(xmp) + jpeg[cut:]


def _level(page: object) -> Level | None:
    """A page's tile table when it is tiled, JPEG-compressed and 8-bit; else None."""
    compression = int(getattr(page, "compression", 0))
    tile_width = int(getattr(page, "tilewidth", 0) or 0)
    if compression != TIFF_JPEG or not tile_width or int(getattr(page, "bitspersample", 0)) != 8:
        return None
    return Level(
        width=int(page.imagewidth),  # type: ignore[attr-defined]
        height=int(page.imagelength),  # type: ignore[attr-defined]
        tile_width=tile_width,
        tile_height=int(page.tilelength),  # type: ignore[attr-defined]
        tables=bytes(getattr(page, "jpegtables", None) or b""),
        bands=int(getattr(page, "samplesperpixel", 0)),
        rgb=int(getattr(page, "photometric", 0)) == TIFF_RGB
        and int(getattr(page, "samplesperpixel", 0)) >= 3,
        offsets=tuple(int(v) for v in page.dataoffsets),  # type: ignore[attr-defined]
        counts=tuple(int(v) for v in page.databytecounts),  # type: ignore[attr-defined]
    )
