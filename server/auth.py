"""Accounts, sessions, CSRF and the route guard.

* Passwords: Argon2id (argon2-cffi) at m = 19 MiB, t = 2, p = 1, the OWASP minimum;
  stored as PHC strings, re-hashed on sign-in when the parameters change.
* Sessions live in the database (``user_sessions``): the cookie carries 256 random bits,
  the table only their SHA-256. A new id at every sign-in; idle and absolute timeouts;
  signing out, a role change, disabling or a new password end them (``session_epoch``).
* Every unsafe request (POST, PUT, PATCH, DELETE) must come from this site (``Origin``,
  else ``Referer``) and carry the CSRF token: the session's, or for visitors the
  double-submit cookie's, in a ``csrf_token`` form field or an ``X-CSRF-Token`` header.
* :class:`GuardedRoute` applies a route's :class:`server.policy.Rule` before its endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from server.db import Database
from server.errors import N_, Forbidden, MuseumError, Unauthorized
from server.handlers import handle_museum_error
from server.models import ROLES, LoginThrottle, User, UserSession, utcnow
from server.policy import MACHINE_PERMISSIONS, Rule, has_permission, may_monitor, role_of

log = logging.getLogger(__name__)

SESSION_COOKIE = "museum_session"
SECURE_SESSION_COOKIE = "__Host-museum_session"
CSRF_COOKIE = "museum_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A session's last_seen is written at most this often (one write a minute, not per request).
TOUCH_EVERY = timedelta(seconds=60)
MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_THROTTLE_WAIT = timedelta(minutes=15)
FAILURE_WINDOW = timedelta(hours=24)

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the account does not exist, so unknown names take as long as known ones.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


class PasswordRejected(MuseumError):
    status_code = 400


def hash_password(password: str) -> str:
    check_password(password)
    return HASHER.hash(password)


def check_password(password: str) -> None:
    """NIST 800-63B / ASVS 6.2: a length range and nothing else (no composition rules)."""
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(
            N_("A password needs at least {count} characters."), count=MIN_PASSWORD
        )
    if len(password) > MAX_PASSWORD:
        raise PasswordRejected(
            N_("A password may have at most {count} characters."), count=MAX_PASSWORD
        )


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches; an unknown account (``None``) costs the same time."""
    try:
        return HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def normalize_username(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().casefold()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in user as a request sees them (``request.state.user``)."""

    id: int
    username: str
    display_name: str
    role: str
    csrf_token: str
    session: str  # the session's id hash

    @property
    def name(self) -> str:
        return self.display_name or self.username


def current_user(request: Request) -> CurrentUser | None:
    user: CurrentUser | None = getattr(request.state, "user", None)
    return user


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def client_fingerprint(address: str, agent: str) -> str:
    return hashlib.sha256(f"{address}\n{agent}".encode()).hexdigest()[:32]


# Sessions -------------------------------------------------------------------


def start_session(
    session: Session, user: User, lifetime: float, client: str = ""
) -> tuple[str, str]:
    """A new session for ``user``: ``(cookie token, csrf token)``."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            id_hash=token_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            epoch=user.session_epoch,
            created_at=now,
            last_seen=now,
            expires_at=now + timedelta(seconds=lifetime),
            client=client,
        )
    )
    # Expired sessions of anyone are swept here, so the table never grows without bound.
    session.execute(delete(UserSession).where(UserSession.expires_at < now))
    return token, csrf


def end_session(session: Session, token_hash: str) -> None:
    session.execute(delete(UserSession).where(UserSession.id_hash == token_hash))


def end_all_sessions(session: Session, user: User) -> None:
    """Revoke every sign-in of ``user`` (role change, disabling, new password)."""
    user.session_epoch += 1
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def load_session(session: Session, token: str, idle: float) -> CurrentUser | None:
    """The user behind a session cookie, or None when it is unknown, expired or revoked."""
    digest = token_digest(token)
    row = session.get(UserSession, digest)
    if row is None:
        return None
    now = utcnow()
    user = session.get(User, row.user_id)
    if (
        user is None
        or not user.active
        or row.epoch != user.session_epoch
        or row.expires_at <= now
        or row.last_seen + timedelta(seconds=idle) <= now
    ):
        session.delete(row)
        return None
    if now - row.last_seen >= TOUCH_EVERY:
        row.last_seen = now
    return CurrentUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        csrf_token=row.csrf_token,
        session=digest,
    )


def session_cookie_name(request: Request) -> str:
    return SECURE_SESSION_COOKIE if request.url.scheme == "https" else SESSION_COOKIE


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        session_cookie_name(request),
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(session_cookie_name(request), path="/")


def _cookies(scope: Scope) -> dict[str, str]:
    jar: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except CookieError:
                continue
            jar.update({name: morsel.value for name, morsel in cookie.items()})
    return jar


class _NeedsWrite(Exception):
    """The session row must change (touched, or gone): read again under the write lock."""


async def _current_session(db: Database, token: str, idle: float) -> CurrentUser | None:
    """:func:`load_session`, in a read-only transaction unless the row must change (about
    once a minute per session), so most signed-in requests never wait for the write lock."""

    def read(session: Session) -> CurrentUser | None:
        user = load_session(session, token, idle)
        if session.dirty or session.deleted:
            raise _NeedsWrite
        return user

    try:
        return await db.run(read)
    except _NeedsWrite:
        return await db.run(lambda s: load_session(s, token, idle), write=True)


class AuthMiddleware:
    """Sets ``request.state.user`` from the session cookie (None for visitors).

    Requests without a session cookie (tiles, media, most visitors) never touch the
    database here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["user"] = None
        cookies = _cookies(scope)
        token = cookies.get(SECURE_SESSION_COOKIE) or cookies.get(SESSION_COOKIE)
        if token and len(token) <= 128:
            museum = scope["app"].state.museum
            idle = museum.settings.session_idle
            try:
                state["user"] = await _current_session(museum.db, token, idle)
            except MuseumError as exc:  # a busy catalog: 503 + Retry-After, as in a route
                response = await handle_museum_error(Request(scope), exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# Login throttling -----------------------------------------------------------


def throttle_keys(username: str, address: str) -> list[str]:
    return [f"user:{normalize_username(username)}"[:160], f"addr:{address}"[:160]]


def throttle_wait(session: Session, keys: list[str], allowed: int) -> float:
    """Seconds the caller must wait before trying again (0: go ahead). Checked before
    the password is hashed, so a flood of guesses costs the server nothing."""
    now = utcnow()
    wait = 0.0
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            wait = max(wait, (row.blocked_until - now).total_seconds())
    return wait


def record_failure(session: Session, keys: list[str], allowed: int) -> None:
    now = utcnow()
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is None or now - row.first_failure > FAILURE_WINDOW:
            if row is not None:
                session.delete(row)
                session.flush()
            row = LoginThrottle(key=key, failures=0, first_failure=now)
            session.add(row)
        row.failures += 1
        if row.failures >= allowed:
            delay = min(timedelta(seconds=2 ** min(row.failures - allowed, 20)), MAX_THROTTLE_WAIT)
            row.blocked_until = now + delay


def clear_failures(session: Session, keys: list[str]) -> None:
    # Only the account's counter: an address shared by many staff keeps its history.
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[0]))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (same cost either way)."""
    user = session.scalars(
        select(User).where(User.username == normalize_username(username))
    ).first()
    ok = verify_password(user.password_hash if user is not None else None, password)
    if not ok or user is None or not user.active:
        return None
    return user


def upgraded_hash(user: User, password: str) -> str | None:
    """A new hash of the (just verified) password when the stored one uses older parameters."""
    return HASHER.hash(password) if HASHER.check_needs_rehash(user.password_hash) else None


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise MuseumError(
            N_("Unknown role {role}; choose one of {roles}."), role=role, roles=", ".join(ROLES)
        )
    return role


# CSRF and the guard ---------------------------------------------------------


def csrf_cookie_token(request: Request) -> str | None:
    return request.cookies.get(CSRF_COOKIE)


def form_csrf_token(request: Request) -> str:
    """The token forms on this page must send (the visitor cookie's when signed out)."""
    user = current_user(request)
    if user is not None:
        return user.csrf_token
    token = csrf_cookie_token(request) or getattr(request.state, "new_csrf", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def remember_csrf_cookie(request: Request, response: Response) -> None:
    """Set the visitor's double-submit cookie if this page made one."""
    token = getattr(request.state, "new_csrf", None)
    if token is not None:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def same_origin(request: Request, public_base_url: str) -> bool:
    """Whether the request says it comes from a page of this site."""
    claimed = request.headers.get("origin")
    if claimed is None or claimed == "null":
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        claimed = f"{parts.scheme}://{parts.netloc}"
    own = {f"{request.url.scheme}://{request.url.netloc}"}
    if public_base_url:
        parts = urlsplit(public_base_url)
        own.add(f"{parts.scheme}://{parts.netloc}")
    return claimed.rstrip("/") in own


async def check_csrf(request: Request, public_base_url: str) -> None:
    if not same_origin(request, public_base_url):
        raise Forbidden(N_("This request did not come from a page of this site."))
    user = current_user(request)
    expected = user.csrf_token if user is not None else csrf_cookie_token(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise Forbidden(
            N_("The form has expired or was not sent from this site. Reload the page and retry.")
        )


Endpoint = Callable[[Request], Awaitable[Response]]
# A proxy relays a visitor's request with one of these: such a request is not local.
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def monitor_allowed(request: Request) -> bool:
    """The "monitor" permission for this request (:func:`server.policy.may_monitor`)."""
    try:
        loopback = ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:  # "testclient", a Unix socket's empty address
        loopback = False
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else None
    proxied = any(name in request.headers for name in PROXY_HEADERS)
    token: str = request.app.state.museum.settings.metrics_token
    return may_monitor(loopback, proxied, bearer, token)


def guard(rule: Rule, endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        user = current_user(request)
        if rule.permission in MACHINE_PERMISSIONS:
            if not monitor_allowed(request):
                raise Forbidden(
                    N_(
                        "Only the monitoring system may read this: ask from this machine, "
                        "or send the metrics token (MUSEUM_METRICS_TOKEN)."
                    )
                )
        elif not has_permission(role_of(user), rule.permission):
            if user is None:
                raise Unauthorized(N_("Please sign in to continue."))
            raise Forbidden(N_("Your role does not allow this."))
        if rule.csrf and request.method in UNSAFE_METHODS:
            museum = request.app.state.museum
            try:
                await check_csrf(request, museum.settings.public_base_url)
            except MuseumError:
                await request.close()  # the spooled files of a refused multipart form
                raise
        response = await endpoint(request)
        if user is not None:  # what a signed-in user sees is theirs alone: no shared cache
            response.headers["cache-control"] = "private, no-store"
        return response

    guarded.__name__ = getattr(endpoint, "__name__", "guarded")
    guarded.__doc__ = endpoint.__doc__
    return guarded


class GuardedRoute(Route):
    """A route with its policy rule; the endpoint runs only when the rule allows it."""

    def __init__(self, path: str, endpoint: Endpoint, *, rule: Rule, **kwargs: Any) -> None:
        self.rule = rule
        self.unguarded_endpoint = endpoint
        super().__init__(path, guard(rule, endpoint), **kwargs)


# WebSockets ------------------------------------------------------------------

WS_UNAUTHORIZED = 4401  # close codes in the private range (4000-4999), named after HTTP's
WS_FORBIDDEN = 4403


def websocket_same_origin(websocket: WebSocket, public_base_url: str) -> bool:
    """Browsers always send Origin with a WebSocket handshake; another site's page must not
    open one with the visitor's cookies (cross-site WebSocket hijacking)."""
    claimed = websocket.headers.get("origin")
    if not claimed:
        return False
    own = {f"{'https' if websocket.url.scheme == 'wss' else 'http'}://{websocket.url.netloc}"}
    if public_base_url:
        parts = urlsplit(public_base_url)
        own.add(f"{parts.scheme}://{parts.netloc}")
    return claimed.rstrip("/") in own


WebSocketEndpoint = Callable[[WebSocket], Awaitable[None]]


def guard_websocket(rule: Rule, endpoint: WebSocketEndpoint) -> WebSocketEndpoint:
    async def guarded(websocket: WebSocket) -> None:
        user: CurrentUser | None = websocket.scope.get("state", {}).get("user")
        museum = websocket.app.state.museum
        if not websocket_same_origin(websocket, museum.settings.public_base_url):
            await websocket.close(code=WS_FORBIDDEN)
            return
        if not has_permission(role_of(user), rule.permission):
            await websocket.close(code=WS_UNAUTHORIZED if user is None else WS_FORBIDDEN)
            return
        await endpoint(websocket)

    guarded.__name__ = getattr(endpoint, "__name__", "guarded")
    guarded.__doc__ = endpoint.__doc__
    return guarded


class GuardedWebSocketRoute(WebSocketRoute):
    """A WebSocket route with its policy rule, checked (with the Origin) before accepting."""

    def __init__(self, path: str, endpoint: WebSocketEndpoint, *, rule: Rule, name: str) -> None:
        self.rule = rule
        self.unguarded_endpoint = endpoint
        super().__init__(path, guard_websocket(rule, endpoint), name=name)
