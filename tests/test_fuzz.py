"""Each atheris harness in fuzz/ runs briefly (CI); ``make fuzz`` runs them for longer.

A crash here means a parser broke its contract on some input: the input is in
``fuzz/crashes/<harness>/``; fix the parser and add the input to ``fuzz/corpus/<harness>/``.
"""

from __future__ import annotations

import os

import pytest

from fuzz.run import FUZZ_DIR, HARNESSES, report, run_harness

pytestmark = pytest.mark.slow
SECONDS = float(os.environ.get("MUSEUM_TEST_FUZZ_SECONDS", "12"))


@pytest.mark.parametrize("name", HARNESSES)
def test_the_harness_finds_no_crash(name: str) -> None:
    outcome = run_harness(name, SECONDS, FUZZ_DIR / "crashes")
    assert not outcome.crashed, f"{name} crashed on {outcome.crash_inputs}:\n{outcome.output}"
    assert outcome.runs > 0, outcome.output  # it really ran
    assert outcome.corpus_files >= 3  # seeds were read


def test_every_harness_has_seeds_and_the_report_counts_crashes() -> None:
    for name in HARNESSES:
        seeds = list((FUZZ_DIR / "corpus" / name).iterdir())
        assert len(seeds) >= 3 and all(s.stat().st_size < 64 * 1024 for s in seeds), name
    from fuzz.run import Outcome

    ok = Outcome("sniff", 1.0, 10, 10, 5, False, (), "")
    bad = Outcome("captions", 1.0, 5, 5, 5, True, ("crash-1",), "")
    text = report([ok, bad], 1)
    assert "| `sniff` | 1 | 10 | 10 | 5 | 0 |" in text
    assert "| `captions` | 1 | 5 | 5 | 5 | 1 |" in text
    assert "1 harness(es) with a crash" in text
    with pytest.raises(ValueError, match="no harness"):
        run_harness("nothing", 1)
