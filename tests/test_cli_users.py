"""``museum users``: accounts from the command line, with their audit entries (issue 8)."""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from starlette.testclient import TestClient

from server.app import create_app
from server.auth import authenticate, load_session, start_session
from server.cli import main
from server.db import Database
from server.migrate import upgrade
from server.models import AuditEntry, User
from server.settings import Settings
from tests.staff import ORIGIN

PASSWORD = "ba con voi đi qua cầu"
OTHER = "mặt trời mọc ở đằng đông"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [k for k in os.environ if k.startswith("MUSEUM_")]:
        monkeypatch.delenv(name)
    folder = tmp_path / "data"
    monkeypatch.setenv("MUSEUM_DATA_DIR", str(folder))
    monkeypatch.setenv("MUSEUM_LANGUAGE", "en")
    return folder


@pytest.fixture
def db(data_dir: Path) -> Iterator[Database]:
    database = Database(Settings(data_dir=data_dir).resolved_database_url)
    upgrade(database)
    yield database
    database.dispose()


def museum(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["users", *args], input=stdin)


def create(name: str = "lan", role: str = "editor", password: str = PASSWORD) -> Result:
    return museum(
        "create", name, "--role", role, "--name", "Lan", "--password-stdin", stdin=password + "\n"
    )


def find(db: Database, name: str) -> User | None:
    return db.call(lambda s: s.scalars(select(User).where(User.username == name)).first())


def audit(db: Database) -> list[AuditEntry]:
    return db.call(lambda s: list(s.scalars(select(AuditEntry).order_by(AuditEntry.id))))


def can_sign_in(db: Database, name: str, password: str) -> bool:
    return db.call(lambda s: authenticate(s, name, password) is not None, write=True)


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def test_create_reads_the_password_from_stdin(db: Database) -> None:
    result = create("Lan")
    assert result.exit_code == 0, result.output
    assert "Created lan (editor)." in result.output
    user = find(db, "lan")
    assert user is not None and (user.role, user.display_name, user.active) == (
        "editor",
        "Lan",
        True,
    )
    assert PASSWORD not in user.password_hash
    assert can_sign_in(db, "lan", PASSWORD)
    [entry] = audit(db)
    assert (entry.actor, entry.action, entry.object_id) == (
        cli_actor(),
        "user.create",
        str(user.id),
    )
    assert entry.after["username"] == "lan" and "password_hash" not in entry.after


def test_duplicate_name_is_refused(db: Database) -> None:
    assert create("lan").exit_code == 0
    again = create("LAN", role="admin")
    assert again.exit_code != 0
    assert "An account named lan already exists." in again.output
    user = find(db, "lan")
    assert user is not None and user.role == "editor"
    assert len(audit(db)) == 1


def test_weak_password_is_refused(db: Database) -> None:
    result = create("lan", password="short")
    assert result.exit_code != 0
    assert "A password needs at least 8 characters." in result.output
    assert find(db, "lan") is None
    assert audit(db) == []


def test_bad_user_name_is_refused(db: Database) -> None:
    result = create("a b")
    assert result.exit_code == 2
    assert "without spaces" in result.output
    assert find(db, "a b") is None


def test_set_role_ends_sign_ins(db: Database) -> None:
    assert create("lan").exit_code == 0
    user = find(db, "lan")
    assert user is not None
    token, _ = db.call(lambda s: start_session(s, s.get(User, user.id), 3600), write=True)
    assert db.call(lambda s: load_session(s, token, 3600), write=True) is not None
    result = museum("set-role", "lan", "curator")
    assert result.exit_code == 0, result.output
    assert "lan: editor → curator." in result.output
    assert db.call(lambda s: load_session(s, token, 3600), write=True) is None
    entry = audit(db)[-1]
    assert (entry.actor, entry.action) == (cli_actor(), "user.set_role")
    assert (entry.before, entry.after) == ({"role": "editor"}, {"role": "curator"})


def login_status(data_dir: Path, name: str, password: str) -> int:
    client = TestClient(create_app(Settings(data_dir=data_dir)))
    form = client.get("/admin/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match is not None
    response = client.post(
        "/admin/login",
        data={"username": name, "password": password, "csrf_token": match.group(1)},
        headers={"origin": ORIGIN},
        follow_redirects=False,
    )
    return response.status_code


def test_disabled_account_cannot_sign_in(db: Database, data_dir: Path) -> None:
    assert create("lan").exit_code == 0
    assert login_status(data_dir, "lan", PASSWORD) == 303
    result = museum("disable", "lan")
    assert result.exit_code == 0 and "Disabled lan." in result.output
    assert login_status(data_dir, "lan", PASSWORD) == 400
    assert museum("disable", "lan", "--enable").exit_code == 0
    assert login_status(data_dir, "lan", PASSWORD) == 303
    actions = [(e.action, e.after) for e in audit(db) if e.action.startswith("user.")][-2:]
    assert actions == [("user.disable", {"active": False}), ("user.enable", {"active": True})]


def test_set_password(db: Database) -> None:
    assert create("lan").exit_code == 0
    result = museum("set-password", "lan", "--password-stdin", stdin=OTHER + "\n")
    assert result.exit_code == 0 and "Changed the password of lan." in result.output
    assert can_sign_in(db, "lan", OTHER) and not can_sign_in(db, "lan", PASSWORD)
    entry = audit(db)[-1]
    assert (entry.actor, entry.action) == (cli_actor(), "user.set_password")
    weak = museum("set-password", "lan", "--password-stdin", stdin="1234567\n")
    assert weak.exit_code != 0 and "at least 8 characters" in weak.output
    assert can_sign_in(db, "lan", OTHER)


def test_list(db: Database) -> None:
    assert create("lan", role="curator").exit_code == 0
    assert create("mai", role="contributor").exit_code == 0
    assert museum("disable", "mai").exit_code == 0
    result = museum("list")
    assert result.exit_code == 0
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "curator" in lines["lan"] and "yes" in lines["lan"]
    assert "contributor" in lines["mai"] and "no" in lines["mai"]


@pytest.mark.parametrize(
    "args",
    [
        ("set-role", "ghost", "editor"),
        ("disable", "ghost"),
        ("set-password", "ghost", "--password-stdin"),
    ],
)
def test_unknown_user(db: Database, args: tuple[str, ...]) -> None:
    result = museum(*args, stdin=PASSWORD + "\n")
    assert result.exit_code != 0
    assert "There is no account named ghost." in result.output
    assert audit(db) == []
