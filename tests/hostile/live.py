"""A museum as it runs in production, for the hostile suite: ``museum serve`` and
``museum worker`` as real processes on a temp data dir, and the witnesses around them.

Why real processes rather than the in-process test client: a hostile file that crashes the
server must show as a crash (a changed PID, a failed ``/healthz`` poll), not as a failed
test that takes the harness down with it; uploads travel over a real socket through
uvicorn; and the worker runs its real queue consumer with its real concurrency, each media
job in the sandboxed child (:mod:`processing.sandbox`) with the limits set below.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.migrate import upgrade
from server.models import User
from tests.staff import ORIGIN, add_user

ROOT = Path(__file__).resolve().parents[2]
MUSEUM = Path(sys.executable).parent / "museum"
GIB = 1024**3
MIB = 1024**2
# The limits of the run (stated in docs/security.md): each media job's child may map
# 2 GiB (RLIMIT_AS; the 3D pipeline's libraries alone reserve about 1.2 GiB of address
# space), use 20 s of CPU and 30 s of wall time; one attempt per job (retries are the
# crash suite's subject, and a bomb retried three times only triples the run).
JOB_MEMORY = 2 * GIB
JOB_CPU_SECONDS = 20
JOB_TIMEOUT = 30.0
MAX_UPLOAD = 64 * MIB
QUOTA = 4 * GIB
ARCHIVE_BYTES = 256 * MIB
WORKER_CONCURRENCY = 2
# The free-space reserve sits this far below the disk's free space at start: small uploads
# pass, an upload whose part file and original would eat the headroom gets 507, and the
# storage cases can cross the line with a ballast file of about this size.
RESERVE_HEADROOM = 3 * GIB
HEALTH_EVERY = 0.25
RSS_EVERY = 0.1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Watch:
    """What the background witnesses saw."""

    health_polls: int = 0
    health_failures: list[str] = field(default_factory=list)
    # sha256 of an original -> the highest VmHWM (kB) of the sandboxed child (and its tools)
    # that processed it, sampled every RSS_EVERY seconds.
    child_peak_kb: dict[str, int] = field(default_factory=dict)
    server_peak_kb: int = 0
    worker_peak_kb: int = 0


class LiveMuseum:
    """The server and the worker of one hostile run, and a signed-in staff client."""

    def __init__(self, root: Path, reserve_headroom: int = RESERVE_HEADROOM) -> None:
        self.root = root
        self.data = root / "data"
        self.tmp = root / "tmp"  # TMPDIR of the server, the worker and their children
        self.logs = root / "logs"
        for folder in (self.data, self.tmp, self.logs):
            folder.mkdir()
        for name in ("server", "worker"):
            (self.logs / f"{name}.log").touch()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.reserve = max(0, shutil.disk_usage(root).free - reserve_headroom)
        self.env = self._env()
        self.db = Database(f"sqlite:///{(self.data / 'museum.sqlite3').resolve()}")
        upgrade(self.db)
        self.watch = Watch()
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._logs: list[BinaryIO] = []

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_")}
        env.update(
            TMPDIR=str(self.tmp),
            MUSEUM_DATA_DIR=str(self.data),
            MUSEUM_HOST="127.0.0.1",
            MUSEUM_PORT=str(self.port),
            MUSEUM_LOG_LEVEL="warning",
            MUSEUM_MAX_UPLOAD_SIZE=str(MAX_UPLOAD),
            MUSEUM_UPLOAD_QUOTA=str(QUOTA),
            MUSEUM_MIN_FREE_DISK=str(self.reserve),
            MUSEUM_JOB_MEMORY=str(JOB_MEMORY),
            MUSEUM_JOB_CPU_SECONDS=str(JOB_CPU_SECONDS),
            MUSEUM_JOB_TIMEOUT=str(JOB_TIMEOUT),
            MUSEUM_JOB_ATTEMPTS="1",
            MUSEUM_JOB_RETRY_DELAY="0",
            MUSEUM_WORKER_CONCURRENCY=str(WORKER_CONCURRENCY),
            # Speech recognition reads the audio ffmpeg decoded, never the uploaded file;
            # the suite leaves it out to stay inside its time budget.
            MUSEUM_AV_CAPTIONS="false",
            # A bundle may expand to this much (default 8 GiB): what a job can write in its
            # 30 s; a lying ZIP bomb is stopped after this many bytes really written.
            MUSEUM_MODEL_MAX_ARCHIVE_BYTES=str(ARCHIVE_BYTES),
        )
        return env

    # Processes ------------------------------------------------------------------

    def start(self) -> None:
        self.server = self._spawn("serve", "server")
        self.worker = self._spawn("worker", "worker")
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{self.log('server')}")
            time.sleep(0.2)
        for target, name in ((self._poll_health, "healthz"), (self._sample_rss, "rss")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _spawn(self, command: str, name: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        self._logs.append(log)
        return subprocess.Popen(
            [str(MUSEUM), command],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text("utf-8", "replace")[-4000:] if path.exists() else ""

    def stop(self) -> dict[str, int | None]:
        """Stop the witnesses, then the processes (SIGTERM, then SIGKILL); their exit codes."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        codes: dict[str, int | None] = {}
        for name, proc in (("worker", self.worker), ("server", self.server)):
            if proc is None:
                continue
            codes[name] = proc.poll()  # None: it was still running, as it should be
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for log in self._logs:
            log.close()
        self.db.dispose()
        return codes

    # Witnesses ------------------------------------------------------------------

    def _poll_health(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self._stop.wait(HEALTH_EVERY):
                self.watch.health_polls += 1
                try:
                    status = client.get("/healthz").status_code
                except httpx.HTTPError as exc:
                    self.watch.health_failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if status != 200:
                    self.watch.health_failures.append(f"HTTP {status}")

    def _sample_rss(self) -> None:
        owners: dict[int, str] = {}  # pid of a sandboxed child -> sha256 of its input
        while not self._stop.wait(RSS_EVERY):
            assert self.server is not None and self.worker is not None
            self.watch.server_peak_kb = max(self.watch.server_peak_kb, peak_kb(self.server.pid))
            self.watch.worker_peak_kb = max(self.watch.worker_peak_kb, peak_kb(self.worker.pid))
            for pid, owner in descendants(self.worker.pid, owners):
                if owner:
                    peak = max(self.watch.child_peak_kb.get(owner, 0), peak_kb(pid))
                    self.watch.child_peak_kb[owner] = peak

    # Clients --------------------------------------------------------------------

    @contextmanager
    def client(
        self, username: str = "hostile-editor", role: str = "editor"
    ) -> Iterator[httpx.Client]:
        """An HTTP client signed in as ``username`` (made with ``role``), with its CSRF token."""
        user_id = add_user(self.db, username, role)

        def open_session(session):  # type: ignore[no-untyped-def]
            return start_session(session, session.get(User, user_id), 3600)

        token, csrf = self.db.call(open_session, write=True)
        headers = {
            "cookie": f"{SESSION_COOKIE}={token}",
            "x-csrf-token": csrf,
            "origin": ORIGIN.replace("http://testserver", self.base_url),
        }
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=120) as client:
            yield client


def peak_kb(pid: int) -> int:
    """The process's peak resident set (VmHWM) in kB; 0 when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    with suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with suppress(OSError):
                found += [
                    int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                ]
    return found


def descendants(pid: int, owners: dict[int, str], owner: str = "") -> Iterator[tuple[int, str]]:
    """Every process below ``pid`` with the sha256 of the original its sandboxed child
    works on (read once from the child's job file: its ``source`` is the original's path)."""
    for child in children(pid):
        mine = owner or owners.get(child) or _sandbox_input(child)
        if mine:
            owners[child] = mine
        yield child, mine
        yield from descendants(child, owners, mine)


def _sandbox_input(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    if b"processing.sandbox_child" not in argv:
        return ""
    try:
        job = json.loads(
            Path(argv[argv.index(b"processing.sandbox_child") + 1].decode()).read_text()
        )
    except (OSError, ValueError, IndexError):
        return ""
    # The job's source is a link to the original, stored under its SHA-256.
    return Path(os.path.realpath(str(job.get("payload", {}).get("source", "")))).name
