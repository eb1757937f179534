"""Shared fixtures: settings in a temp dir, both database engines, both queue backends."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import ImageFont, features
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.migrate import upgrade
from server.settings import Settings

# Pillow lays text out with libraqm, which binds to the first HarfBuzz it finds in the
# process. libvips brings the system's, which does not match Pillow's bundled FreeType: text
# laid out after libvips loads comes back millions of pixels wide. Lay some out first, so
# the tests that render pages with Pillow (test_ocr.py) work in any order.
_TEXT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
if features.check("raqm") and _TEXT_FONT.is_file():
    ImageFont.truetype(str(_TEXT_FONT), 12).getlength("Đắk Lắk")

ROOT = Path(__file__).resolve().parent.parent
SEED_CATALOG = ROOT / "assets" / "seed-catalog.csv"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"

# Not MUSEUM_*: the museum rejects unknown MUSEUM_ variables, and these are the tests' own.
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _admin_engine():  # type: ignore[no-untyped-def]
    url = POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; skips when the server is away."""
    engine = _admin_engine()
    name = f"museum_test_{uuid.uuid4().hex[:12]}"
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {type(exc).__name__}: {exc}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database, emptied before and after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3)
    try:
        client.flushdb()
    except Exception as exc:
        client.close()
        pytest.skip(f"Redis unreachable at {REDIS_TEST_URL}: {type(exc).__name__}: {exc}")
    try:
        yield REDIS_TEST_URL
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'museum.sqlite3'}"
    request.applymarker(pytest.mark.postgres)
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each queue test runs on the SQLite queue and on Redis."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    request.applymarker(pytest.mark.redis)
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """The seed catalog on each engine, shared by a module's read-only tests."""
    with contextmanager(_engine_url)(request, tmp_path_factory) as url:
        db = Database(url)
        upgrade(db)
        db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
        yield db
        db.dispose()


def _engine_url(request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{factory.mktemp('seeded') / 'museum.sqlite3'}"
        return
    request.applymarker(pytest.mark.postgres)
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", job_retry_delay=0.0)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database(settings.resolved_database_url)
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def seeded_settings(settings: Settings) -> Settings:
    """Settings whose database is migrated and holds the 31 seed records."""
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.dispose()
    return settings


@pytest.fixture
def client(seeded_settings: Settings) -> Iterator[TestClient]:
    app = create_app(seeded_settings)
    with TestClient(app) as test_client:
        yield test_client


def seed_rows() -> list[dict[str, str]]:
    import csv

    with SEED_CATALOG.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
