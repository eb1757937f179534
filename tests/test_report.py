"""The yearly digitization progress report: counts, deadlines, ordering, the XLSX and PDF files.

Expected numbers are computed here with plain Python over every record, never
with server.report, and compared with what the report (and its files) say.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import report, report_files
from server.catalog import import_catalog_file
from server.db import Database
from server.errors import BadRequest, MuseumError, ValidationError
from server.i18n import load_catalogs
from server.migrate import upgrade
from server.models import Record
from server.vocab import REPORT_CATEGORIES
from tests.conftest import SEED_CATALOG

TODAY = date(2026, 11, 21)
VI = load_catalogs()["vi"].gettext
DIGITIZED_STATUSES = {"digitized", "complete"}
# The urgency of legal statuses, written out independently of server.report.
RANK = {
    "unesco": 0,
    "quoc_gia_dac_biet": 1,
    "bao_vat_quoc_gia": 1,
    "di_tich_quoc_gia": 2,
    "danh_muc_quoc_gia": 2,
    "cap_tinh": 3,
    "hien_vat_bao_tang": 4,
    "kiem_ke": 5,
    "chua_xep_hang": 6,
}
PUBLISHED_AT = datetime(2026, 3, 1, 9, 0)

# id: (status, published, access level, deleted, designation or None, priority or None)
CHANGES: dict[str, tuple[str, bool, str, bool, str | None, int | None]] = {
    "DL-ICH-01": ("digitized", True, "public", False, None, None),  # UNESCO, published
    "DL-REL-01": ("complete", True, "public", False, None, None),  # special national, published
    "DL-REL-02": ("digitized", False, "public", False, None, None),  # digitized, not published
    "DL-REL-03": ("digitized", True, "restricted", False, None, None),  # counts, not published
    "DL-REL-04": ("complete", True, "public", True, None, None),  # deleted: never counts
    "DL-REL-06": ("in_progress", False, "public", False, None, None),  # not yet digitized
    "DL-REL-11": ("not_digitized", False, "public", False, None, 1),
    "DL-REL-12": ("not_digitized", False, "public", False, None, 2),
    "DL-ART-01": ("digitized", True, "public", False, None, None),
    "DL-DOC-01": ("digitized", True, "public", False, "bao_vat_quoc_gia", None),  # two lines
    "DL-DOC-02": ("not_digitized", False, "public", False, "danh_muc_quoc_gia", None),
    "DL-DOC-03": ("not_digitized", False, "staff", False, "unesco", None),  # two lines
    "DL-DOC-04": ("not_digitized", False, "public", False, None, 1),
}


def apply_changes(session: Session) -> None:
    for record_id, (status, published, access, deleted, designation, priority) in CHANGES.items():
        record = session.get(Record, record_id)
        assert record is not None
        record.digitization_status = status
        record.published_at = PUBLISHED_AT if published else None
        record.access_level = access
        record.deleted_at = PUBLISHED_AT if deleted else None
        if designation:
            record.designation = designation
        if priority:
            record.digitization_priority = priority


def prepared_database(url: str) -> Database:
    db = Database(url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.call(apply_changes, write=True)
    return db


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = prepared_database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = prepared_database(f"sqlite:///{tmp_path / 'report.sqlite3'}")
    yield database
    database.dispose()


@dataclass(frozen=True)
class Expected:
    items: int
    digitized: int
    published: int
    remaining_ids: list[str]

    @property
    def percent(self) -> float | None:
        if not self.items:
            return None
        tenths = (2000 * self.digitized + self.items) // (2 * self.items)  # half up
        return tenths / 10


def all_records(db: Database) -> list[Record]:
    return list(db.call(lambda session: session.scalars(select(Record)).all()))


def members(records: list[Record], kind: str, designations: tuple[str, ...]) -> list[Record]:
    return [
        r
        for r in records
        if r.deleted_at is None
        and (kind == "*" or r.kind == kind)
        and r.designation in designations
    ]


def summarize(records: list[Record]) -> Expected:
    digitized = [r for r in records if r.digitization_status in DIGITIZED_STATUSES]
    published = [r for r in digitized if r.published_at and r.access_level == "public"]
    remaining = sorted(
        (r for r in records if r not in digitized),
        key=lambda r: (r.digitization_priority, RANK[r.designation], r.id),
    )
    return Expected(len(records), len(digitized), len(published), [r.id for r in remaining])


def expected_lines(db: Database) -> dict[str, Expected]:
    records = all_records(db)
    return {c.code: summarize(members(records, c.kind, c.designations)) for c in REPORT_CATEGORIES}


def expected_totals(db: Database) -> Expected:
    records = all_records(db)
    union = {r.id: r for c in REPORT_CATEGORIES for r in members(records, c.kind, c.designations)}
    return summarize(list(union.values()))


# Dates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "deadline", "days"),
    [
        (date(2026, 1, 1), date(2026, 11, 20), 323),
        (date(2026, 11, 19), date(2026, 11, 20), 1),
        (date(2026, 11, 20), date(2026, 11, 20), 0),
        (date(2026, 11, 21), date(2027, 11, 20), 364),
        (date(2026, 12, 31), date(2027, 11, 20), 324),
        (date(2027, 11, 21), date(2028, 11, 20), 365),  # 29 February 2028 lies between
        (date(2028, 2, 28), date(2028, 11, 20), 266),
        (date(2028, 2, 29), date(2028, 11, 20), 265),
        (date(2028, 3, 1), date(2028, 11, 20), 264),
        (date(2023, 11, 21), date(2024, 11, 20), 365),
    ],
)
def test_days_until_the_next_20_november(as_of: date, deadline: date, days: int) -> None:
    assert report.next_deadline(as_of) == deadline
    assert report.days_until_deadline(as_of) == days


@pytest.mark.parametrize(
    ("raw", "year"),
    [(None, 2026), ("", 2026), ("2026", 2026), ("2021", 2021), ("2025", 2025)],
)
def test_parse_year_accepts_plan_years_up_to_now(raw: str | None, year: int) -> None:
    assert report.parse_year(raw, TODAY) == year


@pytest.mark.parametrize(
    "raw", ["abc", "2020", "2027", "2030", "1e3", "-2025", " 2025", "２０２５", "20250", "0x7e9"]
)
def test_parse_year_refuses_anything_else_naming_the_parameter(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        report.parse_year(raw, TODAY)
    assert caught.value.parameter == "year"
    assert caught.value.status == 400


def test_after_the_plan_the_current_year_is_still_allowed() -> None:
    assert report.allowed_years(date(2032, 5, 1))[-1] == 2032
    assert 2031 not in report.allowed_years(date(2032, 5, 1))
    assert report.parse_year("2030", date(2032, 5, 1)) == 2030


def test_a_past_year_is_reported_as_of_its_20_november() -> None:
    assert report.report_date(2026, TODAY) == TODAY
    assert report.report_date(2024, TODAY) == date(2024, 11, 20)


@pytest.mark.parametrize(
    ("part", "whole", "share"),
    [
        (0, 0, None),
        (0, 3, 0.0),
        (1, 3, 33.3),
        (2, 3, 66.7),
        (1, 16, 6.3),
        (1, 8, 12.5),
        (7, 7, 100.0),
    ],
)
def test_percent_has_one_decimal_rounded_half_up(
    part: int, whole: int, share: float | None
) -> None:
    assert report.percent(part, whole) == share


# Counting on both engines ----------------------------------------------------------------------


def test_progress_equals_the_database_on_each_engine(db: Database) -> None:
    result = db.call(lambda session: report.progress(session, TODAY))
    expected = expected_lines(db)
    assert [line.code for line in result.categories] == [c.code for c in REPORT_CATEGORIES]
    for line in result.categories:
        want = expected[line.code]
        got = (line.items, line.digitized, line.published, line.percent_digitized)
        assert got == (want.items, want.digitized, want.published, want.percent), line.code
        assert line.remaining == want.items - want.digitized
        assert [item.id for item in line.remaining_items] == want.remaining_ids, line.code
        assert line.target_percent == 100
    totals = expected_totals(db)
    assert (result.totals.items, result.totals.digitized, result.totals.published) == (
        totals.items,
        totals.digitized,
        totals.published,
    )
    assert result.catalog_records == 30  # 31 seed records, one deleted
    assert (result.year, result.as_of, result.days_left) == (2026, TODAY, 364)


def test_the_scenario_exercises_every_rule(db: Database) -> None:
    """Guards the fixture: the counts above would prove little on a trivial catalog."""
    lines = {line.code: line for line in db.call(lambda s: report.progress(s, TODAY)).categories}
    national = lines["national_relics"]
    # Seven national relics, one deleted; REL-02 and the restricted REL-03 are digitized.
    assert (national.items, national.digitized, national.published) == (6, 2, 0)
    assert (lines["unesco"].items, lines["unesco"].digitized) == (2, 1)  # ICH-01 + DOC-03
    assert lines["national_treasures"].published == 1  # DOC-01, also in documents
    totals = db.call(lambda s: report.progress(s, TODAY)).totals
    assert totals.items < sum(line.items for line in lines.values())  # counted once


def test_remaining_items_most_urgent_first(db: Database) -> None:
    lines = {line.code: line for line in db.call(lambda s: report.progress(s, TODAY)).categories}
    # Priority first, then legal status (UNESCO before the national list before unranked), then id.
    assert [i.id for i in lines["documents"].remaining_items] == [
        "DL-DOC-04",
        "DL-DOC-03",
        "DL-DOC-02",
    ]
    assert [i.id for i in lines["national_relics"].remaining_items][:3] == [
        "DL-REL-11",
        "DL-REL-12",
        "DL-REL-06",
    ]
    first = lines["national_relics"].remaining_items[0]
    assert (first.title, first.priority, first.designation) == (
        "Địa đạo Gò Thì Thùng",
        1,
        "di_tich_quoc_gia",
    )


def test_remaining_limit_caps_each_list_but_not_the_counts(sqlite_db: Database) -> None:
    capped = sqlite_db.call(lambda s: report.progress(s, TODAY, remaining_limit=2))
    none = sqlite_db.call(lambda s: report.progress(s, TODAY, remaining_limit=0))
    for line, bare in zip(capped.categories, none.categories, strict=True):
        assert len(line.remaining_items) == min(2, line.remaining)
        assert bare.remaining_items == ()
        assert (line.items, line.digitized) == (bare.items, bare.digitized)


# Files -----------------------------------------------------------------------------------------


def summary_rows(sheet: object) -> dict[str, tuple[object, ...]]:
    return {row[0]: row[1:7] for row in sheet.iter_rows(values_only=True) if row[0]}  # type: ignore[attr-defined]


def test_xlsx_numbers_equal_the_database(sqlite_db: Database, tmp_path: Path) -> None:
    out = tmp_path / "bao-cao-2026.xlsx"
    sqlite_db.call(lambda s: report_files.write_report(s, 2026, out, today=TODAY))
    workbook = openpyxl.load_workbook(out)
    summary = workbook[VI("Summary")]
    assert summary["A1"].value == VI(
        "Cultural heritage digitization progress report, {year}"
    ).format(year=2026)
    assert summary["B3"].value.date() == TODAY
    assert summary["B4"].value.date() == date(2027, 11, 20)
    rows = summary_rows(summary)
    expected = expected_lines(sqlite_db)
    for category in REPORT_CATEGORIES:
        label = VI(category.label)
        want = expected[category.code]
        items, digitized, published, share, target, remaining = rows[label]
        assert (items, digitized, published, remaining) == (
            want.items,
            want.digitized,
            want.published,
            want.items - want.digitized,
        ), label
        assert share == (None if want.percent is None else pytest.approx(want.percent / 100))
        assert target == 1
    totals = expected_totals(sqlite_db)
    assert rows[VI("Total (each record counted once)")][:3] == (
        totals.items,
        totals.digitized,
        totals.published,
    )
    assert "Di tích quốc gia đặc biệt" in rows  # Vietnamese labels by default
    share_cell = next(c for c in summary["E"] if isinstance(c.value, float))
    assert share_cell.number_format == "0.0%"
    assert summary.cell(share_cell.row, share_cell.column + 1).number_format == "0%"
    assert len(summary._charts) == 1
    assert summary._charts[0].type == "bar"


def test_xlsx_lists_remaining_items_in_priority_order(sqlite_db: Database, tmp_path: Path) -> None:
    out = tmp_path / "report.xlsx"
    sqlite_db.call(lambda s: report_files.write_report(s, 2026, out, today=TODAY))
    sheet = openpyxl.load_workbook(out)[VI("Remaining")]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    expected = expected_lines(sqlite_db)
    listed = [(row[1], row[2]) for row in rows]
    want = [
        (VI(c.label), record_id)
        for c in REPORT_CATEGORIES
        for record_id in expected[c.code].remaining_ids
    ]
    assert listed == want
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
    assert ("Địa đạo Gò Thì Thùng", 1) in [(row[3], row[5]) for row in rows]


def test_xlsx_in_english(sqlite_db: Database, tmp_path: Path) -> None:
    out = tmp_path / "report.xlsx"
    result = sqlite_db.call(lambda s: report.progress(s, TODAY))
    report_files.write_xlsx(result, out, lang="en")
    rows = summary_rows(openpyxl.load_workbook(out)["Summary"])
    assert rows["Special national relics"][:3] == (2, 1, 1)
    assert "Di tích quốc gia đặc biệt" not in rows


def files_beside_the_database(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("report.sqlite3"))


def pdf_text(path: Path) -> tuple[str, int]:
    reader = PdfReader(path)
    return " ".join(page.extract_text() for page in reader.pages), len(reader.pages)


def vietnamese_share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}".replace(".", ",") + "%"


def test_pdf_numbers_equal_the_database(sqlite_db: Database, tmp_path: Path) -> None:
    out = tmp_path / "bao-cao-2026.pdf"
    sqlite_db.call(lambda s: report_files.write_report(s, 2026, out, today=TODAY))
    assert out.read_bytes().startswith(b"%PDF-")
    text, pages = pdf_text(out)
    flat = re.sub(r"\s+", " ", text)
    assert "Di tích quốc gia đặc biệt" in flat  # diacritics survive extraction
    expected = expected_lines(sqlite_db)
    for category in REPORT_CATEGORIES:
        want = expected[category.code]
        numbers = (
            f"{want.items} {want.digitized} {want.published} {vietnamese_share(want.percent)} "
            f"100% {want.items - want.digitized}"
        )
        assert f"{VI(category.label)} {numbers}" in flat, category.code
    totals = expected_totals(sqlite_db)
    assert (
        f"{VI('Total (each record counted once)')} {totals.items} {totals.digitized} "
        f"{totals.published} {vietnamese_share(totals.percent)} "
        f"{totals.items - totals.digitized}"
    ) in flat
    assert "DL-REL-11 — Địa đạo Gò Thì Thùng" in flat
    assert flat.index("DL-REL-11") < flat.index("DL-REL-12") < flat.index("DL-REL-06 ")
    for page in range(1, pages + 1):
        assert VI("Page {page} of {pages}").format(page=page, pages=pages) in flat
    assert "21/11/2026" in flat and "20/11/2027" in flat


def test_pdf_in_english(sqlite_db: Database, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    report_files.write_pdf(sqlite_db.call(lambda s: report.progress(s, TODAY)), out, lang="en")
    flat = re.sub(r"\s+", " ", pdf_text(out)[0])
    assert "Special national relics 2 1 1 50.0% 100% 1" in flat
    assert "364 days left until 20 November 2027" in flat


def test_pdf_without_the_font_names_the_debian_package(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_files, "FONT_DIR", tmp_path / "no-fonts")
    out = tmp_path / "report.pdf"
    with pytest.raises(MuseumError) as caught:
        sqlite_db.call(lambda s: report_files.write_report(s, 2026, out, today=TODAY))
    assert "fonts-noto-core" in str(caught.value)
    assert "NotoSans-Regular.ttf" in str(caught.value)
    assert files_beside_the_database(tmp_path) == []


@pytest.mark.parametrize("name", ["report.csv", "report", "report.xlsx.txt", "report.docx"])
def test_write_report_names_the_supported_suffixes(
    sqlite_db: Database, tmp_path: Path, name: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        sqlite_db.call(lambda s: report_files.write_report(s, 2026, tmp_path / name, today=TODAY))
    assert caught.value.parameter == "out"
    assert ".xlsx" in str(caught.value) and ".pdf" in str(caught.value)


def test_write_report_refuses_a_missing_folder_and_a_bad_year(
    sqlite_db: Database, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError) as caught:
        sqlite_db.call(lambda s: report_files.write_report(s, 2026, tmp_path / "no" / "r.pdf"))
    assert caught.value.parameter == "out"
    with pytest.raises(BadRequest) as bad_year:
        sqlite_db.call(
            lambda s: report_files.write_report(s, 2019, tmp_path / "r.pdf", today=TODAY)
        )
    assert bad_year.value.parameter == "year"
    with pytest.raises(ValidationError) as bad_lang:
        sqlite_db.call(lambda s: report_files.write_report(s, 2026, tmp_path / "r.pdf", lang="fr"))
    assert bad_lang.value.parameter == "lang"
    assert not (tmp_path / "r.pdf").exists()


def test_write_report_turns_a_failed_write_into_a_clear_error(
    sqlite_db: Database, tmp_path: Path
) -> None:
    out = tmp_path / "taken.pdf"
    out.mkdir()  # a folder where the file should go: the final rename fails
    with pytest.raises(ValidationError) as caught:
        sqlite_db.call(lambda s: report_files.write_report(s, 2026, out, today=TODAY))
    assert caught.value.parameter == "out"
    assert "taken.pdf" in str(caught.value)
    assert files_beside_the_database(tmp_path) == ["taken.pdf"]  # the partial file is gone


def test_write_report_replaces_the_file_whole(sqlite_db: Database, tmp_path: Path) -> None:
    out = tmp_path / "Report.XLSX"
    out.write_bytes(b"old contents")
    past = sqlite_db.call(lambda s: report_files.write_report(s, 2024, out, today=TODAY))
    assert (past.year, past.as_of, past.days_left) == (2024, date(2024, 11, 20), 0)
    summary = openpyxl.load_workbook(out)[VI("Summary")]
    assert "2024" in summary["A1"].value
    assert VI("The report is due today, 20 November {year}.").format(year=2024) in [
        c.value for c in summary[4]
    ]
    assert files_beside_the_database(tmp_path) == ["Report.XLSX"]  # no temporary file left
