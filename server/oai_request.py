"""OAI-PMH 2.0 requests: reading the arguments, checking verbs and arguments, dates, tokens.

:func:`read_arguments` collects the arguments from the query string and a POST
body; the parsers after it are pure functions that raise :class:`OAIError`
with the protocol's error code. :mod:`server.oai` runs the verbs and answers.

Lists are cut into pages with resumption tokens. A token carries the request's
arguments and a keyset position (datestamp, id), so records added or changed
during a harvest are neither skipped nor lost. Tokens are stateless and never
expire; they carry a digest so a damaged or edited token is refused with
``badResumptionToken``. (A forged token could only ask for public records a
harvester may ask for anyway, so the digest needs no key.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from server.errors import N_, BadRequest
from server.oai_formats import FORMATS

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 32
MAX_ECHO_CHARS = 100
TOKEN_VERSION = 1
TOKEN_DIGEST_CHARS = 16

BAD_ARGUMENT = "badArgument"
BAD_RESUMPTION_TOKEN = "badResumptionToken"  # noqa: S105 (an error code)
BAD_VERB = "badVerb"
CANNOT_DISSEMINATE_FORMAT = "cannotDisseminateFormat"
ID_DOES_NOT_EXIST = "idDoesNotExist"
NO_RECORDS_MATCH = "noRecordsMatch"
NO_METADATA_FORMATS = "noMetadataFormats"
NO_SET_HIERARCHY = "noSetHierarchy"

RESUMPTION_TOKEN = "resumptionToken"  # noqa: S105 (an argument name)
LIST_ARGUMENTS = frozenset({"from", "until", "set"})
# verb -> (required arguments, optional arguments); resumptionToken is handled apart.
VERBS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Identify": (frozenset(), frozenset()),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"})),
    "ListSets": (frozenset(), frozenset()),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset()),
    "ListIdentifiers": (frozenset({"metadataPrefix"}), LIST_ARGUMENTS),
    "ListRecords": (frozenset({"metadataPrefix"}), LIST_ARGUMENTS),
}
RESUMABLE = frozenset({"ListSets", "ListIdentifiers", "ListRecords"})

_PREFIX_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SET_PART = r"[A-Za-z0-9\-_.!~*'()]+"
_SET_RE = re.compile(rf"{_SET_PART}(:{_SET_PART})*")
SET_PART_RE = re.compile(_SET_PART)
_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SECONDS_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_NON_EMPTY_RE = re.compile(r".+")
ARGUMENT_PATTERNS = {"metadataPrefix": _PREFIX_RE, "set": _SET_RE, "identifier": _NON_EMPTY_RE}
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


class OAIError(BadRequest):
    """A protocol error: answered as ``<error code="...">`` with HTTP 200."""

    def __init__(self, oai_code: str, message: str, **params: Any) -> None:
        super().__init__(message, **params)
        self.oai_code = oai_code


def _bad_argument(message: str, **params: Any) -> OAIError:
    return OAIError(BAD_ARGUMENT, message, **params)


def bad_token() -> OAIError:
    """The error for a resumption token that is damaged, edited or issued for another verb."""
    return OAIError(
        BAD_RESUMPTION_TOKEN, N_("The resumption token is invalid or has been altered.")
    )


def shown(value: str) -> str:
    """A value as an error message echoes it: at most :data:`MAX_ECHO_CHARS` characters."""
    return value if len(value) <= MAX_ECHO_CHARS else value[:MAX_ECHO_CHARS] + "…"


# Parsing the request


@dataclass(frozen=True)
class OAIRequest:
    verb: str
    arguments: dict[str, str]

    def echo(self) -> dict[str, str]:
        """The ``request`` element's attributes: the verb and its valid arguments.

        An identifier that is not even a URI is left out (the schema types it anyURI).
        """
        return {
            name: value
            for name, value in {"verb": self.verb, **self.arguments}.items()
            if name != "identifier" or _URI_RE.fullmatch(value)
        }


def decode_pairs(raw: bytes) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` bytes as (name, value) pairs, repeats kept."""
    try:
        return parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad_argument(N_("The arguments are not valid URL-encoded UTF-8.")) from exc


async def read_arguments(request: Request) -> list[tuple[str, str]]:
    """The protocol arguments: the query string, and for POST the form-encoded body."""
    pairs = decode_pairs(request.scope.get("query_string", b""))
    if request.method != "POST":
        return pairs
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _bad_argument(N_("The request is too large."))
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type != FORM_TYPE:
        raise _bad_argument(N_("Send POST arguments as application/x-www-form-urlencoded."))
    return pairs + decode_pairs(bytes(body))


def parse_request(pairs: Sequence[tuple[str, str]]) -> OAIRequest:
    """Check the verb and its arguments: names, repeats, exclusivity and syntax."""
    verbs = [value for name, value in pairs if name == "verb"]
    if not verbs:
        raise OAIError(BAD_VERB, N_("The verb argument is missing."))
    if len(verbs) > 1:
        raise OAIError(BAD_VERB, N_("The verb argument is repeated."))
    verb = verbs[0]
    if verb not in VERBS:
        raise OAIError(BAD_VERB, N_("{verb} is not an OAI-PMH verb."), verb=shown(verb))
    arguments: dict[str, str] = {}
    for name, value in pairs:
        if name == "verb":
            continue
        if name in arguments:
            raise _bad_argument(N_("The argument {name} is repeated."), name=shown(name))
        arguments[name] = value
    _check_names(verb, arguments)
    _check_values(arguments)
    return OAIRequest(verb, arguments)


def _check_names(verb: str, arguments: Mapping[str, str]) -> None:
    required, optional = VERBS[verb]
    allowed = required | optional | ({RESUMPTION_TOKEN} if verb in RESUMABLE else set())
    for name in arguments:
        if name not in allowed:
            raise _bad_argument(
                N_("{name} is not an argument of {verb}."), name=shown(name), verb=verb
            )
    if RESUMPTION_TOKEN in arguments:
        if len(arguments) > 1:
            raise _bad_argument(N_("resumptionToken must be the only argument besides verb."))
        return
    missing = sorted(required - arguments.keys())
    if missing:
        raise _bad_argument(N_("{verb} needs the argument {name}."), verb=verb, name=missing[0])


def _check_values(arguments: Mapping[str, str]) -> None:
    for name, pattern in ARGUMENT_PATTERNS.items():
        if name in arguments and not pattern.fullmatch(arguments[name]):
            raise _bad_argument(N_("The argument {name} has an illegal value."), name=name)
    parse_range(arguments.get("from"), arguments.get("until"))


def check_prefix(oai_request: OAIRequest) -> None:
    """A metadataPrefix this repository does not know cannot be disseminated by any item."""
    prefix = oai_request.arguments.get("metadataPrefix")
    if prefix is not None and prefix not in FORMATS:
        raise OAIError(
            CANNOT_DISSEMINATE_FORMAT,
            N_("This repository has no metadata format {prefix}."),
            prefix=prefix,
        )


@dataclass(frozen=True)
class DateRange:
    """Datestamps from ``start`` (inclusive) to ``end`` (exclusive); None is open."""

    start: datetime | None = None
    end: datetime | None = None


def parse_utc(name: str, text: str) -> tuple[datetime, timedelta]:
    """A protocol date (day or second granularity) as naive UTC, with its granule."""
    for pattern, layout, granule in (
        (_DAY_RE, "%Y-%m-%d", DAY),
        (_SECONDS_RE, "%Y-%m-%dT%H:%M:%SZ", SECOND),
    ):
        if pattern.fullmatch(text):
            try:
                return datetime.strptime(text, layout), granule
            except ValueError:
                break
    raise _bad_argument(
        N_("{name} must be a date YYYY-MM-DD or a UTC time YYYY-MM-DDThh:mm:ssZ."), name=name
    )


def parse_range(from_text: str | None, until_text: str | None) -> DateRange:
    """``from``/``until`` as a half-open range; the whole ``until`` day or second is included."""
    start = parse_utc("from", from_text) if from_text is not None else None
    until = parse_utc("until", until_text) if until_text is not None else None
    if start and until:
        if start[1] != until[1]:
            raise _bad_argument(N_("from and until must have the same granularity."))
        if start[0] > until[0]:
            raise _bad_argument(N_("from must not be later than until."))
    return DateRange(start=start[0] if start else None, end=until[0] + until[1] if until else None)


def utc_text(value: datetime) -> str:
    """A datestamp at seconds granularity: ``YYYY-MM-DDThh:mm:ssZ``."""
    return value.replace(microsecond=0, tzinfo=None).isoformat(timespec="seconds") + "Z"


# Resumption tokens


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("ascii")).hexdigest()[:TOKEN_DIGEST_CHARS]


def encode_token(payload: Mapping[str, Any]) -> str:
    """An opaque, URL-safe token: base64url JSON and a digest of it."""
    data = {"v": TOKEN_VERSION, **payload}
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
    body = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return f"{body}.{_digest(body)}"


def decode_token(token: str, verb: str) -> dict[str, Any]:
    """The payload of a token issued for ``verb``; anything else is ``badResumptionToken``."""
    body, _, digest = token.partition(".")
    if not body.isascii() or not hmac.compare_digest(digest.encode(), _digest(body).encode()):
        raise bad_token()
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise bad_token() from exc
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise bad_token()
    if payload.get("verb") != verb:
        raise bad_token()
    return payload


def sets_position(arguments: Mapping[str, str]) -> tuple[str, int]:
    """Where a ListSets request starts: after which setSpec, at which cursor."""
    if RESUMPTION_TOKEN not in arguments:
        return "", 0
    payload = decode_token(arguments[RESUMPTION_TOKEN], "ListSets")
    raw_after, raw_cursor = payload.get("after"), payload.get("cursor")
    if not isinstance(raw_after, str) or not isinstance(raw_cursor, int) or raw_cursor < 0:
        raise bad_token()
    return raw_after, raw_cursor


def sets_token(after: str, cursor: int) -> str:
    """The token that resumes ListSets after the setSpec ``after``."""
    return encode_token({"verb": "ListSets", "after": after, "cursor": cursor})


@dataclass(frozen=True)
class Harvest:
    """A ListIdentifiers/ListRecords request, first or resumed."""

    prefix: str
    set_spec: str | None = None
    from_text: str | None = None
    until_text: str | None = None
    after: tuple[datetime, str] | None = None
    cursor: int = 0

    @property
    def dates(self) -> DateRange:
        return parse_range(self.from_text, self.until_text)

    def token(self, verb: str, last: tuple[datetime, str], cursor: int) -> str:
        return encode_token(
            {
                "verb": verb,
                "prefix": self.prefix,
                "set": self.set_spec,
                "from": self.from_text,
                "until": self.until_text,
                "after": [last[0].isoformat(), last[1]],
                "cursor": cursor,
            }
        )


def harvest_from(verb: str, arguments: Mapping[str, str]) -> Harvest:
    token = arguments.get(RESUMPTION_TOKEN)
    if token is None:
        return Harvest(
            prefix=arguments["metadataPrefix"],
            set_spec=arguments.get("set"),
            from_text=arguments.get("from"),
            until_text=arguments.get("until"),
        )
    payload = decode_token(token, verb)
    try:
        stamp, last_id = payload["after"]
        after = datetime.fromisoformat(stamp)
        harvest = Harvest(
            prefix=str(payload["prefix"]),
            set_spec=payload["set"],
            from_text=payload["from"],
            until_text=payload["until"],
            after=(after, str(last_id)),
            cursor=int(payload["cursor"]),
        )
        _check_values({k: v for k, v in _harvest_arguments(harvest).items() if v is not None})
    except (KeyError, TypeError, ValueError, OAIError) as exc:
        raise bad_token() from exc
    if harvest.prefix not in FORMATS or harvest.cursor < 0 or after.tzinfo is not None:
        raise bad_token()
    return harvest


def _harvest_arguments(harvest: Harvest) -> dict[str, str | None]:
    return {
        "metadataPrefix": harvest.prefix,
        "set": harvest.set_spec,
        "from": harvest.from_text,
        "until": harvest.until_text,
    }
