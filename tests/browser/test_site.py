"""The site in Debian's chromium: instant search, the map and the copy-citation button.

Every page is served from 127.0.0.1 and no request may leave it: the map draws the
province outline the museum serves itself, with no tile layer by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from server.app import create_app
from server.db import Database
from server.models import Place, RecordPlace
from server.settings import Settings
from tests.api_fixtures import add_fixtures
from tests.browser.axe import axe_violations, describe
from tests.browser.conftest import viewer_built
from tests.live import serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
GONGS = "Không gian văn hóa Cồng chiêng Tây Nguyên"
DEBOUNCE_MS = 250  # a little more than search-suggest.js waits after the last keystroke


def _places(session) -> None:  # type: ignore[no-untyped-def]
    session.add(Place(id="ea-rok", name={"vi": "Xã Ea Rốk"}, latitude=13.13, longitude=107.77))
    session.add(RecordPlace(record_id="DL-REL-03", place_id="ea-rok"))
    session.add(Place(id="tuy-an", name={"vi": "Tuy An"}, latitude=13.27, longitude=109.28))
    session.add(RecordPlace(record_id="DL-ICH-09", place_id="tuy-an", role="practiced_in"))
    session.add(Place(id="lak", name={"vi": "Lắk"}))
    session.add(RecordPlace(record_id="DL-ICH-04", place_id="lak", role="practiced_in"))


@pytest.fixture
def live_server(seeded_settings: Settings) -> Iterator[str]:
    """The seed catalog, the API fixtures and three more places (two with coordinates)."""
    db = Database(seeded_settings.resolved_database_url)
    add_fixtures(db)
    db.call(_places, write=True)
    db.dispose()
    with serving(create_app(seeded_settings)) as url:
        yield url


def _watch_requests(page, live_server: str) -> list[str]:  # type: ignore[no-untyped-def]
    foreign: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(live_server) else foreign.append(r.url))
    return foreign


def test_instant_results_while_typing_without_diacritics(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    searches: list[str] = []
    page.on("request", lambda r: searches.append(r.url) if "/api/v1/search" in r.url else None)
    page.clock.install()  # the page's timers run only when the test says so
    page.goto(live_server + "/search")
    page.locator(".search-suggest[data-mounted]").wait_for(state="attached")
    field = page.get_by_label("Nội dung tìm kiếm")
    assert field.get_attribute("role") == "combobox"
    field.press_sequentially("cong chieng")
    assert searches == []  # no request while the visitor is still typing
    page.clock.run_for(DEBOUNCE_MS)
    option = page.get_by_role("option", name=re.compile("Cồng chiêng Tây Nguyên"))
    option.wait_for()
    assert len(searches) == 1 and "q=cong+chieng" in searches[0]  # one, for the whole text
    assert field.get_attribute("aria-expanded") == "true"
    assert page.locator(".suggest-status").inner_text() == "1 mục khớp với “cong chieng”."
    field.press("ArrowDown")
    assert field.get_attribute("aria-activedescendant") == option.get_attribute("id")
    assert option.get_attribute("aria-selected") == "true"
    field.press("Enter")
    page.wait_for_url("**/items/DL-ICH-01")
    assert page.locator("h1").inner_text() == GONGS
    assert page.foreign_requests == []


def test_typing_with_diacritics_and_escape(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/search")
    page.locator(".search-suggest[data-mounted]").wait_for(state="attached")
    field = page.get_by_label("Nội dung tìm kiếm")
    field.fill("chiêng")
    options = page.get_by_role("option")
    options.first.wait_for()
    titles = options.locator(".suggestion-title").all_inner_texts()
    assert GONGS in titles and "Bộ chiêng cổ (sưu tập Bảo tàng Đắk Lắk)" in titles
    field.press("Escape")
    assert page.get_by_role("listbox").is_hidden()
    assert field.get_attribute("aria-expanded") == "false"
    field.fill("zzzz không có")
    page.locator(".suggest-status", has_text="Không có mục nào khớp").wait_for()
    field.press("Enter")  # no result chosen: the form submits as without script
    page.wait_for_url("**/search?q=zzzz*")
    assert "0 kết quả" in page.locator("p.lead").inner_text()


def test_search_form_works_without_script(browser, live_server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="vi-VN", java_script_enabled=False)
    page = context.new_page()
    foreign = _watch_requests(page, live_server)
    page.goto(live_server + "/search")
    page.get_by_label("Nội dung tìm kiếm").fill("cong chieng")
    page.get_by_label("Nội dung tìm kiếm").press("Enter")
    page.wait_for_url("**/search?q=cong+chieng")
    assert GONGS in page.locator(".results .item-title").all_inner_texts()
    assert foreign == []
    context.close()


def test_map_draws_the_outline_and_keyboard_markers(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/map")
    host = page.locator(".heritage-map")
    # Functions given as text are refused by the page's CSP (no eval): wait on elements.
    page.locator(".heritage-map[data-outline-loaded]").wait_for(state="attached")
    outline = page.locator(".leaflet-overlay-pane svg path")
    assert outline.count() == 1
    box = outline.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 150  # the province fills the map
    markers = page.locator(".leaflet-marker-icon")
    assert host.get_attribute("data-markers") == "3"
    assert sorted(m.get_attribute("alt") for m in markers.all()) == [
        "Buôn Ma Thuột — Di tích",
        "Tuy An — Cộng đồng",
        "Xã Ea Rốk — Di tích",
    ]
    # Every marker is a keyboard button inside the outline's frame.
    for marker in markers.all():
        assert marker.get_attribute("tabindex") == "0" and marker.get_attribute("role") == "button"
        spot = marker.bounding_box()
        assert spot and box["x"] - 20 < spot["x"] < box["x"] + box["width"] + 20
    marker = page.get_by_role("button", name="Buôn Ma Thuột — Di tích")
    marker.focus()
    marker.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    link = popup.get_by_role("link", name="Nhà đày Buôn Ma Thuột")
    assert link.is_visible()
    popup.locator("a:focus").wait_for()  # the popup's first link has the focus
    page.keyboard.press("Escape")
    popup.wait_for(state="detached")
    assert page.evaluate("document.activeElement.getAttribute('alt')") == "Buôn Ma Thuột — Di tích"
    # The list is the alternative: each entry can show its place on the map.
    page.locator('[data-place="tuy-an"]').get_by_role("button", name="Xem trên bản đồ").click()
    assert "Lễ hội cầu ngư Phú Yên" in page.locator(".leaflet-popup-content").inner_text()
    assert "Lắk" in page.locator(".map-unlocated").inner_text()
    assert page.locator(".leaflet-tile").count() == 0  # no tile layer by default
    assert page.foreign_requests == []


def test_record_page_map_and_copy_citation(browser, live_server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="vi-VN", permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    foreign = _watch_requests(page, live_server)
    page.goto(live_server + "/items/DL-REL-01")
    page.locator(".heritage-map[data-outline-loaded]").wait_for(state="attached")
    assert page.locator(".record-places .leaflet-marker-icon").count() == 1
    citation = page.locator("#citation-text").inner_text()
    assert citation.startswith("“Nhà đày Buôn Ma Thuột”. Bảo tàng Di sản số Đắk Lắk, DL-REL-01.")
    page.get_by_role("button", name="Sao chép trích dẫn").click()
    status = page.locator(".copy-status")
    status.filter(has_text="Đã sao chép trích dẫn.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == citation
    assert foreign == []
    context.close()


@pytest.mark.parametrize("path", ["/", "/map", "/items/DL-REL-01", "/search?q=chieng"])
def test_pages_pass_axe(page, live_server: str, path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + path)
    if path.startswith("/search"):  # with the instant results open and one chosen
        page.locator(".search-suggest[data-mounted]").wait_for(state="attached")
        field = page.get_by_label("Nội dung tìm kiếm")
        field.fill("cong chieng")
        page.get_by_role("option").first.wait_for()
        field.press("ArrowDown")
    if "heritage-map" in page.content():
        page.locator(".heritage-map[data-outline-loaded]").wait_for(state="attached")
    violations = axe_violations(page)
    assert violations == [], describe(violations)
