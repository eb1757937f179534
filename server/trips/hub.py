"""Where live trips are kept and how their events reach every connection.

A :class:`Hub` stores each trip's :class:`~server.trips.state.TripState`, runs changes on it
one at a time (:meth:`Hub.update`) and publishes each change's events, numbered by the
state's revision, to every server process; each process hands them to its own WebSocket
connections (:class:`Listener`) in that order.

* :class:`MemoryHub` (the default): one process; the state lives in a dict.
* :class:`server.trips.redis_hub.RedisHub` when ``MUSEUM_QUEUE_URL`` is a ``redis://`` URL:
  the state is a JSON value in Redis (with a time to live), changed with WATCH/MULTI, and
  the events are published on the trip's channel in the same transaction, so any number
  of ``museum serve`` processes share trips (``docs/trips.md``).

:func:`trip_hub` makes the app's hub on first use and :func:`close_trip_hub` ends it.
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from starlette.applications import Starlette

from server.trips.state import Event, Outcome, TripGone, TripState

log = logging.getLogger(__name__)

# A trip nobody changes for this long is forgotten (a school day, with room to spare).
TRIP_TTL = 12 * 3600
MAX_RETRIES = 100  # optimistic transactions that lost a race, before giving up

Change = Callable[[TripState], Outcome]


class Listener(Protocol):
    """One WebSocket connection of this process, as the hub sees it."""

    role: str  # "teacher" or "pupil"

    def deliver(self, rev: int, to: str, msg: dict[str, Any], text: str) -> None: ...


class Registry:
    """This process's connections by trip, and the fan-out of published events to them."""

    def __init__(self) -> None:
        self.by_trip: dict[str, set[Listener]] = {}

    def add(self, code: str, listener: Listener) -> None:
        self.by_trip.setdefault(code, set()).add(listener)

    def remove(self, code: str, listener: Listener) -> None:
        listeners = self.by_trip.get(code)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self.by_trip[code]

    def codes(self) -> list[str]:
        return list(self.by_trip)

    def dispatch(self, code: str, rev: int, events: list[dict[str, Any]]) -> None:
        """Hand ``events`` (``{"to", "msg"}``) to the trip's connections here, in order."""
        listeners = self.by_trip.get(code)
        if not listeners:
            return
        for event in events:
            msg = event["msg"]
            text = json.dumps({**msg, "rev": rev}, ensure_ascii=False)  # once, for everyone
            for listener in list(listeners):
                if event["to"] == "all" or listener.role == event["to"]:
                    listener.deliver(rev, event["to"], msg, text)


def encode_events(events: tuple[Event, ...]) -> list[dict[str, Any]]:
    return [{"to": e.to, "msg": e.msg} for e in events]


class Hub(ABC):
    def __init__(self) -> None:
        self.registry = Registry()

    @abstractmethod
    async def create(self, state: TripState) -> None:
        """Store a new trip."""

    @abstractmethod
    async def load(self, code: str) -> TripState | None:
        """The trip as it is now, or None when this hub does not know it."""

    @abstractmethod
    async def update(self, code: str, change: Change, *, forget: bool = False) -> Outcome:
        """Run ``change`` on the current state, store it and publish its events, atomically.

        ``change`` may raise :class:`~server.trips.protocol.ProtocolError`: then nothing is
        stored or published. Raises :class:`TripGone` when the trip is unknown. ``forget``
        drops the trip after publishing (the end of a trip).
        """

    async def register(self, code: str, listener: Listener) -> None:
        """From now on ``listener`` receives the trip's events."""
        self.registry.add(code, listener)

    async def unregister(self, code: str, listener: Listener) -> None:
        self.registry.remove(code, listener)

    async def close(self) -> None:  # noqa: B027 - only hubs holding connections override it
        """Release connections and tasks (the app is shutting down)."""


class MemoryHub(Hub):
    """Trips in this process's memory: one ``museum serve`` process, nothing to install.

    Changes are synchronous functions and there is no ``await`` between reading the state
    and publishing, so the event loop itself makes each change atomic.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.trips: dict[str, tuple[TripState, float]] = {}

    def _sweep(self) -> None:
        now = self.clock()
        for code in [code for code, (_, expires) in self.trips.items() if expires <= now]:
            del self.trips[code]

    async def create(self, state: TripState) -> None:
        self._sweep()
        self.trips[state.code] = (state, self.clock() + TRIP_TTL)

    async def load(self, code: str) -> TripState | None:
        self._sweep()
        found = self.trips.get(code)
        # A copy: callers may not change the stored state behind the hub's back.
        return TripState.from_json(found[0].to_json()) if found else None

    async def update(self, code: str, change: Change, *, forget: bool = False) -> Outcome:
        self._sweep()
        found = self.trips.get(code)
        if found is None:
            raise TripGone()
        working = found[0]
        working.rev += 1
        try:
            outcome = change(working)  # every change checks before it mutates anything
        except Exception:
            working.rev -= 1
            raise
        if forget:
            del self.trips[code]
        else:
            self.trips[code] = (working, self.clock() + TRIP_TTL)
        if outcome.events:
            self.registry.dispatch(code, working.rev, encode_events(outcome.events))
        return outcome


def make_hub(queue_url: str) -> Hub:
    """Redis when the queue is on Redis (several processes share trips), else memory."""
    if queue_url.startswith(("redis://", "rediss://")):
        from server.trips.redis_hub import RedisHub

        return RedisHub(queue_url)
    return MemoryHub()


async def trip_hub(app: Starlette) -> Hub:
    """The app's hub, made on first use (inside the running event loop)."""
    hub: Hub | None = getattr(app.state, "trip_hub", None)
    if hub is None:
        hub = make_hub(app.state.museum.settings.queue_url)
        app.state.trip_hub = hub
    return hub


async def close_trip_hub(app: Starlette) -> None:
    hub: Hub | None = getattr(app.state, "trip_hub", None)
    if hub is not None:
        app.state.trip_hub = None
        await hub.close()
