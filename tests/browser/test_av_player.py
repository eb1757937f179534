"""A processed recording plays in Debian's chromium through the viewer bundle's hls.js.

The video goes the whole way a curator's would: ``museum ingest`` on a record, the queue
job that makes the HLS ladder, human captions in two languages (``server.captions``), then
the record page. The player must pass 3 s of playback, switch to every rung (the decoded
picture has the rung's size), list both caption tracks from the master playlist's
SUBTITLES group and show the chosen language's cue at the playing time.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from processing.av.probe import FFMPEG
from server.app import create_app
from server.captions import set_captions
from server.db import Database
from server.storage import Store
from tests.browser.conftest import viewer_built
from tests.conftest import CORPUS
from tests.live import serving
from tests.test_av_hls import make_clip
from tests.test_images_job import ingest_and_process

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(FFMPEG).is_file(), reason="ffmpeg not found: apt install ffmpeg"),
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
FLOWER = CORPUS / "av" / "mdn" / "flower.mp4"  # MDN shared assets, 960x540, 5 s
RECORD = "DL-ICH-01"
VI_CAPTIONS = """WEBVTT

00:00:00.000 --> 00:00:02.500
Bông hoa hé nở trong nắng sớm

00:00:02.500 --> 00:00:05.000
Cánh hoa mở rộng đón ánh mặt trời
"""
EN_CAPTIONS = """1
00:00:00,000 --> 00:00:02,500
A flower opens in the morning sun

2
00:00:02,500 --> 00:00:05,000
Its petals spread to meet the light
"""


@dataclass(frozen=True)
class Site:
    url: str
    heights: list[int]  # the rungs' picture heights, from the catalog


def _source(kind: str, folder: Path) -> Path:
    if kind == "corpus":
        if not FLOWER.is_file():
            pytest.skip(
                f"{FLOWER} not found: the corpus (../shared/corpus) is not beside the project"
            )
        return Path(shutil.copy(FLOWER, folder / "flower.mp4"))
    return make_clip(folder / "clip.mp4", size="960x540", seconds=5.0)


@pytest.fixture(scope="module", params=["generated", "corpus"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    work = tmp_path_factory.mktemp(f"av-{request.param}")
    settings, asset = ingest_and_process(work, _source(request.param, work), RECORD)
    assert asset.published_version is not None, asset.technical
    db = Database(settings.resolved_database_url)
    try:
        store = Store(settings.data_dir)
        set_captions(db, store, asset.id, "vi", VI_CAPTIONS.encode(), "hoa.vtt")
        set_captions(db, store, asset.id, "en", EN_CAPTIONS.encode(), "flower.srt")
    finally:
        db.dispose()
    heights = [r["height"] for r in asset.technical["renditions"] if "height" in r]
    with serving(create_app(settings)) as url:
        yield Site(url, heights)


@pytest.fixture
def player_page(browser: object, site: Site) -> Iterator[object]:
    context = browser.new_context(locale="vi-VN")  # type: ignore[attr-defined]
    page = context.new_page()
    foreign: list[str] = []
    page.on(
        "request", lambda req: None if req.url.startswith(site.url) else foreign.append(req.url)
    )
    page.goto(f"{site.url}/items/{RECORD}?lang=vi")
    page.wait_for_selector(".av-player .av-quality select")
    page.wait_for_selector(".av-player .av-captions select")
    yield page
    assert foreign == []
    context.close()


def _play_from_start(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate(
        """() => { const v = document.querySelector('.av-player video');
                   v.muted = true; v.currentTime = 0; return v.play(); }"""
    )


def test_playback_passes_three_seconds(player_page, site: Site) -> None:  # type: ignore[no-untyped-def]
    page = player_page
    _play_from_start(page)
    page.wait_for_function(
        "() => document.querySelector('.av-player video').currentTime > 3", timeout=30_000
    )
    assert page.evaluate("() => document.querySelector('.av-player video').error") is None


def test_every_rung_can_be_selected(player_page, site: Site) -> None:  # type: ignore[no-untyped-def]
    page = player_page
    select = page.locator(".av-quality select")
    labels = select.locator("option").all_inner_texts()
    assert labels == ["Tự động"] + [f"{h}p" for h in sorted(site.heights, reverse=True)]
    _play_from_start(page)
    for height in site.heights:
        select.select_option(label=f"{height}p")
        _play_from_start(page)
        # The decoded picture has the rung's height: hls.js fetched and played that rung.
        page.wait_for_function(
            """h => { const v = document.querySelector('.av-player video');
                      return v.videoHeight === h && v.currentTime > 0.5; }""",
            arg=height,
            timeout=30_000,
        )
    select.select_option(label="Tự động")
    assert page.evaluate("() => document.querySelector('.av-player').avPlayer.autoLevelEnabled")


def test_the_caption_tracks_are_listed_and_shown(player_page, site: Site) -> None:  # type: ignore[no-untyped-def]
    page = player_page
    select = page.locator(".av-captions select")
    assert select.locator("option").all_inner_texts() == ["Tắt", "Tiếng Việt", "English"]
    # The page is in Vietnamese: Vietnamese captions are on from the start.
    assert select.input_value() == "0"
    _play_from_start(page)
    shown = """text => [...document.querySelector('.av-player video').textTracks]
        .some(t => t.mode === 'showing' && t.activeCues && [...t.activeCues]
        .some(c => c.text === text))"""
    page.wait_for_function(shown, arg="Bông hoa hé nở trong nắng sớm", timeout=30_000)
    select.select_option(label="English")
    page.wait_for_function(
        "() => document.querySelector('.av-player video').currentTime > 2.6", timeout=30_000
    )
    page.wait_for_function(shown, arg="Its petals spread to meet the light", timeout=30_000)
    select.select_option(label="Tắt")
    page.wait_for_function(
        """() => ![...document.querySelector('.av-player video').textTracks]
                 .some(t => t.mode === 'showing')""",
        timeout=10_000,
    )
