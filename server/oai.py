"""OAI-PMH 2.0 at ``/oai`` (being implemented)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


async def endpoint(request: Request) -> Response:
    raise NotImplementedError
