"""JSON responses with validators: a strong ETag from the body, 304 when the client has it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

API_CACHE = "public, max-age=60"
JSON_TYPE = "application/json"


def render_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def if_none_match(request: Request, etag: str) -> bool:
    """True when the request's If-None-Match names this ETag (or ``*``)."""
    header = request.headers.get("if-none-match", "")
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in candidates or "*" in candidates


def cached_json(
    request: Request,
    data: Any,
    *,
    media_type: str = JSON_TYPE,
    cache_control: str = API_CACHE,
    headers: dict[str, str] | None = None,
) -> Response:
    """200 with the body and its ETag, or 304 with neither body nor extra work for the client."""
    body = render_json(data)
    etag = etag_for(body)
    common = {"etag": etag, "cache-control": cache_control, **(headers or {})}
    if if_none_match(request, etag):
        return Response(status_code=304, headers=common)
    return Response(body, media_type=media_type, headers=common)
