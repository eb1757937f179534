"""``/admin/audit`` and ``/admin/audit.csv``: the audit log for administrators (issue 8)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server import admin_audit
from server.db import Database
from server.models import AuditEntry
from server.settings import Settings
from tests.staff import migrated_app, sign_in, signed_in

ADMIN = "boss"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Starlette:
    """Each audit test runs on SQLite and on PostgreSQL."""
    return migrated_app(Settings(data_dir=tmp_path / "data", database_url=database_url))


@pytest.fixture
def admin(app: Starlette) -> Iterator[TestClient]:
    with signed_in(app, ADMIN, "admin") as client:
        yield client


def add_entries(app: Starlette, *entries: dict[str, Any]) -> None:
    db: Database = app.state.museum.db

    def add(session: Any) -> None:
        for values in entries:
            session.add(AuditEntry(**{"object_id": "", "address": "", **values}))

    db.call(add, write=True)


def entry(at: str, actor: str, action: str, kind: str, oid: str, **more: Any) -> dict[str, Any]:
    return {
        "at": datetime.fromisoformat(at),
        "actor": actor,
        "action": action,
        "object_type": kind,
        "object_id": oid,
        **more,
    }


@pytest.fixture
def log(admin: TestClient) -> TestClient:
    add_entries(
        admin.app,  # type: ignore[arg-type]
        # UTC times: 2025-11-19 18:00 UTC is already 20 November in Vietnam.
        entry("2025-11-18T03:00:00", "lan", "record.update", "record", "R-1"),
        entry(
            "2025-11-19T18:00:00",
            "lan",
            "user.set_role",
            "user",
            "7",
            before={"role": "editor", "session_epoch": 0, "email": "a@b.vn"},
            after={"role": "curator", "session_epoch": 1, "email": "a@b.vn"},
        ),
        entry(
            "2025-11-21T02:00:00", "cli:root", "user.create", "user", "8", after={"role": "admin"}
        ),
        entry("2025-11-21T03:00:00", "public", "contribution.create", "contribution", "3"),
    )
    return admin


def rows(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('<tr data-audit-id="')[1:]]


def actions(client: TestClient, query: str = "") -> list[str]:
    page = client.get(f"/admin/audit?lang=en&{query}").text
    return [chunk.split("</code>", 1)[0] for chunk in page.split("<td><code>")[1:]]


def test_newest_first(log: TestClient) -> None:
    response = log.get("/admin/audit?lang=en")
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    assert actions(log) == ["contribution.create", "user.create", "user.set_role", "record.update"]
    ids = [int(i) for i in rows(response.text)]
    assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=lan", ["user.set_role", "record.update"]),
        ("actor=cli:root", ["user.create"]),
        ("action=user.create", ["user.create"]),
        ("action=user.", ["user.create", "user.set_role"]),
        ("action=user", []),  # exact unless it ends with a dot
        ("type=record", ["record.update"]),
        ("type=user&object=7", ["user.set_role"]),
        ("from=2025-11-20", ["contribution.create", "user.create", "user.set_role"]),
        ("to=2025-11-19", ["record.update"]),
        ("from=2025-11-20&to=2025-11-20", ["user.set_role"]),
        ("actor=nobody", []),
    ],
)
def test_filters(log: TestClient, query: str, expected: list[str]) -> None:
    assert actions(log, query) == expected


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("from=20-11-2025", "from"),
        ("to=2025-13-01", "to"),
        ("from=2025-11-21&to=2025-11-20", "from"),
        ("actor=" + "x" * 200, "actor"),
    ],
)
def test_bad_filters_are_400(log: TestClient, query: str, parameter: str) -> None:
    for path in ("/admin/audit", "/admin/audit.csv"):
        response = log.get(f"{path}?{query}", headers={"accept": "application/json"})
        assert response.status_code == 400, path
        assert response.json()["error"]["parameter"] == parameter


def test_bad_page_is_400(log: TestClient) -> None:
    response = log.get("/admin/audit?page=-1", headers={"accept": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["parameter"] == "page"


def test_rows_unfold_into_a_field_diff(log: TestClient) -> None:
    page = html.unescape(log.get("/admin/audit?lang=en&action=user.set_role").text)
    assert "2 fields changed" in page
    assert '<th scope="row">role</th><td><del>editor</del></td><td><ins>curator</ins></td>' in page
    assert '<th scope="row">session_epoch</th><td><del>0</del></td><td><ins>1</ins></td>' in page
    assert "1 other fields unchanged." in page
    assert "email</th>" not in page
    created = html.unescape(log.get("/admin/audit?lang=en&action=user.create").text)
    assert '<th scope="row">role</th><td><del>—</del></td><td><ins>admin</ins></td>' in created


def test_field_diff() -> None:
    changes, unchanged = admin_audit.field_diff({"a": 1, "b": [1, 2]}, {"a": 1, "b": [2], "c": "x"})
    assert [(c.field, c.before, c.after) for c in changes] == [
        ("b", "[1, 2]", "[2]"),
        ("c", "—", "x"),
    ]
    assert unchanged == 1
    long, _ = admin_audit.field_diff(None, {"text": "x" * 1000})
    assert long[0].after.endswith("…") and len(long[0].after) == admin_audit.MAX_VALUE + 1


def test_paging(admin: TestClient) -> None:
    add_entries(
        admin.app,  # type: ignore[arg-type]
        *[
            entry(f"2025-01-01T00:00:{i:02d}", "lan", "record.update", "record", f"R-{i}")
            for i in range(55)
        ],
    )
    first = admin.get("/admin/audit?lang=en&actor=lan").text
    assert len(rows(first)) == 50
    assert 'rel="next" href="/admin/audit?lang=en&amp;actor=lan&amp;page=2"' in first
    second = admin.get("/admin/audit?lang=en&actor=lan&page=2").text
    assert len(rows(second)) == 5
    assert set(rows(first)).isdisjoint(rows(second))


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("editor", 403), ("curator", 403)])
def test_only_admins_read_the_log(app: Starlette, role: str | None, status: int) -> None:
    with TestClient(app) as client:
        if role:
            sign_in(client, f"u-{role}", role)
        assert client.get("/admin/audit").status_code == status
        assert client.get("/admin/audit.csv").status_code == status


def read_csv(client: TestClient, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/admin/audit.csv?{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="audit-log-')
    assert response.text.startswith("\ufeffid,at_utc,actor,")
    return list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))


def test_csv_export_follows_the_filters(log: TestClient) -> None:
    lines = read_csv(log, "actor=lan")
    assert [line["action"] for line in lines] == ["user.set_role", "record.update"]
    role = lines[0]
    assert role["at_utc"] == "2025-11-19T18:00:00Z"
    assert role["changed"] == "role session_epoch"
    assert '"role": "editor"' in role["before"] and '"role": "curator"' in role["after"]
    page = log.get("/admin/audit?actor=lan").text
    assert 'href="/admin/audit.csv?actor=lan"' in page


def test_csv_export_defuses_formulas(admin: TestClient) -> None:
    add_entries(
        admin.app,  # type: ignore[arg-type]
        entry("2025-01-01T00:00:00", '=HYPERLINK("http://x")', "+cmd", "-x", "@SUM(1)"),
    )
    [line] = read_csv(admin, "type=-x")
    assert line["actor"] == '\'=HYPERLINK("http://x")'
    assert (line["action"], line["object_type"], line["object_id"]) == ("'+cmd", "'-x", "'@SUM(1)")


def test_csv_export_streams_every_entry_once(admin: TestClient) -> None:
    count = admin_audit.CSV_BATCH * 2 + 7
    add_entries(
        admin.app,  # type: ignore[arg-type]
        *[
            entry("2025-01-01T00:00:00", "bulk", "record.update", "record", f"R-{i}")
            for i in range(count)
        ],
    )
    lines = read_csv(admin, "actor=bulk")
    assert len(lines) == count
    assert len({line["object_id"] for line in lines}) == count
    ids = [int(line["id"]) for line in lines]
    assert ids == sorted(ids, reverse=True)
