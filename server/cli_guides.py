"""``museum guides``: queue the audio guides of the records that lack one or whose title changed."""

from __future__ import annotations

from collections.abc import Sequence

import click

from server.cli_common import (
    HELP,
    Ui,
    console,
    err_console,
    load_ui,
    prepare_database,
    reported_errors,
)
from server.errors import N_


@click.command(
    help=N_(
        "Queue the audio guides (each item's title spoken in Vietnamese and English) of the "
        "records whose guide is missing or whose title changed; `museum worker` makes them."
    )
)
@click.option(
    "--record",
    "record_ids",
    multiple=True,
    metavar="ID",
    help=N_("Only this record (repeat for more)."),
)
@click.option("--force", is_flag=True, help=N_("Make the guides again, even up-to-date ones."))
@HELP
def guides(record_ids: tuple[str, ...], force: bool) -> None:
    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        count = queue_guides(ui, record_ids or None, force)
    console.print(ui.t(N_("Queued {count} audio guide(s)."), count=count))


def queue_guides(ui: Ui, record_ids: Sequence[str] | None = None, force: bool = False) -> int:
    """Queue the guides to make (see :func:`server.guides.enqueue_guides`); how many."""
    from server.guides import enqueue_guides
    from server.worker import build_job_service

    jobs = build_job_service(ui.settings)
    try:
        return enqueue_guides(jobs.db, jobs, record_ids, force)
    finally:
        jobs.db.dispose()


def guides_after_import(ui: Ui) -> None:
    """After a catalog import, queue the guides it made missing or outdated (and any left
    from before), unless MUSEUM_AUDIO_GUIDES is off.

    Every record is planned rather than only the file's: the import report does not list
    them, and an up-to-date or already queued guide is never queued again.
    """
    if not ui.settings.audio_guides:
        return
    with reported_errors(ui):
        count = queue_guides(ui)
    err_console.print(ui.t(N_("Queued {count} audio guide(s)."), count=count))
