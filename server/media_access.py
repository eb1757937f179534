"""Who may fetch a derivative under ``/media/<asset>/<version>/…``.

Derivatives used to be static files anyone could fetch by address. Now each request is
checked before the file is served (by :class:`ImmutableStaticFiles`, with its ETag and
Range support):

* the asset is publicly visible (its own access level is public and its record is
  published, past its embargo and public: :func:`server.records.visible_asset`) — served
  with the same year-long immutable caching as before;
* or the requester is signed in and may see it (a registered user: their access levels;
  staff: everything they can see in the admin interface, drafts and pending
  contributions included) — served ``private, no-store``;
* or the address carries a valid signed token for the asset's version folder
  (:mod:`server.signing`; ``/media/_signed/<token>/<asset>/<version>/…`` or a
  ``?exp=&uid=&sig=`` query) — served ``private, no-store``;
* anything else is "not found", exactly like a file that does not exist.

Behind nginx with ``MUSEUM_ACCEL_REDIRECT`` set, the file itself is then sent by nginx
(:mod:`server.accel`), with the headers decided here.

To keep public files fast, each process remembers an asset's answer for
:data:`ACCESS_SECONDS` (one catalog query per asset and role every few seconds, shared by
concurrent requests): a change of access reaches ``/media`` within that time. A signed
token's first use is written to the audit log (``signed_url.use``); the same token's
further requests in the same process (the segments of one HLS ladder) are not.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.types import Scope

from server.accel import via_proxy
from server.audit import Actor
from server.errors import N_, NotFound
from server.iiif_cache import Lookups
from server.machine_files import public_file
from server.models import Asset, Record, User
from server.policy import ANONYMOUS, access_levels_for, can_see_in_admin, has_permission
from server.records import visible_asset
from server.signing import (
    MEDIA_TOKEN_SEGMENT,
    SignedLink,
    log_use,
    media_prefix,
    parse_token,
    query_link,
    signing_keys,
    verify,
)
from server.static import ImmutableStaticFiles

ACCESS_SECONDS = 5.0
USED_TOKENS_KEPT = 10_000
PRIVATE_CACHE = "private, no-store"
PUBLIC = "public"
PRIVATE = "private"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PRIVATE_FLAG = "museum.media_private"


def staff_can_see_asset(session: Session, asset: Asset, role: str) -> bool:
    """Staff see an asset in the admin interface when its access level and its record's
    (if it has one) are among theirs, whatever the record's workflow state."""
    if not can_see_in_admin(role, asset.access_level):
        return False
    if asset.record_id is None:
        return True
    record = session.get(Record, asset.record_id)
    return record is not None and record.access_level in access_levels_for(role)


def may_view(session: Session, asset_id: str, role: str) -> bool:
    """Whether ``role`` may fetch the asset's derivatives (visitors: only public ones)."""
    levels = access_levels_for(role)
    if visible_asset(session, asset_id, levels) is not None:
        return True
    if not has_permission(role, "staff"):
        return False
    asset = session.get(Asset, asset_id)
    return asset is not None and staff_can_see_asset(session, asset, role)


@dataclass(frozen=True)
class PublicAsset:
    """What decides which of a publicly visible asset's files visitors may fetch."""

    kind: str
    technical: dict[str, Any]
    published_version: str | None


def public_asset(session: Session, asset_id: str) -> PublicAsset | None:
    asset = visible_asset(session, asset_id, access_levels_for(ANONYMOUS))
    if asset is None:
        return None
    return PublicAsset(asset.kind, dict(asset.technical or {}), asset.published_version)


def accept_link(session: Session, link: SignedLink, asset_id: str, path: str, address: str) -> bool:
    """A genuine link counts only while the account it was issued to is active staff; its
    use is audited in the same transaction."""
    user = session.get(User, int(link.user_id))
    if user is None or not user.active or not has_permission(user.role, "staff"):
        return False
    log_use(session, Actor(user.id, user.username, address), asset_id, path, link)
    return True


class MediaFiles(ImmutableStaticFiles):
    """``/media``: derivatives, served only to whoever may see their asset."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__(directory=directory)
        self.answers: Lookups[bool] = Lookups(ttl=ACCESS_SECONDS)
        # A one-tuple: a lookup's "not public" is shared by the requests waiting on it.
        self.public: Lookups[tuple[PublicAsset | None]] = Lookups(ttl=ACCESS_SECONDS)
        self.used: dict[str, float] = {}  # signature -> expiry, of links already audited

    async def get_response(self, path: str, scope: Scope) -> Response:
        parts = PurePath(path).parts
        link: SignedLink | None = None
        if parts[0] == MEDIA_TOKEN_SEGMENT and len(parts) > 1:
            link = parse_token(parts[1])
            if link is None:
                raise _not_found()
            parts = parts[2:]
        if len(parts) < 3 or not (_NAME.match(parts[0]) and _NAME.match(parts[1])):
            raise _not_found()
        asset_id, version = parts[0], parts[1]
        if link is None:
            link = _query_link(scope)
        relative = str(PurePath(*parts[2:]))
        decision = await self._decide(scope, asset_id, version, relative, link)
        if decision is None:
            raise _not_found()
        if decision == PRIVATE:
            scope = {**scope, _PRIVATE_FLAG: True}
        return await super().get_response(str(PurePath(*parts)), scope)

    def file_response(
        self, full_path: Any, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if scope.get(_PRIVATE_FLAG):
            response.headers["cache-control"] = PRIVATE_CACHE
            response.headers["x-robots-tag"] = "noindex"
        museum = scope["app"].state.museum
        return via_proxy(response, museum.settings, museum.store.root)

    async def _decide(
        self, scope: Scope, asset_id: str, version: str, relative: str, link: SignedLink | None
    ) -> str | None:
        museum = scope["app"].state.museum
        shown = await self._public(museum, asset_id)
        # Machine-written text (draft captions, transcripts, OCR) waits for review: staff
        # reach it below, visitors only once it is accepted (server.machine_files).
        if shown is not None and public_file(
            shown.kind, shown.technical, shown.published_version, version, relative
        ):
            return PUBLIC
        if link is not None and await self._signed(museum, scope, asset_id, version, link):
            return PRIVATE
        user = scope.get("state", {}).get("user")
        if user is not None and await self._allowed(museum, asset_id, user.role):
            return PRIVATE
        return None

    async def _public(self, museum: Any, asset_id: str) -> PublicAsset | None:
        found = self.public.get(asset_id)
        if found is not None:
            return found[0]

        async def look_up() -> tuple[PublicAsset | None]:
            answer: PublicAsset | None = await museum.db.run(lambda s: public_asset(s, asset_id))
            return (answer,)

        found = await self.public.single_flight(asset_id, look_up)
        if found[0] is None:
            # Only "public" is remembered: an item just published shows at once.
            self.public.items.pop(asset_id, None)
        return found[0]

    async def _allowed(self, museum: Any, asset_id: str, role: str) -> bool:
        key = (asset_id, role)
        found = self.answers.get(key)
        if found is not None:
            return found

        async def look_up() -> bool:
            allowed: bool = await museum.db.run(lambda s: may_view(s, asset_id, role))
            return allowed

        return await self.answers.single_flight(key, look_up)

    async def _signed(
        self, museum: Any, scope: Scope, asset_id: str, version: str, link: SignedLink
    ) -> bool:
        prefix = media_prefix(asset_id, version)
        now = time.time()
        if verify(prefix, link, signing_keys(museum.settings), now) is None:
            return False
        if link.signature in self.used:
            return True
        address = scope["client"][0] if scope.get("client") else ""
        accepted: bool = await museum.db.run(
            lambda s: accept_link(s, link, asset_id, prefix, address), write=True
        )
        if accepted:
            if len(self.used) >= USED_TOKENS_KEPT:
                self.used = {sig: exp for sig, exp in self.used.items() if exp > now}
            self.used[link.signature] = float(link.expires)
        return accepted


def _query_link(scope: Scope) -> SignedLink | None:
    raw = scope.get("query_string", b"").decode("latin-1")
    params = {key: values[0] for key, values in parse_qs(raw).items() if values}
    return query_link(params)


def _not_found() -> NotFound:
    return NotFound(N_("There is nothing at this address."))
