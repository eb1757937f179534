"""processing.sandbox: real child processes that succeed, fail, crash and hit every limit."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from processing.sandbox import ChildLimits, SandboxError, parse_progress, run_in_child

T = "tests.sandbox_targets:"
QUICK = ChildLimits(memory_bytes=2 * 1024**3, cpu_seconds=30, wall_seconds=30.0)
MIB = 1024**2


def run(name: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    limits = kwargs.pop("limits", QUICK)
    return run_in_child(T + name, payload or {}, limits, **kwargs)


def fail(name: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> SandboxError:
    with pytest.raises(SandboxError) as info:
        run(name, payload, **kwargs)
    return info.value


def is_gone(pid: int) -> bool:
    """No such process, or only a zombie left for init (this container's init may not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        time.sleep(0.02)
    return is_gone(pid)


def read_pid(path: Path) -> int:
    return int(path.read_text())


def test_a_normal_target_returns_its_dict_from_another_process() -> None:
    result = run("echo", {"value": 21, "text": "Buôn Ma Thuột"})
    assert result["doubled"] == 42
    assert result["text"] == "Buôn Ma Thuột"
    assert result["pid"] != os.getpid()


def test_progress_lines_arrive_in_order() -> None:
    lines: list[str] = []
    run("progress", {"steps": [10, 50, 99.5, 100]}, on_line=lines.append)
    assert lines == ["10.0 step 10", "50.0 step 50", "99.5 step 99.5", "100.0 step 100"]
    assert [parse_progress(line) for line in lines][1] == (50.0, "step 50")


def test_the_progress_pipe_is_hidden_from_helper_processes() -> None:
    lines: list[str] = []
    result = run("progress_from_grandchild", on_line=lines.append)
    assert result == {"grandchild_env": "[]", "own_env": False}
    assert lines == ["100.0 done"]


def test_progress_printed_on_stderr_by_a_tool_is_forwarded() -> None:
    lines: list[str] = []
    run("progress_on_stderr", on_line=lines.append)
    assert lines == ["55.0 from a tool's stderr"]


def test_parse_progress_tolerates_a_line_without_a_number() -> None:
    assert parse_progress("7.5 Decimating LOD 1") == (7.5, "Decimating LOD 1")
    assert parse_progress("warming up") == (0.0, "warming up")


def test_an_exception_becomes_failed_with_its_message_and_traceback() -> None:
    error = fail("raise_value_error")
    assert error.code == "failed"
    assert error.reason == "The scan has 0 vertices."
    assert error.error_type == "ValueError"
    assert "Traceback" in error.output and "raise_value_error" in error.output


def test_an_exception_with_code_and_reason_keeps_them() -> None:
    error = fail("raise_coded")
    assert error.code == "too_many_faces"
    assert error.reason == "The mesh has 9000000 faces; the limit is 5000000."
    assert error.error_type == "tests.sandbox_targets.RefusedInput"


def test_a_model_error_keeps_its_code_so_a_refused_input_is_not_a_crash() -> None:
    error = fail("raise_model_error")
    assert error.code == "unsafe_reference"
    assert error.reason == "The OBJ file refers to ../../etc/passwd."
    assert error.error_type == "processing.threed.model.ModelError"


def test_a_result_that_is_not_a_dict_is_a_failure() -> None:
    error = fail("return_list")
    assert (error.code, error.error_type) == ("failed", "TypeError")
    assert "list" in error.reason


def test_an_unknown_target_module_is_a_failure_and_a_malformed_target_is_refused() -> None:
    with pytest.raises(SandboxError) as info:
        run_in_child("tests.no_such_module:run", {}, QUICK)
    error = info.value
    assert (error.code, error.error_type) == ("failed", "ModuleNotFoundError")
    with pytest.raises(ValueError, match=r"package\.module:function"):
        run_in_child("tests.sandbox_targets.echo", {}, QUICK)


def test_allocating_2_gib_under_a_512_mib_limit_is_memory() -> None:
    limits = ChildLimits(memory_bytes=512 * MIB, cpu_seconds=30, wall_seconds=30.0)
    error = fail("allocate", {"bytes": 2 * 1024**3}, limits=limits)
    assert error.code == "memory"
    assert error.reason == "The processing ran out of memory (limit 0.5 GiB)."
    assert error.error_type == "MemoryError"
    # The same allocation fits without the limit: the limit, not the machine, refused it.
    assert run("allocate", {"bytes": 64 * MIB})["size"] == 64 * MIB


def test_numpy_running_out_of_memory_is_memory() -> None:
    limits = ChildLimits(memory_bytes=512 * MIB, wall_seconds=30.0, threads=1)
    error = fail("numpy_allocate", {"count": 2 * 1024**3 // 8}, limits=limits)
    assert error.code == "memory"
    assert run("numpy_allocate", {"count": 1000}, limits=limits) == {"sum": 1000.0}


def test_a_memory_error_wrapped_by_the_target_is_still_memory() -> None:
    limits = ChildLimits(memory_bytes=512 * MIB, cpu_seconds=30, wall_seconds=30.0)
    error = fail("allocate_then_wrap", {"bytes": 2 * 1024**3}, limits=limits)
    assert (error.code, error.error_type) == ("memory", "RuntimeError")


def test_a_busy_loop_hits_the_cpu_limit() -> None:
    started = time.monotonic()
    error = fail("burn_cpu", limits=ChildLimits(cpu_seconds=1, wall_seconds=20.0))
    assert error.code == "cpu_time"
    assert error.reason == "The processing used more than its CPU time limit (1 s)."
    assert time.monotonic() - started < 10


def test_a_sleeper_hits_the_wall_time_and_its_process_is_gone(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    error = fail(
        "sleep",
        {"seconds": 10, "pid_file": str(pid_file)},
        limits=ChildLimits(wall_seconds=1.0),
    )
    elapsed = time.monotonic() - started
    assert error.code == "wall_time"
    assert error.reason == "The processing took longer than its time limit (1 s) and was stopped."
    assert 1.0 <= elapsed < 5.0
    pid = read_pid(pid_file)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped by us: not even a zombie is left
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_hanging_target_and_its_grandchild_are_both_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    error = fail(
        "spawn_grandchild",
        {"hang": True, "pid_file": str(pid_file)},
        limits=ChildLimits(wall_seconds=1.0),
    )
    assert error.code == "wall_time"
    assert wait_gone(read_pid(pid_file))


def test_a_grandchild_left_behind_by_a_finished_target_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    result = run("spawn_grandchild", {"pid_file": str(pid_file)})
    assert result["grandchild"] == read_pid(pid_file)
    assert wait_gone(result["grandchild"])


def test_an_exception_in_the_parent_kills_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def interrupt(line: str) -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run("progress_then_sleep", {"seconds": 30, "pid_file": str(pid_file)}, on_line=interrupt)
    assert time.monotonic() - started < 5
    with pytest.raises(ProcessLookupError):
        os.kill(read_pid(pid_file), 0)


@pytest.mark.parametrize(("target", "signal_name"), [("abort", "SIGABRT"), ("segfault", "SIGSEGV")])
def test_a_native_crash_is_crashed_naming_the_signal(target: str, signal_name: str) -> None:
    error = fail(target)
    assert error.code == "crashed"
    assert f"signal {signal_name}" in error.reason
    assert "\n" not in error.reason
    assert "Last output" not in error.reason  # Python's own crash report is not news
    assert error.error_type is None


def test_a_crash_reason_quotes_the_last_line_the_library_printed() -> None:
    error = fail("abort_with_message")
    assert error.code == "crashed"
    assert error.reason.endswith("Last output: mesh.cpp:42: assertion 'index < count' failed")


def test_an_abort_after_a_failed_native_allocation_is_memory() -> None:
    limits = ChildLimits(memory_bytes=512 * MIB, wall_seconds=30.0)
    error = fail("abort_after_bad_alloc", limits=limits)
    assert error.code == "memory"
    assert error.reason == "The processing ran out of memory (limit 0.5 GiB)."


def test_a_segfault_leaves_the_python_traceback_in_the_output() -> None:
    error = fail("segfault")
    assert "Fatal Python error" in error.output
    assert "sandbox_targets.py" in error.output


def test_exiting_without_a_result_is_crashed() -> None:
    error = fail("exit_quietly")
    assert error.code == "crashed"
    assert "status 3" in error.reason


@pytest.mark.parametrize("default_signal", [False, True], ids=["EFBIG", "SIGXFSZ"])
def test_writing_past_the_file_size_limit_is_file_size(
    tmp_path: Path, default_signal: bool
) -> None:
    limits = ChildLimits(file_bytes=1 * MIB, wall_seconds=30.0)
    payload = {"path": str(tmp_path / "big.bin"), "mib": 3, "default_signal": default_signal}
    error = fail("write_file", payload, limits=limits)
    assert error.code == "file_size"
    assert error.reason == "The processing tried to write a file larger than its limit (1.0 MiB)."
    assert (tmp_path / "big.bin").stat().st_size <= MIB


def test_garbage_on_stdout_and_stderr_does_not_break_the_result() -> None:
    assert run("noisy") == {"clean": True}


def test_the_child_gets_a_minimal_private_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("MUSEUM_SECRET_KEY", "do-not-leak")
    result = run("environment", limits=ChildLimits(threads=2))
    env = result["env"]
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "2"
    assert "HTTPS_PROXY" not in env and "MUSEUM_SECRET_KEY" not in env
    assert env["HOME"] == env["TMPDIR"] == result["cwd"]
    assert env["LANG"] == "C.UTF-8"
    assert not Path(env["TMPDIR"]).exists()  # the private dir is removed afterwards
    assert "OMP_NUM_THREADS" not in run("environment")["env"]


def test_an_untrusted_cwd_cannot_shadow_modules(tmp_path: Path) -> None:
    (tmp_path / "json.py").write_text("raise SystemExit('shadowed')\n")
    result = run("environment", cwd=tmp_path)
    assert result["cwd"] == str(tmp_path)
    assert str(tmp_path) not in result["sys_path"]


def test_a_sandbox_error_survives_pickling_for_the_task_queue() -> None:
    error = fail("raise_value_error")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.reason, copy.error_type) == ("failed", error.reason, "ValueError")
    assert copy.output == error.output and str(copy) == error.reason


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="wall_seconds"):
        ChildLimits(wall_seconds=0)


class Listener:
    """A TCP listener on the parent's 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Any:
    trap = Listener()
    yield trap
    trap.close()


def test_the_child_cannot_reach_a_listener_on_the_hosts_loopback(listener: Listener) -> None:
    payload = {"host": "127.0.0.1", "port": listener.port}
    # The same connection from a child without isolation works: the listener is real.
    reached = run("connect", payload, limits=ChildLimits(wall_seconds=30.0, network="off"))
    assert reached["outcome"] == "connected"
    assert listener.accepted == 1
    refused = run("connect", payload)
    assert refused["outcome"].startswith("OSError") and "unreachable" in refused["outcome"]
    assert refused["seconds"] < 1
    time.sleep(0.3)
    assert listener.accepted == 1  # nothing more arrived


def test_an_external_request_fails_fast_in_the_child() -> None:
    result = run("fetch_external", {"url": "http://example.com/"})
    assert result["outcome"] != "fetched"
    assert result["seconds"] < 3


def test_the_child_sees_only_a_loopback_and_a_bounded_open_files_limit() -> None:
    view = run("network_view", limits=ChildLimits(wall_seconds=30.0, open_files=256))
    assert view["network"] == "isolated"
    assert view["interfaces"] == ["lo"]
    assert view["nofile"] == [256, 256]
    assert run("network_view", limits=ChildLimits(network="off"))["network"] == "off"


def test_network_isolation_works_for_an_unprivileged_user_too() -> None:
    """The user-namespace path, run as ``nobody`` in a throwaway interpreter."""
    import subprocess

    if os.getuid() != 0:
        pytest.skip("needs root to switch to the user nobody")
    python = "/usr/bin/python3"  # the venv's interpreter may sit in root's home
    if not os.access(python, os.X_OK):
        pytest.skip("no system python3 for the user nobody")
    code = (
        "from processing.sandbox_child import isolate_network, describe_isolation;"
        "import os, processing.sandbox_child as c;"
        "c._network = isolate_network('auto');"
        "print(os.getuid(), describe_isolation({}))"
    )
    done = subprocess.run(
        [python, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        user=65534,
        group=65534,
        extra_groups=[],
        cwd="/",
        env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        check=False,
    )
    if "Permission denied" in done.stderr:
        pytest.skip("the user nobody cannot read this checkout")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 1)[0] == "65534"  # mapped onto itself, not root
    assert "'network': 'isolated'" in done.stdout and "['lo']" in done.stdout


def test_require_refuses_to_run_without_isolation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the kernel refuses every namespace, ``require`` fails the job before the target
    is even imported, and ``auto`` runs it. The child's main() runs in this process, with the
    kernel's refusal stood in for."""
    import json

    from processing import sandbox_child

    assert run("echo", {"value": 1}, limits=ChildLimits(network="require"))["doubled"] == 2
    monkeypatch.setattr(sandbox_child, "isolate_network", lambda mode: "unavailable: test kernel")
    monkeypatch.setattr(sandbox_child, "_die_with_parent", lambda pid: None)
    monkeypatch.setattr(sandbox_child, "_apply_limits", lambda limits: None)
    results = {}
    for mode in ("require", "auto"):
        job = tmp_path / f"{mode}.json"
        result = tmp_path / f"{mode}-result.json"
        job.write_text(
            json.dumps(
                {
                    "target": T + "echo",
                    "payload": {"value": 2},
                    "parent_pid": os.getpid(),
                    "network": mode,
                    "limits": {},
                    "result_path": str(result),
                }
            )
        )
        status = sandbox_child.main(["child", str(job)])
        results[mode] = (status, json.loads(result.read_text()))
    status, envelope = results["require"]
    assert status == sandbox_child.EXIT_REPORTED
    assert envelope["code"] == "sandbox_unavailable" and "test kernel" in envelope["reason"]
    status, envelope = results["auto"]
    assert status == 0 and envelope["result"]["doubled"] == 4
    assert envelope["network"] == "unavailable: test kernel"


def test_libvips_untrusted_loaders_are_blocked_in_the_child(tmp_path: Path) -> None:
    svg = tmp_path / "picture.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')
    result = run("vips_untrusted", {"path": str(svg)})
    assert result["env"] == "1"
    assert result["outcome"].startswith("refused") and "blocked" in result["outcome"]


def test_network_mode_must_be_known() -> None:
    with pytest.raises(ValueError, match="network"):
        ChildLimits(network="sometimes")
