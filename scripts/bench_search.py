"""Search latency over a generated catalog, on SQLite (FTS5) and PostgreSQL (tsvector).

Usage: python scripts/bench_search.py [--records 100000] [--queries 200] [--engines sqlite,postgresql]

Prints a Markdown section for docs/benchmarks.md: p50/p95 of the museum's
search (ranked hits + total + facet counts) beside the reference a plain
implementation would use — a LIKE scan over the same folded text with the
same count and facets — as a ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import and_, create_engine, func, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.db import Database
from server.migrate import upgrade
from server.models import Record, RecordFacet, RecordSearch
from server.search import EVERY_RECORD, SearchPage, SearchQuery, fold, query_tokens, search, tag

GOAL_P95_MS = 50.0
BATCH = 5000
SEED = 20261121
POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

INITIALS = [
    "b",
    "c",
    "ch",
    "d",
    "đ",
    "g",
    "gi",
    "h",
    "k",
    "kh",
    "l",
    "m",
    "n",
    "ng",
    "nh",
    "p",
    "ph",
    "r",
    "s",
    "t",
    "th",
    "tr",
    "v",
    "x",
    "ƀ",
    "č",
    "kr",
    "bl",
    "dr",
    "hr",
    "ml",
]
RHYMES = [
    "a",
    "ai",
    "an",
    "ang",
    "anh",
    "ao",
    "at",
    "ay",
    "e",
    "em",
    "en",
    "eng",
    "i",
    "ia",
    "in",
    "inh",
    "it",
    "o",
    "oi",
    "on",
    "ong",
    "ô",
    "ôi",
    "ông",
    "ơ",
    "ơi",
    "ơn",
    "u",
    "ui",
    "un",
    "ung",
    "ư",
    "ưa",
    "ưng",
    "uyên",
    "iêng",
]
TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]
# Words that many records share, as "lễ hội", "di tích" or "Đắk Lắk" do in a real catalog.
COMMON = ["lễ hội", "di tích", "đắk lắk", "buôn", "cồng chiêng", "nhà dài", "người êđê", "m'nông"]
NAMES = ["Y Wang", "H'Yim", "Ama Thuột", "Ƀlă", "Kê̆č", "M'nông", "Êđê", "Jrai", "Ba Na", "Kinh"]
PLACES = [
    "Buôn Ma Thuột",
    "Buôn Đôn",
    "Lắk",
    "Krông Ana",
    "Ea H'Leo",
    "Cư M'gar",
    "Tuy Hòa",
    "Sông Cầu",
]
KINDS = ["di_san_phi_vat_the", "di_tich", "hien_vat", "di_san_tu_lieu"]
DESIGNATIONS = [
    "unesco",
    "di_tich_quoc_gia",
    "cap_tinh",
    "danh_muc_quoc_gia",
    "kiem_ke",
    "chua_xep_hang",
]
GROUPS = ["Êđê", "M'nông", "Jrai", "Kinh", "Ba Na", "Chăm"]
MATERIALS = ["đồng", "gỗ", "gốm", "đá", "vải", "giấy"]


def syllable(rng: random.Random) -> str:
    import unicodedata

    word = rng.choice(INITIALS) + rng.choice(RHYMES) + rng.choice(TONES)
    return unicodedata.normalize("NFC", word)


def phrase(rng: random.Random, low: int, high: int) -> str:
    words = [syllable(rng) for _ in range(rng.randint(low, high))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(COMMON))
    return " ".join(words)


def generate(
    rng: random.Random, n: int
) -> Iterator[tuple[dict[str, object], dict[str, str], list[tuple[str, str]]]]:
    for i in range(n):
        kind = rng.choice(KINDS)
        title_vi = f"{phrase(rng, 2, 5)} {rng.choice(PLACES)}".capitalize()
        groups = rng.sample(GROUPS, rng.randint(1, 3))
        body = f"{phrase(rng, 15, 40)} {rng.choice(NAMES)} {rng.choice(PLACES)}"
        material = rng.choice(MATERIALS)
        record = {
            "id": f"BENCH-{i:06d}",
            "kind": kind,
            "title": {"vi": title_vi, "en": f"Item {i}"},
            "description": {"vi": body},
            "ethnic_groups": "; ".join(groups),
            "designation": rng.choice(DESIGNATIONS),
            "materials": [material],
        }
        facets = [
            ("kind", kind),
            ("designation", str(record["designation"])),
            ("material", material),
        ]
        facets += [("ethnic_group", g) for g in groups] + [("digitization", "not_digitized")]
        search_row = {
            "record_id": str(record["id"]),
            "title": fold(f"{title_vi} Item {i}"),
            "body": fold(body),
            "tags": " ".join(
                sorted({EVERY_RECORD, tag("access", "public"), *(tag(f, v) for f, v in facets)})
            ),
            "access": "public",
            "exact": "",
        }
        yield record, search_row, facets


def populate(db: Database, n: int) -> float:
    started = time.perf_counter()
    rng = random.Random(SEED)
    sqlite = db.dialect == "sqlite"
    rows = generate(rng, n)
    while True:
        batch = [r for _, r in zip(range(BATCH), rows, strict=False)]
        if not batch:
            break
        with db.session(write=True) as session:
            session.execute(insert(Record), [r for r, _, _ in batch])
            session.execute(insert(RecordSearch), [s for _, s, _ in batch])
            session.execute(
                insert(RecordFacet),
                [
                    {"record_id": r["id"], "facet": f, "value": v}
                    for r, _, fs in batch
                    for f, v in fs
                ],
            )
            if sqlite:
                session.execute(
                    text(
                        "INSERT INTO record_fts (record_id, title, body, tags)"
                        " VALUES (:record_id, :title, :body, :tags)"
                    ),
                    [
                        {k: s[k] for k in ("record_id", "title", "body", "tags")}
                        for _, s, _ in batch
                    ],
                )
    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def queries(count: int, records: int) -> list[SearchQuery]:
    """Mostly a known item looked up by 1–3 words of its title; one in ten a broad common word."""
    rng = random.Random(SEED + 1)
    titles = [str(r["title"]["vi"]) for r, _, _ in generate(random.Random(SEED), records)]  # type: ignore[index]
    out = []
    for i in range(count):
        if i % 10 == 0:
            words = rng.choice(COMMON)
        else:
            title_words = rng.choice(titles).split()
            start = rng.randrange(len(title_words))
            words = " ".join(title_words[start : start + rng.randint(1, 3)])
        filters: dict[str, tuple[str, ...]] = {"kind": (rng.choice(KINDS),)} if i % 3 == 0 else {}
        if i % 5 == 0:
            filters["ethnic_group"] = (rng.choice(GROUPS),)
        out.append(SearchQuery(text=fold(words) if i % 2 else words, filters=filters, limit=20))
    return out


def reference_search(session: Session, query: SearchQuery) -> tuple[list[str], int]:
    """What a plain implementation does: LIKE over folded text, then count and facets."""
    conditions = [
        RecordSearch.title.contains(t) | RecordSearch.body.contains(t)
        for t in query_tokens(query.text)
    ]
    for facet, values in query.filters.items():
        chosen = select(RecordFacet.record_id).where(
            RecordFacet.facet == facet, RecordFacet.value.in_(values)
        )
        conditions.append(RecordSearch.record_id.in_(chosen))
    base = select(RecordSearch.record_id).where(and_(*conditions))
    ids = list(session.scalars(base.order_by(RecordSearch.record_id).limit(query.limit)))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    session.execute(
        select(RecordFacet.facet, RecordFacet.value, func.count())
        .where(RecordFacet.record_id.in_(base))
        .group_by(RecordFacet.facet, RecordFacet.value)
    ).all()
    return ids, int(total)


def timed(
    db: Database, plan: list[SearchQuery], run: Callable[[Session, SearchQuery], object]
) -> tuple[list[float], list[int]]:
    """Milliseconds per query, and the hits each found (proof both sides did the work)."""
    with db.session() as session:
        run(session, plan[0])  # warm the cache
        times, totals = [], []
        for query in plan:
            started = time.perf_counter()
            result = run(session, query)
            times.append((time.perf_counter() - started) * 1000)
            totals.append(result.total if isinstance(result, SearchPage) else result[1])  # type: ignore[index]
    return times, totals


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextmanager
def engine_url(engine: str) -> Iterator[str]:
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    admin = create_engine(
        POSTGRES_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    name = f"museum_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_engine(engine: str, records: int, plan: list[SearchQuery]) -> dict[str, float]:
    with engine_url(engine) as url:
        db = Database(url)
        upgrade(db)
        load_seconds = populate(db, records)
        ours, our_totals = timed(db, plan, search)
        reference, reference_totals = timed(db, plan, reference_search)
        db.dispose()
    if sum(our_totals) == 0:
        raise SystemExit(f"{engine}: the search found nothing; the benchmark is broken")
    return {
        "load_s": load_seconds,
        "p50": percentile(ours, 50),
        "p95": percentile(ours, 95),
        "ref_p50": percentile(reference, 50),
        "ref_p95": percentile(reference, 95),
        "hits_median": statistics.median(our_totals),
        "hits_max": max(our_totals),
        "ref_hits_median": statistics.median(reference_totals),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    plan = queries(args.queries, args.records)
    lines = [
        "## Catalog search",
        "",
        f"`python scripts/bench_search.py --records {args.records} --queries {args.queries}` — "
        f"{args.records:,} generated Vietnamese records, {args.queries} queries (nine in ten look up a "
        "known item by 1–3 words of its title, one in ten is a broad word shared by ~4 % of records; "
        "half typed without diacritics, a third with a kind filter, a fifth with a community filter); "
        "each query returns "
        "the first 20 hits, the total (exact up to 5,000) and the facet counts. Reference: a LIKE scan over the same "
        "folded text with the same count and facets. Lower is better; ratio = reference / ours.",
        "",
        "| engine | load | hits per query (median / max) | ours p50 | ours p95 | reference p50 | reference p95 | p95 ratio | goal p95 < 50 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    failed = False
    for engine in args.engines.split(","):
        r = bench_engine(engine, args.records, plan)
        ok = r["p95"] < GOAL_P95_MS
        failed |= not ok
        lines.append(
            f"| {engine} | {r['load_s']:.0f} s | {r['hits_median']:.0f} / {r['hits_max']:.0f} "
            f"| {r['p50']:.1f} ms | {r['p95']:.1f} ms | "
            f"{r['ref_p50']:.1f} ms | {r['ref_p95']:.1f} ms | {r['ref_p95'] / r['p95']:.1f}× | "
            f"{'met' if ok else 'NOT met'} |"
        )
    print("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
