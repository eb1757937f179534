"""Crash consistency of uploads (docs/security.md, section "crash"; research rows 14, D6, D11).

50 SIGKILLs of the real ``museum serve`` at random points of tus PATCH bodies (with and
without ``Upload-Checksum``, and during the last PATCH, which verifies and stores the file),
each followed by a restart and a resume from HEAD: no acknowledged (204) offset is ever lost,
``PRAGMA integrity_check`` = ok after every kill, and the file ends as an original whose
SHA-256 is the source's. (tests/test_tus_restart.py kills a long PATCH of a 40 MiB file.)
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from server.db import Database
from server.models import Asset, Upload
from server.settings import Settings
from server.storage import Store
from server.tus import encode_metadata
from server.upload_files import PartFiles
from tests import test_tus_restart as tus_restart
from tests.staff import migrated_app, sign_in
from tests.test_tus_restart import Server, integrity, signed_in_headers

pytestmark = pytest.mark.slow
KILLS = 50
CHUNK = 96 * 1024  # bytes per PATCH, as a tus client's chunkSize
SIZE = 25 * CHUNK + 777  # 26 PATCHes: two kills before each but the last few
PIECE = 8 * 1024  # a PATCH body is sent in pieces, so a kill can land between any two


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setattr(tus_restart, "START_TIMEOUT", 120.0)  # 50 starts: allow a busy machine
    running = Server(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def pieces(data: bytes, kill_at: int | None, kill: Callable[[], None]) -> Iterator[bytes]:
    """``data`` a piece at a time; the server is killed once ``kill_at`` bytes are sent
    (at the end of the body when ``kill_at`` is ``len(data)``: mid-write or mid-commit)."""
    for start in range(0, len(data), PIECE):
        if kill_at is not None and start >= kill_at:
            kill_at = None
            kill()
        yield data[start : start + PIECE]
    if kill_at is not None:
        kill()


@pytest.mark.timeout(1800)  # 50 restarts: minutes on a loaded machine
def test_fifty_sigkills_mid_patch_lose_no_acknowledged_byte(tmp_path: Path, server: Server) -> None:
    data_dir = tmp_path / "data"
    data = random.Random(1402).randbytes(SIZE)
    digest = hashlib.sha256(data).hexdigest()
    headers, cookies = signed_in_headers(data_dir, server.url)
    server.start()
    client = httpx.Client(base_url=server.url, headers=headers, cookies=cookies, timeout=30)
    created = client.post(
        "/uploads/",
        headers={
            "upload-length": str(SIZE),
            "upload-metadata": encode_metadata({"filename": "trống đồng.bin", "sha256": digest}),
        },
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    chance = random.Random(14)
    acknowledged = 0  # the highest offset a 204 confirmed
    kills = patches = streak = 0
    previous = -1

    def head() -> int:
        response = client.head(url)
        assert response.status_code == 200, response.text
        return int(response.headers["upload-offset"])

    while True:
        offset = head()
        assert acknowledged <= offset, f"acknowledged {acknowledged}, HEAD says {offset}"
        if offset == SIZE and (kills >= KILLS or streak >= 2):
            break
        if offset > previous:  # progress: the next two attempts at this chunk are killed
            previous, streak = offset, 0
        body = data[offset : offset + CHUNK]
        kill_at = chance.randint(0, len(body)) if kills < KILLS and streak < 2 else None
        streak += 1
        patch_headers = {
            "content-type": "application/offset+octet-stream",
            "upload-offset": str(offset),
        }
        if patches % 2:  # every other PATCH is checksummed (held in a side file first)
            checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
            patch_headers["upload-checksum"] = f"sha256 {checksum}"
        patches += 1
        try:
            response = client.patch(
                url, content=pieces(body, kill_at, server.kill), headers=patch_headers
            )
        except httpx.TransportError:
            response = None
        if kill_at is None:
            assert response is not None and response.status_code == 204, response
            acknowledged = int(response.headers["upload-offset"])
            continue
        kills += 1
        assert integrity(data_dir) == "ok", f"after kill {kills}"
        server.start()
        if response is not None and response.status_code == 204:
            acknowledged = int(response.headers["upload-offset"])

    status = client.get(url + "/status").json()
    assert status["state"] == "complete", status
    client.close()
    server.stop()
    assert kills == KILLS
    assert integrity(data_dir) == "ok"
    db = Database(f"sqlite:///{data_dir / 'museum.sqlite3'}")
    asset = db.call(lambda s: s.get(Asset, status["asset_id"]))
    assets = db.call(lambda s: s.query(Asset).count())
    db.dispose()
    assert assets == 1
    assert asset is not None and asset.sha256 == digest and asset.size == SIZE
    assert Store.hash_file(Store(data_dir).original_path(digest)) == digest
    assert not list((data_dir / "uploads").iterdir())
    print(f"{kills} kills over {patches} PATCHes")


def test_a_repeated_last_patch_finishes_a_completion_a_killed_server_left(
    tmp_path: Path,
) -> None:
    """Killed between recording the last byte (state verifying) and storing the file: the
    client's repeated last PATCH verifies and stores it, without waiting for a sweep."""
    settings = Settings(data_dir=tmp_path / "data", min_free_disk=0)
    data = random.Random(5).randbytes(200_000)
    with TestClient(migrated_app(settings)) as client:
        sign_in(client, "bien-tap", "editor")
        client.headers["tus-resumable"] = "1.0.0"
        created = client.post(
            "/uploads/",
            headers={
                "upload-length": str(len(data)),
                "upload-metadata": encode_metadata(
                    {"filename": "a.bin", "sha256": hashlib.sha256(data).hexdigest()}
                ),
            },
        )
        url = created.headers["location"]
        upload_id = url.rsplit("/", 1)[1]
        # What a server killed at that moment leaves: every byte on disk and recorded.
        museum = client.app.state.museum  # type: ignore[attr-defined]
        PartFiles(museum.store).path(upload_id).write_bytes(data)
        museum.db.call(
            lambda s: s.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(offset=len(data), state="verifying")
            ),
            write=True,
        )
        assert client.get(url + "/status").json()["state"] == "verifying"
        headers = {
            "content-type": "application/offset+octet-stream",
            "upload-offset": str(len(data)),
        }
        again = client.patch(url, content=b"", headers=headers)
        assert again.status_code == 204, again.text
        status = client.get(url + "/status").json()
    assert status["state"] == "complete", status
    assert Store(settings.data_dir).verify(hashlib.sha256(data).hexdigest())
