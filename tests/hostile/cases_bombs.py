"""Decompression bombs and pixel floods (threat row 3): small files that claim or unpack
to gigapixels, thousands of pages or frames.

The museum's defence (``processing/images``): header dimensions and page counts are
checked against MUSEUM_IMAGE_MAX_PIXELS and MUSEUM_IMAGE_MAX_PAGES, and pixels per byte
against a ratio, before any decoding; decoding runs in the sandboxed child with its memory,
CPU and wall-time limits, so a bomb the checks miss ends the job, not the worker.
"""

from __future__ import annotations

import struct
import zlib

from tests.hostile.forge import (
    MIB,
    gif_frames,
    patch_jpeg_size,
    picture,
    png,
    png_chunk,
    tiff_ifd_chain,
    zero_rows_deflate,
    zlib_zeros,
)
from tests.hostile.model import Case

ONE_PIXEL_IDAT = zlib.compress(b"\x00\x00\x00\x00")


def _bilevel_flood() -> bytes:
    """A 1-bit PNG of 60000 x 60000 pixels (3.6 gigapixels) in about 450 kB."""
    return png(60000, 60000, zero_rows_deflate(7500, 60000), depth=1, color=0)


def _gray_flood() -> bytes:
    """An 8-bit 30000 x 30000 grey PNG (0.9 gigapixels, just under a 1 G pixel cap)."""
    return png(30000, 30000, zero_rows_deflate(30000, 30000), depth=8, color=0)


def _text_bomb() -> bytes:
    """A small PNG with a zTXt chunk that inflates to 64 MiB of NULs."""
    bomb = zlib_zeros(64 * MIB)
    raw = picture("PNG", (4, 4), "white")
    end = raw.rindex(b"IEND") - 4
    return raw[:end] + png_chunk(b"zTXt", b"Comment\x00\x00" + bomb) + raw[end:]


def _icc_bomb() -> bytes:
    bomb = zlib_zeros(64 * MIB)
    return png(2, 2, zlib.compress(b"\x00" * 14), extra=png_chunk(b"iCCP", b"icc\x00\x00" + bomb))


def _bmp(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54 + 4, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 4, 2835, 2835, 0, 0)
    return header + info + b"\x00\x00\x00\x00"


def _webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 8
    chunk = b"VP8L" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _tiff_huge_strip() -> bytes:
    """A TIFF page that claims 100000 x 100000 8-bit pixels in a 1-byte strip."""
    return tiff_ifd_chain(1, width=100000, height=100000)


def _case(name: str, filename: str, build: object, note: str, **extra: object) -> Case:
    return Case(3, name, filename, build, note=note, **extra)  # type: ignore[arg-type]


CASES = [
    _case("png-1bit-60000-square", "flood.png", lambda _t: _bilevel_flood(), "3.6 Gpx in 450 kB"),
    _case("png-gray-30000-square", "flood-gray.png", lambda _t: _gray_flood(),
          "0.9 Gpx of zeros: any, within limits", expect="any"),
    _case("png-header-2g-wide", "wide.png", lambda _t: png(2**31 - 1, 1, ONE_PIXEL_IDAT),
          "IHDR width 2^31-1"),
    _case("png-header-65535-square-rgba", "rgba.png",
          lambda _t: png(65535, 65535, ONE_PIXEL_IDAT, color=6), "16 GiB of RGBA claimed"),
    _case("png-ztxt-bomb", "text.png", lambda _t: _text_bomb(), "64 MiB zTXt chunk",
          expect="any"),
    _case("png-iccp-bomb", "icc.png", lambda _t: _icc_bomb(), "64 MiB ICC profile",
          expect="any"),
    _case("jpeg-sof-65500-square", "huge.jpg",
          lambda _t: patch_jpeg_size(picture("JPEG", (16, 16)), 65500, 65500), "SOF 65500^2"),
    _case("jpeg-progressive-sof-65500", "huge-progressive.jpg",
          lambda _t: patch_jpeg_size(picture("JPEG", (16, 8), progressive=True), 65500, 65500),
          "progressive SOF 65500^2"),
    _case("jpeg-sof-65535-by-1", "strip.jpg",
          lambda _t: patch_jpeg_size(picture("JPEG", (8, 8), "blue"), 65535, 1),
          "a 65535 x 1 strip of garbage", expect="any"),
    _case("tiff-10k-ifd-chain", "pages.tif", lambda _t: tiff_ifd_chain(10000),
          "10,000 pages (limit 1,000)"),
    _case("tiff-ifd-loop", "loop.tif", lambda _t: tiff_ifd_chain(3, loop=True),
          "the last IFD points back at the first", expect="any"),
    _case("tiff-100000-square-one-byte", "claim.tif", lambda _t: _tiff_huge_strip(),
          "10 Gpx claimed, 1 byte of data"),
    _case("gif-100k-frames", "frames.gif", lambda _t: gif_frames(100000),
          "100,000 one-pixel frames", expect="any"),
    _case("gif-screen-65535-square", "screen.gif", lambda _t: gif_frames(2, 65535, 65535),
          "logical screen 65535^2"),
    _case("bmp-2g-wide", "wide.bmp", lambda _t: _bmp(2**31 - 1, 1), "BMP width 2^31-1"),
    _case("bmp-negative-height", "tall.bmp", lambda _t: _bmp(65535, -(2**31 - 1)),
          "BMP top-down, height -2^31+1"),
    _case("webp-16383-square", "huge.webp", lambda _t: _webp_lossless(16383, 16383),
          "WebP lossless 16383^2 in 33 bytes", expect="any"),
]  # fmt: skip
