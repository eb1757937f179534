"""Exhibitions in the staff interface: the list, a new exhibition, its details and its stops.

Every change rebuilds the exhibition's JSON description (the one ``museum exhibitions
import`` reads), changes it, and saves it whole with :func:`server.exhibitions.save_exhibition`,
so the web and the command line share one set of checks. Stops are addressed by their
number (1, 2 …, as on the pages); each stop form also carries the stop's row id, and a
form for a stop that has moved or changed since the page was read answers 409.

Editors create and change exhibitions; only curators publish them or change their access
level. Each change writes one audit entry with the whole exhibition before and after.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.admin_common import (
    EDIT_LANGUAGES,
    edit_page_context,
    parse_texts,
    read_form,
    redirect,
    render,
    request_role,
)
from server.audit import Actor, log_change
from server.errors import N_, BadRequest, Conflict, Forbidden, NotFound, ValidationError
from server.exhibitions import (
    list_exhibitions,
    remove_exhibition,
    save_exhibition,
)
from server.models import Exhibition, ExhibitionStop, Record
from server.policy import access_levels_for, can_see_in_admin, has_permission
from server.record_form import Errors, FieldError
from server.state import get_museum
from server.vocab import ACCESS_LEVELS

LANGUAGES = EDIT_LANGUAGES
MAX_PICKER = 5000  # records offered in the record picker (a datalist)
DIRECTIONS = ("up", "down")
# A hidden field of the curators' details form: it carries the published flag and access level.
PUBLISHING_FIELDS = "publishing"

Description = dict[str, Any]


def describe(session: Session, exhibition: Exhibition) -> Description:
    """The exhibition as ``save_exhibition`` reads it (and the audit log keeps it)."""
    stops = session.scalars(
        select(ExhibitionStop)
        .where(ExhibitionStop.exhibition_id == exhibition.id)
        .order_by(ExhibitionStop.position)
    )
    return {
        "id": exhibition.id,
        "title": dict(exhibition.title),
        "summary": dict(exhibition.summary or {}),
        "access_level": exhibition.access_level,
        "published": exhibition.published,
        "stops": [
            {
                "record_id": stop.record_id,
                "asset_id": stop.asset_id,
                "title": dict(stop.title or {}),
                "text": dict(stop.text or {}),
            }
            for stop in stops
        ],
    }


def exhibition_for_staff(
    session: Session, exhibition_id: str, role: str, lock: bool = False
) -> Exhibition:
    """The exhibition, when the role may see it in the staff interface; else 404 (``lock``:
    its row held until the transaction ends, so two changes never interleave)."""
    exhibition = session.get(Exhibition, exhibition_id, with_for_update=lock)
    if exhibition is None or not can_see_in_admin(role, exhibition.access_level):
        raise NotFound(
            N_("No exhibition with id {id}."), parameter="exhibition_id", id=exhibition_id
        )
    return exhibition


def record_choices(session: Session, role: str) -> list[tuple[str, str]]:
    """``(id, Vietnamese title)`` of the records the role may put in an exhibition."""
    rows = session.execute(
        select(Record.id, Record.title)
        .where(Record.deleted_at.is_(None), Record.access_level.in_(access_levels_for(role)))
        .order_by(Record.id)
        .limit(MAX_PICKER)
    )
    return [(record_id, (title or {}).get("vi", "")) for record_id, title in rows]


def merged(current: Mapping[str, str], typed: Mapping[str, str]) -> dict[str, str]:
    """The form's languages replace the stored ones; other languages stay."""
    return {**{k: v for k, v in current.items() if k not in LANGUAGES}, **typed}


def error_field(exc: ValidationError, stop_number: int | None) -> str:
    """The form field a ``save_exhibition`` problem names (``stops.2.title.vi`` -> ``title.vi``)."""
    parameter = exc.parameter or ""
    prefix = f"stops.{stop_number}."
    if stop_number is not None and parameter.startswith(prefix):
        return parameter[len(prefix) :]
    if parameter == "title":
        return "title.vi"
    return parameter


# Pages


async def exhibitions_list(request: Request) -> Response:
    """``GET /admin/exhibitions``."""
    role = request_role(request)

    def load(session: Session) -> list[Any]:
        levels = access_levels_for(role)
        return [line for line in list_exhibitions(session) if line.access_level in levels]

    lines = await get_museum(request).db.run(load)
    return render(
        request, "admin_exhibitions.html", {"exhibitions": lines, "access_levels": ACCESS_LEVELS}
    )


def stop_key(stop: Mapping[str, Any]) -> str:
    """A short digest of a stop's content: the stop forms' check that it is still the same."""
    text = json.dumps(stop, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stop_values(stop: Mapping[str, Any]) -> dict[str, str]:
    """A stop as its form shows it."""
    values = {"record_id": stop["record_id"] or "", "asset_id": stop["asset_id"] or ""}
    for lang in LANGUAGES:
        values[f"title.{lang}"] = stop["title"].get(lang, "")
        values[f"text.{lang}"] = stop["text"].get(lang, "")
    return values


def _edit_context(session: Session, exhibition_id: str, role: str) -> dict[str, Any]:
    exhibition = exhibition_for_staff(session, exhibition_id, role)
    stops = describe(session, exhibition)["stops"]
    ids = [stop["record_id"] for stop in stops if stop["record_id"]]
    titles = session.execute(select(Record.id, Record.title).where(Record.id.in_(ids)))
    return {
        "exhibition": exhibition,
        "stops": [{**stop, "key": stop_key(stop), "values": stop_values(stop)} for stop in stops],
        "record_titles": {k: (v or {}).get("vi", "") for k, v in titles},
        "record_choices": record_choices(session, role),
    }


async def render_edit(
    request: Request,
    exhibition_id: str | None,
    status: int = 200,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    errors: Mapping[str, Errors] | None = None,
) -> Response:
    """The new-exhibition form (``exhibition_id`` None) or an exhibition's page."""
    role = request_role(request)
    museum = get_museum(request)
    if exhibition_id is None:
        context: dict[str, Any] = {
            "exhibition": None,
            "stops": [],
            "record_titles": {},
            "record_choices": [],
        }
    else:
        context = await museum.db.run(lambda s: _edit_context(s, exhibition_id, role))
    context.update(edit_page_context(request, role, typed, errors))
    return render(request, "admin_exhibition_edit.html", context, status)


async def exhibition_new(request: Request) -> Response:
    """``GET /admin/exhibitions/new``."""
    return await render_edit(request, None)


async def exhibition_edit(request: Request) -> Response:
    """``GET /admin/exhibitions/{exhibition_id}``: details and stops."""
    return await render_edit(request, request.path_params["exhibition_id"])


# Changes


Change = Callable[[Description], Errors]


def _apply(
    session: Session,
    exhibition_id: str,
    role: str,
    actor: Actor,
    action: str,
    change: Change,
    stop_number: int | None = None,
) -> Errors:
    """Describe, change, check and save one exhibition, with one audit entry."""
    exhibition = exhibition_for_staff(session, exhibition_id, role, lock=True)
    before = describe(session, exhibition)
    after = {**before, "stops": [dict(stop) for stop in before["stops"]]}
    errors = change(after)
    if errors:
        return errors
    if after == before:
        return {}
    _check_publishing(before, after, role)
    try:
        save_exhibition(session, after)
    except ValidationError as exc:
        return {error_field(exc, stop_number): FieldError(exc.message, exc.params)}
    log_change(session, actor, action, "exhibition", exhibition_id, before, after)
    return {}


def _check_publishing(before: Description | None, after: Description, role: str) -> None:
    if has_permission(role, "publish"):
        return
    published = before["published"] if before else False
    access = before["access_level"] if before else "public"
    if after["published"] != published or after["access_level"] != access:
        raise Forbidden(N_("Only curators may publish an exhibition or change its access level."))


def _details(form: Mapping[str, str], data: Description) -> Errors:
    """Title, summary, access level and published flag from the details form into ``data``."""
    errors: Errors = {}
    title = parse_texts(form, "title", LANGUAGES, errors, required=("vi",))
    summary = parse_texts(form, "summary", LANGUAGES, errors)
    data["title"] = merged(data.get("title", {}), title)
    data["summary"] = merged(data.get("summary", {}), summary)
    if PUBLISHING_FIELDS in form:  # the curators' form (checked in _check_publishing)
        data["access_level"] = form.get("access_level", data["access_level"])
        data["published"] = form.get("published", "") == "1"
    if data["access_level"] not in ACCESS_LEVELS:
        errors["access_level"] = FieldError(
            N_("unknown access level; use one of: {choices}"), {"choices": ", ".join(ACCESS_LEVELS)}
        )
    return errors


async def exhibition_create(request: Request) -> Response:
    """``POST /admin/exhibitions``: a new, unpublished exhibition without stops."""
    form = await read_form(request)
    role, actor = request_role(request), Actor.from_request(request)
    exhibition_id = form.get("id", "").strip()

    def create(session: Session) -> Errors:
        data: Description = {
            "id": exhibition_id,
            "access_level": "public",
            "published": False,
            "stops": [],
        }
        errors = _details(form, data)
        if not errors and session.get(Exhibition, exhibition_id) is not None:
            errors["id"] = FieldError(
                N_("an exhibition with identifier {value} already exists"), {"value": exhibition_id}
            )
        if errors:
            return errors
        _check_publishing(None, data, role)
        try:
            save_exhibition(session, data)
        except ValidationError as exc:
            return {error_field(exc, None): FieldError(exc.message, exc.params)}
        log_change(session, actor, "exhibition.create", "exhibition", exhibition_id, None, data)
        return {}

    errors = await get_museum(request).db.run(create, write=True)
    if errors:
        return await render_edit(request, None, 422, {"details": form}, {"details": errors})
    return redirect(request, "admin_exhibition", exhibition_id=exhibition_id)


async def _post(
    request: Request,
    action: str,
    change: Callable[[Mapping[str, str]], Change],
    form_key: str = "details",
    stop_number: int | None = None,
) -> Response:
    exhibition_id = request.path_params["exhibition_id"]
    form = await read_form(request)
    role, actor = request_role(request), Actor.from_request(request)
    errors = await get_museum(request).db.run(
        lambda s: _apply(s, exhibition_id, role, actor, action, change(form), stop_number),
        write=True,
    )
    if errors:
        return await render_edit(request, exhibition_id, 422, {form_key: form}, {form_key: errors})
    return redirect(request, "admin_exhibition", fragment=form_key, exhibition_id=exhibition_id)


async def exhibition_save(request: Request) -> Response:
    """``POST /admin/exhibitions/{exhibition_id}``: title, summary, access, published."""
    return await _post(request, "exhibition.update", lambda form: lambda data: _details(form, data))


async def exhibition_delete(request: Request) -> Response:
    """``POST /admin/exhibitions/{exhibition_id}/delete``: the records and media stay."""
    exhibition_id = request.path_params["exhibition_id"]
    form = await read_form(request)
    role, actor = request_role(request), Actor.from_request(request)

    def delete(session: Session) -> None:
        exhibition = exhibition_for_staff(session, exhibition_id, role)
        before = describe(session, exhibition)
        if form.get("confirm") != "1":
            raise ValidationError(
                N_("Tick the box to confirm that the exhibition is to be deleted."),
                parameter="confirm",
            )
        # Deleting a published exhibition takes it from visitors, like unpublishing it.
        if exhibition.published and not has_permission(role, "publish"):
            raise Forbidden(N_("Only curators may delete a published exhibition."))
        remove_exhibition(session, exhibition_id)
        log_change(session, actor, "exhibition.delete", "exhibition", exhibition_id, before)

    await get_museum(request).db.run(delete, write=True)
    return redirect(request, "admin_exhibitions")


# Stops


def _stop_fields(form: Mapping[str, str], stop: dict[str, Any]) -> Errors:
    errors: Errors = {}
    stop["record_id"] = form.get("record_id", "").strip() or None
    stop["asset_id"] = form.get("asset_id", "").strip() or None
    stop["title"] = merged(stop.get("title", {}), parse_texts(form, "title", LANGUAGES, errors))
    stop["text"] = merged(stop.get("text", {}), parse_texts(form, "text", LANGUAGES, errors))
    return errors


def _the_stop(data: Description, number: int, form: Mapping[str, str]) -> int:
    """The list index of stop ``number``, when the form's key says it is still that stop."""
    stops = data["stops"]
    if not 1 <= number <= len(stops):
        raise NotFound(
            N_("This exhibition has no stop {number}."), parameter="number", number=number
        )
    if form.get("stop_key", "") != stop_key(stops[number - 1]):
        raise Conflict(
            N_(
                "The stops of this exhibition changed after you opened the page. "
                "Reload it and try again."
            ),
            parameter="stop_key",
        )
    return number - 1


StopEdit = Callable[[Description, int, Mapping[str, str]], Errors]


async def _stop_post(request: Request, action: str, edit: StopEdit) -> Response:
    exhibition_id = request.path_params["exhibition_id"]
    number: int = request.path_params["number"]
    form = await read_form(request)
    role, actor = request_role(request), Actor.from_request(request)

    def change(data: Description) -> Errors:
        return edit(data, _the_stop(data, number, form), form)

    errors = await get_museum(request).db.run(
        lambda s: _apply(s, exhibition_id, role, actor, action, change, number), write=True
    )
    key = f"stop-{number}"
    if errors:
        return await render_edit(request, exhibition_id, 422, {key: form}, {key: errors})
    return redirect(request, "admin_exhibition", fragment="stops", exhibition_id=exhibition_id)


def _update_stop(data: Description, index: int, form: Mapping[str, str]) -> Errors:
    return _stop_fields(form, data["stops"][index])


def _move_stop(data: Description, index: int, form: Mapping[str, str]) -> Errors:
    direction = form.get("direction", "")
    if direction not in DIRECTIONS:
        raise BadRequest(
            N_("{name} must be one of: {choices}."),
            parameter="direction",
            name="direction",
            choices=", ".join(DIRECTIONS),
        )
    other = index - 1 if direction == "up" else index + 1
    stops = data["stops"]
    if 0 <= other < len(stops):
        stops[index], stops[other] = stops[other], stops[index]
    return {}


def _delete_stop(data: Description, index: int, form: Mapping[str, str]) -> Errors:
    del data["stops"][index]
    return {}


async def stop_add(request: Request) -> Response:
    """``POST /admin/exhibitions/{exhibition_id}/stops``: a new stop at the end."""
    exhibition_id = request.path_params["exhibition_id"]
    form = await read_form(request)
    role, actor = request_role(request), Actor.from_request(request)

    def add(data: Description) -> Errors:
        stop: dict[str, Any] = {}
        errors = _stop_fields(form, stop)
        data["stops"].append(stop)
        return errors

    def run(session: Session) -> Errors:
        exhibition = exhibition_for_staff(session, exhibition_id, role)
        number = len(describe(session, exhibition)["stops"]) + 1
        return _apply(session, exhibition_id, role, actor, "exhibition.stop_add", add, number)

    errors = await get_museum(request).db.run(run, write=True)
    if errors:
        key = "new-stop"
        return await render_edit(request, exhibition_id, 422, {key: form}, {key: errors})
    return redirect(request, "admin_exhibition", fragment="stops", exhibition_id=exhibition_id)


async def stop_save(request: Request) -> Response:
    """``POST /admin/exhibitions/{exhibition_id}/stops/{number}``: its record, asset, texts."""
    return await _stop_post(request, "exhibition.stop_update", _update_stop)


async def stop_move(request: Request) -> Response:
    """``POST /admin/exhibitions/{exhibition_id}/stops/{number}/move`` with ``direction``."""
    return await _stop_post(request, "exhibition.stop_move", _move_stop)


async def stop_delete(request: Request) -> Response:
    """``POST /admin/exhibitions/{exhibition_id}/stops/{number}/delete``."""
    return await _stop_post(request, "exhibition.stop_delete", _delete_stop)
