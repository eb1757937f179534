"""The demo museum as a visitor meets it: the seed catalog and the processed sample media.

`museum demo` loads six licence-clean sample files (assets/samples) into the "Sample media"
exhibition and processes them; this does the same (audio guides aside, tested elsewhere),
then opens every page type in Vietnamese and English in Debian's chromium: each answers in its
language with no script error and no serious or critical axe-core violation, the sample scan's
WebGL picture is not blank, and the sample video plays with its captions shown.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processing.av.probe import FFMPEG
from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.migrate import upgrade
from server.samples import load_samples
from server.settings import Settings
from tests.browser.axe import axe_violations, describe
from tests.browser.conftest import viewer_built
from tests.conftest import SEED_CATALOG
from tests.jobhelpers import drain, job_service
from tests.live import serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(FFMPEG).is_file(), reason="ffmpeg not found: apt install ffmpeg"),
    pytest.mark.skipif(
        shutil.which("tesseract") is None, reason="tesseract not found: apt install tesseract-ocr"
    ),
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
# Every page type, and what shows that its island (if any) has done its work.
PAGES = {
    "/": None,
    "/search?q=mau": None,
    "/items/SAMPLE-3D-01": ".model-viewer[data-state='ready']",
    "/items/SAMPLE-IMG-01": "[data-island='deep-zoom'][data-mounted]",
    "/items/SAMPLE-DOC-01": "[data-island='deep-zoom'][data-mounted]",
    "/items/SAMPLE-VID-01": ".av-player[data-mounted]",
    "/items/SAMPLE-AUD-01": ".av-player[data-mounted]",
    "/items/DL-ICH-01": None,
    "/exhibitions": None,
    "/exhibitions/sample-media": None,
    "/exhibitions/sample-media/room": None,
    "/map": None,
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("demo")
    data = work / "data"
    database = f"sqlite:///{data / 'museum.sqlite3'}"
    queue = f"sqlite:///{data / 'queue.sqlite3'}"
    settings = Settings(
        data_dir=data, database_url=database, queue_url=queue, job_retry_delay=0.0,
        audio_guides=False,
    )  # fmt: skip
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.dispose()
    service = job_service(work, database, queue, audio_guides=False)
    try:
        load_samples(service)
        drain(service, timeout=900)
    finally:
        service.db.dispose()
    with serving(create_app(settings)) as url:
        yield url


def _open(browser: Any, url: str, language: str) -> tuple[Any, list[str], list[str]]:
    context = browser.new_context(locale="vi-VN" if language == "vi" else "en-GB")
    page = context.new_page()
    errors: list[str] = []
    foreign: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda r: None if r.url.startswith(url) else foreign.append(r.url))
    return page, errors, foreign


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_type_in_both_languages(browser, demo: str, path: str, language: str) -> None:  # type: ignore[no-untyped-def]
    page, errors, foreign = _open(browser, demo, language)
    try:
        joiner = "&" if "?" in path else "?"
        response = page.goto(f"{demo}{path}{joiner}lang={language}")
        assert response is not None and response.status == 200
        assert page.get_attribute("html", "lang") == language
        if PAGES[path]:
            page.wait_for_selector(PAGES[path], timeout=60_000)
        page.wait_for_load_state("networkidle")
        assert errors == []
        violations = axe_violations(page)
        assert violations == [], describe(violations)
        assert foreign == []
    finally:
        page.context.close()


def test_the_sample_scan_is_drawn(browser, demo: str) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    page, errors, _ = _open(browser, demo, "vi")
    try:
        page.goto(f"{demo}/items/SAMPLE-3D-01?lang=vi")
        page.wait_for_selector(".model-viewer[data-state='ready']", timeout=60_000)
        shot = page.locator(".model-viewer canvas").screenshot()
        pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=np.float64)
        assert pixels.std() > 10, "the WebGL canvas is blank"
        assert errors == []
    finally:
        page.context.close()


def test_the_sample_video_plays_with_captions(browser, demo: str) -> None:  # type: ignore[no-untyped-def]
    page, errors, _ = _open(browser, demo, "vi")
    try:
        page.goto(f"{demo}/items/SAMPLE-VID-01?lang=vi")
        page.wait_for_selector(".av-player .av-captions select", timeout=60_000)
        page.evaluate(
            "() => { const v = document.querySelector('.av-player video');"
            " v.muted = true; return v.play(); }"
        )
        page.wait_for_function(
            """() => { const v = document.querySelector('.av-player video');
                       return v.currentTime > 1 && [...v.textTracks].some(
                         t => t.mode === 'showing' && t.activeCues?.length > 0); }""",
            timeout=60_000,
        )
        assert errors == []
    finally:
        page.context.close()


@pytest.mark.parametrize(("width", "height"), [(360, 740), (3840, 2160)])
def test_every_page_fits_a_phone_and_a_4k_screen(
    browser, demo: str, width: int, height: int
) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        too_wide = {}
        for path, ready in PAGES.items():
            joiner = "&" if "?" in path else "?"
            page.goto(f"{demo}{path}{joiner}lang=vi")
            if ready:
                page.wait_for_selector(ready, timeout=60_000)
            page.wait_for_load_state("networkidle")
            # Nothing sideways to scroll; the text column stays readable on a 4K screen.
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            if scroll > width:
                too_wide[path] = scroll
            main = page.locator("main").bounding_box()
            assert main is not None and main["width"] > 0.8 * min(width, 360), path
        assert too_wide == {}, f"pages wider than {width}px: {too_wide}"
    finally:
        context.close()
