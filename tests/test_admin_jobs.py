"""Staff job pages: list, detail, the live event stream, retry and cancel (issue 8)."""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.audit import Actor
from server.db import Database
from server.job_control import cancel_job
from server.jobs import CANCEL_FLAG, JobContext, JobService
from server.migrate import upgrade
from server.models import AuditEntry, Job, JobEvent, utcnow
from server.queue import Queue
from server.settings import Settings
from tests.staff import migrated_app, sign_in, sign_out, signed_in

EDITOR = "editor"


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return migrated_app(settings)


@pytest.fixture
def staff(app: Starlette) -> Iterator[TestClient]:
    with signed_in(app, EDITOR, "editor") as client:
        yield client


def museum_of(client: TestClient | Starlette) -> Any:
    app = client.app if isinstance(client, TestClient) else client
    return app.state.museum  # type: ignore[attr-defined]


def submit(client: TestClient | Starlette, **params: Any) -> str:
    job_id: str = museum_of(client).jobs.submit("selftest", params or {"seconds": 0.1})
    return job_id


def set_job(db: Database, job_id: str, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    db.call(lambda s: s.execute(update(Job).where(Job.id == job_id).values(**values)), write=True)


def job(db: Database, job_id: str) -> Job:
    row = db.call(lambda s: s.get(Job, job_id))
    assert row is not None
    return row


def events(db: Database, job_id: str) -> list[tuple[str, str]]:
    return db.call(
        lambda s: [
            (e.event, e.message)
            for e in s.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
            )
        ]
    )


def audit(db: Database, action: str) -> list[AuditEntry]:
    return db.call(lambda s: list(s.scalars(select(AuditEntry).where(AuditEntry.action == action))))


def fail_job(db: Database, job_id: str) -> None:
    set_job(
        db, job_id, state="failed", attempts=3, max_attempts=3, message="boom", finished_at=utcnow()
    )


# Pages -----------------------------------------------------------------------------------------


def test_list_shows_state_progress_and_live_host(staff: TestClient) -> None:
    db = museum_of(staff).db
    running, failed = submit(staff), submit(staff)
    set_job(db, running, state="running", progress=37, attempts=1, message="step 7/20")
    fail_job(db, failed)
    response = staff.get("/admin/jobs?lang=en")
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    page = response.text
    assert f'<tr data-job-id="{running}">' in page and f'<tr data-job-id="{failed}">' in page
    assert '<progress max="100" value="37" data-field="progress"' in page
    assert 'class="job-badge job-badge-running" data-field="state">Running<' in page
    assert 'class="job-badge job-badge-failed" data-field="state">Failed<' in page
    assert ">1/3<" in page and "step 7/20" in page
    assert 'data-island="job-progress"' in page
    assert "/admin/jobs/events?since=" in page
    assert "Refresh" in page  # without script: the state at load, and a way to reload


def test_list_filters_and_pages(staff: TestClient) -> None:
    db = museum_of(staff).db
    ids = [submit(staff) for _ in range(53)]
    fail_job(db, ids[0])
    failed = staff.get("/admin/jobs?state=failed&lang=en").text
    assert failed.count("<tr data-job-id=") == 1 and ids[0] in failed
    first = staff.get("/admin/jobs?lang=en").text
    assert first.count("<tr data-job-id=") == 50
    assert 'rel="next" href="/admin/jobs?lang=en&amp;page=2"' in first
    second = staff.get("/admin/jobs?lang=en&page=2").text
    assert second.count("<tr data-job-id=") == 3
    assert staff.get("/admin/jobs?kind=process_av&lang=en").text.count("<tr data-job-id=") == 0
    assert staff.get("/admin/jobs?kind=selftest&lang=en").text.count("<tr data-job-id=") == 50


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("state=exploded", "state"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("kind=" + "k" * 200, "kind"),
    ],
)
def test_list_refuses_bad_filters(staff: TestClient, query: str, parameter: str) -> None:
    response = staff.get(f"/admin/jobs?{query}", headers={"accept": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["parameter"] == parameter


def test_detail_shows_params_result_and_history(staff: TestClient) -> None:
    db = museum_of(staff).db
    job_id = submit(staff, seconds=0.25, note="Đắk Lắk")
    set_job(
        db,
        job_id,
        state="succeeded",
        progress=100,
        attempts=1,
        result={"derivative": f"selftest/{job_id}/result.json", "attempt": 1, "report": {"a": 1}},
        finished_at=utcnow(),
    )
    page = html.unescape(staff.get(f"/admin/jobs/{job_id}?lang=en").text)
    assert '"note": "Đắk Lắk"' in page and '"seconds": 0.25' in page
    assert f"<dt>derivative</dt><dd>selftest/{job_id}/result.json</dd>" in page
    assert "<td>queued</td>" in page  # the history, in words
    assert 'data-job-id="' + job_id + '" data-follow="true"' in page
    assert "Try again" not in page and "Cancel the job" not in page  # ended well: no actions
    fail_job(db, job_id)
    assert "Try again" in staff.get(f"/admin/jobs/{job_id}?lang=en").text
    queued = submit(staff)
    assert "Cancel the job" in staff.get(f"/admin/jobs/{queued}?lang=en").text


def test_detail_of_unknown_or_malformed_job_is_404(staff: TestClient) -> None:
    assert staff.get("/admin/jobs/" + "0" * 32).status_code == 404
    assert staff.get("/admin/jobs/not-a-job").status_code == 404


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), ("contributor", 403), ("editor", 200), ("admin", 200)]
)
def test_roles_for_reading(app: Starlette, role: str | None, status: int) -> None:
    with TestClient(app) as client:
        job_id = submit(client)
        if role:
            sign_in(client, f"u-{role}", role)
        for path in ("/admin/jobs", f"/admin/jobs/{job_id}"):
            assert client.get(path).status_code == status, path
        if status != 200:  # the stream refuses before it starts
            assert client.get(f"/admin/jobs/events?job={job_id}").status_code == status


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("contributor", 403)])
def test_roles_for_actions(app: Starlette, role: str | None, status: int) -> None:
    with TestClient(app) as client:
        job_id = submit(client)
        fail_job(museum_of(client).db, job_id)
        if role:
            sign_in(client, f"u-{role}", role)
        for action in ("retry", "cancel"):
            response = client.post(f"/admin/jobs/{job_id}/{action}", follow_redirects=False)
            assert response.status_code == status
        assert job(museum_of(client).db, job_id).state == "failed"


def test_actions_need_the_csrf_token(staff: TestClient) -> None:
    db = museum_of(staff).db
    job_id = submit(staff)
    token = staff.headers.pop("x-csrf-token")
    assert staff.post(f"/admin/jobs/{job_id}/cancel").status_code == 403
    assert job(db, job_id).state == "queued"
    response = staff.post(
        f"/admin/jobs/{job_id}/cancel", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303


# Retry and cancel ------------------------------------------------------------------------------


def test_retry_requeues_a_failed_job(staff: TestClient) -> None:
    museum = museum_of(staff)
    db = museum.db
    job_id = submit(staff)
    museum.queue.flush()
    fail_job(db, job_id)
    response = staff.post(f"/admin/jobs/{job_id}/retry", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/jobs/{job_id}"
    row = job(db, job_id)
    assert (row.state, row.message, row.finished_at) == ("queued", "", None)
    assert (row.attempts, row.max_attempts) == (3, 3 + museum.settings.job_attempts)
    assert events(db, job_id)[-1] == ("retried", f"by {EDITOR}")
    assert museum.queue.pending() == 1
    [entry] = audit(db, "job.retry")
    assert (entry.actor, entry.object_id) == (EDITOR, job_id)
    assert entry.before["state"] == "failed" and entry.after["state"] == "queued"
    assert museum.jobs.claim(job_id, "test-worker") is not None  # runnable again
    again = staff.post(f"/admin/jobs/{job_id}/retry", headers={"accept": "application/json"})
    assert again.status_code == 409
    assert len(audit(db, "job.retry")) == 1


def test_cancel_a_queued_job(staff: TestClient) -> None:
    db = museum_of(staff).db
    job_id = submit(staff)
    assert staff.post(f"/admin/jobs/{job_id}/cancel", follow_redirects=False).status_code == 303
    row = job(db, job_id)
    assert (row.state, row.message) == ("failed", f"cancelled by {EDITOR}")
    assert events(db, job_id)[-1] == ("cancelled", f"cancelled by {EDITOR}")
    [entry] = audit(db, "job.cancel")
    assert entry.before["state"] == "queued" and entry.after["state"] == "failed"
    assert museum_of(staff).jobs.claim(job_id, "late-worker") is None  # its message is void
    ended = staff.post(f"/admin/jobs/{job_id}/cancel", headers={"accept": "application/json"})
    assert ended.status_code == 409
    assert len(audit(db, "job.cancel")) == 1


def test_cancel_a_running_job_stops_it_without_retry(staff: TestClient) -> None:
    museum = museum_of(staff)
    db = museum.db
    job_id = submit(staff, seconds=20)
    worker = threading.Thread(target=museum.jobs.execute, args=(job_id, "test-worker"))
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while job(db, job_id).progress < 5:
            assert time.monotonic() < deadline, "the job never reported progress"
            time.sleep(0.05)
        response = staff.post(f"/admin/jobs/{job_id}/cancel", follow_redirects=False)
        assert response.status_code == 303
        assert job(db, job_id).params[CANCEL_FLAG]["by"] == EDITOR
        worker.join(timeout=5)
        assert not worker.is_alive(), "the worker did not stop the cancelled job"
    finally:
        worker.join(timeout=30)
    row = job(db, job_id)
    assert (row.state, row.message, row.attempts) == ("failed", f"cancelled by {EDITOR}", 1)
    names = [name for name, _ in events(db, job_id)]
    assert names[-2:] == ["cancel_requested", "cancelled"]
    assert "retry" not in names
    [entry] = audit(db, "job.cancel")
    assert entry.after["cancel_requested"]["by"] == EDITOR
    twice = staff.post(f"/admin/jobs/{job_id}/cancel", headers={"accept": "application/json"})
    assert twice.status_code == 409


def test_heartbeat_notices_a_cancel_between_progress_reports(settings: Settings) -> None:
    fast = replace(settings, job_lease=0.6)
    db = Database(fast.resolved_database_url)
    upgrade(db)
    museum_queue = Queue(fast.resolved_queue_url)

    def quiet(context: JobContext) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while not context.cancel.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)  # long work without progress reports
        context.progress(50)
        return {"finished": True}

    service = JobService(db, museum_queue, fast, {"quiet": quiet})
    job_id = service.submit("quiet")
    worker = threading.Thread(target=service.execute, args=(job_id, "w"))
    worker.start()
    while job(db, job_id).state != "running":
        time.sleep(0.02)
    started = time.monotonic()
    db.call(lambda s: cancel_job(s, job_id, Actor(None, "cli:test")), write=True)
    worker.join(timeout=10)
    assert time.monotonic() - started < 3
    row = job(db, job_id)
    assert (row.state, row.message) == ("failed", "cancelled by cli:test")
    db.dispose()


def test_reaper_ends_a_cancelled_job_whose_worker_died(staff: TestClient) -> None:
    museum = museum_of(staff)
    db = museum.db
    job_id = submit(staff)
    museum.queue.flush()
    claim = museum.jobs.claim(job_id, "doomed-worker")
    assert claim is not None
    db.call(lambda s: cancel_job(s, job_id, Actor(None, "cli:test")), write=True)
    set_job(db, job_id, lease_until=utcnow() - timedelta(seconds=1))
    museum.jobs.reap()
    row = job(db, job_id)
    assert (row.state, row.message) == ("failed", "cancelled by cli:test")
    assert museum.queue.pending() == 0


def test_sign_out_keeps_list_private(staff: TestClient) -> None:
    sign_out(staff)
    assert staff.get("/admin/jobs").status_code == 401
