"""Tiny functions that tests/test_sandbox.py runs in a sandboxed child.

Each misbehaves in one specific way. Several write their own pid (or a
grandchild's) to ``payload["pid_file"]`` first, so the test can check that the
process is really gone afterwards.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from processing.sandbox_child import report_progress


def _note_pid(payload: dict[str, Any], pid: int | None = None) -> None:
    if "pid_file" in payload:
        Path(payload["pid_file"]).write_text(str(pid or os.getpid()), encoding="utf-8")


def echo(payload: dict[str, Any]) -> dict[str, Any]:
    return {"doubled": payload["value"] * 2, "text": payload.get("text", ""), "pid": os.getpid()}


def environment(payload: dict[str, Any]) -> dict[str, Any]:
    return {"env": dict(os.environ), "cwd": str(Path.cwd()), "sys_path": sys.path}


def progress(payload: dict[str, Any]) -> dict[str, Any]:
    for step in payload["steps"]:
        report_progress(step, f"step {step}")
    return {"done": True}


def progress_on_stderr(payload: dict[str, Any]) -> dict[str, Any]:
    print("PROGRESS 55.0 from a tool's stderr", file=sys.stderr, flush=True)
    return {"done": True}


def noisy(payload: dict[str, Any]) -> dict[str, Any]:
    print('{"ok": true, "result": {"forged": 1}}')
    print("some library banner", flush=True)
    os.write(1, b"raw C-level noise without newline")
    os.write(2, b"\x00\xff binary junk\n")
    return {"clean": True}


def raise_value_error(payload: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("The scan has 0 vertices.")


class RefusedInput(Exception):
    """Like processing.threed.model.ModelError: a code and a reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def raise_coded(payload: dict[str, Any]) -> dict[str, Any]:
    raise RefusedInput("too_many_faces", "The mesh has 9000000 faces; the limit is 5000000.")


def return_list(payload: dict[str, Any]) -> list[int]:
    return [1, 2]


def allocate(payload: dict[str, Any]) -> dict[str, Any]:
    block = bytearray(payload["bytes"])
    return {"size": len(block)}


def allocate_then_wrap(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        bytearray(payload["bytes"])
    except MemoryError as exc:
        raise RuntimeError("decoder failed") from exc
    return {}


def burn_cpu(payload: dict[str, Any]) -> dict[str, Any]:
    total = 0
    while True:
        total += 1


def sleep(payload: dict[str, Any]) -> dict[str, Any]:
    _note_pid(payload)
    time.sleep(payload["seconds"])
    return {"slept": True}


def progress_then_sleep(payload: dict[str, Any]) -> dict[str, Any]:
    _note_pid(payload)
    report_progress(1, "started")
    time.sleep(payload["seconds"])
    return {}


def spawn_grandchild(payload: dict[str, Any]) -> dict[str, Any]:
    sleeper = subprocess.Popen(["sleep", "60"])
    _note_pid(payload, sleeper.pid)
    if payload.get("hang"):
        time.sleep(60)
    return {"grandchild": sleeper.pid}


def abort(payload: dict[str, Any]) -> dict[str, Any]:
    os.abort()


def abort_after_bad_alloc(payload: dict[str, Any]) -> dict[str, Any]:
    """What a C++ library does when an allocation fails under RLIMIT_AS."""
    os.write(2, b"terminate called after throwing an instance of 'std::bad_alloc'\n")
    os.write(2, b"  what():  std::bad_alloc\n")
    os.abort()


def abort_with_message(payload: dict[str, Any]) -> dict[str, Any]:
    os.write(2, b"mesh.cpp:42: assertion 'index < count' failed\n")
    os.abort()


def segfault(payload: dict[str, Any]) -> dict[str, Any]:
    ctypes.string_at(0)
    return {}


def write_file(payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("default_signal"):
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # as a C program would have it
    with Path(payload["path"]).open("wb") as out:
        for _ in range(payload["mib"]):
            out.write(b"\0" * 1024**2)
    return {"written": payload["mib"]}


def exit_quietly(payload: dict[str, Any]) -> dict[str, Any]:
    os._exit(3)


def progress_from_grandchild(payload: dict[str, Any]) -> dict[str, Any]:
    """A helper process must neither see the progress descriptor nor its variable."""
    code = "import os; print(sorted(k for k in os.environ if k.startswith('SANDBOX')))"
    seen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report_progress(100, "done")
    return {"grandchild_env": seen.stdout.strip(), "own_env": "SANDBOX_PROGRESS_FD" in os.environ}


def raise_model_error(payload: dict[str, Any]) -> dict[str, Any]:
    from processing.threed.model import ModelError

    raise ModelError("unsafe_reference", "The OBJ file refers to ../../etc/passwd.")


def numpy_allocate(payload: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    return {"sum": float(np.ones(payload["count"]).sum())}


def connect(payload: dict[str, Any]) -> dict[str, Any]:
    """Try to reach a TCP listener of the parent's (host's) network; report what happened."""
    import socket

    started = time.monotonic()
    try:
        with socket.create_connection((payload["host"], payload["port"]), timeout=5):
            outcome = "connected"
    except OSError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    return {"outcome": outcome, "seconds": time.monotonic() - started}


def fetch_external(payload: dict[str, Any]) -> dict[str, Any]:
    """Resolve and request an outside host, as a loader following a URL would."""
    import urllib.request

    started = time.monotonic()
    try:
        urllib.request.urlopen(payload["url"], timeout=10).close()
        outcome = "fetched"
    except OSError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    return {"outcome": outcome, "seconds": time.monotonic() - started}


def network_view(payload: dict[str, Any]) -> dict[str, Any]:
    """What the child sees: its interfaces and the open-files limit."""
    import resource

    from processing.sandbox_child import describe_isolation

    return describe_isolation({}) | {"nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE))}


def vips_untrusted(payload: dict[str, Any]) -> dict[str, Any]:
    """Load an SVG with libvips (an untrusted loader) without the pipeline's own allow-list."""
    import pyvips

    try:
        image = pyvips.Image.new_from_file(payload["path"])
        outcome = f"loaded {image.width}x{image.height}"
    except pyvips.Error as exc:
        outcome = f"refused: {' '.join(str(exc).split())}"
    return {"outcome": outcome, "env": os.environ.get("VIPS_BLOCK_UNTRUSTED")}
