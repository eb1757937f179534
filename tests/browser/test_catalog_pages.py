"""Search, record and dashboard pages in a real browser."""

from __future__ import annotations

import pytest

from server.db import Database
from tests.staff import PASSWORD, add_user

pytestmark = pytest.mark.browser


def test_search_from_the_header_without_diacritics(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/?lang=vi")
    page.get_by_label("Tìm trong danh mục").fill("cong chieng")
    page.get_by_label("Tìm trong danh mục").press("Enter")
    page.wait_for_url("**/search?q=cong+chieng")
    assert (
        page.locator(".results .item-title").first.inner_text()
        == "Không gian văn hóa Cồng chiêng Tây Nguyên"
    )
    page.locator(".facets a", has_text="Di sản văn hóa phi vật thể").click()
    assert page.locator(".facets a.selected").count() == 1
    assert page.locator(".results .item").count() >= 1
    assert page.foreign_requests == []


def test_record_page_shows_its_qr_code(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/items/DL-REL-03?lang=en")
    assert page.locator("h1").inner_text() == "Yang Prong Cham Tower"
    qr = page.locator(".qr img")
    qr.scroll_into_view_if_needed()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", qr.element_handle())
    assert page.foreign_requests == []


def test_progress_dashboard_draws_its_chart(page, live_server: str, seeded_settings) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/admin/progress?lang=vi")
    # Staff only: the sign-in form first, then back to the dashboard.
    db = Database(seeded_settings.resolved_database_url)
    add_user(db, "bien-tap", "editor")
    db.dispose()
    page.fill("#login-username", "bien-tap")
    page.fill("#login-password", PASSWORD)
    page.locator("form.admin-form button[type=submit]").click()
    page.wait_for_url("**/admin/progress?lang=vi")
    assert page.locator("svg[role='img']").first.is_visible()
    assert "20 tháng 11" in page.locator("main").inner_text()
    assert page.foreign_requests == []
