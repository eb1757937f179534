"""Captions people wrote: WebVTT and SRT read, sanitised, validated and written as WebVTT.

Hand-written files cover each rule; the MDN example tracks (../shared/corpus/av/mdn) are
real files from the wild.
"""

from __future__ import annotations

import pickle
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processing.av import captions
from processing.av.captions import (
    CaptionError,
    Cue,
    cues_to_webvtt,
    parse_captions,
    sanitise_cue_text,
)
from tests.conftest import CORPUS

MDN = CORPUS / "av" / "mdn"
BOM = b"\xef\xbb\xbf"
ALLOWED_TAGS = {"<i>", "</i>", "<b>", "</b>", "<u>", "</u>"}

VTT = """\
WEBVTT - Lễ hội cà phê
Kind: captions
Language: vi

NOTE Tên riêng giữ nguyên dấu.

STYLE
::cue { color: red }

intro
00:00:01.000 --> 00:00:04.500 line:0 align:start
Chào mừng đến <i>Buôn Ma Thuột</i>

00:04.500 --> 00:00:07.250
Tom &amp; Jerry
hai dòng &lt;3

01:00:00.000 --> 01:00:01.000 position:10%,line-left size:50%
Cuối
"""

VTT_CUES = [
    Cue(1.0, 4.5, "Chào mừng đến <i>Buôn Ma Thuột</i>", "line:0 align:start"),
    Cue(4.5, 7.25, "Tom &amp; Jerry\nhai dòng &lt;3"),
    Cue(3600.0, 3601.0, "Cuối", "position:10%,line-left size:50%"),
]

VTT_OUT = """\
WEBVTT

00:00:01.000 --> 00:00:04.500 line:0 align:start
Chào mừng đến <i>Buôn Ma Thuột</i>

00:00:04.500 --> 00:00:07.250
Tom &amp; Jerry
hai dòng &lt;3

01:00:00.000 --> 01:00:01.000 position:10%,line-left size:50%
Cuối
"""

SRT = (
    "1\r\n"
    "00:00:01,000 --> 00:00:04,500\r\n"
    "Chào mừng đến <i>Buôn Ma Thuột</i>\r\n"
    "\r\n"
    "2\r\n"
    "00:00:04,500 --> 00:00:07,250\r\n"
    "Tom & Jerry\r\n"
    "hai dòng <3\r\n"
    "\r\n"
    "3\r\n"
    "01:00:00,000 --> 01:00:01,000\r\n"
    "Cuối\r\n"
)


def test_webvtt_is_read_and_written_back_exactly() -> None:
    cues = parse_captions(VTT.encode(), "le-hoi.vtt")
    assert cues == VTT_CUES
    assert cues_to_webvtt(cues) == VTT_OUT
    assert parse_captions(VTT_OUT.encode(), "again.vtt") == cues


def test_srt_is_read_by_numbered_blocks_and_comma_times() -> None:
    cues = parse_captions(SRT.encode(), "le-hoi.srt")
    # The same captions as the WebVTT file, without its cue settings: "&" and "<" in SRT
    # are plain text and come out escaped.
    assert cues == [Cue(c.start, c.end, c.text) for c in VTT_CUES]
    vtt = cues_to_webvtt(cues)
    assert parse_captions(vtt.encode(), "le-hoi.vtt") == cues
    assert vtt == re.sub(r"( --> \S+) .*", r"\1", VTT_OUT)


def test_a_byte_order_mark_is_ignored() -> None:
    assert parse_captions(BOM + VTT.encode(), "a.vtt") == VTT_CUES
    assert parse_captions(BOM + SRT.encode(), "a.srt") == parse_captions(SRT.encode(), "a.srt")


def test_the_content_decides_the_format_not_the_name() -> None:
    assert parse_captions(VTT.encode(), "captions.txt") == VTT_CUES
    assert parse_captions(SRT.encode(), "captions") == parse_captions(SRT.encode(), "a.srt")


def test_cues_come_out_sorted_by_time() -> None:
    data = b"WEBVTT\n\n00:05.000 --> 00:06.000\nsecond\n\n00:01.000 --> 00:02.000\nfirst\n"
    assert [c.text for c in parse_captions(data, "a.vtt")] == ["first", "second"]
    srt = b"2\n00:00:05,000 --> 00:00:06,000\nsecond\n\n1\n00:00:01,000 --> 00:00:02,000\nfirst\n"
    assert [c.text for c in parse_captions(srt, "a.srt")] == ["first", "second"]


def test_srt_variants_from_the_wild() -> None:
    srt = (
        "1\n00:00:01,5 --> 00:00:02.250 X1:40 X2:600 Y1:20 Y2:50\n"
        '{\\an8}<font color="#ffff00">Đắk Lắk</font>\n\n\n'
        "2\n00:00:03,000-->00:00:04,000\n<b>x</b>\n"
    )
    assert parse_captions(srt.encode(), "a.srt") == [
        Cue(1.5, 2.25, "Đắk Lắk"),
        Cue(3.0, 4.0, "<b>x</b>"),
    ]


# Sanitising


def test_markup_is_stripped_except_plain_italic_bold_and_underline() -> None:
    data = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n"
        "<script>alert(1)</script><c.yellow>Gong</c> <v Ama Kông>music</v>\n"
        '<img src=x onerror="alert(2)"><i>kept</i> <b.loud>class</b> <u>under</u>\n'
        "<00:00:01.500>karaoke <ruby>x<rt>y</rt></ruby> <a href=javascript:alert(3)>link</a>\n"
    ).encode()
    [cue] = parse_captions(data, "a.vtt")
    assert cue.text == ("alert(1)Gong music\n<i>kept</i> class <u>under</u>\nkaraoke xy link")
    out = cues_to_webvtt([cue])
    assert set(re.findall(r"<[^>]*>", out)) == {"<i>", "</i>", "<u>", "</u>"}
    for word in ("script", "onerror", "img", "href", "javascript", "c.yellow"):
        assert word not in out


def test_escaped_markup_stays_text() -> None:
    data = "WEBVTT\n\n00:01.000 --> 00:02.000\n&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp;\n"
    [cue] = parse_captions(data.encode(), "a.vtt")
    assert cue.text == "&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp;"
    assert cue.plain == "<script>alert(1)</script> &amp;"


def test_srt_markup_is_stripped_and_its_text_escaped() -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\n<script>x</script> A & B < C <i>ok</i>\n"
    [cue] = parse_captions(srt.encode(), "a.srt")
    assert cue.text == "x A &amp; B &lt; C <i>ok</i>"


def test_tags_are_balanced() -> None:
    assert sanitise_cue_text("<b><i>x</b> y</i> z</u>") == "<b><i>x</i></b> y z"
    assert sanitise_cue_text("<i>open") == "<i>open</i>"
    assert sanitise_cue_text("<i>\n\nword</i>") == "<i>word</i>"


def test_control_characters_go_and_text_becomes_nfc() -> None:
    text = unicodedata.normalize("NFD", "Đắk\x07 Lắk\u202e\x00\tbuôn\x1b")
    assert sanitise_cue_text(text) == "Đắk Lắk buôn"
    data = "WEBVTT\n\n00:01.000 --> 00:02.000\n" + text + " &#x202e;&#7;x\n"
    [cue] = parse_captions(data.encode(), "a.vtt")
    assert cue.text == "Đắk Lắk buôn x"
    assert unicodedata.is_normalized("NFC", cue.text)


def test_invalid_cue_settings_are_dropped() -> None:
    data = (
        b"WEBVTT\n\n00:01.000 --> 00:02.000 align:middle size:120% region:r1 vertical:up "
        b"line:abc position:50% line:-2,end bogus vertical:rl\nx\n"
    )
    [cue] = parse_captions(data, "a.vtt")
    assert cue.settings == "position:50% line:-2,end vertical:rl"


# Refusals


def too_many_cues() -> bytes:
    block = "00:00:01.000 --> 00:00:02.000\nx\n\n"
    return ("WEBVTT\n\n" + block * (captions.MAX_CUES + 1)).encode()


@pytest.mark.parametrize(
    ("data", "name", "code", "line"),
    [
        pytest.param(b"", "a.vtt", "caption_empty", 1, id="empty"),
        pytest.param(BOM + b"\n \n\t\n", "a.srt", "caption_empty", 1, id="blank"),
        pytest.param(
            b"WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nx\n",
            "a.vtt",
            "caption_timing",
            3,
            id="end-before-start",
        ),
        pytest.param(
            b"WEBVTT\n\n00:00:02.000 --> 00:00:02.000\nx\n",
            "a.vtt",
            "caption_timing",
            3,
            id="end-at-start",
        ),
        pytest.param(
            b"1\n00:00:01,000 --> 00:00:03,000\nok\n\n2\n00:00:05,000 --> 00:00:04,999\nx\n",
            "a.srt",
            "caption_timing",
            6,
            id="srt-end-before-start",
        ),
        pytest.param(
            b"WEBVTT\n\nNOTE x\n\n00:00:0x.000 --> 00:00:01.000\nx\n",
            "a.vtt",
            "caption_syntax",
            5,
            id="garbled-timestamp",
        ),
        pytest.param(
            b"WEBVTT\n\n00:61.000 --> 00:62.000\nx\n",
            "a.vtt",
            "caption_syntax",
            3,
            id="sixty-one-seconds",
        ),
        pytest.param(
            b"WEBVTT\n\n-00:00:01.000 --> 00:00:02.000\nx\n",
            "a.vtt",
            "caption_syntax",
            3,
            id="negative-time",
        ),
        pytest.param(
            b"1\n00:00:01;000 --> 00:00:02,000\nx\n",
            "a.srt",
            "caption_syntax",
            2,
            id="garbled-srt-timestamp",
        ),
        pytest.param(
            b"WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nx\n",
            "a.vtt",
            "caption_syntax",
            3,
            id="no-arrow",
        ),
        pytest.param(
            b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\na\n00:00:03.000 --> 00:00:04.000\nb\n",
            "a.vtt",
            "caption_syntax",
            5,
            id="arrow-in-text",
        ),
        pytest.param(
            b"1\n00:00:01,000 --> 00:00:02,000\nfirst\n\nsecond paragraph\n",
            "a.srt",
            "caption_syntax",
            5,
            id="srt-without-number",
        ),
        pytest.param(b"1\n", "a.srt", "caption_syntax", 2, id="srt-without-timing"),
        pytest.param(
            b"00:00:01.000 --> 00:00:02.000\nx\n",
            "a.vtt",
            "caption_syntax",
            1,
            id="vtt-without-header",
        ),
        pytest.param(
            b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<b> </b>\n",
            "a.vtt",
            "caption_empty",
            3,
            id="no-text",
        ),
        pytest.param(
            b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nx\n\n00:00:03.000 --> 00:00:04.000\n",
            "a.vtt",
            "caption_empty",
            6,
            id="no-text-at-all",
        ),
        pytest.param(
            "WEBVTT\n\n00:01.000 --> 00:02.000\ncafé\n".encode("latin-1"),
            "a.vtt",
            "caption_encoding",
            4,
            id="latin-1",
        ),
        pytest.param(
            b"WEBVTT\n\n" + b"00:00:01.000 --> 00:00:02.000\nx\n\n" * 40_000,
            "a.vtt",
            "caption_too_large",
            90_909,
            id="too-large",
        ),
        pytest.param(too_many_cues(), "a.vtt", "caption_too_many", 30_003, id="too-many-cues"),
    ],
)
def test_bad_files_are_refused_naming_the_line(
    data: bytes, name: str, code: str, line: int
) -> None:
    with pytest.raises(CaptionError) as caught:
        parse_captions(data, name)
    assert caught.value.code == code
    assert caught.value.message.startswith(f"Line {line}: ")
    assert "\n" not in caught.value.message and caught.value.message.endswith(".")
    restored = pickle.loads(pickle.dumps(caught.value))
    assert (restored.code, restored.message) == (code, caught.value.message)


def test_the_size_limit_is_on_bytes_before_anything_is_parsed() -> None:
    assert len(b"WEBVTT\n\n" + b"00:00:01.000 --> 00:00:02.000\nx\n\n" * 40_000) > 1_000_000
    fits = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n" + b"x" * (captions.MAX_BYTES - 40)
    assert len(fits) <= captions.MAX_BYTES
    assert len(parse_captions(fits, "a.vtt")) == 1


def test_cues_themselves_refuse_impossible_times() -> None:
    with pytest.raises(ValueError):
        Cue(2.0, 1.0, "x")
    with pytest.raises(ValueError):
        Cue(-1.0, 1.0, "x")
    with pytest.raises(ValueError):
        Cue(0.0, float("nan"), "x")


# Writing


def test_the_writer_sanitises_hand_made_cues_too() -> None:
    cues = [
        Cue(2.0, 3.0, "<script>x</script>\n\n00:00:09.000 --> 00:00:10.000\ninjected"),
        Cue(0.0, 1.0, "   "),  # nothing to show: left out
        Cue(1.0, 2.0, "ok", "align:middle line:1"),
    ]
    assert cues_to_webvtt(cues) == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:02.000 line:1\nok\n\n"
        "00:00:02.000 --> 00:00:03.000\nx\n00:00:09.000 --&gt; 00:00:10.000\ninjected\n"
    )


TOKENS = [*"ab &;<>/iuc.\n\r\t\x00\u0301\u0338é", "<i>", "</i>", "</b>", "<c>", "&lt;", "&amp"]
cue_text = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)


@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 10**5), cue_text), max_size=8))
def test_whatever_the_writer_writes_reads_back_the_same(
    items: list[tuple[int, int, str]],
) -> None:
    cues = [Cue(start / 1000, (start + length) / 1000, text) for start, length, text in items]
    expected = sorted(
        (Cue(c.start, c.end, sanitise_cue_text(c.text)) for c in cues if sanitise_cue_text(c.text)),
        key=lambda c: (c.start, c.end),
    )
    vtt = cues_to_webvtt(cues)
    if expected:
        assert parse_captions(vtt.encode(), "a.vtt") == expected
    else:
        assert vtt == "WEBVTT\n"
    for cue in expected:
        assert set(re.findall(r"<[^>]*>", cue.text)) <= ALLOWED_TAGS
        assert sanitise_cue_text(cue.text) == cue.text
        assert unicodedata.is_normalized("NFC", cue.text)


# Real files


@pytest.mark.corpus
@pytest.mark.skipif(not MDN.is_dir(), reason=f"the A/V corpus is not at {MDN}")
@pytest.mark.parametrize(
    ("name", "count", "first"),
    [
        ("sintel-en.vtt", 14, "[Test]"),
        ("sintel-de.vtt", 14, "[Test]"),
        ("sintel-es.vtt", 14, "[Test]"),
        ("stream-of-water.vtt", 4, "~ Stream of Water ~"),
    ],
)
def test_mdn_example_tracks_read_and_round_trip(name: str, count: int, first: str) -> None:
    cues = parse_captions((MDN / name).read_bytes(), name)
    assert len(cues) == count
    assert cues[0].text == first  # "<v Test>[Test]</v>": the voice tag goes
    assert parse_captions(cues_to_webvtt(cues).encode(), name) == cues
