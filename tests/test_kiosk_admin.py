"""Kiosks as staff register them, and the heartbeat a kiosk sends with its token."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from server.audit import Actor
from server.db import Database
from server.kiosks import create_kiosk
from server.models import AuditEntry, Kiosk, utcnow
from tests.kiosk_fixtures import EXHIBITION, build, write_files
from tests.staff import sign_in, sign_out

BEAT = "/kiosk/heartbeat"
CACHE: dict[str, Any] = {
    "entries": 120,
    "bytes": 5_000_000,
    "complete": True,
    "manifest_version": "abc",
}
REPORT: dict[str, Any] = {
    "kiosk": "hall-1",
    "exhibition_id": EXHIBITION,
    "version": "0.9.0",
    "cache": CACHE,
    "last_error": "",
}


@pytest.fixture
def site(client: TestClient) -> TestClient:
    museum = client.app.state.museum  # type: ignore[attr-defined]
    museum.db.call(build, write=True)
    write_files(museum.store.derivatives)
    return client


def db_of(client: TestClient) -> Database:
    return client.app.state.museum.db  # type: ignore[attr-defined,no-any-return]


def register(client: TestClient, kiosk_id: str = "hall-1", exhibition: str = EXHIBITION) -> str:
    actor = Actor(None, "test")
    return str(
        db_of(client).call(
            lambda s: create_kiosk(s, kiosk_id, "Sảnh 1", exhibition, actor), write=True
        )
    )


def kiosk_row(client: TestClient, kiosk_id: str = "hall-1") -> Kiosk:
    row = db_of(client).call(lambda s: s.get(Kiosk, kiosk_id))
    assert row is not None
    return row


def audit(client: TestClient, action: str) -> list[AuditEntry]:
    return list(
        db_of(client).call(
            lambda s: list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        )
    )


def forget_last_beat(client: TestClient, kiosk_id: str = "hall-1") -> None:
    def back(session: Session) -> None:
        row = session.get(Kiosk, kiosk_id)
        assert row is not None and row.last_seen is not None
        row.last_seen -= timedelta(minutes=1)

    db_of(client).call(back, write=True)


def beat(client: TestClient, token: str, **changes: Any) -> Any:
    return client.post(
        BEAT, json={**REPORT, **changes}, headers={"authorization": f"Bearer {token}"}
    )


def kiosk_rows(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-kiosk="([^"]+)">(.*?)</tr>', page, re.S))


# The heartbeat


def test_a_heartbeat_needs_the_kiosks_own_token(site: TestClient) -> None:
    token = register(site)
    assert site.post(BEAT, json=REPORT).status_code == 401
    refused = beat(site, "not-the-token")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.json()["error"]["code"] == "unauthorized"
    assert beat(site, token, kiosk="hall-2").status_code == 401, "another kiosk's name"
    assert kiosk_row(site).last_seen is None, "a refused beat changes nothing"
    assert beat(site, token).status_code == 200


def test_a_heartbeat_updates_the_kiosk_and_answers_its_assignment(site: TestClient) -> None:
    token = register(site)
    answer = beat(site, token, last_error="GPU lost")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    version = site.get(f"/kiosk/{EXHIBITION}/offline.json").json()["version"]
    assert answer.json() == {
        "exhibition_id": EXHIBITION,
        "manifest_version": version,
        "heartbeat_seconds": 60,
    }
    row = kiosk_row(site)
    assert row.last_seen is not None and utcnow() - row.last_seen < timedelta(seconds=30)
    assert row.version == "0.9.0" and row.last_error == "GPU lost"
    assert row.address == "testclient"
    assert row.cache_state == {**CACHE, "shown": EXHIBITION}
    assert len(audit(site, "kiosk.report")) == 1
    forget_last_beat(site)
    beat(site, token, last_error="GPU lost")
    assert len(audit(site, "kiosk.report")) == 1, "the same report is no news"


def test_a_kiosk_whose_exhibition_is_not_shown_is_told_none(site: TestClient) -> None:
    token = register(site, exhibition="draft")
    assert beat(site, token).json()["exhibition_id"] is None


def test_heartbeats_are_rate_limited_per_kiosk(site: TestClient) -> None:
    token = register(site)
    assert beat(site, token).status_code == 200
    again = beat(site, token)
    assert again.status_code == 429
    assert 1 <= int(again.headers["retry-after"]) <= 5
    other = register(site, "hall-2")
    assert beat(site, other, kiosk="hall-2").status_code == 200, "each kiosk has its own"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"kiosk": 5}', 400),
        (b'{"kiosk": "hall-1", "cache": []}', 400),
        (b'{"kiosk": "hall-1", "pad": "' + b"x" * 20_000 + b'"}', 413),
    ],
)
def test_a_faulty_heartbeat_is_refused(site: TestClient, body: bytes, status: int) -> None:
    token = register(site)
    response = site.post(
        BEAT,
        content=body,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


# Staff


def test_only_staff_see_the_kiosks_and_only_editors_change_them(site: TestClient) -> None:
    assert site.get("/admin/kiosks", follow_redirects=False).status_code in (303, 401)
    sign_in(site, "pupil", "contributor")
    assert site.get("/admin/kiosks").status_code == 403
    form = {"kiosk_id": "hall-9", "exhibition_id": EXHIBITION}
    assert site.post("/admin/kiosks", data=form).status_code == 403
    assert site.post("/admin/kiosks/hall-1", data={"action": "token"}).status_code == 403
    sign_out(site)
    sign_in(site, "curator", "curator")
    page = site.get("/admin/kiosks")
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    assert 'href="/admin/kiosks"' in page.text, "the menu has Kiosks"
    assert audit(site, "kiosk.create") == []


def test_registering_a_kiosk_shows_its_token_once_and_keeps_only_a_hash(site: TestClient) -> None:
    sign_in(site, "editor", "editor")
    answer = site.post(
        "/admin/kiosks", data={"kiosk_id": "hall-1", "label": "Sảnh 1", "exhibition_id": EXHIBITION}
    )
    assert answer.status_code == 200
    url = re.search(r'kiosk-setup-url"[^>]*>([^<]+)<', answer.text)
    assert url is not None
    setup = url.group(1).replace("&amp;", "&")
    assert setup.startswith(f"http://testserver/kiosk/{EXHIBITION}?kiosk=hall-1&token=")
    token = setup.rsplit("token=", 1)[1]
    row = kiosk_row(site)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str({c: getattr(row, c) for c in ("label", "cache_state", "version")})
    (entry,) = audit(site, "kiosk.create")
    assert entry.actor == "editor" and entry.after is not None
    assert "token_hash" not in entry.after and token not in str(entry.after)
    assert token not in site.get("/admin/kiosks").text, "shown only once"
    sign_out(site)
    assert beat(site, token).status_code == 200


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"kiosk_id": "Hall 1", "exhibition_id": EXHIBITION}, 422),
        ({"kiosk_id": "hall-1", "exhibition_id": "no-such"}, 422),
        ({"kiosk_id": "hall-1", "exhibition_id": EXHIBITION, "label": "x" * 300}, 422),
    ],
)
def test_a_faulty_registration_says_what_is_wrong(
    site: TestClient, form: dict[str, str], status: int
) -> None:
    sign_in(site, "editor", "editor")
    answer = site.post("/admin/kiosks", data=form)
    assert answer.status_code == status
    assert 'role="alert"' in answer.text
    assert audit(site, "kiosk.create") == []


def test_a_kiosk_id_is_registered_once(site: TestClient) -> None:
    register(site)
    sign_in(site, "editor", "editor")
    answer = site.post("/admin/kiosks", data={"kiosk_id": "hall-1", "exhibition_id": EXHIBITION})
    assert answer.status_code == 409 and "hall-1" in answer.text


def test_assigning_renaming_and_new_tokens(site: TestClient) -> None:
    old = register(site)
    sign_in(site, "editor", "editor")
    moved = site.post(
        "/admin/kiosks/hall-1",
        data={"action": "save", "label": "Sảnh chính", "exhibition_id": "draft"},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/admin/kiosks"
    row = kiosk_row(site)
    assert (row.label, row.exhibition_id) == ("Sảnh chính", "draft")
    (entry,) = audit(site, "kiosk.update")
    assert entry.before == {"label": "Sảnh 1", "exhibition_id": EXHIBITION}
    assert entry.after == {"label": "Sảnh chính", "exhibition_id": "draft"}
    fresh = site.post("/admin/kiosks/hall-1", data={"action": "token"})
    assert fresh.status_code == 200 and "/kiosk/draft?kiosk=hall-1&amp;token=" in fresh.text
    assert len(audit(site, "kiosk.token")) == 1
    sign_out(site)
    assert beat(site, old).status_code == 401, "the old token stops working"
    sign_in(site, "editor", "editor")
    assert site.post("/admin/kiosks/hall-1", data={"action": "paint"}).status_code == 400
    assert site.post("/admin/kiosks/nope", data={"action": "token"}).status_code == 404
    bad = site.post("/admin/kiosks/hall-1", data={"action": "save", "exhibition_id": "no-such"})
    assert bad.status_code == 422
    assert len(audit(site, "kiosk.update")) == 1


def test_the_list_shows_what_each_kiosk_reported(site: TestClient) -> None:
    fresh = register(site)
    register(site, "hall-2")
    version = site.get(f"/kiosk/{EXHIBITION}/offline.json").json()["version"]
    cache = {**CACHE, "manifest_version": version}
    beat(site, fresh, cache=cache, last_error="WebGL context lost")
    sign_in(site, "editor", "editor")
    page = site.get("/admin/kiosks").text
    rows = kiosk_rows(page)
    assert "WebGL context lost" in rows["hall-1"] and "0.9.0" in rows["hall-1"]
    assert "kiosk-offline" not in rows["hall-1"]
    assert "status-published" in rows["hall-1"], "its copy is the current version"
    assert "kiosk-offline" in rows["hall-2"], "never seen: offline"

    def stale(session: Session) -> None:
        row = session.get(Kiosk, "hall-1")
        assert row is not None
        row.last_seen = utcnow() - timedelta(minutes=6)

    db_of(site).call(stale, write=True)
    assert "kiosk-offline" in kiosk_rows(site.get("/admin/kiosks").text)["hall-1"]
