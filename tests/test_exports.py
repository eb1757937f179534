"""Open-data exports: CSV, JSON and BagIt, from a session and over HTTP."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bagit
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

import server.exports as exports
from server.catalog import import_catalog_file
from server.db import Database
from server.errors import NotFound, ValidationError
from server.exports import (
    CSV_COLUMNS,
    ascii_filename,
    content_disposition,
    export_bagit,
    export_csv,
    export_json,
    neutralise_cell,
    parse_export_format,
)
from server.migrate import upgrade
from server.models import Record, utcnow
from server.records import visible
from tests.conftest import SEED_CATALOG

HIDDEN = {"X-RESTRICTED", "X-STAFF", "X-DELETED"}
HYPERLINK = '=HYPERLINK("http://evil.example","click")'
EDE = "Klei \u00ea\u0306 mẫu"  # ê̆: ê + combining breve, even in NFC
PAYLOAD = {"data/catalog.csv", "data/catalog.json", "data/README.md"}


def add_test_records(session: Session) -> None:
    session.add_all(
        [
            Record(
                id="X-RESTRICTED",
                status="published",
                kind="hien_vat",
                title={"vi": "Hạn chế"},
                access_level="restricted",
            ),
            Record(
                status="published",
                id="X-STAFF",
                kind="hien_vat",
                title={"vi": "Nội bộ"},
                access_level="staff",
            ),
            Record(
                status="published",
                id="X-DELETED",
                kind="hien_vat",
                title={"vi": "Đã xóa"},
                deleted_at=utcnow(),
            ),
            Record(
                id="X-FORMULA",
                status="published",
                kind="hien_vat",
                title={"vi": "Ché có công thức", "en": "+SUM(A1)", "rad": EDE},
                description={"en": HYPERLINK},
                dating="-2+3",
                materials=["@cmd", "Đồng"],
                rights_holder="\tTab",
                provenance="\r=1",
                date_earliest=-500,
                date_latest=-100,
            ),
        ]
    )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    database.call(lambda s: import_catalog_file(s, SEED_CATALOG), write=True)
    database.call(add_test_records, write=True)
    yield database
    database.dispose()


def public_ids(db: Database) -> list[str]:
    return list(db.call(lambda s: s.scalars(visible(select(Record.id)).order_by(Record.id)).all()))


def read_csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel opens it as UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def check_csv(data: bytes, expected_ids: list[str]) -> dict[str, dict[str, str]]:
    rows = read_csv_rows(data)
    assert list(rows[0]) == [column.name for column in CSV_COLUMNS]
    assert [row["id"] for row in rows] == expected_ids
    return {row["id"]: row for row in rows}


def check_json(data: bytes, expected_ids: list[str]) -> dict[str, Any]:
    document = json.loads(data)
    assert document["count"] == len(document["records"]) == len(expected_ids)
    assert [record["id"] for record in document["records"]] == expected_ids
    assert document["licence"]["catalog"]["id"] == "CC0-1.0"
    assert document["generated_at"].endswith("Z")
    return document


# Session exports


def test_csv_export_round_trips_and_neutralises_formulas(db: Database, tmp_path: Path) -> None:
    ids = public_ids(db)
    assert len(ids) == 32 and not HIDDEN & set(ids)
    result = db.call(lambda s: export_csv(s, tmp_path / "out" / "catalog.csv"))
    assert result.count == 32
    rows = check_csv(result.path.read_bytes(), ids)
    row = rows["X-FORMULA"]
    assert row["description_en"] == "'" + HYPERLINK
    assert row["title_en"] == "'+SUM(A1)"
    assert row["dating"] == "'-2+3"
    assert row["materials"] == "'@cmd; Đồng"
    assert row["rights_holder"] == "'\tTab"
    assert row["provenance"] == "'\r=1"
    assert (row["date_earliest"], row["date_latest"]) == ("-500", "-100")  # numbers stay numbers
    assert row["title_rad"] == EDE
    gong = rows["DL-ICH-01"]
    assert gong["title_vi"] == "Không gian văn hóa Cồng chiêng Tây Nguyên"
    assert gong["title_en"] == "Space of Gong Culture in the Central Highlands"
    assert gong["designation"] == "unesco"
    assert gong["ethnic_groups"] == "Êđê; M'nông; Jrai; Ba Na"
    assert gong["sources"].count("; https://") == 2
    for value in (cell for r in rows.values() for cell in r.values()):
        assert not value.startswith(("=", "+", "@", "\t", "\r")), value
    assert sorted(p.name for p in result.path.parent.iterdir()) == ["catalog.csv"]


def test_json_export_counts_the_public_records(db: Database, tmp_path: Path) -> None:
    ids = public_ids(db)
    result = db.call(lambda s: export_json(s, tmp_path / "catalog.json"))
    document = check_json(result.path.read_bytes(), ids)
    formula = next(r for r in document["records"] if r["id"] == "X-FORMULA")
    assert formula["description"]["en"] == HYPERLINK  # JSON is data: nothing to neutralise
    assert formula["title"]["rad"] == EDE
    assert formula["date_earliest"] == -500
    assert HIDDEN.isdisjoint(json.dumps(document))


def test_bagit_zip_validates_and_lists_sha256(db: Database, tmp_path: Path) -> None:
    ids = public_ids(db)
    result = db.call(lambda s: export_bagit(s, tmp_path / "catalog.bagit.zip"))
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        assert len({name.split("/")[0] for name in names}) == 1  # one top-level bag folder
        archive.extractall(tmp_path / "unzipped")
    (bag_dir,) = (tmp_path / "unzipped").iterdir()
    check_bag(bag_dir, ids)


def test_bagit_directory(db: Database, tmp_path: Path) -> None:
    target = tmp_path / "out" / "bag"
    db.call(lambda s: export_bagit(s, target))
    check_bag(target, public_ids(db))
    with pytest.raises(ValidationError, match="already exists"):
        db.call(lambda s: export_bagit(s, target))
    assert [p.name for p in target.parent.iterdir()] == ["bag"]


def check_bag(bag_dir: Path, ids: list[str]) -> None:
    bag = bagit.Bag(str(bag_dir))
    assert bag.validate()
    assert bag.algorithms == ["sha256"]
    manifest = (bag_dir / "manifest-sha256.txt").read_text(encoding="utf-8").splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in manifest)
    assert set(listed) == PAYLOAD
    for name, digest in listed.items():
        assert hashlib.sha256((bag_dir / name).read_bytes()).hexdigest() == digest
    tags = (bag_dir / "tagmanifest-sha256.txt").read_text(encoding="utf-8")
    assert {line.split("  ", 1)[1] for line in tags.splitlines()} == {
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
    }
    assert "Đắk Lắk" in bag.info["Source-Organization"]
    check_csv((bag_dir / "data" / "catalog.csv").read_bytes(), ids)
    check_json((bag_dir / "data" / "catalog.json").read_bytes(), ids)
    readme = (bag_dir / "data" / "README.md").read_text(encoding="utf-8")
    assert "CC0 1.0" in readme and f"{len(ids)} hồ sơ" in readme
    for column in CSV_COLUMNS:
        assert f"| `{column.name}` |" in readme


def test_a_failed_export_leaves_the_previous_file(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out" / "catalog.csv"
    target.parent.mkdir()
    target.write_bytes(b"previous export")
    calls = 0

    def failing(value: object) -> str:
        nonlocal calls
        calls += 1
        if calls > 100:
            raise OSError("disk full")
        return str(value)

    monkeypatch.setattr(exports, "csv_cell", failing)
    with pytest.raises(OSError, match="disk full"):
        db.call(lambda s: export_csv(s, target))
    assert target.read_bytes() == b"previous export"
    assert [p.name for p in target.parent.iterdir()] == ["catalog.csv"]


# Cells and names


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+84 912 345 678", "'+84 912 345 678"),
        ("-A1", "'-A1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-500", "-500"),
        ("+3.5", "+3.5"),
        ("-1,5", "-1,5"),
        ("Cồng chiêng", "Cồng chiêng"),
        ("", ""),
    ],
)
def test_neutralise_cell(cell: str, written: str) -> None:
    assert neutralise_cell(cell) == written


def test_content_disposition_has_an_ascii_fallback() -> None:
    header = content_disposition("danh-mục-di-sản-đắk-lắk-20250101.csv")
    assert header.startswith('attachment; filename="danh-muc-di-san-dak-lak-20250101.csv"; ')
    assert "filename*=UTF-8''danh-m%E1%BB%A5c-di-s%E1%BA%A3n-%C4%91%E1%BA%AFk-l%E1%BA%AFk" in header
    assert ascii_filename('a"b\\c\u0107.csv') == "a_b_cc.csv"


def test_unknown_formats_are_not_found() -> None:
    with pytest.raises(NotFound) as caught:
        parse_export_format("xml")
    assert caught.value.parameter == "fmt"
    assert "catalog.bagit.zip" in str(caught.value)


# HTTP


@pytest.fixture
def http(client: TestClient) -> TestClient:
    client.app.state.museum.db.call(add_test_records, write=True)  # type: ignore[attr-defined]
    return client


def http_public_ids(client: TestClient) -> list[str]:
    db: Database = client.app.state.museum.db  # type: ignore[attr-defined]
    return public_ids(db)


def test_http_csv_export(http: TestClient) -> None:
    response = http.get("/api/v1/exports/catalog.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["etag"].startswith('W/"csv-')
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="danh-muc-di-san-dak-lak-')
    assert "filename*=UTF-8''danh-m%E1%BB%A5c-" in disposition and disposition.endswith(".csv")
    rows = check_csv(response.content, http_public_ids(http))
    assert rows["X-FORMULA"]["description_en"] == "'" + HYPERLINK
    again = http.get(
        "/api/v1/exports/catalog.csv", headers={"if-none-match": response.headers["etag"]}
    )
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == response.headers["etag"]
    assert again.headers["access-control-allow-origin"] == "*"


def test_http_json_export_and_its_etag_follow_the_data(http: TestClient) -> None:
    first = http.get("/api/v1/exports/catalog.json")
    assert first.headers["content-type"] == "application/json"
    check_json(first.content, http_public_ids(http))
    db: Database = http.app.state.museum.db  # type: ignore[attr-defined]
    db.call(lambda s: setattr(s.get(Record, "X-RESTRICTED"), "access_level", "public"), write=True)
    second = http.get(
        "/api/v1/exports/catalog.json", headers={"if-none-match": first.headers["etag"]}
    )
    assert second.status_code == 200
    assert second.headers["etag"] != first.headers["etag"]
    assert "X-RESTRICTED" in [r["id"] for r in second.json()["records"]]


def test_http_bagit_export(http: TestClient, tmp_path: Path) -> None:
    response = http.get("/api/v1/exports/catalog.bagit.zip", headers={"range": "bytes=0-99"})
    assert response.status_code == 200  # a build is always sent whole
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].endswith(".bagit.zip")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        archive.extractall(tmp_path / "unzipped")
    (bag_dir,) = (tmp_path / "unzipped").iterdir()
    check_bag(bag_dir, http_public_ids(http))
    tmp = http.app.state.museum.store.tmp  # type: ignore[attr-defined]
    assert list(tmp.glob("export-*")) == []  # the built file is removed once sent


def test_http_unknown_format(http: TestClient) -> None:
    response = http.get("/api/v1/exports/catalog.xml")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["code"], error["parameter"]) == ("not_found", "fmt")
    assert "catalog.csv" in error["message"]
