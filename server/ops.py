"""Operations endpoints: liveness, readiness and the Prometheus metrics."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import __version__
from server.errors import N_
from server.handlers import error_body
from server.settings import Settings
from server.state import get_museum

log = logging.getLogger(__name__)
RETRY_AFTER = "5"


async def healthz(request: Request) -> JSONResponse:
    """The process is up and answering. Checks nothing else, by design."""
    return JSONResponse(
        {"status": "ok", "version": __version__}, headers={"cache-control": "no-store"}
    )


async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database and the queue both answer; otherwise 503."""
    museum = get_museum(request)
    checks: dict[str, str] = {}
    for name, ping in (("database", museum.db.ping), ("queue", museum.queue.ping)):
        try:
            await anyio.to_thread.run_sync(ping)
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 — any failure means "not ready"
            # The body names the failing part and the kind of error, never the error's text:
            # it can hold host names, user names or worse. The log has it, passwords masked.
            checks[name] = f"unreachable ({type(exc).__name__})"
            log.warning("not ready: %s: %s", name, redact(str(exc), museum.settings)[:1000])
    headers = {"cache-control": "no-store"}
    if all(value == "ok" for value in checks.values()):
        return JSONResponse({"status": "ok", "checks": checks}, headers=headers)
    gettext = museum.translations(request.state.lang).gettext
    failing = ", ".join(name for name, value in checks.items() if value != "ok")
    body = error_body(
        503,
        "not_ready",
        gettext(N_("Not ready: {checks} unreachable.")).format(checks=failing),
        checks=checks,
    )
    return JSONResponse(body, status_code=503, headers={**headers, "retry-after": RETRY_AFTER})


def url_passwords(settings: Settings) -> list[str]:
    """The passwords inside the database and queue URLs, to keep them out of every log."""
    found = []
    for url in (settings.database_url, settings.queue_url):
        try:
            password = make_url(url).password if url else None
        except ArgumentError:
            password = urlsplit(url).password
        if password:
            found += [str(password), quote(str(password), safe="")]
    return found


def redact(text: str, settings: Settings) -> str:
    for password in url_passwords(settings):
        text = text.replace(password, "***")
    return text


async def metrics(request: Request) -> Response:
    """The Prometheus text format (server.metrics); only for the monitoring system: the
    route's rule ("monitor") admits requests from this machine or with the metrics token."""
    registry = request.app.state.metrics
    body = await anyio.to_thread.run_sync(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"cache-control": "no-store"})
