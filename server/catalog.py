"""The heritage catalog: what a row of the inventory spreadsheet means, writing records, queries.

A row is a mapping ``column -> cell text`` (the columns are documented in
``docs/import-export.md``). :func:`parse_row` checks every cell and turns a
good row into a :class:`RecordRow`; :func:`import_records` writes rows by id
without ever duplicating a record. Checking and reading single cells lives in
:mod:`server.cells`; reading CSV and XLSX files, the all-or-nothing rule and
the problem report live in :mod:`server.importer`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.cells import (
    CellError,
    check_cell,
    clean_text,
    parse_list,
    parse_priority,
    parse_registration,
    parse_sources,
    parse_year,
    shown_value,
    text_parser,
    vocabulary_code,
    vocabulary_parser,
    web_address,
)
from server.errors import N_
from server.models import DEFAULT_RIGHTS, RECORD_KINDS, Record, utcnow
from server.policy import RECORD_STATES
from server.records import visible
from server.search import index_record
from server.vocab import (
    ACCESS_LEVELS,
    CONTENT_LANGUAGES,
    DESIGNATIONS,
    DESIGNATIONS_BY_KIND,
    DIGITIZATION_STATUSES,
    KINDS,
    PUBLIC_ACCESS,
    SUBTYPES,
    SUBTYPES_BY_KIND,
    designation_from_text,
    subtype_from_text,
)

if TYPE_CHECKING:
    from server.importer import ImportReport

# The seed catalog's columns (assets/seed-catalog.csv).
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
# Structured columns of the scientific record, named after Record fields.
FIELD_COLUMNS = (
    "designation",
    "subtype",
    "registration_number",
    "materials",
    "techniques",
    "dimensions",
    "dating",
    "date_earliest",
    "date_latest",
    "period",
    "condition",
    "provenance",
    "rights",
    "rights_holder",
    "access_level",
    "status",
    "digitization_status",
    "digitization_priority",
)
# Multilingual text: language code -> column (the seed's English description keeps its name).
TITLE_COLUMNS = {lang: f"name_{lang}" for lang in CONTENT_LANGUAGES}
DESCRIPTION_COLUMNS = {
    **{lang: f"description_{lang}" for lang in CONTENT_LANGUAGES},
    "en": "short_description_en",
}
LANGUAGE_MAPS = {"title": TITLE_COLUMNS, "description": DESCRIPTION_COLUMNS}
COLUMNS = tuple(
    dict.fromkeys(
        REQUIRED_COLUMNS
        + OPTIONAL_COLUMNS
        + FIELD_COLUMNS
        + tuple(TITLE_COLUMNS.values())
        + tuple(DESCRIPTION_COLUMNS.values())
    )
)

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class RowProblem:
    """One faulty cell: its row as the spreadsheet shows it, its column and what is wrong.

    ``message`` is English; ``message_id`` and ``params`` translate it (:meth:`render`).
    """

    line: int
    column: str
    message: str
    value: str = ""
    message_id: str = ""
    params: Mapping[str, str | int] = field(default_factory=dict, hash=False, compare=False)

    def render(self, gettext: Callable[[str], str] | None = None) -> str:
        if gettext is None or not self.message_id:
            return self.message
        try:
            return gettext(self.message_id).format(**self.params)
        except (KeyError, IndexError, ValueError):
            return self.message


def problem(
    line: int, column: str, message_id: str, value: str = "", **params: str | int
) -> RowProblem:
    return RowProblem(
        line, column, message_id.format(**params), shown_value(value), message_id, params
    )


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True)
class RecordRow:
    """A checked row: the record it describes and which of its fields the row sets.

    ``attributes`` are the Record fields the row gives (a column absent from the
    file, or an empty cell of a column that keeps its value, leaves a stored
    record's field alone); ``languages`` the languages it gives per text map.
    """

    line: int
    record: Record
    attributes: frozenset[str]
    languages: Mapping[str, frozenset[str]]


# column -> (Record field, parser). Title and description are built per language.
PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "category_vi": ("category", text_parser("category")),
    "ranking_or_listing": ("ranking", text_parser("ranking")),
    "ranking_year": ("ranking_year", text_parser("ranking_year")),
    "decision_or_note": ("decision_note", text_parser("decision_note")),
    "location_current": ("location_current", text_parser("location_current")),
    "location_historical": ("location_historical", text_parser("location_historical")),
    "ethnic_groups": ("ethnic_groups", text_parser("ethnic_groups")),
    "source_url": ("sources", parse_sources),
    "needs_verify": ("needs_verify", text_parser("needs_verify")),
    "registration_number": ("registration_number", parse_registration),
    "materials": ("materials", parse_list),
    "techniques": ("techniques", parse_list),
    "dimensions": ("dimensions", text_parser("dimensions")),
    "dating": ("dating", text_parser("dating")),
    "date_earliest": ("date_earliest", parse_year),
    "date_latest": ("date_latest", parse_year),
    "period": ("period", text_parser("period")),
    "condition": ("condition", text_parser("condition")),
    "provenance": ("provenance", text_parser("provenance")),
    "rights": ("rights", web_address),
    "rights_holder": ("rights_holder", text_parser("rights_holder")),
    "access_level": (
        "access_level",
        vocabulary_parser(ACCESS_LEVELS, N_("unknown access level; use one of: {choices}")),
    ),
    "status": (
        "status",
        vocabulary_parser(RECORD_STATES, N_("unknown publishing status; use one of: {choices}")),
    ),
    "digitization_status": (
        "digitization_status",
        vocabulary_parser(
            DIGITIZATION_STATUSES, N_("unknown digitization status; use one of: {choices}")
        ),
    ),
    "digitization_priority": ("digitization_priority", parse_priority),
}
# An empty cell in these columns keeps the stored value: a blank must never open a restricted
# record to the public or reset a licence. New records get the defaults.
KEEP_WHEN_EMPTY = frozenset(
    {"access_level", "status", "digitization_status", "digitization_priority", "rights"}
)


def _defaults() -> dict[str, Any]:
    """Field values of a new record that its row does not give (fresh lists each time)."""
    return {
        "access_level": "public",
        # A catalog file is the province's own list, imported by its administrator: its
        # rows are published unless their status column says otherwise.
        "status": "published",
        "digitization_status": "not_digitized",
        "digitization_priority": 3,
        "rights": DEFAULT_RIGHTS,
        "designation": "chua_xep_hang",
        "subtype": "",
        "decisions": [],
    }


# Rows


@dataclass
class _Row:
    """A row being checked: cleaned cells, the cells already found faulty, the problems."""

    line: int
    header: frozenset[str]
    cells: dict[str, str]
    bad: set[str] = field(default_factory=set)
    problems: list[RowProblem] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def fail(self, column: str, message_id: str, **params: str | int) -> None:
        self.bad.add(column)
        self.problems.append(problem(self.line, column, message_id, self.raw(column), **params))

    def raw(self, column: str) -> str:
        return self.cells.get(column, "")

    def parse(self, column: str, parser: Callable[[str], Any]) -> Any:
        try:
            return parser(self.raw(column))
        except CellError as exc:
            self.fail(column, exc.message_id, **exc.params)
            return None


def parse_row(
    line: int, cells: Mapping[str, str], header: Collection[str]
) -> tuple[RecordRow | None, list[RowProblem]]:
    """Check one row; a row without problems becomes a :class:`RecordRow`.

    ``cells`` holds raw cell text by column; ``header`` names the columns the file has.
    """
    row = _Row(line, frozenset(header), {})
    for column, raw in cells.items():
        try:
            check_cell(raw)
        except CellError as exc:
            row.problems.append(problem(line, column, exc.message_id, raw, **exc.params))
            row.bad.add(column)
            continue
        row.cells[column] = clean_text(raw)
    _check_identity(row)
    _parse_fields(row)
    _parse_classification(row)
    _parse_dates(row)
    if row.problems:
        return None, row.problems
    return _record_row(row), []


def _check_identity(row: _Row) -> None:
    for column in REQUIRED_COLUMNS:
        if column not in row.bad and not row.raw(column):
            message = (
                N_("the Vietnamese name is required") if column == "name_vi" else N_("is required")
            )
            row.fail(column, message)
    record_id = row.raw("seed_id")
    if record_id and not ID_PATTERN.match(record_id):
        row.fail("seed_id", N_("use letters, digits, '.', '_' or '-' (at most 64)"))
    kind_text = row.raw("entity_type")
    if kind_text and "entity_type" not in row.bad:
        kind = vocabulary_code(kind_text, KINDS)
        if kind is None:
            row.fail(
                "entity_type",
                N_("unknown kind; use one of: {choices}"),
                choices=", ".join(RECORD_KINDS),
            )
        row.values["kind"] = kind


def _parse_fields(row: _Row) -> None:
    for column, (attribute, parser) in PARSERS.items():
        if column not in row.header or column in row.bad:
            continue
        if attribute in KEEP_WHEN_EMPTY and not row.raw(column):
            continue
        value = row.parse(column, parser)
        if column not in row.bad:
            row.values[attribute] = value
    if "decision_or_note" in row.header and "decision_or_note" not in row.bad:
        row.values["decisions"] = _decisions(row.raw("decision_or_note"), row.raw("ranking_year"))
    for attribute, columns in LANGUAGE_MAPS.items():
        row.values[attribute] = {
            lang: row.raw(column) for lang, column in columns.items() if row.raw(column)
        }


def _decisions(note: str, year: str) -> list[dict[str, str]]:
    """The recognition decision the note names, if any, as a structured entry."""
    if not note or "not retrieved" in note.lower():
        return []
    return [{"text": note, "year": year}]


@dataclass(frozen=True)
class _Scheme:
    """A coded classification: its vocabulary, the codes each kind allows, its free-text source."""

    column: str
    vocabulary: Mapping[str, str]
    allowed: Mapping[str, set[str]]
    source: str
    derive: Callable[[str, str], str]
    unknown: str
    misplaced: str


_SCHEMES = (
    _Scheme(
        "designation",
        DESIGNATIONS,
        DESIGNATIONS_BY_KIND,
        "ranking_or_listing",
        designation_from_text,
        N_("unknown ranking; use a code or label from docs/import-export.md: {choices}"),
        N_("ranking {code} does not apply to a record of kind {kind}"),
    ),
    _Scheme(
        "subtype",
        SUBTYPES,
        SUBTYPES_BY_KIND,
        "category_vi",
        subtype_from_text,
        N_("unknown subtype; use a code or label from docs/import-export.md: {choices}"),
        N_("subtype {code} does not apply to a record of kind {kind}"),
    ),
)


def _parse_classification(row: _Row) -> None:
    """Designation and subtype: the coded cell if given, else read from the free text."""
    kind = row.values.get("kind")
    if kind is None:
        return
    for scheme in _SCHEMES:
        code = _classify(row, scheme, kind)
        if code is None and scheme.column not in row.bad and scheme.source in row.header:
            code = scheme.derive(row.raw(scheme.source), kind)
        if code is not None:
            row.values[scheme.column] = code


def _classify(row: _Row, scheme: _Scheme, kind: str) -> str | None:
    """The code the cell names; None when the cell is empty or faulty."""
    text = row.raw(scheme.column)
    if not text or scheme.column in row.bad:
        return None
    code = vocabulary_code(text, scheme.vocabulary)
    allowed = scheme.allowed[kind]
    if code is None:
        row.fail(scheme.column, scheme.unknown, choices=", ".join(sorted(allowed)))
    elif code not in allowed:
        row.fail(scheme.column, scheme.misplaced, code=code, kind=kind)
    else:
        return code
    return None


def _parse_dates(row: _Row) -> None:
    earliest, latest = row.values.get("date_earliest"), row.values.get("date_latest")
    if earliest is not None and latest is not None and earliest > latest:
        row.fail("date_latest", N_("is earlier than date_earliest ({earliest})"), earliest=earliest)


def _record_row(row: _Row) -> RecordRow:
    values = dict(row.values)
    values["title"] = values.get("title", {})
    values["description"] = values.get("description", {})
    record = Record(id=row.raw("seed_id"), **{**_defaults(), **values})
    attributes = frozenset(values) - set(LANGUAGE_MAPS)
    languages = {
        attribute: frozenset(lang for lang, column in columns.items() if column in row.header)
        for attribute, columns in LANGUAGE_MAPS.items()
    }
    return RecordRow(row.line, record, attributes, languages)


# Writing


IMPORTED_FIELDS = frozenset(
    {attribute for attribute, _ in PARSERS.values()}
    | {"kind", "designation", "subtype", "decisions"}
)


def full_row(record: Record) -> RecordRow:
    """A whole record as a row that sets each field it has a value for (callers with Records)."""
    attributes = frozenset(a for a in IMPORTED_FIELDS if getattr(record, a) is not None)
    languages = {
        attribute: frozenset(columns)
        for attribute, columns in LANGUAGE_MAPS.items()
        if getattr(record, attribute) is not None
    }
    return RecordRow(0, record, attributes, languages)


def import_records(session: Session, rows: Iterable[RecordRow | Record]) -> ImportSummary:
    """Insert new records and update changed ones by id; never duplicates; reindexes changes."""
    prepared = [row if isinstance(row, RecordRow) else full_row(row) for row in rows]
    _release_registration_numbers(session, prepared)
    created = updated = unchanged = 0
    for row in prepared:
        existing = session.get(Record, row.record.id)
        if existing is None:
            session.add(row.record)
            _note_first_publication(row.record)
            index_record(session, row.record)
            created += 1
        elif _apply(existing, row):
            _note_first_publication(existing)
            index_record(session, existing)
            updated += 1
        else:
            unchanged += 1
    return ImportSummary(created, updated, unchanged)


def _note_first_publication(record: Record) -> None:
    """``published_at``: when visitors could first see the record (OAI-PMH reports it as
    deleted, rather than forgetting it, once it was public)."""
    if (
        record.published_at is None
        and record.status == "published"
        and record.access_level == "public"
        and record.embargo_until is None
    ):
        record.published_at = utcnow()


def _release_registration_numbers(session: Session, rows: Sequence[RecordRow]) -> None:
    """Clear numbers that move between records first, so a swap never trips the unique index."""
    moving = {
        row.record.id: row.record.registration_number
        for row in rows
        if "registration_number" in row.attributes
    }
    if not moving:
        return
    released = False
    for record in session.scalars(select(Record).where(Record.id.in_(list(moving)))):
        if (
            record.registration_number is not None
            and record.registration_number != moving[record.id]
        ):
            record.registration_number = None
            released = True
    if released:
        session.flush()


def _apply(existing: Record, row: RecordRow) -> bool:
    """Copy the fields the row sets onto the stored record; True when anything changed."""
    changed = False
    for attribute in sorted(row.attributes):
        value = getattr(row.record, attribute)
        if getattr(existing, attribute) != value:
            setattr(existing, attribute, value)
            changed = True
    for attribute, languages in row.languages.items():
        current: dict[str, str] = getattr(existing, attribute) or {}
        given: dict[str, str] = getattr(row.record, attribute)
        merged = {lang: text for lang, text in current.items() if lang not in languages}
        merged.update(given)
        if merged != current:
            setattr(existing, attribute, merged)
            changed = True
    return changed


def import_catalog_file(session: Session, path: Path) -> ImportReport:
    """Import a CSV or XLSX inventory; any faulty row rejects the whole file.

    Raises :class:`~server.errors.ValidationError` whose ``problems`` list every faulty row.
    """
    from server.importer import import_file  # the importer reads files and builds on this module

    report = import_file(session, path, partial=False)
    report.raise_if_rejected()
    return report


# Queries


def records_by_kind(
    session: Session, access_levels: Sequence[str] = PUBLIC_ACCESS
) -> dict[str, list[Record]]:
    """Every visible record grouped by kind, in the plan's order, then by id."""
    grouped: dict[str, list[Record]] = {kind: [] for kind in RECORD_KINDS}
    statement = visible(select(Record), access_levels).order_by(Record.id)
    for record in session.scalars(statement):
        grouped.setdefault(record.kind, []).append(record)
    return {kind: items for kind, items in grouped.items() if items}
