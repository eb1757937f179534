"""``museum captions …``: people's captions of videos and recordings, one language at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from server.cli_common import (
    HELP,
    Ui,
    database,
    load_ui,
    note,
    prepare_database,
    reported_errors,
    say,
)
from server.errors import N_, ValidationError

LANGUAGE_HELP = N_("Language code of the captions: vi, en, rad, pt-BR …")


@click.group(
    help=N_(
        "Captions of videos and recordings: WebVTT or SRT files people wrote, in several "
        "languages. Every change publishes a new version of the item; the old one stays."
    )
)
@HELP
def captions() -> None:
    pass


@captions.command(
    "add",
    help=N_(
        "Add or replace the captions of a video or recording in one language, from a WebVTT "
        "or SRT file (UTF-8). The file is checked and cleaned first; a faulty file changes "
        "nothing and the line at fault is named."
    ),
)
@click.argument("asset_id")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--lang", "language", required=True, help=LANGUAGE_HELP)
@click.option(
    "--label", help=N_("The track's name in the player (default: the language's own name).")
)
@HELP
def captions_add(asset_id: str, file: Path, language: str, label: str | None) -> None:
    from server.captions import set_captions

    ui = load_ui()
    with reported_errors(ui):
        data = _read(file)
        version = _in_museum(
            ui,
            lambda db, store: set_captions(
                db, store, asset_id, language, data, file.name, label=label
            ),
        )
    say(
        ui,
        N_("Captions saved; asset {asset_id} is now published as version {version}."),
        asset_id=asset_id,
        version=version,
    )


@captions.command(
    "list",
    help=N_(
        "List the captions of a video or recording, one line each: language, source (human "
        "or asr), status, label, last change."
    ),
)
@click.argument("asset_id")
@HELP
def captions_list(asset_id: str) -> None:
    from server.captions import list_captions

    ui = load_ui()
    with reported_errors(ui):
        rows = _in_museum(ui, lambda db, _store: list_captions(db, asset_id))
    for row in rows:
        updated = row.updated_at.isoformat(timespec="seconds")
        click.echo(f"{row.language}\t{row.source}\t{row.status}\t{row.label}\t{updated}")
    if not rows:
        note(ui, N_("Asset {asset_id} has no captions."), asset_id=asset_id)


@captions.command("show", help=N_("Print the captions of a video or recording in one language."))
@click.argument("asset_id")
@click.option("--lang", "language", required=True, help=LANGUAGE_HELP)
@HELP
def captions_show(asset_id: str, language: str) -> None:
    from server.captions import caption_text

    ui = load_ui()
    with reported_errors(ui):
        text = _in_museum(ui, lambda db, _store: caption_text(db, asset_id, language))
    click.echo(text, nl=False)


@captions.command(
    "remove",
    help=N_(
        "Remove the captions of a video or recording in one language (people's or a machine "
        "draft) and publish the item without them."
    ),
)
@click.argument("asset_id")
@click.option("--lang", "language", required=True, help=LANGUAGE_HELP)
@HELP
def captions_remove(asset_id: str, language: str) -> None:
    from server.captions import remove_captions

    ui = load_ui()
    with reported_errors(ui):
        version = _in_museum(ui, lambda db, store: remove_captions(db, store, asset_id, language))
    say(
        ui,
        N_("Captions removed; asset {asset_id} is now published as version {version}."),
        asset_id=asset_id,
        version=version,
    )


@captions.command(
    "refresh",
    help=N_(
        "Publish every video and recording again with only its accepted captions (after an "
        "upgrade: versions made before review existed list machine drafts)."
    ),
)
@HELP
def captions_refresh() -> None:
    ui = load_ui()
    with reported_errors(ui):
        changed, total = _in_museum(ui, refresh_all)
    say(
        ui,
        N_("{changed} of {total} videos and recordings published again."),
        changed=changed,
        total=total,
    )


def refresh_all(db: Any, store: Any) -> tuple[int, int]:
    """``refresh_captions`` for every published video and recording: ``(changed, total)``."""
    from sqlalchemy import select

    from server.captions import refresh_captions
    from server.models import Asset

    rows = db.call(
        lambda s: [
            (a.id, a.published_version)
            for a in s.scalars(
                select(Asset)
                .where(Asset.kind.in_(("video", "audio")), Asset.published_version.is_not(None))
                .order_by(Asset.id)
            )
        ]
    )
    changed = sum(refresh_captions(db, store, asset_id) != version for asset_id, version in rows)
    return changed, len(rows)


def _read(file: Path) -> bytes:
    """The file's bytes; a missing or oversized file is refused before anything is read."""
    from processing.av.captions import MAX_BYTES

    if not file.is_file():
        raise ValidationError(N_("Not a readable file: {path}."), parameter="file", path=str(file))
    if file.stat().st_size > MAX_BYTES:
        raise ValidationError(
            N_("{path} is larger than the {limit} bytes a caption file may have."),
            parameter="file",
            path=str(file),
            limit=MAX_BYTES,
        )
    return file.read_bytes()


def _in_museum(ui: Ui, work: Callable[[Any, Any], Any]) -> Any:
    """``work(database, store)`` on an up-to-date schema and a short-lived connection."""
    from server.storage import Store

    prepare_database(ui)
    db = database(ui)
    try:
        return work(db, Store(ui.settings.data_dir))
    finally:
        db.dispose()
