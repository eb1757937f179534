"""What a record page needs to show its recordings: players and audio guides.

Only an asset with a published version of the video/audio pipeline is shown; every
address points into that version folder (``/media/{asset}/{version}/…``), whose files never
change, so a page and the player's requests always agree on one version.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from processing.av.captions import CaptionError, parse_captions
from server.i18n import localized
from server.models import Asset
from server.vocab import CAPTION_LABELS, GUIDE_ROLE


@dataclass(frozen=True)
class CaptionTrack:
    language: str
    name: str  # the language's own name
    src: str


@dataclass(frozen=True)
class Line:
    """One line of a transcript: when it is said, and what (plain text)."""

    start: float
    end: float
    text: str

    @property
    def clock(self) -> str:
        return _clock(self.start)


@dataclass(frozen=True)
class Player:
    asset_id: str
    kind: str  # "video" or "audio"
    label: str
    src: str  # the master playlist
    poster: str | None
    width: int | None
    height: int | None
    duration: float
    captions: tuple[CaptionTrack, ...]
    download: str | None
    waveform: str | None = None
    transcript: tuple[Line, ...] = ()
    transcript_track: CaptionTrack | None = None

    @property
    def duration_text(self) -> str:
        """ "4:05" or "1:02:03": the same in every language."""
        return _clock(self.duration) if self.duration > 0 else ""


def _clock(seconds: float) -> str:
    minutes, whole = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{whole:02d}" if hours else f"{minutes}:{whole:02d}"


def players(assets: Iterable[Asset], lang: str, derivatives: Path | None = None) -> list[Player]:
    """The record's own recordings, in catalog order (guides apart: see :func:`guide_for`);
    given the derivatives folder, each with the transcript of its captions in ``lang`` (else
    its first captions)."""
    return [
        _player(asset, lang, derivatives)
        for asset in assets
        if asset.role != GUIDE_ROLE and _playable(asset)
    ]


def guide_for(assets: Iterable[Asset], lang: str) -> Player | None:
    """The audio guide in the page's language, else in any language, else None."""
    guides = [a for a in assets if a.role == GUIDE_ROLE and _playable(a)]
    chosen = next((a for a in guides if a.technical.get("guide_language") == lang), None)
    chosen = chosen or next(iter(guides), None)
    return _player(chosen, lang) if chosen is not None else None


def _playable(asset: Asset) -> bool:
    technical = asset.technical or {}
    return (
        asset.kind in ("video", "audio")
        and asset.published_version is not None
        and technical.get("pipeline") == "av"
    )


def _player(asset: Asset, lang: str, derivatives: Path | None = None) -> Player:
    technical = asset.technical
    base = f"/media/{asset.id}/{asset.published_version}/"
    # Machine drafts waiting for review are never offered (assets processed before review
    # existed list theirs under both keys).
    drafts = set(technical.get("caption_drafts") or ())
    tracks = [
        CaptionTrack(
            language=language,
            name=CAPTION_LABELS.get(language, language),
            src=f"{base}captions.{language}.vtt",
        )
        for language in technical.get("captions") or ()
        if language not in drafts
    ]
    poster = technical.get("poster")
    download = technical.get("download")
    waveform = technical.get("waveform")
    chosen = next((t for t in tracks if t.language == lang), tracks[0] if tracks else None)
    lines: tuple[Line, ...] = ()
    if chosen is not None and derivatives is not None:
        folder = derivatives / asset.id / str(asset.published_version)
        lines = transcript(folder / f"captions.{chosen.language}.vtt")
    return Player(
        asset_id=asset.id,
        kind=technical.get("kind") or asset.kind,
        label=localized(asset.label or {}, lang) if asset.label else "",
        src=f"{base}{technical.get('master', 'master.m3u8')}",
        poster=f"{base}{poster}" if poster else None,
        width=technical.get("width"),
        height=technical.get("height"),
        duration=float(technical.get("duration") or 0.0),
        captions=tuple(tracks),
        download=f"{base}{download}" if download else None,
        waveform=f"{base}{waveform}" if waveform else None,
        transcript=lines,
        transcript_track=chosen if lines else None,
    )


@functools.lru_cache(maxsize=256)
def transcript(path: Path) -> tuple[Line, ...]:
    """The lines of a caption file, as plain text (kept: a version's files never change).

    A file that is missing or no longer parses gives no transcript, not a broken page.
    """
    try:
        cues = parse_captions(path.read_bytes(), path.name)
    except (OSError, CaptionError):
        return ()
    return tuple(Line(c.start, c.end, " ".join(c.plain.split())) for c in cues)
