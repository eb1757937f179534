"""A video or recording ingested into the catalog: the queue job publishes it, the IIIF
manifest plays it, and the words heard are a machine draft that visitors get (captions,
search) once a person accepts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from processing.av.probe import FFMPEG
from processing.registry import pipeline_for
from server.app import create_app
from server.db import Database
from server.media_jobs import av_options, download_allowed, version_for
from server.models import AssetText
from server.settings import Settings
from tests.conftest import CORPUS
from tests.staff import sign_in
from tests.test_av_hls import make_clip
from tests.test_images_job import ingest_and_process

pytestmark = pytest.mark.skipif(
    not Path(FFMPEG).is_file(), reason="ffmpeg not found: install the Debian package ffmpeg"
)
SPEECH = CORPUS / "av" / "speech" / "librispeech_198-209-0000.hq.ogg"


def test_video_and_audio_are_routed_to_the_av_pipeline() -> None:
    assert pipeline_for("video") == pipeline_for("audio") == "process_av"


def test_downloads_follow_the_rights_statement() -> None:
    assert download_allowed(("https://creativecommons.org/licenses/by/4.0/", "X"))
    assert download_allowed(("http://rightsstatements.org/vocab/NoC-US/1.0/", ""))
    assert not download_allowed(("http://rightsstatements.org/vocab/InC/1.0/", "X"))
    assert not download_allowed(None)
    settings = Settings.from_env({})
    # Whether a download is made changes the files: another derivative version.
    plain, open_ = av_options(settings), av_options(settings, download=True)
    assert version_for("ab" * 32, plain) != version_for("ab" * 32, open_)
    target = Settings.from_env({"MUSEUM_AV_LOUDNESS_TARGET": "-23"})
    assert av_options(target).loudness_target == -23.0


def test_an_ingested_video_is_published_and_in_the_manifest(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "gong.mp4", size="854x480", seconds=5)
    settings, row = ingest_and_process(tmp_path, source, "DL-ICH-01")
    assert row.published_version is not None
    technical = row.technical
    assert (technical["pipeline"], technical["kind"]) == ("av", "video")
    assert (technical["width"], technical["height"]) == (854, 480)
    assert abs(technical["duration"] - 5.0) < 0.1
    assert [r["name"] for r in technical["renditions"]] == ["audio", "480p", "360p"]
    assert technical["poster"] == "poster.jpg" and technical["captions"] == []
    folder = settings.data_dir / "derivatives" / row.id / row.published_version
    assert (folder / "master.m3u8").is_file() and (folder / "poster.jpg").is_file()
    with TestClient(create_app(settings)) as client:
        manifest = client.get("/iiif/3/manifests/DL-ICH-01").json()
        canvases = [c for c in manifest["items"] if row.id in c["id"]]
        assert len(canvases) == 1
        body = canvases[0]["items"][0]["items"][0]["body"]
        assert body["type"] == "Video" and body["id"].endswith(
            f"/media/{row.id}/{row.published_version}/master.m3u8"
        )
        assert (body["width"], body["height"]) == (854, 480)
        master = client.get(f"/media/{row.id}/{row.published_version}/master.m3u8")
        assert master.status_code == 200 and "#EXT-X-STREAM-INF" in master.text


@pytest.mark.slow
@pytest.mark.corpus
def test_a_recording_with_speech_gets_a_draft_transcript_public_once_accepted(
    tmp_path: Path,
) -> None:
    if not SPEECH.is_file():
        pytest.skip(f"{SPEECH} not found: the corpus (../shared/corpus) is not beside the project")
    source = tmp_path / "epic.ogg"
    source.write_bytes(SPEECH.read_bytes())
    settings, row = ingest_and_process(tmp_path, source, "DL-ICH-02")
    assert row.technical["kind"] == "audio" and row.technical["captions"] == []
    assert row.technical["caption_drafts"] == ["en"] and row.technical["waveform"]
    db = Database(settings.resolved_database_url)
    try:
        text = db.call(lambda s: s.get(AssetText, row.id))
    finally:
        db.dispose()
    assert text is not None and (text.source, text.language, text.status) == ("asr", "en", "draft")
    assert text.model.startswith("faster-whisper") and "catherine" in text.text.lower()
    with TestClient(create_app(settings)) as client:
        master = client.get(f"/media/{row.id}/{row.published_version}/master.m3u8").text
        assert "SUBTITLES" not in master
        found = client.get("/api/v1/search", params={"q": "Catherine"}).json()
        assert "DL-ICH-02" not in json.dumps(found)
        assert "captions.en.vtt" not in client.get("/iiif/3/manifests/DL-ICH-02").text
        sign_in(client, "chi", "curator")
        decision = {"kind": "caption", "language": "en", "decision": "accept"}
        accepted = client.post(f"/admin/review/media/{row.id}", data=decision)
        assert accepted.status_code == 200  # the review page, after the redirect
        found = client.get("/api/v1/search", params={"q": "Catherine"}).json()
        assert "DL-ICH-02" in json.dumps(found)
        manifest = client.get("/iiif/3/manifests/DL-ICH-02").json()
        assert "captions.en.vtt" in json.dumps(manifest)
