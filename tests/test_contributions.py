"""Community contributions (server/contributions.py) and their moderation
(server/moderation.py): the public form's checks and limits, and that nothing sent is seen
by the public before a curator approves it."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from server.app import create_app
from server.models import Asset, Contribution, Job, Record
from server.settings import Settings
from tests.media_fixtures import (
    ORIGIN,
    audit_rows,
    change,
    csrf_from,
    jpeg_bytes,
    museum_of,
    read,
    set_record,
)
from tests.staff import sign_in, sign_out

MAX_SIZE = 40_000
LIMIT = 3
STORY = "Ông tôi kể rằng bộ chiêng này được đánh trong lễ mừng lúa mới ở buôn Kô Sia năm 1975."
FIELDS = {
    "kind": "photo",
    "title": "Chiêng nhà ông Y Krông",
    "story": "",
    "name": "H'Linh Niê",
    "email": "hlinh@example.vn",
    "language": "vi",
    "licence": "cc-by-sa-4.0",
    "consent": "yes",
}
NO_FILE = ("", b"", "application/octet-stream")  # what a browser sends when none is chosen


@pytest.fixture
def site(seeded_settings: Settings) -> Iterator[TestClient]:
    settings = dataclasses.replace(
        seeded_settings, contribution_max_size=MAX_SIZE, contribution_limit=LIMIT
    )
    with TestClient(create_app(settings)) as client:
        yield client


def send(
    client: TestClient,
    fields: dict[str, str] | None = None,
    file: tuple[str, bytes, str] | None = None,
    record: str | None = "DL-ICH-01",
    lang: str = "vi",
    **overrides: str,
) -> Any:
    """Open the form (for its CSRF token) and send it, as a browser would."""
    page = client.get(f"/items/{record}/contribute" if record else "/contribute")
    assert page.status_code == 200
    data = {**(fields or FIELDS), **overrides, "csrf_token": csrf_from(page.text)}
    if record:
        data["record_id"] = record
    return client.post(
        "/contribute",
        data=data,
        files={"file": file or (("gong.jpg", jpeg_bytes(), "image/jpeg"))},
        headers={"origin": ORIGIN, "accept": "text/html", "accept-language": lang},
        follow_redirects=False,
    )


def contributions(client: TestClient) -> list[Contribution]:
    return list(read(client, lambda s: s.scalars(select(Contribution)).all()))


def originals_count(client: TestClient) -> int:
    return sum(1 for p in museum_of(client).store.originals.rglob("*") if p.is_file())


# The form ---------------------------------------------------------------------------------


def test_the_form_gives_a_csrf_cookie_and_is_never_cached(site: TestClient) -> None:
    page = site.get("/items/DL-ICH-01/contribute")
    assert page.status_code == 200
    assert "museum_csrf=" in page.headers["set-cookie"]
    assert page.headers["cache-control"] == "private, no-store"
    assert csrf_from(page.text) in page.headers["set-cookie"]
    for licence in ("CC BY 4.0", "CC BY-SA 4.0", "CC0 1.0"):
        assert licence in page.text
    assert "Không gian văn hóa Cồng chiêng Tây Nguyên" in page.text
    english = site.get("/contribute?lang=en").text
    assert "Share your photo or story" in english and "also commercially" in english


def test_the_item_page_invites_contributions(site: TestClient) -> None:
    page = site.get("/items/DL-ICH-01").text
    assert 'href="/items/DL-ICH-01/contribute"' in page


@pytest.mark.parametrize("hide", [{"status": "draft"}, {"access_level": "restricted"}])
def test_only_public_items_take_contributions(site: TestClient, hide: dict[str, str]) -> None:
    set_record(site, "DL-ICH-02", **hide)
    assert site.get("/items/DL-ICH-02/contribute").status_code == 404
    assert site.get("/items/NO-SUCH-ITEM/contribute").status_code == 404
    page = site.get("/items/DL-ICH-01/contribute")
    data = {**FIELDS, "kind": "story", "story": STORY, "record_id": "DL-ICH-02"}
    data["csrf_token"] = csrf_from(page.text)
    sent = site.post("/contribute", data=data, files={"file": NO_FILE}, headers={"origin": ORIGIN})
    assert sent.status_code == 404 and not contributions(site)


def test_problems_are_shown_next_to_their_fields_keeping_the_input(site: TestClient) -> None:
    response = send(
        site, name="", email="not an address", licence="", consent="", title="Giữ lại tôi"
    )
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert 'id="name-error"' in page and 'id="email-error"' in page
    assert 'id="licence-error"' in page and 'id="consent-error"' in page
    assert 'aria-invalid="true"' in page
    assert 'value="Giữ lại tôi"' in page  # what was typed is kept
    assert 'value="not an address"' in page
    assert not contributions(site)


def test_a_story_needs_its_text(site: TestClient) -> None:
    response = send(site, kind="story", story="ngắn", file=NO_FILE)
    assert response.status_code == 422 and 'id="story-error"' in response.text
    english = send(site, kind="story", story="", file=NO_FILE, lang="en")
    assert english.status_code == 422


def test_a_photo_needs_a_file(site: TestClient) -> None:
    response = send(site, file=NO_FILE)
    assert response.status_code == 422 and 'id="file-error"' in response.text


@pytest.mark.parametrize(
    ("kind", "file"),
    [
        ("photo", ("scan.jpg", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "image/jpeg")),
        ("photo", ("page.png", b"<html><script>alert(1)</script></html>", "image/png")),
        ("photo", ("a.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml")),
        ("recording", ("song.mp3", jpeg_bytes(), "audio/mpeg")),
        ("recording", ("list.m3u8", b"#EXTM3U\nfile:///etc/passwd\n", "audio/mpeg")),
        ("story", ("gong.jpg", jpeg_bytes(), "image/jpeg")),
    ],
)
def test_files_of_the_wrong_kind_are_refused(
    site: TestClient, kind: str, file: tuple[str, bytes, str]
) -> None:
    before = originals_count(site)
    response = send(site, kind=kind, story=STORY, file=file)
    assert response.status_code == 422
    assert 'id="file-error"' in response.text
    assert not contributions(site) and originals_count(site) == before


@pytest.mark.parametrize("size", [MAX_SIZE + 1, MAX_SIZE + 400_000])
def test_a_file_over_the_limit_is_refused_with_413(site: TestClient, size: int) -> None:
    big = jpeg_bytes() + b"\0" * size
    response = send(site, file=("big.jpg", big, "image/jpeg"), lang="en")
    assert response.status_code == 413
    assert "MB" in response.text
    assert not contributions(site) and originals_count(site) == 0


def test_csrf_is_required(site: TestClient) -> None:
    page = site.get("/contribute")
    token = csrf_from(page.text)
    data = {**FIELDS, "kind": "story", "story": STORY}
    files = {"file": NO_FILE}
    without = site.post("/contribute", data=data, files=files, headers={"origin": ORIGIN})
    assert without.status_code == 403
    foreign = site.post(
        "/contribute",
        data={**data, "csrf_token": token},
        files=files,
        headers={"origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    fresh = TestClient(site.app)  # no cookie: a token copied from elsewhere is worth nothing
    stolen = fresh.post(
        "/contribute", data={**data, "csrf_token": token}, files=files, headers={"origin": ORIGIN}
    )
    assert stolen.status_code == 403
    assert not contributions(site)


def test_the_rate_limit_answers_429_after_the_limit(site: TestClient) -> None:
    for _ in range(LIMIT):
        response = send(site, kind="story", story=STORY, file=NO_FILE)
        assert response.status_code == 303
    refused = send(site, kind="story", story=STORY, file=NO_FILE)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    english = send(site, kind="story", story=STORY, file=NO_FILE, lang="en")
    assert english.status_code == 429
    assert f"You have sent {LIMIT} contributions in the last hour" in html.unescape(english.text)
    assert len(contributions(site)) == LIMIT
    clients = {c.client for c in contributions(site)}
    assert len(clients) == 1 and "testclient" not in next(iter(clients))  # a hash, not the address


# What is kept, and who sees it ---------------------------------------------------------


def sent_photo(site: TestClient) -> tuple[Contribution, Asset]:
    response = send(site)
    assert response.status_code == 303
    assert response.headers["location"] == "/contribute/thanks?item=DL-ICH-01"
    (contribution,) = contributions(site)
    asset = read(site, lambda s: s.get(Asset, contribution.asset_id))
    return contribution, asset


def publish_derivative(site: TestClient, asset_id: str) -> None:
    """What the image pipeline does when it has finished (tests/test_images_job.py runs it)."""
    with museum_of(site).store.publish(asset_id, "v1") as folder:
        (folder / "thumb-400.jpg").write_bytes(jpeg_bytes())

    def published(session: Any) -> None:
        asset = session.get(Asset, asset_id)
        asset.published_version = "v1"
        asset.technical = {
            "pipeline": "image",
            "width": 64,
            "height": 48,
            "thumbnails": {"thumbnail:400": "thumb-400.jpg"},
        }

    change(site, published)


def test_a_sent_photo_is_kept_staff_only_with_its_licence_and_credit(site: TestClient) -> None:
    contribution, asset = sent_photo(site)
    assert contribution.status == "pending" and contribution.record_id == "DL-ICH-01"
    assert contribution.license == "http://creativecommons.org/licenses/by-sa/4.0/"
    assert (asset.record_id, asset.access_level) == (None, "staff")
    assert asset.license == contribution.license and asset.attribution == "H'Linh Niê"
    assert (asset.kind, asset.role, asset.media_type) == ("image", "detail", "image/jpeg")
    assert museum_of(site).store.verify(asset.sha256)
    jobs = read(site, lambda s: s.scalars(select(Job).where(Job.asset_id == asset.id)).all())
    assert [job.kind for job in jobs] == ["process_image"]
    (row,) = audit_rows(site, "contribution.submit")
    assert row.actor == "public" and row.actor_id is None
    assert "contributor_email" not in row.after and "client" not in row.after  # type: ignore[operator]
    thanks = site.get(response_location := "/contribute/thanks?item=DL-ICH-01")
    assert thanks.status_code == 200 and "/items/DL-ICH-01" in thanks.text, response_location


def forget_media_answers(site: TestClient) -> None:
    """What waiting ACCESS_SECONDS does: /media remembers each asset's answer that long."""
    routes = site.app.routes  # type: ignore[attr-defined]
    next(r.app for r in routes if getattr(r, "name", "") == "media").answers.items.clear()


def public_views(
    site: TestClient, asset_id: str, title_word: str, iiif: bool = False
) -> dict[str, bool]:
    """Where the public can see the contribution's media or title (``iiif``: also ask the
    image server, which needs the files a real pipeline run leaves)."""
    sign_out(site)
    page = site.get("/items/DL-ICH-01").text
    search = site.get(f"/api/v1/search?q={title_word}").json()
    manifest = site.get("/iiif/3/manifests/DL-ICH-01")
    return {
        "page": asset_id in page,
        "search": any(item["id"] == "DL-ICH-01" for item in search["items"]),
        "api": site.get(f"/api/v1/media/{asset_id}").status_code == 200,
        "manifest": manifest.status_code == 200 and asset_id in manifest.text,
        "media": site.get(f"/media/{asset_id}/v1/thumb-400.jpg").status_code == 200,
        "iiif": iiif and site.get(f"/iiif/3/{asset_id}/info.json").status_code == 200,
    }


def test_a_contribution_stays_invisible_until_a_curator_approves_it(site: TestClient) -> None:
    contribution, asset = sent_photo(site)
    publish_derivative(site, asset.id)
    hidden = public_views(site, asset.id, "Krông")
    assert not any(hidden.values()), hidden
    assert site.get(f"/iiif/3/{asset.id}/info.json").status_code == 404
    sign_in(site, "bien_tap", "editor")
    assert site.get("/admin/contributions").status_code == 200
    refused = site.post(f"/admin/contributions/{contribution.id}/approve", data={})
    assert refused.status_code == 403
    assert not any(public_views(site, asset.id, "Krông").values())
    sign_in(site, "giam_tuyen", "curator")
    approved = site.post(
        f"/admin/contributions/{contribution.id}/approve",
        data={"note": "Ảnh đẹp"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    forget_media_answers(site)
    shown = public_views(site, asset.id, "Krông")
    assert {k: v for k, v in shown.items() if k != "search"} == {
        "page": True,
        "api": True,
        "manifest": True,
        "media": True,
        "iiif": False,  # not asked: the simulated version has no tiles
    }
    body = site.get(f"/api/v1/media/{asset.id}").json()
    assert body["rights"]["attribution"] == "H'Linh Niê"
    assert body["rights"]["license"] == "http://creativecommons.org/licenses/by-sa/4.0/"
    assert body["role"] == "detail"
    page = html.unescape(site.get("/items/DL-ICH-01?lang=en").text)
    assert "Credit: H'Linh Niê" in page
    (row,) = audit_rows(site, "contribution.approve")
    assert row.actor == "giam_tuyen" and row.after["asset"]["access_level"] == "public"  # type: ignore[index]
    done = read(site, lambda s: s.get(Contribution, contribution.id))
    assert (done.status, done.moderator, done.moderation_note) == (
        "approved",
        "giam_tuyen",
        "Ảnh đẹp",
    )


def test_an_approved_story_appears_on_the_item_page_with_its_credit(site: TestClient) -> None:
    assert send(site, kind="story", story=STORY, file=NO_FILE).status_code == 303
    (contribution,) = contributions(site)
    assert contribution.asset_id is None
    assert "Kô Sia" not in site.get("/items/DL-ICH-01").text
    sign_in(site, "giam_tuyen", "curator")
    response = site.post(f"/admin/contributions/{contribution.id}/approve", data={})
    assert response.status_code == 200  # redirected to the contribution's page
    sign_out(site)
    page = html.unescape(site.get("/items/DL-ICH-01?lang=en").text)
    assert "Stories from the community" in page
    assert "buôn Kô Sia năm 1975" in page and "Shared by H'Linh Niê" in page
    assert "CC BY-SA 4.0" in page
    extra = read(site, lambda s: s.get(Record, "DL-ICH-01").extra)
    assert extra["community_stories"][0]["name"] == "H'Linh Niê"


def test_a_rejected_contribution_is_kept_but_never_shown(site: TestClient) -> None:
    contribution, asset = sent_photo(site)
    publish_derivative(site, asset.id)
    sign_in(site, "giam_tuyen", "curator")
    response = site.post(
        f"/admin/contributions/{contribution.id}/reject",
        data={"note": "Không rõ nguồn gốc"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    kept = read(site, lambda s: s.get(Asset, asset.id))
    assert (kept.record_id, kept.access_level) == (None, "staff")
    assert museum_of(site).store.verify(asset.sha256)  # the original is never deleted
    assert audit_rows(site, "contribution.reject")[0].actor == "giam_tuyen"
    again = site.post(f"/admin/contributions/{contribution.id}/approve", data={})
    assert again.status_code == 409
    assert not any(public_views(site, asset.id, "Krông").values())


def test_a_general_contribution_needs_an_item_to_be_approved(site: TestClient) -> None:
    assert send(site, kind="story", story=STORY, file=NO_FILE, record=None).status_code == 303
    (contribution,) = contributions(site)
    assert contribution.record_id is None
    sign_in(site, "giam_tuyen", "curator")
    missing = site.post(f"/admin/contributions/{contribution.id}/approve", data={})
    assert missing.status_code == 422
    unknown = site.post(
        f"/admin/contributions/{contribution.id}/approve", data={"record_id": "NOPE"}
    )
    assert unknown.status_code == 422
    chosen = site.post(
        f"/admin/contributions/{contribution.id}/approve",
        data={"record_id": "DL-ICH-02"},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    assert read(site, lambda s: s.get(Contribution, contribution.id)).record_id == "DL-ICH-02"


def test_the_moderation_pages_by_role(site: TestClient) -> None:
    contribution, asset = sent_photo(site)
    detail = f"/admin/contributions/{contribution.id}"
    assert (
        site.get("/admin/contributions", headers={"accept": "application/json"}).status_code == 401
    )
    sign_in(site, "cong_tac_vien", "contributor")
    assert site.get("/admin/contributions").status_code == 403
    sign_in(site, "bien_tap", "editor")
    queue = html.unescape(site.get("/admin/contributions").text)
    assert "Chiêng nhà ông Y Krông" in queue and "H'Linh Niê" in queue
    page = site.get(detail)
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert "/approve" not in page.text  # editors read; curators decide
    assert "hlinh@example.vn" in page.text
    assert f"/originals/{asset.id}?exp=" in html.unescape(page.text)
    sign_in(site, "giam_tuyen", "curator")
    assert "/approve" in site.get(detail).text
    del site.headers["x-csrf-token"]
    assert site.post(f"{detail}/approve", data={}).status_code == 403  # no CSRF token
    assert site.get("/admin/contributions/999999").status_code == 404
    assert site.get("/admin/contributions/abc").status_code == 404


@pytest.mark.slow
def test_a_contributed_photo_is_processed_and_served_only_after_approval(site: TestClient) -> None:
    from tests.jobhelpers import drain

    contribution, asset = sent_photo(site)
    museum = museum_of(site)
    drain(museum.jobs)
    processed = read(site, lambda s: s.get(Asset, asset.id))
    assert processed.published_version is not None
    thumbs = processed.technical["thumbnails"]
    url = f"/media/{asset.id}/{processed.published_version}/{next(iter(thumbs.values()))}"
    assert site.get(url).status_code == 404
    sign_in(site, "giam_tuyen", "curator")
    preview = html.unescape(site.get(f"/admin/contributions/{contribution.id}").text)
    assert "/media/_signed/" in preview
    site.post(f"/admin/contributions/{contribution.id}/approve", data={})
    sign_out(site)
    forget_media_answers(site)
    assert site.get(url).status_code == 200
    assert site.get(f"/iiif/3/{asset.id}/info.json").status_code == 200
    count = read(site, lambda s: s.scalar(select(func.count()).select_from(Contribution)))
    assert count == 1


def test_send_limit_and_approve_on_each_engine(database_url: str, tmp_path: Path) -> None:
    from server.catalog import import_catalog_file
    from server.db import Database
    from server.migrate import upgrade
    from tests.conftest import SEED_CATALOG

    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, contribution_limit=2)
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    db.dispose()
    with TestClient(create_app(settings)) as client:
        assert send(client).status_code == 303
        assert send(client, kind="story", story=STORY, file=NO_FILE).status_code == 303
        assert send(client, kind="story", story=STORY, file=NO_FILE).status_code == 429
        photo, story = sorted(contributions(client), key=lambda c: c.id)
        sign_in(client, "giam_tuyen", "curator")
        for contribution in (photo, story):
            url = f"/admin/contributions/{contribution.id}/approve"
            assert client.post(url, data={}, follow_redirects=False).status_code == 303
        assert client.post(url, data={}).status_code == 409
        asset = read(client, lambda s: s.get(Asset, photo.asset_id))
        assert (asset.record_id, asset.access_level, asset.position) == ("DL-ICH-01", "public", 1)
        sign_out(client)
        body = client.get(f"/api/v1/media/{asset.id}").json()
        assert body["published"] is False  # not processed yet: nothing under /media to show
        assert body["rights"]["attribution"] == "H'Linh Niê"
        assert "Shared by H'Linh Niê" in html.unescape(client.get("/items/DL-ICH-01?lang=en").text)


def wav_bytes(seconds: float = 0.2) -> bytes:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))
    return buffer.getvalue()


def test_staff_hear_a_pending_recording_through_a_signed_folder_link(site: TestClient) -> None:
    response = send(site, kind="recording", file=("gong.wav", wav_bytes(), "audio/wav"))
    assert response.status_code == 303
    (contribution,) = contributions(site)
    asset = read(site, lambda s: s.get(Asset, contribution.asset_id))
    assert (asset.kind, asset.role) == ("audio", "audio")
    with museum_of(site).store.publish(asset.id, "v1") as folder:
        (folder / "master.m3u8").write_text("#EXTM3U\naudio/index.m3u8\n")
        (folder / "audio").mkdir()
        (folder / "audio" / "index.m3u8").write_text("#EXTM3U\nseg-1.m4s\n")
        (folder / "audio" / "seg-1.m4s").write_bytes(b"segment")

    def published(session: Any) -> None:
        row = session.get(Asset, asset.id)
        row.published_version = "v1"
        row.technical = {"pipeline": "av", "kind": "audio", "duration": 0.2, "captions": []}

    change(site, published)
    sign_in(site, "bien_tap", "editor")
    page = html.unescape(site.get(f"/admin/contributions/{contribution.id}").text)
    match = re.search(r'data-src="(/media/_signed/[^"]+/master\.m3u8)"', page)
    assert match, "the player's playlist is not signed"
    sign_out(site)
    master = match.group(1)
    assert site.get(master).status_code == 200
    folder_url = master.removesuffix("master.m3u8")
    assert site.get(folder_url + "audio/index.m3u8").text.startswith("#EXTM3U")
    assert site.get(folder_url + "audio/seg-1.m4s").content == b"segment"
    assert site.get(f"/media/{asset.id}/v1/audio/seg-1.m4s").status_code == 404  # unsigned
