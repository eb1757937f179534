"""``museum backup``, ``museum restore`` and ``museum fixity``: keeping the collection safe."""

from __future__ import annotations

import json
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from server.cli_common import HELP, Ui, load_ui, prepare_database, reported_errors, say
from server.errors import N_


def _echo_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.command(
    help=N_(
        "Copy the catalog, every original, the derivatives and the signing key into a backup "
        "directory while the museum runs. Originals already in the backup are not copied "
        "again; an interrupted backup leaves the previous one whole."
    )
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help=N_("The backup directory (on another disk or machine)."),
)
@click.option(
    "--keep",
    type=click.IntRange(1, 1000),
    default=2,
    show_default=True,
    help=N_("Complete snapshots to keep in the directory."),
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print the summary as JSON."))
@HELP
def backup(out: Path, keep: int, as_json: bool) -> None:
    from server.backup import run_backup

    ui = load_ui()
    with reported_errors(ui):
        summary = run_backup(ui.settings, out, keep)
    if as_json:
        _echo_json(summary.as_json())
        return
    say(
        ui,
        N_(
            "Backup written to {path}: {originals} original(s) ({copied} copied, {linked} "
            "already backed up), {derivatives} derivative file(s) ({derivatives_copied} "
            "copied), the {engine} catalog at schema {schema}; {files} files, {bytes} bytes."
        ),
        path=summary.snapshot,
        originals=summary.originals,
        copied=summary.originals_copied,
        linked=summary.originals_linked,
        derivatives=summary.derivatives,
        derivatives_copied=summary.derivatives_copied,
        engine=summary.engine,
        schema=summary.schema,
        files=summary.files,
        bytes=summary.bytes,
    )
    if summary.pruned:
        say(ui, N_("Removed {count} older snapshot(s)."), count=len(summary.pruned))


@click.command(
    help=N_(
        "Restore a backup into an empty data directory (and, with PostgreSQL, an empty "
        "database). Every file is verified against the backup's manifest, then the catalog's "
        "integrity and row counts."
    )
)
@click.argument("backup_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help=N_("Print the summary as JSON."))
@HELP
def restore(backup_dir: Path, as_json: bool) -> None:
    from server.restore import run_restore

    ui = load_ui()
    with reported_errors(ui):
        summary = run_restore(ui.settings, backup_dir)
    if as_json:
        _echo_json(summary.as_json())
    else:
        say(
            ui,
            N_(
                "Restored {files} verified file(s) ({bytes} bytes) from {path}: {originals} "
                "original(s), {derivatives} derivative file(s)."
            ),
            files=summary.files,
            bytes=summary.bytes,
            path=summary.snapshot,
            originals=summary.originals,
            derivatives=summary.derivatives,
        )
        say(
            ui,
            N_("Catalog ({engine}): integrity check {integrity}; {tables} table(s) counted."),
            engine=summary.engine,
            integrity=summary.integrity,
            tables=len(summary.row_counts),
        )
        if summary.schema != summary.schema_head:
            say(
                ui,
                N_(
                    "The backup's schema is {schema}, this version's {head}: "
                    "run `museum db upgrade`."
                ),
                schema=summary.schema,
                head=summary.schema_head,
            )
    if not summary.ok:
        differing = ", ".join(f"{t} {a}≠{b}" for t, (a, b) in summary.mismatches.items())
        raise click.ClickException(
            ui.t(
                N_(
                    "The restored catalog does not match the backup (integrity check: "
                    "{integrity}; row counts: {tables}). Do not use it."
                ),
                integrity=summary.integrity,
                tables=differing or "=",
            )
        )


def _age(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    from server.fixity import parse_age

    if value is None:
        return None
    try:
        return parse_age(value)
    except ValueError as exc:
        ui = load_ui()
        raise click.BadParameter(ui.t(N_("Use a number and d, h, m or s, e.g. 90d."))) from exc


def _share(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Fraction | None:
    from server.fixity import parse_share

    if value is None:
        return None
    try:
        return parse_share(value)
    except (ValueError, ZeroDivisionError) as exc:
        ui = load_ui()
        raise click.BadParameter(ui.t(N_("Use a fraction between 0 and 1, e.g. 1/90."))) from exc


@click.command(
    help=N_(
        "Re-hash the originals against the catalog and report changed, missing and untracked "
        "files; with --backup, verify a backup too. Exits non-zero when anything is wrong. "
        "Every run is recorded, so the least recently checked originals come first."
    )
)
@click.option(
    "--max-age",
    callback=_age,
    help=N_("Re-hash only originals not verified within this age (e.g. 90d)."),
)
@click.option(
    "--share",
    callback=_share,
    help=N_("Re-hash this share of all originals, least recently checked first (e.g. 1/90)."),
)
@click.option(
    "--backup",
    "backup_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help=N_("Also verify every file of this backup, and the live derivatives it lists."),
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print the report as JSON."))
@HELP
def fixity(
    max_age: timedelta | None, share: Fraction | None, backup_dir: Path | None, as_json: bool
) -> None:
    from server.cli_common import database
    from server.fixity import Schedule, run_fixity
    from server.storage import Store

    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        db = database(ui)
        try:
            report = run_fixity(
                db, Store(ui.settings.data_dir), Schedule(max_age, share), backup_dir
            )
        finally:
            db.dispose()
    if as_json:
        _echo_json(report.as_json())
    else:
        _print_fixity(ui, report)
    if not report.ok:
        raise click.ClickException(
            ui.t(
                N_(
                    "Fixity check failed: {changed} changed, {missing} missing, "
                    "{untracked} untracked."
                ),
                **report.counts(),
            )
        )


# Details the audit writes; the others (sizes, digests, system errors) are shown as they are.
DETAILS = (
    N_("changed"),
    N_("missing"),
    N_("untracked"),
    N_("no such file"),
    N_("not in the catalog"),
    N_("not listed"),
    N_("unreadable: mode 000"),
)


def _print_fixity(ui: Ui, report: Any) -> None:
    if report.findings:
        table = Table(title=ui.t(N_("Fixity findings")))
        for heading in (N_("Problem"), N_("Scope"), N_("File"), N_("Detail")):
            table.add_column(ui.t(heading))
        for finding in report.findings:
            table.add_row(ui.t(finding.category), finding.scope, finding.path, ui.t(finding.detail))
        Console(width=200, highlight=False).print(table, markup=False)
    say(
        ui,
        N_(
            "Fixity: {tracked} original(s) in the catalog, {hashed} re-hashed; {changed} "
            "changed, {missing} missing, {untracked} untracked."
        ),
        tracked=report.tracked,
        hashed=report.hashed,
        **report.counts(),
    )
    if report.backup:
        say(
            ui,
            N_("Backup {path}: {files} file(s) re-hashed."),
            path=report.backup,
            files=report.backup_files,
        )
    say(
        ui,
        N_("{percent}% of originals verified within {days} days; oldest check: {oldest}."),
        percent=f"{report.coverage * 100:.1f}",
        days=report.window_days,
        oldest=report.oldest_check.isoformat(timespec="seconds") if report.oldest_check else "—",
    )


BACKUP_COMMANDS = (backup, restore, fixity)
