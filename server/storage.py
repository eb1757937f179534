"""The file store: immutable originals by SHA-256, derivatives published atomically.

Layout under the data directory::

    originals/ab/cd/<sha256>          read-only, written once
    derivatives/<asset>/<version>/    renamed into place whole
    tmp/                              staging; same file system, so renames are atomic

No path that comes from outside (a URL, an argument) is joined onto a root
without :func:`resolve_inside`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from server.errors import N_, IntegrityFailure, NotFound, ValidationError

CHUNK_SIZE = 1024 * 1024
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class StoredOriginal:
    sha256: str
    size: int
    path: Path
    created: bool  # False when identical bytes were already stored


def resolve_inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it stays inside ``root`` after resolving links, else ``None``."""
    if not relative or "\x00" in relative or relative.startswith(("/", "\\")):
        return None
    base = root.resolve()
    candidate = (base / relative).resolve()
    if candidate == base or base not in candidate.parents:
        return None
    return candidate


def free_space(directory: Path) -> int:
    """Bytes free on the file system that holds (or will hold) ``directory``."""
    existing = directory.resolve()
    while not existing.exists():
        existing = existing.parent
    return shutil.disk_usage(existing).free


PUBLIC_FILE_MODE = 0o644
# This machine's name as it appears in staging names (see staging_name).
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:64] or "host"


def staging_name(prefix: str) -> str:
    """A fresh name for work in ``tmp/`` that says which process made it
    (``prefix-host-pid-random``), so :meth:`Store.sweep_tmp` can remove what a process
    killed mid-job (``kill -9``, the OOM killer) left behind, and nothing of a live one."""
    return f"{prefix}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex}"


def _owner_pid(name: str) -> int | None:
    """The pid in a :func:`staging_name` made on this machine, else None."""
    head, _, rest = name.rpartition(f"-{_HOST}-")
    pid, _, random = rest.partition("-")
    if not head or not pid.isdigit() or len(random) != 32:
        return None
    return int(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextmanager
def atomic_file(target: Path, mode: int = PUBLIC_FILE_MODE) -> Iterator[Path]:
    """A temporary file beside ``target``; fsynced, given ``mode`` and renamed over ``target``
    when the block succeeds, removed when it fails. Readers see the old file or the new one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        temporary.chmod(mode)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_name(value: str, what: str) -> str:
    if not _NAME_RE.match(value):
        raise ValidationError(
            N_("Invalid {what}: {value!r}."), parameter=what, what=what, value=value
        )
    return value


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.resolve()
        self.originals = self.root / "originals"
        self.derivatives = self.root / "derivatives"
        self.tmp = self.root / "tmp"
        self.cache = self.root / "cache"  # rebuilt on demand; safe to delete at any time

    def ensure(self) -> None:
        for directory in (self.originals, self.derivatives, self.tmp):
            directory.mkdir(parents=True, exist_ok=True)

    def sweep_tmp(self) -> list[str]:
        """Remove what dead processes on this machine left in ``tmp/`` (a worker or server
        killed mid-job); returns the names removed. Work of live processes, and of other
        machines sharing the data directory, is left alone."""
        removed: list[str] = []
        if not self.tmp.is_dir():
            return removed
        for entry in self.tmp.iterdir():
            pid = _owner_pid(entry.name)
            if pid is None or _alive(pid):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
        return removed

    # Originals

    def original_path(self, sha256: str) -> Path:
        if not _SHA256_RE.match(sha256):
            raise ValidationError(
                N_("Not a SHA-256 digest: {value!r}."), parameter="sha256", value=sha256
            )
        return self.originals / sha256[:2] / sha256[2:4] / sha256

    def ingest(
        self,
        source: BinaryIO,
        expected_sha256: str | None = None,
        max_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> StoredOriginal:
        """Copy a stream into the store, hashing as it goes; nothing is visible until verified.

        The bytes land in ``tmp/``, are flushed to disk, checked against
        ``expected_sha256`` when given, then renamed to their content address.
        Identical bytes already stored are kept, and the copy is dropped.
        """
        self.ensure()
        digest = hashlib.sha256()
        size = 0
        staging = self.tmp / staging_name("ingest")
        try:
            with staging.open("xb") as out:
                while chunk := source.read(CHUNK_SIZE):
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise ValidationError(
                            N_("The file is larger than the limit of {limit} bytes."),
                            parameter="size",
                            limit=max_size,
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    if progress:
                        progress(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            if expected_sha256 and expected_sha256.lower() != sha256:
                raise IntegrityFailure(
                    N_("The file's SHA-256 is {actual}, not the expected {expected}."),
                    parameter="sha256",
                    actual=sha256,
                    expected=expected_sha256.lower(),
                )
            return self._commit_original(staging, sha256, size)
        finally:
            staging.unlink(missing_ok=True)

    def _commit_original(self, staging: Path, sha256: str, size: int) -> StoredOriginal:
        target = self.original_path(sha256)
        if target.exists():
            if self.hash_file(target) != sha256:
                raise IntegrityFailure(
                    N_("The stored original {sha256} is damaged; run `museum fixity`."),
                    sha256=sha256,
                )
            return StoredOriginal(sha256, size, target, created=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.chmod(READ_ONLY)
        # link() fails if another process stored the same bytes meanwhile,
        # where rename() would silently replace a file that must never change.
        try:
            os.link(staging, target)
        except FileExistsError:
            return StoredOriginal(sha256, size, target, created=False)
        _fsync_dir(target.parent)
        return StoredOriginal(sha256, size, target, created=True)

    @staticmethod
    def hash_file(path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest()

    def verify(self, sha256: str) -> bool:
        """True when the original exists and still has its digest."""
        path = self.original_path(sha256)
        return path.is_file() and self.hash_file(path) == sha256

    # Derivatives

    def derivative_dir(self, asset_id: str, version: str) -> Path:
        return self.derivatives / _check_name(asset_id, "asset") / _check_name(version, "version")

    @contextmanager
    def publish(self, asset_id: str, version: str) -> Iterator[Path]:
        """Write a derivative version into a fresh folder; it appears whole or not at all.

        A version is immutable: if it already exists (a retried job that had
        finished), the new copy is discarded and the published one kept.
        """
        target = self.derivative_dir(asset_id, version)
        self.ensure()
        staging = Path(os.path.realpath(self.tmp)) / staging_name("publish")
        staging.mkdir()
        try:
            yield staging
            for path in staging.rglob("*"):
                if path.is_file():
                    with path.open("rb") as handle:
                        os.fsync(handle.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                try:
                    staging.rename(target)
                except OSError:
                    if not target.exists():
                        raise
                _fsync_dir(target.parent)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def derivative_file(self, relative: str) -> Path:
        """The derivative at ``relative`` (as in ``/media/<relative>``), or :class:`NotFound`."""
        path = resolve_inside(self.derivatives, relative)
        if path is None or not path.is_file():
            raise NotFound(N_("There is nothing at this address."))
        return path
