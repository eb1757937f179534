"""``museum process``: run a media pipeline on one file or folder, outside the catalog."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn

from server.cli_common import HELP, Ui, err_console, load_ui
from server.errors import N_
from server.refusals import describe

MODEL_KINDS = ("mesh", "pointcloud")
IMAGE_KINDS = ("image", "document")
AV_KINDS = ("video", "audio")
KINDS = MODEL_KINDS + IMAGE_KINDS + AV_KINDS
AV_SUFFIXES = {
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts",
    ".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a",
}  # fmt: skip


@click.command(
    "process",
    help=N_(
        "Process a scan (a file, a folder or a ZIP bundle) into web-ready derivatives and "
        "report.json in DIR. Exits non-zero with the reason when the input is refused."
    ),
)
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help=N_("Output folder (must not exist yet, or be empty)."),
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    help=N_("What the input is (default: decided from its content)."),
)
@click.option(
    "--units",
    type=click.Choice(("mm", "cm", "m")),
    default="m",
    show_default=True,
    help=N_("Unit of the scan's coordinates."),
)
@click.option(
    "--up",
    type=click.Choice(("y", "z")),
    default="y",
    show_default=True,
    help=N_("The scan's up axis."),
)
@HELP
def process(source: Path, out: Path, kind: str | None, units: str, up: str) -> None:
    from processing.av.probe import MediaError
    from processing.images.model import ImageError
    from processing.runner import Failure, process_av, process_image, process_model
    from server.media_jobs import av_options, child_limits, image_options, model_options

    ui = load_ui()
    limits = child_limits(ui.settings)
    pipeline = _pipeline_for(source, kind)
    try:
        with _progress(ui) as advance:
            if pipeline == "image":
                options = image_options(ui.settings, kind)
                report = process_image(source, out, options, limits, progress=advance)
            elif pipeline == "av":
                report = process_av(source, out, av_options(ui.settings), limits, advance)
            else:
                report = process_model(
                    source, out, model_options(ui.settings, kind, units, up), limits, advance
                )
    except (Failure, ImageError, MediaError) as exc:
        detail = describe(exc.code, exc.reason, ui.gettext)
        err_console.print(
            ui.t(N_("Refused: {detail}"), detail=detail), markup=False, soft_wrap=True
        )
        raise SystemExit(1) from exc
    if pipeline == "image":
        stats = report["statistics"]
        click.echo(f"{stats['width']}x{stats['height']}\t{stats['page_count']}\t{stats['tiles']}")
    elif pipeline == "av":
        for rendition in report["statistics"]["renditions"]:
            size = f"{rendition['width']}x{rendition['height']}" if "width" in rendition else "-"
            click.echo(
                f"{rendition['playlist']}\t{size}\t{rendition['codecs']}\t"
                f"{rendition['average_bps']}\t{rendition['duration']}"
            )
    else:
        for lod in report["statistics"]["lods"]:
            click.echo(
                f"{lod['path']}\t{lod['triangles'] or lod['points']}\t{lod['bytes']}\t"
                f"{lod['hausdorff_pct']}"
            )
    err_console.print(
        ui.t(
            N_("Wrote {count} file(s) and report.json to {out}."),
            count=len(report["artefacts"]),
            out=str(out),
        ),
        markup=False,
    )
    if report.get("warnings"):
        err_console.print(json.dumps(report["warnings"], ensure_ascii=False), markup=False)


def _pipeline_for(source: Path, kind: str | None) -> str:
    """``image`` for images and documents, ``av`` for video and audio (by --kind, else by
    content), ``model`` otherwise."""
    from processing.sniff import sniff_file

    if kind is not None:
        return "image" if kind in IMAGE_KINDS else "av" if kind in AV_KINDS else "model"
    found = sniff_file(source).kind if source.is_file() else None
    if found in IMAGE_KINDS:
        return "image"
    if found in AV_KINDS or (found == "other" and source.suffix.lower() in AV_SUFFIXES):
        return "av"  # unrecognised bytes named like media: the AV pipeline says why it refuses
    return "model"


@contextmanager
def _progress(ui: Ui) -> Iterator[Callable[[float, str], None]]:
    """A progress bar on a terminal; silent otherwise."""
    bar = Progress(
        TextColumn(ui.t(N_("Processing"))),
        BarColumn(),
        TextColumn("{task.description}"),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    with bar:
        task = bar.add_task("", total=100)
        yield lambda percent, message: bar.update(task, completed=percent, description=message)
