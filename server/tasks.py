"""The job kinds a worker can run. Media pipelines join this registry as they land."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from server.jobs import JobContext, JobHandler

SELFTEST_MAX_SECONDS = 600.0
SELFTEST_STEPS = 20


def selftest(context: JobContext) -> dict[str, Any]:
    """Exercise the whole job path: progress, a published result, optional failure.

    ``params``: ``seconds`` (how long to work, default 1), ``fail`` (raise
    every time, to see a job end ``failed`` after its attempts) and ``kill`` (SIGKILL
    the worker itself once the work is done, every time: a poison job, as a file that
    crashes the worker would be; the reaper ends it ``failed`` after its attempts).
    """
    seconds = float(context.params.get("seconds", 1.0))
    if not 0 <= seconds <= SELFTEST_MAX_SECONDS:
        raise ValueError(f"seconds must be between 0 and {SELFTEST_MAX_SECONDS:g}")
    for step in range(SELFTEST_STEPS):
        time.sleep(seconds / SELFTEST_STEPS)
        context.progress(100 * (step + 1) / SELFTEST_STEPS, f"step {step + 1}/{SELFTEST_STEPS}")
    if context.params.get("fail"):
        raise RuntimeError("selftest asked to fail")
    if context.params.get("kill"):
        os.kill(os.getpid(), signal.SIGKILL)
    with context.store.publish("selftest", context.job_id) as folder:
        (folder / "result.json").write_text(
            json.dumps({"job": context.job_id, "attempt": context.attempt, "seconds": seconds})
        )
    return {"derivative": f"selftest/{context.job_id}/result.json", "attempt": context.attempt}


def job_handlers() -> dict[str, JobHandler]:
    from server.drafting.jobs import draft_text_job
    from server.guides import make_guide_job
    from server.media_jobs import process_av_job, process_image_job, process_model_job

    return {
        "selftest": selftest,
        "process_model": process_model_job,
        "process_image": process_image_job,
        "process_av": process_av_job,
        "make_guide": make_guide_job,
        "draft_text": draft_text_job,
    }
