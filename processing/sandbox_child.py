"""The child side of :mod:`processing.sandbox`: apply limits, run one function, write its result.

Started as ``python -P -m processing.sandbox_child <job.json>`` by
:func:`processing.sandbox.run_in_child`. The job file names the target
(``"package.module:function"``), its payload, the limits and the path of the
result file. The result (or the error) is written there as JSON, atomically,
and never to stdout: libraries are free to print whatever they like.

Target functions report progress with :func:`report_progress`; outside a
sandbox that writes the same ``PROGRESS`` line to stderr, so a function
behaves the same when called directly.

Importing this module has no side effects (the architecture test imports it).
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import importlib
import json
import os
import resource
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

PROGRESS_FD_ENV = "SANDBOX_PROGRESS_FD"
PROGRESS_PREFIX = "PROGRESS "
# Exit status when memory ran out so badly that not even the error could be written.
EXIT_OUT_OF_MEMORY = 86
EXIT_REPORTED = 1
# Seconds between the soft CPU limit (SIGXCPU) and the hard one (SIGKILL).
CPU_GRACE_SECONDS = 2
_REASON_MAX = 500
_PR_SET_PDEATHSIG = 1
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
# What the child's network is: "isolated" (a namespace with only a loopback that is down),
# "off" (isolation not asked for) or "unavailable: <why>"; see isolate_network().
NETWORK_MODES = ("auto", "require", "off")
ISOLATED = "isolated"
_progress_fd: int | None = None  # set by main() in the sandbox; stderr otherwise
_network = "off"  # set by main() in the sandbox


def report_progress(percent: float, message: str) -> None:
    """Tell the parent how far the work is; cheap enough to call often.

    One ``os.write`` of a short line is atomic on a pipe, so threads in the
    target may call this concurrently without mixing lines.
    """
    text = " ".join(str(message).split())
    line = f"{PROGRESS_PREFIX}{float(percent):.1f} {text}".rstrip() + "\n"
    data = line.encode("utf-8", "replace")[:4000]
    fd = 2 if _progress_fd is None else _progress_fd
    with contextlib.suppress(OSError):  # the parent has gone; the work may still finish
        os.write(fd, data)


def _take_progress_fd() -> None:
    """Adopt the progress pipe and hide it from grandchildren.

    The variable is removed and the descriptor made non-inheritable so a
    helper process can never write "progress" into an unrelated file that
    happens to reuse the number.
    """
    global _progress_fd
    text = os.environ.pop(PROGRESS_FD_ENV, "")
    if text.isdigit():
        _progress_fd = int(text)
        os.set_inheritable(_progress_fd, False)


def main(argv: list[str]) -> int:
    """Run the job named on the command line; the exit status is for the parent only."""
    if len(argv) != 2:
        print("usage: python -m processing.sandbox_child JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    _take_progress_fd()
    faulthandler.enable()  # a segfault leaves a Python traceback in the parent's output tail
    _die_with_parent(int(job["parent_pid"]))
    global _network
    mode = str(job.get("network", "auto"))
    _network = isolate_network(mode)
    result_path = Path(job["result_path"])
    if mode == "require" and _network != ISOLATED:
        reason = f"The job must run without network access, but {_network.split(': ', 1)[-1]}."
        envelope = _envelope("sandbox_unavailable", reason[:_REASON_MAX], "")
        _write_atomically(result_path, json.dumps(envelope | {"network": _network}))
        return EXIT_REPORTED
    _apply_limits(job["limits"])
    ok, text = _run(str(job["target"]), job.pop("payload"))
    _write_atomically(result_path, text)
    return 0 if ok else EXIT_REPORTED


def isolate_network(mode: str) -> str:
    """Move this process into a new, empty network namespace; say how that went.

    Only a loopback interface exists there, and it is down, so neither the
    target nor any tool it starts (ffmpeg, a decoder's delegate) can connect
    anywhere: not to the internet, not to a service on the host's 127.0.0.1.
    Unix sockets bound to file paths stay reachable (filesystem, not network);
    the private working directory and clean environment are the guard there.

    As root, ``unshare(CLONE_NEWNET)`` suffices; otherwise a user namespace
    (mapping our own uid and gid onto themselves) grants the right to make
    one. Must run while the process has one thread: the kernel refuses to
    move a threaded process into a new user namespace.
    """
    if mode == "off":
        return "off"
    if not sys.platform.startswith("linux"):
        return "unavailable: network namespaces exist only on Linux"
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_CLONE_NEWNET) == 0:
        return ISOLATED
    first = ctypes.get_errno()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
        with contextlib.suppress(OSError):  # without the maps the uid shows as "nobody"
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        return ISOLATED
    second = ctypes.get_errno()
    return (
        "unavailable: the kernel refused a network namespace "
        f"({os.strerror(first)}; with a user namespace: {os.strerror(second)})"
    )


def network_status() -> str:
    """How :func:`main` left this child's network (for targets and ``museum doctor``)."""
    return _network


def describe_isolation(payload: dict[str, Any]) -> dict[str, Any]:
    """A sandbox target that reports what it can see of the network (``museum doctor``)."""
    try:
        lines = Path("/proc/net/dev").read_text(encoding="utf-8").splitlines()[2:]
    except OSError:
        lines = []
    interfaces = sorted(line.split(":", 1)[0].strip() for line in lines if ":" in line)
    return {"network": _network, "interfaces": interfaces}


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process if the parent dies, so no job outlives its worker."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(EXIT_REPORTED)


def _apply_limits(limits: dict[str, int]) -> None:
    """Set the rlimits before the target is even imported, and switch off core dumps."""
    cpu = int(limits["cpu_seconds"])
    _set_limit(resource.RLIMIT_AS, int(limits["memory_bytes"]), int(limits["memory_bytes"]))
    _set_limit(resource.RLIMIT_CPU, cpu, cpu + CPU_GRACE_SECONDS)
    _set_limit(resource.RLIMIT_FSIZE, int(limits["file_bytes"]), int(limits["file_bytes"]))
    _set_limit(resource.RLIMIT_CORE, 0, 0)
    if "open_files" in limits:
        _set_limit(resource.RLIMIT_NOFILE, int(limits["open_files"]), int(limits["open_files"]))


def _set_limit(which: int, soft: int, hard: int) -> None:
    """Lower a limit; an unprivileged process cannot raise a hard limit, so never ask to."""
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def _run(target: str, payload: dict[str, Any]) -> tuple[bool, str]:
    """Import and call the target; turn whatever happens into a JSON envelope (ok, text)."""
    try:
        module_name, _, function_name = target.partition(":")
        function = getattr(importlib.import_module(module_name), function_name)
        result = function(payload)
        if not isinstance(result, dict):
            raise TypeError(f"{target} returned {type(result).__name__}, not a dict")
        ok = {"ok": True, "result": result, "network": _network}
        return True, json.dumps(ok, allow_nan=False)
    except BaseException as exc:  # noqa: BLE001 - even SystemExit is the target's failure
        envelope = _error_envelope(exc)
        if envelope["code"] != "memory":  # formatting a traceback needs memory too
            _print_traceback(exc)
    return False, json.dumps(envelope | {"network": _network})


_MAP_FAILED = "failed to map segment from shared object"


def _error_envelope(exc: BaseException) -> dict[str, Any]:
    """Classify an exception: the target's own code/reason win, then memory and file size."""
    error_type = _type_name(exc)
    code = getattr(exc, "code", None)
    reason = getattr(exc, "reason", None)
    if isinstance(code, str) and isinstance(reason, str):
        return _envelope(code, reason, error_type)
    for link in _chain(exc):
        if isinstance(link, MemoryError) or _MAP_FAILED in str(link):
            # A native library that cannot be mapped under the address-space limit.
            return _envelope("memory", "", error_type)
        if isinstance(link, OSError) and link.errno == errno.EFBIG:
            return _envelope("file_size", "", error_type)
    if isinstance(exc, SystemExit):
        message = f"The function called sys.exit({exc.code!r})."
    else:
        message = " ".join(str(exc).split()) or error_type
    return _envelope("failed", message[:_REASON_MAX], error_type)


def _envelope(code: str, reason: str, error_type: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "reason": reason, "error_type": error_type}


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes/contexts, without looping on cycles."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _print_traceback(exc: BaseException) -> None:
    """Leave the traceback in stderr, where the parent keeps the last lines for diagnosis."""
    with contextlib.suppress(Exception):  # diagnostics must never hide the real error
        traceback.print_exception(exc, file=sys.stderr)


def _write_atomically(path: Path, text: str) -> None:
    """Write tmp + rename, so the parent reads a whole result or none."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def run_as_program(argv: list[str]) -> None:
    """Run :func:`main` and leave without interpreter teardown.

    Some native libraries crash in their destructors; the result is already
    safely on disk, so ``os._exit`` skips that risk.
    """
    try:
        status = main(argv)
    except MemoryError:
        status = EXIT_OUT_OF_MEMORY  # not even the error envelope fitted
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    # Run in the importable module, not in ``__main__``: targets import
    # ``processing.sandbox_child.report_progress`` and must see the same state.
    from processing.sandbox_child import run_as_program as _run_as_program

    _run_as_program(sys.argv)
