"""The hostile-input suite (issue 10): hand-made attack files for every threat row and
thousands of mutated seeds, sent through the real upload and ingest path of a museum
running as ``museum serve`` + ``museum worker`` (see ``tests/hostile/live.py``).

One module-wide run does the work (uploads, jobs, protocol scenarios, traversal requests);
the tests below judge it: per case, and the run's figures — no server crash, no file
outside the data dir, the canary never opened, the trap never called, every job ended in
time, every child under its memory cap. The summary table is printed and, with
``HOSTILE_SUMMARY=<file>``, written there (docs/security.md quotes it).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import resource
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

import tests.hostile
from server.models import Asset
from tests.conftest import CORPUS
from tests.hostile.cases_polyglots import PAYLOAD
from tests.hostile.harness import Result, run_cases, summarise, table, write_summary
from tests.hostile.live import (
    JOB_CPU_SECONDS,
    JOB_MEMORY,
    JOB_TIMEOUT,
    WORKER_CONCURRENCY,
    LiveMuseum,
)
from tests.hostile.model import Case
from tests.hostile.mutate import mutated_cases
from tests.hostile.protocol import SCENARIOS, Scenario, Session
from tests.hostile.requests import PLANTED, raw_get, targets
from tests.hostile.seeds import corpus_seeds, make_seeds
from tests.hostile.traps import Bait, Canary, TrapListener, outside, snapshot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

MUTATIONS = int(os.environ.get("HOSTILE_MUTATIONS", "2000"))
ROWS_WITH_TEN = (1, 2, 3, 4, 5, 12, 22)


def hand_cases() -> list[Case]:
    """CASES of every ``tests/hostile/cases_*.py`` module (this helper's and others')."""
    cases: list[Case] = []
    for module in sorted(pkgutil.iter_modules(tests.hostile.__path__), key=lambda m: m.name):
        if module.name.startswith("cases_"):
            cases += importlib.import_module(f"tests.hostile.{module.name}").CASES
    return cases


CASES = hand_cases()
TARGETS = targets(Path("/canary-placeholder/secret"))  # ids only; the run uses the real path


@dataclass
class Run:
    museum: LiveMuseum
    bait: Bait
    hand: dict[str, Result] = field(default_factory=dict)
    mutated: list[Result] = field(default_factory=list)
    scenarios: dict[str, str] = field(default_factory=dict)  # name -> "" or what broke
    requests: dict[str, tuple[int, bool]] = field(default_factory=dict)  # id -> status, leak
    new_paths: set[str] = field(default_factory=set)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    children_max_rss_kb: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    summary: str = ""


def _run_scenarios(museum: LiveMuseum, ballast: Path) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    with museum.client("hostile-protocol", "editor") as client:
        for scenario in SCENARIOS:
            session = Session(museum, client, ballast)
            try:
                scenario.run(session)
                server_errors = [s for s in session.statuses if s >= 500 and s != 507]
                outcomes[scenario.name] = f"HTTP {server_errors}" if server_errors else ""
            except Exception as exc:  # every failure is the scenario's verdict
                outcomes[scenario.name] = f"{exc!r} after statuses {session.statuses}"
    return outcomes


def _run_requests(museum: LiveMuseum, bait: Bait) -> dict[str, tuple[int, bool]]:
    (museum.data / "derivatives" / PLANTED).symlink_to(bait.canary.path.parent)
    found: dict[str, tuple[int, bool]] = {}
    with museum.client("hostile-reader", "admin") as client:
        cookie = client.headers["cookie"]
        for target in targets(bait.canary.path):
            route, name, path = target.split(":", 2)
            status, body = raw_get(museum.port, path, cookie)
            leak = bait.canary.token.encode() in body or b"root:x:0:0" in body
            found[f"{route}:{name}"] = (status, leak)
    (museum.data / "derivatives" / PLANTED).unlink()
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("hostile")
    bait = Bait(Canary(root), TrapListener())
    museum = LiveMuseum(root)
    ballast = root / "ballast" / "fill.bin"
    ballast.parent.mkdir()
    seeds = make_seeds()
    if CORPUS.is_dir():
        seeds += corpus_seeds(CORPUS)
    mutated = mutated_cases(seeds, MUTATIONS)
    before = snapshot(root)
    result = Run(museum, bait)
    clock = time.monotonic()
    museum.start()
    result.seconds["start"] = time.monotonic() - clock
    try:
        clock = time.monotonic()
        result.scenarios = _run_scenarios(museum, ballast)
        result.requests = _run_requests(museum, bait)
        result.seconds["protocol and requests"] = time.monotonic() - clock
        clock = time.monotonic()
        results = run_cases(museum, [*CASES, *mutated], bait.traps)
        result.seconds["uploads and jobs"] = time.monotonic() - clock
    finally:
        result.exit_codes = museum.stop()
        bait.close()
    result.hand = {r.case.name: r for r in results[: len(CASES)]}
    result.mutated = results[len(CASES) :]
    result.new_paths = outside(snapshot(root) - before, "data")
    # The worker reaped its children, and this process reaped the worker: the largest
    # resident set of any of them (server, worker, every sandboxed child and its tools).
    result.children_max_rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result.summary = _summary(result)
    print("\n" + result.summary)
    if target := os.environ.get("HOSTILE_SUMMARY"):
        write_summary(Path(target), result.summary)
    return result


def _summary(run: Run) -> str:
    peaks = run.museum.watch.child_peak_kb
    hand = table(summarise(run.hand.values(), lambda r: str(r.case.row), peaks), "Hand-made cases")
    mutated = table(summarise(run.mutated, lambda r: r.case.note, peaks), "Mutated seeds")
    rows = Counter(s.row for s in SCENARIOS)
    watch = run.museum.watch
    figures = [
        f"- protocol scenarios: {len(run.scenarios)} (rows {dict(sorted(rows.items()))}), "
        f"broken: {sum(bool(v) for v in run.scenarios.values())}",
        f"- traversal requests (row 5): {len(run.requests)}, answered other than 400/404: "
        f"{sum(s not in (400, 404) for s, _ in run.requests.values())}, "
        "bodies leaking the canary or /etc/passwd: "
        f"{sum(leak for _, leak in run.requests.values())}",
        f"- server and worker still running at the end: {run.exit_codes}; /healthz polls: "
        f"{watch.health_polls}, failed: {len(watch.health_failures)}",
        f"- canary opens: {run.bait.canary.opens}; trap connections: {run.bait.trap.hits}",
        f"- new paths outside the data dir: {len(run.new_paths)}",
        f"- peak RSS: server {watch.server_peak_kb // 1024} MiB, worker "
        f"{watch.worker_peak_kb // 1024} MiB, any process of the run "
        f"{run.children_max_rss_kb // 1024} MiB (cap per job {JOB_MEMORY // 2**20} MiB)",
        f"- limits per job: {JOB_MEMORY // 2**30} GiB address space, {JOB_CPU_SECONDS} s CPU, "
        f"{JOB_TIMEOUT:g} s wall, 1 attempt; worker concurrency {WORKER_CONCURRENCY}",
        "- seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in run.seconds.items()),
    ]
    return "\n\n".join([hand, mutated, "\n".join(figures)])


# The run's figures ---------------------------------------------------------------------


def test_every_threat_row_has_at_least_ten_cases() -> None:
    counts = Counter(case.row for case in CASES) + Counter(s.row for s in SCENARIOS)
    counts[5] += len(TARGETS)
    assert {row: counts[row] for row in ROWS_WITH_TEN if counts[row] < 10} == {}
    assert sum(counts.values()) >= 300, counts
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)), [n for n, c in Counter(names).items() if c > 1]


def test_the_server_and_worker_never_crashed(run: Run) -> None:
    assert run.exit_codes == {"worker": None, "server": None}, run.museum.log("server")
    assert run.museum.watch.health_polls > 0
    assert run.museum.watch.health_failures == []


def test_the_canary_was_never_opened_and_the_trap_never_called(run: Run) -> None:
    assert run.bait.canary.events == []
    assert run.bait.trap.hits == 0


def test_nothing_was_created_outside_the_data_dir(run: Run) -> None:
    assert run.new_paths == set()
    assert list((run.museum.tmp).iterdir()) == []  # no sandbox dir left behind
    assert list((run.museum.data / "tmp").iterdir()) == []  # no staging left behind
    assert [p for p in (run.museum.data / "derivatives").rglob("*partial*")] == []


def test_every_child_stayed_under_its_memory_cap(run: Run) -> None:
    peaks = run.museum.watch.child_peak_kb
    assert peaks, "the RSS sampler saw no sandboxed child"
    assert max(peaks.values()) * 1024 < JOB_MEMORY
    assert run.children_max_rss_kb * 1024 < JOB_MEMORY


def test_at_least_2000_mutated_files_went_through(run: Run) -> None:
    assert len(run.mutated) >= MUTATIONS
    assert sum(r.job_id is not None for r in run.mutated) >= MUTATIONS // 2
    broken = {r.case.name: r.problems() for r in run.mutated if r.problems()}
    assert broken == {}


# Per case ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hand_made_case(run: Run, case: Case) -> None:
    result = run.hand[case.name]
    assert result.problems() == [], (result.outcome, result.statuses, result.job_message)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_protocol_scenario(run: Run, scenario: Scenario) -> None:
    assert run.scenarios[scenario.name] == ""


@pytest.mark.parametrize("target", TARGETS, ids=[t.rsplit(":", 1)[0] for t in TARGETS])
def test_traversal_request_is_refused(run: Run, target: str) -> None:
    status, leak = run.requests[target.rsplit(":", 1)[0]]
    assert status in (400, 404)
    assert not leak


def test_polyglot_payloads_never_reach_a_public_derivative(run: Run) -> None:
    processed = [r for r in run.hand.values() if r.case.row == 2 and r.outcome == "processed"]
    assert processed, "no polyglot was processed: the check would prove nothing"
    for result in processed:
        folder = run.museum.data / "derivatives" / str(result.asset_id)
        for path in folder.rglob("*"):
            if path.is_file() and path.name != "report.json":
                assert PAYLOAD not in path.read_bytes(), (result.case.name, path)


def test_hostile_names_are_stored_as_plain_names(run: Run) -> None:
    ids = [r.asset_id for r in run.hand.values() if r.case.row == 5 and r.asset_id]
    assert ids
    query = select(Asset.filename).where(Asset.id.in_(ids))
    names = run.museum.db.call(lambda s: list(s.scalars(query)))
    for name in names:
        assert "/" not in name and "\\" not in name and name not in (".", "..")
        assert not any(unicodedata.category(c) == "Cc" for c in name), name
