"""schema.org JSON-LD for public pages, so search engines and aggregators understand a record."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from server.i18n import localized
from server.records import RecordBundle, iso
from server.search import split_list

# A Vietnamese heritage kind is not a schema.org type; these are the closest ones.
SCHEMA_TYPES = {
    "di_tich": ["LandmarksOrHistoricalBuildings", "TouristAttraction"],
    "hien_vat": "VisualArtwork",
    "di_san_phi_vat_the": "CreativeWork",
    "di_san_tu_lieu": "ArchiveComponent",
}
PUBLISHER = {
    "@type": "Organization",
    "name": "Sở Văn hóa, Thể thao và Du lịch tỉnh Đắk Lắk",
    "alternateName": "Đắk Lắk Department of Culture, Sports and Tourism",
}


def record_jsonld(bundle: RecordBundle, base: str, lang: str) -> dict[str, Any]:
    record = bundle.record
    url = f"{base}/items/{record.id}"
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": SCHEMA_TYPES.get(record.kind, "CreativeWork"),
        "@id": url,
        "url": url,
        "identifier": record.id,
        "name": localized(record.title, lang),
        "alternateName": [t for code, t in record.title.items() if t and code != lang],
        "inLanguage": lang,
        "publisher": PUBLISHER,
        "dateModified": iso(record.updated_at),
        "license": record.rights or None,
        "sameAs": record.sources or None,
    }
    if description := localized(record.description, lang):
        data["description"] = description
    if groups := split_list(record.ethnic_groups):
        data["keywords"] = groups
    if record.dating:
        data["temporalCoverage"] = record.dating
    if record.materials:
        data["material"] = record.materials
    places = [_place(link.place, lang) for link in bundle.places]
    if places:
        data["contentLocation" if record.kind != "di_tich" else "containedInPlace"] = places
    elif record.location_current:
        data["contentLocation"] = {"@type": "Place", "name": record.location_current}
    if any(a.published_version for a in bundle.assets):
        data["subjectOf"] = {"@type": "CreativeWork", "url": f"{base}/iiif/3/manifests/{record.id}"}
    return {k: v for k, v in data.items() if v not in (None, [], "")}


def _place(place: Any, lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "Place", "name": localized(place.name, lang)}
    if place.latitude is not None and place.longitude is not None:
        out["geo"] = {
            "@type": "GeoCoordinates",
            "latitude": place.latitude,
            "longitude": place.longitude,
        }
    return out


def script_tag(data: dict[str, Any]) -> Markup:
    """``<script type="application/ld+json">`` whose content can never close the tag early."""
    text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(f'<script type="application/ld+json">{text}</script>')  # noqa: S704 - escaped above
