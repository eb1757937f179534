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
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    column,
    delete,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from server.models import (
    RECORD_KINDS,
    Agent,
    Asset,
    AssetText,
    Place,
    Record,
    RecordAgent,
    RecordFacet,
    RecordPlace,
    RecordSearch,
)
from server.policy import PUBLISHED
from server.visibility import record_shown
from server.vocab import ACCESS_LEVELS, GUIDE_ROLE, PUBLIC_ACCESS

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
UNPUBLISHED = "unpublished"  # the index's access value of drafts, records in review, withdrawn
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

# Facet and access values become single index tokens: "zz", a facet letter, the folded
# value without spaces. No Vietnamese or Êđê word starts with "zz", so they never
# collide with text, and filters run inside FTS5/tsvector instead of as joins.
TAG_CODES = {
    "access": "a",
    "kind": "k",
    "designation": "d",
    "digitization": "s",
    "ethnic_group": "g",
    "place": "p",
    "material": "m",
    "period": "t",
    "media": "x",
}


EVERY_RECORD = "zzall"  # the base of a query that has filters but no words


def tag(facet: str, value: str) -> str:
    return "zz" + TAG_CODES[facet] + fold(value).replace(" ", "")


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
        .where(Asset.access_level.in_(PUBLIC_ACCESS), Asset.role != GUIDE_ROLE)
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


def _media_texts(session: Session, record_id: str) -> list[object]:
    """Text read from the record's published public media (document OCR), as searchable body."""
    rows = session.scalars(
        select(AssetText.text)
        .join(Asset, Asset.id == AssetText.asset_id)
        .where(Asset.record_id == record_id, Asset.access_level.in_(PUBLIC_ACCESS))
        .where(AssetText.version == Asset.published_version, AssetText.status == "accepted")
        .order_by(Asset.position, Asset.id)
    ).all()
    return list(rows)


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
            *_media_texts(session, record.id),
        ]
    )
    facets = record_facets(session, record)
    access = "deleted" if record.deleted_at is not None else record.access_level
    if access != "deleted" and record.status != PUBLISHED:
        access = UNPUBLISHED  # no facet count or hit for anyone; embargoes are checked per query
    row = session.get(RecordSearch, record.id) or RecordSearch(record_id=record.id)
    row.title, row.body, row.exact = fold(title), fold(body), exact_form(f"{title} {body}")
    row.access = access
    row.tags = " ".join(
        sorted({EVERY_RECORD, tag("access", access), *(tag(f, v) for f, v in facets)})
    )
    session.add(row)
    session.execute(delete(RecordFacet).where(RecordFacet.record_id == record.id))
    session.add_all(RecordFacet(record_id=record.id, facet=f, value=v) for f, v in facets)
    session.flush()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM record_fts WHERE record_id = :id"), {"id": record.id})
        session.execute(
            text(
                "INSERT INTO record_fts (record_id, title, body, tags)"
                " VALUES (:id, :title, :body, :tags)"
            ),
            {"id": record.id, "title": row.title, "body": row.body, "tags": row.tags},
        )


# Querying

# Facet counts are exact up to this many hits; beyond it they are counted over the
# best-ranked hits only (flagged ``facets_complete=False``). Counting every facet row of
# tens of thousands of hits would cost more than the search itself.
FACET_WINDOW = 1000
RANK_LIMIT = 2000
COUNT_LIMIT = 5_000
MIN_PREFIX_LENGTH = 3
FTS = table(
    "record_fts", column("record_id", String()), column("title"), column("body"), column("tags")
)


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
    facets_complete: bool = True
    total_exact: bool = True


@dataclass(frozen=True)
class TagFilter:
    """Facet filters (OR within a group, AND across groups) and access tags to exclude.

    Access is filtered by *excluding* the levels not asked for: public records are
    nearly all of them, and intersecting with a tag every record carries would cost
    every query a pass over the whole posting list.
    """

    groups: list[list[str]]
    excluded: list[str]


def _tag_filter(query: SearchQuery) -> TagFilter:
    groups = [
        [tag(name, v) for v in values]
        for name, values in query.filters.items()
        if name in TAG_CODES and name != "access" and values
    ]
    hidden = [
        level
        for level in (*ACCESS_LEVELS, "deleted", UNPUBLISHED)
        if level not in query.access_levels
    ]
    return TagFilter(groups, [tag("access", level) for level in hidden])


def _is_prefix(tokens: list[str], index: int) -> bool:
    """Only the last word is completed ("chie" finds "chiêng"), and only from three letters:
    a one- or two-letter prefix matches most Vietnamese syllables."""
    return index == len(tokens) - 1 and len(tokens[index]) >= MIN_PREFIX_LENGTH


def _fts_match(tokens: list[str], tags: TagFilter, columns: str = "{title body}") -> str:
    """An FTS5 MATCH expression; every token is [a-z0-9] only, so quoting is safe."""
    parts = [
        f'{columns} : "{t}"' + ("*" if _is_prefix(tokens, i) else "") for i, t in enumerate(tokens)
    ]
    parts += ["tags : (" + " OR ".join(f'"{t}"' for t in group) + ")" for group in tags.groups]
    expression = " AND ".join(parts) or f'tags : "{EVERY_RECORD}"'
    if tags.excluded:
        excluded = " OR ".join(f'"{t}"' for t in tags.excluded)
        expression = f"({expression}) NOT (tags : ({excluded}))"
    return expression


def _tsquery(tokens: list[str], tags: TagFilter, weights: str = "AB") -> str:
    """A to_tsquery expression: text tokens in title or body (weights A, B), tags in D."""
    parts = [f"{t}:{'*' if _is_prefix(tokens, i) else ''}{weights}" for i, t in enumerate(tokens)]
    parts += ["(" + " | ".join(f"{t}:D" for t in group) + ")" for group in tags.groups]
    expression = " & ".join(parts) or f"{EVERY_RECORD}:D"
    if tags.excluded:
        expression = f"({expression}) & !(" + " | ".join(f"{t}:D" for t in tags.excluded) + ")"
    return expression


def _ranked(
    session: Session,
    tokens: list[str],
    groups: TagFilter,
    allowed: tuple[str, ...],
    title_only: bool = False,
) -> tuple[Select[str, float], Any]:
    """``(record_id, score)`` of every match, lower score = better, and the count expression."""
    if session.get_bind().dialect.name == "sqlite":
        expression = _fts_match(tokens, groups, "{title}" if title_only else "{title body}")
        match = text("record_fts MATCH :match").bindparams(match=expression)
        score: ColumnElement[float] = literal_column(
            f"bm25(record_fts, 0.0, {TITLE_WEIGHT}, {BODY_WEIGHT}, 0.0)"
        )
        if not tokens:
            score = literal_column("0.0", Float())
        hits = select(FTS.c.record_id.label("record_id"), score.label("score")).where(match)
        count = select(func.count()).select_from(FTS).where(match)
        return hits, count
    # PostgreSQL: the access level is a plain column. The heap row is read anyway (to rank
    # and to recheck), so this filter is free, where a negated tsquery term is not.
    condition: ColumnElement[bool] = RecordSearch.access.in_(tuple(allowed))
    expression = _tsquery(tokens, replace(groups, excluded=[]), "A" if title_only else "AB")
    tsv: ColumnElement[str] = literal_column("record_search.tsv")
    rank: ColumnElement[float] = literal_column("0.0", Float())
    if tokens or groups.groups:
        tsquery = func.to_tsquery("simple", expression)
        condition = and_(condition, tsv.op("@@")(tsquery))
        if tokens:
            rank = -func.ts_rank(tsv, tsquery)
    hits = select(RecordSearch.record_id.label("record_id"), rank.label("score")).where(condition)
    count = select(func.count()).select_from(RecordSearch).where(condition)
    return hits, count


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, query: SearchQuery) -> SearchPage:
    """One page of matching record ids (best first), the total, and facet counts.

    Up to RANK_LIMIT hits are ranked by relevance (bm25 / ts_rank). A broader query
    ("buôn" matches half a catalog) lists title matches first, then the rest, without
    scoring every hit; its total is exact up to COUNT_LIMIT and its facets cover the
    first FACET_WINDOW hits. Both are flagged, so no one mistakes them for exact.
    """
    tokens = query_tokens(query.text)
    groups = _tag_filter(query)
    hits, _ = _ranked(session, tokens, groups, query.access_levels)
    for word in exact_form(query.text).split()[:MAX_QUERY_TOKENS] if query.exact else []:
        exact = select(RecordSearch.record_id).where(
            RecordSearch.exact.like(f"%{_escape_like(word)}%", escape="\\")
        )
        hits = hits.where(hits.selected_columns.record_id.in_(exact))
    counted = session.scalar(
        select(func.count()).select_from(hits.limit(COUNT_LIMIT + 1).subquery())
    )
    total = min(int(counted or 0), COUNT_LIMIT)
    limit = max(1, min(query.limit, MAX_PER_PAGE))
    offset = max(0, query.offset)
    wanted = max(FACET_WINDOW, offset + limit)
    if total <= RANK_LIMIT:
        top = _best(session, hits, tokens, wanted)
    else:
        title_hits, _ = (
            _ranked(session, tokens, groups, query.access_levels, title_only=True)
            if tokens
            else (hits, None)
        )
        top = _first(session, title_hits if not query.exact else hits, wanted)
        if len(top) < wanted:
            seen = set(top)
            top += [i for i in _first(session, hits, wanted + len(top)) if i not in seen][
                : wanted - len(top)
            ]
    page = _visible_only(session, top[offset : offset + limit], query.access_levels)
    return SearchPage(
        page,
        total,
        _facet_counts(session, top[:FACET_WINDOW]),
        facets_complete=total <= FACET_WINDOW,
        total_exact=int(counted or 0) <= COUNT_LIMIT,
    )


def _best(session: Session, hits: Select[str, float], tokens: list[str], n: int) -> list[str]:
    """The ``n`` best hits: by relevance, or (no search words) by kind then id."""
    ranked = hits.subquery("hits")
    if tokens:
        ordered = select(ranked.c.record_id).order_by(ranked.c.score, ranked.c.record_id)
    else:
        ordered = (
            select(ranked.c.record_id)
            .join(Record, Record.id == ranked.c.record_id)
            .order_by(_kind_order(), Record.id)
        )
    return [str(i) for i in session.scalars(ordered.limit(n))]


def _first(session: Session, hits: Select[str, float], n: int) -> list[str]:
    """Any ``n`` hits in index order: no scoring, for very broad queries."""
    return [str(i) for i in session.scalars(select(hits.subquery().c.record_id).limit(n))]


def _facet_counts(session: Session, ids: list[str]) -> dict[str, dict[str, int]]:
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    if not ids:
        return facets
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: an IN list of 2,000 parameters costs PostgreSQL more to plan
        # than to run.
        member = RecordFacet.record_id == any_(bindparam("ids", ids, type_=ARRAY(String())))
    else:
        member = RecordFacet.record_id.in_(ids)
    rows = session.execute(
        select(RecordFacet.facet, RecordFacet.value, func.count())
        .where(member)
        .group_by(RecordFacet.facet, RecordFacet.value)
    )
    for facet_name, value, n in rows:
        facets.setdefault(facet_name, {})[value] = int(n)
    return facets


def _visible_only(session: Session, ids: list[str], access_levels: tuple[str, ...]) -> list[str]:
    """The index is refreshed by index_record(); should a caller forget, a hidden or
    deleted record must still never be shown, so the page is checked against the table."""
    if not ids:
        return []
    shown = set(
        session.scalars(select(Record.id).where(Record.id.in_(ids), record_shown(access_levels)))
    )
    return [record_id for record_id in ids if record_id in shown]


def _kind_order() -> ColumnElement[int]:
    """Browse order: the plan's four kinds in their usual order."""
    return case(
        {kind: i for i, kind in enumerate(RECORD_KINDS)}, value=Record.kind, else_=len(RECORD_KINDS)
    )
