"""``/admin/jobs/events``: job state and progress as Server-Sent Events.

The job row is the truth and every process may change it (workers on other machines), so
the stream polls the database about once a second, off the event loop, and sends an event
only for a job whose visible state (state, progress, message, attempts, cancel request)
changed. Each event's ``id:`` is the job's ``updated_at``; a browser that reconnects sends
it back as ``Last-Event-ID`` and resumes from there. A comment line every 15 seconds keeps
proxies from closing a quiet stream; the stream ends when the client goes away, or after
:data:`STREAM_LIFETIME` (the browser reconnects by itself), so no request lives forever.

Starlette's GZipMiddleware leaves ``text/event-stream`` alone (``DEFAULT_EXCLUDED_CONTENT_TYPES``),
and ``X-Accel-Buffering: no`` keeps nginx from holding events back.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from server.jobs import cancelled_message
from server.models import Job, utcnow
from server.state import Museum

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAM_LIFETIME = 600.0
RECONNECT_MS = 3000
# Writers stamp updated_at before they commit: look this far back so a slow commit is
# still seen (the fingerprints below keep it from being sent twice).
OVERLAP = timedelta(seconds=5)
MAX_ROWS = 1000
STREAM_HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


@dataclass(frozen=True)
class JobChange:
    """What the admin pages show of a job, as one event."""

    id: str
    state: str
    progress: int
    message: str
    attempts: int
    max_attempts: int
    cancel_requested: bool
    updated_at: datetime

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        return (
            self.state,
            self.progress,
            self.message,
            self.attempts,
            self.max_attempts,
            self.cancel_requested,
        )


def event_id(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def parse_event_id(raw: str | None) -> datetime | None:
    """A cursor sent back by a browser (``Last-Event-ID``) or a page (``?since=``); bad: None."""
    if not raw or len(raw) > 40:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo is None else None


def changed_jobs(session: Session, since: datetime, job_id: str | None) -> list[JobChange]:
    """Jobs stamped at or after ``since`` minus the overlap, oldest change first."""
    query = (
        select(
            Job.id,
            Job.state,
            Job.progress,
            Job.message,
            Job.attempts,
            Job.max_attempts,
            Job.params,
            Job.updated_at,
        )
        .where(Job.updated_at >= since - OVERLAP)
        .order_by(Job.updated_at, Job.id)
        .limit(MAX_ROWS)
    )
    if job_id is not None:
        query = query.where(Job.id == job_id)
    return [
        JobChange(
            id=row.id,
            state=row.state,
            progress=row.progress,
            message=row.message,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            cancel_requested=cancelled_message(row.params) is not None,
            updated_at=row.updated_at,
        )
        for row in session.execute(query)
    ]


def format_event(change: JobChange, labels: dict[str, str]) -> str:
    data = {
        "id": change.id,
        "state": change.state,
        "state_label": labels.get(change.state, change.state),
        "progress": change.progress,
        "message": change.message,
        "attempts": change.attempts,
        "max_attempts": change.max_attempts,
        "cancel_requested": change.cancel_requested,
        "updated_at": event_id(change.updated_at),
    }
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event_id(change.updated_at)}\nevent: job\ndata: {payload}\n\n"


class ChangeFilter:
    """Remembers what was sent, so only real changes go out; forgets what is out of reach."""

    def __init__(self, since: datetime) -> None:
        self.cursor = since
        self.sent: dict[str, tuple[tuple[Any, ...], datetime]] = {}

    def fresh(self, changes: list[JobChange]) -> list[JobChange]:
        out = []
        for change in changes:
            seen = self.sent.get(change.id)
            if seen is None or seen[0] != change.fingerprint:
                out.append(change)
            self.sent[change.id] = (change.fingerprint, change.updated_at)
            self.cursor = max(self.cursor, change.updated_at)
        horizon = self.cursor - OVERLAP
        for key in [k for k, (_, at) in self.sent.items() if at < horizon]:
            del self.sent[key]
        return out


async def job_events(
    request: Request,
    museum: Museum,
    since: datetime,
    job_id: str | None,
    labels: dict[str, str],
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[str]:
    """The event stream's body (see the module docstring)."""
    changes = ChangeFilter(since)
    yield f"retry: {RECONNECT_MS}\n\n"
    started = last_sent = clock()
    while clock() - started < STREAM_LIFETIME:
        if await request.is_disconnected():
            return
        poll = functools.partial(changed_jobs, since=changes.cursor, job_id=job_id)
        batch = [format_event(c, labels) for c in changes.fresh(await museum.db.run(poll))]
        if batch:
            yield "".join(batch)
            last_sent = clock()
        elif clock() - last_sent >= HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = clock()
        await anyio.sleep(POLL_SECONDS)


def start_cursor(request: Request, job_id: str | None) -> datetime:
    """Where a new stream begins: the browser's last event, the page's time, else now.

    Following one job with nothing else to go by starts from its beginning, so its current
    state is the first event.
    """
    for raw in (request.headers.get("last-event-id"), request.query_params.get("since")):
        cursor = parse_event_id(raw)
        if cursor is not None:
            return cursor
    return datetime.min + OVERLAP if job_id is not None else utcnow()
