"""Vietnamese search: the same query table on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.catalog import import_catalog_file
from server.db import Database
from server.migrate import upgrade
from server.models import Record, utcnow
from server.search import SearchQuery, fold, index_record, search
from tests.conftest import SEED_CATALOG

# query -> (ids that must be found, id that must rank first or None)
QUERIES: list[tuple[str, set[str], str | None]] = [
    ("cong chieng", {"DL-ICH-01"}, "DL-ICH-01"),
    ("Cồng chiêng", {"DL-ICH-01"}, "DL-ICH-01"),
    ("CỒNG CHIÊNG", {"DL-ICH-01"}, "DL-ICH-01"),
    ("dak lak", {"DL-DOC-04", "DL-ART-01", "DL-ICH-02"}, None),
    ("Đắk Lắk", {"DL-DOC-04", "DL-ART-01", "DL-ICH-02"}, None),
    ("nha day buon ma thuot", {"DL-REL-01"}, "DL-REL-01"),
    ("Nhà đày", {"DL-REL-01"}, "DL-REL-01"),
    ("thap yang prong", {"DL-REL-03"}, "DL-REL-03"),
    ("mnong", {"DL-ICH-04", "DL-ICH-06"}, None),
    ("M'nông", {"DL-ICH-04", "DL-ICH-06"}, None),
    ("M’nông", {"DL-ICH-04", "DL-ICH-06"}, None),
    ("le mung tho", {"DL-ICH-04"}, "DL-ICH-04"),
    ("klei due", {"DL-ICH-03"}, "DL-ICH-03"),
    ("Klei duê", {"DL-ICH-03"}, "DL-ICH-03"),
    ("hgor", {"DL-ART-04"}, "DL-ART-04"),
    ("H'gơr", {"DL-ART-04"}, "DL-ART-04"),
    ("trong", {"DL-ART-04"}, None),
    ("ghe kpan", {"DL-ART-02"}, "DL-ART-02"),
    ("che co", {"DL-ART-03"}, None),
    ("ceh", {"DL-ART-03"}, "DL-ART-03"),
    ("čeh", {"DL-ART-03"}, "DL-ART-03"),
    ("nha dai ede", {"DL-ART-05"}, "DL-ART-05"),
    ("luat tuc", {"DL-DOC-01"}, "DL-DOC-01"),
    ("hdruom hra", {"DL-DOC-01"}, "DL-DOC-01"),
    ("sac phong", {"DL-DOC-03"}, "DL-DOC-03"),
    ("dinh lac giao", {"DL-REL-02", "DL-DOC-03"}, None),
    ("thac dray nur", {"DL-REL-06"}, "DL-REL-06"),
    ("gia long", {"DL-REL-07"}, "DL-REL-07"),
    ("ganh da dia", {"DL-REL-10"}, "DL-REL-10"),
    ("Gò Thì Thùng", {"DL-REL-11"}, "DL-REL-11"),
    ("lam phu lam", {"DL-REL-12"}, "DL-REL-12"),
    ("cau ngu", {"DL-ICH-09"}, "DL-ICH-09"),
    ("voi ban don", {"DL-ICH-08"}, "DL-ICH-08"),
    ("elephant", {"DL-ICH-08"}, "DL-ICH-08"),
    ("gong", {"DL-ICH-01", "DL-ICH-05", "DL-ART-01"}, None),
    ("biet dien bao dai", {"DL-REL-04"}, "DL-REL-04"),
    ("mau than 1968", {"DL-REL-05"}, "DL-REL-05"),
    ("khao co thac hai", {"DL-REL-09"}, None),
    ("henri maitre", {"DL-DOC-02"}, "DL-DOC-02"),
    ("dl-ich-02", {"DL-ICH-02"}, "DL-ICH-02"),
    ("chie", {"DL-ICH-01", "DL-ICH-05", "DL-ART-01"}, None),
    ("ede epic", {"DL-ICH-02"}, "DL-ICH-02"),
]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    database.call(lambda s: import_catalog_file(s, SEED_CATALOG), write=True)
    yield database
    database.dispose()


def run(db: Database, **kwargs: object):  # type: ignore[no-untyped-def]
    return db.call(lambda s: search(s, SearchQuery(**kwargs)))  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "expected", "first"), QUERIES, ids=[q for q, _, _ in QUERIES])
def test_query_table(
    seeded_database: Database, query: str, expected: set[str], first: str | None
) -> None:
    page = run(seeded_database, text=query, limit=100)
    assert expected <= set(page.ids), page.ids
    assert page.total == len(page.ids)
    if first:
        assert page.ids[0] == first, page.ids


def test_query_table_is_big_enough() -> None:
    assert len(QUERIES) >= 30


def test_diacritic_forms_find_the_same_records(seeded_database: Database) -> None:
    assert run(seeded_database, text="dak lak").ids == run(seeded_database, text="Đắk Lắk").ids
    assert run(seeded_database, text="m'nong").ids == run(seeded_database, text="M’NÔNG").ids


def test_nonsense_finds_nothing(seeded_database: Database) -> None:
    page = run(seeded_database, text="zzzqqq xyzzy")
    assert (page.ids, page.total) == ([], 0)
    assert all(values == {} for values in page.facets.values())


def test_hostile_query_text_is_harmless(seeded_database: Database) -> None:
    for query in [
        '"',
        "AND OR NOT",
        "*",
        "chieng*",
        "a:b",
        "'; DROP TABLE records; --",
        "\x00",
        "(" * 50,
    ]:
        run(seeded_database, text=query)
    assert run(seeded_database).total == 31


def test_exact_mode_tells_ede_letters_apart(seeded_database: Database) -> None:
    assert "DL-ART-03" in run(seeded_database, text="čeh", exact=True).ids
    assert "DL-ART-03" not in run(seeded_database, text="ceh", exact=True).ids
    assert "DL-ART-03" in run(seeded_database, text="ceh").ids


def test_facets_count_the_result_set(seeded_database: Database) -> None:
    everything = run(seeded_database)
    assert everything.total == 31
    assert everything.facets["kind"] == {
        "di_san_phi_vat_the": 9,
        "di_tich": 12,
        "hien_vat": 6,
        "di_san_tu_lieu": 4,
    }
    assert everything.facets["designation"]["di_tich_quoc_gia"] == 7
    assert everything.facets["designation"]["quoc_gia_dac_biet"] == 2
    assert everything.facets["digitization"] == {"not_digitized": 31}
    mnong = run(seeded_database, filters={"ethnic_group": ("M'nông",)}, limit=100)
    assert {"DL-ICH-04", "DL-ICH-06"} <= set(mnong.ids)
    assert mnong.facets["ethnic_group"]["M'nông"] == mnong.total


def test_filters_combine_with_text(seeded_database: Database) -> None:
    relics = run(seeded_database, text="buon ma thuot", filters={"kind": ("di_tich",)}, limit=100)
    assert relics.ids and all(i.startswith("DL-REL") for i in relics.ids)
    both = run(seeded_database, filters={"kind": ("di_tich", "hien_vat")})
    assert both.total == 18


def test_pagination_is_stable_and_complete(seeded_database: Database) -> None:
    pages = [run(seeded_database, offset=o, limit=7).ids for o in range(0, 35, 7)]
    flat = [i for page in pages for i in page]
    assert len(flat) == len(set(flat)) == 31
    assert flat[:9] == sorted(flat[:9])  # intangible heritage first, by id


def test_restricted_and_deleted_records_stay_hidden(db: Database) -> None:
    def hide(session):  # type: ignore[no-untyped-def]
        sacred = session.get(Record, "DL-ICH-07")
        sacred.access_level = "restricted"
        index_record(session, sacred)
        gone = session.get(Record, "DL-REL-08")
        gone.deleted_at = utcnow()
        index_record(session, gone)

    db.call(hide, write=True)
    public = run(db, limit=100)
    assert "DL-ICH-07" not in public.ids and "DL-REL-08" not in public.ids
    assert public.total == 29
    assert public.facets["kind"]["di_tich"] == 11
    staff = run(db, access_levels=("public", "registered", "staff", "restricted"), limit=100)
    assert "DL-ICH-07" in staff.ids and "DL-REL-08" not in staff.ids


def test_a_stale_index_never_shows_a_hidden_record(db: Database) -> None:
    def hide_without_reindex(session):  # type: ignore[no-untyped-def]
        session.get(Record, "DL-ICH-01").access_level = "restricted"
        session.get(Record, "DL-ICH-02").deleted_at = utcnow()

    db.call(hide_without_reindex, write=True)
    assert run(db, text="cong chieng").ids == []
    assert "DL-ICH-02" not in run(db, text="khan").ids


def test_facets_are_exact_up_to_the_window(db: Database) -> None:
    from server import search as search_module

    everything = run(db)
    assert everything.facets_complete
    original = search_module.FACET_WINDOW
    search_module.FACET_WINDOW = 5
    try:
        sampled = run(db)
    finally:
        search_module.FACET_WINDOW = original
    assert not sampled.facets_complete
    assert sampled.total == 31
    assert sum(sampled.facets["kind"].values()) == 5


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Cồng chiêng", "cong chieng"),
        ("Đắk Lắk", "dak lak"),
        ("M'nông M’nông", "mnong mnong"),
        ("H'Yim Kđoh", "hyim kdoh"),
        ("Ƀlă Kê̆č", "bla kec"),
        ("Ô̆ ơ̆ ư̆ Ñ", "o o u n"),
        ("Lễ hội (2016)", "le hoi 2016"),
        ("DL_ICH-01", "dl ich 01"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_broad_queries_list_title_matches_first_without_scoring(
    seeded_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server import search as search_module

    ranked = run(seeded_database, text="dak lak", limit=100)
    monkeypatch.setattr(search_module, "RANK_LIMIT", 3)
    broad = run(seeded_database, text="dak lak", limit=100)
    assert set(broad.ids) == set(ranked.ids) and broad.total == ranked.total
    title_hits = {"DL-ART-01", "DL-DOC-04"}  # "Đắk Lắk" in their titles
    assert set(broad.ids[:2]) == title_hits


def test_counts_beyond_the_limit_are_flagged(
    seeded_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server import search as search_module

    monkeypatch.setattr(search_module, "COUNT_LIMIT", 10)
    page = run(seeded_database, limit=100)
    assert (page.total, page.total_exact) == (10, False)
    assert len(page.ids) == 31
