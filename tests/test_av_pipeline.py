"""The video/audio pipeline end to end: ``museum process`` as a user runs it, in the sandbox."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from processing.av import waveform
from processing.av.pipeline import AvOptions
from processing.av.probe import FFMPEG
from processing.runner import Failure, process_av
from processing.sandbox import ChildLimits
from tests.conftest import CORPUS
from tests.test_av_hls import ffprobe_json, make_clip
from tests.test_cli import run_museum

pytestmark = pytest.mark.skipif(
    not Path(FFMPEG).is_file(), reason="ffmpeg not found: install the Debian package ffmpeg"
)
LIMITS = ChildLimits(memory_bytes=4 * 1024**3, cpu_seconds=300, wall_seconds=300, threads=2)


def test_cli_process_writes_the_hls_tree_and_a_report_listing_every_file(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "gong.mov", size="1280x720", seconds=5, volume_db=-28)
    out = tmp_path / "out"
    result = run_museum(tmp_path, "process", str(source), "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        "audio/index.m3u8",
        "720p/index.m3u8",
        "480p/index.m3u8",
        "360p/index.m3u8",
    ]
    report = json.loads((out / "report.json").read_text())
    assert (report["status"], report["pipeline"], report["kind"]) == ("ok", "av", "video")
    assert report["source"]["video"]["display_width"] == 1280
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    listed = {a["path"] for a in report["artefacts"]}
    assert listed == written - {"report.json"}
    for artefact in report["artefacts"]:
        data = (out / artefact["path"]).read_bytes()
        assert artefact["bytes"] == len(data)
        assert artefact["sha256"] == hashlib.sha256(data).hexdigest()
    roles = {a["role"] for a in report["artefacts"]}
    assert roles == {
        "master",
        "playlist",
        "init",
        "segment",
        "poster",
        "thumbnail-sprite",
        "thumbnails-track",
    }
    loudness = report["statistics"]["loudness"]
    assert loudness["before"]["integrated_lufs"] < -24
    assert abs(loudness["after"]["integrated_lufs"] - loudness["target_lufs"]) < 1
    assert abs(report["statistics"]["duration"] - 5.0) < 0.1


def test_an_audio_item_is_one_aac_rendition_a_waveform_and_a_download(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "khan.wav", seconds=4, volume_db=-12, extra=("-vn",))
    out = tmp_path / "out"
    report = process_av(source, out, AvOptions(download=True), LIMITS)
    assert report["kind"] == "audio"
    (audio,) = report["statistics"]["renditions"]
    assert audio["codecs"] == "mp4a.40.2" and abs(audio["duration"] - 4.0) < 0.2
    master = (out / "master.m3u8").read_text()
    assert "#EXT-X-STREAM-INF:BANDWIDTH=" in master and 'CODECS="mp4a.40.2"' in master
    assert "audio/index.m3u8" in master and "RESOLUTION" not in master
    peaks = json.loads((out / "waveform.json").read_text())
    assert (peaks["version"], peaks["channels"], peaks["bits"]) == (2, 1, 8)
    assert abs(peaks["length"] - 4.0 * 20) <= 2 and len(peaks["data"]) == 2 * peaks["length"]
    lows, highs = peaks["data"][0::2], peaks["data"][1::2]
    assert all(-128 <= low <= high <= 127 for low, high in zip(lows, highs, strict=True))
    # a steady tone at -16 LUFS: about a sixth of full scale, the same all along
    assert max(highs) > 15 and max(highs) - min(highs[2:-2]) <= 2, highs
    download = ffprobe_json(out / "download.opus", "-show_format", "-show_streams")
    assert download["streams"][0]["codec_name"] == "opus"
    assert abs(float(download["format"]["duration"]) - 4.0) < 0.2
    roles = {a["role"] for a in report["artefacts"]}
    assert {"waveform", "download"} <= roles
    quiet = process_av(source, tmp_path / "no-download", AvOptions(), LIMITS)
    assert "download" not in {a["role"] for a in quiet["artefacts"]}


def test_waveform_pairs_are_the_min_and_max_of_each_stretch(tmp_path: Path) -> None:
    raw = tmp_path / "ramp.raw"
    samples = np.concatenate([np.arange(-200, 200) * 80, np.full(50, 32767)]).astype("<i2")
    raw.write_bytes(samples.tobytes())
    found = waveform.peaks(raw, duration=len(samples) / waveform.SAMPLE_RATE)
    per = found["samples_per_pixel"]
    assert per == waveform.SAMPLE_RATE // waveform.PAIRS_PER_SECOND == 200
    assert found["data"] == [-63, -1, 0, 62, 127, 127]  # two full stretches, then the rest
    assert waveform.samples_per_pair(10 * 3600) > per  # long recordings: coarser pairs


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("playlist.mp4", "#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:9/a.ts\n", "unsupported_format"),
        ("list.mkv", "ffconcat version 1.0\nfile '/etc/passwd'\n", "unsupported_format"),
        ("empty.mp3", "", "unsupported_format"),
    ],
)
def test_hostile_inputs_exit_non_zero_with_the_reason_in_both_languages(
    tmp_path: Path, name: str, content: str, code: str
) -> None:
    source = tmp_path / name
    source.write_text(content)
    out = tmp_path / "out"
    refused = run_museum(tmp_path, "process", str(source), "--out", str(out))
    assert refused.returncode == 1
    assert f"({code}:" in " ".join(refused.stderr.split()), refused.stderr
    report = json.loads((out / "report.json").read_text())
    assert (report["status"], report["pipeline"], report["error"]["code"]) == ("failed", "av", code)
    english = run_museum(
        tmp_path, "process", str(source), "--out", str(tmp_path / "en"), "--kind", "video",
        env={"MUSEUM_LANGUAGE": "en"},
    )  # fmt: skip
    assert english.returncode == 1 and "Refused" in english.stderr
    vietnamese = run_museum(
        tmp_path, "process", str(source), "--out", str(tmp_path / "vi"), "--kind", "video",
        env={"MUSEUM_LANGUAGE": "vi"},
    )  # fmt: skip
    assert vietnamese.returncode == 1 and "Bị từ chối" in vietnamese.stderr


def test_a_refused_input_leaves_only_its_report(tmp_path: Path) -> None:
    whole = make_clip(tmp_path / "whole.mp4", seconds=4, extra=("-movflags", "+faststart"))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = tmp_path / "out"
    with pytest.raises(Failure) as refused:
        process_av(cut, out, AvOptions(), LIMITS)
    assert refused.value.code == "malformed" and "truncated" in refused.value.reason
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert not list(tmp_path.glob(".out.partial-*"))


def test_the_poster_skips_a_black_opening_and_thumbnails_cover_the_film(tmp_path: Path) -> None:
    source = tmp_path / "opening.mp4"
    graph = (
        "color=c=black:s=640x360:d=3:r=25[black];testsrc2=s=640x360:d=5:r=25[film];"
        "[black][film]concat=n=2:v=1:a=0"
    )
    subprocess.run(
        [FFMPEG, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", graph,
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(source)],
        check=True,
        timeout=120,
    )  # fmt: skip
    out = tmp_path / "out"
    report = process_av(source, out, AvOptions(), LIMITS)
    poster = report["statistics"]["poster"]
    assert poster["time"] > 3.0, poster  # not the black opening
    assert (poster["width"], poster["height"]) == (640, 360)
    with Image.open(out / "poster.jpg") as image:
        assert image.size == (640, 360) and np.asarray(image.convert("L")).std() > 20
    plan = report["statistics"]["thumbnails"]
    assert plan["count"] == 8 and plan["sheets"] == 1  # one a second over 8 s
    cues = (out / "thumbnails" / "thumbnails.vtt").read_text().split("\n\n")[1:]
    cues = [cue for cue in cues if cue.strip()]
    assert len(cues) == plan["count"]
    assert cues[0].startswith("00:00:00.000 --> ") and "00:00:08.0" in cues[-1]
    with Image.open(out / "thumbnails" / "sprite_000.jpg") as sheet:
        grey = np.asarray(sheet.convert("L"), dtype=np.float32)
    for cue in cues:
        x, y, w, h = (int(v) for v in cue.rsplit("#xywh=", 1)[1].split(","))
        assert (w, h) == (160, 90) and x + w <= grey.shape[1] and y + h <= grey.shape[0]
    # the first three seconds are black cells, the rest are the test pattern
    means = [grey[0:90, x : x + 160].mean() for x in range(0, 8 * 160, 160)]
    assert max(means[:3]) < 20 < min(means[3:]), means
    roles = {a["role"] for a in report["artefacts"]}
    assert {"poster", "thumbnail-sprite", "thumbnails-track"} <= roles


SPEECH = CORPUS / "av" / "speech" / "librispeech_198-209-0000.hq.ogg"
GUITAR = CORPUS / "av" / "mdn" / "guitar.ogg"


@pytest.mark.slow
@pytest.mark.corpus
def test_speech_gets_a_draft_caption_track_and_music_none(tmp_path: Path) -> None:
    if not SPEECH.is_file():
        pytest.skip(f"{SPEECH} not found: the corpus (../shared/corpus) is not beside the project")
    out = tmp_path / "speech"
    report = process_av(SPEECH, out, AvOptions(), LIMITS)
    speech = report["statistics"]["speech"]
    assert (speech["language"], speech["draft"]) == ("en", True)
    assert speech["model"] and speech["created"].endswith(("Z", "+00:00"))
    assert len(speech["segments"]) >= 2 and "catherine" in speech["segments"][0]["text"].lower()
    master = (out / "master.m3u8").read_text()
    assert '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs"' in master and 'LANGUAGE="en"' in master
    assert 'SUBTITLES="subs"' in master
    playlist = (out / "captions.en.m3u8").read_text()
    assert "captions.en.vtt" in playlist and playlist.rstrip().endswith("#EXT-X-ENDLIST")
    vtt = (out / speech["captions"]).read_text()
    assert vtt.startswith("WEBVTT") and vtt.count(" --> ") >= len(speech["segments"])
    assert "captions-draft" in {a["role"] for a in report["artefacts"]}
    music = process_av(GUITAR, tmp_path / "guitar", AvOptions(), LIMITS)
    assert music["statistics"]["speech"]["segments"] == []
    assert "SUBTITLES" not in (tmp_path / "guitar" / "master.m3u8").read_text()
    assert not list((tmp_path / "guitar").glob("captions.*"))


def test_a_missing_model_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "talk.mp4", seconds=2)
    options = AvOptions(asr_model=str(tmp_path / "no-such-model"))
    report = process_av(source, tmp_path / "out", options, LIMITS)
    assert report["status"] == "ok" and report["statistics"]["speech"] is None
    assert any(w.startswith("No captions:") for w in report["warnings"]), report["warnings"]
