"""Rights per media item: whose it is, under which licence, and who may have the original.

A media item's own licence (``Asset.license``) and credit (``Asset.attribution``) win over
its record's rights statement and credit line; a visitor's photograph attached to a
museum record keeps the visitor's name and licence. Older data kept the credit in
``technical["attribution"]`` and the licence in ``technical["rights"]``: both are still
read as a fallback.

Originals (``/originals/{asset_id}``) are files as they were sent, never re-encoded, so
they are served only as downloads (``Content-Disposition: attachment`` with the name in
RFC 6266 form, ``nosniff``, a sandboxing Content-Security-Policy; SECURITY-RESEARCH row
11), and only to

* visitors, when the media item is publicly visible, the museum offers its original
  (``original_downloadable``) and its licence is open (:func:`is_open_licence`);
* staff (editors and above), for any media item they can see in the admin interface;
* anyone holding a current signed link (:mod:`server.signing`) to it.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from server.accel import via_proxy
from server.auth import client_address, current_user
from server.errors import N_, Forbidden, NotFound
from server.i18n import localized
from server.media_access import accept_link, staff_can_see_asset
from server.models import Asset, Record
from server.policy import access_levels_for, has_permission, role_of
from server.records import visible_asset
from server.rights import Rights, describe_rights
from server.signing import SignedLink, query_link, signing_keys, verify
from server.state import get_museum
from server.vocab import GUIDE_ROLE

# Licences under which a visitor may take the original away.
_OPEN_LICENCES = (
    re.compile(r"^https?://creativecommons\.org/licenses/(by|by-sa)/\d+(\.\d+)?/?$"),
    re.compile(r"^https?://creativecommons\.org/publicdomain/(zero|mark)/1\.0/?$"),
    re.compile(r"^https?://rightsstatements\.org/(vocab|page)/NoC-[A-Z]+/1\.0/?$"),
)
_ASSET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/]+')
MAX_NAME = 200
PUBLIC_ORIGINAL_CACHE = "public, max-age=3600"
PRIVATE_CACHE = "private, no-store"
SANDBOX = "default-src 'none'; sandbox"
ALLOWED = "allowed"


def is_open_licence(uri: str) -> bool:
    """CC0, CC BY, CC BY-SA, the Public Domain Mark or a "No Copyright" statement."""
    value = uri.strip()
    return any(pattern.match(value) for pattern in _OPEN_LICENCES)


def _text(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return localized({str(k): str(v) for k, v in value.items()}, lang)
    return value.strip() if isinstance(value, str) else ""


def own_licence(asset: Asset) -> str:
    """The media item's own licence URI ("" when its record's rights cover it)."""
    return (asset.license or "").strip() or _text((asset.technical or {}).get("rights"), "en")


def licence_of(asset: Asset, record: Record | None) -> str:
    """The licence that applies: the item's own, else its record's rights."""
    return own_licence(asset) or ((record.rights or "").strip() if record is not None else "")


def attribution_of(asset: Asset, lang: str) -> str:
    """The media item's own credit ("" when its record's credit covers it)."""
    return (asset.attribution or "").strip() or _text(
        (asset.technical or {}).get("attribution"), lang
    )


def publicly_downloadable(asset: Asset, record: Record | None) -> bool:
    """Whether a visitor who can see the item may download its original."""
    return bool(asset.original_downloadable) and is_open_licence(licence_of(asset, record))


@dataclass(frozen=True)
class MediaRights:
    """What a page shows beside one media item."""

    attribution: str  # "" : the record's credit applies
    rights: Rights | None  # the licence that applies, as a label and a link
    own: bool  # the item has its own credit or licence, different from the record's
    downloadable: bool  # visitors may download its original


def media_rights(asset: Asset, record: Record | None, lang: str) -> MediaRights:
    attribution = attribution_of(asset, lang)
    licence = licence_of(asset, record)
    record_rights = (record.rights or "").strip() if record is not None else ""
    record_credits = set()
    if record is not None:
        record_credits = {
            (record.rights_holder or "").strip(),
            *(record.credit_line or {}).values(),
        }
    own = (bool(attribution) and attribution not in record_credits) or (
        bool(own_licence(asset)) and licence != record_rights
    )
    return MediaRights(
        attribution=attribution,
        rights=describe_rights(licence) if licence else None,
        own=own,
        downloadable=publicly_downloadable(asset, record),
    )


def rights_by_asset(
    assets: Iterable[Asset], record: Record | None, lang: str
) -> dict[str, MediaRights]:
    """Asset id → its rights, for the media blocks of a record page."""
    return {
        asset.id: media_rights(asset, record, lang)
        for asset in assets
        if asset.published_version is not None and asset.role != GUIDE_ROLE
    }


def rights_json(asset: Asset, record: Record | None, base: str) -> dict[str, Any]:
    """The ``rights`` member of ``/api/v1/media/{id}``."""
    licence = licence_of(asset, record)
    download = publicly_downloadable(asset, record)
    return {
        "license": licence,
        "attribution": attribution_of(asset, "vi"),
        "original": f"{base}/originals/{asset.id}" if download else None,
    }


def ascii_fallback(name: str) -> str:
    """A plain-ASCII stand-in for old clients: "Cồng chiêng Đắk Lắk.jpg" becomes
    "Cong chieng Dak Lak.jpg"."""
    text = name.replace("Đ", "D").replace("đ", "d")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._ ()-]+", "_", text).strip(" .") or "original"
    return text[:MAX_NAME]


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the real name as ``filename*`` (RFC 6266,
    RFC 8187): the name never breaks out of the header, whatever it contains."""
    name = unicodedata.normalize("NFC", _UNSAFE_NAME.sub("_", filename)).strip() or "original"
    name = name[:MAX_NAME]
    encoded = quote(name, safe="")
    return f"attachment; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"


# The download endpoint


def _decide(
    session: Session, asset_id: str, role: str, signed: tuple[SignedLink, str, str] | None
) -> tuple[str, Asset | None]:
    """``(answer, asset)``: ALLOWED or public for the file, else why not."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        return "missing", None
    if signed is not None and accept_link(session, signed[0], asset_id, signed[1], signed[2]):
        return ALLOWED, asset
    if has_permission(role, "staff") and staff_can_see_asset(session, asset, role):
        return ALLOWED, asset
    if visible_asset(session, asset_id, access_levels_for(role)) is None:
        return "missing", None
    record = session.get(Record, asset.record_id) if asset.record_id else None
    if not asset.original_downloadable:
        return "not_offered", asset
    if not is_open_licence(licence_of(asset, record)):
        return "not_open", asset
    return "public", asset


async def original(request: Request) -> Response:
    """The original file of a media item, as a download, to whoever may have it."""
    museum = get_museum(request)
    asset_id = request.path_params["asset_id"]
    if not _ASSET_ID.match(asset_id):
        raise _no_media(asset_id)
    role = role_of(current_user(request))
    path = request.url.path
    link = query_link(dict(request.query_params))
    signed = None
    if link is not None and verify(path, link, signing_keys(museum.settings), time.time()):
        signed = (link, path, client_address(request))
    answer, asset = await museum.db.run(
        lambda s: _decide(s, asset_id, role, signed), write=signed is not None
    )
    if answer == "missing" or asset is None:
        raise _no_media(asset_id)
    if answer == "not_offered":
        raise Forbidden(
            N_(
                "The museum does not offer the original file of this media item for download; "
                "the item's page shows it."
            ),
            parameter="asset_id",
        )
    if answer == "not_open":
        raise Forbidden(
            N_(
                "The original file of this media item cannot be downloaded: its licence is not "
                "an open licence."
            ),
            parameter="asset_id",
        )
    file = museum.store.original_path(asset.sha256)
    if not file.is_file():
        raise NotFound(
            N_("The original file of media item {id} is missing from the store."),
            parameter="asset_id",
            id=asset_id,
        )
    headers = {
        "content-disposition": content_disposition(asset.filename),
        "x-content-type-options": "nosniff",
        "content-security-policy": SANDBOX,
        "cache-control": PUBLIC_ORIGINAL_CACHE if answer == "public" else PRIVATE_CACHE,
    }
    if answer != "public":
        headers["x-robots-tag"] = "noindex"
    response = FileResponse(file, media_type=asset.media_type or None, headers=headers)
    return via_proxy(response, museum.settings, museum.store.root)  # nginx sends it, if set


def _no_media(asset_id: str) -> NotFound:
    return NotFound(N_("No media with id {id}."), parameter="asset_id", id=asset_id)
