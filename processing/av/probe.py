"""What a video or audio file is, from its bytes and ``ffprobe``, before anything decodes it.

ffmpeg opens far more than media files: an HLS playlist, an ``ffconcat`` list or a
``.txt`` of URLs is "a file" to it, and following one reads other local files or
connects to servers. A museum upload is never allowed to do either. So:

1. The container is recognised from its first bytes (:mod:`processing.sniff`), never
   from its name, and must be on :data:`DEMUXERS`, the allow-list. A playlist or a
   concat list is text: it is refused here, before ffmpeg sees it.
2. ffprobe and ffmpeg are then told which demuxer to use (``-f``) and that it is the
   only one allowed (``-format_whitelist``, which also binds the demuxers a container
   opens inside itself, such as an AVI's GAB2 subtitles), so they cannot pick the
   ``hls``, ``concat`` or ``subfile`` machinery on their own; they may only open local
   files (``-protocol_whitelist file``, the input named as a ``file:`` URL so a colon
   in it is never a protocol); MP4 external data references stay off (ffmpeg's
   default). They run without a shell, with a timeout, inside the pipeline's
   resource-limited child process, which has no network at all.
3. The streams ffprobe reports are checked against the limits (duration, frame size)
   and read into a :class:`MediaProbe`: what the ladder and the report need.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processing.report import PipelineError
from processing.sniff import sniff_file

FFPROBE = "/usr/bin/ffprobe"
FFMPEG = "/usr/bin/ffmpeg"
PROBE_SECONDS = 60.0
# Containers accepted, by the media type their bytes show, and the ffmpeg demuxer each
# is opened with. Anything else (text, playlists, images, unknown bytes) is refused.
DEMUXERS: dict[str, str] = {
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/x-m4v": "mov",
    "audio/mp4": "mov",
    "video/x-matroska": "matroska",
    "video/webm": "matroska",
    "video/x-msvideo": "avi",
    "video/mp2t": "mpegts",
    "audio/x-wav": "wav",
    "audio/x-flac": "flac",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
}
# What ffprobe must then say the file is: its format name lists every alias of the demuxer.
FORMAT_NAMES = {
    "mov": "mov",
    "matroska": "matroska",
    "avi": "avi",
    "mpegts": "mpegts",
    "wav": "wav",
    "flac": "flac",
    "mp3": "mp3",
    "ogg": "ogg",
}
TS_PACKET = 188
TS_SYNC = 0x47


class MediaError(PipelineError):
    """An input refused: ``code`` is stable, ``reason`` one English line."""


@dataclass(frozen=True)
class MediaLimits:
    max_seconds: float = 4 * 3600.0  # a whole ritual or an epic night, in parts
    max_width: int = 7680
    max_height: int = 7680
    max_bytes: int = 20 * 1024**3


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str
    width: int  # as stored
    height: int
    rotation: int  # clockwise degrees the player must turn it: 0, 90, 180 or 270
    sample_aspect: float  # pixel width / pixel height
    frame_rate: float
    pixel_format: str

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown: square pixels, rotation applied."""
        width = round(self.width * self.sample_aspect)
        width -= width % 2
        if self.rotation in (90, 270):
            return self.height, width
        return width, self.height


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    channels: int
    sample_rate: int


@dataclass(frozen=True)
class MediaProbe:
    path: Path
    media_type: str
    demuxer: str
    kind: str  # "video" or "audio"
    duration: float
    size: int
    video: VideoStream | None
    audio: AudioStream | None
    format_name: str
    bit_rate: int | None

    def input_args(self) -> list[str]:
        """How ffmpeg must open this file: its demuxer, local files only."""
        return input_args(self.path, self.demuxer)


def input_args(path: Path, demuxer: str) -> list[str]:
    """The only way ffmpeg and ffprobe are given an upload: ``demuxer`` (one of
    :data:`DEMUXERS`' values) and nothing else, from the local file ``path`` only."""
    if demuxer not in FORMAT_NAMES:
        raise ValueError(f"{demuxer!r} is not an allowed demuxer")
    return [
        *("-protocol_whitelist", "file"),
        *("-format_whitelist", demuxer),
        *("-f", demuxer),
        *("-i", "file:" + str(path.resolve())),
    ]


def demuxer_of(path: Path) -> str | None:
    """The allowed demuxer for ``path``'s bytes, or None when they are not an allowed container."""
    return DEMUXERS.get(media_type_of(path))


def run_ffmpeg(argv: list[str], *, timeout: float, what: str) -> str:
    """ffmpeg's stderr; a failure or a timeout raises :class:`MediaError` with its last line."""
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaError("timeout", f"ffmpeg took over {timeout:.0f} s {what}.") from exc
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        raise MediaError("failed", f"ffmpeg failed {what}: {lines[-1] if lines else 'no message'}.")
    return stderr


def media_type_of(path: Path) -> str:
    """The container's media type from its bytes (MPEG-TS by its sync bytes)."""
    with path.open("rb") as handle:
        head = handle.read(TS_PACKET * 3 + 1)
    if len(head) > TS_PACKET * 2 and all(head[i * TS_PACKET] == TS_SYNC for i in range(3)):
        return "video/mp2t"
    return sniff_file(path).media_type


def probe_media(path: Path, limits: MediaLimits | None = None) -> MediaProbe:
    """Identify ``path`` and check it against ``limits``; raise :class:`MediaError`."""
    limits = limits or MediaLimits()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError("not_found", f"{path.name} cannot be read ({exc.strerror}).") from exc
    if size > limits.max_bytes:
        raise MediaError(
            "too_large", f"{path.name} is {size:,} bytes; the limit is {limits.max_bytes:,}."
        )
    media_type = media_type_of(path)
    demuxer = DEMUXERS.get(media_type)
    if demuxer is None:
        raise MediaError(
            "unsupported_format",
            f"{path.name} is {media_type}, not a supported video or audio container "
            "(MP4, MOV, MKV, WebM, AVI, MPEG-TS; WAV, FLAC, MP3, Ogg, M4A).",
        )
    info = _ffprobe(path, demuxer)
    return _read(path, media_type, demuxer, size, info, limits)


def _ffprobe(path: Path, demuxer: str) -> dict[str, Any]:
    argv = [
        FFPROBE,
        "-hide_banner",
        "-loglevel",
        "error",
        "-show_format",
        "-show_streams",
        "-of",
        "json",
        *input_args(path, demuxer),
    ]
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=PROBE_SECONDS, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaError(
            "timeout", f"ffprobe took over {PROBE_SECONDS:.0f} s on {path.name}."
        ) from exc
    if done.returncode != 0:
        raise MediaError("malformed", f"{path.name} cannot be read: {_last_line(done.stderr)}.")
    try:
        parsed: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise MediaError("malformed", f"ffprobe gave no description of {path.name}.") from exc
    return parsed


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    text = lines[-1] if lines else "ffprobe failed"
    if ": " in text and text.startswith(("/", "file:")):
        text = text.split(": ", 1)[1]  # not the path: the name is already in the message
    return text.rstrip(".")


def _read(
    path: Path,
    media_type: str,
    demuxer: str,
    size: int,
    info: dict[str, Any],
    limits: MediaLimits,
) -> MediaProbe:
    fmt = info.get("format") or {}
    names = str(fmt.get("format_name", "")).split(",")
    if FORMAT_NAMES[demuxer] not in names:
        raise MediaError("malformed", f"{path.name} is not the {demuxer} file its bytes suggest.")
    streams = info.get("streams") or []
    video = next((_video(s) for s in streams if _is_picture(s)), None)
    audio = next((_audio(s) for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise MediaError("no_streams", f"{path.name} has no video or audio stream.")
    duration = _number(fmt.get("duration"))
    if duration is None or not math.isfinite(duration) or duration <= 0:
        durations = [_number(s.get("duration")) for s in streams]
        duration = max((d for d in durations if d), default=None)
    if duration is None or duration <= 0:
        raise MediaError("malformed", f"{path.name} has no duration (is it cut short?).")
    if duration > limits.max_seconds:
        raise MediaError(
            "too_long",
            f"{path.name} lasts {duration / 60:.0f} min; the limit is "
            f"{limits.max_seconds / 60:.0f} min.",
        )
    if video is not None and (video.width > limits.max_width or video.height > limits.max_height):
        raise MediaError(
            "too_large",
            f"{path.name} is {video.width}×{video.height}; the limit is "
            f"{limits.max_width}×{limits.max_height}.",
        )
    bit_rate = _number(fmt.get("bit_rate"))
    return MediaProbe(
        path=path,
        media_type=media_type,
        demuxer=demuxer,
        kind="video" if video is not None else "audio",
        duration=float(duration),
        size=size,
        video=video,
        audio=audio,
        format_name=str(fmt.get("format_name", "")),
        bit_rate=int(bit_rate) if bit_rate else None,
    )


def _is_picture(stream: dict[str, Any]) -> bool:
    """A video stream that moves (cover art in an MP3 or M4A is an attached picture)."""
    disposition = stream.get("disposition") or {}
    return stream.get("codec_type") == "video" and not disposition.get("attached_pic")


def _video(stream: dict[str, Any]) -> VideoStream:
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if width <= 0 or height <= 0:
        raise MediaError("malformed", "The video stream has no frame size.")
    return VideoStream(
        index=int(stream.get("index", 0)),
        codec=str(stream.get("codec_name", "")),
        width=width,
        height=height,
        rotation=_rotation(stream),
        sample_aspect=_ratio(stream.get("sample_aspect_ratio")) or 1.0,
        frame_rate=_ratio(stream.get("avg_frame_rate"))
        or _ratio(stream.get("r_frame_rate"))
        or 25.0,
        pixel_format=str(stream.get("pix_fmt", "")),
    )


def _audio(stream: dict[str, Any]) -> AudioStream:
    return AudioStream(
        index=int(stream.get("index", 0)),
        codec=str(stream.get("codec_name", "")),
        channels=int(stream.get("channels") or 0),
        sample_rate=int(_number(stream.get("sample_rate")) or 0),
    )


def _rotation(stream: dict[str, Any]) -> int:
    """Clockwise degrees to turn the stored frames, from the display matrix or the old tag.

    ffprobe reports the display matrix's rotation counter-clockwise (-90 for a phone held
    upright); players turn the picture clockwise by its negation.
    """
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return int(-round(float(side["rotation"]))) % 360 // 90 * 90
    tag = (stream.get("tags") or {}).get("rotate")
    if tag is not None:
        try:
            return round(float(tag)) % 360 // 90 * 90
        except ValueError:
            return 0
    return 0


def _ratio(text: object) -> float | None:
    if not isinstance(text, str) or (":" not in text and "/" not in text):
        return _number(text)
    top, _, bottom = text.replace(":", "/").partition("/")
    numerator, denominator = _number(top), _number(bottom)
    if not numerator or not denominator:
        return None
    return numerator / denominator


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None
