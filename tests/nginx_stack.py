"""Real processes for the deployment tests: Debian's nginx running deploy/nginx/museum.conf
(rendered for temporary ports and folders) in front of `museum serve` and `museum worker`."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.models import User
from tests.staff import add_user

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "museum.conf"
MUSEUM = str(Path(sys.executable).parent / "museum")
ACCEL_PREFIX = "/_museum_files/"
START_TIMEOUT = 90.0  # a loaded CI machine: four processes importing at once


def nginx_binary() -> str:
    """Debian's nginx (scripts/bootstrap.sh installs nginx-light); skips visibly without it."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )
    if found is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light; scripts/bootstrap.sh)")
    return found


def render(
    *, server_name: str, listen: str, app_ports: Sequence[int], data_dir: Path, static_dir: Path
) -> str:
    """The template with its @VALUES@ replaced, as docs/deploy.md does with sed."""
    servers = " ".join(
        f"server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for port in app_ports
    )
    text = TEMPLATE.read_text(encoding="utf-8")
    for marker, value in {
        "@SERVER_NAME@": server_name,
        "@LISTEN@": listen,
        "@APP_SERVERS@": servers,
        "@DATA_DIR@": str(data_dir.resolve()),
        "@STATIC_DIR@": str(static_dir.resolve()),
    }.items():
        assert marker in text, marker
        text = text.replace(marker, value)
    directives = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not re.search(r"@[A-Z_]+@", "\n".join(directives)), "a value left to fill in"
    return text


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"nothing listens on port {port}:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Nginx:
    """nginx in the foreground with its own prefix, pid file, logs and temp folders; its
    access log names the app server (``$upstream_addr``) that answered each request."""

    def __init__(self, folder: Path, site: str, port: int) -> None:
        self.folder = folder
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.error_log = folder / "error.log"
        self.access_log = folder / "access.log"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "museum.conf").write_text(site, encoding="utf-8")
        temp = "\n".join(
            f"    {kind}_temp_path {folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # As root, nginx's workers would become "nobody", who cannot read pytest's folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"""{user}worker_processes 1;
error_log {self.error_log} warn;
pid {folder / "nginx.pid"};
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format upstreams '$request_method $request_uri $status $upstream_addr';
    access_log {self.access_log} upstreams;
{temp}
    include {folder / "museum.conf"};
}}
""",
            encoding="utf-8",
        )
        self.command = [
            nginx_binary(),
            "-e",
            str(self.error_log),
            "-p",
            str(folder),
            "-c",
            str(folder / "nginx.conf"),
            "-g",
            "daemon off;",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def check(self) -> None:
        """``nginx -t``: the rendered configuration is valid."""
        result = subprocess.run([*self.command, "-t"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr

    def start(self) -> None:
        with (self.folder / "stderr.log").open("ab") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, self.error_log)

    def stop(self) -> None:
        stop(self.process, signal.SIGQUIT)  # graceful: workers finish what they are sending

    def requests(self) -> list[tuple[str, str, str, str]]:
        """(method, URI, status, app servers tried) of every request so far, in order."""
        lines = self.access_log.read_text(encoding="utf-8").splitlines()
        return [
            (m, uri, status, tried)
            for m, uri, status, tried in (line.split(" ", 3) for line in lines)
        ]


def museum_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_")}
    env.update(
        MUSEUM_DATA_DIR=str(data_dir),
        MUSEUM_LOG_LEVEL="warning",
        MUSEUM_MIN_FREE_DISK="0",
        MUSEUM_LANGUAGE="en",
    )
    env.update({f"MUSEUM_{k.upper()}": v for k, v in settings.items()})
    return env


class Museum:
    """One `museum serve --port` or `museum worker` process, with its own log."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log: Path, port: int = 0) -> None:
        self.args = [MUSEUM, *args]
        self.env = env
        self.log = log
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def server(cls, port: int, env: dict[str, str], log: Path) -> Museum:
        return cls(["serve", "--port", str(port)], env, log, port)

    def start(self) -> Museum:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self) -> None:
        """For a server: until /healthz answers."""
        assert self.process is not None
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"`museum serve` did not start:\n{self.log.read_text(errors='replace')}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        stop(self.process, signal.SIGINT)


def staff_session(database_url: str, username: str = "bien-tap") -> tuple[str, str]:
    """(session cookie token, CSRF token) of an editor, made directly in the catalog."""
    db = Database(database_url)
    try:
        user_id = add_user(db, username, "editor")
        token, csrf = db.call(lambda s: start_session(s, s.get(User, user_id), 3600), write=True)
    finally:
        db.dispose()
    return str(token), str(csrf)


def tus_headers(csrf: str, origin: str) -> dict[str, str]:
    return {"tus-resumable": "1.0.0", "x-csrf-token": csrf, "origin": origin}


SESSION = SESSION_COOKIE
