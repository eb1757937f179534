"""A record's history in the staff interface: its versions, the difference between any two
(or one and the record as it is now), and going back to a version (curators)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.admin_common import (
    form_int,
    gettext_for,
    read_form,
    record_for_staff,
    redirect,
    render,
    request_role,
)
from server.admin_lists import local_time
from server.audit import Actor
from server.errors import N_, BadRequest
from server.models import Record, RecordVersion
from server.policy import RECORD_STATES, has_permission
from server.record_form import field_label
from server.record_versions import (
    ACCESS_NOTE,
    BASELINE_NOTE,
    CREATED_NOTE,
    CURRENT,
    Change,
    diff,
    get_version,
    list_versions,
    record_data,
    revert,
)
from server.state import get_museum

_REVERTED = re.compile(r"^reverted to (\d+)$")


def note_text(note: str, gettext: Callable[[str], str]) -> str:
    """A version's note in the page's language (other notes are shown as written)."""
    if note in (BASELINE_NOTE, CREATED_NOTE, ACCESS_NOTE):
        return gettext(note)
    if note in RECORD_STATES:
        return gettext("Status: {state}").format(state=gettext(RECORD_STATES[note]))
    if match := _REVERTED.match(note):
        return gettext("Reverted to version {number}").format(number=match.group(1))
    return note


def parse_side(params: Mapping[str, str], name: str, default: str) -> str:
    """``current``, a version number, or ``default`` when absent (from the query string)."""
    value = params.get(name, "") or default
    if value and value != CURRENT and not (value.isascii() and value.isdigit()):
        raise BadRequest(
            N_("{name} must be a version number or “current”."), parameter=name, name=name
        )
    return value


@dataclass(frozen=True)
class History:
    record: Record
    versions: list[RecordVersion]
    left: str
    right: str
    changes: list[Change]


def load_history(session: Session, record_id: str, role: str, left: str, right: str) -> History:
    record = record_for_staff(session, record_id, role)
    versions = list_versions(session, record.id)

    def side(value: str) -> dict[str, Any]:
        if value == CURRENT:
            return record_data(record)
        return dict(get_version(session, record.id, int(value)).data)

    changes = diff(side(left), side(right)) if versions else []
    return History(record, versions, left, right, changes)


async def record_history(request: Request) -> Response:
    """``GET /admin/records/{record_id}/history?a=3&b=current``: versions and a diff."""
    record_id = request.path_params["record_id"]
    role = request_role(request)
    params = request.query_params
    # Default: the version before the newest one against the record as it is.
    left = parse_side(params, "a", "")
    right = parse_side(params, "b", CURRENT)

    def load(session: Session) -> History:
        chosen = left
        if not chosen:
            versions = list_versions(session, record_id)
            chosen = str(versions[1].number if len(versions) > 1 else 1)
        return load_history(session, record_id, role, chosen, right)

    history = await get_museum(request).db.run(load)
    gettext = gettext_for(request)
    return render(
        request,
        "admin_record_history.html",
        {
            "history": history,
            "record": history.record,
            "current": CURRENT,
            "note_text": lambda note: note_text(note, gettext),
            "field_label": lambda name: field_label(name, gettext),
            "can_revert": has_permission(role, "publish"),
            "notice": params.get("notice", ""),
            "local_time": local_time,
        },
    )


async def record_revert(request: Request) -> Response:
    """``POST /admin/records/{record_id}/revert`` with ``number``: back to that version."""
    record_id = request.path_params["record_id"]
    form = await read_form(request)
    number = form_int(form, "number")
    role, actor = request_role(request), Actor.from_request(request)

    def run(session: Session) -> int:
        record = record_for_staff(session, record_id, role, lock=True)
        return revert(session, record, number, actor).number

    await get_museum(request).db.run(run, write=True)
    return redirect(request, "admin_record_history", query="notice=reverted", record_id=record_id)
