"""Per-client budgets for the public requests that cost the server real work (search).

:func:`limit_route` puts a budget in front of a route, before its guard and endpoint:
each request spends one unit of the client's budget, and a client that has spent it gets
429 with ``Retry-After`` (the seconds until one unit is back) and a message in its language.
Routes wrapped with the same :class:`Budget` share it (the search page and the search API).

The counting is the `limits` library's moving window: at most N requests in any span of
the window's length, so ``Retry-After`` is exact (when the oldest counted request leaves the
window). It is kept in memory, or in Redis when the job queue is Redis
(``MUSEUM_QUEUE_URL=redis://…``), so that several server processes share one budget.

The client is ``scope["client"]``: the peer address, or the address a trusted proxy put in
``X-Forwarded-For`` when — and only when — uvicorn was told to trust that proxy. A header
the client sends itself never chooses its budget.
"""

from __future__ import annotations

import logging
import math
import time

import anyio.to_thread
import limits
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import Receive, Scope, Send

from server.auth import GuardedRoute
from server.errors import N_, TooManyRequests
from server.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "museum-limits"
SEARCH_MESSAGE = N_(
    "Too many searches from your connection in a short time. Please try again in {seconds} seconds."
)


class Budget:
    """One named budget per client, e.g. ``search`` at ``300/minute``."""

    def __init__(self, name: str, rate: str, settings: Settings, message: str) -> None:
        self.name = name
        self.message = message
        self.item = None if rate == "0" else limits.parse(rate)
        self.storage = _storage(settings) if self.item is not None else None
        self.remote = not isinstance(self.storage, MemoryStorage)
        self.limiter = MovingWindowRateLimiter(self.storage) if self.storage else None

    async def spend(self, client: str) -> None:
        """Spend one unit of ``client``'s budget: :class:`TooManyRequests` when none is left.

        A storage that does not answer (Redis down) lets the request through, logged: a
        broken counter must not take search down with it.
        """
        if self.storage is None:
            return
        try:
            if self.remote:  # network round trips: off the event loop
                wait = await anyio.to_thread.run_sync(self._wait, client)
            else:
                wait = self._wait(client)
        except self.storage.base_exceptions as exc:
            log.warning("rate limit storage failed, %s not counted: %s", self.name, exc)
            return
        if wait:
            raise TooManyRequests(self.message, retry_after=wait, seconds=wait)

    def _wait(self, client: str) -> int:
        """0 when ``client`` may go on (a unit spent), else whole seconds until a unit is
        back: at least 1, at most one window."""
        assert self.item is not None and self.limiter is not None
        if self.limiter.hit(self.item, self.name, client):
            return 0
        reset = self.limiter.get_window_stats(self.item, self.name, client).reset_time
        return min(self.item.get_expiry(), max(1, math.ceil(reset - time.time())))


def _storage(settings: Settings) -> Storage:
    """Redis when the queue is Redis (shared by every server process), else memory."""
    url = settings.queue_url
    if url.startswith(("redis://", "rediss://")):
        return RedisStorage(url, key_prefix=KEY_PREFIX)
    return MemoryStorage()


def search_budget(settings: Settings) -> Budget:
    return Budget("search", settings.search_limit, settings, SEARCH_MESSAGE)


def limit_route(route: GuardedRoute, budget: Budget) -> GuardedRoute:
    """Spend one unit of ``budget`` for every HTTP request to ``route``, before anything else."""
    inner = route.app

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope["client"][0] if scope.get("client") else ""
            await budget.spend(client)
        await inner(scope, receive, send)

    route.app = app
    return route
