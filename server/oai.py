"""OAI-PMH 2.0 at ``/oai``: the six verbs over GET and POST, for harvesters (docs/oai-pmh.md).

Flow: the request's arguments are parsed by pure functions that raise
:class:`OAIError` with the protocol's error code; the verb handler then runs
with its database session in the thread pool and returns the verb's element;
the envelope (``responseDate``, ``request``) is added and the document is
serialized by lxml. Protocol errors are answered with HTTP 200 and an
``<error>`` element, as the specification requires (§3.6); the message is in
the requester's interface language.

What harvesters see:

* Items are the records :func:`server.records.visible` shows to anonymous
  visitors, identified as ``oai:<host>:<record id>``; datestamps are
  ``updated_at`` (``deleted_at`` for deleted records), UTC, to the second.
* ``deletedRecord`` is ``persistent``: a deleted record stays as a header with
  ``status="deleted"``. A record withdrawn from the public (its access level
  no longer "public") after it was published (``published_at`` set) is
  reported the same way, so harvesters drop their copy. A record that was never
  public is never mentioned, not even as deleted.
* Lists are cut into pages of :data:`PAGE_SIZE` with resumption tokens. A token
  carries the request's arguments and a keyset position (datestamp, id), so
  records added or changed during a harvest are neither skipped nor lost. Tokens
  are stateless and never expire; they carry a digest so a damaged or edited
  token is refused with ``badResumptionToken``. (A forged token could only ask
  for public records a harvester may ask for anyway, so the digest needs no key.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lxml import etree
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.errors import N_, BadRequest
from server.i18n import localized
from server.models import RECORD_KINDS, Collection, CollectionRecord, Record
from server.oai_formats import (
    FORMATS,
    SCHEMA_LOCATION,
    XSI_NS,
    Context,
    Element,
    formats_for,
    set_description,
    sub,
)
from server.records import bundle_for, visible
from server.state import get_museum
from server.urls import public_base
from server.vocab import KINDS, PUBLIC_ACCESS

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_IDENTIFIER_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
OAI_IDENTIFIER_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
CONTENT_TYPE = "text/xml; charset=utf-8"
FORM_TYPE = "application/x-www-form-urlencoded"
PROTOCOL_VERSION = "2.0"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
DELETED_RECORD = "persistent"
# The app's GZipMiddleware compresses answers above 1 KiB for clients that accept gzip.
COMPRESSIONS = ("gzip",)
ADMIN_MAILBOX = "webmaster"  # RFC 2142; used until a contact address is configured
MUSEUM_NAME = N_("Đắk Lắk Digital Heritage Museum")

# Records (or sets) per response; tests lower it to exercise resumption tokens.
PAGE_SIZE = 100
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
# After these the request element carries the base URL only, no attributes (§3.2).
BARE_REQUEST_ERRORS = frozenset({BAD_VERB, BAD_ARGUMENT})

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

KIND_SETS = "kind"
COLLECTION_SETS = "collection"
PARENT_SET_NAMES = {KIND_SETS: N_("Kinds of heritage"), COLLECTION_SETS: N_("Collections")}

_PREFIX_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SET_PART = r"[A-Za-z0-9\-_.!~*'()]+"
_SET_RE = re.compile(rf"{_SET_PART}(:{_SET_PART})*")
_SET_PART_RE = re.compile(_SET_PART)
_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
# The oai-identifier guidelines want a domain name as the repository identifier.
_DOMAIN_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+")
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


def _bad_token() -> OAIError:
    return OAIError(
        BAD_RESUMPTION_TOKEN, N_("The resumption token is invalid or has been altered.")
    )


def _no_records() -> OAIError:
    return OAIError(NO_RECORDS_MATCH, N_("No records match the request."))


def _shown(value: str) -> str:
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


def parse_request(pairs: Sequence[tuple[str, str]]) -> OAIRequest:
    """Check the verb and its arguments: names, repeats, exclusivity and syntax."""
    verbs = [value for name, value in pairs if name == "verb"]
    if not verbs:
        raise OAIError(BAD_VERB, N_("The verb argument is missing."))
    if len(verbs) > 1:
        raise OAIError(BAD_VERB, N_("The verb argument is repeated."))
    verb = verbs[0]
    if verb not in VERBS:
        raise OAIError(BAD_VERB, N_("{verb} is not an OAI-PMH verb."), verb=_shown(verb))
    arguments: dict[str, str] = {}
    for name, value in pairs:
        if name == "verb":
            continue
        if name in arguments:
            raise _bad_argument(N_("The argument {name} is repeated."), name=_shown(name))
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
                N_("{name} is not an argument of {verb}."), name=_shown(name), verb=verb
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
        raise _bad_token()
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise _bad_token() from exc
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise _bad_token()
    if payload.get("verb") != verb:
        raise _bad_token()
    return payload


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
        raise _bad_token() from exc
    if harvest.prefix not in FORMATS or harvest.cursor < 0 or after.tzinfo is not None:
        raise _bad_token()
    return harvest


def _harvest_arguments(harvest: Harvest) -> dict[str, str | None]:
    return {
        "metadataPrefix": harvest.prefix,
        "set": harvest.set_spec,
        "from": harvest.from_text,
        "until": harvest.until_text,
    }


# Queries


def datestamp_column() -> ColumnElement[datetime]:
    return func.coalesce(Record.deleted_at, Record.updated_at)


def datestamp_of(record: Record) -> datetime:
    return record.deleted_at or record.updated_at


def harvestable() -> ColumnElement[bool]:
    """Records harvesters may learn of: public ones, and withdrawn ones that were published."""
    return or_(Record.access_level.in_(PUBLIC_ACCESS), Record.published_at.is_not(None))


def _in_collection(collection_id: str | None = None) -> ColumnElement[bool]:
    query = (
        select(CollectionRecord.record_id)
        .join(Collection, Collection.id == CollectionRecord.collection_id)
        .where(
            CollectionRecord.record_id == Record.id,
            Collection.access_level.in_(PUBLIC_ACCESS),
        )
    )
    if collection_id is not None:
        query = query.where(Collection.id == collection_id)
    return query.exists()


def set_condition(spec: str | None) -> ColumnElement[bool] | None:
    """The records of a set; None when the repository has no such set."""
    if spec is None or spec == KIND_SETS:
        return true()
    if spec == COLLECTION_SETS:
        return _in_collection()
    parent, _, child = spec.partition(":")
    if parent == KIND_SETS and child in RECORD_KINDS:
        return Record.kind == child
    if parent == COLLECTION_SETS and _SET_PART_RE.fullmatch(child):
        return _in_collection(child)
    return None


def harvest_statement(harvest: Harvest) -> Select[Record]:
    condition = set_condition(harvest.set_spec)
    if condition is None:
        raise _no_records()
    statement = select(Record).where(harvestable(), condition)
    kinds = FORMATS[harvest.prefix].kinds
    if kinds is not None:
        statement = statement.where(Record.kind.in_(kinds))
    dates, stamp = harvest.dates, datestamp_column()
    if dates.start is not None:
        statement = statement.where(stamp >= dates.start)
    if dates.end is not None:
        statement = statement.where(stamp < dates.end)
    return statement


@dataclass(frozen=True)
class Page:
    records: list[Record]
    live: frozenset[str]
    sets: dict[str, list[str]]
    total: int
    more: bool


def live_ids(session: Session, ids: Iterable[str]) -> frozenset[str]:
    """Which of these records anonymous visitors see (records.visible decides)."""
    return frozenset(session.scalars(visible(select(Record.id).where(Record.id.in_(list(ids))))))


def set_specs(session: Session, records: Sequence[Record]) -> dict[str, list[str]]:
    """The sets each record belongs to: its kind and its public collections."""
    specs = {record.id: [f"{KIND_SETS}:{record.kind}"] for record in records}
    rows = session.execute(
        select(CollectionRecord.record_id, CollectionRecord.collection_id)
        .join(Collection, Collection.id == CollectionRecord.collection_id)
        .where(
            CollectionRecord.record_id.in_(list(specs)),
            Collection.access_level.in_(PUBLIC_ACCESS),
        )
        .order_by(CollectionRecord.collection_id)
    )
    for record_id, collection_id in rows:
        if _SET_PART_RE.fullmatch(collection_id):
            specs[record_id].append(f"{COLLECTION_SETS}:{collection_id}")
    return specs


def harvest_page(session: Session, harvest: Harvest, size: int) -> Page:
    statement = harvest_statement(harvest)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    stamp = datestamp_column()
    if harvest.after is not None:
        after_stamp, after_id = harvest.after
        statement = statement.where(
            or_(stamp > after_stamp, and_(stamp == after_stamp, Record.id > after_id))
        )
    rows = list(session.scalars(statement.order_by(stamp, Record.id).limit(size + 1)))
    if not rows:
        raise _no_records()
    records = rows[:size]
    ids = [record.id for record in records]
    return Page(
        records, live_ids(session, ids), set_specs(session, records), total, len(rows) > size
    )


def find_record(session: Session, repository: Repository, identifier: str) -> Record:
    prefix = f"oai:{repository.identifier}:"
    record = None
    if identifier.startswith(prefix):
        record = session.scalars(
            select(Record).where(Record.id == identifier[len(prefix) :], harvestable())
        ).first()
    if record is None:
        raise OAIError(
            ID_DOES_NOT_EXIST,
            N_("No item has the identifier {identifier}."),
            identifier=_shown(identifier),
        )
    return record


# Responses


def oai(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


@dataclass(frozen=True)
class Repository:
    """Per-request facts about the repository: addresses, names, labels, page size."""

    base_url: str
    identifier: str
    admin_email: str
    context: Context
    page_size: int


def envelope(base_url: str, now: datetime, attributes: Mapping[str, str] | None) -> Element:
    root = etree.Element(oai("OAI-PMH"), nsmap={None: OAI_NS, "xsi": XSI_NS})
    root.set(SCHEMA_LOCATION, f"{OAI_NS} {OAI_SCHEMA}")
    sub(root, oai("responseDate"), utc_text(now))
    sub(root, oai("request"), base_url, attributes)
    return root


def serialize(root: Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


def error_document(
    base_url: str, now: datetime, request: OAIRequest | None, error: OAIError, message: str
) -> bytes:
    bare = request is None or error.oai_code in BARE_REQUEST_ERRORS
    root = envelope(base_url, now, None if bare or request is None else request.echo())
    sub(root, oai("error"), message, {"code": error.oai_code})
    return serialize(root)


def header(parent: Element, record: Record, page: Page, repository: Repository) -> Element:
    live = record.id in page.live
    element = sub(parent, oai("header"), attrib=None if live else {"status": "deleted"})
    sub(element, oai("identifier"), repository.context.oai_identifier(record.id))
    sub(element, oai("datestamp"), utc_text(datestamp_of(record)))
    for spec in page.sets.get(record.id, []):
        sub(element, oai("setSpec"), spec)
    return element


def record_element(
    session: Session,
    parent: Element,
    record: Record,
    page: Page,
    repository: Repository,
    prefix: str,
) -> None:
    element = sub(parent, oai("record"))
    header(element, record, page, repository)
    if record.id in page.live:
        metadata = sub(element, oai("metadata"))
        metadata.append(FORMATS[prefix].build(bundle_for(session, record), repository.context))


def resumption(parent: Element, token: str | None, total: int, cursor: int) -> None:
    attributes = {"cursor": str(cursor)}
    if total > 0:
        attributes["completeListSize"] = str(total)
    sub(parent, oai("resumptionToken"), token or "", attributes)


# Verbs: each returns its element, or raises OAIError


def identify(session: Session, repository: Repository, arguments: Mapping[str, str]) -> Element:
    earliest, sample = session.execute(
        select(func.min(datestamp_column()), func.min(Record.id)).where(harvestable())
    ).one()
    element = etree.Element(oai("Identify"))
    sub(element, oai("repositoryName"), repository.context.repository_name)
    sub(element, oai("baseURL"), repository.base_url)
    sub(element, oai("protocolVersion"), PROTOCOL_VERSION)
    sub(element, oai("adminEmail"), repository.admin_email)
    sub(element, oai("earliestDatestamp"), utc_text(earliest or datetime.now(UTC)))
    sub(element, oai("deletedRecord"), DELETED_RECORD)
    sub(element, oai("granularity"), GRANULARITY)
    for compression in COMPRESSIONS:
        sub(element, oai("compression"), compression)
    if _DOMAIN_RE.fullmatch(repository.identifier):
        _identifier_description(element, repository, sample or "id")
    return element


def _identifier_description(parent: Element, repository: Repository, sample_id: str) -> None:
    description = sub(parent, oai("description"))
    scheme = etree.SubElement(
        description, f"{{{OAI_IDENTIFIER_NS}}}oai-identifier", nsmap={None: OAI_IDENTIFIER_NS}
    )
    scheme.set(SCHEMA_LOCATION, f"{OAI_IDENTIFIER_NS} {OAI_IDENTIFIER_SCHEMA}")
    for name, text in (
        ("scheme", "oai"),
        ("repositoryIdentifier", repository.identifier),
        ("delimiter", ":"),
        ("sampleIdentifier", repository.context.oai_identifier(sample_id)),
    ):
        sub(scheme, f"{{{OAI_IDENTIFIER_NS}}}{name}", text)


def list_metadata_formats(
    session: Session, repository: Repository, arguments: Mapping[str, str]
) -> Element:
    formats = list(FORMATS.values())
    if "identifier" in arguments:
        record = find_record(session, repository, arguments["identifier"])
        formats = formats_for(record.kind)
        if not formats:
            raise OAIError(
                NO_METADATA_FORMATS,
                N_("No metadata format is available for {identifier}."),
                identifier=_shown(arguments["identifier"]),
            )
    element = etree.Element(oai("ListMetadataFormats"))
    for fmt in formats:
        entry = sub(element, oai("metadataFormat"))
        sub(entry, oai("metadataPrefix"), fmt.prefix)
        sub(entry, oai("schema"), fmt.schema)
        sub(entry, oai("metadataNamespace"), fmt.namespace)
    return element


@dataclass(frozen=True)
class SetInfo:
    spec: str
    name: str  # Vietnamese
    english_name: str
    descriptions: Mapping[str, str]


def all_sets(session: Session, repository: Repository) -> list[SetInfo]:
    """Every set, ordered by setSpec: the kinds, the public collections and their parents."""
    vi = repository.context.vi
    sets = [SetInfo(spec, vi(name), name, {}) for spec, name in PARENT_SET_NAMES.items()]
    sets += [SetInfo(f"{KIND_SETS}:{kind}", vi(KINDS[kind]), KINDS[kind], {}) for kind in KINDS]
    collections = session.scalars(
        select(Collection).where(Collection.access_level.in_(PUBLIC_ACCESS))
    )
    for collection in collections:
        if _SET_PART_RE.fullmatch(collection.id):
            sets.append(
                SetInfo(
                    f"{COLLECTION_SETS}:{collection.id}",
                    localized(collection.title, "vi"),
                    localized(collection.title, "en"),
                    collection.description,
                )
            )
    return sorted(sets, key=lambda item: item.spec)


def list_sets(session: Session, repository: Repository, arguments: Mapping[str, str]) -> Element:
    after, cursor = "", 0
    if RESUMPTION_TOKEN in arguments:
        payload = decode_token(arguments[RESUMPTION_TOKEN], "ListSets")
        raw_after, raw_cursor = payload.get("after"), payload.get("cursor")
        if not isinstance(raw_after, str) or not isinstance(raw_cursor, int) or raw_cursor < 0:
            raise _bad_token()
        after, cursor = raw_after, raw_cursor
    sets = all_sets(session, repository)
    remaining = [item for item in sets if item.spec > after]
    if not remaining:
        raise _bad_token()
    page = remaining[: repository.page_size]
    element = etree.Element(oai("ListSets"))
    for item in page:
        entry = sub(element, oai("set"))
        sub(entry, oai("setSpec"), item.spec)
        sub(entry, oai("setName"), item.name)
        description = sub(entry, oai("setDescription"))
        description.append(set_description(item.english_name, item.descriptions))
    more = len(remaining) > len(page)
    if more or cursor:
        position = {"verb": "ListSets", "after": page[-1].spec, "cursor": cursor + len(page)}
        resumption(element, encode_token(position) if more else None, len(sets), cursor)
    return element


def _list(
    session: Session, repository: Repository, arguments: Mapping[str, str], verb: str
) -> Element:
    harvest = harvest_from(verb, arguments)
    page = harvest_page(session, harvest, repository.page_size)
    element = etree.Element(oai(verb))
    for record in page.records:
        if verb == "ListRecords":
            record_element(session, element, record, page, repository, harvest.prefix)
        else:
            header(element, record, page, repository)
    if page.more or harvest.cursor:
        last = page.records[-1]
        position = (datestamp_of(last), last.id)
        next_cursor = harvest.cursor + len(page.records)
        token = harvest.token(verb, position, next_cursor) if page.more else None
        resumption(element, token, page.total, harvest.cursor)
    return element


def list_identifiers(
    session: Session, repository: Repository, arguments: Mapping[str, str]
) -> Element:
    return _list(session, repository, arguments, "ListIdentifiers")


def list_records(session: Session, repository: Repository, arguments: Mapping[str, str]) -> Element:
    return _list(session, repository, arguments, "ListRecords")


def get_record(session: Session, repository: Repository, arguments: Mapping[str, str]) -> Element:
    prefix, identifier = arguments["metadataPrefix"], arguments["identifier"]
    record = find_record(session, repository, identifier)
    if not FORMATS[prefix].available_for(record.kind):
        raise OAIError(
            CANNOT_DISSEMINATE_FORMAT,
            N_("The item {identifier} is not available in the format {prefix}."),
            identifier=_shown(identifier),
            prefix=prefix,
        )
    page = Page([record], live_ids(session, [record.id]), set_specs(session, [record]), 1, False)
    element = etree.Element(oai("GetRecord"))
    record_element(session, element, record, page, repository, prefix)
    return element


Handler = Callable[[Session, Repository, Mapping[str, str]], Element]
HANDLERS: dict[str, Handler] = {
    "Identify": identify,
    "ListMetadataFormats": list_metadata_formats,
    "ListSets": list_sets,
    "GetRecord": get_record,
    "ListIdentifiers": list_identifiers,
    "ListRecords": list_records,
}


def _check_prefix(oai_request: OAIRequest) -> None:
    """A metadataPrefix this repository does not know cannot be disseminated by any item."""
    prefix = oai_request.arguments.get("metadataPrefix")
    if prefix is not None and prefix not in FORMATS:
        raise OAIError(
            CANNOT_DISSEMINATE_FORMAT,
            N_("This repository has no metadata format {prefix}."),
            prefix=prefix,
        )


# The endpoint


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


def repository_for(request: Request) -> Repository:
    museum = get_museum(request)
    base = public_base(request)
    host = (urlsplit(base).hostname or "localhost").lower()
    configured: str = getattr(museum.settings, "admin_email", "")
    vi = museum.translations("vi").gettext

    def item_url(record_id: str) -> str:
        return base + str(request.app.url_path_for("item", record_id=record_id))

    context = Context(
        repository_name=f"{vi(MUSEUM_NAME)} · {MUSEUM_NAME}",
        repository_url=base + "/",
        item_url=item_url,
        oai_identifier=lambda record_id: f"oai:{host}:{record_id}",
        vi=vi,
    )
    return Repository(
        base_url=base + str(request.app.url_path_for("oai")),
        identifier=host,
        admin_email=configured or f"{ADMIN_MAILBOX}@{host}",
        context=context,
        page_size=PAGE_SIZE,
    )


def respond(
    session: Session,
    repository: Repository,
    oai_request: OAIRequest,
    now: datetime,
    gettext: Callable[[str], str],
) -> bytes:
    """The whole response document to a well-formed request: the verb's answer or an error."""
    try:
        _check_prefix(oai_request)
        element = HANDLERS[oai_request.verb](session, repository, oai_request.arguments)
    except OAIError as error:
        return error_document(repository.base_url, now, oai_request, error, error.render(gettext))
    root = envelope(repository.base_url, now, oai_request.echo())
    root.append(element)
    return serialize(root)


async def endpoint(request: Request) -> Response:
    """Answer one OAI-PMH request (GET or POST)."""
    museum = get_museum(request)
    repository = repository_for(request)
    now = datetime.now(UTC)
    gettext = museum.translations(getattr(request.state, "lang", museum.settings.language)).gettext
    try:
        parsed = parse_request(await read_arguments(request))
    except OAIError as error:
        body = error_document(repository.base_url, now, None, error, error.render(gettext))
    else:
        body = await museum.db.run(
            lambda session: respond(session, repository, parsed, now, gettext)
        )
    return Response(body, media_type=CONTENT_TYPE)
