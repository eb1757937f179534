"""Staff actions on background jobs: try a failed job again, cancel a queued or running one.

Each function changes the job row, appends to its history (``job_events``) and writes one
audit entry, all in the caller's transaction. Queueing the message for a retried job is the
caller's step after the commit (:meth:`server.queue.Queue.enqueue`); if that message is lost,
:meth:`server.jobs.JobService.reap` sends it again.

The jobs table knows four states only, so a cancelled job ends ``failed`` with the message
"cancelled by <user>" and a ``cancelled`` event. A running job cannot be stopped from here:
its row gets ``params["cancel_requested"]``, which the worker notices at its next progress
report or heartbeat (:class:`server.jobs.JobCancelled`); it then ends the same way, without
a retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from server.audit import Actor, log_change
from server.errors import N_, Conflict, NotFound
from server.jobs import CANCEL_FLAG, MESSAGE_LIMIT, cancelled_message
from server.models import Job, JobEvent, utcnow


@dataclass(frozen=True)
class Outcome:
    """What a staff action did: the job's new state, and whether it must be queued now."""

    job_id: str
    state: str
    enqueue: bool = False
    cancel_requested: bool = False


def _job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id, with_for_update=True)
    if job is None:
        raise NotFound(N_("No job with id {job_id}."), parameter="job_id", job_id=job_id)
    return job


def _summary(job: Job) -> dict[str, Any]:
    """The fields of a job these actions change, for the audit log."""
    return {
        "state": job.state,
        "message": job.message,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "cancel_requested": job.params.get(CANCEL_FLAG) if job.params else None,
    }


def _event(session: Session, job: Job, event: str, message: str) -> None:
    session.add(
        JobEvent(job_id=job.id, event=event, attempt=job.attempts, message=message[:MESSAGE_LIMIT])
    )


def retry_job(session: Session, job_id: str, actor: Actor, attempts: int) -> Outcome:
    """Queue a failed job again with ``attempts`` more tries (its count so far is kept)."""
    job = _job(session, job_id)
    if job.state != "failed":
        raise Conflict(N_("Only a failed job can be tried again."), parameter="job_id")
    before = _summary(job)
    now = utcnow()
    job.state = "queued"
    job.max_attempts = job.attempts + max(1, attempts)
    job.progress = 0
    job.message = ""
    job.result = None
    job.finished_at = None
    job.lease_token = None
    job.lease_until = None
    job.enqueued_at = now
    job.updated_at = now
    job.params = {key: value for key, value in (job.params or {}).items() if key != CANCEL_FLAG}
    _event(session, job, "retried", f"by {actor.name}")
    log_change(session, actor, "job.retry", "job", job.id, before, _summary(job))
    return Outcome(job.id, job.state, enqueue=True)


def cancel_job(session: Session, job_id: str, actor: Actor) -> Outcome:
    """End a queued job now; ask a running one to stop. Ended jobs are refused (409)."""
    job = _job(session, job_id)
    before = _summary(job)
    now = utcnow()
    if job.state == "queued":
        message = f"cancelled by {actor.name}"
        job.state = "failed"
        job.message = message[:MESSAGE_LIMIT]
        job.finished_at = now
        job.updated_at = now
        _event(session, job, "cancelled", message)
    elif job.state == "running":
        if cancelled_message(job.params) is not None:
            raise Conflict(N_("Cancelling this job was already asked for; the worker stops it."))
        job.params = {**(job.params or {}), CANCEL_FLAG: {"by": actor.name, "at": now.isoformat()}}
        job.updated_at = now
        _event(session, job, "cancel_requested", f"by {actor.name}")
    else:
        raise Conflict(
            N_("This job has already ended; there is nothing to cancel."), parameter="job_id"
        )
    log_change(session, actor, "job.cancel", "job", job.id, before, _summary(job))
    return Outcome(job.id, job.state, cancel_requested=job.state == "running")
