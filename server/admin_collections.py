"""Collections in the staff interface: the list, a new collection, its details and its records.

A collection groups records in an order (the API and IIIF list them so; each record still
shows only where its own status and access allow). Editors create and change collections;
only curators change their access level, so a collection an editor creates stays at
"museum staff" until a curator opens it. Each change writes one audit entry with the whole
collection (its members in order) before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.admin_common import (
    edit_page_context,
    parse_texts,
    read_form,
    record_for_staff,
    redirect,
    render,
    request_role,
)
from server.admin_exhibitions import LANGUAGES, merged, record_choices
from server.audit import Actor, log_change
from server.errors import N_, BadRequest, Conflict, Forbidden, NotFound
from server.exhibitions import EXHIBITION_ID
from server.models import Collection, CollectionRecord, Record
from server.policy import access_levels_for, can_see_in_admin, has_permission
from server.record_form import Errors, FieldError
from server.state import get_museum
from server.vocab import ACCESS_LEVELS

DIRECTIONS = ("up", "down")
EDITOR_DEFAULT_ACCESS = "staff"

Description = dict[str, Any]


def collection_for_staff(
    session: Session, collection_id: str, role: str, lock: bool = False
) -> Collection:
    collection = session.get(Collection, collection_id, with_for_update=lock)
    if collection is None or not can_see_in_admin(role, collection.access_level):
        raise NotFound(
            N_("No collection with id {id}."), parameter="collection_id", id=collection_id
        )
    return collection


def member_ids(session: Session, collection_id: str) -> list[str]:
    return list(
        session.scalars(
            select(CollectionRecord.record_id)
            .where(CollectionRecord.collection_id == collection_id)
            .order_by(CollectionRecord.position, CollectionRecord.record_id)
        )
    )


def describe(session: Session, collection: Collection) -> Description:
    return {
        "id": collection.id,
        "title": dict(collection.title),
        "description": dict(collection.description or {}),
        "access_level": collection.access_level,
        "records": member_ids(session, collection.id),
    }


def _write(session: Session, data: Description) -> None:
    collection = session.get(Collection, data["id"]) or Collection(id=data["id"])
    collection.title = data["title"]
    collection.description = data["description"]
    collection.access_level = data["access_level"]
    session.add(collection)
    session.flush()
    session.execute(delete(CollectionRecord).where(CollectionRecord.collection_id == data["id"]))
    session.add_all(
        CollectionRecord(collection_id=data["id"], record_id=record_id, position=position)
        for position, record_id in enumerate(data["records"], 1)
    )
    session.flush()


# Pages


async def collections_list(request: Request) -> Response:
    """``GET /admin/collections``."""
    role = request_role(request)

    def load(session: Session) -> list[tuple[Collection, int]]:
        counts = dict(
            session.execute(
                select(CollectionRecord.collection_id, func.count()).group_by(
                    CollectionRecord.collection_id
                )
            ).all()
        )
        found = session.scalars(
            select(Collection)
            .where(Collection.access_level.in_(access_levels_for(role)))
            .order_by(Collection.id)
        )
        return [(c, int(counts.get(c.id, 0))) for c in found]

    rows = await get_museum(request).db.run(load)
    return render(
        request, "admin_collections.html", {"collections": rows, "access_levels": ACCESS_LEVELS}
    )


def _edit_context(session: Session, collection_id: str, role: str) -> dict[str, Any]:
    collection = collection_for_staff(session, collection_id, role)
    ids = member_ids(session, collection.id)
    records = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(ids)))}
    return {
        "collection": collection,
        "members": [records[i] for i in ids if i in records],
        "record_choices": record_choices(session, role),
    }


async def render_edit(
    request: Request,
    collection_id: str | None,
    status: int = 200,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    errors: Mapping[str, Errors] | None = None,
) -> Response:
    role = request_role(request)
    if collection_id is None:
        context: dict[str, Any] = {"collection": None, "members": [], "record_choices": []}
    else:
        context = await get_museum(request).db.run(lambda s: _edit_context(s, collection_id, role))
    context.update(edit_page_context(request, role, typed, errors))
    return render(request, "admin_collection_edit.html", context, status)


async def collection_new(request: Request) -> Response:
    """``GET /admin/collections/new``."""
    return await render_edit(request, None)


async def collection_edit(request: Request) -> Response:
    """``GET /admin/collections/{collection_id}``: details and member records."""
    return await render_edit(request, request.path_params["collection_id"])


# Changes

Change = Callable[[Session, Description], Errors]


def _details(form: Mapping[str, str], data: Description) -> Errors:
    errors: Errors = {}
    title = parse_texts(form, "title", LANGUAGES, errors, required=("vi",))
    summary = parse_texts(form, "description", LANGUAGES, errors)
    data["title"] = merged(data.get("title", {}), title)
    data["description"] = merged(data.get("description", {}), summary)
    if "access_level" in form:  # the curators' form (checked in _apply)
        access = form["access_level"]
        if access not in ACCESS_LEVELS:
            errors["access_level"] = FieldError(
                N_("unknown access level; use one of: {choices}"),
                {"choices": ", ".join(ACCESS_LEVELS)},
            )
        data["access_level"] = access
    return errors


def _apply(
    session: Session, collection_id: str, role: str, actor: Actor, action: str, change: Change
) -> Errors:
    collection = collection_for_staff(session, collection_id, role, lock=True)
    before = describe(session, collection)
    after = {**before, "records": list(before["records"])}
    errors = change(session, after)
    if errors or after == before:
        return errors
    if after["access_level"] != before["access_level"] and not has_permission(role, "publish"):
        raise Forbidden(N_("Only curators may change the access level or the embargo."))
    _write(session, after)
    log_change(session, actor, action, "collection", collection_id, before, after)
    return {}


async def collection_create(request: Request) -> Response:
    """``POST /admin/collections``: a new, empty collection."""
    form = await read_form(request)
    role, actor = request_role(request), Actor.from_request(request)
    collection_id = form.get("id", "").strip()

    def create(session: Session) -> Errors:
        data: Description = {
            "id": collection_id,
            "access_level": EDITOR_DEFAULT_ACCESS,
            "records": [],
        }
        errors = _details(form, data)
        if data["access_level"] != EDITOR_DEFAULT_ACCESS and not has_permission(role, "publish"):
            raise Forbidden(N_("Only curators may change the access level or the embargo."))
        if not EXHIBITION_ID.fullmatch(collection_id):
            errors["id"] = FieldError(
                N_("use 1–64 lowercase letters, digits and hyphens, e.g. gongs-of-buon-don")
            )
        elif session.get(Collection, collection_id) is not None:
            errors["id"] = FieldError(
                N_("a collection with identifier {value} already exists"),
                {"value": collection_id},
            )
        if errors:
            return errors
        _write(session, data)
        log_change(session, actor, "collection.create", "collection", collection_id, None, data)
        return {}

    errors = await get_museum(request).db.run(create, write=True)
    if errors:
        return await render_edit(request, None, 422, {"details": form}, {"details": errors})
    return redirect(request, "admin_collection", collection_id=collection_id)


async def _post(request: Request, action: str, key: str, change: Change) -> Response:
    collection_id = request.path_params["collection_id"]
    role, actor = request_role(request), Actor.from_request(request)
    errors = await get_museum(request).db.run(
        lambda s: _apply(s, collection_id, role, actor, action, change), write=True
    )
    if errors:
        form = await read_form(request)
        return await render_edit(request, collection_id, 422, {key: form}, {key: errors})
    return redirect(request, "admin_collection", fragment=key, collection_id=collection_id)


async def collection_save(request: Request) -> Response:
    """``POST /admin/collections/{collection_id}``: title, description, access level."""
    form = await read_form(request)
    return await _post(
        request, "collection.update", "details", lambda s, data: _details(form, data)
    )


async def member_add(request: Request) -> Response:
    """``POST /admin/collections/{collection_id}/records``: a record at the end."""
    form = await read_form(request)
    role = request_role(request)
    record_id = form.get("record_id", "").strip()

    def add(session: Session, data: Description) -> Errors:
        try:
            record_for_staff(session, record_id, role)
        except NotFound:
            return {
                "record_id": FieldError(
                    N_("no heritage item with id {value}"), {"value": record_id}
                )
            }
        if record_id in data["records"]:
            return {
                "record_id": FieldError(
                    N_("record {value} is already in this collection"), {"value": record_id}
                )
            }
        data["records"].append(record_id)
        return {}

    return await _post(request, "collection.record_add", "members", add)


def _member_index(data: Description, record_id: str) -> int:
    try:
        return int(data["records"].index(record_id))
    except ValueError:
        raise Conflict(
            N_("Record {id} is no longer in this collection. Reload the page."),
            parameter="record_id",
            id=record_id,
        ) from None


async def member_move(request: Request) -> Response:
    """``POST /admin/collections/{collection_id}/records/{record_id}/move`` with ``direction``."""
    form = await read_form(request)
    record_id = request.path_params["record_id"]
    direction = form.get("direction", "")

    def move(session: Session, data: Description) -> Errors:
        if direction not in DIRECTIONS:
            raise BadRequest(
                N_("{name} must be one of: {choices}."),
                parameter="direction",
                name="direction",
                choices=", ".join(DIRECTIONS),
            )
        records = data["records"]
        index = _member_index(data, record_id)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(records):
            records[index], records[other] = records[other], records[index]
        return {}

    return await _post(request, "collection.record_move", "members", move)


async def member_remove(request: Request) -> Response:
    """``POST /admin/collections/{collection_id}/records/{record_id}/delete``."""
    record_id = request.path_params["record_id"]

    def remove(session: Session, data: Description) -> Errors:
        del data["records"][_member_index(data, record_id)]
        return {}

    return await _post(request, "collection.record_remove", "members", remove)
