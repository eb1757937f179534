"""The field-trip protocol: JSON messages over ``/ws/trips/{code}``, checked before use.

Every message is one JSON object ``{"type": …, …}`` of at most :data:`MAX_MESSAGE_BYTES`.
:func:`parse_message` turns the raw text into one frozen dataclass per message type, or
raises :class:`ProtocolError` naming what is wrong: an unknown type, a field that does not
belong, a value of the wrong type or out of range. A pupil's connection may never send
the teacher's commands (:data:`TEACHER_COMMANDS`); the check happens before the fields
are read, so a forged command learns nothing about their shape.

From the teacher: ``goto``, ``view``, ``mode``, ``ask``, ``close_question``, ``end``.
From a pupil: ``hello`` (join or rejoin), ``answer``. From either: ``ping``.
The server's messages are built in :mod:`server.trips.state`; ``docs/trips.md`` lists both.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from server.errors import N_

MAX_MESSAGE_BYTES = 4096
MAX_NICKNAME = 24  # characters, after NFC
MAX_SHORT_ANSWER = 200
MAX_QUESTION = 300
MAX_OPTION = 100
MIN_OPTIONS, MAX_OPTIONS = 2, 6
MAX_STOP = 10_000
MAX_COORDINATE = 1e6  # camera coordinates (model units) and image coordinates (pixels)
MAX_MEDIA_TIME = 48 * 3600.0  # seconds into a recording
ASSET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
QUESTION_ID = re.compile(r"q[0-9]{1,6}")
RESUME_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# C0/C1 controls, and the invisible characters that make two nicknames look the same.
NICKNAME_FORBIDDEN = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)
TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

TEACHER = "teacher"
PUPIL = "pupil"
TEACHER_COMMANDS = frozenset({"goto", "view", "mode", "ask", "close_question", "end"})
PUPIL_COMMANDS = frozenset({"hello", "answer"})
COMMON_COMMANDS = frozenset({"ping"})
MODES = ("follow", "explore")
QUESTION_KINDS = ("choice", "short")


class ProtocolError(Exception):
    """A refused message: a stable ``code`` and an English message id with ``params``."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        self.code = code
        self.message = message
        self.params = params
        super().__init__(message.format(**params))

    def render(self, gettext: Callable[[str], str]) -> str:
        try:
            return gettext(self.message).format(**self.params)
        except (KeyError, IndexError, ValueError):
            return self.message.format(**self.params)


# The messages -----------------------------------------------------------------


@dataclass(frozen=True)
class Goto:
    stop: int  # 0-based index into the trip's stops


@dataclass(frozen=True)
class Camera:
    position: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float]
    asset: str | None = None


@dataclass(frozen=True)
class Region:
    asset: str
    x: float
    y: float
    w: float
    h: float  # image pixels


@dataclass(frozen=True)
class Media:
    asset: str
    time: float  # seconds
    playing: bool


@dataclass(frozen=True)
class View:
    camera: Camera | None = None
    region: Region | None = None
    media: Media | None = None

    def as_json(self) -> dict[str, Any]:
        """The one part this message sets, as the clients read it."""
        if self.camera is not None:
            c = self.camera
            camera: dict[str, Any] = {
                "position": list(c.position),
                "target": list(c.target),
                "up": list(c.up),
            }
            if c.asset is not None:
                camera["asset"] = c.asset
            return {"camera": camera}
        if self.region is not None:
            r = self.region
            return {"region": {"asset": r.asset, "x": r.x, "y": r.y, "w": r.w, "h": r.h}}
        assert self.media is not None  # parse_view sets exactly one part
        m = self.media
        return {"media": {"asset": m.asset, "time": m.time, "playing": m.playing}}


@dataclass(frozen=True)
class Mode:
    mode: str


@dataclass(frozen=True)
class Ask:
    text: str
    kind: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class CloseQuestion:
    pass


@dataclass(frozen=True)
class End:
    pass


@dataclass(frozen=True)
class Hello:
    nickname: str
    token: str | None = None


@dataclass(frozen=True)
class Answer:
    question_id: str
    choice: int | None = None
    text: str | None = None


@dataclass(frozen=True)
class Ping:
    pass


Message = Goto | View | Mode | Ask | CloseQuestion | End | Hello | Answer | Ping


# Parsing ----------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("a key appears twice")
    return dict(pairs)


def decode(raw: str | bytes) -> dict[str, Any]:
    """The JSON object in ``raw``: size first, then syntax (no NaN, no repeated keys)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            "too_large",
            N_("A message may have at most {limit} bytes; this one has {size}."),
            limit=MAX_MESSAGE_BYTES,
            size=len(data),
        )
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates,
        )
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise ProtocolError("bad_json", N_("The message is not valid JSON.")) from exc
    if not isinstance(value, dict):
        raise ProtocolError("bad_message", N_('A message must be a JSON object with a "type".'))
    return value


def message_type(data: Mapping[str, Any]) -> str:
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _PARSERS:
        shown = kind if isinstance(kind, str) else json.dumps(kind)
        raise ProtocolError(
            "unknown_type",
            N_("Unknown message type {type}."),
            type=json.dumps(shown[:40], ensure_ascii=False),
        )
    return kind


def parse_message(raw: str | bytes, role: str) -> Message:
    """The message in ``raw`` sent by a ``role`` (:data:`TEACHER` or :data:`PUPIL`)."""
    data = decode(raw)
    kind = message_type(data)
    if kind in TEACHER_COMMANDS and role != TEACHER:
        raise ProtocolError("forbidden", N_("Only the teacher leading the trip can do this."))
    if kind in PUPIL_COMMANDS and role != PUPIL:
        raise ProtocolError(
            "forbidden", N_("This message is for pupils; the teacher cannot send it.")
        )
    return _PARSERS[kind](data)


def _fields(
    data: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> None:
    """Refuse a field the message does not have, and a missing required one."""
    allowed = ("type", *required, *optional)
    for name in data:
        if name not in allowed:
            raise ProtocolError(
                "bad_message",
                N_("{field} is not a field of this message; its fields are: {allowed}."),
                field=json.dumps(name[:40], ensure_ascii=False),
                allowed=", ".join(allowed[1:]) or "—",
            )
    for name in required:
        if name not in data:
            raise ProtocolError("bad_message", N_("{field} is required."), field=name)


def _bad(field: str, message: str, **params: Any) -> ProtocolError:
    return ProtocolError("bad_message", message, field=field, **params)


def _int(value: Any, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(
            field, N_("{field} must be a whole number from {low} to {high}."), low=low, high=high
        )
    return value


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(field, N_("{field} must be a number."))
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise _bad(
            field,
            N_("{field} must be a number from {low} to {high}."),
            low=f"{low:g}",
            high=f"{high:g}",
        )
    return number


def _vector(value: Any, field: str) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise _bad(field, N_("{field} must be a list of three numbers."))
    x, y, z = (_number(v, field, -MAX_COORDINATE, MAX_COORDINATE) for v in value)
    return x, y, z


def _asset(value: Any, field: str) -> str:
    if not isinstance(value, str) or not ASSET_ID.fullmatch(value):
        raise _bad(field, N_("{field} must be a media identifier."))
    return value


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _bad(field, N_("{field} must be a JSON object."))
    return value


def clean_text(value: Any, field: str, limit: int, *, required: bool = True) -> str:
    """NFC text without control characters (tab and newlines allowed), trimmed, ≤ ``limit``."""
    if not isinstance(value, str):
        raise _bad(field, N_("{field} must be text."))
    text = unicodedata.normalize("NFC", value).strip()
    if TEXT_FORBIDDEN.search(text):
        raise _bad(field, N_("{field} must be text without control characters."))
    if len(text) > limit:
        raise ProtocolError(
            "bad_message",
            N_("{field} may have at most {limit} characters."),
            field=field,
            limit=limit,
        )
    if required and not text:
        raise ProtocolError("bad_message", N_("{field} is required."), field=field)
    return text


def clean_nickname(value: Any) -> str:
    """A pupil's name for the trip: 1–24 characters (NFC), visible ones, single spaces."""
    if not isinstance(value, str):
        raise ProtocolError(
            "bad_nickname", N_("Choose a nickname of 1 to {limit} characters."), limit=MAX_NICKNAME
        )
    text = unicodedata.normalize("NFC", value).strip(" ")
    if NICKNAME_FORBIDDEN.search(text):
        raise ProtocolError(
            "bad_nickname", N_("A nickname may not contain invisible or control characters.")
        )
    text = " ".join(text.split())
    if not 1 <= len(text) <= MAX_NICKNAME:
        raise ProtocolError(
            "bad_nickname", N_("Choose a nickname of 1 to {limit} characters."), limit=MAX_NICKNAME
        )
    return text


def nickname_key(nickname: str) -> str:
    """Two nicknames that differ only in case are the same pupil."""
    return nickname.casefold()


def _goto(data: Mapping[str, Any]) -> Goto:
    _fields(data, ("stop",))
    return Goto(_int(data["stop"], "stop", 0, MAX_STOP))


def _view(data: Mapping[str, Any]) -> View:
    _fields(data, (), ("camera", "region", "media"))
    parts = [name for name in ("camera", "region", "media") if name in data]
    if len(parts) != 1:
        raise ProtocolError(
            "bad_message", N_("A view message sets exactly one of camera, region or media.")
        )
    if "camera" in data:
        camera = _object(data["camera"], "camera")
        _fields(camera, ("position", "target", "up"), ("asset",))
        asset = _asset(camera["asset"], "camera.asset") if "asset" in camera else None
        return View(
            camera=Camera(
                _vector(camera["position"], "camera.position"),
                _vector(camera["target"], "camera.target"),
                _vector(camera["up"], "camera.up"),
                asset,
            )
        )
    if "region" in data:
        region = _object(data["region"], "region")
        _fields(region, ("asset", "x", "y", "w", "h"))
        return View(
            region=Region(
                _asset(region["asset"], "region.asset"),
                _number(region["x"], "region.x", -MAX_COORDINATE, MAX_COORDINATE),
                _number(region["y"], "region.y", -MAX_COORDINATE, MAX_COORDINATE),
                _positive(region["w"], "region.w"),
                _positive(region["h"], "region.h"),
            )
        )
    media = _object(data["media"], "media")
    _fields(media, ("asset", "time", "playing"))
    playing = media["playing"]
    if not isinstance(playing, bool):
        raise _bad("media.playing", N_("{field} must be true or false."))
    return View(
        media=Media(
            _asset(media["asset"], "media.asset"),
            _number(media["time"], "media.time", 0.0, MAX_MEDIA_TIME),
            playing,
        )
    )


def _positive(value: Any, field: str) -> float:
    number = _number(value, field, 0.0, MAX_COORDINATE)
    if number <= 0:
        raise _bad(field, N_("{field} must be a number above 0."))
    return number


def _mode(data: Mapping[str, Any]) -> Mode:
    _fields(data, ("mode",))
    if data["mode"] not in MODES:
        raise _bad("mode", N_("{field} must be one of: {allowed}."), allowed=", ".join(MODES))
    return Mode(str(data["mode"]))


def _ask(data: Mapping[str, Any]) -> Ask:
    _fields(data, ("question",))
    question = _object(data["question"], "question")
    _fields(question, ("text", "kind"), ("options",))
    text = clean_text(question["text"], "question.text", MAX_QUESTION)
    kind = question["kind"]
    if kind not in QUESTION_KINDS:
        raise _bad(
            "question.kind",
            N_("{field} must be one of: {allowed}."),
            allowed=", ".join(QUESTION_KINDS),
        )
    if kind == "short":
        if question.get("options"):
            raise ProtocolError("bad_message", N_("A question with a short answer has no options."))
        return Ask(text, kind)
    options = question.get("options")
    if not isinstance(options, list) or not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise ProtocolError(
            "bad_message",
            N_("A multiple-choice question needs {low} to {high} options."),
            low=MIN_OPTIONS,
            high=MAX_OPTIONS,
        )
    cleaned = tuple(
        clean_text(option, f"question.options.{number}", MAX_OPTION)
        for number, option in enumerate(options, 1)
    )
    return Ask(text, kind, cleaned)


def _close_question(data: Mapping[str, Any]) -> CloseQuestion:
    _fields(data, ())
    return CloseQuestion()


def _end(data: Mapping[str, Any]) -> End:
    _fields(data, ())
    return End()


def _hello(data: Mapping[str, Any]) -> Hello:
    _fields(data, ("nickname",), ("token",))
    token = data.get("token")
    if token is not None and (not isinstance(token, str) or not RESUME_TOKEN.fullmatch(token)):
        raise _bad("token", N_("{field} must be the token this trip gave you."))
    return Hello(clean_nickname(data["nickname"]), token)


def _answer(data: Mapping[str, Any]) -> Answer:
    _fields(data, ("question_id",), ("choice", "text"))
    question_id = data["question_id"]
    if not isinstance(question_id, str) or not QUESTION_ID.fullmatch(question_id):
        raise _bad("question_id", N_("{field} must be the id of a question of this trip."))
    if ("choice" in data) == ("text" in data):
        raise ProtocolError("bad_message", N_("An answer is either a choice or a text."))
    if "choice" in data:
        return Answer(question_id, choice=_int(data["choice"], "choice", 0, MAX_OPTIONS - 1))
    return Answer(question_id, text=clean_text(data["text"], "text", MAX_SHORT_ANSWER))


def _ping(data: Mapping[str, Any]) -> Ping:
    _fields(data, ())
    return Ping()


_PARSERS: dict[str, Callable[[Mapping[str, Any]], Message]] = {
    "goto": _goto,
    "view": _view,
    "mode": _mode,
    "ask": _ask,
    "close_question": _close_question,
    "end": _end,
    "hello": _hello,
    "answer": _answer,
    "ping": _ping,
}
