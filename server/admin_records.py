"""The record editor of the staff interface: the list, a new record, editing, publishing.

Every change is one transaction that writes the change, one record version
(:mod:`server.record_versions`), one audit entry, and the record's search row. Who may do
what comes from :mod:`server.policy`: editors change drafts and records in review and
send them to review; curators also change published records, publish and withdraw, and
set the access level and embargo. A record the role may not see in the staff interface
answers 404, one it may see but not change 403.

The edit form carries the version it was read at; a save on top of a newer version
answers 409 with what changed meanwhile, keeping what was typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.admin_common import (
    embargo_day,
    form_int,
    gettext_for,
    like_pattern,
    parse_embargo,
    read_form,
    record_for_staff,
    redirect,
    render,
    rendered_errors,
    request_role,
)
from server.admin_lists import choice_filter, local_time, page_number, pager, text_filter
from server.admin_media import licence_choices, licence_menu, media_rows
from server.audit import Actor, log_change, snapshot
from server.errors import N_, BadRequest, Forbidden
from server.models import Record, utcnow
from server.policy import (
    PUBLISHED,
    RECORD_STATES,
    access_levels_for,
    allowed_transitions,
    can_edit_record,
    can_transition,
    has_permission,
)
from server.record_form import (
    ID_FIELD,
    SECTIONS,
    Errors,
    FieldError,
    apply_form,
    field_label,
    form_values,
    language_groups,
    parse_record_form,
    version_form_values,
)
from server.record_versions import (
    ACCESS_NOTE,
    CREATED_NOTE,
    Change,
    diff,
    get_version,
    keep_baseline,
    latest_number,
    record_data,
    save_version,
)
from server.search import index_record, query_tokens
from server.state import get_museum
from server.vocab import ACCESS_LEVELS, KINDS, LANGUAGE_NAMES

PER_PAGE = 50


# The list


@dataclass(frozen=True)
class ListQuery:
    q: str = ""
    status: str = ""
    kind: str = ""
    access: str = ""
    page: int = 1


def parse_list_query(request: Request, role: str) -> ListQuery:
    return ListQuery(
        q=text_filter(request, "q"),
        status=choice_filter(request, "status", tuple(RECORD_STATES)),
        kind=choice_filter(request, "kind", tuple(KINDS)),
        access=choice_filter(request, "access", access_levels_for(role)),
        page=page_number(request),
    )


def find_records(session: Session, query: ListQuery, role: str) -> tuple[list[Record], int]:
    """One page of the records the role may see in the staff interface, newest change first."""
    from server.models import RecordSearch

    statement = (
        select(Record)
        .outerjoin(RecordSearch, RecordSearch.record_id == Record.id)
        .where(Record.deleted_at.is_(None), Record.access_level.in_(access_levels_for(role)))
    )
    for column, value in (
        (Record.status, query.status),
        (Record.kind, query.kind),
        (Record.access_level, query.access),
    ):
        if value:
            statement = statement.where(column == value)
    for token in query_tokens(query.q):
        pattern = like_pattern(token)
        statement = statement.where(
            or_(
                RecordSearch.title.like(pattern, escape="\\"),
                RecordSearch.body.like(pattern, escape="\\"),
                Record.id.ilike(pattern, escape="\\"),
            )
        )
    total = int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
    rows = session.scalars(
        statement.order_by(Record.updated_at.desc(), Record.id)
        .offset((query.page - 1) * PER_PAGE)
        .limit(PER_PAGE)
    )
    return list(rows), total


async def records_list(request: Request) -> Response:
    """``GET /admin/records``: search, filter by status, kind and access, page."""
    role = request_role(request)
    query = parse_list_query(request, role)
    records, total = await get_museum(request).db.run(lambda s: find_records(s, query, role))
    return render(
        request,
        "admin_records.html",
        {
            "records": records,
            "query": query,
            "pager": pager(request, query.page, total, PER_PAGE),
            "record_states": RECORD_STATES,
            "kinds": KINDS,
            "access_levels": {k: ACCESS_LEVELS[k] for k in access_levels_for(role)},
            "local_time": local_time,
        },
    )


# The edit page


@dataclass
class EditPage:
    """What the edit page needs besides the form's values and problems."""

    record: Record | None
    version: int = 0
    assets: list[Any] | None = None
    conflict: list[Change] | None = None


def _page_context(
    request: Request,
    page: EditPage,
    values: Mapping[str, str],
    errors: Mapping[str, FieldError],
    media_input: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    role = request_role(request)
    record = page.record
    main_languages, more_languages = language_groups()
    gettext = gettext_for(request)
    licences = licence_choices(gettext)
    context: dict[str, Any] = {
        "record": record,
        "values": values,
        "errors": rendered_errors(errors, request),
        "sections": SECTIONS,
        "id_field": ID_FIELD,
        "main_languages": main_languages,
        "more_languages": more_languages,
        "record_version": page.version,
        "record_states": RECORD_STATES,
        "access_levels": ACCESS_LEVELS,
        "role_levels": access_levels_for(role),
        "can_publish": has_permission(role, "publish"),
        "conflict": page.conflict,
        "field_label": lambda name: field_label(name, gettext),
        "notice": request.query_params.get("notice", ""),
        "assets": page.assets or [],
        "media_input": media_input or {},
        "language_names": LANGUAGE_NAMES,
        "licences": licences,
        "licence_menu": lambda current: licence_menu(licences, current),
        "local_time": local_time,
    }
    if record is not None:
        context["can_edit"] = can_edit_record(role, record.status, record.access_level)
        context["transitions"] = allowed_transitions(role, record.status, record.access_level)
        context["embargo"] = values.get("embargo_until", embargo_day(record.embargo_until))
        context["access_value"] = values.get("access_level", record.access_level)
    return context


def _load_page(session: Session, record_id: str, role: str) -> EditPage:
    record = record_for_staff(session, record_id, role)
    return EditPage(record, latest_number(session, record.id), media_rows(session, record, role))


async def render_edit_page(
    request: Request,
    record_id: str,
    status: int = 200,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, FieldError] | None = None,
    conflict: list[Change] | None = None,
    media_input: Mapping[str, Any] | None = None,
) -> Response:
    """The edit page as stored, or re-shown with what was typed and its problems."""
    role = request_role(request)
    page = await get_museum(request).db.run(lambda s: _load_page(s, record_id, role))
    page.conflict = conflict
    assert page.record is not None
    shown = dict(form_values(page.record))
    shown.update(values or {})
    context = _page_context(request, page, shown, errors or {}, media_input)
    return render(request, "admin_record_edit.html", context, status)


async def record_edit(request: Request) -> Response:
    """``GET /admin/records/{record_id}``: every catalog field, publishing, media."""
    return await render_edit_page(request, request.path_params["record_id"])


async def record_new(request: Request) -> Response:
    """``GET /admin/records/new``: the form for a new draft."""
    context = _page_context(request, EditPage(None), form_values(None), {})
    return render(request, "admin_record_edit.html", context)


async def record_create(request: Request) -> Response:
    """``POST /admin/records``: a new record, as a draft."""
    values = await read_form(request)
    actor = Actor.from_request(request)

    def create(session: Session) -> tuple[str | None, Errors]:
        parsed, errors = parse_record_form(session, values, None)
        if parsed is None:
            return None, errors
        record = apply_form(session, parsed)
        save_version(session, record, actor, CREATED_NOTE)
        index_record(session, record)
        log_change(session, actor, "record.create", "record", record.id, None, snapshot(record))
        return record.id, {}

    record_id, errors = await get_museum(request).db.run(create, write=True)
    if record_id is None:
        context = _page_context(request, EditPage(None), values, errors)
        return render(request, "admin_record_edit.html", context, 422)
    return redirect(request, "admin_record", query="notice=created", record_id=record_id)


@dataclass(frozen=True)
class SaveOutcome:
    """``saved``, ``unchanged``, ``invalid`` (``errors``) or ``conflict`` (``changes``)."""

    result: str
    errors: Errors | None = None
    changes: list[Change] | None = None
    base: dict[str, str] | None = None  # on conflict: the form as it was first shown


def save_record(
    session: Session, record_id: str, values: Mapping[str, str], role: str, actor: Actor
) -> SaveOutcome:
    """Check and write one edit of a stored record (see the module docstring)."""
    record = record_for_staff(session, record_id, role, lock=True)
    if not can_edit_record(role, record.status, record.access_level):
        raise Forbidden(N_("Only curators may change a published record. Ask a curator."))
    sent = form_int(values, "version")
    current = latest_number(session, record.id)
    if sent > current:
        raise BadRequest(
            N_(
                "The form names version {number}, which this record does not have. Reload the page."
            ),
            parameter="version",
            number=sent,
        )
    if sent != current:  # someone saved meanwhile: show what they changed since version `sent`
        base = get_version(session, record.id, max(sent, 1)).data
        shown = version_form_values(record.id, base)
        return SaveOutcome("conflict", changes=diff(base, record_data(record)), base=shown)
    parsed, errors = parse_record_form(session, values, record)
    if parsed is None:
        return SaveOutcome("invalid", errors=errors)
    before, data = snapshot(record), record_data(record)
    apply_form(session, parsed)
    if record_data(record) == data:
        return SaveOutcome("unchanged")
    keep_baseline(session, record, actor, data)
    save_version(session, record, actor)
    index_record(session, record)
    log_change(session, actor, "record.update", "record", record.id, before, snapshot(record))
    return SaveOutcome("saved")


async def record_save(request: Request) -> Response:
    """``POST /admin/records/{record_id}``: save the edit form."""
    record_id = request.path_params["record_id"]
    values = await read_form(request)
    role, actor = request_role(request), Actor.from_request(request)
    outcome = await get_museum(request).db.run(
        lambda s: save_record(s, record_id, values, role, actor), write=True
    )
    if outcome.result == "conflict":
        # The stored record, with only what this person changed on top: saving again must
        # not silently undo the other person's changes to fields this person left alone.
        base = outcome.base or {}
        mine = {k: v for k, v in _typed(values).items() if v != base.get(k, "")}
        errors = {"version": FieldError(CONFLICT_MESSAGE)}
        return await render_edit_page(request, record_id, 409, mine, errors, outcome.changes)
    if outcome.result == "invalid":
        return await render_edit_page(request, record_id, 422, _typed(values), outcome.errors)
    return redirect(request, "admin_record", query=f"notice={outcome.result}", record_id=record_id)


CONFLICT_MESSAGE = N_(
    "Someone else saved this record after you opened it. Their changes are listed below; "
    "the form shows the record as they saved it with your changes on top. Check it and "
    "save again."
)


def _typed(values: Mapping[str, str]) -> dict[str, str]:
    """What was typed, without the page's own fields (the version is the stored one)."""
    return {k: v for k, v in values.items() if k not in {"version", "csrf_token"}}


# Publishing: status, access level, embargo


@dataclass(frozen=True)
class StatusChange:
    to: str
    access_level: str | None
    embargo: str | None  # the form's text; None when not sent


def _status_change(values: Mapping[str, str]) -> StatusChange:
    to = values.get("to", "")
    if to and to not in RECORD_STATES:
        raise BadRequest(
            N_("Unknown value {value} for {name}; use one of: {choices}."),
            parameter="to",
            name="to",
            value=to,
            choices=", ".join(RECORD_STATES),
        )
    return StatusChange(to, values.get("access_level"), values.get("embargo_until"))


def change_status(
    session: Session, record_id: str, change: StatusChange, role: str, actor: Actor
) -> Errors | None:
    """Apply a status change and/or an access or embargo change; problems, or None."""
    record = record_for_staff(session, record_id, role, lock=True)
    if not can_edit_record(role, record.status, record.access_level):
        raise Forbidden(N_("Only curators may change a published record. Ask a curator."))
    errors: Errors = {}
    updates: dict[str, Any] = {}
    if change.to and change.to != record.status:
        if not can_transition(role, record.status, change.to, record.access_level):
            raise Forbidden(
                N_("Your role may not move a record from {old} to {new}."),
                old=record.status,
                new=change.to,
            )
        updates["status"] = change.to
    new_access = change.access_level is not None and change.access_level != record.access_level
    new_embargo = change.embargo is not None and change.embargo.strip() != embargo_day(
        record.embargo_until
    )
    if (new_access or new_embargo) and not has_permission(role, "publish"):
        raise Forbidden(N_("Only curators may change the access level or the embargo."))
    if new_access:
        if change.access_level not in ACCESS_LEVELS:
            errors["access_level"] = FieldError(
                N_("unknown access level; use one of: {choices}"),
                {"choices": ", ".join(ACCESS_LEVELS)},
            )
        updates["access_level"] = change.access_level
    if new_embargo:
        updates["embargo_until"] = parse_embargo(change.embargo or "", errors)
    if errors:
        return errors
    if not updates:
        return None
    before, data = snapshot(record), record_data(record)
    keep_baseline(session, record, actor, data)
    for name, value in updates.items():
        setattr(record, name, value)
    if record.status == PUBLISHED and record.published_at is None:
        record.published_at = utcnow()
    save_version(session, record, actor, updates.get("status", ACCESS_NOTE))
    index_record(session, record)
    action = "record.status" if "status" in updates else "record.access"
    log_change(session, actor, action, "record", record.id, before, snapshot(record))
    return None


async def record_status(request: Request) -> Response:
    """``POST /admin/records/{record_id}/status``: ``to=`` a state; access level, embargo."""
    record_id = request.path_params["record_id"]
    values = await read_form(request)
    change = _status_change(values)
    role, actor = request_role(request), Actor.from_request(request)
    errors = await get_museum(request).db.run(
        lambda s: change_status(s, record_id, change, role, actor), write=True
    )
    if errors:
        typed: dict[str, str] = {
            k: values[k] for k in ("access_level", "embargo_until") if k in values
        }
        return await render_edit_page(request, record_id, 422, typed, errors)
    return redirect(
        request, "admin_record", query="notice=status", fragment="publishing", record_id=record_id
    )
