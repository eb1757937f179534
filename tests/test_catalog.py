from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import pytest

from server.catalog import import_records, parse_row, records_by_kind
from server.cells import MAX_SHOWN_VALUE, shown_value, vocabulary_index
from server.db import Database
from server.errors import ValidationError
from server.importer import RejectedImport, read_catalog_csv
from server.migrate import upgrade
from server.models import Record, utcnow
from server.vocab import ACCESS_LEVELS, DESIGNATIONS, DIGITIZATION_STATUSES, KINDS, SUBTYPES

HEADER = "seed_id,entity_type,name_vi,name_en\n"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def test_seed_catalog_parses_31_nfc_records() -> None:
    from tests.conftest import SEED_CATALOG

    records = read_catalog_csv(SEED_CATALOG.read_bytes())
    assert len(records) == 31
    for record in records:
        for text in record.title.values():
            assert unicodedata.is_normalized("NFC", text)
    assert records[0].sources[0].startswith("https://")
    assert len(records[0].sources) == 3
    assert records[0].designation == "unesco"


def test_decomposed_input_is_stored_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Đắk Lắk")
    records = read_catalog_csv((HEADER + f"DL-X-1,di_tich,{decomposed},Dak Lak\n").encode())
    assert records[0].title["vi"] == "Đắk Lắk"
    assert records[0].title["vi"] == unicodedata.normalize("NFC", decomposed)


def test_byte_order_mark_is_accepted() -> None:
    records = read_catalog_csv(("\ufeff" + HEADER + "DL-X-1,di_tich,Tháp Yang Prông,\n").encode())
    assert records[0].title == {"vi": "Tháp Yang Prông"}


@pytest.mark.parametrize(
    ("body", "column"),
    [
        ("DL-X-1,di_tich,,Name\n", "name_vi"),
        ("DL-X-1,spaceship,Tên,Name\n", "entity_type"),
        ("DL X 1,di_tich,Tên,Name\n", "seed_id"),
        ("DL-X-1,di_tich,Tên\x07,Name\n", "name_vi"),
        ("DL-X-1,di_tich,Tên,Name\nDL-X-1,di_tich,Tên 2,Name 2\n", "seed_id"),
        ("DL-X-1,di_tich,Tên,=1+2\n", "name_en"),
    ],
)
def test_faulty_rows_reject_the_whole_file(body: str, column: str) -> None:
    good = "DL-OK-1,hien_vat,Bộ chiêng,Gong set\n"
    with pytest.raises(ValidationError) as caught:
        read_catalog_csv((HEADER + good + body).encode())
    assert isinstance(caught.value, RejectedImport)
    problems = caught.value.problems
    assert any(p.column == column for p in problems)
    assert all(p.line >= 3 for p in problems)


def test_invalid_utf8_is_reported_on_its_row() -> None:
    body = b"DL-X-1,di_tich,Th\xe1p,\nDL-X-2,di_tich,\xff\xfe,\nDL-X-3,di_tich,ok,\n"
    with pytest.raises(RejectedImport) as caught:
        read_catalog_csv(HEADER.encode() + body)
    assert [(p.line, p.column) for p in caught.value.problems] == [(2, "name_vi"), (3, "name_vi")]
    assert caught.value.problems[0].value == "Th\ufffdp"


def test_invalid_utf8_in_the_header_names_the_byte() -> None:
    with pytest.raises(ValidationError) as caught:
        read_catalog_csv(b"seed_id,entity_type,name_vi,n\xe2me_en\nDL-X-1,di_tich,x,y\n")
    assert caught.value.params["offset"] == len("seed_id,entity_type,name_vi,n")


def test_missing_columns_and_empty_files() -> None:
    with pytest.raises(ValidationError) as caught:
        read_catalog_csv(b"id,name\n1,x\n")
    assert "seed_id" in caught.value.params["columns"]
    with pytest.raises(ValidationError):
        read_catalog_csv(HEADER.encode())


def test_parse_row_reports_every_faulty_cell_at_once() -> None:
    header = ["seed_id", "entity_type", "name_vi", "date_earliest", "rights", "designation"]
    cells = {
        "seed_id": "A 1",
        "entity_type": "di_tich",
        "name_vi": "",
        "date_earliest": "năm 1900",
        "rights": "ftp://example.org/licence",
        "designation": "National treasure",  # a national treasure is an object, not a site
    }
    row, problems = parse_row(12, cells, header)
    assert row is None
    assert [(p.line, p.column) for p in problems] == [
        (12, "name_vi"),
        (12, "seed_id"),
        (12, "date_earliest"),
        (12, "rights"),
        (12, "designation"),
    ]
    assert (
        problems[-1].message
        == "ranking bao_vat_quoc_gia does not apply to a record of kind di_tich"
    )
    assert problems[-1].params == {"code": "bao_vat_quoc_gia", "kind": "di_tich"}


def test_problem_translation_keeps_the_english_when_a_translation_breaks() -> None:
    _, problems = parse_row(2, {"seed_id": "A", "entity_type": "x", "name_vi": "y"}, ["seed_id"])
    unknown = problems[0]
    assert unknown.render(lambda m: "loại không rõ; dùng: {choices}").startswith("loại không rõ")
    assert unknown.render(lambda m: "hỏng {missing}") == unknown.message


def test_shown_values_are_truncated_between_graphemes() -> None:
    text = "a" * (MAX_SHOWN_VALUE - 1) + "ê\u0306" + "b" * 10  # ê̆ stays ê + breve in NFC
    shown = shown_value(text)
    assert shown.endswith("…")
    assert "\u0306" not in shown[-2:]  # the breve is never cut from its letter
    assert shown_value("ab\x07") == "ab\\x07"


@pytest.mark.parametrize(
    "vocabulary", [KINDS, DESIGNATIONS, SUBTYPES, ACCESS_LEVELS, DIGITIZATION_STATUSES]
)
def test_every_code_and_label_names_its_own_code(vocabulary: dict[str, str]) -> None:
    from server.cells import vocabulary_code
    from server.i18n import load_catalogs

    vietnamese = load_catalogs()["vi"].gettext
    for code, label in vocabulary.items():
        for name in (code, label, vietnamese(label), label.upper()):
            assert vocabulary_code(name, vocabulary) == code, name
    assert vocabulary_code("no such thing", vocabulary) is None
    assert set(vocabulary_index(tuple(vocabulary.items())).values()) == set(vocabulary)


def test_import_records_accepts_whole_records(db: Database) -> None:
    def write(title: str) -> object:
        record = Record(
            status="published", id="R-1", kind="hien_vat", title={"vi": title}, description={}
        )
        return db.call(lambda s: import_records(s, [record]), write=True)

    first, second, third = write("Ché"), write("Ché"), write("Ché cổ")
    assert [(s.created, s.updated, s.unchanged) for s in (first, second, third)] == [  # type: ignore[attr-defined]
        (1, 0, 0),
        (0, 0, 1),
        (0, 1, 0),
    ]
    stored = db.call(lambda s: s.get(Record, "R-1"))
    assert (stored.title, stored.access_level) == ({"vi": "Ché cổ"}, "public")


def test_records_by_kind_shows_only_what_the_public_may_see(db: Database) -> None:
    def add(session: object) -> None:
        session.add_all(  # type: ignore[attr-defined]
            [
                Record(status="published", id="P-1", kind="hien_vat", title={"vi": "Công khai"}),
                Record(
                    id="P-2",
                    status="published",
                    kind="hien_vat",
                    title={"vi": "Hạn chế"},
                    access_level="restricted",
                ),
                Record(
                    status="published",
                    id="P-3",
                    kind="di_tich",
                    title={"vi": "Đã xóa"},
                    deleted_at=utcnow(),
                ),
            ]
        )

    db.call(add, write=True)
    public = db.call(records_by_kind)
    assert {kind: [r.id for r in items] for kind, items in public.items()} == {"hien_vat": ["P-1"]}
    staff = db.call(lambda s: records_by_kind(s, ("public", "restricted")))
    assert [r.id for r in staff["hien_vat"]] == ["P-1", "P-2"]
