"""Which derivative files hold machine-written text, and whether visitors may fetch them yet.

A published version folder holds, beside pictures and media, what machines read: a
document's OCR (``…/ocr/`` beside each page: plain text, hOCR, ALTO, ``lines.json``) and a
recording's captions (``captions.{lang}.vtt`` / ``.m3u8``; the pipeline's own folder also
has its speech draft and a ``report.json`` listing every word heard). Visitors get them only
once a person accepted them (:mod:`server.review_actions`):

* OCR files: when the text of *this* version was accepted as read
  (:func:`server.iiif_manifest.ocr_layer_public`);
* caption files: when their language is among the asset's accepted captions;
* an audio or video ``report.json``: only the published version's (whose report lists no
  words: :mod:`server.caption_files`); an older or the pipeline's own folder may list the
  draft's words.

Everything else is the asset's to decide (:mod:`server.media_access`). Staff may fetch
everything they can see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from server.iiif_manifest import OCR_LAYER, caption_languages

AV_KINDS = ("video", "audio")
OCR_FOLDER = "ocr"
REPORT = "report.json"
_CAPTION_FILE = re.compile(r"captions\.(?P<language>[A-Za-z0-9-]+)\.(?:vtt|m3u8)")


def public_file(
    kind: str,
    technical: Mapping[str, Any],
    published_version: str | None,
    version: str,
    relative: str,
) -> bool:
    """Whether a visitor may fetch ``relative`` (a path inside version ``version``) of an
    asset of ``kind`` with these ``technical`` data and this published version, as far as
    machine-written text goes."""
    parts = PurePosixPath(relative).parts
    if OCR_FOLDER in parts[:-1]:
        return technical.get(OCR_LAYER) == version
    if len(parts) == 1 and (caption := _CAPTION_FILE.fullmatch(parts[0])):
        return caption["language"] in caption_languages(technical)
    if kind in AV_KINDS and parts == (REPORT,):
        return version == published_version
    return True
