"""What a record page needs to show its 3D scans: the levels of detail, the poster, the size.

Only an asset with a published version of the 3D pipeline is shown; every address points
into that version folder (``/media/{asset}/{version}/…``), whose files never change, so the
page and the viewer's requests always agree on one version. The viewer island
(``viewer/src/model-viewer.js``) reads the levels from ``data-lods``, smallest first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from babel.numbers import format_decimal

from server.i18n import localized
from server.models import Asset

# Point-cloud scans with surface reconstruction have mesh levels (lod:*) beside their
# point levels (points:*); the mesh reads better on screen, so it is preferred.
MESH_ROLE = "lod:"
POINTS_ROLE = "points:"
DIMENSION_KEYS = ("width", "height", "depth")
SIZE_FORMAT = "#,##0.#"  # the pipeline records sizes to 0.1 mm


@dataclass(frozen=True)
class Lod:
    name: str
    src: str
    bytes: int
    triangles: int
    points: int


@dataclass(frozen=True)
class ModelViewer:
    asset_id: str
    label: str  # the asset's own label in the page's language; "" when it has none
    poster: str | None
    lods: tuple[Lod, ...]  # smallest first
    download: str  # the web level: the one file a visitor would want to keep
    dimensions_mm: dict[str, float] | None
    size_text: str  # "212,4 × 301 × 180,2 mm" (width × height × depth) in the page's numbers

    @property
    def lods_json(self) -> str:
        return json.dumps([asdict(lod) for lod in self.lods], separators=(",", ":"))

    @property
    def dimensions_json(self) -> str:
        return json.dumps(self.dimensions_mm, separators=(",", ":"))


def viewers(assets: Iterable[Asset], lang: str) -> list[ModelViewer]:
    """The record's published 3D models, in catalog order, for ``_model.html``."""
    found = (_viewer(asset, lang) for asset in assets if _viewable(asset))
    return [viewer for viewer in found if viewer.lods]


def _viewable(asset: Asset) -> bool:
    technical = asset.technical or {}
    return asset.published_version is not None and technical.get("pipeline") == "3d"


def _viewer(asset: Asset, lang: str) -> ModelViewer:
    technical = asset.technical
    base = f"/media/{asset.id}/{asset.published_version}/"
    poster = technical.get("poster")
    dimensions = _dimensions(technical.get("dimensions_mm"))
    return ModelViewer(
        asset_id=asset.id,
        label=localized(asset.label, lang) if asset.label else "",
        poster=f"{base}{poster}" if poster else None,
        lods=_lods(technical.get("lods") or [], base),
        download=f"{base}{technical.get('model', 'web.glb')}",
        dimensions_mm=dimensions,
        size_text=_size_text(dimensions, lang),
    )


def _lods(entries: list[dict[str, Any]], base: str) -> tuple[Lod, ...]:
    meshes = [e for e in entries if str(e.get("role", "")).startswith(MESH_ROLE)]
    chosen = meshes or [e for e in entries if str(e.get("role", "")).startswith(POINTS_ROLE)]
    lods = [
        Lod(
            name=str(entry["name"]),
            src=f"{base}{entry['path']}",
            bytes=int(entry.get("bytes") or 0),
            triangles=int(entry.get("triangles") or 0),
            points=int(entry.get("points") or 0),
        )
        for entry in chosen
        if entry.get("path")
    ]
    return tuple(sorted(lods, key=lambda lod: (lod.triangles or lod.points, lod.bytes)))


def _dimensions(value: Any) -> dict[str, float] | None:
    """The recorded size in millimetres; None when the report has none or an odd shape."""
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), int | float) for k in DIMENSION_KEYS
    ):
        return None
    return {key: float(value[key]) for key in DIMENSION_KEYS}


def _size_text(dimensions: dict[str, float] | None, lang: str) -> str:
    if not dimensions:
        return ""
    sides = (format_decimal(dimensions[key], SIZE_FORMAT, locale=lang) for key in DIMENSION_KEYS)
    return " × ".join(sides) + " mm"
