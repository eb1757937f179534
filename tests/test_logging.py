"""Structured logs: JSON lines, the request id on every line of a request, the access line,
job context on worker lines, and a real ``museum serve`` writing JSON to stderr."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from server import logs
from server.app import create_app
from server.settings import Settings
from server.telemetry import REQUEST_ID, loggable_path, request_id_from
from tests.jobhelpers import drain, job_service
from tests.live import free_port

MUSEUM = str(Path(sys.executable).parent / "museum")
endpoint_log = logging.getLogger("tests.endpoint")


class Captured:
    """The JSON lines written through the museum's handler during a test."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "server.access"]


@pytest.fixture
def captured() -> Iterator[Captured]:
    stream = io.StringIO()
    handler = logs.build_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def chatty(request: Request) -> PlainTextResponse:
    """Logs on the event loop and from a worker thread, as endpoints that touch the DB do."""
    endpoint_log.info("on the loop")
    await anyio.to_thread.run_sync(lambda: endpoint_log.warning("in a thread"))
    return PlainTextResponse("ok")


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    app.router.routes.append(Route("/test-chatty", chatty, name="test_chatty"))
    with TestClient(app) as client:
        yield client


def test_a_json_line_has_time_level_logger_message_and_extras(captured: Captured) -> None:
    logging.getLogger("tests.plain").warning(
        'quote " newline\n and ü', extra={"asset": "a1", "size": 3}
    )
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("tests.plain").exception("failed")
    first, second = captured.lines()
    assert first["level"] == "warning" and first["logger"] == "tests.plain"
    assert first["message"] == 'quote " newline\n and ü'
    assert first["time"].endswith("Z") and first["time"][:4].isdigit()
    assert (first["asset"], first["size"]) == ("a1", 3)
    assert "request_id" not in first  # no request: no context
    assert "ValueError: boom" in second["exception"]
    assert len(captured.stream.getvalue().splitlines()) == 2  # the newline stayed escaped


def test_request_id_round_trips_into_the_access_line_and_endpoint_lines(
    app_client: TestClient, captured: Captured
) -> None:
    response = app_client.get("/test-chatty?token=hush", headers={"x-request-id": "req-42.a:b"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42.a:b"
    mine = [line for line in captured.lines() if line.get("request_id") == "req-42.a:b"]
    messages = {line["message"] for line in mine}
    assert {"on the loop", "in a thread"} <= messages
    (access,) = [line for line in mine if line["logger"] == "server.access"]
    assert access["method"] == "GET" and access["status"] == 200
    assert access["path"] == "/test-chatty" and access["route"] == "test_chatty"
    assert access["bytes"] == 2 and access["duration_ms"] >= 0 and access["client"]
    server_side = [line for line in captured.lines() if not line["logger"].startswith("httpx")]
    assert "hush" not in json.dumps(server_side)  # the query string is never logged


def test_each_request_gets_its_own_generated_id(app_client: TestClient, captured: Captured) -> None:
    first = app_client.get("/healthz").headers["x-request-id"]
    second = app_client.get("/no-such-page").headers["x-request-id"]
    assert first != second and REQUEST_ID.fullmatch(first) and len(first) == 32
    ids = [(line["request_id"], line["status"], line["route"]) for line in captured.access()]
    assert ids == [(first, 200, "healthz"), (second, 404, "unrouted")]


@pytest.mark.parametrize(
    "hostile",
    [
        b"abc\ndef",  # a forged second log line
        b"a" * 10_000,
        "chào-thế-giới".encode(),
        b"",
        b"id with spaces",
        b'{"level": "error"}',
    ],
)
def test_a_hostile_request_id_is_replaced(hostile: bytes) -> None:
    chosen = request_id_from({"headers": [(b"x-request-id", hostile)]})
    assert chosen != hostile.decode("utf-8", "replace")
    assert REQUEST_ID.fullmatch(chosen) and len(chosen) == 32


def test_hostile_request_ids_over_http_are_replaced(
    app_client: TestClient, captured: Captured
) -> None:
    for hostile in (b"a" * 10_000, "chào".encode(), b"x" * 129):
        answered = app_client.get("/healthz", headers={"x-request-id": hostile})
        assert answered.headers["x-request-id"].encode() != hostile
        assert len(answered.headers["x-request-id"]) == 32
    assert "a" * 200 not in captured.stream.getvalue()
    assert len(captured.access()) == 3


def test_a_newline_in_the_request_id_never_reaches_the_log(
    settings: Settings, captured: Captured
) -> None:
    """Raw ASGI, since HTTP clients refuse to send a header with a newline."""
    app = create_app(settings)
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"x-request-id", b'ok\n{"forged": 1}')],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 200 and b"\n" not in headers[b"x-request-id"]
    assert all("forged" not in line for line in captured.lines())
    (access,) = captured.access()
    assert access["request_id"] == headers[b"x-request-id"].decode()


def test_a_signed_folder_token_is_masked_in_logged_paths() -> None:
    path = "/media/_signed/1700000000.7.c2lnbmF0dXJl/asset/v1/index.m3u8"
    assert loggable_path(path) == "/media/_signed/***/asset/v1/index.m3u8"
    assert loggable_path("/items/DL-ICH-01") == "/items/DL-ICH-01"
    assert loggable_path("/items/a\nforged\x7f") == "/items/a\\x0aforged\\x7f"
    assert loggable_path("/tìm-kiếm") == "/tìm-kiếm"


def test_a_percent_encoded_newline_in_the_path_stays_on_one_text_line(
    seeded_settings: Settings,
) -> None:
    stream = io.StringIO()
    handler = logs.build_handler("text", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with TestClient(create_app(seeded_settings)) as client:
            assert client.get("/items/x%0A2026-01-01 00:00:00 ERROR forged").status_code == 404
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    access = [line for line in stream.getvalue().splitlines() if "server.access" in line]
    assert len(access) == 1 and "x\\x0a2026" in access[0]
    assert not any(line.startswith("2026-01-01") for line in stream.getvalue().splitlines())


def test_an_unhandled_error_is_logged_with_its_request_id(
    settings: Settings, captured: Captured
) -> None:
    async def broken(request: Request) -> PlainTextResponse:
        raise RuntimeError("kaput")

    app = create_app(settings)
    app.router.routes.append(Route("/test-broken", broken, name="test_broken"))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test-broken", headers={"x-request-id": "err-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "err-1"
    error = next(line for line in captured.lines() if "exception" in line)
    assert error["request_id"] == "err-1" and "kaput" in error["exception"]
    assert captured.access()[-1]["status"] == 500


def test_worker_lines_carry_the_job_id_and_kind(tmp_path: Path, captured: Captured) -> None:
    service = job_service(
        tmp_path, f"sqlite:///{tmp_path / 'm.sqlite3'}", f"sqlite:///{tmp_path / 'q.sqlite3'}"
    )
    job_id = service.submit("selftest", {"seconds": 0, "fail": True})
    drain(service)
    service.db.dispose()
    failures = [line for line in captured.lines() if "selftest asked to fail" in line["message"]]
    assert failures, captured.lines()
    assert all(line["job_id"] == job_id for line in failures)
    assert all(line["job_kind"] == "selftest" for line in failures)


def test_text_format_appends_the_context() -> None:
    stream = io.StringIO()
    handler = logs.build_handler("text", stream)
    record = logging.LogRecord("tests.text", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    with logs.log_context(request_id="r1", job_id="j1"):
        handler.handle(record)
    line = stream.getvalue().strip()
    assert line.endswith("INFO tests.text: hello you [request_id=r1 job_id=j1]")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_format_is_text_on_a_terminal_and_json_elsewhere() -> None:
    assert logs.resolve_format("auto", FakeTerminal()) == "text"
    assert logs.resolve_format("auto", io.StringIO()) == "json"
    assert logs.resolve_format("text", io.StringIO()) == "text"
    assert Settings.from_env({"MUSEUM_LOG_FORMAT": "JSON"}).log_format == "json"


def test_configure_replaces_only_its_own_handler() -> None:
    root = logging.getLogger()
    # Another test's configure() may have left its own handler; configure replaces that one.
    before = [h for h in root.handlers if h.get_name() != "museum"]
    level = root.level
    try:
        first = logs.configure("warning", "json", io.StringIO())
        second = logs.configure("info", "text", io.StringIO())
        assert first not in root.handlers and second in root.handlers
        assert [h for h in root.handlers if h is not second] == before
    finally:
        root.removeHandler(second)
        root.setLevel(level)


@pytest.mark.slow
def test_museum_serve_writes_json_lines_to_stderr(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_")}
    env.update(
        MUSEUM_DATA_DIR=str(tmp_path / "data"),
        MUSEUM_LOG_FORMAT="json",
        MUSEUM_LOG_LEVEL="info",
        MUSEUM_MIN_FREE_DISK="0",
    )
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [MUSEUM, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, stderr.read_text(errors="replace")
            assert time.monotonic() < deadline, stderr.read_text(errors="replace")
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/readyz",
                    headers={"x-request-id": "live-1"},
                    timeout=2,
                    trust_env=False,
                )
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer.headers["x-request-id"] == "live-1"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
    lines = [json.loads(line) for line in stderr.read_text().splitlines()]
    loggers = {line["logger"] for line in lines}
    assert "uvicorn.error" in loggers  # uvicorn's own lines go through the same formatter
    assert "uvicorn.access" not in loggers  # ours replaces it
    (access,) = [line for line in lines if line.get("request_id") == "live-1"]
    assert access["logger"] == "server.access" and access["route"] == "readyz"
    assert access["client"] == "127.0.0.1" and access["status"] == 200
