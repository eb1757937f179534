"""Admission control: under overload, answer 503 quickly rather than everyone slowly.

One server process has one core's worth of Python. Past a few requests in progress, more
at once only makes each slower (they share the core and the GIL), until every answer takes
longer than a client waits. :class:`Admission` lets ``MUSEUM_MAX_REQUESTS`` requests work at
once; the next wait in line (first come, first served) at most ``MUSEUM_REQUEST_WAIT``
seconds, then get 503 with ``Retry-After`` and a message in their language; when the line
is already four times as long as the places at work, a newcomer gets that 503 at once (it
would not be served within the wait anyway, and a quick refusal frees its connection). A
request in progress is never cut off.

A slot is held only while a request is being *worked on*: it is given back as soon as the
response starts, so a long download, an HLS segment to a slow phone or a job-progress
stream (SSE) never keeps others waiting. Requests that carry a large body (tus chunks,
contributed recordings) skip the line: reading the body is the client's pace, not our CPU,
and uvicorn's connection limit still bounds them.

Health checks and metrics go straight through, so that a load balancer sees a busy server
as alive. uvicorn's own ``limit_concurrency`` (``MUSEUM_MAX_CONCURRENCY``) still bounds the
connections a process holds: past it, 503 at once, before any of this runs.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.db import PerLoopLimiter
from server.errors import N_, ServiceUnavailable
from server.handlers import handle_museum_error

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
QUEUE_PER_SLOT = 4  # requests waiting per place at work, before newcomers are refused at once
LARGE_BODY = 1024 * 1024  # bytes; a request announcing more is admitted without waiting
BUSY_MESSAGE = N_("The museum is very busy; please try again in a moment.")


class Admission:
    def __init__(self, app: ASGIApp, slots: int, wait: float) -> None:
        self.app = app
        self.slots = slots
        self.wait = wait
        self.queue = QUEUE_PER_SLOT * slots  # the longest line worth waiting in
        self._limiter = PerLoopLimiter(slots)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT or _large_body(scope):
            await self.app(scope, receive, send)
            return
        limiter = self._limiter.get()
        if limiter.available_tokens < 1 and limiter.statistics().tasks_waiting >= self.queue:
            # The line is already as long as can be served within the wait: say so now
            # rather than after it, so the connection is free at once.
            await self._refuse(scope, receive, send)
            return
        borrower = object()  # released from whichever task sends the response's start
        try:
            with anyio.fail_after(self.wait):
                await limiter.acquire_on_behalf_of(borrower)
        except TimeoutError:
            await self._refuse(scope, receive, send)
            return
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                limiter.release_on_behalf_of(borrower)

        async def send_releasing(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()  # the work is done; streaming the body needs no slot
            await send(message)

        try:
            await self.app(scope, receive, send_releasing)
        finally:
            release()

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await handle_museum_error(Request(scope), ServiceUnavailable(BUSY_MESSAGE))
        await response(scope, receive, send)


def _large_body(scope: Scope) -> bool:
    """Whether the request announces a body over :data:`LARGE_BODY` (or streams one unsized)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return value.isdigit() and int(value) > LARGE_BODY
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return True
    return False
