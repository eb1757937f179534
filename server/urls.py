"""Absolute addresses for links that leave the site (API, IIIF, OAI-PMH, QR codes)."""

from __future__ import annotations

from starlette.requests import Request

from server.state import get_museum


def public_base(request: Request) -> str:
    """``MUSEUM_PUBLIC_BASE_URL`` when set (behind a proxy), else the address the request used."""
    configured = get_museum(request).settings.public_base_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")
