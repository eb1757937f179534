"""The museum kiosk: ``/kiosk/{exhibition}``, a full-screen touch app that works offline.

One page holds the exhibition in Vietnamese and English (``server.kiosk_view``); the kiosk
island (``viewer/src/kiosk.js``) turns it into a language screen, the stops with their
media and audio guides, a search with an on-screen keyboard and an attract loop when idle.
Its service worker (``/kiosk/{exhibition}/sw.js``, ``viewer/src/kiosk-sw.js``) keeps every
address ``/kiosk/{exhibition}/offline.json`` lists (``server.kiosk_offline``), so the
kiosk keeps working when the network or the server is down. A registered kiosk beats
``POST /kiosk/heartbeat`` every minute with its token (``server.kiosks``), and is told
which exhibition to show.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from server import __version__
from server.api import access_levels
from server.auth import client_address
from server.errors import N_, BadRequest, NotFound, PayloadTooLarge, Unauthorized
from server.exhibition_pages import json_script
from server.handlers import error_response
from server.kiosk_offline import OfflineManifest, ViewerFiles, build_manifest
from server.kiosk_view import DEFAULT_LANGUAGE, KIOSK_LANGUAGES, KioskView, load_kiosk
from server.kiosks import MAX_ERROR, MAX_VERSION, Report, record_heartbeat
from server.policy import ANONYMOUS, access_levels_for
from server.state import Museum, get_museum

IDLE_SECONDS = 90  # no touch for this long: the attract loop, and the next visitor
HEARTBEAT_SECONDS = 60
MAX_HEARTBEAT_BYTES = 16 * 1024
NO_CACHE = "no-cache"  # the service worker revalidates; a stale page is never served online
WORKER_BUNDLE = "kiosk-sw.js"

# The kiosk's own words, in both languages on one page (the visitor switches offline).
UI = {
    "choose": N_("Choose your language"),
    "start": N_("Touch the screen to start"),
    "stops": N_("Stops of the exhibition"),
    "previous": N_("Previous stop"),
    "next": N_("Next stop"),
    "search": N_("Search"),
    "language": N_("Language"),
    "close": N_("Close"),
    "clear": N_("Clear"),
    "space": N_("Space"),
    "delete": N_("Delete"),
    "shift": N_("Capitals"),
    "search_label": N_("Search the stops of this exhibition"),
    "keyboard": N_("On-screen keyboard"),
    "tones": N_("Tone marks: touch after the vowel"),
    "breve": N_("Breve (Êđê): touch after the vowel"),
    "guide": N_("Audio guide"),
    "stop_status": N_("Stop {number} of {count}"),
    "results": N_("{count} stops found"),
    "no_results": N_("No stop matches “{query}”."),
    "offline": N_("Offline: showing the copy saved on this kiosk."),
    "saving": N_("Saving the exhibition for offline use: {done} of {total}."),
    "saved": N_("The exhibition is saved on this kiosk and works offline."),
    "no_stops": N_("This exhibition has no stops yet."),
    "tone_acute": N_("acute (sắc)"),
    "tone_grave": N_("grave (huyền)"),
    "tone_hook": N_("hook above (hỏi)"),
    "tone_tilde": N_("tilde (ngã)"),
    "tone_dot": N_("dot below (nặng)"),
}


def ui_strings(museum: Museum) -> dict[str, dict[str, str]]:
    return {
        lang: {key: museum.translations(lang).gettext(msgid) for key, msgid in UI.items()}
        for lang in KIOSK_LANGUAGES
    }


def _link(request: Request) -> Callable[..., str]:
    def link(name: str, **params: Any) -> str:
        return str(request.url_for(name, **params).path)

    return link


def viewer_files(request: Request) -> ViewerFiles:
    """The viewer build the app serves under ``/static/viewer`` (its folder, for the fonts)."""
    museum = get_museum(request)
    folder: Path | None = None
    for route in request.app.routes:
        if isinstance(route, Mount) and route.name == "viewer":
            directory = getattr(route.app, "directory", None)
            folder = Path(directory) if directory is not None else None
    return ViewerFiles(museum.viewer_assets, folder)


async def load_with_manifest(
    request: Request, exhibition_id: str, levels: tuple[str, ...] | None = None
) -> tuple[KioskView, OfflineManifest] | None:
    museum = get_museum(request)
    shown = levels if levels is not None else access_levels(request)
    translations = {lang: museum.translations(lang).gettext for lang in KIOSK_LANGUAGES}
    link = _link(request)
    viewer = viewer_files(request)
    derivatives = museum.store.derivatives

    def load(session: Session) -> tuple[KioskView, OfflineManifest] | None:
        view = load_kiosk(session, exhibition_id, shown, translations)
        if view is None:
            return None
        pages = [
            link("kiosk", exhibition_id=view.id),
            link("kiosk_webmanifest", exhibition_id=view.id),
        ]
        return view, build_manifest(view, derivatives, viewer, link, __version__, pages)

    return await museum.db.run(load)


async def _required(request: Request) -> tuple[KioskView, OfflineManifest]:
    exhibition_id = request.path_params["exhibition_id"]
    found = await load_with_manifest(request, exhibition_id)
    if found is None:
        raise NotFound(
            N_("No exhibition with id {id}."), parameter="exhibition_id", id=exhibition_id
        )
    return found


# Pages and files


async def kiosk_page(request: Request) -> Response:
    """The kiosk app for one exhibition (both languages; the visitor chooses)."""
    museum = get_museum(request)
    view, manifest = await _required(request)
    link = _link(request)
    strings = ui_strings(museum)
    context = {
        "kiosk": view,
        "ui": strings,
        "languages": KIOSK_LANGUAGES,
        "default_language": DEFAULT_LANGUAGE,
        "translations": {lang: museum.translations(lang) for lang in KIOSK_LANGUAGES},
        "manifest_version": manifest.version,
        "idle_seconds": IDLE_SECONDS,
        "heartbeat_seconds": HEARTBEAT_SECONDS,
        "kiosk_strings": json_script(strings, "kiosk-strings"),
        "scope": link("kiosk", exhibition_id=view.id),
    }
    return museum.templates.TemplateResponse(
        request, "kiosk.html", context, headers={"cache-control": NO_CACHE}
    )


async def kiosk_webmanifest(request: Request) -> Response:
    """The web app manifest: installed, the kiosk opens full screen on its exhibition."""
    view, _ = await _required(request)
    link = _link(request)
    start = link("kiosk", exhibition_id=view.id)
    title = view.titles[DEFAULT_LANGUAGE].text
    body = {
        "name": title,
        "short_name": title[:24],
        "lang": DEFAULT_LANGUAGE,
        "start_url": start,
        "scope": start,
        "display": "standalone",
        "background_color": "#1e1a17",
        "theme_color": "#1e1a17",
    }
    return Response(
        json.dumps(body, ensure_ascii=False),
        media_type="application/manifest+json",
        headers={"cache-control": NO_CACHE},
    )


async def kiosk_worker(request: Request) -> Response:
    """The service worker, served at the kiosk's address so its scope can be the kiosk's."""
    view, _ = await _required(request)
    viewer = viewer_files(request)
    hashed = viewer.assets.get(WORKER_BUNDLE)
    if not hashed or viewer.folder is None or not (viewer.folder / hashed).is_file():
        raise NotFound(N_("The kiosk's service worker is not built (run make viewer)."))
    # (Its source map comment names /static/viewer/…, where the map is.)
    code = await anyio.Path(viewer.folder / hashed).read_text("utf-8")
    scope = _link(request)("kiosk", exhibition_id=view.id)
    headers = {"cache-control": NO_CACHE, "service-worker-allowed": scope}
    return Response(code, media_type="text/javascript", headers=headers)


async def offline_manifest(request: Request) -> Response:
    """Every address the kiosk keeps offline, and their version (``server.kiosk_offline``)."""
    _, manifest = await _required(request)
    return JSONResponse(manifest.as_json(), headers={"cache-control": NO_CACHE})


# The heartbeat


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def read_report(request: Request) -> tuple[str, Report]:
    """``(kiosk id, report)`` from the JSON body; 400 or 413 saying what is wrong."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_HEARTBEAT_BYTES:
        raise PayloadTooLarge(
            N_("A heartbeat may be at most {limit} bytes."), limit=MAX_HEARTBEAT_BYTES
        )
    raw = await request.body()
    if len(raw) > MAX_HEARTBEAT_BYTES:
        raise PayloadTooLarge(
            N_("A heartbeat may be at most {limit} bytes."), limit=MAX_HEARTBEAT_BYTES
        )
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(N_("A heartbeat must be a JSON object."), parameter="body") from exc
    if not isinstance(data, dict):
        raise BadRequest(N_("A heartbeat must be a JSON object."), parameter="body")
    kiosk_id, shown = _text(data, "kiosk", 64), _text(data, "exhibition_id", 64)
    cache = data.get("cache")
    cache = {} if cache is None else cache
    if not isinstance(cache, dict):
        raise BadRequest(N_("{field} must be a JSON object."), parameter="cache", field="cache")
    report = Report(
        version=_text(data, "version", MAX_VERSION),
        cache=_cache(cache),
        last_error=_text(data, "last_error", MAX_ERROR),
        shown=shown,
    )
    return kiosk_id, report


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(N_("{field} must be text."), parameter=name, field=name)
    return value[:limit]


def _cache(cache: dict[str, Any]) -> dict[str, Any]:
    """The cache state a kiosk reports, reduced to known fields of the right types."""
    out: dict[str, Any] = {}
    for name in ("entries", "bytes", "total"):
        value = cache.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            out[name] = value
    if isinstance(cache.get("complete"), bool):
        out["complete"] = cache["complete"]
    version = cache.get("manifest_version")
    if isinstance(version, str):
        out["manifest_version"] = version[:MAX_VERSION]
    return out


async def heartbeat(request: Request) -> Response:
    """``POST /kiosk/heartbeat`` with ``Authorization: Bearer <token>`` and a JSON report:
    ``{"kiosk", "exhibition_id", "version", "cache": {entries, bytes, complete,
    manifest_version}, "last_error"}``. Answers the exhibition the kiosk should show and
    that exhibition's offline version (null when it has none or cannot be shown)."""
    museum = get_museum(request)
    token = bearer_token(request)
    kiosk_id, report = await read_report(request)
    address = client_address(request)
    try:
        assigned = await museum.db.run(
            lambda s: record_heartbeat(s, kiosk_id, token, report, address).exhibition_id,
            write=True,
        )
    except Unauthorized as exc:
        message = exc.render(museum.translations(request.state.lang).gettext)
        headers = {"www-authenticate": 'Bearer realm="kiosk"', "cache-control": "no-store"}
        return error_response(request, 401, exc.code, message, headers=headers)
    version = None
    if assigned:
        found = await load_with_manifest(request, assigned, access_levels_for(ANONYMOUS))
        version = found[1].version if found is not None else None
    body = {
        "exhibition_id": assigned if version else None,
        "manifest_version": version,
        "heartbeat_seconds": HEARTBEAT_SECONDS,
    }
    return JSONResponse(body, headers={"cache-control": "no-store"})
