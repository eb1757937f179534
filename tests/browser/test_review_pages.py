"""The review of machine output in Debian's chromium (issue 8): a curator opens the queue,
follows a draft to its record's page, sees it beside the picture it is about with what wrote
it, corrects it and accepts it, then rejects another; the pages pass axe (WCAG 2.1 AA)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.auth import SESSION_COOKIE, start_session
from server.db import Database
from server.models import Asset, MachineDraft, Record, User
from server.settings import Settings
from tests.browser.axe import axe_violations, describe
from tests.browser.conftest import viewer_built
from tests.live import serving
from tests.staff import add_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not viewer_built(), reason="viewer bundle not built: run make viewer"),
]
RECORD = "DL-ICH-02"
ASSET = "e" * 32
VERSION = "img-00000000000000ee"
# A 1×1 JPEG: the picture the alt text is about.
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c"
    "1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0"
    "000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bff"
    "c400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a10823"
    "42b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a5354555657"
    "58595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aa"
    "b2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8"
    "f9faffda0008010100003f00fbd3ffd9"
)


@pytest.fixture
def app(seeded_settings: Settings) -> Starlette:
    return create_app(seeded_settings)


@pytest.fixture
def live_server(app: Starlette) -> Iterator[str]:
    with serving(app) as url:
        yield url


def seed_drafts(app: Starlette) -> tuple[int, int]:
    db: Database = app.state.museum.db
    folder = app.state.museum.store.derivative_dir(ASSET, VERSION)
    folder.mkdir(parents=True)
    (folder / "t400.jpg").write_bytes(JPEG)

    def add(session):  # type: ignore[no-untyped-def]
        session.add(
            Asset(
                id=ASSET,
                sha256="0" * 64,
                size=1,
                filename="khan.jpg",
                media_type="image/jpeg",
                kind="image",
                record_id=RECORD,
                published_version=VERSION,
                technical={
                    "pipeline": "image",
                    "width": 1,
                    "height": 1,
                    "thumbnails": {"thumbnail:400": "t400.jpg"},
                },
            )
        )
        alt = MachineDraft(
            record_id=RECORD,
            asset_id=ASSET,
            field="alt_text",
            language="vi",
            text="Ảnh: Khan – Sử thi Êđê.",
            source="template",
            model="template",
            model_version="1",
        )
        label = MachineDraft(
            record_id=RECORD,
            field="label",
            language="en",
            text="Khan, the epic of the Êđê.",
            source="llm",
            model="qwen2.5vl:7b",
            model_version="fp_1",
        )
        session.add_all([alt, label])
        session.flush()
        return alt.id, label.id

    ids: tuple[int, int] = db.call(add, write=True)  # fmt: skip
    return ids


def sign_in_browser(page: Any, app: Starlette, live_server: str) -> None:
    db: Database = app.state.museum.db
    user_id = add_user(db, "chi", "curator")
    token, _ = db.call(lambda s: start_session(s, s.get(User, user_id), 3600), write=True)
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": live_server}])


def test_a_curator_corrects_and_accepts_a_draft_beside_its_picture(
    page: Any, app: Starlette, live_server: str
) -> None:
    alt_id, label_id = seed_drafts(app)
    sign_in_browser(page, app, live_server)
    page.goto(f"{live_server}/admin/review")
    assert page.text_content("h1") == "Duyệt nội dung do máy viết"
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.click(f'a[href$="#draft-{alt_id}"]')
    page.wait_for_url(f"**/admin/review/records/{RECORD}#draft-{alt_id}")
    item = page.locator(f"#draft-{alt_id}")
    picture = item.locator(".review-media img")
    assert picture.get_attribute("src") == f"/media/{ASSET}/{VERSION}/t400.jpg"
    page.wait_for_function(
        f"() => document.querySelector('#draft-{alt_id} .review-media img').naturalWidth === 1"
    )
    assert "template" in (item.locator(".review-provenance").text_content() or "")
    violations = axe_violations(page)
    assert not violations, describe(violations)

    item.locator("textarea").fill("Ảnh: nghệ nhân kể sử thi Khan bên bếp lửa.")
    item.locator('button[value="edit"]').click()
    page.wait_for_url(f"**/admin/review/records/{RECORD}#draft-{alt_id}")
    item = page.locator(f"#draft-{alt_id}")
    assert item.locator(".review-status").text_content() == "Đã chấp nhận"
    assert item.locator(".review-reviewer").text_content() == "chi"
    assert "bên bếp lửa" in (item.locator(".review-final").text_content() or "")

    label = page.locator(f"#draft-{label_id}")
    assert "qwen2.5vl:7b" in (label.locator(".review-provenance").text_content() or "")
    label.locator('button[value="reject"]').click()
    page.wait_for_url(f"**#draft-{label_id}")
    assert page.locator(f"#draft-{label_id} .review-status").text_content() == "Đã từ chối"

    db: Database = app.state.museum.db
    asset = db.call(lambda s: s.get(Asset, ASSET))
    assert asset.technical["alt"] == {"vi": "Ảnh: nghệ nhân kể sử thi Khan bên bếp lửa."}
    record = db.call(lambda s: s.get(Record, RECORD))
    assert "label" not in (record.extra or {})
    assert page.foreign_requests == []
