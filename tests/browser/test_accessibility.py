"""axe-core on the catalog's page types, in both languages: no serious or critical WCAG 2.1
AA violation. Pages with recordings are checked in test_av_player.py, which has them."""

from __future__ import annotations

import pytest

from tests.browser.axe import axe_violations, describe

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/search",
    "/search?q=cong+chieng",
    "/items/DL-REL-03",
    "/items/DL-ICH-01",
]


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violation(
    page, live_server: str, path: str, language: str
) -> None:  # type: ignore[no-untyped-def]
    joiner = "&" if "?" in path else "?"
    page.goto(f"{live_server}{path}{joiner}lang={language}")
    page.wait_for_load_state("networkidle")
    violations = axe_violations(page)
    assert violations == [], describe(violations)


def test_the_checker_finds_what_it_must(page) -> None:  # type: ignore[no-untyped-def]
    page.set_content(
        '<html><body><img src="x.png"><p style="color:#bbb;background:#fff">faint</p>'
        "<button></button></body></html>"
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"image-alt", "button-name"} <= found
