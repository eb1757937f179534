"""Helpers for queue tests: a job service on chosen backends, and an in-process drain."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from server.db import Database
from server.jobs import JobService
from server.migrate import upgrade
from server.queue import Queue
from server.settings import Settings
from server.storage import Store
from server.tasks import job_handlers


def job_service(
    tmp_path: Path, database_url: str, queue_url: str, **overrides: object
) -> JobService:
    settings = replace(
        Settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            queue_url=queue_url,
            job_retry_delay=0,
        ),
        **overrides,
    )
    db = Database(settings.resolved_database_url)
    upgrade(db)
    queue = Queue(settings.resolved_queue_url)
    queue.flush()
    return JobService(db, queue, settings, job_handlers(), Store(settings.data_dir))


def drain(service: JobService, worker: str = "test-worker", timeout: float = 30) -> int:
    """Run queued messages in this process until the queue is empty; returns how many ran."""
    service.queue.bind(lambda job_id: service.execute(job_id, worker))
    huey = service.queue.huey
    ran = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = huey.dequeue()
        if task is None:
            return ran
        huey.execute(task)
        ran += 1
    raise TimeoutError("queue did not drain")
