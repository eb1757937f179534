"""deploy/systemd: the units load cleanly (``systemd-analyze verify``) and stay hardened
(``systemd-analyze security --offline``, a figure in docs/security.md). Both run on the unit
files alone; no systemd needs to be running. Skips visibly without systemd-analyze."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/museum/.venv/bin/museum"
# The instances verified, and the highest exposure each may have (0 safe … 10 exposed).
INSTANCES = {
    "museum-web@8001.service": 4.0,
    "museum-worker@1.service": 6.0,
    "museum-fixity.service": 4.0,
    "museum-fixity.timer": None,
}


@pytest.fixture
def units(tmp_path: Path) -> Path:
    """The unit files, with ExecStart pointing at this checkout's `museum` (verify checks
    that the command exists)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: the systemd package)")
    museum = Path(sys.executable).parent / "museum"
    for unit in UNITS.iterdir():
        text = unit.read_text(encoding="utf-8")
        (tmp_path / unit.name).write_text(text.replace(INSTALLED, str(museum)), encoding="utf-8")
    return tmp_path


def test_every_unit_is_what_the_documentation_runs() -> None:
    names = {unit.name for unit in UNITS.iterdir()}
    assert names == {
        "museum-web@.service",
        "museum-worker@.service",
        "museum-fixity.service",
        "museum-fixity.timer",
    }
    for name in names - {"museum-fixity.timer"}:
        text = (UNITS / name).read_text(encoding="utf-8")
        assert f"ExecStart={INSTALLED} " in text, name
        assert "EnvironmentFile=/etc/museum/museum.env" in text, name
        assert "User=museum" in text and "ReadWritePaths=/srv/museum" in text, name


def test_the_units_verify_without_a_warning(units: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(units / n) for n in INSTANCES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines() if "museum" in line]
    assert ours == [], "\n".join(ours)


@pytest.mark.parametrize("instance", [n for n, limit in INSTANCES.items() if limit is not None])
def test_the_services_stay_hardened(units: Path, instance: str) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(units / instance)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    limit = INSTANCES[instance]
    assert limit is not None and float(match.group(1)) <= limit, result.stdout


@pytest.mark.parametrize(
    "unit", ["museum-web@.service", "museum-worker@.service", "museum-fixity.service"]
)
def test_the_commands_the_units_run_exist(unit: str) -> None:
    """Each ExecStart's subcommand and options are the `museum` command's own."""
    from click.testing import CliRunner

    from server.cli import main

    line = next(
        line
        for line in (UNITS / unit).read_text(encoding="utf-8").splitlines()
        if line.startswith("ExecStart=")
    )
    args = line.removeprefix(f"ExecStart={INSTALLED} ").replace("%i", "8001").split()
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert f" {args[0]} " in result.output.split("\n", 1)[0]  # Usage: … serve [OPTIONS]
    for option in (arg for arg in args if arg.startswith("--")):
        assert option in result.output, option
