"""Open-data exports of the public catalog (being implemented)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


async def catalog_export(request: Request) -> Response:
    raise NotImplementedError
