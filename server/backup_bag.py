"""A backup snapshot as a BagIt 1.0 bag (SHA-256): writing it, reading it, auditing it.

A backup directory holds complete snapshots and a pointer to the newest::

    CURRENT                       the name of the newest complete snapshot (renamed into place)
    snapshots/<name>/             one bag: bagit.txt, bag-info.txt, museum-backup.json,
        data/catalog/...          manifest-sha256.txt, tagmanifest-sha256.txt and data/
        data/originals/ab/cd/<sha256>
        data/derivatives/<asset>/<version>/...
    snapshots/<name>.partial/     a backup being written; never read, removed by the next one

The bags are written here rather than by ``bagit.make_bag``, which re-hashes every payload
file (every original, on every backup) and changes the working directory; the bagit library
validates the result in the tests. Findings use Archivematica's three categories.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from server.errors import N_, IntegrityFailure
from server.storage import CHUNK_SIZE, atomic_file

MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
INFO = "museum-backup.json"
TAG_FILES = ("bagit.txt", "bag-info.txt", INFO, MANIFEST)
POINTER = "CURRENT"
SNAPSHOTS = "snapshots"
PARTIAL = ".partial"
_SNAPSHOT_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")
_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64})[ \t]+(\S.*)$")

CHANGED, MISSING, UNTRACKED = "changed", "missing", "untracked"
CATEGORIES = (CHANGED, MISSING, UNTRACKED)


@dataclass(frozen=True)
class Finding:
    """One thing wrong: ``category`` (changed, missing, untracked), where (``scope``: originals,
    backup or derivatives), the file's path within it, the digest expected and why."""

    category: str
    scope: str
    path: str
    expected: str | None = None
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# Hashing and copying


def hash_stream(path: Path) -> tuple[str, int]:
    """SHA-256 and size of the regular file at ``path``; never follows a symbolic link."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def copy_verified(source: Path, target: Path, mode: int, expected: str | None = None) -> str:
    """Copy ``source`` to ``target`` atomically and return its SHA-256.

    The bytes are hashed as they are read; the copy is hashed again from disk before it is
    renamed into place, so a write that went wrong never appears. With ``expected``, bytes
    that do not match it are refused (a damaged source is never copied as if it were good).
    """
    with atomic_file(target, mode) as temporary:
        digest = hashlib.sha256()
        with source.open("rb") as reader, temporary.open("wb") as writer:
            while chunk := reader.read(CHUNK_SIZE):
                digest.update(chunk)
                writer.write(chunk)
        read = digest.hexdigest()
        if expected is not None and read != expected:
            raise IntegrityFailure(
                N_("{path}: SHA-256 is {actual}, not the expected {expected}."),
                path=str(source),
                actual=read,
                expected=expected,
            )
        written, _ = hash_stream(temporary)
        if written != read:
            raise IntegrityFailure(
                N_("{path}: the copy differs from what was read (SHA-256 {actual})."),
                path=str(target),
                actual=written,
            )
    return read


def link_or_copy(source: Path, target: Path, digest: str, mode: int) -> bool:
    """Hard-link an unchanged file from the previous snapshot; ``True`` when linked.

    File systems without hard links (FAT, some network shares) get a verified copy instead.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
        return True
    except OSError:
        copy_verified(source, target, mode, expected=digest)
        return False


def fsync_tree(root: Path) -> None:
    """Flush every directory under ``root`` (the files were flushed as they were written)."""
    for directory, _, _ in os.walk(root):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# Names in manifests (BagIt §2.1.3: percent-encode CR, LF and %)


def encode_path(path: str) -> str:
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


# Writing a bag


def write_manifest(target: Path, digests: dict[str, str]) -> None:
    with atomic_file(target, 0o444) as temporary:
        lines = (f"{digest}  {encode_path(path)}\n" for path, digest in sorted(digests.items()))
        temporary.write_text("".join(lines), encoding="utf-8")


def write_tags(bag: Path, payload: dict[str, str], size: int, info: dict[str, Any]) -> None:
    """bagit.txt, bag-info.txt, museum-backup.json, the manifest and the tag manifest."""
    write_text(bag / "bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    bag_info = {
        "Source-Organization": "Bảo tàng số di sản Đắk Lắk / Đắk Lắk digital heritage museum",
        "External-Description": (
            "Bản sao lưu: danh mục, bản gốc, bản phái sinh. "
            "Backup: catalog, originals, derivatives."
        ),
        "Bagging-Date": str(info["created_at"])[:10],
        "Bag-Software-Agent": f"daklak-museum {info['museum_version']}",
        "Payload-Oxum": f"{size}.{len(payload)}",
        "Museum-Schema": str(info["schema"]),
        "Museum-Engine": str(info["engine"]),
    }
    write_text(bag / "bag-info.txt", "".join(f"{k}: {v}\n" for k, v in bag_info.items()))
    write_text(bag / INFO, json.dumps(info, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    write_manifest(bag / MANIFEST, payload)
    tags = {name: hash_stream(bag / name)[0] for name in TAG_FILES}
    write_manifest(bag / TAG_MANIFEST, tags)


def write_text(target: Path, text: str) -> None:
    with atomic_file(target, 0o444) as temporary:
        temporary.write_text(text, encoding="utf-8")


# Reading a backup directory


def snapshot_dirs(backup_dir: Path) -> list[Path]:
    """Complete snapshots, oldest first."""
    root = backup_dir / SNAPSHOTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _SNAPSHOT_NAME.match(p.name))


def current_snapshot(backup_dir: Path) -> Path | None:
    """The snapshot ``CURRENT`` names, or ``backup_dir`` itself when it is a bag."""
    if (backup_dir / "bagit.txt").is_file():
        return backup_dir
    try:
        name = (backup_dir / POINTER).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not _SNAPSHOT_NAME.match(name):
        return None
    path = backup_dir / SNAPSHOTS / name
    return path if path.is_dir() else None


def read_manifest(path: Path) -> dict[str, str]:
    """``{path inside the bag: sha256}``; :class:`IntegrityFailure` for a malformed line."""
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _MANIFEST_LINE.match(line)
        if not match:
            raise IntegrityFailure(
                N_("{path}, line {line}: not a manifest line."), path=str(path), line=number
            )
        entries[decode_path(match.group(2))] = match.group(1)
    return entries


def read_info(bag: Path) -> dict[str, Any]:
    info: dict[str, Any] = json.loads((bag / INFO).read_text(encoding="utf-8"))
    return info


def check_tags(bag: Path) -> list[Finding]:
    """The tag files against the tag manifest: an edited manifest or info file is found here."""
    try:
        tags = read_manifest(bag / TAG_MANIFEST)
    except (OSError, IntegrityFailure) as exc:
        return [Finding(MISSING, "backup", TAG_MANIFEST, detail=_reason(exc))]
    findings = [
        Finding(MISSING, "backup", name, detail="not in the tag manifest")
        for name in TAG_FILES
        if name not in tags
    ]
    for name, digest in sorted(tags.items()):
        finding = check_file(bag, name, digest, "backup")
        if finding is not None:
            findings.append(finding)
    return findings


def check_file(root: Path, relative: str, expected: str, scope: str) -> Finding | None:
    """``None`` when ``root/relative`` is a regular file with SHA-256 ``expected``."""
    path = root / relative
    try:
        info = path.lstat()
    except FileNotFoundError:
        return Finding(MISSING, scope, relative, expected, "no such file")
    except OSError as exc:
        return Finding(MISSING, scope, relative, expected, _reason(exc))
    if not stat.S_ISREG(info.st_mode):
        return Finding(CHANGED, scope, relative, expected, f"not a regular file ({_kind(info)})")
    try:
        actual, _ = hash_stream(path)
    except OSError as exc:
        return Finding(MISSING, scope, relative, expected, f"unreadable: {_reason(exc)}")
    if actual != expected:
        return Finding(CHANGED, scope, relative, expected, f"sha256 {actual}")
    return None


def walk_files(root: Path) -> Iterator[str]:
    """Every non-directory under ``root`` (symbolic links included, never followed), relative."""
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        names = files + [d for d in subdirs if (here / d).is_symlink()]
        for name in sorted(names):
            yield (here / name).relative_to(root).as_posix()


def audit_bag(bag: Path) -> tuple[list[Finding], int]:
    """Every tag and payload file of a snapshot re-hashed; returns findings and files checked."""
    findings = check_tags(bag)
    try:
        manifest = read_manifest(bag / MANIFEST)
    except (OSError, IntegrityFailure) as exc:
        return [*findings, Finding(MISSING, "backup", MANIFEST, detail=_reason(exc))], 0
    for relative, digest in sorted(manifest.items()):
        finding = check_file(bag, relative, digest, "backup")
        if finding is not None:
            findings.append(finding)
    data = bag / "data"
    for relative in walk_files(data):
        if f"data/{relative}" not in manifest:
            findings.append(Finding(UNTRACKED, "backup", f"data/{relative}", None, "not listed"))
    return findings, len(manifest)


def _kind(info: os.stat_result) -> str:
    if stat.S_ISLNK(info.st_mode):
        return "symbolic link"
    if stat.S_ISDIR(info.st_mode):
        return "directory"
    return "special file"


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
