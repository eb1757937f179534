"""Record versions: snapshots, the baseline before the first change, diff and revert."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit import Actor
from server.catalog import import_catalog_file
from server.db import Database
from server.errors import Conflict, NotFound
from server.migrate import upgrade
from server.models import AuditEntry, Record, RecordVersion
from server.record_versions import (
    CATALOG_FIELDS,
    Change,
    diff,
    keep_baseline,
    latest_number,
    record_data,
    revert,
    save_version,
)
from server.search import SearchQuery, index_record, search
from tests.conftest import SEED_CATALOG

RECORD = "DL-ART-03"
ACTOR = Actor(7, "curator-lan", "127.0.0.1")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    database.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    yield database
    database.dispose()


def versions(db: Database, record_id: str = RECORD) -> list[RecordVersion]:
    return list(
        db.call(
            lambda s: list(
                s.scalars(
                    select(RecordVersion)
                    .where(RecordVersion.record_id == record_id)
                    .order_by(RecordVersion.number)
                )
            )
        )
    )


def audit_rows(db: Database) -> list[AuditEntry]:
    return list(db.call(lambda s: list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))))


def test_a_version_is_json_of_every_catalog_field(db: Database) -> None:
    def run(session: Session) -> dict[str, object]:
        record = session.get(Record, RECORD)
        assert record is not None
        record.embargo_until = datetime(2030, 5, 1, 17, 0)
        session.flush()
        return dict(save_version(session, record, ACTOR, "note").data)

    data = db.call(run, write=True)
    assert set(data) == set(CATALOG_FIELDS)
    assert {"status", "access_level", "embargo_until", "title", "materials"} <= set(data)
    assert not {"id", "created_at", "updated_at", "deleted_at", "published_at"} & set(data)
    assert data["embargo_until"] == "2030-05-01T17:00:00"
    assert json.loads(json.dumps(data)) == data
    [version] = versions(db)
    assert (version.number, version.author, version.note) == (1, "curator-lan", "note")
    assert version.data == data  # as stored, on both engines


def test_the_first_change_also_keeps_the_state_before_it(db: Database) -> None:
    def change(session: Session, title: str, author: str) -> None:
        record = session.get(Record, RECORD)
        assert record is not None
        record.title = {**record.title, "vi": title}
        save_version(session, record, author)

    before = db.call(lambda s: s.get(Record, RECORD).title["vi"])
    db.call(lambda s: change(s, "Tên mới", "an"), write=True)
    db.call(lambda s: change(s, "Tên mới hơn", "an"), write=True)
    found = versions(db)
    assert [v.number for v in found] == [1, 2, 3]
    assert [v.data["title"]["vi"] for v in found] == [before, "Tên mới", "Tên mới hơn"]
    assert db.call(lambda s: latest_number(s, RECORD)) == 3


def test_keep_baseline_only_for_a_record_without_versions(db: Database) -> None:
    def run(session: Session) -> list[int | None]:
        record = session.get(Record, RECORD)
        assert record is not None
        first = keep_baseline(session, record, ACTOR)
        second = keep_baseline(session, record, ACTOR)
        session.flush()
        return [first.number if first else None, second.number if second else None]

    assert db.call(run, write=True) == [1, None]


def test_diff_reads_per_language_and_as_text() -> None:
    a = {
        "title": {"vi": "Cồng chiêng", "en": "Gongs"},
        "materials": ["đồng"],
        "date_earliest": None,
        "status": "draft",
        "decisions": [],
    }
    b = {
        "title": {"vi": "Không gian cồng chiêng", "en": "Gongs", "rad": "Ching"},
        "materials": ["đồng", "thiếc"],
        "date_earliest": -500,
        "status": "draft",
        "decisions": [{"text": "QĐ 1", "year": "2008"}],
    }
    assert diff(a, b) == [
        Change("title.vi", "Cồng chiêng", "Không gian cồng chiêng"),
        Change("title.rad", "", "Ching"),
        Change("decisions", "", "text: QĐ 1, year: 2008"),
        Change("materials", "đồng", "đồng; thiếc"),
        Change("date_earliest", "", "-500"),
    ]
    assert diff(b, b) == []
    assert diff(b, a)[0] == Change("title.vi", "Không gian cồng chiêng", "Cồng chiêng")


def test_revert_restores_fields_as_a_new_version_with_one_audit_entry(db: Database) -> None:
    original = db.call(lambda s: record_data(s.get(Record, RECORD)))

    def edit(session: Session) -> None:
        record = session.get(Record, RECORD)
        assert record is not None
        keep_baseline(session, record, ACTOR)
        record.title = {"vi": "Hiện vật xyzzy"}
        record.embargo_until = datetime(2031, 1, 1)
        record.access_level = "staff"
        save_version(session, record, ACTOR)
        index_record(session, record)

    db.call(edit, write=True)

    def finds(words: str) -> bool:
        query = SearchQuery(text=words, access_levels=("public", "registered", "staff"))
        return RECORD in db.call(lambda s: search(s, query).ids)

    assert not finds(original["title"]["vi"])
    assert db.call(lambda s: s.get(Record, RECORD).embargo_until) is not None

    def back(session: Session) -> int:
        record = session.get(Record, RECORD)
        assert record is not None
        return revert(session, record, 1, ACTOR).number

    assert db.call(back, write=True) == 3
    restored = db.call(lambda s: s.get(Record, RECORD))
    assert record_data(restored) == original
    assert restored.embargo_until is None and restored.access_level == "public"
    found = versions(db)
    assert [(v.number, v.note) for v in found][-1] == (3, "reverted to 1")
    assert found[-1].data == original
    [entry] = audit_rows(db)
    assert (entry.action, entry.object_id, entry.actor) == ("record.revert", RECORD, "curator-lan")
    assert entry.before["title"] == {"vi": "Hiện vật xyzzy"}
    assert entry.after["reverted_to"] == 1
    assert finds(original["title"]["vi"]) and not finds("xyzzy")


def test_revert_refuses_a_registration_number_taken_since(db: Database) -> None:
    def setup(session: Session) -> None:
        record = session.get(Record, RECORD)
        assert record is not None
        record.registration_number = "BTDL-001"
        save_version(session, record, ACTOR)  # 1: before, 2: with the number
        record.registration_number = None
        session.flush()
        save_version(session, record, ACTOR)  # 3: without it
        other = session.get(Record, "DL-ART-04")
        assert other is not None
        other.registration_number = "BTDL-001"

    db.call(setup, write=True)

    def back(session: Session) -> None:
        record = session.get(Record, RECORD)
        assert record is not None
        revert(session, record, 2, ACTOR)

    with pytest.raises(Conflict) as refused:
        db.call(back, write=True)
    assert refused.value.params["record_id"] == "DL-ART-04"
    assert [v.number for v in versions(db)] == [1, 2, 3]
    assert db.call(lambda s: s.scalar(select(func.count()).select_from(AuditEntry))) == 0

    def unknown(session: Session) -> None:
        record = session.get(Record, RECORD)
        assert record is not None
        revert(session, record, 9, ACTOR)

    with pytest.raises(NotFound):
        db.call(unknown, write=True)
