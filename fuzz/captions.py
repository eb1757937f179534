"""Caption files (processing/av/captions.py: parse_captions, WebVTT and SRT).

Input: the bytes of an uploaded caption file; the first byte picks the name it arrives
under (``.vtt`` or ``.srt``). Contract: :class:`CaptionError` or cues (none for a file of
notes only) that are finite,
sorted, each ending after it starts, whose text holds no tag but <i>, <b> and <u>, and
which written out as WebVTT parse back to the same cues.
"""

from __future__ import annotations

import re
import sys

import atheris

with atheris.instrument_imports(include=["processing.av.captions"]):
    from processing.av.captions import CaptionError, cues_to_webvtt, parse_captions

_TAG = re.compile(r"</?([A-Za-z0-9.]*)")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    name = "captions.vtt" if data[0] % 2 else "captions.srt"
    try:
        cues = parse_captions(data[1:], name)
    except CaptionError as exc:
        assert exc.code.startswith("caption_") and exc.message, exc
        return
    starts = [cue.start for cue in cues]
    assert starts == sorted(starts), starts
    for cue in cues:
        assert 0 <= cue.start < cue.end, cue
        for tag in _TAG.findall(cue.text):
            assert tag.split(".")[0] in ("i", "b", "u"), cue.text
    again = parse_captions(cues_to_webvtt(cues).encode("utf-8"), "again.vtt")
    assert [(c.start, c.end, c.text) for c in again] == [(c.start, c.end, c.text) for c in cues]


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
