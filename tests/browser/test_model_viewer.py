"""A processed 3D scan in Debian's chromium through the model-viewer island (WebGL).

The scan goes the whole way a curator's would: a generated sphere with coloured sides
(``museum ingest`` on a record, the queue job that makes the levels of detail), an
annotation added with ``museum annotations add``, then the record page. The viewer must
ask for the smallest level first and end on the one it chose, draw a picture that is not
blank, turn with the keyboard and come back on reset, show the annotation as a marker and
in the list, measure in real millimetres, and never ask another host for anything.
"""

from __future__ import annotations

import base64
import colorsys
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import trimesh
from PIL import Image
from playwright.sync_api import Browser, Page, Request

from server.app import create_app
from tests.browser.conftest import viewer_built
from tests.live import serving
from tests.test_cli import run_museum
from tests.test_images_job import ingest_and_process

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
RECORD = "DL-ART-01"
RADIUS_MM = 150.0
HOST = ".model-viewer"
SETTLED = f"{HOST}[data-state=ready], {HOST}[data-state=error]"
VIEWER = f"document.querySelector('{HOST}').modelViewer"
TITLE_VI = "Đỉnh chiêng"
TEXT_VI = "Chỗ cao nhất của hiện vật"


@dataclass(frozen=True)
class Site:
    url: str
    lods: list[dict[str, Any]]  # from the catalog, as the pipeline recorded them
    asset_id: str


def coloured_sphere(path: Path) -> Path:
    """A 20,480-triangle sphere of radius 0.15 m, its hue going round the vertical axis,
    so every turn shows different colours."""
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=RADIUS_MM / 1000)
    x, z = sphere.vertices[:, 0], sphere.vertices[:, 2]
    hues = (np.arctan2(z, x) + math.pi) / (2 * math.pi)
    rgb = np.array([colorsys.hsv_to_rgb(h, 0.8, 0.9) for h in hues]) * 255
    alpha = np.full((len(rgb), 1), 255)
    sphere.visual.vertex_colors = np.hstack([rgb, alpha]).astype(np.uint8)
    sphere.export(path)
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("model")
    settings, asset = ingest_and_process(work, coloured_sphere(work / "sphere.ply"), RECORD)
    assert asset.published_version is not None, asset.technical
    added = run_museum(
        work,
        "annotations",
        "add",
        asset.id,
        *("--x", "0", "--y", "0.3", "--z", "0", "--normal", "0", "1", "0"),
        *("--title-vi", TITLE_VI, "--title-en", "Top of the gong"),
        *("--text-vi", TEXT_VI, "--media", f"/items/{RECORD}"),
    )
    assert added.returncode == 0, added.stderr
    with serving(create_app(settings)) as url:
        yield Site(url, asset.technical["lods"], asset.id)


@dataclass
class Visit:
    page: Page
    glb_requests: list[str]
    foreign: list[str]
    errors: list[str]


def _visit(
    browser: Browser,
    site: Site,
    init_script: str = "",
    motion: Literal["reduce", "no-preference"] = "reduce",
) -> Visit:
    context = browser.new_context(
        locale="vi-VN", viewport={"width": 1100, "height": 900}, reduced_motion=motion
    )
    page = context.new_page()
    visit = Visit(page, [], [], [])

    def seen(request: Request) -> None:
        url = request.url
        if not url.startswith(site.url):
            visit.foreign.append(url)
        elif url.endswith(".glb"):
            visit.glb_requests.append(url.rsplit("/", 1)[1])

    page.on("request", seen)
    page.on("pageerror", lambda error: visit.errors.append(str(error)))
    if init_script:
        page.add_init_script(init_script)
    page.goto(f"{site.url}/items/{RECORD}?lang=vi")
    page.wait_for_selector(SETTLED, timeout=120_000)
    state = page.get_attribute(HOST, "data-state")
    status = page.locator(".model-status").inner_text()
    assert state == "ready", f"viewer {state}: {status} {visit.errors}"
    return visit


@pytest.fixture
def visit(browser: Browser, site: Site) -> Iterator[Visit]:
    """The record page with reduced motion: no intro turn, so pictures are repeatable."""
    visit = _visit(browser, site)
    yield visit
    assert visit.foreign == []
    visit.page.context.close()


def snapshot(page: Page) -> np.ndarray:
    data_url = page.evaluate(f"() => {VIEWER}.snapshot()")
    png = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference per channel, 0–255."""
    return float(np.abs(a - b).mean())


def test_the_smallest_level_comes_first_then_the_chosen_one(visit: Visit, site: Site) -> None:
    page = visit.page
    by_size = sorted(site.lods, key=lambda lod: (lod["triangles"], lod["bytes"]))
    smallest = by_size[0]["path"]
    target = page.evaluate(f"() => {VIEWER}.targetLod")
    target_path = next(lod["path"] for lod in site.lods if lod["name"] == target)
    assert visit.glb_requests[0] == smallest
    assert visit.glb_requests[-1] == target_path != smallest
    assert len(visit.glb_requests) == len(set(visit.glb_requests))  # nothing fetched twice
    assert page.get_attribute(HOST, "data-lod-loaded") == target
    # The page lists the levels smallest first, for scripts and for the viewer alike.
    listed = page.evaluate(f"() => JSON.parse(document.querySelector('{HOST}').dataset.lods)")
    assert [lod["triangles"] for lod in listed] == sorted(lod["triangles"] for lod in listed)
    # Once the model is shown, the poster steps aside (it stays for browsers without WebGL).
    assert page.locator(".model-poster").is_hidden()


def test_the_picture_is_not_blank(visit: Visit) -> None:
    picture = snapshot(visit.page)
    background = picture[2, 2]
    covered = np.abs(picture - background).sum(axis=2) > 30
    assert 0.1 < covered.mean() < 0.9, covered.mean()  # the sphere fills part of the view
    assert picture[covered].std(axis=0).max() > 20  # in several colours, lit and shaded


def test_keyboard_turns_and_zooms_and_reset_restores(visit: Visit) -> None:
    page = visit.page
    canvas = page.locator(".model-canvas")
    assert canvas.get_attribute("tabindex") == "0"
    assert "Đỉnh" not in (canvas.get_attribute("aria-label") or "")
    help_id = canvas.get_attribute("aria-describedby")
    assert "phím mũi tên" in page.locator(f"#{help_id}").inner_text()
    canvas.focus()
    assert page.evaluate("() => document.activeElement.matches('.model-canvas:focus-visible')")
    before = snapshot(page)
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    turned = snapshot(page)
    assert difference(before, turned) > 5
    page.keyboard.press("Home")
    assert difference(before, snapshot(page)) < 0.5
    page.keyboard.press("+")
    assert difference(before, snapshot(page)) > 5
    page.get_by_role("button", name="Đặt lại góc nhìn").click()
    assert difference(before, snapshot(page)) < 0.5


def test_an_annotation_added_on_the_command_line_is_a_marker_and_in_the_list(
    visit: Visit,
) -> None:
    page = visit.page
    marker = page.locator(".model-marker")
    assert marker.count() == 1
    assert marker.inner_text() == "1"
    assert marker.get_attribute("aria-label") == f"Điểm 1: {TITLE_VI}"
    # The marker sits on the sphere's top, inside the picture.
    box = marker.bounding_box()
    stage = page.locator(".model-stage").bounding_box()
    assert box is not None and stage is not None
    assert stage["x"] < box["x"] < stage["x"] + stage["width"]
    assert stage["y"] < box["y"] < stage["y"] + stage["height"] / 2
    entry = page.locator(".model-annotations li")
    assert entry.count() == 1
    assert TITLE_VI in entry.inner_text()
    assert page.get_by_text(TEXT_VI).is_hidden()
    marker.click()
    assert page.get_by_text(TEXT_VI).is_visible()
    link = entry.get_by_role("link")
    assert link.get_attribute("href") == f"/items/{RECORD}"
    toggle = entry.get_by_role("button")
    assert toggle.get_attribute("aria-expanded") == "true"
    toggle.click()
    assert page.get_by_text(TEXT_VI).is_hidden()


def test_measuring_from_the_keyboard_gives_real_millimetres(visit: Visit) -> None:
    page = visit.page
    page.get_by_role("button", name="Đo", exact=True).click()
    assert page.get_by_role("button", name="Đo", exact=True).get_attribute("aria-pressed") == "true"
    page.locator(".model-canvas").focus()
    page.keyboard.press("Enter")  # where the view's centre meets the sphere
    for _ in range(12):  # 12 × 15° = half a turn
        page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    # Both points lie on the sphere, opposite in azimuth at the camera's polar angle φ:
    # they are 2 r sin φ apart.
    polar = page.evaluate(f"() => {VIEWER}.controls.getPolarAngle()")
    expected_mm = 2 * RADIUS_MM * math.sin(polar)
    status = page.locator(".model-status").inner_text()
    found = re.search(r"Khoảng cách: ([0-9]+(?:,[0-9]+)?) cm", status)
    assert found, status
    measured_mm = float(found.group(1).replace(",", ".")) * 10
    assert measured_mm == pytest.approx(expected_mm, rel=0.02)
    assert page.locator(".model-measure-label").inner_text() == found.group(0).split(": ")[1]


def test_raking_light_changes_the_picture(visit: Visit) -> None:
    page = visit.page
    select = page.get_by_label("Ánh sáng", exact=True)
    labels = select.locator("option").all_inner_texts()
    assert labels == ["Phòng chụp", "Ánh sáng ban ngày", "Ánh sáng xiên (làm rõ chỗ lồi lõm)"]
    before = snapshot(page)
    select.select_option(label=labels[2])
    raking = snapshot(page)
    assert raking.mean() < before.mean() - 40  # a dark room, one low light


def test_motion_follows_the_visitors_preference(browser: Browser, site: Site) -> None:
    reduced = _visit(browser, site)
    moving = _visit(browser, site, motion="no-preference")
    try:
        position = f"() => {VIEWER}.camera.position.toArray()"
        still = reduced.page.evaluate(position)
        reduced.page.wait_for_timeout(1000)
        assert reduced.page.evaluate(position) == still  # nothing turns by itself
        # Without the preference, a short intro turn, then no drawing until something changes.
        idle = f"() => !{VIEWER}.controls.autoRotate && !{VIEWER}.frameRequested"
        moving.page.wait_for_function(idle, timeout=15_000)
        moving.page.wait_for_timeout(500)
        assert moving.page.evaluate(idle)
        # It turned an eighth of a turn (by the clock, whatever the frame rate), then stopped.
        azimuth = moving.page.evaluate(f"() => {VIEWER}.controls.getAzimuthalAngle()")
        assert azimuth == pytest.approx(-math.pi / 4, abs=0.05)
        # Drags glide to a stop only for those who have not asked for less motion.
        damping = f"() => {VIEWER}.controls.enableDamping"
        assert moving.page.evaluate(damping) is True
        assert reduced.page.evaluate(damping) is False
    finally:
        for visit in (reduced, moving):
            visit.page.context.close()


AR_SUPPORTED = """
Object.defineProperty(navigator, "xr", {
  value: { isSessionSupported: async (mode) => mode === "immersive-ar" },
});
"""
SAVE_DATA = """
Object.defineProperty(navigator, "connection", { value: { saveData: true } });
"""


def test_the_ar_button_appears_only_where_ar_is_supported(browser: Browser, site: Site) -> None:
    plain = _visit(browser, site)
    with_ar = _visit(browser, site, AR_SUPPORTED)
    try:
        assert plain.page.locator(".model-ar").is_hidden()
        ar = with_ar.page.get_by_role("button", name="Xem trong căn phòng của bạn (AR)")
        ar.wait_for(state="visible")
    finally:
        for visit in (plain, with_ar):
            visit.page.context.close()


def test_save_data_keeps_to_the_smallest_level(browser: Browser, site: Site) -> None:
    visit = _visit(browser, site, SAVE_DATA)
    try:
        smallest = min(site.lods, key=lambda lod: lod["triangles"])
        assert visit.glb_requests == [smallest["path"]]
        assert visit.page.get_attribute(HOST, "data-lod-loaded") == smallest["name"]
        assert visit.foreign == []
    finally:
        visit.page.context.close()
