"""The template backend: drafts from the catalog's own fields, offline and always.

It can only restate what the record says, in sentence patterns written for each language,
with the controlled vocabularies' labels (:mod:`server.vocab`) in that language:

* a **label**: ``{title} — {category} of the {ethnic} people, {place}. {designation}.``;
* an **alt text**: what the media item is (photograph, document page, 3D model, video
  still) and of what (the record's title, the item's own label). It cannot say what the
  picture shows: a reviewer who looks at it should add that;
* a **translation**: it cannot translate. It writes the target language's label from the
  facts, then the original text, behind a "needs a translator" marker. Accepting such a
  draft unedited is refused (:mod:`server.review_actions`), so it is a translator's
  starting point, never a pretended translation.

Free-text fields the museum catalogues in Vietnamese (category, dating, materials) are used
in Vietnamese drafts only; English drafts use the vocabularies' labels and the years.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from server.drafting.model import NEEDS_TRANSLATOR, Draft, DraftRequest, Facts, clean_text
from server.vocab import DESIGNATIONS, KINDS, LANGUAGE_NAMES, SUBTYPES

MODEL = "template"
VERSION = "1"
UNRANKED = "chua_xep_hang"

# Sentence patterns per language. Keys: what the pattern writes.
PATTERNS: dict[str, dict[str, str]] = {
    "vi": {
        "of_people": "của người {groups}",
        "and": " và ",
        "dating": "Niên đại: {dating}.",
        "years": "Niên đại: {years}.",
        "materials": "Chất liệu: {materials}.",
        "original": "Bản gốc ({language}):",
        "image": "Ảnh",
        "document": "Trang tài liệu",
        "model": "Mô hình 3D",
        "video": "Khung hình từ video",
    },
    "en": {
        "of_people": "of the {groups} {people}",
        "and": " and ",
        "dating": "Date: {dating}.",
        "years": "Date: {years}.",
        "materials": "Materials: {materials}.",
        "original": "Original ({language}):",
        "image": "Photograph",
        "document": "Document page",
        "model": "3D model",
        "video": "Still from a video",
    },
}


@functools.lru_cache(maxsize=4)
def _gettext(language: str) -> Callable[[str], str]:
    from server.i18n import load_catalogs

    catalogs = load_catalogs()
    return (catalogs.get(language) or catalogs["en"]).gettext


def _patterns(language: str) -> dict[str, str]:
    return PATTERNS.get(language, PATTERNS["en"])


def _join(items: Sequence[str], language: str) -> str:
    items = [item for item in items if item]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + _patterns(language)["and"] + items[-1]


def _title(facts: Facts, language: str) -> str:
    """The title in ``language``, else as catalogued (a name is better than nothing)."""
    return (
        facts.title.get(language) or facts.title.get("vi") or next(iter(facts.title.values()), "")
    )


def _descriptor(facts: Facts, language: str) -> str:
    """What the item is: the catalogued category (Vietnamese drafts), else the subtype's or
    the kind's label in ``language``."""
    if language == "vi" and facts.category:
        return facts.category
    label = SUBTYPES.get(facts.subtype) or KINDS.get(facts.kind, "")
    return _gettext(language)(label) if label else ""


def _people(facts: Facts, language: str) -> str:
    if not facts.ethnic_groups:
        return ""
    groups = _join(facts.ethnic_groups, language)
    people = "people" if len(facts.ethnic_groups) == 1 else "peoples"
    return _patterns(language)["of_people"].format(groups=groups, people=people)


def _place(facts: Facts, language: str) -> str:
    names = [place.get(language) or place.get("vi") or "" for place in facts.places]
    return ", ".join(name for name in names if name)


def _years(facts: Facts) -> str:
    first, last = facts.earliest, facts.latest
    if first is None and last is None:
        return ""
    if first is None or last is None or first == last:
        return str(first if first is not None else last)
    return f"{first}–{last}"


def label_text(facts: Facts, language: str) -> str:
    """A short label from the facts alone, in ``language``."""
    patterns = _patterns(language)
    head = " ".join(
        part for part in (_descriptor(facts, language), _people(facts, language)) if part
    )
    first = _title(facts, language)
    if head:
        first += f" — {head}"
    if place := _place(facts, language):
        first += f", {place}"
    sentences = [first.rstrip(".") + "."]
    if facts.designation and facts.designation != UNRANKED and facts.designation in DESIGNATIONS:
        sentences.append(_gettext(language)(DESIGNATIONS[facts.designation]) + ".")
    if language == "vi" and facts.dating:
        sentences.append(patterns["dating"].format(dating=facts.dating.rstrip(".")))
    elif years := _years(facts):
        sentences.append(patterns["years"].format(years=years))
    if language == "vi" and facts.materials:
        sentences.append(patterns["materials"].format(materials=", ".join(facts.materials)))
    return " ".join(sentences)


def alt_text(request: DraftRequest) -> str:
    """What the picture is of: the media kind, the record's title, the item's label."""
    patterns = _patterns(request.language)
    noun = patterns.get(request.media_kind, patterns["image"])
    text = f"{noun}: {_title(request.facts, request.language)}"
    if request.media_label and request.media_label not in text:
        text += f" ({request.media_label})"
    return text + "."


def translation_text(request: DraftRequest) -> str:
    """A translator's starting point, marked as such: the label in the target language from
    the facts (or, for a title, the title as catalogued), then the original."""
    language = request.language
    marker = NEEDS_TRANSLATOR.get(language, NEEDS_TRANSLATOR["en"])
    source = request.source_text
    if request.field == "title":
        return f"{marker} {source}"
    name = _gettext(language)(LANGUAGE_NAMES.get(request.source_language, request.source_language))
    if language == "vi":
        name = name[:1].lower() + name[1:]  # "tiếng Anh" inside a sentence
    original = _patterns(language)["original"].format(language=name)
    return f"{marker} {label_text(request.facts, language)}\n\n{original} {source}"


class TemplateBackend:
    """Drafts from the catalog fields (see the module's documentation)."""

    def draft(self, request: DraftRequest) -> Draft:
        if request.task == "label":
            text = label_text(request.facts, request.language)
        elif request.task == "alt_text":
            text = alt_text(request)
        else:
            text = translation_text(request)
        return Draft(clean_text(text, request.limit), "template", MODEL, VERSION)
