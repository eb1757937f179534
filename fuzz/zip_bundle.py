"""The 3D pipeline's ZIP bundle checks (processing/threed/bundle.py: extract_zip).

Input: the bytes of a ZIP file. Contract: :class:`ModelError` or an extraction that wrote
regular files only, all inside the destination, within the entry and byte limits; never
anything outside it (a marker folder beside the destination stays empty).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["processing.threed.bundle", "zipfile"]):
    import zipfile  # noqa: F401 - instrumented: the bundle checks lean on its parsing

    from processing.threed.bundle import extract_zip
    from processing.threed.model import Limits, ModelError

LIMITS = Limits(max_archive_entries=64, max_archive_bytes=1024 * 1024)
WORK = Path(tempfile.mkdtemp(prefix="fuzz-zip-"))


def test_one_input(data: bytes) -> None:
    source = WORK / "bundle.zip"
    source.write_bytes(data)
    dest = WORK / "out" / "bundle"
    beside = WORK / "out" / "beside"
    beside.mkdir(parents=True)
    try:
        extract_zip(source, dest, LIMITS)
    except ModelError:
        pass
    else:
        written = 0
        for folder, dirs, files in os.walk(dest):
            for name in dirs + files:
                path = Path(folder) / name
                assert not path.is_symlink(), path
                assert path.resolve().is_relative_to(dest.resolve()), path
            for name in files:
                written += (Path(folder) / name).stat().st_size
        assert written <= LIMITS.max_archive_bytes, written
    finally:
        assert not any(beside.iterdir()), list(beside.iterdir())
        shutil.rmtree(WORK / "out")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
