"""The public contribution form's limits, applied before the body is parsed by anyone else.

* :func:`limit_body` wraps the ``POST /contribute`` route: 413 for a declared or streamed
  body over ``MUSEUM_CONTRIBUTION_MAX_SIZE`` (plus room for the text fields), 429 over
  ``MUSEUM_CONTRIBUTION_LIMIT`` an hour, and the multipart form parsed once, with limits,
  and closed whatever the answer.
* :func:`check_rate` counts an address's contributions of the last hour in the database, so
  every server process agrees; :func:`client_key` is the address as a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from server.auth import CSRF_FIELD, CSRF_HEADER, GuardedRoute
from server.errors import N_, PayloadTooLarge, TooManyRequests
from server.models import Contribution, utcnow
from server.settings import Settings
from server.state import Museum

MAX_FIELDS = 16
FORM_OVERHEAD = 256 * 1024  # room for the text fields and the multipart framing
WINDOW = timedelta(hours=1)
FORM_KEY = "museum.contribution_form"  # the parsed form, in the scope (limit_body)
CLIENT_PURPOSE = b"museum contribution client v1"


def client_key(settings: Settings, address: str) -> str:
    """The sender's address as a keyed hash: enough to count, not to find the person."""
    from server.app import ensure_secret_key

    key = hmac.new(ensure_secret_key(settings).encode(), CLIENT_PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def check_rate(session: Session, client: str, limit: int) -> None:
    """429 once ``client`` has sent ``limit`` contributions in the last hour."""
    now = utcnow()
    times = session.scalars(
        select(Contribution.created_at)
        .where(Contribution.client == client, Contribution.created_at > now - WINDOW)
        .order_by(Contribution.created_at)
    ).all()
    if len(times) >= limit:
        wait = max(1, math.ceil((times[0] + WINDOW - now).total_seconds()))
        raise TooManyRequests(
            N_(
                "You have sent {count} contributions in the last hour, the most the museum "
                "takes from one connection. Please try again in {minutes} minutes."
            ),
            retry_after=wait,
            count=limit,
            minutes=math.ceil(wait / 60),
        )


def limit_body(route: GuardedRoute, settings: Settings) -> GuardedRoute:
    """Put the contribution form's limits in front of the route's guard.

    Before any byte of the body is read: 413 when the declared length is over the limit,
    429 when the sender is over the hourly limit. Then the multipart form is parsed here,
    with at most one file and :data:`MAX_FIELDS` fields, counting bytes as they arrive (413
    past the limit), and closed (its spooled file deleted) whatever the answer. The guard
    still checks the CSRF token and the Origin: the form's ``csrf_token`` field reaches it
    as the ``X-CSRF-Token`` header, so it has no need to parse the body a second time
    without limits. The endpoint finds the parsed form in the scope (:data:`FORM_KEY`).
    """
    inner = route.app
    limit = settings.contribution_max_size + FORM_OVERHEAD

    def too_large() -> PayloadTooLarge:
        return PayloadTooLarge(
            N_("The file is larger than {limit} MB, the most the museum accepts."),
            parameter="file",
            limit=settings.contribution_max_size // 1024**2,
        )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await inner(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared and (not declared.isdigit() or int(declared) > limit):
            raise too_large()
        museum: Museum = scope["app"].state.museum
        address = scope["client"][0] if scope.get("client") else ""
        client = client_key(museum.settings, address)
        await museum.db.run(lambda s: check_rate(s, client, settings.contribution_limit))
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large()
            return message

        form = await Request(scope, counted).form(max_files=1, max_fields=MAX_FIELDS)
        drained = False

        async def after_body() -> Message:
            nonlocal drained  # the body is read: whoever asks again gets its end
            if drained:
                return await receive()
            drained = True
            return {"type": "http.request", "body": b"", "more_body": False}

        try:
            header = CSRF_HEADER.encode()
            headers = list(scope["headers"])
            if not any(k == header for k, _ in headers):
                token = form.get(CSRF_FIELD)
                headers.append((header, token.encode() if isinstance(token, str) else b""))
            await inner({**scope, "headers": headers, FORM_KEY: form}, after_body, send)
        finally:
            await form.close()

    route.app = app
    return route
