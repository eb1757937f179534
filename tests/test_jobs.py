"""Jobs on both queue backends (SQLite and Redis), in-process with the real queue storage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.errors import ValidationError
from server.jobs import Claim
from server.models import Job
from tests.jobhelpers import drain, job_service
from tests.staff import sign_in


@pytest.fixture
def service(tmp_path: Path, queue_url: str):  # type: ignore[no-untyped-def]
    svc = job_service(tmp_path, f"sqlite:///{tmp_path / 'museum.sqlite3'}", queue_url)
    yield svc
    svc.queue.flush()
    svc.db.dispose()


def test_job_runs_to_success_with_progress_and_result(service) -> None:  # type: ignore[no-untyped-def]
    job_id = service.submit("selftest", {"seconds": 0.2})
    queued = service.get(job_id)
    assert (queued["state"], queued["progress"], queued["attempts"]) == ("queued", 0, 0)
    assert drain(service) == 1
    job = service.get(job_id)
    assert (job["state"], job["progress"], job["attempts"]) == ("succeeded", 100, 1)
    assert job["started_at"] and job["finished_at"] and job["finished_at"] >= job["started_at"]
    result = service.store.derivatives / "selftest" / job_id / "result.json"
    assert json.loads(result.read_text())["job"] == job_id
    assert [e[0] for e in service.events(job_id)] == ["queued", "started", "succeeded"]


def test_always_failing_job_ends_failed_after_its_attempts(service) -> None:  # type: ignore[no-untyped-def]
    job_id = service.submit("selftest", {"seconds": 0, "fail": True})
    other = service.submit("selftest", {"seconds": 0})
    drain(service)
    job = service.get(job_id)
    assert job["state"] == "failed"
    assert job["attempts"] == service.settings.job_attempts == 3
    assert "selftest asked to fail" in job["message"]
    assert [e[0] for e in service.events(job_id)] == [
        "queued",
        "started",
        "retry",
        "started",
        "retry",
        "started",
        "failed",
    ]
    assert service.get(other)["state"] == "succeeded"


def test_duplicate_messages_run_a_job_once(service) -> None:  # type: ignore[no-untyped-def]
    job_id = service.submit("selftest", {"seconds": 0})
    service.queue.enqueue(job_id)
    service.queue.enqueue(job_id)
    assert drain(service) == 3
    assert [e[0] for e in service.events(job_id)].count("started") == 1
    assert service.get(job_id)["attempts"] == 1


def test_expired_lease_is_requeued_and_stale_claim_cannot_finish(service) -> None:  # type: ignore[no-untyped-def]
    job_id = service.submit("selftest", {"seconds": 0})
    service.queue.flush()  # the message is consumed by a worker that then dies
    claim = service.claim(job_id, "doomed-worker")
    assert isinstance(claim, Claim)

    def expire(session):  # type: ignore[no-untyped-def]
        from datetime import timedelta

        job = session.get(Job, job_id)
        job.lease_until = job.lease_until - timedelta(hours=1)

    service.db.call(expire, write=True)
    assert service.reap() == 1
    assert service.get(job_id)["state"] == "queued"
    assert drain(service, worker="rescuer") == 1
    assert service.get(job_id)["state"] == "succeeded"
    # The dead worker's late ending is refused: the job already finished once.
    assert service.succeed(claim, {"late": True}) is False
    assert service.get(job_id)["result"] != {"late": True}
    events = [e[0] for e in service.events(job_id)]
    assert events == ["queued", "started", "requeued", "started", "succeeded"]


def test_a_job_submitted_in_a_transaction_is_queued_only_if_it_commits(service) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError), service.db.session(write=True) as session:
        service.submit("selftest", {"seconds": 0}, session=session)
        raise RuntimeError("the change that asked for the job failed")
    assert drain(service) == 0
    assert service.db.call(lambda s: s.query(Job).count()) == 0
    with service.db.session(write=True) as session:
        job_id = service.submit("selftest", {"seconds": 0}, session=session)
    assert drain(service) == 1
    assert service.get(job_id)["state"] == "succeeded"


def test_unknown_job_kind_is_refused(service) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        service.submit("make-coffee")


def test_job_api_reports_state(tmp_path: Path) -> None:
    from server.app import create_app
    from server.settings import Settings

    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    from server.migrate import upgrade

    upgrade(app.state.museum.db)
    job_id = app.state.museum.jobs.submit("selftest", {"seconds": 0})
    with TestClient(app) as client:
        assert client.get(f"/api/v1/jobs/{job_id}").status_code == 401  # jobs are for staff
        sign_in(client, "editor", "editor")
        body = client.get(f"/api/v1/jobs/{job_id}").json()
        assert body["id"] == job_id
        assert body["state"] == "queued"
        assert set(body) >= {"kind", "progress", "message", "attempts", "created_at", "updated_at"}
        missing = client.get("/api/v1/jobs/" + "0" * 32)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        assert client.get("/api/v1/jobs/not-an-id").status_code == 404
