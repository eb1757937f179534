"""The walkable exhibition room in Debian's chromium, with WebGL (SwiftShader) and without.

The exhibition holds what a curator's would: a generated vase scan and a photograph, both
ingested with ``museum ingest`` and processed by the queue's pipelines, plus a text panel.
The room must draw them (a canvas that is not blank), follow the keyboard, load the smallest
level of a model first, open an exhibit's record on click or Enter, and, where WebGL is
disabled, keep the list of exhibits and say why.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh

from server.app import create_app
from server.db import Database
from server.exhibitions import save_exhibition
from tests.browser.axe import axe_violations, describe
from tests.browser.conftest import CHROMIUM, RESULTS, viewer_built
from tests.live import serving
from tests.test_images_job import gradient, ingest_and_process

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
BASE_ARGS = [
    "--no-sandbox",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Headless chromium draws WebGL in software (SwiftShader) on machines without a GPU.
WEBGL_ARGS = [*BASE_ARGS, "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
NO_WEBGL_ARGS = [*BASE_ARGS, "--disable-webgl"]
MODEL_RECORD, IMAGE_RECORD = "DL-ART-01", "DL-ICH-01"
ROOM = "/exhibitions/room-test/room"
VIEWPORT = {"width": 1100, "height": 900}
LOAD_TIMEOUT = 120_000  # generous: SwiftShader on a busy machine is slow
HOST = "document.querySelector('.room')"


@dataclass(frozen=True)
class Site:
    url: str


def vase(path: Path) -> Path:
    """A 30 cm vase (21,600 triangles, Y up), coloured by height: four levels of detail."""
    heights = np.linspace(0, 0.3, 60)
    radii = 0.08 + 0.05 * np.sin(heights / 0.3 * np.pi * 1.5)
    profile = np.column_stack([np.r_[0, radii, 0], np.r_[0, heights, 0.3]])
    revolved = trimesh.creation.revolve(profile, sections=180)  # about +z
    vertices = revolved.vertices[:, [0, 2, 1]] * [1, 1, -1]  # turned: z up becomes y up
    green = (60 + vertices[:, 1] * 500).astype(np.uint8)
    red, blue, alpha = (np.full(len(green), v, np.uint8) for v in (170, 40, 255))
    colours = np.column_stack([red, green, blue, alpha])
    mesh = trimesh.Trimesh(vertices, revolved.faces, vertex_colors=colours, process=False)
    mesh.export(path)
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("room")
    settings, model = ingest_and_process(work, vase(work / "vase.ply"), MODEL_RECORD)
    settings, image = ingest_and_process(work, gradient(work / "gong.jpg"), IMAGE_RECORD)
    assert model.published_version and image.published_version
    exhibition = {
        "id": "room-test",
        "title": {"vi": "Phòng thử", "en": "Test room"},
        "published": True,
        "stops": [
            {"record_id": MODEL_RECORD, "text": {"vi": "Một chiếc bình"}},
            {"record_id": IMAGE_RECORD, "asset_id": image.id},
            {"title": {"vi": "Lời kết", "en": "Closing words"}},
        ],
    }
    db = Database(settings.resolved_database_url)
    try:
        db.call(lambda session: save_exhibition(session, exhibition), write=True)
    finally:
        db.dispose()
    with serving(create_app(settings)) as url:
        yield Site(url)


def _launch(browser: Any, args: list[str]) -> Iterator[Any]:
    """Another chromium with our own flags, from the session's Playwright (one per process)."""
    launched = browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def webgl_browser(browser: Any) -> Iterator[Any]:
    yield from _launch(browser, WEBGL_ARGS)


@pytest.fixture(scope="module")
def plain_browser(browser: Any) -> Iterator[Any]:
    yield from _launch(browser, NO_WEBGL_ARGS)


@contextmanager
def room_page(
    browser: Any, site: Site, request: pytest.FixtureRequest, **options: Any
) -> Iterator[Any]:
    """A page that records its errors and /media/ requests and refuses foreign requests."""
    context = browser.new_context(locale="vi-VN", viewport=VIEWPORT, **options)
    page = context.new_page()
    foreign: list[str] = []
    errors: list[str] = []
    media: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(site.url) else foreign.append(r.url))
    page.on("request", lambda r: media.append(r.url) if "/media/" in r.url else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors, page.media = errors, media
    try:
        yield page
    except BaseException:
        RESULTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)
        raise
    finally:
        context.close()
    assert foreign == [], "requests left 127.0.0.1"


@pytest.fixture
def page(webgl_browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    with room_page(webgl_browser, site, request) as opened:
        yield opened


def open_room(page: Any, site: Site) -> None:
    """The room page, once every exhibit shows its media (models at least at one level)."""
    page.goto(f"{site.url}{ROOM}")
    page.wait_for_function(f"() => {HOST}.room && {HOST}.room.settled", timeout=LOAD_TIMEOUT)
    shown = page.evaluate(f"() => {HOST}.room.exhibits.map(e => e.ready)")
    assert shown == [True, True, True], f"exhibits shown: {shown}; page errors: {page.errors}"


def room(page: Any, expression: str) -> Any:
    return page.evaluate(f"() => {{ const r = {HOST}.room; return {expression}; }}")


def canvas_pixels(page: Any) -> Any:
    from PIL import Image

    page.wait_for_timeout(200)  # one more frame on screen
    shot = page.locator(".room-stage canvas").screenshot()
    return np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=np.float64)


def show_in_room(page: Any, number: int) -> None:
    """Press "show in the room" beside exhibit ``number`` of the list, from the keyboard."""
    page.locator(f".room-exhibit[data-number='{number}'] .room-show").focus()
    page.keyboard.press("Enter")


def settle(page: Any) -> None:
    """Wait until the view is still: no glide, no key held, no frame to come."""
    page.wait_for_function(f"() => !{HOST}.room.busy", timeout=10_000)


def test_the_room_draws_the_exhibits_smallest_level_first(page: Any, site: Site) -> None:
    open_room(page, site)
    assert page.evaluate(f"() => {HOST}.dataset.roomState") == "webgl"
    pixels = canvas_pixels(page)
    assert pixels.std() > 20, f"canvas looks blank (std {pixels.std():.1f})"
    assert room(page, "r.renderer.getContext() instanceof WebGL2RenderingContext")
    # The vase is close enough for its finest room level; it came after the smallest.
    page.wait_for_function(
        f"() => {HOST}.room.exhibits[0].levels.length >= 2", timeout=LOAD_TIMEOUT
    )
    lods = room(page, "r.exhibits[0].lods.map(l => l.url)")
    assert [u.rsplit("/", 1)[1] for u in lods] == ["preview.glb", "thumb.glb", "web.glb"]
    glbs = [u.rsplit("/", 1)[1] for u in page.media if u.endswith(".glb")]
    assert glbs[0] == "preview.glb" and "web.glb" in glbs, glbs
    assert "high.glb" not in glbs
    assert any("/thumb-1200.jpg" in u for u in page.media), "the photograph is framed"
    assert page.locator(".room-progress").inner_text() == "Đã hiển thị đủ 3 hiện vật."
    assert page.locator(".room-notice").count() == 0
    assert page.errors == []


def test_walking_with_the_keyboard_changes_the_view(page: Any, site: Site) -> None:
    open_room(page, site)
    page.locator(".room-stage").focus()
    settle(page)
    before, pose = canvas_pixels(page), room(page, "r.pose")
    page.keyboard.down("ArrowUp")
    page.wait_for_timeout(1000)
    page.keyboard.up("ArrowUp")
    settle(page)
    walked, frames = room(page, "r.pose"), room(page, "r.frames")
    assert walked["z"] < pose["z"] - 0.2, (pose, walked)
    page.wait_for_timeout(1000)
    assert room(page, "r.frames") == frames, "frames drawn while nothing moves"
    after = canvas_pixels(page)
    assert np.abs(after - before).mean() > 3, "the view did not change"
    page.keyboard.down("ArrowLeft")
    page.wait_for_timeout(800)
    page.keyboard.up("ArrowLeft")
    settle(page)
    assert room(page, "r.pose.yaw") > walked["yaw"] + 0.3
    assert np.abs(canvas_pixels(page) - after).mean() > 3


def test_enter_opens_the_exhibit_in_front(page: Any, site: Site) -> None:
    open_room(page, site)
    show = page.locator(".room-exhibit[data-number='2'] .room-show")
    assert show.inner_text().startswith("Xem trong phòng")
    show_in_room(page, 2)
    settle(page)
    assert room(page, "r.facing") == 1
    current = page.locator(".room-exhibit[aria-current='true'] a")
    assert current.get_attribute("href") == f"/items/{IMAGE_RECORD}"
    assert (
        "Trước mặt bạn: Không gian văn hóa Cồng chiêng" in page.locator(".room-facing").inner_text()
    )
    assert page.evaluate("() => document.activeElement.classList.contains('room-stage')")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/items/{IMAGE_RECORD}")


def test_clicking_an_exhibit_opens_its_record(page: Any, site: Site) -> None:
    open_room(page, site)
    show_in_room(page, 1)
    settle(page)
    point = room(page, "r.screenPoint(0)")
    assert point["onScreen"], point
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url(f"{site.url}/items/{MODEL_RECORD}")


def test_dragging_looks_around_without_opening_anything(page: Any, site: Site) -> None:
    open_room(page, site)
    box = page.locator(".room-stage").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    yaw = room(page, "r.pose.yaw")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 200, y, steps=8)
    page.mouse.up()
    settle(page)
    assert room(page, "r.pose.yaw") == pytest.approx(yaw + 200 * 0.005, abs=0.05)
    assert page.url == f"{site.url}{ROOM}"


def test_a_tap_on_the_floor_steps_forward(
    webgl_browser: Any, site: Site, request: pytest.FixtureRequest
) -> None:
    with room_page(webgl_browser, site, request, has_touch=True) as page:
        open_room(page, site)
        box = page.locator(".room-stage").bounding_box()
        before = room(page, "r.pose")
        page.touchscreen.tap(box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.9)
        settle(page)
        after = room(page, "r.pose")
        assert after["z"] == pytest.approx(before["z"] - 0.8, abs=0.01), (before, after)
        assert page.url == f"{site.url}{ROOM}"


def _go_to_second_exhibit(page: Any) -> tuple[float, float]:
    """Distances of the pose just after "show in the room" and at the start, from the end."""
    start = room(page, "r.pose")
    show_in_room(page, 2)
    just_after = room(page, "r.pose")
    settle(page)
    end = room(page, "r.pose")
    assert room(page, "r.facing") == 1

    def apart(a: dict[str, float], b: dict[str, float]) -> float:
        return float(np.hypot(a["x"] - b["x"], a["z"] - b["z"]) + abs(a["yaw"] - b["yaw"]))

    return apart(just_after, end), apart(start, end)


def test_the_camera_glides_unless_reduced_motion_is_asked_for(
    webgl_browser: Any, site: Site, request: pytest.FixtureRequest
) -> None:
    with room_page(webgl_browser, site, request) as page:
        open_room(page, site)
        left, whole = _go_to_second_exhibit(page)
        assert left > 0.5 * whole, "a glide starts where the visitor stands"
    with room_page(webgl_browser, site, request, reduced_motion="reduce") as page:
        open_room(page, site)
        left, whole = _go_to_second_exhibit(page)
        assert whole > 1 and left == 0, "with reduced motion the view jumps at once"


def test_without_webgl_the_list_is_the_exhibition(
    plain_browser: Any, site: Site, request: pytest.FixtureRequest
) -> None:
    with room_page(plain_browser, site, request) as page:
        page.goto(f"{site.url}{ROOM}")
        notice = page.locator(".room-notice")
        notice.wait_for()
        assert notice.inner_text().startswith(
            "Trình duyệt này không vẽ được phòng 3D (không có WebGL)"
        )
        assert page.evaluate(f"() => {HOST}.dataset.roomState") == "no-webgl"
        assert page.locator(".room canvas").count() == 0
        links = page.locator(".room-list a")
        assert links.count() == 3
        assert links.nth(2).get_attribute("href") == "/exhibitions/room-test#stop-3"
        links.nth(0).click()
        page.wait_for_url(f"{site.url}/items/{MODEL_RECORD}")
        assert page.errors == []


def test_the_exhibition_page_works_without_script(
    plain_browser: Any, site: Site, request: pytest.FixtureRequest
) -> None:
    with room_page(plain_browser, site, request, java_script_enabled=False) as page:
        page.goto(f"{site.url}/exhibitions/room-test?lang=en")
        pictures = page.locator(".stop-picture")
        assert pictures.count() == 2
        assert (
            pictures.nth(0).get_attribute("alt")
            == "Ancient gong sets (Dak Lak Museum collection) (3D model)"
        )
        assert page.evaluate(
            "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
        )
        page.locator(".room-link").first.click()
        page.wait_for_url(f"{site.url}{ROOM}")
        assert page.locator(".room-list li").count() == 3


@pytest.mark.parametrize("language", ["vi", "en"])
def test_no_serious_accessibility_violation(page: Any, site: Site, language: str) -> None:
    for path in ("/exhibitions", "/exhibitions/room-test", ROOM):
        page.goto(f"{site.url}{path}?lang={language}")
        if path == ROOM:
            page.wait_for_function(
                f"() => {HOST}.room && {HOST}.room.settled", timeout=LOAD_TIMEOUT
            )
        violations = axe_violations(page)
        assert violations == [], f"{path}: {describe(violations)}"
