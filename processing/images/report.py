"""``report.json`` for the image pipeline: the same layout as the 3D pipeline's.

Kept apart from :mod:`processing.threed.pipeline` so the image child never
imports trimesh and open3d (a refusal must come back in well under 2 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from processing import report as common
from processing.images.model import ImageOptions
from processing.report import REPORT_VERSION, Progress, Steps, describe, sha256, write_report

__all__ = [
    "PIPELINE",
    "REPORT_VERSION",
    "Progress",
    "Steps",
    "describe",
    "failure_report",
    "sha256",
    "tool_versions",
    "write_report",
]

PIPELINE = "image"
TOOLS = ("pyvips", "pillow", "lxml")


def failure_report(source: Path, options: ImageOptions, code: str, reason: str) -> dict[str, Any]:
    report = common.failure_report(PIPELINE, source, options.parameters(), code, reason)
    return {**report, "tools": tool_versions()}


def tool_versions() -> dict[str, str]:
    import pyvips  # the runner imports this module in processes that never touch an image

    versions = {"libvips": ".".join(str(pyvips.version(i)) for i in range(3))}
    return versions | common.package_versions(TOOLS)
