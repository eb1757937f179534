"""Scrubbing thumbnails and the poster frame, from the ladder's own decode.

The ladder's ffmpeg run also feeds a small branch of its ``split``: one frame every
:attr:`SpritePlan.interval` seconds, scaled to a thumbnail and tiled into sprite
sheets (JPEG). ``thumbnails.vtt`` says which sheet and which rectangle
(``#xywh=``) shows each stretch of time, the WebVTT thumbnails convention players
use for a scrub bar.

The poster is chosen from those thumbnails, not taken from the first frame (often
black, a title card or a fade): the one with the most detail (spread of
brightness) that is neither near-black nor washed out, then extracted at the
source's resolution by seeking to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from processing.av.probe import FFMPEG, MediaError, MediaProbe, run_ffmpeg

MAX_THUMBNAILS = 100
THUMB_WIDTH = 160
COLUMNS = 10
ROWS = 10
SPRITE_NAME = "sprite_%03d.jpg"
VTT_NAME = "thumbnails.vtt"
POSTER_NAME = "poster.jpg"
POSTER_MAX_WIDTH = 1920
POSTER_CANDIDATES = 12  # full-size frames kept from the ladder's run to choose the poster from
CANDIDATE_NAME = "poster_%03d.jpg"
DARK, BRIGHT = 24, 240  # mean luminance outside these: a fade, a black or white card
SEEK_SECONDS = 60.0


@dataclass(frozen=True)
class SpritePlan:
    interval: float  # seconds between thumbnails
    count: int  # thumbnails in all
    width: int
    height: int
    columns: int
    rows: int

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    @property
    def sheets(self) -> int:
        return math.ceil(self.count / self.per_sheet)

    def filter(self) -> str:
        """The ffmpeg filter from a decoded frame to sprite sheets."""
        return (
            f"fps=1/{self.interval:g}:round=down,scale={self.width}:{self.height},"
            f"setsar=1,tile={self.columns}x{self.rows}"
        )

    def cell(self, index: int) -> tuple[int, int, int, int, int]:
        """(sheet, x, y, width, height) of thumbnail ``index``."""
        sheet, place = divmod(index, self.per_sheet)
        row, column = divmod(place, self.columns)
        return sheet, column * self.width, row * self.height, self.width, self.height


def sprite_plan(
    duration: float, display_width: int, display_height: int, frame_rate: float = 30.0
) -> SpritePlan:
    """About one thumbnail a second, at most :data:`MAX_THUMBNAILS`, 160 px wide.

    ffmpeg's ``fps`` filter emits the thumbnail for time t only once a frame at or after
    t arrives: the last frame starts a frame's length before the end (two, for slack).
    """
    interval = max(1.0, math.ceil(duration / MAX_THUMBNAILS))
    last_frame = duration - 2 / max(frame_rate, 1.0)
    count = max(1, math.floor(max(0.0, last_frame) / interval) + 1)
    height = max(2, 2 * round(THUMB_WIDTH * display_height / display_width / 2))
    columns = min(COLUMNS, count)
    rows = min(ROWS, math.ceil(count / columns))
    return SpritePlan(interval, count, THUMB_WIDTH, height, columns, rows)


def write_vtt(folder: Path, plan: SpritePlan, duration: float) -> Path:
    """``thumbnails.vtt``: a cue per thumbnail, pointing into its sheet."""
    lines = ["WEBVTT", ""]
    for index in range(plan.count):
        start = index * plan.interval
        end = duration if index == plan.count - 1 else min(duration, start + plan.interval)
        if end <= start:
            break
        sheet, x, y, w, h = plan.cell(index)
        lines += [
            f"{_time(start)} --> {_time(end)}",
            f"{SPRITE_NAME % sheet}#xywh={x},{y},{w},{h}",
            "",
        ]
    path = folder / VTT_NAME
    path.write_text("\n".join(lines), "utf-8")
    return path


@dataclass(frozen=True)
class PosterPlan:
    """Full-size poster candidates the ladder's run writes, every ``every`` thumbnails."""

    every: int
    count: int
    width: int
    height: int

    def filter(self, plan: SpritePlan) -> str:
        return (
            f"fps=1/{plan.interval * self.every:g}:round=down,"
            f"scale={self.width}:{self.height},setsar=1"
        )


def poster_plan(plan: SpritePlan, display_width: int, display_height: int) -> PosterPlan:
    """At most :data:`POSTER_CANDIDATES` candidates, spread over the whole recording."""
    every = max(1, math.ceil(plan.count / POSTER_CANDIDATES))
    width, height = display_width, display_height
    if width > POSTER_MAX_WIDTH:
        width, height = POSTER_MAX_WIDTH, max(2, 2 * round(height * POSTER_MAX_WIDTH / width / 2))
    return PosterPlan(every, math.ceil(plan.count / every), width - width % 2, height - height % 2)


def choose_poster(
    folder: Path, plan: SpritePlan, candidates: PosterPlan | None = None
) -> tuple[int, float]:
    """(thumbnail index, time) of the poster: the most detailed thumbnail (among the
    candidates' moments, given ``candidates``) that is not a fade, a black or a white card."""
    from PIL import Image

    every = candidates.every if candidates else 1
    best, best_score = 0, -1.0
    for index in range(0, plan.count, every):
        sheet, x, y, w, h = plan.cell(index)
        path = folder / (SPRITE_NAME % sheet)
        if not path.is_file():
            break
        with Image.open(path, formats=["JPEG"]) as image:  # ffmpeg's own mjpeg sheet
            grey = np.asarray(image.convert("L").crop((x, y, x + w, y + h)), dtype=np.float32)
        mean = float(grey.mean())
        score = float(grey.std()) if DARK < mean < BRIGHT else float(grey.std()) / 100
        if score > best_score:
            best, best_score = index, score
    return best, best * plan.interval


def extract_poster(probe: MediaProbe, seconds: float, path: Path) -> tuple[int, int]:
    """The frame at ``seconds``, upright, at most :data:`POSTER_MAX_WIDTH` wide, as JPEG."""
    assert probe.video is not None
    width, height = probe.video.display_size
    if width > POSTER_MAX_WIDTH:
        width, height = POSTER_MAX_WIDTH, max(2, 2 * round(height * POSTER_MAX_WIDTH / width / 2))
    argv = [
        FFMPEG,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-ss",
        f"{seconds:.3f}",
        *probe.input_args(),
        "-frames:v",
        "1",
        "-vf",
        f"scale={width}:{height},setsar=1",
        "-q:v",
        "3",
        "-map_metadata",
        "-1",
        "-y",
        str(path),
    ]
    run_ffmpeg(argv, timeout=SEEK_SECONDS, what="taking the poster frame")
    if not path.is_file():
        raise MediaError("failed", "ffmpeg wrote no poster frame.")
    return width, height


def _time(seconds: float) -> str:
    milliseconds = round(seconds * 1000)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest / 1000:06.3f}"
