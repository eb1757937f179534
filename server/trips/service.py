"""Starting, finding and ending trips: the catalog row (``Trip``) and the hub's live state.

The ``trips`` row is written when a teacher starts a trip and when it ends (with its
summary); in between the trip lives in the hub. When the hub has forgotten a trip that has
not ended (a restart of a single-process museum, or twelve idle hours), the next connection
starts it again from its row at the first stop: pupils say hello again and carry on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit import Actor, log_change, snapshot
from server.errors import N_, NotFound, TooManyRequests, ValidationError
from server.models import Trip, utcnow
from server.state import Museum
from server.trips import state as trip_state
from server.trips.hub import TRIP_TTL, Hub
from server.trips.state import TripGone, TripState
from server.trips.stops import stop_count

MAX_OPEN_TRIPS = 10  # trips one teacher may have running at once
TRIP_LIFETIME = timedelta(hours=24)  # after this a trip that was never ended cannot resume
CODE_ATTEMPTS = 20


@dataclass(frozen=True)
class TripRow:
    code: str
    exhibition_id: str | None
    teacher_id: int | None
    language: str
    created_at: Any
    ended_at: Any
    summary: dict[str, Any]

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def expired(self) -> bool:
        return self.ended or utcnow() - self.created_at > TRIP_LIFETIME


def _row(trip: Trip) -> TripRow:
    return TripRow(
        trip.code,
        trip.exhibition_id,
        trip.teacher_id,
        trip.language,
        trip.created_at,
        trip.ended_at,
        dict(trip.summary or {}),
    )


async def find_trip(museum: Museum, code: str) -> TripRow | None:
    def load(session: Session) -> TripRow | None:
        trip = session.get(Trip, code)
        return None if trip is None else _row(trip)

    return await museum.db.run(load)


async def owned_trip(museum: Museum, code: str | None, user_id: int) -> TripRow:
    """The trip ``code`` if ``user_id`` leads it; anyone else gets the same 404 as no trip."""
    found = await find_trip(museum, code) if code else None
    if found is None or found.teacher_id != user_id:
        raise NotFound(N_("No field trip with code {code}."), parameter="code", code=code or "")
    return found


async def start_trip(
    museum: Museum, hub: Hub, exhibition_id: str, teacher_id: int, language: str, actor: Actor
) -> str:
    """A new trip through a public exhibition, led by ``teacher_id``; returns its code."""
    gettext = museum.translations(language).gettext

    def create(session: Session) -> tuple[str, int]:
        stops = stop_count(session, exhibition_id, gettext)
        if not stops:
            raise ValidationError(
                N_("Choose a published, public exhibition with at least one stop."),
                parameter="exhibition",
            )
        since = utcnow() - timedelta(seconds=TRIP_TTL)
        running = session.scalar(
            select(func.count())
            .select_from(Trip)
            .where(Trip.teacher_id == teacher_id, Trip.ended_at.is_(None), Trip.created_at > since)
        )
        if (running or 0) >= MAX_OPEN_TRIPS:
            raise TooManyRequests(
                N_("You have {count} field trips running; end one before starting another."),
                retry_after=600,
                count=running,
            )
        for _ in range(CODE_ATTEMPTS):
            code = trip_state.new_code()
            if session.get(Trip, code) is None:
                break
        else:  # pragma: no cover - 244 million codes
            raise TooManyRequests(N_("No free trip code; try again."), retry_after=5)
        trip = Trip(
            code=code, exhibition_id=exhibition_id, teacher_id=teacher_id, language=language
        )
        session.add(trip)
        session.flush()
        log_change(session, actor, "trip.create", "trip", code, None, snapshot(trip))
        return code, stops

    code, stops = await museum.db.run(create, write=True)
    await hub.create(TripState(code, exhibition_id, teacher_id, language, stops))
    return code


async def live_state(museum: Museum, hub: Hub, code: str) -> TripState | None:
    """The trip's live state; started again from its row if the hub forgot a running trip."""
    state = await hub.load(code)
    if state is not None:
        return state
    row = await find_trip(museum, code)
    if row is None or row.expired or row.exhibition_id is None or row.teacher_id is None:
        return None
    gettext = museum.translations(row.language).gettext
    exhibition_id = row.exhibition_id
    stops = await museum.db.run(lambda s: stop_count(s, exhibition_id, gettext))
    if not stops:
        return None
    with contextlib.suppress(ValueError):  # another connection started it again first
        await hub.create(TripState(code, exhibition_id, row.teacher_id, row.language, stops))
    return await hub.load(code)


async def finish_trip(museum: Museum, hub: Hub, code: str, actor: Actor) -> None:
    """End the trip: freeze it, keep its summary in the row, then tell every connection."""
    try:
        summary = (await hub.update(code, trip_state.end)).value
    except TripGone:
        summary = None  # the hub forgot it: nothing was said since the last restart

    def write(session: Session) -> None:
        trip = session.get(Trip, code)
        if trip is None or trip.ended_at is not None:
            return
        # The audit entry names the trip and counts; the pupils' answers stay in the row.
        before = snapshot(trip, exclude=frozenset({"summary"}))
        trip.summary = summary or {"code": code, "participants": [], "questions": []}
        trip.ended_at = utcnow()
        after = snapshot(trip, exclude=frozenset({"summary"}))
        after["participants"] = len(trip.summary["participants"])
        after["questions"] = len(trip.summary["questions"])
        log_change(session, actor, "trip.end", "trip", code, before, after)

    await museum.db.run(write, write=True)
    with contextlib.suppress(TripGone):
        await hub.update(code, trip_state.announce_end, forget=True)
