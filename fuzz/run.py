"""Run every fuzz harness for a while and report runs, speed and crashes.

``python -m fuzz.run --seconds 300 --report docs/fuzz-results.md [NAME …]`` (``make fuzz``).
Each harness runs in its own process with libFuzzer's limits (``-timeout`` per input,
``-rss_limit_mb``), on a scratch copy of its seed corpus (``fuzz/corpus/<name>/`` is read,
never written). A crash leaves its input in ``fuzz/crashes/<name>/``: make it a seed in
``fuzz/corpus/<name>/`` once the parser is fixed, so it is replayed every run after.
The exit status is 1 when any harness crashed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
ROOT = FUZZ_DIR.parent
HARNESSES = ("iiif_params", "tus_headers", "zip_bundle", "captions", "sniff", "resolve_inside")
PER_INPUT_TIMEOUT = 30  # seconds: one input taking longer is a hang, reported as a crash
RSS_LIMIT_MB = 2048
MAX_INPUT_BYTES = 64 * 1024
_STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.M)


@dataclass(frozen=True)
class Outcome:
    name: str
    seconds: float
    runs: int
    execs_per_second: int
    corpus_files: int
    crashed: bool
    crash_inputs: tuple[str, ...]
    output: str  # the last lines libFuzzer and the harness printed


def run_harness(name: str, seconds: float, crashes: Path | None = None) -> Outcome:
    """Fuzz ``name`` for ``seconds``; crash inputs are kept in ``crashes`` (if given)."""
    if name not in HARNESSES:
        raise ValueError(f"no harness {name!r}; the harnesses are {', '.join(HARNESSES)}")
    seeds = FUZZ_DIR / "corpus" / name
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as scratch:
        work = Path(scratch) / "corpus"
        artefacts = Path(scratch) / "artefacts"
        work.mkdir()
        artefacts.mkdir()
        argv = [
            sys.executable,
            "-m",
            f"fuzz.{name}",
            f"-max_total_time={max(1, round(seconds))}",
            f"-timeout={PER_INPUT_TIMEOUT}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-max_len={MAX_INPUT_BYTES}",
            f"-artifact_prefix={artefacts}/",
            "-print_final_stats=1",
            str(work),  # new inputs go here (the first folder), never into the seeds
            str(seeds),
        ]
        env = os.environ | {"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
        started = time.monotonic()
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=seconds + PER_INPUT_TIMEOUT + 120,
            check=False,
        )
        elapsed = time.monotonic() - started
        found = sorted(p.name for p in artefacts.iterdir())
        if found and crashes is not None:
            (crashes / name).mkdir(parents=True, exist_ok=True)
            for artefact in artefacts.iterdir():
                shutil.copy2(artefact, crashes / name / artefact.name)
        corpus_files = sum(1 for _ in work.iterdir()) + sum(1 for _ in seeds.iterdir())
    output = done.stdout + done.stderr
    stats = {key: int(value) for key, value in _STAT.findall(output)}
    return Outcome(
        name=name,
        seconds=elapsed,
        runs=stats.get("number_of_executed_units", 0),
        execs_per_second=stats.get("average_exec_per_sec", 0),
        corpus_files=corpus_files,
        crashed=done.returncode != 0 or bool(found),
        crash_inputs=tuple(found),
        output="\n".join(output.splitlines()[-40:]),
    )


def report(outcomes: list[Outcome], seconds: float) -> str:
    """The Markdown table ``make fuzz`` writes."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Fuzzing results",
        "",
        f"Written by `make fuzz` (`FUZZ_SECONDS={seconds:g}` per harness) on {stamp}, "
        f"{os.cpu_count()} CPU(s). The harnesses are in `fuzz/`; see docs/security.md.",
        "",
        "| harness | seconds | runs | execs/s | corpus files | crashes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        lines.append(
            f"| `{o.name}` | {o.seconds:.0f} | {o.runs:,} | {o.execs_per_second:,} | "
            f"{o.corpus_files} | {len(o.crash_inputs) if o.crashed else 0}"
            f"{' (exit status)' if o.crashed and not o.crash_inputs else ''} |"
        )
    total = sum(o.runs for o in outcomes)
    crashed = sum(o.crashed for o in outcomes)
    lines += ["", f"Total: {total:,} runs, {crashed} harness(es) with a crash.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(HARNESSES), metavar="NAME")
    parser.add_argument("--seconds", type=float, default=300.0, help="per harness")
    parser.add_argument("--report", type=Path, help="write the Markdown table here")
    parser.add_argument("--crashes", type=Path, default=FUZZ_DIR / "crashes")
    args = parser.parse_args(argv)
    outcomes = []
    for name in args.names:
        outcome = run_harness(name, args.seconds, args.crashes)
        outcomes.append(outcome)
        status = "CRASH" if outcome.crashed else "ok"
        print(
            f"{name}: {status}, {outcome.runs:,} runs in {outcome.seconds:.0f} s "
            f"({outcome.execs_per_second:,}/s)",
            flush=True,
        )
        if outcome.crashed:
            print(outcome.output, file=sys.stderr)
    text = report(outcomes, args.seconds)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    print(text)
    return 1 if any(o.crashed for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
