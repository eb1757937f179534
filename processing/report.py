"""``report.json`` pieces every pipeline shares: step timings, artefact entries, the file itself.

Light on purpose (standard library only): the sandboxed child of each pipeline imports
it, and a refusal must come back without loading any pipeline's heavy libraries.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

REPORT_NAME = "report.json"
REPORT_VERSION = 1

Progress = Callable[[float, str], None]


class PipelineError(Exception):
    """A pipeline's refusal or failure: ``code``, a stable key for programs, tests and
    translations (``server/refusals.py``), and ``reason``, one English sentence naming the
    problem (it goes into ``report.json`` and on the command line). The sandbox passes
    both fields back from the child; pickling keeps them too."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.reason))


class Steps:
    """Times each step (summed when a step repeats, e.g. per page) and forwards progress."""

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


def failure_report(
    pipeline: str, source: Path, parameters: dict[str, Any], code: str, reason: str
) -> dict[str, Any]:
    """What a refused or failed run leaves: the reason, and what it was asked to do."""
    return {
        "report_version": REPORT_VERSION,
        "status": "failed",
        "pipeline": pipeline,
        "source": {"name": source.name},
        "parameters": parameters,
        "error": {"code": code, "reason": reason},
        "artefacts": [],
    }


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones left out)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
