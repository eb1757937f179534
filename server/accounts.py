"""Signing in and out of the staff interface."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.audit import Actor, log_change
from server.auth import (
    authenticate,
    clear_failures,
    clear_session_cookie,
    client_address,
    client_fingerprint,
    current_user,
    end_session,
    record_failure,
    remember_csrf_cookie,
    set_session_cookie,
    start_session,
    throttle_keys,
    throttle_wait,
    upgraded_hash,
)
from server.errors import N_, TooManyRequests
from server.models import utcnow
from server.state import get_museum

MAX_NAME = 64

# The staff interface's menu: (route name, label, permission needed to see it).
ADMIN_MENU: list[tuple[str, str, str]] = [
    ("admin_home", N_("Dashboard"), "staff"),
    ("admin_progress", N_("Digitization progress"), "staff"),
    ("admin_records", N_("Records"), "staff"),
    ("admin_exhibitions", N_("Exhibitions"), "staff"),
    ("admin_collections", N_("Collections"), "staff"),
    ("admin_upload", N_("Upload"), "upload"),
    ("admin_jobs", N_("Jobs"), "staff"),
    ("admin_review", N_("Review"), "staff"),
    ("admin_contributions", N_("Contributions"), "staff"),
    ("admin_kiosks", N_("Kiosks"), "staff"),
    ("trip_new", N_("Field trips"), "lead_trip"),
    ("admin_users", N_("Users"), "admin"),
    ("admin_audit", N_("Audit log"), "admin"),
    ("admin_account", N_("My account"), "signed_in"),
]


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: never another host (``//evil``, ``https:``, ``\\``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def _login_page(
    request: Request, status: int = 200, error: str | None = None, username: str = ""
) -> Response:
    museum = get_museum(request)
    response = museum.templates.TemplateResponse(
        request,
        "admin_login.html",
        {
            "error": error,
            "username": username,
            "next": safe_next(request.query_params.get("next"), ""),
        },
        status_code=status,
        headers={"cache-control": "no-store", "x-robots-tag": "noindex"},
    )
    remember_csrf_cookie(request, response)
    return response


async def login_page(request: Request) -> Response:
    if current_user(request) is not None:
        return RedirectResponse(request.url_for("admin_home").path, status_code=303)
    return _login_page(request)


async def login(request: Request) -> Response:
    museum = get_museum(request)
    settings = museum.settings
    form = await request.form()
    username = str(form.get("username", ""))[:MAX_NAME]
    password = str(form.get("password", ""))[:1024]
    target = safe_next(str(form.get("next", "")), request.url_for("admin_home").path)
    address = client_address(request)
    keys = throttle_keys(username, address)
    gettext = museum.translations(request.state.lang).gettext

    wait = await museum.db.run(lambda s: throttle_wait(s, keys, settings.login_max_failures))
    if wait > 0:
        raise TooManyRequests(
            N_("Too many failed sign-ins. Try again in {seconds} seconds."),
            retry_after=math.ceil(wait),
            seconds=math.ceil(wait),
        )
    # Hashing takes ~0.1 s of CPU: off the event loop, and in a read transaction, so that
    # sign-ins never hold the catalog's write lock while they hash.
    checked = await museum.db.run(lambda s: _check(s, username, password))
    if checked is None:
        await museum.db.run(
            lambda s: record_failure(s, keys, settings.login_max_failures), write=True
        )
        await asyncio.sleep(0)
        return _login_page(request, 400, gettext("Wrong user name or password."), username=username)

    old = current_user(request)
    client = client_fingerprint(address, request.headers.get("user-agent", ""))

    def open_session(session: Session) -> str:
        from server.models import User

        user_id, new_hash = checked
        user = session.get(User, user_id)
        assert user is not None
        if new_hash is not None:  # parameters were raised since this password was set
            user.password_hash = new_hash
        if old is not None:  # a new id at every sign-in: a planted cookie is worth nothing
            end_session(session, old.session)
        token, _ = start_session(session, user, settings.session_lifetime, client)
        user.last_login_at = utcnow()
        clear_failures(session, keys)
        log_change(
            session, Actor(user.id, user.username, address), "session.login", "user", user.id
        )
        return token

    token = await museum.db.run(open_session, write=True)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, token)
    return response


def _check(session: Session, username: str, password: str) -> tuple[int, str | None] | None:
    """The user's id and, when due, a rehash of the password; None when sign-in fails."""
    user = authenticate(session, username, password)
    return None if user is None else (user.id, upgraded_hash(user, password))


async def logout(request: Request) -> Response:
    museum = get_museum(request)
    user = current_user(request)
    if user is not None:

        def close(session: Session) -> None:
            end_session(session, user.session)
            log_change(session, Actor.from_request(request), "session.logout", "user", user.id)

        await museum.db.run(close, write=True)
    response = RedirectResponse(request.url_for("home").path, status_code=303)
    clear_session_cookie(response, request)
    return response


def template_context(request: Request) -> dict[str, Any]:
    """What every template may use about the signed-in user."""
    from server.auth import form_csrf_token
    from server.policy import has_permission, role_of

    user = current_user(request)
    role = role_of(user)
    from server.policy import ROLE_LABELS

    return {
        "user": user,
        "role": role,
        "role_label": ROLE_LABELS.get(role),
        "admin_menu": ADMIN_MENU,
        "can": lambda permission: has_permission(role, permission),
        "csrf_token": lambda: form_csrf_token(request),
    }
