"""A field trip in Debian's chromium: one teacher and two pupils, each in its own browser
context (as on three devices). The teacher starts the trip from the page, moves to stop 2
and both pupils' pages show it; asks a multiple-choice question, a pupil answers, and the
teacher sees the count. Nothing is fetched from another host; no serious axe violation.
And on a stop with a deep-zoom photograph, the pupil's view follows the teacher's zoom."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from server.auth import SESSION_COOKIE
from server.db import Database
from server.settings import Settings
from tests.browser.axe import axe_violations, describe
from tests.browser.conftest import RESULTS, viewer_built
from tests.live import serving
from tests.trip_helpers import (
    EXHIBITION,
    EXHIBITION_ID,
    STOPS,
    add_exhibition,
    session_for,
    start_trip,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
TIMEOUT = 15_000  # ms


@pytest.fixture
def site(seeded_settings: Settings) -> Iterator[tuple[str, str]]:
    """The live museum with the test exhibition, and a teacher's session cookie."""
    db = Database(seeded_settings.resolved_database_url)
    add_exhibition(db)
    cookie, _ = session_for(db, "co-giao-lan")
    db.dispose()
    with serving(create_app(seeded_settings)) as url:
        yield url, cookie


class Device:
    """One browser context and page, recording foreign requests and script errors."""

    def __init__(self, browser: Any, base: str, locale: str = "vi-VN") -> None:
        self.context = browser.new_context(locale=locale, viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.page.on(
            "request",
            lambda r: (
                None if r.url.startswith((base, "ws://127.0.0.1")) else self.foreign.append(r.url)
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "response",
            lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        # Failed page resources are caught above by URL; the browser's own favicon request
        # (not a page request) shows up only as a console line, which is left out here.
        self.page.on("console", self.console)

    def console(self, message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)


@pytest.fixture
def devices(
    browser: Any, site: tuple[str, str], request: pytest.FixtureRequest
) -> Iterator[list[Device]]:
    base, _ = site
    made = [Device(browser, base), Device(browser, base), Device(browser, base, "en-GB")]
    yield made
    report = getattr(request.node, "rep_call", None)
    for number, device in enumerate(made):
        if report is not None and report.failed:
            RESULTS.mkdir(exist_ok=True)
            device.page.screenshot(path=str(RESULTS / f"test_trip-{number}.png"), full_page=True)
        device.context.close()


def stage_stop(page: Any) -> str | None:
    value: str | None = page.locator("[data-trip-stage] [data-stop]").get_attribute("data-stop")
    return value


def test_a_teacher_leads_two_pupils(site: tuple[str, str], devices: list[Device]) -> None:
    base, cookie = site
    teacher, first, second = devices
    teacher.context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": base}])

    # The teacher starts the trip from the page and lands on the console.
    teacher.page.goto(f"{base}/trips/new?exhibition={EXHIBITION_ID}")
    teacher.page.get_by_role("button", name="Bắt đầu chuyến tham quan").click()
    teacher.page.wait_for_url(f"{base}/trips/*/lead")
    code = teacher.page.locator(".trip-code").inner_text().strip()
    console = teacher.page.locator(".trip-teacher")
    teacher.page.wait_for_function(
        "document.querySelector('[data-trip-status]').textContent.startsWith('Đang trực tiếp')",
        timeout=TIMEOUT,
    )
    assert console.locator("svg").count() == 1  # the QR code of the join address

    # Two pupils join: one through the join form, one straight from the QR code's address.
    first.page.goto(f"{base}/trips/join")
    first.page.get_by_label("Mã chuyến tham quan").fill(code.lower())
    first.page.get_by_label("Biệt danh của em").fill("H'Hen Niê")
    first.page.get_by_role("button", name="Tham gia").click()
    second.page.goto(f"{base}/trips/{code}")
    second.page.get_by_label("Your nickname").fill("Y Blin")
    second.page.get_by_role("button", name="Join").click()
    for pupil in (first, second):
        pupil.page.locator("[data-trip-you]").wait_for(state="visible", timeout=TIMEOUT)
        assert stage_stop(pupil.page) == "0"
    assert "nickname" not in first.page.url  # taken out of the address bar
    teacher.page.wait_for_function(
        "document.querySelectorAll('[data-trip-people] li').length === 2", timeout=TIMEOUT
    )

    # The teacher moves to stop 2: both pupils show it.
    teacher.page.get_by_role("button", name="Điểm tiếp theo").click()
    assert stage_stop(teacher.page) == "1"
    for pupil in (first, second):
        pupil.page.wait_for_function(
            "document.querySelector('[data-trip-stage] [data-stop]').dataset.stop === '1'",
            timeout=TIMEOUT,
        )
    assert "DL-ICH-01" not in first.page.locator("[data-trip-stage]").inner_text()
    assert first.page.locator("#trip-stop-title").inner_text().startswith(f"Điểm 2/{STOPS}")

    # A multiple-choice question: a pupil answers, the teacher sees the count.
    teacher.page.get_by_label("Câu hỏi", exact=True).fill("Chiêng làm bằng gì?")
    teacher.page.get_by_label("Phương án 1").fill("Đồng")
    teacher.page.get_by_label("Phương án 2").fill("Gỗ")
    teacher.page.get_by_role("button", name="Đặt câu hỏi").click()
    dialog = first.page.locator("dialog[data-trip-question]")
    dialog.wait_for(state="visible", timeout=TIMEOUT)
    assert "Chiêng làm bằng gì?" in dialog.inner_text()
    dialog.get_by_label("Đồng").check()
    dialog.get_by_role("button", name="Gửi câu trả lời").click()
    dialog.wait_for(state="hidden", timeout=TIMEOUT)
    bars = teacher.page.locator(".trip-bars li")
    teacher.page.wait_for_function(
        "document.querySelector('.trip-bars li')?.dataset.count === '1'", timeout=TIMEOUT
    )
    assert bars.nth(0).inner_text().startswith("Đồng: 1")
    assert bars.nth(1).get_attribute("data-count") == "0"
    second.page.locator("dialog[data-trip-question]").wait_for(state="visible", timeout=TIMEOUT)
    second.page.get_by_role("button", name="Later").click()

    # Accessible, and nothing from another host, on every device.
    for device in devices:
        violations = axe_violations(device.page)
        assert violations == [], describe(violations)
        assert device.foreign == []
        assert device.errors == [], device.errors

    # The teacher ends the trip: the pupils are told, the console shows the summary.
    teacher.page.on("dialog", lambda d: d.accept())
    teacher.page.get_by_role("button", name="Kết thúc chuyến tham quan").click()
    teacher.page.wait_for_url(f"{base}/trips/{code}/lead")
    assert "Tải bản tổng kết (CSV)" in teacher.page.locator("main").inner_text()
    first.page.wait_for_function(
        "document.querySelector('.trip-pupil').dataset.tripState === 'ended'", timeout=TIMEOUT
    )
    assert "đã kết thúc" in first.page.locator("[data-trip-status]").inner_text()


@pytest.fixture
def image_site(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A live museum whose trip exhibition has a deep-zoom photograph at its second stop."""
    from tests.test_images_job import gradient, ingest_and_process

    settings, image = ingest_and_process(tmp_path, gradient(tmp_path / "gong.jpg"), "DL-ICH-01")
    assert image.published_version
    db = Database(settings.resolved_database_url)
    stops = [
        {"title": {"vi": "Mở đầu"}},
        {"record_id": "DL-ICH-01", "asset_id": image.id},
        {"title": {"vi": "Kết"}},
    ]
    add_exhibition(db, {**EXHIBITION, "stops": stops})
    cookie, csrf = session_for(db, "co-giao-lan")
    db.dispose()
    with serving(create_app(settings)) as url:
        yield url, start_trip(url, cookie, csrf) + ":" + cookie


ZOOM = "document.querySelector('[data-trip-stage] .deep-zoom')?.deepZoom"
SHOWN = f"""() => {{
  const zoom = {ZOOM};
  const item = zoom?.viewer.world.getItemAt(0);
  if (!item) return null;
  const box = item.viewportToImageRectangle(zoom.viewer.viewport.getBounds(true));
  return {{ x: box.x + box.width / 2, y: box.y + box.height / 2, w: box.width, h: box.height }};
}}"""


def test_the_pupils_image_follows_the_teachers_zoom(
    browser: Any, image_site: tuple[str, str]
) -> None:
    base, secret = image_site
    code, cookie = secret.split(":", 1)
    teacher, pupil = Device(browser, base), Device(browser, base)
    try:
        teacher.context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": base}])
        teacher.page.goto(f"{base}/trips/{code}/lead")
        pupil.page.goto(f"{base}/trips/{code}?nickname=An")
        pupil.page.locator("[data-trip-you]").wait_for(state="visible", timeout=TIMEOUT)
        teacher.page.get_by_role("button", name="Điểm tiếp theo").click()
        for device in (teacher, pupil):
            device.page.wait_for_function(f"() => ({SHOWN})() !== null", timeout=TIMEOUT)
        # The teacher zooms into a detail (image pixels 300–700 × 200–500 of 1500 × 1000).
        teacher.page.evaluate(
            f"""() => {{
              const zoom = {ZOOM};
              const item = zoom.viewer.world.getItemAt(0);
              const detail = item.imageToViewportRectangle(300, 200, 400, 300);
              zoom.viewer.viewport.fitBounds(detail, true);  // at once: no animation to wait out
            }}"""
        )
        teacher.page.wait_for_function(f"() => ({SHOWN})().w < 800", timeout=TIMEOUT)
        wanted = teacher.page.evaluate(SHOWN)
        pupil.page.wait_for_function(
            # The same centre; the teacher's region fills the pupil's frame in one direction
            # (the frames' shapes differ: the console has a side panel).
            f"""(wanted) => {{
              const shown = ({SHOWN})();
              const near = (a, b) => Math.abs(a - b) < 0.1 * b;
              return shown && Math.abs(shown.x - wanted.x) < 30 && Math.abs(shown.y - wanted.y) < 30
                && shown.w > 0.9 * wanted.w && shown.h > 0.9 * wanted.h
                && (near(shown.w, wanted.w) || near(shown.h, wanted.h));
            }}""",
            arg=wanted,
            timeout=TIMEOUT,
        )
        assert 450 < wanted["x"] < 550 and 300 < wanted["y"] < 400
        assert pupil.foreign == [] and pupil.errors == [] and teacher.errors == []
    finally:
        teacher.context.close()
        pupil.context.close()
