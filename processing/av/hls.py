"""A video's HLS ladder in one ffmpeg run: decoded once, split, scaled, encoded per rung.

One ffmpeg process decodes the source once and a ``split`` filter feeds every rung's
scaler and H.264 encoder (running one ffmpeg per rung decodes the source again for
each). The audio is loudness-normalised once (EBU R128, ``loudnorm`` in linear mode
from a first, audio-only measuring pass) and encoded once as AAC, an audio group
every rung refers to. Keyframes are forced every :data:`KEYFRAME_SECONDS` on the
source's timeline, with scene-cut keyframes off, so segment boundaries fall at the
same instants in every rung and a player can switch between them anywhere.

Segments are fMP4 (CMAF) ``.m4s`` files with an ``init.mp4`` per rung. ffmpeg writes
the rung playlists; :func:`write_master` writes ``master.m3u8`` from what was
actually written: BANDWIDTH is the busiest segment's bit rate and AVERAGE-BANDWIDTH
the whole rung's (video + audio), as RFC 8216 defines them, with CODECS, RESOLUTION
and FRAME-RATE.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processing.av.ladder import Rung
from processing.av.probe import FFMPEG, MediaError, MediaProbe, run_ffmpeg
from processing.av.thumbs import CANDIDATE_NAME, SPRITE_NAME, PosterPlan, SpritePlan

KEYFRAME_SECONDS = 2.0
SEGMENT_SECONDS = 4  # a multiple of KEYFRAME_SECONDS: every segment starts on a forced keyframe
AUDIO_KBPS = 128
AUDIO_RATE = 48000
LOUDNESS_TARGET = -16.0  # LUFS, integrated: the usual target for web and mobile listening
TRUE_PEAK = -1.5  # dBTP
LOUDNESS_RANGE = 11.0  # LU
AUDIO_NAME = "audio"
AUDIO_CODECS = "mp4a.40.2"  # AAC-LC
DOWNLOAD_KBPS = 96  # Opus: transparent for speech and most music at this rate
WAVEFORM_RATE = 4000  # processing.av.waveform.SAMPLE_RATE
MASTER = "master.m3u8"
PLAYLIST = "index.m3u8"
X264_PRESET = "veryfast"
MAX_FPS = 60.0
TRUNCATION_SECONDS = 1.0  # decodable length this much short of the stated one: cut short


@dataclass(frozen=True)
class Loudness:
    """An EBU R128 measurement (``loudnorm``'s): integrated, true peak, range, threshold."""

    integrated: float
    true_peak: float
    range: float
    threshold: float
    offset: float

    @classmethod
    def from_loudnorm(cls, values: dict[str, Any], side: str) -> Loudness:
        """``loudnorm``'s JSON for its ``input`` or its ``output``."""
        return cls(
            integrated=_db(values.get(f"{side}_i")),
            true_peak=_db(values.get(f"{side}_tp")),
            range=_db(values.get(f"{side}_lra")),
            threshold=_db(values.get(f"{side}_thresh")),
            offset=_db(values.get("target_offset")),
        )

    def as_report(self) -> dict[str, float]:
        return {
            "integrated_lufs": round(self.integrated, 2),
            "true_peak_dbtp": round(self.true_peak, 2),
            "range_lu": round(self.range, 2),
        }


@dataclass(frozen=True)
class Rendition:
    """What one rung came out as, measured from its files."""

    name: str
    playlist: str  # relative to the HLS folder
    width: int | None
    height: int | None
    codecs: str
    bytes: int
    duration: float
    peak_bps: int
    average_bps: int
    segments: int


def measure_loudness(probe: MediaProbe, target: float = LOUDNESS_TARGET) -> Loudness | None:
    """The first audio stream's loudness (an audio-only pass); None for silence or no audio."""
    if probe.audio is None:
        return None
    argv = [
        FFMPEG,
        "-nostdin",
        "-hide_banner",
        "-nostats",
        *probe.input_args(),
        "-map",
        "0:a:0",
        "-af",
        f"loudnorm=I={target}:TP={TRUE_PEAK}:LRA={LOUDNESS_RANGE}:print_format=json",
        "-f",
        "null",
        "-",
    ]
    stderr = run_ffmpeg(argv, timeout=_timeout(probe), what="measuring the loudness")
    values = _loudnorm_json(stderr)
    measured = Loudness.from_loudnorm(values, "input")
    if measured.integrated < -70:  # silence: nothing to normalise (loudnorm cannot)
        return None
    return measured


def ladder_command(
    probe: MediaProbe,
    rungs: list[Rung],
    folder: Path,
    sprites: tuple[SpritePlan, Path] | None = None,
    posters: tuple[PosterPlan, Path] | None = None,
) -> list[str]:
    """The one ffmpeg command that writes every video rung into ``folder``; given
    ``sprites`` (a plan and a folder), the scrubbing thumbnails' sheets; given ``posters``,
    full-size poster candidates (needing ``sprites`` too).

    The source is decoded once and scaled down a step at a time: each rung is scaled from
    the one above it (1080p → 720p → 480p → 360p), not from the source, and the thumbnails
    from the smallest rung, which is a third less scaling for the same pictures. The audio
    is not here: :func:`encode_audio` writes it in its own, much smaller run alongside.
    """
    if probe.video is None or not rungs:
        raise ValueError("a ladder needs a video stream and at least one rung")
    poster = sprites is not None and posters is not None
    graph: list[str] = []
    head = f"[0:v:0]{_fps_cap(probe)}"
    if poster:
        assert posters is not None and sprites is not None
        graph.append(f"{head}split=2[top][full]")
        graph.append(f"[full]{posters[0].filter(sprites[0])}[poster]")
        head = "[top]"
    for i, rung in enumerate(rungs):
        tail = i == len(rungs) - 1
        outputs = f"[v{i}]" + ("" if tail and not sprites else f"[n{i}]")
        fork = "" if outputs.count("[") == 1 else ",split=2"
        source = head if i == 0 else f"[n{i - 1}]"
        graph.append(
            f"{source}scale={rung.width}:{rung.height}:flags=bicubic,setsar=1,format=yuv420p"
            f"{fork}{outputs}"
        )
    if sprites:
        graph.append(f"[n{len(rungs) - 1}]{sprites[0].filter()}[sprite]")
    maps: list[str] = []
    for i, _rung in enumerate(rungs):
        maps += ["-map", f"[v{i}]"]
    stream_map = [f"v:{i},name:{rung.name}" for i, rung in enumerate(rungs)]
    gop = max(1, round(min(probe.video.frame_rate, MAX_FPS) * KEYFRAME_SECONDS))
    argv = [
        FFMPEG,
        "-nostdin",
        "-hide_banner",
        "-nostats",
        *probe.input_args(),
        "-filter_complex",
        ";".join(graph),
        *maps,
        "-c:v",
        "libx264",
        "-preset",
        X264_PRESET,
        "-profile:v",
        "high",
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{KEYFRAME_SECONDS:g})",
    ]
    for i, rung in enumerate(rungs):
        argv += [
            f"-b:v:{i}",
            f"{rung.video_kbps}k",
            f"-maxrate:v:{i}",
            f"{rung.max_kbps}k",
            f"-bufsize:v:{i}",
            f"{rung.buffer_kbits}k",
        ]
    argv += [
        "-map_metadata",
        "-1",
        *_hls_output_args(),
        "-var_stream_map",
        " ".join(stream_map),
        "-master_pl_name",
        "ffmpeg-master.m3u8",
        "-hls_segment_filename",
        str(folder / "%v" / "seg_%05d.m4s"),
        str(folder / "%v" / PLAYLIST),
    ]
    if sprites:
        sheets = sprites[1]
        argv += ["-map", "[sprite]", "-c:v", "mjpeg", "-q:v", "4", "-map_metadata", "-1"]
        argv += ["-f", "image2", "-start_number", "0", str(sheets / SPRITE_NAME)]
        if posters:
            argv += ["-map", "[poster]", "-c:v", "mjpeg", "-q:v", "3", "-map_metadata", "-1"]
            argv += ["-f", "image2", "-start_number", "0", str(posters[1] / CANDIDATE_NAME)]
    return argv


def encode_ladder(
    probe: MediaProbe,
    rungs: list[Rung],
    folder: Path,
    sprites: tuple[SpritePlan, Path] | None = None,
    posters: tuple[PosterPlan, Path] | None = None,
) -> list[Rendition]:
    """Write the video ladder into ``folder`` (and sprite sheets and poster candidates,
    given ``sprites`` and ``posters``); the renditions as measured."""
    folder.mkdir(parents=True, exist_ok=True)
    for extra in (sprites, posters):
        if extra:
            extra[1].mkdir(parents=True, exist_ok=True)
    run_ffmpeg(
        ladder_command(probe, rungs, folder, sprites, posters),
        timeout=_timeout(probe, factor=20),
        what="encoding the ladder",
    )
    codecs = _codecs(folder / "ffmpeg-master.m3u8")
    (folder / "ffmpeg-master.m3u8").unlink(missing_ok=True)
    renditions = [
        _measure(folder, rung.name, rung.width, rung.height, codecs.get(rung.name, ""))
        for rung in rungs
    ]
    _check_length(probe, renditions)
    return renditions


def _hls_output_args() -> list[str]:
    return [
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_SECONDS),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_flags",
        "independent_segments",
        "-hls_fmp4_init_filename",
        "init.mp4",
    ]


def _after(stderr: str) -> Loudness:
    """The loudness ``loudnorm`` measured on what it wrote."""
    return Loudness.from_loudnorm(_loudnorm_json(stderr), "output")


def _check_length(probe: MediaProbe, renditions: list[Rendition]) -> None:
    """A file cut short whose index still promises the whole length (MP4 "faststart")."""
    shortest = min(r.duration for r in renditions)
    if shortest < probe.duration - TRUNCATION_SECONDS:
        raise MediaError(
            "malformed",
            f"{probe.path.name} is truncated: {shortest:.1f} s of its {probe.duration:.1f} s "
            "could be decoded.",
        )


def encode_audio(
    probe: MediaProbe,
    folder: Path,
    loudness: Loudness | None,
    target: float = LOUDNESS_TARGET,
    *,
    download: Path | None = None,
    pcm: Path | None = None,
) -> tuple[list[Rendition], Loudness | None]:
    """The one loudness-normalised AAC rendition in ``folder/audio`` (an audio item's only
    one, a video's audio group); in the same run, given paths, a downloadable Opus file and
    the decimated mono samples the waveform is drawn from (:mod:`processing.av.waveform`)."""
    if probe.audio is None:
        raise ValueError("no audio stream")
    (folder / AUDIO_NAME).mkdir(parents=True, exist_ok=True)
    # Each branch says its own layout and rate: ffmpeg cannot choose one for all of them.
    branches = [f"aformat=sample_rates={AUDIO_RATE}:channel_layouts=stereo"]
    extra: list[str] = []
    if download is not None:
        branches.append(f"aformat=sample_rates={AUDIO_RATE}:channel_layouts=stereo")
        extra += ["-map", f"[o{len(branches) - 1}]", "-c:a", "libopus"]
        extra += ["-b:a", f"{DOWNLOAD_KBPS}k", "-map_metadata", "-1", "-f", "opus", str(download)]
    if pcm is not None:
        branches.append(f"aresample={WAVEFORM_RATE},aformat=sample_fmts=s16:channel_layouts=mono")
        extra += ["-map", f"[o{len(branches) - 1}]", "-c:a", "pcm_s16le", "-f", "s16le", str(pcm)]
    split = "".join(f"[x{i}]" for i in range(len(branches)))
    graph = f"[0:a:0]{_audio_filter(loudness, target)},asplit={len(branches)}{split}"
    graph += "".join(f";[x{i}]{branch}[o{i}]" for i, branch in enumerate(branches))
    argv = [
        FFMPEG,
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "info",
        *probe.input_args(),
        "-filter_complex",
        graph,
        "-map",
        "[o0]",
        "-c:a",
        "aac",
        "-b:a",
        f"{AUDIO_KBPS}k",
        "-map_metadata",
        "-1",
        *_hls_output_args(),
        "-hls_segment_filename",
        str(folder / AUDIO_NAME / "seg_%05d.m4s"),
        str(folder / AUDIO_NAME / PLAYLIST),
        *extra,
    ]
    stderr = run_ffmpeg(argv, timeout=_timeout(probe, factor=5), what="encoding the audio")
    after = _after(stderr) if loudness is not None else None
    rendition = _measure(folder, AUDIO_NAME, None, None, AUDIO_CODECS)
    _check_length(probe, [rendition])
    return [rendition], after


def ffmpeg_version() -> str:
    """ffmpeg's version string (for the report)."""
    try:
        done = subprocess.run(
            [FFMPEG, "-hide_banner", "-version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = done.stdout.decode("utf-8", "replace").split("\n", 1)[0]
    return first.removeprefix("ffmpeg version ").split(" ", 1)[0] or "unknown"


def write_master(
    folder: Path,
    renditions: list[Rendition],
    frame_rate: float | None,
    subtitles: list[dict[str, str]] | None = None,
) -> Path:
    """``master.m3u8``: the audio group, optional subtitle tracks, one entry per video rung."""
    audio = next((r for r in renditions if r.name == AUDIO_NAME), None)
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_NAME}",NAME="{AUDIO_NAME}",'
            f'DEFAULT=YES,AUTOSELECT=YES,URI="{audio.playlist}"'
        )
    lines += subtitle_lines(subtitles)
    if audio is not None and len(renditions) == 1:  # audio only: the one variant stream
        lines[3:] = [
            f"#EXT-X-STREAM-INF:BANDWIDTH={audio.peak_bps},AVERAGE-BANDWIDTH={audio.average_bps},"
            f'CODECS="{audio.codecs}"' + (',SUBTITLES="subs"' if subtitles else ""),
            audio.playlist,
        ]
        lines[3:3] = [line for line in subtitle_lines(subtitles)]
    for rendition in renditions:
        if rendition.name == AUDIO_NAME:
            continue
        peak = rendition.peak_bps + (audio.peak_bps if audio else 0)
        average = rendition.average_bps + (audio.average_bps if audio else 0)
        codecs = ",".join(c for c in (rendition.codecs, audio.codecs if audio else "") if c)
        attributes = [f"BANDWIDTH={peak}", f"AVERAGE-BANDWIDTH={average}"]
        if codecs:
            attributes.append(f'CODECS="{codecs}"')
        if rendition.width and rendition.height:
            attributes.append(f"RESOLUTION={rendition.width}x{rendition.height}")
        if frame_rate:
            attributes.append(f"FRAME-RATE={min(frame_rate, MAX_FPS):.3f}")
        if audio is not None:
            attributes.append(f'AUDIO="{AUDIO_NAME}"')
        if subtitles:
            attributes.append('SUBTITLES="subs"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), rendition.playlist]
    master = folder / MASTER
    temporary = folder / f".{MASTER}.tmp"
    temporary.write_text("\n".join(lines) + "\n", "utf-8")
    temporary.replace(master)
    return master


def subtitle_lines(subtitles: list[dict[str, str]] | None) -> list[str]:
    lines = []
    for track in subtitles or []:
        default = "YES" if track.get("default") else "NO"
        lines.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="{track["name"]}",'
            f'LANGUAGE="{track["language"]}",DEFAULT={default},AUTOSELECT=YES,'
            f'URI="{track["uri"]}"'
        )
    return lines


def playlist_segments(playlist: Path) -> list[tuple[float, str]]:
    """(duration, file) of each segment of a media playlist."""
    segments = []
    duration: float | None = None
    for line in playlist.read_text("utf-8").splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((duration, line))
            duration = None
    return segments


def _measure(
    folder: Path, name: str, width: int | None, height: int | None, codecs: str
) -> Rendition:
    playlist = folder / name / PLAYLIST
    if not playlist.is_file():
        raise MediaError("failed", f"ffmpeg wrote no {name} playlist.")
    segments = playlist_segments(playlist)
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', playlist.read_text("utf-8"))
    init = sum((folder / name / uri).stat().st_size for uri in maps)
    sizes = [(d, (folder / name / f).stat().st_size) for d, f in segments]
    total = init + sum(size for _, size in sizes)
    duration = sum(d for d, _ in sizes)
    peak = max((size * 8 / d for d, size in sizes if d > 0), default=0.0)
    average = total * 8 / duration if duration > 0 else 0.0
    return Rendition(
        name=name,
        playlist=f"{name}/{PLAYLIST}",
        width=width,
        height=height,
        codecs=codecs,
        bytes=total,
        duration=round(duration, 3),
        peak_bps=round(max(peak, average)),  # a one-segment rung: its init counts too
        average_bps=round(average),
        segments=len(sizes),
    )


def _codecs(master: Path) -> dict[str, str]:
    """Each rung's CODECS as ffmpeg worked them out (from the encoders' parameters)."""
    found: dict[str, str] = {}
    if not master.is_file():
        return found
    lines = master.read_text("utf-8").splitlines()
    for line, uri in itertools.pairwise(lines):
        match = re.search(r'CODECS="([^"]+)"', line)
        if line.startswith("#EXT-X-STREAM-INF") and match:
            name = uri.split("/", 1)[0]
            codecs = match.group(1).split(",")
            own = [c for c in codecs if not c.startswith("mp4a")] if name != AUDIO_NAME else codecs
            found[name] = ",".join(own)
    return found


def _fps_cap(probe: MediaProbe) -> str:
    assert probe.video is not None
    return f"fps={MAX_FPS:g}," if probe.video.frame_rate > MAX_FPS + 0.01 else ""


def _audio_filter(loudness: Loudness | None, target: float) -> str:
    if loudness is None:
        return f"aresample={AUDIO_RATE}"
    return (
        f"loudnorm=I={target}:TP={TRUE_PEAK}:LRA={LOUDNESS_RANGE}"
        f":measured_I={loudness.integrated:.2f}:measured_TP={loudness.true_peak:.2f}"
        f":measured_LRA={loudness.range:.2f}:measured_thresh={loudness.threshold:.2f}"
        f":offset={loudness.offset:.2f}:linear=true:print_format=json,aresample={AUDIO_RATE}"
    )


def _timeout(probe: MediaProbe, factor: float = 2.0) -> float:
    return max(120.0, probe.duration * factor)


def _loudnorm_json(stderr: str) -> dict[str, Any]:
    """The last JSON block ``loudnorm`` printed."""
    start = stderr.rfind("{")
    end = stderr.rfind("}")
    if start < 0 or end < start:
        raise MediaError("failed", "ffmpeg printed no loudness measurement.")
    try:
        values: dict[str, Any] = json.loads(stderr[start : end + 1])
    except json.JSONDecodeError as exc:
        raise MediaError("failed", "ffmpeg's loudness measurement could not be read.") from exc
    return values


def _db(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return float("-inf")
