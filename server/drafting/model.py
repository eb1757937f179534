"""What a drafting backend is asked and what it answers: plain frozen data, no I/O."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.errors import MuseumError

# What a backend can be asked to write.
TASKS = ("label", "alt_text", "translation")
# The languages drafts are written in: those the museum's interface and guides speak.
DRAFT_LANGUAGES = ("vi", "en")
# The record fields a translation may fill (server.models.DRAFT_FIELDS).
TRANSLATABLE = ("title", "description")
# The longest text kept of a draft, per task or translated field (characters).
LIMITS = {"label": 600, "alt_text": 250, "title": 255, "description": 4000}
ELLIPSIS = "…"
# Where accepted drafts live: ``Record.extra["label"][lang]`` (the short museum label) and
# ``Asset.technical["alt"][lang]`` (kept when the asset is processed again).
RECORD_LABEL = "label"
ASSET_ALT = "alt"
# Put in front of a template "translation", which is no translation: accepting it unedited
# is refused (server.review_actions), so it never reaches visitors as if it were one.
NEEDS_TRANSLATOR = {"vi": "[Cần người dịch]", "en": "[Needs a translator]"}


class DraftingError(MuseumError):
    """The drafting server failed or answered something unusable.

    ``reason`` is a stable code (``llm_timeout``, ``llm_unreachable``, ``llm_http_5xx``,
    ``llm_http_4xx``, ``llm_busy``, ``llm_not_json``, ``llm_no_text``, ``llm_empty``);
    ``retryable`` says whether asking again later may help.
    """

    status = 502
    code = "drafting_failed"

    def __init__(
        self, message: str, *, reason: str, retryable: bool = False, **params: Any
    ) -> None:
        self.reason = reason
        self.retryable = retryable
        super().__init__(message, **params)


@dataclass(frozen=True)
class Facts:
    """A record's structured facts, as catalogued (free text in the language it was written
    in; codes from :mod:`server.vocab`). Drafts may say nothing beyond these."""

    record_id: str
    title: dict[str, str]
    description: dict[str, str] = field(default_factory=dict)
    kind: str = ""  # server.vocab.KINDS code
    subtype: str = ""  # server.vocab.SUBTYPES code
    designation: str = ""  # server.vocab.DESIGNATIONS code
    category: str = ""  # free text, usually Vietnamese
    ethnic_groups: tuple[str, ...] = ()
    places: tuple[dict[str, str], ...] = ()  # names by language (linked places, else the text)
    dating: str = ""
    earliest: int | None = None  # years, when catalogued
    latest: int | None = None
    materials: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    dimensions: str = ""


@dataclass(frozen=True)
class DraftRequest:
    """One text to draft.

    ``task``: ``label`` (a short museum label), ``alt_text`` (for the media item's picture)
    or ``translation`` (of the record's ``field`` from ``source_language``). ``image``: the
    bytes of a small published derivative (JPEG or WebP, ``image_type``) for ``alt_text``.
    """

    task: str
    language: str
    facts: Facts
    field: str = ""  # translation: "title" or "description"
    source_language: str = ""  # translation: the language translated from
    media_kind: str = ""  # alt_text: image, document, model, video
    media_label: str = ""
    image: bytes | None = None
    image_type: str = "image/jpeg"

    @property
    def limit(self) -> int:
        return LIMITS[self.field] if self.task == "translation" else LIMITS[self.task]

    @property
    def source_text(self) -> str:
        """The text a translation starts from."""
        values: dict[str, str] = getattr(self.facts, self.field, {}) if self.field else {}
        return values.get(self.source_language, "")


@dataclass(frozen=True)
class Draft:
    """A backend's answer and what wrote it (``source``: ``llm`` or ``template``)."""

    text: str
    source: str
    model: str
    model_version: str = ""


class Backend(Protocol):
    def draft(self, request: DraftRequest) -> Draft: ...


def clean_text(text: str, limit: int) -> str:
    """NFC, control characters out, runs of blank space collapsed (paragraphs kept), and
    cut at a word boundary to ``limit`` characters (an ellipsis marks the cut)."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    paragraphs = [" ".join(part.split()) for part in kept.split("\n\n")]
    cleaned = "\n\n".join(p for p in paragraphs if p).strip()
    if len(cleaned) <= limit:
        return cleaned
    cut = cleaned[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + ELLIPSIS


def needs_translator(text: str) -> bool:
    """Whether ``text`` still carries a template translation's marker."""
    return any(marker in text for marker in NEEDS_TRANSLATOR.values())
