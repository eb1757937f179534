"""docs/benchmarks.md is written by several benchmarks: each owns a section between markers."""

from __future__ import annotations

from pathlib import Path


def write_section(docs: Path, text: str, start_marker: str, end_marker: str) -> None:
    """Replace the marked section of ``docs`` (append it when absent); nothing else changes."""
    current = docs.read_text("utf-8") if docs.exists() else "# Benchmarks\n"
    start = current.find(start_marker)
    end = current.find(end_marker)
    if start != -1 and end > start:
        rest = current[end + len(end_marker) :].lstrip("\n")
        updated = current[:start] + text + ("\n" + rest if rest else "")
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    docs.write_text(updated, "utf-8")
