"""Captions from speech: ffmpeg decoding, the WebVTT writer, the hallucination guards, and
Whisper itself on real third-party recordings (../shared/corpus/av).

The recordings: a LibriSpeech utterance (CC BY 4.0) with its reference transcript, for the
word error rate; CC0 percussion from Sonic Pi and the MDN guitar sample, on which Whisper
left to itself writes "Thank you for watching" and the like, and must write nothing.
"""

from __future__ import annotations

import itertools
import math
import pickle
import re
import unicodedata
import wave
from pathlib import Path

import numpy as np
import pytest

from processing.av import asr
from processing.av.asr import AsrError, Segment, Transcript
from processing.av.captions import parse_captions, text_width
from tests.conftest import CORPUS

AV = CORPUS / "av"
SPEECH = AV / "speech" / "librispeech_198-209-0000.hq.ogg"
REFERENCE = AV / "speech" / "librispeech_198-209-0000.ref.txt"
MUSIC = [*sorted((AV / "percussion_cc0").glob("*.flac")), AV / "mdn" / "guitar.ogg"]
MAX_WER = 0.30
needs_corpus = pytest.mark.skipif(not AV.is_dir(), reason=f"the A/V corpus is not at {AV}")


# Word error rate


def words(text: str) -> list[str]:
    """Lower case, punctuation gone, split on blanks: how the WER is scored."""
    return re.sub(r"[^\w\s]|_", " ", text.lower()).split()


def edit_distance(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref = words(reference)
    return edit_distance(ref, words(hypothesis)) / len(ref)


def test_the_word_error_rate_counts_substitutions_insertions_and_deletions() -> None:
    assert word_error_rate("a b c d", "A, b; c d!") == 0
    assert word_error_rate("a b c d", "a x c d") == 0.25
    assert word_error_rate("a b c d", "a b c") == 0.25
    assert word_error_rate("a b c d", "a b b c d e") == 0.5
    assert word_error_rate("a b", "") == 1


# Whisper on real recordings


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """The tiny English model; the first transcription loads it and later ones reuse it."""
    try:
        return asr.bundled_model_dir()
    except AsrError as exc:
        pytest.skip(exc.reason)


@pytest.fixture(scope="module")
def speech(model_dir: Path) -> tuple[Transcript, float]:
    samples = asr.decode_pcm(SPEECH)
    return asr.transcribe(samples, model_dir=model_dir), len(samples) / asr.SAMPLE_RATE


@pytest.mark.slow
@pytest.mark.corpus
@needs_corpus
def test_librispeech_is_transcribed_within_the_word_error_rate(
    speech: tuple[Transcript, float],
) -> None:
    transcript, _ = speech
    hypothesis = " ".join(segment.text for segment in transcript.segments)
    wer = word_error_rate(REFERENCE.read_text(encoding="utf-8"), hypothesis)
    assert wer <= MAX_WER, f"WER {wer:.3f} for {hypothesis!r}"
    assert transcript.language == "en"
    assert 0.5 <= transcript.language_probability <= 1.0


@pytest.mark.slow
@pytest.mark.corpus
@needs_corpus
def test_segments_are_in_order_inside_the_audio_and_clean(
    speech: tuple[Transcript, float], model_dir: Path
) -> None:
    transcript, duration = speech
    assert math.isclose(duration, 13.91, abs_tol=0.05)  # ffprobe's duration of the file
    segments = transcript.segments
    assert len(segments) >= 2
    previous_end = 0.0
    for segment in segments:
        assert previous_end <= segment.start < segment.end <= duration
        assert segment.text == segment.text.strip()
        assert unicodedata.is_normalized("NFC", segment.text)
        previous_end = segment.end
    # The captions run to within a second of the end, not stopping part way.
    assert segments[-1].end > duration - 1.0
    assert transcript.model.startswith(model_dir.name)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", transcript.created)
    # Our own parser accepts what our writer makes of them, with the same times.
    cues = parse_captions(asr.to_webvtt(segments).encode(), "speech.vtt")
    assert cues[0].start == round(segments[0].start, 3)
    assert cues[-1].end == round(segments[-1].end, 3)
    assert " ".join(cue.plain.replace("\n", " ") for cue in cues) == " ".join(
        segment.text for segment in segments
    )


@pytest.mark.slow
@pytest.mark.corpus
@needs_corpus
@pytest.mark.parametrize("path", MUSIC, ids=[path.name for path in MUSIC])
def test_music_gets_no_captions(path: Path, model_dir: Path) -> None:
    transcript = asr.transcribe(asr.decode_pcm(path), model_dir=model_dir)
    with_letters = [s.text for s in transcript.segments if any(ch.isalpha() for ch in s.text)]
    assert with_letters == []
    vtt = asr.to_webvtt(transcript.segments)
    assert not any(ch.isalpha() for ch in vtt.removeprefix("WEBVTT"))


@pytest.mark.slow
def test_silence_and_empty_audio_give_no_segments(model_dir: Path) -> None:
    for samples in (np.zeros(0, np.float32), np.zeros(3 * asr.SAMPLE_RATE, np.float32)):
        assert asr.transcribe(samples, model_dir=model_dir).segments == ()


@pytest.mark.slow
def test_the_model_is_loaded_once_per_directory_and_thread_count(model_dir: Path) -> None:
    silence = np.zeros(asr.SAMPLE_RATE, np.float32)
    asr.transcribe(silence, model_dir=model_dir)
    before = asr._load_model.cache_info()
    asr.transcribe(silence, model_dir=model_dir)
    after = asr._load_model.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)


@pytest.mark.slow
def test_an_english_only_model_refuses_other_languages(model_dir: Path) -> None:
    with pytest.raises(AsrError) as caught:
        asr.transcribe(np.zeros(16_000, np.float32), model_dir=model_dir, language="vi")
    assert caught.value.code == "asr_language"


def test_the_test_model_is_a_complete_local_directory(model_dir: Path) -> None:
    assert {"model.bin", "config.json", "tokenizer.json"} <= {p.name for p in model_dir.iterdir()}


def test_an_incomplete_model_directory_is_refused_before_loading(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(AsrError) as caught:
        asr.transcribe(np.zeros(16_000, np.float32), model_dir=tmp_path)
    assert caught.value.code == "asr_unavailable"
    assert "tokenizer.json" in caught.value.reason
    with pytest.raises(AsrError, match="no Whisper model directory"):
        asr.transcribe(np.zeros(16_000, np.float32), model_dir=tmp_path / "tiny.en")


def test_samples_must_be_one_channel(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1-D"):
        asr.transcribe(np.zeros((2, 100), np.float32), model_dir=tmp_path)


def test_the_model_label_adds_a_name_from_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"_name_or_path": "openai/whisper-small"}')
    assert asr.model_label(tmp_path) == f"{tmp_path.name} (whisper-small)"
    (tmp_path / "config.json").write_text('{"alignment_heads": [[1, 0]]}')
    assert asr.model_label(tmp_path) == tmp_path.name


# Decoding


def write_wav(path: Path, rate: int, channels: list[np.ndarray]) -> None:
    frames = np.stack(channels, axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(len(channels))
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((frames * 32767).astype("<i2").tobytes())


def test_decode_pcm_gives_mono_16_khz_float32(tmp_path: Path) -> None:
    rate = 44_100
    t = np.arange(rate * 2) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    # A colon in the name: without the file: prefix ffmpeg would take "take" as a protocol.
    path = tmp_path / "take:1.wav"
    write_wav(path, rate, [tone, np.zeros_like(tone)])
    samples = asr.decode_pcm(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - 2 * asr.SAMPLE_RATE) <= 16
    # Both channels are mixed in, each at -3 dB: the left one's 0.5 becomes 0.35. (Taking
    # the left channel alone would keep 0.5; averaging would give 0.25.)
    peak = float(np.max(np.abs(samples[1000:-1000])))
    assert math.isclose(peak, 0.5 / math.sqrt(2), rel_tol=0.03)
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * asr.SAMPLE_RATE / len(samples) - 440) < 2


def test_decode_pcm_reports_ffmpegs_reason(tmp_path: Path) -> None:
    text = tmp_path / "notes.bin"
    text.write_text("not audio at all\n" * 100)
    with pytest.raises(AsrError, match="not a supported video or audio container"):
        asr.decode_pcm(text)  # refused by its bytes: ffmpeg never sees it
    broken = tmp_path / "notes.wav"
    broken.write_bytes(b"RIFF" + (1000).to_bytes(4, "little") + b"WAVE" + b"junk" * 200)
    with pytest.raises(AsrError) as caught:
        asr.decode_pcm(broken)
    assert caught.value.code == "asr_decode_failed"
    assert "Invalid data found when processing input" in caught.value.reason
    assert "\n" not in caught.value.reason
    with pytest.raises(AsrError, match="No such file or directory"):
        asr.decode_pcm(tmp_path / "absent.ogg")
    restored = pickle.loads(pickle.dumps(caught.value))
    assert (restored.code, restored.reason) == (caught.value.code, caught.value.reason)


def test_decode_pcm_reads_local_files_only() -> None:
    for name in ("http://127.0.0.1:9/a.ogg", "pipe:0", "data:audio/ogg;base64,T2dnUw=="):
        with pytest.raises(AsrError) as caught:
            asr.decode_pcm(Path(name))
        assert caught.value.code == "asr_decode_failed"
        assert "No such file or directory" in caught.value.reason


def test_decode_pcm_times_out(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    write_wav(path, 16_000, [np.zeros(16_000 * 60)])
    with pytest.raises(AsrError) as caught:
        asr.decode_pcm(path, timeout=0.001)
    assert caught.value.code == "asr_timeout"


# Guards against invented text


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for watching!",
        "Thanks for watching.",
        "THANK YOU SO MUCH FOR WATCHING",
        "Thank you. Thank you.",
        "Subtitles by the Amara.org community",
        "I'll see you next time!",
        "Thank you so much for watching, and I'll see you in the next video.",
        "You",
        "[Music]",
        "Please subscribe to my channel.",
    ],
)
def test_known_hallucinations_are_recognised(text: str) -> None:
    assert asr.is_hallucination_phrase(text)


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for the gongs.",
        "You should see the longhouse.",
        "Mrs. Allen said Catherine the next morning.",
        "",
    ],
)
def test_ordinary_speech_is_not_taken_for_a_hallucination(text: str) -> None:
    assert not asr.is_hallucination_phrase(text)


CLEAR = {"no_speech_prob": 0.05, "avg_logprob": -0.3, "compression_ratio": 1.4}


def test_a_clear_segment_is_kept_even_when_it_says_thank_you() -> None:
    assert asr.drop_reason("Thank you.", speech_share=0.9, **CLEAR) is None
    assert asr.drop_reason("Mrs. Allen said Catherine.", speech_share=0.9, **CLEAR) is None


@pytest.mark.parametrize(
    ("text", "figures", "share", "why"),
    [
        ("Thank you for watching!", CLEAR, 0.3, "phrase"),  # Silero hears little speech
        ("Thank you for watching!", {**CLEAR, "no_speech_prob": 0.45}, 0.9, "phrase"),
        ("Real words here.", {**CLEAR, "no_speech_prob": 0.9}, 0.9, "no-speech"),
        ("Real words here.", {**CLEAR, "avg_logprob": -1.68}, 0.9, "log-probability"),
        ("la la la la la la", {**CLEAR, "compression_ratio": 3.1}, 0.9, "compression"),
        ("♪ ♪", CLEAR, 0.9, "no words"),
    ],
)
def test_doubtful_segments_are_dropped(
    text: str, figures: dict[str, float], share: float, why: str
) -> None:
    reason = asr.drop_reason(text, speech_share=share, **figures)
    assert reason is not None and why in reason


def test_speech_share_reads_the_windows_under_the_segment() -> None:
    probabilities = np.array([0.9] * 10 + [0.1] * 10, dtype=np.float32)  # 32 ms each
    assert asr.speech_share(probabilities, 0.0, 0.32) == 1.0
    assert asr.speech_share(probabilities, 0.32, 0.64) == 0.0
    assert asr.speech_share(probabilities, 0.16, 0.48) == 0.5
    assert asr.speech_share(probabilities, 5.0, 6.0) == 0.0  # past the end


# The WebVTT writer


def test_to_webvtt_writes_exactly_this() -> None:
    segments = [Segment(0.0, 1.5, "Hello, world."), Segment(1.5, 3.25, "Tom & <Jerry> >")]
    assert asr.to_webvtt(segments) == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.500\n"
        "Hello, world.\n"
        "\n"
        "00:00:01.500 --> 00:00:03.250\n"
        "Tom &amp; &lt;Jerry&gt; &gt;\n"
    )
    assert asr.to_webvtt([]) == "WEBVTT\n"


def test_hours_and_rounding_in_timestamps() -> None:
    vtt = asr.to_webvtt([Segment(3599.9996, 3723.0044, "late")])
    assert "01:00:00.000 --> 01:02:03.004\nlate\n" in vtt


def test_a_long_segment_becomes_several_cues_timed_in_proportion() -> None:
    text = "one two three four five six seven eight nine ten"
    assert asr.to_webvtt([Segment(0.0, 4.9, text)], max_line=10) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.900\none two\nthree four\n\n"
        "00:00:01.900 --> 00:00:03.400\nfive six\nseven\n\n"
        "00:00:03.400 --> 00:00:04.900\neight\nnine ten\n"
    )


def test_wrapping_keeps_words_whole_and_cues_in_order() -> None:
    text = " ".join(f"word{n}" for n in range(120)) + " " + "x" * 50
    segments = [Segment(10.0, 40.0, text), Segment(40.5, 41.0, "Short one.")]
    cues = parse_captions(asr.to_webvtt(segments).encode(), "a.vtt")
    assert len(cues) > 5
    assert cues[0].start == 10.0 and cues[-2].end == 40.0 and cues[-1].start == 40.5
    for before, after in itertools.pairwise(cues):
        assert before.start < before.end <= after.start < after.end
    lines = [line for cue in cues for line in cue.text.split("\n")]
    assert all(len(cue.text.split("\n")) <= 2 for cue in cues)
    assert all(len(line) <= 42 for line in lines if not line.startswith("xxx"))
    assert " ".join(lines) == text + " Short one."  # no word cut or lost
    # The time each cue gets follows its length: no cue is much faster to read than another.
    rates = [(len(cue.text) + 1) / (cue.end - cue.start) for cue in cues[:-1]]
    assert max(rates) / min(rates) < 1.1


def test_a_word_longer_than_a_line_is_not_cut() -> None:
    word = "Ea" + "ka" * 30
    vtt = asr.to_webvtt([Segment(0.0, 2.0, f"{word} end")], max_line=20)
    assert f"\n{word}\nend\n" in vtt


def test_a_segment_too_short_to_share_keeps_its_text_in_one_cue() -> None:
    vtt = asr.to_webvtt([Segment(1.0, 1.001, "a b c d e f g h")], max_line=3)
    cues = parse_captions(vtt.encode(), "a.vtt")
    assert [(c.start, c.end) for c in cues] == [(1.0, 1.001)]
    assert cues[0].plain.split() == list("abcdefgh")


VIETNAMESE = (
    "Không gian văn hóa Cồng chiêng Tây Nguyên được UNESCO công nhận là Kiệt tác truyền "
    "khẩu và phi vật thể của nhân loại năm 2005, và Đắk Lắk giữ hơn hai nghìn bộ chiêng."
)


def test_vietnamese_is_written_nfc_and_wrapped_by_letters_not_code_points() -> None:
    decomposed = unicodedata.normalize("NFD", VIETNAMESE)
    assert len(decomposed) > len(VIETNAMESE) + 30
    assert text_width(decomposed) == len(VIETNAMESE)
    from_nfd = asr.to_webvtt([Segment(0.0, 12.0, decomposed)])
    assert from_nfd == asr.to_webvtt([Segment(0.0, 12.0, VIETNAMESE)])
    assert unicodedata.is_normalized("NFC", from_nfd)
    cues = parse_captions(from_nfd.encode(), "vi.vtt")
    lines = [line for cue in cues for line in cue.text.split("\n")]
    assert all(len(line) <= 42 for line in lines)
    assert " ".join(lines) == VIETNAMESE
    assert "Đắk Lắk" in " ".join(lines)
