"""Signed links (server/signing.py; SECURITY-RESEARCH row 21): genuine and current ones
open a restricted file, any change to path, expiry, user or signature is refused, expired
ones are refused, and every issue and use is in the audit log."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from server.models import Contribution
from server.settings import Settings
from server.signing import (
    PREVIOUS_KEY_FILE,
    SignedLink,
    derive_key,
    file_url,
    link_for,
    media_base,
    media_prefix,
    parse_token,
    sign,
    signing_keys,
    verify,
)
from tests.media_fixtures import add_media, audit_rows, change, museum_of, set_record
from tests.staff import sign_in, sign_out

KEY = derive_key("a test secret")
OTHER_KEY = derive_key("another secret")
NOW = 1_800_000_000.0
PATH = "/originals/0123456789abcdef0123456789abcdef"
EXPIRES = int(NOW) + 300
USER = 7


def genuine(path: str = PATH, expires: int = EXPIRES, user: int = USER) -> SignedLink:
    return SignedLink(str(expires), str(user), sign(path, expires, user, KEY))


def test_a_genuine_current_link_names_its_user() -> None:
    assert verify(PATH, genuine(), [KEY], NOW) == USER


def mutations(text: str) -> st.SearchStrategy[str]:
    """``text`` with exactly one character replaced by a different one."""
    return (
        st.tuples(st.integers(0, len(text) - 1), st.characters())
        .filter(lambda change: text[change[0]] != change[1])
        .map(lambda change: text[: change[0]] + change[1] + text[change[0] + 1 :])
    )


@settings(max_examples=3000, deadline=None)
@given(st.data())
def test_any_single_character_change_is_refused(data: st.DataObject) -> None:
    link = genuine()
    field = data.draw(st.sampled_from(["path", "expires", "user", "signature"]))
    path, expires, user, signature = PATH, link.expires, link.user_id, link.signature
    if field == "path":
        path = data.draw(mutations(PATH))
    elif field == "expires":
        expires = data.draw(mutations(expires))
    elif field == "user":
        user = data.draw(mutations(user))
    else:
        signature = data.draw(mutations(signature))
    assert verify(path, SignedLink(expires, user, signature), [KEY], NOW) is None


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6))
def test_expired_links_are_refused(seconds_late: int) -> None:
    link = genuine(expires=int(NOW) - seconds_late)
    assert verify(PATH, link, [KEY], NOW) is None


def test_links_reaching_too_far_ahead_are_refused() -> None:
    far = genuine(expires=int(NOW) + 2 * 86400)
    assert verify(PATH, far, [KEY], NOW) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="/abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=80))
def test_a_link_replayed_on_another_path_is_refused(other: str) -> None:
    if other == PATH:
        return
    assert verify(other, genuine(), [KEY], NOW) is None


def test_method_is_part_of_the_signature() -> None:
    assert verify(PATH, genuine(), [KEY], NOW, method="DELETE") is None


def test_key_rotation_accepts_the_previous_key_only_when_kept(tmp_path: Path) -> None:
    settings_ = Settings(data_dir=tmp_path / "data", secret_key="new secret")
    (tmp_path / "data").mkdir()
    old_link = SignedLink(
        str(EXPIRES), str(USER), sign(PATH, EXPIRES, USER, derive_key("old secret"))
    )
    assert verify(PATH, old_link, signing_keys(settings_), NOW) is None
    (tmp_path / "data" / PREVIOUS_KEY_FILE).write_text("old secret\n", encoding="utf-8")
    rotated = Settings(data_dir=tmp_path / "data", secret_key="new secret ")  # fresh cache key
    keys = signing_keys(rotated)
    assert len(keys) == 2
    assert verify(PATH, old_link, keys, NOW) == USER
    assert verify(PATH, old_link, [OTHER_KEY], NOW) is None


def test_the_media_token_round_trips() -> None:
    link = genuine(media_prefix("abc", "v1"))
    base = media_base("abc", "v1", link)
    token = base.split("/")[3]
    assert parse_token(token) == link
    assert parse_token(token + "x") is None and parse_token("1.2.3") is None


# Over HTTP: issue and use are audited -----------------------------------------------------


@pytest.fixture
def restricted(client: TestClient) -> str:
    """A media item of a draft record, with a pending contribution showing it to staff."""
    set_record(client, "DL-ICH-02", status="draft")
    asset_id = add_media(client, "DL-ICH-02", files={"thumb.jpg": b"thumb"})

    def add(session):  # type: ignore[no-untyped-def]
        session.add(
            Contribution(
                kind="photo",
                title="Ảnh",
                contributor_name="Y Nguyên",
                license="http://creativecommons.org/licenses/by/4.0/",
                asset_id=asset_id,
                record_id="DL-ICH-02",
            )
        )
        session.flush()

    change(client, add)
    return asset_id


def test_issue_and_use_are_audited(client: TestClient, restricted: str) -> None:
    sign_in(client, "bien_tap", "editor")
    page = client.get("/admin/contributions/1")
    assert page.status_code == 200
    issued = audit_rows(client, "signed_url.issue")
    assert {row.after["path"] for row in issued} == {  # type: ignore[index]
        f"/originals/{restricted}",
        f"/media/{restricted}/v1/",
    }
    assert all(row.actor == "bien_tap" for row in issued)
    link = next(href for href in _hrefs(page.text) if href.startswith(f"/originals/{restricted}?"))
    sign_out(client)
    assert client.get(f"/originals/{restricted}").status_code == 404  # no link, no session
    response = client.get(link)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    used = audit_rows(client, "signed_url.use")
    assert len(used) == 1 and used[0].actor == "bien_tap"
    assert used[0].object_id == restricted


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_mutated_links_never_open_the_file(
    client: TestClient, restricted: str, data: st.DataObject
) -> None:
    museum = museum_of(client)
    user_id = _staff_id(client)
    path = f"/originals/{restricted}"
    link = link_for(path, user_id, museum.settings)
    url = file_url(path, link)
    field = data.draw(st.sampled_from(["exp", "uid", "sig", "path"]))
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    if field == "path":
        path = path[:-1] + ("0" if path[-1] != "0" else "1")
    else:
        query[field] = data.draw(mutations(query[field]))
    response = client.get(path, params=query)
    assert response.status_code in (400, 404)
    assert not response.headers.get("content-disposition")


def test_an_expired_link_is_refused_over_http(client: TestClient, restricted: str) -> None:
    museum = museum_of(client)
    path = f"/originals/{restricted}"
    stale = link_for(path, _staff_id(client), museum.settings, now=time.time() - 3600)
    assert client.get(file_url(path, stale)).status_code == 404


def test_a_link_dies_with_its_account(client: TestClient, restricted: str) -> None:
    from server.models import User

    museum = museum_of(client)
    user_id = _staff_id(client)
    path = f"/originals/{restricted}"
    url = file_url(path, link_for(path, user_id, museum.settings))
    change(client, lambda s: setattr(s.get(User, user_id), "active", False))
    assert client.get(url).status_code == 404


def _staff_id(client: TestClient) -> int:
    from tests.staff import add_user

    return add_user(museum_of(client).db, "phu_trach", "editor")


def _hrefs(html: str) -> list[str]:
    import html as html_module
    import re

    return [html_module.unescape(h) for h in re.findall(r'(?:href|src)="([^"]+)"', html)]
