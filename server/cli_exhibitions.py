"""``museum exhibitions …``: define the virtual exhibitions from JSON files, list, remove them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from server.cli_common import (
    HELP,
    console,
    err_console,
    load_ui,
    prepare_database,
    reported_errors,
    run_in_database,
)
from server.errors import N_, ValidationError


@click.group(
    help=N_(
        "Virtual exhibitions: ordered walks through catalog items and media, shown at "
        "/exhibitions and as a walkable 3D room (docs/viewer.md)."
    )
)
@HELP
def exhibitions() -> None:
    pass


@exhibitions.command(
    "import",
    help=N_(
        "Create or replace exhibitions from a JSON file (one exhibition or a list; see "
        "docs/viewer.md). Every exhibition in the file is checked first; if one is faulty "
        "nothing is written and the field at fault is named."
    ),
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@HELP
def exhibitions_import(file: Path) -> None:
    from server.exhibitions import read_exhibitions_file

    ui = load_ui()
    with reported_errors(ui):
        items = read_exhibitions_file(file)
        prepare_database(ui)
        saved = run_in_database(
            ui, lambda session: _save_all(session, items, ui.gettext), write=True
        )
    for exhibition_id, stops, published in saved:
        state = ui.t(N_("published")) if published else ui.t(N_("draft"))
        click.echo(f"{exhibition_id}\t{stops}\t{state}")
    err_console.print(
        ui.t(N_("Saved {count} exhibition(s) from {file}."), count=len(saved), file=file.name),
        markup=False,
    )


def _save_all(
    session: Session, items: list[Any], gettext: Callable[[str], str]
) -> list[tuple[str, int, bool]]:
    """Save each exhibition; the caller's transaction makes the file all-or-nothing."""
    from server.exhibitions import save_exhibition

    saved: list[tuple[str, int, bool]] = []
    for number, item in enumerate(items, 1):
        try:
            exhibition = save_exhibition(session, item)
        except ValidationError as exc:
            if len(items) == 1:
                raise
            raise ValidationError(
                N_("Exhibition {number} of the file: {problem}"),
                parameter=exc.parameter,
                number=number,
                problem=exc.render(gettext),
            ) from exc
        if exhibition.id in {s[0] for s in saved}:
            raise ValidationError(
                N_("The file holds exhibition {id} twice."), parameter="id", id=exhibition.id
            )
        saved.append((exhibition.id, len(item["stops"]), exhibition.published))
    return saved


@exhibitions.command(
    "list",
    help=N_("List every exhibition, drafts included: id, stops, access, state, title."),
)
@HELP
def exhibitions_list() -> None:
    from server.exhibitions import list_exhibitions

    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        rows = run_in_database(ui, list_exhibitions)
    for row in rows:
        state = ui.t(N_("published")) if row.published else ui.t(N_("draft"))
        click.echo(f"{row.id}\t{row.stops}\t{row.access_level}\t{state}\t{row.title}")
    if not rows:
        err_console.print(ui.t(N_("There is no exhibition yet.")), markup=False)


@exhibitions.command(
    "remove", help=N_("Remove an exhibition and its stops; the records and media stay.")
)
@click.argument("exhibition_id")
@HELP
def exhibitions_remove(exhibition_id: str) -> None:
    from server.exhibitions import remove_exhibition

    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        run_in_database(ui, lambda session: remove_exhibition(session, exhibition_id), write=True)
    console.print(ui.t(N_("Exhibition {id} removed."), id=exhibition_id), markup=False)
