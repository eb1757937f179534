"""The live job stream behind the staff job pages: /admin/jobs/events (issue 8)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server import job_stream
from server.app import create_app
from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.migrate import upgrade
from server.models import User, utcnow
from server.settings import Settings
from tests.live import serving
from tests.staff import add_user, sign_in
from tests.test_admin_jobs import EDITOR, app, audit, job, museum_of, set_job, staff, submit

__all__ = ["app", "staff"]  # fixtures shared with test_admin_jobs


def read_events(lines: Iterator[str], wanted: int, seen: list[dict[str, Any]]) -> list[str]:
    """Read SSE lines until ``wanted`` job events arrived; returns the raw lines."""
    raw: list[str] = []
    data: list[str] = []
    for line in lines:
        raw.append(line)
        if line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif line == "" and data:
            seen.append(json.loads("\n".join(data)))
            data = []
            if len(seen) >= wanted:
                return raw
    return raw


def session_token(db: Database, username: str, role: str) -> str:
    user_id = add_user(db, username, role)
    token, _ = db.call(lambda s: start_session(s, s.get(User, user_id), 3600), write=True)
    return str(token)


@pytest.mark.slow
def test_stream_delivers_progress_and_state_changes(app: Starlette) -> None:
    museum = museum_of(app)
    db = museum.db
    job_id = submit(app)
    other = submit(app)
    token = session_token(db, EDITOR, "editor")

    def work() -> None:
        time.sleep(1.2)
        set_job(db, job_id, state="running", progress=42, attempts=1, message="step 8/20")
        time.sleep(1.2)
        set_job(db, job_id, state="succeeded", progress=100, message="")

    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        client.cookies.set(SESSION_COOKIE, token)
        seen: list[dict[str, Any]] = []
        updater = threading.Thread(target=work)
        with client.stream(
            "GET", f"/admin/jobs/events?job={job_id}&lang=en", headers={"accept-encoding": "gzip"}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in response.headers  # GZip leaves event streams alone
            assert response.headers["x-accel-buffering"] == "no"
            assert "no-store" in response.headers["cache-control"]
            updater.start()
            raw = read_events(response.iter_lines(), 3, seen)
        updater.join()
    assert [(e["state"], e["progress"]) for e in seen] == [
        ("queued", 0),  # following one job starts with its state now
        ("running", 42),
        ("succeeded", 100),
    ]
    assert seen[1]["state_label"] == "Running" and seen[1]["message"] == "step 8/20"
    assert {e["id"] for e in seen} == {job_id}  # the other job is not followed
    assert other not in "\n".join(raw)
    ids = [line[len("id: ") :] for line in raw if line.startswith("id: ")]
    assert len(ids) == 3 and ids == sorted(ids)
    assert raw[0] == f"retry: {job_stream.RECONNECT_MS}"


@pytest.mark.slow
def test_stream_of_all_jobs_sends_only_changes_after_the_page(app: Starlette) -> None:
    museum = museum_of(app)
    db = museum.db
    old, changing = submit(app), submit(app)
    for job_id in (old, changing):  # as if the page was rendered after their last change
        set_job(db, job_id, updated_at=utcnow() - timedelta(hours=1))
    token = session_token(db, EDITOR, "editor")
    since = job_stream.event_id(utcnow())

    def work() -> None:
        time.sleep(1.2)
        set_job(db, changing, progress=64)

    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        client.cookies.set(SESSION_COOKIE, token)
        seen: list[dict[str, Any]] = []
        updater = threading.Thread(target=work)
        with client.stream("GET", f"/admin/jobs/events?since={since}") as response:
            updater.start()
            read_events(response.iter_lines(), 1, seen)
        updater.join()
    assert [(e["id"], e["progress"]) for e in seen] == [(changing, 64)]


def test_stream_refuses_bad_parameters(staff: TestClient) -> None:
    bad = staff.get("/admin/jobs/events?job=nope", headers={"accept": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["parameter"] == "job"
    assert staff.get("/admin/jobs/events?job=" + "a" * 32).status_code == 404


class FakeRequest:
    """Enough of a request for the stream: it says it is gone after ``polls`` checks."""

    def __init__(self, polls: int) -> None:
        self.polls = polls
        self.checks = 0

    async def is_disconnected(self) -> bool:
        self.checks += 1
        return self.checks > self.polls


def collect(app: Starlette, request: FakeRequest, **kwargs: Any) -> list[str]:
    async def run() -> list[str]:
        stream = job_stream.job_events(
            request,  # type: ignore[arg-type]
            museum_of(app),
            kwargs.pop("since", utcnow()),
            kwargs.pop("job_id", None),
            {"queued": "Queued"},
            **kwargs,
        )
        return [chunk async for chunk in stream]

    # Its own thread: Playwright's session-wide browser (tests/browser) keeps an event loop
    # running in this one when the whole suite runs.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, run).result()


def test_stream_stops_when_the_client_disconnects(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_stream, "POLL_SECONDS", 0.01)
    job_id = submit(app)
    request = FakeRequest(polls=3)
    chunks = collect(app, request, since=utcnow() - timedelta(minutes=1))
    assert request.checks == 4  # stopped at the first check after the client left
    assert chunks[0].startswith("retry:")
    job_chunks = [c for c in chunks if "event: job" in c]
    assert len(job_chunks) == 1 and job_id in job_chunks[0]  # sent once, not at every poll


def test_stream_sends_heartbeats_when_quiet(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_stream, "POLL_SECONDS", 0.001)
    now = [0.0]

    def clock() -> float:
        now[0] += job_stream.HEARTBEAT_SECONDS / 2
        return now[0]

    chunks = collect(app, FakeRequest(polls=6), clock=clock)
    assert ": keep-alive\n\n" in chunks
    assert not any("event: job" in c for c in chunks)


def test_change_filter_sends_each_change_once() -> None:
    at = utcnow()
    change = job_stream.JobChange("a" * 32, "running", 10, "", 1, 3, False, at)
    changes = job_stream.ChangeFilter(at - timedelta(seconds=1))
    assert changes.fresh([change]) == [change]
    assert changes.fresh([change]) == []
    moved = replace(change, progress=11, updated_at=at + timedelta(seconds=1))
    assert changes.fresh([moved]) == [moved]
    assert changes.cursor == moved.updated_at


def test_event_ids_round_trip() -> None:
    at = utcnow()
    assert job_stream.parse_event_id(job_stream.event_id(at)) == at
    assert job_stream.parse_event_id("yesterday") is None
    assert job_stream.parse_event_id("2026-01-01T00:00:00+07:00") is None
    assert job_stream.parse_event_id(None) is None


def test_actions_and_polling_on_both_engines(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, job_retry_delay=0)
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.dispose()
    app = create_app(settings)
    with TestClient(app) as client:
        sign_in(client, EDITOR, "editor")
        museum = museum_of(client)
        db = museum.db
        queued, running = submit(client), submit(client)
        assert museum.jobs.claim(running, "w") is not None
        assert (
            client.post(f"/admin/jobs/{queued}/cancel", follow_redirects=False).status_code == 303
        )
        assert (
            client.post(f"/admin/jobs/{running}/cancel", follow_redirects=False).status_code == 303
        )
        assert job(db, queued).state == "failed"
        assert museum.jobs.cancel_requested(running) and job(db, running).state == "running"
        assert client.post(f"/admin/jobs/{queued}/retry", follow_redirects=False).status_code == 303
        assert job(db, queued).state == "queued"
        start = job_stream.start_cursor(FakeQuery(), running)  # type: ignore[arg-type]
        changes = db.call(lambda s: job_stream.changed_jobs(s, start, running))
        assert [(c.id, c.state, c.cancel_requested) for c in changes] == [
            (running, "running", True)
        ]
        everything = db.call(lambda s: job_stream.changed_jobs(s, start, None))
        assert {c.id for c in everything} == {queued, running}
        assert len(audit(db, "job.cancel")) == 2 and len(audit(db, "job.retry")) == 1


class FakeQuery:
    """A request with no Last-Event-ID and no ?since=."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.query_params: dict[str, str] = {}
