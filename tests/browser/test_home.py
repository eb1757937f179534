"""The home page in a real browser, in both languages, with and without the viewer island."""

from __future__ import annotations

import pytest

from tests.browser.conftest import viewer_built
from tests.conftest import seed_rows

pytestmark = pytest.mark.browser


def test_home_lists_the_seed_items_in_vietnamese(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "vi"
    titles = page.locator("#catalog .item-title").all_inner_texts()
    assert len(titles) == 31
    assert set(titles) == {row["name_vi"] for row in seed_rows()}
    assert "Không gian văn hóa Cồng chiêng Tây Nguyên" in titles
    headings = page.locator("#catalog h2").all_inner_texts()
    assert [h.split(" (")[0] for h in headings] == [
        "Di sản văn hóa phi vật thể",
        "Di tích",
        "Hiện vật",
        "Di sản tư liệu",
    ]
    assert page.foreign_requests == []


def test_language_switch_to_english_persists(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    titles = page.locator("#catalog .item-title").all_inner_texts()
    assert set(titles) == {row["name_en"] for row in seed_rows()}
    assert "Space of Gong Culture in the Central Highlands" in titles
    page.goto(live_server + "/")  # no ?lang: the cookie keeps English
    assert page.locator("h1").inner_text() == "Heritage of Đắk Lắk"
    page.locator(".item-title", has_text="Space of Gong Culture").click()
    assert page.locator("h1").inner_text() == "Space of Gong Culture in the Central Highlands"
    assert page.foreign_requests == []


@pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built (run `make viewer`)")
def test_filter_finds_items_without_diacritics(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    search = page.get_by_label("Lọc danh mục")
    search.fill("cong chieng")
    visible = page.locator("#catalog .item:visible .item-title").all_inner_texts()
    assert "Không gian văn hóa Cồng chiêng Tây Nguyên" in visible
    assert 0 < len(visible) < 31
    search.fill("dak lak")
    assert page.locator("#catalog .item:visible").count() >= 1
    search.fill("zzzz không có")
    assert page.locator("#catalog .item:visible").count() == 0
    assert page.get_by_text("Không có mục nào phù hợp.").is_visible()
    search.press("Escape")
    assert page.locator("#catalog .item:visible").count() == 31
    # Styles and fonts come from this site only.
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Noto Sans"')
    assert page.foreign_requests == []
