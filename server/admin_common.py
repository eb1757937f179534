"""What the staff editing pages share: who is asking, loading what they may see, forms, answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.admin import PRIVATE_HEADERS
from server.auth import current_user
from server.cells import CellError, check_cell, clean_text
from server.errors import N_, BadRequest, NotFound
from server.media_access import staff_can_see_asset
from server.models import Asset, Record
from server.policy import can_see_in_admin, role_of
from server.record_form import FieldError
from server.state import get_museum

# Embargo dates are days in Vietnam (UTC+7, no daylight saving); stored as naive UTC.
VIETNAM = timedelta(hours=7)
MAX_POSITION = 100_000


def request_role(request: Request) -> str:
    return role_of(current_user(request))


def gettext_for(request: Request) -> Callable[[str], str]:
    museum = get_museum(request)
    translate: Callable[[str], str] = museum.translations(request.state.lang).gettext
    return translate


async def read_form(request: Request) -> dict[str, str]:
    """The submitted form as text fields (file parts are ignored)."""
    form: FormData = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    museum = get_museum(request)
    return museum.templates.TemplateResponse(
        request, template, context, status_code=status, headers=PRIVATE_HEADERS
    )


def redirect(
    request: Request, name: str, fragment: str = "", query: str = "", **params: Any
) -> Response:
    target = request.url_for(name, **params).path
    if query:
        target += f"?{query}"
    if fragment:
        target += f"#{fragment}"
    return RedirectResponse(target, status_code=303)


def rendered_errors(errors: Mapping[str, FieldError], request: Request) -> dict[str, str]:
    gettext = gettext_for(request)
    return {name: error.render(gettext) for name, error in errors.items()}


# Loading what the role may see in the staff interface


# Exhibitions and collections are written in Vietnamese and English (other languages kept).
EDIT_LANGUAGES = ("vi", "en")


def edit_page_context(
    request: Request,
    role: str,
    typed: Mapping[str, Any] | None,
    errors: Mapping[str, Mapping[str, FieldError]] | None,
) -> dict[str, Any]:
    """What every edit form of the staff pages shows beside its object: the languages, the
    access levels the role may choose, whether it may publish, and the typed input with its
    problems (after a 422)."""
    from server.policy import access_levels_for, has_permission
    from server.vocab import ACCESS_LEVELS, LANGUAGE_NAMES

    return {
        "languages": EDIT_LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "access_levels": {k: ACCESS_LEVELS[k] for k in access_levels_for(role)},
        "can_publish": has_permission(role, "publish"),
        "typed": typed or {},
        "errors": {k: rendered_errors(v, request) for k, v in (errors or {}).items()},
    }


def record_for_staff(session: Session, record_id: str, role: str, lock: bool = False) -> Record:
    """The record, when it exists and the role may see it in the staff interface; else 404.

    ``lock``: hold its row until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite's
    writers are serialised anyway), so two saves of one record never interleave.
    """
    record = session.get(Record, record_id, with_for_update=lock)
    if (
        record is None
        or record.deleted_at is not None
        or not can_see_in_admin(role, record.access_level)
    ):
        raise NotFound(N_("No heritage item with id {id}."), parameter="record_id", id=record_id)
    return record


def asset_for_staff(session: Session, asset_id: str, role: str) -> Asset:
    """The asset, when the role may see it and its record in the staff interface; else 404."""
    asset = session.get(Asset, asset_id)
    if asset is None or not staff_can_see_asset(session, asset, role):
        raise NotFound(N_("No media with id {id}."), parameter="asset_id", id=asset_id)
    return asset


# Reading form fields


def parse_text(
    form: Mapping[str, str],
    name: str,
    errors: dict[str, FieldError],
    required: bool = False,
    limit: int | None = None,
) -> str:
    """One text field, NFC and trimmed, with the inventory's cell rules (problems by name)."""
    raw = form.get(name, "")
    try:
        check_cell(raw)
    except CellError as exc:
        errors[name] = FieldError(exc.message_id, exc.params)
        return ""
    text = clean_text(raw)
    if limit is not None and len(text) > limit:
        errors[name] = FieldError(N_("is longer than {limit} characters"), {"limit": limit})
    elif required and not text:
        errors[name] = FieldError(N_("is required"))
    return text


def parse_texts(
    form: Mapping[str, str],
    name: str,
    languages: tuple[str, ...],
    errors: dict[str, FieldError],
    required: tuple[str, ...] = (),
    limit: int | None = None,
) -> dict[str, str]:
    """``{"vi": …, "en": …}`` from the fields ``name.vi``, ``name.en`` …; blank languages
    are left out."""
    texts: dict[str, str] = {}
    for lang in languages:
        key = f"{name}.{lang}"
        text = parse_text(form, key, errors, lang in required, limit)
        if text and key not in errors:
            texts[lang] = text
    return texts


def parse_position(raw: str, name: str, errors: dict[str, FieldError]) -> int | None:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_POSITION:
        errors[name] = FieldError(
            N_("must be a whole number from {low} to {high}"), {"low": 0, "high": MAX_POSITION}
        )
        return None
    return int(text)


def parse_embargo(raw: str, errors: dict[str, FieldError]) -> datetime | None:
    """A day (YYYY-MM-DD) as the naive UTC moment it starts in Vietnam; empty: no embargo."""
    text = raw.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors["embargo_until"] = FieldError(N_("is not a date; use the form 2027-01-31"))
        return None
    return datetime.combine(day, time()) - VIETNAM


def embargo_day(value: datetime | None) -> str:
    """The Vietnamese day an embargo ends, as the date field shows it."""
    return "" if value is None else (value + VIETNAM).date().isoformat()


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE with ``escape="\\"``: the text's own % and _ match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def form_int(form: Mapping[str, str], name: str) -> int:
    """A required whole-number field of a form the page itself wrote (hidden fields)."""
    raw = form.get(name, "").strip()
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest(
            N_("The form field {field} is missing or not a whole number. Reload the page."),
            parameter=name,
            field=name,
        )
    return int(raw)
