"""The 3D pipeline as a queue job: ingest a scan, process it, publish a derivative version."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trimesh
from sqlalchemy.orm import Session

from processing.registry import pipeline_for
from server.db import Database
from server.jobs import JobService
from server.media_jobs import model_options, version_for
from server.models import Asset, JobEvent
from server.queue import Queue
from server.refusals import SUMMARIES
from server.settings import Settings
from server.storage import Store
from server.tasks import job_handlers
from tests.jobhelpers import drain, job_service
from tests.test_cli import run_museum


def ingest(service: JobService, path: Path, kind: str = "model") -> str:
    with path.open("rb") as handle:
        stored = service.store.ingest(handle)
    asset_id = uuid.uuid4().hex

    def add(session: Session) -> None:
        session.add(
            Asset(
                id=asset_id,
                sha256=stored.sha256,
                size=stored.size,
                filename=path.name,
                media_type="model/x-ply",
                kind=kind,
            )
        )

    service.db.call(add, write=True)
    return asset_id


def asset(service: JobService, asset_id: str) -> Asset:
    found = service.db.call(lambda s: s.get(Asset, asset_id))
    assert found is not None
    return found


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[JobService]:
    svc = job_service(tmp_path, database_url, f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    yield svc
    svc.db.dispose()


def test_models_are_routed_to_the_3d_pipeline() -> None:
    assert pipeline_for("model") == "process_model"


def test_model_settings_reach_the_pipeline_and_name_a_new_version() -> None:
    default = Settings.from_env({})
    free = Settings.from_env({"MUSEUM_MODEL_LOCK_BORDERS": "false"})
    assert model_options(default).lock_borders is True
    assert model_options(free).lock_borders is False
    # Other parameters publish under another derivative version.
    assert version_for("ab" * 32, model_options(default)) != version_for(
        "ab" * 32, model_options(free)
    )


def test_an_ingested_scan_is_processed_and_published(service: JobService, tmp_path: Path) -> None:
    source = tmp_path / "bowl.ply"
    trimesh.creation.icosphere(subdivisions=4, radius=0.15).export(source)
    asset_id = ingest(service, source)
    job_id = service.submit("process_model", {"asset_id": asset_id}, asset_id=asset_id)
    drain(service, timeout=300)
    job = service.get(job_id)
    assert job["state"] == "succeeded", job
    row = asset(service, asset_id)
    expected = version_for(row.sha256, model_options(service.settings))
    assert row.published_version == expected
    folder = service.store.derivative_dir(asset_id, expected)
    report = json.loads((folder / "report.json").read_text())
    assert {a["path"] for a in report["artefacts"]} <= {p.name for p in folder.iterdir()}
    technical: dict[str, Any] = row.technical
    assert technical["model"] == "web.glb"
    assert technical["poster"] == "poster.jpg"
    assert technical["dimensions_mm"]["height"] == pytest.approx(300, abs=1)
    assert [lod["name"] for lod in technical["lods"]] == ["high", "web", "thumb", "preview"]
    # Nothing half-done is left behind in the store's staging area.
    assert not [
        p for p in service.store.tmp.iterdir() if p.name.startswith(("source-", "publish-"))
    ]


def test_a_refused_scan_fails_at_once_with_its_reason(service: JobService, tmp_path: Path) -> None:
    source = tmp_path / "broken.ply"
    source.write_text("ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nend_header\n")
    asset_id = ingest(service, source)
    job_id = service.submit("process_model", {"asset_id": asset_id}, asset_id=asset_id)
    drain(service, timeout=120)
    job = service.get(job_id)
    assert job["state"] == "failed"
    assert job["attempts"] == 1  # a refusal is not retried
    assert "PLY" in job["message"]
    # "code: detail", so a page can show the code's summary in the reader's language.
    assert job["message"].split(":")[0] in SUMMARIES, job["message"]
    assert asset(service, asset_id).published_version is None
    events = service.db.call(
        lambda s: [e.event for e in s.query(JobEvent).filter_by(job_id=job_id)]
    )
    assert events[-1] == "failed"


def test_museum_ingest_queues_the_3d_job(tmp_path: Path) -> None:
    source = tmp_path / "scan.stl"
    trimesh.creation.box(extents=(0.1, 0.2, 0.3)).export(source)
    result = run_museum(tmp_path, "ingest", str(source), env={"MUSEUM_LANGUAGE": "en"})
    assert result.returncode == 0, result.stderr
    asset_id = result.stdout.split("\t")[0]
    settings = Settings(data_dir=tmp_path / "data")
    service = JobService(
        Database(settings.resolved_database_url),
        Queue(settings.resolved_queue_url),  # not flushed: the CLI's message is in it
        settings,
        job_handlers(),
        Store(settings.data_dir),
    )
    try:
        drain(service, timeout=300)
        row = asset(service, asset_id)
    finally:
        service.db.dispose()
    assert row.published_version is not None
    assert row.technical["dimensions_mm"]["height"] == pytest.approx(200, abs=1)
