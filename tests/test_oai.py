"""OAI-PMH 2.0 at /oai: a real harvester against a live server, and every verb and error in-process.

Every response an in-process test reads is validated against the OAI-PMH,
oai_dc, oai-identifier and LIDO 1.1 XML Schemas kept in tests/data/oai.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from oaipmh_scythe import Scythe
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from server import oai, oai_formats, oai_request
from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.migrate import upgrade
from server.models import (
    Agent,
    Collection,
    CollectionRecord,
    Place,
    Record,
    RecordAgent,
    RecordPlace,
)
from server.search import index_record
from server.settings import Settings
from tests.conftest import SEED_CATALOG, seed_rows
from tests.live import serving

DATA = Path(__file__).parent / "data" / "oai"
NS = {
    "o": "http://www.openarchives.org/OAI/2.0/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lido": "http://www.lido-schema.org",
    "id": "http://www.openarchives.org/OAI/2.0/oai-identifier",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PUBLIC_BASE = "https://heritage.daklak.example"
REPOSITORY = "heritage.daklak.example"
BASE_TIME = datetime(2024, 1, 1)
RESTRICTED = "DL-ICH-02"  # never public: must not appear anywhere
DELETED = "DL-REL-03"  # deleted while public: a deleted header
DELETED_AT = BASE_TIME + timedelta(hours=100)
WITHDRAWN = "DL-DOC-03"  # published, then restricted (only in the test that withdraws it)
GONGS = "cong-chieng"  # a public collection
STAFF_ONLY = "noi-bo"  # a collection only staff see
GONG_MEMBERS = ["DL-ICH-01", "DL-ART-01", "DL-ART-04", RESTRICTED]
JAR = "DL-ART-03"  # the artefact the fixture fills in completely
SEED_IDS = sorted(row["seed_id"] for row in seed_rows())
PUBLIC_IDS = [i for i in SEED_IDS if i != RESTRICTED]
LIVE_IDS = [i for i in PUBLIC_IDS if i != DELETED]
ARTEFACTS = [i for i in LIVE_IDS if i.startswith("DL-ART-")]

_WRAPPER = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/" schemaLocation="OAI-PMH.xsd"/>
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/" schemaLocation="oai_dc.xsd"/>
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/oai-identifier"
             schemaLocation="oai-identifier.xsd"/>
  <xs:import namespace="http://www.lido-schema.org" schemaLocation="lido-v1.1.xsd"/>
</xs:schema>"""
_SCHEMA: list[etree.XMLSchema] = []


def schema() -> etree.XMLSchema:
    if not _SCHEMA:
        wrapper = etree.fromstring(_WRAPPER, base_url=str((DATA / "all.xsd").resolve()))
        _SCHEMA.append(etree.XMLSchema(wrapper))
    return _SCHEMA[0]


def assert_valid(document: bytes) -> etree._Element:
    root = etree.fromstring(document)
    validator = schema()
    assert validator.validate(root), validator.error_log
    return root


# The catalog the tests harvest


def datestamp(record_id: str) -> datetime:
    """The fixture's datestamp of each record: one hour apart in id order; deletion later."""
    if record_id == DELETED:
        return DELETED_AT
    return BASE_TIME + timedelta(hours=SEED_IDS.index(record_id))


def prepare_catalog(session: Session) -> None:
    import_catalog_file(session, SEED_CATALOG)
    session.flush()
    restricted = session.get_one(Record, RESTRICTED)
    restricted.access_level = "restricted"
    restricted.published_at = None  # restricted in the same import: never public
    session.get_one(Record, DELETED).deleted_at = DELETED_AT
    jar = session.get_one(Record, JAR)
    jar.materials = ["gốm"]
    jar.techniques = ["nung"]
    jar.dating = "thế kỷ XIX"
    jar.date_earliest, jar.date_latest = 1800, 1899
    jar.period = "Cận đại"
    jar.dimensions = "cao 45 cm"
    jar.registration_number = "BTĐL-0123"
    jar.rights_holder = "Bảo tàng Đắk Lắk"
    jar.credit_line = {"vi": "Bảo tàng Đắk Lắk", "en": "Dak Lak Museum"}
    jar.alt_titles = {"rad": "Čeh"}
    session.add_all(
        [
            Collection(
                id=GONGS,
                title={"vi": "Cồng chiêng", "en": "Gongs"},
                description={"en": "Gong culture of the Central Highlands."},
            ),
            Collection(id=STAFF_ONLY, title={"vi": "Nội bộ"}, access_level="staff"),
            Agent(id="y-bun", name={"vi": "Nghệ nhân Y Bun"}),
            Agent(id="buon-ako-dhong", name={"vi": "Buôn Ako Dhông"}, kind="community"),
            Place(id="buon-ma-thuot", name={"vi": "Phường Buôn Ma Thuột"}),
        ]
    )
    session.flush()
    members = [(GONGS, record_id) for record_id in GONG_MEMBERS] + [(STAFF_ONLY, "DL-ART-02")]
    session.add_all([CollectionRecord(collection_id=c, record_id=r) for c, r in members])
    session.add_all(
        [
            RecordAgent(record_id="DL-ART-01", agent_id="y-bun", role="maker"),
            RecordAgent(record_id="DL-ART-01", agent_id="buon-ako-dhong", role="bearer"),
            RecordPlace(record_id="DL-ART-01", place_id="buon-ma-thuot"),
        ]
    )
    for record in session.scalars(select(Record)):
        index_record(session, record)
    # Indexing flushes; the datestamps stay the fixture's, not the time of the flush.
    for record in session.scalars(select(Record)):
        record.updated_at = BASE_TIME + timedelta(hours=SEED_IDS.index(record.id))


def prepared_database(url: str) -> None:
    db = Database(url)
    try:
        upgrade(db)
        db.call(prepare_catalog, write=True)
    finally:
        db.dispose()


def change(settings: Settings, fn: Callable[[Session], None]) -> None:
    db = Database(settings.resolved_database_url)
    try:
        db.call(fn, write=True)
    finally:
        db.dispose()


@pytest.fixture
def catalog_settings(settings: Settings) -> Settings:
    prepared_database(settings.resolved_database_url)
    return settings


@pytest.fixture
def client(catalog_settings: Settings) -> Iterator[TestClient]:
    settings = dataclasses.replace(catalog_settings, public_base_url=PUBLIC_BASE)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(oai, "PAGE_SIZE", 10)
    return 10


def request_oai(client: TestClient, query: str = "", **params: str) -> etree._Element:
    """GET /oai with ``params`` (or a raw query string) and a schema-valid answer."""
    response = client.get("/oai?" + query if query else "/oai", params=params or None)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    return assert_valid(response.content)


def oai_error(root: etree._Element) -> str:
    errors = root.findall("o:error", NS)
    assert errors, etree.tostring(root)
    return str(errors[0].get("code"))


def identifier(record_id: str, host: str = REPOSITORY) -> str:
    return f"oai:{host}:{record_id}"


def record_id_of(oai_identifier: str) -> str:
    return oai_identifier.rsplit(":", 1)[1]


def follow(client: TestClient, verb: str, **params: str) -> tuple[list[etree._Element], int]:
    """Every header of a list request, following resumption tokens; and the number of pages."""
    headers: list[etree._Element] = []
    root = request_oai(client, verb=verb, **params)
    pages = 1
    while True:
        headers += root.findall(".//o:header", NS)
        token = root.find(f"o:{verb}/o:resumptionToken", NS)
        if token is None or not token.text:
            return headers, pages
        root = request_oai(client, verb=verb, resumptionToken=token.text)
        pages += 1


# A real harvester against a live server


@pytest.fixture
def live_oai(catalog_settings: Settings, small_pages: int) -> Iterator[str]:
    """The app under uvicorn on a free loopback port; no public base URL, so the host names it."""
    with serving(create_app(catalog_settings)) as url:
        yield f"{url}/oai"


@pytest.fixture
def scythe(live_oai: str) -> Iterator[tuple[Scythe, list[bytes]]]:
    """A harvester that keeps (and schema-checks) every response it gets."""
    bodies: list[bytes] = []

    def keep(response: Any) -> None:
        response.read()
        bodies.append(response.content)

    with Scythe(live_oai) as harvester:
        harvester.client.event_hooks["response"].append(keep)
        yield harvester, bodies
    for body in bodies:
        assert_valid(body)


def test_a_harvester_gets_every_public_record_over_several_pages(
    scythe: tuple[Scythe, list[bytes]],
) -> None:
    harvester, bodies = scythe
    records = list(harvester.list_records(metadata_prefix="oai_dc"))
    assert len(bodies) == 3  # 30 items, 10 a page
    ids = [record_id_of(r.header.identifier) for r in records]
    assert sorted(ids) == PUBLIC_IDS
    assert RESTRICTED not in ids
    deleted = [r for r in records if r.deleted]
    assert [record_id_of(r.header.identifier) for r in deleted] == [DELETED]
    assert all(r.header.identifier.startswith("oai:127.0.0.1:") for r in records)
    titles = {
        record_id_of(r.header.identifier): r.metadata["title"] for r in records if not r.deleted
    }
    for row in seed_rows():
        if row["seed_id"] in LIVE_IDS:
            assert row["name_vi"] in titles[row["seed_id"]]


def test_a_harvester_lists_identifiers_sets_formats_and_single_records(
    scythe: tuple[Scythe, list[bytes]],
) -> None:
    harvester, bodies = scythe
    headers = list(harvester.list_identifiers(metadata_prefix="lido"))
    assert sorted(record_id_of(h.identifier) for h in headers) == ARTEFACTS
    assert {s.setSpec for s in harvester.list_sets()} >= {"kind:hien_vat", f"collection:{GONGS}"}
    formats = [f.metadataPrefix for f in harvester.list_metadata_formats()]
    assert formats == ["oai_dc", "lido"]
    record = harvester.get_record(identifier=identifier(JAR, "127.0.0.1"), metadata_prefix="lido")
    assert "Ché cổ" in record.raw
    assert harvester.identify().deletedRecord == "persistent"
    assert len(bodies) == 5


# Paging on both engines


def _collect(
    client: TestClient, verb: str, **params: str
) -> tuple[list[str], list[etree._Element]]:
    ids: list[str] = []
    tokens: list[etree._Element] = []
    root = request_oai(client, verb=verb, **params)
    while True:
        ids += [record_id_of(h.text) for h in root.iterfind(".//o:header/o:identifier", NS)]
        token = root.find(f"o:{verb}/o:resumptionToken", NS)
        if token is None:
            return ids, tokens
        tokens.append(token)
        if not token.text:
            return ids, tokens
        root = request_oai(client, verb=verb, resumptionToken=token.text)


def _same_second(session: Session) -> None:
    """Every record changed in the same second, as after an import: only ids order them."""
    for record in session.scalars(select(Record)):
        record.updated_at = BASE_TIME
        record.deleted_at = BASE_TIME if record.deleted_at else None


@pytest.mark.parametrize("verb", ["ListIdentifiers", "ListRecords"])
@pytest.mark.parametrize("same_second", [False, True], ids=["hourly", "same-second"])
def test_paging_with_tokens_on_both_engines(
    database_url: str, tmp_path: Path, small_pages: int, verb: str, same_second: bool
) -> None:
    prepared_database(database_url)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, public_base_url=PUBLIC_BASE
    )
    if same_second:
        change(settings, _same_second)
    with TestClient(create_app(settings)) as client:
        ids, tokens = _collect(client, verb, metadataPrefix="oai_dc")
    # Datestamp order (then id order), each record exactly once.
    assert ids == (PUBLIC_IDS if same_second else sorted(PUBLIC_IDS, key=datestamp))
    assert [t.get("cursor") for t in tokens] == ["0", "10", "20"]
    assert {t.get("completeListSize") for t in tokens} == {str(len(PUBLIC_IDS))}
    assert [bool(t.text) for t in tokens] == [True, True, False]


def test_changes_during_a_harvest_skip_nothing(
    database_url: str, tmp_path: Path, small_pages: int
) -> None:
    prepared_database(database_url)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, public_base_url=PUBLIC_BASE
    )
    with TestClient(create_app(settings)) as client:
        first = request_oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
        seen = [record_id_of(h.text) for h in first.iterfind(".//o:identifier", NS)]
        token = first.find(".//o:resumptionToken", NS).text

        def meanwhile(session: Session) -> None:
            new = Record(status="published", id="DL-NEW-01", kind="hien_vat", title={"vi": "Mới"})
            session.add(new)
            # A record not yet harvested moves behind the cursor's end; one already seen too.
            later = session.get_one(Record, "DL-REL-12")
            later.title = {"vi": "Đổi tên"}
            seen_before = session.get_one(Record, seen[0])
            seen_before.title = {"vi": "Đổi tên nữa"}
            for record in (new, later, seen_before):
                index_record(session, record)

        change(settings, meanwhile)
        while token:
            root = request_oai(client, verb="ListIdentifiers", resumptionToken=token)
            seen += [record_id_of(h.text) for h in root.iterfind(".//o:identifier", NS)]
            token = root.find(".//o:resumptionToken", NS).text
    assert set(seen) == {*PUBLIC_IDS, "DL-NEW-01"}
    assert seen.count(seen[0]) == 2  # changed after it was harvested: harvested again
    assert seen.count("DL-REL-12") == 1


# Identify, formats, sets


def test_identify_describes_the_repository(client: TestClient) -> None:
    root = request_oai(client, verb="Identify")
    identify = root.find("o:Identify", NS)
    assert identify.findtext("o:baseURL", namespaces=NS) == f"{PUBLIC_BASE}/oai"
    assert identify.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert identify.findtext("o:earliestDatestamp", namespaces=NS) == "2024-01-01T00:00:00Z"
    assert identify.findtext("o:deletedRecord", namespaces=NS) == "persistent"
    assert identify.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext("o:adminEmail", namespaces=NS) == f"webmaster@{REPOSITORY}"
    description = identify.find("o:description/id:oai-identifier", NS)
    assert description.findtext("id:repositoryIdentifier", namespaces=NS) == REPOSITORY
    assert description.findtext("id:sampleIdentifier", namespaces=NS) == identifier("DL-ART-01")
    assert root.find("o:request", NS).attrib == {"verb": "Identify"}


def test_identify_without_a_domain_name_has_no_identifier_description(
    catalog_settings: Settings,
) -> None:
    with TestClient(create_app(catalog_settings)) as client:
        response = client.get("/oai", params={"verb": "Identify"})
    root = etree.fromstring(response.content)
    assert root.findtext("o:Identify/o:baseURL", namespaces=NS) == "http://testserver/oai"
    assert root.find("o:Identify/o:description", NS) is None


@pytest.mark.parametrize(
    ("record_id", "prefixes"),
    [(None, ["oai_dc", "lido"]), (JAR, ["oai_dc", "lido"]), ("DL-REL-01", ["oai_dc"])],
)
def test_list_metadata_formats(
    client: TestClient, record_id: str | None, prefixes: list[str]
) -> None:
    params = {"identifier": identifier(record_id)} if record_id else {}
    root = request_oai(client, verb="ListMetadataFormats", **params)
    formats = root.findall("o:ListMetadataFormats/o:metadataFormat", NS)
    assert [f.findtext("o:metadataPrefix", namespaces=NS) for f in formats] == prefixes
    namespaces = [f.findtext("o:metadataNamespace", namespaces=NS) for f in formats]
    assert namespaces == [NS["oai_dc"], NS["lido"]][: len(prefixes)]


def test_list_sets_names_in_vietnamese_with_english_descriptions(client: TestClient) -> None:
    root = request_oai(client, verb="ListSets")
    sets = {
        s.findtext("o:setSpec", namespaces=NS): s for s in root.iterfind("o:ListSets/o:set", NS)
    }
    assert list(sets) == sorted(sets)
    assert set(sets) == {
        "collection",
        f"collection:{GONGS}",
        "kind",
        "kind:di_san_phi_vat_the",
        "kind:di_san_tu_lieu",
        "kind:di_tich",
        "kind:hien_vat",
    }
    artefacts = sets["kind:hien_vat"]
    assert artefacts.findtext("o:setName", namespaces=NS) == "Hiện vật"
    english = artefacts.find("o:setDescription/oai_dc:dc/dc:title", NS)
    assert (english.text, english.get(XML_LANG)) == ("Artefact", "en")
    gongs = sets[f"collection:{GONGS}"]
    assert gongs.findtext("o:setName", namespaces=NS) == "Cồng chiêng"
    descriptions = gongs.findall("o:setDescription/oai_dc:dc/dc:description", NS)
    assert [d.text for d in descriptions] == ["Gong culture of the Central Highlands."]


def test_list_sets_pages_too(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oai, "PAGE_SIZE", 3)
    root = request_oai(client, verb="ListSets")
    specs = [s.text for s in root.iterfind(".//o:setSpec", NS)]
    cursors = []
    while (token := root.find(".//o:resumptionToken", NS)) is not None:
        cursors.append(token.get("cursor"))
        assert token.get("completeListSize") == "7"
        if not token.text:
            break
        root = request_oai(client, verb="ListSets", resumptionToken=token.text)
        specs += [s.text for s in root.iterfind(".//o:setSpec", NS)]
    assert cursors == ["0", "3", "6"]
    assert len(specs) == 7 == len(set(specs))


# Records and their metadata


def test_get_record_in_dublin_core(client: TestClient) -> None:
    root = request_oai(
        client, verb="GetRecord", identifier=identifier("DL-ART-01"), metadataPrefix="oai_dc"
    )
    assert root.find("o:request", NS).attrib == {
        "verb": "GetRecord",
        "identifier": identifier("DL-ART-01"),
        "metadataPrefix": "oai_dc",
    }
    header = root.find(".//o:header", NS)
    assert header.findtext("o:datestamp", namespaces=NS) == "2024-01-01T00:00:00Z"
    assert [s.text for s in header.iterfind("o:setSpec", NS)] == [
        "kind:hien_vat",
        f"collection:{GONGS}",
    ]
    dc = root.find(".//oai_dc:dc", NS)

    def values(name: str) -> list[tuple[str, str | None]]:
        return [(e.text, e.get(XML_LANG)) for e in dc.iterfind(f"dc:{name}", NS)]

    assert values("title") == [
        ("Bộ chiêng cổ (sưu tập Bảo tàng Đắk Lắk)", "vi"),
        ("Ancient gong sets (Dak Lak Museum collection)", "en"),
    ]
    subjects = values("subject")
    assert ("Hiện vật dân tộc học – nhạc cụ", "vi") in subjects
    assert ("Artefact", "en") in subjects and ("Hiện vật", "vi") in subjects
    assert {("Êđê", None), ("M'nông", None), ("Jrai", None)} <= set(subjects)
    assert values("description")[0][1] == "en"
    assert ("PhysicalObject", None) in values("type")
    assert values("identifier") == [(f"{PUBLIC_BASE}/items/DL-ART-01", None), ("DL-ART-01", None)]
    assert values("relation") == [("Cồng chiêng", "vi"), ("Gongs", "en")]
    assert values("creator") == [("Nghệ nhân Y Bun", None)]
    assert values("contributor") == [("Buôn Ako Dhông", None)]
    assert values("coverage")[:2] == [
        ("Phường Buôn Ma Thuột", None),
        ("Bảo tàng Đắk Lắk, Buôn Ma Thuột", None),
    ]
    assert values("rights") == [("http://rightsstatements.org/vocab/CNE/1.0/", None)]
    assert [v for v, _ in values("language")] == ["vi", "en"]
    assert len(values("source")) == 2


def test_dublin_core_of_a_fully_catalogued_artefact(client: TestClient) -> None:
    root = request_oai(
        client, verb="GetRecord", identifier=identifier(JAR), metadataPrefix="oai_dc"
    )
    dc = root.find(".//oai_dc:dc", NS)
    texts = {(e.tag.split("}")[1], e.text) for e in dc}
    assert {
        ("title", "Čeh"),
        ("date", "1800/1899"),
        ("format", "cao 45 cm"),
        ("format", "gốm"),
    } <= texts
    assert {
        ("identifier", "BTĐL-0123"),
        ("coverage", "thế kỷ XIX"),
        ("coverage", "Cận đại"),
    } <= texts
    assert {("rights", "Bảo tàng Đắk Lắk"), ("rights", "Dak Lak Museum")} <= texts


def test_get_record_in_lido(client: TestClient) -> None:
    root = request_oai(client, verb="GetRecord", identifier=identifier(JAR), metadataPrefix="lido")
    lido = root.find(".//lido:lido", NS)

    def text(path: str) -> list[str]:
        return [e.text for e in lido.iterfind(path, NS)]

    assert text("lido:lidoRecID") == [identifier(JAR)]
    assert text("lido:objectPublishedID") == [f"{PUBLIC_BASE}/items/{JAR}"]
    blocks = lido.findall("lido:descriptiveMetadata", NS)
    assert [b.get(XML_LANG) for b in blocks] == ["vi", "en"]
    vi, en = blocks
    assert (
        vi.findtext(".//lido:objectWorkType/lido:term", namespaces=NS)
        == "Hiện vật dân tộc học – gốm"
    )
    assert en.findtext(".//lido:objectWorkType/lido:term", namespaces=NS) == "Artefact"
    assert vi.findtext(".//lido:titleSet/lido:appellationValue", namespaces=NS) == "Ché cổ"
    title_en = en.find(".//lido:titleSet/lido:appellationValue", NS)
    assert (title_en.text, title_en.get(XML_LANG)) == ("Ancient jars (ché / Êđê: čeh)", "en")
    assert en.find(".//lido:descriptiveNoteValue", NS).get(XML_LANG) == "en"
    event = vi.find("lido:eventWrap/lido:eventSet/lido:event", NS)
    assert (
        event.findtext("lido:eventType/lido:conceptID", namespaces=NS)
        == oai_formats.LIDO_PRODUCTION
    )
    materials = {
        (t.get("{http://www.lido-schema.org}type"), t.findtext("lido:term", namespaces=NS))
        for t in event.iterfind(".//lido:termMaterialsTech", NS)
    }
    assert materials == {(oai_formats.LIDO_MATERIAL, "gốm"), (oai_formats.LIDO_TECHNIQUE, "nung")}
    assert [c.findtext("lido:term", namespaces=NS) for c in event.iterfind("lido:culture", NS)] == [
        "Êđê",
        "M'nông",
    ]
    assert event.findtext(".//lido:earliestDate", namespaces=NS) == "1800"
    assert event.findtext(".//lido:latestDate", namespaces=NS) == "1899"
    assert en.find("lido:eventWrap", NS) is None
    repository = vi.find(".//lido:repositorySet", NS)
    assert repository.findtext("lido:workID", namespaces=NS) == "BTĐL-0123"
    admin = lido.find("lido:administrativeMetadata", NS)
    assert admin.get(XML_LANG) == "vi"
    rights = admin.find("lido:rightsWorkWrap/lido:rightsWorkSet", NS)
    assert rights.findtext(".//lido:conceptID", namespaces=NS).startswith("http://rightsstatements")
    assert rights.findtext(".//lido:legalBodyName/lido:appellationValue", namespaces=NS) == (
        "Bảo tàng Đắk Lắk"
    )
    record_wrap = admin.find("lido:recordWrap", NS)
    assert record_wrap.findtext("lido:recordID", namespaces=NS) == JAR
    assert record_wrap.findtext("lido:recordType/lido:conceptID", namespaces=NS) == (
        oai_formats.LIDO_ITEM_RECORD
    )
    source = record_wrap.findtext(
        "lido:recordSource/lido:legalBodyName/lido:appellationValue", namespaces=NS
    )
    assert "Đắk Lắk" in source


def test_lido_is_only_for_artefacts(client: TestClient) -> None:
    headers, _ = follow(client, "ListRecords", metadataPrefix="lido")
    assert (
        sorted(record_id_of(h.findtext("o:identifier", namespaces=NS)) for h in headers)
        == ARTEFACTS
    )
    root = request_oai(
        client, verb="GetRecord", identifier=identifier("DL-REL-01"), metadataPrefix="lido"
    )
    assert oai_error(root) == "cannotDisseminateFormat"


# Selective harvesting


@pytest.mark.parametrize(
    ("set_spec", "expected"),
    [
        ("kind", PUBLIC_IDS),
        ("kind:hien_vat", ARTEFACTS),
        ("kind:di_tich", [i for i in PUBLIC_IDS if i.startswith("DL-REL-")]),
        ("collection", sorted(set(GONG_MEMBERS) - {RESTRICTED})),
        (f"collection:{GONGS}", sorted(set(GONG_MEMBERS) - {RESTRICTED})),
    ],
)
def test_sets_select_records(client: TestClient, set_spec: str, expected: list[str]) -> None:
    headers, _ = follow(client, "ListIdentifiers", metadataPrefix="oai_dc", set=set_spec)
    ids = [record_id_of(h.findtext("o:identifier", namespaces=NS)) for h in headers]
    assert sorted(ids) == expected
    for header in headers:
        specs = [s.text for s in header.iterfind("o:setSpec", NS)]
        assert set_spec == "kind" or set_spec == "collection" or set_spec in specs


@pytest.mark.parametrize("set_spec", [f"collection:{STAFF_ONLY}", "collection:none", "kind:x", "x"])
def test_sets_that_are_not_public_match_nothing(client: TestClient, set_spec: str) -> None:
    root = request_oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", set=set_spec)
    assert oai_error(root) == "noRecordsMatch"


@pytest.mark.parametrize(
    ("bounds", "low", "high"),
    [
        ({"from": "2024-01-01T05:00:00Z", "until": "2024-01-01T07:00:00Z"}, 5, 7),
        ({"from": "2024-01-02"}, 24, 10_000),
        ({"until": "2024-01-01"}, 0, 23),
        ({"from": "2024-01-01", "until": "2024-01-01"}, 0, 23),
        ({"from": "2024-01-05T04:00:00Z", "until": "2024-01-05T04:00:00Z"}, 100, 100),
    ],
)
def test_from_and_until_are_inclusive(
    client: TestClient, bounds: dict[str, str], low: int, high: int
) -> None:
    headers, _ = follow(client, "ListIdentifiers", metadataPrefix="oai_dc", **bounds)
    ids = sorted(record_id_of(h.findtext("o:identifier", namespaces=NS)) for h in headers)
    lo, hi = BASE_TIME + timedelta(hours=low), BASE_TIME + timedelta(hours=high)
    assert ids == [i for i in PUBLIC_IDS if lo <= datestamp(i) <= hi]
    assert ids


# Deletion and access levels


def test_deleted_records_are_headers_with_status_deleted(client: TestClient) -> None:
    root = request_oai(
        client, verb="GetRecord", identifier=identifier(DELETED), metadataPrefix="oai_dc"
    )
    record = root.find(".//o:record", NS)
    assert record.find("o:header", NS).get("status") == "deleted"
    assert record.findtext("o:header/o:datestamp", namespaces=NS) == "2024-01-05T04:00:00Z"
    assert record.find("o:metadata", NS) is None


def test_restricted_records_never_appear(client: TestClient) -> None:
    for verb in ("ListIdentifiers", "ListRecords"):
        headers, _ = follow(client, verb, metadataPrefix="oai_dc")
        assert identifier(RESTRICTED) not in [
            h.findtext("o:identifier", namespaces=NS) for h in headers
        ]
    for params in (
        {"verb": "GetRecord", "metadataPrefix": "oai_dc"},
        {"verb": "ListMetadataFormats"},
    ):
        root = request_oai(client, identifier=identifier(RESTRICTED), **params)
        assert oai_error(root) == "idDoesNotExist"
    sets = request_oai(client, verb="ListSets")
    assert STAFF_ONLY not in etree.tostring(sets).decode()
    in_staff_collection = request_oai(
        client, verb="GetRecord", identifier=identifier("DL-ART-02"), metadataPrefix="oai_dc"
    )
    assert [s.text for s in in_staff_collection.iterfind(".//o:setSpec", NS)] == ["kind:hien_vat"]
    assert in_staff_collection.find(".//dc:relation", NS) is None


def test_a_record_withdrawn_after_publication_is_reported_deleted(
    catalog_settings: Settings,
) -> None:
    withdrawn_at = BASE_TIME + timedelta(hours=200)

    def withdraw(session: Session) -> None:
        record = session.get_one(Record, WITHDRAWN)
        record.published_at = BASE_TIME
        record.access_level = "restricted"
        record.updated_at = withdrawn_at

    change(catalog_settings, withdraw)
    settings = dataclasses.replace(catalog_settings, public_base_url=PUBLIC_BASE)
    with TestClient(create_app(settings)) as client:
        root = request_oai(
            client, verb="ListRecords", metadataPrefix="oai_dc", **{"from": "2024-01-09"}
        )
        records = root.findall(".//o:record", NS)
        assert [r.findtext(".//o:identifier", namespaces=NS) for r in records] == [
            identifier(WITHDRAWN)
        ]
        assert records[0].find("o:header", NS).get("status") == "deleted"
        assert records[0].findtext(".//o:datestamp", namespaces=NS) == "2024-01-09T08:00:00Z"
        assert records[0].find("o:metadata", NS) is None
        root = request_oai(
            client, verb="GetRecord", identifier=identifier(WITHDRAWN), metadataPrefix="oai_dc"
        )
        assert root.find(".//o:header", NS).get("status") == "deleted"


# Requests: POST, echo, text


def test_post_answers_like_get(client: TestClient) -> None:
    params = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "kind:hien_vat"}
    response = client.post("/oai", data=params)
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    posted = assert_valid(response.content)
    got = request_oai(client, **params)
    assert etree.tostring(posted.find("o:ListIdentifiers", NS)) == etree.tostring(
        got.find("o:ListIdentifiers", NS)
    )
    assert posted.find("o:request", NS).attrib == params


def test_text_is_nfc_and_xml_safe(client: TestClient, catalog_settings: Settings) -> None:
    def garble(session: Session) -> None:
        record = session.get_one(Record, "DL-ICH-01")
        record.title = {"vi": "Đa\u0306\u0301k La\u0306\u0301k\x07"}
        record.description = {"vi": "Chuông\x00 đồng"}

    change(catalog_settings, garble)
    root = request_oai(
        client, verb="GetRecord", identifier=identifier("DL-ICH-01"), metadataPrefix="oai_dc"
    )
    assert root.findtext(".//dc:title", namespaces=NS) == "Đắk Lắk"
    assert root.findtext(".//dc:description", namespaces=NS) == "Chuông đồng"


# Every error condition


def _assert_bare_request(root: etree._Element) -> None:
    """After badVerb and badArgument the request element names the base URL only."""
    request = root.find("o:request", NS)
    assert request.attrib == {}
    assert request.text == f"{PUBLIC_BASE}/oai"


@pytest.mark.parametrize(
    "query",
    ["", "verb=", "verb=Harvest", "verb=Identify&verb=Identify", "verb=identify", "set=kind"],
)
def test_bad_verb(client: TestClient, query: str) -> None:
    root = request_oai(client, query=query) if query else request_oai(client)
    assert oai_error(root) == "badVerb"
    _assert_bare_request(root)


@pytest.mark.parametrize(
    "query",
    [
        "verb=Identify&metadataPrefix=oai_dc",  # illegal argument
        "verb=ListSets&set=kind",
        "verb=ListRecords",  # missing metadataPrefix
        "verb=GetRecord&metadataPrefix=oai_dc",  # missing identifier
        "verb=GetRecord&identifier=&metadataPrefix=oai_dc",
        "verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc",  # repeated
        "verb=ListRecords&metadataPrefix=oai_dc&set=a&set=b",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-13-01",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01T00:00:00",
        "verb=ListRecords&metadataPrefix=oai_dc&until=yesterday",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01T00:00:00.5Z",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01&until=2024-01-02T00:00:00Z",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-02&until=2024-01-01",
        "verb=ListRecords&metadataPrefix=oai%20dc",
        "verb=ListRecords&metadataPrefix=oai_dc&set=kind:",
        "verb=ListRecords&resumptionToken=abc&metadataPrefix=oai_dc",  # token is exclusive
        "verb=GetRecord&resumptionToken=abc",
        "verb=ListRecords&metadataPrefix=%FF",  # not UTF-8
    ],
)
def test_bad_argument(client: TestClient, query: str) -> None:
    root = request_oai(client, query=query)
    assert oai_error(root) == "badArgument"
    _assert_bare_request(root)


def test_bad_argument_for_a_post_that_is_not_a_form(client: TestClient) -> None:
    response = client.post(
        "/oai", content=b"verb=Identify", headers={"content-type": "application/json"}
    )
    assert oai_error(assert_valid(response.content)) == "badArgument"


def test_bad_argument_for_a_huge_post_speaks_the_visitors_language(client: TestClient) -> None:
    body = b"verb=Identify&x=" + b"a" * (oai_request.MAX_BODY_BYTES + 1)
    response = client.post(
        "/oai",
        content=body,
        headers={"content-type": oai_request.FORM_TYPE, "accept-language": "vi"},
    )
    root = assert_valid(response.content)
    assert oai_error(root) == "badArgument"
    assert root.findtext("o:error", namespaces=NS) == "Yêu cầu quá lớn."


def _first_token(client: TestClient, verb: str) -> str:
    root = request_oai(client, verb=verb, metadataPrefix="oai_dc")
    return str(root.find(f"o:{verb}/o:resumptionToken", NS).text)


def test_bad_resumption_token(client: TestClient, small_pages: int) -> None:
    token = _first_token(client, "ListRecords")
    body, digest = token.split(".")
    tampered = ("A" if body[0] != "A" else "B") + body[1:] + "." + digest
    forged = oai_request.encode_token(
        {"verb": "ListRecords", "prefix": "marc", "after": [], "cursor": 0}
    )
    for verb, bad in [
        ("ListRecords", "garbage"),
        ("ListRecords", tampered),
        ("ListRecords", token[:-1]),
        ("ListRecords", forged),
        ("ListIdentifiers", token),  # issued for another verb
        ("ListSets", token),
        ("ListRecords", ""),
    ]:
        root = request_oai(client, verb=verb, resumptionToken=bad)
        assert oai_error(root) == "badResumptionToken", (verb, bad)
        assert root.find("o:request", NS).attrib == {"verb": verb, "resumptionToken": bad}
    root = request_oai(client, verb="ListRecords", resumptionToken=token)
    assert len(root.findall(".//o:record", NS)) == 10


@pytest.mark.parametrize(
    "params",
    [
        {"verb": "ListRecords", "metadataPrefix": "marc21"},
        {"verb": "ListIdentifiers", "metadataPrefix": "marc21"},
        {"verb": "GetRecord", "metadataPrefix": "marc21", "identifier": identifier("DL-ART-01")},
        {"verb": "GetRecord", "metadataPrefix": "lido", "identifier": identifier("DL-ICH-01")},
    ],
)
def test_cannot_disseminate_format(client: TestClient, params: dict[str, str]) -> None:
    root = request_oai(client, **params)
    assert oai_error(root) == "cannotDisseminateFormat"
    assert root.find("o:request", NS).attrib == params


@pytest.mark.parametrize(
    "value",
    [
        identifier("DL-NONE-99"),
        "oai:other.example:DL-ART-01",
        "DL-ART-01",
        identifier(RESTRICTED),
        "not a uri",
    ],
)
def test_id_does_not_exist(client: TestClient, value: str) -> None:
    root = request_oai(client, verb="GetRecord", identifier=value, metadataPrefix="oai_dc")
    assert oai_error(root) == "idDoesNotExist"
    echoed = root.find("o:request", NS).get("identifier")
    assert echoed == (value if value.startswith("oai:") else None)  # only URIs are echoed


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2030-01-01"},
        {"until": "2023-12-31T23:59:59Z"},
        {"set": "kind:hien_vat", "from": "2024-01-01T06:00:00Z"},  # artefacts end at 05:00
    ],
)
def test_no_records_match(client: TestClient, params: dict[str, str]) -> None:
    root = request_oai(client, verb="ListRecords", metadataPrefix="oai_dc", **params)
    assert oai_error(root) == "noRecordsMatch"


def test_no_metadata_formats_when_an_item_has_none(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(oai_formats.FORMATS, "oai_dc")  # only LIDO left: relics have nothing
    root = request_oai(client, verb="ListMetadataFormats", identifier=identifier("DL-REL-01"))
    assert oai_error(root) == "noMetadataFormats"
    root = request_oai(client, verb="ListMetadataFormats", identifier=identifier(JAR))
    assert [e.text for e in root.iterfind(".//o:metadataPrefix", NS)] == ["lido"]


@pytest.mark.parametrize("code", sorted(oai.BARE_REQUEST_ERRORS | {oai_request.NO_SET_HIERARCHY}))
def test_every_error_code_renders_a_valid_document(code: str) -> None:
    # noSetHierarchy cannot happen here (the repository always has sets); its document must
    # still be valid should the protocol path ever raise it.
    request = oai_request.OAIRequest("ListSets", {})
    error = oai_request.OAIError(code, "message")
    root = assert_valid(oai.error_document("http://h.example/oai", BASE_TIME, request, error, "m"))
    assert oai_error(root) == code
    bare = code in oai.BARE_REQUEST_ERRORS
    assert root.find("o:request", NS).attrib == ({} if bare else {"verb": "ListSets"})


# The pure parsers


@pytest.mark.parametrize(
    ("from_text", "until_text", "start", "end"),
    [
        (None, None, None, None),
        ("2024-01-01", None, datetime(2024, 1, 1), None),
        (None, "2024-01-01", None, datetime(2024, 1, 2)),
        ("2024-02-29T23:59:59Z", None, datetime(2024, 2, 29, 23, 59, 59), None),
        (None, "2024-01-01T10:00:00Z", None, datetime(2024, 1, 1, 10, 0, 1)),
        ("2024-01-01", "2024-01-01", datetime(2024, 1, 1), datetime(2024, 1, 2)),
    ],
)
def test_parse_range(
    from_text: str | None, until_text: str | None, start: datetime | None, end: datetime | None
) -> None:
    assert oai_request.parse_range(from_text, until_text) == oai_request.DateRange(start, end)


@pytest.mark.parametrize(
    ("from_text", "until_text"),
    [
        ("2023-02-29", None),
        ("2024-01-01T24:00:00Z", None),
        ("２０２４-01-01", None),  # full-width digits
        ("2024-01-01", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:01Z", "2024-01-01T00:00:00Z"),
    ],
)
def test_parse_range_refuses(from_text: str | None, until_text: str | None) -> None:
    with pytest.raises(oai_request.OAIError) as caught:
        oai_request.parse_range(from_text, until_text)
    assert caught.value.oai_code == "badArgument"


def test_tokens_round_trip_and_carry_no_plain_arguments() -> None:
    harvest = oai_request.Harvest("lido", "kind:hien_vat", "2024-01-01", None)
    token = harvest.token("ListRecords", (datetime(2024, 1, 1, 5, 0, 0, 123456), "DL-ART-06"), 10)
    assert "lido" not in token and "&" not in token
    resumed = oai_request.harvest_from("ListRecords", {"resumptionToken": token})
    assert resumed == dataclasses.replace(
        harvest, after=(datetime(2024, 1, 1, 5, 0, 0, 123456), "DL-ART-06"), cursor=10
    )
