"""One error body for every error, rendered in the requester's language.

JSON (the default, and always under ``/api``)::

    {"error": {"status": 404, "code": "not_found", "message": "...", "parameter": null}}

Browsers asking for HTML get the same facts as a page.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server.errors import (
    MuseumError,
    TooManyRequests,
    Unauthorized,
    code_for_status,
    disk_full_error,
)
from server.state import get_museum
from server.telemetry import loggable_path

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def error_body(
    status: int, code: str, message: str, parameter: str | None = None, **extra: Any
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "status": status,
        "code": code,
        "message": message,
        "parameter": parameter,
    }
    error.update(extra)
    return {"error": error}


def wants_html(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/iiif/", "/oai")):
        return False
    accept = request.headers.get("accept", "")
    html = accept.find("text/html")
    json_ = accept.find("application/json")
    return html != -1 and (json_ == -1 or html < json_)


def _translator(request: Request) -> Any:
    museum = get_museum(request)
    return museum.translations(getattr(request.state, "lang", museum.settings.language)).gettext


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    parameter: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    if wants_html(request):
        museum = get_museum(request)
        return museum.templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "code": code, "message": message},
            status_code=status,
            headers=headers,
        )
    return JSONResponse(
        error_body(status, code, message, parameter, **extra), status_code=status, headers=headers
    )


async def handle_museum_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MuseumError)
    extra: dict[str, Any] = {}
    problems = getattr(exc, "problems", None)
    if problems:
        extra["problems"] = [vars(p) for p in problems]
    # A busy database or queue clears in seconds: tell clients when to come back.
    headers = {"retry-after": str(RETRY_AFTER_SECONDS)} if exc.status == 503 else None
    if isinstance(exc, TooManyRequests):
        headers = {"retry-after": str(exc.retry_after)}
    if isinstance(exc, Unauthorized) and request.method == "GET" and wants_html(request):
        # A browser asking for a staff page: the sign-in form, then back here.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = request.url_for("login").path
        return RedirectResponse(f"{login}?{urlencode({'next': target})}", status_code=303)
    return error_response(
        request,
        exc.status,
        exc.code,
        exc.render(_translator(request)),
        exc.parameter,
        headers=headers,
        **extra,
    )


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = code_for_status(exc.status_code)
    return error_response(
        request,
        exc.status_code,
        code,
        _translator(request)(message),
        headers=dict(exc.headers) if exc.headers else None,
    )


def _path(request: Request) -> str:
    """The path as a log may show it: no signed-link token, no raw control characters."""
    return loggable_path(request.url.path)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    if (full := disk_full_error(exc)) is not None:  # a clear refusal, not an internal error
        log.error("disk full on %s %s: %s", request.method, _path(request), exc)
        return await handle_museum_error(request, full)
    log.error("unhandled error on %s %s", request.method, _path(request), exc_info=exc)
    code, message = code_for_status(500)
    return error_response(request, 500, code, _translator(request)(message))
