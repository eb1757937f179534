"""The IIIF image server's memory: what it has read, rendered and looked up recently.

- :class:`ByteLRU` — bytes by key, bounded in bytes, least recently used out first.
- :class:`DiskCache` — rendered images by canonical request, on disk, bounded in bytes.
- :class:`Lookups` — which published folder an image id names, for a few seconds, so a
  viewer's burst of tile requests costs one catalog query, not hundreds.
- :class:`FastTiles` — an ASGI layer in front of the app that answers a pre-generated tile
  it has answered before straight from memory, with the same headers, while the image's
  lookup is fresh, and renders other requests for such images without routing and
  middleware. Anything else goes to the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from server.middleware import SECURITY_HEADERS
from server.vocab import PUBLIC_ACCESS

TILE_MEMORY_BYTES = 64 * 1024 * 1024  # recently served tiles kept in memory
LOOKUP_SECONDS = 10.0  # how long an image id's published folder is trusted without the catalog
LOOKUP_ENTRIES = 10_000
REFRESH_SHARE = 0.7  # a lookup is renewed by one request after this share of its lifetime
T = TypeVar("T")
# Renders a request the app has the facts for: (headers, body), or None to let the app answer.
Render = Callable[[Scope], Awaitable[tuple[list[tuple[bytes, bytes]], bytes] | None]]


class ByteLRU(Generic[T]):
    """Values with a size in bytes, at most ``limit`` bytes in all; thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.items: OrderedDict[Hashable, tuple[T, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        with self.lock:
            found = self.items.get(key)
            if found is None:
                return None
            self.items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: T, size: int) -> None:
        if size > self.limit:
            return
        with self.lock:
            old = self.items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            self.items[key] = (value, size)
            self.used += size
            while self.used > self.limit and self.items:
                _, (_, dropped) = self.items.popitem(last=False)
                self.used -= dropped


class TileMemory(ByteLRU[bytes]):
    """Recently served static tiles, as bytes: a file read costs more than the whole answer."""

    def __init__(self, limit: int = TILE_MEMORY_BYTES) -> None:
        super().__init__(limit)

    def read(self, path: Path) -> bytes:
        data = self.get(path)
        if data is None:
            data = path.read_bytes()
            self.put(path, data, len(data))
        return data


class DiskCache:
    """Rendered images by canonical request, bounded in bytes; the least recently used go first.

    Files are written whole (temporary name, then rename), so a reader never sees half a
    file; a hit refreshes the file's time, which the sweep orders by.
    """

    def __init__(self, root: Path, limit: int) -> None:
        self.root = root
        self.limit = limit
        self.lock = threading.Lock()
        self.used: int | None = None  # measured on first write

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / digest[:2] / digest

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # the sweep keeps what is read
        return data

    def put(self, key: str, data: bytes) -> None:
        if self.limit <= 0 or len(data) > self.limit:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        partial.write_bytes(data)
        partial.replace(path)
        with self.lock:
            if self.used is None:
                self.used = self._measure()
            else:
                self.used += len(data)
            if self.used > self.limit:
                self.used = self._sweep(int(self.limit * 0.9))

    def _files(self) -> list[tuple[float, int, Path]]:
        found = []
        for path in self.root.glob("*/*"):
            if path.name.startswith("."):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            found.append((stat.st_mtime, stat.st_size, path))
        return found

    def _measure(self) -> int:
        return sum(size for _, size, _ in self._files())

    def _sweep(self, target: int) -> int:
        files = sorted(self._files())
        total = sum(size for _, size, _ in files)
        for _, size, path in files:
            if total <= target:
                break
            path.unlink(missing_ok=True)
            total -= size
        return total


class Lookups(Generic[T]):
    """Values for a few seconds: a catalog change reaches the image server within ``ttl``.

    Past ``refresh_share`` of its lifetime a value is still good but due: :meth:`claim_refresh` lets
    one request go and look it up again while the others keep using it, so under a
    steady stream of tile requests the value is renewed before it expires, not
    rebuilt by every request in flight at the moment it expires. Lookups that do
    happen run once per key at a time (:meth:`single_flight`).
    """

    def __init__(self, ttl: float = LOOKUP_SECONDS, entries: int = LOOKUP_ENTRIES) -> None:
        self.ttl = ttl
        self.refresh_share = REFRESH_SHARE
        self.entries = entries
        self.items: dict[Hashable, _Entry[T]] = {}
        self.pending: dict[Hashable, asyncio.Future[T]] = {}

    def get(self, key: Hashable) -> T | None:
        """The value until it expires."""
        found = self.items.get(key)
        if found is None or found.expires < time.monotonic():
            return None
        return found.value

    def current(self, key: Hashable) -> T | None:
        """The value until it is due for a refresh (then whoever asks looks it up again)."""
        found = self.items.get(key)
        if found is None or min(found.due, found.expires) < time.monotonic():
            return None
        return found.value

    def claim_refresh(self, key: Hashable) -> bool:
        """True once per value, when it is due: the caller should look it up again."""
        found = self.items.get(key)
        if found is None or found.claimed or found.due >= time.monotonic():
            return False
        found.claimed = True
        return True

    def put(self, key: Hashable, value: T) -> None:
        if len(self.items) >= self.entries:
            self.items.clear()  # rare, and cheaper than tracking ages
        now = time.monotonic()
        self.items[key] = _Entry(value, now + self.ttl, now + self.ttl * self.refresh_share)

    async def single_flight(self, key: Hashable, look_up: Callable[[], Awaitable[T]]) -> T:
        """``look_up()``'s value, kept; callers that ask while it runs share its answer."""
        task = self.pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fill(key, look_up))
            self.pending[key] = task
            task.add_done_callback(lambda _: self.pending.pop(key, None))
        # shielded: a caller that goes away (a closed connection) does not cancel the others'
        return await asyncio.shield(task)

    async def _fill(self, key: Hashable, look_up: Callable[[], Awaitable[T]]) -> T:
        value = await look_up()
        self.put(key, value)
        return value


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    expires: float
    due: float
    claimed: bool = False


@dataclass(frozen=True)
class FastTile:
    """A static tile answer as the app gave it: whose it is, its headers and bytes."""

    identifier: str
    folder: Path
    headers: list[tuple[bytes, bytes]]
    body: bytes


class TileAnswers:
    """The static tile answers :class:`FastTiles` replays, shared with the app's handlers."""

    def __init__(self, lookups: Lookups[Any], limit: int = TILE_MEMORY_BYTES) -> None:
        self.lookups = lookups
        self.answers: ByteLRU[FastTile] = ByteLRU(limit)

    def remember(self, path: str, tile: FastTile) -> None:
        headers = [
            *tile.headers,
            *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()),
        ]
        answer = FastTile(tile.identifier, tile.folder, headers, tile.body)
        self.answers.put(path, answer, len(tile.body))

    def replay(self, path: str) -> FastTile | None:
        """The answer for ``path`` while its image's lookup is fresh and unchanged."""
        tile = self.answers.get(path)
        if tile is None:
            return None
        key = (tile.identifier, PUBLIC_ACCESS)
        published = self.lookups.get(key)
        if published is None or published.folder != tile.folder:
            return None
        # one request now and then goes through the app, which looks the image up again
        return None if self.lookups.claim_refresh(key) else tile


class FastTiles:
    """Answer repeated pre-generated tile requests before routing and middleware run.

    Serving a tile through Starlette costs over a millisecond of Python; a viewer asks
    for dozens at once. The image handler records each public static tile answer in
    :class:`TileAnswers`; this outermost layer replays it while the image's lookup is
    still fresh and names the same folder, so access changes and new versions take
    effect within the lookup's lifetime. It adds the security headers itself, since it
    answers before that middleware.
    """

    def __init__(self, app: ASGIApp, answers: TileAnswers, render: Render | None = None) -> None:
        self.app = app
        self.answers = answers
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope.get("query_string")
            and (tile := self.answers.replay(scope["path"])) is not None
        ):
            await self._send(scope, send, tile.headers, tile.body)
            return
        if (
            self.render is not None
            and scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope.get("query_string")
            and (rendered := await self.render(scope)) is not None
        ):
            headers, body = rendered
            security = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            await self._send(scope, send, [*headers, *security], body)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _send(
        scope: Scope, send: Send, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
