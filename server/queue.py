"""The job queue: Huey on SQLite by default, on Redis at scale.

Queue messages carry only a job id. The ``jobs`` table is the truth about a
job; a message is a hint to look at it, so a lost or duplicated message can
never lose or repeat work (see :mod:`server.jobs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from huey import Huey, RedisHuey, SqliteHuey

TASK_NAME = "museum.run_job"
QUEUE_NAME = "museum"


def build_huey(url: str, name: str = QUEUE_NAME) -> Huey:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = Path(
            url.split("sqlite:///", 1)[1] if "sqlite:///" in url else url[len("sqlite://") :]
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        # fsync: a job acknowledged to its submitter survives a power cut.
        return SqliteHuey(name=name, filename=str(path), results=False, fsync=True, timeout=10)
    if scheme in {"redis", "rediss"}:
        return RedisHuey(name=name, url=url, results=False)
    raise ValueError(f"unsupported queue URL scheme: {scheme!r}")


class Queue:
    """Producer and consumer side of the queue; a worker binds the job runner."""

    def __init__(self, url: str, name: str = QUEUE_NAME) -> None:
        self.url = url
        self.huey = build_huey(url, name)
        self._runner: Callable[[str], None] | None = None
        self._task = self.huey.task(name=TASK_NAME)(self._dispatch)

    def _dispatch(self, job_id: str) -> None:
        if self._runner is None:  # pragma: no cover - only a misconfigured consumer
            raise RuntimeError("no job runner bound to this queue")
        self._runner(job_id)

    def bind(self, runner: Callable[[str], None]) -> None:
        self._runner = runner

    def enqueue(self, job_id: str, delay: float = 0) -> None:
        if delay > 0:
            self._task.schedule(args=(job_id,), delay=delay)
        else:
            self._task(job_id)

    def pending(self) -> int:
        return int(self.huey.pending_count()) + int(self.huey.scheduled_count())

    def ping(self) -> float:
        """Round-trip time to the queue storage in seconds; raises when unreachable."""
        started = time.perf_counter()
        storage: Any = self.huey.storage
        if isinstance(self.huey, RedisHuey):
            storage.conn.ping()
        else:
            storage.queue_size()
            # Huey keeps one connection open, and it outlives its file: a deleted queue
            # (or an unmounted data disk) would keep answering while nobody reads it.
            if not Path(storage.filename).is_file():
                raise FileNotFoundError(f"the queue file is gone: {storage.filename}")
        return time.perf_counter() - started

    def consumer(self, workers: int) -> Any:
        return self.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,
            max_delay=1.0,
            check_worker_health=True,
        )

    def flush(self) -> None:
        self.huey.flush()
