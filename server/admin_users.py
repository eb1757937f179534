"""``/admin/users``: administrators make accounts, change roles, disable them, end sign-ins.

Administrators never choose a password for someone else (ASVS 6.4.6): a new account, and
an account whose owner forgot theirs, gets a random one-time password that is shown once,
on the answer to that request, for the administrator to hand over; its owner then sets
their own on ``/admin/account``. Every change writes one audit entry with the fields
before and after. An administrator cannot demote or disable themself, so the site always
keeps an active administrator.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.admin import PRIVATE_HEADERS
from server.admin_lists import local_time
from server.audit import Actor, log_change, snapshot
from server.auth import current_user, end_all_sessions, hash_password, normalize_username
from server.errors import N_, BadRequest, Conflict, NotFound, ValidationError
from server.models import ROLES, User, UserSession, utcnow
from server.policy import ROLE_LABELS, ROLE_ORDER
from server.state import get_museum

ONE_TIME_PASSWORD_BYTES = 12  # 16 URL-safe characters, ~96 bits
MAX_USERNAME = 64
MAX_TEXT = 255
USERNAME_FORBIDDEN = "/:@"
# Highest role first, as the form lists them.
ROLE_CHOICES = tuple(sorted(ROLES, key=ROLE_ORDER.index, reverse=True))


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    display_name: str
    email: str
    role: str
    active: bool
    last_sign_in: str
    created: str
    sessions: int


@dataclass(frozen=True)
class NewAccount:
    username: str
    display_name: str
    email: str
    role: str


def one_time_password() -> str:
    return secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)


def check_username(raw: str) -> str:
    """The stored form of a new user name (NFC, case-folded), or a 422 saying what is wrong."""
    name = normalize_username(raw)
    if (
        not name
        or len(name) > MAX_USERNAME
        or any(c.isspace() or c in USERNAME_FORBIDDEN for c in name)
    ):
        raise ValidationError(
            N_("A user name needs 1 to 64 characters without spaces, '/', ':' or '@'."),
            parameter="username",
        )
    return name


def check_email(raw: str) -> str:
    email = raw.strip()
    if not email:
        return ""
    local, at, domain = email.partition("@")
    if len(email) > MAX_TEXT or not at or not local or "." not in domain or " " in email:
        raise ValidationError(
            N_("The e-mail address {email} does not look right."),
            parameter="email",
            email=email[:80],
        )
    return email


def check_display_name(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw).strip()
    if len(name) > MAX_TEXT:
        raise ValidationError(
            N_("The name may have at most {count} characters."),
            parameter="display_name",
            count=MAX_TEXT,
        )
    return name


def check_role(raw: str) -> str:
    if raw not in ROLES:
        raise ValidationError(
            N_("Unknown role {role}; choose one of {roles}."),
            parameter="role",
            role=raw[:32],
            roles=", ".join(ROLE_CHOICES),
        )
    return raw


def parse_new_account(form: FormData) -> NewAccount:
    return NewAccount(
        username=check_username(str(form.get("username", ""))[:256]),
        display_name=check_display_name(str(form.get("display_name", ""))[:1024]),
        email=check_email(str(form.get("email", ""))[:1024]),
        role=check_role(str(form.get("role", ""))),
    )


def list_users(session: Session) -> list[UserRow]:
    now = utcnow()
    sessions: dict[int, int] = {
        user_id: count
        for user_id, count in session.execute(
            select(UserSession.user_id, func.count())
            .where(UserSession.expires_at > now)
            .group_by(UserSession.user_id)
        )
    }
    return [
        UserRow(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            role=user.role,
            active=user.active,
            last_sign_in=local_time(user.last_login_at),
            created=local_time(user.created_at),
            sessions=sessions.get(user.id, 0),
        )
        for user in session.scalars(select(User).order_by(User.username))
    ]


def create_account(session: Session, account: NewAccount, password_hash: str, actor: Actor) -> int:
    exists = session.scalars(select(User.id).where(User.username == account.username)).first()
    if exists is not None:
        raise Conflict(
            N_("An account named {name} already exists."),
            parameter="username",
            name=account.username,
        )
    user = User(
        username=account.username,
        display_name=account.display_name,
        email=account.email,
        password_hash=password_hash,
        role=account.role,
    )
    session.add(user)
    session.flush()
    log_change(session, actor, "user.create", "user", user.id, None, snapshot(user))
    return user.id


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(N_("There is no account with id {id}."), parameter="user_id", id=user_id)
    return user


def change_role(session: Session, user_id: int, role: str, actor: Actor) -> bool:
    """Give the account ``role``; its sign-ins end. False when it already had it."""
    if user_id == actor.id:
        raise BadRequest(
            N_("You cannot change your own role; ask another administrator."), parameter="role"
        )
    user = _user(session, user_id)
    if user.role == role:
        return False
    before = {"role": user.role, "session_epoch": user.session_epoch}
    user.role = role
    end_all_sessions(session, user)
    after = {"role": user.role, "session_epoch": user.session_epoch}
    log_change(session, actor, "user.set_role", "user", user.id, before, after)
    return True


def set_active(session: Session, user_id: int, active: bool, actor: Actor) -> bool:
    if user_id == actor.id and not active:
        raise BadRequest(
            N_("You cannot disable your own account; ask another administrator."),
            parameter="active",
        )
    user = _user(session, user_id)
    if user.active == active:
        return False
    before = {"active": user.active, "session_epoch": user.session_epoch}
    user.active = active
    end_all_sessions(session, user)
    after = {"active": user.active, "session_epoch": user.session_epoch}
    action = "user.enable" if active else "user.disable"
    log_change(session, actor, action, "user", user.id, before, after)
    return True


def end_sessions(session: Session, user_id: int, actor: Actor) -> None:
    user = _user(session, user_id)
    before = {"session_epoch": user.session_epoch}
    end_all_sessions(session, user)
    after = {"session_epoch": user.session_epoch}
    log_change(session, actor, "user.end_sessions", "user", user.id, before, after)


def reset_password(session: Session, user_id: int, password_hash: str, actor: Actor) -> str:
    """A new one-time password for someone else's account; their sign-ins end."""
    if user_id == actor.id:
        raise BadRequest(N_("Change your own password on your account page."), parameter="user_id")
    user = _user(session, user_id)
    before = {"session_epoch": user.session_epoch}
    user.password_hash = password_hash
    end_all_sessions(session, user)
    after = {"session_epoch": user.session_epoch}
    log_change(session, actor, "user.reset_password", "user", user.id, before, after)
    return user.username


# Endpoints -------------------------------------------------------------------------------------


def _page(
    request: Request,
    users: list[UserRow],
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    museum = get_museum(request)
    me = current_user(request)
    return museum.templates.TemplateResponse(
        request,
        "admin_users.html",
        {
            "users": users,
            "roles": ROLE_CHOICES,
            "role_labels": ROLE_LABELS,
            "me": me.id if me else None,
            "error": error,
            "values": values or {"role": "editor"},
        },
        status_code=status,
        headers=PRIVATE_HEADERS,
    )


def _password_page(request: Request, username: str, password: str, created: bool) -> Response:
    museum = get_museum(request)
    return museum.templates.TemplateResponse(
        request,
        "admin_user_password.html",
        {"username": username, "password": password, "created": created},
        headers=PRIVATE_HEADERS,
    )


async def users_page(request: Request) -> Response:
    """``/admin/users``: every account, with the forms that change them."""
    museum = get_museum(request)
    return _page(request, await museum.db.run(list_users))


async def create_user(request: Request) -> Response:
    """``POST /admin/users``: a new account with a one-time password, shown once."""
    museum = get_museum(request)
    form = await request.form()
    actor = Actor.from_request(request)
    password = one_time_password()
    try:
        account = parse_new_account(form)
        password_hash = await anyio.to_thread.run_sync(hash_password, password)
        await museum.db.run(lambda s: create_account(s, account, password_hash, actor), write=True)
    except (ValidationError, Conflict) as exc:
        gettext = museum.translations(request.state.lang).gettext
        values = {k: str(form.get(k, ""))[:MAX_TEXT] for k in ("username", "display_name", "email")}
        values["role"] = str(form.get("role", ""))
        users = await museum.db.run(list_users)
        return _page(request, users, status=exc.status, error=exc.render(gettext), values=values)
    return _password_page(request, account.username, password, created=True)


def _user_id(request: Request) -> int:
    user_id: int = request.path_params["user_id"]
    return user_id


async def _change(request: Request, fn: Any) -> Response:
    museum = get_museum(request)
    await museum.db.run(fn, write=True)
    return RedirectResponse(
        request.url_for("admin_users").path, status_code=303, headers=PRIVATE_HEADERS
    )


async def user_role(request: Request) -> Response:
    """``POST /admin/users/{id}/role``: ``role`` is the new role."""
    form = await request.form()
    role = check_role(str(form.get("role", "")))
    actor, user_id = Actor.from_request(request), _user_id(request)
    return await _change(request, lambda s: change_role(s, user_id, role, actor))


async def user_active(request: Request) -> Response:
    """``POST /admin/users/{id}/active``: ``active`` is 1 to enable, 0 to disable."""
    form = await request.form()
    raw = str(form.get("active", ""))
    if raw not in ("0", "1"):
        raise BadRequest(N_("The field active must be 0 or 1."), parameter="active")
    actor, user_id = Actor.from_request(request), _user_id(request)
    return await _change(request, lambda s: set_active(s, user_id, raw == "1", actor))


async def user_sessions(request: Request) -> Response:
    """``POST /admin/users/{id}/sessions``: sign the account out everywhere."""
    actor, user_id = Actor.from_request(request), _user_id(request)
    return await _change(request, lambda s: end_sessions(s, user_id, actor))


async def user_password(request: Request) -> Response:
    """``POST /admin/users/{id}/password``: a new one-time password, shown once."""
    museum = get_museum(request)
    actor, user_id = Actor.from_request(request), _user_id(request)
    if user_id == actor.id:  # before spending a hash on it
        raise BadRequest(N_("Change your own password on your account page."), parameter="user_id")
    password = one_time_password()
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    username = await museum.db.run(
        lambda s: reset_password(s, user_id, password_hash, actor), write=True
    )
    return _password_page(request, username, password, created=False)
