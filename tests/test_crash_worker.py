"""Crash consistency of the job path (docs/security.md, section "crash"; research rows 13, D10).

* 50 SIGKILLs of the real ``museum worker`` in the middle of real image jobs, each worker
  started again at once: every job ends ``succeeded`` exactly once, each asset has one
  published derivative version whose files are byte-identical to a clean run of the same
  inputs, no duplicate rows, nothing left in ``tmp/``, ``PRAGMA integrity_check`` = ok after
  every kill. (One PostgreSQL + Redis kill is in tests/test_worker_kill.py.)
* A poison job that kills its worker every time ends ``failed`` after its attempts, while the
  jobs queued around it all succeed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from processing.sniff import sniff_file
from server.cli import ingest_file
from server.jobs import JobService
from server.storage import Store, staging_name
from tests.jobhelpers import drain, job_service

pytestmark = pytest.mark.slow
MUSEUM = str(Path(sys.executable).parent / "museum")
KILLS = 50
IMAGES = 12
LEASE = 1.0  # the shortest lease MUSEUM_JOB_LEASE allows: a killed job is retried soon
# Fields of report.json that measure the run, not the result (wall-clock seconds per stage).
RUN_MEASUREMENTS = ("timings",)


def make_images(folder: Path, count: int) -> list[Path]:
    """Small, distinct, reproducible pictures (big enough for more than one tile)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        pixels = np.random.default_rng(index).integers(0, 255, (300, 420, 3), dtype=np.uint8)
        path = folder / f"anh-{index:02d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def stack_urls(root: Path) -> tuple[str, str]:
    return f"sqlite:///{root / 'museum.sqlite3'}", f"sqlite:///{root / 'queue.sqlite3'}"


def ingest_all(service: JobService, paths: list[Path]) -> dict[str, str]:
    """Each file stored and its process_image job queued: {asset id: original's SHA-256}."""
    assets = {}
    for path in paths:
        asset_id, stored = ingest_file(service, path, None, sniff_file(path))
        assets[asset_id] = stored.sha256
    return assets


def derivative_digests(data_dir: Path, assets: dict[str, str]) -> dict[str, dict[str, str]]:
    """{original's SHA-256: {version/relative path: SHA-256}} of every published file;
    report.json without its run measurements."""
    digests: dict[str, dict[str, str]] = {}
    for asset_id, sha256 in assets.items():
        files: dict[str, str] = {}
        folder = data_dir / "derivatives" / asset_id
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            if path.name == "report.json":
                report = json.loads(data)
                for key in RUN_MEASUREMENTS:
                    report.pop(key, None)
                data = json.dumps(report, sort_keys=True).encode()
            files[str(path.relative_to(folder))] = hashlib.sha256(data).hexdigest()
        digests[sha256] = files
    return digests


def mismatches(actual: dict[str, dict[str, str]], expected: dict[str, dict[str, str]]) -> list[str]:
    """The files (original's digest/version/path) that differ from the clean run."""
    return [
        f"{sha256[:12]}/{name}"
        for sha256, files in expected.items()
        for name in sorted(set(files) | set(actual.get(sha256, {})))
        if files.get(name) != actual.get(sha256, {}).get(name)
    ]


def keep_evidence(tmp_path: Path, differing: list[str]) -> str:
    """The failure message: what differs, and where both runs are kept to compare."""
    return (
        f"{len(differing)} files differ from the clean run (kept in {tmp_path}): {differing[:20]}"
    )


def integrity(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def query(database: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(database, timeout=10)
    try:
        return connection.execute(sql, args).fetchall()
    finally:
        connection.close()


class Worker:
    """``museum worker`` processes, one at a time, killed and started again by the test."""

    def __init__(self, root: Path, **settings: str) -> None:
        database_url, queue_url = stack_urls(root)
        self.log = root / "worker.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_")}
        self.env.update(
            MUSEUM_DATA_DIR=str(root / "data"),
            MUSEUM_DATABASE_URL=database_url,
            MUSEUM_QUEUE_URL=queue_url,
            MUSEUM_JOB_LEASE=str(LEASE),
            MUSEUM_JOB_RETRY_DELAY="0",
            MUSEUM_WORKER_CONCURRENCY="1",
            MUSEUM_MIN_FREE_DISK="0",
            MUSEUM_LOG_LEVEL="warning",
            **settings,
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def name(self) -> str:
        assert self.process is not None
        return f"{socket.gethostname()}:{self.process.pid}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [MUSEUM, "worker"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for(condition: Callable[[], bool], timeout: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.text()[-4000:]}")


@pytest.mark.timeout(1800)  # 50 restarts: minutes on a loaded machine
def test_fifty_sigkills_mid_job_each_job_completes_once_as_a_clean_run(tmp_path: Path) -> None:
    images = make_images(tmp_path / "in", IMAGES)

    # The clean run: the same inputs, one in-process worker, no kills.
    clean_root = tmp_path / "clean"
    clean = job_service(clean_root, *stack_urls(clean_root))
    clean_assets = ingest_all(clean, images)
    began = time.monotonic()
    drain(clean, timeout=300)
    job_seconds = (time.monotonic() - began) / IMAGES  # kills land anywhere in a job
    clean.db.dispose()
    expected = derivative_digests(clean_root / "data", clean_assets)
    assert all(expected.values()) and len(expected) == IMAGES

    root = tmp_path / "killed"
    service = job_service(root, *stack_urls(root), job_attempts=20)
    assets = ingest_all(service, images)
    service.db.dispose()
    catalog = root / "museum.sqlite3"
    worker = Worker(root, MUSEUM_JOB_ATTEMPTS="20")
    chance = random.Random(1350)
    kills = 0

    def running_here() -> list[tuple[object, ...]]:
        return query(
            catalog, "SELECT id FROM jobs WHERE state = 'running' AND worker = ?", worker.name
        )

    try:
        while kills < KILLS:
            worker.start()
            wait_for(lambda: bool(running_here()), 60, "a worker to be mid-job", worker)
            time.sleep(chance.uniform(0, job_seconds))  # a random moment of the job
            [(job_id,)] = running_here() or [(None,)]
            worker.kill()
            assert integrity(catalog) == "ok", f"after kill {kills + 1}"
            if job_id is not None:  # it was mid-job when killed (else it had just finished)
                kills += 1
            assert query(catalog, "SELECT count(*) FROM jobs WHERE state = 'failed'") == [(0,)]
        worker.start()
        wait_for(
            lambda: (
                query(catalog, "SELECT count(*) FROM jobs WHERE state != 'succeeded'") == [(0,)]
            ),
            300,
            "every job to succeed",
            worker,
        )
        worker.stop()
    finally:
        worker.stop()
    assert integrity(catalog) == "ok"

    # Exactly once: one job per asset, one "succeeded" event each, one published version.
    jobs = query(catalog, "SELECT id, state, attempts, asset_id FROM jobs")
    assert sorted(str(row[3]) for row in jobs) == sorted(assets)
    assert query(catalog, "SELECT count(*) FROM assets") == [(IMAGES,)]
    retried = 0
    for job_id, state, attempts, _ in jobs:
        events = [
            row[0]
            for row in query(
                catalog, "SELECT event FROM job_events WHERE job_id = ? ORDER BY id", job_id
            )
        ]
        assert state == "succeeded" and events.count("succeeded") == 1, events
        assert events.count("started") == attempts, events
        retried += int(str(attempts)) > 1
    assert retried >= 1
    versions = query(catalog, "SELECT id, published_version FROM assets")
    for asset_id, version in versions:
        published = [p.name for p in (root / "data" / "derivatives" / str(asset_id)).iterdir()]
        assert published == [version], (asset_id, published)
    differing = mismatches(derivative_digests(root / "data", assets), expected)
    assert not differing, keep_evidence(tmp_path, differing)
    assert list((root / "data" / "tmp").iterdir()) == []
    print(
        f"{kills} mid-job kills over {worker.starts} worker starts; {retried} jobs retried; "
        f"{job_seconds:.2f} s per clean job"
    )


def test_a_job_that_kills_its_worker_ends_failed_and_the_queue_keeps_moving(
    tmp_path: Path,
) -> None:
    service = job_service(tmp_path, *stack_urls(tmp_path), job_attempts=3)
    before = [service.submit("selftest", {"seconds": 0.2}) for _ in range(3)]
    poison = service.submit("selftest", {"seconds": 0.2, "kill": True})
    after = [service.submit("selftest", {"seconds": 0.2}) for _ in range(3)]
    images = ingest_all(service, make_images(tmp_path / "in", 2))
    others = before + after
    catalog = tmp_path / "museum.sqlite3"
    worker = Worker(tmp_path, MUSEUM_JOB_ATTEMPTS="3")

    def settled() -> bool:
        if not worker.alive():  # as systemd's Restart=always would
            worker.start()
        states = query(catalog, "SELECT state FROM jobs")
        return all(state in ("succeeded", "failed") for (state,) in states)

    try:
        wait_for(settled, 120, "every job to end", worker)
    finally:
        worker.stop()

    job = service.get(poison)
    assert job["state"] == "failed" and job["attempts"] == 3, job
    assert "lease expired" in job["message"]
    events = [(name, attempt) for name, attempt, _ in service.events(poison)]
    assert events == [
        ("queued", 0),
        ("started", 1),
        ("requeued", 1),
        ("started", 2),
        ("requeued", 2),
        ("started", 3),
        ("failed", 3),
    ]
    assert worker.starts == 4  # three deaths, each followed by a restart
    for job_id in others:  # one job at a time: the deaths never touched them
        other = service.get(job_id)
        assert (other["state"], other["attempts"]) == ("succeeded", 1), other
    image_jobs = query(catalog, "SELECT state, attempts FROM jobs WHERE kind = 'process_image'")
    assert sorted(image_jobs) == [("succeeded", 1)] * len(images)
    assert integrity(catalog) == "ok"
    assert list((tmp_path / "data" / "tmp").iterdir()) == []
    service.db.dispose()


def test_the_sweep_removes_only_what_dead_processes_left_in_tmp(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    store.ensure()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    own = store.tmp / staging_name("publish")  # this (live) process's
    left = store.tmp / staging_name("publish").replace(f"-{os.getpid()}-", f"-{dead.pid}-")
    other_host = store.tmp / f"publish-elsewhere-{dead.pid}-{'0' * 32}"
    unnamed = store.tmp / "notes.txt"
    for folder in (own, left, other_host):
        (folder / "output").mkdir(parents=True)
    unnamed.write_text("kept")
    assert store.sweep_tmp() == [left.name]
    assert own.is_dir() and other_host.is_dir() and unnamed.is_file() and not left.exists()
