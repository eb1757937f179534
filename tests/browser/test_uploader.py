"""The uploader island in Debian's chromium: sign in, upload a generated file through
/admin/upload with pause and resume, through a network drop and through failed requests,
and find the file stored as an original with the source's SHA-256."""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from server.db import Database
from server.models import Asset, Upload
from server.settings import Settings
from tests.browser.conftest import viewer_built
from tests.live import serving
from tests.staff import PASSWORD, add_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
USER = "tai-len"
UPLOAD_RATE = 1_000_000  # bytes per second the browser may send while throttled
MiB = 1024 * 1024


@pytest.fixture
def upload_settings(seeded_settings: Settings) -> Settings:
    return replace(seeded_settings, min_free_disk=0)


@pytest.fixture
def live_server(upload_settings: Settings) -> Iterator[str]:
    db = Database(upload_settings.resolved_database_url)
    add_user(db, USER, "editor")
    db.dispose()
    with serving(create_app(upload_settings)) as url:
        yield url


def sample(tmp_path: Path, size: int) -> tuple[Path, str]:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "bản quét mẫu.bin"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def sign_in(page: Any, live_server: str) -> None:
    page.goto(live_server + "/admin/login?next=/admin/upload")
    page.fill("#login-username", USER)
    page.fill("#login-password", PASSWORD)
    page.locator("form.admin-form button[type=submit]").click()
    page.wait_for_url("**/admin/upload")
    page.locator("form.upload-form[data-mounted]").wait_for(state="attached")


def network(cdp: Any, offline: bool) -> None:
    """Throttled uploads (so there is time to pause), or no network at all."""
    conditions = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": UPLOAD_RATE}
    cdp.send("Network.emulateNetworkConditions", {"offline": offline, **conditions})


def state(page: Any) -> str:
    return str(page.locator("form.upload-form").get_attribute("data-state") or "")


def bar(page: Any) -> int:
    return int(page.locator(".uploader-bar").evaluate("el => el.value"))


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def stored(settings: Settings, digest: str) -> tuple[list[str], list[Asset]]:
    db = Database(settings.resolved_database_url)
    try:
        states = db.call(lambda s: [u.state for u in s.query(Upload).all()])
        assets = db.call(lambda s: s.query(Asset).filter(Asset.sha256 == digest).all())
    finally:
        db.dispose()
    return states, assets


def test_upload_with_pause_resume_and_a_network_drop(
    page: Any, live_server: str, upload_settings: Settings, tmp_path: Path
) -> None:
    path, digest = sample(tmp_path, 6 * MiB)
    sign_in(page, live_server)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.method) if "/uploads/" in r.url else None)
    assert page.get_by_role("link", name="Tải lên").get_attribute("aria-current") == "page"
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    network(cdp, offline=False)
    page.set_input_files("#upload-file", str(path))
    page.get_by_role("button", name="Tải lên", exact=True).click()

    wait_until(lambda: state(page) == "uploading" and bar(page) >= 10, 30, "the upload to start")
    line = page.locator(".uploader-line").inner_text()  # bytes, percent and speed
    assert re.fullmatch(r"[\d,]+ (B|KB|MB) trên 6 MB \(\d+%\) · [\d,]+ (B|KB|MB)/giây", line), line
    page.get_by_role("button", name="Tạm dừng").click()
    assert state(page) == "paused"
    paused_at = bar(page)
    time.sleep(1.5)
    assert bar(page) == paused_at < 100
    assert "Đã tạm dừng" in page.locator(".uploader-line").inner_text()
    # The network drops while paused; resuming finds it down and waits for it.
    network(cdp, offline=True)
    page.context.set_offline(True)
    page.get_by_role("button", name="Tiếp tục").click()
    wait_until(lambda: state(page) == "offline", 10, "the drop")
    assert "Mất kết nối" in page.locator(".uploader-line").inner_text()
    time.sleep(1)
    assert bar(page) == paused_at
    network(cdp, offline=False)
    page.context.set_offline(False)  # back online: the upload continues by itself
    wait_until(lambda: bar(page) > paused_at, 30, "the upload to continue")

    wait_until(lambda: state(page).startswith("complete"), 90, "the upload to complete")
    assert bar(page) == 100
    # Created once; resumed from the server's offset (HEAD) when the network came back.
    assert requests.count("POST") == 1
    assert requests.count("HEAD") >= 2 and requests.count("PATCH") >= 2
    states, assets = stored(upload_settings, digest)
    assert states == ["complete"]
    assert len(assets) == 1 and assets[0].filename == path.name and assets[0].size == 6 * MiB
    assert page.foreign_requests == []


def test_failed_requests_are_retried(
    page: Any, live_server: str, upload_settings: Settings, tmp_path: Path
) -> None:
    path, digest = sample(tmp_path, 3 * MiB)
    sign_in(page, live_server)
    aborted: list[str] = []

    def flaky(route: Any) -> None:
        if route.request.method == "PATCH" and len(aborted) < 2:
            aborted.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/uploads/**", flaky)
    page.set_input_files("#upload-file", str(path))
    page.get_by_role("button", name="Tải lên", exact=True).click()
    wait_until(lambda: state(page).startswith("complete"), 60, "the upload to complete")
    assert len(aborted) == 2
    states, assets = stored(upload_settings, digest)
    assert states == ["complete"] and len(assets) == 1
    # The page's list shows it after a reload.
    page.reload()
    row = page.locator(".upload-list tbody tr").first
    assert path.name in row.inner_text()
    assert row.get_attribute("data-state") == "complete"


def test_an_upload_continues_after_the_page_is_reloaded(
    page: Any, live_server: str, upload_settings: Settings, tmp_path: Path
) -> None:
    path, digest = sample(tmp_path, 4 * MiB)
    sign_in(page, live_server)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.method) if "/uploads/" in r.url else None)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    network(cdp, offline=False)
    page.set_input_files("#upload-file", str(path))
    page.get_by_role("button", name="Tải lên", exact=True).click()
    wait_until(lambda: bar(page) >= 30, 30, "a third of the upload")
    page.reload()  # the page goes away mid-upload
    page.locator("form.upload-form[data-mounted]").wait_for(state="attached")
    page.set_input_files("#upload-file", str(path))
    page.get_by_role("button", name="Tải lên", exact=True).click()
    wait_until(lambda: state(page).startswith("complete"), 60, "the upload to complete")
    assert requests.count("POST") == 1  # the same upload, found again by its fingerprint
    assert requests.count("HEAD") == 1
    states, assets = stored(upload_settings, digest)
    assert states == ["complete"] and len(assets) == 1
