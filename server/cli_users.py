"""``museum users``: create accounts, change roles, disable them, list them.

Passwords are read from a prompt (typed twice, not echoed) or, for scripts, from the
first line of standard input with ``--password-stdin``; never from the command line,
where other users of the machine could read them.
"""

from __future__ import annotations

import sys

import click
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.cli_common import (
    HELP,
    Ui,
    console,
    load_ui,
    prepare_database,
    reported_errors,
    run_in_database,
    say,
)
from server.errors import N_, Conflict, NotFound
from server.models import ROLES, User


@click.group(help=N_("Staff and contributor accounts."))
@HELP
def users() -> None:
    pass


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt(N_("Password"), hide_input=True, confirmation_prompt=True, err=True)
    return value


def _find(session: Session, username: str) -> User:
    from server.auth import normalize_username

    user = session.scalars(
        select(User).where(User.username == normalize_username(username))
    ).first()
    if user is None:
        raise NotFound(N_("There is no account named {name}."), name=username)
    return user


@users.command(help=N_("Create an account with a role (admin, curator, editor or contributor)."))
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help=N_("The account's role."))
@click.option("--name", "display_name", default="", help=N_("The name shown in the interface."))
@click.option("--email", default="", help=N_("An e-mail address (optional)."))
@click.option("--password-stdin", is_flag=True, help=N_("Read the password from standard input."))
@HELP
def create(username: str, role: str, display_name: str, email: str, password_stdin: bool) -> None:
    from server.audit import Actor, log_change, snapshot
    from server.auth import hash_password, normalize_username

    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        name = normalize_username(username)
        if not name or len(name) > 64 or any(c.isspace() or c in "/:@" for c in name):
            raise click.UsageError(
                ui.t(N_("A user name needs 1 to 64 characters without spaces, '/', ':' or '@'."))
            )
        password_hash = hash_password(_read_password(password_stdin))

        def add(session: Session) -> None:
            if session.scalars(select(User.id).where(User.username == name)).first() is not None:
                raise Conflict(N_("An account named {name} already exists."), name=name)
            user = User(
                username=name,
                display_name=display_name.strip(),
                email=email.strip(),
                password_hash=password_hash,
                role=role,
            )
            session.add(user)
            session.flush()
            log_change(
                session, Actor.command_line(), "user.create", "user", user.id, None, snapshot(user)
            )

        run_in_database(ui, add, write=True)
    say(ui, N_("Created {name} ({role})."), name=name, role=role)


@users.command("set-role", help=N_("Change an account's role; its sign-ins end at once."))
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@HELP
def set_role(username: str, role: str) -> None:
    from server.audit import Actor, log_change
    from server.auth import end_all_sessions

    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)

        def change(session: Session) -> str:
            user = _find(session, username)
            old = user.role
            user.role = role
            end_all_sessions(session, user)
            log_change(
                session,
                Actor.command_line(),
                "user.set_role",
                "user",
                user.id,
                {"role": old},
                {"role": role},
            )
            return old

        old = run_in_database(ui, change, write=True)
    say(ui, N_("{name}: {old} → {new}."), name=username, old=old, new=role)


@users.command(help=N_("Disable an account: it can no longer sign in and its sign-ins end."))
@click.argument("username")
@click.option("--enable", is_flag=True, help=N_("Enable the account again instead."))
@HELP
def disable(username: str, enable: bool) -> None:
    from server.audit import Actor, log_change
    from server.auth import end_all_sessions

    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)

        def change(session: Session) -> None:
            user = _find(session, username)
            before = user.active
            user.active = enable
            end_all_sessions(session, user)
            log_change(
                session,
                Actor.command_line(),
                "user.enable" if enable else "user.disable",
                "user",
                user.id,
                {"active": before},
                {"active": enable},
            )

        run_in_database(ui, change, write=True)
    say(ui, N_("Enabled {name}.") if enable else N_("Disabled {name}."), name=username)


@users.command("set-password", help=N_("Set a new password; the account's sign-ins end."))
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help=N_("Read the password from standard input."))
@HELP
def set_password(username: str, password_stdin: bool) -> None:
    from server.audit import Actor, log_change
    from server.auth import end_all_sessions, hash_password

    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        password_hash = hash_password(_read_password(password_stdin))

        def change(session: Session) -> None:
            user = _find(session, username)
            user.password_hash = password_hash
            end_all_sessions(session, user)
            log_change(session, Actor.command_line(), "user.set_password", "user", user.id)

        run_in_database(ui, change, write=True)
    say(ui, N_("Changed the password of {name}."), name=username)


@users.command("list", help=N_("List the accounts."))
@HELP
def list_users() -> None:
    ui = load_ui()
    with reported_errors(ui):
        prepare_database(ui)
        rows = run_in_database(
            ui,
            lambda s: [
                (u.username, u.display_name, u.role, u.active, u.last_login_at)
                for u in s.scalars(select(User).order_by(User.username))
            ],
        )
    table = Table(
        ui.t(N_("User")),
        ui.t(N_("Name")),
        ui.t(N_("Role")),
        ui.t(N_("Active")),
        ui.t(N_("Last sign-in")),
    )
    for username, display, role, active, last in rows:
        table.add_row(
            username,
            display,
            role,
            ui.t(N_("yes")) if active else ui.t(N_("no")),
            last.isoformat(" ", "minutes") if last else "—",
        )
    console.print(table)


DEMO_ADMIN = "admin"
DEMO_PASSWORD_FILE = "demo-admin-password.txt"  # noqa: S105 - a file name, not a password


def ensure_demo_admin(ui: Ui) -> str | None:
    """For `museum demo`: when no account exists yet, make an administrator with a random
    password, kept in ``<data dir>/demo-admin-password.txt`` (readable by its owner only).
    Returns the password when one was made."""
    import secrets

    from server.audit import Actor, log_change, snapshot
    from server.auth import hash_password
    from server.storage import atomic_file

    password = secrets.token_urlsafe(12)

    def add(session: Session) -> bool:
        if session.scalars(select(User.id).limit(1)).first() is not None:
            return False
        user = User(
            username=DEMO_ADMIN,
            display_name="Demo administrator",
            password_hash=hash_password(password),
            role="admin",
        )
        session.add(user)
        session.flush()
        log_change(
            session, Actor.command_line(), "user.create", "user", user.id, None, snapshot(user)
        )
        return True

    if not run_in_database(ui, add, write=True):
        return None
    with atomic_file(ui.settings.data_dir / DEMO_PASSWORD_FILE, 0o600) as staging:
        staging.write_text(password + "\n", encoding="utf-8")
    return password
