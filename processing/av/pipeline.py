"""The video and audio pipeline: one input → an HLS tree, its playlists and ``report.json``.

Video: probe (:mod:`processing.av.probe`), choose the ladder (:mod:`processing.av.ladder`),
encode every rung in one ffmpeg run while a thread measures the loudness and encodes the
audio group and another reads the speech, then write the master playlist
(:mod:`processing.av.hls`). Audio: the loudness measurement and one loudness-normalised AAC
rendition. Every file written is
listed in the report with its size and SHA-256.

The pipeline runs in the sandboxed child (:func:`run_job`); a refused input raises
:class:`processing.av.probe.MediaError` with a stable code and one English line.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from processing.av import hls, thumbs, waveform
from processing.av.ladder import ladder
from processing.av.probe import MediaLimits, MediaProbe, probe_media
from processing.report import (
    REPORT_VERSION,
    Progress,
    Steps,
    describe,
    package_versions,
    write_report,
)

PIPELINE = "av"
DOWNLOAD_NAME = "download.opus"
THUMBS = "thumbnails"
KINDS = ("video", "audio")
# The HLS tree is the version folder itself: the IIIF manifest points at
# /media/{asset}/{version}/master.m3u8 and captions.{lang}.vtt (docs/iiif.md).
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPES = {".m4s": "video/iso.segment", ".mp4": "video/mp4"}


@dataclass(frozen=True)
class AvOptions:
    limits: MediaLimits = field(default_factory=MediaLimits)
    loudness_target: float = hls.LOUDNESS_TARGET
    download: bool = False  # an audio item's Opus file, where its licence allows downloads
    captions: bool = True  # draft captions from speech
    asr_model: str | None = None  # a faster-whisper model directory; None: the bundled test model
    asr_language: str | None = None  # None: detected
    asr_beam_size: int = 1  # Whisper's beam width (1: greedy)

    def parameters(self) -> dict[str, Any]:
        return {
            "loudness_target": self.loudness_target,
            "download": self.download,
            "captions": self.captions,
            "asr_model": self.asr_model,
            "asr_language": self.asr_language,
            "asr_beam_size": self.asr_beam_size,
            "limits": asdict(self.limits),
        }


def options_to_json(options: AvOptions) -> dict[str, Any]:
    return {**options.parameters(), "limits": asdict(options.limits)}


def options_from_json(data: dict[str, Any]) -> AvOptions:
    """Options from a queued job (unknown keys, from older or newer versions, are dropped)."""
    known = {f.name for f in fields(MediaLimits)}
    limits = MediaLimits(**{k: v for k, v in (data.get("limits") or {}).items() if k in known})
    target = float(data.get("loudness_target", hls.LOUDNESS_TARGET))
    return AvOptions(
        limits=limits,
        loudness_target=target,
        download=bool(data.get("download")),
        captions=bool(data.get("captions", True)),
        asr_model=data.get("asr_model") or None,
        asr_language=data.get("asr_language") or None,
        asr_beam_size=max(1, int(data.get("asr_beam_size", 1))),
    )


def process(
    source: Path, out: Path, options: AvOptions, progress: Progress | None = None
) -> dict[str, Any]:
    """Process ``source`` into the empty folder ``out``; return (and write) the report."""
    steps = Steps(progress)
    with steps.step("probe", 1):
        probe = probe_media(source, options.limits)
    out.mkdir(parents=True, exist_ok=True)
    folder = out
    # Speech is read while ffmpeg encodes (ctranslate2 and ffmpeg both release the GIL), in
    # a daemon thread: a refusal on the way does not wait for it.
    heard = (
        _Background(_transcribe, probe, options)
        if probe.audio is not None and options.captions
        else None
    )
    statistics: dict[str, Any] = {"duration": round(probe.duration, 3)}
    if probe.video is not None:
        # The audio group is measured and encoded in its own small ffmpeg runs, in a thread
        # alongside the ladder's run, which does not wait for the loudness measurement.
        sound = (
            _Background(_sound, probe, folder, options.loudness_target)
            if probe.audio is not None
            else None
        )
        rungs = ladder(*probe.video.display_size, probe.video.frame_rate)
        plan = thumbs.sprite_plan(probe.duration, *probe.video.display_size, probe.video.frame_rate)
        candidates = thumbs.poster_plan(plan, *probe.video.display_size)
        with tempfile.TemporaryDirectory(prefix="av-") as scratch:
            try:
                with steps.step("ladder", 10):
                    renditions = hls.encode_ladder(
                        probe,
                        rungs,
                        folder,
                        (plan, out / THUMBS),
                        (candidates, Path(scratch)),
                    )
            finally:  # never leave the audio's ffmpeg writing into a folder being removed
                if sound is not None:
                    sound.thread.join()
            with steps.step("poster", 85):
                thumbs.write_vtt(out / THUMBS, plan, probe.duration)
                index, moment = thumbs.choose_poster(out / THUMBS, plan, candidates)
                chosen = Path(scratch) / (thumbs.CANDIDATE_NAME % (index // candidates.every))
                if chosen.is_file():  # taken in the ladder's run: no second decode
                    shutil.move(chosen, out / thumbs.POSTER_NAME)
                    width, height = candidates.width, candidates.height
                else:
                    # Never past the last frame's start: a clip shorter than a thumbnail
                    # interval has no frame at 99.9 % of its duration.
                    last = probe.duration - 1 / max(probe.video.frame_rate, 1.0)
                    moment = max(0.0, min(probe.duration * 0.999, last, moment + plan.interval / 2))
                    width, height = thumbs.extract_poster(probe, moment, out / thumbs.POSTER_NAME)
        before, after = None, None
        if sound is not None:
            before, audio, after, seconds = sound.result()
            renditions = audio + renditions
            steps.timings["audio"] = seconds  # alongside the ladder, not after it
        frame_rate = probe.video.frame_rate
        statistics["poster"] = {"time": round(moment, 3), "width": width, "height": height}
        statistics["thumbnails"] = {
            "interval": plan.interval,
            "count": plan.count,
            "sheets": plan.sheets,
            "width": plan.width,
            "height": plan.height,
        }
    else:
        with steps.step("loudness", 5):
            before = hls.measure_loudness(probe, options.loudness_target)
        download = out / DOWNLOAD_NAME if options.download else None
        with tempfile.TemporaryDirectory(prefix="av-") as scratch, steps.step("audio", 10):
            pcm = Path(scratch) / "waveform.raw"
            renditions, after = hls.encode_audio(
                probe, folder, before, options.loudness_target, download=download, pcm=pcm
            )
            found = waveform.write_peaks(pcm, probe.duration, out / waveform.NAME)
        statistics["waveform"] = {
            "pairs": found["length"],
            "samples_per_pixel": found["samples_per_pixel"],
            "sample_rate": found["sample_rate"],
        }
        frame_rate = None
    warnings: list[str] = []
    subtitles: list[dict[str, str]] = []
    if heard is not None:
        with steps.step("captions", 70):
            speech = _captions(heard.result(), probe, folder, warnings)
        statistics["speech"] = speech
        if speech and speech["segments"]:
            subtitles.append(speech.pop("track"))
        elif speech:
            speech.pop("track", None)
    with steps.step("playlists", 90):
        hls.write_master(folder, renditions, frame_rate, subtitles)
    statistics["renditions"] = [_rendition_report(r) for r in renditions]
    statistics["loudness"] = {
        "target_lufs": options.loudness_target,
        "before": before.as_report() if before else None,
        "after": after.as_report() if after else None,
    }
    with steps.step("checksums", 95):
        artefacts = _artefacts(out)
    report = {
        "report_version": REPORT_VERSION,
        "status": "ok",
        "pipeline": PIPELINE,
        "kind": probe.kind,
        "source": _describe_source(probe),
        "parameters": options.parameters(),
        "statistics": statistics,
        "artefacts": artefacts,
        "warnings": warnings
        + ([] if before is not None or probe.audio is None else ["The audio is silent."]),
        "timings": steps.timings,
        "software": package_versions(["daklak-museum"]) | {"ffmpeg": hls.ffmpeg_version()},
    }
    write_report(out, report)
    return report


class _Background:
    """``work(*args)`` in a daemon thread; :meth:`result` waits for it (and re-raises)."""

    def __init__(self, work: Callable[..., Any], *args: Any) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work, args), daemon=True)
        self.thread.start()

    def _run(self, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.value = work(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller in result()
            self.error = exc

    def result(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.value


def _sound(
    probe: MediaProbe, folder: Path, target: float
) -> tuple[hls.Loudness | None, list[hls.Rendition], hls.Loudness | None, float]:
    """A video's audio group, in a thread: (loudness before, renditions, after, seconds)."""
    started = time.perf_counter()
    before = hls.measure_loudness(probe, target)
    renditions, after = hls.encode_audio(probe, folder, before, target)
    return before, renditions, after, round(time.perf_counter() - started, 3)


def _transcribe(probe: MediaProbe, options: AvOptions) -> tuple[Any, float]:
    """(the transcript, or the AsrError that stopped it; seconds it took), in a thread."""
    from processing.av import asr

    started = time.perf_counter()
    try:
        model = Path(options.asr_model) if options.asr_model else asr.bundled_model_dir()
        samples = asr.decode_pcm(probe.path, input_args=probe.input_args())
        found: Any = asr.transcribe(
            samples,
            model_dir=model,
            language=options.asr_language,
            beam_size=options.asr_beam_size,
            # A video's encode keeps both cores busy: a second thread only adds contention.
            threads=1 if probe.video is not None else 2,
        )
    except asr.AsrError as exc:
        found = exc
    return found, time.perf_counter() - started


def _captions(
    heard: tuple[Any, float], probe: MediaProbe, folder: Path, warnings: list[str]
) -> dict[str, Any] | None:
    """Speech → a draft WebVTT track beside master.m3u8, or None with a warning when it
    cannot be read.

    Like OCR for documents, a recording whose speech cannot be read is still a recording:
    a missing model or a decoding failure is a warning, not a refusal. Music and silence
    give no segments, hence no track.
    """
    from processing.av import asr

    transcript, seconds = heard
    if isinstance(transcript, asr.AsrError):
        warnings.append(f"No captions: {transcript}")
        return None
    language = transcript.language or "und"
    segments = [
        {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
        for s in transcript.segments
    ]
    speech: dict[str, Any] = {
        "seconds": round(seconds, 3),  # reading the speech, alongside the encode
        "language": language,
        "language_probability": round(transcript.language_probability, 3),
        "model": transcript.model,
        "created": transcript.created,
        "draft": True,  # machine captions wait for a curator's review
        "segments": segments,
    }
    if segments:
        vtt = f"captions.{language}.vtt"
        (folder / vtt).write_text(asr.to_webvtt(transcript.segments), "utf-8")
        playlist = f"captions.{language}.m3u8"
        (folder / playlist).write_text(subtitle_playlist(vtt, probe.duration), "utf-8")
        speech["captions"] = vtt
        speech["track"] = {
            "name": f"{language} (machine draft)",
            "language": language,
            "uri": playlist,
        }
    return speech


def subtitle_playlist(vtt: str, duration: float) -> str:
    """A media playlist whose one segment is the whole WebVTT file."""
    return "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            f"#EXT-X-TARGETDURATION:{max(1, math.ceil(duration))}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            f"#EXTINF:{duration:.3f},",
            vtt,
            "#EXT-X-ENDLIST",
            "",
        ]
    )


def run_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Sandbox entry point: ``{"source", "out", "options"}`` → the report."""
    from processing.sandbox_child import report_progress

    return process(
        Path(payload["source"]),
        Path(payload["out"]),
        options_from_json(payload["options"]),
        progress=report_progress,
    )


def failure_report(source: Path, options: AvOptions, code: str, reason: str) -> dict[str, Any]:
    from processing.report import failure_report as shared

    return shared(PIPELINE, source, options.parameters(), code, reason)


def _describe_source(probe: MediaProbe) -> dict[str, Any]:
    source: dict[str, Any] = {
        "name": probe.path.name,
        "media_type": probe.media_type,
        "bytes": probe.size,
        "container": probe.format_name,
        "duration": round(probe.duration, 3),
        "bit_rate": probe.bit_rate,
    }
    if probe.video is not None:
        video = probe.video
        source["video"] = {
            "codec": video.codec,
            "width": video.width,
            "height": video.height,
            "display_width": video.display_size[0],
            "display_height": video.display_size[1],
            "rotation": video.rotation,
            "frame_rate": round(video.frame_rate, 3),
            "pixel_format": video.pixel_format,
        }
    if probe.audio is not None:
        source["audio"] = {
            "codec": probe.audio.codec,
            "channels": probe.audio.channels,
            "sample_rate": probe.audio.sample_rate,
        }
    return source


def _rendition_report(rendition: hls.Rendition) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": rendition.name,
        "playlist": rendition.playlist,
        "codecs": rendition.codecs,
        "bytes": rendition.bytes,
        "duration": rendition.duration,
        "segments": rendition.segments,
        "peak_bps": rendition.peak_bps,
        "average_bps": rendition.average_bps,
    }
    if rendition.width and rendition.height:
        entry |= {"width": rendition.width, "height": rendition.height}
    return entry


def _artefacts(out: Path) -> list[dict[str, Any]]:
    """Every file written (the report aside), playlists first, with its size and SHA-256."""
    entries = []
    files = [p for p in out.rglob("*") if p.is_file() and p.name != "report.json"]
    for path in sorted(files, key=lambda p: (p.suffix != ".m3u8", str(p))):
        name = str(path.relative_to(out))
        entries.append(describe(out, name, *_kind_of(path, out)))
    return entries


def _kind_of(path: Path, out: Path) -> tuple[str, str]:
    """(media type, role) of a file the pipeline wrote."""
    if path.suffix == ".m3u8":
        return PLAYLIST_TYPE, "master" if path.name == hls.MASTER else "playlist"
    if path.parent == out / THUMBS:
        if path.suffix == ".vtt":
            return "text/vtt", "thumbnails-track"
        return "image/jpeg", "thumbnail-sprite"
    if path.suffix == ".vtt":
        return "text/vtt", "captions-draft"
    if path.name == waveform.NAME:
        return "application/json", "waveform"
    if path.name == DOWNLOAD_NAME:
        return "audio/ogg", "download"
    if path.name == thumbs.POSTER_NAME:
        return "image/jpeg", "poster"
    if path.suffix == ".mp4":
        return "video/mp4", "init"
    return SEGMENT_TYPES.get(path.suffix, "application/octet-stream"), "segment"
