"""What a kiosk shows of an exhibition: every stop in Vietnamese and English at once.

A kiosk switches language without the network, so the page holds both: each stop's title
and text, and its media viewer's host markup, per language (``kiosk.html`` renders one
``<template>`` per language, mounted when the stop is shown). Stops, their records and
their media are chosen as on the exhibition page (``server.exhibition_pages``); media is
described by the record page's view modules, trimmed to what the kiosk caches offline
(``server.kiosk_offline``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import av_view, image_view, model_view
from server.errors import N_
from server.exhibition_pages import (
    ROOM_MAX_PRIMITIVES,
    ROOM_PICTURE_WIDTH,
    Localized,
    Picture,
    make_stop,
    media_kind,
    pick,
    picture_for,
    published_exhibitions,
    stop_assets,
    visible_records,
)
from server.i18n import localized
from server.media_rights import media_rights
from server.models import Asset, Exhibition, ExhibitionStop, Record
from server.vocab import GUIDE_ROLE

KIOSK_LANGUAGES = ("vi", "en")  # the language screen's two buttons, Vietnamese first
DEFAULT_LANGUAGE = "vi"
# A kiosk offers the 3D viewer the levels a room may load (up to the pipeline's web level,
# 150k triangles): a kiosk PC has no better GPU than a visitor's laptop, and every level
# offered is one more file to keep offline.
MAX_PRIMITIVES = ROOM_MAX_PRIMITIVES
MAX_PAGES = 12  # document pages a kiosk shows (and keeps offline) per stop

Translate = Callable[[str], str]


@dataclass(frozen=True)
class StopPanel:
    """One stop in one language."""

    lang: str
    title: Localized
    text: Localized
    picture: Picture | None
    model: model_view.ModelViewer | None = None
    image: image_view.ImageViewer | None = None
    player: av_view.Player | None = None
    guide: av_view.Player | None = None
    credit: str = ""


@dataclass(frozen=True)
class KioskStop:
    number: int
    kind: str  # model, image, video, audio or text
    panels: dict[str, StopPanel]  # by language, KIOSK_LANGUAGES
    assets: tuple[Asset, ...] = ()  # the media and the guides it shows, for the offline list

    @property
    def search_text(self) -> str:
        """Everything a visitor may look for, in every language (folded by the page)."""
        parts = [p.title.text for p in self.panels.values()]
        parts += [p.text.text for p in self.panels.values()]
        return " ".join(dict.fromkeys(part for part in parts if part))


@dataclass(frozen=True)
class KioskView:
    id: str
    titles: dict[str, Localized]
    summaries: dict[str, Localized]
    updated_at: datetime | None
    stops: list[KioskStop] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # what the content version covers

    @property
    def kinds(self) -> set[str]:
        return {stop.kind for stop in self.stops}

    @property
    def has_guides(self) -> bool:
        return any(p.guide for s in self.stops for p in s.panels.values())


def load_kiosk(
    session: Session,
    exhibition_id: str,
    levels: Sequence[str],
    translations: Mapping[str, Translate],
) -> KioskView | None:
    """The exhibition as the kiosk shows it, or None when the requester may not see it."""
    exhibition = session.scalars(
        published_exhibitions(levels).where(Exhibition.id == exhibition_id)
    ).first()
    if exhibition is None:
        return None
    rows = list(
        session.scalars(
            select(ExhibitionStop)
            .where(ExhibitionStop.exhibition_id == exhibition_id)
            .order_by(ExhibitionStop.position)
        )
    )
    records = visible_records(session, {r.record_id for r in rows if r.record_id}, levels)
    rows = [r for r in rows if r.record_id is None or r.record_id in records]
    chosen = stop_assets(session, rows, records, levels)
    guides = _guides(session, records, levels)
    stops = [
        _kiosk_stop(number, row, records, chosen.get(row.id), guides, translations)
        for number, row in enumerate(rows, 1)
    ]
    return KioskView(
        id=exhibition.id,
        titles={lang: pick(exhibition.title, lang) for lang in KIOSK_LANGUAGES},
        summaries={lang: pick(exhibition.summary, lang) for lang in KIOSK_LANGUAGES},
        updated_at=exhibition.updated_at,
        stops=stops,
        facts=_facts(exhibition, rows, records, stops),
    )


def _guides(
    session: Session, records: Mapping[str, Record], levels: Sequence[str]
) -> dict[str, list[Asset]]:
    found: dict[str, list[Asset]] = {}
    if not records:
        return found
    query = (
        select(Asset)
        .where(
            Asset.record_id.in_(sorted(records)),
            Asset.role == GUIDE_ROLE,
            Asset.access_level.in_(tuple(levels)),
        )
        .order_by(Asset.position, Asset.id)
    )
    for asset in session.scalars(query):
        found.setdefault(str(asset.record_id), []).append(asset)
    return found


def _kiosk_stop(
    number: int,
    row: ExhibitionStop,
    records: Mapping[str, Record],
    asset: Asset | None,
    guides: Mapping[str, list[Asset]],
    translations: Mapping[str, Translate],
) -> KioskStop:
    record = records.get(row.record_id or "")
    own_guides = guides.get(row.record_id or "", [])
    kind = (media_kind(asset) if asset else None) or "text"
    panels = {
        lang: _panel(number, row, record, asset, kind, own_guides, lang, translations[lang])
        for lang in KIOSK_LANGUAGES
    }
    shown = [asset] if asset is not None and kind != "text" else []
    used = {p.guide.asset_id for p in panels.values() if p.guide}
    shown += [g for g in own_guides if g.id in used]
    return KioskStop(number, kind, panels, tuple(shown))


def _panel(
    number: int,
    row: ExhibitionStop,
    record: Record | None,
    asset: Asset | None,
    kind: str,
    guides: list[Asset],
    lang: str,
    gettext: Translate,
) -> StopPanel:
    base = make_stop(number, row, record, asset, lang, gettext)
    panel = StopPanel(
        lang=lang,
        title=base.title,
        text=base.text,
        picture=picture_for(asset, kind, ROOM_PICTURE_WIDTH, base.title.text, gettext)
        if asset is not None
        else None,
        guide=_without_download(av_view.guide_for(guides, lang)),
    )
    if asset is None or kind == "text":
        return panel
    return dataclasses.replace(
        panel, credit=_credit(asset, record, lang, gettext), **_viewer(asset, kind, lang)
    )


def _viewer(asset: Asset, kind: str, lang: str) -> dict[str, Any]:
    if kind == "model":
        models = model_view.viewers([asset], lang)
        return {"model": _trimmed(models[0])} if models else {}
    if kind == "image":
        images = image_view.viewers([asset], lang)
        if not images:
            return {}
        return {"image": dataclasses.replace(images[0], pages=images[0].pages[:MAX_PAGES])}
    players = av_view.players([asset], lang)
    return {"player": _without_download(players[0])} if players else {}


def _without_download(player: av_view.Player | None) -> av_view.Player | None:
    """No download link on a kiosk: there is nowhere to keep the file."""
    return dataclasses.replace(player, download=None) if player is not None else None


def _trimmed(viewer: model_view.ModelViewer) -> model_view.ModelViewer:
    """The levels a kiosk offers: up to :data:`MAX_PRIMITIVES`, else the smallest one."""
    small = [lod for lod in viewer.lods if (lod.triangles or lod.points) <= MAX_PRIMITIVES]
    return dataclasses.replace(viewer, lods=tuple(small) or viewer.lods[:1])


def _credit(asset: Asset, record: Record | None, lang: str, gettext: Translate) -> str:
    """ "Credit: … · licence" as plain text (a kiosk shows no links)."""
    rights = media_rights(asset, record, lang)
    name = rights.attribution
    if not name and record is not None:
        name = localized(record.credit_line or {}, lang) or record.rights_holder.strip()
    parts = [gettext(N_("Credit: {name}")).format(name=name)] if name else []
    if rights.rights is not None:
        label = rights.rights.label
        parts.append(gettext(label) if rights.rights.translate else label)
    return " · ".join(parts)


def _facts(
    exhibition: Exhibition,
    rows: Iterable[ExhibitionStop],
    records: Mapping[str, Record],
    stops: Iterable[KioskStop],
) -> dict[str, Any]:
    """What the page is made of, beyond the addresses it caches: the content version's input."""
    return {
        "exhibition": [exhibition.updated_at, exhibition.title, exhibition.summary],
        "stops": [[r.record_id, r.asset_id, r.title, r.text] for r in rows],
        "records": {rid: [r.updated_at, r.title] for rid, r in sorted(records.items())},
        "assets": {a.id: [a.published_version, a.updated_at] for s in stops for a in s.assets},
    }
