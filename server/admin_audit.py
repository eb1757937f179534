"""``/admin/audit``: the audit log, newest first, filtered; and its CSV export.

Filters (all optional, combined): ``actor`` (exact, e.g. ``lan`` or ``cli:root``),
``action`` (exact, or every action under a prefix ending in ``.``, e.g. ``user.``),
``type`` and ``object`` (the object's type and id), ``from`` and ``to`` (days,
``YYYY-MM-DD``, Vietnam time, both included). Each row unfolds into the fields the
change touched, before and after.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.admin import PRIVATE_HEADERS
from server.admin_lists import (
    PAGE_SIZE,
    date_filter,
    day_start_utc,
    local_time_seconds,
    next_day_start_utc,
    page_number,
    pager,
    text_filter,
)
from server.audit import changed_fields
from server.errors import N_, BadRequest
from server.models import AuditEntry, utcnow
from server.state import Museum, get_museum

CSV_BATCH = 500
MAX_VALUE = 400  # characters of one value shown in the diff
CSV_COLUMNS = (
    "id",
    "at_utc",
    "actor",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "address",
    "changed",
    "before",
    "after",
)
# A spreadsheet would run a cell starting with these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    start: date | None = None
    end: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.actor:
            found.append(AuditEntry.actor == self.actor)
        if self.action.endswith("."):
            found.append(AuditEntry.action.startswith(self.action, autoescape=True))
        elif self.action:
            found.append(AuditEntry.action == self.action)
        if self.object_type:
            found.append(AuditEntry.object_type == self.object_type)
        if self.object_id:
            found.append(AuditEntry.object_id == self.object_id)
        if self.start is not None:
            found.append(AuditEntry.at >= day_start_utc(self.start))
        if self.end is not None:
            found.append(AuditEntry.at < next_day_start_utc(self.end))
        return found

    @property
    def active(self) -> bool:
        return any((self.actor, self.action, self.object_type, self.object_id)) or bool(
            self.start or self.end
        )


def parse_filter(request: Request) -> AuditFilter:
    found = AuditFilter(
        actor=text_filter(request, "actor"),
        action=text_filter(request, "action"),
        object_type=text_filter(request, "type"),
        object_id=text_filter(request, "object"),
        start=date_filter(request, "from"),
        end=date_filter(request, "to"),
    )
    if found.start and found.end and found.start > found.end:
        raise BadRequest(N_("The date from must not be after the date to."), parameter="from")
    return found


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    address: str
    changes: list[FieldChange]
    unchanged: int


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"


def field_diff(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[list[FieldChange], int]:
    """The fields that differ (before → after) and how many others stayed the same."""
    fields = changed_fields(before, after)
    old, new = before or {}, after or {}
    unchanged = len((old.keys() | new.keys()) - set(fields))
    return [FieldChange(f, _shown(old.get(f)), _shown(new.get(f))) for f in fields], unchanged


def _row(entry: AuditEntry) -> AuditRow:
    changes, unchanged = field_diff(entry.before, entry.after)
    return AuditRow(
        id=entry.id,
        at=local_time_seconds(entry.at),
        actor=entry.actor,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        address=entry.address,
        changes=changes,
        unchanged=unchanged,
    )


def read_page(
    session: Session, where: AuditFilter, offset: int, limit: int
) -> tuple[list[AuditRow], int, list[str], list[str]]:
    """One page of entries, the total, and the actions and object types there are."""
    conditions = where.conditions()
    total = int(
        session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    )
    entries = session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .offset(offset)
        .limit(limit)
    )
    actions = sorted(session.scalars(select(AuditEntry.action).distinct()))
    types = sorted(session.scalars(select(AuditEntry.object_type).distinct()))
    return [_row(e) for e in entries], total, actions, types


async def audit_page(request: Request) -> Response:
    """``/admin/audit``: the log, newest first, 50 to a page."""
    museum = get_museum(request)
    where = parse_filter(request)
    number = page_number(request)
    rows, total, actions, types = await museum.db.run(
        lambda s: read_page(s, where, (number - 1) * PAGE_SIZE, PAGE_SIZE)
    )
    query = request.url.query
    context = {
        "entries": rows,
        "filter": where,
        "actions": actions,
        "types": types,
        "pager": pager(request, number, total),
        "csv_url": request.url_for("admin_audit_csv").path + (f"?{query}" if query else ""),
    }
    return museum.templates.TemplateResponse(
        request, "admin_audit.html", context, headers=PRIVATE_HEADERS
    )


def csv_cell(value: Any) -> str:
    """A value as spreadsheet-safe text: a leading formula character is quoted away."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_line(entry: AuditEntry) -> list[str]:
    return [
        str(entry.id),
        entry.at.isoformat(timespec="seconds") + "Z",
        csv_cell(entry.actor),
        "" if entry.actor_id is None else str(entry.actor_id),
        csv_cell(entry.action),
        csv_cell(entry.object_type),
        csv_cell(entry.object_id),
        csv_cell(entry.address),
        csv_cell(" ".join(changed_fields(entry.before, entry.after))),
        csv_cell(entry.before),
        csv_cell(entry.after),
    ]


def _batch(session: Session, where: AuditFilter, below: int | None) -> list[list[str]]:
    query = select(AuditEntry).where(*where.conditions())
    if below is not None:
        query = query.where(AuditEntry.id < below)
    entries = session.scalars(query.order_by(AuditEntry.id.desc()).limit(CSV_BATCH))
    return [csv_line(e) for e in entries]


async def csv_rows(museum: Museum, where: AuditFilter) -> AsyncIterator[str]:
    """The CSV text, a batch at a time (keyset paging: the log only grows at the top)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buffer.getvalue()  # the BOM makes spreadsheets read UTF-8
    below: int | None = None
    while True:
        lines = await museum.db.run(functools.partial(_batch, where=where, below=below))
        if not lines:
            return
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(lines)
        yield buffer.getvalue()
        below = int(lines[-1][0])


async def audit_csv(request: Request) -> Response:
    """``/admin/audit.csv``: the entries the same filters choose, newest first, as CSV."""
    museum = get_museum(request)
    where = parse_filter(request)
    name = f"audit-log-{utcnow():%Y%m%d-%H%M}.csv"
    return StreamingResponse(
        csv_rows(museum, where),
        media_type="text/csv; charset=utf-8",
        headers={**PRIVATE_HEADERS, "content-disposition": f'attachment; filename="{name}"'},
    )
