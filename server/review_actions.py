"""Deciding on machine output: accept, edit and accept, or reject (``server.review`` serves it).

Three kinds of machine output wait for a person (``KINDS``):

* ``draft``: a :class:`~server.models.MachineDraft` (label, alt text, translated title or
  description). Accepting copies the final text into its place: ``Record.title[lang]``,
  ``Record.description[lang]``, ``Record.extra["label"][lang]`` (the short museum label)
  — each as a new record version — or ``Asset.technical["alt"][lang]`` (kept when the
  asset is processed again);
* ``caption``: an :class:`~server.models.AssetCaption` the speech recogniser wrote.
  Accepting publishes a version of the recording with it (:func:`server.captions.
  review_caption`); the recording's words (its ``asr`` :class:`~server.models.AssetText`)
  follow the caption's decision, so search finds them once they are accepted;
* ``text``: the :class:`~server.models.AssetText` OCR read from a document. Accepting lets
  search use it and, when accepted unedited, shows its positioned lines on the page and in
  IIIF (:func:`server.iiif_manifest.ocr_layer_public`); an edited text no longer matches
  the positioned lines, so only search gets it.

Each decision writes exactly one audit entry, in the transaction that makes the change.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from server.audit import Actor, log_change, snapshot
from server.captions import parse_captions, remove_captions, review_caption
from server.db import Database
from server.drafting.model import ASSET_ALT, RECORD_LABEL, needs_translator
from server.errors import N_, Conflict, Forbidden, NotFound, ValidationError
from server.iiif_manifest import OCR_LAYER
from server.models import Asset, AssetCaption, AssetText, MachineDraft, Record, utcnow
from server.policy import can_edit_record, can_see_in_admin, has_permission
from server.record_versions import save_version
from server.search import index_record
from server.storage import Store

KINDS = ("draft", "caption", "text")
DECISIONS = ("accept", "edit", "reject")
WAITING = "draft"
KEY_SEPARATOR = "~"  # a caption's key: <asset id>~<language>
# The longest text a reviewer may accept, per draft field (characters).
EDIT_LIMITS = {"title": 500, "description": 20_000, "label": 2_000, "alt_text": 1_000}
TEXT_LIMIT = 2_000_000  # a document's whole OCR text


# Who may decide


def may_see(role: str, record: Record | None, asset: Asset | None) -> bool:
    if record is not None:
        return can_see_in_admin(role, record.access_level)
    return asset is not None and can_see_in_admin(role, asset.access_level)


def may_decide(role: str, record: Record | None, asset: Asset | None) -> bool:
    """Editors review what belongs to records they may edit; media without a record need
    a curator."""
    if record is not None:
        return can_edit_record(role, record.status, record.access_level)
    return may_see(role, None, asset) and has_permission(role, "publish")


def check_decide(role: str, record: Record | None, asset: Asset | None) -> None:
    if not may_see(role, record, asset):
        raise NotFound(N_("There is no machine output with this address."), parameter="key")
    if not may_decide(role, record, asset):
        raise Forbidden(
            N_("Your role does not allow reviewing the machine output of this heritage item.")
        )


# Checking what reviewers send


def clean_text(text: str | None, limit: int) -> str:
    """A reviewer's text as stored: NFC, no control characters but line breaks and tabs,
    without surrounding blank space; refused when empty or longer than ``limit``."""
    value = unicodedata.normalize("NFC", (text or "").replace("\r\n", "\n"))
    value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    value = value.strip()
    if not value:
        raise ValidationError(N_("The text is empty; write the text to accept."), parameter="text")
    if len(value) > limit:
        raise ValidationError(
            N_("The text is too long: at most {limit} characters."), parameter="text", limit=limit
        )
    return value


def _decision(decision: str) -> str:
    if decision not in DECISIONS:
        raise ValidationError(
            N_("Unknown decision {decision!r}: accept, edit or reject."),
            parameter="decision",
            decision=decision,
        )
    return decision


def _waiting(status: str) -> None:
    if status != WAITING:
        raise Conflict(N_("This machine output was reviewed already."), parameter="key")


# Machine drafts


def load_draft(
    session: Session, key: str, record_id: str | None = None
) -> tuple[MachineDraft, Record | None, Asset | None]:
    """The draft with id ``key`` (of the record ``record_id``, when given)."""
    draft = session.get(MachineDraft, int(key)) if key.isdigit() and len(key) < 12 else None
    if draft is None or (record_id is not None and draft.record_id != record_id):
        raise NotFound(N_("There is no machine output with this address."), parameter="key")
    record = session.get(Record, draft.record_id)
    asset = session.get(Asset, draft.asset_id) if draft.asset_id else None
    return draft, record, asset


def decide_draft(
    session: Session,
    key: str,
    decision: str,
    text: str | None,
    actor: Actor,
    role: str,
    record_id: str | None = None,
) -> MachineDraft:
    """Accept (the machine's text), edit (``text``) or reject a machine draft (of the record
    ``record_id``, when given)."""
    decision = _decision(decision)
    draft, record, asset = load_draft(session, key, record_id)
    check_decide(role, record, asset)
    _waiting(draft.status)
    before = snapshot(draft)
    target_before: Any = None
    target_after: Any = None
    if decision != "reject":
        limit = EDIT_LIMITS.get(draft.field, EDIT_LIMITS["description"])
        final = clean_text(text if decision == "edit" else draft.text, limit)
        if needs_translator(final):
            raise ValidationError(
                N_(
                    "This draft is not a translation yet: it still says it needs a "
                    "translator. Write the translation, or reject the draft."
                ),
                parameter="text",
            )
        assert record is not None  # the foreign key cascades: a draft has its record
        target_before, target_after = _apply(session, draft, record, asset, final, actor)
        draft.final_text = final
    draft.status = "rejected" if decision == "reject" else "accepted"
    draft.reviewer = actor.name
    draft.reviewed_at = utcnow()
    log_change(
        session,
        actor,
        f"review.{decision}",
        "machine_draft",
        draft.id,
        {**before, "target": target_before},
        {**snapshot(draft), "target": target_after},
    )
    return draft


def _apply(
    session: Session,
    draft: MachineDraft,
    record: Record,
    asset: Asset | None,
    text: str,
    actor: Actor,
) -> tuple[Any, Any]:
    """Put the accepted text in its place; the place's value before and after."""
    lang = draft.language
    if draft.field == "alt_text":
        if asset is None:
            raise Conflict(N_("The media item of this draft no longer exists."), parameter="key")
        technical = dict(asset.technical or {})
        before = dict(technical.get(ASSET_ALT) or {})
        technical[ASSET_ALT] = {**before, lang: text}
        asset.technical = technical
        return before, technical[ASSET_ALT]
    if draft.field == "label":
        extra = dict(record.extra or {})
        before = dict(extra.get(RECORD_LABEL) or {})
        extra[RECORD_LABEL] = {**before, lang: text}
        record.extra = extra
        after = extra[RECORD_LABEL]
    else:  # a translated title or description
        before = dict(getattr(record, draft.field) or {})
        after = {**before, lang: text}
        setattr(record, draft.field, after)
    save_version(session, record, actor, note=f"review: machine draft {draft.id}")
    index_record(session, record)
    return before, after


# Texts read from documents


def load_text(session: Session, key: str) -> tuple[AssetText, Record | None, Asset]:
    text = session.get(AssetText, key) if len(key) <= 64 else None
    asset = session.get(Asset, key) if text is not None else None
    if text is None or asset is None:
        raise NotFound(N_("There is no machine output with this address."), parameter="key")
    record = session.get(Record, asset.record_id) if asset.record_id else None
    return text, record, asset


def decide_text(
    session: Session, key: str, decision: str, edited: str | None, actor: Actor, role: str
) -> AssetText:
    """Accept, edit or reject the text OCR read from a document."""
    decision = _decision(decision)
    text, record, asset = load_text(session, key)
    check_decide(role, record, asset)
    _waiting(text.status)
    if text.version != asset.published_version:
        raise Conflict(
            N_("The document was processed again since this text was read; reload the page."),
            parameter="key",
        )
    before = snapshot(text)
    technical = {k: v for k, v in (asset.technical or {}).items() if k != OCR_LAYER}
    if decision != "reject":
        final = clean_text(edited if decision == "edit" else text.text, TEXT_LIMIT)
        if final == text.text.strip():
            technical[OCR_LAYER] = asset.published_version  # as read: the lines match it
        text.text = final
    asset.technical = technical
    text.status = "rejected" if decision == "reject" else "accepted"
    text.reviewer = actor.name
    text.reviewed_at = utcnow()
    if record is not None:
        index_record(session, record)
    log_change(session, actor, f"review.{decision}", "asset_text", asset.id, before, snapshot(text))
    return text


# Captions made from speech


def caption_key(asset_id: str, language: str) -> str:
    return f"{asset_id}{KEY_SEPARATOR}{language}"


def load_caption(
    session: Session, key: str
) -> tuple[AssetCaption, Record | None, Asset, AssetText | None]:
    asset_id, _, language = key.partition(KEY_SEPARATOR)
    row = session.get(AssetCaption, (asset_id, language)) if language else None
    asset = session.get(Asset, asset_id) if row is not None else None
    if row is None or asset is None or row.source != "asr":
        raise NotFound(N_("There is no machine output with this address."), parameter="key")
    record = session.get(Record, asset.record_id) if asset.record_id else None
    words = session.get(AssetText, asset_id)
    return row, record, asset, words if words is not None and words.source == "asr" else None


def decide_caption(
    db: Database,
    store: Store,
    key: str,
    decision: str,
    edited: str | None,
    actor: Actor,
    role: str,
) -> str:
    """Accept (publishing a version of the recording with it), edit (``edited`` WebVTT) or
    reject (remove) a machine caption; the recording's published version afterwards."""
    decision = _decision(decision)

    def check(session: Session) -> dict[str, Any]:
        row, record, asset, _ = load_caption(session, key)
        check_decide(role, record, asset)
        _waiting(row.status)
        return snapshot(row)

    before = db.call(check)
    asset_id, language = before["asset_id"], before["language"]
    data = None
    if decision == "edit":
        data = clean_text(edited, TEXT_LIMIT).encode("utf-8")
        parse_captions(data, "review.vtt")  # a refused file changes nothing
    hook = _caption_hook(key, decision, before, actor)
    if decision == "reject":
        return remove_captions(db, store, asset_id, language, drafts_only=True, then=hook)
    return review_caption(db, store, asset_id, language, reviewer=actor.name, data=data, then=hook)


def _caption_hook(
    key: str, decision: str, before: dict[str, Any], actor: Actor
) -> Callable[[Session], None]:
    """What else the decision changes, in the transaction that publishes it: the recording's
    words follow the caption, the record's search row is refreshed, the audit entry."""

    def then(session: Session) -> None:
        asset = session.get(Asset, before["asset_id"])
        row = session.get(AssetCaption, (before["asset_id"], before["language"]))
        words = session.get(AssetText, before["asset_id"])
        if words is not None and words.source == "asr" and words.status == WAITING:
            words.status = "rejected" if decision == "reject" else "accepted"
            words.reviewer, words.reviewed_at = actor.name, utcnow()
            if row is not None and decision == "edit":
                words.text = _plain(row.text)
        if (
            asset is not None
            and asset.record_id
            and (record := session.get(Record, asset.record_id))
        ):
            index_record(session, record)
        after = snapshot(row) if row is not None else None
        log_change(session, actor, f"review.{decision}", "asset_caption", key, before, after)

    return then


def _plain(vtt: str) -> str:
    """The words of a WebVTT file, a cue a line (as the recogniser's text is kept)."""
    cues = parse_captions(vtt.encode("utf-8"), "captions.vtt")
    return "\n".join(" ".join(cue.plain.split()) for cue in cues)
