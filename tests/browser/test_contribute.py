"""The public contribution form in a real browser: accessible in both languages, and sent
with its CSRF cookie the way a visitor sends it (server/contributions.py)."""

from __future__ import annotations

import pytest

from tests.browser.axe import axe_violations, describe

pytestmark = pytest.mark.browser

STORY = "Bà tôi kể rằng cồng chiêng của buôn được đánh suốt ba ngày trong lễ mừng nhà mới."


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("path", ["/contribute", "/items/DL-ICH-01/contribute"])
def test_the_form_has_no_serious_accessibility_violation(
    page, live_server: str, path: str, language: str
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}{path}?lang={language}")
    violations = axe_violations(page)
    assert violations == [], describe(violations)


def test_problems_are_announced_and_checked_by_axe(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/items/DL-ICH-01/contribute?lang=en")
    page.get_by_label("A story or memory").check()
    page.get_by_role("button", name="Send to the museum").click()
    assert page.get_by_role("alert").is_visible()
    assert page.locator("#name-error").inner_text().startswith("Your name is needed")
    assert page.locator("#contribute-name").get_attribute("aria-invalid") == "true"
    assert axe_violations(page) == []


def test_a_visitor_sends_a_story(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/items/DL-ICH-01/contribute?lang=en")
    page.get_by_label("A story or memory").check()
    page.get_by_label("Title").fill("Lễ mừng nhà mới")
    page.get_by_label("Your story, or what the photo or recording shows").fill(STORY)
    page.get_by_label("Your name (shown as the credit)").fill("Y Bhin Niê")
    page.get_by_label("CC BY 4.0").check()
    page.get_by_label("I made this or may share it", exact=False).check()
    page.get_by_role("button", name="Send to the museum").click()
    assert page.url.endswith("/contribute/thanks?item=DL-ICH-01")
    assert "after the museum's staff have reviewed it" in page.get_by_role("status").inner_text()
    item = page.goto(f"{live_server}/items/DL-ICH-01?lang=en")
    assert item is not None and STORY not in page.content()  # not before review
