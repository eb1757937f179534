"""The field-trip protocol: strict parsing, the rate limit, what each role may send, and the
state changes behind each message (server.trips.protocol, server.trips.state)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.db import Database
from server.settings import Settings
from server.trips import state as trip_state
from server.trips.protocol import (
    MAX_MESSAGE_BYTES,
    PUPIL,
    TEACHER,
    TEACHER_COMMANDS,
    Answer,
    Ask,
    Camera,
    CloseQuestion,
    End,
    Goto,
    Hello,
    Media,
    Mode,
    Ping,
    ProtocolError,
    Region,
    View,
    parse_message,
)
from server.trips.rate import PUPIL_RATE, TEACHER_RATE, bucket_for
from server.trips.state import TripGone, TripState, parse_code
from tests.staff import sign_in
from tests.trip_helpers import EXHIBITION_ID, add_exhibition


def parse(message: Any, role: str = TEACHER) -> Any:
    return parse_message(json.dumps(message, ensure_ascii=False), role)


def refused(message: Any, role: str = TEACHER) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse(message, role) if not isinstance(message, str | bytes) else parse_message(
            message, role
        )
    return caught.value


# Parsing ---------------------------------------------------------------------------

CAMERA = {"position": [1, 2.5, -3], "target": [0, 0, 0], "up": [0, 1, 0]}


@pytest.mark.parametrize(
    ("message", "role", "expected"),
    [
        ({"type": "goto", "stop": 3}, TEACHER, Goto(3)),
        (
            {"type": "view", "camera": CAMERA},
            TEACHER,
            View(camera=Camera((1.0, 2.5, -3.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0))),
        ),
        (
            {"type": "view", "region": {"asset": "a1", "x": 10, "y": 20, "w": 300, "h": 200}},
            TEACHER,
            View(region=Region("a1", 10.0, 20.0, 300.0, 200.0)),
        ),
        (
            {"type": "view", "media": {"asset": "v-1", "time": 12.5, "playing": True}},
            TEACHER,
            View(media=Media("v-1", 12.5, True)),
        ),
        ({"type": "mode", "mode": "explore"}, TEACHER, Mode("explore")),
        (
            {
                "type": "ask",
                "question": {"text": " Làm bằng gì? ", "kind": "choice", "options": ["Đồng", "Gỗ"]},
            },
            TEACHER,
            Ask("Làm bằng gì?", "choice", ("Đồng", "Gỗ")),
        ),
        (
            {"type": "ask", "question": {"text": "Vì sao?", "kind": "short"}},
            TEACHER,
            Ask("Vì sao?", "short"),
        ),
        ({"type": "close_question"}, TEACHER, CloseQuestion()),
        ({"type": "end"}, TEACHER, End()),
        ({"type": "hello", "nickname": "  Hơ   Nga  "}, PUPIL, Hello("Hơ Nga")),
        ({"type": "answer", "question_id": "q2", "choice": 1}, PUPIL, Answer("q2", choice=1)),
        ({"type": "answer", "question_id": "q1", "text": "đồng"}, PUPIL, Answer("q1", text="đồng")),
        ({"type": "ping"}, PUPIL, Ping()),
        ({"type": "ping"}, TEACHER, Ping()),
    ],
)
def test_each_message_parses_into_its_dataclass(message: Any, role: str, expected: Any) -> None:
    assert parse(message, role) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"type": "teleport"}', "unknown_type"),
        ('{"stop": 1}', "unknown_type"),
        ('{"type": 5}', "unknown_type"),
        ("[1, 2]", "bad_message"),
        ('"goto"', "bad_message"),
        ("{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        ('{"type": "goto", "stop": NaN}', "bad_json"),
        ('{"type": "goto", "stop": 1, "stop": 2}', "bad_json"),
        ('{"type": "goto", "stop": 1, "extra": 0}', "bad_message"),
        ('{"type": "goto"}', "bad_message"),
        ('{"type": "goto", "stop": "1"}', "bad_message"),
        ('{"type": "goto", "stop": true}', "bad_message"),
        ('{"type": "goto", "stop": 1.5}', "bad_message"),
        ('{"type": "goto", "stop": -1}', "bad_message"),
        ('{"type": "mode", "mode": "chaos"}', "bad_message"),
        ('{"type": "view"}', "bad_message"),
        ('{"type": "view", "camera": {}, "media": {}}', "bad_message"),
        ('{"type": "view", "camera": {"position": [1, 2], "target": [0,0,0], "up": [0,1,0]}}',
         "bad_message"),
        ('{"type": "view", "camera": {"position": [1,2,1e300], "target": [0,0,0], "up": [0,1,0]}}',
         "bad_message"),
        ('{"type": "view", "camera": {"position": [1,2,3], "target": [0,0,0], "up": [0,1,0], '
         '"fov": 30}}', "bad_message"),
        ('{"type": "view", "region": {"asset": "a", "x": 0, "y": 0, "w": 0, "h": 5}}',
         "bad_message"),
        ('{"type": "view", "region": {"asset": "../x", "x": 0, "y": 0, "w": 5, "h": 5}}',
         "bad_message"),
        ('{"type": "view", "media": {"asset": "a", "time": -1, "playing": true}}', "bad_message"),
        ('{"type": "view", "media": {"asset": "a", "time": 1, "playing": 1}}', "bad_message"),
        ('{"type": "ask", "question": {"text": "?", "kind": "choice", "options": ["a"]}}',
         "bad_message"),
        ('{"type": "ask", "question": {"text": "?", "kind": "choice", "options": '
         '["1","2","3","4","5","6","7"]}}', "bad_message"),
        ('{"type": "ask", "question": {"text": "?", "kind": "short", "options": ["a", "b"]}}',
         "bad_message"),
        ('{"type": "ask", "question": {"text": "   ", "kind": "short"}}', "bad_message"),
        ('{"type": "ask", "question": {"text": "?", "kind": "poll"}}', "bad_message"),
        ('{"type": "ask", "question": {"text": "a\\u0000b", "kind": "short"}}', "bad_message"),
        ('{"type": "close_question", "id": "q1"}', "bad_message"),
    ],
)  # fmt: skip
def test_malformed_messages_are_refused_with_a_code(raw: str | bytes, code: str) -> None:
    error = refused(raw, TEACHER)
    assert error.code == code
    assert error.render(lambda text: text)  # every refusal has a message to show


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"type": "answer", "question_id": "q1"}', "bad_message"),
        ('{"type": "answer", "question_id": "q1", "choice": 0, "text": "x"}', "bad_message"),
        ('{"type": "answer", "question_id": "q1", "choice": 6}', "bad_message"),
        ('{"type": "answer", "question_id": "nope", "choice": 0}', "bad_message"),
        ('{"type": "answer", "question_id": "q1", "text": "' + "x" * 201 + '"}', "bad_message"),
        ('{"type": "hello", "nickname": "Lan", "token": "short"}', "bad_message"),
        ('{"type": "hello", "nickname": "Lan", "name": "Lan"}', "bad_message"),
    ],
)
def test_malformed_pupil_messages_are_refused(raw: str, code: str) -> None:
    assert refused(raw, PUPIL).code == code


def test_a_message_over_4_kib_is_refused_before_it_is_read() -> None:
    padding = "x" * MAX_MESSAGE_BYTES
    error = refused(json.dumps({"type": "ping", "pad": padding}), PUPIL)
    assert error.code == "too_large"
    # Bytes, not characters: 1,400 Vietnamese letters are over 4 KiB in UTF-8.
    wide = json.dumps({"type": "ping", "x": "ệ" * 1400}, ensure_ascii=False)
    assert len(wide) < MAX_MESSAGE_BYTES < len(wide.encode())
    assert refused(wide, PUPIL).code == "too_large"


@pytest.mark.parametrize(
    "nickname",
    ["", "   ", "x" * 25, "Lan\u200b", "Lan\u202e", "a\nb", "\u0000", 42, None],
)
def test_bad_nicknames_are_refused(nickname: Any) -> None:
    assert refused({"type": "hello", "nickname": nickname}, PUPIL).code == "bad_nickname"


def test_nicknames_are_nfc_and_counted_in_characters() -> None:
    decomposed = unicodedata.normalize("NFD", "Ê Đăm Nguyễn Thị Hương")
    assert len(decomposed) > 24
    hello = parse({"type": "hello", "nickname": decomposed}, PUPIL)
    assert hello.nickname == "Ê Đăm Nguyễn Thị Hương"
    assert unicodedata.is_normalized("NFC", hello.nickname)
    assert parse({"type": "hello", "nickname": "ệ" * 24}, PUPIL).nickname == "ệ" * 24


@pytest.mark.parametrize("command", sorted(TEACHER_COMMANDS))
def test_a_pupil_cannot_send_any_teacher_command(command: str) -> None:
    # Refused as forbidden whatever the fields: a forged command learns nothing of its shape.
    assert refused({"type": command, "anything": [1, 2]}, PUPIL).code == "forbidden"
    assert refused({"type": command}, PUPIL).code == "forbidden"


@pytest.mark.parametrize("command", ["hello", "answer"])
def test_the_teacher_does_not_send_pupil_messages(command: str) -> None:
    assert refused({"type": command, "nickname": "x"}, TEACHER).code == "forbidden"


# Rate limit ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("role", "rate"), [(TEACHER, TEACHER_RATE), (PUPIL, PUPIL_RATE)])
def test_the_rate_limit_allows_a_burst_then_the_rate(role: str, rate: tuple[float, int]) -> None:
    per_second, burst = rate
    clock = Clock()
    bucket = bucket_for(role, clock)
    assert all(bucket.allow() for _ in range(burst))
    assert not bucket.allow()
    clock.now += 1.0
    allowed = sum(bucket.allow() for _ in range(burst))
    assert allowed == int(per_second)
    clock.now += 3600
    assert sum(bucket.allow() for _ in range(10 * burst)) == burst  # never more than a burst


def test_teachers_may_send_more_than_pupils() -> None:
    assert TEACHER_RATE[0] > PUPIL_RATE[0] and TEACHER_RATE[1] > PUPIL_RATE[1]


# State changes ---------------------------------------------------------------------


def fresh(stops: int = 4) -> TripState:
    return TripState("KT7M4Q", "ex", 7, "vi", stops)


def test_codes_are_unambiguous_and_forgiving_to_type() -> None:
    codes = {trip_state.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 6 and not set(c) & set("0O1IL5S2Z8B") for c in codes)
    assert parse_code(" kt7 m4q ") == "KT7M4Q"
    assert parse_code("KT7M4O") is None  # O is not in the alphabet (0 or O?)
    assert parse_code("KT7M4") is None


def test_a_nickname_comes_back_only_with_its_token() -> None:
    state = fresh()
    first = trip_state.join(state, "Lan", None, "c1", "token-aaaaaaaaaaaaaaaaaaaa")
    token = first.reply["you"]["token"]  # type: ignore[index]
    assert first.events[0].to == "teacher"
    with pytest.raises(ProtocolError) as taken:
        trip_state.join(state, "LAN", None, "c2", "token-bbbbbbbbbbbbbbbbbbbb")
    assert taken.value.code == "nickname_taken"
    with pytest.raises(ProtocolError):
        trip_state.join(state, "Lan", "token-wrongwrongwrongwrong", "c2", "t")
    again = trip_state.join(state, "lan", token, "c2", "unused-token-cccccccccccc")
    assert again.reply["you"] == {"role": PUPIL, "nickname": "Lan", "token": token}  # type: ignore[index]
    assert state.participants["lan"].connection == "c2"
    # The old connection closing later does not mark the pupil away.
    assert trip_state.leave(state, "Lan", "c1").events == ()
    assert state.participants["lan"].connection == "c2"
    trip_state.leave(state, "Lan", "c2")
    assert state.participants["lan"].connection is None


def test_moves_are_numbered_and_a_stop_must_exist() -> None:
    state = fresh(stops=3)
    moves = [
        trip_state.goto(state, Goto(2)),
        trip_state.view(state, parse({"type": "view", "camera": CAMERA})),
        trip_state.mode(state, Mode("explore")),
    ]
    assert [m.events[0].msg["seq"] for m in moves] == [1, 2, 3]
    assert moves[1].events[0].msg["view"]["camera"]["position"] == [1.0, 2.5, -3.0]
    assert all(m.events[0].to == "all" for m in moves)
    with pytest.raises(ProtocolError):
        trip_state.goto(state, Goto(3))
    assert state.stop == 2 and state.seq == 3
    trip_state.goto(state, Goto(0))
    assert state.view == {}  # a new stop starts from its own view


def test_answers_are_counted_once_per_pupil_and_only_while_open() -> None:
    state = fresh()
    for name in ("An", "Bình", "Chi"):
        trip_state.join(state, name, None, name, f"token-{name}-xxxxxxxxxxxxxxxx")
    question_id = trip_state.ask(state, Ask("Chất liệu?", "choice", ("đồng", "gỗ", "đá"))).value
    trip_state.answer(state, "An", Answer(question_id, choice=0))
    trip_state.answer(state, "Bình", Answer(question_id, choice=2))
    outcome = trip_state.answer(state, "An", Answer(question_id, choice=2))  # changes its mind
    assert outcome.events[0].msg["results"]["counts"] == [0, 0, 2]
    with pytest.raises(ProtocolError):
        trip_state.answer(state, "Chi", Answer(question_id, text="đồng"))  # not a choice
    with pytest.raises(ProtocolError):
        trip_state.answer(state, "Chi", Answer(question_id, choice=5))
    trip_state.close_question(state)
    with pytest.raises(ProtocolError) as closed:
        trip_state.answer(state, "Chi", Answer(question_id, choice=1))
    assert closed.value.code == "question_closed"
    summary = trip_state.end(state).value
    assert [p["nickname"] for p in summary["participants"]] == ["An", "Bình", "Chi"]
    assert [a["choice"] for a in summary["questions"][0]["answers"]] == [2, 2]
    with pytest.raises(TripGone):
        trip_state.goto(state, Goto(1))


def test_the_state_round_trips_through_json() -> None:
    state = fresh()
    trip_state.join(state, "Lan", None, "c1", "token-aaaaaaaaaaaaaaaaaaaa")
    trip_state.ask(state, Ask("Vì sao?", "short"))
    trip_state.answer(state, "Lan", Answer("q1", text="vì đẹp"))
    copy = TripState.from_json(json.loads(json.dumps(state.to_json())))
    assert copy == state


# Over a WebSocket (in-process) -----------------------------------------------------------


@pytest.fixture
def trip(seeded_settings: Settings) -> Iterator[tuple[TestClient, str, dict[str, str]]]:
    """A running trip: the test client signed in as its teacher, the code, the cookies."""
    db = Database(seeded_settings.resolved_database_url)
    add_exhibition(db)
    db.dispose()
    with TestClient(create_app(seeded_settings), follow_redirects=False) as client:
        csrf = sign_in(client, "co-lan", "contributor")
        created = client.post("/trips", data={"exhibition": EXHIBITION_ID, "csrf_token": csrf})
        code = created.headers["location"].split("/")[2]
        yield client, code, dict(client.cookies)


ORIGIN = {"origin": "http://testserver"}


def as_pupil(client: TestClient, code: str) -> Any:
    client.cookies.clear()  # the handshake carries no session: a visitor (one event loop)
    return client.websocket_connect(f"/ws/trips/{code}", headers=ORIGIN)


def test_a_forged_teacher_command_is_refused_and_nothing_is_broadcast(
    trip: tuple[TestClient, str, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    client, code, _ = trip
    with client.websocket_connect(f"/ws/trips/{code}", headers=ORIGIN) as teacher:
        assert teacher.receive_json()["you"]["role"] == TEACHER
        with as_pupil(client, code) as pupil:
            pupil.send_json({"type": "hello", "nickname": "Minh"})
            assert pupil.receive_json()["type"] == "state"
            assert teacher.receive_json()["type"] == "participants"
            forgeries = [
                {"type": "goto", "stop": 3},
                {"type": "end"},
                {"type": "mode", "mode": "x"},
            ]
            for forged in forgeries:
                pupil.send_json(forged)
                error = pupil.receive_json()
                assert (error["type"], error["code"]) == ("error", "forbidden")
                assert "teacher" in error["message"] or "giáo viên" in error["message"]
            # Nothing reached the teacher: the next thing it hears is the answer to its ping.
            teacher.send_json({"type": "ping"})
            assert teacher.receive_json() == {"type": "pong"}
            pupil.send_json({"type": "ping"})
            assert pupil.receive_json() == {"type": "pong"}
    assert "may not send" in caplog.text  # the attempt is logged


def test_a_pupil_flooding_the_socket_is_rate_limited(
    trip: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, code, _ = trip
    with as_pupil(client, code) as pupil:
        for _ in range(PUPIL_RATE[1] + 15):
            pupil.send_json({"type": "ping"})
        replies = [pupil.receive_json() for _ in range(PUPIL_RATE[1] + 1)]
    assert replies[: PUPIL_RATE[1]] == [{"type": "pong"}] * PUPIL_RATE[1]
    assert replies[-1]["code"] == "rate_limited"


def test_oversized_and_malformed_messages_get_an_error_not_a_closed_socket(
    trip: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, code, _ = trip
    with as_pupil(client, code) as pupil:
        pupil.send_text(json.dumps({"type": "ping", "pad": "x" * 5000}))
        assert pupil.receive_json()["code"] == "too_large"
        pupil.send_text("{")
        assert pupil.receive_json()["code"] == "bad_json"
        pupil.send_json({"type": "answer", "question_id": "q1", "choice": 0})
        assert pupil.receive_json()["code"] == "hello_first"
        pupil.send_json({"type": "hello", "nickname": "x" * 30})
        assert pupil.receive_json()["code"] == "bad_nickname"
        pupil.send_json({"type": "ping"})
        assert pupil.receive_json() == {"type": "pong"}


def test_another_site_cannot_open_a_trip_socket(
    trip: tuple[TestClient, str, dict[str, str]],
) -> None:
    from starlette.websockets import WebSocketDisconnect

    client, code, _ = trip
    with pytest.raises(WebSocketDisconnect) as refused_socket:  # noqa: SIM117
        with client.websocket_connect(
            f"/ws/trips/{code}", headers={"origin": "https://evil.example"}
        ):
            pass
    assert refused_socket.value.code == 4403


def test_an_unknown_code_answers_ended_and_closes(
    trip: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, _, _ = trip
    with as_pupil(client, "AAAAAA") as pupil:
        assert pupil.receive_json() == {"type": "ended", "found": False}
