"""Interface languages: gettext catalogs (Babel) and language negotiation.

Message ids are English; ``locale/vi/LC_MESSAGES/messages.po`` holds the
Vietnamese translations. The ``.po`` files are compiled in memory at start-up,
so there is no build step and no binary file in the repository.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from gettext import NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from server.settings import LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
COOKIE_NAME = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def load_catalogs(locale_dir: Path = LOCALE_DIR) -> dict[str, NullTranslations]:
    """One translations object per interface language; English needs none."""
    catalogs: dict[str, NullTranslations] = {"en": NullTranslations()}
    for lang in LANGUAGES:
        if lang == "en":
            continue
        po_path = locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        catalogs[lang] = Translations(fp=buffer, domain=DOMAIN)
    return catalogs


@dataclass(frozen=True)
class LanguageRange:
    tag: str
    quality: float


def parse_accept_language(header: str) -> list[LanguageRange]:
    """Parse ``Accept-Language`` (RFC 9110 §12.5.4) into ranges, best first.

    Malformed parts are skipped rather than rejected: a browser's odd header
    must never stop a visitor from seeing the page.
    """
    ranges: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        tag = pieces[0].lower()
        if not tag or len(tag) > 35:
            continue
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if 0 < quality <= 1:
            ranges.append((-quality, position, tag))
    ranges.sort()
    return [LanguageRange(tag, -q) for q, _, tag in ranges]


def match_language(tag: str) -> str | None:
    """The supported language a tag such as ``en-GB`` or ``vi`` stands for."""
    primary = tag.split("-")[0].split("_")[0].lower()
    return primary if primary in LANGUAGES else None


def negotiate_language(
    query: str | None, cookie: str | None, accept_language: str | None, default: str
) -> str:
    """Explicit choice (``?lang=``), then the cookie, then the browser, then the default."""
    for candidate in (query, cookie):
        if candidate and (lang := match_language(candidate)):
            return lang
    for language_range in parse_accept_language(accept_language or ""):
        if language_range.tag == "*":
            return default
        if lang := match_language(language_range.tag):
            return lang
    return default


def nfc(text: str) -> str:
    """Unicode NFC, the one form the museum stores and serves."""
    return unicodedata.normalize("NFC", text)


def localized(values: Mapping[str, str] | None, lang: str, fallback: str = "vi") -> str:
    """Pick ``values[lang]``, falling back to Vietnamese, then to any value."""
    if not values:
        return ""
    return values.get(lang) or values.get(fallback) or next(iter(values.values()), "")
