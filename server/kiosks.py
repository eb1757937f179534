"""The museum's kiosks: registered by staff, each signing its heartbeats with its own token.

A kiosk's token is shown once, in its setup address (``/kiosk/{exhibition}?kiosk=<id>&
token=<token>``); only its SHA-256 is kept (``Kiosk.token_hash``), so a copy of the
database lets nobody pose as a kiosk. Every change staff make writes one audit entry; a
heartbeat writes one only when what the kiosk reports about itself changes (its app
version, its cached exhibition version, its last error), not for every minute it is alive.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit import Actor, log_change, snapshot
from server.errors import N_, Conflict, NotFound, TooManyRequests, Unauthorized, ValidationError
from server.models import Exhibition, Kiosk, utcnow

KIOSK_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
TOKEN_BYTES = 24  # 32 URL-safe characters, 192 bits
MAX_LABEL = 255
MAX_VERSION = 64
MAX_ERROR = 2000
MAX_ADDRESS = 64
# A kiosk beats every minute; more often than this is a fault or someone guessing tokens.
MIN_HEARTBEAT_SECONDS = 5
OFFLINE_AFTER = timedelta(minutes=5)  # the admin list's "offline" badge
HIDDEN = frozenset({"token_hash"})


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_kiosk_id(raw: str) -> str:
    value = raw.strip()
    if not KIOSK_ID.fullmatch(value):
        raise ValidationError(
            N_(
                "Kiosk id {value} cannot be used: use 1–64 lowercase letters, digits and "
                "hyphens, e.g. hall-1."
            ),
            parameter="kiosk_id",
            value=value[:80],
        )
    return value


def check_label(raw: str) -> str:
    label = unicodedata.normalize("NFC", raw).strip()
    if len(label) > MAX_LABEL:
        raise ValidationError(
            N_("The name may have at most {count} characters."),
            parameter="label",
            count=MAX_LABEL,
        )
    return label


def check_exhibition(session: Session, exhibition_id: str) -> str | None:
    """The exhibition to show, or None for none; it must exist (a draft may be assigned:
    the kiosk shows it once it is published)."""
    value = exhibition_id.strip()
    if not value:
        return None
    if session.get(Exhibition, value) is None:
        raise ValidationError(
            N_("There is no exhibition with id {id}."), parameter="exhibition_id", id=value[:80]
        )
    return value


# Staff


def create_kiosk(
    session: Session, kiosk_id: str, label: str, exhibition_id: str, actor: Actor
) -> str:
    """A new kiosk; returns its token (shown once, never stored)."""
    kiosk_id = check_kiosk_id(kiosk_id)
    label = check_label(label)
    exhibition = check_exhibition(session, exhibition_id)
    if session.get(Kiosk, kiosk_id) is not None:
        raise Conflict(N_("A kiosk named {id} already exists."), parameter="kiosk_id", id=kiosk_id)
    token = new_token()
    kiosk = Kiosk(
        id=kiosk_id, label=label, token_hash=token_digest(token), exhibition_id=exhibition
    )
    session.add(kiosk)
    session.flush()
    log_change(session, actor, "kiosk.create", "kiosk", kiosk.id, None, _public(kiosk))
    return token


def find_kiosk(session: Session, kiosk_id: str) -> Kiosk:
    kiosk = session.get(Kiosk, kiosk_id, with_for_update=True)
    if kiosk is None:
        raise NotFound(N_("There is no kiosk with id {id}."), parameter="kiosk_id", id=kiosk_id)
    return kiosk


def update_kiosk(
    session: Session, kiosk_id: str, label: str, exhibition_id: str, actor: Actor
) -> bool:
    """Rename the kiosk and assign it an exhibition; False when nothing changed."""
    kiosk = find_kiosk(session, kiosk_id)
    label = check_label(label)
    exhibition = check_exhibition(session, exhibition_id)
    if (kiosk.label, kiosk.exhibition_id) == (label, exhibition):
        return False
    before = {"label": kiosk.label, "exhibition_id": kiosk.exhibition_id}
    kiosk.label, kiosk.exhibition_id = label, exhibition
    after = {"label": kiosk.label, "exhibition_id": kiosk.exhibition_id}
    log_change(session, actor, "kiosk.update", "kiosk", kiosk.id, before, after)
    return True


def regenerate_token(session: Session, kiosk_id: str, actor: Actor) -> tuple[str, str | None]:
    """A new token (the old one stops working at once): ``(token, exhibition id)``."""
    kiosk = find_kiosk(session, kiosk_id)
    token = new_token()
    kiosk.token_hash = token_digest(token)
    log_change(session, actor, "kiosk.token", "kiosk", kiosk.id, None, {"token": "regenerated"})
    return token, kiosk.exhibition_id


def _public(kiosk: Kiosk) -> dict[str, Any]:
    return snapshot(kiosk, exclude=HIDDEN)


# The kiosk itself


@dataclass(frozen=True)
class Report:
    """What a heartbeat says (parsed by ``server.kiosk``)."""

    version: str
    cache: dict[str, Any]
    last_error: str
    shown: str  # the exhibition on screen


def authenticate(session: Session, kiosk_id: str, token: str) -> Kiosk:
    """The kiosk whose token this is; 401 for an unknown kiosk or a wrong token alike."""
    kiosk = session.get(Kiosk, kiosk_id, with_for_update=True) if kiosk_id else None
    expected = kiosk.token_hash if kiosk is not None else token_digest("")
    if kiosk is None or not token or not hmac.compare_digest(expected, token_digest(token)):
        raise Unauthorized(N_("This kiosk's token is not valid; set the kiosk up again."))
    return kiosk


def record_heartbeat(
    session: Session, kiosk_id: str, token: str, report: Report, address: str
) -> Kiosk:
    """Note that the kiosk is alive and what it reports; refuse beats that come too fast."""
    kiosk = authenticate(session, kiosk_id, token)
    now = utcnow()
    if kiosk.last_seen is not None and now - kiosk.last_seen < timedelta(
        seconds=MIN_HEARTBEAT_SECONDS
    ):
        wait = MIN_HEARTBEAT_SECONDS - (now - kiosk.last_seen).total_seconds()
        raise TooManyRequests(
            N_("Heartbeats come too often; wait {seconds} seconds."),
            retry_after=max(1, round(wait)),
            seconds=max(1, round(wait)),
        )
    before = _reported(kiosk)
    kiosk.version = report.version[:MAX_VERSION]
    kiosk.cache_state = {**report.cache, "shown": report.shown}
    kiosk.last_error = report.last_error[:MAX_ERROR]
    kiosk.last_seen = now
    kiosk.address = address[:MAX_ADDRESS]
    after = _reported(kiosk)
    if after != before:
        actor = Actor(None, f"kiosk:{kiosk.id}", kiosk.address)
        log_change(session, actor, "kiosk.report", "kiosk", kiosk.id, before, after)
    return kiosk


def _reported(kiosk: Kiosk) -> dict[str, Any]:
    cache = kiosk.cache_state or {}
    return {
        "version": kiosk.version,
        "manifest_version": cache.get("manifest_version"),
        "complete": cache.get("complete"),
        "shown": cache.get("shown"),
        "last_error": kiosk.last_error,
    }


# The admin list


def assigned_exhibitions(session: Session) -> set[str]:
    """The exhibitions some kiosk is told to show."""
    found = session.scalars(select(Kiosk.exhibition_id).where(Kiosk.exhibition_id.is_not(None)))
    return {str(exhibition_id) for exhibition_id in found}


@dataclass(frozen=True)
class KioskRow:
    id: str
    label: str
    exhibition_id: str | None
    exhibition_title: str
    last_seen: datetime | None
    offline: bool
    version: str
    cache: dict[str, Any]
    current: bool  # its cache holds the assigned exhibition's latest version
    last_error: str
    address: str


def list_kiosks(
    session: Session, versions: dict[str, str], now: datetime | None = None
) -> list[KioskRow]:
    """Every kiosk; ``versions`` maps exhibition id → its current offline version."""
    now = now or utcnow()
    titles = {e.id: e.title.get("vi", e.id) for e in session.scalars(select(Exhibition))}
    rows = []
    for kiosk in session.scalars(select(Kiosk).order_by(Kiosk.id)):
        cache = dict(kiosk.cache_state or {})
        wanted = versions.get(kiosk.exhibition_id or "")
        rows.append(
            KioskRow(
                id=kiosk.id,
                label=kiosk.label,
                exhibition_id=kiosk.exhibition_id,
                exhibition_title=titles.get(kiosk.exhibition_id or "", ""),
                last_seen=kiosk.last_seen,
                offline=kiosk.last_seen is None or now - kiosk.last_seen > OFFLINE_AFTER,
                version=kiosk.version,
                cache=cache,
                current=bool(wanted)
                and cache.get("manifest_version") == wanted
                and bool(cache.get("complete")),
                last_error=kiosk.last_error,
                address=kiosk.address,
            )
        )
    return rows
