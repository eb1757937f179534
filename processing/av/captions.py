"""Captions people wrote: WebVTT and SRT in, one clean WebVTT out, and the WebVTT writer.

Caption files come from volunteers, donors and subtitling tools, and the viewer shows their
text over the video, so they are treated as untrusted markup: every tag except ``<i>``,
``<b>`` and ``<u>`` (without classes or annotations) is removed, control characters go,
text becomes NFC, and invalid cue settings are dropped rather than passed to the browser.
What survives is written back as WebVTT, the one format the viewer's ``<track>`` reads.

The parser is a small one written here, not a library. webvtt-py (the best-kept Python
option) reads both formats, but it hands cue text and settings on as they come, has no
size or cue limits, and not all of its errors name a line; sanitising, limits and
line-numbered refusals would have to be layered on top of it anyway, and without it the
parser is about two hundred lines whose every rule is tested here.

The writer at the bottom is shared with :mod:`processing.av.asr`, which turns recognised
speech into cues: timestamps, escaping and line wrapping are done the same way for both.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

MAX_BYTES = 1_000_000  # a two-hour film's subtitles are about 100 kB
MAX_CUES = 10_000
MAX_LINE = 42  # characters per caption line: the usual broadcast and web guideline
MAX_CUE_LINES = 2

_BOM = "\ufeff"
# Line terminators WebVTT knows. str.splitlines() would also split on U+2028, U+0085 and
# others, which would shift the line numbers in our error messages.
_NEWLINES = re.compile(r"\r\n|\r|\n")
_VTT_TIME = re.compile(r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})")
_SRT_TIME = re.compile(r"(\d{1,}):([0-5]\d):([0-5]\d)[,.](\d{1,3})")
_TAG = re.compile(r"<([^<>\n]*)>")  # a tag never spans lines
_KEPT_TAGS = frozenset({"i", "b", "u"})
# ASS/SSA override blocks such as {\an8} or {\i1} that subtitle editors leave in SRT files.
_ASS_OVERRIDE = re.compile(r"\{\\[^}]*\}")
# Bidirectional embeddings and overrides can make a caption display as something other than
# what it says; byte order marks inside text are noise. Joiners (ZWJ, ZWNJ) stay: scripts
# and emoji need them.
_INVISIBLE = frozenset("\ufeff\u202a\u202b\u202c\u202d\u202e")
_SPACE_LIKE = frozenset("\t\u2028\u2029")


class CaptionError(Exception):
    """A caption file this module refuses.

    ``code`` is ``caption_too_large``, ``caption_encoding``, ``caption_empty``,
    ``caption_syntax``, ``caption_timing`` or ``caption_too_many``; ``message`` is one
    English sentence naming the line (1-based) where the problem is.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        """Survive pickling (the queue and the sandbox pickle exceptions) with both fields."""
        return (type(self), (self.code, self.message))


class TimedText(Protocol):
    """Anything with a time span in seconds and some text: a :class:`Cue` or an ASR segment."""

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Cue:
    """One caption: from ``start`` to ``end`` (seconds), ``text`` as WebVTT cue text.

    ``text`` is markup, not plain text: NFC, lines separated by ``\\n``, with ``&``, ``<``
    and ``>`` written as ``&amp;``, ``&lt;`` and ``&gt;`` and no tags but ``<i>``, ``<b>``
    and ``<u>``. :attr:`plain` is what a search index or a transcript wants. ``settings``
    are the valid WebVTT cue settings (``"line:0 align:start"``), or ``""``.
    """

    start: float
    end: float
    text: str
    settings: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"cue times must be finite, not {self.start!r} and {self.end!r}")
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"a cue must end after it starts: {self.start!r} → {self.end!r}")

    @property
    def plain(self) -> str:
        """The text without markup or character references, as a reader sees it."""
        return html.unescape(_TAG.sub("", self.text))


# Reading


def parse_captions(data: bytes, filename: str) -> list[Cue]:
    """The cues of a WebVTT or SRT file, validated, sanitised and sorted by time.

    A file that starts with ``WEBVTT`` (after an optional byte order mark) is read as
    WebVTT whatever its name; anything else is read as SRT, except that a ``.vtt`` name
    without the header is refused. Only UTF-8 is accepted: guessing an 8-bit code page
    garbles Vietnamese without an error. Raises :class:`CaptionError`.
    """
    text = _decode(data)
    lines = _NEWLINES.split(text)
    if not any(line.strip() for line in lines):
        raise CaptionError("caption_empty", "Line 1: the caption file is empty.")
    if re.match(r"WEBVTT(?:[ \t]|$)", lines[0]):
        cues = list(_parse_webvtt(lines))
    elif filename.lower().endswith(".vtt"):
        raise CaptionError(
            "caption_syntax", "Line 1: a WebVTT file must start with the word WEBVTT."
        )
    else:
        cues = list(_parse_srt(lines))
    # Sorted by start, then end; Python's sort is stable, so simultaneous cues keep their
    # order in the file (WebVTT shows overlapping cues stacked in that order).
    return sorted(cues, key=lambda cue: (cue.start, cue.end))


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        line = data[:MAX_BYTES].count(b"\n") + 1
        raise CaptionError(
            "caption_too_large",
            f"Line {line}: the caption file goes past the {MAX_BYTES // 1_000_000} MB limit "
            f"on this line ({len(data):,} bytes in all).",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CaptionError(
            "caption_encoding",
            f"Line {line}: the caption file is not UTF-8 (byte {exc.start + 1}); "
            "save it as UTF-8 and upload it again.",
        ) from exc
    return text.removeprefix(_BOM)


@dataclass
class _Block:
    first: int  # 1-based number of its first line
    lines: list[str]


def _blocks(lines: Sequence[str], start: int = 0) -> Iterator[_Block]:
    """Runs of non-blank lines, with the line number each run starts on."""
    current: _Block | None = None
    for index in range(start, len(lines)):
        line = lines[index]
        if line.strip():
            if current is None:
                current = _Block(index + 1, [])
            current.lines.append(line)
        elif current is not None:
            yield current
            current = None
    if current is not None:
        yield current


def _parse_webvtt(lines: Sequence[str]) -> Iterator[Cue]:
    header_end = 1
    # Header metadata such as "Kind: captions" is ignored, up to a blank line or a cue.
    while header_end < len(lines):
        if not lines[header_end].strip() or "-->" in lines[header_end]:
            break
        header_end += 1
    count = 0
    for block in _blocks(lines, header_end):
        first = block.lines[0]
        if "-->" not in first and re.match(r"(NOTE|STYLE|REGION)(?:[ \t]|$)", first):
            continue  # comments; style sheets and regions are the viewer's business
        if "-->" in first:
            timing_at, text_lines = 0, block.lines[1:]
        elif len(block.lines) > 1 and "-->" in block.lines[1]:
            timing_at, text_lines = 1, block.lines[2:]  # the first line is an identifier
        else:
            raise CaptionError(
                "caption_syntax",
                f"Line {block.first}: expected a cue timing line such as "
                "'00:00:01.000 --> 00:00:04.000'.",
            )
        number = block.first + timing_at
        start, end, settings = _vtt_timing(block.lines[timing_at], number)
        for offset, line in enumerate(text_lines):
            if "-->" in line:
                raise CaptionError(
                    "caption_syntax",
                    f"Line {number + 1 + offset}: a cue's text may not contain '-->'; "
                    "separate cues with a blank line.",
                )
        count += 1
        _check_count(count, number)
        yield _cue(start, end, _sanitise("\n".join(text_lines), entities=True), settings, number)


def _parse_srt(lines: Sequence[str]) -> Iterator[Cue]:
    for count, block in enumerate(_blocks(lines), start=1):
        index_line = block.lines[0].strip()
        if not index_line.isdigit() or not index_line.isascii():
            raise CaptionError(
                "caption_syntax",
                f"Line {block.first}: expected the number of an SRT subtitle, "
                f"found {_quote(block.lines[0])}.",
            )
        number = block.first + 1
        if len(block.lines) < 2:
            raise CaptionError(
                "caption_syntax",
                f"Line {number}: subtitle {index_line} has no timing line such as "
                "'00:00:01,000 --> 00:00:04,000'.",
            )
        start, end = _srt_timing(block.lines[1], number)
        _check_count(count, number)
        text = _ASS_OVERRIDE.sub("", "\n".join(block.lines[2:]))
        yield _cue(start, end, _sanitise(text, entities=False), "", number)


def _check_count(count: int, number: int) -> None:
    if count > MAX_CUES:
        raise CaptionError(
            "caption_too_many",
            f"Line {number}: the file holds more than {MAX_CUES:,} cues, the most one "
            "caption file may have.",
        )


def _cue(start: int, end: int, text: str, settings: str, number: int) -> Cue:
    if end <= start:
        raise CaptionError(
            "caption_timing",
            f"Line {number}: the cue ends ({format_timestamp(end / 1000)}) before or when "
            f"it starts ({format_timestamp(start / 1000)}).",
        )
    if not text:
        raise CaptionError("caption_empty", f"Line {number}: the cue has no text.")
    return Cue(start / 1000, end / 1000, text, settings)


def _vtt_timing(line: str, number: int) -> tuple[int, int, str]:
    match = re.fullmatch(r"[ \t]*(\S+?)[ \t]*-->[ \t]*(\S+)(?:[ \t]+(.*))?", line)
    if match is None:
        raise _bad_timing(line, number, "00:00:01.000 --> 00:00:04.000")
    start = _milliseconds(_VTT_TIME, match[1], line, number, "00:00:01.000 --> 00:00:04.000")
    end = _milliseconds(_VTT_TIME, match[2], line, number, "00:00:01.000 --> 00:00:04.000")
    return start, end, _settings(match[3] or "")


def _srt_timing(line: str, number: int) -> tuple[int, int]:
    # Anything after the end time (the X1: Y1: box some tools add) is ignored.
    match = re.fullmatch(r"[ \t]*(\S+?)[ \t]*-->[ \t]*(\S+)(?:[ \t]+.*)?", line)
    if match is None:
        raise _bad_timing(line, number, "00:00:01,000 --> 00:00:04,000")
    start = _milliseconds(_SRT_TIME, match[1], line, number, "00:00:01,000 --> 00:00:04,000")
    end = _milliseconds(_SRT_TIME, match[2], line, number, "00:00:01,000 --> 00:00:04,000")
    return start, end


def _milliseconds(pattern: re.Pattern[str], stamp: str, line: str, number: int, ex: str) -> int:
    match = pattern.fullmatch(stamp)
    if match is None or not stamp.isascii():
        raise _bad_timing(line, number, ex)
    hours, minutes, seconds, fraction = match.groups()
    # SRT writers differ on how many digits of milliseconds they write: ",5" is half a second.
    millis = int(fraction.ljust(3, "0"))
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + millis


def _bad_timing(line: str, number: int, example: str) -> CaptionError:
    return CaptionError(
        "caption_syntax",
        f"Line {number}: {_quote(line)} is not a cue timing line such as '{example}'.",
    )


def _quote(line: str, limit: int = 60) -> str:
    shown = "".join(ch if ch.isprintable() else "?" for ch in line.strip())
    return repr(shown if len(shown) <= limit else shown[: limit - 1] + "…")


# Cue settings: https://www.w3.org/TR/webvtt1/#webvtt-cue-settings
_PERCENT = r"\d+(?:\.\d+)?%"
_SETTING_VALUES = {
    "vertical": re.compile(r"rl|lr"),
    "line": re.compile(rf"(?:-?\d+|{_PERCENT})(?:,(?:start|center|end))?"),
    "position": re.compile(rf"(?:{_PERCENT}|auto)(?:,(?:line-left|center|line-right|auto))?"),
    "size": re.compile(_PERCENT),
    "align": re.compile(r"start|center|end|left|right"),
}


def _settings(text: str) -> str:
    """The valid settings of a timing line, normalised; invalid ones are dropped.

    ``region`` goes too: REGION blocks are not kept, so no region id can be valid.
    """
    kept: dict[str, str] = {}
    for setting in text.split():
        name, colon, value = setting.partition(":")
        pattern = _SETTING_VALUES.get(name)
        if not colon or pattern is None or not pattern.fullmatch(value):
            continue
        if "%" in value and any(float(p) > 100 for p in re.findall(r"([\d.]+)%", value)):
            continue
        kept[name] = value  # a repeated setting: the last one wins, as in browsers
    return " ".join(f"{name}:{value}" for name, value in kept.items())


# Sanitising cue text


def sanitise_cue_text(text: str) -> str:
    """WebVTT cue text made safe: see :class:`Cue` for what is kept. Idempotent."""
    return _sanitise(text, entities=True)


def _sanitise(text: str, *, entities: bool) -> str:
    """Tags except bare ``<i>``, ``<b>``, ``<u>`` removed (their text stays), the text
    between unescaped (WebVTT only: SRT has no character references), cleaned and escaped
    again, tags balanced, blank lines and surrounding blanks removed."""
    out: list[str] = []
    run: list[str] = []  # text since the last kept tag: removed tags do not split it

    def end_run() -> None:
        out.append(_clean_text("".join(run), entities))
        run.clear()

    open_tags: list[str] = []
    position = 0
    for match in _TAG.finditer(text):
        run.append(text[position : match.start()])
        position = match.end()
        name = match[1].strip().lower()
        if name in _KEPT_TAGS:
            end_run()
            open_tags.append(name)
            out.append(f"<{name}>")
        elif name.startswith("/") and name[1:] in _KEPT_TAGS and name[1:] in open_tags:
            end_run()
            # Close everything opened since, so <b><i>x</b> becomes <b><i>x</i></b>.
            while open_tags:
                tag = open_tags.pop()
                out.append(f"</{tag}>")
                if tag == name[1:]:
                    break
    run.append(text[position:])
    end_run()
    out.extend(f"</{tag}>" for tag in reversed(open_tags))
    # Lines with nothing to read go, but their tags move to the next line (or the last),
    # so "<i>\nword</i>" stays balanced as "<i>word</i>".
    # A combining mark straight after a tag or at the start of a line has no letter to sit
    # on, and U+0338 would even fuse with a tag's ">" under NFC ("≯"): such marks go.
    kept: list[str] = []
    pending = ""
    for line in _drop_marks_after_tags("".join(out)).split("\n"):
        line = _strip_line(line)
        if _TAG.sub("", line).strip():
            kept.append(pending + line)
            pending = ""
        else:
            pending += line
    if kept and pending:
        kept[-1] += pending
    return "\n".join(kept)


def _drop_marks_after_tags(text: str) -> str:
    kept = []
    after_tag = False
    for ch in text:
        if after_tag and unicodedata.combining(ch):
            continue
        after_tag = ch == ">"  # text has its ">" escaped: a bare one ends a tag
        kept.append(ch)
    return "".join(kept)


def _clean_text(text: str, entities: bool) -> str:
    """Unescaped, control characters out, then NFC (in that order: a removed control
    character can bring a letter and its accent together), then escaped again."""
    if entities:
        text = html.unescape(text)
    kept = []
    for ch in text:
        if ch == "\n":
            kept.append(ch)
        elif ch in _SPACE_LIKE:
            kept.append(" ")
        elif ch not in _INVISIBLE and unicodedata.category(ch) != "Cc":
            kept.append(ch)
    return escape_text(unicodedata.normalize("NFC", "".join(kept)))


def _strip_line(line: str) -> str:
    """Runs of spaces collapsed, and none at either end; no combining mark to start with."""
    line = re.sub(r" {2,}", " ", line).strip()
    while line and unicodedata.combining(line[0]):
        line = line[1:].lstrip()
    return line


def escape_text(text: str) -> str:
    """Plain text as WebVTT cue text: ``&``, ``<`` and ``>`` as character references."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Writing


def format_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm``, rounded to the millisecond (hours grow past two digits if needed)."""
    total = round(seconds * 1000)
    if total < 0:
        raise ValueError(f"a timestamp cannot be negative: {seconds!r}")
    hours, rest = divmod(total, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}.{millis:03d}"


def cues_to_webvtt(cues: Iterable[Cue]) -> str:
    """A WebVTT file of these cues, in time order, keeping their own line breaks.

    Cue text is sanitised again on the way out (a no-op for cues from
    :func:`parse_captions`), so a hand-made :class:`Cue` cannot put markup the viewer
    does not expect, or a blank line that would end its cue early, into the file.
    """
    blocks = []
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        text = sanitise_cue_text(cue.text)
        if not text:
            continue
        timing = f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}"
        settings = _settings(cue.settings)
        blocks.append(f"{timing} {settings}\n{text}" if settings else f"{timing}\n{text}")
    return ("WEBVTT\n\n" + "".join(f"{block}\n\n" for block in blocks)).removesuffix("\n")


def text_width(text: str) -> int:
    """How many characters a reader sees: combining marks and invisible joiners count 0.

    Vietnamese in NFC is one code point per letter, but text from elsewhere may carry a
    base letter plus marks; counting code points would make those lines wrap too early.
    (An approximation of grapheme clusters that needs no extra dependency.)
    """
    return sum(1 for ch in text if unicodedata.category(ch) not in {"Mn", "Me", "Cf"})


def wrap_words(text: str, max_line: int = MAX_LINE) -> list[str]:
    """Plain text in lines of at most ``max_line`` characters, broken only between words.

    A word longer than ``max_line`` gets a line of its own rather than being cut.
    """
    if max_line < 1:
        raise ValueError(f"max_line must be positive, not {max_line!r}")
    lines: list[str] = []
    current: list[str] = []
    width = 0
    for word in text.split():
        word_width = text_width(word)
        if current and width + 1 + word_width > max_line:
            lines.append(" ".join(current))
            current, width = [], 0
        width += word_width + (1 if current else 0)
        current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines


def balance_lines(words: Sequence[str], max_line: int = MAX_LINE) -> list[str]:
    """Words that fit on two lines, split where the longer line is shortest.

    Two lines of similar length are easier to read than a full line and a stray word.
    """
    if len(words) < 2:
        return [" ".join(words)] if words else []
    one = " ".join(words)
    if text_width(one) <= max_line:
        return [one]
    best: tuple[int, int] | None = None
    for cut in range(1, len(words)):
        longest = max(text_width(" ".join(words[:cut])), text_width(" ".join(words[cut:])))
        if best is None or longest < best[0]:
            best = (longest, cut)
    assert best is not None
    cut = best[1]
    return [" ".join(words[:cut]), " ".join(words[cut:])]


def split_into_cues(item: TimedText, max_line: int = MAX_LINE) -> list[Cue]:
    """Plain text over a time span as cues of at most two wrapped lines each.

    Text that needs more than two lines is cut into several cues at line breaks, and the
    span is shared between them in proportion to their length, since nothing says when
    each word was spoken. A span too short to share (under a millisecond per cue) keeps
    all its lines in one cue rather than producing cues that end when they start.
    """
    text = unicodedata.normalize("NFC", item.text).strip()
    lines = wrap_words(text, max_line)
    if not lines:
        return []
    groups = [lines[i : i + MAX_CUE_LINES] for i in range(0, len(lines), MAX_CUE_LINES)]
    start_ms, end_ms = round(item.start * 1000), round(item.end * 1000)
    if start_ms < 0 or end_ms <= start_ms:
        raise ValueError(f"a cue must end after it starts: {item.start!r} → {item.end!r}")
    if end_ms - start_ms < len(groups):
        groups = [lines]
    parts = [
        balance_lines(" ".join(group).split(), max_line) if len(group) <= 2 else group
        for group in groups
    ]
    widths = [sum(text_width(line) for line in part) + len(part) for part in parts]
    total = sum(widths)
    cues: list[Cue] = []
    done = 0
    boundary = start_ms
    for part, width in zip(parts, widths, strict=True):
        done += width
        # Each cue gets at least a millisecond, and the last ends exactly at the span's end.
        next_boundary = start_ms + round((end_ms - start_ms) * done / total)
        next_boundary = max(next_boundary, boundary + 1)
        next_boundary = min(next_boundary, end_ms - (len(parts) - len(cues) - 1))
        cues.append(
            Cue(boundary / 1000, next_boundary / 1000, "\n".join(escape_text(x) for x in part))
        )
        boundary = next_boundary
    return cues
