"""The ``museum`` command, run as a user runs it: a real process with MUSEUM_* variables."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from server.cli import main
from tests.conftest import ROOT, SEED_CATALOG
from tests.live import free_port

MUSEUM = str(Path(sys.executable).parent / "museum")


def run_museum(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_")}
    base["MUSEUM_DATA_DIR"] = str(tmp_path / "data")
    base.update(env or {})
    return subprocess.run(
        [MUSEUM, *args], capture_output=True, text=True, env=base, timeout=timeout, check=False
    )


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


def test_every_command_has_help_and_is_documented() -> None:
    from click.testing import CliRunner

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = all_commands(main)
    assert {
        ("serve",),
        ("worker",),
        ("demo",),
        ("doctor",),
        ("db", "upgrade"),
        ("catalog", "import"),
        ("ingest",),
    } <= set(commands)
    for command in commands:
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage:" in result.output
        if not isinstance(main.get_command(None, command[0]), click.Group) or len(command) > 1:  # type: ignore[arg-type]
            assert f"museum {' '.join(command)}" in readme, (
                f"`museum {' '.join(command)}` not in README"
            )


def test_malformed_port_stops_serve_naming_the_variable(tmp_path: Path) -> None:
    result = run_museum(tmp_path, "serve", env={"MUSEUM_PORT": "abc"})
    assert result.returncode != 0
    assert "MUSEUM_PORT" in result.stderr
    assert "'abc'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    result = run_museum(tmp_path, "db", "upgrade", env={"MUSEUM_PROT": "8000"})
    assert result.returncode != 0
    assert "MUSEUM_PROT" in result.stderr


def test_db_upgrade_then_catalog_import_is_idempotent(tmp_path: Path) -> None:
    upgraded = run_museum(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    from server.migrate import head_revision

    assert str(head_revision()) in upgraded.stdout
    first = run_museum(tmp_path, "catalog", "import", str(SEED_CATALOG))
    assert first.returncode == 0, first.stderr
    assert "31" in first.stdout and "31 mới" in first.stdout
    second = run_museum(
        tmp_path, "catalog", "import", str(SEED_CATALOG), env={"MUSEUM_LANGUAGE": "en"}
    )
    assert "31 records: 0 new, 0 updated, 31 unchanged." in second.stdout


def test_catalog_import_of_a_faulty_file_writes_nothing(tmp_path: Path) -> None:
    faulty = tmp_path / "faulty.csv"
    faulty.write_text(
        "seed_id,entity_type,name_vi\nA-1,di_tich,Tháp\nA-2,spaceship,Tàu\nA-3,di_tich,\n",
        encoding="utf-8",
    )
    result = run_museum(tmp_path, "catalog", "import", str(faulty), env={"MUSEUM_LANGUAGE": "en"})
    assert result.returncode != 0
    assert "2 problem(s) in the file; nothing was imported." in result.stderr
    assert "line 3, entity_type" in result.stderr and "line 4, name_vi" in result.stderr
    from server.db import Database
    from server.models import Record

    db = Database(f"sqlite:///{tmp_path / 'data' / 'museum.sqlite3'}")
    assert db.call(lambda s: s.query(Record).count()) == 0
    db.dispose()


def test_ingest_stores_originals_and_prints_asset_ids(tmp_path: Path) -> None:
    run_museum(tmp_path, "catalog", "import", str(SEED_CATALOG))
    first = tmp_path / "scan.ply"
    first.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 0\nend_header\n")
    second = tmp_path / "Cồng chiêng.jpg"
    second.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64)
    result = run_museum(tmp_path, "ingest", str(first), str(second), "--record", "DL-ICH-01")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, path, kind in zip(lines, (first, second), ("model", "image"), strict=True):
        asset_id, sha256, found_kind, name = line.split("\t")
        assert re.fullmatch(r"[0-9a-f]{32}", asset_id)
        assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert found_kind == kind and name == path.name
        stored = tmp_path / "data" / "originals" / sha256[:2] / sha256[2:4] / sha256
        assert stored.read_bytes() == path.read_bytes()
    again = run_museum(tmp_path, "ingest", str(first), "--record", "DL-ICH-01")
    assert again.stdout.split("\t")[0] == lines[0].split("\t")[0]  # same asset, not a duplicate


def test_ingest_refuses_bad_input_and_stores_nothing(tmp_path: Path) -> None:
    run_museum(tmp_path, "db", "upgrade")
    good = tmp_path / "good.jpg"
    good.write_bytes(b"\xff\xd8\xff" + b"\x00" * 10)
    missing = run_museum(tmp_path, "ingest", str(good), str(tmp_path / "nope.jpg"))
    assert missing.returncode != 0 and "nope.jpg" in missing.stderr
    unknown = run_museum(tmp_path, "ingest", str(good), "--record", "NO-SUCH")
    assert unknown.returncode != 0 and "NO-SUCH" in unknown.stderr
    too_big = run_museum(tmp_path, "ingest", str(good), env={"MUSEUM_MAX_UPLOAD_SIZE": "4"})
    assert too_big.returncode != 0 and "MUSEUM_MAX_UPLOAD_SIZE" in too_big.stderr
    assert (
        not list((tmp_path / "data" / "originals").rglob("*"))
        if (tmp_path / "data" / "originals").exists()
        else True
    )


def test_doctor_reports_every_capability(tmp_path: Path) -> None:
    result = run_museum(tmp_path, "doctor", "--json")
    import json

    checks = {c["name"]: c for c in json.loads(result.stdout)}
    for name in (
        "ffmpeg",
        "ffprobe",
        "libvips (pyvips)",
        "open3d",
        "tesseract",
        "tesseract vie",
        "espeak-ng",
        "espeak-ng vi",
        "ASR model (faster-whisper)",
        "database",
        "queue",
        "free disk",
    ):
        assert name in checks
    for check in checks.values():
        assert check["detail"], check
        if not check["ok"]:
            assert check["fix"], check
    missing = [c["name"] for c in checks.values() if c["required"] and not c["ok"]]
    assert (result.returncode == 0) == (missing == []), (missing, result.stderr)


def test_doctor_fails_when_a_required_tool_is_missing(tmp_path: Path) -> None:
    env = {
        "PATH": str(Path(sys.executable).parent)
    }  # the venv only: no ffmpeg, tesseract, espeak-ng
    result = run_museum(tmp_path, "doctor", env={**env, "MUSEUM_LANGUAGE": "en"})
    assert result.returncode != 0
    assert re.search(r"ffmpeg\s+│\s*missing: apt-get install ffmpeg", result.stdout), result.stdout
    assert "Required capabilities missing:" in result.stderr
    assert "ffmpeg" in result.stderr and "tesseract" in result.stderr


@pytest.mark.slow
def test_demo_prepares_the_seed_collection(tmp_path: Path) -> None:
    result = run_museum(tmp_path, "demo", "--no-serve", env={"MUSEUM_LANGUAGE": "en"})
    assert result.returncode == 0, result.stderr
    assert "31" in result.stdout
    # A demo administrator, whose password is printed and kept for its owner only.
    secret = next(tmp_path.rglob("demo-admin-password.txt"))
    password = secret.read_text().strip()
    assert len(password) >= 16 and password in result.stdout
    assert secret.stat().st_mode & 0o077 == 0
    again = run_museum(tmp_path, "demo", "--no-serve", env={"MUSEUM_LANGUAGE": "en"})
    assert "password" not in again.stdout  # made once
    listed = run_museum(tmp_path, "users", "list")
    assert "admin" in listed.stdout


def test_help_speaks_the_interface_language(tmp_path: Path) -> None:
    vi = run_museum(tmp_path, "serve", "--help")
    assert vi.returncode == 0
    assert "Phục vụ trang web và API của bảo tàng." in vi.stdout
    assert "Hiện hướng dẫn này rồi thoát." in vi.stdout
    en = run_museum(tmp_path, "serve", "--help", env={"MUSEUM_LANGUAGE": "en"})
    assert "Serve the museum website and API." in en.stdout
    # Help still works when a setting is broken; the command itself reports it.
    broken = run_museum(tmp_path, "--help", env={"MUSEUM_PORT": "abc"})
    assert broken.returncode == 0 and "museum" in broken.stdout


@pytest.mark.slow
def test_demo_runs_its_queued_jobs_beside_the_server_and_stops_them_with_it(
    tmp_path: Path,
) -> None:
    if not all(Path(tool).is_file() for tool in ("/usr/bin/espeak-ng", "/usr/bin/ffmpeg")):
        pytest.skip("espeak-ng or ffmpeg not installed: the demo's audio guides cannot be made")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_")}
    env |= {"MUSEUM_DATA_DIR": str(tmp_path / "data"), "MUSEUM_LANGUAGE": "en"}
    demo = subprocess.Popen(
        [MUSEUM, "demo", "--port", str(port)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert demo.stdout is not None
        worker = None
        for line in demo.stdout:
            if match := re.search(r"beside the server \(process (\d+)\)", line):
                worker = int(match.group(1))
                break
        assert worker is not None
        database = tmp_path / "data" / "museum.sqlite3"
        query = "SELECT count(*) FROM assets WHERE role = 'guide' AND published_version IS NOT NULL"
        deadline = time.monotonic() + 180
        made = 0
        while not made and time.monotonic() < deadline:
            time.sleep(1)
            with contextlib.closing(sqlite3.connect(database)) as connection:
                made = connection.execute(query).fetchone()[0]
        assert made > 0, "the worker beside the demo made no audio guide"
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=60)  # reaps it and closes its pipe
    deadline = time.monotonic() + 30
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{worker}").exists(), "the worker outlived the demo"
