"""``museum fixity``: re-hash the originals against the catalog, and optionally a backup.

Reports in Archivematica's three categories: **changed** (present, but not the bytes the
catalog names: a flipped bit, a truncation, an empty file, a symbolic link or a directory
in its place), **missing** (absent, or present but unreadable: the museum cannot get the
bytes back) and **untracked** (a file in the store no catalog row names: an extra file, a
renamed one, an original whose catalog digest was edited).

Every run is recorded: each re-hashed original's outcome in ``fixity_checks`` (so a
rotating schedule re-hashes the least recently checked first, promise D3) and one
``fixity.check`` entry in the audit log with the counts.
"""

from __future__ import annotations

import math
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit import Actor, log_change
from server.backup_bag import (
    CATEGORIES,
    CHANGED,
    MANIFEST,
    MISSING,
    UNTRACKED,
    Finding,
    audit_bag,
    check_file,
    current_snapshot,
    read_manifest,
    walk_files,
)
from server.db import Database
from server.errors import N_, IntegrityFailure, NotFound
from server.models import Asset, FixityCheck, utcnow
from server.storage import Store

COVERAGE_WINDOW = timedelta(days=90)  # every original re-hashed at least this often (D3)
_DERIVATIVES = "data/derivatives/"


@dataclass(frozen=True)
class Schedule:
    """Which originals to re-hash: all (the default), or a rotating share of them."""

    max_age: timedelta | None = None  # those not verified within this age
    share: Fraction | None = None  # and this share of all, least recently checked first

    @property
    def rotating(self) -> bool:
        return self.max_age is not None or self.share is not None


@dataclass
class FixityReport:
    checked_at: datetime
    tracked: int = 0
    hashed: int = 0
    findings: list[Finding] = field(default_factory=list)
    backup: str | None = None
    backup_files: int = 0
    coverage: float = 0.0  # share of originals verified within the window, after this run
    window_days: int = COVERAGE_WINDOW.days
    oldest_check: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        return {c: sum(f.category == c for f in self.findings) for c in CATEGORIES}

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(timespec="seconds") + "Z",
            "tracked": self.tracked,
            "hashed": self.hashed,
            **self.counts(),
            "findings": [f.as_json() for f in self.findings],
            "backup": self.backup,
            "backup_files": self.backup_files,
            "coverage": round(self.coverage, 4),
            "window_days": self.window_days,
            "oldest_check": self.oldest_check.isoformat(timespec="seconds") + "Z"
            if self.oldest_check
            else None,
        }


def run_fixity(
    db: Database,
    store: Store,
    schedule: Schedule = Schedule(),
    backup_dir: Path | None = None,
    actor: Actor | None = None,
) -> FixityReport:
    report = FixityReport(checked_at=utcnow())
    # The disk is listed before the catalog is read: an original stored meanwhile is either
    # in both or (its row not committed yet) looked up again before it is called untracked.
    on_disk = set(walk_files(store.originals)) if store.originals.is_dir() else set()
    expected, last = db.call(_catalog_state)
    report.tracked = len(expected)
    due = _due(expected, last, schedule, report.checked_at)
    outcomes: dict[str, str] = {}
    for sha256, size in sorted(expected.items()):
        relative = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        on_disk.discard(relative)
        finding = _check_original(store, relative, sha256, size, sha256 in due)
        if finding is not None:
            report.findings.append(finding)
        if sha256 in due or finding is not None:
            outcomes[sha256] = "" if finding is None else f"{finding.category}: {finding.detail}"
    report.hashed = sum(1 for sha256 in due if sha256 in expected)
    report.findings += _untracked(db, on_disk)
    if backup_dir is not None:
        _check_backup(store, backup_dir, report)
    db.call(lambda s: _record(s, report, outcomes, actor or Actor.command_line()), write=True)
    window = schedule.max_age or COVERAGE_WINDOW
    report.window_days = max(1, round(window / timedelta(days=1)))
    report.coverage, report.oldest_check = db.call(
        lambda s: _coverage(s, list(expected), report.checked_at - window)
    )
    return report


def _catalog_state(session: Session) -> tuple[dict[str, int], dict[str, FixityCheck]]:
    rows = session.execute(select(Asset.sha256, func.max(Asset.size)).group_by(Asset.sha256))
    expected = {str(sha256): int(size) for sha256, size in rows}
    last = {row.sha256: row for row in session.scalars(select(FixityCheck))}
    return expected, last


def _due(
    expected: dict[str, int], last: dict[str, FixityCheck], schedule: Schedule, now: datetime
) -> set[str]:
    """Everything, unless the schedule rotates: then the overdue, and the least recently
    checked share (never checked and failed ones first)."""
    if not schedule.rotating:
        return set(expected)

    def age_key(sha256: str) -> tuple[bool, datetime]:
        check = last.get(sha256)
        if check is None or not check.ok:
            return (False, datetime.min)
        return (True, check.checked_at)

    order = sorted(expected, key=age_key)
    due: set[str] = set()
    if schedule.share is not None:
        due.update(order[: math.ceil(len(order) * schedule.share)])
    if schedule.max_age is not None:
        limit = now - schedule.max_age
        due.update(s for s in order if age_key(s) < (True, limit))
    return due


def _check_original(
    store: Store, relative: str, sha256: str, size: int, rehash: bool
) -> Finding | None:
    """Cheap checks for every original (there, a regular file, readable, its size); the
    SHA-256 only for those due."""
    path = store.originals / relative
    try:
        info = path.lstat()
    except FileNotFoundError:
        return Finding(MISSING, "originals", relative, sha256, "no such file")
    if stat.S_ISREG(info.st_mode) and not info.st_mode & stat.S_IRUSR:
        # Checked on the mode bits too: root reads the file whatever its permissions.
        return Finding(MISSING, "originals", relative, sha256, "unreadable: mode 000")
    if stat.S_ISREG(info.st_mode) and info.st_size != size:
        detail = f"size {info.st_size}, catalog says {size}"
        return Finding(CHANGED, "originals", relative, sha256, detail)
    if not rehash and stat.S_ISREG(info.st_mode):
        return None
    return check_file(store.originals, relative, sha256, "originals")


def _untracked(db: Database, on_disk: set[str]) -> list[Finding]:
    """Files no catalog row names, after a second look for rows committed meanwhile."""
    names = {Path(relative).name for relative in on_disk}
    known = db.call(
        lambda s: (
            set(s.scalars(select(Asset.sha256).where(Asset.sha256.in_(names)))) if names else set()
        )
    )
    return [
        Finding(UNTRACKED, "originals", relative, None, "not in the catalog")
        for relative in sorted(on_disk)
        if not (Path(relative).name in known and _is_address(relative))
    ]


def _is_address(relative: str) -> bool:
    parts = relative.split("/")
    return len(parts) == 3 and parts[2][:2] == parts[0] and parts[2][2:4] == parts[1]


def _check_backup(store: Store, backup_dir: Path, report: FixityReport) -> None:
    """Every file of the backup's current snapshot, and the live derivatives it lists."""
    bag = current_snapshot(backup_dir)
    if bag is None:
        raise NotFound(N_("There is no complete backup in {path}."), path=str(backup_dir))
    report.backup = str(bag)
    findings, report.backup_files = audit_bag(bag)
    report.findings += findings
    try:
        manifest = read_manifest(bag / MANIFEST)
    except (OSError, IntegrityFailure):
        return
    derivatives = {
        path.removeprefix(_DERIVATIVES): digest
        for path, digest in manifest.items()
        if path.startswith(_DERIVATIVES)
    }
    report.findings += _check_derivatives(store, derivatives.items())


def _check_derivatives(store: Store, listed: Iterable[tuple[str, str]]) -> list[Finding]:
    """Derivative versions never change once published: a live file differing from the
    backup's digest is damaged in one of the two places."""
    found = []
    for relative, digest in sorted(listed):
        finding = check_file(store.derivatives, relative, digest, "derivatives")
        if finding is not None:
            found.append(finding)
    return found


def _record(session: Session, report: FixityReport, outcomes: dict[str, str], actor: Actor) -> None:
    for sha256, problem in outcomes.items():
        row = session.get(FixityCheck, sha256) or FixityCheck(sha256=sha256)
        row.checked_at, row.ok, row.detail = report.checked_at, not problem, problem[:255]
        session.add(row)
    summary = {
        **report.counts(),
        "tracked": report.tracked,
        "hashed": report.hashed,
        "backup": report.backup,
        "backup_files": report.backup_files,
    }
    log_change(session, actor, "fixity.check", "store", "originals", None, summary)


def _coverage(
    session: Session, tracked: list[str], since: datetime
) -> tuple[float, datetime | None]:
    """The share of ``tracked`` verified good since ``since``, and the oldest good check."""
    if not tracked:
        return 1.0, None
    checks = {
        row.sha256: row.checked_at
        for row in session.scalars(select(FixityCheck).where(FixityCheck.ok.is_(True)))
    }
    recent = sum(1 for s in tracked if checks.get(s, datetime.min) >= since)
    oldest = None if any(s not in checks for s in tracked) else min(checks[s] for s in tracked)
    return recent / len(tracked), oldest


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``3600s`` or plain seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    value = text.strip().lower()
    factor = units.get(value[-1:], 0)
    number = value[:-1] if factor else value
    if not number.isdigit() or int(number) <= 0:
        raise ValueError(text)
    return timedelta(seconds=int(number) * (factor or 1))


def parse_share(text: str) -> Fraction:
    """``1/90`` (or ``0.5``): the share of all originals one run re-hashes."""
    share = Fraction(text.strip())
    if not 0 < share <= 1:
        raise ValueError(text)
    return share
