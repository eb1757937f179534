"""IIIF Presentation API 3.0 manifests and collections (being implemented)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


async def manifest(request: Request) -> Response:
    raise NotImplementedError


async def collection(request: Request) -> Response:
    raise NotImplementedError
