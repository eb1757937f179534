"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse

from server import __version__
from server.errors import N_
from server.handlers import error_body
from server.state import get_museum


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
        except Exception as exc:  # noqa: BLE001 — any failure means "not ready", with the reason shown
            checks[name] = f"{type(exc).__name__}: {exc}"[:300]
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
    return JSONResponse(body, status_code=503, headers={**headers, "retry-after": "5"})
