"""OAI-PMH 2.0 at ``/oai``: the six verbs over GET and POST, for harvesters (docs/oai-pmh.md).

Flow: the request's arguments are parsed by the pure functions of
:mod:`server.oai_request`, which raise :class:`~server.oai_request.OAIError`
with the protocol's error code; the verb handler then runs
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
  ``status="deleted"``. A record withdrawn from the public (withdrawn, or its
  access level no longer "public") after visitors saw it (``published_at`` set) is
  reported the same way, so harvesters drop their copy. A record that was never
  public, or is under embargo, is never mentioned, not even as deleted.
* Lists are cut into pages of :data:`PAGE_SIZE` with resumption tokens; the
  tokens and the request parsers live in :mod:`server.oai_request`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from lxml import etree
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.errors import N_
from server.i18n import localized
from server.models import RECORD_KINDS, Collection, CollectionRecord, Record, utcnow
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
from server.oai_request import (
    BAD_ARGUMENT,
    BAD_VERB,
    CANNOT_DISSEMINATE_FORMAT,
    ID_DOES_NOT_EXIST,
    NO_METADATA_FORMATS,
    NO_RECORDS_MATCH,
    SET_PART_RE,
    Harvest,
    OAIError,
    OAIRequest,
    bad_token,
    check_prefix,
    harvest_from,
    parse_request,
    read_arguments,
    sets_position,
    sets_token,
    shown,
    utc_text,
)
from server.records import bundle_for, visible
from server.state import get_museum
from server.urls import public_base
from server.visibility import record_shown
from server.vocab import KINDS, PUBLIC_ACCESS

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_IDENTIFIER_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
OAI_IDENTIFIER_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
CONTENT_TYPE = "text/xml; charset=utf-8"
PROTOCOL_VERSION = "2.0"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
DELETED_RECORD = "persistent"
# The app's GZipMiddleware compresses answers above 1 KiB for clients that accept gzip.
COMPRESSIONS = ("gzip",)
ADMIN_MAILBOX = "webmaster"  # RFC 2142; used until a contact address is configured
MUSEUM_NAME = N_("Đắk Lắk Digital Heritage Museum")

# Records (or sets) per response; tests lower it to exercise resumption tokens.
PAGE_SIZE = 100
# After these the request element carries the base URL only, no attributes (§3.2).
BARE_REQUEST_ERRORS = frozenset({BAD_VERB, BAD_ARGUMENT})

KIND_SETS = "kind"
COLLECTION_SETS = "collection"
PARENT_SET_NAMES = {KIND_SETS: N_("Kinds of heritage"), COLLECTION_SETS: N_("Collections")}

# The oai-identifier guidelines want a domain name as the repository identifier.
_DOMAIN_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+")


def _no_records() -> OAIError:
    return OAIError(NO_RECORDS_MATCH, N_("No records match the request."))


# Queries


def datestamp_column() -> ColumnElement[datetime]:
    return func.coalesce(Record.deleted_at, Record.updated_at)


def datestamp_of(record: Record) -> datetime:
    return record.deleted_at or record.updated_at


def harvestable() -> ColumnElement[bool]:
    """Records harvesters may learn of: those visitors see, and those visitors saw once
    (``published_at``) that were withdrawn or deleted since — never one under embargo."""
    return or_(
        record_shown(PUBLIC_ACCESS),
        and_(
            Record.published_at.is_not(None),
            or_(Record.embargo_until.is_(None), Record.embargo_until <= utcnow()),
        ),
    )


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
    if parent == COLLECTION_SETS and SET_PART_RE.fullmatch(child):
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
        if SET_PART_RE.fullmatch(collection_id):
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
            identifier=shown(identifier),
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
                identifier=shown(arguments["identifier"]),
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
        if SET_PART_RE.fullmatch(collection.id):
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
    after, cursor = sets_position(arguments)
    sets = all_sets(session, repository)
    remaining = [item for item in sets if item.spec > after]
    if not remaining:
        raise bad_token()
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
        token = sets_token(page[-1].spec, cursor + len(page)) if more else None
        resumption(element, token, len(sets), cursor)
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
            identifier=shown(identifier),
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


# The endpoint


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
        check_prefix(oai_request)
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
