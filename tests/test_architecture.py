"""Guards on the architecture: processing stays free of the web side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_processing_imports_neither_server_nor_starlette() -> None:
    modules = sorted(
        "processing." + p.stem for p in (ROOT / "processing").glob("*.py") if p.stem != "__init__"
    )
    code = (
        "import sys, importlib\n"
        f"for name in ['processing', *{modules!r}]: importlib.import_module(name)\n"
        "web = {'server', 'starlette', 'uvicorn'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in web)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert len(modules) >= 2
    assert result.stdout.strip() == ""


def test_processing_source_has_no_web_imports() -> None:
    for path in (ROOT / "processing").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for forbidden in ("import server", "from server", "import starlette", "from starlette"):
            assert forbidden not in text, f"{path}: {forbidden}"
