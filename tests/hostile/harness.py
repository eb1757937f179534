"""Send hostile cases through the real upload path of a :class:`LiveMuseum`, wait for their
jobs, and judge each one.

One case is one tus upload, as a client sends it: creation with ``Upload-Length`` (the
case's ``declared_length`` when it lies), metadata filename, kind and the file's real
SHA-256 (so the whole-file check passes and the bytes reach ingest), then one PATCH of the
bytes. Cases run several at a time, as uploads from a busy staff would; the worker runs
their media jobs two at a time in sandboxed children.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select

from server.models import Asset, Job, Upload
from server.tus import UPLOAD_KINDS, encode_metadata
from tests.hostile.live import JOB_TIMEOUT, LiveMuseum
from tests.hostile.model import Case, Traps

TUS = {"tus-resumable": "1.0.0"}
OCTET = {**TUS, "content-type": "application/offset+octet-stream"}
TERMINAL = ("succeeded", "failed")
GRACE = 10.0  # seconds past the job time limit the research allows for the ending


@dataclass
class Result:
    """What happened to one case."""

    case: Case
    sha256: str = ""
    size: int = 0
    statuses: list[int] = field(default_factory=list)  # of every HTTP step, in order
    upload_id: str = ""
    asset_id: str | None = None
    job_id: str | None = None
    job_state: str | None = None
    job_message: str = ""
    job_seconds: float = 0.0
    published: str | None = None
    derivative_dirs: int = 0
    asset_processed: bool = False  # some job on this asset succeeded (cases may share bytes)
    error: str = ""  # the harness's own trouble (a dropped connection, …)

    @property
    def outcome(self) -> str:
        """refused (4xx) · incomplete (never finished) · stored (no pipeline for its kind) ·
        failed (its job) · processed (its job succeeded) · pending (no ending seen)."""
        if any(400 <= s < 500 for s in self.statuses):
            return "refused"
        if self.asset_id is None:
            return "incomplete"
        if self.job_id is None:
            return "stored"
        if self.job_state == "succeeded":
            return "processed"
        return "failed" if self.job_state == "failed" else "pending"

    def problems(self) -> list[str]:
        """Every way this case broke a promise of the suite."""
        found = [f"HTTP {s}" for s in self.statuses if s >= 500]
        if self.error:
            found.append(self.error)
        outcome = self.outcome
        if outcome == "pending":
            found.append(f"job {self.job_id} never ended ({self.job_state})")
        if self.job_seconds > JOB_TIMEOUT + GRACE:
            found.append(f"job took {self.job_seconds:.1f} s")
        if self.case.expect == "refused" and outcome == "processed":
            found.append(f"processed, expected refused (version {self.published})")
        if not self.asset_processed and (self.published or self.derivative_dirs):
            found.append("a derivative was published without a successful job")
        return found


def check_case(case: Case) -> None:
    if case.kind is not None and case.kind not in UPLOAD_KINDS:
        raise ValueError(f"{case.name}: kind {case.kind!r} is not one of {UPLOAD_KINDS}")


def upload(client: httpx.Client, case: Case, traps: Traps) -> Result:
    """One tus upload of ``case``: creation, then one PATCH of all its bytes."""
    data = case.build(traps)
    result = Result(case, hashlib.sha256(data).hexdigest(), len(data))
    meta = {"filename": case.filename, "sha256": result.sha256}
    if case.kind:
        meta["kind"] = case.kind
    length = len(data) if case.declared_length is None else case.declared_length
    try:
        created = client.post(
            "/uploads/",
            headers={**TUS, "upload-length": str(length), "upload-metadata": encode_metadata(meta)},
        )
        result.statuses.append(created.status_code)
        if created.status_code != 201:
            return result
        url = created.headers["location"]
        result.upload_id = url.rsplit("/", 1)[1]
        sent = client.patch(url, content=data, headers={**OCTET, "upload-offset": "0"})
        result.statuses.append(sent.status_code)
        if sent.status_code != 204:
            return result
        status = client.get(url + "/status")
        result.statuses.append(status.status_code)
        if status.status_code == 200:
            body = status.json()
            result.asset_id, result.job_id = body.get("asset_id"), body.get("job_id")
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def run_cases(
    museum: LiveMuseum, cases: Sequence[Case], traps: Traps, clients: int = 3
) -> list[Result]:
    """Upload every case (``clients`` at a time), then wait for every job to end."""
    for case in cases:
        check_case(case)
    with museum.client() as client, ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda case: upload(client, case, traps), cases))
    wait_for_jobs(museum, results)
    return results


def wait_for_jobs(museum: LiveMuseum, results: Iterable[Result], poll: float = 0.5) -> None:
    """Poll the catalog until every case's job has ended (or its time is clearly up)."""
    results = list(results)
    job_ids = {r.job_id for r in results if r.job_id}
    # The queue drains at the worker's pace; allow every job its limit, two at a time.
    deadline = time.monotonic() + 60 + (JOB_TIMEOUT + GRACE) * max(1, len(job_ids)) / 2
    jobs: dict[str, Job] = {}
    while time.monotonic() < deadline:
        jobs = _jobs(museum, job_ids)
        if all(job.state in TERMINAL for job in jobs.values()) and len(jobs) == len(job_ids):
            break
        time.sleep(poll)
    assets = _assets(museum, {r.asset_id for r in results if r.asset_id})
    derivatives = museum.data / "derivatives"
    for result in results:
        if result.job_id and (job := jobs.get(result.job_id)):
            result.job_state, result.job_message = job.state, job.message
            if job.started_at and job.finished_at:
                result.job_seconds = (job.finished_at - job.started_at).total_seconds()
    succeeded = {r.asset_id for r in results if r.job_state == "succeeded"}
    for result in results:
        result.asset_processed = result.asset_id in succeeded
        if result.asset_id and (asset := assets.get(result.asset_id)):
            result.published = asset.published_version
            folder = derivatives / result.asset_id
            result.derivative_dirs = len(list(folder.iterdir())) if folder.is_dir() else 0


def _jobs(museum: LiveMuseum, ids: set[str | None]) -> dict[str, Job]:
    query = select(Job).where(Job.id.in_([i for i in ids if i]))
    return {job.id: job for job in museum.db.call(lambda s: list(s.scalars(query)))}


def _assets(museum: LiveMuseum, ids: set[str | None]) -> dict[str, Asset]:
    query = select(Asset).where(Asset.id.in_([i for i in ids if i]))
    return {asset.id: asset for asset in museum.db.call(lambda s: list(s.scalars(query)))}


def assets_with(museum: LiveMuseum, sha256: str) -> int:
    """How many assets hold these bytes (0 for an upload that must not become one)."""
    query = select(Asset.id).where(Asset.sha256 == sha256)
    return len(museum.db.call(lambda s: list(s.scalars(query))))


def upload_row(museum: LiveMuseum, upload_id: str) -> Upload | None:
    return museum.db.call(lambda s: s.get(Upload, upload_id))


# The summary ----------------------------------------------------------------------

OUTCOMES = ("refused", "incomplete", "stored", "failed", "processed", "pending")


@dataclass
class Row:
    """One line of the summary: a threat row, or a family of mutated seeds."""

    label: str
    cases: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    max_seconds: float = 0.0
    max_rss_mb: float = 0.0
    problems: int = 0


def summarise(
    results: Iterable[Result], label_of: object, child_peak_kb: dict[str, int]
) -> list[Row]:
    rows: dict[str, Row] = {}
    for result in results:
        label = label_of(result)  # type: ignore[operator]
        row = rows.setdefault(label, Row(label))
        row.cases += 1
        row.outcomes[result.outcome] += 1
        row.max_seconds = max(row.max_seconds, result.job_seconds)
        row.max_rss_mb = max(row.max_rss_mb, child_peak_kb.get(result.sha256, 0) / 1024)
        row.problems += bool(result.problems())
    return list(rows.values())


def table(rows: Sequence[Row], title: str) -> str:
    """A Markdown table: per row, cases, each outcome, slowest job, biggest child."""
    head = "| row | cases | refused (4xx) | never finished | kept, no pipeline | job failed "
    head += "| processed | problems | slowest job (s) | peak child RSS (MiB) |"
    lines = [f"**{title}**", "", head, "|" + "---|" * 10]
    total = Row("all")
    for row in rows:
        o = row.outcomes
        lines.append(
            f"| {row.label} | {row.cases} | {o['refused']} | {o['incomplete']} | {o['stored']} "
            f"| {o['failed']} | {o['processed']} | {row.problems} | {row.max_seconds:.1f} "
            f"| {row.max_rss_mb:.0f} |"
        )
        total.cases += row.cases
        for key in OUTCOMES:
            total.outcomes[key] += row.outcomes[key]
        total.problems += row.problems
        total.max_seconds = max(total.max_seconds, row.max_seconds)
        total.max_rss_mb = max(total.max_rss_mb, row.max_rss_mb)
    o = total.outcomes
    lines.append(
        f"| **all** | {total.cases} | {o['refused']} | {o['incomplete']} | {o['stored']} "
        f"| {o['failed']} | {o['processed']} | {total.problems} | {total.max_seconds:.1f} "
        f"| {total.max_rss_mb:.0f} |"
    )
    return "\n".join(lines)


def write_summary(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
