"""Every container issue 6 names goes through the whole pipeline: recognised from its bytes,
opened with its own demuxer, and turned into HLS of the right length.

Each input is a 2 s clip ffmpeg generates here in that container with a codec people put in
it (so this runs without the corpus); the names are wrong on purpose for two of them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from processing.av.hls import playlist_segments
from processing.av.pipeline import AvOptions, process
from processing.av.probe import FFMPEG, FFPROBE, probe_media

pytestmark = pytest.mark.skipif(
    not (Path(FFMPEG).is_file() and Path(FFPROBE).is_file()),
    reason="ffmpeg not found: install the Debian package ffmpeg",
)
SECONDS = 2.0
PICTURE = ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={SECONDS}"]
SOUND = ["-f", "lavfi", "-i", f"sine=frequency=330:duration={SECONDS}:sample_rate=44100"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
# (file name, ffmpeg output arguments, the demuxer the probe must choose)
VIDEO = [
    ("clip.mp4", [*H264, "-c:a", "aac"], "mov"),
    ("clip.mov", [*H264, "-c:a", "aac", "-f", "mov"], "mov"),
    ("clip.mkv", [*H264, "-c:a", "libvorbis"], "matroska"),
    ("clip.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"], "matroska"),
    ("clip.avi", ["-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame"], "avi"),
    ("clip.ts", [*H264, "-c:a", "aac", "-f", "mpegts"], "mpegts"),
    ("webm-named.mp4", ["-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libvorbis",
                        "-f", "webm"], "matroska"),
]  # fmt: skip
AUDIO = [
    ("take.wav", ["-c:a", "pcm_s16le"], "wav"),
    ("take.flac", ["-c:a", "flac"], "flac"),
    ("take.mp3", ["-c:a", "libmp3lame"], "mp3"),
    ("take.ogg", ["-c:a", "libvorbis"], "ogg"),
    ("take.m4a", ["-c:a", "aac"], "mov"),
    ("take.opus", ["-c:a", "libopus", "-f", "ogg"], "ogg"),
    ("flac-named.mp3", ["-c:a", "flac", "-f", "flac"], "flac"),
]
OPTIONS = AvOptions(captions=False)


def generate(path: Path, inputs: list[str], output: list[str]) -> Path:
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs, *output]
    subprocess.run([*argv, str(path)], check=True, timeout=120)
    return path


def segments_seconds(folder: Path, playlist: str) -> float:
    return sum(duration for duration, _ in playlist_segments(folder / playlist))


@pytest.mark.parametrize(("name", "output", "demuxer"), VIDEO, ids=[v[0] for v in VIDEO])
def test_every_video_container_becomes_hls(
    tmp_path: Path, name: str, output: list[str], demuxer: str
) -> None:
    source = generate(tmp_path / name, [*PICTURE, *SOUND], output)
    probe = probe_media(source)
    assert (probe.kind, probe.demuxer) == ("video", demuxer)
    report = process(source, tmp_path / "out", OPTIONS)
    assert report["status"] == "ok" and report["kind"] == "video"
    renditions = {r["name"]: r for r in report["statistics"]["renditions"]}
    assert list(renditions) == ["audio", "240p"]
    assert (renditions["240p"]["width"], renditions["240p"]["height"]) == (320, 240)
    for rendition in renditions.values():
        seconds = segments_seconds(tmp_path / "out", rendition["playlist"])
        assert abs(seconds - probe.duration) <= 0.2, rendition["name"]
    assert (tmp_path / "out" / "master.m3u8").is_file()
    assert (tmp_path / "out" / "poster.jpg").is_file()


@pytest.mark.parametrize(("name", "output", "demuxer"), AUDIO, ids=[a[0] for a in AUDIO])
def test_every_audio_container_becomes_hls_audio(
    tmp_path: Path, name: str, output: list[str], demuxer: str
) -> None:
    source = generate(tmp_path / name, SOUND, output)
    probe = probe_media(source)
    assert (probe.kind, probe.demuxer) == ("audio", demuxer)
    report = process(source, tmp_path / "out", OPTIONS)
    assert report["status"] == "ok" and report["kind"] == "audio"
    (rendition,) = report["statistics"]["renditions"]
    assert rendition["codecs"].startswith("mp4a.40")
    assert abs(segments_seconds(tmp_path / "out", rendition["playlist"]) - SECONDS) <= 0.2
    assert (tmp_path / "out" / "waveform.json").is_file()
