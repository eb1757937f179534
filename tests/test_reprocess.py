"""Processing on upload, and versioned reprocessing: the old derivative version stays live
while a new one is made, the new one replaces it only when its job succeeds, and a failed
reprocessing leaves the old one in place."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from starlette.testclient import TestClient

from processing.runner import Failure
from server.app import create_app
from server.models import Asset, AuditEntry, Job
from server.settings import Settings
from server.tus import encode_metadata
from tests.jobhelpers import drain
from tests.staff import sign_in

pytestmark = pytest.mark.slow
RECORD = "DL-ICH-01"  # published, public: its media show on public pages and the API


def gradient_png(width: int = 700, height: int = 500) -> bytes:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = np.linspace(0, 255, width, dtype=np.float64)[None, :]
    pixels[..., 1] = np.linspace(0, 255, height, dtype=np.float64)[:, None]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def client(seeded_settings: Settings) -> Iterator[TestClient]:
    settings = replace(seeded_settings, min_free_disk=0)
    with TestClient(create_app(settings)) as test_client:
        sign_in(test_client, "curator", "curator")
        yield test_client


def museum(client: TestClient) -> Any:
    return client.app.state.museum  # type: ignore[attr-defined]


def upload(client: TestClient, data: bytes) -> dict[str, Any]:
    """The whole tus exchange for ``data`` attached to RECORD; returns the upload's status."""
    meta = {"filename": "hoa văn.png", "sha256": hashlib.sha256(data).hexdigest(), "record": RECORD}
    created = client.post(
        "/uploads/",
        headers={
            "tus-resumable": "1.0.0",
            "upload-length": str(len(data)),
            "upload-metadata": encode_metadata(meta),
        },
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    sent = client.patch(
        url,
        content=data,
        headers={
            "tus-resumable": "1.0.0",
            "upload-offset": "0",
            "content-type": "application/offset+octet-stream",
        },
    )
    assert sent.status_code == 204, sent.text
    status: dict[str, Any] = client.get(url + "/status").json()
    return status


def served_version(client: TestClient, asset_id: str) -> str:
    """The derivative version the public API hands out for the asset."""
    response = client.get(f"/api/v1/media/{asset_id}")
    assert response.status_code == 200, response.text
    link = response.json()["links"]["derivatives"]
    return str(link.rstrip("/").rsplit("/", 1)[1])


def asset_row(client: TestClient, asset_id: str) -> Asset:
    row = museum(client).db.call(lambda s: s.get(Asset, asset_id))
    assert row is not None
    return row


def job_row(client: TestClient, job_id: str) -> Job:
    row = museum(client).db.call(lambda s: s.get(Job, job_id))
    assert row is not None
    return row


def test_upload_processes_and_reprocessing_switches_versions_only_on_success(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = upload(client, gradient_png())
    asset_id = status["asset_id"]
    assert job_row(client, status["job_id"]).kind == "process_image"
    drain(museum(client).jobs, timeout=300)
    assert job_row(client, status["job_id"]).state == "succeeded"
    first = asset_row(client, asset_id).published_version
    assert first is not None and served_version(client, asset_id) == first
    assert asset_row(client, asset_id).technical["tile_size"] == 512

    # Reprocess with smaller tiles; while the job runs, the first version is what is served.
    response = client.post(
        f"/admin/media/{asset_id}/reprocess",
        data={"tile_size": "256"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["published_version"] == first
    assert queued["params"]["settings"] == {"image_tile_size": "256"}
    seen_during_job: list[tuple[str | None, str]] = []
    import server.media_jobs as media_jobs

    real = media_jobs.process_image

    def watched(source: Path, out: Path, *args: Any, **kwargs: Any) -> dict[str, Any]:
        seen_during_job.append(
            (asset_row(client, asset_id).published_version, served_version(client, asset_id))
        )
        return real(source, out, *args, **kwargs)

    monkeypatch.setattr(media_jobs, "process_image", watched)
    drain(museum(client).jobs, timeout=300)
    assert seen_during_job == [(first, first)]
    assert job_row(client, queued["job_id"]).state == "succeeded"
    second = asset_row(client, asset_id).published_version
    assert second is not None and second != first
    assert served_version(client, asset_id) == second
    assert asset_row(client, asset_id).technical["tile_size"] == 256
    store = museum(client).store
    assert store.derivative_dir(asset_id, first).is_dir()  # the old version is kept, unchanged

    # A reprocessing that fails leaves the current version live.
    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise Failure("corrupt", "the test says this input is refused")

    monkeypatch.setattr(media_jobs, "process_image", broken)
    response = client.post(
        f"/admin/media/{asset_id}/reprocess",
        data={"tile_size": "1024"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 202
    drain(museum(client).jobs, timeout=60)
    failed = job_row(client, response.json()["job_id"])
    assert failed.state == "failed" and "corrupt" in failed.message
    assert asset_row(client, asset_id).published_version == second
    assert served_version(client, asset_id) == second

    actions = museum(client).db.call(
        lambda s: list(s.scalars(select(AuditEntry.action).where(AuditEntry.object_id == asset_id)))
    )
    assert actions.count("asset.reprocess") == 2


def test_reprocess_parameters_are_checked(client: TestClient) -> None:
    status = upload(client, gradient_png(64, 48))
    asset_id = status["asset_id"]
    url = f"/admin/media/{asset_id}/reprocess"
    json = {"accept": "application/json"}
    bad_tile = client.post(url, data={"tile_size": "100"}, headers=json)
    assert bad_tile.status_code == 422 and "16" in bad_tile.json()["error"]["message"]
    bad_kind = client.post(url, data={"kind": "mesh"}, headers=json)
    assert bad_kind.status_code == 422 and bad_kind.json()["error"]["parameter"] == "kind"
    assert client.post("/admin/media/nothing/reprocess", headers=json).status_code == 404
    ok = client.post(url, data={"kind": "document", "units": "cm"}, headers=json)
    assert ok.status_code == 202
    assert ok.json()["params"] == {"kind": "document"}  # units belong to 3D models only
    sign_in(client, "editor", "editor")  # editors may not change a published record's media
    assert client.post(url, data={}, headers=json).status_code == 403
    sign_in(client, "gop", "contributor")
    assert client.post(url, data={}, headers=json).status_code == 403


def test_a_browser_form_goes_back_to_the_upload_page(client: TestClient) -> None:
    status = upload(client, gradient_png(64, 48))
    response = client.post(
        f"/admin/media/{status['asset_id']}/reprocess",
        data={"tile_size": "256"},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/upload?queued=")
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "hoa văn.png" in page.text
