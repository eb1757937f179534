"""The bytes of unfinished uploads: ``<data dir>/uploads/<id>.part``.

Only this module touches those files. A part file may hold more bytes than the catalog's
``Upload.offset`` (a server killed after writing, before recording): a writer truncates it
to the recorded offset before appending, so the offset in the catalog is the truth and
never runs ahead of the durable bytes. One writer at a time per file: ``flock`` refuses a
second one, in this process or another on the machine.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from server.errors import N_, NotFound
from server.storage import CHUNK_SIZE, Store, staging_name
from server.tus import Checksum, Locked

_ID_RE = re.compile(r"^[0-9a-f]{32}$")
# Bytes of a name a file system keeps in one path component (ext4, XFS: 255).
MAX_NAME_BYTES = 200


def new_upload_id() -> str:
    return uuid.uuid4().hex


def valid_id(upload_id: str) -> bool:
    return bool(_ID_RE.match(upload_id))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def short_name(filename: str) -> str:
    """``filename`` cut to :data:`MAX_NAME_BYTES` of UTF-8, keeping its extension."""
    if len(filename.encode("utf-8")) <= MAX_NAME_BYTES:
        return filename
    stem, dot, suffix = filename.rpartition(".")
    if not dot or len(suffix) > 16:
        stem, suffix = filename, ""
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8")) - 1
    cut = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return f"{cut}.{suffix}" if suffix else cut


class PartWriter:
    """Appends to one part file while holding its lock; :meth:`sync` makes bytes durable."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    @property
    def size(self) -> int:
        return self.handle.tell()

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def sync(self) -> int:
        """Flush and fsync; returns the file's size, now on disk."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        return self.handle.tell()

    def close(self) -> None:
        """Close the file, which releases its lock."""
        self.handle.close()

    def truncate(self, size: int) -> None:
        self.handle.flush()
        self.handle.truncate(size)
        self.handle.seek(size)

    def append_verified(self, side: Path, checksum: Checksum) -> bool:
        """Append ``side`` if its bytes have ``checksum``; False (nothing appended) if not."""
        digest = checksum.hasher()
        with side.open("rb") as source:
            while chunk := source.read(CHUNK_SIZE):
                digest.update(chunk)
        if digest.digest() != checksum.digest:
            return False
        with side.open("rb") as source:
            shutil.copyfileobj(source, self.handle, CHUNK_SIZE)
        return True


class PartFiles:
    """Part files under ``<data dir>/uploads``, named by upload id only."""

    def __init__(self, store: Store) -> None:
        self.root = store.root / "uploads"
        self.tmp = store.tmp

    def path(self, upload_id: str) -> Path:
        if not valid_id(upload_id):
            raise NotFound(N_("There is no upload {id}."), parameter="upload_id", id=upload_id)
        return self.root / f"{upload_id}.part"

    def side_path(self, upload_id: str) -> Path:
        """Where a PATCH with an Upload-Checksum is held until it is verified."""
        return self.root / f"{upload_id}.chunk"

    def create(self, upload_id: str) -> None:
        """An empty part file, its directory entry on disk."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.path(upload_id).open("xb") as handle:
            os.fsync(handle.fileno())
        _fsync_dir(self.root)

    def remove(self, upload_id: str) -> None:
        self.path(upload_id).unlink(missing_ok=True)
        self.side_path(upload_id).unlink(missing_ok=True)

    def exists(self, upload_id: str) -> bool:
        return self.path(upload_id).is_file()

    def open_writer(self, upload_id: str, offset: int) -> PartWriter:
        """The part file locked for writing, cut to ``offset`` (the recorded, durable size).

        Close the writer to release the lock. Raises :class:`~server.tus.Locked` when
        another writer holds it, :class:`~server.errors.NotFound` when the file is gone.
        """
        path = self.path(upload_id)
        try:
            handle = path.open("r+b")
        except FileNotFoundError as exc:
            raise NotFound(
                N_("There is no upload {id}."), parameter="upload_id", id=upload_id
            ) from exc
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise Locked(
                    N_("This upload is receiving bytes in another request; retry shortly.")
                ) from exc
            if os.fstat(handle.fileno()).st_size < offset:  # less on disk than recorded
                raise NotFound(
                    N_("The stored part of upload {id} is damaged; start it again."),
                    parameter="upload_id",
                    id=upload_id,
                )
            handle.truncate(offset)
            handle.seek(offset)
        except Exception:
            handle.close()
            raise
        return PartWriter(handle)

    @contextmanager
    def named_copy(self, upload_id: str, filename: str) -> Iterator[Path]:
        """The finished part file under its own name (a hard link in ``tmp/``), for sniffing
        and ingest, which read the name; removed afterwards."""
        folder = self.tmp / staging_name(f"upload-{upload_id}")
        folder.mkdir(parents=True)
        target = folder / short_name(filename)
        try:
            os.link(self.path(upload_id), target)
            yield target
        finally:
            shutil.rmtree(folder, ignore_errors=True)
