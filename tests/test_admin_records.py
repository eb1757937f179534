"""The record editor: list, new record, editing with per-field problems, optimistic
concurrency, publishing per role, access and embargo, media and 3D annotations."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from server import visibility
from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.i18n import load_catalogs
from server.migrate import upgrade
from server.models import Annotation, Asset, AuditEntry, Record, RecordVersion
from server.search import index_record
from server.settings import Settings
from tests.admin_forms import audit_actions, audit_count, field_error, form_values
from tests.conftest import SEED_CATALOG
from tests.staff import sign_in as staff_sign_in
from tests.staff import sign_out

RECORD = "DL-ART-01"
OTHER = "DL-ART-02"


def sign_in(client: TestClient, username: str, role: str) -> str:
    """Sign in, reading the pages in English (the messages are compared as written)."""
    client.headers["accept-language"] = "en"
    return staff_sign_in(client, username, role)


def db_of(client: TestClient) -> Database:
    return client.app.state.museum.db  # type: ignore[attr-defined,no-any-return]


def change_record(db: Database, record_id: str, **values: Any) -> None:
    def run(session):  # type: ignore[no-untyped-def]
        record = session.get(Record, record_id)
        for name, value in values.items():
            setattr(record, name, value)
        index_record(session, record)

    db.call(run, write=True)


def get_record(db: Database, record_id: str) -> Record:
    return db.call(lambda s: s.get(Record, record_id))  # type: ignore[no-any-return]


def version_numbers(db: Database, record_id: str) -> list[int]:
    return list(
        db.call(
            lambda s: list(
                s.scalars(
                    select(RecordVersion.number)
                    .where(RecordVersion.record_id == record_id)
                    .order_by(RecordVersion.number)
                )
            )
        )
    )


def edit_form(client: TestClient, record_id: str) -> dict[str, str]:
    page = client.get(f"/admin/records/{record_id}")
    assert page.status_code == 200, page.text
    return form_values(page.text, id="fields")


def save(client: TestClient, record_id: str, **changes: str) -> Any:
    values = edit_form(client, record_id)
    values.update(changes)
    return client.post(f"/admin/records/{record_id}", data=values, follow_redirects=False)


def set_status(client: TestClient, record_id: str, **fields: str) -> Any:
    return client.post(f"/admin/records/{record_id}/status", data=fields, follow_redirects=False)


@pytest.fixture
def any_db_client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    """The seed catalog on SQLite and on PostgreSQL."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.dispose()
    with TestClient(create_app(settings)) as client:
        yield client


# The list


def test_list_filters_searches_and_hides_restricted_from_editors(client: TestClient) -> None:
    db = db_of(client)
    change_record(db, OTHER, access_level="restricted")
    change_record(db, "DL-ICH-01", status="draft")
    sign_in(client, "ed", "editor")
    page = client.get("/admin/records")
    assert page.status_code == 200
    assert "no-store" in page.headers["cache-control"]
    assert f'data-record="{RECORD}"' in page.text
    assert f'data-record="{OTHER}"' not in page.text  # editors never see restricted records
    drafts = client.get("/admin/records?status=draft").text
    assert 'data-record="DL-ICH-01"' in drafts and f'data-record="{RECORD}"' not in drafts
    relics = client.get("/admin/records?kind=di_tich").text
    assert 'data-record="DL-REL-01"' in relics and 'data-record="DL-ICH-02"' not in relics
    title = get_record(db, "DL-REL-01").title["vi"]
    found = client.get("/admin/records", params={"q": title.upper()}).text
    assert 'data-record="DL-REL-01"' in found
    assert client.get("/admin/records?status=nonsense").status_code == 400
    assert client.get("/admin/records?access=restricted").status_code == 400  # not theirs
    sign_in(client, "cur", "curator")
    assert f'data-record="{OTHER}"' in client.get("/admin/records?access=restricted").text


def test_staff_pages_need_a_staff_role(client: TestClient) -> None:
    html = {"accept": "text/html"}
    assert client.get("/admin/records", headers=html, follow_redirects=False).status_code == 303
    assert client.get("/admin/records").status_code == 401
    sign_in(client, "helper", "contributor")
    assert client.get("/admin/records").status_code == 403
    assert client.post(f"/admin/records/{RECORD}", data={}).status_code == 403


# A new record


def test_new_record_problems_are_shown_next_to_their_fields(client: TestClient) -> None:
    sign_in(client, "ed", "editor")
    values = form_values(client.get("/admin/records/new").text, id="fields")
    values.update(
        {
            "id": "bad id!",
            "title.vi": "",
            "title.en": "Gong",
            "date_earliest": "năm 1900",
            "sources": "not a web address",
            "designation": "bao_vat_quoc_gia",
            "kind": "di_tich",
        }
    )
    response = client.post("/admin/records", data=values)
    assert response.status_code == 422
    page = response.text
    assert field_error(page, "id") == "use letters, digits, '.', '_' or '-' (at most 64)"
    assert field_error(page, "title.vi") == "the Vietnamese name is required"
    assert field_error(page, "date_earliest") == "is not a whole number (a year; negative for BCE)"
    assert field_error(page, "sources") == "is not a web address (http:// or https://)"
    assert "does not apply to a record of kind di_tich" in (field_error(page, "designation") or "")
    assert field_error(page, "title.en") is None
    kept = form_values(page, id="fields")
    assert kept["date_earliest"] == "năm 1900" and kept["title.en"] == "Gong"
    assert db_of(client).call(lambda s: s.get(Record, "bad id!")) is None
    assert audit_count(db_of(client), "record") == 0
    # In Vietnamese, the interface's default
    vietnamese = client.post("/admin/records", data=values, headers={"accept-language": "vi"})
    vi = load_catalogs()["vi"].gettext
    assert field_error(vietnamese.text, "title.vi") == vi("the Vietnamese name is required")
    assert vi("Some fields need attention; each problem is shown next to its field.") in (
        vietnamese.text
    )


def test_new_record_is_a_draft_with_one_version_and_one_audit_entry(client: TestClient) -> None:
    sign_in(client, "ed", "editor")
    values = form_values(client.get("/admin/records/new").text, id="fields")
    decomposed = unicodedata.normalize("NFD", "Chiêng Êđê mới")
    values.update({"id": "DL-ART-99", "title.vi": decomposed, "kind": "hien_vat"})
    values["materials"] = "đồng; thiếc"
    response = client.post("/admin/records", data=values, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/records/DL-ART-99")
    record = get_record(db_of(client), "DL-ART-99")
    assert record.status == "draft"
    assert record.title["vi"] == unicodedata.normalize("NFC", decomposed)
    assert record.materials == ["đồng", "thiếc"]
    assert version_numbers(db_of(client), "DL-ART-99") == [1]
    assert audit_actions(db_of(client), "record", "DL-ART-99") == ["record.create"]
    again = client.post("/admin/records", data=values)
    assert again.status_code == 422
    assert field_error(again.text, "id") == "a record with identifier DL-ART-99 already exists"
    # Drafts are not public
    sign_out(client)
    assert client.get("/api/v1/records/DL-ART-99").status_code == 404


# Editing


def test_saving_the_form_unchanged_writes_nothing(client: TestClient) -> None:
    sign_in(client, "cur", "curator")
    db = db_of(client)
    for record_id in ("DL-ICH-01", "DL-REL-03", "DL-ART-04", "DL-DOC-02"):
        response = save(client, record_id)
        assert response.status_code == 303, response.text
        assert "notice=unchanged" in response.headers["location"]
        assert version_numbers(db, record_id) == []
    assert audit_count(db) == 0


def test_each_edit_is_one_version_and_one_audit_entry(client: TestClient) -> None:
    sign_in(client, "cur", "curator")
    db = db_of(client)
    old_title = get_record(db, RECORD).title["vi"]
    response = save(client, RECORD, **{"title.vi": "Trống đồng Đắk Lắk", "dating": "Thế kỷ XIX"})
    assert response.status_code == 303
    assert version_numbers(db, RECORD) == [1, 2]  # the state before the first edit, then it
    versions = db.call(
        lambda s: list(s.scalars(select(RecordVersion).where(RecordVersion.record_id == RECORD)))
    )
    by_number = {v.number: v for v in versions}
    assert by_number[1].data["title"]["vi"] == old_title
    assert by_number[2].data["title"]["vi"] == "Trống đồng Đắk Lắk"
    assert by_number[2].author == "cur"
    assert audit_actions(db, "record", RECORD) == ["record.update"]
    save(client, RECORD, dating="Thế kỷ XX")
    assert version_numbers(db, RECORD) == [1, 2, 3]
    assert audit_actions(db, "record", RECORD) == ["record.update", "record.update"]
    entry = db.call(lambda s: s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first())
    assert entry.before["dating"] == "Thế kỷ XIX" and entry.after["dating"] == "Thế kỷ XX"
    # The search index follows at once
    found = client.get("/api/v1/search", params={"q": "trong dong dak lak"}).json()
    assert RECORD in [item["id"] for item in found["items"]]


def test_an_edit_with_problems_keeps_what_was_typed(client: TestClient) -> None:
    sign_in(client, "cur", "curator")
    response = save(
        client, RECORD, date_earliest="1900", date_latest="1850", **{"title.en": "Kept text"}
    )
    assert response.status_code == 422
    assert field_error(response.text, "date_latest") == "is earlier than date_earliest (1900)"
    kept = form_values(response.text, id="fields")
    assert (kept["date_earliest"], kept["title.en"]) == ("1900", "Kept text")
    assert version_numbers(db_of(client), RECORD) == []


def test_someone_else_saving_meanwhile_is_a_409_with_their_changes(
    any_db_client: TestClient,
) -> None:
    client = any_db_client
    db = db_of(client)
    sign_in(client, "an", "curator")
    other = TestClient(client.app)
    sign_in(other, "binh", "curator")
    mine = edit_form(client, RECORD)
    theirs = edit_form(other, RECORD)
    assert mine["version"] == theirs["version"] == "0"
    theirs["dating"] = "Thế kỷ XVIII"
    assert other.post(f"/admin/records/{RECORD}", data=theirs).status_code == 200
    mine["provenance"] = "Sưu tầm năm 1990"
    response = client.post(f"/admin/records/{RECORD}", data=mine)
    assert response.status_code == 409
    assert "Someone else saved this record" in response.text
    assert 'data-field="dating"' in response.text and "Thế kỷ XVIII" in response.text
    again = form_values(response.text, id="fields")
    assert again["provenance"] == "Sưu tầm năm 1990"  # my text survives
    assert again["version"] == "2"
    assert get_record(db, RECORD).provenance != "Sưu tầm năm 1990"
    assert client.post(f"/admin/records/{RECORD}", data=again).status_code == 200
    assert get_record(db, RECORD).provenance == "Sưu tầm năm 1990"
    assert get_record(db, RECORD).dating == "Thế kỷ XVIII"
    assert version_numbers(db, RECORD) == [1, 2, 3]
    assert audit_count(db, "record", RECORD) == 2


def test_two_saves_at_the_same_moment_never_both_win(any_db_client: TestClient) -> None:
    client = any_db_client
    clients = []
    forms = []
    for number in range(4):
        other = TestClient(client.app)
        sign_in(other, f"curator{number}", "curator")
        form = edit_form(other, RECORD)
        form["dating"] = f"Thế kỷ {number}"
        clients.append(other)
        forms.append(form)

    def post(index: int) -> int:
        url = f"/admin/records/{RECORD}"
        return clients[index].post(url, data=forms[index], follow_redirects=False).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(post, range(4)))
    assert statuses == [303, 409, 409, 409]
    assert version_numbers(db_of(client), RECORD) == [1, 2]
    assert audit_count(db_of(client), "record", RECORD) == 1


def test_editors_change_drafts_not_published_records(client: TestClient) -> None:
    db = db_of(client)
    change_record(db, OTHER, access_level="restricted", status="draft")
    sign_in(client, "ed", "editor")
    form = edit_form(client, RECORD)  # published: readable, not changeable
    assert client.post(f"/admin/records/{RECORD}", data=form).status_code == 403
    assert client.get(f"/admin/records/{OTHER}").status_code == 404
    assert client.post(f"/admin/records/{OTHER}", data=form).status_code == 404
    change_record(db, RECORD, status="draft")
    assert save(client, RECORD, dating="1925").status_code == 303
    assert get_record(db, RECORD).dating == "1925"
    assert client.get("/admin/records/NO-SUCH").status_code == 404


# Publishing


def test_publishing_workflow_per_role(any_db_client: TestClient) -> None:
    client = any_db_client
    db = db_of(client)
    change_record(db, RECORD, status="draft", published_at=None)
    sign_in(client, "ed", "editor")
    assert set_status(client, RECORD, to="in_review").status_code == 303
    assert get_record(db, RECORD).status == "in_review"
    assert set_status(client, RECORD, to="published").status_code == 403
    assert set_status(client, RECORD, to="flying").status_code == 400
    sign_in(client, "cur", "curator")
    assert set_status(client, RECORD, to="published").status_code == 303
    published = get_record(db, RECORD)
    assert published.status == "published" and published.published_at is not None
    assert set_status(client, RECORD, to="withdrawn").status_code == 303
    sign_in(client, "ed", "editor")
    assert set_status(client, RECORD, to="published").status_code == 403
    assert set_status(client, RECORD, to="draft").status_code == 303
    sign_in(client, "cur", "curator")
    assert set_status(client, RECORD, to="published").status_code == 303
    record = get_record(db, RECORD)
    assert record.published_at == published.published_at  # only the first time
    actions = audit_actions(db, "record", RECORD)
    assert actions == ["record.status"] * 5
    assert version_numbers(db, RECORD) == [1, 2, 3, 4, 5, 6]


def test_access_level_and_embargo_are_for_curators(client: TestClient) -> None:
    db = db_of(client)
    sign_in(client, "ed", "editor")
    change_record(db, RECORD, status="draft")
    assert set_status(client, RECORD, access_level="staff").status_code == 403
    assert set_status(client, RECORD, embargo_until="2030-01-01").status_code == 403
    assert set_status(client, RECORD, access_level="public", embargo_until="").status_code == 303
    assert audit_count(db, "record", RECORD) == 0  # nothing changed, nothing written
    sign_in(client, "cur", "curator")
    bad = set_status(client, RECORD, embargo_until="31/01/2030")
    assert bad.status_code == 422
    assert field_error(bad.text, "embargo_until") == "is not a date; use the form 2027-01-31"
    assert set_status(client, RECORD, access_level="staff").status_code == 303
    assert get_record(db, RECORD).access_level == "staff"
    assert audit_actions(db, "record", RECORD) == ["record.access"]


def _attach_image(db: Database, record_id: str) -> None:
    def run(session):  # type: ignore[no-untyped-def]
        session.add(
            Asset(
                id="embargo-image",
                sha256="e" * 64,
                size=10,
                filename="front.jpg",
                media_type="image/jpeg",
                kind="image",
                record_id=record_id,
                technical={"width": 1200, "height": 800},
                published_version="v1",
            )
        )

    db.call(run, write=True)


def _public_sees(client: TestClient, record_id: str, title_words: str) -> dict[str, bool]:
    found = client.get("/api/v1/search", params={"q": title_words}).json()
    return {
        "page": client.get(f"/items/{record_id}").status_code == 200,
        "api": client.get(f"/api/v1/records/{record_id}").status_code == 200,
        "search": record_id in [item["id"] for item in found["items"]],
        "iiif": client.get(f"/iiif/3/manifests/{record_id}").status_code == 200,
    }


def test_an_embargo_hides_a_published_record_until_its_day(
    any_db_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = any_db_client
    db = db_of(client)
    _attach_image(db, RECORD)
    words = get_record(db, RECORD).title["vi"]
    visitor = TestClient(client.app)
    assert _public_sees(visitor, RECORD, words) == dict.fromkeys(
        ("page", "api", "search", "iiif"), True
    )
    sign_in(client, "cur", "curator")
    assert set_status(client, RECORD, embargo_until="2031-03-01").status_code == 303
    record = get_record(db, RECORD)
    assert record.embargo_until == datetime(2031, 2, 28, 17, 0)  # 00:00 in Vietnam
    assert record.status == "published"
    assert _public_sees(visitor, RECORD, words) == dict.fromkeys(
        ("page", "api", "search", "iiif"), False
    )
    monkeypatch.setattr(visibility, "utcnow", lambda: datetime(2031, 2, 28, 16, 59))
    assert not any(_public_sees(visitor, RECORD, words).values())
    monkeypatch.setattr(visibility, "utcnow", lambda: datetime(2031, 2, 28, 17, 0))
    assert all(_public_sees(visitor, RECORD, words).values())
    page = client.get(f"/admin/records/{RECORD}").text
    assert (
        form_values(page, action=f"/admin/records/{RECORD}/status", **{"class": "admin-form"})[
            "embargo_until"
        ]
        == "2031-03-01"
    )


# Media and annotations


def _add_model(db: Database, record_id: str) -> None:
    def run(session):  # type: ignore[no-untyped-def]
        session.add(
            Asset(
                id="model-1",
                sha256="m" * 64,
                size=10,
                filename="trong.glb",
                media_type="model/gltf-binary",
                kind="model",
                record_id=record_id,
                technical={
                    "pipeline": "3d",
                    "dimensions_mm": {"width": 400, "height": 300, "depth": 400},
                },
                published_version="v1",
                license="https://opensource.org/licenses/MIT",
            )
        )

    db.call(run, write=True)


def media_form(client: TestClient, record_id: str, asset_id: str) -> dict[str, str]:
    page = client.get(f"/admin/records/{record_id}").text
    return form_values(page, action=f"/admin/media/{asset_id}")


def test_media_tab_sets_licence_attribution_labels_and_order(client: TestClient) -> None:
    db = db_of(client)
    _add_model(db, RECORD)
    sign_in(client, "cur", "curator")
    values = media_form(client, RECORD, "model-1")
    assert values["license"] == "https://opensource.org/licenses/MIT"  # kept although not listed
    values.update(
        {
            "license": "https://creativecommons.org/licenses/by-sa/4.0/",
            "attribution": "Bảo tàng Đắk Lắk",
            "original_downloadable": "1",
            "label.vi": unicodedata.normalize("NFD", "Mặt trước"),
            "position": "2",
        }
    )
    response = client.post("/admin/media/model-1", data=values, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/admin/records/{RECORD}#media-model-1")
    asset = db.call(lambda s: s.get(Asset, "model-1"))
    assert asset.license == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert asset.original_downloadable and asset.position == 2
    assert asset.label == {"vi": "Mặt trước"}
    assert audit_actions(db, "asset", "model-1") == ["asset.update"]
    values.update({"license": "https://example.org/mine", "position": "-1"})
    bad = client.post("/admin/media/model-1", data=values)
    assert bad.status_code == 422
    assert field_error(bad.text, "license", action="/admin/media/model-1") == (
        "choose a licence or rights statement from the list"
    )
    assert field_error(bad.text, "position", action="/admin/media/model-1") == (
        "must be a whole number from 0 to 100000"
    )
    assert audit_actions(db, "asset", "model-1") == ["asset.update"]
    sign_in(client, "ed", "editor")
    change_record(db, RECORD, status="draft")
    values = media_form(client, RECORD, "model-1")
    values["access_level"] = "staff"
    assert client.post("/admin/media/model-1", data=values).status_code == 403


def test_annotations_are_added_changed_and_removed(client: TestClient) -> None:
    db = db_of(client)
    _add_model(db, RECORD)
    change_record(db, RECORD, status="draft")
    sign_in(client, "ed", "editor")
    page = client.get("/admin/media/model-1/annotations")
    assert page.status_code == 200
    new = {"x": "0,05", "y": "0.2", "z": "0", "title.vi": "Mặt trống", "title.en": "Drum face"}
    response = client.post("/admin/media/model-1/annotations", data=new, follow_redirects=False)
    assert response.status_code == 303
    rows = db.call(lambda s: list(s.scalars(select(Annotation))))
    assert [(r.x, r.y, r.title["en"]) for r in rows] == [(0.05, 0.2, "Drum face")]
    bad = client.post(
        "/admin/media/model-1/annotations",
        data={**new, "x": "abc", "y": "3", "title.en": ""},
    )
    assert bad.status_code == 422
    assert "x must be a number" in (
        field_error(bad.text, "x", action="/admin/media/model-1/annotations") or ""
    )
    assert "every annotation needs a title" in (
        field_error(bad.text, "title.en", action="/admin/media/model-1/annotations") or ""
    )
    kept = form_values(bad.text, action="/admin/media/model-1/annotations")
    assert kept["x"] == "abc" and kept["title.vi"] == "Mặt trống"
    outside = client.post("/admin/media/model-1/annotations", data={**new, "y": "30"})
    assert outside.status_code == 422 and "lies outside the model" in outside.text
    number = rows[0].id
    save = "/admin/media/model-1/annotations/save"
    shown = form_values(
        client.get("/admin/media/model-1/annotations").text, id=f"annotation-form-{number}"
    )
    assert shown["annotation_id"] == str(number) and shown["x"] == "0.05"
    changed = {**shown, "text.vi": "Hoa văn mặt trời", "order": "4"}
    assert client.post(save, data=changed, follow_redirects=False).status_code == 303
    row = db.call(lambda s: s.get(Annotation, number))
    assert row.text == {"vi": "Hoa văn mặt trời"} and row.sort_order == 4
    assert row.title == {"vi": "Mặt trống", "en": "Drum face"}
    bad = client.post(save, data={**changed, "z": "1e9"})
    assert bad.status_code == 422
    assert "lies outside the model" in (
        field_error(bad.text, "z", id=f"annotation-form-{number}") or ""
    )
    delete = "/admin/media/model-1/annotations/delete"
    assert client.post(delete, data={"annotation_id": "x"}).status_code == 400
    gone = {"annotation_id": str(number)}
    assert client.post(delete, data=gone, follow_redirects=False).status_code == 303
    assert client.post(delete, data=gone).status_code == 404
    assert db.call(lambda s: s.scalar(select(func.count()).select_from(Annotation))) == 0
    assert audit_actions(db, "annotation", number) == [
        "annotation.create",
        "annotation.update",
        "annotation.delete",
    ]
    change_record(db, RECORD, status="published")
    assert client.post("/admin/media/model-1/annotations", data=new).status_code == 403
    assert client.post("/admin/media/other/annotations", data=new).status_code == 404


# History


def test_history_page_diff_and_revert_rules(client: TestClient) -> None:
    db = db_of(client)
    original = get_record(db, RECORD)
    sign_in(client, "cur", "curator")
    save(client, RECORD, dating="Thế kỷ XIX", **{"title.en": "Bronze drum"})
    save(client, RECORD, dating="Thế kỷ XX")
    page = client.get(f"/admin/records/{RECORD}/history")
    assert page.status_code == 200
    assert 'data-version="3"' in page.text and 'data-version="1"' in page.text
    assert 'data-field="dating"' in page.text  # version 2 against now
    compared = client.get(f"/admin/records/{RECORD}/history?a=1&b=2").text
    assert 'data-field="title.en"' in compared and "Bronze drum" in compared
    assert client.get(f"/admin/records/{RECORD}/history?a=9").status_code == 404
    assert client.get(f"/admin/records/{RECORD}/history?a=x").status_code == 400
    sign_in(client, "ed", "editor")
    assert client.post(f"/admin/records/{RECORD}/revert", data={"number": "1"}).status_code == 403
    sign_in(client, "cur", "curator")
    response = client.post(
        f"/admin/records/{RECORD}/revert", data={"number": "1"}, follow_redirects=False
    )
    assert response.status_code == 303
    record = get_record(db, RECORD)
    assert (record.dating, record.title) == (original.dating, original.title)
    assert version_numbers(db, RECORD) == [1, 2, 3, 4]
    assert audit_actions(db, "record", RECORD)[-1] == "record.revert"
    history = client.get(f"/admin/records/{RECORD}/history?lang=en").text
    assert "Reverted to version 1" in history


def test_embargo_date_is_read_in_vietnam_time() -> None:
    from server.admin_common import embargo_day, parse_embargo

    errors: dict[str, Any] = {}
    moment = parse_embargo("2027-01-31", errors)
    assert moment == datetime(2027, 1, 30, 17, 0) and not errors
    assert embargo_day(moment) == "2027-01-31"
    assert embargo_day(moment + timedelta(hours=6, minutes=59)) == "2027-01-31"
    assert parse_embargo("", errors) is None and not errors
    parse_embargo("2027-02-30", errors)
    assert "embargo_until" in errors
