"""The field-trip pages: starting a trip, the teacher's console, joining, the pupil's view,
ending with its summary, and the printable worksheet."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from server.app import create_app
from server.db import Database
from server.models import AuditEntry, Trip
from server.settings import Settings
from server.trips.service import MAX_OPEN_TRIPS
from tests.staff import sign_in, sign_out
from tests.trip_helpers import EXHIBITION, EXHIBITION_ID, STOPS, add_exhibition

ORIGIN = {"origin": "http://testserver"}
DRAFT = {**EXHIBITION, "id": "draft-trip", "published": False}
CODE = re.compile(r"/trips/([A-Z0-9]{6})/lead")


@pytest.fixture
def client(seeded_settings: Settings) -> Iterator[TestClient]:
    db = Database(seeded_settings.resolved_database_url)
    add_exhibition(db)
    add_exhibition(db, DRAFT)
    db.dispose()
    with TestClient(create_app(seeded_settings), follow_redirects=False) as test_client:
        yield test_client


def db_of(client: TestClient) -> Database:
    db: Database = client.app.state.museum.db  # type: ignore[attr-defined]
    return db


def start(client: TestClient, teacher: str = "co-mai", exhibition: str = EXHIBITION_ID) -> str:
    csrf = sign_in(client, teacher, "contributor")
    response = client.post("/trips", data={"exhibition": exhibition, "csrf_token": csrf})
    assert response.status_code == 303, response.text
    found = CODE.fullmatch(response.headers["location"])
    assert found is not None
    return found.group(1)


def audit(client: TestClient, action: str) -> list[AuditEntry]:
    return list(
        db_of(client).call(
            lambda s: s.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        )
    )


def trip_row(client: TestClient, code: str) -> Trip:
    def load(session: Any) -> Trip:
        trip = session.get(Trip, code)
        session.expunge(trip)
        return trip  # type: ignore[no-any-return]

    return db_of(client).call(load)


# Starting --------------------------------------------------------------------------------


def test_visitors_are_asked_to_sign_in_to_start_a_trip(client: TestClient) -> None:
    assert client.get("/trips/new").status_code == 401
    assert client.post("/trips", data={"exhibition": EXHIBITION_ID}).status_code in (401, 403)


def test_a_teacher_sees_public_exhibitions_and_the_menu_entry(client: TestClient) -> None:
    sign_in(client, "co-mai", "contributor")
    page = client.get(f"/trips/new?exhibition={EXHIBITION_ID}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "private, no-store"
    assert "Chuyến tham quan thử" in page.text
    assert f'value="{EXHIBITION_ID}" required checked' in page.text
    assert "draft-trip" not in page.text  # an unpublished exhibition cannot be visited
    assert 'href="/trips/new" aria-current="page"' in page.text  # the admin menu's entry
    assert "/exhibitions/trip-test/worksheet" in page.text


def test_starting_a_trip_writes_the_row_and_one_audit_entry(client: TestClient) -> None:
    code = start(client)
    trip = trip_row(client, code)
    assert (trip.exhibition_id, trip.language, trip.ended_at) == (EXHIBITION_ID, "vi", None)
    entries = audit(client, "trip.create")
    assert [(e.object_type, e.object_id, e.actor) for e in entries] == [("trip", code, "co-mai")]


@pytest.mark.parametrize("exhibition", ["draft-trip", "no-such-exhibition", ""])
def test_only_a_public_exhibition_can_be_visited(client: TestClient, exhibition: str) -> None:
    csrf = sign_in(client, "co-mai", "contributor")
    response = client.post("/trips", data={"exhibition": exhibition, "csrf_token": csrf})
    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert db_of(client).call(lambda s: s.scalars(select(Trip)).all()) == []


def test_starting_needs_the_csrf_token(client: TestClient) -> None:
    sign_in(client, "co-mai", "contributor")
    client.headers.pop("x-csrf-token")
    assert client.post("/trips", data={"exhibition": EXHIBITION_ID}).status_code == 403


def test_a_teacher_may_run_only_so_many_trips_at_once(client: TestClient) -> None:
    for _ in range(MAX_OPEN_TRIPS):
        start(client)
    csrf = sign_in(client, "co-mai", "contributor")
    response = client.post("/trips", data={"exhibition": EXHIBITION_ID, "csrf_token": csrf})
    assert response.status_code == 429
    assert "retry-after" in response.headers


# The console -------------------------------------------------------------------------------


def test_the_console_shows_the_code_qr_and_every_stop(client: TestClient) -> None:
    code = start(client)
    page = client.get(f"/trips/{code}/lead")
    assert page.status_code == 200
    assert f'<p class="trip-code" aria-label="Mã chuyến tham quan">{code}</p>' in page.text
    assert "<svg" in page.text and f"http://testserver/trips/{code}" in page.text
    assert page.text.count("<template data-trip-stop=") == STOPS
    assert f'data-socket="/ws/trips/{code}"' in page.text
    # Nothing on another host: the only addresses are this site's (and the SVG namespace).
    own = re.sub(r'http://(testserver|www\.w3\.org/2000/svg)[^"<\s]*', "", page.text)
    assert "http" not in own.split("<main")[1]


@pytest.mark.parametrize("role", ["contributor", "editor", "admin"])
def test_another_account_gets_the_404_of_an_unknown_trip(client: TestClient, role: str) -> None:
    code = start(client)
    csrf = sign_in(client, f"other-{role}", role)
    assert client.get(f"/trips/{code}/lead").status_code == 404
    assert client.post(f"/trips/{code}/end", data={"csrf_token": csrf}).status_code == 404
    assert client.get(f"/trips/{code}/summary.csv").status_code == 404
    assert client.get("/trips/AAAAAA/lead").status_code == 404
    assert trip_row(client, code).ended_at is None


# Joining and the pupil's page ----------------------------------------------------------------


def test_joining_takes_a_code_and_a_nickname(client: TestClient) -> None:
    code = start(client)
    sign_out(client)
    assert client.get("/trips/join").status_code == 200
    typed = f"{code[:3].lower()} {code[3:]}"
    joined = client.get("/trips/join", params={"code": typed, "nickname": "  Hơ Linh "})
    assert joined.status_code == 303
    assert joined.headers["location"] == f"/trips/{code}?nickname=H%C6%A1+Linh"
    bad = client.get("/trips/join", params={"code": "0O1I", "nickname": "x"})
    assert bad.status_code == 422 and "KT7M4Q" in bad.text
    unknown = client.get("/trips/join", params={"code": "AAAAAA", "nickname": "x"})
    assert unknown.status_code == 404 and "AAAAAA" in unknown.text
    no_name = client.get("/trips/join", params={"code": code, "nickname": " "})
    assert no_name.status_code == 422


def test_the_pupil_page_shows_the_stop_the_class_is_on(client: TestClient) -> None:
    code = start(client)
    with client.websocket_connect(f"/ws/trips/{code}", headers=ORIGIN) as teacher:
        teacher.receive_json()
        teacher.send_json({"type": "goto", "stop": 2})
        assert teacher.receive_json()["stop"] == 2
    sign_out(client)
    page = client.get(f"/trips/{code}")
    assert page.status_code == 200
    assert page.headers["x-robots-tag"] == "noindex"
    stage = page.text.split("data-trip-stage>")[1].split("</div>")[0]
    assert 'data-stop="2"' in stage and "Điểm ba" in stage
    assert page.text.count("<template data-trip-stop=") == STOPS
    assert client.get("/trips/AAAAAA").status_code == 404
    assert client.get("/trips/not-a-code").status_code == 404


def test_a_forgotten_trip_starts_again_from_its_row(client: TestClient) -> None:
    code = start(client)
    client.app.state.trip_hub.trips.clear()  # type: ignore[attr-defined]  # as after a restart
    with client.websocket_connect(f"/ws/trips/{code}", headers=ORIGIN) as teacher:
        state = teacher.receive_json()
    assert (state["stop"], state["stops"], state["you"]["role"]) == (0, STOPS, "teacher")


# Ending --------------------------------------------------------------------------------------


def test_ending_keeps_the_summary_and_the_csv_is_for_the_teacher(client: TestClient) -> None:
    code = start(client)
    cookies = dict(client.cookies)
    with client.websocket_connect(f"/ws/trips/{code}", headers=ORIGIN) as teacher:
        teacher.receive_json()
        question = {"text": "+Màu gì?", "kind": "short"}
        teacher.send_json({"type": "ask", "question": question})
        teacher.receive_json()
        client.cookies.clear()
        with client.websocket_connect(f"/ws/trips/{code}", headers=ORIGIN) as pupil:
            pupil.send_json({"type": "hello", "nickname": "@Khoa"})
            assert pupil.receive_json()["question"]["text"] == "+Màu gì?"
            pupil.send_json({"type": "answer", "question_id": "q1", "text": "=1+1"})
            assert pupil.receive_json()["type"] == "answered"
        for name, value in cookies.items():
            client.cookies.set(name, value)
        early = client.get(f"/trips/{code}/summary.csv")
        assert early.status_code == 409
        ended = client.post(
            f"/trips/{code}/end", data={"csrf_token": client.headers["x-csrf-token"]}
        )
        assert ended.status_code == 303 and ended.headers["location"] == f"/trips/{code}/lead"
        assert teacher.receive_json()["type"] in ("participants", "results", "ended")
    trip = trip_row(client, code)
    assert trip.ended_at is not None
    assert [p["nickname"] for p in trip.summary["participants"]] == ["@Khoa"]
    assert trip.summary["questions"][0]["answers"][0]["text"] == "=1+1"
    [entry] = audit(client, "trip.end")
    assert entry.after["participants"] == 1 and "summary" not in entry.after  # type: ignore[index]
    summary = client.get(f"/trips/{code}/lead")
    assert summary.status_code == 200 and "=1+1" in summary.text
    response = client.get(f"/trips/{code}/summary.csv")
    assert response.status_code == 200
    assert response.text.startswith("\ufeff")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text[1:])))
    assert rows[0][1] == "Biệt danh"  # the teacher's language
    cells = [cell for row in rows[1:] for cell in row]
    assert "'@Khoa" in cells and "'+Màu gì?" in cells and "'=1+1" in cells
    assert "@Khoa" not in cells and "=1+1" not in cells
    # Once ended, the trip is gone for pupils, and ending again changes nothing.
    sign_out(client)
    assert client.get(f"/trips/{code}").status_code == 410
    csrf = sign_in(client, "co-mai", "contributor")
    assert client.post(f"/trips/{code}/end", data={"csrf_token": csrf}).status_code == 303
    assert len(audit(client, "trip.end")) == 1


# The worksheet -------------------------------------------------------------------------------


def test_the_worksheet_lists_every_stop_with_questions_in_the_page_language(
    client: TestClient,
) -> None:
    page = client.get(f"/exhibitions/{EXHIBITION_ID}/worksheet?code=kt7m4q")
    assert page.status_code == 200
    assert page.text.count('class="worksheet-stop"') == STOPS
    assert '<p class="worksheet-code-box">KT7M4Q</p>' in page.text
    assert "Điểm ba" in page.text
    english = client.get(f"/exhibitions/{EXHIBITION_ID}/worksheet?lang=en&code=<b>")
    assert "Stop three" in english.text and "Write one new thing you learned here." in english.text
    assert '<p class="worksheet-code-box"></p>' in english.text  # not a code: left empty
    assert client.get("/exhibitions/draft-trip/worksheet").status_code == 404


def test_the_worksheet_prints_on_a4(client: TestClient) -> None:
    from server.app import VIEWER_DIST

    manifest = VIEWER_DIST / "manifest.json"
    if not manifest.is_file():
        pytest.skip("viewer bundle not built: run make viewer")
    import json

    css = (VIEWER_DIST / json.loads(manifest.read_text())["main.css"]).read_text()
    assert re.search(r"@page\s*\{\s*size:\s*A4", css)
