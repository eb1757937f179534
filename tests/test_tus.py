"""tus 1.0 uploads against the real app: tusd's case table as HTTP tests, then the museum's
own rules (quota, disk, owners, CSRF, whole-file SHA-256, expiry) and the asset it makes."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from PIL import Image
from sqlalchemy import func, select
from starlette.testclient import TestClient

from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.migrate import upgrade
from server.models import Asset, AuditEntry, Job, Upload, User, utcnow
from server.settings import Settings
from server.storage import Store
from server.tus import encode_metadata
from server.upload_files import PartFiles
from tests.conftest import SEED_CATALOG
from tests.staff import add_user, sign_in, sign_out

TUS = {"tus-resumable": "1.0.0"}
OCTET = {**TUS, "content-type": "application/offset+octet-stream"}
DATA = bytes(range(256)) * 4  # 1024 bytes
SENT = 100  # bytes each case's upload already holds
MAX_SIZE = 64 * 1024
LOCATION = re.compile(r"^/uploads/[0-9a-f]{32}$")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def metadata(data: bytes = DATA, **extra: str) -> str:
    values = {"filename": "tệp thử.bin", "sha256": hashlib.sha256(data).hexdigest(), **extra}
    return encode_metadata({k: v for k, v in values.items() if v is not None})


@pytest.fixture
def tus_settings(seeded_settings: Settings) -> Settings:
    return replace(seeded_settings, max_upload_size=MAX_SIZE, min_free_disk=0)


@pytest.fixture
def client(tus_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(tus_settings)) as test_client:
        sign_in(test_client, "editor", "editor")
        yield test_client


def db_of(client: TestClient) -> Database:
    database: Database = client.app.state.museum.db  # type: ignore[attr-defined]
    return database


def create(client: TestClient, data: bytes = DATA, **extra: str) -> str:
    response = client.post(
        "/uploads/",
        headers={
            **TUS,
            "upload-length": str(len(data)),
            "upload-metadata": metadata(data, **extra),
        },
    )
    assert response.status_code == 201, response.text
    return str(response.headers["location"])


def patch(client: TestClient, url: str, offset: int, body: bytes, **headers: str) -> Any:
    return client.patch(
        url, content=body, headers={**OCTET, "upload-offset": str(offset), **headers}
    )


def offset_of(client: TestClient, url: str) -> int:
    response = client.head(url, headers=TUS)
    assert response.status_code == 200, response.status_code
    return int(response.headers["upload-offset"])


def count(client: TestClient, model: Any, *where: Any) -> int:
    query = select(func.count()).select_from(model)
    for condition in where:
        query = query.where(condition)
    return int(db_of(client).call(lambda s: s.scalar(query)) or 0)


# tusd's case table -----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    target: str  # "collection" (/uploads/) or "upload" (one holding SENT bytes)
    headers: dict[str, str]
    code: int
    body: bytes = b""
    response: dict[str, str] = field(default_factory=dict)
    offset_after: int | None = SENT  # the upload's offset afterwards (None: not checked)


CHUNK = DATA[SENT : SENT + 50]
CASES = [
    Case(
        "options",
        "OPTIONS",
        "collection",
        {},
        204,
        response={
            "tus-version": "1.0.0",
            "tus-extension": "creation,checksum,termination,expiration",
            "tus-max-size": str(MAX_SIZE),
            "tus-checksum-algorithm": "sha1,sha256,md5",
        },
    ),
    Case(
        "create",
        "POST",
        "collection",
        {**TUS, "upload-length": "1024", "upload-metadata": metadata()},
        201,
        response={"tus-resumable": "1.0.0"},
    ),
    Case("create-no-length", "POST", "collection", {**TUS, "upload-metadata": metadata()}, 400),
    Case(
        "create-bad-length",
        "POST",
        "collection",
        {**TUS, "upload-length": "-5", "upload-metadata": metadata()},
        400,
    ),
    Case(
        "create-too-large",
        "POST",
        "collection",
        {**TUS, "upload-length": str(MAX_SIZE + 1), "upload-metadata": metadata()},
        413,
    ),
    Case(
        "create-no-sha256",
        "POST",
        "collection",
        {**TUS, "upload-length": "1024", "upload-metadata": metadata(sha256=None)},  # type: ignore[arg-type]
        400,
    ),
    Case(
        "create-bad-sha256",
        "POST",
        "collection",
        {**TUS, "upload-length": "1024", "upload-metadata": metadata(sha256="abc")},
        400,
    ),
    Case(
        "create-no-filename",
        "POST",
        "collection",
        {**TUS, "upload-length": "1024", "upload-metadata": metadata(filename=None)},  # type: ignore[arg-type]
        400,
    ),
    Case(
        "create-bad-metadata",
        "POST",
        "collection",
        {**TUS, "upload-length": "1024", "upload-metadata": "filename !!!notbase64"},
        400,
    ),
    Case(
        "create-old-version",
        "POST",
        "collection",
        {"tus-resumable": "0.2.2", "upload-length": "1024", "upload-metadata": metadata()},
        412,
        response={"tus-version": "1.0.0"},
    ),
    Case(
        "create-no-version",
        "POST",
        "collection",
        {"upload-length": "1024", "upload-metadata": metadata()},
        412,
    ),
    Case(
        "head",
        "HEAD",
        "upload",
        TUS,
        200,
        response={"upload-offset": str(SENT), "upload-length": "1024", "tus-resumable": "1.0.0"},
    ),
    Case("head-old-version", "HEAD", "upload", {"tus-resumable": "0.2.2"}, 412),
    Case(
        "patch",
        "PATCH",
        "upload",
        {**OCTET, "upload-offset": str(SENT)},
        204,
        CHUNK,
        {"upload-offset": str(SENT + 50)},
        SENT + 50,
    ),
    Case("patch-wrong-offset", "PATCH", "upload", {**OCTET, "upload-offset": "0"}, 409, CHUNK),
    Case("patch-offset-ahead", "PATCH", "upload", {**OCTET, "upload-offset": "999"}, 409, CHUNK),
    Case("patch-no-offset", "PATCH", "upload", OCTET, 400, CHUNK),
    Case(
        "patch-content-type",
        "PATCH",
        "upload",
        {**TUS, "content-type": "application/octet-stream", "upload-offset": str(SENT)},
        415,
        CHUNK,
    ),
    Case(
        "patch-old-version",
        "PATCH",
        "upload",
        {**OCTET, "tus-resumable": "0.2.2", "upload-offset": str(SENT)},
        412,
        CHUNK,
    ),
    Case(
        "patch-overflow",
        "PATCH",
        "upload",
        {**OCTET, "upload-offset": str(SENT)},
        413,
        DATA[SENT:] + b"one byte too many",
    ),
    *[
        Case(
            f"checksum-{algorithm}",
            "PATCH",
            "upload",
            {
                **OCTET,
                "upload-offset": str(SENT),
                "upload-checksum": f"{algorithm} {b64(hashlib.new(algorithm, CHUNK).digest())}",
            },
            204,
            CHUNK,
            {"upload-offset": str(SENT + 50)},
            SENT + 50,
        )
        for algorithm in ("sha1", "sha256", "md5")
    ],
    *[
        Case(
            f"checksum-mismatch-{algorithm}",
            "PATCH",
            "upload",
            {
                **OCTET,
                "upload-offset": str(SENT),
                "upload-checksum": f"{algorithm} {b64(hashlib.new(algorithm, b'other').digest())}",
            },
            460,
            CHUNK,
        )
        for algorithm in ("sha1", "sha256", "md5")
    ],
    Case(
        "checksum-unsupported-algorithm",
        "PATCH",
        "upload",
        {**OCTET, "upload-offset": str(SENT), "upload-checksum": f"crc32 {b64(b'1234')}"},
        400,
        CHUNK,
    ),
    Case(
        "checksum-malformed",
        "PATCH",
        "upload",
        {**OCTET, "upload-offset": str(SENT), "upload-checksum": "sha1"},
        400,
        CHUNK,
    ),
    Case("terminate", "DELETE", "upload", TUS, 204, offset_after=None),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_tusd_cases(client: TestClient, case: Case) -> None:
    url = create(client)
    assert LOCATION.match(url)
    assert patch(client, url, 0, DATA[:SENT]).status_code == 204
    target = "/uploads/" if case.target == "collection" else url
    response = client.request(case.method, target, headers=case.headers, content=case.body)
    assert response.status_code == case.code, response.text
    for name, value in case.response.items():
        assert response.headers.get(name) == value, name
    if case.code >= 400 and case.method != "HEAD":
        assert response.json()["error"]["status"] == case.code
    if case.offset_after is not None:
        assert offset_of(client, url) == case.offset_after
    if case.id == "create":
        assert LOCATION.match(response.headers["location"])
        assert response.headers["upload-expires"].endswith(" GMT")
    if case.id == "head":
        assert "no-store" in response.headers["cache-control"]
        assert response.headers["upload-expires"].endswith(" GMT")
    if case.id == "terminate":
        assert client.head(url, headers=TUS).status_code == 410
        assert patch(client, url, SENT, CHUNK).status_code == 410


def test_a_checksum_mismatch_keeps_nothing_of_the_chunk(client: TestClient) -> None:
    url = create(client)
    bad = f"sha1 {b64(hashlib.sha1(b'x').digest())}"
    assert patch(client, url, 0, DATA[:500], **{"upload-checksum": bad}).status_code == 460
    assert offset_of(client, url) == 0
    good = f"sha1 {b64(hashlib.sha1(DATA[:500]).digest())}"
    assert patch(client, url, 0, DATA[:500], **{"upload-checksum": good}).status_code == 204
    assert patch(client, url, 500, DATA[500:]).status_code == 204
    upload_id = url.rsplit("/", 1)[1]
    asset_id = client.get(url + "/status").json()["asset_id"]
    asset = db_of(client).call(lambda s: s.get(Asset, asset_id))
    assert asset.sha256 == hashlib.sha256(DATA).hexdigest()
    assert not (PartFiles(client.app.state.museum.store).path(upload_id)).exists()  # type: ignore[attr-defined]


def test_unknown_upload_is_404(client: TestClient) -> None:
    for method in ("HEAD", "PATCH", "DELETE"):
        response = client.request(
            method, "/uploads/" + "0" * 32, headers={**OCTET, "upload-offset": "0"}
        )
        assert response.status_code == 404, method
    assert client.get("/uploads/not-an-id/status").status_code == 404


# Who may upload ---------------------------------------------------------------


def test_anonymous_visitors_get_401(client: TestClient) -> None:
    url = create(client)
    sign_out(client)
    assert client.options("/uploads/").status_code == 401
    assert client.head(url, headers=TUS).status_code == 401
    response = client.post("/uploads/", headers={**TUS, "upload-length": "10"})
    assert response.status_code == 401


def test_unsafe_methods_need_the_csrf_token_and_this_site(client: TestClient) -> None:
    url = create(client)
    token = client.headers.pop("x-csrf-token")
    assert patch(client, url, 0, DATA[:10]).status_code == 403
    assert client.delete(url, headers=TUS).status_code == 403
    response = client.post(
        "/uploads/", headers={**TUS, "upload-length": "1024", "upload-metadata": metadata()}
    )
    assert response.status_code == 403
    client.headers["x-csrf-token"] = token
    foreign = patch(client, url, 0, DATA[:10], origin="https://evil.example")
    assert foreign.status_code == 403
    assert offset_of(client, url) == 0
    assert client.head(url, headers=TUS).status_code == 200  # HEAD needs no token


def test_another_users_upload_is_404_but_staff_see_it(client: TestClient) -> None:
    sign_in(client, "nguoi-gop", "contributor")
    url = create(client)
    sign_in(client, "khac", "contributor")
    assert client.head(url, headers=TUS).status_code == 404
    assert patch(client, url, 0, DATA[:10]).status_code == 404
    assert client.delete(url, headers=TUS).status_code == 404
    assert client.get(url + "/status").status_code == 404
    sign_in(client, "editor", "editor")
    assert offset_of(client, url) == 0


def test_quota_counts_unfinished_uploads(client: TestClient) -> None:
    user_id = add_user(db_of(client), "editor", "editor")

    def limit(session: Any) -> None:
        session.get(User, user_id).upload_quota = 1500

    db_of(client).call(limit, write=True)
    create(client)  # 1024 of 1500 bytes
    response = client.post(
        "/uploads/",
        headers={**TUS, "upload-length": "1024", "upload-metadata": metadata()},
    )
    assert response.status_code == 413
    assert "1500" in response.json()["error"]["message"]
    assert count(client, Upload) == 1


def test_quota_from_the_settings(tus_settings: Settings) -> None:
    with TestClient(create_app(replace(tus_settings, upload_quota=2000))) as client:
        sign_in(client, "editor", "editor")
        create(client)
        response = client.post(
            "/uploads/", headers={**TUS, "upload-length": "1000", "upload-metadata": metadata()}
        )
        assert response.status_code == 413
        assert "2000" in response.json()["error"]["message"]


def test_a_nearly_full_disk_refuses_new_uploads(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("server.upload_service.free_space", lambda path: 1000)
    response = client.post(
        "/uploads/", headers={**TUS, "upload-length": "1024", "upload-metadata": metadata()}
    )
    assert response.status_code == 507
    assert count(client, Upload) == 0
    assert not any((client.app.state.museum.store.root / "uploads").glob("*.part"))  # type: ignore[attr-defined]


# Records ---------------------------------------------------------------------


def test_records_need_someone_who_may_edit_them(client: TestClient) -> None:
    def post(record: str) -> int:
        response = client.post(
            "/uploads/",
            headers={
                **TUS,
                "upload-length": "1024",
                "upload-metadata": metadata(record=record),
            },
        )
        return response.status_code

    sign_in(client, "gop", "contributor")
    assert post("DL-ICH-01") == 403
    sign_in(client, "editor", "editor")
    assert post("DL-ICH-01") == 403  # published: editors change drafts only
    assert post("KHONG-CO") == 404
    sign_in(client, "curator", "curator")
    assert post("KHONG-CO") == 404
    assert post("DL-ICH-01") == 201


# Completion ------------------------------------------------------------------


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (140, 29, 24)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_finished_upload_becomes_an_asset_with_its_pipeline_queued(client: TestClient) -> None:
    sign_in(client, "curator", "curator")
    data = png_bytes()
    url = create(client, data, record="DL-ICH-01")
    half = len(data) // 2
    assert patch(client, url, 0, data[:half]).status_code == 204
    response = patch(client, url, half, data[half:])
    assert response.status_code == 204
    assert response.headers["upload-offset"] == str(len(data))
    status = client.get(url + "/status").json()
    assert status["state"] == "complete" and status["offset"] == len(data)
    asset = db_of(client).call(lambda s: s.get(Asset, status["asset_id"]))
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    assert asset.record_id == "DL-ICH-01" and asset.kind == "image"
    assert asset.filename == "tệp thử.bin" and asset.access_level == "public"
    curator = add_user(db_of(client), "curator", "curator")
    assert asset.uploaded_by == curator
    store: Store = client.app.state.museum.store  # type: ignore[attr-defined]
    assert store.original_path(asset.sha256).read_bytes() == data
    job = db_of(client).call(lambda s: s.get(Job, status["job_id"]))
    assert job.kind == "process_image" and job.asset_id == asset.id
    assert job.params == {"asset_id": asset.id}
    actions = db_of(client).call(
        lambda s: list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    )
    # One entry per request: the last PATCH's is its outcome.
    assert actions[-3:] == ["upload.create", "upload.receive", "upload.complete"]
    assert not list((store.root / "uploads").iterdir())
    # The finished upload answers HEAD with its whole length, and takes no more bytes.
    assert offset_of(client, url) == len(data)
    assert patch(client, url, len(data), b"x").status_code == 413
    assert client.delete(url, headers=TUS).status_code == 409


def test_a_contributors_upload_stays_with_staff(client: TestClient) -> None:
    sign_in(client, "gop", "contributor")
    data = png_bytes()
    url = create(client, data, kind="document")
    assert patch(client, url, 0, data).status_code == 204
    status = client.get(url + "/status").json()
    asset = db_of(client).call(lambda s: s.get(Asset, status["asset_id"]))
    assert asset.access_level == "staff" and asset.record_id is None
    job = db_of(client).call(lambda s: s.get(Job, status["job_id"]))
    assert job.params == {"asset_id": asset.id, "kind": "document"}


def test_a_file_that_is_not_the_declared_one_never_becomes_an_asset(client: TestClient) -> None:
    assets = count(client, Asset)
    url = create(client)  # declares the SHA-256 of DATA
    damaged = bytes([DATA[0] ^ 1]) + DATA[1:]
    assert patch(client, url, 0, damaged[:600]).status_code == 204
    response = patch(client, url, 600, damaged[600:])
    assert response.status_code == 460
    error = response.json()["error"]
    assert error["code"] == "checksum_mismatch" and error["parameter"] == "sha256"
    assert hashlib.sha256(damaged).hexdigest() in error["message"]
    status = client.get(url + "/status").json()
    assert status["state"] == "failed" and status["asset_id"] is None
    assert hashlib.sha256(damaged).hexdigest() in status["message"]
    assert count(client, Asset) == assets
    assert not list((client.app.state.museum.store.root / "uploads").iterdir())  # type: ignore[attr-defined]
    assert count(client, AuditEntry, AuditEntry.action == "upload.fail") == 1
    assert client.head(url, headers=TUS).status_code == 410


def test_every_request_that_changes_an_upload_writes_one_audit_entry(client: TestClient) -> None:
    url = create(client)
    before = count(client, AuditEntry)
    assert patch(client, url, 0, DATA[:10]).status_code == 204
    assert count(client, AuditEntry) == before + 1
    assert patch(client, url, 0, DATA[:10]).status_code == 409
    assert patch(client, url, 10, b"", **{"upload-checksum": "sha1 AAAA"}).status_code == 400
    assert count(client, AuditEntry) == before + 1  # refused: nothing changed, nothing logged
    assert patch(client, url, 10, DATA[10:]).status_code == 204  # the last bytes
    assert count(client, AuditEntry) == before + 2
    other = create(client)
    before = count(client, AuditEntry)
    assert client.delete(other, headers=TUS).status_code == 204
    assert count(client, AuditEntry) == before + 1


def test_a_part_file_longer_than_the_recorded_offset_is_cut(client: TestClient) -> None:
    """What a server killed after writing, before recording, leaves behind."""
    url = create(client)
    assert patch(client, url, 0, DATA[:100]).status_code == 204
    store = client.app.state.museum.store  # type: ignore[attr-defined]
    part = PartFiles(store).path(url.rsplit("/", 1)[1])
    with part.open("ab") as handle:
        handle.write(b"garbage that was never acknowledged")
    assert offset_of(client, url) == 100
    assert patch(client, url, 100, DATA[100:]).status_code == 204
    asset_id = client.get(url + "/status").json()["asset_id"]
    sha = db_of(client).call(lambda s: s.get(Asset, asset_id)).sha256
    assert sha == hashlib.sha256(DATA).hexdigest()


def test_a_part_file_held_by_another_writer_is_423(client: TestClient) -> None:
    url = create(client)
    files = PartFiles(client.app.state.museum.store)  # type: ignore[attr-defined]
    writer = files.open_writer(url.rsplit("/", 1)[1], 0)
    try:
        assert patch(client, url, 0, DATA[:10]).status_code == 423
    finally:
        writer.close()
    assert patch(client, url, 0, DATA[:10]).status_code == 204


# Expiry ----------------------------------------------------------------------


def expire(client: TestClient, url: str) -> None:
    upload_id = url.rsplit("/", 1)[1]

    def past(session: Any) -> None:
        session.get(Upload, upload_id).expires_at = utcnow() - timedelta(seconds=1)

    db_of(client).call(past, write=True)


def test_expired_uploads_are_gone_and_swept(client: TestClient) -> None:
    url = create(client)
    assert patch(client, url, 0, DATA[:10]).status_code == 204
    expire(client, url)
    assert client.head(url, headers=TUS).status_code == 410
    assert patch(client, url, 10, DATA[10:20]).status_code == 410
    part = PartFiles(client.app.state.museum.store).path(url.rsplit("/", 1)[1])  # type: ignore[attr-defined]
    assert part.exists()
    create(client)  # creating sweeps
    assert not part.exists()
    status = client.get(url + "/status").json()
    assert status["state"] == "terminated"
    assert client.head(url, headers=TUS).status_code == 410


def test_expired_uploads_do_not_count_against_the_quota(tus_settings: Settings) -> None:
    with TestClient(create_app(replace(tus_settings, upload_quota=1500))) as client:
        sign_in(client, "editor", "editor")
        url = create(client)
        expire(client, url)
        create(client)


def test_each_patch_pushes_the_expiry_back(client: TestClient) -> None:
    url = create(client)
    upload_id = url.rsplit("/", 1)[1]

    def soon(session: Any) -> None:
        session.get(Upload, upload_id).expires_at = utcnow() + timedelta(hours=1)

    db_of(client).call(soon, write=True)
    assert patch(client, url, 0, DATA[:10]).status_code == 204
    expires = db_of(client).call(lambda s: s.get(Upload, upload_id).expires_at)
    assert expires > utcnow() + timedelta(days=6)  # MUSEUM_UPLOAD_EXPIRY: 7 days


# Both engines ----------------------------------------------------------------


def test_an_upload_on_each_engine(tmp_path: Path, database_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        job_retry_delay=0.0,
        min_free_disk=0,
    )
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.dispose()
    with TestClient(create_app(settings)) as client:
        sign_in(client, "curator", "curator")
        data = png_bytes()
        url = create(client, data, record="DL-ICH-02")
        assert patch(client, url, 0, data[:100]).status_code == 204
        assert patch(client, url, 0, data[:100]).status_code == 409
        assert patch(client, url, 100, data[100:]).status_code == 204
        status = client.get(url + "/status").json()
        assert status["state"] == "complete" and status["job"]["state"] == "queued"


# One writer at a time ------------------------------------------------------------


def test_a_body_without_a_length_stops_at_the_upload_length(client: TestClient) -> None:
    """tusd's OverflowWithoutLength: a chunked body longer than what is left gives 413 and
    keeps nothing of it."""
    url = create(client)
    assert patch(client, url, 0, DATA[:SENT]).status_code == 204

    def body() -> Iterator[bytes]:
        yield DATA[SENT:]
        yield b"beyond the end"

    response = client.patch(url, content=body(), headers={**OCTET, "upload-offset": str(SENT)})
    assert response.status_code == 413
    assert offset_of(client, url) == SENT


def run_loop(main: Any) -> None:
    """``anyio.run(main)`` in a thread of its own: Playwright's session-wide browser
    (tests/browser) keeps an event loop running in this one when the whole suite runs."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, main).result()


def test_a_new_request_stops_a_stalled_patch_and_waits_for_it() -> None:
    from server.uploads import exclusive

    upload_id = "a" * 32
    events: list[str] = []

    async def stalled() -> None:
        async with exclusive(upload_id) as active:
            with anyio.CancelScope() as scope:
                active.scope = scope
                await anyio.sleep(60)  # a body that never comes
            events.append("stopped" if scope.cancelled_caught else "finished")
            await anyio.sleep(0.05)  # it records what it received
            events.append("recorded")

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(stalled)
            await anyio.sleep(0.05)
            with anyio.fail_after(2):
                async with exclusive(upload_id):
                    events.append("second")

    run_loop(main)
    assert events == ["stopped", "recorded", "second"]


def test_a_writer_that_does_not_stop_makes_others_wait_then_423(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from server import uploads
    from server.tus import Locked

    monkeypatch.setattr(uploads, "LOCK_WAIT", 0.2)
    upload_id = "b" * 32
    outcome: list[str] = []

    async def busy() -> None:
        async with uploads.exclusive(upload_id):  # verifying: no body to cancel
            await anyio.sleep(1)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(busy)
            await anyio.sleep(0.05)
            try:
                async with uploads.exclusive(upload_id):
                    outcome.append("entered")
            except Locked:
                outcome.append("locked")

    run_loop(main)
    assert outcome == ["locked"]


def test_museum_uploads_sweep_removes_expired_and_finishes_interrupted_checks(
    tmp_path: Path, client: TestClient
) -> None:
    from tests.test_cli import run_museum

    store = client.app.state.museum.store  # type: ignore[attr-defined]
    files = PartFiles(store)
    stuck = create(client)
    assert patch(client, stuck, 0, DATA[:500]).status_code == 204
    expired = create(client)  # after the other: creating an upload sweeps expired ones
    assert patch(client, expired, 0, DATA[:10]).status_code == 204
    expire(client, expired)
    stuck_id = stuck.rsplit("/", 1)[1]
    # A server stopped while checking the finished file: all bytes durable, state verifying.
    with files.path(stuck_id).open("ab") as handle:
        handle.write(DATA[500:])

    def verifying(session: Any) -> None:
        row = session.get(Upload, stuck_id)
        row.offset, row.state = len(DATA), "verifying"
        row.updated_at = utcnow() - timedelta(hours=1)

    db_of(client).call(verifying, write=True)
    result = run_museum(
        tmp_path, "uploads", "sweep", env={"MUSEUM_LANGUAGE": "en", "MUSEUM_MIN_FREE_DISK": "0"}
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "1 expired upload(s) removed, 1 interrupted check(s) resumed." in output
    assert f"{stuck_id}\tcomplete: asset " in result.stdout
    assert client.get(expired + "/status").json()["state"] == "terminated"
    assert not files.path(expired.rsplit("/", 1)[1]).exists()
    status = client.get(stuck + "/status").json()
    assert status["state"] == "complete"
    asset = db_of(client).call(lambda s: s.get(Asset, status["asset_id"]))
    assert asset is not None and asset.sha256 == hashlib.sha256(DATA).hexdigest()
    assert count(client, AuditEntry, AuditEntry.actor.startswith("cli:")) == 1


# The header parsers (server/tus.py) ------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"filename": "Cồng chiêng.glb", "sha256": "ab" * 32},
        {"filename": "a b,c.txt", "record": "DL-ICH-01", "kind": "image", "flag": ""},
        {"filetype": "model/gltf-binary", "name": "x" * 300},
    ],
)
def test_metadata_round_trips(metadata: dict[str, str]) -> None:
    from server.tus import parse_metadata

    assert parse_metadata(encode_metadata(metadata)) == metadata


@pytest.mark.parametrize(
    "header",
    [
        "filename",  # fine: a key without a value
        "filename YQ==,filename Yg==",  # repeated key
        "file name YQ==",  # space in a key... read as three parts
        "fïlename YQ==",  # not ASCII
        "filename YQ",  # not padded Base64
        "filename //79",  # not UTF-8
        ",".join(f"k{i}" for i in range(40)),  # too many
    ],
)
def test_malformed_metadata_is_400(header: str) -> None:
    from server.errors import BadRequest
    from server.tus import parse_metadata

    if header == "filename":
        assert parse_metadata(header) == {"filename": ""}
        return
    with pytest.raises(BadRequest) as caught:
        parse_metadata(header)
    assert caught.value.parameter == "Upload-Metadata"


def test_checksums_numbers_dates_and_names() -> None:
    from datetime import datetime

    from server.errors import BadRequest
    from server.tus import (
        Checksum,
        clean_filename,
        http_date,
        parse_checksum,
        parse_number,
    )
    from server.upload_files import MAX_NAME_BYTES, short_name

    digest = hashlib.sha1(b"x").digest()
    assert parse_checksum(f"SHA1 {b64(digest)}") == Checksum("sha1", digest)
    assert parse_checksum(None) is None
    for bad in ("sha1", f"sha1 {b64(b'short')}", "crc32 AAAA", f"sha1 {b64(digest)} extra"):
        with pytest.raises(BadRequest):
            parse_checksum(bad)
    assert parse_number("0", "Upload-Offset") == 0
    assert parse_number(str(2**62), "Upload-Length") == 2**62
    for bad_number in (None, "", "-1", "1.5", "1e3", "9" * 20, " "):
        with pytest.raises(BadRequest):
            parse_number(bad_number, "Upload-Length")
    assert http_date(datetime(2026, 11, 20, 7, 5, 0)) == "Fri, 20 Nov 2026 07:05:00 GMT"
    assert clean_filename("C:\\ảnh\\Trống đồng.JPG") == "Trống đồng.JPG"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("bad\x00name\n.txt") == "badname.txt"
    for empty in ("", "..", "dir/", "\x07"):
        with pytest.raises(BadRequest):
            clean_filename(empty)
    long = "ả" * 200 + ".obj"
    assert short_name(long).endswith(".obj")
    assert len(short_name(long).encode()) <= MAX_NAME_BYTES
    assert short_name("a.obj") == "a.obj"


def test_page_sizes_read_like_the_uploaders() -> None:
    from server.upload_pages import format_bytes

    assert format_bytes(0, "vi") == "0 B"
    assert format_bytes(1536, "vi") == "1,5 KB"
    assert format_bytes(1536, "en") == "1.5 KB"
    assert format_bytes(20 * 1024**3, "vi") == "20 GB"  # MUSEUM_MAX_UPLOAD_SIZE=20G
    assert format_bytes(200 * 1024**3, "en") == "200 GB"
