"""``museum uploads``: housekeeping of resumable uploads (tus)."""

from __future__ import annotations

import click

from server.cli_common import HELP, load_ui, prepare_database, reported_errors, say
from server.errors import N_


@click.group(help=N_("Resumable uploads made in the staff interface."))
@HELP
def uploads() -> None:
    pass


@uploads.command(
    help=N_(
        "Delete the bytes of unfinished uploads past MUSEUM_UPLOAD_EXPIRY, and finish uploads "
        "a stopped server left being checked. Safe to run at any time, e.g. hourly from cron."
    )
)
@HELP
def sweep() -> None:
    from server.audit import Actor
    from server.db import Database
    from server.jobs import JobService
    from server.queue import Queue
    from server.storage import Store
    from server.tasks import job_handlers
    from server.upload_files import PartFiles
    from server.upload_ingest import resume_stale
    from server.upload_service import sweep as sweep_expired

    ui = load_ui()
    settings = ui.settings
    with reported_errors(ui):
        prepare_database(ui)
        db = Database(settings.resolved_database_url, settings.db_busy_timeout)
        store = Store(settings.data_dir)
        jobs = JobService(db, Queue(settings.resolved_queue_url), settings, job_handlers(), store)
        files = PartFiles(store)
        try:
            expired = db.call(lambda s: sweep_expired(s, files), write=True)
            resumed = resume_stale(jobs, files, Actor.command_line())
        finally:
            db.dispose()
    for upload_id, outcome in resumed:
        click.echo(f"{upload_id}\t{outcome}")
    say(
        ui,
        N_("{expired} expired upload(s) removed, {resumed} interrupted check(s) resumed."),
        expired=len(expired),
        resumed=len(resumed),
    )
