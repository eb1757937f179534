"""Exhibitions and collections in the staff interface: details, publishing per role, stops
with a record picker and their order, collection members; one audit entry per change."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.exhibitions import save_exhibition
from server.migrate import upgrade
from server.models import Collection, CollectionRecord, Exhibition, ExhibitionStop
from server.settings import Settings
from tests.admin_forms import audit_actions, audit_count, field_error, form_values
from tests.conftest import SEED_CATALOG
from tests.staff import sign_in as staff_sign_in

ROOM = "gong-room"
STOPS = ["DL-ICH-01", "DL-ART-01", "DL-REL-01"]


def sign_in(client: TestClient, username: str, role: str) -> str:
    client.headers["accept-language"] = "en"
    return staff_sign_in(client, username, role)


def db_of(client: TestClient) -> Database:
    return client.app.state.museum.db  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def any_db_client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.dispose()
    with TestClient(create_app(settings)) as client:
        yield client


def make_room(db: Database, published: bool = False) -> None:
    data = {
        "id": ROOM,
        "title": {"vi": "Phòng cồng chiêng", "en": "Gong room"},
        "published": published,
        "stops": [
            {"record_id": record_id, "title": {"vi": f"Điểm {n}"}}
            for n, record_id in enumerate(STOPS, 1)
        ],
    }
    db.call(lambda session: save_exhibition(session, data), write=True)


def stop_records(db: Database) -> list[str | None]:
    return list(
        db.call(
            lambda s: list(
                s.scalars(
                    select(ExhibitionStop.record_id)
                    .where(ExhibitionStop.exhibition_id == ROOM)
                    .order_by(ExhibitionStop.position)
                )
            )
        )
    )


def room_page(client: TestClient) -> str:
    page = client.get(f"/admin/exhibitions/{ROOM}")
    assert page.status_code == 200, page.text
    return page.text


def move_form(page: str, number: int, direction: str) -> dict[str, str]:
    action = f"/admin/exhibitions/{ROOM}/stops/{number}/move"
    for form_html in re.findall(rf'<form method="post" action="{action}">.*?</form>', page, re.S):
        if f'name="direction" value="{direction}"' in form_html:
            return form_values(form_html, action=action)
    raise AssertionError(f"no {direction} form for stop {number}")


# Exhibitions


def test_editors_create_exhibitions_curators_publish_them(client: TestClient) -> None:
    db = db_of(client)
    sign_in(client, "ed", "editor")
    new = client.get("/admin/exhibitions/new")
    assert new.status_code == 200
    values = form_values(new.text, action="/admin/exhibitions")
    assert "published" not in values and "publishing" not in values
    values.update({"id": ROOM, "title.vi": "", "title.en": "Gong room"})
    bad = client.post("/admin/exhibitions", data=values)
    assert bad.status_code == 422
    assert field_error(bad.text, "title.vi") == "is required"
    assert form_values(bad.text, action="/admin/exhibitions")["title.en"] == "Gong room"
    values.update({"id": "Gong Room!", "title.vi": "Phòng cồng chiêng"})
    bad = client.post("/admin/exhibitions", data=values)
    assert bad.status_code == 422 and "cannot be used in a web address" in (
        field_error(bad.text, "id") or ""
    )
    values["id"] = ROOM
    created = client.post("/admin/exhibitions", data=values, follow_redirects=False)
    assert created.status_code == 303
    exhibition = db.call(lambda s: s.get(Exhibition, ROOM))
    assert not exhibition.published and exhibition.title["vi"] == "Phòng cồng chiêng"
    assert f'data-exhibition="{ROOM}"' in client.get("/admin/exhibitions").text
    # Publishing is for curators
    details = form_values(room_page(client), action=f"/admin/exhibitions/{ROOM}")
    sneaky = {**details, "publishing": "1", "published": "1", "access_level": "public"}
    assert client.post(f"/admin/exhibitions/{ROOM}", data=sneaky).status_code == 403
    details["summary.vi"] = "Tiếng chiêng của buôn làng"
    assert client.post(f"/admin/exhibitions/{ROOM}", data=details).status_code == 200
    assert client.get(f"/exhibitions/{ROOM}").status_code == 404  # not yet published
    sign_in(client, "cur", "curator")
    details = form_values(room_page(client), action=f"/admin/exhibitions/{ROOM}")
    assert details["publishing"] == "1" and "published" not in details
    details["published"] = "1"
    assert client.post(f"/admin/exhibitions/{ROOM}", data=details).status_code == 200
    assert db.call(lambda s: s.get(Exhibition, ROOM)).published
    assert TestClient(client.app).get(f"/api/v1/exhibitions/{ROOM}").status_code == 200
    assert audit_actions(db, "exhibition", ROOM) == [
        "exhibition.create",
        "exhibition.update",
        "exhibition.update",
    ]
    # Only curators delete a published exhibition
    sign_in(client, "ed", "editor")
    confirm = {"confirm": "1"}
    assert client.post(f"/admin/exhibitions/{ROOM}/delete", data=confirm).status_code == 403
    sign_in(client, "cur", "curator")
    assert client.post(f"/admin/exhibitions/{ROOM}/delete").status_code == 422  # not ticked
    assert db.call(lambda s: s.get(Exhibition, ROOM)) is not None
    deleted = client.post(f"/admin/exhibitions/{ROOM}/delete", data=confirm, follow_redirects=False)
    assert deleted.status_code == 303
    assert db.call(lambda s: s.get(Exhibition, ROOM)) is None
    assert audit_actions(db, "exhibition", ROOM)[-1] == "exhibition.delete"


def test_stops_are_reordered_with_buttons_that_need_no_script(
    any_db_client: TestClient,
) -> None:
    client = any_db_client
    db = db_of(client)
    make_room(db, published=True)
    sign_in(client, "ed", "editor")
    page = room_page(client)
    assert 'list="record-choices"' in page and '<option value="DL-REL-01">' in page
    first_down = move_form(page, 1, "down")
    response = client.post(
        f"/admin/exhibitions/{ROOM}/stops/1/move", data=first_down, follow_redirects=False
    )
    assert response.status_code == 303
    assert stop_records(db) == ["DL-ART-01", "DL-ICH-01", "DL-REL-01"]
    assert audit_actions(db, "exhibition", ROOM) == ["exhibition.stop_move"]
    # The same form again names a stop that has moved: refused, nothing changes
    stale = client.post(f"/admin/exhibitions/{ROOM}/stops/1/move", data=first_down)
    assert stale.status_code == 409
    assert stop_records(db) == ["DL-ART-01", "DL-ICH-01", "DL-REL-01"]
    page = room_page(client)
    last_up = move_form(page, 3, "up")
    client.post(f"/admin/exhibitions/{ROOM}/stops/3/move", data=last_up)
    assert stop_records(db) == ["DL-ART-01", "DL-REL-01", "DL-ICH-01"]
    # Moving the first stop up changes nothing and writes nothing
    page = room_page(client)
    assert 'disabled aria-label="Move up: Stop 1"' in page
    client.post(f"/admin/exhibitions/{ROOM}/stops/1/move", data=move_form(page, 1, "up"))
    assert len(audit_actions(db, "exhibition", ROOM)) == 2
    visitor = TestClient(client.app)
    stops = visitor.get(f"/api/v1/exhibitions/{ROOM}").json()["stops"]
    assert [s["record_id"] for s in stops] == ["DL-ART-01", "DL-REL-01", "DL-ICH-01"]
    bad_direction = {**move_form(page, 2, "up"), "direction": "sideways"}
    assert (
        client.post(f"/admin/exhibitions/{ROOM}/stops/2/move", data=bad_direction).status_code
        == 400
    )
    assert (
        client.post(f"/admin/exhibitions/{ROOM}/stops/9/move", data=bad_direction).status_code
        == 404
    )


def test_stops_are_added_changed_and_removed(client: TestClient) -> None:
    db = db_of(client)
    make_room(db)
    sign_in(client, "ed", "editor")
    add = f"/admin/exhibitions/{ROOM}/stops"
    new = {**form_values(room_page(client), action=add), "record_id": "NO-SUCH"}
    new["title.vi"] = "Điểm mới"
    bad = client.post(add, data=new)
    assert bad.status_code == 422
    assert "no heritage item with id NO-SUCH" in (
        field_error(bad.text, "record_id", action=add) or ""
    )
    assert form_values(bad.text, action=add)["title.vi"] == "Điểm mới"
    assert stop_records(db) == STOPS
    new["record_id"] = "DL-DOC-01"
    assert client.post(add, data=new, follow_redirects=False).status_code == 303
    assert stop_records(db) == [*STOPS, "DL-DOC-01"]
    edit = f"/admin/exhibitions/{ROOM}/stops/2"
    values = form_values(room_page(client), action=edit)
    assert values["record_id"] == "DL-ART-01" and values["title.vi"] == "Điểm 2"
    values["text.en"] = "A bronze drum."
    assert client.post(edit, data=values, follow_redirects=False).status_code == 303
    stop = db.call(
        lambda s: s.scalars(
            select(ExhibitionStop).where(
                ExhibitionStop.exhibition_id == ROOM, ExhibitionStop.position == 2
            )
        ).one()
    )
    assert stop.text == {"en": "A bronze drum."} and stop.title == {"vi": "Điểm 2"}
    remove = f"/admin/exhibitions/{ROOM}/stops/1/delete"
    key = form_values(room_page(client), action=remove)
    assert client.post(remove, data=key, follow_redirects=False).status_code == 303
    assert stop_records(db) == ["DL-ART-01", "DL-REL-01", "DL-DOC-01"]
    assert audit_actions(db, "exhibition", ROOM) == [
        "exhibition.stop_add",
        "exhibition.stop_update",
        "exhibition.stop_delete",
    ]
    entry_count = audit_count(db)
    assert client.post(remove, data=key).status_code == 409  # that stop is gone
    assert audit_count(db) == entry_count


def test_exhibitions_the_role_cannot_see_are_not_found(client: TestClient) -> None:
    db = db_of(client)
    make_room(db)
    db.call(lambda s: setattr(s.get(Exhibition, ROOM), "access_level", "restricted"), write=True)
    sign_in(client, "ed", "editor")
    assert f'data-exhibition="{ROOM}"' not in client.get("/admin/exhibitions").text
    assert client.get(f"/admin/exhibitions/{ROOM}").status_code == 404
    assert client.post(f"/admin/exhibitions/{ROOM}", data={"title.vi": "x"}).status_code == 404
    sign_in(client, "helper", "contributor")
    assert client.get("/admin/exhibitions").status_code == 403


# Collections


def members(db: Database, collection_id: str) -> list[str]:
    return list(
        db.call(
            lambda s: list(
                s.scalars(
                    select(CollectionRecord.record_id)
                    .where(CollectionRecord.collection_id == collection_id)
                    .order_by(CollectionRecord.position)
                )
            )
        )
    )


def member_form(page: str, action: str, **extra: str) -> dict[str, Any]:
    for form_html in re.findall(rf'<form method="post" action="{action}">.*?</form>', page, re.S):
        values = form_values(form_html, action=action)
        if all(values.get(k) == v for k, v in extra.items()):
            return values
    raise AssertionError(f"no form {action} {extra}")


def test_collections_members_and_order(any_db_client: TestClient) -> None:
    client = any_db_client
    db = db_of(client)
    sign_in(client, "ed", "editor")
    values = form_values(client.get("/admin/collections/new").text, action="/admin/collections")
    assert "access_level" not in values
    values.update({"id": "gongs", "title.vi": "Cồng chiêng", "title.en": "Gongs"})
    assert (
        client.post("/admin/collections", data={**values, "access_level": "public"}).status_code
        == 403
    )
    assert client.post("/admin/collections", data=values, follow_redirects=False).status_code == 303
    collection = db.call(lambda s: s.get(Collection, "gongs"))
    assert collection.access_level == "staff"  # public only when a curator says so
    add = "/admin/collections/gongs/records"
    for record_id in ("DL-ICH-01", "DL-ART-01", "DL-ART-02"):
        assert (
            client.post(add, data={"record_id": record_id}, follow_redirects=False).status_code
            == 303
        )
    twice = client.post(add, data={"record_id": "DL-ART-01"})
    assert twice.status_code == 422
    assert (
        field_error(twice.text, "record_id", action=add)
        == "record DL-ART-01 is already in this collection"
    )
    unknown = client.post(add, data={"record_id": "NOPE"})
    assert field_error(unknown.text, "record_id", action=add) == "no heritage item with id NOPE"
    page = client.get("/admin/collections/gongs").text
    move = "/admin/collections/gongs/records/DL-ART-02/move"
    client.post(move, data=member_form(page, move, direction="up"))
    assert members(db, "gongs") == ["DL-ICH-01", "DL-ART-02", "DL-ART-01"]
    remove = "/admin/collections/gongs/records/DL-ICH-01/delete"
    client.post(remove, data=member_form(page, remove))
    assert members(db, "gongs") == ["DL-ART-02", "DL-ART-01"]
    assert client.post(remove, data=member_form(page, remove)).status_code == 409
    details = form_values(page, action="/admin/collections/gongs")
    assert (
        client.post(
            "/admin/collections/gongs", data={**details, "access_level": "public"}
        ).status_code
        == 403
    )
    visitor = TestClient(client.app)
    assert visitor.get("/api/v1/collections/gongs").status_code == 404
    sign_in(client, "cur", "curator")
    details = form_values(
        client.get("/admin/collections/gongs").text, action="/admin/collections/gongs"
    )
    details["access_level"] = "public"
    assert (
        client.post("/admin/collections/gongs", data=details, follow_redirects=False).status_code
        == 303
    )
    listed = visitor.get("/api/v1/collections/gongs").json()["records"]
    assert [r["id"] for r in listed] == ["DL-ART-02", "DL-ART-01"]
    assert audit_actions(db, "collection", "gongs") == [
        "collection.create",
        "collection.record_add",
        "collection.record_add",
        "collection.record_add",
        "collection.record_move",
        "collection.record_remove",
        "collection.update",
    ]
