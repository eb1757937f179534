"""``/ws/trips/{code}``: one WebSocket per teacher screen or pupil screen.

The route's guard (``server.auth.GuardedWebSocketRoute``) has already checked the rule and
that the handshake's ``Origin`` is this site. Here: the signed-in user who started the trip
is its teacher (``websocket.scope["state"]["user"]``); every other connection is a pupil,
who joins with ``hello``. Each message is parsed (:mod:`server.trips.protocol`) and rate
limited before it acts; refusals come back as ``error`` messages and nothing is broadcast.

Each connection has one writer task and a bounded queue: the hub's fan-out only enqueues
(encoded once per event, :class:`server.trips.hub.Registry`), so one slow tablet never
delays the class. A connection whose queue overflows is closed; its page reconnects and
receives the current state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from server.audit import Actor
from server.auth import CurrentUser
from server.errors import N_
from server.policy import has_permission
from server.state import Museum
from server.trips import state as trip_state
from server.trips.hub import Hub, trip_hub
from server.trips.protocol import (
    PUPIL,
    TEACHER,
    Answer,
    Ask,
    CloseQuestion,
    End,
    Goto,
    Hello,
    Message,
    Mode,
    Ping,
    ProtocolError,
    View,
    parse_message,
)
from server.trips.rate import bucket_for, rate_limited
from server.trips.service import finish_trip, live_state
from server.trips.state import Outcome, TripGone, TripState, parse_code

log = logging.getLogger(__name__)

QUEUE_LIMIT = 512  # messages waiting for one connection before it is dropped
CLOSE_NOT_FOUND = 4404
CLOSE_ENDED = 4000
CLOSE_SLOW = 4408  # the client read too slowly; it reconnects and gets the state
CLOSE_ABUSE = 1008  # policy violation: far too many refused messages
CLOSE_TRY_AGAIN = 1013
MAX_STRIKES = 200  # refused messages in a row before the connection is closed
ERROR_INTERVAL = 1.0  # seconds between two "too many messages" replies
WRITER_GRACE = 2.0  # seconds a closing connection gets to send what is still queued
_CLOSE = object()


class Connection:
    """One socket as the hub sees it: events in, text out, in revision order."""

    def __init__(self, websocket: WebSocket, role: str) -> None:
        self.websocket = websocket
        self.role = role
        self.id = secrets.token_hex(8)
        self.nickname: str | None = None
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.ready = False  # has had its snapshot
        self.pending: list[tuple[int, dict[str, Any], str]] = []
        self.floor = -1  # events up to this revision are already in the snapshot
        self.close_code = 1000

    # The hub's side (Listener)

    def deliver(self, rev: int, to: str, msg: dict[str, Any], text: str) -> None:
        if not self.ready:
            if len(self.pending) < QUEUE_LIMIT:
                self.pending.append((rev, msg, text))
            return
        if rev > self.floor:
            self._forward(msg, text)

    def resync(self, state: TripState | None) -> None:
        """A fresh snapshot after the hub lost events (Redis came back)."""
        if state is None or state.ended:
            self._put(json.dumps({"type": "ended"}))
            self.close_with(CLOSE_ENDED)
        elif self.ready:
            self.send_snapshot(trip_state.snapshot(state, self.role, self.nickname))

    # The session's side

    def send_snapshot(self, message: dict[str, Any]) -> None:
        self.floor = message["rev"]
        self._put(json.dumps(message, ensure_ascii=False))
        for rev, msg, text in self.pending:
            if rev > self.floor:
                self._forward(msg, text)
        self.pending.clear()
        self.ready = True

    def reply(self, message: dict[str, Any]) -> None:
        self._put(json.dumps(message, ensure_ascii=False))

    def _forward(self, msg: dict[str, Any], text: str) -> None:
        self._put(text)
        if msg.get("type") == "ended":
            self.close_with(CLOSE_ENDED)

    def close_with(self, code: int) -> None:
        self.close_code = code
        self._put(_CLOSE)

    def _put(self, item: Any) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            log.info("trip connection %s too slow: closed", self.id)
            while not self.queue.empty():
                self.queue.get_nowait()
            self.close_code = CLOSE_SLOW
            self.queue.put_nowait(_CLOSE)

    async def write(self) -> None:
        """Send what is queued, in order, until the connection ends (or the client left)."""
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            while True:
                item = await self.queue.get()
                if item is _CLOSE:
                    await self.websocket.close(code=self.close_code)
                    return
                await self.websocket.send_text(item)


class TripSession:
    """The conversation on one connection: what its role may say, and the replies."""

    def __init__(
        self,
        websocket: WebSocket,
        museum: Museum,
        hub: Hub,
        code: str,
        role: str,
        gettext: Callable[[str], str],
    ) -> None:
        self.websocket = websocket
        self.museum = museum
        self.hub = hub
        self.code = code
        self.role = role
        self.gettext = gettext
        self.connection = Connection(websocket, role)
        self.bucket = bucket_for(role)
        self.registered = False
        self.strikes = 0
        self.last_rate_error = 0.0

    async def run(self) -> None:
        writer = asyncio.create_task(self.connection.write())
        try:
            if self.role == TEACHER:
                await self._register()
                state = await self.hub.load(self.code)
                if state is None:
                    raise TripGone()
                self.connection.send_snapshot(trip_state.snapshot(state, TEACHER))
            while not writer.done():
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self.handle(message.get("text") or message.get("bytes") or b"")
        except TripGone:
            self.connection.reply({"type": "ended"})
            self.connection.close_with(CLOSE_ENDED)
        except ProtocolError as error:  # the shared hub is unreachable: the page retries
            self.refuse(error)
            self.connection.close_with(CLOSE_TRY_AGAIN)
        except WebSocketDisconnect:
            pass
        finally:
            await self._leave()
            if not writer.done():
                self.connection.close_with(self.connection.close_code)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(writer, WRITER_GRACE)
            writer.cancel()

    async def _register(self) -> None:
        if not self.registered:
            await self.hub.register(self.code, self.connection)
            self.registered = True

    async def _leave(self) -> None:
        if self.registered:
            await self.hub.unregister(self.code, self.connection)
        nickname, connection = self.connection.nickname, self.connection.id
        if nickname is not None:
            with contextlib.suppress(ProtocolError):
                await self.hub.update(
                    self.code, lambda s: trip_state.leave(s, nickname, connection)
                )

    # Messages

    async def handle(self, raw: str | bytes) -> None:
        if not self.bucket.allow():
            now = time.monotonic()
            if now - self.last_rate_error >= ERROR_INTERVAL:
                self.last_rate_error = now
                self.refuse(rate_limited())
            self._strike()
            return
        try:
            message = parse_message(raw, self.role)
            await self.act(message)
            self.strikes = 0
        except TripGone:
            raise
        except ProtocolError as error:
            if error.code == "forbidden":
                log.warning(
                    "trip %s: %s %s sent a message its role may not send; refused",
                    self.code,
                    self.role,
                    self.connection.nickname or "(before hello)",
                )
            self.refuse(error)
            self._strike()

    def refuse(self, error: ProtocolError) -> None:
        self.connection.reply(
            {"type": "error", "code": error.code, "message": error.render(self.gettext)}
        )

    def _strike(self) -> None:
        self.strikes += 1
        if self.strikes >= MAX_STRIKES:
            self.connection.close_with(CLOSE_ABUSE)

    async def act(self, message: Message) -> None:
        match message:
            case Ping():
                self.connection.reply({"type": "pong"})
            case Hello():
                await self.hello(message)
            case Answer():
                nickname = self._joined()
                outcome = await self.hub.update(
                    self.code, lambda s: trip_state.answer(s, nickname, message)
                )
                self._reply(outcome)
            case Goto():
                await self.hub.update(self.code, lambda s: trip_state.goto(s, message))
            case View():
                await self.hub.update(self.code, lambda s: trip_state.view(s, message))
            case Mode():
                await self.hub.update(self.code, lambda s: trip_state.mode(s, message))
            case Ask():
                await self.hub.update(self.code, lambda s: trip_state.ask(s, message))
            case CloseQuestion():
                await self.hub.update(self.code, trip_state.close_question)
            case End():
                await finish_trip(self.museum, self.hub, self.code, self._actor())

    async def hello(self, message: Hello) -> None:
        if self.connection.nickname is not None:
            raise ProtocolError(
                "already_joined",
                N_("You have already joined this trip as {nickname}."),
                nickname=self.connection.nickname,
            )
        await self._register()  # before the snapshot is read: no event can slip between
        token = secrets.token_urlsafe(24)
        try:
            outcome = await self.hub.update(
                self.code,
                lambda s: trip_state.join(
                    s, message.nickname, message.token, self.connection.id, token
                ),
            )
        except ProtocolError:
            await self.hub.unregister(self.code, self.connection)
            self.registered = False
            raise
        assert outcome.reply is not None  # join always replies with the snapshot
        self.connection.nickname = outcome.reply["you"]["nickname"]
        self.connection.send_snapshot(outcome.reply)

    def _joined(self) -> str:
        if self.connection.nickname is None:
            raise ProtocolError("hello_first", N_("Join the trip with your nickname first."))
        return self.connection.nickname

    def _reply(self, outcome: Outcome) -> None:
        if outcome.reply is not None:
            self.connection.reply(outcome.reply)

    def _actor(self) -> Actor:
        user: CurrentUser | None = self.websocket.scope.get("state", {}).get("user")
        address = self.websocket.client.host if self.websocket.client else ""
        if user is None:  # pragma: no cover - only the teacher may end a trip
            return Actor(None, "public", address)
        return Actor(user.id, user.username, address)


async def endpoint(websocket: WebSocket) -> None:
    """Accept, find the trip and its role for this connection, then talk until it closes."""
    museum: Museum = websocket.app.state.museum
    scope_state = websocket.scope.get("state", {})
    lang = scope_state.get("lang") or museum.settings.language
    gettext = museum.translations(lang).gettext
    code = parse_code(websocket.path_params.get("code", ""))
    hub = await trip_hub(websocket.app)
    await websocket.accept()
    try:
        state = await live_state(museum, hub, code) if code else None
    except ProtocolError as error:  # the shared hub is unreachable
        await websocket.send_text(
            json.dumps({"type": "error", "code": error.code, "message": error.render(gettext)})
        )
        await websocket.close(code=CLOSE_TRY_AGAIN)
        return
    if state is None or state.ended:
        await websocket.send_text(json.dumps({"type": "ended", "found": state is not None}))
        await websocket.close(code=CLOSE_NOT_FOUND if state is None else CLOSE_ENDED)
        return
    user: CurrentUser | None = scope_state.get("user")
    teacher = (
        user is not None and user.id == state.teacher_id and has_permission(user.role, "lead_trip")
    )
    session = TripSession(
        websocket, museum, hub, state.code, TEACHER if teacher else PUPIL, gettext
    )
    await session.run()
