"""The demo's sample media (server/samples.py, assets/samples): shipped with attribution, loaded
idempotently as clearly marked records, stored as checksummed originals, queued for the right
pipelines, walked in the ``sample-media`` exhibition, and never counted as provincial heritage.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from processing.av.captions import cues_to_webvtt, parse_captions
from server.app import create_app
from server.catalog import import_catalog_file
from server.cli_catalog import import_seed
from server.cli_common import Ui
from server.db import Database
from server.errors import NotFound
from server.jobs import JobService
from server.migrate import upgrade
from server.models import (
    Asset,
    AssetCaption,
    AssetText,
    Base,
    Collection,
    CollectionRecord,
    Exhibition,
    ExhibitionStop,
    Job,
    JobEvent,
    Record,
    RecordSearch,
)
from server.report import progress
from server.samples import SAMPLES, SAMPLES_DIR, load_samples
from server.settings import Settings
from tests.conftest import CORPUS, ROOT, SEED_CATALOG
from tests.jobhelpers import drain, job_service

TODAY = date(2026, 11, 21)
# Written out here, not read from server.samples: what each sample must be.
EXPECTED = {
    "SAMPLE-3D-01": ("esp32cam-rig-scan.zip", "model", "process_model"),
    "SAMPLE-IMG-01": ("natural-earth-2-world.jpg", "image", "process_image"),
    "SAMPLE-DOC-01": ("sample-collection.pdf", "document", "process_image"),
    "SAMPLE-VID-01": ("flower.mp4", "video", "process_av"),
    "SAMPLE-AUD-01": ("tabla-loop.flac", "audio", "process_av"),
    "SAMPLE-AUD-02": ("librispeech-198-209-0000.ogg", "audio", "process_av"),
}
LICENCES = {
    "SAMPLE-3D-01": "https://opensource.org/license/mit",
    "SAMPLE-IMG-01": "http://creativecommons.org/publicdomain/mark/1.0/",
    "SAMPLE-DOC-01": "https://www.apache.org/licenses/LICENSE-2.0",
    "SAMPLE-VID-01": "http://creativecommons.org/publicdomain/zero/1.0/",
    "SAMPLE-AUD-01": "http://creativecommons.org/publicdomain/zero/1.0/",
    "SAMPLE-AUD-02": "http://creativecommons.org/licenses/by/4.0/",
}
MAX_BYTES = 8 * 1024 * 1024
SNAPSHOT_TABLES = (
    Record,
    RecordSearch,
    Collection,
    CollectionRecord,
    Asset,
    AssetCaption,
    Job,
    JobEvent,
    Exhibition,
    ExhibitionStop,
)


@pytest.fixture
def jobs(tmp_path: Path, database_url: str) -> Iterator[JobService]:
    """A job service on a fresh catalog (SQLite and PostgreSQL) holding the seed records."""
    service = job_service(tmp_path, database_url, f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    service.db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    yield service
    service.db.dispose()


def rows(session: Session, model: type[Base]) -> list[tuple[Any, ...]]:
    columns = list(model.__table__.columns)
    result = session.execute(select(*columns)).all()
    return sorted((tuple(row) for row in result), key=repr)


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row, every column (timestamps included) of the tables a load writes."""
    return db.call(lambda s: {m.__tablename__: rows(s, m) for m in SNAPSHOT_TABLES})


def sample_assets(db: Database) -> dict[str, Asset]:
    found = db.call(lambda s: s.scalars(select(Asset).where(Asset.record_id.in_(EXPECTED))).all())
    return {asset.record_id: asset for asset in found if asset.record_id}


# The files


def test_every_sample_file_is_shipped_small_and_attributed() -> None:
    readme = (SAMPLES_DIR / "README.md").read_text("utf-8")
    notice = (ROOT / "NOTICE").read_text("utf-8")
    assert {s.record_id: s.file for s in SAMPLES} == {k: v[0] for k, v in EXPECTED.items()}
    files = [s.file for s in SAMPLES] + [c.file for s in SAMPLES for c in s.captions]
    for name in files:
        assert (SAMPLES_DIR / name).is_file(), name
        assert f"`{name}`" in readme, f"{name} has no row in assets/samples/README.md"
        assert name in notice, f"{name} is not in NOTICE"
    for licence in ("MIT", "CC0 1.0", "CC BY 4.0", "Public domain", "Apache"):
        assert licence in readme
    total = sum(path.stat().st_size for path in SAMPLES_DIR.iterdir())
    assert total < MAX_BYTES, f"assets/samples holds {total} bytes"


def test_the_scan_bundle_is_a_textured_obj_whose_material_names_its_texture() -> None:
    with zipfile.ZipFile(SAMPLES_DIR / "esp32cam-rig-scan.zip") as bundle:
        names = set(bundle.namelist())
        assert names == {"texturedMesh.obj", "texturedMesh.mtl", "texture_1001.jpg", "LICENSE"}
        assert "mtllib texturedMesh.mtl" in bundle.read("texturedMesh.obj")[:200].decode()
        assert "map_Kd texture_1001.jpg" in bundle.read("texturedMesh.mtl").decode()
        assert bundle.read("texture_1001.jpg")[:3] == b"\xff\xd8\xff"
        assert "Copyright (c) 2022 Magnus Haw" in bundle.read("LICENSE").decode()


def test_the_document_has_a_vietnamese_and_an_english_page() -> None:
    pages = PdfReader(SAMPLES_DIR / "sample-collection.pdf").pages
    assert len(pages) == 2
    vietnamese, english = (" ".join(page.extract_text().split()) for page in pages)
    assert "Tư liệu mẫu" in vietnamese and "không phải là di sản" in vietnamese
    assert "Sample media" in english and "not heritage of Đắk Lắk" in english


@pytest.mark.corpus
def test_the_script_makes_these_very_files_from_the_corpus(tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the corpus is not at {CORPUS}")
    script = ROOT / "scripts" / "make_sample_media.py"
    made = subprocess.run(
        [sys.executable, str(script), "--corpus", str(CORPUS), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    # Copies are byte for byte; what an encoder made (the JPEG texture, the PDF) is compared by
    # content, so a newer Pillow or fpdf2 does not fail this test.
    made_files = {path.name for path in tmp_path.iterdir()}
    assert made_files == {s.file for s in SAMPLES}
    for name in made_files - {"esp32cam-rig-scan.zip", "sample-collection.pdf"}:
        assert (tmp_path / name).read_bytes() == (SAMPLES_DIR / name).read_bytes(), name
    with (
        zipfile.ZipFile(tmp_path / "esp32cam-rig-scan.zip") as fresh,
        zipfile.ZipFile(SAMPLES_DIR / "esp32cam-rig-scan.zip") as shipped,
    ):
        assert fresh.namelist() == shipped.namelist()
        for name in ("texturedMesh.obj", "texturedMesh.mtl", "LICENSE"):
            assert fresh.read(name) == shipped.read(name), name
    texts = [
        [page.extract_text() for page in PdfReader(folder / "sample-collection.pdf").pages]
        for folder in (tmp_path, SAMPLES_DIR)
    ]
    assert texts[0] == texts[1]


# Loading


def test_loading_twice_gives_the_same_rows(jobs: JobService) -> None:
    first = load_samples(jobs)
    assert (first.records.created, first.new_files, first.jobs) == (6, 6, 6)
    assert first.captions == 2 and first.guides == 12  # titles in vi and en, as imports do
    before = snapshot(jobs.db)
    again = load_samples(jobs)
    assert (again.records.created, again.records.updated, again.records.unchanged) == (0, 0, 6)
    assert (again.new_files, again.jobs, again.captions, again.guides) == (0, 0, 0, 0)
    assert snapshot(jobs.db) == before


def test_files_are_stored_as_checksummed_originals_equal_to_the_assets(jobs: JobService) -> None:
    load_samples(jobs)
    assets = sample_assets(jobs.db)
    assert set(assets) == set(EXPECTED)
    for record_id, (name, kind, _) in EXPECTED.items():
        asset, data = assets[record_id], (SAMPLES_DIR / name).read_bytes()
        assert (asset.filename, asset.kind, asset.size) == (name, kind, len(data))
        assert asset.sha256 == hashlib.sha256(data).hexdigest()
        assert jobs.store.original_path(asset.sha256).read_bytes() == data
        assert jobs.store.verify(asset.sha256)


def test_each_file_is_queued_once_for_its_pipeline(jobs: JobService) -> None:
    load_samples(jobs)
    assets = sample_assets(jobs.db)
    queued = jobs.db.call(
        lambda s: s.execute(select(Job.asset_id, Job.kind, Job.params, Job.state)).all()
    )
    for record_id, (_, _, pipeline) in EXPECTED.items():
        asset_id = assets[record_id].id
        mine = [(kind, params, state) for a, kind, params, state in queued if a == asset_id]
        assert mine == [(pipeline, {"asset_id": asset_id}, "queued")], record_id


def test_the_records_say_they_are_samples_and_carry_their_licence(jobs: JobService) -> None:
    load_samples(jobs)
    records = jobs.db.call(
        lambda s: {r.id: r for r in s.scalars(select(Record).where(Record.id.in_(EXPECTED)))}
    )
    members = jobs.db.call(
        lambda s: s.scalars(
            select(CollectionRecord.record_id)
            .where(CollectionRecord.collection_id == "sample-media")
            .order_by(CollectionRecord.position)
        ).all()
    )
    assert members == list(EXPECTED)
    for record_id, record in records.items():
        assert record.title["vi"].startswith("Tư liệu mẫu")
        assert record.title["en"].startswith("Sample media")
        assert "không phải" in record.description["vi"] and "not " in record.description["en"]
        assert record.rights == LICENCES[record_id]
        assert record.rights_holder and record.credit_line["vi"] and record.credit_line["en"]
        assert (record.access_level, record.digitization_status) == ("public", "digitized")


def test_the_exhibition_lists_every_sample_in_order(jobs: JobService) -> None:
    load_samples(jobs)
    assets = sample_assets(jobs.db)
    exhibition = jobs.db.call(lambda s: s.get(Exhibition, "sample-media"))
    assert exhibition is not None and exhibition.published
    assert exhibition.access_level == "public"
    assert exhibition.title == {"vi": "Tư liệu mẫu", "en": "Sample media"}
    assert "không phải là hiện vật" in exhibition.summary["vi"]
    assert "not artefacts" in exhibition.summary["en"]
    stops = jobs.db.call(
        lambda s: s.execute(
            select(ExhibitionStop.position, ExhibitionStop.record_id, ExhibitionStop.asset_id)
            .where(ExhibitionStop.exhibition_id == "sample-media")
            .order_by(ExhibitionStop.position)
        ).all()
    )
    assert [tuple(stop) for stop in stops] == [
        (position, record_id, assets[record_id].id)
        for position, record_id in enumerate(EXPECTED, 1)
    ]


def test_the_video_captions_wait_in_the_catalog_for_its_first_version(jobs: JobService) -> None:
    load_samples(jobs)
    video = sample_assets(jobs.db)["SAMPLE-VID-01"]
    captions = jobs.db.call(
        lambda s: s.scalars(select(AssetCaption).where(AssetCaption.asset_id == video.id)).all()
    )
    assert {(c.language, c.source, c.status) for c in captions} == {
        ("vi", "human", "accepted"),
        ("en", "human", "accepted"),
    }
    for caption in captions:
        data = (SAMPLES_DIR / f"flower.{caption.language}.vtt").read_bytes()
        assert caption.text == cues_to_webvtt(parse_captions(data, "flower.vtt"))


def test_the_progress_report_does_not_count_the_samples(jobs: JobService) -> None:
    # Without the filter the scan (an artefact) and the five documentary records would count.
    before = jobs.db.call(lambda s: progress(s, TODAY))
    load_samples(jobs)
    after = jobs.db.call(lambda s: progress(s, TODAY))
    assert after.totals == before.totals
    assert after.catalog_records == before.catalog_records
    assert after.categories == before.categories
    remaining = {item.id for line in after.categories for item in line.remaining_items}
    assert not remaining & set(EXPECTED)


def test_a_failed_job_is_queued_again_but_a_waiting_one_is_not(jobs: JobService) -> None:
    load_samples(jobs)
    image = sample_assets(jobs.db)["SAMPLE-IMG-01"].id
    jobs.db.call(
        lambda s: s.execute(update(Job).where(Job.asset_id == image).values(state="failed")),
        write=True,
    )
    again = load_samples(jobs)
    assert again.jobs == 1
    states = jobs.db.call(
        lambda s: sorted(s.scalars(select(Job.state).where(Job.asset_id == image)).all())
    )
    assert states == ["failed", "queued"]


def test_a_missing_file_is_refused_before_anything_is_written(
    jobs: JobService, tmp_path: Path
) -> None:
    with pytest.raises(NotFound) as refused:
        load_samples(jobs, folder=tmp_path / "nowhere")
    assert "MUSEUM_DEMO_SAMPLES=false" in refused.value.render(lambda m: m)
    assert jobs.db.call(lambda s: s.get(Record, "SAMPLE-3D-01")) is None


@pytest.mark.parametrize("enabled", [True, False])
def test_the_demo_loads_the_samples_unless_turned_off(tmp_path: Path, enabled: bool) -> None:
    settings = Settings(data_dir=tmp_path / "data", audio_guides=False, demo_samples=enabled)
    db = Database(settings.resolved_database_url)
    upgrade(db)
    try:
        import_seed(Ui(settings))
        count = db.call(lambda s: len(s.scalars(select(Record.id)).all()))
        exhibition = db.call(lambda s: s.get(Exhibition, "sample-media"))
    finally:
        db.dispose()
    assert count == 31 + (6 if enabled else 0)
    assert (exhibition is not None) == enabled


# Processing


def edited_captions(folder: Path) -> Path:
    """A copy of assets/samples whose English captions of the film say something else."""
    shutil.copytree(SAMPLES_DIR, folder)
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nA new English caption.\n"
    (folder / "flower.en.vtt").write_text(vtt, "utf-8")
    return folder


@pytest.mark.slow
def test_every_sample_is_processed_and_published(tmp_path: Path) -> None:
    service = job_service(
        tmp_path,
        f"sqlite:///{tmp_path / 'museum.sqlite3'}",
        f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        audio_guides=False,
    )
    try:
        load_samples(service)
        drain(service, timeout=280)
        assets = sample_assets(service.db)
        failed = service.db.call(
            lambda s: s.execute(select(Job.kind, Job.message).where(Job.state != "succeeded")).all()
        )
        texts = service.db.call(lambda s: {t.asset_id: t for t in s.scalars(select(AssetText))})
        assert load_samples(service).jobs == 0  # published: nothing to queue again
        first_film = service.db.call(lambda s: s.get(Asset, assets["SAMPLE-VID-01"].id))
        changed = edited_captions(tmp_path / "edited")
        assert load_samples(service, folder=changed).captions == 1
        film = service.db.call(lambda s: s.get(Asset, assets["SAMPLE-VID-01"].id))
    finally:
        service.db.dispose()
    # Captions changed after publication are published at once, as a version of their own.
    assert film and first_film and film.published_version != first_film.published_version
    english = service.store.derivative_dir(film.id, str(film.published_version)) / "captions.en.vtt"
    assert "A new English caption." in english.read_text()
    assert failed == []
    assert all(asset.published_version for asset in assets.values())
    technical = {record_id: asset.technical for record_id, asset in assets.items()}
    assert [lod["name"] for lod in technical["SAMPLE-3D-01"]["lods"]] == [
        "high",
        "web",
        "thumb",
        "preview",
    ]
    assert (technical["SAMPLE-IMG-01"]["width"], technical["SAMPLE-IMG-01"]["height"]) == (
        4000,
        2000,
    )
    assert technical["SAMPLE-IMG-01"]["kind"] == "image"
    document = technical["SAMPLE-DOC-01"]
    assert document["kind"] == "document" and len(document["pages"]) == 2
    ocr = texts[assets["SAMPLE-DOC-01"].id]
    assert "Tư liệu mẫu" in ocr.text and "Sample media" in ocr.text
    video = technical["SAMPLE-VID-01"]
    assert video["kind"] == "video" and sorted(video["captions"]) == ["en", "vi"]
    assert video["caption_drafts"] == []  # a silent film: only people's captions
    assert technical["SAMPLE-AUD-01"]["kind"] == "audio"
    assert technical["SAMPLE-AUD-01"]["captions"] == []  # drums: no words
    speech = technical["SAMPLE-AUD-02"]
    assert speech["kind"] == "audio" and speech["caption_drafts"] == ["en"]
    film = assets["SAMPLE-VID-01"]
    master = service.store.derivative_dir(film.id, str(film.published_version)) / "master.m3u8"
    assert "captions.vi" in master.read_text() and "captions.en" in master.read_text()
    with TestClient(create_app(service.settings)) as client:
        for record_id in EXPECTED:
            assert client.get(f"/items/{record_id}").status_code == 200
        page = client.get("/exhibitions/sample-media")
        assert page.status_code == 200
        assert all(f"/items/{record_id}" in page.text for record_id in EXPECTED)


def test_the_home_page_shows_the_samples_as_an_exhibition_not_as_heritage(
    jobs: JobService,
) -> None:
    load_samples(jobs)
    with TestClient(create_app(jobs.settings)) as client:
        home = client.get("/?lang=en").text
    assert "/exhibitions/sample-media" in home  # featured: the way to the samples
    assert not any(f"/items/{record_id}" in home for record_id in EXPECTED)
    assert "/items/DL-ICH-01" in home  # the province's records are still there
