"""What a kiosk keeps for working offline: every address its exhibition needs, and a version.

A kiosk's service worker (``viewer/src/kiosk-sw.js``) precaches the list ``GET
/kiosk/{id}/offline.json`` gives. The list is bounded, and names exactly what the kiosk
page asks for:

* 3D models: the poster and the levels of detail up to the pipeline's web level (the
  kiosk page offers the viewer no finer level, so it never asks for one);
* images and documents: the thumbnails, each page's IIIF ``info.json`` and the tiles
  OpenSeadragon requests for the pyramid's levels up to :data:`TILE_MAX_SIDE` pixels
  (computed here the way OpenSeadragon 5 computes them: :func:`osd_tile_paths`);
* recordings and audio guides: one HLS rendition (the master playlist, the lowest video
  rung or the only stream, the audio group, the subtitle playlists with their WebVTT
  files, each with its init segment and segments), the poster and the waveform;
* the page, its web app manifest and the viewer bundles and fonts it uses.

The version changes whenever any of it may have: the exhibition, its stops, their records,
the media's published versions, the viewer bundles and the app's own version.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.av_view import Player
from server.image_view import ImageViewer
from server.kiosk_view import KioskStop, KioskView, StopPanel

# A kiosk screen is full HD: a pyramid level up to this size fills it; finer levels stay
# online-only (OpenSeadragon then shows the finest cached level, a little soft).
TILE_MAX_SIDE = 2048
TILE_FILE = "default.jpg"  # OpenSeadragon's request: the default quality, as JPEG
STREAM_INF = "#EXT-X-STREAM-INF:"
_MEDIA_URI = re.compile(r'^#EXT-X-MEDIA:.*\bURI="([^"]+)"')
_MAP_URI = re.compile(r'^#EXT-X-MAP:.*\bURI="([^"]+)"')
_BANDWIDTH = re.compile(r"(?:^|[:,])BANDWIDTH=(\d+)")
# Font files a kiosk page can use: the Latin, Latin Extended (ƀ, č) and Vietnamese subsets,
# and the complete faces the Êđê breve needs (viewer/src/fonts.css).
KIOSK_FONT = re.compile(r"(?:latin|vietnamese)[\w-]*\.woff2$|\.ttf$")
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")\s]+)['\"]?\s*\)")


@dataclass(frozen=True)
class OfflineManifest:
    exhibition_id: str
    version: str
    urls: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "exhibition_id": self.exhibition_id,
            "version": self.version,
            "count": len(self.urls),
            "urls": list(self.urls),
        }


# IIIF tiles, as OpenSeadragon asks for them


def osd_tile_paths(info: Mapping[str, Any], max_side: int = TILE_MAX_SIDE) -> list[str]:
    """The tile requests (``region/size/0/default.jpg``) OpenSeadragon 5 makes for ``info``.

    ``info`` is a IIIF Image API 3.0 ``info.json``. Levels run from the coarsest (0) to
    the full size; only those whose width and height are at most ``max_side`` pixels are
    listed (the coarsest always is). Mirrors ``OpenSeadragon.IIIFTileSource``
    (``getTileUrl``, ``getNumTiles``) after ``viewer/src/iiif-url.js`` ``tileSourceOf``.
    """
    width, height = int(info["width"]), int(info["height"])
    tiles = (info.get("tiles") or [{}])[0]
    tile_w = int(tiles.get("width") or 0)
    tile_h = int(tiles.get("height") or tile_w)
    factors = [int(f) for f in tiles.get("scaleFactors") or [] if int(f) > 0]
    if tile_w <= 0 or not factors or width <= 0 or height <= 0:
        return []
    max_level = round(math.log2(max(factors)))
    sizes = _level_sizes(info, width, height, factors, max_level)
    paths: list[str] = []
    for level in range(max_level + 1):
        scale = 0.5 ** (max_level - level)
        level_w, level_h = sizes[level] if sizes else _scaled(width, height, scale)
        if level > 0 and max(level_w, level_h) > max_side:
            break  # every finer level is larger still
        paths += _level_paths(width, height, tile_w, tile_h, scale, level_w, level_h, sizes)
    return paths


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    return math.ceil(width * scale), math.ceil(height * scale)


def _level_sizes(
    info: Mapping[str, Any], width: int, height: int, factors: Sequence[int], max_level: int
) -> list[tuple[int, int]]:
    """OpenSeadragon's ``levelSizes``: the ``sizes`` that are pyramid levels, when they are
    as many as the levels (or one fewer, the full size then added); else none."""
    levels = {(math.ceil(width / f), math.ceil(height / f)) for f in factors}
    listed = [
        (int(s["width"]), int(s["height"]))
        for s in info.get("sizes") or []
        if isinstance(s, dict) and (int(s.get("width", 0)), int(s.get("height", 0))) in levels
    ]
    if len(listed) not in (max_level, max_level + 1):
        return []
    ordered = sorted(listed, key=lambda size: size[0])
    if len(listed) == max_level:
        ordered.append((width, height))
    return ordered


def _level_paths(
    width: int,
    height: int,
    tile_w: int,
    tile_h: int,
    scale: float,
    level_w: int,
    level_h: int,
    sizes: Sequence[tuple[int, int]],
) -> list[str]:
    if level_w < tile_w and level_h < tile_h:
        size = "max" if (level_w, level_h) == (width, height) else f"{level_w},{level_h}"
        return [f"full/{size}/0/{TILE_FILE}"]
    if sizes:
        columns, rows = math.ceil(level_w / tile_w), math.ceil(level_h / tile_h)
    else:
        columns, rows = math.ceil(scale * width / tile_w), math.ceil(scale * height / tile_h)
    span_w, span_h = round(tile_w / scale), round(tile_h / scale)
    paths = []
    for y in range(rows):
        for x in range(columns):
            left, top = x * span_w, y * span_h
            region_w, region_h = min(span_w, width - left), min(span_h, height - top)
            whole = x == 0 and y == 0 and (region_w, region_h) == (width, height)
            region = "full" if whole else f"{left},{top},{region_w},{region_h}"
            size_w = min(tile_w, level_w - x * tile_w)
            size_h = min(tile_h, level_h - y * tile_h)
            size = "max" if (size_w, size_h) == (width, height) else f"{size_w},{size_h}"
            paths.append(f"{region}/{size}/0/{TILE_FILE}")
    return paths


def read_info(path: Path) -> dict[str, Any] | None:
    """A stored ``info.json``, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "width" in data and "height" in data else None


# HLS: one rendition


def hls_files(folder: Path, master: str) -> list[str]:
    """The files (relative to ``folder``) that play one rendition of a recording offline.

    The master playlist, its audio group and subtitle playlists, and the variant stream
    with the lowest BANDWIDTH (hls.js orders its levels by bit rate: the kiosk caps it at
    level 0), each with its init segments and segments. Empty when the master is missing.
    """
    try:
        lines = (folder / master).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    base = posixpath.dirname(master)
    media = [m.group(1) for line in lines if (m := _MEDIA_URI.match(line))]
    streams: list[tuple[int, str]] = []
    for line, uri in itertools.pairwise(lines):
        if line.startswith(STREAM_INF) and uri and not uri.startswith("#"):
            found = _BANDWIDTH.search(line[len(STREAM_INF) :])
            streams.append((int(found.group(1)) if found else 0, uri.strip()))
    chosen = [min(streams)[1]] if streams else []
    files = [master]
    for playlist in (*media, *chosen):
        path = _relative(base, playlist)
        if path is None or path in files:
            continue
        files.append(path)
        files += [f for f in _playlist_files(folder, path) if f not in files]
    return files


def _playlist_files(folder: Path, playlist: str) -> list[str]:
    try:
        lines = (folder / playlist).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    base = posixpath.dirname(playlist)
    found = []
    for line in lines:
        line = line.strip()
        mapped = _MAP_URI.match(line)
        uri = mapped.group(1) if mapped else (line if line and not line.startswith("#") else "")
        path = _relative(base, uri) if uri else None
        if path is not None:
            found.append(path)
    return found


def _relative(base: str, uri: str) -> str | None:
    """``uri`` resolved against the playlist's folder, or None if it leaves the version."""
    if "://" in uri or uri.startswith("/") or "?" in uri or "#" in uri:
        return None
    path = posixpath.normpath(posixpath.join(base, uri))
    return None if path.startswith("..") or path == "." else path


# Viewer files


def css_fonts(css: str, prefix: str) -> list[str]:
    """The kiosk's font files among the ``url(…)`` of a stylesheet under ``prefix``."""
    found = []
    for url in _CSS_URL.findall(css):
        if url.startswith(prefix) and KIOSK_FONT.search(url) and url not in found:
            found.append(url)
    return found


# The version


def content_version(facts: Mapping[str, Any], urls: Iterable[str]) -> str:
    """A short digest of what the kiosk shows (``facts``) and every address it caches."""
    text = json.dumps({"facts": facts, "urls": list(urls)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def unique(urls: Iterable[str]) -> tuple[str, ...]:
    """Each address once, in first-seen order."""
    return tuple(dict.fromkeys(urls))


# The whole list


@dataclass(frozen=True)
class ViewerFiles:
    """The viewer build: logical name → hashed file (``manifest.json``) and its folder."""

    assets: Mapping[str, str]
    folder: Path | None
    prefix: str = "/static/viewer/"

    def url(self, name: str) -> str | None:
        hashed = self.assets.get(name)
        return f"{self.prefix}{hashed}" if hashed else None

    def fonts(self, stylesheet: str) -> list[str]:
        hashed = self.assets.get(stylesheet)
        if not hashed or self.folder is None:
            return []
        try:
            css = (self.folder / hashed).read_text("utf-8")
        except OSError:
            return []
        return css_fonts(css, self.prefix)


Link = Callable[..., str]
PAGE_BUNDLES = ("main.css", "kiosk.css", "kiosk.js")
KIND_BUNDLES = {
    "model": ("model-viewer.js",),
    "image": ("deep-zoom.js",),
    "video": ("av-player.js",),
    "audio": ("av-player.js",),
}


def build_manifest(
    view: KioskView,
    derivatives: Path,
    viewer: ViewerFiles,
    link: Link,
    app_version: str,
    page_urls: Sequence[str],
) -> OfflineManifest:
    """Every address the kiosk page of ``view`` uses, and their content version.

    ``link(name, **params)`` makes a route's path; ``page_urls`` are the kiosk's own
    addresses (the page, its web app manifest).
    """
    urls: list[str] = list(page_urls)
    bundles = list(PAGE_BUNDLES)
    for kind in sorted(view.kinds):
        bundles += KIND_BUNDLES.get(kind, ())
    if view.has_guides:
        bundles.append("av-player.js")
    urls += [u for u in (viewer.url(name) for name in dict.fromkeys(bundles)) if u]
    urls += viewer.fonts("main.css")
    for stop in view.stops:
        for panel in stop.panels.values():
            urls += _panel_urls(panel, stop, derivatives, link)
    listed = unique(urls)
    facts = {"app": app_version, "view": view.facts}
    return OfflineManifest(view.id, content_version(facts, listed), listed)


def _panel_urls(panel: StopPanel, stop: KioskStop, derivatives: Path, link: Link) -> list[str]:
    urls: list[str] = []
    if panel.picture is not None:
        urls.append(panel.picture.src)
    if panel.model is not None:
        model = panel.model
        urls += [u for u in (model.poster,) if u]
        urls += [lod.src for lod in model.lods]
        urls.append(link("api:media_annotations", asset_id=model.asset_id))
    if panel.image is not None:
        urls += _image_urls(panel.image, stop, derivatives, link)
    for player in (panel.player, panel.guide):
        if player is not None:
            urls += _player_urls(player, derivatives)
    return urls


def _image_urls(image: ImageViewer, stop: KioskStop, derivatives: Path, link: Link) -> list[str]:
    urls = [f"/media/{t.path}" for t in image.thumbnails]
    asset = next((a for a in stop.assets if a.id == image.asset_id), None)
    if asset is None or asset.published_version is None:
        return urls
    version = derivatives / asset.id / asset.published_version
    pages = {
        int(p["page"]): str(p.get("folder", ""))
        for p in (asset.technical or {}).get("pages") or []
        if isinstance(p, dict) and isinstance(p.get("page"), int)
    }
    for page in image.pages:
        info = read_info(version / pages.get(page.number, "") / "iiif" / "info.json")
        if info is None:
            continue  # the server could not answer for it either
        service = link("iiif_image_base", identifier=page.identifier)
        urls.append(link("iiif_image_info", identifier=page.identifier))
        urls += [f"{service}/{path}" for path in osd_tile_paths(info)]
        if page.text:
            urls.append(link("iiif_annotations", identifier=page.identifier))
    return urls


def _player_urls(player: Player, derivatives: Path) -> list[str]:
    prefix = player.src.rsplit("/", 1)[0]  # /media/{asset}/{version}
    _, _, asset_id, version = prefix.split("/", 3)
    folder = derivatives / asset_id / version
    master = player.src[len(prefix) + 1 :]
    urls = [f"{prefix}/{path}" for path in hls_files(folder, master)]
    urls += [track.src for track in player.captions]
    urls += [u for u in (player.poster, player.waveform) if u]
    return urls
