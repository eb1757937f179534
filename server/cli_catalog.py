"""``museum catalog …`` and ``museum report``: the heritage catalog from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from server.cli_common import (
    HELP,
    Ui,
    console,
    err_console,
    load_ui,
    prepare_database,
    reported_errors,
    run_in_database,
)
from server.errors import N_

SEED_CATALOG = Path(__file__).parent.parent / "assets" / "seed-catalog.csv"
EXPORT_FORMATS = ("csv", "json", "bagit")


@click.group(help=N_("Heritage catalog commands."))
@HELP
def catalog() -> None:
    pass


def import_seed(ui: Ui) -> Any:
    """Load (or refresh) the demo seed catalog, all-or-nothing, and queue its audio guides;
    then the sample media (``server.samples``), queued after the seed records' guides."""
    from server.catalog import import_catalog_file
    from server.cli_guides import guides_after_import
    from server.samples import samples_after_import

    report = run_in_database(
        ui, lambda session: import_catalog_file(session, SEED_CATALOG), write=True
    )
    guides_after_import(ui)
    samples_after_import(ui)
    return report


@catalog.command(
    "import",
    help=N_(
        "Import or update records from an inventory spreadsheet (CSV or XLSX; see "
        "docs/import-export.md). The whole file is checked first; if any row is faulty "
        "nothing is written, unless --partial is given."
    ),
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--partial",
    is_flag=True,
    help=N_("Import the good rows and report the faulty ones instead of refusing the file."),
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("Write the faulty rows to this CSV file."),
)
@HELP
def catalog_import(file: Path, partial: bool, report_path: Path | None) -> None:
    from server.cli_guides import guides_after_import
    from server.importer import write_problem_report

    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        report = run_in_database(ui, lambda session: _import(session, file, partial), write=True)
        if report_path and report.problems:
            write_problem_report(report, report_path, ui.gettext)
    (err_console if report.problems else console).print(report.render(ui.gettext), markup=False)
    if report.rejected:
        raise SystemExit(1)
    guides_after_import(ui)


def _import(session: Any, file: Path, partial: bool) -> Any:
    """Import, and roll the transaction back if the file was refused (nothing written)."""
    from server.importer import import_file

    report = import_file(session, file, partial=partial)
    if report.rejected:
        session.rollback()
    return report


@catalog.command(
    "export",
    help=N_(
        "Export the public catalog as open data: CSV, JSON or a BagIt archive "
        "(a directory, or a zip when the path ends in .zip)."
    ),
)
@click.option(
    "--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True, help=N_("Export format.")
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help=N_("Where to write the export.")
)
@HELP
def catalog_export(fmt: str, out: Path) -> None:
    from server.exports import export_bagit, export_csv, export_json

    writer = {"csv": export_csv, "json": export_json, "bagit": export_bagit}[fmt]
    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        result = run_in_database(ui, lambda session: writer(session, out))
    console.print(
        ui.t(N_("{count} public records written to {path}."), count=result.count, path=out)
    )


@click.command(
    help=N_(
        "Write the yearly digitization progress report (due before 20 November) as a "
        "spreadsheet (.xlsx) or a PDF (.pdf), chosen by the file name."
    )
)
@click.option("--year", type=int, help=N_("Report year (default: the current year)."))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("File to write, ending in .xlsx or .pdf."),
)
@HELP
def report(year: int | None, out: Path) -> None:
    from server.report import today_in_vietnam
    from server.report_files import write_report

    ui = load_ui()
    chosen = year or today_in_vietnam().year
    with reported_errors(ui):
        prepare_database(ui)
        with console.status(ui.t(N_("Writing the report…"))):
            result = run_in_database(
                ui, lambda session: write_report(session, chosen, out, lang=ui.settings.language)
            )
    console.print(
        ui.t(
            N_(
                "Report for {year} written to {path}: {digitized} of {items} items digitized; "
                "{days} days left until 20 November."
            ),
            year=result.year,
            path=out,
            digitized=result.totals.digitized,
            items=result.totals.items,
            days=result.days_left,
        )
    )
