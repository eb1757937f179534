"""Background jobs: persisted records, leases, retries and recovery from dead workers.

A job row moves ``queued → running → succeeded | failed``. A worker *claims*
a job by taking a lease (a random token and an expiry) in one guarded UPDATE,
renews it with a heartbeat while it works, and records the ending only while
it still holds the lease. A worker killed mid-job stops renewing; once the
lease expires, :meth:`JobService.reap` puts the job back in the queue, and the
next attempt runs it. Every ending is conditional on the lease token, so an
ending is recorded exactly once even if two workers ever overlap, and job
outputs are published by atomic rename (:meth:`server.storage.Store.publish`),
so a repeated run cannot leave a half-written or doubled result.

Staff may cancel a running job (:mod:`server.job_control`): the worker sees the request at
its next progress report or heartbeat, and :meth:`JobContext.progress` raises
:class:`JobCancelled`, which ends the job ``failed`` without a retry.
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from server.db import Database
from server.errors import N_, NotFound, ValidationError
from server.logs import log_context
from server.models import Job, JobEvent, utcnow
from server.queue import Queue
from server.settings import Settings
from server.storage import Store

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
PROGRESS_INTERVAL = 0.5  # seconds between progress writes; the admin polls, not streams
# Job.params key set when staff cancel a running job (server.job_control.cancel_job).
CANCEL_FLAG = "cancel_requested"


def cancelled_message(params: dict[str, Any] | None) -> str | None:
    """The ending of a job staff asked to cancel ("cancelled by <user>"), else None."""
    request = (params or {}).get(CANCEL_FLAG)
    if not request:
        return None
    who = request.get("by", "?") if isinstance(request, dict) else "?"
    return f"cancelled by {who}"


@dataclass
class JobContext:
    """What a job handler gets: its parameters, the store, and a progress reporter."""

    job_id: str
    kind: str
    params: dict[str, Any]
    attempt: int
    store: Store
    settings: Settings
    report: Callable[[int, str], None] = field(repr=False)
    db: Database | None = field(default=None, repr=False)
    # Set once the worker sees that staff cancelled the job; progress() then stops it.
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress; raises :class:`JobCancelled` once staff cancelled the job."""
        if not self.cancel.is_set():
            self.report(max(0, min(99, int(percent))), message)
        if self.cancel.is_set():
            raise JobCancelled(self.job_id)


JobHandler = Callable[[JobContext], dict[str, Any] | None]


class JobRefused(Exception):
    """The job's input is refused: trying again would give the same answer.

    The job ends ``failed`` at once with this message instead of using up its
    attempts (a crash or a timeout, by contrast, is retried).
    """


class JobCancelled(Exception):
    """Staff cancelled the running job: it ends ``failed`` at once, without a retry."""


@dataclass(frozen=True)
class Claim:
    job_id: str
    token: str
    attempt: int
    kind: str
    params: dict[str, Any]


def job_as_dict(job: Job) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() + "Z" if value else None

    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "asset_id": job.asset_id,
        "result": job.result,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }


def read_job(session: Session, job_id: str) -> dict[str, Any]:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(N_("No job with id {job_id}."), parameter="job_id", job_id=job_id)
    return job_as_dict(job)


def _event(session: Session, job_id: str, event: str, attempt: int, message: str = "") -> None:
    session.add(
        JobEvent(job_id=job_id, event=event, attempt=attempt, message=message[:MESSAGE_LIMIT])
    )


class JobService:
    def __init__(
        self,
        db: Database,
        queue: Queue,
        settings: Settings,
        handlers: dict[str, JobHandler],
        store: Store | None = None,
    ) -> None:
        self.db = db
        self.queue = queue
        self.settings = settings
        self.handlers = handlers
        self.store = store or Store(settings.data_dir)
        self.lease = timedelta(seconds=settings.job_lease)

    # Producer side

    def submit(
        self,
        kind: str,
        params: dict[str, Any] | None = None,
        asset_id: str | None = None,
        session: Session | None = None,
    ) -> str:
        """Record a job, then queue it. A crash in between is healed by :meth:`reap`.

        With ``session``, the job is recorded in that transaction (beside the change and
        audit entry that asked for it) and queued once it commits; never if it rolls back.
        """
        if kind not in self.handlers:
            raise ValidationError(N_("Unknown job kind {kind!r}."), parameter="kind", kind=kind)
        job_id = uuid.uuid4().hex

        def insert(session: Session) -> None:
            session.add(
                Job(
                    id=job_id,
                    kind=kind,
                    params=params or {},
                    asset_id=asset_id,
                    max_attempts=self.settings.job_attempts,
                )
            )
            session.flush()
            _event(session, job_id, "queued", 0)

        if session is not None:
            insert(session)
            event.listen(session, "after_commit", lambda _s: self.queue.enqueue(job_id), once=True)
            return job_id
        self.db.call(insert, write=True)
        self.queue.enqueue(job_id)
        return job_id

    def get(self, job_id: str) -> dict[str, Any]:
        return self.db.call(lambda session: read_job(session, job_id))

    def events(self, job_id: str) -> list[tuple[str, int, str]]:
        def read(session: Session) -> list[tuple[str, int, str]]:
            rows = session.execute(
                select(JobEvent.event, JobEvent.attempt, JobEvent.message)
                .where(JobEvent.job_id == job_id)
                .order_by(JobEvent.id)
            )
            return [(row[0], row[1], row[2]) for row in rows]

        return self.db.call(read)

    # Worker side

    def claim(self, job_id: str, worker: str) -> Claim | None:
        """Take the job's lease, or ``None`` if it is not (or no longer) runnable."""
        token = uuid.uuid4().hex

        def take(session: Session) -> Claim | None:
            now = utcnow()
            result = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "queued", Job.attempts < Job.max_attempts)
                .values(
                    state="running",
                    attempts=Job.attempts + 1,
                    lease_token=token,
                    lease_until=now + self.lease,
                    worker=worker[:255],
                    started_at=now,
                    updated_at=now,
                    message="",
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            job = session.get(Job, job_id)
            assert job is not None
            _event(session, job_id, "started", job.attempts, worker)
            return Claim(job_id, token, job.attempts, job.kind, dict(job.params))

        return self.db.call(take, write=True)

    def _guarded_update(self, claim: Claim, **values: Any) -> bool:
        def apply(session: Session) -> bool:
            result = session.execute(
                update(Job)
                .where(
                    Job.id == claim.job_id, Job.lease_token == claim.token, Job.state == "running"
                )
                .values(updated_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

        return self.db.call(apply, write=True)

    def heartbeat(self, claim: Claim) -> bool:
        return self._guarded_update(claim, lease_until=utcnow() + self.lease)

    def cancel_requested(self, job_id: str) -> bool:
        """Whether staff asked to cancel the job (one small read)."""

        def read(session: Session) -> bool:
            params = session.scalar(select(Job.params).where(Job.id == job_id))
            return cancelled_message(params) is not None

        return self.db.call(read)

    def set_progress(self, claim: Claim, percent: int, message: str) -> None:
        self._guarded_update(
            claim,
            progress=percent,
            message=message[:MESSAGE_LIMIT],
            lease_until=utcnow() + self.lease,
        )

    def succeed(self, claim: Claim, result: dict[str, Any] | None) -> bool:
        def finish(session: Session) -> bool:
            now = utcnow()
            updated = session.execute(
                update(Job)
                .where(
                    Job.id == claim.job_id, Job.lease_token == claim.token, Job.state == "running"
                )
                .values(
                    state="succeeded",
                    progress=100,
                    message="",
                    result=result,
                    lease_token=None,
                    lease_until=None,
                    finished_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if updated.rowcount != 1:  # type: ignore[attr-defined]
                return False
            _event(session, claim.job_id, "succeeded", claim.attempt)
            return True

        return self.db.call(finish, write=True)

    def fail(self, claim: Claim, error: str, final: bool = False) -> str | None:
        """Record a failed attempt; retry later or end ``failed``. Returns the new state.

        ``final`` ends the job now, whatever attempts it has left; so does a cancel request
        from staff (the job then ends "cancelled by <user>").
        """

        def record(session: Session) -> str | None:
            job = session.get(Job, claim.job_id)
            if job is None or job.lease_token != claim.token or job.state != "running":
                return None
            cancelled = cancelled_message(job.params)
            final_now = final or cancelled is not None or job.attempts >= job.max_attempts
            error_text = cancelled or error
            job.state = "failed" if final_now else "queued"
            job.message = error_text[:MESSAGE_LIMIT]
            job.lease_token = None
            job.lease_until = None
            job.updated_at = utcnow()
            if final_now:
                job.finished_at = job.updated_at
            else:
                job.enqueued_at = job.updated_at
            ending = "cancelled" if cancelled else "failed" if final_now else "retry"
            _event(session, job.id, ending, job.attempts, error_text)
            return job.state

        state = self.db.call(record, write=True)
        if state == "queued":
            delay = self.settings.job_retry_delay * 2 ** (claim.attempt - 1)
            self.queue.enqueue(claim.job_id, delay=delay)
        return state

    def execute(self, job_id: str, worker: str) -> None:
        """Run one job to its next state; the body of the queue's task."""
        claim = self.claim(job_id, worker)
        if claim is None:
            return
        with log_context(job_id=claim.job_id, job_kind=claim.kind):  # on every line it logs
            self._run(claim)

    def _run(self, claim: Claim) -> None:
        job_id = claim.job_id
        handler = self.handlers.get(claim.kind)
        if handler is None:
            self.fail(claim, f"no handler for job kind {claim.kind!r}")
            return
        last_write = [0.0]

        def report(percent: int, message: str) -> None:
            now = utcnow().timestamp()
            if now - last_write[0] >= PROGRESS_INTERVAL:
                last_write[0] = now
                self.set_progress(claim, percent, message)
                if self.cancel_requested(claim.job_id):
                    context.cancel.set()

        context = JobContext(
            claim.job_id,
            claim.kind,
            claim.params,
            claim.attempt,
            self.store,
            self.settings,
            report,
            self.db,
        )
        with _Heartbeat(self, claim, context.cancel):
            try:
                result = handler(context)
            except JobCancelled:
                log.warning("job %s cancelled by staff", job_id)
                self.fail(claim, "cancelled", final=True)
                return
            except JobRefused as exc:
                log.warning("job %s refused its input: %s", job_id, exc)
                self.fail(claim, str(exc), final=True)
                return
            except Exception as exc:  # noqa: BLE001 — a job's failure must never stop the worker
                log.warning("job %s attempt %d failed: %s", job_id, claim.attempt, exc)
                detail = "".join(traceback.format_exception_only(exc)).strip()
                self.fail(claim, detail)
                return
        if not self.succeed(claim, result):
            log.warning(
                "job %s finished after losing its lease; result kept by the other run", job_id
            )

    def reap(self) -> int:
        """Requeue jobs whose worker died (lease expired) and queued jobs whose message was lost.

        Returns how many jobs were put back in the queue or ended.
        """
        now = utcnow()
        stale_queued = now - max(self.lease * 5, timedelta(minutes=10))

        def sweep(session: Session) -> list[str]:
            requeue: list[str] = []
            expired = session.scalars(
                select(Job).where(Job.state == "running", Job.lease_until < now).with_for_update()
            ).all()
            for job in expired:
                note = f"worker {job.worker or '?'} stopped (lease expired)"
                cancelled = cancelled_message(job.params)
                job.lease_token = None
                job.lease_until = None
                job.updated_at = now
                if cancelled is not None or job.attempts >= job.max_attempts:
                    job.state = "failed"
                    job.finished_at = now
                    job.message = cancelled or note
                    _event(
                        session,
                        job.id,
                        "cancelled" if cancelled else "failed",
                        job.attempts,
                        job.message,
                    )
                else:
                    job.state = "queued"
                    job.enqueued_at = now
                    job.message = note
                    _event(session, job.id, "requeued", job.attempts, note)
                    requeue.append(job.id)
            lost = session.scalars(
                select(Job)
                .where(Job.state == "queued", Job.enqueued_at < stale_queued)
                .with_for_update()
            ).all()
            for job in lost:
                job.enqueued_at = now
                requeue.append(job.id)
            return requeue

        requeue = self.db.call(sweep, write=True)
        for job_id in requeue:
            self.queue.enqueue(job_id)
        return len(requeue)


class _Heartbeat:
    """Renews a claim's lease in the background while its handler runs."""

    def __init__(
        self, service: JobService, claim: Claim, cancel: threading.Event | None = None
    ) -> None:
        self.service = service
        self.claim = claim
        self.cancel = cancel
        self.stop = threading.Event()
        self.interval = max(0.2, service.settings.job_lease / 3)
        self.thread = threading.Thread(
            target=self._run, name=f"heartbeat-{claim.job_id[:8]}", daemon=True
        )

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                if not self.service.heartbeat(self.claim):
                    return
                if self.cancel is not None and self.service.cancel_requested(self.claim.job_id):
                    self.cancel.set()
            except Exception:  # the database may be briefly busy; the next beat retries
                log.exception("heartbeat for job %s failed", self.claim.job_id)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join()
