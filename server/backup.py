"""``museum backup``: a consistent copy of a running museum, incremental by content digest.

Each run writes a complete new snapshot (a BagIt bag, see :mod:`server.backup_bag`) beside
the previous ones and only then points ``CURRENT`` at it, so a backup killed at any moment
leaves the previous snapshot whole and current. Originals and derivatives the previous
snapshot already holds are hard-linked from it, not copied: a later backup costs the new
files only, yet every snapshot is a self-contained bag that can be restored alone.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from server import __version__
from server.backup_bag import (
    MANIFEST,
    PARTIAL,
    POINTER,
    SNAPSHOTS,
    check_tags,
    copy_verified,
    current_snapshot,
    fsync_tree,
    hash_stream,
    link_or_copy,
    read_manifest,
    snapshot_dirs,
    walk_files,
    write_tags,
)
from server.backup_catalog import CatalogSnapshot, snapshot_catalog
from server.errors import N_, Conflict, IntegrityFailure, ValidationError
from server.migrate import head_revision
from server.models import utcnow
from server.settings import Settings
from server.storage import Store, atomic_file

SECRET_FILES = ("secret_key", "secret_key.previous")
PAYLOAD_MODE = 0o444  # a backup's files are never edited in place
PRIVATE_MODE = 0o400  # the catalog copy and the signing keys


@dataclass
class BackupSummary:
    snapshot: str
    engine: str
    schema: str | None
    originals: int = 0
    originals_copied: int = 0
    originals_linked: int = 0
    derivatives: int = 0
    derivatives_copied: int = 0
    derivatives_linked: int = 0
    files: int = 0
    bytes: int = 0
    row_counts: dict[str, int] = field(default_factory=dict)
    pruned: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class _Snapshot:
    """The payload being written: ``{path in bag: sha256}``, sizes, and the previous snapshot
    whose unchanged files are linked instead of copied."""

    def __init__(self, bag: Path, previous: Path | None) -> None:
        self.bag = bag
        self.previous = previous
        self.previous_manifest = _trusted_manifest(previous)
        self.payload: dict[str, str] = {}
        self.size = 0

    def reusable(self, relative: str, size: int, digest: str | None = None) -> str | None:
        """The digest of ``relative`` in the previous snapshot when it can be linked."""
        known = self.previous_manifest.get(relative)
        if known is None or self.previous is None or (digest is not None and known != digest):
            return None
        try:
            same_size = (self.previous / relative).stat().st_size == size
        except OSError:
            return None
        return known if same_size else None

    def add(self, relative: str, source: Path, size: int, digest: str | None = None) -> bool:
        """Put ``source`` at ``relative``; ``True`` when it was copied, ``False`` when linked."""
        target = self.bag / relative
        known = self.reusable(relative, size, digest)
        copied = True
        if known is not None and self.previous is not None:
            copied = not link_or_copy(self.previous / relative, target, known, PAYLOAD_MODE)
            digest = known
        else:
            digest = copy_verified(source, target, PAYLOAD_MODE, expected=digest)
        self.payload[relative] = digest
        self.size += target.stat().st_size
        return copied

    def add_private(self, relative: str, source: Path) -> None:
        target = self.bag / relative
        self.payload[relative] = copy_verified(source, target, PRIVATE_MODE)
        self.size += target.stat().st_size


def _trusted_manifest(previous: Path | None) -> dict[str, str]:
    """The previous snapshot's manifest, if its tag files are intact (else copy afresh)."""
    if previous is None or check_tags(previous):
        return {}
    try:
        return read_manifest(previous / MANIFEST)
    except (OSError, IntegrityFailure):
        return {}


def run_backup(settings: Settings, backup_dir: Path, keep: int = 2) -> BackupSummary:
    """Write a new snapshot of the museum into ``backup_dir`` and make it the current one."""
    backup_dir = _check_target(settings, backup_dir)
    with _locked(backup_dir):
        _remove_partials(backup_dir)
        name = f"{utcnow():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        partial = backup_dir / SNAPSHOTS / f"{name}{PARTIAL}"
        partial.mkdir(parents=True)
        try:
            summary = _fill(settings, partial, current_snapshot(backup_dir))
            fsync_tree(partial)
            final = partial.with_name(name)
            partial.rename(final)
            _fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        with atomic_file(backup_dir / POINTER, 0o600) as pointer:
            pointer.write_text(name + "\n", encoding="utf-8")
        _fsync_dir(backup_dir)
        summary.snapshot = str(final)
        summary.pruned = _prune(backup_dir, keep, name)
    return summary


def _fill(settings: Settings, bag: Path, previous: Path | None) -> BackupSummary:
    catalog = snapshot_catalog(settings.resolved_database_url, bag / "data" / "catalog")
    snapshot = _Snapshot(bag, previous)
    catalog_file = f"data/catalog/{catalog.file_name}"
    snapshot.payload[catalog_file], snapshot.size = hash_stream(bag / catalog_file)
    summary = BackupSummary("", catalog.engine, catalog.schema, row_counts=catalog.row_counts)
    store = Store(settings.data_dir)
    _copy_originals(store, catalog, snapshot, summary)
    _copy_derivatives(store, snapshot, summary)
    for name in SECRET_FILES:
        if (settings.data_dir / name).is_file():
            snapshot.add_private(f"data/{name}", settings.data_dir / name)
    summary.files, summary.bytes = len(snapshot.payload), snapshot.size
    write_tags(bag, snapshot.payload, snapshot.size, _info(catalog, catalog_file, summary))
    return summary


def _copy_originals(
    store: Store, catalog: CatalogSnapshot, snapshot: _Snapshot, summary: BackupSummary
) -> None:
    """Every original the catalog copy references, verified against its digest."""
    damaged: list[str] = []
    for sha256, size in catalog.originals:
        relative = f"data/originals/{sha256[:2]}/{sha256[2:4]}/{sha256}"
        try:
            copied = snapshot.add(relative, store.original_path(sha256), size, sha256)
        except (OSError, IntegrityFailure):
            damaged.append(sha256)
            continue
        summary.originals += 1
        summary.originals_copied += copied
        summary.originals_linked += not copied
    if damaged:
        raise IntegrityFailure(
            N_(
                "{count} original(s) are missing or damaged in the store, so this backup was "
                "not made (the previous one is kept): {digests}. Run `museum fixity`."
            ),
            count=len(damaged),
            digests=", ".join(damaged[:5]),
        )


def _copy_derivatives(store: Store, snapshot: _Snapshot, summary: BackupSummary) -> None:
    """Every derivative file; versions are immutable, so one already backed up is linked."""
    if not store.derivatives.is_dir():
        return
    for relative in walk_files(store.derivatives):
        source = store.derivatives / relative
        try:
            if not source.is_file() or source.is_symlink():
                continue
            copied = snapshot.add(f"data/derivatives/{relative}", source, source.stat().st_size)
        except FileNotFoundError:
            continue  # a version removed while we walked
        summary.derivatives += 1
        summary.derivatives_copied += copied
        summary.derivatives_linked += not copied


def _info(catalog: CatalogSnapshot, catalog_file: str, summary: BackupSummary) -> dict[str, Any]:
    return {
        "format": 1,
        "created_at": utcnow().isoformat(timespec="seconds") + "Z",
        "museum_version": __version__,
        "schema": catalog.schema,
        "schema_head": head_revision(),
        "engine": catalog.engine,
        "catalog": catalog_file,
        "integrity_check": catalog.integrity,
        "row_counts": catalog.row_counts,
        "originals": summary.originals,
        "derivatives": summary.derivatives,
    }


def _check_target(settings: Settings, backup_dir: Path) -> Path:
    backup_dir = backup_dir.resolve()
    data_dir = settings.data_dir.resolve()
    if backup_dir == data_dir or data_dir in backup_dir.parents:
        raise ValidationError(
            N_("A backup inside the data directory ({path}) would be lost with it."),
            parameter="out",
            path=str(data_dir),
        )
    if (backup_dir / "bagit.txt").exists():
        raise ValidationError(
            N_("{path} is one snapshot; give the backup directory that holds it."),
            parameter="out",
            path=str(backup_dir),
        )
    backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return backup_dir


@contextmanager
def _locked(backup_dir: Path) -> Iterator[None]:
    """One backup at a time into a directory; the lock goes with the process if it is killed."""
    with (backup_dir / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise Conflict(
                N_("Another backup is being written into {path}."), path=str(backup_dir)
            ) from exc
        yield


def _remove_partials(backup_dir: Path) -> None:
    root = backup_dir / SNAPSHOTS
    if root.is_dir():
        for stale in root.glob(f"*{PARTIAL}"):
            shutil.rmtree(stale, ignore_errors=True)


def _prune(backup_dir: Path, keep: int, current: str) -> list[str]:
    """Remove all but the newest ``keep`` snapshots (files linked from newer ones stay)."""
    complete = [p for p in snapshot_dirs(backup_dir) if p.name != current]
    removed = complete[: max(0, len(complete) - (keep - 1))]
    for old in removed:
        shutil.rmtree(old)
    return [p.name for p in removed]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
