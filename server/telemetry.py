"""The outermost middleware: a request id, one access-log line and the HTTP metrics.

Every HTTP request gets an id: the caller's ``X-Request-ID`` when it is well formed (a
proxy or load balancer in front may have set it, so its log and ours meet), otherwise a
new random one. The id is bound to the log context for the whole request (every line
logged while serving it carries ``request_id``) and sent back as ``X-Request-ID``.

When the response is done, one ``server.access`` line is logged (method, path, status,
duration, bytes, client, route name) and the request is counted in
:class:`server.metrics.HttpMetrics`. The path is logged without its query string (signed
media links carry their signature there) and with a signed folder's token masked.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.logs import log_context
from server.metrics import HttpMetrics
from server.signing import MEDIA_TOKEN_SEGMENT

access_log = logging.getLogger("server.access")

REQUEST_ID_HEADER = "x-request-id"
# Letters, digits and a few separators, 1 to 128 of them: safe in a log line and a header.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=@-]{1,128}")
# Requests that no route answered: the fast IIIF tile layer, or a path nothing matches.
UNROUTED = "unrouted"
_SIGNED_SEGMENT = re.compile(rf"/{re.escape(MEDIA_TOKEN_SEGMENT)}/[^/]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # ASGI paths arrive percent-decoded: %0A is a newline


def request_id_from(scope: Scope) -> str:
    """The caller's X-Request-ID when it is well formed, otherwise a new one."""
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            try:
                claimed: str = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if REQUEST_ID.fullmatch(claimed):
                return claimed
            break
    return uuid.uuid4().hex


def loggable_path(path: str) -> str:
    """The path without secrets (a signed folder's token becomes ``***``) and without raw
    control characters (``\\x0a``), so even a text log line stays one line."""
    masked = _SIGNED_SEGMENT.sub(f"/{MEDIA_TOKEN_SEGMENT}/***", path)
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", masked)


def route_names(routes: list[BaseRoute], prefix: str = "") -> dict[int, str]:
    """``id(route)`` → its name, qualified by its mount's (``api:search``), as url_for uses."""
    names: dict[int, str] = {}
    for route in routes:
        name = getattr(route, "name", None) or ""
        if isinstance(route, Mount) and route.routes:
            names.update(route_names(route.routes, f"{prefix}{name}:" if name else prefix))
        names[id(route)] = f"{prefix}{name}" if name else "unnamed"
    return names


class RequestTelemetry:
    """Request id, access log and HTTP metrics; placed outside every other middleware so
    that the time and status it records are the ones the client saw."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._names: dict[int, str] | None = None

    def route_name(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNROUTED
        if self._names is None:
            self._names = route_names(scope["app"].routes)
        return self._names.get(id(route), getattr(route, "name", None) or "unnamed")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        with log_context(request_id=request_id):
            if scope["type"] == "websocket":  # long-lived: the id for its log lines only
                await self.app(scope, receive, send)
                return
            await self._http(scope, receive, send, request_id)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]  # before routing rewrites the scope
        sent: dict[str, Any] = {"status": 500, "bytes": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            route = self.route_name(scope)
            self.metrics.observe(route, method, sent["status"], seconds)
            client = scope.get("client")
            self._log(method, path, client[0] if client else "", route, sent, seconds)

    @staticmethod
    def _log(
        method: str, raw_path: str, client: str, route: str, sent: dict[str, Any], seconds: float
    ) -> None:
        path = loggable_path(raw_path)
        duration_ms = round(seconds * 1000, 1)
        status, size = sent["status"], sent["bytes"]
        access_log.info(
            "%s %s %d %.1fms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "bytes": size,
                "client": client,
                "route": route,
            },
        )
