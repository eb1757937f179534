"""axe-core, injected from the viewer's npm packages, run on a page in the real browser.

Issue 7 asks for no serious or critical WCAG 2.1 A/AA violation on any page type; a
failure names each rule with the elements it found, so the fix is obvious.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).resolve().parents[2] / "viewer" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical WCAG 2.1 AA violations axe finds on ``page`` as it is now."""
    if not AXE.is_file():
        pytest.skip(f"{AXE} missing: run make install (npm ci in viewer/)")
    # Through the DevTools protocol, which the page's Content-Security-Policy (script-src
    # 'self') rightly does not let an injected <script> pass.
    page.evaluate(f"() => {{ {AXE.read_text('utf-8')}\n }}")
    found = page.evaluate(
        """tags => axe.run(document, { runOnly: { type: 'tag', values: tags } })
                      .then(r => r.violations)""",
        WCAG_AA,
    )
    return [v for v in found if v.get("impact") in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation: rule, impact, and the first few elements it names."""
    lines = []
    for violation in violations:
        targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return "\n".join(lines)
