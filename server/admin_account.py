"""``/admin/account``: one's own account, and changing one's own password.

A new password needs the current one (so a browser left signed in is not enough), counts
wrong guesses with the sign-in throttle (per account and per address), ends every other
sign-in of the account, and gives this browser a fresh session.
"""

from __future__ import annotations

import math

import anyio.to_thread
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.admin import PRIVATE_HEADERS
from server.admin_lists import local_time
from server.audit import Actor, log_change
from server.auth import (
    MAX_PASSWORD,
    CurrentUser,
    PasswordRejected,
    check_password,
    clear_failures,
    client_address,
    client_fingerprint,
    current_user,
    end_all_sessions,
    hash_password,
    record_failure,
    set_session_cookie,
    start_session,
    throttle_keys,
    throttle_wait,
    verify_password,
)
from server.errors import N_, NotFound, TooManyRequests, Unauthorized
from server.models import User
from server.policy import ROLE_LABELS
from server.state import get_museum

WRONG_CURRENT = N_("The current password is not right.")
MISMATCH = N_("The two new passwords are not the same.")


def _me(request: Request) -> CurrentUser:
    user = current_user(request)
    if user is None:  # the route's rule already refused visitors
        raise Unauthorized(N_("Please sign in to continue."))
    return user


def _account(session: Session, user_id: int) -> dict[str, str]:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("There is no account with id {id}."), id=user_id)
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "last_sign_in": local_time(user.last_login_at),
        "created": local_time(user.created_at),
    }


async def _page(
    request: Request, status: int = 200, error: str | None = None, changed: bool = False
) -> Response:
    museum = get_museum(request)
    me = _me(request)
    account = await museum.db.run(lambda s: _account(s, me.id))
    return museum.templates.TemplateResponse(
        request,
        "admin_account.html",
        {"account": account, "role_labels": ROLE_LABELS, "error": error, "changed": changed},
        status_code=status,
        headers=PRIVATE_HEADERS,
    )


async def account_page(request: Request) -> Response:
    """``/admin/account``: who I am, and the form to change my password."""
    return await _page(request, changed=request.query_params.get("changed") == "1")


def _stored_hash(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return "" if user is None else user.password_hash


async def change_password(request: Request) -> Response:
    """``POST /admin/account/password``: current password, then the new one twice."""
    museum = get_museum(request)
    settings = museum.settings
    me = _me(request)
    gettext = museum.translations(request.state.lang).gettext
    form = await request.form()
    current = str(form.get("current_password", ""))[: MAX_PASSWORD + 1]
    new = str(form.get("new_password", ""))[: MAX_PASSWORD + 1]
    again = str(form.get("new_password_again", ""))[: MAX_PASSWORD + 1]
    address = client_address(request)
    keys = throttle_keys(me.username, address)

    wait = await museum.db.run(lambda s: throttle_wait(s, keys, settings.login_max_failures))
    if wait > 0:
        raise TooManyRequests(
            N_("Too many failed sign-ins. Try again in {seconds} seconds."),
            retry_after=math.ceil(wait),
            seconds=math.ceil(wait),
        )
    stored = await museum.db.run(lambda s: _stored_hash(s, me.id))
    if not await anyio.to_thread.run_sync(verify_password, stored or None, current):
        await museum.db.run(
            lambda s: record_failure(s, keys, settings.login_max_failures), write=True
        )
        return await _page(request, 400, gettext(WRONG_CURRENT))
    if new != again:
        return await _page(request, 400, gettext(MISMATCH))
    try:
        check_password(new)
    except PasswordRejected as exc:
        return await _page(request, 400, exc.render(gettext))
    new_hash = await anyio.to_thread.run_sync(hash_password, new)
    actor = Actor.from_request(request)
    client = client_fingerprint(address, request.headers.get("user-agent", ""))

    def apply(session: Session) -> str:
        user = session.get(User, me.id, with_for_update=True)
        if user is None:
            raise Unauthorized(N_("Please sign in to continue."))
        before = {"session_epoch": user.session_epoch}
        user.password_hash = new_hash
        end_all_sessions(session, user)  # this browser's too: it gets a new id below
        token, _ = start_session(session, user, settings.session_lifetime, client)
        clear_failures(session, keys)
        after = {"session_epoch": user.session_epoch}
        log_change(session, actor, "user.change_password", "user", user.id, before, after)
        return token

    token = await museum.db.run(apply, write=True)
    target = request.url_for("admin_account").path + "?changed=1"
    response = RedirectResponse(target, status_code=303, headers=PRIVATE_HEADERS)
    set_session_cookie(response, request, token)
    return response
