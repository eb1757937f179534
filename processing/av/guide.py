"""Audio guides: an item's label spoken by espeak-ng, in Vietnamese or English.

The text is handed to espeak-ng in a file (``-f``), never on the command line, so
a label can hold anything; espeak-ng writes a WAV file, which the audio pipeline
then turns into HLS like any recording. The same text and voice give the same
bytes, so a guide is only made again when its label changes (the caller compares
:func:`guide_key`).
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from processing.report import PipelineError

ESPEAK = "/usr/bin/espeak-ng"
VOICES = {"vi": "vi", "en": "en-gb"}  # espeak-ng voices: Northern Vietnamese, British English
WORDS_PER_MINUTE = 150  # a calm museum pace (espeak-ng's default is 175)
MAX_CHARACTERS = 4000  # a label, or a short description: not a book
SPEAK_SECONDS = 120.0


class GuideError(PipelineError):
    """A guide that cannot be spoken: no voice, no text, too much text, espeak-ng failed."""


def guide_text(text: str) -> str:
    """What is spoken: NFC, control characters gone, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(text.split())


def guide_key(text: str, language: str) -> str:
    """Names the guide for this text and voice: a changed label gives another key."""
    material = f"{VOICES.get(language, language)}|{WORDS_PER_MINUTE}|{guide_text(text)}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


def speak(text: str, language: str, target: Path) -> Path:
    """``text`` spoken in ``language`` ("vi" or "en") into the WAV file ``target``."""
    voice = VOICES.get(language)
    if voice is None:
        raise GuideError("unsupported_language", f"No voice for the language {language!r}.")
    spoken = guide_text(text)
    if not spoken:
        raise GuideError("empty_text", "There is no text to speak.")
    if len(spoken) > MAX_CHARACTERS:
        raise GuideError(
            "text_too_long", f"The text has {len(spoken)} characters; at most {MAX_CHARACTERS}."
        )
    with tempfile.TemporaryDirectory(prefix="guide-") as scratch:
        source = Path(scratch) / "text.txt"
        source.write_text(spoken, "utf-8")
        argv = [ESPEAK, "-v", voice, "-s", str(WORDS_PER_MINUTE), "-b", "1", "-f", str(source)]
        argv += ["-w", str(target)]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                timeout=SPEAK_SECONDS,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise GuideError("timeout", "espeak-ng took too long.") from exc
        except OSError as exc:
            raise GuideError("unavailable", f"espeak-ng could not be started: {exc}.") from exc
    if done.returncode != 0 or not target.is_file() or target.stat().st_size <= 44:
        message = done.stderr.decode("utf-8", "replace").strip() or "no sound written"
        raise GuideError("failed", f"espeak-ng failed: {message}.")
    return target
