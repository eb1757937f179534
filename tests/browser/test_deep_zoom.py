"""Deep zoom of images and documents in Debian's chromium, through the bundle's OpenSeadragon.

Both media go the whole way a curator's would: ``museum ingest`` on a record, the queue job
that writes the IIIF tiles (and, for the document, reads its text with Tesseract), then the
record page. The image viewer must fetch tiles of a finer scale after zooming in by button
and by keyboard; the document must show its OCR text over the page, turn its pages, and
highlight the words of ``?q=`` found without their diacritics. Nothing may be fetched from
anywhere but the museum.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from server.app import VIEWER_DIST, create_app
from server.audit import Actor
from server.db import Database
from server.image_view import Thumbnail, viewers
from server.models import Asset
from server.review_actions import decide_text
from server.settings import Settings
from tests.browser.conftest import viewer_built
from tests.live import serving
from tests.test_images_job import ingest_and_process
from tests.test_ocr import TESSERACT_MISSING


def in_browser(test: Callable[..., None]) -> Callable[..., None]:
    """Marks a test that drives chromium (the view tests at the end of this file do not)."""
    for mark in (
        pytest.mark.browser,
        pytest.mark.slow,
        pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
    ):
        test = mark(test)
    return test


IMAGE_RECORD = "DL-ICH-01"
IMAGE_TITLE = "Không gian văn hóa Cồng chiêng Tây Nguyên"  # the seed catalog's Vietnamese title
DOCUMENT_RECORD = "DL-REL-01"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAGES = (
    "Thuyền độc mộc của người Ê Đê được đẽo từ một thân cây lớn.\n"
    "Người thợ già kể rằng chiếc thuyền ấy chở lúa qua sông Krông Ana.",
    "Tấm thổ cẩm dệt tay mang hoa văn hình thoi và hình răng cưa.\n"
    "Những chiếc gùi đan bằng mây được dùng khi lên rẫy.",
)
WIDTH, HEIGHT = 4000, 3000  # the generated image
# A tile OpenSeadragon asks for: /iiif/3/<id>/<x>,<y>,<w>,<h>/<w>,<h>/0/default.jpg (or full/…).
TILE = re.compile(r"/iiif/3/([^/]+)/(full|\d+,\d+,(\d+),\d+)/(\d+),\d+/0/default\.jpg$")
VIEWER = "document.querySelector('.deep-zoom')?.deepZoom?.viewer"  # OpenSeadragon, once mounted
LOADED = f"() => {VIEWER}?.world.getItemAt(0)?.getFullyLoaded() === true"
STEPS_OF_A_ZOOM = f"""async () => {{
    const viewer = {VIEWER}, start = viewer.viewport.getZoom(true), seen = [];
    const record = () => seen.push(viewer.viewport.getZoom(true));
    viewer.addHandler("animation", record);
    const settled = new Promise(done => viewer.addOnceHandler("animation-finish", done));
    document.querySelector(".dz-zoomIn").click();
    await settled;
    viewer.removeHandler("animation", record);
    const end = viewer.viewport.getZoom(true);
    return seen.filter(z => z > start * 1.01 && z < end * 0.99).length;
}}"""
AXE = Path(__file__).resolve().parents[2] / "viewer" / "node_modules" / "axe-core" / "axe.min.js"


@dataclass
class Traffic:
    """What a page fetched: tiles by image id and scale factor, failures, foreign hosts."""

    base: str
    tiles: list[tuple[str, int]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request: Any) -> None:
        if not request.url.startswith(self.base):
            self.foreign.append(request.url)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")
        match = TILE.search(response.url.split("?")[0])
        if match:
            identifier, region, width, size = match.groups()
            region_width = WIDTH if region == "full" else int(width)
            self.tiles.append((identifier, round(region_width / int(size))))

    def scales(self, since: int = 0) -> set[int]:
        return {scale for _, scale in self.tiles[since:]}


def pattern(path: Path, width: int = WIDTH, height: int = HEIGHT) -> Path:
    """Colour gradients under a 100 px checkerboard: detail at every scale, for real tiles."""
    x = np.arange(width)[None, :]
    y = np.arange(height)[:, None]
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = x * 255 // width
    pixels[..., 1] = y * 255 // height
    pixels[..., 2] = np.where((x // 100 + y // 100) % 2 == 0, 200, 40)
    Image.fromarray(pixels).save(path, quality=85)
    return path


def text_pdf(path: Path) -> Path:
    """Two pages of Vietnamese at 300 dpi, as a scanner would make them."""
    # Basic layout: with libvips loaded in this process, Pillow's raqm layout can bind to
    # libvips' own HarfBuzz and stack every glyph in one place.
    font = ImageFont.truetype(str(FONT), 42, layout_engine=ImageFont.Layout.BASIC)
    pages = []
    for text in PAGES:
        page = Image.new("L", (2480, 1200), 255)
        draw = ImageDraw.Draw(page)
        for number, line in enumerate(text.split("\n")):
            draw.text((150, 200 + number * 90), line, font=font, fill=0)
        pages.append(page.convert("RGB"))
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=300)
    return path


@dataclass(frozen=True)
class Site:
    url: str
    asset_id: str


def serve(settings: Settings, work: Path) -> Any:
    """The app on loopback, with a copy of the viewer bundle: a rebuild while the tests run
    (``node build.mjs`` replaces every hashed file) cannot take the pages' scripts away."""
    dist = work / "viewer-dist"
    shutil.copytree(VIEWER_DIST, dist)
    return serving(create_app(settings, viewer_dist=dist))


@pytest.fixture(scope="module")
def image_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("deep-zoom-image")
    settings, asset = ingest_and_process(work, pattern(work / "pattern.jpg"), IMAGE_RECORD)
    assert asset.published_version is not None, asset.technical
    with serve(settings, work) as url:
        yield Site(url, asset.id)


@pytest.fixture(scope="module")
def document_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if TESSERACT_MISSING is not None:
        pytest.skip(TESSERACT_MISSING)
    if not FONT.is_file():
        pytest.skip(f"{FONT} not found: install the Debian package fonts-dejavu-core")
    work = tmp_path_factory.mktemp("deep-zoom-document")
    settings, asset = ingest_and_process(work, text_pdf(work / "scan.pdf"), DOCUMENT_RECORD)
    assert asset.published_version is not None, asset.technical
    assert all(page["ocr"] for page in asset.technical["pages"]), asset.technical
    accept_text(settings, asset.id)
    with serve(settings, work) as url:
        yield Site(url, asset.id)


def accept_text(settings: Settings, asset_id: str) -> None:
    """A curator accepts the text the machine read (visitors get no unreviewed text)."""
    db = Database(settings.resolved_database_url)
    try:
        actor = Actor(None, "curator")
        db.call(lambda s: decide_text(s, asset_id, "accept", None, actor, "curator"), write=True)
    finally:
        db.dispose()


def open_page(browser: Any, site: Site, path: str, **context: Any) -> tuple[Any, Traffic]:
    """A fresh Vietnamese page at ``path``, its traffic watched from the first request."""
    page = browser.new_context(locale="vi-VN", **context).new_page()
    traffic = Traffic(site.url)
    traffic.watch(page)
    page.goto(f"{site.url}{path}")
    return page, traffic


def wait_loaded(page: Any) -> None:
    page.wait_for_selector(".deep-zoom[data-mounted]")
    page.wait_for_function(LOADED, timeout=30_000)


def zoom(page: Any, current: bool = True) -> float:
    return float(page.evaluate(f"c => {VIEWER}.viewport.getZoom(c)", current))


def wait_zoom(page: Any, test: str, home: float) -> None:
    """Wait until the zoom ``z`` shown now passes ``test`` (a JS expression of z and home)."""
    page.wait_for_function(
        f"home => {{ const z = {VIEWER}.viewport.getZoom(true); return {test}; }}", arg=home
    )


@in_browser
def test_zooming_in_fetches_finer_tiles(browser, image_site: Site) -> None:  # type: ignore[no-untyped-def]
    page, traffic = open_page(browser, image_site, f"/items/{IMAGE_RECORD}?lang=vi")
    wait_loaded(page)
    assert page.locator(".dz-fallback").is_hidden(), "the thumbnail gives way to the viewer"
    first = traffic.scales()
    assert first, "the viewer fetched no IIIF tiles"
    assert {identifier for identifier, _ in traffic.tiles} == {image_site.asset_id}
    seen = len(traffic.tiles)
    home = zoom(page)

    page.get_by_role("button", name="Phóng to", exact=True).click()
    wait_zoom(page, "z > home * 1.9", home)
    canvas = page.locator(".deep-zoom .openseadragon-canvas")
    canvas.focus()
    page.keyboard.press("=")  # OpenSeadragon's own keys: = or + zooms in, - out, 0 home
    wait_zoom(page, "z > home * 3", home)
    wait_loaded(page)
    later = traffic.scales(seen)
    assert later and min(later) < min(first), (first, later)
    assert len(first | later) >= 2

    page.keyboard.press("0")
    wait_zoom(page, "Math.abs(z - home) < 1e-6", home)
    detail = page.locator(".dz-detail").evaluate("a => a.href")
    assert detail and detail.startswith(f"{image_site.url}/iiif/3/{image_site.asset_id}/full/!")
    assert page.request.get(detail).headers["content-type"] == "image/jpeg"
    assert traffic.failed == [] and traffic.foreign == []
    page.context.close()


@in_browser
def test_the_viewer_passes_axe_and_is_reachable_by_keyboard(browser, image_site: Site) -> None:  # type: ignore[no-untyped-def]
    # axe is added to the page as a script of its own: the museum's CSP would refuse it.
    page, traffic = open_page(
        browser, image_site, f"/items/{IMAGE_RECORD}?lang=en", bypass_csp=True
    )
    wait_loaded(page)
    toolbar = page.locator(".dz-toolbar")
    names = [toolbar.locator(".dz-button").nth(i).inner_text() for i in range(4)]
    assert names == ["Zoom out", "Zoom in", "Whole image", "Full screen"]
    page.locator(".dz-toolbar .dz-zoomOut").focus()
    focused = []
    for _ in range(6):
        focused.append(page.evaluate("() => document.activeElement.className"))
        page.keyboard.press("Tab")
    assert "openseadragon-canvas" in " ".join(focused), focused
    label = page.locator(".openseadragon-canvas").get_attribute("aria-label")
    assert label == "Space of Gong Culture in the Central Highlands"
    full_screen = page.get_by_role("button", name="Full screen", exact=True)
    full_screen.click()
    page.wait_for_function("() => document.fullscreenElement?.classList.contains('deep-zoom')")
    page.get_by_role("button", name="Exit full screen", exact=True).click()
    page.wait_for_function("() => document.fullscreenElement === null")
    assert full_screen.inner_text() == "Full screen"
    axe = (
        Path(__file__).resolve().parents[2] / "viewer" / "node_modules" / "axe-core" / "axe.min.js"
    )
    page.add_script_tag(path=str(axe))
    violations = page.evaluate(
        """() => axe.run('.deep-zoom', {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})
                 .then(r => r.violations.map(v => `${v.id}: ${v.nodes.map(n => n.target)}`))"""
    )
    assert violations == []
    assert traffic.failed == [] and traffic.foreign == []
    page.context.close()


@in_browser
def test_reduced_motion_zooms_without_animation(browser, image_site: Site) -> None:  # type: ignore[no-untyped-def]
    for motion, animated in (("reduce", False), ("no-preference", True)):
        page, _ = open_page(
            browser, image_site, f"/items/{IMAGE_RECORD}?lang=vi", reduced_motion=motion
        )
        wait_loaded(page)
        # The zoom drawn at each frame until the zoom settles: an animation passes through
        # zooms between the start and the end, a jump does not.
        between = page.evaluate(STEPS_OF_A_ZOOM)
        assert (between > 0) is animated, (motion, between)
        page.context.close()


@in_browser
def test_without_script_the_thumbnail_links_the_full_image(browser, image_site: Site) -> None:  # type: ignore[no-untyped-def]
    page, traffic = open_page(
        browser, image_site, f"/items/{IMAGE_RECORD}?lang=vi", java_script_enabled=False
    )
    image = page.locator("figure.deep-zoom img")
    assert image.get_attribute("alt") == IMAGE_TITLE
    assert image.get_attribute("src").endswith("/thumb-1200.jpg")
    assert (image.get_attribute("width"), image.get_attribute("height")) == ("1200", "900")
    loaded = image.evaluate("img => [img.complete && img.naturalWidth > 0, img.currentSrc]")
    assert loaded[0] and loaded[1].endswith("/thumb-1200.jpg"), loaded  # a page-wide picture
    link = page.locator("figure.deep-zoom a.dz-fallback").get_attribute("href")
    assert link == f"/iiif/3/{image_site.asset_id}/full/max/0/default.jpg"
    full = page.request.get(image_site.url + link)
    assert full.status == 200 and full.headers["content-type"] == "image/jpeg"
    assert traffic.failed == [] and traffic.foreign == []
    page.context.close()


@in_browser
def test_an_image_that_cannot_be_read_keeps_its_thumbnail(browser, image_site: Site) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.route("**/info.json", lambda route: route.fulfill(status=503, body="busy"))
    page.goto(f"{image_site.url}/items/{IMAGE_RECORD}?lang=en")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text().startswith("The zoomable image could not be loaded")
    assert page.locator(".dz-fallback img").is_visible()
    context.close()


@in_browser
def test_a_document_shows_its_text_and_turns_its_pages(browser, document_site: Site) -> None:  # type: ignore[no-untyped-def]
    page, traffic = open_page(browser, document_site, f"/items/{DOCUMENT_RECORD}?lang=vi")
    wait_loaded(page)
    status = page.locator(".dz-page-status")
    assert status.inner_text() == "Trang 1/2"
    lines = page.locator(".dz-line")
    page.wait_for_function("() => document.querySelectorAll('.dz-line').length >= 2")
    assert lines.first.is_hidden(), "the text layer starts hidden"

    toggle = page.get_by_role("button", name="Hiện lớp chữ", exact=True)
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    assert "độc mộc" in " ".join(lines.all_inner_texts())
    stage = page.locator(".dz-stage").bounding_box()
    first = lines.first.bounding_box()
    assert stage and first
    assert stage["x"] <= first["x"] and first["x"] + first["width"] <= stage["x"] + stage["width"]
    # Real text: a drag across a line selects its words.
    page.mouse.move(first["x"] + 5, first["y"] + first["height"] / 2)
    page.mouse.down()
    page.mouse.move(first["x"] + first["width"] * 0.6, first["y"] + first["height"] / 2, steps=8)
    page.mouse.up()
    assert len(page.evaluate("() => window.getSelection().toString()")) > 5

    panel = page.locator(".dz-text")
    panel.locator("summary").click()
    assert "Thuyền độc mộc" in panel.locator(".dz-text-body").inner_text()

    page.get_by_role("button", name="Trang sau", exact=True).click()
    assert status.inner_text() == "Trang 2/2"
    wait_loaded(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dz-line')].some(l => l.textContent.includes('gùi'))"
    )
    assert "thổ cẩm" in panel.locator(".dz-text-body").inner_text()
    full_size = page.locator("figcaption .dz-full").get_attribute("href")
    assert full_size == f"/iiif/3/{document_site.asset_id}~2/full/max/0/default.jpg"
    assert f"{document_site.asset_id}~2" in {identifier for identifier, _ in traffic.tiles}
    page.locator(".openseadragon-canvas").focus()
    page.keyboard.press("j")  # the previous page, from the keyboard
    assert status.inner_text() == "Trang 1/2"
    # The list of pages (links to each full-size page without script) turns the viewer's pages.
    page.locator(".dz-pages summary").click()
    address = page.url
    page.locator(".dz-pages a", has_text="Trang 2").click()
    assert status.inner_text() == "Trang 2/2" and page.url == address
    assert page.locator(".dz-pages a[aria-current=page]").inner_text() == "Trang 2"
    assert traffic.failed == [] and traffic.foreign == []
    page.context.close()


@in_browser
def test_search_words_are_highlighted_without_diacritics(browser, document_site: Site) -> None:  # type: ignore[no-untyped-def]
    # "gùi" and "dệt" are on page 2 only (folded, page 1's words never read "gui" or "det").
    page, traffic = open_page(browser, document_site, f"/items/{DOCUMENT_RECORD}?q=gui+det&lang=vi")
    wait_loaded(page)
    matches = page.locator(".dz-matches")
    page.wait_for_function("() => document.querySelector('.dz-matches').textContent !== ''")
    assert matches.inner_text() == "2 kết quả"
    # The viewer turns to the page of the first hit and marks both over the page.
    page.wait_for_function(
        "() => document.querySelector('.dz-page-status').textContent === 'Trang 2/2'"
    )
    page.wait_for_function("() => document.querySelectorAll('.dz-hit').length === 2")
    assert page.locator(".dz-hit-current").count() == 1
    marked = page.locator(".dz-text-body mark").all_text_contents()
    assert sorted(marked) == ["dệt", "gùi"], marked
    # Each mark sits on its word: its box overlaps the box of the OCR line holding it.
    for mark in page.locator(".dz-hit").all():
        box = mark.bounding_box()
        assert box and box["width"] > 5
        lines = [line.bounding_box() for line in page.locator(".dz-line").all()]
        assert any(
            line
            and line["y"] <= box["y"] + box["height"] / 2 <= line["y"] + line["height"]
            and line["x"] <= box["x"] <= line["x"] + line["width"]
            for line in lines
        ), box
    home = zoom(page)
    page.get_by_role("button", name="Kết quả sau", exact=True).click()
    wait_zoom(page, "z > home * 1.5", home)
    assert matches.inner_text() == "Kết quả 2/2"
    current = page.locator(".dz-hit-current")
    assert current.get_attribute("data-hit") == "1"
    hit, stage = current.bounding_box(), page.locator(".dz-stage").bounding_box()
    assert hit and stage
    assert stage["x"] <= hit["x"] and hit["x"] + hit["width"] <= stage["x"] + stage["width"]
    assert traffic.failed == [] and traffic.foreign == []
    page.context.close()


@in_browser
def test_hl_highlights_too_and_a_miss_says_so(browser, document_site: Site) -> None:  # type: ignore[no-untyped-def]
    page, _ = open_page(browser, document_site, f"/items/{DOCUMENT_RECORD}?hl=THUYEN&lang=vi")
    wait_loaded(page)
    page.wait_for_selector(".dz-hit", state="attached")
    assert page.locator(".dz-page-status").inner_text() == "Trang 1/2"
    assert page.locator(".dz-matches").inner_text() == "2 kết quả"
    page.context.close()
    page, _ = open_page(browser, document_site, f"/items/{DOCUMENT_RECORD}?q=voi&lang=vi")
    wait_loaded(page)
    page.wait_for_function("() => document.querySelector('.dz-matches').textContent !== ''")
    assert page.locator(".dz-matches").inner_text() == "Không tìm thấy “voi”"
    assert page.locator(".dz-search button").first.is_disabled()
    page.context.close()


# What server.image_view gives the template (no browser needed)


def asset(kind: str = "image", **technical: Any) -> Asset:
    base = {"pipeline": "image", "kind": kind, "width": 800, "height": 600}
    thumbnails = {f"thumbnail:{w}": f"thumb-{w}.jpg" for w in (150, 400, 1200)}
    return Asset(
        id="a1",
        kind=kind,
        role="primary",
        label={},
        published_version="v1",
        technical={**base, "thumbnails": thumbnails, **technical},
    )


def test_a_small_image_keeps_each_thumbnail_once_at_its_real_size() -> None:
    (view,) = viewers([asset()], "vi")
    assert [(t.width, t.height) for t in view.thumbnails] == [(150, 112), (400, 300), (800, 600)]
    # Asked 1200 px wide, the pipeline kept 800: that file is the page-wide picture.
    assert view.thumbnail == Thumbnail("a1/v1/thumb-1200.jpg", 800, 600)
    assert [(p.identifier, p.number, p.text) for p in view.pages] == [("a1", 1, False)]


def test_a_document_is_a_page_per_iiif_image_with_its_text() -> None:
    pages = [
        {"page": 1, "width": 2480, "height": 1200, "folder": "pages/0001/", "ocr": "x.json"},
        {"page": 2, "width": 2480, "height": 1300, "folder": "pages/0002/", "ocr": None},
    ]
    # The text layer of version v1 was accepted by a person (server.review_actions).
    reviewed = asset("document", width=2480, height=1200, pages=pages, ocr_layer="v1")
    (view,) = viewers([reviewed], "en")
    assert [(p.identifier, p.height, p.text) for p in view.pages] == [
        ("a1~1", 1200, True),
        ("a1~2", 1300, False),
    ]
    assert view.has_text and view.thumbnail is not None and view.thumbnail.width == 1200


def test_a_documents_machine_read_text_is_not_shown_before_review() -> None:
    pages = [{"page": 1, "width": 2480, "height": 1200, "folder": "pages/0001/", "ocr": "x.json"}]
    for layer in ({}, {"ocr_layer": "v0"}):  # never accepted, or accepted for an older version
        (view,) = viewers([asset("document", width=2480, height=1200, pages=pages, **layer)], "en")
        assert [p.text for p in view.pages] == [False] and not view.has_text


def test_only_published_image_pipeline_assets_are_shown() -> None:
    unpublished = asset()
    unpublished.published_version = None
    guide = asset()
    guide.role = "guide"
    recording = asset()
    recording.kind = "audio"
    sizeless = asset(width=None)
    other = asset(pipeline="av")
    assert viewers([unpublished, guide, recording, sizeless, other], "vi") == []
