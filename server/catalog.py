"""The heritage catalog: reading the inventory CSV, importing it, and querying records."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.errors import N_, ValidationError
from server.i18n import nfc
from server.models import RECORD_KINDS, Asset, Record
from server.search import index_record
from server.vocab import designation_from_text, subtype_from_text

# The seed catalog's columns (../shared/domain/seed-catalog.csv).
REQUIRED_COLUMNS = ("seed_id", "entity_type", "name_vi")
OPTIONAL_COLUMNS = (
    "name_en",
    "category_vi",
    "ranking_or_listing",
    "ranking_year",
    "decision_or_note",
    "location_current",
    "location_historical",
    "ethnic_groups",
    "short_description_en",
    "source_url",
    "needs_verify",
)
MAX_FIELD_LENGTH = 20_000
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# C0/C1 control characters other than tab and newline never belong in a record.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    message: str


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def clean_text(value: str) -> str:
    return nfc(value.strip())


def _split_sources(value: str) -> list[str]:
    return [part.strip() for part in value.split(" ; ") if part.strip()] if value else []


def _row_to_record(row: dict[str, str]) -> Record:
    title = {"vi": row["name_vi"]}
    if row.get("name_en"):
        title["en"] = row["name_en"]
    description = {"en": row["short_description_en"]} if row.get("short_description_en") else {}
    kind = row["entity_type"]
    return Record(
        id=row["seed_id"],
        kind=row["entity_type"],
        title=title,
        description=description,
        category=row.get("category_vi", ""),
        ranking=row.get("ranking_or_listing", ""),
        ranking_year=row.get("ranking_year", ""),
        decision_note=row.get("decision_or_note", ""),
        location_current=row.get("location_current", ""),
        location_historical=row.get("location_historical", ""),
        ethnic_groups=row.get("ethnic_groups", ""),
        sources=_split_sources(row.get("source_url", "")),
        needs_verify=row.get("needs_verify", ""),
        designation=designation_from_text(row.get("ranking_or_listing", ""), kind),
        subtype=subtype_from_text(row.get("category_vi", ""), kind),
        decisions=_decisions(row),
        access_level="public",
        digitization_status="not_digitized",
    )


def _decisions(row: dict[str, str]) -> list[dict[str, str]]:
    """The recognition decision the seed names, if any, as a structured entry."""
    note = row.get("decision_or_note", "")
    if not note or "not retrieved" in note.lower():
        return []
    return [{"text": note, "year": row.get("ranking_year", "")}]


def _check_row(line: int, row: dict[str, str], seen: set[str]) -> list[RowProblem]:
    problems = []
    for column, value in row.items():
        if _CONTROL_RE.search(value):
            problems.append(RowProblem(line, column, "contains control characters"))
        if len(value) > MAX_FIELD_LENGTH:
            problems.append(RowProblem(line, column, f"longer than {MAX_FIELD_LENGTH} characters"))
    for column in REQUIRED_COLUMNS:
        if not row.get(column):
            problems.append(RowProblem(line, column, "is required"))
    record_id = row.get("seed_id", "")
    if record_id and not _ID_RE.match(record_id):
        problems.append(
            RowProblem(line, "seed_id", "use letters, digits, '.', '_' or '-' (max 64)")
        )
    if record_id in seen:
        problems.append(RowProblem(line, "seed_id", f"duplicate id {record_id}"))
    seen.add(record_id)
    kind = row.get("entity_type", "")
    if kind and kind not in RECORD_KINDS:
        problems.append(
            RowProblem(line, "entity_type", f"must be one of {', '.join(RECORD_KINDS)}")
        )
    return problems


def read_catalog_csv(data: bytes) -> list[Record]:
    """Parse and validate a whole CSV file; any problem rejects the whole file.

    Raises :class:`ValidationError` whose ``problems`` list every faulty row.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            N_("The file is not valid UTF-8 (byte {offset}). Save it as UTF-8 CSV."),
            parameter="file",
            offset=exc.start,
        ) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValidationError(
            N_("The file lacks the required column(s): {columns}."),
            parameter="header",
            columns=", ".join(missing),
        )
    records: list[Record] = []
    problems: list[RowProblem] = []
    seen: set[str] = set()
    known = set(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append(RowProblem(line, "-", "has more fields than the header"))
            continue
        cleaned = {k: clean_text(v or "") for k, v in row.items() if k in known}
        row_problems = _check_row(line, cleaned, seen)
        problems.extend(row_problems)
        if not row_problems:
            records.append(_row_to_record(cleaned))
    if problems:
        error = ValidationError(
            N_("{count} problem(s) in the file; nothing was imported."),
            parameter="file",
            count=len(problems),
        )
        error.problems = problems  # type: ignore[attr-defined]
        raise error
    if not records:
        raise ValidationError(N_("The file has no records."), parameter="file")
    return records


_COMPARED = (
    "kind",
    "title",
    "description",
    "category",
    "ranking",
    "ranking_year",
    "decision_note",
    "location_current",
    "location_historical",
    "ethnic_groups",
    "sources",
    "needs_verify",
    "designation",
    "subtype",
    "decisions",
)


def import_records(session: Session, records: Iterable[Record]) -> ImportSummary:
    """Insert new records and update changed ones by id; never duplicates."""
    created = updated = unchanged = 0
    for incoming in records:
        existing = session.get(Record, incoming.id)
        if existing is None:
            session.add(incoming)
            index_record(session, incoming)
            created += 1
            continue
        changed = False
        for name in _COMPARED:
            value = getattr(incoming, name)
            if getattr(existing, name) != value:
                setattr(existing, name, value)
                changed = True
        if changed:
            index_record(session, existing)
        updated += changed
        unchanged += not changed
    return ImportSummary(created, updated, unchanged)


def import_catalog_file(session: Session, path: Path) -> ImportSummary:
    return import_records(session, read_catalog_csv(path.read_bytes()))


def records_by_kind(session: Session) -> dict[str, list[Record]]:
    """Every record grouped by kind, in the plan's order, then by id."""
    grouped: dict[str, list[Record]] = {kind: [] for kind in RECORD_KINDS}
    for record in session.scalars(select(Record).order_by(Record.id)):
        grouped.setdefault(record.kind, []).append(record)
    return {kind: items for kind, items in grouped.items() if items}


def media_counts(session: Session) -> dict[str, int]:
    """Number of stored originals per record id (records without media are absent)."""
    rows = session.execute(
        select(Asset.record_id, func.count(Asset.id))
        .where(Asset.record_id.is_not(None))
        .group_by(Asset.record_id)
    )
    return {str(record_id): int(count) for record_id, count in rows}
