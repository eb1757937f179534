"""``museum worker``: consume the queue and keep dead workers' jobs moving."""

from __future__ import annotations

import logging
import os
import socket
import threading

from server.db import Database
from server.jobs import JobService
from server.queue import Queue
from server.settings import Settings
from server.storage import Store
from server.tasks import job_handlers

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def build_job_service(settings: Settings) -> JobService:
    db = Database(settings.resolved_database_url, settings.db_busy_timeout)
    queue = Queue(settings.resolved_queue_url)
    return JobService(db, queue, settings, job_handlers(), Store(settings.data_dir))


class Reaper(threading.Thread):
    """Periodically requeues jobs whose lease expired (their worker died)."""

    def __init__(self, service: JobService, interval: float) -> None:
        super().__init__(name="reaper", daemon=True)
        self.service = service
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while True:
            try:
                if requeued := self.service.reap():
                    log.info("requeued %d job(s) from stopped workers", requeued)
            except Exception:  # keep reaping after a transient database error
                log.exception("reaper pass failed")
            if self.stopped.wait(self.interval):
                return


def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    service = build_job_service(settings)
    service.store.ensure()
    if swept := service.store.sweep_tmp():
        log.info("removed %d staging item(s) left by stopped processes", len(swept))
    name = worker_name()
    service.queue.bind(lambda job_id: service.execute(job_id, name))
    reaper = Reaper(service, interval=max(0.5, min(30.0, settings.job_lease / 2)))
    reaper.start()
    consumer = service.queue.consumer(concurrency or settings.worker_concurrency)
    log.info("worker %s consuming %s", name, settings.resolved_queue_url)
    try:
        consumer.run()
    finally:
        reaper.stopped.set()
        service.db.dispose()
