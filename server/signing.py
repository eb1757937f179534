"""Short-lived signed links to restricted files (SECURITY-RESEARCH.md row 21).

A staff page that shows a restricted original or derivative links to it with a signature
instead of a public path, so a link copied out of the page (or forwarded) stops working
after ``MUSEUM_SIGNED_URL_TTL`` seconds:

* the signature is HMAC-SHA256 over the method, the path (or, for a folder of derivatives
  such as an HLS ladder, the path prefix), the expiry (Unix seconds) and the id of the
  account it was issued to, keyed with a key derived from the app's secret;
* it is checked with :func:`hmac.compare_digest` against the current key and, during a key
  rotation, the previous one (``<data dir>/secret_key.previous``);
* an expiry in the past, or further ahead than :data:`MAX_TTL`, is refused whatever the
  signature says.

Files take the signature as a query (``?exp=…&uid=…&sig=…``). A folder of derivatives
takes it as a path segment (``/media/_signed/<exp>.<uid>.<sig>/<asset>/<version>/…``),
because players resolve an HLS playlist's relative segment addresses against the
playlist's path and drop its query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from server.audit import Actor, log_change
from server.settings import Settings

KEY_PURPOSE = b"museum signed link v1"
PREVIOUS_KEY_FILE = "secret_key.previous"
MAX_TTL = 86400  # the largest MUSEUM_SIGNED_URL_TTL allows
KEY_CACHE_SECONDS = 30.0  # a rotated key is picked up within this long
MEDIA_TOKEN_SEGMENT = "_signed"  # noqa: S105 - a path segment, not a secret
_NUMBER = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_TOKEN = re.compile(r"^([0-9]{1,12})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class SignedLink:
    """A signature's parts as they travel in a URL (strings: they are checked, not trusted)."""

    expires: str
    user_id: str
    signature: str


def derive_key(secret: str) -> bytes:
    """The signing key: the app secret is never used directly for links."""
    return hmac.new(secret.encode("utf-8"), KEY_PURPOSE, hashlib.sha256).digest()


_keys: dict[tuple[str, str], tuple[float, tuple[bytes, ...]]] = {}


def signing_keys(settings: Settings) -> tuple[bytes, ...]:
    """The current key, then the previous one if ``<data dir>/secret_key.previous`` exists."""
    from server.app import ensure_secret_key

    cache_key = (str(settings.data_dir), settings.secret_key)
    cached = _keys.get(cache_key)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    keys = [derive_key(ensure_secret_key(settings))]
    previous = Path(settings.data_dir) / PREVIOUS_KEY_FILE
    if previous.is_file():
        text = previous.read_text(encoding="utf-8").strip()
        if text:
            keys.append(derive_key(text))
    found = tuple(keys)
    _keys[cache_key] = (now + KEY_CACHE_SECONDS, found)
    return found


def sign(path: str, expires: int, user_id: int, key: bytes, method: str = "GET") -> str:
    """The signature of ``method path`` for ``user_id`` until ``expires`` (Unix seconds)."""
    # surrogatepass: any text a server hands over as a path signs (and differs) byte for byte
    message = f"{method.upper()}\n{path}\n{expires}\n{user_id}".encode("utf-8", "surrogatepass")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(
    path: str,
    link: SignedLink,
    keys: Sequence[bytes],
    now: float,
    method: str = "GET",
    max_ttl: int = MAX_TTL,
) -> int | None:
    """The user id the link was issued to when it is genuine and current, else None.

    The signature is compared as text, so two spellings of the same bytes (base64's
    unused low bits) are not both accepted.
    """
    if not (_NUMBER.match(link.expires) and _NUMBER.match(link.user_id)):
        return None
    if not _SIGNATURE.match(link.signature):
        return None
    expires = int(link.expires)
    if expires <= now or expires > now + max_ttl:
        return None
    user_id = int(link.user_id)
    for key in keys:
        expected = sign(path, expires, user_id, key, method)
        if hmac.compare_digest(expected, link.signature):
            return user_id
    return None


def expiry(settings: Settings, now: float | None = None) -> int:
    return int((time.time() if now is None else now) + settings.signed_url_ttl)


def link_for(path: str, user_id: int, settings: Settings, now: float | None = None) -> SignedLink:
    expires = expiry(settings, now)
    signature = sign(path, expires, user_id, signing_keys(settings)[0])
    return SignedLink(str(expires), str(user_id), signature)


def file_url(path: str, link: SignedLink) -> str:
    """``path?exp=…&uid=…&sig=…`` for one file."""
    query = urlencode({"exp": link.expires, "uid": link.user_id, "sig": link.signature})
    return f"{path}?{query}"


def signed_file_url(path: str, user_id: int, settings: Settings, now: float | None = None) -> str:
    return file_url(path, link_for(path, user_id, settings, now))


def media_prefix(asset_id: str, version: str) -> str:
    """The path prefix a derivative folder's signature covers."""
    return f"/media/{asset_id}/{version}/"


def media_base(asset_id: str, version: str, link: SignedLink) -> str:
    """``/media/_signed/<token>/<asset>/<version>/``: every file below it, while ``link`` is
    current (``link`` must be signed for :func:`media_prefix`)."""
    token = f"{link.expires}.{link.user_id}.{link.signature}"
    return f"/media/{MEDIA_TOKEN_SEGMENT}/{token}/{asset_id}/{version}/"


def signed_media_base(
    asset_id: str, version: str, user_id: int, settings: Settings, now: float | None = None
) -> str:
    link = link_for(media_prefix(asset_id, version), user_id, settings, now)
    return media_base(asset_id, version, link)


def parse_token(token: str) -> SignedLink | None:
    match = _TOKEN.match(token)
    return SignedLink(*match.groups()) if match else None


def query_link(params: dict[str, str]) -> SignedLink | None:
    """The signature of a ``?exp=&uid=&sig=`` query, or None when it has none."""
    if "sig" not in params:
        return None
    return SignedLink(params.get("exp", ""), params.get("uid", ""), params.get("sig", ""))


def log_issue(session: Session, actor: Actor, asset_id: str, path: str, expires: int | str) -> None:
    """The audit row for a link handed out (``signed_url.issue``)."""
    log_change(
        session,
        actor,
        "signed_url.issue",
        "asset",
        asset_id,
        after={"path": path, "expires": int(expires)},
    )


def log_use(session: Session, actor: Actor, asset_id: str, path: str, link: SignedLink) -> None:
    """The audit row for a link followed (``signed_url.use``)."""
    log_change(
        session,
        actor,
        "signed_url.use",
        "asset",
        asset_id,
        after={"path": path, "expires": int(link.expires), "issued_to": int(link.user_id)},
    )
