"""JSON API, version 1."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.errors import N_, NotFound
from server.jobs import read_job
from server.state import get_museum

_JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")


async def job_detail(request: Request) -> JSONResponse:
    """A job's state, progress (0–100), message, attempts and timestamps."""
    job_id = request.path_params["job_id"]
    if not _JOB_ID_RE.match(job_id):
        raise NotFound(N_("No job with id {job_id}."), parameter="job_id", job_id=job_id)
    museum = get_museum(request)
    job = await museum.db.run(lambda session: read_job(session, job_id))
    return JSONResponse(job, headers={"cache-control": "no-store"})
