"""A caption version's files: the media of the version it builds on, linked, with the
accepted captions' WebVTT files and playlists, a master playlist listing them, and a report
describing them (:mod:`server.captions` decides which captions and publishes the version).

Only accepted captions are written: people's, and machine drafts a person reviewed. A draft
never reaches a version's files, so no address under ``/media`` serves it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from processing.av.hls import MASTER, subtitle_lines
from processing.av.pipeline import PLAYLIST_TYPE, subtitle_playlist
from processing.report import describe, write_report
from server.models import AssetCaption
from server.storage import Store

REPORT = "report.json"
_CAPTION_FILE = re.compile(r"captions\.[A-Za-z0-9-]+\.(?:vtt|m3u8)")
_CAPTION_SUFFIX = re.compile(r"-c[0-9a-f]{12}$")
_SUBTITLES_ATTRIBUTE = re.compile(r',SUBTITLES="[^"]*"')


@dataclass(frozen=True)
class Caption:
    """What a row of ``asset_captions`` says, without its timestamps."""

    language: str
    source: str  # "human" or "asr"
    status: str  # "accepted" or "draft"
    label: str
    text: str  # sanitised WebVTT
    author: str = ""
    model: str = ""
    reviewer: str = ""
    reviewed_at: datetime | None = None

    @property
    def published(self) -> bool:
        """Whether visitors get it: people's captions, and machine drafts once reviewed."""
        return self.status == "accepted"


def published(captions: Iterable[Caption]) -> list[Caption]:
    """The captions visitors get, in the order the player lists them."""
    return sorted((c for c in captions if c.published), key=track_order)


def build_version(
    store: Store, asset_id: str, base: str, duration: float, captions: Iterable[Caption]
) -> str:
    """Publish version ``base`` of the asset with exactly the accepted ones of ``captions``
    instead of its own; the new version's name (an existing one is kept: the same name
    always holds the same files). ``duration``: the recording's, in seconds."""
    ordered = published(captions)
    version = f"{_CAPTION_SUFFIX.sub('', base)}-c{_digest(ordered)}"
    if store.derivative_dir(asset_id, version).is_dir():
        return version
    source = store.derivative_dir(asset_id, base)
    with store.publish(asset_id, version) as staging:
        _link_files(source, staging)
        for caption in ordered:
            _write_track(staging, caption, duration)
        master = (source / MASTER).read_text("utf-8")
        (staging / MASTER).write_text(_master(master, _tracks(ordered)), "utf-8")
        _write_report(source, staging, ordered)
    return version


def track_order(caption: Caption | AssetCaption) -> tuple[bool, bool, str]:
    """People's captions first, Vietnamese (the museum's first language) first among them."""
    return (caption.source != "human", caption.language != "vi", caption.language)


def _link_files(source: Path, staging: Path) -> None:
    """Every file of ``source`` but its captions and master playlist, as hard links (copies
    where the file system has none): a new version costs no space for its media."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or _replaced(relative):
            continue
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def _replaced(relative: Path) -> bool:
    """Whether a file of the current version is written afresh in the new one."""
    name = relative.as_posix()
    return name in (MASTER, REPORT) or _CAPTION_FILE.fullmatch(name) is not None


def _write_report(source: Path, staging: Path, ordered: Sequence[Caption]) -> None:
    """The pipeline's report with the files this version changed described afresh (size,
    SHA-256) and its captions listed, so a fixity check of the version holds. The linked
    media keep their entries: they are the same bytes, and hashing a film again would cost
    minutes. The machine's words (the speech statistics' ``segments`` and draft file) stay
    out: visitors get them only as accepted captions."""
    report = json.loads((source / REPORT).read_text("utf-8"))
    speech = report.get("statistics", {}).get("speech")
    if isinstance(speech, dict):
        speech.pop("segments", None)
        speech.pop("captions", None)
    kept = [a for a in report.get("artefacts", []) if not _replaced(Path(a["path"]))]
    written = [
        describe(staging, name, *_caption_kind(name, ordered))
        for name in sorted(
            p.name for p in staging.iterdir() if p.is_file() and _replaced(Path(p.name))
        )
        if name != REPORT
    ]
    report["artefacts"] = written + kept
    report["captions"] = [
        {key: getattr(c, key) for key in ("language", "source", "status", "label", "model")}
        for c in ordered
    ]
    write_report(staging, report)


def _caption_kind(name: str, ordered: Sequence[Caption]) -> tuple[str, str]:
    """(media type, role) of a file :func:`_build` writes (only accepted captions)."""
    if name.endswith(".m3u8"):
        return PLAYLIST_TYPE, "master" if name == MASTER else "playlist"
    return "text/vtt", "captions"


def _write_track(folder: Path, caption: Caption, duration: float) -> None:
    vtt = f"captions.{caption.language}.vtt"
    (folder / vtt).write_text(caption.text, "utf-8")
    playlist = subtitle_playlist(vtt, duration)
    (folder / f"captions.{caption.language}.m3u8").write_text(playlist, "utf-8")


def _tracks(ordered: Sequence[Caption]) -> list[dict[str, str]]:
    """Subtitle tracks for the master playlist (accepted captions only): the first of
    people's captions is the default, else the first reviewed machine caption."""
    default = next((c.language for c in ordered), None)
    return [
        {
            "name": caption.label,
            "language": caption.language,
            "uri": f"captions.{caption.language}.m3u8",
            "default": "yes" if caption.language == default else "",
        }
        for caption in ordered
    ]


def _master(master: str, tracks: list[dict[str, str]]) -> str:
    """``master`` with its subtitle tracks replaced by ``tracks`` (none: no SUBTITLES group)."""
    lines = []
    for line in master.splitlines():
        if line.startswith("#EXT-X-MEDIA:") and "TYPE=SUBTITLES" in line:
            continue
        if line.startswith("#EXT-X-STREAM-INF:"):
            line = _SUBTITLES_ATTRIBUTE.sub("", line) + (',SUBTITLES="subs"' if tracks else "")
        lines.append(line)
    streams = (i for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:"))
    first = next(streams, len(lines))
    lines[first:first] = subtitle_lines(tracks)
    return "\n".join(lines) + "\n"


def _digest(ordered: Sequence[Caption]) -> str:
    """12 hex digits of SHA-256 over what the captions put into the version's files."""
    published = [[c.language, c.source, c.status, c.label, c.text] for c in ordered]
    data = json.dumps(published, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()[:12]
