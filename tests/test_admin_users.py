"""``/admin/users`` and ``/admin/account``: accounts, roles, sign-ins and passwords (issue 8)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.auth import SESSION_COOKIE, load_session, start_session
from server.db import Database
from server.models import AuditEntry, LoginThrottle, User
from server.settings import Settings
from tests.staff import ORIGIN, PASSWORD, add_user, migrated_app, sign_in, signed_in

ADMIN = "boss"
NEW_PASSWORD = "ba con voi đi qua cầu"
ONE_TIME = re.compile(r'class="one-time-password"[^>]*>([^<]+)<')


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return migrated_app(settings)


@pytest.fixture
def admin(app: Starlette) -> Iterator[TestClient]:
    with signed_in(app, ADMIN, "admin") as client:
        yield client


def db_of(app: Starlette | TestClient) -> Database:
    target = app.app if isinstance(app, TestClient) else app
    db: Database = target.state.museum.db  # type: ignore[attr-defined]
    return db


def user(db: Database, username: str) -> User:
    row = db.call(lambda s: s.scalars(select(User).where(User.username == username)).first())
    assert row is not None
    return row


def audit(db: Database, action: str) -> list[AuditEntry]:
    return db.call(
        lambda s: list(
            s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        )
    )


def session_for(db: Database, username: str) -> str:
    user_id = user(db, username).id
    token, _ = db.call(lambda s: start_session(s, s.get(User, user_id), 3600), write=True)
    return str(token)


def session_alive(db: Database, token: str) -> bool:
    return db.call(lambda s: load_session(s, token, 3600), write=True) is not None


def login(app: Starlette, username: str, password: str) -> int:
    """Sign in through the form as a browser does; the status of the answer (303: signed in)."""
    client = TestClient(app)
    form = client.get("/admin/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match is not None
    response = client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": match.group(1)},
        headers={"origin": ORIGIN},
        follow_redirects=False,
    )
    return response.status_code


def json_error(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# The list and the roles that reach it ----------------------------------------------------------


def test_list_shows_accounts(admin: TestClient) -> None:
    add_user(db_of(admin), "lan", "editor")
    page = admin.get("/admin/users?lang=en").text
    assert '<tr data-user="lan">' in page and f'<tr data-user="{ADMIN}">' in page
    assert f"{ADMIN} (you)" in page
    assert '<option value="editor" selected>Editor</option>' in page
    assert "Create the account" in page


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), ("contributor", 403), ("editor", 403), ("curator", 403)]
)
def test_only_admins_manage_users(app: Starlette, role: str | None, status: int) -> None:
    with TestClient(app) as client:
        target = add_user(db_of(app), "lan", "editor")
        if role:
            sign_in(client, f"u-{role}", role)
        assert client.get("/admin/users").status_code == status
        assert client.post("/admin/users", data={"username": "x", "role": "admin"}).status_code == (
            status
        )
        assert client.post(f"/admin/users/{target}/role", data={"role": "admin"}).status_code == (
            status
        )
    assert user(db_of(app), "lan").role == "editor"


# Creating accounts -----------------------------------------------------------------------------


def test_create_shows_a_one_time_password_once(admin: TestClient) -> None:
    db = db_of(admin)
    response = admin.post(
        "/admin/users?lang=en",
        data={
            "username": " Lan ",
            "display_name": "Nguyễn Thị Lan",
            "email": "lan@example.org",
            "role": "curator",
        },
    )
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    [password] = ONE_TIME.findall(response.text)
    assert len(password) >= 16
    created = user(db, "lan")
    assert (created.display_name, created.email, created.role) == (
        "Nguyễn Thị Lan",
        "lan@example.org",
        "curator",
    )
    assert password not in created.password_hash
    assert login(admin.app, "lan", password) == 303  # type: ignore[arg-type]
    [entry] = audit(db, "user.create")
    assert (entry.actor, entry.object_id, entry.before) == (ADMIN, str(created.id), None)
    assert entry.after["username"] == "lan" and "password_hash" not in entry.after
    assert password not in str(entry.after)
    listing = admin.get("/admin/users").text
    assert password not in listing


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        ({"username": "a b", "role": "editor"}, 422, "without spaces"),
        ({"username": "", "role": "editor"}, 422, "1 to 64 characters"),
        ({"username": "x" * 65, "role": "editor"}, 422, "1 to 64 characters"),
        ({"username": "lan", "role": "emperor"}, 422, "Unknown role emperor"),
        ({"username": "lan", "role": "editor", "email": "not-an-address"}, 422, "does not look"),
    ],
)
def test_create_refuses_bad_input(
    admin: TestClient, data: dict[str, str], status: int, words: str
) -> None:
    response = admin.post("/admin/users?lang=en", data=data)
    assert response.status_code == status
    assert words in html.unescape(response.text)
    assert 'role="alert"' in response.text
    assert audit(db_of(admin), "user.create") == []


def test_create_refuses_a_taken_name(admin: TestClient) -> None:
    add_user(db_of(admin), "lan", "editor")
    response = admin.post(
        "/admin/users?lang=en", data={"username": "LAN", "display_name": "Lan", "role": "admin"}
    )
    assert response.status_code == 409
    assert "An account named lan already exists." in response.text
    assert 'value="LAN"' in response.text  # the form keeps what was typed
    assert user(db_of(admin), "lan").role == "editor"
    assert audit(db_of(admin), "user.create") == []


# Changing accounts -----------------------------------------------------------------------------


def test_change_role_ends_sign_ins(admin: TestClient) -> None:
    db = db_of(admin)
    target = add_user(db, "lan", "editor")
    token = session_for(db, "lan")
    response = admin.post(
        f"/admin/users/{target}/role", data={"role": "curator"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin/users"
    assert user(db, "lan").role == "curator"
    assert not session_alive(db, token)
    [entry] = audit(db, "user.set_role")
    assert entry.before["role"] == "editor" and entry.after["role"] == "curator"
    assert entry.after["session_epoch"] == entry.before["session_epoch"] + 1
    bad = admin.post(f"/admin/users/{target}/role", data={"role": "emperor"})
    assert bad.status_code == 422
    assert admin.post("/admin/users/9999/role", data={"role": "editor"}).status_code == 404


def test_admin_cannot_demote_or_disable_themself(admin: TestClient) -> None:
    db = db_of(admin)
    me = user(db, ADMIN).id
    demote = admin.post(
        f"/admin/users/{me}/role?lang=en",
        data={"role": "editor"},
        headers={"accept": "text/html"},
    )
    assert demote.status_code == 400
    assert "You cannot change your own role" in demote.text
    disable = admin.post(f"/admin/users/{me}/active?lang=en", data={"active": "0"})
    assert disable.status_code == 400
    assert "You cannot disable your own account" in json_error(disable)["message"]
    reset = admin.post(f"/admin/users/{me}/password?lang=en")
    assert reset.status_code == 400
    me_now = user(db, ADMIN)
    assert (me_now.role, me_now.active) == ("admin", True)
    assert audit(db, "user.set_role") == audit(db, "user.disable") == []


def test_disable_and_enable(admin: TestClient) -> None:
    db = db_of(admin)
    app: Starlette = admin.app  # type: ignore[assignment]
    target = add_user(db, "lan", "editor")
    token = session_for(db, "lan")
    assert admin.post(f"/admin/users/{target}/active", data={"active": "0"}).status_code == 200
    assert not user(db, "lan").active
    assert not session_alive(db, token)
    assert login(app, "lan", PASSWORD) == 400
    assert admin.post(f"/admin/users/{target}/active", data={"active": "1"}).status_code == 200
    assert login(app, "lan", PASSWORD) == 303
    assert [e.after["active"] for e in audit(db, "user.disable") + audit(db, "user.enable")] == [
        False,
        True,
    ]
    assert admin.post(f"/admin/users/{target}/active", data={"active": "maybe"}).status_code == 400


def test_end_sign_ins(admin: TestClient) -> None:
    db = db_of(admin)
    target = add_user(db, "lan", "editor")
    tokens = [session_for(db, "lan"), session_for(db, "lan")]
    assert "2 browsers" in admin.get("/admin/users?lang=en").text
    assert admin.post(f"/admin/users/{target}/sessions").status_code == 200
    assert not any(session_alive(db, token) for token in tokens)
    assert len(audit(db, "user.end_sessions")) == 1


def test_new_one_time_password(admin: TestClient) -> None:
    db = db_of(admin)
    app: Starlette = admin.app  # type: ignore[assignment]
    target = add_user(db, "lan", "editor")
    token = session_for(db, "lan")
    response = admin.post(f"/admin/users/{target}/password?lang=en")
    assert response.status_code == 200
    [password] = ONE_TIME.findall(response.text)
    assert not session_alive(db, token)
    assert login(app, "lan", PASSWORD) == 400
    assert login(app, "lan", password) == 303
    [entry] = audit(db, "user.reset_password")
    assert password not in str(entry.before) + str(entry.after)


# My account ------------------------------------------------------------------------------------


@pytest.fixture
def contributor(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as client:
        sign_in(client, "mai", "contributor")
        yield client


def change(client: TestClient, current: str, new: str, again: str | None = None) -> Any:
    return client.post(
        "/admin/account/password?lang=en",
        data={"current_password": current, "new_password": new, "new_password_again": again or new},
        follow_redirects=False,
    )


def test_account_page(contributor: TestClient, app: Starlette) -> None:
    page = contributor.get("/admin/account?lang=en")
    assert page.status_code == 200
    assert "Change my password" in page.text and "<dd>mai</dd>" in page.text
    with TestClient(app) as visitor:
        assert visitor.get("/admin/account").status_code == 401


def test_change_password_keeps_this_browser_and_ends_the_others(
    contributor: TestClient, app: Starlette
) -> None:
    db = db_of(app)
    other = session_for(db, "mai")
    old_cookie = contributor.cookies[SESSION_COOKIE]
    response = change(contributor, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/account?changed=1"
    new_cookie = response.cookies[SESSION_COOKIE]
    assert new_cookie != old_cookie
    assert not session_alive(db, other) and not session_alive(db, old_cookie)
    assert session_alive(db, new_cookie)
    assert login(app, "mai", NEW_PASSWORD) == 303
    assert login(app, "mai", PASSWORD) == 400
    [entry] = audit(db, "user.change_password")
    assert entry.actor == "mai"
    contributor.cookies.set(SESSION_COOKIE, new_cookie)
    assert "Your password is changed" in contributor.get("/admin/account?changed=1&lang=en").text


@pytest.mark.parametrize(
    ("current", "new", "again", "words"),
    [
        ("wrong password", NEW_PASSWORD, None, "The current password is not right."),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "The two new passwords are not the same."),
        (PASSWORD, "short", None, "A password needs at least 8 characters."),
    ],
)
def test_change_password_refusals(
    contributor: TestClient, app: Starlette, current: str, new: str, again: str | None, words: str
) -> None:
    response = change(contributor, current, new, again)
    assert response.status_code == 400
    assert words in response.text
    assert login(app, "mai", PASSWORD) == 303  # unchanged
    assert audit(db_of(app), "user.change_password") == []


def test_wrong_current_passwords_are_throttled(contributor: TestClient, app: Starlette) -> None:
    allowed = app.state.museum.settings.login_max_failures
    for _ in range(allowed):
        assert change(contributor, "wrong password", NEW_PASSWORD).status_code == 400
    blocked = change(contributor, PASSWORD, NEW_PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    keys = db_of(app).call(lambda s: [row.key for row in s.scalars(select(LoginThrottle))])
    assert "user:mai" in keys


def test_change_password_needs_csrf(contributor: TestClient) -> None:
    contributor.headers.pop("x-csrf-token")
    assert change(contributor, PASSWORD, NEW_PASSWORD).status_code == 403
