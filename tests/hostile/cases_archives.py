"""Archives (threat row 4): ZIP bundles of a 3D scan with entries that climb out, links,
bombs and entry floods; tar files with the same tricks.

The museum's defence: only ZIP bundles are ever unpacked, by the 3D pipeline in its
sandboxed child (``processing.threed.bundle.extract_zip``), which checks every name before
writing anything (absolute, drive, ``..``, backslash, NUL, duplicates, links, encryption),
the entry count and declared size, then counts the bytes really written; a tar is kept as
an inert original and never unpacked. Every case here must end refused.
"""

from __future__ import annotations

import tarfile

from tests.hostile.forge import (
    MIB,
    OBJ,
    rename_entries,
    tar_member,
    tar_of,
    zip_bomb,
    zip_many,
    zip_of,
    zip_overlapping,
)
from tests.hostile.model import Case, Traps

MODEL = ("scan/model.obj", OBJ)


def _slip(name: str) -> object:
    return lambda _t: zip_of([MODEL, (name, b"pwned " + name.encode())])


def _renamed(placeholder: str, name: bytes) -> object:
    """A ZIP whose second entry is renamed in place after writing (zipfile would clean it)."""
    return lambda _t: rename_entries(
        zip_of([MODEL, (placeholder, b"pwned")]), placeholder.encode(), name
    )


def _canary_link(traps: Traps) -> bytes:
    return zip_of([MODEL], symlinks={"scan/skin.png": traps.canary_path})


def _canary_model_link(traps: Traps) -> bytes:
    return zip_of([("readme.txt", b"scan")], symlinks={"scan/model.obj": traps.canary_path})


def _dir_link(traps: Traps) -> bytes:
    folder = traps.canary_path.rsplit("/", 1)[0]
    return zip_of([MODEL, ("up/secret.txt", b"x")], symlinks={"up": folder})


def _tar(members: list[tarfile.TarInfo], data: dict[str, bytes], mode: str = "w") -> bytes:
    return tar_of(members, data, mode)


def _tar_slip(_t: Traps) -> bytes:
    return _tar([tar_member("../../escaped.obj")], {"../../escaped.obj": OBJ})


def _tar_links(traps: Traps) -> bytes:
    members = [
        tar_member("model.obj"),
        tar_member("skin.png", tarfile.SYMTYPE, traps.canary_path),
        tar_member("hard.png", tarfile.LNKTYPE, traps.canary_path),
    ]
    return _tar(members, {"model.obj": OBJ})


def _tar_absolute(_t: Traps) -> bytes:
    return _tar(
        [tar_member("/tmp/hostile-tar-absolute.obj")], {"/tmp/hostile-tar-absolute.obj": OBJ}
    )


def _tar_device(_t: Traps) -> bytes:
    member = tar_member("zero", tarfile.CHRTYPE)
    member.devmajor, member.devminor = 1, 5
    return _tar([tar_member("model.obj"), member], {"model.obj": OBJ + b"# dev\n"}, "w:gz")


def _encrypted(_t: Traps) -> bytes:
    """A ZIP entry whose flag says encrypted (bit 0), in both headers."""
    data = bytearray(zip_of([MODEL, ("scan/skin.png", b"secret")]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + offset] |= 1
            start += 4
    return bytes(data)


def _case(name: str, build: object, note: str, filename: str = "scan.zip", **extra: object) -> Case:
    return Case(4, name, filename, build, note=note, kind="mesh", **extra)  # type: ignore[arg-type]


CASES = [
    _case("zip-dotdot", _slip("../../escaped.obj.txt"), "../../ entry"),
    _case("zip-dotdot-inside", _slip("scan/../../escaped.txt"), "climbs out from a folder"),
    _case("zip-absolute", _slip("/tmp/hostile-zip-absolute.txt"), "absolute path"),
    _case("zip-backslash", _renamed("scan/a/b/escaped.txt", b"..\\..\\..\\escaped.txt"),
          "..\\ with backslashes"),
    _case("zip-drive-letter", _renamed("scan/abcde/escaped.txt", b"C:/Windows/escaped.txt"),
          "C:/ drive path"),
    _case("zip-nul-in-name", _renamed("scan/skin.png.txt", b"scan/skin.png\x00txt"),
          "NUL inside a name (zipfile reads it as scan/skin.png: any)", expect="any"),
    _case("zip-symlink-to-canary", _canary_link, "a texture that links to the canary"),
    _case("zip-symlink-model", _canary_model_link, "the model itself links to the canary"),
    _case("zip-symlink-dir", _dir_link, "a folder link, then a file through it"),
    _case("zip-duplicate-names", _renamed("scan/model.ob2", b"scan/model.obj"), "one name twice"),
    _case("zip-case-duplicates",
          lambda _t: zip_of([MODEL, ("SCAN/model.obj", OBJ + b"# 2\n")]),
          "names equal once case-folded (any: Linux keeps both)", expect="any"),
    _case("zip-bomb-honest", lambda _t: zip_bomb(2048 * MIB), "2 GiB of zeros, declared"),
    _case("zip-bomb-lying", lambda _t: zip_bomb(2048 * MIB, declared=1000, name="scan.obj"),
          "2 GiB of zeros declared as 1000 bytes"),
    _case("zip-overlapping", lambda _t: zip_overlapping(300),
          "300 entries over one 16 MiB stream"),
    _case("zip-100k-entries", lambda _t: zip_many(100_000), "100,000 entries (limit 2,000)"),
    _case("zip-encrypted", _encrypted, "entries flagged as encrypted"),
    _case("zip-long-name", _slip("scan/" + "a" * 60000 + ".txt"), "a 60 kB entry name",
          expect="any"),
    _case("tar-dotdot", _tar_slip, "a tar with ../ (never unpacked)", filename="scan.tar"),
    _case("tar-links", _tar_links, "symlink and hardlink to the canary", filename="scan.tar"),
    _case("tar-absolute", _tar_absolute, "absolute member", filename="scan.tar"),
    _case("tgz-device", _tar_device, "a character device member", filename="scan.tar.gz"),
]  # fmt: skip
