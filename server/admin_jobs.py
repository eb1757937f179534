"""Staff pages for background jobs: the list, one job's history, live updates, retry, cancel.

The pages show each job's state at load and work without script; the ``job-progress``
island (``viewer/src/job-progress.js``) then follows ``/admin/jobs/events``
(:mod:`server.job_stream`) and moves the progress bars and state badges as workers report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from server.admin import PRIVATE_HEADERS
from server.admin_lists import (
    PAGE_SIZE,
    choice_filter,
    local_time,
    local_time_seconds,
    page_number,
    pager,
    text_filter,
)
from server.audit import Actor
from server.errors import N_, BadRequest, NotFound
from server.job_control import Outcome, cancel_job, retry_job
from server.job_stream import STREAM_HEADERS, event_id, job_events, start_cursor
from server.jobs import cancelled_message
from server.models import JOB_STATES, Asset, Job, JobEvent, utcnow
from server.state import Museum, get_museum

JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_SHOWN_JSON = 20_000

STATE_LABELS = {
    "queued": N_("Queued"),
    "running": N_("Running"),
    "succeeded": N_("Succeeded"),
    "failed": N_("Failed"),
}
KIND_LABELS = {
    "selftest": N_("Self-test"),
    "process_model": N_("3D model processing"),
    "process_image": N_("Image processing"),
    "process_av": N_("Video and audio processing"),
    "make_guide": N_("Spoken audio guide"),
}
EVENT_LABELS = {
    "queued": N_("queued"),
    "started": N_("started"),
    "retry": N_("attempt failed, will retry"),
    "requeued": N_("worker stopped, queued again"),
    "failed": N_("failed"),
    "succeeded": N_("succeeded"),
    "retried": N_("queued again by staff"),
    "cancel_requested": N_("cancelling asked for"),
    "cancelled": N_("cancelled"),
}


@dataclass(frozen=True)
class JobRow:
    id: str
    kind: str
    state: str
    progress: int
    message: str
    attempts: int
    max_attempts: int
    asset_id: str | None
    record_id: str | None
    created: str
    started: str
    finished: str
    updated: str
    cancel_requested: bool


@dataclass(frozen=True)
class EventRow:
    at: str
    event: str
    attempt: int
    message: str


@dataclass(frozen=True)
class JobDetail:
    job: JobRow
    params: str
    result: str
    result_summary: list[tuple[str, str]]
    events: list[EventRow]


def _row(job: Job, record_id: str | None) -> JobRow:
    return JobRow(
        id=job.id,
        kind=job.kind,
        state=job.state,
        progress=job.progress,
        message=job.message,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        asset_id=job.asset_id,
        record_id=record_id,
        created=local_time(job.created_at),
        started=local_time(job.started_at),
        finished=local_time(job.finished_at),
        updated=local_time_seconds(job.updated_at),
        cancel_requested=cancelled_message(job.params) is not None,
    )


def list_jobs(
    session: Session, state: str, kind: str, offset: int, limit: int
) -> tuple[list[JobRow], int, list[str]]:
    """One page of jobs, newest first, with the total and every kind there is."""
    conditions = [Job.state == state] if state else []
    if kind:
        conditions.append(Job.kind == kind)
    total = int(session.scalar(select(func.count()).select_from(Job).where(*conditions)) or 0)
    rows = session.execute(
        select(Job, Asset.record_id)
        .outerjoin(Asset, Asset.id == Job.asset_id)
        .where(*conditions)
        .order_by(Job.created_at.desc(), Job.id)
        .offset(offset)
        .limit(limit)
    )
    kinds = sorted(set(session.scalars(select(Job.kind).distinct())) | set(KIND_LABELS))
    return [_row(job, record_id) for job, record_id in rows], total, kinds


def _pretty(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    return text if len(text) <= MAX_SHOWN_JSON else text[:MAX_SHOWN_JSON] + "\n…"


def _summary(result: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The result's plain top-level values (the full document is shown folded)."""
    if not result:
        return []
    return [
        (str(key), str(value))
        for key, value in sorted(result.items())
        if isinstance(value, str | int | float | bool)
    ]


def job_detail(session: Session, job_id: str) -> JobDetail:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(N_("No job with id {job_id}."), parameter="job_id", job_id=job_id)
    record_id = session.scalar(select(Asset.record_id).where(Asset.id == job.asset_id))
    events = session.scalars(
        select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
    )
    return JobDetail(
        job=_row(job, record_id),
        params=_pretty(job.params or {}),
        result="" if job.result is None else _pretty(job.result),
        result_summary=_summary(job.result),
        events=[EventRow(local_time_seconds(e.at), e.event, e.attempt, e.message) for e in events],
    )


def _job_id(request: Request) -> str:
    job_id: str = request.path_params["job_id"]
    if not JOB_ID_RE.match(job_id):
        raise NotFound(N_("No job with id {job_id}."), parameter="job_id", job_id=job_id)
    return job_id


def _labels(museum: Museum, lang: str) -> dict[str, str]:
    gettext = museum.translations(lang).gettext
    return {state: gettext(label) for state, label in STATE_LABELS.items()}


def _live_context(request: Request, museum: Museum, job_id: str | None) -> dict[str, Any]:
    """What the job-progress island needs: where to listen and the words to show."""
    now = utcnow()
    params = f"since={event_id(now)}" + (f"&job={job_id}" if job_id else "")
    return {
        "events_url": f"{request.url_for('admin_job_events').path}?{params}",
        "loaded_at": local_time_seconds(now),
        "state_labels_json": json.dumps(_labels(museum, request.state.lang), ensure_ascii=False),
        "state_labels": STATE_LABELS,
        "kind_labels": KIND_LABELS,
    }


async def jobs_page(request: Request) -> Response:
    """``/admin/jobs``: every job, newest first, by state and kind, 50 to a page."""
    museum = get_museum(request)
    state = choice_filter(request, "state", JOB_STATES)
    kind = text_filter(request, "kind")
    number = page_number(request)
    live = _live_context(request, museum, None)
    rows, total, kinds = await museum.db.run(
        lambda s: list_jobs(s, state, kind, (number - 1) * PAGE_SIZE, PAGE_SIZE)
    )
    context = {
        "jobs": rows,
        "state": state,
        "kind": kind,
        "kinds": kinds,
        "states": JOB_STATES,
        "pager": pager(request, number, total),
        **live,
    }
    return museum.templates.TemplateResponse(
        request, "admin_jobs.html", context, headers=PRIVATE_HEADERS
    )


async def job_page(request: Request) -> Response:
    """``/admin/jobs/{id}``: parameters, result, message and the job's whole history."""
    museum = get_museum(request)
    job_id = _job_id(request)
    live = _live_context(request, museum, job_id)
    detail = await museum.db.run(lambda s: job_detail(s, job_id))
    context = {"detail": detail, "job": detail.job, "event_labels": EVENT_LABELS, **live}
    return museum.templates.TemplateResponse(
        request, "admin_job.html", context, headers=PRIVATE_HEADERS
    )


async def job_events_stream(request: Request) -> Response:
    """``/admin/jobs/events`` (``?job=`` to follow one): Server-Sent Events of job changes."""
    museum = get_museum(request)
    job_id = request.query_params.get("job") or None
    if job_id is not None:
        if not JOB_ID_RE.match(job_id):
            raise BadRequest(N_("The job id must be 32 hexadecimal characters."), parameter="job")
        exists = await museum.db.run(lambda s: s.get(Job, job_id) is not None)
        if not exists:
            raise NotFound(N_("No job with id {job_id}."), parameter="job", job_id=job_id)
    since = start_cursor(request, job_id)
    labels = _labels(museum, request.state.lang)
    return StreamingResponse(
        job_events(request, museum, since, job_id, labels),
        media_type="text/event-stream; charset=utf-8",
        headers={**PRIVATE_HEADERS, **STREAM_HEADERS},
    )


async def _act(request: Request, action: str) -> Response:
    museum = get_museum(request)
    job_id = _job_id(request)
    actor = Actor.from_request(request)
    attempts = museum.settings.job_attempts

    def apply(session: Session) -> Outcome:
        if action == "retry":
            return retry_job(session, job_id, actor, attempts)
        return cancel_job(session, job_id, actor)

    outcome = await museum.db.run(apply, write=True)
    if outcome.enqueue:
        await anyio.to_thread.run_sync(museum.queue.enqueue, job_id)
    target = request.url_for("admin_job", job_id=job_id).path
    return RedirectResponse(target, status_code=303, headers=PRIVATE_HEADERS)


async def retry(request: Request) -> Response:
    """``POST /admin/jobs/{id}/retry``: queue a failed job again."""
    return await _act(request, "retry")


async def cancel(request: Request) -> Response:
    """``POST /admin/jobs/{id}/cancel``: end a queued job, or ask a running one to stop."""
    return await _act(request, "cancel")
