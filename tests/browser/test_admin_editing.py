"""The record editor and the exhibition editor in Debian's chromium, at tablet and phone
widths: no serious WCAG violation, every control at least 44 px high, fields stacked on a
phone, problems next to their fields, and stops reordered by buttons without any script."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.exhibitions import save_exhibition
from server.models import User
from server.settings import Settings
from tests.browser.axe import axe_violations, describe
from tests.browser.conftest import viewer_built
from tests.live import serving
from tests.staff import add_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}
MIN_TARGET = 44


@pytest.fixture
def app(seeded_settings: Settings) -> Starlette:
    application = create_app(seeded_settings)
    data = {
        "id": "gong-room",
        "title": {"vi": "Phòng cồng chiêng", "en": "Gong room"},
        "stops": [{"record_id": r} for r in ("DL-ICH-01", "DL-ART-01", "DL-REL-01")],
    }
    application.state.museum.db.call(lambda s: save_exhibition(s, data), write=True)
    return application


@pytest.fixture
def live_server(app: Starlette) -> Iterator[str]:
    with serving(app) as url:
        yield url


def sign_in_browser(page: Any, app: Starlette, live_server: str, role: str) -> None:
    db: Database = app.state.museum.db
    user_id = add_user(db, role, role)
    token, _ = db.call(lambda s: start_session(s, s.get(User, user_id), 3600), write=True)
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": live_server}])


def small_targets(page: Any, selector: str) -> list[str]:
    """Visible controls under ``selector`` lower than 44 px."""
    found: list[str] = page.evaluate(
        """([selector, least]) => Array.from(document.querySelectorAll(selector))
            .filter(el => el.offsetParent !== null)
            .filter(el => el.type !== 'hidden' && el.type !== 'checkbox')
            .filter(el => el.getBoundingClientRect().height < least)
            .map(el => el.outerHTML.slice(0, 80))""",
        [
            f"{selector} button, {selector} input, {selector} select, {selector} textarea",
            MIN_TARGET,
        ],
    )
    return found


def test_record_editor_fits_a_tablet_and_a_phone(
    page: Any, app: Starlette, live_server: str
) -> None:
    sign_in_browser(page, app, live_server, "curator")
    page.set_viewport_size(TABLET)
    page.goto(f"{live_server}/admin/records/DL-ART-01?lang=en")
    assert page.locator("h1").inner_text()
    assert small_targets(page, ".admin-main") == []
    violations = axe_violations(page)
    assert not violations, describe(violations)
    # Two columns on a tablet, one on a phone
    first = page.locator("#f-dimensions").bounding_box()
    second = page.locator("#f-dating").bounding_box()
    assert first["y"] == second["y"] and first["x"] < second["x"]
    page.set_viewport_size(PHONE)
    first = page.locator("#f-dimensions").bounding_box()
    second = page.locator("#f-dating").bounding_box()
    assert second["y"] > first["y"] and abs(first["x"] - second["x"]) < 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # A problem appears next to its field, with what was typed kept
    page.fill("#f-date-earliest", "năm 1900")
    page.click("#fields button[type=submit]")
    error = page.locator("#f-date-earliest-error")
    assert "whole number" in error.inner_text()
    assert page.input_value("#f-date-earliest") == "năm 1900"
    assert page.get_attribute("#f-date-earliest", "aria-invalid") == "true"
    assert page.foreign_requests == []


def test_stops_move_without_script(browser: Any, app: Starlette, live_server: str) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=TABLET)
    page = context.new_page()
    sign_in_browser(page, app, live_server, "editor")
    page.goto(f"{live_server}/admin/exhibitions/gong-room?lang=en")
    assert small_targets(page, "#stops") == []
    page.click("button[aria-label='Move down: Stop 1']")
    assert page.url.endswith("/admin/exhibitions/gong-room#stops")
    values = [page.input_value(f"#s{n}-record-id") for n in (1, 2, 3)]
    assert values == ["DL-ART-01", "DL-ICH-01", "DL-REL-01"]
    context.close()
