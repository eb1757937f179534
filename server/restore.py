"""``museum restore``: a backup snapshot back into an empty data directory (and database).

Nothing counts until it is verified: the tag manifest first (an edited manifest is refused),
then every payload file is hashed while it is copied and compared with the manifest, then
the catalog is checked (``PRAGMA integrity_check`` on SQLite) and its row counts compared
with the ones recorded when the backup was taken. A restore that fails part-way removes
what it wrote, so the data directory is empty again and the restore can be retried.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from server.backup import SECRET_FILES
from server.backup_bag import (
    MANIFEST,
    check_tags,
    copy_verified,
    current_snapshot,
    read_info,
    read_manifest,
    walk_files,
)
from server.backup_catalog import (
    POSTGRES_FILE,
    SQLITE_FILE,
    CatalogSnapshot,
    describe_sqlite,
    engine_of,
    restore_postgresql,
    sqlite_path,
)
from server.errors import N_, Conflict, IntegrityFailure, NotFound, ValidationError
from server.migrate import head_revision
from server.settings import Settings
from server.storage import PUBLIC_FILE_MODE, READ_ONLY, resolve_inside

_ORIGINAL = re.compile(r"^data/originals/([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})$")


@dataclass
class RestoreSummary:
    snapshot: str
    engine: str
    schema: str | None
    schema_head: str | None
    files: int = 0
    bytes: int = 0
    originals: int = 0
    derivatives: int = 0
    integrity: str = "ok"
    row_counts: dict[str, int] = field(default_factory=dict)
    # table: [counted at backup, counted after restore], for every table that differs
    mismatches: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and not self.mismatches

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def run_restore(settings: Settings, backup_dir: Path) -> RestoreSummary:
    bag = current_snapshot(backup_dir)
    if bag is None:
        raise NotFound(N_("There is no complete backup in {path}."), path=str(backup_dir))
    _require_empty(settings.data_dir)
    manifest, info = _verified_listing(bag)
    engine = engine_of(settings.resolved_database_url)
    if engine != info.get("engine"):
        raise ValidationError(
            N_(
                "This backup holds a {backup} catalog, but MUSEUM_DATABASE_URL is {engine}; "
                "restore it into the same kind of database."
            ),
            parameter="backup",
            backup=str(info.get("engine")),
            engine=engine,
        )
    targets = _targets(settings, manifest, engine)
    summary = RestoreSummary(str(bag), engine, info.get("schema"), head_revision())
    try:
        _copy_all(bag, manifest, targets, summary)
        catalog = _restore_catalog(settings, engine, targets)
    except BaseException:
        _undo(settings, engine)
        raise
    _compare(summary, catalog, info.get("row_counts", {}))
    return summary


def _require_empty(data_dir: Path) -> None:
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise Conflict(
            N_(
                "The data directory {path} is not empty. Restore only into an empty directory "
                "(set MUSEUM_DATA_DIR to a new one); nothing was changed."
            ),
            path=str(data_dir),
        )


def _verified_listing(bag: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The manifest and backup info, once the tag files match and no file is unlisted."""
    problems = [f"{f.path}: {f.category} ({f.detail})" for f in check_tags(bag)]
    manifest: dict[str, str] = {}
    if not problems:
        manifest = read_manifest(bag / MANIFEST)
        listed = set(manifest)
        problems = [
            f"data/{rel}: untracked (not listed)"
            for rel in walk_files(bag / "data")
            if f"data/{rel}" not in listed
        ]
    if problems:
        raise IntegrityFailure(
            N_("The backup {path} has been altered and is refused: {problems}"),
            path=str(bag),
            problems="; ".join(problems[:5]),
        )
    return manifest, read_info(bag)


def _targets(settings: Settings, manifest: dict[str, str], engine: str) -> dict[str, Path]:
    """Where each manifest entry goes; any entry that is not a museum file refuses the bag."""
    data_dir = settings.data_dir.resolve()
    catalog_name = SQLITE_FILE if engine == "sqlite" else POSTGRES_FILE
    targets: dict[str, Path] = {}
    for relative in manifest:
        target: Path | None = None
        if _ORIGINAL.match(relative):
            target = data_dir / "originals" / relative.removeprefix("data/originals/")
        elif relative.startswith("data/derivatives/"):
            inside = relative.removeprefix("data/derivatives/")
            target = resolve_inside(data_dir / "derivatives", inside)
        elif relative in {f"data/{name}" for name in SECRET_FILES}:
            target = data_dir / relative.removeprefix("data/")
        elif relative == f"data/catalog/{catalog_name}":
            target = _catalog_target(settings, engine)
        if target is None:
            raise IntegrityFailure(
                N_("The backup lists {path}, which is not a museum file; it is refused."),
                path=relative,
            )
        targets[relative] = target
    return targets


def _catalog_target(settings: Settings, engine: str) -> Path:
    if engine != "sqlite":
        return settings.data_dir.resolve() / "tmp" / POSTGRES_FILE
    path = sqlite_path(settings.resolved_database_url)
    if path.exists():
        raise Conflict(
            N_("A catalog already exists at {path}; restore needs an empty one."), path=str(path)
        )
    return path


def _mode(relative: str) -> int:
    if relative.startswith("data/originals/"):
        return READ_ONLY
    if relative.startswith("data/derivatives/"):
        return PUBLIC_FILE_MODE
    return 0o600  # the catalog and the signing keys


def _copy_all(
    bag: Path, manifest: dict[str, str], targets: dict[str, Path], summary: RestoreSummary
) -> None:
    for relative, digest in sorted(manifest.items()):
        source = bag / relative
        if not source.is_file() or source.is_symlink():
            raise IntegrityFailure(
                N_("The backup's file {path} is missing or not a regular file."), path=relative
            )
        copy_verified(source, targets[relative], _mode(relative), expected=digest)
        summary.files += 1
        summary.bytes += targets[relative].stat().st_size
        summary.originals += relative.startswith("data/originals/")
        summary.derivatives += relative.startswith("data/derivatives/")


def _restore_catalog(settings: Settings, engine: str, targets: dict[str, Path]) -> CatalogSnapshot:
    if engine == "sqlite":
        return describe_sqlite(sqlite_path(settings.resolved_database_url))
    dump = settings.data_dir.resolve() / "tmp" / POSTGRES_FILE
    try:
        return restore_postgresql(settings.resolved_database_url, dump)
    finally:
        dump.unlink(missing_ok=True)


def _undo(settings: Settings, engine: str) -> None:
    """Empty the data directory again (it was empty before), and the SQLite catalog file."""
    if settings.data_dir.is_dir():
        for child in settings.data_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    if engine == "sqlite":
        path = sqlite_path(settings.resolved_database_url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def _compare(summary: RestoreSummary, catalog: CatalogSnapshot, recorded: dict[str, int]) -> None:
    summary.integrity = catalog.integrity
    summary.row_counts = catalog.row_counts
    for table in sorted(set(recorded) | set(catalog.row_counts)):
        before, after = recorded.get(table, -1), catalog.row_counts.get(table, -1)
        if before != after:
            summary.mismatches[table] = [before, after]
