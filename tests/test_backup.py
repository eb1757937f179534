"""``museum backup`` and ``museum restore`` (promises D7, D8): a consistent online copy taken
while writers run, restored byte for byte; incremental by digest; an interrupted backup or
a tampered one never passes for a good one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

import server.backup
from server.audit import Actor, log_change
from server.backup import run_backup
from server.backup_bag import audit_bag, current_snapshot, hash_stream, read_info
from server.backup_catalog import describe_postgresql, describe_sqlite, sqlite_path
from server.cli import main
from server.db import Database, normalize_url
from server.errors import Conflict, IntegrityFailure
from server.fixity import run_fixity
from server.models import Asset, Record
from server.restore import run_restore
from server.settings import Settings
from server.storage import Store
from tests.backup_world import World, add_original, build_world, random_bytes
from tests.conftest import ROOT, fresh_postgres_database


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    built = build_world(settings)
    yield built
    built.close()


def row_counts(settings: Settings) -> dict[str, int]:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        return describe_sqlite(sqlite_path(url)).row_counts
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            return describe_postgresql(connection).row_counts
    finally:
        engine.dispose()


# Writers that keep working while the backup runs


class Writers:
    """One thread storing new originals, one editing a record (with its audit entry)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.stop = threading.Event()
        self.ingested = 0
        self.edits = 0
        self.errors: list[BaseException] = []
        self.record_id = world.db.call(lambda s: s.scalars(select(Record.id)).first())
        self.threads = [
            threading.Thread(target=self._loop, args=(f,)) for f in (self._ingest, self._edit)
        ]

    def _loop(self, step) -> None:  # type: ignore[no-untyped-def]
        rng = random.Random(id(step))
        while not self.stop.is_set():
            try:
                step(rng)
            except BaseException as exc:
                self.errors.append(exc)
                return
            time.sleep(0.002)

    def _ingest(self, rng: random.Random) -> None:
        add_original(self.world, random_bytes(rng, rng.randint(2000, 6000)), self.record_id)
        self.ingested += 1

    def _edit(self, _rng: random.Random) -> None:
        number = self.edits + 1

        def change(session) -> None:  # type: ignore[no-untyped-def]
            record = session.get(Record, self.record_id)
            record.title = {**record.title, "en": f"edit {number}"}
            log_change(session, Actor(None, "test"), "record.update", "record", self.record_id)

        self.world.db.call(change, write=True)
        self.edits = number

    def wait_for(self, ingested: int, edits: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.ingested < ingested or self.edits < edits:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, "the writers made no progress"
            time.sleep(0.005)

    @contextmanager
    def running(self) -> Iterator[Writers]:
        for thread in self.threads:
            thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            for thread in self.threads:
                thread.join()
        assert not self.errors, self.errors


def backup_during_writes(
    world: World, out: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, str], int, int]:
    """Back up while both writers run; they are made to commit during the copy of the
    originals, i.e. after the catalog's snapshot. Returns the assets acknowledged before
    the backup started, and how many ingests and edits happened during it."""
    writers = Writers(world)
    real_copy = server.backup.copy_verified
    during: dict[str, int] = {}

    def copy_while_writing(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not during:
            during.update(ingested=writers.ingested, edits=writers.edits)
            writers.wait_for(writers.ingested + 2, writers.edits + 2)
        return real_copy(*args, **kwargs)

    monkeypatch.setattr(server.backup, "copy_verified", copy_while_writing)
    with writers.running():
        writers.wait_for(2, 2)
        acknowledged = dict(world.assets)
        edits_acknowledged = writers.edits
        run_backup(world.settings, out)
        ingested_during = writers.ingested - during["ingested"]
        edits_during = writers.edits - during["edits"]
    assert ingested_during >= 2 and edits_during >= 2
    return acknowledged, edits_acknowledged, ingested_during


def check_round_trip(
    world: World, out: Path, restored: Settings, acknowledged: dict[str, str], edits: int
) -> None:
    bag = current_snapshot(out)
    assert bag is not None
    bagit.Bag(str(bag)).validate()
    info = read_info(bag)
    summary = run_restore(restored, out)
    assert summary.ok and summary.integrity == "ok" and summary.mismatches == {}
    # Equal row counts per table, counted afresh, vs the ones recorded at snapshot time; the
    # live catalog has moved on since (the writers kept going), so this is a point in time.
    counts = row_counts(restored)
    assert counts == info["row_counts"]
    assert len(counts) >= 25  # every table of the schema
    assert row_counts(world.settings)["assets"] > counts["assets"]
    # Every original byte-identical by SHA-256, and every acknowledged asset present.
    restored_db = Database(restored.resolved_database_url)
    try:
        rows = restored_db.call(lambda s: {a.id: a.sha256 for a in s.scalars(select(Asset))})
        title = restored_db.call(lambda s: s.scalars(select(Record.title)).all())
        report = run_fixity(restored_db, Store(restored.data_dir))
    finally:
        restored_db.dispose()
    assert acknowledged.items() <= rows.items()
    restored_store = Store(restored.data_dir)
    for sha256 in set(rows.values()):
        restored_digest, _ = hash_stream(restored_store.original_path(sha256))
        live_digest, _ = hash_stream(world.store.original_path(sha256))
        assert restored_digest == live_digest == sha256
    assert any(t.get("en", "").startswith("edit ") and int(t["en"][5:]) >= edits for t in title)
    # The restored store passes a full fixity audit.
    assert report.counts() == {"changed": 0, "missing": 0, "untracked": 0}
    assert report.hashed == report.tracked == len(set(rows.values()))
    assert (restored.data_dir / "secret_key").read_bytes() == (
        world.settings.data_dir / "secret_key"
    ).read_bytes()


@pytest.mark.slow
def test_round_trip_taken_while_writers_run(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "backup"
    acknowledged, edits, _ = backup_during_writes(world, out, monkeypatch)
    restored = Settings(data_dir=tmp_path / "restored")
    check_round_trip(world, out, restored, acknowledged, edits)


@pytest.mark.slow
@pytest.mark.postgres
def test_round_trip_on_postgresql(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Settings(data_dir=tmp_path / "data", database_url=postgres_url)
    world = build_world(source)
    try:
        out = tmp_path / "backup"
        acknowledged, edits, _ = backup_during_writes(world, out, monkeypatch)
        with fresh_postgres_database() as target_url:
            restored = Settings(data_dir=tmp_path / "restored", database_url=target_url)
            check_round_trip(world, out, restored, acknowledged, edits)
            # The restored database is not empty any more: a second restore is refused.
            with pytest.raises(Conflict):
                run_restore(Settings(data_dir=tmp_path / "again", database_url=target_url), out)
    finally:
        world.close()


def test_second_backup_copies_only_new_originals(world: World, tmp_path: Path) -> None:
    out = tmp_path / "backup"
    first = run_backup(world.settings, out)
    assert first.originals == first.originals_copied == len(set(world.assets.values()))
    rng = random.Random(3)
    new = {add_original(world, random_bytes(rng))[1] for _ in range(3)}
    second = run_backup(world.settings, out)
    assert (second.originals_copied, second.originals_linked) == (3, first.originals)
    assert second.derivatives_copied == 0 and second.derivatives == first.derivatives
    # Counted independently: an original that was not copied shares its inode with the
    # previous snapshot's file.
    old_bag, new_bag = Path(first.snapshot), Path(second.snapshot)
    old_inodes = {
        p.stat().st_ino for p in (old_bag / "data" / "originals").rglob("*") if p.is_file()
    }
    copied = [
        p
        for p in (new_bag / "data" / "originals").rglob("*")
        if p.is_file() and p.stat().st_ino not in old_inodes
    ]
    assert {p.name for p in copied} == new
    assert current_snapshot(out) == new_bag
    for bag in (old_bag, new_bag):
        bagit.Bag(str(bag)).validate()
    # Pruning to one snapshot keeps the linked files whole.
    third = run_backup(world.settings, out, keep=1)
    assert sorted(third.pruned) == sorted([old_bag.name, new_bag.name])
    assert audit_bag(Path(third.snapshot)) == ([], third.files)


def test_restore_refuses_a_data_dir_that_is_not_empty(world: World, tmp_path: Path) -> None:
    out = tmp_path / "backup"
    run_backup(world.settings, out)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep-me.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(Conflict):
        run_restore(Settings(data_dir=target), out)
    assert [p.name for p in target.iterdir()] == ["keep-me.txt"]
    messages = {}
    for language in ("vi", "en"):
        env = {"MUSEUM_DATA_DIR": str(target), "MUSEUM_LANGUAGE": language}
        result = CliRunner().invoke(main, ["restore", str(out)], env=env)
        assert result.exit_code != 0
        assert str(target) in result.output
        messages[language] = result.output
    assert "not empty" in messages["en"] and "không" in messages["vi"]


def _tamper_original(bag: Path) -> None:
    victim = next((bag / "data" / "originals").rglob("*/*/*"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.chmod(0o644)
    victim.unlink()  # a new inode: the previous snapshots keep the good bytes
    victim.write_bytes(bytes(data))


def _tamper_manifest(bag: Path) -> None:
    manifest = bag / "manifest-sha256.txt"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    digest = lines[-1][:64]
    lines[-1] = ("0" * 64) + lines[-1][64:] if digest != "0" * 64 else lines[-1]
    manifest.chmod(0o644)
    manifest.write_text("".join(lines), encoding="utf-8")


def _tamper_extra(bag: Path) -> None:
    (bag / "data" / "originals" / "planted.bin").write_bytes(b"not from the museum")


@pytest.mark.parametrize("tamper", [_tamper_original, _tamper_manifest, _tamper_extra])
def test_restore_refuses_a_tampered_backup(world: World, tmp_path: Path, tamper) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "backup"
    run_backup(world.settings, out)
    bag = current_snapshot(out)
    assert bag is not None
    tamper(bag)
    target = Settings(data_dir=tmp_path / "restored")
    with pytest.raises(IntegrityFailure):
        run_restore(target, out)
    # Nothing of the refused backup stays behind: the directory is empty again.
    assert not target.data_dir.exists() or not any(target.data_dir.iterdir())


# A backup killed part-way


KILLED_BACKUP = """
import pathlib, sys, time
import server.backup as backup
ready, stage, out = sys.argv[1:4]
real = getattr(backup, stage)
calls = []
def pause(*args, **kwargs):
    result = real(*args, **kwargs)
    calls.append(1)
    if len(calls) == 2 or stage == "write_tags":
        pathlib.Path(ready).write_text("ready")
        time.sleep(120)
    return result
setattr(backup, stage, pause)
from server.cli import run
sys.argv = ["museum", "backup", "--out", out]
run()
"""


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["copy_verified", "write_tags"])
def test_killed_backup_leaves_the_previous_one_valid(
    world: World, tmp_path: Path, stage: str
) -> None:
    out = tmp_path / "backup"
    previous = run_backup(world.settings, out)
    rng = random.Random(5)
    for _ in range(3):
        add_original(world, random_bytes(rng))
    ready = tmp_path / "ready"
    env = {**os.environ, "MUSEUM_DATA_DIR": str(world.settings.data_dir), "MUSEUM_LANGUAGE": "en"}
    command = [sys.executable, "-c", KILLED_BACKUP, str(ready), stage, str(out)]
    child = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, "the backup ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    partials = list((out / "snapshots").glob("*.partial"))
    assert len(partials) == 1 and any(partials[0].rglob("*"))
    # The previous snapshot is still the current one, whole and valid.
    assert current_snapshot(out) == Path(previous.snapshot)
    assert audit_bag(Path(previous.snapshot)) == ([], previous.files)
    bagit.Bag(previous.snapshot).validate()
    summary = run_restore(Settings(data_dir=tmp_path / "restored"), out)
    assert summary.ok and summary.originals == previous.originals
    # The next backup completes and clears the interrupted one.
    after = run_backup(world.settings, out)
    assert not list((out / "snapshots").glob("*.partial"))
    assert after.originals == previous.originals + 3


def test_backup_refuses_a_directory_inside_the_data_dir(world: World) -> None:
    result = CliRunner().invoke(
        main,
        ["backup", "--out", str(world.settings.data_dir / "backups")],
        env={"MUSEUM_DATA_DIR": str(world.settings.data_dir), "MUSEUM_LANGUAGE": "en"},
    )
    assert result.exit_code != 0 and "would be lost with it" in result.output
    assert not (world.settings.data_dir / "backups").exists()


def test_backup_of_a_damaged_original_keeps_the_previous_backup(
    world: World, tmp_path: Path
) -> None:
    out = tmp_path / "backup"
    previous = run_backup(world.settings, out)
    rng = random.Random(9)
    _, sha256 = add_original(world, random_bytes(rng))
    path = world.store.original_path(sha256)
    path.chmod(0o644)
    path.write_bytes(b"rotten" + path.read_bytes()[6:])
    with pytest.raises(IntegrityFailure):
        run_backup(world.settings, out)
    assert current_snapshot(out) == Path(previous.snapshot)
    assert not list((out / "snapshots").glob("*.partial"))
    assert audit_bag(Path(previous.snapshot)) == ([], previous.files)
