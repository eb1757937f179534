"""Images and documents from ingest to IIIF: the process_image job, the CLI, the watermark rule."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image
from starlette.testclient import TestClient

from processing.registry import pipeline_for
from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.jobs import JobService
from server.media_jobs import image_options, version_for, watermark_for
from server.migrate import upgrade
from server.models import Asset
from server.queue import Queue
from server.settings import Settings
from server.storage import Store
from server.tasks import job_handlers
from tests.conftest import SEED_CATALOG
from tests.jobhelpers import drain
from tests.staff import sign_in
from tests.test_cli import run_museum


def gradient(path: Path, width: int = 1500, height: int = 1000) -> Path:
    x = np.linspace(0, 255, width, dtype=np.float64)
    y = np.linspace(0, 255, height, dtype=np.float64)
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = x[None, :]
    pixels[..., 1] = y[:, None]
    pixels[..., 2] = 80
    Image.fromarray(pixels).save(path, quality=92)
    return path


def ingest_and_process(tmp_path: Path, source: Path, record_id: str) -> tuple[Settings, Asset]:
    """``museum ingest`` into a seeded catalog, then a worker's queue drained: the asset row."""
    settings = Settings(data_dir=tmp_path / "data", job_retry_delay=0.0)
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.dispose()
    result = run_museum(
        tmp_path, "ingest", "--record", record_id, str(source), env={"MUSEUM_LANGUAGE": "en"}
    )
    assert result.returncode == 0, result.stderr
    asset_id = result.stdout.split("\t")[0]
    service = JobService(
        Database(settings.resolved_database_url),
        Queue(settings.resolved_queue_url),
        settings,
        job_handlers(),
        Store(settings.data_dir),
    )
    try:
        drain(service, timeout=300)
        row = service.db.call(lambda s: s.get(Asset, asset_id))
    finally:
        service.db.dispose()
    assert row is not None
    return settings, row


def test_images_and_documents_are_routed_to_the_image_pipeline() -> None:
    assert pipeline_for("image") == pipeline_for("document") == "process_image"


def test_the_watermark_follows_the_rights_statement() -> None:
    settings = Settings.from_env({})
    in_copyright = "http://rightsstatements.org/vocab/InC/1.0/"
    assert watermark_for(settings, (in_copyright, "Bảo tàng tỉnh")) == "© Bảo tàng tỉnh"
    assert watermark_for(settings, (in_copyright, "")) == settings.image_watermark_text
    assert watermark_for(settings, ("https://creativecommons.org/licenses/by/4.0/", "X")) is None
    assert watermark_for(settings, None) is None
    assert image_options(Settings.from_env({"MUSEUM_IMAGE_DZI": "true"})).dzi is True
    none = Settings.from_env({"MUSEUM_IMAGE_WATERMARK_RIGHTS": ""})
    assert watermark_for(none, (in_copyright, "X")) is None
    # A watermark changes the public files, so it names another derivative version.
    plain, marked = image_options(settings), image_options(settings, None, (in_copyright, "X"))
    assert version_for("ab" * 32, plain) != version_for("ab" * 32, marked)


def test_an_ingested_image_is_published_and_served_over_iiif(tmp_path: Path) -> None:
    source = gradient(tmp_path / "gong.jpg")
    settings, row = ingest_and_process(tmp_path, source, "DL-ICH-01")
    data, asset_id = settings.data_dir, row.id
    assert row.published_version is not None
    assert (row.technical["width"], row.technical["height"]) == (1500, 1000)
    assert row.technical["pipeline"] == "image"
    folder = data / "derivatives" / asset_id / row.published_version
    report = json.loads((folder / "report.json").read_text())
    assert report["status"] == "ok"
    with TestClient(create_app(settings)) as client:
        info = client.get(f"/iiif/3/{asset_id}/info.json").json()
        assert (info["width"], info["height"]) == (1500, 1000)
        assert info["sizes"], "the pipeline's sizes reach info.json"
        tile = client.get(f"/iiif/3/{asset_id}/0,0,512,512/512,512/0/default.jpg")
        assert tile.status_code == 200
        assert (
            tile.content
            == (folder / "iiif" / "0,0,512,512" / "512,512" / "0" / "default.jpg").read_bytes()
        )
        rendered = client.get(f"/iiif/3/{asset_id}/full/300,/0/default.png")
        pixels = np.asarray(Image.open(io.BytesIO(rendered.content)).convert("RGB"), np.int16)
        assert pixels.shape == (200, 300, 3)
        # The gradient survives: red grows to the right, green downwards.
        assert pixels[100, 280, 0] - pixels[100, 20, 0] > 200
        assert pixels[190, 150, 1] - pixels[10, 150, 1] > 200
        manifest = client.get("/iiif/3/manifests/DL-ICH-01").json()
        assert asset_id in json.dumps(manifest)


def test_cli_process_makes_a_pyramid_and_refuses_a_bomb_in_vietnamese(tmp_path: Path) -> None:
    source = gradient(tmp_path / "photo.jpg", 700, 500)
    out = tmp_path / "out"
    result = run_museum(tmp_path, "process", str(source), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "pyramid.tif").is_file() and (out / "iiif" / "info.json").is_file()
    assert result.stdout.split("\t")[0] == "700x500"
    bomb = tmp_path / "bomb.png"
    pyvips.Image.black(19000, 19000).cast("uchar").pngsave(str(bomb), palette=True, bitdepth=1)
    refused = run_museum(tmp_path, "process", str(bomb), "--out", str(tmp_path / "bomb-out"))
    assert refused.returncode == 1
    line = " ".join(refused.stderr.split())
    assert "bom giải nén" in line and "(decompression_bomb:" in line, refused.stderr
    report = json.loads((tmp_path / "bomb-out" / "report.json").read_text())
    assert report["status"] == "failed" and report["error"]["code"] == "decompression_bomb"


@pytest.mark.parametrize("kind", ["image", "document"])
def test_cli_kind_chooses_the_image_pipeline(tmp_path: Path, kind: str) -> None:
    source = gradient(tmp_path / "page.jpg", 600, 800)
    out = tmp_path / "out"
    result = run_museum(tmp_path, "process", str(source), "--out", str(out), "--kind", kind)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["pipeline"] == "image" and report["kind"] == kind


FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAGES = (
    "Thuyền độc mộc của người Ê Đê được đẽo từ một thân cây lớn.\n"
    "Người thợ già kể rằng chiếc thuyền ấy chở lúa qua sông Krông Ana.",
    "Tấm thổ cẩm dệt tay mang hoa văn hình thoi và hình răng cưa.\n"
    "Những chiếc gùi đan bằng mây được dùng khi lên rẫy.",
)


@pytest.mark.slow
@pytest.mark.skipif(not FONT.is_file(), reason=f"{FONT} missing: apt install fonts-dejavu-core")
def test_a_scanned_document_is_read_and_found_by_search(tmp_path: Path) -> None:
    from PIL import ImageDraw, ImageFont

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
    source = tmp_path / "scan.pdf"
    pages[0].save(source, save_all=True, append_images=pages[1:], resolution=300)

    settings, row = ingest_and_process(tmp_path, source, "DL-REL-01")
    data, asset_id = settings.data_dir, row.id
    assert row.published_version is not None
    assert row.kind == "document" and len(row.technical["pages"]) == 2
    folder = data / "derivatives" / asset_id / row.published_version
    report = json.loads((folder / "report.json").read_text())
    assert report["tools"]["tesseract"]
    second = (folder / report["statistics"]["pages"][1]["ocr"]["text"]).read_text()
    assert "thổ cẩm" in second and "gùi" in second
    lines = json.loads((folder / report["statistics"]["pages"][0]["ocr"]["lines"]).read_text())
    assert lines["lines"] and all(len(line["bbox"]) == 4 for line in lines["lines"])
    with TestClient(create_app(settings)) as client:
        # Machine-read text reaches visitors only once a person accepted it.
        found = client.get("/api/v1/search", params={"q": "răng cưa"}).json()
        assert [item["id"] for item in found["items"]] == []
        assert client.get(f"/iiif/3/annotations/{asset_id}~2").status_code == 404
        sign_in(client, "chi", "curator")
        decision = {"kind": "text", "decision": "accept"}
        accepted = client.post(f"/admin/review/media/{asset_id}", data=decision)
        assert accepted.status_code == 200, accepted.text
        for query in ("thuyền độc mộc", "tho cam", "răng cưa"):
            found = client.get("/api/v1/search", params={"q": query}).json()
            assert [item["id"] for item in found["items"]] == ["DL-REL-01"], query
        check_document_iiif(client, asset_id)


def check_document_iiif(client: TestClient, asset_id: str) -> None:
    """One canvas per page, each page an image service, its OCR lines as annotations."""
    manifest = client.get("/iiif/3/manifests/DL-REL-01").json()
    canvases = [c for c in manifest["items"] if asset_id in c["id"]]
    assert [c["id"].rsplit("/", 1)[1] for c in canvases] == [f"{asset_id}~1", f"{asset_id}~2"]
    second = canvases[1]
    service = second["items"][0]["items"][0]["body"]["service"][0]["id"]
    info = client.get(f"{service}/info.json").json()
    assert (info["width"], info["height"]) == (second["width"], second["height"])
    page = client.get(second["annotations"][0]["id"])
    assert page.status_code == 200 and page.headers["access-control-allow-origin"] == "*"
    document = page.json()
    assert document["type"] == "AnnotationPage"
    text = " ".join(item["body"]["value"] for item in document["items"])
    assert "thổ cẩm" in text
    for item in document["items"]:
        target, xywh = item["target"].split("#xywh=")
        assert target == second["id"]
        x, y, w, h = map(int, xywh.split(","))
        assert x >= 0 and y >= 0 and x + w <= second["width"] and y + h <= second["height"]
    for missing in (f"{asset_id}~3", f"{asset_id}~0", f"{asset_id}~01", f"{asset_id}~x"):
        assert client.get(f"/iiif/3/{missing}/info.json").status_code == 404, missing
