"""Captions of videos and recordings in the catalog: people's WebVTT and SRT, several languages
per item, published as a new derivative version.

A published version folder never changes (it is served with immutable caching), so adding,
replacing or removing a language builds a new version beside it: hard links to every file of
the version visitors see now, then the caption files and ``master.m3u8`` written afresh from
the ``asset_captions`` table, which holds both people's captions and the pipeline's machine
drafts. The new version is named after the pipeline version it builds on and a digest of the
captions, so the same captions always give the same name and a version that exists already
is reused. The old folder stays: pages and manifests already handed out keep working.

Building happens outside any transaction (linking a long film's segments takes seconds,
longer than SQLite should be locked); the short transaction that publishes checks that
neither the published version nor the captions changed meanwhile, and builds again if they did.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from processing.av.captions import CaptionError, Cue, cues_to_webvtt, format_timestamp
from processing.av.captions import parse_captions as parse_caption_file
from processing.av.hls import MASTER, subtitle_lines
from processing.av.pipeline import PLAYLIST_TYPE, subtitle_playlist
from processing.report import describe, write_report
from server.db import Database
from server.errors import N_, Conflict, NotFound, ValidationError
from server.i18n import nfc
from server.models import Asset, AssetCaption, utcnow
from server.storage import Store
from server.vocab import CAPTION_LABELS

AV_KINDS = ("video", "audio")
MAX_LABEL = 100
# A caption may run on a little past the end: the last word often outlasts the last frame.
GRACE_SECONDS = 1.0
ATTEMPTS = 3  # builds before giving up when captions keep changing underneath
REPORT = "report.json"
# BCP 47, as far as caption tracks need it: a 2–3 letter language, optionally a region.
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-(?:[A-Z]{2}|[0-9]{3}))?")
_CAPTION_FILE = re.compile(r"captions\.[A-Za-z0-9-]+\.(?:vtt|m3u8)")
_CAPTION_SUFFIX = re.compile(r"-c[0-9a-f]{12}$")
_SUBTITLES_ATTRIBUTE = re.compile(r',SUBTITLES="[^"]*"')
# Each language in its own name, as a player's caption menu shows it.

PARSE_ERRORS = {
    "caption_too_large": N_("The caption file is too large: {detail}"),
    "caption_encoding": N_("The caption file is not UTF-8 text: {detail}"),
    "caption_empty": N_("The caption file, or a caption in it, is empty: {detail}"),
    "caption_syntax": N_("The caption file is not valid WebVTT or SRT: {detail}"),
    "caption_timing": N_("A caption in the file ends before it starts: {detail}"),
    "caption_too_many": N_("The caption file holds too many captions: {detail}"),
}
PARSE_ERROR = N_("The caption file was refused: {detail}")


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

    @property
    def track_name(self) -> str:
        """The name a player's caption menu shows: machine drafts say so."""
        return self.label if self.source == "human" else f"{self.label} (machine draft)"


@dataclass(frozen=True)
class _Snapshot:
    """An asset's published version and captions, as read before building."""

    version: str
    duration: float
    captions: dict[str, Caption]


# Public operations


def set_captions(
    db: Database,
    store: Store,
    asset_id: str,
    language: str,
    data: bytes,
    filename: str,
    *,
    label: str | None = None,
    author: str = "",
) -> str:
    """Add or replace the asset's captions in ``language`` from a WebVTT or SRT file, and
    publish a version with them; the version's name.

    The file is checked and sanitised first: a refused file changes nothing.
    """
    language = language_code(language)
    wanted_label = clean_label(label)
    cues = parse_captions(data, filename)
    text = cues_to_webvtt(cues)

    def change(snapshot: _Snapshot) -> dict[str, Caption]:
        _check_length(cues, snapshot.duration)
        current = snapshot.captions.get(language)
        caption = Caption(
            language=language,
            source="human",
            status="accepted",
            label=wanted_label or (current.label if current else default_label(language)),
            text=text,
            author=nfc(author.strip()),
        )
        return {**snapshot.captions, language: caption}

    return _republish(db, store, asset_id, change)


def remove_captions(db: Database, store: Store, asset_id: str, language: str) -> str:
    """Remove the asset's captions in ``language`` (people's or a machine draft) and publish a
    version without them; the version's name."""
    language = language_code(language)

    def change(snapshot: _Snapshot) -> dict[str, Caption]:
        if language not in snapshot.captions:
            raise _no_captions(asset_id, language)
        return {lang: c for lang, c in snapshot.captions.items() if lang != language}

    return _republish(db, store, asset_id, change)


def list_captions(db: Database, asset_id: str) -> list[AssetCaption]:
    """The asset's caption tracks, in the order the player lists them."""

    def read(session: Session) -> list[AssetCaption]:
        _av_asset(session, asset_id)
        return sorted(_rows(session, asset_id), key=_track_order)

    return db.call(read)


def caption_text(db: Database, asset_id: str, language: str) -> str:
    """The WebVTT of the asset's captions in ``language``."""
    language = language_code(language)
    for row in list_captions(db, asset_id):
        if row.language == language:
            return row.text
    raise _no_captions(asset_id, language)


def keep_captions(
    db: Database, store: Store, asset_id: str, version: str, report: dict[str, Any]
) -> str:
    """After the pipeline published ``version``: its machine drafts go into the catalog and,
    when people have written captions for the asset, a version with theirs too is published
    on top, so reprocessing never loses them. The version visitors now see."""
    folder = store.derivative_dir(asset_id, version)

    def record(session: Session) -> bool:
        if session.get(Asset, asset_id) is None:
            return False  # deleted while it was being processed
        record_machine_captions(session, asset_id, report, folder)
        return any(row.source == "human" for row in _rows(session, asset_id))

    if not db.call(record, write=True):
        return version  # the pipeline's own folder already holds every caption
    return _republish(db, store, asset_id, lambda snapshot: snapshot.captions)


def record_machine_captions(
    session: Session, asset_id: str, report: dict[str, Any], folder: Path
) -> None:
    """Keep the machine draft of a pipeline ``report`` (its files in ``folder``) as the
    asset's caption in that language, replacing earlier drafts; people's captions win."""
    rows = _rows(session, asset_id)
    desired = {row.language: _caption(row) for row in rows if row.source == "human"}
    for draft in _machine_drafts(report, folder):
        desired.setdefault(draft.language, draft)
    _sync(session, asset_id, desired)


# Checking what people send


def language_code(value: str) -> str:
    """A caption language as stored: ``vi``, ``rad``, ``pt-BR`` (case normalised), or a
    :class:`ValidationError`. It becomes part of file names, hence the strict form."""
    primary, dash, region = value.strip().partition("-")
    code = primary.lower() + (dash + region.upper() if dash else "")
    if not _LANGUAGE.fullmatch(code):
        raise ValidationError(
            N_(
                "Not a language code: {language!r}. Use two or three letters, optionally "
                "with a region: vi, en, rad, pt-BR."
            ),
            parameter="language",
            language=value,
        )
    return code


def default_label(language: str) -> str:
    """The language's own name when the museum knows it, else its code."""
    return CAPTION_LABELS.get(language, language)


def clean_label(value: str | None) -> str | None:
    """A track name as a player may show it: NFC, one line, no control characters; None
    when not given. Double quotes are refused: the playlist cannot hold them."""
    if value is None:
        return None
    kept = "".join(ch for ch in " ".join(value.split()) if unicodedata.category(ch) != "Cc")
    label = nfc(kept)
    if not label or len(label) > MAX_LABEL or '"' in label:
        raise ValidationError(
            N_("A caption label must be 1 to {limit} characters long, without double quotes."),
            parameter="label",
            limit=MAX_LABEL,
        )
    return label


def parse_captions(data: bytes, filename: str) -> list[Cue]:
    """The file's cues, validated and sanitised, or a :class:`ValidationError` in the user's
    language that keeps the parser's line-numbered detail."""
    try:
        return parse_caption_file(data, filename)
    except CaptionError as exc:
        raise ValidationError(
            PARSE_ERRORS.get(exc.code, PARSE_ERROR), parameter="file", detail=exc.message
        ) from exc


def _check_length(cues: Iterable[Cue], duration: float) -> None:
    if duration <= 0:
        return  # the pipeline measured no duration: nothing to check against
    late = next((cue for cue in cues if cue.end > duration + GRACE_SECONDS), None)
    if late is not None:
        raise ValidationError(
            N_("The caption from {start} to {end} ends after the recording, which lasts {length}."),
            parameter="file",
            start=format_timestamp(late.start),
            end=format_timestamp(late.end),
            length=format_timestamp(duration),
        )


# Publishing


def _republish(
    db: Database, store: Store, asset_id: str, change: Callable[[_Snapshot], dict[str, Caption]]
) -> str:
    """Build and publish the version holding ``change(snapshot)``'s captions; its name."""
    for _ in range(ATTEMPTS):
        snapshot = db.call(lambda session: _snapshot(session, store, asset_id), write=True)
        captions = change(snapshot)
        version = _build(store, asset_id, snapshot, captions)
        publish = partial(
            _publish, asset_id=asset_id, snapshot=snapshot, captions=captions, version=version
        )
        if db.call(publish, write=True):
            return version
    raise Conflict(
        N_("The captions of asset {asset_id} are being changed elsewhere; please try again."),
        asset_id=asset_id,
    )


def _snapshot(session: Session, store: Store, asset_id: str) -> _Snapshot:
    asset = _av_asset(session, asset_id)
    if asset.published_version is None:
        raise Conflict(
            N_(
                "Asset {asset_id} has not been processed yet; captions can be added once its "
                "video or recording is published."
            ),
            parameter="asset",
            asset_id=asset_id,
        )
    _adopt_drafts(session, store, asset)
    technical = asset.technical or {}
    duration = technical.get("duration")
    return _Snapshot(
        version=asset.published_version,
        duration=float(duration) if isinstance(duration, int | float) else 0.0,
        captions={row.language: _caption(row) for row in _rows(session, asset_id)},
    )


def _adopt_drafts(session: Session, store: Store, asset: Asset) -> None:
    """Machine drafts published before captions were kept in the catalog go into it now, so
    a version built from the table does not lose them."""
    drafts = (asset.technical or {}).get("caption_drafts") or []
    known = {row.language for row in _rows(session, asset.id)}
    if not drafts or set(drafts) <= known or asset.published_version is None:
        return
    folder = store.derivative_dir(asset.id, asset.published_version)
    report = folder / REPORT
    if report.is_file():
        record_machine_captions(session, asset.id, json.loads(report.read_bytes()), folder)


def _build(store: Store, asset_id: str, snapshot: _Snapshot, captions: dict[str, Caption]) -> str:
    """Publish the snapshot's version with exactly these captions instead of its own; the new
    version's name (an existing one is kept: the same name always holds the same files)."""
    ordered = sorted(captions.values(), key=_track_order)
    version = f"{_CAPTION_SUFFIX.sub('', snapshot.version)}-c{_digest(ordered)}"
    if store.derivative_dir(asset_id, version).is_dir():
        return version
    source = store.derivative_dir(asset_id, snapshot.version)
    with store.publish(asset_id, version) as staging:
        _link_files(source, staging)
        for caption in ordered:
            _write_track(staging, caption, snapshot.duration)
        master = (source / MASTER).read_text("utf-8")
        (staging / MASTER).write_text(_master(master, _tracks(ordered)), "utf-8")
        _write_report(source, staging, ordered)
    return version


def _publish(
    session: Session,
    asset_id: str,
    snapshot: _Snapshot,
    captions: dict[str, Caption],
    version: str,
) -> bool:
    """Make ``version`` the one visitors see, with its captions in the table, if nothing
    changed since ``snapshot`` was read; whether it did."""
    asset = session.get(Asset, asset_id, with_for_update=True)
    if asset is None:
        raise _unknown_asset(asset_id)
    now = {row.language: _caption(row) for row in _rows(session, asset_id)}
    if asset.published_version != snapshot.version or now != snapshot.captions:
        return False
    _sync(session, asset_id, captions)
    ordered = sorted(captions.values(), key=_track_order)
    asset.published_version = version
    asset.technical = {
        **(asset.technical or {}),
        "captions": [c.language for c in ordered],
        "caption_drafts": [c.language for c in ordered if c.status == "draft"],
    }
    asset.updated_at = utcnow()
    return True


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
    minutes."""
    report = json.loads((source / REPORT).read_text("utf-8"))
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
    """(media type, role) of a file :func:`_build` writes."""
    if name.endswith(".m3u8"):
        return PLAYLIST_TYPE, "master" if name == MASTER else "playlist"
    language = name.removeprefix("captions.").removesuffix(".vtt")
    drafts = {c.language for c in ordered if c.status == "draft"}
    return "text/vtt", "captions-draft" if language in drafts else "captions"


def _write_track(folder: Path, caption: Caption, duration: float) -> None:
    vtt = f"captions.{caption.language}.vtt"
    (folder / vtt).write_text(caption.text, "utf-8")
    playlist = subtitle_playlist(vtt, duration)
    (folder / f"captions.{caption.language}.m3u8").write_text(playlist, "utf-8")


def _tracks(ordered: Sequence[Caption]) -> list[dict[str, str]]:
    """Subtitle tracks for the master playlist: the first of people's captions is the
    default; machine drafts never are."""
    default = next((c.language for c in ordered if c.source == "human"), None)
    return [
        {
            "name": caption.track_name,
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


# The table


def _rows(session: Session, asset_id: str) -> list[AssetCaption]:
    return list(session.scalars(select(AssetCaption).where(AssetCaption.asset_id == asset_id)))


def _caption(row: AssetCaption) -> Caption:
    return Caption(
        language=row.language,
        source=row.source,
        status=row.status,
        label=row.label,
        text=row.text,
        author=row.author,
        model=row.model,
    )


def _sync(session: Session, asset_id: str, desired: dict[str, Caption]) -> None:
    """Make the asset's rows say ``desired``; rows that change get a new ``updated_at``."""
    now = utcnow()
    existing = {row.language: row for row in _rows(session, asset_id)}
    for gone in existing.keys() - desired.keys():
        session.delete(existing[gone])
    for language, caption in desired.items():
        row = existing.get(language)
        if row is None:
            session.add(
                AssetCaption(asset_id=asset_id, **asdict(caption), created_at=now, updated_at=now)
            )
        elif _caption(row) != caption:
            for key, value in asdict(caption).items():
                setattr(row, key, value)
            row.updated_at = now


def _machine_drafts(report: dict[str, Any], folder: Path) -> list[Caption]:
    """The draft captions a pipeline report lists, read from its version folder."""
    speech = report.get("statistics", {}).get("speech") or {}
    if not speech.get("captions"):
        return []
    language = str(speech["language"])
    return [
        Caption(
            language=language,
            source="asr",
            status="draft",
            label=default_label(language),
            text=(folder / speech["captions"]).read_text("utf-8"),
            model=f"faster-whisper {speech.get('model', '')}".strip(),
        )
    ]


def _track_order(caption: Caption | AssetCaption) -> tuple[bool, bool, str]:
    """People's captions first, Vietnamese (the museum's first language) first among them."""
    return (caption.source != "human", caption.language != "vi", caption.language)


# Refusals


def _av_asset(session: Session, asset_id: str) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise _unknown_asset(asset_id)
    if asset.kind not in AV_KINDS:
        raise ValidationError(
            N_("Asset {asset_id} is not a video or a recording; only those have captions."),
            parameter="asset",
            asset_id=asset_id,
        )
    return asset


def _unknown_asset(asset_id: str) -> NotFound:
    return NotFound(N_("No asset with id {asset_id}."), parameter="asset", asset_id=asset_id)


def _no_captions(asset_id: str, language: str) -> NotFound:
    return NotFound(
        N_("Asset {asset_id} has no captions in {language}."),
        parameter="language",
        asset_id=asset_id,
        language=language,
    )
