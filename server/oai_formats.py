"""Metadata formats of the OAI-PMH repository: Dublin Core for every record, LIDO for artefacts.

The crosswalks are pure: a :class:`~server.records.RecordBundle` (already
filtered by access level) and a :class:`Context` go in, an lxml element comes
out. Text is NFC and stripped of characters XML 1.0 cannot carry, so a stray
control character in the catalog can never turn a harvest into a server error.
Catalog text kept per language (titles, descriptions) carries ``xml:lang``;
free text of unknown language (locations, dating) carries none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from server.errors import N_
from server.i18n import localized, nfc
from server.models import Record
from server.records import RecordBundle
from server.search import split_list
from server.vocab import CONTENT_LANGUAGES, DESIGNATIONS, KINDS, SUBTYPES

Element = Any  # lxml ships no type information

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SCHEMA_LOCATION = f"{{{XSI_NS}}}schemaLocation"

DC_NS = "http://purl.org/dc/elements/1.1/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
LIDO_NS = "http://www.lido-schema.org"
LIDO_SCHEMA = "http://www.lido-schema.org/schema/v1.1/lido-v1.1.xsd"

# LIDO terminology (http://terminology.lido-schema.org/): identifier types, the
# item-level record type, the production event, material and technique, "human-made object".
LIDO_URI = "http://terminology.lido-schema.org/lido00099"
LIDO_LOCAL_ID = "http://terminology.lido-schema.org/lido00100"
LIDO_ITEM_RECORD = "http://terminology.lido-schema.org/lido00141"
LIDO_PRODUCTION = "http://terminology.lido-schema.org/lido00007"
LIDO_MATERIAL = "http://terminology.lido-schema.org/lido00132"
LIDO_TECHNIQUE = "http://terminology.lido-schema.org/lido00131"
LIDO_HUMAN_MADE = "http://terminology.lido-schema.org/lido00096"

ARTEFACT = "hien_vat"
PRIMARY_LANGUAGE = "vi"
UNRANKED = "chua_xep_hang"
PRODUCTION = N_("Production")
HUMAN_MADE_OBJECT = "Human-made object"
ITEM_LEVEL_RECORD = "Item-level record"
INVENTORY_NUMBER = "inventory number"
# DCMI Type Vocabulary terms where one fits the kind; intangible heritage has none.
DCMI_TYPES = {
    "hien_vat": "PhysicalObject",
    "di_tich": "PhysicalObject",
    "di_san_tu_lieu": "Text",
}
CREATOR_ROLES = frozenset({"creator", "author", "maker", "artist"})

# Characters XML 1.0 cannot carry: C0 controls other than tab/newline/CR, surrogates, U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """``value`` as it may appear in a response: NFC, without characters XML forbids."""
    return nfc(_NOT_XML.sub("", value))


def sub(
    parent: Element,
    tag: str,
    text: str | None = None,
    attrib: Mapping[str, str] | None = None,
) -> Element:
    """A child element with cleaned text and attributes."""
    child = etree.SubElement(parent, tag, {k: xml_text(v) for k, v in (attrib or {}).items()})
    if text is not None:
        child.text = xml_text(text)
    return child


@dataclass(frozen=True)
class Context:
    """What a crosswalk needs besides the record: names, addresses and labels."""

    repository_name: str
    repository_url: str
    item_url: Callable[[str], str]
    oai_identifier: Callable[[str], str]
    vi: Callable[[str], str]

    def label(self, msgid: str, lang: str) -> tuple[str, str]:
        """A vocabulary label in ``lang`` if the interface has it, else English: (text, lang)."""
        if lang == PRIMARY_LANGUAGE:
            return self.vi(msgid), PRIMARY_LANGUAGE
        return msgid, "en"


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    kinds: frozenset[str] | None  # None: every kind of record
    build: Callable[[RecordBundle, Context], Element]

    def available_for(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


def ordered_languages(values: Iterable[str]) -> list[str]:
    """Language codes with Vietnamese first, then the catalog's order, then any others."""
    rank = {lang: i for i, lang in enumerate(CONTENT_LANGUAGES)}
    return sorted(set(values), key=lambda lang: (rank.get(lang, len(rank)), lang))


def _per_language(values: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(lang, values[lang]) for lang in ordered_languages(values) if values[lang].strip()]


def year_range(earliest: int | None, latest: int | None) -> str:
    """W3CDTF years, or an ISO 8601 interval ``1904/1911``; empty when unknown."""
    years = [y for y in (earliest, latest) if y is not None]
    if not years:
        return ""
    parts = sorted({f"-{abs(y):04d}" if y < 0 else f"{y:04d}" for y in years})
    return "/".join(parts) if len(parts) == 2 else parts[0]


# Dublin Core

DCValue = tuple[str, str, str | None]  # element, text, language (None: unknown or neutral)


def _dc_titles(record: Record) -> list[DCValue]:
    titles: list[DCValue] = [("title", text, lang) for lang, text in _per_language(record.title)]
    titles += [("title", text, lang) for lang, text in _per_language(record.alt_titles)]
    return titles


def _dc_subjects(record: Record, ctx: Context) -> list[DCValue]:
    out: list[DCValue] = []
    if record.category:
        out.append(("subject", record.category, PRIMARY_LANGUAGE))
    msgids = [KINDS.get(record.kind, "")]
    msgids.append(SUBTYPES.get(record.subtype, ""))
    if record.designation != UNRANKED:
        msgids.append(DESIGNATIONS.get(record.designation, ""))
    for msgid in filter(None, msgids):
        out += [("subject", *ctx.label(msgid, lang)) for lang in (PRIMARY_LANGUAGE, "en")]
    out += [("subject", group, None) for group in split_list(record.ethnic_groups)]
    return out


def _dc_descriptions(record: Record) -> list[DCValue]:
    out: list[DCValue] = [
        ("description", text, lang) for lang, text in _per_language(record.description)
    ]
    out += [("description", text, lang) for lang, text in _per_language(record.significance)]
    return out


def _dc_agents(bundle: RecordBundle) -> list[DCValue]:
    out: list[DCValue] = []
    for link in bundle.agents:
        element = "creator" if link.role in CREATOR_ROLES else "contributor"
        out.append((element, localized(link.agent.name, PRIMARY_LANGUAGE), None))
    return out


def _dc_types(record: Record, ctx: Context) -> list[DCValue]:
    out: list[DCValue] = [
        ("type", *ctx.label(KINDS[record.kind], lang))
        for lang in (PRIMARY_LANGUAGE, "en")
        if record.kind in KINDS
    ]
    if record.kind in DCMI_TYPES:
        out.append(("type", DCMI_TYPES[record.kind], None))
    return out


def _dc_coverage(bundle: RecordBundle) -> list[DCValue]:
    record = bundle.record
    places = [localized(link.place.name, PRIMARY_LANGUAGE) for link in bundle.places]
    texts = [*places, record.location_current, record.location_historical]
    texts += [record.dating, record.period]
    return [("coverage", text, None) for text in dict.fromkeys(texts) if text.strip()]


def _dc_identifiers(record: Record, ctx: Context) -> list[DCValue]:
    values = [ctx.item_url(record.id), record.id]
    if record.registration_number:
        values.append(record.registration_number)
    return [("identifier", value, None) for value in values]


def _dc_languages(record: Record) -> list[DCValue]:
    # The catalog does not record the language of the item itself; these are the
    # languages the record is described in (docs/oai-pmh.md).
    languages = ordered_languages([*record.title, *record.description])
    return [("language", lang, None) for lang in languages]


def _dc_relations(bundle: RecordBundle) -> list[DCValue]:
    return [
        ("relation", text, lang)
        for collection in bundle.collections
        for lang, text in _per_language(collection.title)
    ]


def _dc_rights(record: Record) -> list[DCValue]:
    out: list[DCValue] = [
        ("rights", value, None) for value in (record.rights, record.rights_holder)
    ]
    out += [("rights", text, lang) for lang, text in _per_language(record.credit_line)]
    return out


def dublin_core(bundle: RecordBundle, ctx: Context) -> list[DCValue]:
    """Every Dublin Core statement about a record, in element order (see docs/oai-pmh.md)."""
    record = bundle.record
    dates = [year_range(record.date_earliest, record.date_latest)]
    formats = [record.dimensions, *record.materials]
    return [
        *_dc_titles(record),
        *_dc_agents(bundle),
        *_dc_subjects(record, ctx),
        *_dc_descriptions(record),
        *[("date", text, None) for text in dates if text],
        *_dc_types(record, ctx),
        *[("format", text, None) for text in formats if text.strip()],
        *_dc_identifiers(record, ctx),
        *[("source", url, None) for url in record.sources],
        *_dc_languages(record),
        *_dc_relations(bundle),
        *_dc_coverage(bundle),
        *_dc_rights(record),
    ]


def dc_element(values: Iterable[DCValue]) -> Element:
    """An ``oai_dc:dc`` element holding ``values`` (blank ones left out)."""
    root = etree.Element(
        f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS}
    )
    root.set(SCHEMA_LOCATION, f"{OAI_DC_NS} {OAI_DC_SCHEMA}")
    for name, text, lang in values:
        if text.strip():
            sub(root, f"{{{DC_NS}}}{name}", text, {XML_LANG: lang} if lang else None)
    return root


def oai_dc(bundle: RecordBundle, ctx: Context) -> Element:
    return dc_element(dublin_core(bundle, ctx))


def set_description(english_name: str, descriptions: Mapping[str, str]) -> Element:
    """The ``setDescription`` of a set: its English name and its descriptions, as oai_dc."""
    values: list[DCValue] = [("title", english_name, "en")]
    values += [("description", text, lang) for lang, text in _per_language(descriptions)]
    return dc_element(values)


# LIDO 1.1


def _l(name: str) -> str:
    return f"{{{LIDO_NS}}}{name}"


def _lido_attr(name: str) -> str:
    return f"{{{LIDO_NS}}}{name}"


def _concept(parent: Element, tag: str, uri: str, terms: Iterable[tuple[str, str]]) -> Element:
    element = sub(parent, _l(tag))
    sub(element, _l("conceptID"), uri, {_lido_attr("type"): LIDO_URI})
    for text, lang in terms:
        sub(element, _l("term"), text, {XML_LANG: lang})
    return element


def _terms(parent: Element, tag: str, terms: Iterable[tuple[str, str | None]]) -> None:
    """One ``tag`` element per term, each a concept given by its term only."""
    for text, lang in terms:
        element = sub(parent, _l(tag))
        sub(element, _l("term"), text, {XML_LANG: lang} if lang else None)


def _appellation(parent: Element, tag: str, text: str, lang: str | None = None) -> Element:
    element = sub(parent, _l(tag))
    sub(element, _l("appellationValue"), text, {XML_LANG: lang} if lang else None)
    return element


def _classification(parent: Element, record: Record, ctx: Context, lang: str) -> None:
    wrap = sub(parent, _l("objectClassificationWrap"))
    work_types = sub(wrap, _l("objectWorkTypeWrap"))
    if lang == PRIMARY_LANGUAGE and record.category:
        _terms(work_types, "objectWorkType", [(record.category, PRIMARY_LANGUAGE)])
    else:
        _terms(work_types, "objectWorkType", [ctx.label(KINDS[ARTEFACT], lang)])
    msgids = [SUBTYPES.get(record.subtype, "")]
    if record.designation != UNRANKED:
        msgids.append(DESIGNATIONS.get(record.designation, ""))
    labels = [ctx.label(msgid, lang) for msgid in msgids if msgid]
    if labels:
        _terms(sub(wrap, _l("classificationWrap")), "classification", labels)


def _titles(parent: Element, record: Record, lang: str) -> None:
    wrap = sub(parent, _l("titleWrap"))
    title = record.title.get(lang) or localized(record.title, lang)
    titles = sub(wrap, _l("titleSet"), attrib={_lido_attr("pref"): "preferred"})
    sub(titles, _l("appellationValue"), title, {XML_LANG: lang})
    if record.alt_titles.get(lang):
        alternative = sub(wrap, _l("titleSet"), attrib={_lido_attr("pref"): "alternative"})
        sub(alternative, _l("appellationValue"), record.alt_titles[lang], {XML_LANG: lang})


def _repository(parent: Element, record: Record) -> None:
    if not (record.location_current or record.registration_number):
        return
    repository = sub(sub(parent, _l("repositoryWrap")), _l("repositorySet"))
    if record.location_current:
        sub(repository, _l("displayRepository"), record.location_current)
    if record.registration_number:
        inventory = {_lido_attr("type"): INVENTORY_NUMBER}
        sub(repository, _l("workID"), record.registration_number, inventory)


def _identification(parent: Element, record: Record, lang: str) -> None:
    wrap = sub(parent, _l("objectIdentificationWrap"))
    _titles(wrap, record, lang)
    if lang == PRIMARY_LANGUAGE:
        _repository(wrap, record)
    description = record.description.get(lang, "").strip()
    if description:
        notes = sub(sub(wrap, _l("objectDescriptionWrap")), _l("objectDescriptionSet"))
        sub(notes, _l("descriptiveNoteValue"), description, {XML_LANG: lang})
    if lang == PRIMARY_LANGUAGE and record.dimensions.strip():
        measurements = sub(sub(wrap, _l("objectMeasurementsWrap")), _l("objectMeasurementsSet"))
        sub(measurements, _l("displayObjectMeasurements"), record.dimensions)


def _has_production(record: Record) -> bool:
    facts = (record.materials, record.techniques, record.dating, record.period)
    return any(facts) or record.date_earliest is not None or bool(split_list(record.ethnic_groups))


def _event_date(event: Element, record: Record) -> None:
    if not (record.dating or record.date_earliest is not None or record.date_latest is not None):
        return
    date_set = sub(event, _l("eventDate"))
    if record.dating:
        sub(date_set, _l("displayDate"), record.dating)
    if record.date_earliest is not None or record.date_latest is not None:
        span = sub(date_set, _l("date"))
        earliest = record.date_earliest if record.date_earliest is not None else record.date_latest
        latest = record.date_latest if record.date_latest is not None else record.date_earliest
        sub(span, _l("earliestDate"), year_range(earliest, None))
        sub(span, _l("latestDate"), year_range(latest, None))


def _materials_tech(event: Element, record: Record) -> None:
    if not (record.materials or record.techniques):
        return
    wrap = sub(event, _l("eventMaterialsTech"))
    sub(wrap, _l("displayMaterialsTech"), "; ".join([*record.materials, *record.techniques]))
    terms = sub(wrap, _l("materialsTech"))
    typed = [(m, LIDO_MATERIAL) for m in record.materials]
    typed += [(t, LIDO_TECHNIQUE) for t in record.techniques]
    for text, kind in typed:
        term = sub(terms, _l("termMaterialsTech"), attrib={_lido_attr("type"): kind})
        sub(term, _l("term"), text)


def _production(parent: Element, record: Record, ctx: Context) -> None:
    """The production event: who made it (culture), when, of what and how, where known."""
    if not _has_production(record):
        return
    event = sub(sub(sub(parent, _l("eventWrap")), _l("eventSet")), _l("event"))
    _concept(
        event,
        "eventType",
        LIDO_PRODUCTION,
        [ctx.label(PRODUCTION, PRIMARY_LANGUAGE), (PRODUCTION, "en")],
    )
    _terms(event, "culture", [(group, None) for group in split_list(record.ethnic_groups)])
    _event_date(event, record)
    if record.period:
        _terms(event, "periodName", [(record.period, None)])
    _materials_tech(event, record)


def _descriptive(root: Element, record: Record, ctx: Context, lang: str) -> None:
    block = sub(root, _l("descriptiveMetadata"), attrib={XML_LANG: lang})
    _classification(block, record, ctx, lang)
    _identification(block, record, lang)
    if lang == PRIMARY_LANGUAGE:
        _production(block, record, ctx)


def _rights(parent: Element, record: Record) -> None:
    credit_lines = _per_language(record.credit_line)
    if not (record.rights or record.rights_holder or credit_lines):
        return
    rights = sub(sub(parent, _l("rightsWorkWrap")), _l("rightsWorkSet"))
    if record.rights:
        rights_type = sub(rights, _l("rightsType"))
        sub(rights_type, _l("conceptID"), record.rights, {_lido_attr("type"): LIDO_URI})
    if record.rights_holder:
        holder = sub(rights, _l("rightsHolder"))
        _appellation(holder, "legalBodyName", record.rights_holder)
    for lang, text in credit_lines:
        sub(rights, _l("creditLine"), text, {XML_LANG: lang})


def _record_wrap(parent: Element, bundle: RecordBundle, ctx: Context) -> None:
    record = bundle.record
    wrap = sub(parent, _l("recordWrap"))
    sub(wrap, _l("recordID"), record.id, {_lido_attr("type"): LIDO_LOCAL_ID})
    _concept(wrap, "recordType", LIDO_ITEM_RECORD, [(ITEM_LEVEL_RECORD, "en")])
    source = sub(wrap, _l("recordSource"))
    _appellation(source, "legalBodyName", ctx.repository_name)
    sub(source, _l("legalBodyWeblink"), ctx.repository_url)
    info = sub(wrap, _l("recordInfoSet"))
    sub(info, _l("recordInfoLink"), ctx.item_url(record.id))
    sub(info, _l("recordMetadataDate"), record.updated_at.isoformat(timespec="seconds") + "Z")
    for collection in bundle.collections:
        title = localized(collection.title, PRIMARY_LANGUAGE)
        sub(sub(wrap, _l("collection")), _l("displayObject"), title)


def lido(bundle: RecordBundle, ctx: Context) -> Element:
    """A LIDO 1.1 ``lido:lido`` record of an artefact: one descriptive block per title language."""
    record = bundle.record
    root = etree.Element(_l("lido"), nsmap={"lido": LIDO_NS, "xsi": XSI_NS})
    root.set(SCHEMA_LOCATION, f"{LIDO_NS} {LIDO_SCHEMA}")
    rec_id = {_lido_attr("type"): LIDO_LOCAL_ID, _lido_attr("source"): ctx.repository_name}
    sub(root, _l("lidoRecID"), ctx.oai_identifier(record.id), rec_id)
    sub(root, _l("objectPublishedID"), ctx.item_url(record.id), {_lido_attr("type"): LIDO_URI})
    _concept(root, "category", LIDO_HUMAN_MADE, [(HUMAN_MADE_OBJECT, "en")])
    for lang in ordered_languages([PRIMARY_LANGUAGE, *record.title]):
        _descriptive(root, record, ctx, lang)
    admin = sub(root, _l("administrativeMetadata"), attrib={XML_LANG: PRIMARY_LANGUAGE})
    _rights(admin, record)
    _record_wrap(admin, bundle, ctx)
    return root


FORMATS: dict[str, MetadataFormat] = {
    "oai_dc": MetadataFormat("oai_dc", OAI_DC_SCHEMA, OAI_DC_NS, None, oai_dc),
    "lido": MetadataFormat("lido", LIDO_SCHEMA, LIDO_NS, frozenset({ARTEFACT}), lido),
}


def formats_for(kind: str) -> list[MetadataFormat]:
    return [fmt for fmt in FORMATS.values() if fmt.available_for(kind)]
