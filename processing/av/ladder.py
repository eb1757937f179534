"""The HLS ladder: which renditions a video gets, computed from the source alone (pure).

Rungs are named by the picture's short side (1080p is 1920×1080 in landscape and
1080×1920 in portrait) and taken from :data:`RUNGS` down from the first that does
not exceed the source: a 720p recording gets 720p, 480p and 360p, never an upscaled
1080p. A source between two rungs (540p) also gets a rung at its own size, so its
full detail is offered; one smaller than the smallest rung gets only that. Sizes
keep the displayed aspect ratio (square pixels, rotation applied) and are even, as
H.264 4:2:0 wants. Bitrates scale with the pixel count and frame rate from the
reference rung's, the usual per-title rule of thumb (bits per pixel per frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# short side -> video kbit/s at 30 frames/s (H.264 High, veryfast), audio is separate
RUNGS: tuple[tuple[int, int], ...] = ((1080, 5000), (720, 2800), (480, 1400), (360, 800))
MAX_RATE = 1.5  # peak over average: maxrate for the VBV
BUFFER_SECONDS = 2.0  # bufsize = maxrate × this
REFERENCE_FPS = 30.0
MIN_FPS_FACTOR = 0.5  # a 12 fps film still needs half the 30 fps bits, not 40 %
OWN_RUNG_MARGIN = 1.1  # a source this much bigger than a rung gets a rung of its own size
MIN_KBPS = 100


@dataclass(frozen=True)
class Rung:
    name: str  # "720p"
    width: int
    height: int
    video_kbps: int
    max_kbps: int
    buffer_kbits: int

    @property
    def bandwidth(self) -> int:
        """Peak bits per second of the video, for the master playlist (audio added there)."""
        return self.max_kbps * 1000


def even(value: float) -> int:
    """Rounded to the nearest even number, at least 2."""
    return max(2, 2 * round(value / 2))


def ladder(display_width: int, display_height: int, frame_rate: float = 30.0) -> list[Rung]:
    """Rungs for a source shown at ``display_width`` × ``display_height``, largest first."""
    if display_width <= 0 or display_height <= 0:
        raise ValueError("a video needs a positive size")
    short = min(display_width, display_height)
    chosen = [(side, kbps) for side, kbps in RUNGS if side <= short]
    above = [(side, kbps) for side, kbps in RUNGS if side > short]
    if above and (not chosen or short > chosen[0][0] * OWN_RUNG_MARGIN):
        # between two rungs (a 540p film), or below the smallest: the source's own size is a
        # rung too, its bit rate scaled by pixel count from the rung above
        side, kbps = above[-1]
        chosen.insert(0, (short, max(MIN_KBPS, round(kbps * (short / side) ** 2))))
    fps_factor = max(MIN_FPS_FACTOR, min(2.0, (frame_rate or REFERENCE_FPS) / REFERENCE_FPS))
    rungs = []
    for side, kbps in chosen:
        scale = side / short
        width, height = even(display_width * scale), even(display_height * scale)
        if side == short:  # the source's own size, not a rounding of it
            width, height = even(display_width), even(display_height)
        video = round(kbps * math.sqrt(fps_factor) if fps_factor < 1 else kbps * fps_factor)
        peak = round(video * MAX_RATE)
        rungs.append(
            Rung(
                name=f"{min(width, height)}p",
                width=width,
                height=height,
                video_kbps=video,
                max_kbps=peak,
                buffer_kbits=round(peak * BUFFER_SECONDS),
            )
        )
    return rungs
