"""Vietnamese catalog search: diacritic-insensitive, ranked, faceted, on SQLite and PostgreSQL.

Text is *folded* in Python before it is indexed and before it is queried
(lower case, no tone or vowel marks, đ→d, ƀ→b, č→c, apostrophes dropped), so
both engines see the same tokens: "cong chieng" finds "Cồng chiêng", "dak lak"
finds "Đắk Lắk", "mnong" finds "M'nông". SQLite indexes the folded text with
FTS5 (ranked by bm25); PostgreSQL with a weighted ``tsvector`` (ranked by
``ts_rank_cd``). The unfolded NFC text is kept too, for the ``exact`` mode
that scholars need to tell Êđê b from ƀ.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    case,
    delete,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session

from server.models import (
    RECORD_KINDS,
    Agent,
    Asset,
    Place,
    Record,
    RecordAgent,
    RecordFacet,
    RecordPlace,
    RecordSearch,
)
from server.vocab import PUBLIC_ACCESS

FACETS = (
    "kind",
    "designation",
    "ethnic_group",
    "place",
    "material",
    "period",
    "media",
    "digitization",
)
MAX_QUERY_TOKENS = 12
MAX_TOKEN_LENGTH = 64
MAX_PER_PAGE = 100
TITLE_WEIGHT = 10.0
BODY_WEIGHT = 1.0

_LETTER_FOLDS = str.maketrans({"đ": "d", "ƀ": "b", "č": "c", "ñ": "n"})
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bb\u02bc`]")
_NON_WORD = re.compile(r"[^\w]+")
_EMPTY_VALUES = {"", "—", "-", "others", "various"}


def fold(text: str) -> str:
    """Lower-case ASCII-ish tokens separated by single spaces (see the module docstring)."""
    lowered = unicodedata.normalize("NFC", text).lower().translate(_LETTER_FOLDS)
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", lowered) if not unicodedata.combining(c)
    )
    joined = _APOSTROPHES.sub("", stripped)  # H'Yim and M'nông stay one word
    return _NON_WORD.sub(" ", joined.replace("_", " ")).strip()


def exact_form(text: str) -> str:
    """NFC, lower case: keeps every mark, for diacritic-exact matching."""
    return unicodedata.normalize("NFC", text).lower()


def query_tokens(query: str) -> list[str]:
    return [t[:MAX_TOKEN_LENGTH] for t in fold(query).split()][:MAX_QUERY_TOKENS]


def split_list(value: str) -> list[str]:
    """``"Êđê; M'nông; Jrai"`` → ``["Êđê", "M'nông", "Jrai"]`` (empty markers dropped)."""
    parts = (unicodedata.normalize("NFC", p.strip()) for p in value.split(";"))
    return [p for p in parts if p.lower() not in _EMPTY_VALUES]


# Indexing


def _texts(values: Iterable[object]) -> str:
    out: list[str] = []
    for value in values:
        if isinstance(value, dict):
            out.extend(str(v) for v in value.values() if v)
        elif isinstance(value, list | tuple):
            out.extend(str(v) for v in value if v)
        elif value:
            out.append(str(value))
    return " ".join(out)


def record_facets(session: Session, record: Record) -> set[tuple[str, str]]:
    facets = {("kind", record.kind), ("designation", record.designation)}
    facets.add(("digitization", record.digitization_status))
    facets.update(("ethnic_group", g) for g in split_list(record.ethnic_groups))
    facets.update(("material", m) for m in record.materials if m)
    if record.period:
        facets.add(("period", record.period))
    place_ids = session.scalars(
        select(RecordPlace.place_id).where(RecordPlace.record_id == record.id)
    )
    facets.update(("place", p) for p in place_ids)
    media = session.scalars(
        select(Asset.kind)
        .where(Asset.record_id == record.id, Asset.published_version.is_not(None))
        .where(Asset.access_level.in_(PUBLIC_ACCESS))
        .distinct()
    )
    facets.update(("media", m) for m in media)
    return {(f, v[:255]) for f, v in facets if v}


def _related_names(session: Session, record_id: str) -> list[object]:
    places = session.scalars(
        select(Place)
        .join(RecordPlace, RecordPlace.place_id == Place.id)
        .where(RecordPlace.record_id == record_id)
    ).all()
    agents = session.scalars(
        select(Agent.name)
        .join(RecordAgent, RecordAgent.agent_id == Agent.id)
        .where(RecordAgent.record_id == record_id)
    ).all()
    names: list[object] = [p.name for p in places]
    names.extend([p.commune_current, p.district_historical] for p in places)
    names.extend(agents)
    return names


def index_record(session: Session, record: Record) -> None:
    """(Re)write the search row and facet rows of one record; call after every change."""
    session.flush()
    title = _texts([record.title, record.alt_titles, record.registration_number, record.id])
    body = _texts(
        [
            record.description,
            record.significance,
            record.category,
            record.ranking,
            record.ethnic_groups,
            record.location_current,
            record.location_historical,
            record.materials,
            record.techniques,
            record.period,
            record.dating,
            record.decision_note,
            *_related_names(session, record.id),
        ]
    )
    row = session.get(RecordSearch, record.id) or RecordSearch(record_id=record.id)
    row.title, row.body, row.exact = fold(title), fold(body), exact_form(f"{title} {body}")
    session.add(row)
    session.execute(delete(RecordFacet).where(RecordFacet.record_id == record.id))
    session.add_all(
        RecordFacet(record_id=record.id, facet=f, value=v)
        for f, v in record_facets(session, record)
    )
    session.flush()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM record_fts WHERE record_id = :id"), {"id": record.id})
        session.execute(
            text("INSERT INTO record_fts (record_id, title, body) VALUES (:id, :title, :body)"),
            {"id": record.id, "title": row.title, "body": row.body},
        )


def reindex_all(session: Session) -> int:
    records = session.scalars(select(Record)).all()
    for record in records:
        index_record(session, record)
    return len(records)


# Querying


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    access_levels: tuple[str, ...] = PUBLIC_ACCESS
    exact: bool = False
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True)
class SearchPage:
    ids: list[str]
    total: int
    facets: dict[str, dict[str, int]]


def _matches(session: Session, tokens: list[str]) -> Select[str, float] | None:
    """``(record_id, score)`` of full-text matches, lower score = better; None for no text."""
    if not tokens:
        return None
    if session.get_bind().dialect.name == "sqlite":
        match = " AND ".join(f'"{t}"*' for t in tokens)
        score: ColumnElement[float] = literal_column(
            f"bm25(record_fts, 0.0, {TITLE_WEIGHT}, {BODY_WEIGHT})"
        )
        return (
            select(literal_column("record_id", String()).label("record_id"), score.label("score"))
            .select_from(text("record_fts"))
            .where(text("record_fts MATCH :match").bindparams(match=match))
        )
    tsquery = func.to_tsquery("simple", " & ".join(f"{t}:*" for t in tokens))
    tsv: ColumnElement[str] = literal_column("record_search.tsv")
    return select(
        RecordSearch.record_id.label("record_id"), (-func.ts_rank_cd(tsv, tsquery)).label("score")
    ).where(tsv.op("@@")(tsquery))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, query: SearchQuery) -> SearchPage:
    """One page of matching record ids (best first), the total, and facet counts."""
    tokens = query_tokens(query.text)
    conditions = [Record.deleted_at.is_(None), Record.access_level.in_(query.access_levels)]
    for facet_name, values in query.filters.items():
        if values:
            chosen = select(RecordFacet.record_id).where(
                RecordFacet.facet == facet_name, RecordFacet.value.in_(values)
            )
            conditions.append(Record.id.in_(chosen))
    if query.exact:
        for word in exact_form(query.text).split()[:MAX_QUERY_TOKENS]:
            pattern = f"%{_escape_like(word)}%"
            conditions.append(
                Record.id.in_(
                    select(RecordSearch.record_id).where(
                        RecordSearch.exact.like(pattern, escape="\\")
                    )
                )
            )
    matches = _matches(session, tokens)
    if matches is None:
        base: Select[str, float] = select(
            Record.id.label("record_id"), literal_column("0.0", Float()).label("score")
        ).where(and_(*conditions))
        order = [_kind_order(), Record.id]
    else:
        hits = matches.subquery("hits")
        base = (
            select(hits.c.record_id, hits.c.score)
            .join(Record, Record.id == hits.c.record_id)
            .where(and_(*conditions))
        )
        order = [hits.c.score, hits.c.record_id]
    found = base.subquery("found")
    total = session.scalar(select(func.count()).select_from(found)) or 0
    limit = max(1, min(query.limit, MAX_PER_PAGE))
    page = (
        session.execute(base.order_by(*order).offset(max(0, query.offset)).limit(limit))
        .scalars()
        .all()
    )
    facet_rows = session.execute(
        select(RecordFacet.facet, RecordFacet.value, func.count())
        .where(RecordFacet.record_id.in_(select(found.c.record_id)))
        .group_by(RecordFacet.facet, RecordFacet.value)
    ).all()
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for facet_name, value, count in facet_rows:
        facets.setdefault(facet_name, {})[value] = int(count)
    return SearchPage(ids=[str(i) for i in page], total=int(total), facets=facets)


def _kind_order() -> ColumnElement[int]:
    """Browse order: the plan's four kinds in their usual order."""
    return case(
        {kind: i for i, kind in enumerate(RECORD_KINDS)}, value=Record.kind, else_=len(RECORD_KINDS)
    )
