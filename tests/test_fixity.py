"""``museum fixity`` (promise D3, threat row 23): injected storage faults are each reported
in their category by one audit run; clean stores and backups pass; runs are recorded and a
rotating schedule re-hashes the least recently checked originals."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from server.backup import run_backup
from server.backup_bag import current_snapshot
from server.cli import main
from server.fixity import Schedule, parse_age, parse_share, run_fixity
from server.models import Asset, AuditEntry, FixityCheck, utcnow
from server.settings import Settings
from tests.backup_world import World, build_world


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    built = build_world(settings)
    yield built
    built.close()


def cli(world: World, *args: str, language: str = "en"):  # type: ignore[no-untyped-def]
    env = {"MUSEUM_DATA_DIR": str(world.settings.data_dir), "MUSEUM_LANGUAGE": language}
    return CliRunner().invoke(main, ["fixity", *args], env=env)


def address(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def writable(path: Path) -> Path:
    path.chmod(0o644)
    return path


def test_a_clean_store_and_backup_pass(world: World, tmp_path: Path) -> None:
    run_backup(world.settings, tmp_path / "backup")
    result = cli(world, "--backup", str(tmp_path / "backup"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    originals = len(set(world.assets.values()))
    assert (report["changed"], report["missing"], report["untracked"]) == (0, 0, 0)
    assert report["tracked"] == report["hashed"] == originals
    assert report["backup_files"] > originals  # and the catalog, derivatives, signing key
    assert report["coverage"] == 1.0


def inject_faults(world: World, backup: Path) -> set[tuple[str, str, str]]:
    """Faults of ten kinds; the findings each must produce, as (category, scope, path)."""
    digests = sorted(set(world.assets.values()))
    store = world.store
    path = {sha: store.original_path(sha) for sha in digests}
    flip, cut, gone, moved, emptied, linked, locked, edited = digests[:8]
    expected: set[tuple[str, str, str]] = set()

    data = bytearray(path[flip].read_bytes())  # 1. one bit flipped, size unchanged
    data[len(data) // 3] ^= 0x10
    writable(path[flip]).write_bytes(bytes(data))
    expected.add(("changed", "originals", address(flip)))

    with writable(path[cut]).open("r+b") as handle:  # 2. truncated
        handle.truncate(100)
    expected.add(("changed", "originals", address(cut)))

    path[gone].unlink()  # 3. deleted
    expected.add(("missing", "originals", address(gone)))

    stray = store.originals / "ab" / "cd" / ("ab" + "cd" + "0" * 60)  # 4. extra files
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"planted")
    (store.originals / "notes.txt").write_text("left here", encoding="utf-8")
    expected |= {
        ("untracked", "originals", address(stray.name)),
        ("untracked", "originals", "notes.txt"),
    }

    path[moved].rename(path[moved].with_name(moved + ".bak"))  # 5. renamed
    expected |= {
        ("missing", "originals", address(moved)),
        ("untracked", "originals", address(moved) + ".bak"),
    }

    writable(path[emptied]).write_bytes(b"")  # 6. emptied
    expected.add(("changed", "originals", address(emptied)))

    elsewhere = world.settings.data_dir.parent / "elsewhere.bin"  # 7. replaced by a symlink
    shutil.copyfile(path[linked], elsewhere)  # (to the very same bytes)
    path[linked].unlink()
    path[linked].symlink_to(elsewhere)
    expected.add(("changed", "originals", address(linked)))

    path[locked].chmod(0o000)  # 8. unreadable
    expected.add(("missing", "originals", address(locked)))

    forged = "f" * 64  # 9. the catalog's digest of an asset edited
    world.db.call(
        lambda s: s.execute(update(Asset).where(Asset.sha256 == edited).values(sha256=forged)),
        write=True,
    )
    expected |= {
        ("missing", "originals", address(forged)),
        ("untracked", "originals", address(edited)),
    }

    bag = current_snapshot(backup)  # 10. derivatives corrupted: in the backup, and live
    assert bag is not None
    backed_up = sorted((bag / "data" / "derivatives").rglob("*.jpg"))[0]
    backed_up.unlink()  # a new inode, as an editor saving the file would make
    backed_up.write_bytes(b"corrupt")
    expected.add(("changed", "backup", backed_up.relative_to(bag).as_posix()))
    live = sorted(store.derivatives.rglob("*.json"))[0]
    writable(live).write_text('{"width": 11}', encoding="utf-8")
    expected.add(("changed", "derivatives", live.relative_to(store.derivatives).as_posix()))
    (bag / "data" / "originals" / address(digests[9])).unlink()  # and an original lost there
    expected.add(("missing", "backup", f"data/originals/{address(digests[9])}"))
    return expected


def test_every_injected_fault_is_reported_in_its_category(world: World, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    run_backup(world.settings, backup)
    expected = inject_faults(world, backup)
    result = cli(world, "--backup", str(backup), "--json")
    assert result.exit_code == 1
    report = json.loads(result.output[: result.output.rindex("}") + 1])
    found = {(f["category"], f["scope"], f["path"]) for f in report["findings"]}
    assert found == expected
    assert len(expected) == 15
    assert (report["changed"], report["missing"], report["untracked"]) == (6, 5, 4)
    # The human report names each, and the exit code says something is wrong.
    human = cli(world, "--backup", str(backup))
    assert human.exit_code == 1
    for _category, _scope, path in expected:
        assert Path(path).name in human.output
    assert "4 untracked" in human.output


def test_runs_are_recorded(world: World) -> None:
    digests = set(world.assets.values())
    before = utcnow()
    assert cli(world).exit_code == 0
    checks = world.db.call(lambda s: {c.sha256: c for c in s.scalars(select(FixityCheck))})
    assert set(checks) == digests
    assert all(c.ok and c.checked_at >= before for c in checks.values())
    victim = sorted(digests)[0]
    world.store.original_path(victim).unlink()
    assert cli(world, language="vi").exit_code == 1
    entries = world.db.call(
        lambda s: s.scalars(select(AuditEntry).where(AuditEntry.action == "fixity.check")).all()
    )
    assert [e.after["missing"] for e in entries] == [0, 1]
    assert all(e.after["tracked"] == len(digests) for e in entries)
    failed = world.db.call(lambda s: s.get(FixityCheck, victim))
    assert not failed.ok and "missing" in failed.detail


def test_a_rotating_share_covers_every_original_once(world: World) -> None:
    digests = set(world.assets.values())
    seen: list[str] = []
    runs = 4
    for _ in range(runs):
        before = utcnow()
        report = run_fixity(world.db, world.store, Schedule(share=Fraction(1, runs)))
        assert report.ok and report.hashed == len(digests) // runs
        seen += world.db.call(
            lambda s, t=before: list(
                s.scalars(select(FixityCheck.sha256).where(FixityCheck.checked_at >= t))
            )
        )
    assert sorted(seen) == sorted(digests)  # each exactly once
    assert report.coverage == 1.0


def test_max_age_rehashes_only_the_overdue(world: World) -> None:
    run_fixity(world.db, world.store)
    fresh = run_fixity(world.db, world.store, Schedule(max_age=timedelta(days=90)))
    assert fresh.hashed == 0 and fresh.ok
    digests = sorted(set(world.assets.values()))
    old = digests[:3]
    world.db.call(
        lambda s: s.execute(
            update(FixityCheck)
            .where(FixityCheck.sha256.in_(old))
            .values(checked_at=utcnow() - timedelta(days=100))
        ),
        write=True,
    )
    # A bit flip in an original not due is not seen; one in an overdue original is.
    for sha256 in (digests[5], old[0]):
        path = writable(world.store.original_path(sha256))
        data = bytearray(path.read_bytes())
        data[0] ^= 0x01
        path.write_bytes(bytes(data))
    report = run_fixity(world.db, world.store, Schedule(max_age=timedelta(days=90)))
    assert report.hashed == 3
    assert [(f.category, f.path) for f in report.findings] == [("changed", address(old[0]))]
    # All but the damaged one now verified within the window.
    assert report.coverage == pytest.approx((len(digests) - 1) / len(digests))


@pytest.mark.parametrize(
    ("text", "age"),
    [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), ("45", timedelta(seconds=45))],
)
def test_parse_age(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "d", "-3d", "0d", "3w", "1.5d"])
def test_parse_age_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_age(text)


def test_parse_share() -> None:
    assert parse_share("1/90") == Fraction(1, 90)
    for bad in ("0", "2", "-1/3", "x"):
        with pytest.raises(ValueError):
            parse_share(bad)


def test_bad_options_are_refused(world: World, tmp_path: Path) -> None:
    for args in (["--max-age", "soon"], ["--share", "3/2"], ["--backup", str(tmp_path)]):
        result = cli(world, *args)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output
