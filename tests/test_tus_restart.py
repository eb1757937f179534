"""Acceptance: an upload interrupted five times — the real ``museum serve`` killed with SIGKILL
in the middle of a PATCH body twice, the client dropping the connection twice, a restart
between requests — resumes from HEAD each time and ends as an original whose SHA-256 is the
source's, with the catalog passing ``PRAGMA integrity_check``."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.migrate import upgrade
from server.models import Asset, User
from server.storage import Store
from server.tus import encode_metadata
from server.uploads import PERSIST_EVERY
from tests.live import free_port
from tests.staff import add_user

pytestmark = pytest.mark.slow
MUSEUM = str(Path(sys.executable).parent / "museum")
MiB = 1024 * 1024
SIZE = 40 * MiB + 12345
PIECE = 64 * 1024  # bytes per piece of a slow PATCH body
START_TIMEOUT = 30.0


class Server:
    """``museum serve`` on a free port, which the test can kill and start again."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_")}
        self.env.update(
            MUSEUM_DATA_DIR=str(tmp_path / "data"),
            MUSEUM_LOG_LEVEL="warning",
            MUSEUM_MIN_FREE_DISK="0",
            MUSEUM_LANGUAGE="en",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [MUSEUM, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"server did not start:\n{self.log.read_text(errors='replace')}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def integrity(data_dir: Path) -> str:
    connection = sqlite3.connect(data_dir / "museum.sqlite3")
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def signed_in_headers(data_dir: Path, origin: str) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, cookies) of an editor's session, made directly in the catalog."""
    db = Database(f"sqlite:///{data_dir / 'museum.sqlite3'}")
    upgrade(db)
    user_id = add_user(db, "bien-tap", "editor")
    token, csrf = db.call(lambda s: start_session(s, s.get(User, user_id), 3600), write=True)
    db.dispose()
    headers = {"tus-resumable": "1.0.0", "x-csrf-token": csrf, "origin": origin}
    return headers, {SESSION_COOKIE: token}


def slow_body(
    data: bytes, start: int, on_piece: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The rest of the file from ``start`` in pieces, a little at a time; ``on_piece`` sees
    the bytes sent so far (and may kill the server or raise to drop the connection)."""
    sent = 0
    for position in range(start, len(data), PIECE):
        piece = data[position : position + PIECE]
        yield piece
        sent += len(piece)
        if on_piece is not None:
            on_piece(sent)
        if sent % (2 * MiB) == 0:
            time.sleep(0.01)


class DropConnection(Exception):
    """Raised inside a body generator: the client abandons the request."""


def test_upload_survives_kills_drops_and_restarts(tmp_path: Path, server: Server) -> None:
    data_dir = tmp_path / "data"
    data = random.Random(126).randbytes(SIZE)
    digest = hashlib.sha256(data).hexdigest()
    headers, cookies = signed_in_headers(data_dir, server.url)
    server.start()
    client = httpx.Client(base_url=server.url, headers=headers, cookies=cookies, timeout=60)
    probe = httpx.Client(base_url=server.url, headers=headers, cookies=cookies, timeout=10)

    created = client.post(
        "/uploads/",
        headers={
            "upload-length": str(SIZE),
            "upload-metadata": encode_metadata({"filename": "quét 3D.bin", "sha256": digest}),
        },
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"]

    def head() -> int:
        response = probe.head(url)
        assert response.status_code == 200, response.status_code
        return int(response.headers["upload-offset"])

    def send(start: int, on_piece: Callable[[int], None] | None = None) -> httpx.Response | None:
        try:
            return client.patch(
                url,
                content=slow_body(data, start, on_piece),
                headers={
                    "content-type": "application/offset+octet-stream",
                    "upload-offset": str(start),
                },
            )
        except (httpx.TransportError, DropConnection):
            return None

    def kill_after(limit: int, wait_for_offset: int | None = None) -> Callable[[int], None]:
        def on_piece(sent: int) -> None:
            if sent >= limit and server.process and server.process.poll() is None:
                if wait_for_offset is not None:  # the server records progress mid-PATCH
                    deadline = time.monotonic() + 20
                    while head() < wait_for_offset:
                        assert time.monotonic() < deadline, "no progress recorded mid-PATCH"
                        time.sleep(0.05)
                server.kill()

        return on_piece

    def drop_after(limit: int) -> Callable[[int], None]:
        def on_piece(sent: int) -> None:
            if sent >= limit:
                raise DropConnection

        return on_piece

    # 1. SIGKILL mid-PATCH, once the server has recorded its first 16 MiB.
    assert send(0, kill_after(PERSIST_EVERY + 4 * MiB, wait_for_offset=PERSIST_EVERY)) is None
    assert integrity(data_dir) == "ok"
    server.start()
    offset = head()
    assert PERSIST_EVERY <= offset <= PERSIST_EVERY + 4 * MiB
    # A PATCH from a stale offset changes nothing.
    stale = client.patch(
        url,
        content=data[:10],
        headers={"content-type": "application/offset+octet-stream", "upload-offset": "0"},
    )
    assert stale.status_code == 409 and head() == offset

    # 2. The client drops the connection mid-body: what arrived is kept.
    assert send(offset, drop_after(3 * MiB)) is None
    deadline = time.monotonic() + 10
    while head() == offset and time.monotonic() < deadline:
        time.sleep(0.05)
    previous, offset = offset, head()
    assert previous < offset <= previous + 3 * MiB

    # 3. SIGKILL mid-PATCH again, before any progress is recorded.
    assert send(offset, kill_after(2 * MiB)) is None
    assert integrity(data_dir) == "ok"
    server.start()
    assert head() == offset  # the unrecorded bytes are dropped, the recorded ones kept

    # 4. A graceful restart between requests.
    server.stop()
    assert integrity(data_dir) == "ok"
    server.start()
    assert head() == offset

    # 5. Another dropped connection.
    assert send(offset, drop_after(5 * MiB)) is None
    deadline = time.monotonic() + 10
    while head() == offset and time.monotonic() < deadline:
        time.sleep(0.05)
    offset = head()

    # The rest, in one PATCH: the server verifies the whole file and stores it.
    final = send(offset)
    assert final is not None and final.status_code == 204, final and final.text
    assert final.headers["upload-offset"] == str(SIZE)
    status = probe.get(url + "/status").json()
    assert status["state"] == "complete", status
    client.close()
    probe.close()
    server.stop()

    assert integrity(data_dir) == "ok"
    db = Database(f"sqlite:///{data_dir / 'museum.sqlite3'}")
    asset = db.call(lambda s: s.get(Asset, status["asset_id"]))
    db.dispose()
    assert asset is not None and asset.sha256 == digest and asset.size == SIZE
    assert Store.hash_file(Store(data_dir).original_path(digest)) == digest
    assert not list((data_dir / "uploads").iterdir())
