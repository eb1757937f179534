"""``MUSEUM_ACCEL_REDIRECT`` (server/accel.py): after the app's access decision, a file of the
data directory is answered with an empty body and ``X-Accel-Redirect`` for nginx to send;
only plain paths under ``derivatives/`` and ``originals/`` are ever named. The settings
``MUSEUM_ACCEL_REDIRECT`` and ``MUSEUM_TRUSTED_PROXIES`` refuse unusable values."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.responses import FileResponse, Response
from starlette.testclient import TestClient

from server.accel import ACCEL_HEADER, accel_location, via_proxy
from server.app import create_app
from server.models import Asset
from server.settings import Settings, SettingsError
from server.storage import Store
from tests.media_fixtures import CC_BY, add_media, museum_of, set_record
from tests.staff import sign_in

PREFIX = "/_museum_files/"
IMMUTABLE = "public, max-age=31536000, immutable"
FILES = {
    "thumb.jpg": b"thumbnail",
    "720p/index.m3u8": b"#EXTM3U\n",
    "720p/seg-1.m4s": b"segment",
    "bản đồ.jpg": b"not a plain name",
}


@pytest.fixture
def accel_client(seeded_settings: Settings) -> Iterator[TestClient]:
    settings = dataclasses.replace(seeded_settings, accel_redirect=PREFIX)
    with TestClient(create_app(settings)) as client:
        yield client


# accel_location: which files may be named to nginx


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "data")
    store.ensure()
    folder = store.derivatives / "a1" / "v1"
    folder.mkdir(parents=True)
    (folder / "thumb.jpg").write_bytes(b"x")
    (store.root / "secret_key").write_text("secret")
    return store


def test_a_plain_derivative_is_named_under_the_prefix(store: Store) -> None:
    file = store.derivatives / "a1" / "v1" / "thumb.jpg"
    assert accel_location(PREFIX, store.root, file) == PREFIX + "derivatives/a1/v1/thumb.jpg"
    assert accel_location("", store.root, file) is None  # the setting is off


def test_nothing_outside_the_handed_over_folders_is_named(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x")
    assert accel_location(PREFIX, store.root, outside) is None
    assert accel_location(PREFIX, store.root, store.root / "secret_key") is None
    assert accel_location(PREFIX, store.root, store.root / "museum.sqlite3") is None
    climbing = store.derivatives / "a1" / "v1" / ".." / ".." / ".." / "secret_key"
    assert accel_location(PREFIX, store.root, climbing) is None
    assert accel_location(PREFIX, store.root, store.tmp / "upload.part") is None


def test_links_are_followed_before_deciding(store: Store, tmp_path: Path) -> None:
    folder = store.derivatives / "a1" / "v1"
    (folder / "key.jpg").symlink_to(store.root / "secret_key")
    (tmp_path / "outside.jpg").write_text("x")
    (folder / "out.jpg").symlink_to(tmp_path / "outside.jpg")
    assert accel_location(PREFIX, store.root, folder / "key.jpg") is None
    assert accel_location(PREFIX, store.root, folder / "out.jpg") is None


@pytest.mark.parametrize("name", [".hidden.jpg", "bản đồ.jpg", "a b.jpg", "x%2e.jpg", "q?.jpg"])
def test_names_nginx_would_unescape_are_not_named(store: Store, name: str) -> None:
    file = store.derivatives / "a1" / "v1" / name
    file.write_bytes(b"x")
    assert accel_location(PREFIX, store.root, file) is None


def test_only_whole_file_answers_are_handed_over(store: Store) -> None:
    settings = Settings(data_dir=store.root, accel_redirect=PREFIX)
    file = store.derivatives / "a1" / "v1" / "thumb.jpg"
    handed = via_proxy(
        FileResponse(file, headers={"cache-control": IMMUTABLE}), settings, store.root
    )
    assert handed.headers[ACCEL_HEADER] == PREFIX + "derivatives/a1/v1/thumb.jpg"
    assert handed.body == b"" and handed.headers["content-length"] == "0"
    assert handed.headers["cache-control"] == IMMUTABLE
    assert handed.headers["content-type"] == "image/jpeg"
    not_modified = Response(status_code=304)
    assert via_proxy(not_modified, settings, store.root) is not_modified
    page = Response(b"<p>")
    assert via_proxy(page, settings, store.root) is page


# /media and /originals with the setting on


def test_public_derivatives_are_handed_over_with_immutable_caching(
    accel_client: TestClient,
) -> None:
    asset_id = add_media(accel_client, files=FILES)
    for name in ("thumb.jpg", "720p/index.m3u8", "720p/seg-1.m4s"):
        response = accel_client.get(f"/media/{asset_id}/v1/{name}")
        assert response.status_code == 200, name
        assert response.content == b""
        assert response.headers[ACCEL_HEADER] == f"{PREFIX}derivatives/{asset_id}/v1/{name}"
        assert response.headers["cache-control"] == IMMUTABLE
    assert accel_client.get(f"/media/{asset_id}/v1/thumb.jpg").headers["content-type"] == (
        "image/jpeg"
    )
    # A name nginx would need unescaped is still sent, by the app itself.
    odd = accel_client.get(f"/media/{asset_id}/v1/bản đồ.jpg")
    assert odd.status_code == 200 and odd.content == b"not a plain name"
    assert ACCEL_HEADER not in odd.headers


def test_refused_and_missing_files_are_not_found_without_a_location(
    accel_client: TestClient,
) -> None:
    set_record(accel_client, "DL-ICH-05", access_level="restricted")
    restricted = add_media(accel_client, "DL-ICH-05", files=FILES)
    public = add_media(accel_client, files=FILES)
    for path in (
        f"/media/{restricted}/v1/thumb.jpg",
        f"/media/{public}/v1/missing.jpg",
        f"/media/{public}/v1/../../../secret_key",
        f"/media/{public}/v1/%2e%2e/%2e%2e/%2e%2e/secret_key",
    ):
        response = accel_client.get(path)
        assert response.status_code == 404, path
        assert ACCEL_HEADER not in response.headers, path


def test_staff_get_drafts_handed_over_privately(accel_client: TestClient) -> None:
    set_record(accel_client, "DL-ICH-03", status="draft")
    draft = add_media(accel_client, "DL-ICH-03", files=FILES)
    assert accel_client.get(f"/media/{draft}/v1/thumb.jpg").status_code == 404
    sign_in(accel_client, "bien_tap", "editor")
    response = accel_client.get(f"/media/{draft}/v1/thumb.jpg")
    assert response.status_code == 200 and response.content == b""
    assert response.headers[ACCEL_HEADER] == f"{PREFIX}derivatives/{draft}/v1/thumb.jpg"
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-robots-tag"] == "noindex"


def test_a_conditional_request_is_answered_by_the_app(accel_client: TestClient) -> None:
    asset_id = add_media(accel_client, files=FILES)
    url = f"/media/{asset_id}/v1/thumb.jpg"
    etag = accel_client.get(url).headers["etag"]
    again = accel_client.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304 and ACCEL_HEADER not in again.headers


def test_an_open_original_is_handed_over_with_its_download_headers(
    accel_client: TestClient,
) -> None:
    asset_id = add_media(accel_client, license=CC_BY, downloadable=True, filename="ảnh gốc.jpg")
    response = accel_client.get(f"/originals/{asset_id}")
    assert response.status_code == 200 and response.content == b""
    sha256 = museum_of(accel_client).db.call(lambda s: s.get(Asset, asset_id).sha256)
    expected = f"{PREFIX}originals/{sha256[:2]}/{sha256[2:4]}/{sha256}"
    assert response.headers[ACCEL_HEADER] == expected
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    closed = add_media(accel_client, downloadable=False)
    refused = accel_client.get(f"/originals/{closed}")
    assert refused.status_code == 403 and ACCEL_HEADER not in refused.headers


def test_without_the_setting_the_app_sends_the_bytes(client: TestClient) -> None:
    asset_id = add_media(client, files=FILES)
    response = client.get(f"/media/{asset_id}/v1/thumb.jpg")
    assert response.content == b"thumbnail" and ACCEL_HEADER not in response.headers


# The settings


@pytest.mark.parametrize("value", ["/_museum_files/", "/internal/files/", ""])
def test_accel_prefixes_that_work(value: str) -> None:
    assert Settings.from_env({"MUSEUM_ACCEL_REDIRECT": value}).accel_redirect == value


@pytest.mark.parametrize("value", ["_museum_files/", "/_museum_files", "/../x/", "/a b/", "//"])
def test_accel_prefixes_that_are_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="MUSEUM_ACCEL_REDIRECT"):
        Settings.from_env({"MUSEUM_ACCEL_REDIRECT": value})


def test_trusted_proxies() -> None:
    read = Settings.from_env
    assert read({}).trusted_proxies == ""
    value = " 127.0.0.1, 10.0.0.0/8 ,::1"
    assert read({"MUSEUM_TRUSTED_PROXIES": value}).trusted_proxies == "127.0.0.1,10.0.0.0/8,::1"
    for bad in ("localhost", "127.0.0.1;10.0.0.1", "300.1.1.1"):
        with pytest.raises(SettingsError, match="MUSEUM_TRUSTED_PROXIES"):
            read({"MUSEUM_TRUSTED_PROXIES": bad})


def test_serve_believes_forwarded_headers_only_from_the_trusted_proxies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``museum serve`` hands the setting to uvicorn (the nginx test checks the effect)."""
    import uvicorn
    from click.testing import CliRunner

    from server.cli import main

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    for name in [k for k in os.environ if k.startswith("MUSEUM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MUSEUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MUSEUM_MIN_FREE_DISK", "0")
    for proxies, expected in (("", False), ("127.0.0.1", True)):
        monkeypatch.setenv("MUSEUM_TRUSTED_PROXIES", proxies)
        result = CliRunner().invoke(main, ["serve"])
        assert result.exit_code == 0, result.output
        assert calls[-1]["proxy_headers"] is expected
    assert calls[-1]["forwarded_allow_ips"] == "127.0.0.1"
