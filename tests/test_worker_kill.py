"""A worker killed with SIGKILL mid-job: the job is retried and completes exactly once.

Runs the real ``museum worker`` command twice, on the embedded stack
(SQLite catalog + SQLite queue) and on the scale-out stack (PostgreSQL + Redis).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.jobhelpers import job_service

pytestmark = pytest.mark.slow
MUSEUM = str(Path(sys.executable).parent / "museum")
LEASE = 3.0


@pytest.fixture(params=["sqlite", "postgresql+redis"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'museum.sqlite3'}", f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("redis_url")


def worker_env(tmp_path: Path, database_url: str, queue_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_")}
    env.update(
        MUSEUM_DATA_DIR=str(tmp_path / "data"),
        MUSEUM_DATABASE_URL=database_url,
        MUSEUM_QUEUE_URL=queue_url,
        MUSEUM_JOB_LEASE=str(LEASE),
        MUSEUM_JOB_RETRY_DELAY="0",
        MUSEUM_WORKER_CONCURRENCY="1",
        MUSEUM_LOG_LEVEL="warning",
    )
    return env


@contextmanager
def running_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [MUSEUM, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text(errors='replace')}")


def test_sigkilled_worker_job_is_retried_and_completes_once(
    tmp_path: Path, stack: tuple[str, str]
) -> None:
    database_url, queue_url = stack
    service = job_service(tmp_path, database_url, queue_url, job_lease=LEASE)
    env = worker_env(tmp_path, database_url, queue_url)
    log = tmp_path / "worker.log"
    job_id = service.submit("selftest", {"seconds": 5})

    with running_worker(env, log) as first:
        wait_for(
            lambda: (
                service.get(job_id)["state"] == "running" and service.get(job_id)["progress"] >= 20
            ),
            30,
            "the first worker to be mid-job",
            log,
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL
    killed = service.get(job_id)
    assert killed["state"] == "running" and killed["progress"] < 100

    with running_worker(env, log) as second:
        wait_for(
            lambda: service.get(job_id)["state"] in {"succeeded", "failed"}, 60, "the retry", log
        )
        assert second.poll() is None

    job = service.get(job_id)
    assert job["state"] == "succeeded", job
    assert job["attempts"] == 2
    events = [(name, attempt) for name, attempt, _ in service.events(job_id)]
    assert events == [
        ("queued", 0),
        ("started", 1),
        ("requeued", 1),
        ("started", 2),
        ("succeeded", 2),
    ]
    # Exactly one published result, from the second attempt, and no half-written leftovers.
    results = list((tmp_path / "data" / "derivatives" / "selftest").glob("*/result.json"))
    assert len(results) == 1
    assert json.loads(results[0].read_text())["attempt"] == 2
    assert list((tmp_path / "data" / "tmp").iterdir()) == []
    service.db.dispose()
