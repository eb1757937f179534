"""Join two TIFF files into one multi-page TIFF without decoding or copying the first.

The pyramid is written by two libvips pipelines at once (see
:func:`processing.images.pyramid.build_pyramid_tiff`): the full-resolution page in
one file, the smaller levels in another. :func:`append_pages` puts the second
file's bytes after the first's and links the first file's last page to the
second file's first, adding the distance to every offset the second file holds
(its page directories, out-of-line tag values, tile and strip offsets). The first
file's bytes, most of the pyramid, stay where they are.

The files' structure is read with ``tifffile``; only offsets are rewritten here.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

TILE_OFFSETS = 324
STRIP_OFFSETS = 273
# Tags whose values point at more structure (sub-directories, EXIF, old-style JPEG):
# libvips' pyramids have none; a file with one is not joined.
NESTED = {288, 330, 513, 34665, 34853, 40965}
OFFSET_TYPES = {3: "H", 4: "I", 16: "Q"}  # SHORT, LONG, LONG8
ALIGN = 8


@dataclass(frozen=True)
class _Layout:
    byteorder: str  # "<" or ">"
    bigtiff: bool

    @property
    def offset(self) -> str:
        return "Q" if self.bigtiff else "I"

    @property
    def count(self) -> str:  # a directory's number of entries
        return "Q" if self.bigtiff else "H"

    @property
    def entry(self) -> int:  # bytes per directory entry
        return 20 if self.bigtiff else 12

    @property
    def value_at(self) -> int:  # where an entry's value (or its offset) starts
        return 12 if self.bigtiff else 8

    def next_pointer(self, data: bytes | bytearray, ifd: int) -> int:
        """Where the directory at ``ifd`` stores the offset of the next one."""
        count_size = struct.calcsize(self.count)
        entries: int = struct.unpack_from(self.byteorder + self.count, data, ifd)[0]
        return ifd + count_size + entries * self.entry

    def add(self, data: bytearray, position: int, kind: str, distance: int) -> None:
        fmt = self.byteorder + kind
        (value,) = struct.unpack_from(fmt, data, position)
        moved = value + distance
        if moved >= 1 << (8 * struct.calcsize(fmt)):
            raise ValueError("the joined TIFF needs 64-bit offsets (BigTIFF)")
        struct.pack_into(fmt, data, position, moved)


@dataclass(frozen=True)
class _Tag:
    code: int
    dtype: int
    count: int
    entry: int  # where its directory entry is
    value: int  # where its value is (inside the entry when it fits)


def append_pages(target: Path, extra: Path) -> int:
    """Chain ``extra``'s pages after ``target``'s, inside ``target``; returns the page count.

    Both must be TIFFs of the same byte order and kind (classic or BigTIFF).
    ``extra`` is left as it was. Raises :class:`ValueError` when they cannot be joined.
    """
    import tifffile

    with tifffile.TiffFile(target) as first, tifffile.TiffFile(extra) as second:
        layout = _Layout(first.byteorder, first.is_bigtiff)
        if (second.byteorder, second.is_bigtiff) != (layout.byteorder, layout.bigtiff):
            raise ValueError(f"{target.name} and {extra.name} are different kinds of TIFF")
        last = first.pages[-1].offset
        pages = len(first.pages) + len(second.pages)
        directories = [
            (
                page.offset,
                [
                    _Tag(tag.code, int(tag.dtype), tag.count, tag.offset, tag.valueoffset)
                    for tag in page.tags.values()
                ],
            )
            for page in second.pages
            if isinstance(page, tifffile.TiffPage)  # always: frames are not asked for
        ]
    data = bytearray(extra.read_bytes())
    size = target.stat().st_size
    distance = -(-size // ALIGN) * ALIGN
    for ifd, tags in directories:
        _move(data, layout, ifd, tags, distance)
    with target.open("r+b") as file:
        count = os.pread(file.fileno(), 8, last)
        link = layout.next_pointer(count, 0)
        pointer = os.pread(file.fileno(), struct.calcsize(layout.offset), last + link)
        if struct.unpack(layout.byteorder + layout.offset, pointer)[0] != 0:
            raise ValueError(f"{target.name}'s last page is not last")
        file.seek(size)
        file.write(b"\0" * (distance - size))
        file.write(data)
        file.seek(last + link)
        file.write(struct.pack(layout.byteorder + layout.offset, distance + directories[0][0]))
        file.flush()
        os.fsync(file.fileno())
    return pages


def _move(data: bytearray, layout: _Layout, ifd: int, tags: list[_Tag], distance: int) -> None:
    """Add ``distance`` to every offset in the directory at ``ifd`` and what it points to."""
    for tag in tags:
        if tag.code in NESTED:
            raise ValueError(f"TIFF tag {tag.code} points at more directories: not joined")
        inline = tag.value == tag.entry + layout.value_at
        if tag.code in (TILE_OFFSETS, STRIP_OFFSETS):
            kind = OFFSET_TYPES.get(tag.dtype)
            if kind is None:
                raise ValueError(f"TIFF offsets of type {tag.dtype}")
            step = struct.calcsize(kind)
            for index in range(tag.count):
                layout.add(data, tag.value + index * step, kind, distance)
        if not inline:
            layout.add(data, tag.entry + layout.value_at, layout.offset, distance)
    link = layout.next_pointer(data, ifd)
    if struct.unpack_from(layout.byteorder + layout.offset, data, link)[0]:
        layout.add(data, link, layout.offset, distance)
