"""The image server's lookups: renewed by one request before they expire, and looked up
once at a time however many requests ask together."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from server.iiif_cache import Lookups

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    """``main()`` on a fresh event loop in its own thread (another test's loop may be running
    in this one)."""

    async def wrapped() -> T:
        return await main()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, wrapped()).result()


def test_a_due_value_is_kept_for_all_but_one_caller() -> None:
    lookups: Lookups[str] = Lookups(ttl=0.4)
    lookups.refresh_share = 0.25
    lookups.put("id", "v1")
    assert lookups.current("id") == lookups.get("id") == "v1"
    assert not lookups.claim_refresh("id")  # not due yet
    time.sleep(0.15)
    assert lookups.get("id") == "v1"  # still good for the replay layer…
    assert lookups.current("id") is None  # …but the app looks it up again
    assert lookups.claim_refresh("id")  # one request is sent to the app
    assert not lookups.claim_refresh("id")  # the others keep being answered
    lookups.put("id", "v2")  # the app's lookup lands
    assert lookups.current("id") == "v2" and not lookups.claim_refresh("id")
    time.sleep(0.45)
    assert lookups.get("id") is None and lookups.current("id") is None  # expired: gone


def test_concurrent_lookups_of_one_key_run_once_and_share_the_answer() -> None:
    lookups: Lookups[str] = Lookups()
    calls = []

    async def look_up() -> str:
        calls.append(1)
        await asyncio.sleep(0.05)
        return "found"

    async def main() -> list[str]:
        return await asyncio.gather(*(lookups.single_flight("id", look_up) for _ in range(20)))

    assert run(main) == ["found"] * 20
    assert len(calls) == 1
    assert lookups.get("id") == "found" and not lookups.pending


def test_a_failed_lookup_reaches_every_caller_and_is_not_kept() -> None:
    lookups: Lookups[str] = Lookups()

    async def look_up() -> str:
        await asyncio.sleep(0.01)
        raise LookupError("no such image")

    async def main() -> list[object]:
        calls = (lookups.single_flight("id", look_up) for _ in range(5))
        return await asyncio.gather(*calls, return_exceptions=True)

    results = run(main)
    assert all(isinstance(r, LookupError) for r in results)
    assert lookups.get("id") is None and not lookups.pending


def test_a_caller_that_goes_away_does_not_cancel_the_others() -> None:
    lookups: Lookups[str] = Lookups()

    async def look_up() -> str:
        await asyncio.sleep(0.05)
        return "found"

    async def main() -> str:
        first = asyncio.ensure_future(lookups.single_flight("id", look_up))
        second = asyncio.ensure_future(lookups.single_flight("id", look_up))
        await asyncio.sleep(0.01)
        first.cancel()  # its client closed the connection
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    assert run(main) == "found"
