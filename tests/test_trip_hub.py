"""The trip hubs: one change at a time, events numbered by revision and delivered in order;
the Redis hub shares trips between processes (two hubs here play two processes)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.trips import state as trip_state
from server.trips.hub import TRIP_TTL, MemoryHub, make_hub
from server.trips.protocol import Goto, ProtocolError
from server.trips.state import TripGone, TripState


class Listener:
    def __init__(self, role: str = "pupil") -> None:
        self.role = role
        self.got: list[tuple[int, str, dict[str, Any]]] = []
        self.resynced: list[TripState | None] = []

    def deliver(self, rev: int, to: str, msg: dict[str, Any], text: str) -> None:
        assert f'"rev": {rev}' in text  # encoded once, with its revision
        self.got.append((rev, to, msg))

    def resync(self, state: TripState | None) -> None:
        self.resynced.append(state)

    def moves(self) -> list[int]:
        return [msg["seq"] for _, _, msg in self.got if msg["type"] == "move"]


def trip(code: str = "KT7M4Q", stops: int = 5) -> TripState:
    return TripState(code, "ex", 1, "vi", stops)


def test_the_queue_url_chooses_the_hub() -> None:
    assert isinstance(make_hub(""), MemoryHub)
    assert isinstance(make_hub("sqlite:///x/queue.sqlite3"), MemoryHub)
    assert type(make_hub("redis://127.0.0.1:6379/0")).__name__ == "RedisHub"


def test_the_memory_hub_numbers_changes_and_routes_events() -> None:
    async def run() -> None:
        clock = [0.0]
        hub = MemoryHub(clock=lambda: clock[0])
        await hub.create(trip())
        pupil, teacher = Listener(), Listener("teacher")
        await hub.register("KT7M4Q", pupil)
        await hub.register("KT7M4Q", teacher)
        await hub.update("KT7M4Q", lambda s: trip_state.goto(s, Goto(2)))
        await hub.update("KT7M4Q", lambda s: trip_state.join(s, "An", None, "c1", "t" * 20))
        with pytest.raises(ProtocolError):  # refused: nothing stored, nothing sent
            await hub.update("KT7M4Q", lambda s: trip_state.goto(s, Goto(9)))
        await hub.update("KT7M4Q", lambda s: trip_state.goto(s, Goto(3)))
        state = await hub.load("KT7M4Q")
        assert state is not None and (state.rev, state.seq, state.stop) == (3, 2, 3)
        assert [(rev, msg["type"]) for rev, _, msg in pupil.got] == [(1, "move"), (3, "move")]
        assert [msg["type"] for _, _, msg in teacher.got] == ["move", "participants", "move"]
        # Forgotten after its time to live, or at once at the end.
        clock[0] += TRIP_TTL + 1
        assert await hub.load("KT7M4Q") is None
        with pytest.raises(TripGone):
            await hub.update("KT7M4Q", trip_state.announce_end)
        await hub.create(trip("AAAAAA"))
        await hub.update("AAAAAA", trip_state.announce_end, forget=True)
        assert await hub.load("AAAAAA") is None

    asyncio.run(run())


@pytest.mark.redis
def test_two_redis_hubs_share_a_trip_in_one_order(redis_url: str) -> None:
    """Two processes changing one trip at once: every change lands, each once, and both
    processes' connections see the same events in the same order."""
    from server.trips.redis_hub import RedisHub

    async def run() -> None:
        first, second = RedisHub(redis_url), RedisHub(redis_url)
        try:
            await first.create(trip())
            with pytest.raises(ValueError):
                await second.create(trip())  # the code is taken
            here, there = Listener(), Listener()
            await first.register("KT7M4Q", here)
            await second.register("KT7M4Q", there)

            async def moves(hub: RedisHub, count: int) -> None:
                for number in range(count):
                    await hub.update("KT7M4Q", lambda s, n=number: trip_state.goto(s, Goto(n % 5)))

            await asyncio.gather(moves(first, 40), moves(second, 40), moves(first, 20))
            for _ in range(100):
                if len(here.got) == len(there.got) == 100:
                    break
                await asyncio.sleep(0.05)
            assert here.moves() == there.moves() == list(range(1, 101))
            assert [rev for rev, _, _ in here.got] == list(range(1, 101))
            state = await second.load("KT7M4Q")
            assert state is not None and state.seq == 100

            # The subscription drops (Redis restarted, a network blip): the hub subscribes
            # again and gives its connections a fresh snapshot, since events were lost.
            await first.client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            for _ in range(100):
                if here.resynced and there.resynced:
                    break
                await asyncio.sleep(0.05)
            assert here.resynced and here.resynced[0] is not None
            assert here.resynced[0].seq == 100
            await first.update("KT7M4Q", lambda s: trip_state.goto(s, Goto(1)))
            for _ in range(100):
                if len(there.got) == 101:
                    break
                await asyncio.sleep(0.05)
            assert there.moves()[-1] == 101
            await first.update("KT7M4Q", trip_state.announce_end, forget=True)
            assert await second.load("KT7M4Q") is None
        finally:
            await first.close()
            await second.close()

    asyncio.run(run())
