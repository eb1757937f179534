from __future__ import annotations

import unicodedata

import pytest

from server.catalog import read_catalog_csv
from server.errors import ValidationError

HEADER = "seed_id,entity_type,name_vi,name_en\n"


def test_seed_catalog_parses_31_nfc_records() -> None:
    from tests.conftest import SEED_CATALOG

    records = read_catalog_csv(SEED_CATALOG.read_bytes())
    assert len(records) == 31
    for record in records:
        for text in record.title.values():
            assert unicodedata.is_normalized("NFC", text)
    assert records[0].sources[0].startswith("https://")
    assert len(records[0].sources) == 3


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
    ],
)
def test_faulty_rows_reject_the_whole_file(body: str, column: str) -> None:
    good = "DL-OK-1,hien_vat,Bộ chiêng,Gong set\n"
    with pytest.raises(ValidationError) as caught:
        read_catalog_csv((HEADER + good + body).encode())
    problems = caught.value.problems  # type: ignore[attr-defined]
    assert any(p.column == column for p in problems)
    assert all(p.line >= 3 for p in problems)


def test_invalid_utf8_names_the_byte() -> None:
    with pytest.raises(ValidationError) as caught:
        read_catalog_csv(HEADER.encode() + b"DL-X-1,di_tich,\xff\xfe,\n")
    assert caught.value.params["offset"] == len(HEADER) + len("DL-X-1,di_tich,")


def test_missing_columns_and_empty_files() -> None:
    with pytest.raises(ValidationError) as caught:
        read_catalog_csv(b"id,name\n1,x\n")
    assert "seed_id" in caught.value.params["columns"]
    with pytest.raises(ValidationError):
        read_catalog_csv(HEADER.encode())
