"""Machine captions and OCR text are not public until a person accepts them: not in the HLS
master playlist, the player, the IIIF manifest, the annotations endpoint or search. Accepting
publishes them; editing checks the text; rejecting keeps them out."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from server.captions import keep_captions, refresh_captions
from server.db import Database
from server.machine_files import public_file
from server.models import Asset, AssetCaption, AssetText, AuditEntry, Record
from server.search import index_record
from server.storage import Store
from tests.staff import sign_in
from tests.test_captions_catalog import BASE, MACHINE_VTT, technical, write_version

RECORD = "DL-ICH-01"
VIDEO = "a" * 32  # the asset test_captions_catalog.write_version writes
DOCUMENT = "d" * 32
DOC_VERSION = "img-00000000000000aa"
SPOKEN = "the gongs begin zanzibarite"  # a word no seed record has
READ = "Sắc phong ban cho buôn Ymơnglung"
EDITED_VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nthe gongs begin quietly\n"


def museum_of(client: TestClient) -> tuple[Database, Store]:
    museum = client.app.state.museum  # type: ignore[attr-defined]
    return museum.db, museum.store


def reindex(db: Database) -> None:
    db.call(lambda s: index_record(s, s.get(Record, RECORD)), write=True)


def processed_video(client: TestClient) -> str:
    """A video as process_av_job leaves it: the pipeline's version had an English machine
    draft, visitors get a version without it, the words heard are a draft. Its version."""
    db, store = museum_of(client)
    folder = write_version(store, BASE, "en")
    fields: dict[str, Any] = {"sha256": "0" * 64, "size": 1, "filename": "v.mp4"}
    db.call(
        lambda s: s.add(
            Asset(id=VIDEO, media_type="video/mp4", kind="video", record_id=RECORD, **fields)
        ),
        write=True,
    )
    report = json.loads((folder / "report.json").read_text())
    clean = keep_captions(db, store, VIDEO, BASE, report)
    about = technical("en") | {"captions": [], "poster": "poster.jpg"}

    def publish(session):  # type: ignore[no-untyped-def]
        asset = session.get(Asset, VIDEO)
        asset.published_version, asset.technical = clean, about
        session.add(
            AssetText(
                asset_id=VIDEO,
                version=clean,
                source="asr",
                model="faster-whisper tiny.en",
                language="en",
                text=SPOKEN,
            )
        )

    db.call(publish, write=True)
    version = refresh_captions(db, store, VIDEO)
    reindex(db)
    return version


def published(client: TestClient, asset_id: str) -> Asset:
    db, _ = museum_of(client)
    asset = db.call(lambda s: s.get(Asset, asset_id))
    assert asset is not None
    return asset


def master_of(client: TestClient) -> str:
    asset = published(client, VIDEO)
    answer = client.get(f"/media/{VIDEO}/{asset.published_version}/master.m3u8")
    assert answer.status_code == 200
    return answer.text


def found(client: TestClient, query: str) -> list[str]:
    return [
        item["id"] for item in client.get("/api/v1/search", params={"q": query}).json()["items"]
    ]


def decide(client: TestClient, kind: str, key: str, decision: str, text: str | None = None) -> Any:
    """Post a decision on the media review page: ``key`` is ``asset~language`` for a caption,
    the asset for a text."""
    asset_id, _, language = key.partition("~")
    data = {"kind": kind, "language": language, "decision": decision}
    data |= {"text": text} if text is not None else {}
    return client.post(f"/admin/review/media/{asset_id}", data=data, follow_redirects=False)


def audit_actions(client: TestClient) -> list[tuple[str, str]]:
    db, _ = museum_of(client)
    rows = db.call(lambda s: s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all())
    return [(row.action, row.object_type) for row in rows]


# Captions


def test_a_machine_caption_is_not_public_until_accepted(client: TestClient) -> None:
    version = processed_video(client)
    assert version != BASE  # visitors never get the pipeline's own folder, which has the draft
    assert "SUBTITLES" not in master_of(client) and "captions.en" not in master_of(client)
    store = museum_of(client)[1]
    assert not list(store.derivative_dir(VIDEO, version).glob("captions.*"))
    assert published(client, VIDEO).technical["captions"] == []
    assert published(client, VIDEO).technical["caption_drafts"] == ["en"]
    page = client.get(f"/items/{RECORD}").text
    assert "<video" in page and "captions.en.vtt" not in page and "machine draft" not in page
    assert "captions.en.vtt" not in client.get(f"/iiif/3/manifests/{RECORD}").text
    assert RECORD not in found(client, "zanzibarite")

    sign_in(client, "chi", "curator")
    queue = client.get("/admin/review").text
    assert f"/admin/review/media/{VIDEO}#caption-en" in queue
    item = client.get(f"/admin/review/media/{VIDEO}").text
    assert "the gongs begin" in item and "faster-whisper tiny.en" in item and "poster.jpg" in item
    assert decide(client, "caption", f"{VIDEO}~en", "accept").status_code == 303

    asset = published(client, VIDEO)
    assert asset.published_version != version
    assert asset.technical["captions"] == ["en"] and asset.technical["caption_drafts"] == []
    master = master_of(client)
    assert 'LANGUAGE="en"' in master and 'NAME="English"' in master and "machine" not in master
    vtt = client.get(f"/media/{VIDEO}/{asset.published_version}/captions.en.vtt")
    assert vtt.status_code == 200 and vtt.text == MACHINE_VTT
    row = museum_of(client)[0].call(lambda s: s.get(AssetCaption, (VIDEO, "en")))
    assert (row.status, row.reviewer) == ("accepted", "chi") and row.reviewed_at is not None
    words = museum_of(client)[0].call(lambda s: s.get(AssetText, VIDEO))
    assert (words.status, words.version) == ("accepted", asset.published_version)
    assert RECORD in found(client, "zanzibarite")
    assert "captions.en.vtt" in client.get(f"/items/{RECORD}").text
    assert "captions.en.vtt" in client.get(f"/iiif/3/manifests/{RECORD}").text
    assert audit_actions(client)[-1] == ("review.accept", "asset_caption")
    assert "chi" in client.get(f"/admin/review/media/{VIDEO}").text
    assert decide(client, "caption", f"{VIDEO}~en", "accept").status_code == 409


def test_an_edited_caption_is_checked_then_published(client: TestClient) -> None:
    processed_video(client)
    sign_in(client, "chi", "curator")
    key = f"{VIDEO}~en"
    bad = decide(client, "caption", key, "edit", "WEBVTT\n\n00:00:05.000 --> 00:00:04.000\nx\n")
    assert bad.status_code == 422 and "Line" in bad.json()["error"]["message"]
    late = decide(client, "caption", key, "edit", "WEBVTT\n\n00:00:01.000 --> 00:00:40.000\nx\n")
    assert late.status_code == 422 and "00:00:40.000" in late.json()["error"]["message"]
    assert "SUBTITLES" not in master_of(client)
    assert decide(client, "caption", key, "edit", EDITED_VTT).status_code == 303
    asset = published(client, VIDEO)
    vtt = client.get(f"/media/{VIDEO}/{asset.published_version}/captions.en.vtt").text
    assert "the gongs begin quietly" in vtt
    words = museum_of(client)[0].call(lambda s: s.get(AssetText, VIDEO))
    assert (words.status, words.text) == ("accepted", "the gongs begin quietly")
    assert RECORD in found(client, "quietly")


def test_a_rejected_caption_never_reaches_visitors(client: TestClient) -> None:
    processed_video(client)
    sign_in(client, "chi", "curator")
    assert decide(client, "caption", f"{VIDEO}~en", "reject").status_code == 303
    db, _ = museum_of(client)
    assert db.call(lambda s: s.get(AssetCaption, (VIDEO, "en"))) is None
    assert db.call(lambda s: s.get(AssetText, VIDEO)).status == "rejected"
    asset = published(client, VIDEO)
    assert asset.technical["captions"] == [] and asset.technical["caption_drafts"] == []
    assert "SUBTITLES" not in master_of(client) and RECORD not in found(client, "zanzibarite")
    assert audit_actions(client)[-1] == ("review.reject", "asset_caption")
    assert 'id="caption-en"' not in client.get(f"/admin/review/media/{VIDEO}").text
    assert decide(client, "caption", f"{VIDEO}~en", "accept").status_code == 404
    assert decide(client, "sound", f"{VIDEO}~en", "accept").status_code == 422


def test_editors_review_captions_of_records_they_may_edit(client: TestClient) -> None:
    processed_video(client)
    sign_in(client, "binh", "editor")
    assert decide(client, "caption", f"{VIDEO}~en", "accept").status_code == 403  # published
    db, _ = museum_of(client)
    db.call(lambda s: setattr(s.get(Record, RECORD), "status", "in_review"), write=True)
    assert decide(client, "caption", f"{VIDEO}~en", "accept").status_code == 303


# Text read from documents


def processed_document(client: TestClient) -> None:
    db, store = museum_of(client)
    folder = store.derivative_dir(DOCUMENT, DOC_VERSION)
    lines = folder / "pages" / "0001" / "ocr" / "lines.json"
    lines.parent.mkdir(parents=True)
    line = {"text": READ, "bbox": [10, 10, 300, 30], "language": "vi"}
    lines.write_text(json.dumps({"scale": 1.0, "lines": [line]}), "utf-8")
    (folder / "thumb-400.jpg").write_bytes(b"\xff\xd8 page")
    page = {
        "page": 1,
        "width": 800,
        "height": 600,
        "folder": "pages/0001/",
        "ocr": "pages/0001/ocr/lines.json",
    }
    about = {
        "pipeline": "image",
        "kind": "document",
        "width": 800,
        "height": 600,
        "tile_size": 256,
        "pages": [page],
        "thumbnails": {"thumbnail:400": "thumb-400.jpg"},
    }

    def add(session):  # type: ignore[no-untyped-def]
        session.add(
            Asset(
                id=DOCUMENT,
                sha256="1" * 64,
                size=1,
                filename="s.pdf",
                media_type="application/pdf",
                kind="document",
                record_id=RECORD,
                published_version=DOC_VERSION,
                technical=about,
            )
        )
        session.add(
            AssetText(
                asset_id=DOCUMENT,
                version=DOC_VERSION,
                source="ocr",
                model="tesseract 5.3 vie",
                language="vi",
                text=READ,
            )
        )
        session.flush()
        index_record(session, session.get(Record, RECORD))

    db.call(add, write=True)  # fmt: skip


def annotations_url() -> str:
    return f"/iiif/3/annotations/{DOCUMENT}~1"


def test_ocr_text_is_not_public_until_accepted(client: TestClient) -> None:
    processed_document(client)
    assert client.get(annotations_url()).status_code == 404
    manifest = client.get(f"/iiif/3/manifests/{RECORD}").text
    assert DOCUMENT in manifest and "/iiif/3/annotations/" not in manifest
    assert "/iiif/3/annotations/" not in client.get(f"/items/{RECORD}").text
    assert RECORD not in found(client, "Ymơnglung")

    sign_in(client, "chi", "curator")
    assert f"/admin/review/media/{DOCUMENT}#text" in client.get("/admin/review").text
    item = client.get(f"/admin/review/media/{DOCUMENT}").text
    assert READ in item and "tesseract 5.3 vie" in item and "thumb-400.jpg" in item
    assert decide(client, "text", DOCUMENT, "accept").status_code == 303
    text = museum_of(client)[0].call(lambda s: s.get(AssetText, DOCUMENT))
    assert (text.status, text.reviewer) == ("accepted", "chi")
    page = client.get(annotations_url())
    assert page.status_code == 200 and page.json()["items"][0]["body"]["value"] == READ
    assert annotations_url() in client.get(f"/iiif/3/manifests/{RECORD}").text
    assert annotations_url() in client.get(f"/items/{RECORD}").text
    assert RECORD in found(client, "ymonglung")
    assert audit_actions(client)[-1] == ("review.accept", "asset_text")


def test_edited_ocr_text_reaches_search_but_not_the_positioned_layer(client: TestClient) -> None:
    processed_document(client)
    sign_in(client, "chi", "curator")
    corrected = "Sắc phong ban cho buôn Ymơnglung, năm Khải Định thứ hai"
    assert decide(client, "text", DOCUMENT, "edit", corrected).status_code == 303
    assert RECORD in found(client, "khai dinh")
    assert client.get(annotations_url()).status_code == 404  # the lines say the old text


def test_rejected_ocr_text_stays_out(client: TestClient) -> None:
    processed_document(client)
    sign_in(client, "chi", "curator")
    assert decide(client, "text", DOCUMENT, "reject").status_code == 303
    assert client.get(annotations_url()).status_code == 404
    assert RECORD not in found(client, "Ymơnglung")
    assert f"/admin/review/media/{DOCUMENT}" not in client.get("/admin/review").text


# Files under /media that hold machine-written text


def test_which_derivative_files_visitors_may_fetch() -> None:
    document = {"pages": [{"page": 1, "ocr": "pages/0001/ocr/lines.json"}]}
    for name in ("pages/0001/ocr/lines.json", "pages/0001/ocr/page.hocr", "ocr/page.txt"):
        assert not public_file("document", document, "v1", "v1", name)
        assert public_file("document", document | {"ocr_layer": "v1"}, "v1", "v1", name)
        assert not public_file("document", document | {"ocr_layer": "v0"}, "v1", "v1", name)
    for name in ("pages/0001/ocr.png", "pages/0001/iiif/info.json", "thumb-400.jpg"):
        assert public_file("document", document, "v1", "v1", name)
    video = {"captions": ["vi"], "caption_drafts": ["en"]}
    assert public_file("video", video, "v-c1", "v-c1", "captions.vi.vtt")
    assert public_file("video", video, "v-c1", "v", "captions.vi.m3u8")
    assert not public_file("video", video, "v-c1", "v", "captions.en.vtt")  # the draft
    assert not public_file("video", video, "v-c1", "v", "captions.fr.vtt")  # rejected, gone
    assert public_file("video", video, "v-c1", "v-c1", "report.json")
    assert not public_file("video", video, "v-c1", "v", "report.json")  # the words heard
    assert public_file("video", video, "v-c1", "v", "master.m3u8")
    assert public_file("image", {}, "i1", "i0", "report.json")
