"""Byte-level builders for hostile files: PNG chunks, patched JPEG headers, TIFF IFD chains,
GIF frames, deflate bombs and ZIP entries no well-behaved writer would make.

Everything is written by hand or with the standard library so the bytes are exactly what
the case says (a library would refuse to write most of them), and cheaply: a bomb's
compressed stream is built from one repeated block, never by compressing gigabytes.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
import zlib
from functools import cache

from PIL import Image

MIB = 1024 * 1024


# PNG -------------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(
    width: int, height: int, idat: bytes, depth: int = 8, color: int = 2, extra: bytes = b""
) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + extra
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


@cache
def zero_rows_deflate(row_bytes: int, rows: int) -> bytes:
    """A zlib stream of ``rows`` PNG rows (filter byte 0, then ``row_bytes`` zeros), built
    from one compressed block repeated: seconds, not the minutes compressing it would take."""
    block_rows = max(1, MIB // (row_bytes + 1))
    block = b"\x00" * ((row_bytes + 1) * block_rows)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packer.compress(block)
    packer.flush(zlib.Z_FULL_FLUSH)
    repeated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(rows, block_rows)
    tail = packer.compress(b"\x00" * ((row_bytes + 1) * rest)) + packer.flush()
    # zlib wrapper: header, raw deflate, Adler-32 of the real data (computed in blocks).
    adler = 1
    for _ in range(whole):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(b"\x00" * ((row_bytes + 1) * rest), adler)
    return b"\x78\xda" + repeated * whole + tail + struct.pack(">I", adler)


@cache
def deflate_zeros(total: int) -> bytes:
    """A raw deflate stream that inflates to ``total`` zero bytes (a multiple of 1 MiB)."""
    block = b"\x00" * MIB
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packer.compress(block)
    packer.flush(zlib.Z_FULL_FLUSH)
    repeated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    return repeated * (total // MIB) + packer.flush()


# Pictures made by Pillow, then patched -------------------------------------------------


def picture(fmt: str, size: tuple[int, int] = (8, 8), color: str = "red", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header (SOF0/SOF2) of a JPEG to claim ``width`` x ``height``."""
    out = bytearray(data)
    position = 2
    while position < len(out) - 9:
        marker = out[position + 1]
        length = struct.unpack(">H", out[position + 2 : position + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            out[position + 5 : position + 9] = struct.pack(">HH", height, width)
            return bytes(out)
        position += 2 + length
    raise ValueError("no SOF marker")


# TIFF ------------------------------------------------------------------------------


def tiff_ifd_chain(count: int, loop: bool = False, width: int = 1, height: int = 1) -> bytes:
    """A little-endian TIFF of ``count`` one-pixel pages (a chain of IFDs), the last one
    pointing back to the first when ``loop``; all pages share one strip of pixel data."""
    entries = 8
    ifd_size = 2 + entries * 12 + 4
    pixel_offset = 8
    first = 16
    out = bytearray(b"II*\x00" + struct.pack("<I", first) + b"\x80\x80\x80\x00" + b"\x00" * 4)
    for page in range(count):
        offset = first + page * ifd_size
        following = offset + ifd_size if page + 1 < count else (first if loop else 0)
        tags = [
            (256, 4, 1, width),  # ImageWidth
            (257, 4, 1, height),  # ImageLength
            (258, 3, 1, 8),  # BitsPerSample
            (259, 3, 1, 1),  # Compression: none
            (262, 3, 1, 1),  # Photometric: black is zero
            (273, 4, 1, pixel_offset),  # StripOffsets
            (278, 4, 1, height),  # RowsPerStrip
            (279, 4, 1, min(width * height, 2**32 - 1)),  # StripByteCounts
        ]
        out += struct.pack("<H", entries)
        for tag, kind, number, value in tags:
            out += struct.pack("<HHII", tag, kind, number, value)
        out += struct.pack("<I", following)
    return bytes(out)


# GIF -------------------------------------------------------------------------------


def gif_frames(frames: int, width: int = 1, height: int = 1) -> bytes:
    """A GIF with ``frames`` one-pixel frames on a ``width`` x ``height`` logical screen."""
    head = (
        b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    )
    frame = (
        b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # graphic control: 10 ms
        + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        + b"\x02\x02\x44\x01\x00"  # LZW min size 2, one pixel
    )  # fmt: skip
    return head + frame * frames + b"\x3b"


# ZIP and tar -----------------------------------------------------------------------

OBJ = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"


def zip_of(entries: list[tuple[str, bytes]], symlinks: dict[str, str] | None = None) -> bytes:
    """A ZIP of ``entries`` written as given (no name cleaning); ``symlinks`` adds entries
    marked as symbolic links (Unix mode 0o120777) whose data is the link's target."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o120777 << 16
            info.create_system = 3
            archive.writestr(info, target)
    return out.getvalue()


def rename_entries(data: bytes, old: bytes, new: bytes) -> bytes:
    """Rename ZIP entries in place (local and central headers alike), to spell names the
    zipfile writer would clean; ``old`` and ``new`` have the same length."""
    assert len(old) == len(new)
    return data.replace(old, new)


def zip_bomb(inflated: int, declared: int | None = None, name: str = "model.obj") -> bytes:
    """A ZIP whose one entry inflates to ``inflated`` zeros; its headers declare
    ``declared`` bytes (the truth when None). The CRC is left wrong: a reader that checks
    it at the end has written everything before it notices."""
    stream = deflate_zeros(inflated)
    size = inflated if declared is None else declared
    raw = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, 0, len(stream), size, len(raw), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0, 8, 0, 0x21, 0, len(stream), size, len(raw), 0, 0, 0, 0,
        0o100644 << 16, 0,
    )  # fmt: skip
    body = local + raw + stream
    directory = central + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(body), 0)
    return body + directory + end


def zip_overlapping(count: int) -> bytes:
    """``count`` central-directory entries that all point at one local entry (the
    "overlapping files" bomb shape): each would inflate the same 16 MiB of zeros."""
    stream = deflate_zeros(16 * MIB)
    raw = b"model.obj"
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, 0, len(stream), 16 * MIB, len(raw), 0
    )
    body = local + raw + stream
    directory = b""
    for number in range(count):
        name = b"model.obj" if number == 0 else f"part{number:05d}.bin".encode()
        directory += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, 20, 20, 0, 8, 0, 0x21, 0, len(stream), 16 * MIB, len(name), 0, 0, 0, 0,
            0o100644 << 16, 0,
        ) + name  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), len(body), 0)
    return body + directory + end


def zip_many(count: int) -> bytes:
    """A stored ZIP of one small model plus ``count`` empty entries (written by hand: the
    zipfile writer takes seconds for 100,000 entries)."""
    body: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    for number in range(count + 1):
        name, data = (b"model.obj", OBJ) if number == 0 else (b"t/%d" % number, b"")
        crc = zlib.crc32(data)
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(name), 0
        )
        directory.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50, 20, 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(name),
                0, 0, 0, 0, 0o100644 << 16, offset,
            ) + name
        )  # fmt: skip
        body.append(local + name + data)
        offset += len(local) + len(name) + len(data)
    central = b"".join(directory)
    entries = min(count + 1, 0xFFFF)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(central), offset, 0)
    return b"".join(body) + central + end


def zlib_zeros(total: int) -> bytes:
    """A zlib stream (header, deflate, Adler-32) of ``total`` zeros, a multiple of 1 MiB."""
    adler = ((total % 65521) << 16) | 1
    return b"\x78\xda" + deflate_zeros(total) + struct.pack(">I", adler)


def tar_of(members: list[tarfile.TarInfo], data: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for member in members:
            payload = data.get(member.name)
            if payload is not None:
                member.size = len(payload)
                archive.addfile(member, io.BytesIO(payload))
            else:
                archive.addfile(member)
    return out.getvalue()


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = link
    member.mode = 0o644
    return member
