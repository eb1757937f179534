"""Run many hostile media cases in one sandboxed child (``processing.sandbox.run_in_child``).

Each case goes to the pipeline's own sandbox entry point (``run_job``, what
``processing.runner`` starts one child for), so the code path is the real one; sharing a
child between cases saves the second or two each child spends importing its libraries.
The child notes, per case, when it started and ended on the system-wide monotonic clock
(the parent matches canary and trap events against those times), what came out, and the
peak memory so far.
"""

from __future__ import annotations

import importlib
import resource
import time
from typing import Any

ENTRY_POINTS = {
    "process_model": "processing.threed.pipeline",
    "process_image": "processing.images.pipeline",
    "process_av": "processing.av.pipeline",
}


def run_batch(payload: dict[str, Any]) -> dict[str, Any]:
    """``{"pipeline", "options", "cases": [{"name", "source", "out", "options"}]}`` →
    ``{"results": {name: {"outcome", "code", "reason", "started", "ended", "peak_kib"}}}``."""
    module = importlib.import_module(ENTRY_POINTS[payload["pipeline"]])
    results: dict[str, Any] = {}
    for case in payload["cases"]:
        started = time.monotonic()
        job = {"source": case["source"], "out": case["out"], "options": case["options"]}
        try:
            module.run_job(job)
        except Exception as exc:  # the sandbox turns any exception into a failed job
            outcome, code = "refused", str(getattr(exc, "code", type(exc).__name__))
            reason = str(getattr(exc, "reason", exc))[:300]
        else:
            outcome, code, reason = "processed", "", ""
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tools = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        results[case["name"]] = {
            "outcome": outcome,
            "code": code,
            "reason": reason,
            "started": started,
            "ended": time.monotonic(),
            "peak_kib": max(own, tools),
        }
    return {"results": results}
