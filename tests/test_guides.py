"""Audio guides in the catalog: each record's title spoken into a published guide asset per
language by a queue job, made again only when the title changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from processing.av.guide import ESPEAK, guide_key
from processing.av.probe import FFMPEG
from server.app import create_app
from server.db import Database
from server.guides import JOB_KIND, enqueue_guides, guide_asset_id
from server.jobs import JobService
from server.models import Asset, Job, Record
from server.search import index_record
from server.settings import Settings
from server.vocab import GUIDE_ROLE
from tests.jobhelpers import drain, job_service
from tests.test_cli import run_museum

MISSING = [tool for tool in (ESPEAK, FFMPEG) if not Path(tool).is_file()]
needs_tools = pytest.mark.skipif(
    bool(MISSING),
    reason=f"{', '.join(MISSING)} not found: install the Debian packages espeak-ng and ffmpeg",
)
GONGS = {"vi": "Không gian văn hóa Cồng chiêng Tây Nguyên", "en": "Space of Gong Culture"}
TOWER = {"vi": "Tháp Yang Prông"}


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[JobService]:
    """A catalog (SQLite) with two records, one titled in Vietnamese only, and its queue."""
    data = tmp_path / "data"
    service = job_service(
        tmp_path, f"sqlite:///{data / 'museum.sqlite3'}", f"sqlite:///{data / 'queue.sqlite3'}"
    )
    service.db.call(lambda s: _add_records(s, {"T-GONGS": GONGS, "T-TOWER": TOWER}), write=True)
    yield service
    service.db.dispose()


def _add_records(session: Session, titles: dict[str, dict[str, str]]) -> None:
    for record_id, title in titles.items():
        session.add(
            Record(status="published", id=record_id, kind="di_san_phi_vat_the", title=title)
        )


def guides_of(db: Database, record_id: str) -> dict[str, Asset]:
    """The record's guide assets by language."""
    query = select(Asset).where(Asset.record_id == record_id, Asset.role == GUIDE_ROLE)
    return {a.technical["guide_language"]: a for a in db.call(lambda s: s.scalars(query).all())}


def queue(jobs: JobService) -> int:
    return enqueue_guides(jobs.db, jobs)


@needs_tools
def test_every_titled_language_gets_a_published_guide_once(jobs: JobService) -> None:
    assert queue(jobs) == 3  # vi and en of the gongs, vi of the tower
    assert queue(jobs) == 0  # already waiting in the queue: not queued twice
    assert drain(jobs, timeout=300) == 3
    gongs = guides_of(jobs.db, "T-GONGS")
    assert set(gongs) == {"vi", "en"}
    for language, asset in gongs.items():
        assert asset.id == guide_asset_id("T-GONGS", language)
        assert (asset.kind, asset.label) == ("audio", {language: GONGS[language]})
        technical = asset.technical
        assert technical["guide_key"] == guide_key(GONGS[language], language)
        assert technical["guide_text"] == GONGS[language] and technical["captions"] == []
        assert 0.5 < technical["duration"] < 15  # a spoken title, not silence or a book
        assert [r["name"] for r in technical["renditions"]] == ["audio"]
        folder = jobs.store.derivative_dir(asset.id, str(asset.published_version))
        assert (folder / "master.m3u8").is_file()
        assert (folder / technical["renditions"][0]["playlist"]).is_file()
        assert technical["renditions"][0]["playlist"].startswith("audio/")
        assert jobs.store.verify(asset.sha256)  # the spoken WAV is a checksummed original
    assert set(guides_of(jobs.db, "T-TOWER")) == {"vi"}  # no English title, no English guide
    assert queue(jobs) == 0  # every guide up to date


@needs_tools
def test_a_changed_title_remakes_only_its_guide(jobs: JobService) -> None:
    enqueue_guides(jobs.db, jobs, ["T-GONGS"])
    drain(jobs, timeout=300)
    before = guides_of(jobs.db, "T-GONGS")

    def retitle(session: Session) -> None:
        record = session.get(Record, "T-GONGS")
        assert record is not None
        record.title = {**GONGS, "en": "Space of Gong Culture in the Central Highlands"}

    jobs.db.call(retitle, write=True)
    assert enqueue_guides(jobs.db, jobs, ["T-GONGS"]) == 1
    assert drain(jobs, timeout=300) == 1
    after = guides_of(jobs.db, "T-GONGS")
    assert after["vi"].published_version == before["vi"].published_version
    assert after["en"].published_version != before["en"].published_version
    assert after["en"].id == before["en"].id  # the same asset, a new version
    assert after["en"].label == {"en": "Space of Gong Culture in the Central Highlands"}
    old = jobs.store.derivative_dir(before["en"].id, str(before["en"].published_version))
    assert (old / "master.m3u8").is_file()  # versions are immutable: the old one stays


@needs_tools
def test_a_duplicate_job_does_nothing(jobs: JobService) -> None:
    params = {"record_id": "T-TOWER", "language": "vi"}
    first, second = jobs.submit(JOB_KIND, params), jobs.submit(JOB_KIND, params)
    drain(jobs, timeout=300)
    assert jobs.get(first)["state"] == jobs.get(second)["state"] == "succeeded"
    assert "version" in jobs.get(first)["result"]
    assert "up to date" in jobs.get(second)["result"]["skipped"]
    forced = jobs.submit(JOB_KIND, {**params, "force": True})
    drain(jobs, timeout=300)
    # Made again: the same words give the same bytes, hence the same version.
    assert jobs.get(forced)["result"]["version"] == jobs.get(first)["result"]["version"]


def test_museum_guides_queues_and_names_an_unknown_record(tmp_path: Path) -> None:
    english = {"MUSEUM_LANGUAGE": "en"}
    assert run_museum(tmp_path, "db", "upgrade").returncode == 0
    db = Database(f"sqlite:///{tmp_path / 'data' / 'museum.sqlite3'}")
    db.call(lambda s: _add_records(s, {"T-GONGS": GONGS, "T-TOWER": TOWER}), write=True)
    done = run_museum(tmp_path, "guides", "--record", "T-GONGS", env=english)
    assert done.returncode == 0, done.stderr
    assert "Queued 2 audio guide(s)." in done.stdout
    unknown = run_museum(tmp_path, "guides", "--record", "T-GONGS", "--record", "NO-SUCH")
    assert unknown.returncode != 0
    assert "NO-SUCH" in unknown.stderr and "Traceback" not in unknown.stderr
    queued = db.call(lambda s: s.scalars(select(Job.params).where(Job.kind == JOB_KIND)).all())
    db.dispose()
    assert sorted(p["language"] for p in queued) == ["en", "vi"]  # the failed call queued none


def test_a_catalog_import_queues_guides_unless_turned_off(tmp_path: Path) -> None:
    sheet = tmp_path / "catalog.csv"
    sheet.write_text(
        "seed_id,entity_type,name_vi,name_en\n"
        f"T-GONGS,di_san_phi_vat_the,{GONGS['vi']},{GONGS['en']}\n"
        f"T-TOWER,di_tich,{TOWER['vi']},\n",
        encoding="utf-8",
    )
    off = {"MUSEUM_LANGUAGE": "en", "MUSEUM_AUDIO_GUIDES": "false"}
    quiet = run_museum(tmp_path, "catalog", "import", str(sheet), env=off)
    assert quiet.returncode == 0, quiet.stderr
    assert "audio guide" not in quiet.stdout + quiet.stderr
    first = run_museum(tmp_path, "catalog", "import", str(sheet), env={"MUSEUM_LANGUAGE": "en"})
    assert first.returncode == 0, first.stderr
    assert "Queued 3 audio guide(s)." in first.stderr
    again = run_museum(tmp_path, "catalog", "import", str(sheet), env={"MUSEUM_LANGUAGE": "en"})
    assert "Queued 0 audio guide(s)." in again.stderr  # still waiting for a worker
    assert Settings.from_env({"MUSEUM_AUDIO_GUIDES": "off"}).audio_guides is False


@needs_tools
def test_the_record_page_offers_the_guide_in_its_language_and_nowhere_else(
    jobs: JobService,
) -> None:
    queue(jobs)
    drain(jobs, timeout=300)
    gongs = guides_of(jobs.db, "T-GONGS")
    with TestClient(create_app(jobs.settings)) as client:
        for language in ("vi", "en"):
            page = client.get(f"/items/T-GONGS?lang={language}").text
            guide = gongs[language]
            assert page.count('class="audio-guide"') == 1
            assert f"/media/{guide.id}/{guide.published_version}/master.m3u8" in page
        other = gongs["en"]
        assert f"/media/{other.id}/" not in client.get("/items/T-GONGS?lang=vi").text
        # The tower has a Vietnamese guide only: an English page offers that one.
        tower = guides_of(jobs.db, "T-TOWER")["vi"]
        assert f"/media/{tower.id}/" in client.get("/items/T-TOWER?lang=en").text
        # A guide is the label read aloud, not a recording of the heritage: no IIIF canvas,
        # and the record is not "with audio" in search.
        manifest = client.get("/iiif/3/manifests/T-GONGS").json()
        assert not any(guide.id in json.dumps(item) for item in manifest.get("items", []))
        jobs.db.call(lambda s: index_record(s, s.get(Record, "T-GONGS")), write=True)
        facets = client.get("/api/v1/search", params={"q": "Cồng chiêng"}).json()["facets"]
        assert [v["value"] for v in facets["kind"]] == ["di_san_phi_vat_the"]  # indexed
        assert not any(value["value"] == "audio" for value in facets.get("media", []))
