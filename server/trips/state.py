"""One trip's live state and every change to it, as pure functions of the state.

A hub (:mod:`server.trips.hub`) keeps the state (in this process or in Redis), runs one
change at a time on it and publishes the change's :class:`Event` s to every process. The
functions here never do I/O: they check, mutate the :class:`TripState` they are given and
return what to tell whom, so the same code runs under both hubs and in unit tests.

Server → client messages: ``state`` (full snapshot on join and reconnect), ``move``
(a teacher move, numbered by ``seq``), ``question``, ``results`` and ``participants`` (to
the teacher), ``answered`` (to the pupil who answered), ``ended``, ``error``, ``pong``.
Each published event carries ``rev``, the state's revision, so a connection that joins
while events are in flight can drop the ones its snapshot already contains.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from server.errors import N_
from server.models import utcnow
from server.trips.protocol import (
    PUPIL,
    TEACHER,
    Answer,
    Ask,
    Goto,
    Mode,
    ProtocolError,
    View,
    nickname_key,
)

# Unambiguous on a projector and when read aloud: no 0/O, 1/I/L, 5/S, 2/Z, 8/B.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 6
MAX_PARTICIPANTS = 200
MAX_QUESTIONS = 100

Audience = Literal["all", "teacher"]


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def parse_code(text: str) -> str | None:
    """The canonical code for what a pupil typed (case and spaces forgiven), else None."""
    code = "".join(text.split()).upper()
    if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code):
        return code
    return None


def now_iso() -> str:
    return utcnow().isoformat(timespec="seconds") + "Z"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Participant:
    nickname: str
    token_hash: str
    joined_at: str
    last_seen: str
    connection: str | None = None  # the id of its live connection; None while away


@dataclass
class Question:
    id: str
    text: str
    kind: str  # "choice" or "short"
    options: list[str]
    asked_at: str
    closed_at: str | None = None
    # nickname key -> {"nickname", "choice" | "text", "at"}; a new answer replaces the old one
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "kind": self.kind, "options": self.options}


@dataclass
class TripState:
    code: str
    exhibition_id: str
    teacher_id: int
    language: str
    stops: int  # how many stops the exhibition shows a visitor
    created_at: str = field(default_factory=now_iso)
    stop: int = 0
    mode: str = "follow"
    view: dict[str, Any] = field(default_factory=dict)  # {"camera": …, "region": …, "media": …}
    seq: int = 0  # teacher moves
    rev: int = 0  # every change
    question: str | None = None  # the open question's id
    questions: list[Question] = field(default_factory=list)
    participants: dict[str, Participant] = field(default_factory=dict)
    ended: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TripState:
        values = dict(data)
        values["questions"] = [Question(**q) for q in data.get("questions", [])]
        values["participants"] = {
            key: Participant(**p) for key, p in data.get("participants", {}).items()
        }
        return cls(**values)

    def open_question(self) -> Question | None:
        return next((q for q in self.questions if q.id == self.question), None)


@dataclass(frozen=True)
class Event:
    """A message for every connection of the trip (``all``) or its teacher's only."""

    to: Audience
    msg: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a change publishes, and what only the connection that asked is told."""

    events: tuple[Event, ...] = ()
    reply: dict[str, Any] | None = None
    value: Any = None


class TripGone(ProtocolError):
    def __init__(self) -> None:
        super().__init__("ended", N_("This field trip has ended."))


# Snapshots and the teacher's live lists -------------------------------------------


def follow_state(state: TripState) -> dict[str, Any]:
    return {"seq": state.seq, "stop": state.stop, "mode": state.mode, "view": state.view}


def snapshot(state: TripState, role: str, nickname: str | None = None) -> dict[str, Any]:
    """The ``state`` message: everything a client needs to show the trip as it is now."""
    question = state.open_question()
    message: dict[str, Any] = {
        "type": "state",
        "rev": state.rev,
        "code": state.code,
        "stops": state.stops,
        **follow_state(state),
        "question": question.public() if question else None,
        "ended": state.ended,
        "you": {"role": role, "nickname": nickname},
    }
    if role == TEACHER:
        message["results"] = results(state)["results"]
        message["participants"] = participants(state)["participants"]
    elif question is not None and nickname is not None:
        mine = question.answers.get(nickname_key(nickname))
        message["answer"] = _answer_json(mine) if mine else None
    return message


def results(state: TripState) -> dict[str, Any]:
    """The open (else the last) question's answers: counts per option, or the texts."""
    question = state.open_question() or (state.questions[-1] if state.questions else None)
    if question is None:
        return {"type": "results", "results": None}
    answers = list(question.answers.values())
    body: dict[str, Any] = {
        "question_id": question.id,
        "text": question.text,
        "kind": question.kind,
        "open": question.id == state.question,
        "total": len(answers),
    }
    if question.kind == "choice":
        counts = [0] * len(question.options)
        for answer in answers:
            counts[answer["choice"]] += 1
        body["options"] = question.options
        body["counts"] = counts
    else:
        body["answers"] = [{"nickname": a["nickname"], "text": a["text"]} for a in answers]
    return {"type": "results", "results": body}


def participants(state: TripState) -> dict[str, Any]:
    people = sorted(state.participants.values(), key=lambda p: p.nickname.casefold())
    return {
        "type": "participants",
        "participants": [
            {"nickname": p.nickname, "connected": p.connection is not None} for p in people
        ],
    }


def _answer_json(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: answer[k] for k in ("choice", "text") if k in answer}


def _live(state: TripState) -> None:
    if state.ended:
        raise TripGone()


# Pupils -----------------------------------------------------------------------------


def join(
    state: TripState, nickname: str, token: str | None, connection: str, new_token: str
) -> Outcome:
    """A pupil says hello: a new place (with ``new_token``), or its old one back.

    A nickname already in the trip can be taken back only with the token that trip gave
    it; the reply is the pupil's snapshot with the token to keep.
    """
    _live(state)
    key = nickname_key(nickname)
    now = now_iso()
    known = state.participants.get(key)
    if known is not None:
        if token is None or not hmac.compare_digest(known.token_hash, token_hash(token)):
            raise ProtocolError(
                "nickname_taken",
                N_("Someone in this trip is already called {nickname}; choose another nickname."),
                nickname=nickname,
            )
        known.connection, known.last_seen = connection, now
        kept = token
    else:
        if len(state.participants) >= MAX_PARTICIPANTS:
            raise ProtocolError(
                "trip_full",
                N_("This field trip already has {limit} pupils."),
                limit=MAX_PARTICIPANTS,
            )
        state.participants[key] = Participant(nickname, token_hash(new_token), now, now, connection)
        kept = new_token
    reply = snapshot(state, PUPIL, state.participants[key].nickname)
    reply["you"]["token"] = kept
    return Outcome((Event("teacher", participants(state)),), reply)


def leave(state: TripState, nickname: str, connection: str) -> Outcome:
    """A pupil's connection closed; a newer connection of the same pupil keeps its place."""
    known = state.participants.get(nickname_key(nickname))
    if known is None or known.connection != connection:
        return Outcome()
    known.connection, known.last_seen = None, now_iso()
    return Outcome((Event("teacher", participants(state)),))


def answer(state: TripState, nickname: str, given: Answer) -> Outcome:
    _live(state)
    question = state.open_question()
    if question is None or question.id != given.question_id:
        raise ProtocolError("question_closed", N_("This question is closed."))
    record: dict[str, Any] = {"nickname": nickname, "at": now_iso()}
    if question.kind == "choice":
        if given.choice is None or given.choice >= len(question.options):
            raise ProtocolError("bad_message", N_("Choose one of the question's options."))
        record["choice"] = given.choice
    else:
        if given.text is None:
            raise ProtocolError("bad_message", N_("This question asks for a short answer."))
        record["text"] = given.text
    question.answers[nickname_key(nickname)] = record
    reply = {"type": "answered", "question_id": question.id, "answer": _answer_json(record)}
    return Outcome((Event("teacher", results(state)),), reply)


# The teacher ------------------------------------------------------------------------


def _move(state: TripState, kind: str) -> Outcome:
    state.seq += 1
    return Outcome((Event("all", {"type": "move", "kind": kind, **follow_state(state)}),))


def goto(state: TripState, command: Goto) -> Outcome:
    _live(state)
    if command.stop >= state.stops:
        raise ProtocolError(
            "bad_message",
            N_("This exhibition has {count} stops; choose a stop from 1 to {count}."),
            count=state.stops,
        )
    state.stop = command.stop
    state.view = {}  # a new stop starts from its own default view
    return _move(state, "goto")


def view(state: TripState, command: View) -> Outcome:
    _live(state)
    state.view = {**state.view, **command.as_json()}
    return _move(state, "view")


def mode(state: TripState, command: Mode) -> Outcome:
    _live(state)
    state.mode = command.mode
    return _move(state, "mode")


def ask(state: TripState, command: Ask) -> Outcome:
    _live(state)
    if len(state.questions) >= MAX_QUESTIONS:
        raise ProtocolError(
            "too_many_questions",
            N_("A trip may ask at most {limit} questions."),
            limit=MAX_QUESTIONS,
        )
    now = now_iso()
    for question in state.questions:
        question.closed_at = question.closed_at or now
    question = Question(
        f"q{len(state.questions) + 1}", command.text, command.kind, list(command.options), now
    )
    state.questions.append(question)
    state.question = question.id
    state.seq += 1
    return Outcome(
        (
            Event("all", {"type": "question", "seq": state.seq, "question": question.public()}),
            Event("teacher", results(state)),
        ),
        value=question.id,
    )


def close_question(state: TripState) -> Outcome:
    _live(state)
    question = state.open_question()
    if question is None:
        raise ProtocolError("question_closed", N_("No question is open."))
    question.closed_at = now_iso()
    state.question = None
    state.seq += 1
    return Outcome(
        (
            Event("all", {"type": "question", "seq": state.seq, "question": None}),
            Event("teacher", results(state)),
        )
    )


def end(state: TripState) -> Outcome:
    """Freeze the trip (nothing changes afterwards) and give back its summary."""
    if not state.ended:
        now = now_iso()
        for question in state.questions:
            question.closed_at = question.closed_at or now
        state.question = None
        state.ended = True
    return Outcome(value=summary(state))


def announce_end(state: TripState) -> Outcome:
    return Outcome((Event("all", {"type": "ended"}),))


def summary(state: TripState) -> dict[str, Any]:
    """What ``Trip.summary`` keeps: who joined when, each question and every answer."""
    return {
        "code": state.code,
        "exhibition_id": state.exhibition_id,
        "created_at": state.created_at,
        "participants": [
            {"nickname": p.nickname, "joined_at": p.joined_at, "last_seen": p.last_seen}
            for p in sorted(state.participants.values(), key=lambda p: p.joined_at)
        ],
        "questions": [
            {
                "id": q.id,
                "text": q.text,
                "kind": q.kind,
                "options": q.options,
                "asked_at": q.asked_at,
                "closed_at": q.closed_at,
                "answers": sorted(q.answers.values(), key=lambda a: a["at"]),
            }
            for q in state.questions
        ],
    }
