"""Audio guides: labels spoken by espeak-ng, then the audio pipeline like any recording."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from processing.av import guide
from processing.av.pipeline import AvOptions, process

pytestmark = pytest.mark.skipif(
    not Path(guide.ESPEAK).is_file(), reason="espeak-ng not found: install the Debian package"
)
LABEL_VI = "Không gian văn hóa Cồng chiêng Tây Nguyên"
LABEL_EN = "Space of Gong Culture in the Central Highlands"


def seconds_and_level(path: Path) -> tuple[float, float]:
    with wave.open(str(path)) as sound:
        frames = sound.readframes(sound.getnframes())
        rate = sound.getframerate()
    samples = np.frombuffer(frames, "<i2").astype(np.float64)
    return len(samples) / rate, float(np.sqrt(np.mean(samples**2)))


@pytest.mark.parametrize(("label", "language"), [(LABEL_VI, "vi"), (LABEL_EN, "en")])
def test_a_label_is_spoken_in_its_language(tmp_path: Path, label: str, language: str) -> None:
    wav = guide.speak(label, language, tmp_path / "guide.wav")
    seconds, level = seconds_and_level(wav)
    assert 1.5 < seconds < 10 and level > 500  # speech, not silence
    again = guide.speak(label, language, tmp_path / "again.wav")
    assert again.read_bytes() == wav.read_bytes()  # same text, same sound: made once


def test_a_changed_label_names_another_guide() -> None:
    key = guide.guide_key(LABEL_VI, "vi")
    assert key == guide.guide_key(f"  {LABEL_VI}\n", "vi")  # whitespace is not a change
    assert key != guide.guide_key(LABEL_VI + " Đắk Lắk", "vi")
    assert key != guide.guide_key(LABEL_VI, "en")


def test_text_goes_through_a_file_never_the_command_line(tmp_path: Path) -> None:
    hostile = "--help -w /tmp/owned.wav; $(touch /tmp/owned) `id`"
    wav = guide.speak(hostile, "en", tmp_path / "hostile.wav")
    assert seconds_and_level(wav)[0] > 1.0
    assert not Path("/tmp/owned").exists() and not Path("/tmp/owned.wav").exists()


@pytest.mark.parametrize(
    ("text", "language", "code"),
    [
        ("", "vi", "empty_text"),
        ("x" * 5000, "vi", "text_too_long"),
        ("Hello", "fr", "unsupported_language"),
    ],
)
def test_bad_requests_are_refused(tmp_path: Path, text: str, language: str, code: str) -> None:
    with pytest.raises(guide.GuideError) as refused:
        guide.speak(text, language, tmp_path / "x.wav")
    assert refused.value.code == code


def test_a_spoken_guide_becomes_hls_audio(tmp_path: Path) -> None:
    wav = guide.speak(LABEL_VI, "vi", tmp_path / "guide.wav")
    report = process(wav, tmp_path / "out", AvOptions(captions=False))
    assert report["kind"] == "audio"
    (audio,) = report["statistics"]["renditions"]
    assert audio["codecs"] == "mp4a.40.2" and audio["segments"] >= 1
    assert (tmp_path / "out" / "master.m3u8").is_file()
