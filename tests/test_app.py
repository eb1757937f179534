"""The web app in-process: URL map, pages in both languages, errors, headers, static files."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from server import api, ops, pages
from server.app import create_app
from server.settings import Settings
from tests.conftest import seed_rows


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/", pages.home),
        ("/items/DL-ICH-01", pages.item),
        ("/api/v1/jobs/" + "a" * 32, api.job_detail),
        ("/healthz", ops.healthz),
        ("/readyz", ops.readyz),
    ],
)
def test_url_map(client: TestClient, path: str, endpoint: object) -> None:
    app = client.app
    routes = list(app.routes)  # type: ignore[attr-defined]
    flat: list[Route] = []
    for route in routes:
        flat.extend(route.routes if isinstance(route, Mount) and route.routes else [route])
    from starlette.routing import Match

    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.FULL:
            if isinstance(route, Mount):
                scope.update(child)
                inner = [r for r in route.routes if r.matches(scope)[0] == Match.FULL]
                assert inner[0].unguarded_endpoint is endpoint  # type: ignore[attr-defined]
            else:
                assert route.unguarded_endpoint is endpoint  # type: ignore[attr-defined]
            return
    pytest.fail(f"no route for {path}")


def test_home_lists_every_seed_item_in_vietnamese_by_default(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-language"] == "vi"
    assert '<html lang="vi">' in response.text
    for row in seed_rows():
        assert escape(row["name_vi"]) in response.text
    assert "Không gian văn hóa Cồng chiêng Tây Nguyên" in response.text
    for heading in ("Di sản văn hóa phi vật thể", "Di tích", "Hiện vật", "Di sản tư liệu"):
        assert f">{heading} <" in response.text
    assert response.text.count('class="badge"') == 31  # nothing digitized yet
    assert "Chưa số hóa" in response.text
    assert unicodedata.is_normalized("NFC", response.text)


def test_home_in_english_by_query_and_the_choice_persists(client: TestClient) -> None:
    response = client.get("/?lang=en")
    assert response.headers["content-language"] == "en"
    assert "lang=en" in response.headers["set-cookie"]
    for row in seed_rows():
        assert escape(row["name_en"]) in response.text
    assert "Space of Gong Culture in the Central Highlands" in response.text
    assert "Intangible cultural heritage" in response.text
    again = client.get("/")  # the cookie now carries the choice
    assert again.headers["content-language"] == "en"
    assert "Space of Gong Culture in the Central Highlands" in again.text
    back = client.get("/?lang=vi")
    assert back.headers["content-language"] == "vi"


def test_accept_language_is_respected(client: TestClient) -> None:
    response = client.get("/", headers={"accept-language": "en-US,en;q=0.9"})
    assert response.headers["content-language"] == "en"
    assert "set-cookie" not in response.headers
    assert "Accept-Language" in response.headers["vary"]
    response = client.get("/", headers={"accept-language": "fr-FR,fr;q=0.9"})
    assert response.headers["content-language"] == "vi"


def test_item_page(client: TestClient) -> None:
    response = client.get("/items/DL-REL-01?lang=vi")
    assert response.status_code == 200
    row = next(r for r in seed_rows() if r["seed_id"] == "DL-REL-01")
    assert escape(row["name_vi"]) in response.text
    assert row["source_url"].split(" ; ")[0].replace("&", "&amp;") in response.text
    english = client.get("/items/DL-REL-01?lang=en")
    assert escape(row["name_en"]) in english.text
    assert escape(row["short_description_en"]) in english.text


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in ("/", "/healthz", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "http" not in csp.replace("'self'", "")
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_pages_are_gzipped(client: TestClient) -> None:
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"


def test_pages_load_nothing_from_other_hosts(client: TestClient) -> None:
    import re

    html = client.get("/").text
    for attribute in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not attribute.startswith(("http:", "https:", "//")), attribute


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "queue": "ok"}


def test_readyz_fails_when_the_queue_is_gone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", queue_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    from server.migrate import upgrade

    upgrade(app.state.museum.db)
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["checks"]["database"] == "ok"
    assert body["error"]["checks"]["queue"] != "ok"
    assert response.headers["retry-after"]


def test_readyz_fails_when_the_database_is_gone(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url="postgresql://nobody@127.0.0.1:1/none"
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["checks"]["database"] != "ok"


def test_viewer_bundle_is_served_immutable(tmp_path: Path, seeded_settings: Settings) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "manifest.json").write_text(
        '{"main.js": "main-ABC123.js", "main.css": "main-DEF456.css"}'
    )
    (dist / "main-ABC123.js").write_text("console.log('museum')")
    (dist / "main-DEF456.css").write_text("body{}")
    with TestClient(create_app(seeded_settings, viewer_dist=dist)) as client:
        html = client.get("/").text
        assert 'src="/static/viewer/main-ABC123.js"' in html
        assert 'href="/static/viewer/main-DEF456.css"' in html
        response = client.get("/static/viewer/main-ABC123.js")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "vary" not in response.headers  # one cached copy for every language
        assert client.get("/static/viewer/../manifest.json").status_code == 404


def test_pages_work_without_a_viewer_bundle(tmp_path: Path, seeded_settings: Settings) -> None:
    with TestClient(create_app(seeded_settings, viewer_dist=tmp_path / "none")) as client:
        html = client.get("/").text
        assert "<script" not in html
        assert "Không gian văn hóa Cồng chiêng Tây Nguyên" in html
        assert client.get("/static/viewer/main.js").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/media/../museum.sqlite3",
        "/media/%2e%2e/museum.sqlite3",
        "/media/..%2fsecret_key",
        "/media/%252e%252e/secret_key",
        "/media//etc/passwd",
        "/media/selftest/../../secret_key",
    ],
)
def test_media_never_serves_outside_derivatives(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "secret" not in response.text.lower() or response.json()["error"]["code"] == "not_found"


def test_media_serves_published_derivatives(client: TestClient) -> None:
    from server.models import Asset

    museum = client.app.state.museum  # type: ignore[attr-defined]
    store = museum.store
    # /media serves a file only when its asset may be seen (server/media_access.py): public here.
    asset = Asset(
        id="asset1",
        sha256="0" * 64,
        size=2,
        filename="poster.txt",
        media_type="text/plain",
        kind="image",
        record_id="DL-ICH-01",
        published_version="v1",
    )
    museum.db.call(lambda session: session.add(asset), write=True)
    with store.publish("asset1", "v1") as folder:
        (folder / "poster.txt").write_text("ok")
    response = client.get("/media/asset1/v1/poster.txt")
    assert response.status_code == 200 and response.text == "ok"
    assert "immutable" in response.headers["cache-control"]
    ranged = client.get("/media/asset1/v1/poster.txt", headers={"range": "bytes=1-1"})
    assert ranged.status_code == 206 and ranged.text == "k"
