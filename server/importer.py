"""Importing the museum's inventory spreadsheet (CSV or XLSX): read it, check every row, then write.

By default the import is all or nothing: every row is checked first and, if
any is faulty, nothing is written and the report lists every faulty row (its
row number as Excel shows it, the column, the problem and the cell). With
``partial=True`` the good rows are written and the faulty ones reported. The
caller's session is the one transaction the import runs in.

XLSX files are read with openpyxl in read-only mode *without* ``data_only``:
formulas are never evaluated (openpyxl cannot), but they stay visible as
formulas so that they are rejected. With ``data_only=True`` a formula cell
reads as its cached result, or as empty when the program that wrote the file
did not compute it, and ``=HYPERLINK(...)`` would slip through unnoticed.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.catalog import (
    COLUMNS,
    REQUIRED_COLUMNS,
    RecordRow,
    RowProblem,
    import_records,
    parse_row,
    problem,
)
from server.cells import UNDECODABLE, clean_text
from server.errors import N_, PayloadTooLarge, ValidationError
from server.exports import neutralise_cell
from server.models import Record
from server.search import fold
from server.storage import atomic_file

MAX_FILE_SIZE = 64 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 200
# An XLSX file is a zip: the sum of its unpacked parts bounds the work (zip bombs).
MAX_UNPACKED_SIZE = 512 * 1024 * 1024
# Title rows above the header are skipped: the header is the first of these rows naming seed_id.
HEADER_SEARCH_ROWS = 10
SHEET_NAMES = ("catalog", "danh_muc")
CSV_DELIMITERS = (",", ";", "\t")  # Excel in a Vietnamese locale saves "CSV" with ";"
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
DB_BATCH = 500
REPORT_COLUMNS = ("line", "column", "problem", "value")
KNOWN_COLUMNS = frozenset(COLUMNS)


@dataclass(frozen=True)
class Table:
    """A sheet as text: the header (normalised names) and the non-empty rows after it.

    ``rows`` holds ``(row number as the spreadsheet shows it, cells)``.
    """

    header: tuple[str, ...]
    rows: list[tuple[int, tuple[str, ...]]]
    strict_width: bool = True

    @property
    def columns(self) -> dict[str, int]:
        """Known column -> its position."""
        return {name: i for i, name in enumerate(self.header) if name in KNOWN_COLUMNS}

    @property
    def ignored_columns(self) -> tuple[str, ...]:
        return tuple(name for name in self.header if name and name not in KNOWN_COLUMNS)


class RejectedImport(ValidationError):
    """A file with faulty rows, of which nothing was written; ``problems`` lists them all."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(
            N_("{count} problem(s) in the file; nothing was imported."),
            parameter="file",
            count=len(problems),
        )
        self.problems = problems


@dataclass
class ImportReport:
    """What an import checked, wrote and found wrong."""

    source: str
    partial: bool = False
    rows_checked: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def faulty_rows(self) -> int:
        return len({p.line for p in self.problems})

    @property
    def rejected(self) -> bool:
        """True when faulty rows stopped the whole import (nothing was written)."""
        return bool(self.problems) and not self.partial

    def raise_if_rejected(self) -> None:
        if self.rejected:
            raise RejectedImport(self.problems)

    def render(self, gettext: Callable[[str], str] | None = None) -> str:
        """The report as the command line prints it, in the language of ``gettext``."""
        t = gettext or _english
        lines = [_say(t, message, **params) for message, params in self._summary()]
        lines.extend(_problem_line(p, t) for p in self.problems)
        if self.ignored_columns:
            columns = ", ".join(self.ignored_columns)
            lines.append(_say(t, N_("Unknown column(s) ignored: {columns}."), columns=columns))
        return "\n".join(lines)

    def _summary(self) -> list[tuple[str, dict[str, object]]]:
        checked = {"rows": self.rows_checked, "source": self.source}
        lines: list[tuple[str, dict[str, object]]] = [
            (N_("{rows} row(s) checked in {source}."), checked)
        ]
        if self.rejected:
            count: dict[str, object] = {"count": len(self.problems)}
            lines.append((N_("{count} problem(s) in the file; nothing was imported."), count))
            return lines
        counts: dict[str, object] = {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }
        lines.append(
            (
                N_("{total} records: {created} new, {updated} updated, {unchanged} unchanged."),
                counts,
            )
        )
        if self.problems:
            skipped: dict[str, object] = {"rows": self.faulty_rows}
            lines.append((N_("{rows} faulty row(s) skipped."), skipped))
        return lines


def _english(message: str) -> str:
    return message


def _say(t: Callable[[str], str], message_id: str, **params: object) -> str:
    """A translated message; a translation with broken placeholders falls back to English."""
    try:
        return t(message_id).format(**params)
    except (KeyError, IndexError, ValueError):
        return message_id.format(**params)


def _problem_line(item: RowProblem, t: Callable[[str], str]) -> str:
    text = _say(
        t,
        N_("line {line}, {column}: {message}"),
        line=item.line,
        column=item.column,
        message=item.render(t),
    )
    return f"{text} [{item.value}]" if item.value else text


# Reading files


def read_table(path: Path) -> Table:
    """Read a CSV (UTF-8, with or without BOM) or XLSX inventory into a :class:`Table`."""
    if path.stat().st_size > MAX_FILE_SIZE:
        raise _too_large()
    return read_table_data(path.read_bytes())


def read_table_data(data: bytes) -> Table:
    """The same as :func:`read_table`, from the file's bytes (an upload, say)."""
    if len(data) > MAX_FILE_SIZE:
        raise _too_large()
    if data.startswith(ZIP_MAGIC):
        return read_xlsx_table(data)
    if data.startswith(OLE_MAGIC):
        raise ValidationError(
            N_("This is an old Excel .xls file; save it as .xlsx or as CSV UTF-8."),
            parameter="file",
        )
    return read_csv_table(data)


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        N_("The file is larger than {limit} MiB; split it into smaller files."),
        parameter="file",
        limit=MAX_FILE_SIZE // (1024 * 1024),
    )


def read_csv_table(data: bytes) -> Table:
    """Bytes that are not UTF-8 are kept (as surrogates) so their rows can be reported."""
    if data.startswith(UTF16_BOMS):
        raise ValidationError(
            N_("The file is UTF-16 text; save it as CSV UTF-8 (Excel: Save As, CSV UTF-8)."),
            parameter="file",
        )
    text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")
    first_line = text.split("\n", 1)[0]
    if UNDECODABLE.search(first_line):
        _raise_undecodable_header(data)
    # strict: a stray quote must stop the import, not swallow the rows after it into one cell
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=True
    )
    try:
        return _build_table(enumerate(reader, start=1), strict_width=True)
    except csv.Error as exc:
        raise ValidationError(
            N_("The CSV file is malformed near row {line}: {error}."),
            parameter="file",
            line=reader.line_num,
            error=str(exc),
        ) from exc


def _raise_undecodable_header(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            N_("The file is not valid UTF-8 (byte {offset}). Save it as UTF-8 CSV."),
            parameter="file",
            offset=exc.start,
        ) from exc


def _delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most known column names."""

    def known(delimiter: str) -> int:
        names = {_column_name(part.strip('"')) for part in header_line.split(delimiter)}
        return len(names & KNOWN_COLUMNS)

    return max(CSV_DELIMITERS, key=known)  # ties keep the first, ","


def read_xlsx_table(data: bytes) -> Table:
    """The sheet named "catalog" or "danh_muc", else the first one; formulas are never run."""
    _check_unpacked_size(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _unreadable(exc) from exc
    try:
        sheet = _catalog_sheet(workbook)
        sheet.reset_dimensions()  # some programs write wrong ones; read what is there
        rows = (
            (line, tuple(_cell_text(cell) for cell in cells))
            for line, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1)
        )
        return _build_table(rows, strict_width=False)
    except (KeyError, ValueError, TypeError, SyntaxError, zipfile.BadZipFile) as exc:
        raise _unreadable(exc) from exc  # SyntaxError: XML parse errors in a damaged sheet
    finally:
        workbook.close()


def _unreadable(exc: Exception) -> ValidationError:
    return ValidationError(
        N_("The spreadsheet cannot be read ({error}); open it and save it again as .xlsx."),
        parameter="file",
        error=type(exc).__name__,
    )


def _check_unpacked_size(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise _unreadable(exc) from exc
    if unpacked > MAX_UNPACKED_SIZE:
        raise _too_large()


def _catalog_sheet(workbook: Any) -> Any:
    for name in workbook.sheetnames:
        if fold(name).replace(" ", "_") in SHEET_NAMES:
            return workbook[name]
    if not workbook.worksheets:
        raise ValidationError(N_("The file has no records."), parameter="file")
    return workbook.worksheets[0]


def _cell_text(cell: Any) -> str:
    """A cell as the text it shows; a formula as its formula text (so it is rejected)."""
    value = cell.value
    if value is None:
        return ""
    if cell.data_type == "f":
        formula = value if isinstance(value, str) else str(getattr(value, "text", "") or "")
        return formula if formula.startswith("=") else "=" + formula
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _column_name(cell: str) -> str:
    return clean_text(cell).lstrip("\ufeff").lower()


def _is_blank(cells: Sequence[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _build_table(rows: Iterable[tuple[int, Sequence[str]]], strict_width: bool) -> Table:
    iterator = iter(rows)
    header = _find_header(iterator)
    _check_header(header)
    body: list[tuple[int, tuple[str, ...]]] = []
    for line, cells in iterator:
        if _is_blank(cells):
            continue
        if len(body) >= MAX_ROWS:
            raise PayloadTooLarge(
                N_("The file has more than {limit} rows; split it into smaller files."),
                parameter="file",
                limit=MAX_ROWS,
            )
        body.append((line, tuple(cells)))
    if not body:
        raise ValidationError(N_("The file has no records."), parameter="file")
    return Table(header, body, strict_width)


def _find_header(rows: Iterator[tuple[int, Sequence[str]]]) -> tuple[str, ...]:
    """The first row naming ``seed_id`` (title rows above it are skipped), else the first row."""
    first: tuple[str, ...] | None = None
    for index, (_line, cells) in enumerate(rows):
        if _is_blank(cells):
            continue
        names = tuple(_column_name(cell) for cell in cells)
        if len(names) > MAX_COLUMNS:
            raise PayloadTooLarge(
                N_("The file has more than {limit} columns."), parameter="header", limit=MAX_COLUMNS
            )
        if REQUIRED_COLUMNS[0] in names:
            return names
        first = first or names
        if index + 1 >= HEADER_SEARCH_ROWS:
            break
    if first is None:
        raise ValidationError(N_("The file has no records."), parameter="file")
    return first


def _check_header(header: tuple[str, ...]) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ValidationError(
            N_("The file lacks the required column(s): {columns}."),
            parameter="header",
            columns=", ".join(missing),
        )
    seen: set[str] = set()
    for name in header:
        if name in KNOWN_COLUMNS and name in seen:
            raise ValidationError(
                N_("The column {column} appears more than once in the header."),
                parameter="header",
                column=name,
            )
        seen.add(name)


# Checking rows


@dataclass
class CheckedTable:
    rows: list[RecordRow]
    problems: list[RowProblem]
    rows_checked: int

    @property
    def faulty_lines(self) -> set[int]:
        return {p.line for p in self.problems}


def check_table(table: Table) -> CheckedTable:
    """Check every row on its own and against the other rows (ids, registration numbers)."""
    columns = table.columns
    header = frozenset(columns)
    rows: list[RecordRow] = []
    problems: list[RowProblem] = []
    first_ids: dict[str, int] = {}
    first_numbers: dict[str, int] = {}
    for line, cells in table.rows:
        values = {name: cells[i] if i < len(cells) else "" for name, i in columns.items()}
        row, row_problems = parse_row(line, values, header)
        if table.strict_width and not _is_blank(cells[len(table.header) :]):
            row_problems.append(problem(line, "-", N_("has more cells than the header")))
        row_problems += _duplicates(line, values, first_ids, first_numbers)
        problems += row_problems
        if row is not None and not row_problems:
            rows.append(row)
    return CheckedTable(rows, problems, len(table.rows))


def _duplicates(
    line: int, values: dict[str, str], first_ids: dict[str, int], first_numbers: dict[str, int]
) -> list[RowProblem]:
    found = []
    record_id = clean_text(values.get("seed_id", ""))
    if record_id in first_ids:
        found.append(
            problem(
                line,
                "seed_id",
                N_("duplicate id; first used on line {first}"),
                record_id,
                first=first_ids[record_id],
            )
        )
    elif record_id:
        first_ids[record_id] = line
    number = clean_text(values.get("registration_number", ""))
    if number in first_numbers:
        found.append(
            problem(
                line,
                "registration_number",
                N_("duplicate registration number; first used on line {first}"),
                number,
                first=first_numbers[number],
            )
        )
    elif number:
        first_numbers[number] = line
    return found


def registration_conflicts(session: Session, rows: Sequence[RecordRow]) -> list[RowProblem]:
    """Rows claiming a registration number another stored record keeps."""
    claims: dict[str, RecordRow] = {
        row.record.registration_number: row
        for row in rows
        if "registration_number" in row.attributes and row.record.registration_number
    }
    numbers_in_file = {
        row.record.id: row.record.registration_number
        for row in rows
        if "registration_number" in row.attributes
    }
    found = []
    wanted = sorted(number for number in claims if number)
    for start in range(0, len(wanted), DB_BATCH):
        batch = wanted[start : start + DB_BATCH]
        holders = session.execute(
            select(Record.id, Record.registration_number).where(
                Record.registration_number.in_(batch)
            )
        )
        for holder, number in holders:
            row = claims[str(number)]
            moves_away = holder in numbers_in_file and numbers_in_file[holder] != number
            if holder != row.record.id and not moves_away:
                found.append(
                    problem(
                        row.line,
                        "registration_number",
                        N_("registration number already belongs to record {record_id}"),
                        str(number),
                        record_id=holder,
                    )
                )
    return found


def _without_conflicts(
    session: Session, rows: list[RecordRow]
) -> tuple[list[RecordRow], list[RowProblem]]:
    """Drop rows whose number is taken; dropping one may keep a number taken, so repeat."""
    problems: list[RowProblem] = []
    while conflicts := registration_conflicts(session, rows):
        problems += conflicts
        faulty = {p.line for p in conflicts}
        rows = [row for row in rows if row.line not in faulty]
    return rows, problems


# Importing


def import_table(
    session: Session, table: Table, source: str, partial: bool = False
) -> ImportReport:
    """Check a read table, then write it (all or nothing unless ``partial``) in ``session``."""
    checked = check_table(table)
    rows, conflicts = _without_conflicts(session, checked.rows)
    problems = sorted(checked.problems + conflicts, key=lambda p: p.line)
    report = ImportReport(
        source=source,
        partial=partial,
        rows_checked=checked.rows_checked,
        problems=problems,
        ignored_columns=table.ignored_columns,
    )
    if report.rejected:
        return report
    summary = import_records(session, rows)
    report.created, report.updated, report.unchanged = (
        summary.created,
        summary.updated,
        summary.unchanged,
    )
    return report


def import_file(session: Session, path: Path, partial: bool = False) -> ImportReport:
    """Import an inventory file in the caller's transaction.

    File-level faults (unreadable, too large, a required column missing) raise
    a :class:`~server.errors.MuseumError`. Faulty rows are listed in the
    report; unless ``partial``, nothing is then written (``report.rejected``).
    """
    return import_table(session, read_table(path), path.name, partial)


def read_catalog_csv(data: bytes) -> list[Record]:
    """Parse and check a whole CSV without a database.

    Raises :class:`RejectedImport` listing every faulty row.
    """
    checked = check_table(read_csv_table(data))
    if checked.problems:
        raise RejectedImport(checked.problems)
    return [row.record for row in checked.rows]


def write_problem_report(
    report: ImportReport, path: Path, gettext: Callable[[str], str] | None = None
) -> None:
    """The faulty rows as CSV (UTF-8 with BOM, for Excel); cells that could run are neutralised."""
    with (
        atomic_file(path) as temporary,
        temporary.open("w", encoding="utf-8-sig", newline="") as out,
    ):
        writer = csv.writer(out)
        writer.writerow(REPORT_COLUMNS)
        for item in report.problems:
            cells = (str(item.line), item.column, item.render(gettext), item.value)
            writer.writerow([neutralise_cell(cell) for cell in cells])
