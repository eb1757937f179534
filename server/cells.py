"""Cells of the inventory spreadsheet: checking raw cell text and reading it as field values.

:func:`check_cell` refuses what no column accepts (bytes that are not UTF-8,
control characters, over-long text, and spreadsheet formulas that Excel or
LibreOffice would run, see :func:`looks_like_formula`); :func:`clean_text`
normalises what is left. The column parsers turn cleaned text into a Record
field's value. Every failure is a :class:`CellError` carrying an English
message id; :mod:`server.catalog` turns it into a row problem.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import cache
from gettext import NullTranslations
from urllib.parse import urlsplit

from sqlalchemy import String

from server.errors import N_
from server.i18n import load_catalogs, nfc
from server.models import Record
from server.search import fold

MAX_FIELD_LENGTH = 20_000
MAX_SHOWN_VALUE = 80
MIN_YEAR, MAX_YEAR = -100_000, 9_999
PRIORITY_RANGE = (1, 5)
SOURCE_SEPARATOR = " ; "
LIST_SEPARATOR = ";"
# C0/C1 control characters other than tab, newline and carriage return never belong in a record.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What csv's surrogateescape decoding makes of bytes that are not UTF-8.
UNDECODABLE = re.compile(r"[\udc80-\udcff]")
WEB_SCHEMES = ("http", "https")

# Spreadsheet formulas: a cell starting with one of these may be run by Excel or LibreOffice.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d+)*|[.,]\d+)([eE][+-]?\d+)?%?$")
_FORMULA_HINT = re.compile(
    r"(?<!\w)[A-Za-z_][A-Za-z0-9_.]*\("  # a function call: HYPERLINK(, cmd(
    r"|\|"  # dynamic data exchange: cmd|' /C calc'!A0
    r"|^[+\-@]\s*\$?[A-Za-z]{1,3}\$?\d+(?!\w)"  # a cell reference: -A1, +$B$2
    r"|^[+\-@]\s*="  # +=..., -=...
)


class CellError(Exception):
    """A cell that cannot be read: an English message id and its parameters."""

    def __init__(self, message_id: str, **params: str | int) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.params = params


# Cells


def clean_text(value: str) -> str:
    return nfc(value.strip().replace("\r\n", "\n").replace("\r", "\n"))


def shown_value(value: str) -> str:
    """A cell as a problem report shows it: bad bytes as U+FFFD, controls escaped, truncated."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(text) <= MAX_SHOWN_VALUE:
        return text
    cut = MAX_SHOWN_VALUE
    while cut > 0 and unicodedata.combining(text[cut]):
        cut -= 1  # never separate a breve or tone mark from its letter
    return text[:cut] + "…"


def is_plain_number(value: str) -> bool:
    return bool(PLAIN_NUMBER.match(value.strip()))


def looks_like_formula(value: str) -> bool:
    """True for a cell a spreadsheet would run: ``=HYPERLINK(...)``, ``-2+cmd|...``, ``@SUM(A1)``.

    ``-12`` is a negative number and ``- Bộ chiêng (6 chiếc)`` a list item: neither is a formula.
    """
    text = value.lstrip(" \t\r\n")
    if not text or text[0] not in FORMULA_TRIGGERS:
        return False
    if text[0] == "=":
        return True
    return not is_plain_number(text) and bool(_FORMULA_HINT.search(text))


def check_cell(raw: str) -> None:
    """Raise :class:`CellError` for what no column accepts."""
    if UNDECODABLE.search(raw):
        raise CellError(N_("is not valid UTF-8 (shown as �); save the file as CSV UTF-8"))
    if looks_like_formula(raw):
        raise CellError(
            N_("looks like a spreadsheet formula; type the value itself, not a formula")
        )
    if CONTROL_CHARACTERS.search(raw):
        raise CellError(N_("contains control characters"))
    if len(raw) > MAX_FIELD_LENGTH:
        raise CellError(N_("is longer than {limit} characters"), limit=MAX_FIELD_LENGTH)


# Column parsers: cleaned cell text -> field value, or CellError.


def _column_length(attribute: str) -> int | None:
    column_type = Record.__table__.c[attribute].type
    return column_type.length if isinstance(column_type, String) else None


def text_parser(attribute: str) -> Callable[[str], str]:
    """A parser for a text field of Record: the text itself, if it fits the column."""
    limit = _column_length(attribute)

    def parse(text: str) -> str:
        if limit is not None and len(text) > limit:
            raise CellError(N_("is longer than {limit} characters"), limit=limit)
        return text

    return parse


def parse_list(text: str) -> list[str]:
    """``"gỗ; đồng"`` -> ``["gỗ", "đồng"]``: the non-empty parts between semicolons."""
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


def parse_year(text: str) -> int | None:
    """A year (negative for BCE), or None for an empty cell."""
    if not text:
        return None
    if not re.fullmatch(r"[+-]?\d+(\.0+)?", text):
        raise CellError(N_("is not a whole number (a year; negative for BCE)"))
    year = int(float(text)) if "." in text else int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise CellError(N_("must be between {low} and {high}"), low=MIN_YEAR, high=MAX_YEAR)
    return year


def parse_priority(text: str) -> int:
    """A digitization priority: a whole number in :data:`PRIORITY_RANGE`."""
    low, high = PRIORITY_RANGE
    if not re.fullmatch(r"\d+(\.0+)?", text) or not low <= int(float(text)) <= high:
        raise CellError(N_("must be a whole number from {low} to {high}"), low=low, high=high)
    return int(float(text))


def web_address(text: str) -> str:
    """An absolute http(s) address, or CellError."""
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise CellError(N_("is not a web address (http:// or https://)")) from exc
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.netloc or re.search(r"\s", text):
        raise CellError(N_("is not a web address (http:// or https://)"))
    return text


def parse_sources(text: str) -> list[str]:
    """Web addresses separated by :data:`SOURCE_SEPARATOR`."""
    return [web_address(part.strip()) for part in text.split(SOURCE_SEPARATOR) if part.strip()]


def parse_registration(text: str) -> str | None:
    """A registration number, or None for an empty cell (the column is unique when set)."""
    return text_parser("registration_number")(text) or None


@cache
def _vietnamese(label: str) -> str:
    return str(_vietnamese_catalog().gettext(label))


@cache
def _vietnamese_catalog() -> NullTranslations:
    return load_catalogs()["vi"]


@cache
def vocabulary_index(vocabulary: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Folded code, English label and Vietnamese label -> code."""
    index: dict[str, str] = {}
    for code, label in vocabulary:
        for name in (code, label, _vietnamese(label)):
            index.setdefault(fold(name), code)
    return index


def vocabulary_code(text: str, vocabulary: Mapping[str, str]) -> str | None:
    """The code a cell names, by code or label, ignoring case and diacritics."""
    return vocabulary_index(tuple(vocabulary.items())).get(fold(text))


def vocabulary_parser(vocabulary: Mapping[str, str], message_id: str) -> Callable[[str], str]:
    """A parser for a coded field: the code a cell names, else ``message_id`` with the choices."""

    def parse(text: str) -> str:
        code = vocabulary_code(text, vocabulary)
        if code is None:
            raise CellError(message_id, choices=", ".join(vocabulary))
        return code

    return parse
