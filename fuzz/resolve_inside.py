"""The storage path resolver (server/storage.py: resolve_inside), between URL text and
files on disk.

Input: a relative path as UTF-8 text (any bytes). A scratch root holds a file, a folder
and links that point out of it. Contract: ``None`` or a path strictly inside the root after
every link is resolved; never an exception but ValueError for text the OS cannot take
(a lone surrogate).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["server.storage"]):
    from server.storage import resolve_inside

_TOP = Path(tempfile.mkdtemp(prefix="fuzz-resolve-"))
ROOT = _TOP / "root"
(ROOT / "records" / "r1").mkdir(parents=True)
(ROOT / "records" / "r1" / "tile.jpg").write_bytes(b"x")
(_TOP / "secret").write_text("canary")
(ROOT / "records" / "escape").symlink_to(_TOP / "secret")
(ROOT / "up").symlink_to(_TOP)
(ROOT / "records" / "same").symlink_to("r1")
BASE = ROOT.resolve()


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    try:
        found = resolve_inside(ROOT, text)
    except ValueError:
        if any("\udc80" <= c <= "\udcff" for c in text):
            return  # undecodable bytes: the router never hands these over
        raise
    if found is None:
        return
    assert found != BASE and BASE in found.parents, (text, found)
    assert found == found.resolve(), found


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
