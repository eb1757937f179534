"""What every ``museum`` command shares: settings, the translator, error reporting, migrations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console

from server.errors import N_, MuseumError, disk_full_error
from server.i18n import load_catalogs
from server.settings import Settings, SettingsError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class Ui:
    """Settings plus the translator for the configured interface language."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gettext: Callable[[str], str] = load_catalogs()[settings.language].gettext

    def t(self, message: str, **params: Any) -> str:
        text: str = self.gettext(message)
        return text.format(**params) if params else text


def say(ui: Ui, message: str, **params: Any) -> None:
    """One translated line to the terminal, as written (no rich markup), never cut."""
    console.print(ui.t(message, **params), markup=False, soft_wrap=True)


def note(ui: Ui, message: str, **params: Any) -> None:
    """:func:`say` to stderr: a remark beside a command's output (which scripts read)."""
    err_console.print(ui.t(message, **params), markup=False, soft_wrap=True)


def load_ui() -> Ui:
    try:
        return Ui(Settings.from_env())
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def reported_errors(ui: Ui) -> Iterator[None]:
    """Show museum errors as a translated message and a non-zero exit, not a traceback."""
    try:
        yield
    except MuseumError as exc:
        for problem in getattr(exc, "problems", []):
            err_console.print(
                f"  line {problem.line}, {problem.column}: {problem.message}", markup=False
            )
        raise click.ClickException(exc.render(ui.gettext)) from exc
    except OSError as exc:
        if (full := disk_full_error(exc)) is None:
            raise
        raise click.ClickException(full.render(ui.gettext)) from exc


def configure_logging(settings: Settings) -> None:
    """Every log line to stderr, as JSON or text (MUSEUM_LOG_FORMAT; see server.logs)."""
    from server.logs import configure

    configure(settings.log_level, settings.log_format)


def prepare_database(ui: Ui, force: bool = False) -> None:
    """Bring the schema up to date (when MUSEUM_AUTO_MIGRATE allows, or when asked)."""
    from server.db import Database
    from server.migrate import upgrade

    if not (force or ui.settings.auto_migrate):
        return
    db = Database(ui.settings.resolved_database_url, ui.settings.db_busy_timeout)
    try:
        upgrade(db)
    finally:
        db.dispose()


# Our own --help option, so its text is translated with the rest.
HELP = click.help_option("-h", "--help", help=N_("Show this message and exit."))


def database(ui: Ui) -> Any:
    from server.db import Database

    return Database(ui.settings.resolved_database_url, ui.settings.db_busy_timeout)


def run_in_database(ui: Ui, fn: Callable[[Any], Any], write: bool = False) -> Any:
    """Run ``fn(session)`` in one transaction on a short-lived connection."""
    db = database(ui)
    try:
        return db.call(fn, write=write)
    finally:
        db.dispose()
