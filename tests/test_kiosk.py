"""The kiosk app's page, its web app manifest and service worker, and its offline list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from server.exhibitions import save_exhibition
from server.kiosk_offline import hls_files, osd_tile_paths
from server.models import Asset
from tests.kiosk_fixtures import (
    EXHIBITION,
    EXHIBITION_JSON,
    GUIDE,
    IMAGE,
    INFO,
    MODEL,
    VIDEO,
    build,
    write_files,
)
from tests.kiosk_fixtures import V as VERSION

PAGE = f"/kiosk/{EXHIBITION}"


@pytest.fixture
def site(client: TestClient) -> TestClient:
    museum = client.app.state.museum  # type: ignore[attr-defined]
    museum.db.call(build, write=True)
    write_files(museum.store.derivatives)
    return client


def offline(client: TestClient, exhibition: str = EXHIBITION) -> dict[str, Any]:
    response = client.get(f"/kiosk/{exhibition}/offline.json")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-cache"
    data: dict[str, Any] = response.json()
    return data


def viewer_built(client: TestClient) -> bool:
    return "kiosk-sw.js" in client.app.state.museum.viewer_assets  # type: ignore[attr-defined]


# The page


def test_the_kiosk_page_is_an_app_in_both_languages_without_a_way_out(site: TestClient) -> None:
    response = site.get(PAGE, headers={"accept": "text/html"})
    assert response.status_code == 200
    page = response.text
    assert "site-header" not in page and "site-footer" not in page
    # No link to another page of the site (the only href in the page: stylesheets, the
    # manifest, and inside the viewers' templates the IIIF image the deep zoom opens).
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert hrefs and all(h.startswith(("/static/viewer/", "/iiif/3/", PAGE)) for h in hrefs), hrefs
    assert 'data-island="kiosk"' in page
    assert 'data-idle="90"' in page and 'data-heartbeat-seconds="60"' in page
    # Both languages: the titles, the stops' texts, the kiosk's own words.
    for text in ("Trưng bày thử", "Test display", "Bình gốm", "A jar", "Chọn ngôn ngữ"):
        assert text in page, text
    assert "Choose your language" in page
    assert "Tiếng Việt" in page and "English" in page
    assert page.count('class="kiosk-stop"') == 4
    # One media template per language for each stop with media; the guide's per language.
    assert page.count('class="kiosk-media-template"') == 6
    assert page.count('class="kiosk-guide-template"') == 2
    assert 'href="/kiosk/kiosk-test/manifest.webmanifest"' in page
    # No downloads, no record links, no credits linking out.
    assert "download" not in page.split('data-island="kiosk"', 1)[1].replace("data-", "")
    assert "/items/" not in page


def test_the_viewer_templates_offer_only_what_the_kiosk_keeps(site: TestClient) -> None:
    page = site.get(PAGE).text
    lods = re.findall(r'data-lods="([^"]+)"', page)
    assert lods and all("high.glb" not in value for value in lods)
    assert all("preview.glb" in value and "web.glb" in value for value in lods)
    assert f"/media/{VIDEO}/{VERSION}/master.m3u8" in page
    assert f"/media/{GUIDE}/{VERSION}/master.m3u8" in page
    assert f'data-info="/iiif/3/{IMAGE}/info.json"' in page
    # The viewers' strings come in each language: the English template speaks English.
    assert "Reset view" in page and "Đặt lại góc nhìn" in page


@pytest.mark.parametrize("suffix", ["", "/offline.json", "/sw.js", "/manifest.webmanifest"])
@pytest.mark.parametrize("exhibition", ["draft", "staff-only", "nope"])
def test_unpublished_hidden_and_unknown_exhibitions_have_no_kiosk(
    site: TestClient, exhibition: str, suffix: str
) -> None:
    response = site.get(f"/kiosk/{exhibition}{suffix}")
    assert response.status_code == 404
    assert response.json()["error"]["parameter"] == "exhibition_id"


def test_the_web_app_manifest_opens_the_kiosk(site: TestClient) -> None:
    response = site.get(f"{PAGE}/manifest.webmanifest")
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["start_url"] == manifest["scope"] == PAGE
    assert manifest["display"] == "standalone"
    assert manifest["name"] == "Trưng bày thử"


def test_the_service_worker_may_control_the_kiosk_page(site: TestClient) -> None:
    if not viewer_built(site):
        pytest.skip("viewer bundle not built: run make viewer")
    response = site.get(f"{PAGE}/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == PAGE
    assert response.headers["cache-control"] == "no-cache"
    assert "offline.json" in response.text
    assert "sourceMappingURL=/static/viewer/kiosk-sw-" in response.text


# The offline list


def test_the_offline_list_names_what_the_kiosk_shows(site: TestClient) -> None:
    data = offline(site)
    urls = set(data["urls"])
    assert data["exhibition_id"] == EXHIBITION and data["count"] == len(data["urls"])
    assert len(urls) == len(data["urls"]), "each address once"
    assert {PAGE, f"{PAGE}/manifest.webmanifest"} <= urls
    media = f"/media/{MODEL}/{VERSION}"
    # 3D: the poster and the levels up to the web level, smallest first; never "high".
    assert {f"{media}/{n}.glb" for n in ("preview", "thumb", "web")} <= urls
    assert f"{media}/high.glb" not in urls and f"{media}/poster.jpg" in urls
    assert f"/api/v1/media/{MODEL}/annotations" in urls
    # Deep zoom: thumbnails, info.json, the tiles of the levels up to 2048 px.
    image = f"/iiif/3/{IMAGE}"
    assert f"/media/{IMAGE}/{VERSION}/thumb-1200.jpg" in urls
    assert f"{image}/info.json" in urls
    tiles = sorted(u for u in urls if u.startswith(f"{image}/") and u.endswith("default.jpg"))
    assert len(tiles) == 1 + 2 + 6, tiles  # 375×250 in one; 750×500 in 2; 1500×1000 in 6
    assert f"{image}/full/375,250/0/default.jpg" in urls
    assert f"{image}/0,0,2048,2000/512,500/0/default.jpg" in urls
    assert f"{image}/2048,0,952,2000/238,500/0/default.jpg" in urls
    assert f"{image}/2048,1024,952,976/476,488/0/default.jpg" in urls


def test_the_offline_list_keeps_one_rendition_with_its_captions(site: TestClient) -> None:
    urls = set(offline(site)["urls"])
    video = f"/media/{VIDEO}/{VERSION}"
    for rung in ("360p", "audio"):
        assert f"{video}/{rung}/index.m3u8" in urls
        assert f"{video}/{rung}/init.mp4" in urls
        assert {f"{video}/{rung}/seg-{n}.m4s" for n in range(3)} <= urls
    assert not any("/720p/" in u for u in urls), "only the lowest rung"
    assert {f"{video}/master.m3u8", f"{video}/captions.vi.m3u8", f"{video}/captions.vi.vtt"} <= urls
    assert f"{video}/poster.jpg" in urls
    guide = f"/media/{GUIDE}/{VERSION}"
    assert {f"{guide}/master.m3u8", f"{guide}/audio/index.m3u8", f"{guide}/audio/seg-1.m4s"} <= urls


def test_the_offline_list_has_the_viewer_files_the_page_uses(site: TestClient) -> None:
    if not viewer_built(site):
        pytest.skip("viewer bundle not built: run make viewer")
    assets = site.app.state.museum.viewer_assets  # type: ignore[attr-defined]
    urls = offline(site)["urls"]
    for name in ("main.css", "kiosk.css", "kiosk.js", "model-viewer.js", "deep-zoom.js"):
        assert f"/static/viewer/{assets[name]}" in urls, name
    assert f"/static/viewer/{assets['av-player.js']}" in urls
    assert f"/static/viewer/{assets['room.js']}" not in urls
    fonts = [u for u in urls if u.endswith((".woff2", ".ttf"))]
    assert any("vietnamese" in u for u in fonts) and any(u.endswith(".ttf") for u in fonts)
    assert not any("cyrillic" in u or "greek" in u for u in fonts)


def test_the_version_follows_the_exhibition_and_its_media(site: TestClient) -> None:
    museum = site.app.state.museum  # type: ignore[attr-defined]
    first = offline(site)["version"]
    assert offline(site)["version"] == first, "the same content, the same version"
    assert f'data-version="{first}"' in site.get(PAGE).text

    def retitle(session: Session) -> None:
        save_exhibition(session, {**EXHIBITION_JSON, "title": {"vi": "Tên mới", "en": "New"}})

    museum.db.call(retitle, write=True)
    second = offline(site)["version"]
    assert second != first

    def republish(session: Session) -> None:
        asset = session.get(Asset, MODEL)
        assert asset is not None
        asset.published_version = "v2"

    museum.db.call(republish, write=True)
    third = offline(site)
    assert third["version"] != second
    assert f"/media/{MODEL}/v2/web.glb" in third["urls"]


# The pure parts


def test_tiles_are_the_ones_openseadragon_asks_for() -> None:
    # Sizes that are as many as the levels become OpenSeadragon's level sizes.
    small = {
        "width": 1000,
        "height": 700,
        "sizes": [{"width": 250, "height": 175}, {"width": 500, "height": 350}],
        "tiles": [{"width": 256, "height": 256, "scaleFactors": [1, 2, 4]}],
    }
    paths = osd_tile_paths(small)
    assert paths[0] == "full/250,175/0/default.jpg"  # level 0 fits one tile
    assert "0,0,512,512/256,256/0/default.jpg" in paths  # level 1: 500×350 in 2×2 tiles
    assert "512,512,488,188/244,94/0/default.jpg" in paths
    assert "768,512,232,188/232,188/0/default.jpg" in paths  # level 2: the full size
    assert len(paths) == 1 + 4 + 12
    # An image that fits one tile is asked for whole.
    one = {"width": 512, "height": 512, "scaleFactors": [1]}
    assert osd_tile_paths({"width": 200, "height": 100, "tiles": [one]}) == [
        "full/max/0/default.jpg"
    ]
    assert osd_tile_paths({**INFO, "tiles": []}) == []
    assert len(osd_tile_paths(INFO, max_side=750)) == 1 + 2
    assert len(osd_tile_paths(INFO, max_side=749)) == 1


def test_hls_files_stay_inside_the_version(tmp_path: Any) -> None:
    (tmp_path / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../elsewhere/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2\nhttp://example.org/x.m3u8\n",
        "utf-8",
    )
    assert hls_files(tmp_path, "master.m3u8") == ["master.m3u8"]
    assert hls_files(tmp_path, "missing.m3u8") == []
