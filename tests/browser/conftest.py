"""Real-browser fixtures: a live server on loopback and Debian's chromium through Playwright.

Never a downloaded browser: Playwright drives /usr/bin/chromium. A failing
test leaves a screenshot in test-results/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.app import VIEWER_DIST, create_app
from server.settings import Settings
from tests.live import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(seeded_settings: Settings) -> Iterator[str]:
    with serving(create_app(seeded_settings)) as url:
        yield url


# Per module, not per session: Playwright's sync API runs an event loop in the main thread
# while it lives, and tests after the browser ones run their own (asyncio.run).
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest, live_server: str) -> Iterator[object]:
    context = browser.new_context(locale="vi-VN")  # type: ignore[attr-defined]
    page = context.new_page()
    foreign: list[str] = []
    page.on(
        "request", lambda req: None if req.url.startswith(live_server) else foreign.append(req.url)
    )
    page.foreign_requests = foreign
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        RESULTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def viewer_built() -> bool:
    return (VIEWER_DIST / "manifest.json").is_file()
