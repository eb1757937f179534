"""``/admin/kiosks``: staff register the museum's kiosks, assign their exhibitions and see
whether each is alive, up to date and ready to work offline (``server.kiosks``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.admin import PRIVATE_HEADERS
from server.admin_lists import local_time
from server.audit import Actor
from server.errors import N_, BadRequest, Conflict, ValidationError
from server.exhibitions import list_exhibitions
from server.kiosk import load_with_manifest
from server.kiosks import (
    MAX_LABEL,
    assigned_exhibitions,
    create_kiosk,
    list_kiosks,
    regenerate_token,
    update_kiosk,
)
from server.policy import ANONYMOUS, access_levels_for
from server.state import get_museum
from server.upload_pages import format_bytes
from server.urls import public_base

ACTIONS = ("save", "token")


def setup_url(request: Request, exhibition_id: str | None, kiosk_id: str, token: str) -> str:
    """The address to open once on the kiosk (it keeps the token and drops it from the bar)."""
    if not exhibition_id:
        return ""
    page = request.url_for("kiosk", exhibition_id=exhibition_id).path
    return f"{public_base(request)}{page}?{urlencode({'kiosk': kiosk_id, 'token': token})}"


async def _versions(request: Request, exhibition_ids: set[str]) -> dict[str, str]:
    """Each assigned exhibition's current offline version, as a kiosk would get it."""
    found = {}
    for exhibition_id in sorted(exhibition_ids):
        loaded = await load_with_manifest(request, exhibition_id, access_levels_for(ANONYMOUS))
        if loaded is not None:
            found[exhibition_id] = loaded[1].version
    return found


async def _page(
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    museum = get_museum(request)
    lang = request.state.lang
    versions = await _versions(request, await museum.db.run(assigned_exhibitions))
    rows = await museum.db.run(lambda s: list_kiosks(s, versions))
    exhibitions = await museum.db.run(list_exhibitions)
    return museum.templates.TemplateResponse(
        request,
        "admin_kiosks.html",
        {
            "kiosks": rows,
            "exhibitions": exhibitions,
            "local_time": local_time,
            "size": lambda count: format_bytes(int(count or 0), lang),
            "error": error,
            "values": values or {},
            "max_label": MAX_LABEL,
        },
        status_code=status,
        headers=PRIVATE_HEADERS,
    )


def _setup_page(
    request: Request, kiosk_id: str, token: str, exhibition_id: str | None, created: bool
) -> Response:
    museum = get_museum(request)
    return museum.templates.TemplateResponse(
        request,
        "admin_kiosk_setup.html",
        {
            "kiosk_id": kiosk_id,
            "token": token,
            "setup_url": setup_url(request, exhibition_id, kiosk_id, token),
            "created": created,
        },
        headers=PRIVATE_HEADERS,
    )


async def kiosks_page(request: Request) -> Response:
    """``/admin/kiosks``: every kiosk, when it was last seen, what it caches."""
    return await _page(request)


def _form_text(form: Any, name: str, limit: int = 1024) -> str:
    value = form.get(name, "")
    return str(value)[:limit] if isinstance(value, str) else ""


async def kiosk_create(request: Request) -> Response:
    """``POST /admin/kiosks``: a new kiosk; its setup address (with its token) shown once."""
    museum = get_museum(request)
    form = await request.form()
    actor = Actor.from_request(request)
    kiosk_id = _form_text(form, "kiosk_id", 128).strip()
    label = _form_text(form, "label")
    exhibition_id = _form_text(form, "exhibition_id", 128)

    def create(session: Session) -> str:
        return create_kiosk(session, kiosk_id, label, exhibition_id, actor)

    try:
        token = await museum.db.run(create, write=True)
    except (ValidationError, Conflict) as exc:
        message = exc.render(museum.translations(request.state.lang).gettext)
        values = {"kiosk_id": kiosk_id, "label": label, "exhibition_id": exhibition_id}
        return await _page(request, status=exc.status, error=message, values=values)
    return _setup_page(request, kiosk_id, token, exhibition_id.strip() or None, created=True)


async def kiosk_update(request: Request) -> Response:
    """``POST /admin/kiosks/{kiosk_id}``: ``action=save`` renames it and assigns its
    exhibition (``label``, ``exhibition_id``); ``action=token`` gives it a new token."""
    museum = get_museum(request)
    kiosk_id = request.path_params["kiosk_id"]
    form = await request.form()
    action = _form_text(form, "action", 16)
    actor = Actor.from_request(request)
    if action not in ACTIONS:
        raise BadRequest(
            N_("The field action must be one of: {allowed}."),
            parameter="action",
            allowed=", ".join(ACTIONS),
        )
    if action == "token":
        token, exhibition_id = await museum.db.run(
            lambda s: regenerate_token(s, kiosk_id, actor), write=True
        )
        return _setup_page(request, kiosk_id, token, exhibition_id, created=False)
    label = _form_text(form, "label")
    exhibition_id = _form_text(form, "exhibition_id", 128)
    try:
        await museum.db.run(
            lambda s: update_kiosk(s, kiosk_id, label, exhibition_id, actor), write=True
        )
    except ValidationError as exc:
        message = exc.render(museum.translations(request.state.lang).gettext)
        return await _page(request, status=exc.status, error=message)
    return RedirectResponse(
        request.url_for("admin_kiosks").path, status_code=303, headers=PRIVATE_HEADERS
    )
