"""Record versions: a snapshot of a record's catalog fields after every change, diff and revert.

Every change of a record through the staff interface (and the review of machine drafts)
calls :func:`save_version` once, after the change, in the change's own transaction. A
record imported before versions existed has none: the first change then also keeps the
state before it as version 1 (:func:`keep_baseline`), so the history always starts from
what visitors saw.

Snapshots are plain JSON (dates as ISO text), so they read the same on both engines and
survive schema changes; :func:`revert` turns them back into column values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import DateTime, func, inspect, select
from sqlalchemy.orm import Session

from server.audit import Actor, log_change, snapshot
from server.errors import N_, Conflict, NotFound
from server.models import Record, RecordVersion, utcnow
from server.policy import PUBLISHED
from server.search import index_record

# Columns a version does not keep: identity, bookkeeping, and the first publication date
# (set once by publishing, never by editing).
UNVERSIONED = frozenset({"id", "created_at", "updated_at", "deleted_at", "published_at"})
CATALOG_FIELDS: tuple[str, ...] = tuple(
    column.key for column in Record.__table__.columns if column.key not in UNVERSIONED
)
DATETIME_FIELDS = frozenset(
    column.key
    for column in Record.__table__.columns
    if column.key in CATALOG_FIELDS and isinstance(column.type, DateTime)
)
# Multilingual text maps: a diff shows one line per language.
LANGUAGE_FIELDS = frozenset({"title", "description", "alt_titles", "significance", "credit_line"})
LIST_SEPARATOR = "; "
BASELINE_NOTE = N_("before the first edit")
CREATED_NOTE = N_("created")
ACCESS_NOTE = N_("access changed")
REVERT_NOTE = "reverted to {number}"
CURRENT = "current"


class Change(NamedTuple):
    """One difference: ``field`` is a column name, or ``title.vi`` for one language of a map."""

    field: str
    before: str
    after: str


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def record_data(record: Record) -> dict[str, Any]:
    """The record's catalog fields as JSON-ready data."""
    return {name: _json(getattr(record, name)) for name in CATALOG_FIELDS}


def _unsaved_data(record: Record) -> dict[str, Any]:
    """The record as last loaded from the database, before changes not yet flushed."""
    state = inspect(record)
    data = {}
    for name in CATALOG_FIELDS:
        history = state.attrs[name].history
        value = history.deleted[0] if history.deleted else getattr(record, name)
        data[name] = _json(value)
    return data


def latest_number(session: Session, record_id: str) -> int:
    """The number of the record's newest version; 0 when it has none."""
    number = session.scalar(
        select(func.max(RecordVersion.number)).where(RecordVersion.record_id == record_id)
    )
    return int(number or 0)


def _author(actor: Actor | str) -> str:
    return actor if isinstance(actor, str) else actor.name


def _add(
    session: Session, record_id: str, number: int, data: dict[str, Any], author: str, note: str
) -> RecordVersion:
    version = RecordVersion(
        record_id=record_id,
        number=number,
        data=data,
        author=author,
        note=note,
        created_at=utcnow(),
    )
    session.add(version)
    return version


def keep_baseline(
    session: Session, record: Record, actor: Actor | str, data: dict[str, Any] | None = None
) -> RecordVersion | None:
    """Keep the state before a change as version 1 when the record has no versions yet.

    Call before changing anything, or pass ``data``, the :func:`record_data` taken before
    the change. Does nothing when the record already has versions.
    """
    if latest_number(session, record.id) > 0:
        return None
    before = record_data(record) if data is None else data
    return _add(session, record.id, 1, before, _author(actor), BASELINE_NOTE)


def save_version(
    session: Session, record: Record, actor: Actor | str, note: str = ""
) -> RecordVersion:
    """Snapshot ``record`` (after a change) as its next version; returns the new version.

    Call once per change, in the change's transaction. When the record has no version
    yet and the change is not flushed, its previous state is kept first as version 1
    (callers that flush early should call :func:`keep_baseline` before changing it).
    """
    before = _unsaved_data(record)  # first: the query below flushes the change
    data = record_data(record)
    number = latest_number(session, record.id)
    if number == 0 and before != data:
        _add(session, record.id, 1, before, _author(actor), BASELINE_NOTE)
        number = 1
    version = _add(session, record.id, number + 1, data, _author(actor), note)
    session.flush()
    return version


def get_version(session: Session, record_id: str, number: int) -> RecordVersion:
    version = session.scalars(
        select(RecordVersion).where(
            RecordVersion.record_id == record_id, RecordVersion.number == number
        )
    ).first()
    if version is None:
        raise NotFound(
            N_("Record {record_id} has no version {number}."),
            parameter="number",
            record_id=record_id,
            number=number,
        )
    return version


def list_versions(session: Session, record_id: str) -> list[RecordVersion]:
    """Newest first."""
    return list(
        session.scalars(
            select(RecordVersion)
            .where(RecordVersion.record_id == record_id)
            .order_by(RecordVersion.number.desc())
        )
    )


# Diff


def render_value(value: Any) -> str:
    """A field value as people read it in a diff: lists joined, nothing for empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return LIST_SEPARATOR.join(
            render_value(item) if not isinstance(item, dict) else _render_map(item)
            for item in value
        )
    if isinstance(value, dict):
        return _render_map(value)
    return str(value)


def _render_map(value: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}: {render_value(item)}" for key, item in sorted(value.items()))


def diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    """What changed from snapshot ``a`` to snapshot ``b`` (both as :func:`record_data` gives).

    Multilingual maps give one :class:`Change` per language (``title.vi``), in the order
    of the catalog's fields; unchanged fields are left out.
    """
    changes: list[Change] = []
    names = [n for n in CATALOG_FIELDS if n in a or n in b]
    names += sorted((a.keys() | b.keys()) - set(CATALOG_FIELDS))
    for name in names:
        before, after = a.get(name), b.get(name)
        if before == after:
            continue
        if name in LANGUAGE_FIELDS and _is_map(before) and _is_map(after):
            old, new = before or {}, after or {}
            changes += [
                Change(f"{name}.{lang}", render_value(old.get(lang)), render_value(new.get(lang)))
                for lang in sorted(old.keys() | new.keys(), key=_language_order)
                if old.get(lang) != new.get(lang)
            ]
            continue
        changes.append(Change(name, render_value(before), render_value(after)))
    return changes


def _is_map(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _language_order(lang: str) -> tuple[int, str]:
    from server.vocab import CONTENT_LANGUAGES

    order = CONTENT_LANGUAGES.index(lang) if lang in CONTENT_LANGUAGES else len(CONTENT_LANGUAGES)
    return order, lang


# Revert


def _restore(record: Record, data: Mapping[str, Any]) -> None:
    for name in CATALOG_FIELDS:
        if name not in data:
            continue  # a field added after the version was taken keeps its value
        value = data[name]
        if name in DATETIME_FIELDS and isinstance(value, str):
            value = datetime.fromisoformat(value)
        setattr(record, name, value)
    if record.status == PUBLISHED and record.published_at is None:
        record.published_at = utcnow()


def revert(session: Session, record: Record, number: int, actor: Actor) -> RecordVersion:
    """Give ``record`` the catalog fields of its version ``number`` again.

    The result is itself a new version ("reverted to N"), with one audit entry; the
    search index is refreshed. A registration number that another record has taken
    since raises :class:`~server.errors.Conflict` and changes nothing.
    """
    target = get_version(session, record.id, number)
    number_wanted = target.data.get("registration_number")
    if number_wanted:
        holder = session.scalar(
            select(Record.id).where(
                Record.registration_number == number_wanted, Record.id != record.id
            )
        )
        if holder is not None:
            raise Conflict(
                N_(
                    "Version {number} has registration number {value}, which record "
                    "{record_id} now has. Change that record first."
                ),
                parameter="number",
                number=number,
                value=number_wanted,
                record_id=holder,
            )
    before = snapshot(record)
    keep_baseline(session, record, actor)
    _restore(record, target.data)
    version = save_version(session, record, actor, note=REVERT_NOTE.format(number=number))
    index_record(session, record)
    log_change(
        session,
        actor,
        "record.revert",
        "record",
        record.id,
        before,
        {**snapshot(record), "version": version.number, "reverted_to": number},
    )
    return version
