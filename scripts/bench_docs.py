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


def publish_verdict(
    docs: Path, lines: list[str], met: dict[str, bool], start_marker: str, end_marker: str
) -> int:
    """Close a section (its verdict, its end marker), write it into ``docs``, print it, and
    return the exit status: 0 when every goal in ``met`` is met, else 1."""
    passed = all(met.values())
    text = "\n".join(
        [*lines, f"Verdict: **{'passed' if passed else 'NOT passed'}**.", "", end_marker]
    )
    write_section(docs, text, start_marker, end_marker)
    print(text)
    return 0 if passed else 1
