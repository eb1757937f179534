"""The museum kiosk in Debian's chromium (WebGL in software), with its service worker.

The exhibition holds a generated vase scan and a photograph, ingested and processed by the
queue's pipelines as in test_room.py, and a text panel. The kiosk must reset itself for the
next visitor after the idle time (language, search text, stop) and fall back to its attract
loop, whose model turns; and once it has saved the exhibition, it must still open its stops
and draw its 3D model with the server stopped, without a request leaving the machine.
"""

from __future__ import annotations

import io
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import uvicorn

from server.app import create_app
from server.audit import Actor
from server.db import Database
from server.exhibitions import save_exhibition
from server.kiosks import create_kiosk
from server.models import Kiosk
from server.settings import Settings
from tests.browser.axe import axe_violations, describe
from tests.browser.conftest import CHROMIUM, RESULTS, viewer_built
from tests.browser.test_room import LOAD_TIMEOUT, WEBGL_ARGS, vase
from tests.live import START_TIMEOUT, free_port
from tests.test_images_job import gradient, ingest_and_process

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
MODEL_RECORD, IMAGE_RECORD = "DL-ART-01", "DL-ICH-01"
KIOSK = "/kiosk/kiosk-test"
VIEWPORT = {"width": 1280, "height": 800}
HOST = "document.querySelector('[data-island=kiosk]')"
CACHE_TIMEOUT = 120_000


@dataclass(frozen=True)
class Media:
    settings: Settings


class LiveServer:
    """uvicorn on a loopback port, which a test may stop while its browser keeps going."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                pytest.fail("live server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", self.port)) != 0, "the server still answers"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    work = tmp_path_factory.mktemp("kiosk")
    settings, model = ingest_and_process(work, vase(work / "vase.ply"), MODEL_RECORD)
    settings, image = ingest_and_process(work, gradient(work / "gong.jpg"), IMAGE_RECORD)
    assert model.published_version and image.published_version
    exhibition = {
        "id": "kiosk-test",
        "title": {"vi": "Trưng bày thử", "en": "Test display"},
        "published": True,
        "stops": [
            {"record_id": MODEL_RECORD, "text": {"vi": "Một chiếc bình", "en": "A vase"}},
            {"record_id": IMAGE_RECORD, "asset_id": image.id},
            {"title": {"vi": "Lời kết", "en": "Closing words"}, "text": {"vi": "Kê̆č ƀlă"}},
        ],
    }
    db = Database(settings.resolved_database_url)
    try:
        db.call(lambda session: save_exhibition(session, exhibition), write=True)
    finally:
        db.dispose()
    return Media(settings)


@pytest.fixture
def server(media: Media) -> Iterator[LiveServer]:
    live = LiveServer(media.settings)
    live.start()
    yield live
    if live.thread.is_alive():
        live.stop()


@pytest.fixture(scope="module")
def webgl_browser(browser: Any) -> Iterator[Any]:
    launched = browser.browser_type.launch(executable_path=CHROMIUM, args=WEBGL_ARGS, headless=True)
    yield launched
    launched.close()


@contextmanager
def kiosk_context(
    browser: Any, server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A browser context that records its pages' errors and failed requests, and foreign
    requests (the service worker's included)."""
    context = browser.new_context(locale="vi-VN", viewport=VIEWPORT, has_touch=True)
    foreign: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(server.url) else foreign.append(r.url))
    context.errors, context.failed = [], []
    context.on("page", lambda p: p.on("pageerror", lambda e: context.errors.append(str(e))))
    # What the pages asked for and did not get (the service worker's own network attempts,
    # which it answers from its cache when they fail, are not the pages' failures).
    context.on("page", lambda p: p.on("requestfailed", lambda r: context.failed.append(r.url)))
    try:
        yield context
    except BaseException:
        RESULTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        for number, page in enumerate(context.pages):
            with suppress(Exception):  # a picture of the failure is a bonus
                page.screenshot(path=str(RESULTS / f"{name}-{number}.png"), timeout=5000)
        raise
    finally:
        context.close()
    assert foreign == [], "requests left 127.0.0.1"


def kiosk(page: Any, expression: str) -> Any:
    return page.evaluate(f"() => {{ const k = {HOST}.kiosk; return {expression}; }}")


def open_kiosk(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function(f"() => {HOST} && {HOST}.kiosk", timeout=LOAD_TIMEOUT)


def canvas_pixels(page: Any, selector: str) -> Any:
    from PIL import Image

    page.wait_for_timeout(300)
    shot = page.locator(selector).screenshot()
    return np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=np.float64)


def shows_the_model(page: Any) -> None:
    """The first stop's 3D viewer is ready and its canvas is not blank."""
    model = ".kiosk-stop:not([hidden]) .model-viewer"
    page.wait_for_selector(f"{model}[data-state='ready']", timeout=LOAD_TIMEOUT)
    pixels = canvas_pixels(page, f"{model} canvas")
    assert pixels.std() > 10, f"the WebGL canvas is blank (std {pixels.std():.1f})"


def test_the_kiosk_resets_for_the_next_visitor_and_attracts_the_next(
    webgl_browser: Any, server: LiveServer, request: pytest.FixtureRequest
) -> None:
    with kiosk_context(webgl_browser, server, request) as context:
        page = context.new_page()
        open_kiosk(page, f"{server.url}{KIOSK}?idle=6")
        assert kiosk(page, "k.state.screen") == "welcome"
        page.locator("[data-choose='en']").tap()
        assert kiosk(page, "[k.state.screen, k.state.lang]") == ["tour", "en"]
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator(".kiosk-counter").inner_text() == "Stop 1 of 3"
        assert page.locator(".kiosk-stage .model-viewer").count() == 1, "the stop's viewer"
        page.locator(".kiosk-next:visible").tap()
        assert kiosk(page, "k.state.index") == 1
        # Search with the on-screen keyboard: b, i, n, h, the grave tone, then Êđê's ƀ.
        page.locator(".kiosk-search-open:visible").tap()
        for letter in "binh":
            page.locator(f".kiosk-key[data-letter='{letter}']").tap()
        page.locator(".kiosk-tone[aria-label='grave (huyền)']").tap()
        assert page.locator("#kiosk-query").input_value() == "bình"
        assert page.locator(".kiosk-result").all_inner_texts() == [
            "1. Ancient gong sets (Dak Lak Museum collection)"
        ]
        page.locator(".kiosk-key[data-letter='ƀ']").tap()
        assert page.locator("#kiosk-query").input_value() == "bìnhƀ"
        assert "No stop matches" in page.locator(".kiosk-results-status").inner_text()
        # Nobody touches it: back to a fresh kiosk and the attract loop.
        page.wait_for_function(f"() => {HOST}.kiosk.state.screen === 'attract'", timeout=15_000)
        assert kiosk(page, "[k.state.lang, k.state.index, k.state.query, k.state.searchOpen]") == [
            "vi",
            0,
            "",
            False,
        ]
        assert page.locator("#kiosk-query").input_value() == ""
        assert page.locator(".kiosk-search").is_hidden()
        assert page.evaluate("document.body.dataset.lang") == "vi"
        assert page.locator(".kiosk-stage .kiosk-media").count() == 0, "the stop's media stopped"
        # The featured model turns slowly.
        attract = "document.querySelector('.kiosk-attract-stage .model-viewer')"
        spinning = f"() => {attract}?.dataset.spinning === 'true'"
        page.wait_for_function(spinning, timeout=LOAD_TIMEOUT)
        turned = f"{attract}.modelViewer.controls.getAzimuthalAngle()"
        before = page.evaluate(f"() => {turned}")
        page.wait_for_timeout(1500)
        assert page.evaluate(f"() => {turned}") != before
        # A touch anywhere: the language screen, in the default language.
        page.locator(".kiosk-attract").tap()
        assert kiosk(page, "k.state.screen") == "welcome"
        page.locator("[data-choose='vi']").tap()
        assert page.locator(".kiosk-counter").inner_text() == "Điểm 1/3"
        assert context.errors == []


def test_the_saved_exhibition_works_with_the_server_stopped(
    webgl_browser: Any, server: LiveServer, media: Media, request: pytest.FixtureRequest
) -> None:
    db = Database(media.settings.resolved_database_url)
    try:
        token = db.call(
            lambda s: create_kiosk(s, "hall-1", "", "kiosk-test", Actor(None, "test")), write=True
        )
        with kiosk_context(webgl_browser, server, request) as context:
            page = context.new_page()
            open_kiosk(page, f"{server.url}{KIOSK}?kiosk=hall-1&token={token}")
            assert page.url == f"{server.url}{KIOSK}", "the token leaves the address bar"
            saved = page.evaluate("() => JSON.parse(localStorage.getItem('museum-kiosk'))")
            assert saved == {"id": "hall-1", "token": token}
            page.wait_for_function(
                f"() => {HOST}.dataset.cache === 'complete'", timeout=CACHE_TIMEOUT
            )
            row = db.call(lambda s: s.get(Kiosk, "hall-1"))
            assert row is not None and row.last_seen is not None, "the first heartbeat arrived"
            version = page.evaluate(f"() => {HOST}.dataset.version")
            assert page.evaluate(f"() => {HOST}.dataset.cacheVersion") == version

            server.stop()
            context.failed.clear()
            offline = context.new_page()  # the kiosk's browser restarts its page
            open_kiosk(offline, f"{server.url}{KIOSK}")
            offline.locator("[data-choose='vi']").tap()
            shows_the_model(offline)
            offline.locator(".kiosk-next:visible").tap()
            deep_zoom = ".kiosk-stop:not([hidden]) .deep-zoom"
            offline.wait_for_function(
                f'() => document.querySelector("{deep_zoom}")?.deepZoom?.viewer?.world'
                ".getItemAt(0)?.getFullyLoaded()",
                timeout=LOAD_TIMEOUT,
            )
            assert offline.locator(f"{deep_zoom} .dz-fallback").is_hidden()
            offline.locator(".kiosk-next:visible").tap()
            assert "Kê̆č ƀlă" in offline.locator(".kiosk-stop:not([hidden])").inner_text()
            offline.wait_for_function(f"() => {HOST}.kiosk.sync.online === false", timeout=90_000)
            assert "Mất kết nối" in offline.locator(".kiosk-status").inner_text()
            failed = [u for u in context.failed if not u.endswith("/kiosk/heartbeat")]
            assert failed == [], "every address the kiosk needed was saved"
            assert context.errors == []
    finally:
        db.dispose()


def test_no_serious_accessibility_violation(
    webgl_browser: Any, server: LiveServer, request: pytest.FixtureRequest
) -> None:
    with kiosk_context(webgl_browser, server, request) as context:
        page = context.new_page()
        open_kiosk(page, f"{server.url}{KIOSK}")
        violations = axe_violations(page)
        assert violations == [], f"language screen: {describe(violations)}"
        page.locator("[data-choose='en']").tap()
        shows_the_model(page)
        violations = axe_violations(page)
        assert violations == [], f"a stop: {describe(violations)}"
        page.locator(".kiosk-search-open:visible").tap()
        violations = axe_violations(page)
        assert violations == [], f"the search: {describe(violations)}"
