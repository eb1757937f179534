"""The record form of the staff interface: which fields it shows, and reading what people typed.

The rules for each field are the inventory spreadsheet's (:func:`server.catalog.parse_row`):
the form is turned into a spreadsheet row, checked by the same code as an import, and the
problems come back keyed by form field, to be shown next to it. Only the multilingual fields
the spreadsheet does not have (other names, significance, credit line) are checked here,
cell by cell, with the spreadsheet's cell rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from server.catalog import (
    DESCRIPTION_COLUMNS,
    TITLE_COLUMNS,
    RecordRow,
    RowProblem,
    import_records,
    parse_row,
)
from server.cells import SOURCE_SEPARATOR, CellError, check_cell, clean_text
from server.errors import N_
from server.importer import registration_conflicts
from server.models import Record
from server.vocab import (
    CONTENT_LANGUAGES,
    DESIGNATIONS,
    DIGITIZATION_STATUSES,
    KINDS,
    LANGUAGE_NAMES,
    SUBTYPES,
)

# Languages shown open; the others sit in a "more languages" panel.
MAIN_LANGUAGES = ("vi", "en", "rad")
RESERVED_IDS = frozenset({"new"})  # /admin/records/new is the form for a new record
PRIORITIES = {str(n): str(n) for n in range(1, 6)}


@dataclass(frozen=True)
class FormField:
    """One field of the record form.

    ``column`` is the spreadsheet column :func:`~server.catalog.parse_row` checks it as
    (empty: checked here); ``widget`` is text, textarea, select, list (``;``-separated)
    or lines (one web address per line).
    """

    name: str
    label: str
    column: str = ""
    widget: str = "text"
    choices: Mapping[str, str] | None = None
    help: str = ""
    multilingual: bool = False


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    fields: tuple[FormField, ...]


def _ml(name: str, label: str, widget: str = "text", help: str = "") -> FormField:
    return FormField(name, label, widget=widget, help=help, multilingual=True)


SECTIONS = (
    Section(
        "identification",
        N_("Identification"),
        (
            _ml("title", N_("Title"), help=N_("The Vietnamese title is required.")),
            _ml("alt_titles", N_("Other names")),
            FormField("kind", N_("Kind of heritage"), "entity_type", "select", KINDS),
            FormField("registration_number", N_("Registration number"), "registration_number"),
        ),
    ),
    Section(
        "description",
        N_("Description"),
        (
            _ml("description", N_("Description"), "textarea"),
            _ml("significance", N_("Significance"), "textarea"),
        ),
    ),
    Section(
        "classification",
        N_("Classification"),
        (
            FormField(
                "designation",
                N_("Ranking"),
                "designation",
                "select",
                DESIGNATIONS,
                N_("Left empty, it is read from the ranking as stated."),
            ),
            FormField("ranking", N_("Ranking or listing, as stated"), "ranking_or_listing"),
            FormField("ranking_year", N_("Year of ranking"), "ranking_year"),
            FormField(
                "decision_note", N_("Recognition decision or note"), "decision_or_note", "textarea"
            ),
            FormField("category", N_("Category, as the source states it"), "category_vi"),
            FormField(
                "subtype",
                N_("Subtype"),
                "subtype",
                "select",
                SUBTYPES,
                N_("Left empty, it is read from the category."),
            ),
        ),
    ),
    Section(
        "object",
        N_("Object and dating"),
        (
            FormField(
                "materials", N_("Materials"), "materials", "list", help=N_("Separate with ;")
            ),
            FormField(
                "techniques", N_("Techniques"), "techniques", "list", help=N_("Separate with ;")
            ),
            FormField("dimensions", N_("Dimensions, weight"), "dimensions"),
            FormField("dating", N_("Dating, as written"), "dating"),
            FormField(
                "date_earliest",
                N_("Earliest year"),
                "date_earliest",
                help=N_("A whole number; negative for BCE."),
            ),
            FormField("date_latest", N_("Latest year"), "date_latest"),
            FormField("period", N_("Period"), "period"),
            FormField("condition", N_("Condition"), "condition"),
            FormField("provenance", N_("Provenance, acquisition"), "provenance", "textarea"),
        ),
    ),
    Section(
        "place",
        N_("Place and people"),
        (
            FormField("location_current", N_("Location (current units)"), "location_current"),
            FormField(
                "location_historical",
                N_("Location (before the 2025 merger)"),
                "location_historical",
            ),
            FormField(
                "ethnic_groups", N_("Ethnic groups"), "ethnic_groups", help=N_("Separate with ;")
            ),
        ),
    ),
    Section(
        "rights",
        N_("Rights"),
        (
            FormField(
                "rights",
                N_("Rights of the media (URI)"),
                "rights",
                help=N_("A licence or rights statement address; left empty, it is kept."),
            ),
            FormField("rights_holder", N_("Rights holder"), "rights_holder"),
            _ml("credit_line", N_("Credit line")),
        ),
    ),
    Section(
        "digitization",
        N_("Digitization"),
        (
            FormField(
                "digitization_status",
                N_("Digitization status"),
                "digitization_status",
                "select",
                DIGITIZATION_STATUSES,
            ),
            FormField(
                "digitization_priority",
                N_("Digitization priority"),
                "digitization_priority",
                "select",
                PRIORITIES,
                N_("1 (first) to 5"),
            ),
        ),
    ),
    Section(
        "sources",
        N_("Sources"),
        (
            FormField(
                "sources", N_("Sources"), "source_url", "lines", help=N_("One web address a line.")
            ),
            FormField("needs_verify", N_("What is still to be verified"), "needs_verify"),
        ),
    ),
)
FIELDS = tuple(f for section in SECTIONS for f in section.fields)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}
ID_FIELD = FormField("id", N_("Identifier"), "seed_id", help=N_("Letters, digits, . _ or -"))
# Multilingual maps the spreadsheet has columns for.
LANGUAGE_COLUMNS = {"title": TITLE_COLUMNS, "description": DESCRIPTION_COLUMNS}
LOCAL_MAPS = tuple(f.name for f in FIELDS if f.multilingual and f.name not in LANGUAGE_COLUMNS)


def _form_names() -> dict[str, str]:
    """Spreadsheet column -> form field name, to put each problem next to its field."""
    names = {f.column: f.name for f in FIELDS if f.column}
    names["seed_id"] = "id"
    for attribute, columns in LANGUAGE_COLUMNS.items():
        names.update({column: f"{attribute}.{lang}" for lang, column in columns.items()})
    return names


FORM_NAMES = _form_names()


@dataclass(frozen=True)
class FieldError:
    """A problem with one field: an English message id and its parameters."""

    message_id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, gettext: Callable[[str], str]) -> str:
        try:
            return gettext(self.message_id).format(**self.params)
        except (KeyError, IndexError, ValueError):
            return self.message_id.format(**self.params)


Errors = dict[str, FieldError]


# Fields a version keeps that the form does not show (the publishing panel sets most).
OTHER_LABELS = {
    "status": N_("Status"),
    "access_level": N_("Access level"),
    "embargo_until": N_("Embargo until"),
    "decisions": N_("Recognition decisions"),
    "extra": N_("Other data"),
}


def field_label(name: str, gettext: Callable[[str], str]) -> str:
    """``title.vi`` -> "Title (Vietnamese)"; plain names as the form labels them."""
    base, _, lang = name.partition(".")
    found = FIELDS_BY_NAME.get(base)
    other = OTHER_LABELS.get(base)
    label = gettext(found.label) if found else gettext(other) if other else base
    if lang:
        language = LANGUAGE_NAMES.get(lang)
        return f"{label} ({gettext(language) if language else lang})"
    return label


# Record -> form


def form_values(record: Record | None) -> dict[str, str]:
    """What the form shows for ``record`` (empty for a new record)."""
    values: dict[str, str] = {}
    if record is None:
        values.update({"kind": "hien_vat", "digitization_priority": "3"})
        values["digitization_status"] = "not_digitized"
        return values
    values["id"] = record.id
    for f in FIELDS:
        value = getattr(record, f.name)
        if f.multilingual:
            for lang in CONTENT_LANGUAGES:
                values[f"{f.name}.{lang}"] = (value or {}).get(lang, "")
        elif f.widget == "list":
            values[f.name] = "; ".join(value or [])
        elif f.widget == "lines":
            values[f.name] = "\n".join(value or [])
        else:
            values[f.name] = "" if value is None else str(value)
    return values


def version_form_values(record_id: str, data: Mapping[str, Any]) -> dict[str, str]:
    """What the form showed for a version's snapshot (``RecordVersion.data``)."""
    fields = {f.name: data.get(f.name) for f in FIELDS}
    return form_values(Record(id=record_id, **fields))


# Form -> record


@dataclass(frozen=True)
class ParsedRecord:
    """A checked form: the spreadsheet row it makes, and the multilingual maps checked here."""

    row: RecordRow
    maps: dict[str, dict[str, str]]


def form_text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _cells(form: Mapping[str, Any], record_id: str) -> dict[str, str]:
    cells = {"seed_id": record_id}
    for f in FIELDS:
        if f.multilingual or not f.column:
            continue
        raw = form_text(form, f.name)
        if f.widget == "lines":
            raw = SOURCE_SEPARATOR.join(line.strip() for line in raw.splitlines() if line.strip())
        cells[f.column] = raw
    for attribute, columns in LANGUAGE_COLUMNS.items():
        for lang, column in columns.items():
            cells[column] = form_text(form, f"{attribute}.{lang}")
    return cells


def _local_maps(form: Mapping[str, Any], errors: Errors) -> dict[str, dict[str, str]]:
    maps: dict[str, dict[str, str]] = {}
    for name in LOCAL_MAPS:
        texts: dict[str, str] = {}
        for lang in CONTENT_LANGUAGES:
            key = f"{name}.{lang}"
            raw = form_text(form, key)
            try:
                check_cell(raw)
            except CellError as exc:
                errors[key] = FieldError(exc.message_id, exc.params)
                continue
            if text := clean_text(raw):
                texts[lang] = text
        maps[name] = texts
    return maps


def _add_problems(errors: Errors, problems: list[RowProblem]) -> None:
    for item in problems:
        name = FORM_NAMES.get(item.column, item.column)
        errors.setdefault(name, FieldError(item.message_id or item.message, dict(item.params)))


def parse_record_form(
    session: Session, form: Mapping[str, Any], record: Record | None
) -> tuple[ParsedRecord | None, Errors]:
    """Check a submitted form for ``record`` (None: a new record, whose id the form gives).

    A new record is a draft. Returns the checked values, or the problems by field name.
    """
    record_id = record.id if record is not None else clean_text(form_text(form, "id"))
    cells = _cells(form, record_id)
    if record is None:
        cells["status"] = "draft"
    errors: Errors = {}
    maps = _local_maps(form, errors)
    row, problems = parse_row(0, cells, cells.keys())
    _add_problems(errors, problems)
    if record is None and "id" not in errors:
        _check_new_id(session, record_id, errors)
    if row is not None:
        _add_problems(errors, registration_conflicts(session, [row]))
    if errors or row is None:
        return None, errors
    return ParsedRecord(row, maps), {}


def _check_new_id(session: Session, record_id: str, errors: Errors) -> None:
    if record_id in RESERVED_IDS:
        errors["id"] = FieldError(
            N_("{value} is reserved; choose another identifier"), {"value": record_id}
        )
    elif session.get(Record, record_id) is not None:
        errors["id"] = FieldError(
            N_("a record with identifier {value} already exists"), {"value": record_id}
        )


def apply_form(session: Session, parsed: ParsedRecord) -> Record:
    """Write a checked form: a new record, or the changes to a stored one (and reindex)."""
    import_records(session, [parsed.row])
    record = session.get(Record, parsed.row.record.id)
    assert record is not None  # import_records has just written it
    for name, texts in parsed.maps.items():
        current: dict[str, str] = getattr(record, name) or {}
        merged = {lang: text for lang, text in current.items() if lang not in CONTENT_LANGUAGES}
        merged.update(texts)
        if merged != current:
            setattr(record, name, merged)
    return record


def language_groups() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The languages shown open, and those in the "more languages" panel."""
    return MAIN_LANGUAGES, tuple(lang for lang in CONTENT_LANGUAGES if lang not in MAIN_LANGUAGES)
