"""``/media`` checks who may see a derivative's asset (server/media_access.py): public ones
are cached forever, restricted and draft ones are "not found" unless the requester is
staff who may see them or holds a signed link to the version's folder."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from server.signing import file_url, link_for, media_base, media_prefix
from tests.media_fixtures import add_media, audit_rows, museum_of, set_record
from tests.staff import add_user, sign_in, sign_out

FILES = {"thumb.jpg": b"thumbnail", "720p/index.m3u8": b"#EXTM3U\n", "720p/seg-1.m4s": b"seg"}


def signed_base(client: TestClient, asset_id: str, user: str = "nhan_vien", **kw: float) -> str:
    museum = museum_of(client)
    user_id = add_user(museum.db, user, "editor")
    link = link_for(media_prefix(asset_id, "v1"), user_id, museum.settings, **kw)
    return media_base(asset_id, "v1", link)


def test_public_derivatives_are_served_and_cached_forever(client: TestClient) -> None:
    asset_id = add_media(client, files=FILES)
    response = client.get(f"/media/{asset_id}/v1/thumb.jpg")
    assert response.status_code == 200 and response.content == b"thumbnail"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    ranged = client.get(f"/media/{asset_id}/v1/thumb.jpg", headers={"range": "bytes=0-4"})
    assert ranged.status_code == 206 and ranged.content == b"thumb"


@pytest.mark.parametrize(
    "hide",
    [
        {"status": "draft"},
        {"status": "withdrawn"},
        {"access_level": "restricted"},
        {"access_level": "staff"},
    ],
)
def test_a_hidden_records_derivatives_are_not_found_anonymously(
    client: TestClient, hide: dict[str, str]
) -> None:
    set_record(client, "DL-ICH-03", **hide)
    asset_id = add_media(client, "DL-ICH-03", files=FILES)
    for name in FILES:
        response = client.get(f"/media/{asset_id}/v1/{name}")
        assert response.status_code == 404, name
        assert response.content != FILES[name]


def test_a_staff_only_asset_of_a_public_record_is_not_found(client: TestClient) -> None:
    asset_id = add_media(client, access="staff", files=FILES)
    assert client.get(f"/media/{asset_id}/v1/thumb.jpg").status_code == 404


def test_an_embargoed_records_derivatives_are_not_found(client: TestClient) -> None:
    from datetime import timedelta

    from server.models import utcnow

    set_record(client, "DL-ICH-04", embargo_until=utcnow() + timedelta(days=3))
    asset_id = add_media(client, "DL-ICH-04", files=FILES)
    assert client.get(f"/media/{asset_id}/v1/thumb.jpg").status_code == 404


def test_staff_who_may_see_it_get_it_privately(client: TestClient) -> None:
    set_record(client, "DL-ICH-03", status="draft")
    draft = add_media(client, "DL-ICH-03", files=FILES)
    set_record(client, "DL-ICH-05", access_level="restricted")
    restricted = add_media(client, "DL-ICH-05", files=FILES)
    sign_in(client, "bien_tap", "editor")
    response = client.get(f"/media/{draft}/v1/thumb.jpg")
    assert response.status_code == 200 and response.content == b"thumbnail"
    assert response.headers["cache-control"] == "private, no-store"
    # Editors do not see restricted records (server.policy); curators do.
    assert client.get(f"/media/{restricted}/v1/thumb.jpg").status_code == 404
    sign_in(client, "giam_tuyen", "curator")
    assert client.get(f"/media/{restricted}/v1/thumb.jpg").status_code == 200
    sign_in(client, "cong_tac_vien", "contributor")
    assert client.get(f"/media/{draft}/v1/thumb.jpg").status_code == 404


def test_a_signed_folder_link_opens_every_file_below_it(client: TestClient) -> None:
    set_record(client, "DL-ICH-03", status="draft")
    asset_id = add_media(client, "DL-ICH-03", files=FILES)
    base = signed_base(client, asset_id)
    for name, content in FILES.items():
        response = client.get(base + name)  # relative HLS addresses keep the token
        assert response.status_code == 200 and response.content == content
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["x-robots-tag"] == "noindex"
    # One audit row per link, not one per segment.
    used = audit_rows(client, "signed_url.use")
    assert len(used) == 1 and used[0].after["path"] == f"/media/{asset_id}/v1/"  # type: ignore[index]


def test_the_query_form_of_a_signed_link_works_for_one_file(client: TestClient) -> None:
    set_record(client, "DL-ICH-03", status="draft")
    asset_id = add_media(client, "DL-ICH-03", files=FILES)
    museum = museum_of(client)
    user_id = add_user(museum.db, "nhan_vien", "editor")
    link = link_for(media_prefix(asset_id, "v1"), user_id, museum.settings)
    url = file_url(f"/media/{asset_id}/v1/thumb.jpg", link)
    assert client.get(url).status_code == 200


def test_signed_links_are_refused_when_tampered_expired_or_for_another_asset(
    client: TestClient,
) -> None:
    set_record(client, "DL-ICH-03", status="draft")
    asset_id = add_media(client, "DL-ICH-03", files=FILES)
    other = add_media(client, "DL-ICH-03", files=FILES)
    base = signed_base(client, asset_id)
    token = base.split("/")[3]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(base.replace(token, flipped) + "thumb.jpg").status_code == 404
    assert client.get(base.replace(asset_id, other) + "thumb.jpg").status_code == 404
    stale = signed_base(client, asset_id, now=time.time() - 3600)
    assert client.get(stale + "thumb.jpg").status_code == 404
    assert client.get(f"/media/_signed/nonsense/{asset_id}/v1/thumb.jpg").status_code == 404
    assert not audit_rows(client, "signed_url.use")


@pytest.mark.parametrize(
    "tail",
    ["../../secret_key", "..%2f..%2fsecret_key", "%2e%2e/%2e%2e/museum.sqlite3", "thumb.jpg/.."],
)
def test_a_signed_link_never_leaves_its_folder(client: TestClient, tail: str) -> None:
    asset_id = add_media(client, files=FILES)
    base = signed_base(client, asset_id)
    response = client.get(base + tail)
    assert response.status_code == 404
    assert b"secret" not in response.content.lower() or b"not_found" in response.content


def test_access_changes_apply_to_new_lookups(client: TestClient) -> None:
    asset_id = add_media(client, files=FILES)
    assert client.get(f"/media/{asset_id}/v1/thumb.jpg").status_code == 200
    set_record(client, "DL-ICH-01", status="withdrawn")
    media = next(r.app for r in client.app.routes if getattr(r, "name", "") == "media")  # type: ignore[attr-defined]
    media.answers.items.clear()  # what ACCESS_SECONDS of waiting does
    media.public.items.clear()
    assert client.get(f"/media/{asset_id}/v1/thumb.jpg").status_code == 404
    sign_out(client)


def test_machine_written_text_waits_for_review_before_visitors_may_fetch_it(
    client: TestClient,
) -> None:
    files = {
        "thumb.jpg": b"thumbnail",
        "captions.vi.vtt": b"WEBVTT\n\n00:00.000 --> 00:01.000\nda duyet\n",
        "captions.en.vtt": b"WEBVTT\n\n00:00.000 --> 00:01.000\ndraft words\n",
        "page-1/ocr/page.txt": b"machine read text",
    }
    # vi was accepted; en is a machine draft; the document's OCR layer is not accepted.
    technical = {"captions": ["vi"], "caption_drafts": ["en"]}
    asset_id = add_media(client, files=files, technical=technical)
    base = f"/media/{asset_id}/v1"
    assert client.get(f"{base}/thumb.jpg").status_code == 200
    assert client.get(f"{base}/captions.vi.vtt").status_code == 200
    assert client.get(f"{base}/captions.en.vtt").status_code == 404
    assert client.get(f"{base}/page-1/ocr/page.txt").status_code == 404
    # Staff reviewing the drafts reach them.
    sign_in(client, "reviewer", "editor")
    assert client.get(f"{base}/captions.en.vtt").content.endswith(b"draft words\n")
    assert client.get(f"{base}/page-1/ocr/page.txt").status_code == 200
    sign_out(client)
