"""Coverage-guided fuzzing (atheris, libFuzzer) of the museum's own parsers.

Each module here is one harness: ``python -m fuzz.<name> [libFuzzer options] DIR…``.
A harness feeds arbitrary bytes to one parser and checks its contract: it returns a
valid value or raises the error type it documents, and nothing else. Seed inputs are in
``fuzz/corpus/<name>/``; ``python -m fuzz.run`` (``make fuzz``) runs them all and writes
the figures to ``docs/fuzz-results.md``; ``tests/test_fuzz.py`` runs each briefly in CI.
"""
