"""The install script: clear guidance where it cannot install by itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BASICS = ["bash", "env", "grep", "id", "cat", "dirname", "cut", "sha256sum", "mapfile", "touch"]


def test_machine_without_apt_gets_a_list_of_what_to_install(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in BASICS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    (bin_dir / "python3").symlink_to(sys.executable)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "bootstrap.sh")],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "has no apt" in result.stderr
    for need in ("Python >= 3.11", "ffmpeg", "libvips", "tesseract", "espeak-ng", "chromium"):
        assert need in result.stderr
