"""``museum annotations …``: numbered points of interest on 3D models, until the web admin has them.

Numbers are read by :mod:`server.annotations` rather than by click, so a mistyped
coordinate gets the same translated, option-naming message as every other refusal.
"""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from server.annotations import (
    MAX_TEXT,
    MAX_TITLE,
    NewAnnotation,
    add_annotation,
    list_annotations,
    parse_annotation_id,
    parse_media_url,
    parse_normal,
    parse_number,
    parse_order,
    parse_texts,
    remove_annotation,
)
from server.cli_common import HELP, load_ui, note, prepare_database, reported_errors
from server.cli_common import run_in_database as in_database
from server.errors import N_


@click.group(
    "annotations",
    help=N_(
        "Annotations on 3D models: numbered points with a title, a text and a media link in "
        "Vietnamese and English, shown as markers in the 3D viewer."
    ),
)
@HELP
def annotations_group() -> None:
    pass


@annotations_group.command(
    "add",
    help=N_(
        "Add an annotation to a 3D model. Positions are in metres, in the published model's "
        "frame: centred on x and z, Y up, the model standing on y = 0. Prints the new "
        "annotation's id; a point outside the model or a missing title is refused and "
        "nothing is stored."
    ),
)
@click.argument("asset_id")
@click.option(
    "--x", "x", required=True, metavar="METRES", help=N_("Left to right, from the centre.")
)
@click.option(
    "--y", "y", required=True, metavar="METRES", help=N_("Height above the model's base.")
)
@click.option(
    "--z", "z", required=True, metavar="METRES", help=N_("Back to front, from the centre.")
)
@click.option(
    "--normal",
    nargs=3,
    metavar="NX NY NZ",
    help=N_("The surface's outward direction at the point, e.g. 0 1 0 (optional)."),
)
@click.option("--title-vi", required=True, help=N_("Title in Vietnamese."))
@click.option("--title-en", required=True, help=N_("Title in English."))
@click.option("--text-vi", help=N_("Text in Vietnamese (optional)."))
@click.option("--text-en", help=N_("Text in English (optional)."))
@click.option("--media", help=N_("A link to more: an http(s) address or a path on this site."))
@click.option("--order", help=N_("Place in the list, from 0 (default: after the others)."))
@HELP
def annotations_add(
    asset_id: str,
    x: str,
    y: str,
    z: str,
    normal: tuple[str, str, str] | None,
    title_vi: str,
    title_en: str,
    text_vi: str | None,
    text_en: str | None,
    media: str | None,
    order: str | None,
) -> None:
    ui = load_ui()
    with reported_errors(ui):
        new = NewAnnotation(
            position=(parse_number(x, "--x"), parse_number(y, "--y"), parse_number(z, "--z")),
            title=parse_texts({"vi": title_vi, "en": title_en}, "--title", MAX_TITLE, True),
            text=parse_texts({"vi": text_vi, "en": text_en}, "--text", MAX_TEXT, False),
            normal=parse_normal(normal or None),
            media_url=parse_media_url(media),
            sort_order=parse_order(order),
        )
        prepare_database(ui)
        annotation_id = in_database(
            ui, lambda session: add_annotation(session, asset_id, new).id, write=True
        )
    click.echo(annotation_id)
    note(ui, N_("Annotation {id} added to asset {asset_id}."), id=annotation_id, asset_id=asset_id)


@annotations_group.command(
    "list",
    help=N_(
        "List a 3D model's annotations in display order, one line each: id, number, "
        "x y z, title in Vietnamese, title in English, media link."
    ),
)
@click.argument("asset_id")
@HELP
def annotations_list(asset_id: str) -> None:
    ui = load_ui()

    def rows(session: Session) -> list[str]:
        found = list_annotations(session, asset_id)
        return [
            "\t".join(
                [
                    str(row.id),
                    str(number),
                    f"{row.x:g} {row.y:g} {row.z:g}",
                    row.title.get("vi", ""),
                    row.title.get("en", ""),
                    row.media_url or "",
                ]
            )
            for number, row in enumerate(found, 1)
        ]

    with reported_errors(ui):
        prepare_database(ui)
        lines = in_database(ui, rows)
    for line in lines:
        click.echo(line)
    if not lines:
        note(ui, N_("Asset {asset_id} has no annotations."), asset_id=asset_id)


@annotations_group.command(
    "remove", help=N_("Remove one annotation, by the id `add` and `list` print.")
)
@click.argument("annotation_id")
@HELP
def annotations_remove(annotation_id: str) -> None:
    ui = load_ui()
    with reported_errors(ui):
        number = parse_annotation_id(annotation_id)
        prepare_database(ui)
        in_database(ui, lambda session: remove_annotation(session, number), write=True)
    note(ui, N_("Annotation {id} removed."), id=annotation_id)
