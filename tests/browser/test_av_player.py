"""A processed recording plays in Debian's chromium through the viewer bundle's hls.js.

The video goes the whole way a curator's would: ``museum ingest`` on a record, the queue
job that makes the HLS ladder, human captions in two languages (``server.captions``), then
the record page. The player must pass 3 s of playback, switch to every rung (the decoded
picture has the rung's size), list both caption tracks from the master playlist's
SUBTITLES group and show the chosen language's cue at the playing time.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from processing.av.probe import FFMPEG
from server.app import create_app
from server.captions import set_captions
from server.db import Database
from server.guides import enqueue_guides
from server.storage import Store
from tests.browser.axe import axe_violations, describe
from tests.browser.conftest import viewer_built
from tests.conftest import CORPUS
from tests.jobhelpers import drain, job_service
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
AUDIO_RECORD = "DL-ICH-02"
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
    # An audio item (waveform) on another record, and the first record's audio guides.
    tone = work / "tone.flac"
    subprocess.run(
        [FFMPEG, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "sine=frequency=220:duration=6", "-af", "volume=0.5", str(tone)],
        check=True, timeout=60,
    )  # fmt: skip
    ingest_and_process(work, tone, AUDIO_RECORD)
    service = job_service(work, settings.resolved_database_url, settings.resolved_queue_url)
    try:
        enqueue_guides(service.db, service, [RECORD])
        drain(service, timeout=300)
    finally:
        service.db.dispose()
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


def test_the_transcript_follows_playback_and_seeks(player_page, site: Site) -> None:  # type: ignore[no-untyped-def]
    page = player_page
    lines = page.locator(".av-transcript li")
    # The page is in Vietnamese: the transcript is the Vietnamese captions.
    assert lines.locator(".cue-text").all_inner_texts() == [
        "Bông hoa hé nở trong nắng sớm",
        "Cánh hoa mở rộng đón ánh mặt trời",
    ]
    _play_from_start(page)
    page.wait_for_function(
        "() => document.querySelector('.av-transcript li:nth-child(2)')"
        ".getAttribute('aria-current') === 'true'",
        timeout=30_000,
    )
    assert lines.nth(0).get_attribute("aria-current") is None
    page.evaluate("() => document.querySelector('.av-player video').pause()")
    lines.nth(0).get_by_role("button").click()  # "0:00": plays from the first line
    page.wait_for_function(
        "() => document.querySelector('.av-transcript li:nth-child(1)')"
        ".getAttribute('aria-current') === 'true'",
        timeout=30_000,
    )
    assert page.evaluate("() => document.querySelector('.av-player video').currentTime") < 2.4


def test_an_audio_item_draws_its_waveform_and_seeks_from_it(browser, site: Site) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    try:
        page.goto(f"{site.url}/items/{AUDIO_RECORD}?lang=en")
        canvas = page.locator(".av-player .av-waveform")
        canvas.wait_for()
        # Something was drawn: the canvas is not one flat colour.
        colours = page.evaluate(
            """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      const seen = new Set();
                      for (let i = 0; i < d.length; i += 16) seen.add(d.slice(i, i + 4).join());
                      return seen.size; }""",
            canvas.element_handle(),
        )
        assert colours > 1
        page.evaluate("() => { document.querySelector('.av-player audio').muted = true; }")
        box = canvas.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
        page.wait_for_function(
            "() => document.querySelector('.av-player audio').currentTime > 4", timeout=30_000
        )
    finally:
        context.close()


def test_the_audio_guide_button_plays_the_guide_in_the_page_language(
    player_page, site: Site
) -> None:  # type: ignore[no-untyped-def]
    page = player_page
    button = page.locator(".audio-guide .av-guide-button")
    assert button.inner_text() == "Nghe thuyết minh"
    assert button.get_attribute("aria-pressed") == "false"
    page.evaluate("() => { document.querySelector('.audio-guide audio').muted = true; }")
    button.click()
    page.wait_for_function(
        "() => document.querySelector('.audio-guide audio').currentTime > 0.3", timeout=30_000
    )
    assert button.get_attribute("aria-pressed") == "true"
    assert button.inner_text() == "Tạm dừng thuyết minh"


@pytest.mark.parametrize("language", ["vi", "en"])
def test_record_pages_with_recordings_pass_axe(browser, site: Site, language: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    try:
        for record in (RECORD, AUDIO_RECORD):
            page.goto(f"{site.url}/items/{record}?lang={language}")
            page.wait_for_selector(".av-player[data-mounted]")
            page.wait_for_load_state("networkidle")
            violations = axe_violations(page)
            assert violations == [], f"{record}: {describe(violations)}"
    finally:
        context.close()
