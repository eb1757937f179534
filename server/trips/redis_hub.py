"""Trips shared by several server processes through Redis (``MUSEUM_QUEUE_URL=redis://…``).

* Each trip's state is one JSON value at ``museum:trip:<code>`` that expires
  :data:`~server.trips.hub.TRIP_TTL` after its last change.
* A change is an optimistic transaction: WATCH the key, read it, run the change in Python,
  then MULTI / SET / PUBLISH / EXEC. EXEC fails when another process changed the trip in
  between, and the change runs again on the new state. Because the events are published
  inside the same transaction, the order of a trip's messages on its channel is the order of
  its revisions, whichever process made them.
* Every process holds one subscription to all trip channels (``museum:trip-events:*``) and
  hands each message to its own connections of that trip. After a lost Redis connection it
  subscribes again and sends each of its connections a fresh snapshot, since events
  published meanwhile are gone.

In this process, changes to the same trip also wait for each other (an asyncio lock), so
transactions only race between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from server.errors import N_
from server.trips.hub import MAX_RETRIES, TRIP_TTL, Change, Hub, encode_events
from server.trips.protocol import ProtocolError
from server.trips.state import Outcome, TripGone, TripState

log = logging.getLogger(__name__)

KEY_PREFIX = "museum:trip:"
CHANNEL_PREFIX = "museum:trip-events:"
RECONNECT_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)  # seconds, then 5 s each time
START_TIMEOUT = 10.0
MAX_IDLE_LOCKS = 1000


class HubUnavailable(ProtocolError):
    def __init__(self) -> None:
        super().__init__("unavailable", N_("The live connection is busy; try again in a moment."))


class RedisHub(Hub):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.client: aioredis.Redis[bytes] = aioredis.from_url(url)
        self.reader: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.locks: dict[str, asyncio.Lock] = {}

    # Subscribing ------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe (once per process) and wait until Redis has confirmed it."""
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read(), name="trip-hub-reader")
        try:
            await asyncio.wait_for(self.ready.wait(), START_TIMEOUT)
        except TimeoutError as exc:
            raise HubUnavailable() from exc

    async def _read(self) -> None:
        attempt = 0
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                async for message in pubsub.listen():
                    if message["type"] == "psubscribe":
                        if attempt:  # events published while we were away are lost
                            await self._resync()
                        attempt = 0
                        self.ready.set()
                    elif message["type"] == "pmessage":
                        self._dispatch(message["channel"], message["data"])
            except (RedisError, OSError) as exc:
                self.ready.clear()
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                attempt += 1
                log.warning("trip hub lost Redis (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[attr-defined]  # types-redis is 4.x

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        try:
            code = channel.decode("ascii")[len(CHANNEL_PREFIX) :]
            payload = json.loads(data)
            self.registry.dispatch(code, int(payload["rev"]), payload["events"])
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            log.exception("trip hub: unreadable message on %r", channel)

    async def _resync(self) -> None:
        for code in self.registry.codes():
            state = await self.load(code)
            for listener in list(self.registry.by_trip.get(code, ())):
                resync = getattr(listener, "resync", None)
                if resync is not None:
                    resync(state)

    # Trips --------------------------------------------------------------------------

    async def create(self, state: TripState) -> None:
        await self.start()
        stored = await self.client.set(
            KEY_PREFIX + state.code, json.dumps(state.to_json()), ex=TRIP_TTL, nx=True
        )
        if not stored:
            raise ValueError(f"trip {state.code} exists already")

    async def load(self, code: str) -> TripState | None:
        try:
            raw = await self.client.get(KEY_PREFIX + code)
        except (RedisError, OSError) as exc:
            raise HubUnavailable() from exc
        return None if raw is None else TripState.from_json(json.loads(raw))

    async def register(self, code: str, listener: Any) -> None:
        await self.start()
        await super().register(code, listener)

    def _lock(self, code: str) -> asyncio.Lock:
        if len(self.locks) > MAX_IDLE_LOCKS:
            self.locks = {c: lock for c, lock in self.locks.items() if lock.locked()}
        return self.locks.setdefault(code, asyncio.Lock())

    async def update(self, code: str, change: Change, *, forget: bool = False) -> Outcome:
        key = KEY_PREFIX + code
        async with self._lock(code), self.client.pipeline(transaction=True) as pipe:
            for _ in range(MAX_RETRIES):
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise TripGone()
                    state = TripState.from_json(json.loads(raw))
                    state.rev += 1
                    outcome = change(state)
                    pipe.multi()
                    if forget:
                        pipe.delete(key)
                    else:
                        pipe.set(key, json.dumps(state.to_json()), ex=TRIP_TTL)
                    if outcome.events:
                        payload = {"rev": state.rev, "events": encode_events(outcome.events)}
                        pipe.publish(CHANNEL_PREFIX + code, json.dumps(payload))
                    await pipe.execute()
                    return outcome
                except WatchError:
                    continue  # another process changed the trip first: run on its state
                except (RedisError, OSError) as exc:
                    log.warning("trip hub: Redis refused a change to %s: %s", code, exc)
                    raise HubUnavailable() from exc
        raise HubUnavailable()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        await self.client.aclose()  # type: ignore[attr-defined]
