"""Run one media-processing function in a child process with hard limits.

Decoding and converting untrusted media (3D scans now; images and video
later) runs native code that may crash, hang or eat all memory. Running it in
the worker process would turn such an input into a dead worker; here it
becomes a :class:`SandboxError` with a stable ``code`` and a one-line English
``reason`` instead.

The child (:mod:`processing.sandbox_child`) runs in its own session and
process group, in a network namespace of its own (no network at all: see
:func:`processing.sandbox_child.isolate_network`), with rlimits on address
space, CPU time, file size and open files, libvips' untrusted loaders
blocked, a private temporary directory as HOME, TMPDIR and working
directory (removed afterwards) and a clean environment; the parent enforces
wall time and, whatever happens (success, timeout, an
exception or Ctrl-C in the parent), SIGKILLs the whole group and reaps the
child, so no zombie or grandchild is left behind. The result travels through
a JSON file, never stdout, so library noise cannot corrupt it.

Limits and their caveats:

* ``memory_bytes`` is ``RLIMIT_AS``: address space, not resident memory.
  Libraries that reserve big virtual ranges (thread stacks, malloc arenas,
  BLAS buffers) need headroom; setting ``threads`` keeps that small.
* A grandchild that calls ``setsid()`` leaves the process group and escapes
  the final kill; containing that needs cgroups, which a worker may not have.
* ``RLIMIT_NPROC`` is not set: it counts every process of the user, not the
  child's, so it would make a busy worker's jobs fail at random.
* Where the kernel allows no network namespace, ``network="auto"`` runs the
  job anyway and logs a warning (``museum doctor`` shows it); ``"require"``
  refuses to run it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from processing.sandbox_child import (
    EXIT_OUT_OF_MEMORY,
    ISOLATED,
    NETWORK_MODES,
    PROGRESS_FD_ENV,
    PROGRESS_PREFIX,
)

log = logging.getLogger(__name__)

GIB = 1024**3
OUTPUT_TAIL_LINES = 50
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
    "VIPS_CONCURRENCY",
)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_TARGET_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_MAX_LINE_BYTES = 64 * 1024
_DRAIN_SECONDS = 2.0
_POLL_SECONDS = 0.1
# Output that shows a crash was really an allocation failure in native code.
_OUT_OF_MEMORY_HINTS = re.compile(
    r"bad_alloc|out of memory|cannot allocate memory|memoryerror|failed to allocate"
    r"|memory allocation failed",
    re.IGNORECASE,
)
_CRASH_REPORT_NOISE = re.compile(
    r"(Fatal Python error|Current thread|Thread 0x|Stack \(most recent|Extension modules"
    r"|Traceback \(most recent|Python runtime state)"
)
_CRASH_SIGNALS = (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS)


@dataclass(frozen=True)
class ChildLimits:
    """What one child may use; the defaults suit a large photogrammetry scan."""

    memory_bytes: int = 6 * GIB  # RLIMIT_AS
    cpu_seconds: int = 3600  # RLIMIT_CPU
    wall_seconds: float = 3600.0  # enforced by the parent (kill the whole process group)
    file_bytes: int = 16 * GIB  # RLIMIT_FSIZE
    threads: int | None = None  # OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, … in the child
    open_files: int = 4096  # RLIMIT_NOFILE
    network: str = "auto"  # auto | require | off: a network namespace (MUSEUM_SANDBOX_NETWORK)

    def __post_init__(self) -> None:
        if self.network not in NETWORK_MODES:
            raise ValueError(f"ChildLimits.network must be one of {NETWORK_MODES}")
        for name, value in asdict(self).items():
            if isinstance(value, int | float) and not value > 0:
                raise ValueError(f"ChildLimits.{name} must be positive, not {value!r}")


class SandboxError(Exception):
    """The child did not return a result.

    ``code`` is one of ``memory``, ``cpu_time``, ``wall_time``, ``crashed``,
    ``failed``, ``file_size``, ``sandbox_unavailable`` (``network="require"`` and no
    namespace could be made) — or the target's own code when its exception
    carried ``code`` and ``reason`` (like ``ModelError``), so callers can tell
    a refused input from a crash. ``reason`` is one English line.
    ``error_type`` names the child's exception class when there was one;
    ``output`` holds the last lines the child printed, for logs.
    """

    def __init__(
        self, code: str, reason: str, *, error_type: str | None = None, output: str = ""
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.error_type = error_type
        self.output = output

    def __reduce__(self) -> tuple[Any, ...]:
        """Survive pickling (task queues pickle exceptions) with every field intact."""
        state = {"error_type": self.error_type, "output": self.output}
        return (type(self), (self.code, self.reason), state)


def parse_progress(rest: str) -> tuple[float, str]:
    """Split what ``on_line`` receives ("42.0 Decimating") into (42.0, "Decimating")."""
    head, _, message = rest.partition(" ")
    try:
        return float(head), message
    except ValueError:
        return 0.0, rest


def run_in_child(
    target: str,
    payload: dict[str, Any],
    limits: ChildLimits,
    *,
    cwd: Path | None = None,
    on_line: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Call ``function(payload)`` for ``target`` = "package.module:function" in a child.

    Returns the dict the function returned. Raises :class:`SandboxError` when
    the function raised, crashed or hit a limit. ``on_line`` receives the text
    after "PROGRESS " of each progress line (see
    :func:`processing.sandbox_child.report_progress`), in order, in this thread.
    """
    if not _TARGET_RE.match(target):
        raise ValueError(f"target must look like 'package.module:function', not {target!r}")
    job_text = json.dumps({"target": target, "payload": payload})  # fail early if not JSON
    with _private_dir() as workdir:
        result_path = workdir / "result.json"
        job_path = workdir / "job.json"
        job = json.loads(job_text)
        job.update(
            result_path=str(result_path),
            parent_pid=os.getpid(),
            network=limits.network,
            limits={
                "memory_bytes": limits.memory_bytes,
                "cpu_seconds": limits.cpu_seconds,
                "file_bytes": limits.file_bytes,
                "open_files": limits.open_files,
            },
        )
        job_path.write_text(json.dumps(job), encoding="utf-8")
        del job, job_text
        outcome = _supervise(job_path, workdir, limits, cwd or workdir, on_line)
        return _interpret(outcome, result_path, limits)


@dataclass
class _Outcome:
    """What the parent saw of one child run."""

    returncode: int
    cpu_seconds: float
    timed_out: bool
    output: str


@contextlib.contextmanager
def _private_dir() -> Iterator[Path]:
    """A temp dir for the job, the result and the child's TMPDIR/HOME; always removed."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _child_env(workdir: Path, limits: ChildLimits, progress_fd: int) -> dict[str, str]:
    """Only what the child needs: no proxies, credentials or museum settings leak in."""
    python_path = [str(PROJECT_ROOT)]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(python_path),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # libvips refuses its loaders built on libraries not hardened against hostile
        # input (ImageMagick, SVG, FITS, MATLAB, …) in the child and in every tool it starts.
        "VIPS_BLOCK_UNTRUSTED": "1",
        PROGRESS_FD_ENV: str(progress_fd),
    }
    if limits.threads is not None:
        env.update(dict.fromkeys(THREAD_ENV_VARS, str(limits.threads)))
    return env


def _supervise(
    job_path: Path,
    workdir: Path,
    limits: ChildLimits,
    cwd: Path,
    on_line: Callable[[str], None] | None,
) -> _Outcome:
    """Start the child, pump its output until it exits or times out, then clean up.

    The ``finally`` kills the process group before reaping the child: the
    group id cannot be reused while the (possibly zombie) leader is unreaped,
    so the kill can never hit an unrelated process.
    """
    progress_read, progress_write = os.pipe()
    # -P: never put the cwd (which may hold uploaded files) on sys.path.
    command = [sys.executable, "-P", "-m", "processing.sandbox_child", str(job_path)]
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=_child_env(workdir, limits, progress_write),
            pass_fds=(progress_write,),
            start_new_session=True,
        )
    except BaseException:
        os.close(progress_read)
        raise
    finally:
        os.close(progress_write)
    assert proc.stdout is not None
    pump = _OutputPump(on_line)
    try:
        timed_out = pump.run(proc.pid, [proc.stdout.fileno(), progress_read], limits.wall_seconds)
    except BaseException:
        pump.silence()  # the caller's callback may be what failed; don't call it again
        raise
    finally:
        _kill_group(proc.pid)
        returncode, cpu = _reap(proc)
        try:
            pump.drain(_DRAIN_SECONDS)
        finally:
            proc.stdout.close()
            os.close(progress_read)
    return _Outcome(returncode, cpu, timed_out, pump.tail())


class _OutputPump:
    """Reads the child's output and progress pipes; forwards PROGRESS lines, keeps a tail."""

    def __init__(self, on_line: Callable[[str], None] | None) -> None:
        self._on_line = on_line
        self._buffers: dict[int, bytes] = {}
        self._tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        self._selector = selectors.DefaultSelector()

    def run(self, pid: int, fds: list[int], wall_seconds: float) -> bool:
        """Pump until the child exits (True if the wall time ran out first)."""
        for fd in fds:
            self._buffers[fd] = b""
            self._selector.register(fd, selectors.EVENT_READ)
        pidfd = _open_pidfd(pid)
        if pidfd is not None:
            self._selector.register(pidfd, selectors.EVENT_READ)
        deadline = time.monotonic() + wall_seconds
        try:
            while not _has_exited(pid):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return True
                wait = remaining if pidfd is not None else min(remaining, _POLL_SECONDS)
                for key, _ in self._selector.select(wait):
                    if key.fd != pidfd:
                        self._read(int(key.fd))
            return False
        finally:
            if pidfd is not None:
                self._selector.unregister(pidfd)
                os.close(pidfd)

    def drain(self, seconds: float) -> None:
        """Read what is left after the exit, bounded in case an escaped process holds a pipe."""
        deadline = time.monotonic() + seconds
        while self._selector.get_map() and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in self._selector.select(remaining):
                self._read(int(key.fd))
        for fd in list(self._selector.get_map()):
            self._selector.unregister(fd)
        for fd, rest in self._buffers.items():
            if rest:
                self._line(rest)
            self._buffers[fd] = b""
        self._selector.close()

    def silence(self) -> None:
        """Stop forwarding progress (used while the parent is unwinding an exception)."""
        self._on_line = None

    def tail(self) -> str:
        return "\n".join(self._tail)

    def _read(self, fd: int) -> None:
        chunk = os.read(fd, 65536)
        if not chunk:
            self._selector.unregister(fd)
            return
        data = self._buffers[fd] + chunk
        *lines, rest = data.split(b"\n")
        if len(rest) > _MAX_LINE_BYTES:  # a runaway line without newline: cut it
            lines.append(rest)
            rest = b""
        self._buffers[fd] = rest
        for line in lines:
            self._line(line)

    def _line(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if line.startswith(PROGRESS_PREFIX):
            if self._on_line is not None:
                self._on_line(line[len(PROGRESS_PREFIX) :])
        elif line.strip():
            self._tail.append(line[:1000])


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the child exits (Linux ≥ 5.3), else poll."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _has_exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (the group id must stay reserved)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _kill_group(pgid: int) -> None:
    """SIGKILL the child's whole process group: the child and every grandchild."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for the (killed or exited) child; return its status and the CPU time it used."""
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # already reaped elsewhere; keep what Popen knows
        return (proc.wait() if proc.returncode is None else proc.returncode), 0.0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def _interpret(outcome: _Outcome, result_path: Path, limits: ChildLimits) -> dict[str, Any]:
    """Turn what happened into the result or the matching SandboxError."""
    if outcome.timed_out:
        seconds = f"{limits.wall_seconds:g}"
        raise SandboxError(
            "wall_time",
            f"The processing took longer than its time limit ({seconds} s) and was stopped.",
            output=outcome.output,
        )
    envelope = _read_envelope(result_path)
    if envelope is not None:
        _note_network(str(envelope.get("network", "")), limits)
        return _from_envelope(envelope, outcome, limits)
    raise _failure_without_result(outcome, limits)


_warned_network = False


def _note_network(status: str, limits: ChildLimits) -> None:
    """Warn (once per process) when a job ran with the network reachable against the setting."""
    global _warned_network
    if limits.network == "off" or status == ISOLATED or _warned_network:
        return
    _warned_network = True
    log.warning("Media jobs run without network isolation: %s", status or "unknown")


def network_isolation(timeout: float = 30.0) -> str:
    """What a sandboxed child gets: "isolated" or "unavailable: <why>" (``museum doctor``)."""
    limits = ChildLimits(memory_bytes=GIB, cpu_seconds=10, wall_seconds=timeout)
    result = run_in_child("processing.sandbox_child:describe_isolation", {}, limits)
    status = str(result.get("network", ""))
    if status == ISOLATED and result.get("interfaces") != ["lo"]:
        return f"unavailable: the child still sees {', '.join(result['interfaces'])}"
    return status


def _read_envelope(path: Path) -> dict[str, Any] | None:
    try:
        envelope = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return envelope if isinstance(envelope, dict) else None


def _from_envelope(
    envelope: dict[str, Any], outcome: _Outcome, limits: ChildLimits
) -> dict[str, Any]:
    """The child's own account: its result, or the error it classified."""
    result = envelope.get("result")
    if envelope.get("ok") and isinstance(result, dict):
        return result
    code = str(envelope.get("code") or "failed")
    reason = str(envelope.get("reason") or "")
    error_type = envelope.get("error_type")
    if code == "memory" and not reason:
        reason = _memory_reason(limits)
    elif code == "file_size" and not reason:
        reason = _file_size_reason(limits)
    elif not reason:
        reason = "The processing failed without a message."
    raise SandboxError(
        code, reason, error_type=str(error_type) if error_type else None, output=outcome.output
    )


def _failure_without_result(outcome: _Outcome, limits: ChildLimits) -> SandboxError:
    """The child died or exited without writing a result: name the signal or status."""
    code = outcome.returncode
    if code == EXIT_OUT_OF_MEMORY:
        return SandboxError("memory", _memory_reason(limits), output=outcome.output)
    if code >= 0:
        reason = f"The processing exited with status {code} without a result."
        return SandboxError("crashed", _with_last_line(reason, outcome), output=outcome.output)
    number = -code
    if number == signal.SIGXCPU or (
        number == signal.SIGKILL and outcome.cpu_seconds >= limits.cpu_seconds
    ):
        return SandboxError(
            "cpu_time",
            f"The processing used more than its CPU time limit ({limits.cpu_seconds} s).",
            output=outcome.output,
        )
    if number == signal.SIGXFSZ:
        return SandboxError("file_size", _file_size_reason(limits), output=outcome.output)
    if number in _CRASH_SIGNALS and _OUT_OF_MEMORY_HINTS.search(outcome.output):
        return SandboxError("memory", _memory_reason(limits), output=outcome.output)
    return SandboxError("crashed", _crash_reason(number, outcome), output=outcome.output)


def _crash_reason(number: int, outcome: _Outcome) -> str:
    name = _signal_name(number)
    description = signal.strsignal(number) or name
    reason = f"The processing crashed: killed by signal {name} ({description})."
    if number == signal.SIGKILL:
        reason = reason[:-1] + ", perhaps by the system's out-of-memory killer."
    return _with_last_line(reason, outcome)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _with_last_line(reason: str, outcome: _Outcome) -> str:
    """Append the child's last telling output line, often the one that explains a crash.

    Python's own crash report (faulthandler's stack, the "Fatal Python error"
    header) is skipped: the signal is already named and the stack is in ``output``.
    """
    for line in reversed(outcome.output.splitlines()):
        if line[:1].isspace() or _CRASH_REPORT_NOISE.match(line):
            continue
        return f"{reason} Last output: {' '.join(line.split())[:200]}"
    return reason


def _memory_reason(limits: ChildLimits) -> str:
    return f"The processing ran out of memory (limit {_size(limits.memory_bytes)})."


def _file_size_reason(limits: ChildLimits) -> str:
    return (
        f"The processing tried to write a file larger than its limit ({_size(limits.file_bytes)})."
    )


def _size(count: int) -> str:
    """Bytes in a readable unit: 6 GiB → "6.0 GiB", 512 MiB → "0.5 GiB", 1 MiB → "1.0 MiB"."""
    for unit, scale in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale / 10:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
