from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from server.i18n import load_catalogs, localized, negotiate_language, nfc, parse_accept_language

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "server" / "locale" / "vi" / "LC_MESSAGES" / "messages.po"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7", ["vi-vn", "vi", "en-us", "en"]),
        ("en;q=0.5, vi", ["vi", "en"]),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr-ch", "fr", "en", "de", "*"]),
        ("en;q=0, vi;q=0.1", ["vi"]),
        ("en;q=abc, vi", ["vi"]),
        ("", []),
        (",,;", []),
        ("en;q=2", []),
    ],
)
def test_parse_accept_language(header: str, expected: list[str]) -> None:
    assert [r.tag for r in parse_accept_language(header)] == expected


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "vi"),
        (None, None, "en-GB,en;q=0.9", "en"),
        (None, None, "fr, en;q=0.5", "en"),
        (None, None, "fr, de", "vi"),
        (None, "en", "vi", "en"),
        ("vi", "en", "en", "vi"),
        ("xx", "en", None, "en"),
        ("EN", None, None, "en"),
        (None, "garbage", "en", "en"),
    ],
)
def test_negotiate_language(
    query: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert negotiate_language(query, cookie, accept, "vi") == expected


def _extracted_messages() -> set[str]:
    method_map = [("server/**.py", "python"), ("server/templates/**.html", "jinja2")]
    keywords = {"N_": None, "_": None, "gettext": None, "ngettext": (1, 2)}
    messages = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, keywords=keywords):
        messages.update(message if isinstance(message, tuple) else (message,))
    return messages


def test_every_message_has_a_vietnamese_translation() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    extracted = _extracted_messages()
    assert len(extracted) > 50
    missing = sorted(extracted - set(translated))
    assert missing == [], "run `make messages` and translate these"


def test_translations_keep_their_placeholders() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    for message in catalog:
        if message.id:
            assert sorted(re.findall(r"\{[^}]*\}", message.id)) == sorted(
                re.findall(r"\{[^}]*\}", message.string)
            ), message.id


def test_catalogs_translate_at_run_time() -> None:
    catalogs = load_catalogs()
    assert catalogs["vi"].gettext("Not yet digitized") == "Chưa số hóa"
    assert catalogs["en"].gettext("Not yet digitized") == "Not yet digitized"


def test_nfc_and_localized_fallback() -> None:
    decomposed = "Đa\u0306\u0301k La\u0306\u0301k"
    assert nfc(decomposed) == "Đắk Lắk"
    # Êđê ê̆ has no precomposed form: NFC keeps the combining breve.
    assert nfc("e\u0302\u0306") == "\u00ea\u0306"
    assert localized({"vi": "Cồng chiêng"}, "en") == "Cồng chiêng"
    assert localized({"vi": "Cồng chiêng", "en": "Gongs"}, "en") == "Gongs"
    assert localized({}, "en") == ""
