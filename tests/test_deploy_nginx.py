"""deploy/nginx/museum.conf, rendered for temporary ports and folders and run by Debian's
nginx in front of a real `museum serve` (MUSEUM_ACCEL_REDIRECT and MUSEUM_TRUSTED_PROXIES
set as docs/deploy.md says): pages are proxied, public media and open originals are sent by
nginx after the app's decision, refused files stay refused, the internal prefix cannot be
reached from outside, tus uploads, WebSockets and job progress (SSE) pass through, and a
client's X-Forwarded-For is not believed."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.migrate import upgrade
from server.models import Asset, AuditEntry
from server.settings import Settings
from server.tus import encode_metadata
from tests.conftest import SEED_CATALOG
from tests.live import free_port
from tests.media_fixtures import CC_BY, add_media, set_record
from tests.nginx_stack import (
    ACCEL_PREFIX,
    SESSION,
    Museum,
    Nginx,
    museum_env,
    nginx_binary,
    render,
    staff_session,
    tus_headers,
)

pytestmark = pytest.mark.slow
IMMUTABLE = "public, max-age=31536000, immutable"
THUMB = b"\xff\xd8public thumbnail" + bytes(range(256)) * 8
SEGMENT = b"hls segment " * 4000  # over gzip's threshold: must arrive untouched
SECRET = b"restricted thumbnail"
STATIC_NAME = "viewer-3f9a1c2e.js"
STATIC = b"export const viewer = 1;\n"
CLIENT = "127.0.0.2"  # the visitor's address: another loopback address than nginx's
SPOOFED = "203.0.113.9"


@dataclass
class Stack:
    nginx: Nginx
    app_url: str
    data_dir: Path
    database_url: str
    public: str
    restricted: str
    original: str
    original_bytes: bytes
    session: tuple[str, str]

    def client(self, **kwargs: object) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=CLIENT)
        return httpx.Client(base_url=self.nginx.url, transport=transport, timeout=20, **kwargs)  # type: ignore[arg-type]


def prepare_catalog(data_dir: Path) -> tuple[str, str, str, bytes]:
    """The seed catalog, a public image with derivatives, a restricted one, an open original."""
    settings = Settings(data_dir=data_dir)
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.dispose()
    files = {"thumb.jpg": THUMB, "720p/seg-1.m4s": SEGMENT}
    original = random.Random(7).randbytes(300_000)
    with TestClient(create_app(settings)) as client:
        public = add_media(client, files=files)
        set_record(client, "DL-ICH-05", access_level="restricted")
        restricted = add_media(client, "DL-ICH-05", files={"thumb.jpg": SECRET})
        opened = add_media(client, license=CC_BY, downloadable=True, data=original)
    return public, restricted, opened, original


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx_binary()
    tmp = tmp_path_factory.mktemp("deploy")
    data_dir = tmp / "data"
    public, restricted, opened, original = prepare_catalog(data_dir)
    static = tmp / "static"
    static.mkdir()
    (static / STATIC_NAME).write_bytes(STATIC)
    nginx_port, app_port = free_port(), free_port()
    base = f"http://127.0.0.1:{nginx_port}"
    env = museum_env(
        data_dir,
        accel_redirect=ACCEL_PREFIX,
        trusted_proxies="127.0.0.1",
        public_base_url=base,
    )
    app = Museum.server(app_port, env, tmp / "serve.log").start()
    site = render(
        server_name="127.0.0.1",
        listen=f"127.0.0.1:{nginx_port}",
        app_ports=[app_port],
        data_dir=data_dir,
        static_dir=static,
    )
    nginx = Nginx(tmp / "nginx", site, nginx_port)
    try:
        nginx.check()
        nginx.start()
        app.wait_ready()
        database_url = Settings(data_dir=data_dir).resolved_database_url
        yield Stack(
            nginx,
            f"http://127.0.0.1:{app_port}",
            data_dir,
            database_url,
            public,
            restricted,
            opened,
            original,
            staff_session(database_url),
        )
    finally:
        nginx.stop()
        app.stop()


def test_pages_and_checks_are_proxied_with_the_apps_headers(stack: Stack) -> None:
    with stack.client() as client:
        home = client.get("/")
        assert home.status_code == 200 and "<html" in home.text
        assert "default-src 'self'" in home.headers["content-security-policy"]
        assert home.headers["server"] == "nginx"  # no version
        assert client.get("/readyz").status_code == 200
        assert client.get("/items/DL-ICH-01").status_code == 200
        assert client.get("/metrics").status_code == 404  # for scrapers on the app servers
    app_server = stack.app_url[len("http://") :]
    tried = {uri: t for _, uri, _, t in stack.nginx.requests()}
    assert tried["/"] == tried["/readyz"] == tried["/items/DL-ICH-01"] == app_server
    assert tried["/metrics"] == "-"


def test_public_media_is_sent_by_nginx_with_immutable_caching(stack: Stack) -> None:
    url = f"/media/{stack.public}/v1/thumb.jpg"
    # The app alone answers with no bytes at all, only the location for nginx ...
    direct = httpx.get(stack.app_url + url)
    assert direct.status_code == 200 and direct.content == b""
    assert (
        direct.headers["x-accel-redirect"]
        == f"{ACCEL_PREFIX}derivatives/{stack.public}/v1/thumb.jpg"
    )
    with stack.client() as client:
        # ... so the bytes that arrive through nginx were sent by nginx.
        response = client.get(url)
        assert response.status_code == 200 and response.content == THUMB
        assert "x-accel-redirect" not in response.headers
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["etag"]
        ranged = client.get(url, headers={"range": "bytes=2-9"})
        assert ranged.status_code == 206 and ranged.content == THUMB[2:10]
        revalidated = client.get(url, headers={"if-none-match": response.headers["etag"]})
        assert revalidated.status_code == 304
        segment = client.get(f"/media/{stack.public}/v1/720p/seg-1.m4s")
        assert segment.content == SEGMENT and "content-encoding" not in segment.headers


def test_refused_files_stay_refused_and_the_internal_prefix_is_unreachable(stack: Stack) -> None:
    store = f"derivatives/{stack.restricted}/v1/thumb.jpg"
    with stack.client() as client:
        refused = client.get(f"/media/{stack.restricted}/v1/thumb.jpg")
        assert refused.status_code == 404 and SECRET not in refused.content
        sha = hashlib.sha256(stack.original_bytes).hexdigest()
        for guess in (
            f"{ACCEL_PREFIX}{store}",
            f"{ACCEL_PREFIX}derivatives/{stack.public}/v1/thumb.jpg",
            f"{ACCEL_PREFIX}originals/{sha[:2]}/{sha[2:4]}/{sha}",
            f"{ACCEL_PREFIX}secret_key",
            f"{ACCEL_PREFIX}museum.sqlite3",
            f"/%5Fmuseum_files/{store}",
            f"/media/..{ACCEL_PREFIX}{store}",
            f"/media/{stack.public}/v1/..%2f..%2f..%2fsecret_key",
            f"/static/viewer/..%2f..%2fdata/{store}",
        ):
            response = client.get(guess)
            assert response.status_code in (400, 404), guess
            assert SECRET not in response.content and THUMB not in response.content, guess
            assert (stack.data_dir / "secret_key").read_bytes() not in response.content, guess
        # A client cannot send nginx the header the app uses.
        page = client.get("/", headers={"x-accel-redirect": f"{ACCEL_PREFIX}{store}"})
        assert page.status_code == 200 and SECRET not in page.content


def test_an_open_original_is_sent_by_nginx_with_the_apps_download_headers(stack: Stack) -> None:
    with stack.client() as client:
        response = client.get(f"/originals/{stack.original}")
    assert response.status_code == 200 and response.content == stack.original_bytes
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "x-accel-redirect" not in response.headers


def test_the_viewer_bundle_is_served_by_nginx_and_cached_forever(stack: Stack) -> None:
    with stack.client() as client:
        response = client.get(f"/static/viewer/{STATIC_NAME}")
        assert response.status_code == 200 and response.content == STATIC
        assert response.headers["cache-control"] == IMMUTABLE
        assert client.get("/static/viewer/missing-00000000.js").status_code == 404
    # nginx's log: no app server was asked for the bundle.
    asked = {f"/static/viewer/{STATIC_NAME}", "/static/viewer/missing-00000000.js"}
    assert {t for _, uri, _, t in stack.nginx.requests() if uri in asked} == {"-"}


def test_a_tus_upload_through_nginx_and_the_clients_address(stack: Stack) -> None:
    token, csrf = stack.session
    data = random.Random(5).randbytes(3 * 1024 * 1024 + 17)
    digest = hashlib.sha256(data).hexdigest()
    headers = {**tus_headers(csrf, stack.nginx.url), "x-forwarded-for": SPOOFED}
    with stack.client(headers=headers, cookies={SESSION: token}) as client:
        created = client.post(
            "/uploads/",
            headers={
                "upload-length": str(len(data)),
                "upload-metadata": encode_metadata({"filename": "ảnh.bin", "sha256": digest}),
            },
        )
        assert created.status_code == 201, created.text
        url = created.headers["location"]
        upload_id = url.rsplit("/", 1)[1]
        half = len(data) // 2
        for start, end in ((0, half), (half, len(data))):
            sent = client.patch(
                url,
                content=data[start:end],
                headers={
                    "content-type": "application/offset+octet-stream",
                    "upload-offset": str(start),
                },
            )
            assert sent.status_code == 204, sent.text
            assert client.head(url).headers["upload-offset"] == str(end)
        status = client.get(url + "/status").json()
    assert status["state"] == "complete"
    db = Database(stack.database_url)
    try:
        asset = db.call(lambda s: s.get(Asset, status["asset_id"]))
        addresses = db.call(
            lambda s: set(
                s.scalars(select(AuditEntry.address).where(AuditEntry.object_id == upload_id))
            )
        )
    finally:
        db.dispose()
    assert asset.sha256 == digest
    # The app saw the visitor's address from nginx, neither nginx's own nor the claimed one.
    assert addresses == {CLIENT}


def test_forwarded_headers_are_believed_only_from_the_trusted_proxy(stack: Stack) -> None:
    """Straight to the app from an untrusted address, X-Forwarded-For is ignored."""
    token, csrf = stack.session
    transport = httpx.HTTPTransport(local_address=CLIENT)
    headers = {**tus_headers(csrf, stack.nginx.url), "x-forwarded-for": SPOOFED}
    with httpx.Client(
        base_url=stack.app_url, transport=transport, headers=headers, cookies={SESSION: token}
    ) as client:
        created = client.post(
            "/uploads/",
            headers={
                "upload-length": "10",
                "upload-metadata": encode_metadata({"filename": "x", "sha256": "0" * 64}),
            },
        )
    assert created.status_code == 201, created.text
    upload_id = created.headers["location"].rsplit("/", 1)[1]
    db = Database(stack.database_url)
    try:
        address = db.call(
            lambda s: s.scalars(
                select(AuditEntry.address).where(AuditEntry.object_id == upload_id)
            ).one()
        )
    finally:
        db.dispose()
    assert address == CLIENT


def test_a_websocket_handshake_through_nginx(stack: Stack) -> None:
    ws_url = stack.nginx.url.replace("http://", "ws://")
    with connect(
        f"{ws_url}/ws/trips/ZZZZZZ", origin=Origin(stack.nginx.url), open_timeout=10
    ) as socket:
        message = json.loads(socket.recv(timeout=10))
    assert message == {"type": "ended", "found": False}
    # Upgrades pass only under /ws/: elsewhere nginx does not hand them on.
    with pytest.raises(InvalidStatus):
        connect(f"{ws_url}/", origin=Origin(stack.nginx.url), open_timeout=10)


def test_job_progress_events_are_not_held_back(stack: Stack) -> None:
    token, _ = stack.session
    with (
        stack.client(cookies={SESSION: token}) as client,
        client.stream("GET", "/admin/jobs/events", timeout=5) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        first = next(response.iter_text())
    assert first.startswith("retry:")


class AccelEverything(BaseHTTPRequestHandler):
    """An app that hands nginx whatever location the request path names."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("x-accel-redirect", ACCEL_PREFIX + self.path.lstrip("/"))
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_nginx_sends_nothing_but_media_and_originals_whatever_the_app_says(
    tmp_path: Path,
) -> None:
    """Even an app that names the catalog, the key or tmp/ gets nothing out of nginx."""
    data_dir = tmp_path / "data"
    for name, content in {
        "secret_key": b"key",
        "museum.sqlite3": b"catalog",
        "tmp/upload.part": b"partial",
        "uploads/u1.part": b"partial",
        "derivatives/a1/v1/thumb.jpg": b"thumb",
    }.items():
        (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / name).write_bytes(content)
    app = ThreadingHTTPServer(("127.0.0.1", 0), AccelEverything)
    thread = threading.Thread(target=app.serve_forever, daemon=True)
    thread.start()
    port = free_port()
    site = render(
        server_name="127.0.0.1",
        listen=f"127.0.0.1:{port}",
        app_ports=[app.server_address[1]],
        data_dir=data_dir,
        static_dir=tmp_path,
    )
    nginx = Nginx(tmp_path / "nginx", site, port)
    try:
        nginx.start()
        with httpx.Client(base_url=nginx.url) as client:
            assert client.get("/derivatives/a1/v1/thumb.jpg").content == b"thumb"
            for name in ("secret_key", "museum.sqlite3", "tmp/upload.part", "uploads/u1.part"):
                response = client.get(f"/{name}")
                assert response.status_code == 404, name
                assert (data_dir / name).read_bytes() not in response.content, name
    finally:
        nginx.stop()
        app.shutdown()
        app.server_close()
