"""The application factory: nothing happens at import time; ``create_app(settings)`` builds it."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from server import __version__
from server.auth import AuthMiddleware
from server.db import Database
from server.errors import MuseumError
from server.handlers import handle_http_exception, handle_museum_error, handle_unexpected
from server.i18n import load_catalogs
from server.iiif_cache import DiskCache, FastTiles, Lookups, TileAnswers, TileMemory
from server.iiif_image import fast_render
from server.jobs import JobService
from server.metrics import build_registry
from server.middleware import LanguageMiddleware, SecurityHeadersMiddleware
from server.overload import Admission
from server.queue import Queue
from server.routes import build_routes
from server.settings import Settings
from server.state import Museum
from server.storage import Store, atomic_file
from server.tasks import job_handlers
from server.telemetry import RequestTelemetry
from server.trips.hub import close_trip_hub

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
VIEWER_DIST = PACKAGE_DIR.parent / "viewer" / "dist"
GZIP_MINIMUM_SIZE = 1024
SECRET_FILE_MODE = 0o600


def load_viewer_manifest(dist: Path) -> dict[str, str]:
    """Logical name → hashed file name, as written by the viewer build."""
    manifest = dist / "manifest.json"
    if not manifest.is_file():
        log.warning("viewer bundle not built (%s missing); pages work without it", manifest)
        return {}
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def ensure_secret_key(settings: Settings) -> str:
    """The configured key, or one generated once and kept in the data directory."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(48)
    with atomic_file(path, SECRET_FILE_MODE) as staging:
        staging.write_text(key, encoding="utf-8")
    return key


def build_templates(museum_ref: dict[str, Museum]) -> Jinja2Templates:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def language_context(request: Request) -> dict[str, object]:
        museum = museum_ref["museum"]
        lang = getattr(request.state, "lang", museum.settings.language)
        translations = museum.translations(lang)

        def path_for(name: str, /, **params: object) -> str:
            """A root-relative URL: it survives proxies and never names a host."""
            return str(request.url_for(name, **params).path)

        def lang_query(code: str) -> str:
            """This page's query string with ``lang`` switched to ``code``."""
            from urllib.parse import urlencode

            pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
            return urlencode([*pairs, ("lang", code)])

        from server.accounts import template_context

        return {
            **template_context(request),
            "path_for": path_for,
            "lang_query": lang_query,
            "lang": lang,
            "gettext": translations.gettext,
            "ngettext": translations.ngettext,
            "viewer_assets": museum.viewer_assets,
            "version": __version__,
        }

    return Jinja2Templates(env=environment, context_processors=[language_context])


def create_app(settings: Settings, viewer_dist: Path = VIEWER_DIST) -> Starlette:
    ensure_secret_key(settings)
    store = Store(settings.data_dir)
    store.ensure()
    db = Database(settings.resolved_database_url, settings.db_busy_timeout)
    queue = Queue(settings.resolved_queue_url)
    museum_ref: dict[str, Museum] = {}
    museum = Museum(
        settings=settings,
        db=db,
        store=store,
        queue=queue,
        jobs=JobService(db, queue, settings, job_handlers(), store),
        catalogs=load_catalogs(),
        templates=build_templates(museum_ref),
        viewer_assets=load_viewer_manifest(viewer_dist),
    )
    museum_ref["museum"] = museum
    registry, http_metrics = build_registry(museum)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await close_trip_hub(app)  # field trips: the Redis subscription, when there is one
        db.dispose()

    lookups: Lookups[object] = Lookups()
    answers = TileAnswers(lookups)
    app = Starlette(
        routes=build_routes(settings, viewer_dist),
        middleware=[
            # first: replays public tiles and renders known images before the rest
            Middleware(FastTiles, answers=answers, render=fast_render),
            Middleware(SecurityHeadersMiddleware),
            Middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_SIZE),
            Middleware(LanguageMiddleware, default=settings.language),
            # overload: a few requests at work, the rest in line for a while, then 503
            Middleware(Admission, slots=settings.max_requests, wait=settings.request_wait),
            Middleware(AuthMiddleware),
        ],
        exception_handlers={
            MuseumError: handle_museum_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    # Around everything, Starlette's own error layer too: the request id, the access log and
    # the HTTP metrics see every answer, a 500 and its logged traceback included.
    app.middleware_stack = RequestTelemetry(app.build_middleware_stack(), metrics=http_metrics)
    app.state.museum = museum
    app.state.metrics = registry
    app.state.iiif_lookups = lookups
    app.state.iiif_answers = answers
    app.state.iiif_tiles = TileMemory()
    app.state.iiif_cache = DiskCache(store.cache / "iiif", settings.iiif_cache_size)
    return app
