"""Accounts for tests: make a user, sign a test client in, read its CSRF token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.auth import SESSION_COOKIE, hash_password, start_session
from server.db import Database
from server.models import User
from server.settings import Settings

PASSWORD = "đúng ngựa pin ghim"
ORIGIN = "http://testserver"
# One hash for every test user: Argon2id at OWASP settings takes ~0.1 s each.
_HASH = hash_password(PASSWORD)


def add_user(db: Database, username: str, role: str, password: str | None = None) -> int:
    stored = _HASH if password is None else hash_password(password)

    def add(session):  # type: ignore[no-untyped-def]
        existing = session.scalars(select(User).where(User.username == username)).first()
        if existing is not None:
            existing.role = role
            return existing.id
        user = User(username=username, password_hash=stored, role=role)
        session.add(user)
        session.flush()
        return user.id

    return int(db.call(add, write=True))


def sign_in(client: TestClient, username: str, role: str) -> str:
    """Make (or re-role) ``username`` and give ``client`` a session; returns its CSRF token."""
    db: Database = client.app.state.museum.db  # type: ignore[attr-defined]
    user_id = add_user(db, username, role)

    def open_session(session):  # type: ignore[no-untyped-def]
        return start_session(session, session.get(User, user_id), 3600)

    token, csrf = db.call(open_session, write=True)
    client.cookies.delete(SESSION_COOKIE)
    host = client.base_url.host
    # httpx files cookies of a dotless host such as "testserver" under "testserver.local".
    client.cookies.set(SESSION_COOKIE, token, domain=host if "." in host else f"{host}.local")
    client.headers["x-csrf-token"] = csrf
    client.headers["origin"] = ORIGIN
    return str(csrf)


def sign_out(client: TestClient) -> None:
    client.cookies.delete(SESSION_COOKIE)
    client.headers.pop("x-csrf-token", None)


def migrated_app(settings: Settings) -> Starlette:
    """The app on a freshly migrated, empty catalog."""
    from server.app import create_app
    from server.migrate import upgrade

    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.dispose()
    return create_app(settings)


@contextmanager
def signed_in(app: Starlette, username: str, role: str) -> Iterator[TestClient]:
    """A test client of ``app`` with ``username`` (made with ``role``) signed in."""
    with TestClient(app) as client:
        sign_in(client, username, role)
        yield client
