"""``report.json`` for the image pipeline: the same layout as the 3D pipeline's.

Kept apart from :mod:`processing.threed.pipeline` so the image child never
imports trimesh and open3d (a refusal must come back in well under 2 s).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from processing.images.model import ImageOptions

REPORT_NAME = "report.json"
REPORT_VERSION = 1
PIPELINE = "image"
TOOLS = ("pyvips", "pillow", "lxml")

Progress = Callable[[float, str], None]


class Steps:
    """Times each step (summed over pages) and forwards progress."""

    def __init__(self, progress: Progress | None) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    @contextmanager
    def step(self, name: str, percent: float) -> Iterator[None]:
        if self.progress is not None:
            self.progress(percent, name)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.timings[name] = round(self.timings.get(name, 0.0) + elapsed, 3)


def describe(out: Path, name: str, media_type: str, role: str, **extra: Any) -> dict[str, Any]:
    """An artefact entry: path (relative to ``out``), media type, bytes, SHA-256, role."""
    path = out / name
    return {
        "path": name,
        "media_type": media_type,
        "bytes": path.stat().st_size,
        "sha256": sha256(path),
        "role": role,
        **extra,
    }


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_report(out: Path, report: dict[str, Any]) -> None:
    """``report.json``, written whole (temporary file + rename)."""
    out.mkdir(parents=True, exist_ok=True)
    temporary = out / f".{REPORT_NAME}.tmp"
    temporary.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    temporary.replace(out / REPORT_NAME)


def failure_report(source: Path, options: ImageOptions, code: str, reason: str) -> dict[str, Any]:
    return {
        "report_version": REPORT_VERSION,
        "status": "failed",
        "pipeline": PIPELINE,
        "source": {"name": source.name},
        "parameters": options.parameters(),
        "error": {"code": code, "reason": reason},
        "artefacts": [],
        "tools": tool_versions(),
    }


def tool_versions() -> dict[str, str]:
    import pyvips  # the runner imports this module in processes that never touch an image

    versions = {"libvips": ".".join(str(pyvips.version(i)) for i in range(3))}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
