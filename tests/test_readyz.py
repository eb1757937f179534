"""``GET /readyz`` answers 503 with Retry-After when the catalog or the queue is gone, on the
SQLite stack and on PostgreSQL + Redis, and never shows a connection string or password."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from server.app import create_app
from server.migrate import upgrade
from server.ops import redact
from server.settings import Settings
from tests.conftest import _admin_engine

PASSWORD = "hunter2-sesame"  # a test's fake password, which must never be shown
DEAD_REDIS = f"redis://:{PASSWORD}@127.0.0.1:1/0"  # nothing listens on port 1


def ready(settings: Settings) -> TestClient:
    app = create_app(settings)
    upgrade(app.state.museum.db)
    return TestClient(app)


def assert_not_ready(response: Any, failing: str, *secrets: str) -> None:
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["cache-control"] == "no-store"
    body = response.json()["error"]
    assert body["code"] == "not_ready"
    assert body["checks"][failing].startswith("unreachable")
    healthy = {"database", "queue"} - {failing}
    assert all(body["checks"][name] == "ok" for name in healthy)
    for secret in secrets:
        assert secret not in response.text, secret


def test_sqlite_catalog_gone(settings: Settings) -> None:
    with ready(settings) as client:
        assert client.get("/readyz").status_code == 200
        db = client.app.state.museum.db  # type: ignore[attr-defined]
        db.dispose()
        catalog = settings.data_dir / "museum.sqlite3"
        for path in settings.data_dir.glob("museum.sqlite3*"):
            path.unlink()
        catalog.mkdir()  # the file is gone and cannot be made again: a lost disk
        assert_not_ready(client.get("/readyz"), "database", str(settings.data_dir))


def test_sqlite_queue_gone(settings: Settings) -> None:
    with ready(settings) as client:
        assert client.get("/readyz").status_code == 200
        for path in settings.data_dir.glob("queue.sqlite3*"):
            path.unlink()  # huey's open connection still answers; the file is gone
        assert_not_ready(client.get("/readyz"), "queue", str(settings.data_dir))


@pytest.mark.postgres
@pytest.mark.redis
def test_postgresql_and_redis_ready_then_catalog_dropped(
    tmp_path: Path, postgres_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # trust authentication ignores the password; it is there to prove it never shows
    database_url = postgres_url.replace("://postgres@", f"://postgres:{PASSWORD}@", 1)
    assert PASSWORD in database_url
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, queue_url=redis_url)
    with ready(settings) as client:
        healthy = client.get("/readyz")
        assert healthy.status_code == 200
        assert healthy.json()["checks"] == {"database": "ok", "queue": "ok"}
        name = postgres_url.rsplit("/", 1)[1]
        engine = _admin_engine()
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        engine.dispose()
        with caplog.at_level(logging.WARNING, logger="server.ops"):
            gone = client.get("/readyz")
    assert_not_ready(gone, "database", PASSWORD, name, "postgresql", "127.0.0.1")
    assert "not ready: database" in caplog.text and PASSWORD not in caplog.text


@pytest.mark.postgres
def test_postgresql_with_redis_unreachable(tmp_path: Path, postgres_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url, queue_url=DEAD_REDIS)
    with ready(settings) as client:
        response = client.get("/readyz?lang=en")
    assert_not_ready(response, "queue", PASSWORD, "redis://", "127.0.0.1:1", ":1")
    assert "queue" in response.json()["error"]["message"]


def test_passwords_in_urls_are_masked_in_logged_errors() -> None:
    settings = Settings(
        database_url=f"postgresql://museum:{PASSWORD}@db.internal/museum",
        queue_url="redis://:p%40ss-word@queue.internal:6379/0",
    )
    logged = redact(f"failed: {PASSWORD} / p@ss-word / p%40ss-word", settings)
    assert logged == "failed: *** / *** / ***"
