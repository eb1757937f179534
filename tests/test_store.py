"""The catalog store on both engines: migrations, records, assets and jobs tables."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from server.catalog import import_catalog_file, records_by_kind
from server.db import Database
from server.migrate import current_revision, head_revision, is_current, upgrade
from server.models import Base, Job, Record, include_in_comparison
from tests.conftest import SEED_CATALOG


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    yield database
    database.dispose()


def test_migrations_build_exactly_the_models(db: Database) -> None:
    assert current_revision(db) is None
    upgrade(db)
    assert is_current(db)
    assert current_revision(db) == head_revision()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_in_comparison}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert {"records", "assets", "jobs", "job_events", "alembic_version"} <= set(
        inspect(db.engine).get_table_names()
    )


def test_upgrade_is_idempotent(db: Database) -> None:
    upgrade(db)
    upgrade(db)
    assert is_current(db)


def test_seed_import_is_idempotent_and_keeps_vietnamese(db: Database) -> None:
    upgrade(db)
    first = db.call(lambda s: import_catalog_file(s, SEED_CATALOG), write=True)
    second = db.call(lambda s: import_catalog_file(s, SEED_CATALOG), write=True)
    assert (first.created, first.updated) == (31, 0)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 31)
    gong = db.call(lambda s: s.get(Record, "DL-ICH-01"))
    assert gong.title == {
        "vi": "Không gian văn hóa Cồng chiêng Tây Nguyên",
        "en": "Space of Gong Culture in the Central Highlands",
    }
    grouped = db.call(records_by_kind)
    assert list(grouped) == ["di_san_phi_vat_the", "di_tich", "hien_vat", "di_san_tu_lieu"]
    assert [len(v) for v in grouped.values()] == [9, 12, 6, 4]


def test_database_rejects_unknown_kinds_and_states(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    upgrade(db)
    with pytest.raises(IntegrityError):
        db.call(
            lambda s: (
                s.add(Record(status="published", id="X-1", kind="spaceship", title={"vi": "x"}))
                or s.flush()
            ),
            write=True,
        )
    with pytest.raises(IntegrityError):
        db.call(
            lambda s: s.add(Job(id="a" * 32, kind="selftest", state="lost")) or s.flush(),
            write=True,
        )
    assert db.call(lambda s: s.scalars(select(Record)).all()) == []


def test_failed_transaction_writes_nothing(db: Database) -> None:
    upgrade(db)

    def half_done(session):  # type: ignore[no-untyped-def]
        session.add(Record(status="published", id="DL-TMP-1", kind="di_tich", title={"vi": "Tạm"}))
        session.flush()
        raise RuntimeError("crash mid-transaction")

    with pytest.raises(RuntimeError):
        db.call(half_done, write=True)
    assert db.call(lambda s: s.get(Record, "DL-TMP-1")) is None


def test_sqlite_write_lock_held_too_long_is_a_503_not_a_crash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from server.errors import ServiceUnavailable

    path = tmp_path / "locked.sqlite3"
    db = Database(f"sqlite:///{path}", busy_timeout=0.2)
    upgrade(db)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ServiceUnavailable):
            db.call(
                lambda s: s.add(
                    Record(status="published", id="DL-L-1", kind="di_tich", title={"vi": "Khóa"})
                ),
                write=True,
            )
        # Readers are not blocked by a writer (WAL).
        assert db.call(lambda s: s.get(Record, "DL-L-1")) is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    db.call(
        lambda s: s.add(
            Record(status="published", id="DL-L-1", kind="di_tich", title={"vi": "Khóa"})
        ),
        write=True,
    )
    assert db.call(lambda s: s.get(Record, "DL-L-1")).title == {"vi": "Khóa"}
    db.dispose()


def test_upgrade_keeps_rows_written_by_an_older_schema(db: Database) -> None:
    from sqlalchemy import text

    upgrade(db, "0001")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO records (id, kind, title, description, category, ranking,"
                " ranking_year,"
                " decision_note, location_current, location_historical, ethnic_groups, sources,"
                " needs_verify, created_at, updated_at) VALUES ('OLD-1', 'di_tich',"
                " '{\"vi\": \"Tháp cũ\"}', '{}', '', '', '', '', '', '', '', '[]', '',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    upgrade(db)
    old = db.call(lambda s: s.get(Record, "OLD-1"))
    assert old.title == {"vi": "Tháp cũ"}
    assert (old.access_level, old.designation, old.digitization_status) == (
        "public",
        "chua_xep_hang",
        "not_digitized",
    )
    assert old.materials == [] and old.alt_titles == {}
