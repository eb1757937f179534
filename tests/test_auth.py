"""Accounts and sessions: Argon2id, sign-in and out, rotation, timeouts, revocation,
throttling, CSRF and Origin on every state-changing route, the append-only audit log."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from server import auth
from server.app import create_app
from server.audit import Actor, log_change
from server.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    GuardedRoute,
    end_all_sessions,
    hash_password,
    load_session,
    token_digest,
)
from server.db import Database
from server.errors import MuseumError
from server.migrate import upgrade
from server.models import AuditEntry, LoginThrottle, User, UserSession
from server.settings import Settings
from tests.staff import ORIGIN, PASSWORD, add_user, sign_in
from tests.test_policy_matrix import FIXED, walk


@pytest.fixture
def site(seeded_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(seeded_settings), follow_redirects=False) as client:
        yield client


def db_of(client: TestClient) -> Database:
    return client.app.state.museum.db  # type: ignore[attr-defined,no-any-return]


def login_form(client: TestClient) -> str:
    """Open the sign-in page like a browser; returns the form's CSRF token."""
    page = client.get("/admin/login", headers={"accept": "text/html"})
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def post_login(client: TestClient, username: str, password: str, **extra: str) -> Any:
    token = login_form(client)
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": token, **extra},
        headers={"origin": ORIGIN, "accept": "text/html", **extra.pop("headers", {})},
    )


def test_passwords_are_argon2id_at_the_owasp_minimum() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert auth.verify_password(stored, "correct horse battery")
    assert not auth.verify_password(stored, "correct horse batterY")
    assert not auth.verify_password(None, "correct horse battery")
    with pytest.raises(MuseumError):
        hash_password("short")
    with pytest.raises(MuseumError):
        hash_password("x" * 257)


def test_sign_in_rotates_the_session_and_sign_out_revokes_it(site: TestClient) -> None:
    add_user(db_of(site), "curator", "curator")
    planted = sign_in(site, "curator", "curator")  # a session the browser already had
    old_token = site.cookies[SESSION_COOKIE]
    site.headers.pop("x-csrf-token")
    response = site.post(
        "/admin/login",
        data={
            "username": "Curator",
            "password": PASSWORD,
            "csrf_token": planted,
            "next": "/admin/progress",
        },
        headers={"origin": ORIGIN},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/progress"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    new_token = site.cookies[SESSION_COOKIE]
    assert new_token != old_token
    assert db_of(site).call(lambda s: s.get(UserSession, token_digest(old_token))) is None
    assert site.get("/admin/").status_code == 200
    assert planted not in site.get("/admin/").text
    # Sign out: the old cookie is worthless afterwards.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', site.get("/admin/").text)
    assert csrf
    out = site.post("/admin/logout", data={"csrf_token": csrf.group(1)}, headers={"origin": ORIGIN})
    assert out.status_code == 303
    site.cookies.set(SESSION_COOKIE, new_token, domain="testserver.local")
    assert site.get("/admin/").status_code == 401


def test_a_foreign_next_address_is_ignored(site: TestClient) -> None:
    add_user(db_of(site), "ed", "editor")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        site.cookies.delete(SESSION_COOKIE)
        response = post_login(site, "ed", PASSWORD, next=target)
        assert response.headers["location"] == "/admin/"


def test_wrong_passwords_and_unknown_users_get_the_same_answer(site: TestClient) -> None:
    add_user(db_of(site), "known", "editor")
    known = post_login(site, "known", "wrong password!")
    unknown = post_login(site, "nobody-here", "wrong password!")
    assert known.status_code == unknown.status_code == 400
    strip = lambda page: page.replace("known", "").replace("nobody-here", "")  # noqa: E731
    assert strip(re.sub(r'value="[^"]{20,}"', "", known.text)) == strip(
        re.sub(r'value="[^"]{20,}"', "", unknown.text)
    )


@pytest.mark.slow
def test_unknown_and_known_users_take_the_same_time(seeded_settings: Settings) -> None:
    settings = Settings(data_dir=seeded_settings.data_dir, login_max_failures=100)
    with TestClient(create_app(settings), follow_redirects=False) as site:
        add_user(db_of(site), "known", "editor")
        token = login_form(site)

        def timed(name: str) -> float:
            db_of(site).call(lambda s: s.execute(text("DELETE FROM login_throttle")), write=True)
            start = time.perf_counter()
            site.post(
                "/admin/login",
                data={"username": name, "password": "wrong password!", "csrf_token": token},
                headers={"origin": ORIGIN},
            )
            return time.perf_counter() - start

        known = statistics.median(timed("known") for _ in range(40))
        unknown = statistics.median(timed("nobody") for _ in range(40))
        assert abs(known - unknown) / max(known, unknown) < 0.10, (known, unknown)


def test_throttling_stops_guessing_before_any_hash_is_computed(
    site: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(db_of(site), "target", "curator")
    hashes = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda *a: hashes.append(1) or real(*a))
    statuses = []
    for attempt in range(8):
        # Spoofed X-Forwarded-For values change nothing: the peer address is counted.
        response = post_login(
            site, "target", f"guess {attempt}", headers={"x-forwarded-for": f"10.0.0.{attempt}"}
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [400] * 5
    assert set(statuses[5:]) == {429}
    assert len(hashes) == 5
    blocked = post_login(site, "target", PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    # Once the wait is over, the right password works and clears the account's counter.
    db_of(site).call(
        lambda s: s.execute(text("UPDATE login_throttle SET blocked_until = NULL")), write=True
    )
    assert post_login(site, "target", PASSWORD).status_code == 303
    keys = db_of(site).call(lambda s: list(s.scalars(select(LoginThrottle.key))))
    assert "user:target" not in keys and "addr:testclient" in keys


def test_a_disabled_account_cannot_sign_in(site: TestClient) -> None:
    user_id = add_user(db_of(site), "gone", "editor")

    def disable(session: Any) -> None:
        session.get(User, user_id).active = False

    db_of(site).call(disable, write=True)
    assert post_login(site, "gone", PASSWORD).status_code == 400


def test_sign_in_upgrades_an_old_hash_without_holding_the_write_lock_while_hashing(
    site: TestClient,
) -> None:
    from argon2 import PasswordHasher

    db = db_of(site)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    user_id = add_user(db, "old", "editor")

    def weaken(session: Any) -> None:
        session.get(User, user_id).password_hash = weak

    db.call(weaken, write=True)
    writes: list[str] = []
    original = auth.verify_password

    def spy(stored: str | None, password: str) -> bool:
        # While the password is hashed, another writer must be able to take the lock.
        writes.append(db.call(lambda s: s.execute(text("SELECT 'free'")).scalar(), write=True))
        return original(stored, password)

    auth.verify_password = spy  # type: ignore[assignment]
    try:
        assert post_login(site, "old", PASSWORD).status_code == 303
    finally:
        auth.verify_password = original  # type: ignore[assignment]
    assert writes == ["free"]
    stored = db.call(lambda s: s.get(User, user_id).password_hash)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and stored != weak
    assert auth.verify_password(stored, PASSWORD)


def test_role_change_idle_and_absolute_timeouts_end_sessions(site: TestClient) -> None:
    db = db_of(site)
    sign_in(site, "ed", "editor")
    token = site.cookies[SESSION_COOKIE]
    assert site.get("/admin/").status_code == 200

    def age(session: Any, **delta: Any) -> None:
        row = session.get(UserSession, token_digest(token))
        row.last_seen -= timedelta(**delta)

    db.call(lambda s: age(s, seconds=1801), write=True)  # the default idle time is 30 min
    assert site.get("/admin/").status_code == 401

    sign_in(site, "ed", "editor")
    token = site.cookies[SESSION_COOKIE]

    def expire(session: Any) -> None:
        row = session.get(UserSession, token_digest(token))
        row.expires_at = row.created_at
        row.last_seen = row.created_at

    db.call(expire, write=True)
    assert site.get("/admin/").status_code == 401

    sign_in(site, "ed", "editor")
    token = site.cookies[SESSION_COOKIE]

    def demote(session: Any) -> None:
        user = session.scalars(select(User).where(User.username == "ed")).one()
        user.role = "contributor"
        end_all_sessions(session, user)

    db.call(demote, write=True)
    assert db.call(lambda s: load_session(s, token, 1800)) is None
    assert site.get("/admin/").status_code == 401


def test_https_sessions_use_a_host_only_secure_cookie(seeded_settings: Settings) -> None:
    with TestClient(
        create_app(seeded_settings), base_url="https://museum.example", follow_redirects=False
    ) as site:
        add_user(db_of(site), "ed", "editor")
        page = site.get("/admin/login", headers={"accept": "text/html"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        response = site.post(
            "/admin/login",
            data={"username": "ed", "password": PASSWORD, "csrf_token": token.group(1)},
            headers={"origin": "https://museum.example"},
        )
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-museum_session=")
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie


# CSRF and Origin on every state-changing route, generated from the route table -----------


def unsafe_routes(app: Any) -> list[tuple[str, str, str]]:
    found = []
    for path, name, route in walk(app.routes):
        if not isinstance(route, GuardedRoute) or not route.rule.csrf:
            continue
        for method in sorted((route.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            concrete = re.sub(r"{(\w+)(?::\w+)?}", lambda m: SAMPLES[m.group(1)], path)
            found.append((method, concrete, name))
    return found


# Any value the path's converter takes: the guard refuses before the object is looked up.
SAMPLES = {
    **FIXED,
    "record_id": "DL-ICH-01",
    "asset_id": "a" * 32,
    "identifier": "a" * 32,
    "exhibition_id": "sample-media",
    "collection_id": "gongs",
    "upload_id": "u" * 32,
    "user_id": "1",
    "annotation_id": "1",
    "stop_id": "1",
    "draft_id": "1",
    "kind": "draft",
    "item_id": "1",
}

FORGERIES = {
    "no token": ({"origin": ORIGIN}, None),
    "wrong token": ({"origin": ORIGIN, "x-csrf-token": "forged"}, None),
    "foreign origin": ({"origin": "https://evil.example"}, "valid"),
    "foreign referer": ({"referer": "https://evil.example/page"}, "valid"),
    "no origin or referer": ({}, "valid"),
    "null origin": ({"origin": "null"}, "valid"),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_every_state_changing_route_refuses_forged_requests(site: TestClient, forgery: str) -> None:
    headers, token = FORGERIES[forgery]
    routes = unsafe_routes(site.app)
    assert len(routes) >= 3
    refused = []
    for method, path, name in routes:
        csrf = sign_in(site, "admin", "admin")  # every permission: only CSRF may refuse
        site.cookies.set(CSRF_COOKIE, csrf)
        site.headers.pop("x-csrf-token", None)
        site.headers.pop("origin", None)
        sent = dict(headers)
        if token == "valid":
            sent["x-csrf-token"] = csrf
        response = site.request(method, path, headers=sent)
        if response.status_code != 403:
            refused.append(f"{method} {path} ({name}): {response.status_code}")
    assert refused == []


def test_a_valid_token_and_origin_pass_the_check(site: TestClient) -> None:
    csrf = sign_in(site, "admin", "admin")
    response = site.post("/admin/logout", headers={"origin": ORIGIN, "x-csrf-token": csrf})
    assert response.status_code == 303
    sign_in(site, "admin", "admin")
    form = site.post(
        "/admin/logout",
        data={"csrf_token": site.headers.pop("x-csrf-token")},
        headers={"referer": f"{ORIGIN}/admin/"},
    )
    assert form.status_code == 303


# The audit log --------------------------------------------------------------------------


def test_the_audit_log_is_append_only(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db)
        db.call(
            lambda s: log_change(s, Actor(None, "tester"), "thing.change", "thing", 1, {"a": 1}),
            write=True,
        )
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                db.call(lambda s, q=statement: s.execute(text(q)), write=True)
        rows = db.call(lambda s: list(s.scalars(select(AuditEntry))))
        assert [(r.actor, r.action, r.before) for r in rows] == [
            ("tester", "thing.change", {"a": 1})
        ]
    finally:
        db.dispose()


def test_sign_in_and_out_are_in_the_audit_log(site: TestClient) -> None:
    add_user(db_of(site), "ed", "editor")
    assert post_login(site, "ed", PASSWORD).status_code == 303
    page = site.get("/admin/").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    site.post("/admin/logout", data={"csrf_token": csrf.group(1)}, headers={"origin": ORIGIN})
    actions = db_of(site).call(
        lambda s: [
            (e.actor, e.action) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    )
    assert actions[-2:] == [("ed", "session.login"), ("ed", "session.logout")]
