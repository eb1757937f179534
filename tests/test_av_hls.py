"""Video probing, the ladder and the one-run HLS encode, on generated clips and hostile files.

Clips are generated with ffmpeg's test sources (a moving pattern, a tone at a known
loudness), so these run without the corpus.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from processing.av import hls
from processing.av.ladder import RUNGS, ladder
from processing.av.probe import FFMPEG, FFPROBE, MediaError, probe_media

pytestmark = pytest.mark.skipif(
    not (Path(FFMPEG).is_file() and Path(FFPROBE).is_file()),
    reason="ffmpeg not found: install the Debian package ffmpeg",
)
IN_OPEN, IN_ACCESS = 0x20, 0x01


def make_clip(
    path: Path,
    size: str = "640x360",
    seconds: float = 6.0,
    rate: int = 30,
    volume_db: float = -24.0,
    extra: tuple[str, ...] = (),
    audio: bool = True,
) -> Path:
    """A test pattern with a 440 Hz tone, H.264 + AAC (or as ``extra`` says)."""
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    argv += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=48000"]
        argv += ["-af", f"volume={volume_db}dB"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *extra, str(path)]
    subprocess.run(argv, check=True, timeout=120)
    return path


def ffprobe_json(path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [FFPROBE, "-v", "error", *args, "-of", "json", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def joined(folder: Path, name: str) -> Path:
    """A rung's init segment and media segments as one fMP4 file ffprobe can read."""
    playlist = folder / name / "index.m3u8"
    text = playlist.read_text()
    init = text.split('#EXT-X-MAP:URI="', 1)[1].split('"', 1)[0]
    target = folder / f"{name}-joined.mp4"
    with target.open("wb") as out:
        out.write((folder / name / init).read_bytes())
        for _, segment in hls.playlist_segments(playlist):
            out.write((folder / name / segment).read_bytes())
    return target


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, list, object, object]:  # type: ignore[type-arg]
    work = tmp_path_factory.mktemp("hls")
    source = make_clip(work / "clip.mp4", size="960x540", seconds=9.0, volume_db=-30.0)
    probe = probe_media(source)
    assert probe.video is not None
    rungs = ladder(*probe.video.display_size, probe.video.frame_rate)
    before = hls.measure_loudness(probe)
    audio, after = hls.encode_audio(probe, work / "hls", before)
    renditions = audio + hls.encode_ladder(probe, rungs, work / "hls")
    hls.write_master(work / "hls", renditions, probe.video.frame_rate)
    return work / "hls", probe, renditions, before, after


# The ladder (pure)


@pytest.mark.parametrize(
    ("size", "names"),
    [
        ((1920, 1080), ["1080p", "720p", "480p", "360p"]),
        ((3840, 2160), ["1080p", "720p", "480p", "360p"]),  # capped, never 4K
        ((1280, 720), ["720p", "480p", "360p"]),
        ((960, 540), ["540p", "480p", "360p"]),  # the source's own size between two rungs
        ((1080, 1920), ["1080p", "720p", "480p", "360p"]),  # portrait: by the short side
        ((320, 240), ["240p"]),  # smaller than every rung: its own size only
    ],
)
def test_the_ladder_never_upscales_and_keeps_the_aspect(
    size: tuple[int, int], names: list[str]
) -> None:
    rungs = ladder(*size)
    assert [rung.name for rung in rungs] == names
    for rung in rungs:
        assert rung.width <= size[0] and rung.height <= size[1]
        assert rung.width % 2 == 0 and rung.height % 2 == 0
        assert abs(rung.width / rung.height - size[0] / size[1]) < 0.01
        assert rung.max_kbps > rung.video_kbps
    rates = [rung.video_kbps for rung in rungs]
    assert rates == sorted(rates, reverse=True)
    assert max(rates) <= max(kbps for _, kbps in RUNGS)


# Probing and refusals


def test_a_rotated_phone_video_is_shown_upright(tmp_path: Path) -> None:
    stored = make_clip(tmp_path / "stored.mp4", size="640x360", seconds=2)
    source = tmp_path / "phone.mp4"  # as a phone held upright writes it: a rotation tag
    subprocess.run(
        [FFMPEG, "-nostdin", "-loglevel", "error", "-i", str(stored), "-c", "copy",
         "-metadata:s:v:0", "rotate=90", str(source)],
        check=True,
        timeout=60,
    )  # fmt: skip
    probe = probe_media(source)
    assert probe.video is not None and probe.video.rotation in (90, 270)
    assert probe.video.display_size == (360, 640)
    rungs = ladder(*probe.video.display_size)
    hls.encode_ladder(probe, rungs, tmp_path / "hls")
    stream = ffprobe_json(joined(tmp_path / "hls", rungs[0].name), "-show_streams")["streams"][0]
    assert (stream["width"], stream["height"]) == (360, 640)
    assert not any("rotation" in side for side in stream.get("side_data_list", []))


class Watch:
    """Linux inotify on one file: did anything open or read it?"""

    def __init__(self, path: Path) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(self.fd, str(path).encode(), IN_OPEN | IN_ACCESS) >= 0

    def touched(self) -> bool:
        try:
            return bool(os.read(self.fd, 4096))
        except BlockingIOError:
            return False
        finally:
            os.close(self.fd)


def test_a_playlist_or_concat_list_in_disguise_is_refused_without_following_it(
    tmp_path: Path,
) -> None:
    canary = make_clip(tmp_path / "canary.ts", seconds=1, extra=("-f", "mpegts"))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    hostile = {
        "playlist.mp4": (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n"
            f"file://{canary}\n#EXTINF:1,\nhttp://127.0.0.1:{port}/segment.ts\n#EXT-X-ENDLIST\n"
        ),
        "list.mkv": f"ffconcat version 1.0\nfile '{canary}'\nfile 'http://127.0.0.1:{port}/a.mp4'\n",
        "urls.webm": f"http://127.0.0.1:{port}/video.webm\n",
    }
    for name, text in hostile.items():
        path = tmp_path / name
        path.write_text(text)
        watch = Watch(canary)
        with pytest.raises(MediaError) as refused:
            probe_media(path)
        assert refused.value.code == "unsupported_format", name
        assert "not a supported video or audio container" in refused.value.reason
        assert not watch.touched(), f"{name}: the canary was opened"
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing connected to the loopback listener
    listener.close()


def test_a_truncated_mp4_is_refused_with_a_reason(tmp_path: Path) -> None:
    whole = make_clip(tmp_path / "whole.mp4", seconds=6)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: gone
    with pytest.raises(MediaError) as refused:
        probe_media(cut)
    assert refused.value.code == "malformed" and "cut.mp4" in refused.value.reason
    # With the index first ("faststart"), the file probes whole but decodes short.
    fast = make_clip(tmp_path / "fast.mp4", seconds=6, extra=("-movflags", "+faststart"))
    data = fast.read_bytes()
    cut_fast = tmp_path / "cut-fast.mp4"
    cut_fast.write_bytes(data[: len(data) // 2])
    probe = probe_media(cut_fast)
    assert probe.video is not None
    with pytest.raises(MediaError, match="truncated"):
        hls.encode_ladder(probe, ladder(640, 360), tmp_path / "hls")


def test_audio_files_and_cover_art(tmp_path: Path) -> None:
    tone = tmp_path / "tone.m4a"
    subprocess.run(
        [FFMPEG, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=2",
         "-c:a", "aac", str(tone)],
        check=True,
        timeout=60,
    )  # fmt: skip
    probe = probe_media(tone)
    assert (probe.kind, probe.video, probe.demuxer) == ("audio", None, "mov")
    assert probe.audio is not None and abs(probe.duration - 2.0) < 0.1


# The encode


def test_segments_add_up_to_the_source_in_every_rung(encoded) -> None:  # type: ignore[no-untyped-def]
    folder, probe, renditions, _, _ = encoded
    assert [r.name for r in renditions] == ["audio", "540p", "480p", "360p"]
    for rendition in renditions:
        durations = [d for d, _ in hls.playlist_segments(folder / rendition.playlist)]
        assert abs(sum(durations) - probe.duration) <= 0.2, rendition.name
        assert max(durations) <= hls.SEGMENT_SECONDS + 0.1


def test_no_rung_exceeds_the_source_and_keyframes_line_up(encoded) -> None:  # type: ignore[no-untyped-def]
    folder, probe, renditions, _, _ = encoded
    keyframes = {}
    for rendition in renditions[1:]:
        path = joined(folder, rendition.name)
        stream = ffprobe_json(path, "-show_streams")["streams"][0]
        assert (stream["width"], stream["height"]) == (rendition.width, rendition.height)
        assert stream["width"] <= 960 and stream["height"] <= 540
        packets = ffprobe_json(
            path, "-select_streams", "v", "-show_entries", "packet=pts_time,flags"
        )
        keyframes[rendition.name] = [
            round(float(p["pts_time"]), 3) for p in packets["packets"] if "K" in p["flags"]
        ]
    first = next(iter(keyframes.values()))
    assert len(first) >= probe.duration / hls.KEYFRAME_SECONDS - 1
    assert all(times == first for times in keyframes.values()), keyframes
    gaps = {round(b - a, 2) for a, b in itertools.pairwise(first)}
    assert gaps <= {hls.KEYFRAME_SECONDS}, gaps  # forced keyframes only, no scene cuts


def test_the_master_playlist_describes_each_rung(encoded) -> None:  # type: ignore[no-untyped-def]
    folder, _, renditions, _, _ = encoded
    text = (folder / "master.m3u8").read_text()
    entries = [line for line in text.splitlines() if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(entries) == 3
    assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"' in text
    for entry, rendition in zip(entries, renditions[1:], strict=True):
        attributes = dict(
            part.split("=", 1)
            for part in entry.split(":", 1)[1].replace('"', "").split(",")
            if "=" in part
        )
        assert int(attributes["BANDWIDTH"]) >= int(attributes["AVERAGE-BANDWIDTH"]) > 0
        assert attributes["RESOLUTION"] == f"{rendition.width}x{rendition.height}"
        assert attributes["CODECS"].startswith("avc1.")
        assert attributes["AUDIO"] == "audio"
    assert "mp4a.40.2" in text


def test_the_audio_is_brought_to_the_loudness_target(encoded) -> None:  # type: ignore[no-untyped-def]
    _, _, _, before, after = encoded
    assert before is not None and after is not None
    assert before.integrated < hls.LOUDNESS_TARGET - 8  # the clip was made quiet
    assert abs(after.integrated - hls.LOUDNESS_TARGET) < 1.0
    assert after.true_peak <= hls.TRUE_PEAK + 0.5
