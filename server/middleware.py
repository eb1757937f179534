"""Pure ASGI middleware: security headers and the interface language."""

from __future__ import annotations

import logging
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.i18n import COOKIE_MAX_AGE, COOKIE_NAME, match_language, negotiate_language

log = logging.getLogger(__name__)

LANGUAGE_NEUTRAL_PREFIXES = ("/static/", "/media/")

# No third-party origin anywhere: every script, style, font, image and media
# file comes from this site. blob: is for media streams and 3D textures built
# in the browser; data: for small inline images. 'wasm-unsafe-eval' lets the
# 3D viewer compile its own WebAssembly (the meshopt decoder, served from here);
# it does not allow eval() of JavaScript.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)

SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "SAMEORIGIN",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cookie_value(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except CookieError:  # a malformed Cookie header is the browser's problem, not a 500
                log.debug("ignoring malformed Cookie header")
                continue
            if name in cookie:
                return cookie[name].value
    return None


class LanguageMiddleware:
    """Choose the interface language per request and remember an explicit choice.

    Order: ``?lang=`` → ``lang`` cookie → ``Accept-Language`` → the default.
    The chosen language is ``request.state.lang``; a valid ``?lang=`` also
    sets the cookie so the next page keeps it.
    """

    def __init__(self, app: ASGIApp, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(LANGUAGE_NEUTRAL_PREFIXES):
            # Immutable files are the same in every language: no Vary, so caches share them.
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
        raw_headers = scope.get("headers", [])
        cookie = _cookie_value(raw_headers, COOKIE_NAME)
        accept = next(
            (v.decode("latin-1") for k, v in raw_headers if k == b"accept-language"), None
        )
        lang = negotiate_language(query, cookie, accept, self.default)
        scope.setdefault("state", {})["lang"] = lang
        remember = query is not None and match_language(query) == lang and cookie != lang

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-language", lang)
                headers.add_vary_header("Accept-Language")
                headers.add_vary_header("Cookie")
                if remember:
                    headers.append(
                        "set-cookie",
                        f"{COOKIE_NAME}={lang}; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Lax",
                    )
            await send(message)

        await self.app(scope, receive, send_with_language)
