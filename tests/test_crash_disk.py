"""A full disk (docs/security.md, section "crash"; research row 12).

The museum runs on a real size-limited tmpfs (CI runs as root). Uploads and ``museum ingest``
refuse clearly (507, in Vietnamese and English; a non-zero exit), also when the disk fills in
the middle of a PATCH body; no asset or original exists without its verified file; a job that
runs out of space mid-derivative publishes nothing and is retried; once space is freed, the
same server (no restart) takes uploads and processes them again. Where mounting is refused,
the mid-PATCH case still runs with ``ENOSPC`` injected into the part file's writes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.jobs import JobService
from server.models import Asset, Job, User
from server.queue import Queue
from server.settings import Settings
from server.storage import Store
from server.tasks import job_handlers
from server.tus import encode_metadata
from server.upload_files import PartWriter
from tests.live import serving
from tests.staff import add_user, migrated_app, sign_in
from tests.test_cli import run_museum

pytestmark = pytest.mark.slow
MiB = 1024 * 1024
DISK = 40 * MiB
FULL_EN = "The museum's disk is full"
RESERVE_EN = "disk is nearly full"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of :data:`DISK` bytes, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({done.stderr.strip()}); see the ENOSPC test below")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(path: Path, leave: int) -> None:
    """Fill the file system holding ``path`` until ``leave`` bytes are free (or fewer)."""
    free = os.statvfs(path.parent).f_bavail * os.statvfs(path.parent).f_frsize
    with path.open("ab") as handle:
        try:
            handle.write(b"\0" * max(0, free - leave))
            handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def noise_png(path: Path) -> bytes:
    """A picture whose derivatives (tiles, pyramid) take a few MiB: noise does not compress."""
    pixels = np.random.default_rng(7).integers(0, 255, (1200, 1600, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path.read_bytes()


def editor(db: Database, origin: str) -> tuple[dict[str, str], dict[str, str]]:
    user_id = add_user(db, "bien-tap", "editor")
    token, csrf = db.call(lambda s: start_session(s, s.get(User, user_id), 3600), write=True)
    headers = {
        "tus-resumable": "1.0.0",
        "x-csrf-token": csrf,
        "origin": origin,
        "accept-language": "en",
    }
    return headers, {SESSION_COOKIE: token}


def create(http: httpx.Client, data: bytes, language: str = "en") -> httpx.Response:
    return http.post(
        "/uploads/",
        headers={
            "upload-length": str(len(data)),
            "upload-metadata": encode_metadata(
                {"filename": "anh.png", "sha256": hashlib.sha256(data).hexdigest()}
            ),
            "accept-language": language,
        },
    )


def patch(http: httpx.Client, url: str, offset: int, body: object) -> httpx.Response:
    return http.patch(
        url,
        content=body,  # type: ignore[arg-type]
        headers={"content-type": "application/offset+octet-stream", "upload-offset": str(offset)},
    )


def assert_store_consistent(data_dir: Path, db: Database) -> None:
    """Every asset has its verified original; every original is whole (hashes to its name)."""
    store = Store(data_dir)
    for sha256 in db.call(lambda s: [a.sha256 for a in s.query(Asset)]):
        assert store.verify(sha256), sha256
    for path in (data_dir / "originals").rglob("*"):
        if path.is_file():
            assert Store.hash_file(path) == path.name


@pytest.mark.timeout(600)
def test_a_full_disk_refuses_clearly_and_recovers_without_restart(
    tmp_path: Path, small_disk: Path
) -> None:
    data_dir = small_disk / "data"
    settings = Settings(data_dir=data_dir, min_free_disk=2 * MiB, job_retry_delay=0)
    app = migrated_app(settings)
    db = Database(settings.resolved_database_url)
    filler = small_disk / "filler"
    image = noise_png(tmp_path / "noise.png")
    big = random.Random(12).randbytes(3 * MiB)
    env = {"MUSEUM_DATA_DIR": str(data_dir), "MUSEUM_MIN_FREE_DISK": str(2 * MiB)}

    with serving(app) as url:
        headers, cookies = editor(db, url)
        http = httpx.Client(base_url=url, headers=headers, cookies=cookies, timeout=60)

        # 1. Below the reserve: a clear 507 in both languages, and the CLI exits non-zero.
        fill(filler, leave=3 * MiB)
        answers = {lang: create(http, big, lang) for lang in ("en", "vi")}
        assert {a.status_code for a in answers.values()} == {507}
        english, vietnamese = (answers[k].json()["error"]["message"] for k in ("en", "vi"))
        assert RESERVE_EN in english and vietnamese and vietnamese != english
        (tmp_path / "big.bin").write_bytes(big)
        refused = run_museum(tmp_path, "ingest", str(tmp_path / "big.bin"), env=env)
        assert refused.returncode != 0 and "MUSEUM_MIN_FREE_DISK" in refused.stderr

        # 2. The disk fills up in the middle of a PATCH body (another program wrote there).
        filler.unlink()
        created = create(http, big)
        assert created.status_code == 201, created.text
        upload = created.headers["location"]

        def body() -> Iterator[bytes]:
            yield big[: MiB + 5]
            fill(filler, leave=0)
            for start in range(MiB + 5, len(big), 256 * 1024):
                yield big[start : start + 256 * 1024]

        full = patch(http, upload, 0, body())
        assert full.status_code == 507, full.text
        message = full.json()["error"]["message"]
        assert FULL_EN in message or RESERVE_EN in message, message
        assert db.call(lambda s: s.query(Asset).count()) == 0
        assert_store_consistent(data_dir, db)

        # 3. Space comes back: the same server takes the rest of the upload, and a new one.
        filler.unlink()
        deadline = time.monotonic() + 60
        offset = int(http.head(upload).headers["upload-offset"])
        assert offset < len(big)
        done = patch(http, upload, offset, big[offset:])
        assert done.status_code == 204, done.text
        small = create(http, image)
        assert small.status_code == 201, small.text
        assert patch(http, small.headers["location"], 0, image).status_code == 204
        assert time.monotonic() < deadline
        http.close()

    # 4. A job that runs out of space mid-derivative publishes nothing and is retried; so
    # is one that finds the disk below the reserve before it starts.
    later = replace(settings, job_retry_delay=3600)  # the test runs each attempt itself
    jobs = JobService(db, Queue(later.resolved_queue_url), later, job_handlers())
    image_job = db.call(lambda s: s.query(Job).filter(Job.kind == "process_image").one().id)
    asset_id = jobs.get(image_job)["asset_id"]
    for attempt, leave, why in (
        (1, 2 * MiB + 256 * 1024, "No space left on device"),  # above the reserve, too little
        (2, MiB, "disk_full"),  # below the reserve: not started
    ):
        fill(filler, leave=leave)
        jobs.execute(image_job, "test-worker")
        failed = jobs.get(image_job)
        assert failed["state"] == "queued" and failed["attempts"] == attempt, failed
        assert why in failed["message"], failed
        assert not (data_dir / "derivatives" / asset_id).exists()
        assert not list((data_dir / "tmp").iterdir())
        filler.unlink()
    jobs.execute(image_job, "test-worker")
    assert jobs.get(image_job)["state"] == "succeeded"
    assert (data_dir / "derivatives" / asset_id).is_dir()
    assert_store_consistent(data_dir, db)
    assert db.call(lambda s: s.query(Asset).count()) == 2
    db.dispose()


def test_enospc_in_the_middle_of_a_patch_is_a_507_and_loses_nothing_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a small disk: ENOSPC injected into the part file's first write."""
    settings = Settings(data_dir=tmp_path / "data", min_free_disk=0)
    data = random.Random(3).randbytes(3 * MiB)
    writes = {"count": 0}
    original_write = PartWriter.write

    def failing_write(self: PartWriter, chunk: bytes) -> None:
        writes["count"] += 1
        if writes["count"] == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        original_write(self, chunk)

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
                "accept-language": "vi",
            },
        )
        url = created.headers["location"]
        monkeypatch.setattr(PartWriter, "write", failing_write)
        headers = {"content-type": "application/offset+octet-stream", "upload-offset": "0"}
        full = client.patch(url, content=data, headers={**headers, "accept-language": "vi"})
        assert full.status_code == 507, full.text
        assert full.json()["error"]["code"] == "insufficient_storage"
        assert full.json()["error"]["message"] != ""
        assert client.head(url).headers["upload-offset"] == "0"
        monkeypatch.setattr(PartWriter, "write", original_write)
        assert client.patch(url, content=data, headers=headers).status_code == 204
        status = client.get(url + "/status").json()
    assert status["state"] == "complete"
    store = Store(settings.data_dir)
    assert store.verify(hashlib.sha256(data).hexdigest())
