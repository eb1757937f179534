"""Every refusal code a pipeline can give has a summary in Vietnamese and English."""

from __future__ import annotations

import re

import pytest

from processing.threed.bundle import LIMIT_CODES
from server.i18n import load_catalogs
from server.refusals import SUMMARIES, UNKNOWN, describe, summary
from tests.conftest import ROOT

RAISED = re.compile(r"(?:ModelError|ImageError|Failure|SandboxError|_envelope)\(\s*\"([a-z_]+)\"")


def codes_in_source() -> set[str]:
    """Codes written literally where processing raises, plus the limit codes."""
    found = set(LIMIT_CODES.values())
    for path in (ROOT / "processing").rglob("*.py"):
        found.update(RAISED.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_code_the_pipelines_raise_has_a_summary() -> None:
    codes = codes_in_source()
    # the scan works
    assert {"too_many_faces", "unsafe_reference", "memory", "malformed", "too_many_pixels"} <= codes
    assert sorted(codes - SUMMARIES.keys()) == []


@pytest.mark.parametrize("message", sorted({*SUMMARIES.values(), UNKNOWN}))
def test_every_summary_is_translated_into_vietnamese(message: str) -> None:
    vietnamese = load_catalogs()["vi"].gettext(message)
    assert vietnamese != message, f"no Vietnamese for {message!r}"


def test_describe_puts_the_summary_first_and_keeps_the_detail() -> None:
    vi = load_catalogs()["vi"].gettext
    line = describe("too_many_faces", "The STL has 9 faces; the limit is 5.", vi)
    assert line.startswith(vi(SUMMARIES["too_many_faces"]))
    assert "too_many_faces" in line and "The STL has 9 faces; the limit is 5." in line
    assert summary("no_such_code") == UNKNOWN
