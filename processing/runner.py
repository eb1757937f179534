"""Run a media pipeline on one input, in a sandboxed child, into an output folder.

The output folder appears whole or not at all: the pipeline writes into a
staging folder beside it, which is renamed into place when the pipeline
succeeds. A refused or failed input leaves only ``report.json`` (status
``failed``, with the reason) in the output folder. Used by ``museum process``
and by the worker's media jobs.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from processing.av.pipeline import KINDS as AV_KINDS
from processing.av.pipeline import AvOptions
from processing.images import report as image_report
from processing.images.model import KINDS as IMAGE_KINDS
from processing.images.model import ImageOptions
from processing.report import Progress, write_report
from processing.sandbox import ChildLimits, SandboxError, parse_progress, run_in_child
from processing.threed.model import KINDS as MODEL_KINDS
from processing.threed.model import ModelOptions

TARGETS = {kind: "processing.threed.pipeline:run_job" for kind in MODEL_KINDS}
TARGETS |= {kind: "processing.images.pipeline:run_job" for kind in IMAGE_KINDS}
TARGETS |= {kind: "processing.av.pipeline:run_job" for kind in AV_KINDS}


class Failure(Exception):
    """The input was refused or the processing failed; ``reason`` is one English line."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def check_output(out: Path) -> None:
    """``out`` must not exist yet, or be an empty folder: nothing is ever overwritten."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Failure("output_exists", f"The output folder {out} exists and is not empty.")


def process_model(
    source: Path,
    out: Path,
    options: ModelOptions,
    limits: ChildLimits,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The 3D pipeline on ``source`` into ``out``; returns the report or raises :class:`Failure`."""

    from processing.threed import pipeline as threed  # open3d, trimesh: only when used

    def failed(code: str, reason: str) -> dict[str, Any]:
        return threed.failure_report(source, options, code, reason)

    options_json = threed.options_to_json(options)
    return _run(TARGETS["mesh"], source, out, options_json, limits, progress, failed)


def process_image(
    source: Path,
    out: Path,
    options: ImageOptions,
    limits: ChildLimits,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The image pipeline (images, documents) on ``source`` into ``out``, like process_model."""
    from processing.images.pipeline import options_to_json  # imports pyvips: only when used

    def failed(code: str, reason: str) -> dict[str, Any]:
        return image_report.failure_report(source, options, code, reason)

    target = TARGETS["image"]
    return _run(target, source, out, options_to_json(options), limits, progress, failed)


def process_av(
    source: Path,
    out: Path,
    options: AvOptions,
    limits: ChildLimits,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The video and audio pipeline on ``source`` into ``out``, like process_model."""
    from processing.av import pipeline as av

    def failed(code: str, reason: str) -> dict[str, Any]:
        return av.failure_report(source, options, code, reason)

    return _run(
        TARGETS["video"], source, out, av.options_to_json(options), limits, progress, failed
    )


def _run(
    target: str,
    source: Path,
    out: Path,
    options_json: dict[str, Any],
    limits: ChildLimits,
    progress: Progress | None,
    failure_report: Callable[[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """Stage, run ``target`` in the sandbox, then rename into place or leave a failure report."""
    if not source.exists():
        raise Failure("not_found", f"No such file or folder: {source}.")
    check_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    payload = {
        # The folder made absolute, the name kept: a job's source is a link named after the
        # upload to a digest-named original, and text formats (OBJ, glTF, XYZ) need the name.
        "source": str(source.absolute().parent.resolve() / source.name),
        "out": str(staging.resolve()),
        "options": options_json,
    }

    def forward(line: str) -> None:
        if progress is not None:
            progress(*parse_progress(line))

    try:
        report = run_in_child(target, payload, limits, on_line=forward)
    except SandboxError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        write_report(out, failure_report(exc.code, exc.reason))
        raise Failure(exc.code, exc.reason) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()  # checked empty above
    staging.rename(out)
    return report
