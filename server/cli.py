"""The ``museum`` command: one command per chore, each with ``--help``."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import __version__
from server.cli_annotations import annotations_group
from server.cli_backup import BACKUP_COMMANDS
from server.cli_captions import captions
from server.cli_catalog import catalog, import_seed, report
from server.cli_common import (
    HELP,
    Ui,
    configure_logging,
    console,
    err_console,
    load_ui,
    prepare_database,
    reported_errors,
    say,
)
from server.cli_exhibitions import exhibitions
from server.cli_guides import guides
from server.cli_process import process
from server.cli_uploads import uploads
from server.cli_users import DEMO_ADMIN, DEMO_PASSWORD_FILE, ensure_demo_admin, users
from server.errors import N_, InsufficientStorage, NotFound, ValidationError
from server.i18n import load_catalogs, nfc
from server.settings import Settings, SettingsError

if TYPE_CHECKING:
    from processing.sniff import Sniffed
    from server.jobs import JobService
    from server.storage import StoredOriginal


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_(
        "Đắk Lắk digital heritage museum: server, worker and maintenance commands. "
        "Settings come from MUSEUM_* environment variables (see the README)."
    ),
)
@click.version_option(__version__, prog_name="museum", help=N_("Show the version and exit."))
@HELP
def main() -> None:
    pass


@main.command(help=N_("Serve the museum website and API."))
@click.option("--host", help=N_("Address to listen on (default: MUSEUM_HOST or 127.0.0.1)."))
@click.option(
    "--port", type=click.IntRange(1, 65535), help=N_("Port (default: MUSEUM_PORT or 8000).")
)
@HELP
def serve(host: str | None, port: int | None) -> None:
    ui = load_ui()
    _serve(ui, host, port)


def _serve(ui: Ui, host: str | None, port: int | None) -> None:
    import uvicorn

    from server.app import create_app

    configure_logging(ui.settings)
    with reported_errors(ui):
        prepare_database(ui)
        app = create_app(ui.settings)
    bind_host = host or ui.settings.host
    bind_port = port or ui.settings.port
    console.print(
        ui.t(N_("Serving the museum at http://{host}:{port}"), host=bind_host, port=bind_port)
    )
    uvicorn.run(
        app,
        host=bind_host,
        port=bind_port,
        log_level=ui.settings.log_level,
        log_config=None,  # uvicorn's loggers go through ours (configure_logging)
        access_log=False,  # server.telemetry writes the access line, with the request id
        server_header=False,
        # Behind nginx: the client's address and scheme from X-Forwarded-For/-Proto, believed
        # only from MUSEUM_TRUSTED_PROXIES (docs/deploy.md); nobody's when it is empty.
        proxy_headers=bool(ui.settings.trusted_proxies),
        forwarded_allow_ips=ui.settings.trusted_proxies or None,
        # Overload: beyond this many connections and requests, 503 at once (docs/security.md).
        limit_concurrency=ui.settings.max_concurrency,
    )


@main.command(help=N_("Run queued jobs (media processing). Start as many as the machines allow."))
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    help=N_("Jobs run at once (default: MUSEUM_WORKER_CONCURRENCY)."),
)
@HELP
def worker(concurrency: int | None) -> None:
    from server.worker import run_worker

    ui = load_ui()
    configure_logging(ui.settings)
    with reported_errors(ui):
        prepare_database(ui)
    run_worker(ui.settings, concurrency)


@main.command(help=N_("Prepare the demo collection (the seed catalog), then serve it."))
@click.option("--host", help=N_("Address to listen on."))
@click.option("--port", type=click.IntRange(1, 65535), help=N_("Port to listen on."))
@click.option("--no-serve", is_flag=True, help=N_("Prepare the demo collection, then exit."))
@click.option(
    "--no-worker",
    is_flag=True,
    help=N_("Do not run queued jobs (audio guides, ingested media) beside the server."),
)
@HELP
def demo(host: str | None, port: int | None, no_serve: bool, no_worker: bool) -> None:
    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        summary = import_seed(ui)
        password = ensure_demo_admin(ui)
    console.print(summary.render(ui.gettext), markup=False)
    if password is not None:
        say(
            ui,
            N_(
                "Staff sign-in at /admin/: user {user}, password {password} (kept in {file}). "
                "Make your own accounts with `museum users create`."
            ),
            user=DEMO_ADMIN,
            password=password,
            file=str(ui.settings.data_dir / DEMO_PASSWORD_FILE),
        )
    if no_serve:
        return
    # One machine, one command: the demo's queued jobs (its audio guides first) are run by a
    # worker process beside the server, stopped with it.
    with contextlib.nullcontext() if no_worker else _worker_beside(ui):
        _serve(ui, host, port)


@contextmanager
def _worker_beside(ui: Ui) -> Iterator[None]:
    """``museum worker --concurrency 1`` as a child process while the block runs."""
    command = [sys.executable, "-m", "server.cli", "worker", "--concurrency", "1"]
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    console.print(
        ui.t(N_("A worker runs the queued jobs beside the server (process {pid})."), pid=child.pid)
    )
    try:
        yield
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@main.command(help=N_("Check every capability: tools, libraries, models, database, queue, disk."))
@click.option("--json", "as_json", is_flag=True, help=N_("Print the checks as JSON."))
@HELP
def doctor(as_json: bool) -> None:
    from server.app import VIEWER_DIST
    from server.doctor import run_checks

    ui = load_ui()
    checks = run_checks(ui.settings, VIEWER_DIST)
    missing = [c for c in checks if c.required and not c.ok]
    if as_json:
        click.echo(json.dumps([asdict(c) for c in checks], ensure_ascii=False, indent=2))
    else:
        table = Table(title=ui.t(N_("Museum capabilities")), show_lines=False)
        table.add_column(ui.t(N_("Capability")))
        table.add_column(ui.t(N_("Status")))
        for check in checks:
            if check.ok:
                status = f"[green]{ui.t(check.detail)}[/green]"
            else:
                label = ui.t(N_("missing")) if check.required else ui.t(N_("optional, missing"))
                status = f"[red]{label}: {ui.t(check.fix)}[/red] ({ui.t(check.detail)})"
            table.add_row(ui.t(check.name), status)
        Console(width=200, highlight=False).print(table)
        console.print(
            ui.t(
                N_("{ok} of {total} capabilities ready."),
                ok=sum(c.ok for c in checks),
                total=len(checks),
            )
        )
    if missing:
        raise click.ClickException(
            ui.t(
                N_("Required capabilities missing: {names}."),
                names=", ".join(ui.t(c.name) for c in missing),
            )
        )


@main.group(help=N_("Database schema commands."))
@HELP
def db() -> None:
    pass


@db.command("upgrade", help=N_("Create or migrate the catalog schema to the newest version."))
@HELP
def db_upgrade() -> None:
    from server.db import Database
    from server.migrate import current_revision

    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui, force=True)
        database = Database(ui.settings.resolved_database_url)
        revision = current_revision(database)
        database.dispose()
    console.print(ui.t(N_("Database schema is at revision {revision}."), revision=revision))


@main.command(
    help=N_(
        "Store files as immutable originals and queue their processing. "
        "Prints one line per file: asset id, SHA-256, kind, file name."
    )
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--record", "record_id", help=N_("Attach the files to this catalog record."))
@HELP
def ingest(files: tuple[Path, ...], record_id: str | None) -> None:
    ui = load_ui()
    with reported_errors(ui):
        _check_ingest_inputs(ui, files)
        prepare_database(ui)
        _ingest(ui, files, record_id)


def _check_ingest_inputs(ui: Ui, files: tuple[Path, ...]) -> None:
    """Refuse the whole batch before storing anything, so a bad argument loses nothing."""
    from server.storage import free_space

    total = 0
    for path in files:
        if not path.is_file():
            raise ValidationError(
                N_("Not a readable file: {path}."), parameter="file", path=str(path)
            )
        if path.stat().st_size > ui.settings.max_upload_size:
            raise ValidationError(
                N_("{path} is larger than MUSEUM_MAX_UPLOAD_SIZE ({limit} bytes)."),
                parameter="file",
                path=str(path),
                limit=ui.settings.max_upload_size,
            )
        total += path.stat().st_size
    free = free_space(ui.settings.data_dir)
    if free - total < ui.settings.min_free_disk:
        raise InsufficientStorage(
            N_("Not enough free disk: {free} bytes free, {needed} needed (MUSEUM_MIN_FREE_DISK)."),
            parameter="file",
            free=free,
            needed=total + ui.settings.min_free_disk,
        )


def _ingest(ui: Ui, files: tuple[Path, ...], record_id: str | None) -> None:
    from processing.sniff import sniff_file
    from server.db import Database
    from server.jobs import JobService
    from server.models import Record
    from server.queue import Queue
    from server.storage import Store
    from server.tasks import job_handlers

    settings = ui.settings
    database = Database(settings.resolved_database_url, settings.db_busy_timeout)
    store = Store(settings.data_dir)
    jobs = JobService(database, Queue(settings.resolved_queue_url), settings, job_handlers(), store)
    if record_id and database.call(lambda s: s.get(Record, record_id)) is None:
        raise NotFound(
            N_("No heritage item with id {record_id}."), parameter="record", record_id=record_id
        )
    new = 0
    with _byte_progress(ui) as advance:
        for path in files:
            sniffed = sniff_file(path)
            asset_id, stored = ingest_file(jobs, path, record_id, sniffed, progress=advance)
            new += stored.created
            click.echo(f"{asset_id}\t{stored.sha256}\t{sniffed.kind}\t{path.name}")
    database.dispose()
    err_console.print(
        ui.t(
            N_("Stored {count} file(s): {new} new, {known} already in the store."),
            count=len(files),
            new=new,
            known=len(files) - new,
        )
    )


def ingest_file(
    jobs: JobService,
    path: Path,
    record_id: str | None,
    sniffed: Sniffed,
    *,
    queue: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[str, StoredOriginal]:
    """Store one file as an original, register it as an asset of the record (the same asset
    when these bytes are already there) and, when ``queue``, queue the pipeline for its kind.

    ``sniffed`` says what the file is (``processing.sniff``); callers that know better, such
    as the demo's ZIP bundle of a 3D scan, pass their own. Returns the asset id and the
    :class:`~server.storage.StoredOriginal`.
    """
    from processing.registry import pipeline_for

    with path.open("rb") as source:
        stored = jobs.store.ingest(
            source, max_size=jobs.settings.max_upload_size, progress=progress
        )
    register = partial(
        _asset_for,
        sha256=stored.sha256,
        size=stored.size,
        filename=nfc(path.name),
        sniffed=sniffed,
        record_id=record_id,
    )
    asset_id: str = jobs.db.call(register, write=True)
    pipeline = pipeline_for(sniffed.kind)
    if queue and pipeline:
        jobs.submit(pipeline, {"asset_id": asset_id}, asset_id=asset_id)
    return asset_id, stored


def _asset_for(
    session: Session, sha256: str, size: int, filename: str, sniffed: Any, record_id: str | None
) -> str:
    """The asset for these bytes on this record, created if it does not exist yet."""
    from server.models import Asset

    existing = session.scalars(
        select(Asset.id).where(
            Asset.sha256 == sha256,
            Asset.record_id == record_id if record_id else Asset.record_id.is_(None),
        )
    ).first()
    if existing:
        return existing
    asset = Asset(
        id=uuid.uuid4().hex,
        sha256=sha256,
        size=size,
        filename=filename,
        media_type=sniffed.media_type,
        kind=sniffed.kind,
        record_id=record_id,
    )
    session.add(asset)
    return asset.id


@contextmanager
def _byte_progress(ui: Ui) -> Iterator[Callable[[int], None]]:
    progress = Progress(
        TextColumn(ui.t(N_("Storing originals"))),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    with progress:
        task = progress.add_task("ingest", total=None)
        yield lambda n: progress.advance(task, n)


main.add_command(catalog)
main.add_command(report)
main.add_command(process)
main.add_command(captions)
main.add_command(guides)
main.add_command(exhibitions)
main.add_command(annotations_group)
main.add_command(users)
main.add_command(uploads)
for _command in BACKUP_COMMANDS:  # backup, restore, fixity
    main.add_command(_command)


def help_language() -> str:
    """The language for ``--help``: MUSEUM_LANGUAGE, or Vietnamese if settings are unusable."""
    try:
        return Settings.from_env().language
    except SettingsError:
        return Settings().language  # the command itself will report the bad setting


def localize_help(command: click.Command, gettext: Callable[[str], str]) -> None:
    """Translate the help of a command, its options and its subcommands, in place."""
    if command.help:
        command.help = gettext(command.help)
    for param in command.params:
        if isinstance(param, click.Option) and param.help:
            param.help = gettext(param.help)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            localize_help(sub, gettext)


def run() -> None:
    """The ``museum`` console script: help in the interface language, then the command."""
    localize_help(main, load_catalogs()[help_language()].gettext)
    main(prog_name="museum")


if __name__ == "__main__":
    run()
