"""A local fake of an OpenAI-compatible server (``POST /v1/chat/completions``) for drafting tests.

It runs in a thread on 127.0.0.1 at a free port, answers as its ``mode`` says, and keeps
every request body it received.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("ok", "slow", "500", "429", "400", "not_json", "no_choices", "empty", "nfd", "long")
SLOW_SECONDS = 2.0


@dataclass
class FakeLLM:
    url: str  # ends in /v1
    mode: str = "ok"
    reply: str = "Cồng chiêng của người Êđê ở Đắk Lắk."
    model: str = "fake-vision:7b"
    received: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _answer(fake: FakeLLM) -> tuple[int, bytes]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": fake.model,
        "system_fingerprint": "fp_test_1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": fake.reply}}],
    }
    mode = fake.mode
    if mode == "500":
        return 500, b'{"error": {"message": "model crashed"}}'
    if mode == "429":
        return 429, b'{"error": {"message": "too many requests"}}'
    if mode == "400":
        return 400, b'{"error": {"message": "model does not support images"}}'
    if mode == "not_json":
        return 200, b"<html>proxy error</html>"
    if mode == "no_choices":
        return 200, json.dumps({"model": fake.model, "choices": []}).encode()
    if mode == "empty":
        body["choices"][0]["message"]["content"] = "   \n "
    if mode == "nfd":
        import unicodedata

        body["choices"][0]["message"]["content"] = unicodedata.normalize("NFD", fake.reply)
    if mode == "long":
        body["choices"][0]["message"]["content"] = "chiêng " * 2000
    return 200, json.dumps(body, ensure_ascii=False).encode()


@contextmanager
def fake_llm() -> Iterator[FakeLLM]:
    holder: dict[str, FakeLLM] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake = holder["fake"]
            length = int(self.headers.get("content-length", "0"))
            data = self.rfile.read(length)
            fake.paths.append(self.path)
            fake.received.append(json.loads(data))
            if fake.mode == "slow":
                time.sleep(SLOW_SECONDS)
            status, body = _answer(fake)
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["fake"] = FakeLLM(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["fake"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
