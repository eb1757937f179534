"""Captions of videos and recordings in the catalog: people's WebVTT and SRT, several languages
per item, published as a new derivative version.

A published version folder never changes (it is served with immutable caching), so adding,
replacing or removing a language builds a new version beside it: hard links to every file of
the version visitors see now, then the caption files and ``master.m3u8`` written afresh from
the ``asset_captions`` table, which holds people's captions and the pipeline's machine
drafts. Only accepted captions go into a version's files (:mod:`server.caption_files`):
people's, and machine drafts a person reviewed (:func:`review_caption`); a draft waits in the
table, and on the review page, until then. The new version is named after the pipeline
version it builds on and a digest of its captions, so the same captions always give the same
name and a version that exists already is reused. The old folder stays: pages and manifests
already handed out keep working.

Building happens outside any transaction (linking a long film's segments takes seconds,
longer than SQLite should be locked); the short transaction that publishes checks that
neither the published version nor the captions changed meanwhile, and builds again if they did.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from processing.av.captions import CaptionError, Cue, cues_to_webvtt, format_timestamp
from processing.av.captions import parse_captions as parse_caption_file
from server.caption_files import REPORT, Caption, build_version, published, track_order
from server.db import Database
from server.errors import N_, Conflict, NotFound, ValidationError
from server.i18n import nfc
from server.models import Asset, AssetCaption, AssetText, utcnow
from server.storage import Store
from server.vocab import CAPTION_LABELS

AV_KINDS = ("video", "audio")
MAX_LABEL = 100
# A caption may run on a little past the end: the last word often outlasts the last frame.
GRACE_SECONDS = 1.0
ATTEMPTS = 3  # builds before giving up when captions keep changing underneath
# BCP 47, as far as caption tracks need it: a 2–3 letter language, optionally a region.
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-(?:[A-Z]{2}|[0-9]{3}))?")

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


def remove_captions(
    db: Database,
    store: Store,
    asset_id: str,
    language: str,
    *,
    drafts_only: bool = False,
    then: Callable[[Session], None] | None = None,
) -> str:
    """Remove the asset's captions in ``language`` (people's or a machine draft; with
    ``drafts_only``, only a machine draft still waiting for review) and publish a version
    without them; the version's name. ``then`` runs in the publishing transaction."""
    language = language_code(language)

    def change(snapshot: _Snapshot) -> dict[str, Caption]:
        current = snapshot.captions.get(language)
        if current is None:
            raise _no_captions(asset_id, language)
        if drafts_only and current.status != "draft":
            raise _reviewed(asset_id, language)
        return {lang: c for lang, c in snapshot.captions.items() if lang != language}

    return _republish(db, store, asset_id, change, then)


def review_caption(
    db: Database,
    store: Store,
    asset_id: str,
    language: str,
    *,
    reviewer: str,
    data: bytes | None = None,
    then: Callable[[Session], None] | None = None,
) -> str:
    """Accept the machine draft in ``language`` as reviewed by ``reviewer``, with its text
    replaced by ``data`` (WebVTT or SRT, checked like an upload) when given, and publish a
    version with it; the version's name. ``then`` runs in the publishing transaction."""
    language = language_code(language)
    cues = parse_captions(data, "review.vtt") if data is not None else None

    def change(snapshot: _Snapshot) -> dict[str, Caption]:
        current = snapshot.captions.get(language)
        if current is None:
            raise _no_captions(asset_id, language)
        if current.status != "draft":
            raise _reviewed(asset_id, language)
        if cues is not None:
            _check_length(cues, snapshot.duration)
        accepted = replace(
            current,
            status="accepted",
            text=cues_to_webvtt(cues) if cues is not None else current.text,
            reviewer=reviewer,
            reviewed_at=utcnow(),
        )
        return {**snapshot.captions, language: accepted}

    return _republish(db, store, asset_id, change, then)


def refresh_captions(db: Database, store: Store, asset_id: str) -> str:
    """Publish the version the table's captions call for now (the same one, when nothing
    changed): heals a caption change that raced with processing. The version's name; an
    asset without captions keeps its version."""

    def current(session: Session) -> tuple[str | None, bool]:
        asset = _av_asset(session, asset_id)
        return asset.published_version, bool(_rows(session, asset_id))

    version, captioned = db.call(current)
    if not captioned and version is not None:
        return version
    return _republish(db, store, asset_id, lambda snapshot: snapshot.captions)


def list_captions(db: Database, asset_id: str) -> list[AssetCaption]:
    """The asset's caption tracks, in the order the player lists them."""

    def read(session: Session) -> list[AssetCaption]:
        _av_asset(session, asset_id)
        return sorted(_rows(session, asset_id), key=track_order)

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
    """Before the pipeline's ``version`` is published: its machine drafts go into the catalog
    (for review), and the version to publish instead is built beside it: the pipeline's
    media with the asset's accepted captions only, so reprocessing never loses people's
    captions and never shows a draft. Returns the version to publish (``version`` itself
    when the pipeline wrote no captions and there are none to add)."""
    folder = store.derivative_dir(asset_id, version)

    def record(session: Session) -> dict[str, Caption] | None:
        if session.get(Asset, asset_id) is None:
            return None  # deleted while it was being processed
        record_machine_captions(session, asset_id, report, folder)
        return {row.language: _caption(row) for row in _rows(session, asset_id)}

    captions = db.call(record, write=True)
    speech = report.get("statistics", {}).get("speech") or {}
    if captions is None or (not speech.get("captions") and not published(captions.values())):
        return version
    duration = report.get("statistics", {}).get("duration")
    length = float(duration) if isinstance(duration, int | float) else 0.0
    return build_version(store, asset_id, version, length, captions.values())


def record_machine_captions(
    session: Session, asset_id: str, report: dict[str, Any], folder: Path
) -> None:
    """Keep the machine draft of a pipeline ``report`` (its files in ``folder``) as the
    asset's caption in that language, replacing earlier drafts; people's captions, and
    drafts a person accepted, win."""
    rows = _rows(session, asset_id)
    desired = {row.language: _caption(row) for row in rows if _caption(row).published}
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
    db: Database,
    store: Store,
    asset_id: str,
    change: Callable[[_Snapshot], dict[str, Caption]],
    then: Callable[[Session], None] | None = None,
) -> str:
    """Build and publish the version holding ``change(snapshot)``'s accepted captions (every
    caption stays in the table); its name. ``then(session)`` runs in the transaction that
    publishes it (an audit entry, say)."""
    for _ in range(ATTEMPTS):
        snapshot = db.call(lambda session: _snapshot(session, store, asset_id), write=True)
        captions = change(snapshot)
        version = build_version(
            store, asset_id, snapshot.version, snapshot.duration, captions.values()
        )
        publish = partial(
            _publish,
            asset_id=asset_id,
            snapshot=snapshot,
            captions=captions,
            version=version,
            then=then,
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


def _publish(
    session: Session,
    asset_id: str,
    snapshot: _Snapshot,
    captions: dict[str, Caption],
    version: str,
    then: Callable[[Session], None] | None = None,
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
    ordered = sorted(captions.values(), key=track_order)
    follow_version(session, asset_id, snapshot.version, version)
    asset.published_version = version
    asset.technical = {
        **(asset.technical or {}),
        "captions": [c.language for c in ordered if c.published],
        "caption_drafts": [c.language for c in ordered if not c.published],
    }
    asset.updated_at = utcnow()
    if then is not None:
        then(session)
    return True


def follow_version(session: Session, asset_id: str, old: str, new: str) -> None:
    """The words read from a recording belong to its media, which a captions version links
    unchanged: they follow the asset to the new version (search reads the published one's)."""
    text = session.get(AssetText, asset_id)
    if text is not None and text.version == old:
        text.version = new


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
        reviewer=row.reviewer,
        reviewed_at=row.reviewed_at,
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


def _reviewed(asset_id: str, language: str) -> Conflict:
    return Conflict(
        N_("The captions of asset {asset_id} in {language} were reviewed already."),
        parameter="language",
        asset_id=asset_id,
        language=language,
    )


def _no_captions(asset_id: str, language: str) -> NotFound:
    return NotFound(
        N_("Asset {asset_id} has no captions in {language}."),
        parameter="language",
        asset_id=asset_id,
        language=language,
    )
