"""Many processes, one museum: two `museum serve` and two `museum worker` on PostgreSQL and
Redis behind deploy/nginx/museum.conf, as docs/deploy.md runs them. Uploads through nginx
each become one job that exactly one worker runs once; both servers answer; after one server
is killed, the site keeps answering."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from server.db import Database
from server.migrate import upgrade
from server.models import Job, JobEvent
from server.tus import encode_metadata
from tests.conftest import REDIS_TEST_URL
from tests.live import free_port
from tests.nginx_stack import (
    ACCEL_PREFIX,
    SESSION,
    Museum,
    Nginx,
    museum_env,
    nginx_binary,
    render,
    staff_session,
    tus_headers,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
UPLOADS = 4
REDIS_DB = 12  # not the other tests' database (flushed by them): this test's own, emptied


@pytest.fixture
def scale_redis_url() -> Iterator[str]:
    import redis

    parts = urlsplit(REDIS_TEST_URL)
    url = f"{parts.scheme}://{parts.netloc}/{REDIS_DB}"
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.flushdb()
    except Exception as exc:  # any failure means: no Redis here
        client.close()
        pytest.skip(f"Redis unreachable at {url}: {type(exc).__name__}: {exc}")
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48 + seed, 32), (seed * 40 % 256, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client: httpx.Client, data: bytes, name: str) -> str:
    """A whole tus upload through nginx; returns the job it queued."""
    created = client.post(
        "/uploads/",
        headers={
            "upload-length": str(len(data)),
            "upload-metadata": encode_metadata(
                {"filename": name, "sha256": hashlib.sha256(data).hexdigest()}
            ),
        },
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    sent = client.patch(
        url,
        content=data,
        headers={"content-type": "application/offset+octet-stream", "upload-offset": "0"},
    )
    assert sent.status_code == 204, sent.text
    status = client.get(url + "/status").json()
    assert status["state"] == "complete", status
    return str(status["job_id"])


def finished_jobs(db: Database, job_ids: list[str]) -> list[Job]:
    return list(db.call(lambda s: s.scalars(select(Job).where(Job.id.in_(job_ids))).all()))


def test_two_servers_and_two_workers_behind_nginx(
    tmp_path: Path, postgres_url: str, scale_redis_url: str
) -> None:
    nginx_binary()
    db = Database(postgres_url)
    upgrade(db)  # `museum db upgrade`, once, before any process starts (docs/deploy.md)
    ports = [free_port(), free_port()]
    nginx_port = free_port()
    base = f"http://127.0.0.1:{nginx_port}"
    env = museum_env(
        tmp_path / "data",
        database_url=postgres_url,
        queue_url=scale_redis_url,
        auto_migrate="false",
        accel_redirect=ACCEL_PREFIX,
        trusted_proxies="127.0.0.1",
        public_base_url=base,
        worker_concurrency="1",
        job_retry_delay="0",
    )
    servers = [Museum.server(port, env, tmp_path / f"serve-{port}.log") for port in ports]
    workers = [Museum(["worker"], env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
    site = render(
        server_name="127.0.0.1",
        listen=f"127.0.0.1:{nginx_port}",
        app_ports=ports,
        data_dir=tmp_path / "data",
        static_dir=tmp_path / "static",
    )
    nginx = Nginx(tmp_path / "nginx", site, nginx_port)
    processes = [*servers, *workers]
    try:
        for process in processes:
            process.start()
        nginx.start()
        for server in servers:
            server.wait_ready()
        token, csrf = staff_session(postgres_url)
        with httpx.Client(
            base_url=base,
            headers=tus_headers(csrf, base),
            cookies={SESSION: token},
            timeout=30,
        ) as client:
            job_ids = [upload(client, png(n), f"ảnh-{n}.png") for n in range(UPLOADS)]
            assert client.get("/readyz").status_code == 200

            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                jobs = finished_jobs(db, job_ids)
                if all(job.state in {"succeeded", "failed"} for job in jobs):
                    break
                time.sleep(0.25)
            jobs = finished_jobs(db, job_ids)
            assert {job.state for job in jobs} == {"succeeded"}, [
                (job.kind, job.state, job.message) for job in jobs
            ]
            # Exactly once: one claim per job, by one of the two workers, never retried.
            assert all(job.attempts == 1 for job in jobs)
            started = db.call(
                lambda s: s.execute(
                    select(JobEvent.job_id, JobEvent.message).where(
                        JobEvent.job_id.in_(job_ids), JobEvent.event == "started"
                    )
                ).all()
            )
            assert sorted(job_id for job_id, _ in started) == sorted(job_ids)
            worker_pids = {str(w.process.pid) for w in workers if w.process is not None}
            assert {message.rsplit(":", 1)[1] for _, message in started} <= worker_pids

            # Both servers answered (nginx's log names the one behind each request).
            answered = {tried for *_, tried in nginx.requests()}
            assert {f"127.0.0.1:{port}" for port in ports} <= answered

            # One server gone: every request still answered, by the other.
            servers[0].kill()
            for _ in range(6):
                assert client.get("/readyz").status_code == 200
                assert client.get("/").status_code == 200
            after = nginx.requests()[-12:]
            assert {tried.rsplit(" ", 1)[-1] for *_, tried in after} == {f"127.0.0.1:{ports[1]}"}
    finally:
        nginx.stop()
        for process in processes:
            process.stop()
        db.dispose()
