from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.settings import Settings, SettingsError, documented_settings, parse_size

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.language == "vi"
    assert settings.resolved_database_url.endswith("var/museum.sqlite3")
    assert settings.resolved_queue_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("MUSEUM_PORT", "8080", "port", 8080),
        ("MUSEUM_PORT", " 9000 ", "port", 9000),
        ("MUSEUM_DATA_DIR", "/srv/museum", "data_dir", Path("/srv/museum")),
        ("MUSEUM_LANGUAGE", "EN", "language", "en"),
        ("MUSEUM_AUTO_MIGRATE", "off", "auto_migrate", False),
        ("MUSEUM_MAX_UPLOAD_SIZE", "512M", "max_upload_size", 512 * 1024**2),
        ("MUSEUM_MAX_UPLOAD_SIZE", "2GiB", "max_upload_size", 2 * 1024**3),
        ("MUSEUM_JOB_LEASE", "2.5", "job_lease", 2.5),
        ("MUSEUM_DATABASE_URL", "postgresql://u@h/db", "database_url", "postgresql://u@h/db"),
        ("MUSEUM_QUEUE_URL", "redis://127.0.0.1:6379/0", "queue_url", "redis://127.0.0.1:6379/0"),
    ],
)
def test_values_are_parsed(variable: str, raw: str, field: str, expected: object) -> None:
    assert getattr(Settings.from_env({variable: raw}), field) == expected


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("MUSEUM_PORT", "abc"),
        ("MUSEUM_PORT", "0"),
        ("MUSEUM_PORT", "70000"),
        ("MUSEUM_LANGUAGE", "fr"),
        ("MUSEUM_AUTO_MIGRATE", "maybe"),
        ("MUSEUM_MAX_UPLOAD_SIZE", "lots"),
        ("MUSEUM_JOB_LEASE", "-1"),
        ("MUSEUM_DATABASE_URL", "mysql://x"),
        ("MUSEUM_QUEUE_URL", "amqp://x"),
        ("MUSEUM_HOST", "  "),
        ("MUSEUM_DATA_DIR", ""),
        ("MUSEUM_NO_SUCH_SETTING", "1"),
        ("MUSEUM_IMAGE_TILE_SIZE", "500"),
        ("MUSEUM_IMAGE_TILE_SIZE", "32"),
    ],
)
def test_malformed_values_name_the_variable(variable: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: raw})
    assert caught.value.variable == variable
    assert variable in str(caught.value)
    assert repr(raw) in str(caught.value)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_parse_size_units() -> None:
    assert parse_size("X", "1024") == 1024
    assert parse_size("X", "1k") == 1024
    assert parse_size("X", "3T") == 3 * 1024**4


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(MUSEUM_[A-Z0-9_]+)`", readme))
    names = {name for name, _, _ in documented_settings()}
    assert names - documented == set(), "settings missing from the README table"
    assert documented - names == set(), "README documents settings that do not exist"


# Process plumbing, not configuration: the sandbox builds a child's environment (PATH,
# PYTHONPATH) and the child takes its progress pipe from it; OCR hands Tesseract its PATH
# and TESSDATA_PREFIX; backups hand pg_dump/pg_restore theirs with PGPASSWORD added. None reads a
# MUSEUM_ setting.
ENVIRONMENT_PLUMBING = {
    "processing/sandbox.py",
    "processing/sandbox_child.py",
    "processing/ocr.py",
    "server/backup_catalog.py",
}


def test_only_settings_reads_the_environment() -> None:
    offenders = []
    for path in sorted((ROOT / "server").rglob("*.py")) + sorted(
        (ROOT / "processing").rglob("*.py")
    ):
        if path.name == "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        relative = str(path.relative_to(ROOT))
        if relative in ENVIRONMENT_PLUMBING:
            assert not re.search(r"environ[^\n]*MUSEUM_|getenv\([\"']MUSEUM_", text), relative
            continue
        if re.search(r"os\.environ|os\.getenv|getenv\(", text):
            offenders.append(relative)
    assert offenders == []
