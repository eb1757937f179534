"""Field-trip test helpers: an exhibition to visit, a signed-in teacher, real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.exhibitions import save_exhibition
from server.models import User
from tests.staff import add_user

EXHIBITION_ID = "trip-test"
EXHIBITION = {
    "id": EXHIBITION_ID,
    "title": {"vi": "Chuyến tham quan thử", "en": "Test field trip"},
    "published": True,
    "stops": [
        {"title": {"vi": "Chào mừng", "en": "Welcome"}, "text": {"vi": "Bắt đầu.", "en": "Start."}},
        {"record_id": "DL-ICH-01"},
        {"record_id": "DL-ICH-02", "title": {"vi": "Điểm ba", "en": "Stop three"}},
        {"record_id": "DL-ICH-03"},
        {"title": {"vi": "Tạm biệt", "en": "Goodbye"}},
    ],
}
STOPS = len(EXHIBITION["stops"])
RECEIVE_TIMEOUT = 10.0


def add_exhibition(db: Database, data: dict[str, Any] = EXHIBITION) -> None:
    db.call(lambda session: save_exhibition(session, data), write=True)


def session_for(db: Database, username: str, role: str = "contributor") -> tuple[str, str]:
    """``(session cookie, CSRF token)`` of a fresh sign-in of ``username``."""
    user_id = add_user(db, username, role)
    token, csrf = db.call(
        lambda session: start_session(session, session.get(User, user_id), 3600), write=True
    )
    return str(token), str(csrf)


def start_trip(base: str, cookie: str, csrf: str, exhibition: str = EXHIBITION_ID) -> str:
    """``POST /trips`` as the signed-in teacher; the new trip's code."""
    response = httpx.post(
        f"{base}/trips",
        data={"exhibition": exhibition, "csrf_token": csrf},
        cookies={SESSION_COOKIE: cookie},
        headers={"origin": base},
        follow_redirects=False,
        trust_env=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/")[2]


@asynccontextmanager
async def trip_socket(
    base: str, code: str, cookie: str | None = None
) -> AsyncIterator[ClientConnection]:
    """A WebSocket to the trip, as a page of ``base`` opens it (its Origin, its cookie)."""
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else None
    async with connect(
        base.replace("http", "ws", 1) + f"/ws/trips/{code}",
        origin=base,  # type: ignore[arg-type]
        additional_headers=headers,
        proxy=None,
        compression=None,
        max_queue=None,  # a test that does not read the teacher's socket must not stall it
        open_timeout=RECEIVE_TIMEOUT,
    ) as socket:
        yield socket


async def receive(socket: ClientConnection, timeout: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout))
    return data


async def receive_type(
    socket: ClientConnection, kind: str, timeout: float = RECEIVE_TIMEOUT
) -> dict[str, Any]:
    """The next message of type ``kind``, skipping others (participants, results …)."""
    deadline = time.monotonic() + timeout
    while True:
        message = await receive(socket, max(0.01, deadline - time.monotonic()))
        if message["type"] == kind:
            return message


async def join(socket: ClientConnection, nickname: str, token: str | None = None) -> dict[str, Any]:
    hello: dict[str, Any] = {"type": "hello", "nickname": nickname}
    if token:
        hello["token"] = token
    await socket.send(json.dumps(hello))
    return await receive_type(socket, "state")
