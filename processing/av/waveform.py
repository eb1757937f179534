"""Waveform peaks for the audio player: min and max of each short stretch, as JSON.

The format is the one BBC's ``audiowaveform`` writes and waveform-data.js / peaks.js
read (version 2, 8-bit, one channel): ``samples_per_pixel`` samples at ``sample_rate``
become one (min, max) pair. The samples come from the loudness-normalised audio, as
the listener hears it, decimated to :data:`SAMPLE_RATE` by ffmpeg in the same run
that encodes the audio; they are read in chunks, so a four-hour recording needs no
more memory than a short one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 4000  # Hz: enough for an envelope, 1/12 of the audio's
PAIRS_PER_SECOND = 20  # one (min, max) every 50 ms: a 10-minute track is 12,000 pairs
MAX_PAIRS = 40_000  # longer recordings get coarser pairs, not a bigger file
CHUNK_PAIRS = 4096
NAME = "waveform.json"


def samples_per_pair(duration: float) -> int:
    per_pair = SAMPLE_RATE // PAIRS_PER_SECOND
    pairs = duration * PAIRS_PER_SECOND
    if pairs > MAX_PAIRS:
        per_pair = int(np.ceil(duration * SAMPLE_RATE / MAX_PAIRS))
    return max(1, per_pair)


def peaks(raw: Path, duration: float) -> dict[str, Any]:
    """Peaks of ``raw`` (signed 16-bit little-endian mono at :data:`SAMPLE_RATE`)."""
    per_pair = samples_per_pair(duration)
    data: list[int] = []
    with raw.open("rb") as handle:
        while chunk := handle.read(per_pair * CHUNK_PAIRS * 2):
            samples = np.frombuffer(chunk[: len(chunk) // 2 * 2], dtype="<i2")
            whole = len(samples) // per_pair * per_pair
            groups = [samples[:whole].reshape(-1, per_pair)] if whole else []
            if len(samples) > whole:
                groups.append(samples[whole:].reshape(1, -1))
            for group in groups:
                lows = np.floor(group.min(axis=1) / 256).astype(np.int16)
                highs = np.floor(group.max(axis=1) / 256).astype(np.int16)
                data.extend(np.stack([lows, highs], axis=1).reshape(-1).tolist())
    return {
        "version": 2,
        "channels": 1,
        "sample_rate": SAMPLE_RATE,
        "samples_per_pixel": per_pair,
        "bits": 8,
        "length": len(data) // 2,
        "data": data,
    }


def write_peaks(raw: Path, duration: float, target: Path) -> dict[str, Any]:
    """Peaks as ``target`` (written whole); returns them."""
    found = peaks(raw, duration)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(json.dumps(found, separators=(",", ":")), "utf-8")
    temporary.replace(target)
    return found
