"""Issue 8's end-to-end acceptance, in Debian's chromium against a live server and worker.

A curator signs in, makes a draft record, uploads the corpus photogrammetry OBJ bundle
(mesh, material, 4K texture, zipped) with the resumable uploader, watches the processing
job finish on the jobs page, corrects the machine-drafted museum label and accepts it,
publishes the record; the item is then found by the public search, shows the label, and
its 3D view renders. Before publication the public sees none of it.
"""

from __future__ import annotations

import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.app import create_app
from server.db import Database
from server.settings import Settings
from server.worker import build_job_service
from tests.browser.conftest import viewer_built
from tests.jobhelpers import drain
from tests.live import serving
from tests.staff import PASSWORD, add_user

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
BUNDLE = CORPUS / "3d" / "photogrammetry_obj_esp32rig"
BUNDLE_FILES = ("texturedMesh.obj", "texturedMesh.mtl", "texture_1001.png")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.corpus,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
    pytest.mark.skipif(
        not BUNDLE.is_dir(),
        reason=f"{BUNDLE} not found: the corpus (../shared/corpus) is not beside the project",
    ),
]
CURATOR = "giam-tuyen"
RECORD_ID = "DL-TEST-3D-01"
TITLE_VI = "Tượng nhà mồ thử nghiệm"
LABEL = "Tượng gỗ khắc tay, bản quét ba chiều để thử quy trình của bảo tàng."


@pytest.fixture
def museum(seeded_settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    settings = replace(seeded_settings, min_free_disk=0, audio_guides=False)
    db = Database(settings.resolved_database_url)
    add_user(db, CURATOR, "curator")
    db.dispose()
    stop = threading.Event()
    service = build_job_service(settings)

    def work() -> None:  # `museum worker`, in a thread: runs jobs as they are queued
        while not stop.is_set():
            if drain(service, timeout=600) == 0:
                time.sleep(0.3)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        with serving(create_app(settings)) as url:
            yield url, settings
    finally:
        stop.set()
        worker.join(timeout=120)
        service.db.dispose()


@pytest.fixture
def live_server(museum: tuple[str, Settings]) -> str:
    return museum[0]


def bundle_zip(tmp_path: Path) -> Path:
    path = tmp_path / "tuong-nha-mo.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in BUNDLE_FILES:
            archive.write(BUNDLE / name, name)
    return path


def canvas_is_drawn(page: Any) -> bool:
    shot = page.locator(".model-viewer canvas").first.screenshot()
    from io import BytesIO

    from PIL import Image

    pixels = np.asarray(Image.open(BytesIO(shot)).convert("RGB"), dtype=np.int16)
    return bool(pixels.std() > 8)


def test_a_curator_takes_a_scan_from_disk_to_the_public_museum(
    page: Any, museum: tuple[str, Settings], tmp_path: Path
) -> None:
    url, _settings = museum
    page.set_default_timeout(30_000)

    # Sign in.
    page.goto(f"{url}/admin/login?lang=en")
    page.fill("#login-username", CURATOR)
    page.fill("#login-password", PASSWORD)
    page.locator("form.admin-form button[type=submit]").click()
    page.wait_for_url("**/admin/")

    # A new record: a draft, invisible to the public.
    page.goto(f"{url}/admin/records/new")
    page.fill("#f-id", RECORD_ID)
    page.fill("#f-title-vi", TITLE_VI)
    page.fill("#f-title-en", "Test funerary statue")
    page.locator("#fields button[type=submit]").click()
    page.wait_for_url(f"**/admin/records/{RECORD_ID}**")
    assert page.request.get(f"{url}/items/{RECORD_ID}").status == 404

    # Upload the scan bundle, attached to the record; the uploader follows its job.
    page.goto(f"{url}/admin/upload")
    page.locator("form.upload-form[data-mounted]").wait_for(state="attached")
    page.fill("#upload-record", RECORD_ID)
    page.set_input_files("#upload-file", str(bundle_zip(tmp_path)))
    page.locator("form.upload-form button[type=submit]").click()
    form = page.locator("form.upload-form")
    deadline = time.monotonic() + 60
    while not (form.get_attribute("data-state") or "").startswith("complete"):
        assert time.monotonic() < deadline, form.get_attribute("data-state")
        assert form.get_attribute("data-state") not in ("failed", "terminated")
        time.sleep(0.3)

    # Watch the processing job finish on the live jobs page.
    page.goto(f"{url}/admin/jobs?kind=process_model")
    row = page.locator("tr[data-job-id]").first
    row.wait_for()
    row.locator(".job-badge-succeeded").wait_for(timeout=600_000)

    # The machine drafted a museum label; the curator corrects it and accepts it.
    page.goto(f"{url}/admin/review/records/{RECORD_ID}")
    label = page.locator("article.review-item", has_text="Museum label").filter(
        has_text="Vietnamese"
    )
    deadline = time.monotonic() + 120
    while label.count() == 0:  # the drafting job runs after the 3D one
        assert time.monotonic() < deadline, "no label draft was written"
        time.sleep(1)
        page.reload()
    drafted = label.locator("pre.review-machine").inner_text()
    assert TITLE_VI in drafted  # the template backend drafts from the record's fields
    label.locator("textarea").fill(LABEL)
    label.get_by_role("button", name="Accept with my corrections").click()
    page.wait_for_load_state()
    accepted = page.locator("article.review-item", has_text=LABEL)
    assert CURATOR in accepted.locator(".review-reviewer").inner_text()

    # Publish.
    page.goto(f"{url}/admin/records/{RECORD_ID}")
    page.get_by_role("button", name="Publish").first.click()
    page.wait_for_load_state()
    assert page.locator(".status-badge", has_text="Published").count() >= 1

    # The public finds it, reads the label, and sees the scan in 3D.
    visitor = page.context.browser.new_context(locale="vi-VN")
    public = visitor.new_page()
    try:
        public.goto(f"{url}/search?q=tuong nha mo thu nghiem")
        public.get_by_role("link", name=TITLE_VI).first.click()
        public.wait_for_url(f"**/items/{RECORD_ID}**")
        assert public.locator(".museum-label").inner_text() == LABEL
        public.locator(".model-viewer[data-state='ready']").wait_for(timeout=60_000)
        assert canvas_is_drawn(public)
    finally:
        visitor.close()
