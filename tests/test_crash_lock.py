"""A held write lock on the SQLite catalog (docs/security.md, section "crash"; research row 15).

Another process holds ``BEGIN IMMEDIATE`` for three times ``busy_timeout`` while 20 signed-in
clients keep making state-changing requests (tus creations: the session middleware's write,
the expiry sweep, the upload row and its audit entry) over real HTTP. No answer is a 500;
every request either succeeds (those that started during the hold only after the release) or
gets 503 with Retry-After within ``busy_timeout + 1 s``; the number of 201 answers equals
the rows written, and no part file is left without its row.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.models import User
from server.settings import Settings
from server.tus import encode_metadata
from tests.live import serving
from tests.staff import add_user, migrated_app

pytestmark = pytest.mark.slow
CLIENTS = 20
BUSY_TIMEOUT = 1.0
HOLD = 3 * BUSY_TIMEOUT
LEAD = 1.0  # seconds of normal traffic before the lock is taken
TAIL = 2.0  # and after it is released


@dataclass(frozen=True)
class Answer:
    status: int
    started: float
    ended: float
    retry_after: str | None
    message: str


def sessions(db: Database, count: int) -> list[tuple[str, str]]:
    """``count`` editors' sessions: (cookie, CSRF token)."""
    made = []
    for index in range(count):
        user_id = add_user(db, f"bien-tap-{index}", "editor")
        made.append(
            db.call(lambda s, u=user_id: start_session(s, s.get(User, u), 3600), write=True)
        )
    return made


def hold_lock(database: Path, taken: threading.Event, seconds: float) -> None:
    """``BEGIN IMMEDIATE`` from another connection, held for ``seconds``."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def test_a_held_write_lock_gives_503_with_retry_after_never_500(tmp_path: Path) -> None:
    # Every client admitted at once (MUSEUM_MAX_REQUESTS): the line in front of the app
    # (server/overload.py) adds up to MUSEUM_REQUEST_WAIT of its own, tested on its own.
    settings = Settings(
        data_dir=tmp_path / "data",
        db_busy_timeout=BUSY_TIMEOUT,
        min_free_disk=0,
        max_requests=CLIENTS + 4,
    )
    app = migrated_app(settings)
    database = tmp_path / "data" / "museum.sqlite3"
    db = Database(settings.resolved_database_url)
    logins = sessions(db, CLIENTS)
    answers: list[Answer] = []
    lock = threading.Lock()

    with serving(app) as url:
        stop = time.monotonic() + LEAD + HOLD + TAIL

        def client(cookie: str, csrf: str) -> None:
            headers = {
                "tus-resumable": "1.0.0",
                "x-csrf-token": csrf,
                "origin": url,
                "accept-language": "en",
            }
            with httpx.Client(
                base_url=url, headers=headers, cookies={SESSION_COOKIE: cookie}, timeout=30
            ) as http:
                while time.monotonic() < stop:
                    started = time.monotonic()
                    response = http.post(
                        "/uploads/",
                        headers={
                            "upload-length": "1000",
                            "upload-metadata": encode_metadata(
                                {"filename": "bản ghi.txt", "sha256": "0" * 64}
                            ),
                        },
                    )
                    answer = Answer(
                        response.status_code,
                        started,
                        time.monotonic(),
                        response.headers.get("retry-after"),
                        response.json()["error"]["message"] if response.status_code >= 400 else "",
                    )
                    with lock:
                        answers.append(answer)
                    time.sleep(0.05)

        threads = [threading.Thread(target=client, args=login) for login in logins]
        for thread in threads:
            thread.start()
        time.sleep(LEAD)
        taken = threading.Event()
        holder = threading.Thread(target=hold_lock, args=(database, taken, HOLD))
        holder.start()
        assert taken.wait(10)
        held_from = time.monotonic()
        holder.join()
        released = time.monotonic()
        for thread in threads:
            thread.join()

    statuses = sorted({answer.status for answer in answers})
    assert statuses == [201, 503], statuses  # both, and nothing else: no 500
    refused = [a for a in answers if a.status == 503]
    assert all(a.retry_after and int(a.retry_after) > 0 for a in refused)
    assert {a.message for a in refused} == {"The catalog is busy; please try again."}
    slowest = max(a.ended - a.started for a in refused)
    assert slowest <= BUSY_TIMEOUT + 1.0, slowest
    # Whatever started while the lock was held and still succeeded waited for the release.
    during = [a for a in answers if held_from + 0.05 < a.started < released - 0.05]
    assert any(a.status == 503 for a in during)
    assert all(a.ended >= released - 0.05 for a in during if a.status == 201)
    created = sum(a.status == 201 for a in answers)
    assert created > CLIENTS  # traffic went on before and after

    # No acknowledged write lost, none unacknowledged kept.
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = connection.execute("SELECT count(*) FROM uploads").fetchone()[0]
        audited = connection.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'upload.create'"
        ).fetchone()[0]
    finally:
        connection.close()
    assert rows == created == audited
    assert len(list((tmp_path / "data" / "uploads").glob("*.part"))) == created
    db.dispose()
    print(
        f"{len(answers)} requests: {created} created, "
        f"{len(refused)} refused (503, the slowest after {slowest:.2f} s)"
    )
