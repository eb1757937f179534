"""Exhibitions as staff define them: parse a JSON description, check it, save it whole.

One exhibition is plain JSON (``docs/viewer.md``, "Exhibitions and the room")::

    {"id": "sample-media",
     "title": {"vi": "Tư liệu mẫu", "en": "Sample media"},
     "summary": {"vi": "…", "en": "…"},          # optional
     "access_level": "public",                    # optional: public (default), registered, …
     "published": true,                           # optional: false (default) keeps it a draft
     "stops": [{"record_id": "DL-ICH-01",         # each stop: a record, an asset, or both,
                "asset_id": "3f2a…",              #   or only a title (a text panel)
                "title": {"vi": "…", "en": "…"},
                "text": {"vi": "…", "en": "…"}}]}

:func:`parse_exhibition` checks the shape and refuses with the field at fault (stops are
numbered from 1, as on the pages: ``stops.2.record_id``); :func:`save_exhibition` also checks
that the records and assets exist, then replaces the exhibition and all its stops in the
caller's transaction, so a faulty description changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.errors import N_, NotFound, ValidationError
from server.i18n import nfc
from server.models import Asset, Exhibition, ExhibitionStop, Record
from server.vocab import ACCESS_LEVELS

EXHIBITION_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
MAX_STOPS = 500
MAX_TEXT = 20_000  # characters in one language of one field: a long wall text, not a book
EXHIBITION_FIELDS = ("id", "title", "summary", "access_level", "published", "stops")
STOP_FIELDS = ("record_id", "asset_id", "title", "text")

Text = dict[str, str]


@dataclass(frozen=True)
class StopSpec:
    record_id: str | None
    asset_id: str | None
    title: Text
    text: Text


@dataclass(frozen=True)
class ExhibitionSpec:
    id: str
    title: Text
    summary: Text
    access_level: str
    published: bool
    stops: tuple[StopSpec, ...]


# Parsing: shape only, no database


def parse_exhibition(data: Any) -> ExhibitionSpec:
    """An :class:`ExhibitionSpec` from decoded JSON; :class:`ValidationError` names the field."""
    fields = _object(data, "exhibition", EXHIBITION_FIELDS)
    exhibition_id = _required(fields, "id")
    if not isinstance(exhibition_id, str) or not EXHIBITION_ID.fullmatch(exhibition_id):
        raise ValidationError(
            N_(
                "Exhibition id {value} cannot be used in a web address: use 1–64 lowercase "
                "letters, digits and hyphens, e.g. sample-media."
            ),
            parameter="id",
            value=json.dumps(exhibition_id, ensure_ascii=False),
        )
    title = _text(_required(fields, "title"), "title")
    if not title.get("vi"):
        raise ValidationError(
            N_('{field} needs the Vietnamese text (the key "vi").'),
            parameter="title",
            field="title",
        )
    access = fields.get("access_level", "public")
    if access not in ACCESS_LEVELS:
        raise ValidationError(
            N_("{field} must be one of: {allowed}."),
            parameter="access_level",
            field="access_level",
            allowed=", ".join(ACCESS_LEVELS),
        )
    published = fields.get("published", False)
    if not isinstance(published, bool):
        raise ValidationError(
            N_("{field} must be true or false."), parameter="published", field="published"
        )
    return ExhibitionSpec(
        id=exhibition_id,
        title=title,
        summary=_text(fields.get("summary", {}), "summary"),
        access_level=access,
        published=published,
        stops=_stops(_required(fields, "stops")),
    )


def _stops(value: Any) -> tuple[StopSpec, ...]:
    if not isinstance(value, list):
        raise ValidationError(
            N_("{field} must be a list of stops."), parameter="stops", field="stops"
        )
    if len(value) > MAX_STOPS:
        raise ValidationError(
            N_("An exhibition may have at most {limit} stops; this one has {count}."),
            parameter="stops",
            limit=MAX_STOPS,
            count=len(value),
        )
    return tuple(_stop(item, f"stops.{number}") for number, item in enumerate(value, 1))


def _stop(value: Any, where: str) -> StopSpec:
    fields = _object(value, where, STOP_FIELDS)
    record_id = _optional_id(fields.get("record_id"), f"{where}.record_id")
    asset_id = _optional_id(fields.get("asset_id"), f"{where}.asset_id")
    title = _text(fields.get("title", {}), f"{where}.title")
    if not (record_id or asset_id or title):
        raise ValidationError(
            N_("{field} needs a record_id, an asset_id or a title."), parameter=where, field=where
        )
    return StopSpec(record_id, asset_id, title, _text(fields.get("text", {}), f"{where}.text"))


def _object(value: Any, where: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(N_("{field} must be a JSON object."), parameter=where, field=where)
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        field = unknown[0] if where == "exhibition" else f"{where}.{unknown[0]}"
        raise ValidationError(
            N_("{field} is not a known field; the fields are: {allowed}."),
            parameter=field,
            field=field,
            allowed=", ".join(allowed),
        )
    return value


def _required(fields: Mapping[str, Any], name: str) -> Any:
    if name not in fields:
        raise ValidationError(N_("{field} is required."), parameter=name, field=name)
    return fields[name]


def _optional_id(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(N_("{field} must be text."), parameter=where, field=where)
    return value.strip() or None


def _text(value: Any, where: str) -> Text:
    """``{"vi": "…", "en": "…"}``, NFC, blank languages dropped."""
    if not isinstance(value, dict):
        raise ValidationError(
            N_("{field} must be a JSON object of texts by language, such as vi and en."),
            parameter=where,
            field=where,
        )
    out: Text = {}
    for lang, text in value.items():
        if not LANGUAGE_TAG.fullmatch(lang):
            raise ValidationError(
                N_("{field}: {value} is not a language code such as vi, en or rad."),
                parameter=where,
                field=where,
                value=json.dumps(lang, ensure_ascii=False),
            )
        if not isinstance(text, str):
            field = f"{where}.{lang}"
            raise ValidationError(N_("{field} must be text."), parameter=field, field=field)
        if len(text) > MAX_TEXT:
            raise ValidationError(
                N_("{field} is longer than {limit} characters."),
                parameter=f"{where}.{lang}",
                field=f"{where}.{lang}",
                limit=MAX_TEXT,
            )
        if text.strip():
            out[lang] = nfc(text.strip())
    return out


# Reading a file


def read_exhibitions_file(path: Path) -> list[Any]:
    """The exhibitions a JSON file holds: one object, or a list of them (not yet checked)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(
            N_("Not a readable file: {path}."), parameter="file", path=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ValidationError(
            N_("{path} is not UTF-8 text."), parameter="file", path=str(path)
        ) from exc
    except json.JSONDecodeError as exc:
        raise ValidationError(
            N_("{path} is not valid JSON: {error} (line {line}, column {column})."),
            parameter="file",
            path=str(path),
            error=exc.msg,
            line=exc.lineno,
            column=exc.colno,
        ) from exc
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ValidationError(N_("{path} holds no exhibition."), parameter="file", path=str(path))
    return items


# Writing: checked against the catalog, in the caller's transaction


def save_exhibition(session: Session, data: Any) -> Exhibition:
    """Create or replace one exhibition and all its stops from its JSON description.

    ``data`` is the decoded JSON (see the module docstring). Records and assets must exist
    (a stop's asset must belong to the stop's record when both are given); the first problem
    raises :class:`ValidationError` naming the field, before anything is written.
    """
    spec = parse_exhibition(data)
    _check_references(session, spec)
    exhibition = session.get(Exhibition, spec.id) or Exhibition(id=spec.id)
    exhibition.title = spec.title
    exhibition.summary = spec.summary
    exhibition.access_level = spec.access_level
    exhibition.published = spec.published
    session.add(exhibition)
    session.execute(delete(ExhibitionStop).where(ExhibitionStop.exhibition_id == spec.id))
    session.flush()
    session.add_all(
        ExhibitionStop(
            exhibition_id=spec.id,
            position=position,
            record_id=stop.record_id,
            asset_id=stop.asset_id,
            title=stop.title,
            text=stop.text,
        )
        for position, stop in enumerate(spec.stops, 1)
    )
    session.flush()
    return exhibition


def _check_references(session: Session, spec: ExhibitionSpec) -> None:
    record_ids = {s.record_id for s in spec.stops if s.record_id}
    asset_ids = {s.asset_id for s in spec.stops if s.asset_id}
    records = set(
        session.scalars(
            select(Record.id).where(Record.id.in_(record_ids), Record.deleted_at.is_(None))
        )
    )
    owners = {
        asset_id: owner
        for asset_id, owner in session.execute(
            select(Asset.id, Asset.record_id).where(Asset.id.in_(asset_ids))
        )
    }
    for number, stop in enumerate(spec.stops, 1):
        where = f"stops.{number}"
        if stop.record_id and stop.record_id not in records:
            raise ValidationError(
                N_("{field}: no heritage item with id {value}."),
                parameter=f"{where}.record_id",
                field=f"{where}.record_id",
                value=stop.record_id,
            )
        if stop.asset_id and stop.asset_id not in owners:
            raise ValidationError(
                N_("{field}: no media asset with id {value}."),
                parameter=f"{where}.asset_id",
                field=f"{where}.asset_id",
                value=stop.asset_id,
            )
        owner = owners.get(stop.asset_id or "")
        if stop.asset_id and stop.record_id and owner != stop.record_id:
            raise ValidationError(
                N_("{field}: asset {asset_id} belongs to {owner}, not to record {record_id}."),
                parameter=f"{where}.asset_id",
                field=f"{where}.asset_id",
                asset_id=stop.asset_id,
                owner=owner or "—",
                record_id=stop.record_id,
            )


def remove_exhibition(session: Session, exhibition_id: str) -> None:
    """Delete an exhibition and its stops (the records and media stay)."""
    exhibition = session.get(Exhibition, exhibition_id)
    if exhibition is None:
        raise NotFound(
            N_("No exhibition with id {id}."), parameter="exhibition_id", id=exhibition_id
        )
    session.execute(delete(ExhibitionStop).where(ExhibitionStop.exhibition_id == exhibition_id))
    session.delete(exhibition)


@dataclass(frozen=True)
class ExhibitionLine:
    id: str
    title: str
    access_level: str
    published: bool
    stops: int


def list_exhibitions(session: Session) -> list[ExhibitionLine]:
    """Every exhibition, drafts included, for staff."""
    grouped = select(ExhibitionStop.exhibition_id, func.count()).group_by(
        ExhibitionStop.exhibition_id
    )
    counts: dict[str, int] = {
        exhibition_id: count for exhibition_id, count in session.execute(grouped)
    }
    return [
        ExhibitionLine(
            e.id, e.title.get("vi", ""), e.access_level, e.published, counts.get(e.id, 0)
        )
        for e in session.scalars(select(Exhibition).order_by(Exhibition.id))
    ]
