"""The home page's blocks, the search page's island, a record's extras and the map page.

The catalog is the seed plus tests/api_fixtures.py (a collection, exhibitions, the place
Buôn Ma Thuột with coordinates, and DL-ICH-07 restricted); tests add what they need.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from server import map_pages
from server.app import create_app
from server.catalog import import_catalog_file
from server.db import Database
from server.home_view import kind_counts
from server.map_pages import heritage_places, tile_source, with_image_source
from server.middleware import CONTENT_SECURITY_POLICY
from server.migrate import upgrade
from server.models import Asset, Exhibition, Place, Record, RecordPlace
from server.record_view import related_items
from server.records import load_bundle
from server.report import format_day, progress, today_in_vietnam
from server.rights import describe_rights
from server.search import index_record
from server.settings import Settings, SettingsError
from tests.api_fixtures import PUBLISHED_ASSET, add_fixtures
from tests.conftest import SEED_CATALOG

# Buôn Ma Thuột and Tuy Hòa: the capitals of the former Đắk Lắk and Phú Yên provinces.
BUON_MA_THUOT = (108.04, 12.67)
TUY_HOA = (109.30, 13.09)
NHA_TRANG = (109.19, 12.24)  # Khánh Hòa, south of the province
PLEIKU = (108.00, 13.98)  # Gia Lai, north of it
# The merged province: 18,096 km² (Nghị quyết 202/2025/QH15); old Đắk Lắk alone ~13,030.
PROVINCE_AREA_KM2 = 18_096
EARTH_RADIUS_KM = 6371.0088


@pytest.fixture
def site(client: TestClient) -> TestClient:
    add_fixtures(client.app.state.museum.db)  # type: ignore[attr-defined]
    return client


def change(client: TestClient, fn: Callable[[Session], Any]) -> Any:
    return client.app.state.museum.db.call(fn, write=True)  # type: ignore[attr-defined]


def text_of(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    return re.sub(r" ([:.,;])", r"\1", words)  # "<span>label</span>: value"


def section(page: str, css_class: str) -> str:
    match = re.search(rf'<section class="[^"]*\b{css_class}\b[^"]*".*?</section>', page, re.S)
    assert match, f"no section .{css_class}"
    return match.group(0)


# Home -----------------------------------------------------------------------------------------


def test_home_features_published_exhibitions_only(site: TestClient) -> None:
    block = section(site.get("/?lang=en").text, "featured-exhibitions")
    assert 'href="/exhibitions/sample-media"' in block
    assert "/exhibitions/draft" not in block  # not published
    assert 'href="/exhibitions"' in block

    def more(session: Session) -> None:
        for n in range(4):
            session.add(Exhibition(id=f"walk-{n}", title={"vi": f"Lối {n}"}, published=True))
        session.add(
            Exhibition(id="staff", title={"vi": "Kho"}, published=True, access_level="staff")
        )

    change(site, more)
    block = section(site.get("/").text, "featured-exhibitions")
    assert len(re.findall(r'href="/exhibitions/[^"]+"', block)) == 3
    assert "/exhibitions/staff" not in block


def test_home_hides_the_exhibitions_block_when_there_are_none(client: TestClient) -> None:
    page = client.get("/").text
    assert "featured-exhibitions" not in page
    assert "heritage-kinds" in page and "digitized-so-far" in page


def test_home_counts_each_kind_and_links_to_its_search(site: TestClient) -> None:
    block = section(site.get("/?lang=en").text, "heritage-kinds")
    links = re.findall(r'<a href="/search\?kind=(\w+)">(.*?)</a>', block, re.S)
    counts = {kind: text_of(label) for kind, label in links}
    # DL-ICH-07 is restricted: 8 of the 9 intangible heritage items are public.
    assert counts == {
        "di_san_phi_vat_the": "Intangible cultural heritage 8 items",
        "di_tich": "Relic sites 12 items",
        "hien_vat": "Artefacts 6 items",
        "di_san_tu_lieu": "Documentary heritage 4 items",
    }
    relics = site.get("/search?kind=di_tich").text
    assert "12 results" in relics  # the ?lang=en above is kept in a cookie


def _digitize(session: Session) -> None:
    for record_id, status in [
        ("DL-ICH-01", "complete"),  # UNESCO
        ("DL-REL-01", "digitized"),  # special national relic
        ("DL-REL-02", "in_progress"),  # not yet
        ("DL-ICH-07", "digitized"),  # restricted: the report still counts it
    ]:
        record = session.get_one(Record, record_id)
        record.digitization_status = status


def test_home_figures_are_the_progress_report(site: TestClient) -> None:
    change(site, _digitize)
    report = site.app.state.museum.db.call(  # type: ignore[attr-defined]
        lambda session: progress(session, today_in_vietnam(), remaining_limit=0)
    )
    block = section(site.get("/?lang=en").text, "digitized-so-far")
    totals = report.totals
    assert totals.digitized == 2  # DL-ICH-07 is in no category of the plan
    expected_total = (
        f"{totals.digitized} of {totals.items} items digitized ({totals.percent_digitized}%)"
    )
    assert expected_total in text_of(block)
    rows = re.findall(r'<th scope="row">(.*?)</th>\s*<td>(\d+)</td>\s*<td>(\d+)</td>', block, re.S)
    shown = {label: (int(items), int(digitized)) for label, items, digitized in rows}
    assert shown == {
        line.label: (line.items, line.digitized) for line in report.categories if line.items
    }
    assert shown["UNESCO-inscribed heritage"] == (1, 1)
    # Percentages are written the language's way.
    vi_block = section(site.get("/?lang=vi").text, "digitized-so-far")
    assert "Đã số hóa 2 trên" in vi_block and "100,0%" in vi_block


# Search ---------------------------------------------------------------------------------------


def test_search_page_carries_the_instant_results_island(site: TestClient) -> None:
    page = site.get("/search", params={"q": "cong chieng"}).text
    host = re.search(r'<div class="search-suggest"[^>]*>', page, re.S)
    assert host, "no search-suggest host"
    attributes = dict(re.findall(r'data-([\w-]+)=(?:"([^"]*)"|\'[^\']*\')', host.group(0)))
    assert attributes["island"] == "search-suggest"
    assert attributes["input"] == "#search-q"
    assert attributes["endpoint"] == "/api/v1/search"
    assert attributes["item-url"] == "/items/__ID__"
    kinds = re.search(r"data-kind-names='([^']*)'", host.group(0))
    assert kinds and json.loads(html.unescape(kinds.group(1)))["di_tich"] == "Di tích"
    assert "{count}" in attributes["count-other"] and "{query}" in attributes["none"]
    # The form itself still searches without script.
    assert 'action="/search"' in page and 'name="q"' in page
    assert "Không gian văn hóa Cồng chiêng Tây Nguyên" in page


@pytest.mark.parametrize("typed", ["cong chieng", "Cồng chiêng", "CONG CHIÊNG", "cồng"])
def test_the_api_the_island_calls_finds_gongs_with_or_without_diacritics(
    site: TestClient, typed: str
) -> None:
    answer = site.get("/api/v1/search", params={"q": typed, "limit": 8}).json()
    assert answer["items"][0]["id"] == "DL-ICH-01"
    assert all(item["id"] != "DL-ICH-07" for item in answer["items"])


# A record's extras ----------------------------------------------------------------------------


def test_record_citation_in_each_language(site: TestClient) -> None:
    vi = site.get("/items/DL-REL-01").text
    today_vi = format_day(today_in_vietnam(), "vi")
    assert text_of(section(vi, "cite")).startswith("Cách trích dẫn")
    citation = text_of(re.search(r'<p id="citation-text".*?</p>', vi, re.S).group(0))  # type: ignore[union-attr]
    assert citation == (
        "“Nhà đày Buôn Ma Thuột”. Bảo tàng Di sản số Đắk Lắk, DL-REL-01. "
        f"http://testserver/items/DL-REL-01 (truy cập ngày {today_vi})."
    )
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", today_vi)
    en = site.get("/items/DL-REL-01?lang=en").text
    today_en = format_day(today_in_vietnam(), "en")
    citation = text_of(re.search(r'<p id="citation-text".*?</p>', en, re.S).group(0))  # type: ignore[union-attr]
    assert citation == (
        "“Buon Ma Thuot Prison (colonial penal camp)”. Đắk Lắk Digital Heritage Museum, "
        f"DL-REL-01. http://testserver/items/DL-REL-01 (accessed {today_en})."
    )
    assert 'data-island="copy-text" data-target="#citation-text"' in en
    assert 'data-label="Copy the citation"' in en


def test_record_places_on_a_small_map_and_by_name(site: TestClient) -> None:
    def add_unlocated(session: Session) -> None:
        session.add(Place(id="tu-an", name={"vi": "Phường Tự An (cũ)"}))
        session.add(RecordPlace(record_id="DL-REL-01", place_id="tu-an", role="located_at"))

    change(site, add_unlocated)
    page = site.get("/items/DL-REL-01").text
    block = section(page, "record-places")
    assert 'data-island="heritage-map"' in block and 'data-compact="true"' in block
    assert 'data-outline="/map/province.geojson"' in block
    assert re.search(r'data-lat="12.67" data-lon="108.04"[^>]*data-name="Buôn Ma Thuột"', block)
    assert "Phường Tự An (cũ)" in text_of(block)
    assert "Phường Tự An (cũ)" not in re.search(
        r'<ul id="record-places".*?</ul>', block, re.S
    ).group(0)  # type: ignore[union-attr]
    # A record without places has no such block.
    assert "record-places" not in site.get("/items/DL-DOC-02").text


def test_related_items_are_public_records_only(site: TestClient) -> None:
    related = section(site.get("/items/DL-REL-01?lang=en").text, "related")
    # DL-ICH-07 shares DL-REL-01's place, but it is restricted.
    assert "DL-ICH-07" not in related
    ids = re.findall(r'href="/items/([\w-]+)"', related)
    assert 1 <= len(ids) <= 4 and "DL-REL-01" not in ids

    def publish(session: Session) -> None:
        record = session.get_one(Record, "DL-ICH-07")
        record.access_level = "public"
        index_record(session, record)

    change(site, publish)
    related = section(site.get("/items/DL-REL-01?lang=en").text, "related")
    first = re.search(
        r'href="/items/([\w-]+)">.*?<span class="item-meta">(.*?)</span>', related, re.S
    )
    assert first and first.group(1) == "DL-ICH-07"  # a shared place ranks first
    assert text_of(first.group(2)) == "Intangible cultural heritage · Same place"


def test_related_items_through_a_collection(site: TestClient) -> None:
    related = section(site.get("/items/DL-ART-01").text, "related")
    assert 'href="/items/DL-ICH-01"' in related  # both in the "gongs" collection
    assert "Cùng sưu tập" in related
    assert "DL-ICH-07" not in related  # also in it, but restricted


def test_licence_and_attribution(site: TestClient) -> None:
    block = text_of(section(site.get("/items/DL-ICH-01").text, "licence"))
    assert "Chưa đánh giá bản quyền" in block  # the seed's default: Copyright Not Evaluated
    # No credit line or holder: the provincial Department, as in the IIIF manifest.
    assert "Ghi nguồn Sở Văn hóa, Thể thao và Du lịch tỉnh Đắk Lắk" in block

    def licensed(session: Session) -> None:
        record = session.get_one(Record, "DL-ICH-01")
        record.rights = "https://creativecommons.org/licenses/by-sa/4.0/"
        record.rights_holder = "Bảo tàng Đắk Lắk"
        asset = session.get_one(Asset, PUBLISHED_ASSET)
        asset.label = {"vi": "Ảnh bộ chiêng", "en": "Gong photograph"}
        asset.technical = {
            **asset.technical,
            "attribution": "Photo: Y Wang Hwing",
            "rights": "http://rightsstatements.org/vocab/InC-EDU/1.0/",
        }

    change(site, licensed)
    page = site.get("/items/DL-ICH-01?lang=en").text
    block = section(page, "licence")
    assert '<a href="https://creativecommons.org/licenses/by-sa/4.0/" rel="license' in block
    assert "CC BY-SA 4.0" in block
    assert "Rights holder Bảo tàng Đắk Lắk" in text_of(block)
    assert "Attribution Bảo tàng Đắk Lắk" in text_of(block)
    assert (
        "Gong photograph: Photo: Y Wang Hwing · In Copyright – Educational Use Permitted"
        in text_of(block)
    )


@pytest.mark.parametrize(
    ("uri", "label", "url", "translate"),
    [
        ("http://rightsstatements.org/vocab/InC/1.0/", "In Copyright", True, True),
        (
            "https://rightsstatements.org/page/NoC-NC/1.0/",
            "No Copyright – Non-Commercial Use Only",
            True,
            True,
        ),
        ("https://creativecommons.org/licenses/by/4.0/", "CC BY 4.0", True, False),
        ("http://creativecommons.org/licenses/by-nc-nd/3.0/igo/", "CC BY-NC-ND 3.0", True, False),
        ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0 1.0", True, False),
        ("https://creativecommons.org/publicdomain/mark/1.0/", "Public Domain Mark", True, True),
        ("https://opensource.org/license/mit", "MIT License", True, False),
        ("https://www.apache.org/licenses/LICENSE-2.0", "Apache License 2.0", True, False),
        (
            "http://rightsstatements.org/vocab/XYZ/1.0/",
            "http://rightsstatements.org/vocab/XYZ/1.0/",
            True,
            False,
        ),
        ("Bản quyền của gia đình nghệ nhân", "Bản quyền của gia đình nghệ nhân", False, False),
    ],
)
def test_rights_are_named(uri: str, label: str, url: bool, translate: bool) -> None:
    rights = describe_rights(uri)
    assert (rights.label, rights.url is not None, rights.translate) == (label, url, translate)


# The map --------------------------------------------------------------------------------------


def _map_places(session: Session) -> None:
    session.add(Place(id="ea-rok", name={"vi": "Xã Ea Rốk"}, latitude=13.13, longitude=107.77))
    session.add(RecordPlace(record_id="DL-REL-03", place_id="ea-rok"))
    session.add(Place(id="tuy-an", name={"vi": "Tuy An"}, latitude=13.27, longitude=109.28))
    session.add(RecordPlace(record_id="DL-ICH-09", place_id="tuy-an", role="practiced_in"))
    session.add(Place(id="lak", name={"vi": "Lắk"}))
    session.add(RecordPlace(record_id="DL-ICH-04", place_id="lak", role="practiced_in"))
    session.add(Place(id="secret", name={"vi": "Bến nước"}, latitude=12.9, longitude=108.2))
    session.add(RecordPlace(record_id="DL-ICH-07", place_id="secret", role="practiced_in"))


def test_map_page_lists_the_places_of_public_records(site: TestClient) -> None:
    change(site, _map_places)
    response = site.get("/map?lang=en")
    assert response.status_code == 200
    page = response.text
    listed = re.findall(r'<li class="map-place category-(\w+)" data-place="([\w-]+)"', page)
    # Sorted by name without diacritics; "secret" is known only from a restricted record.
    assert listed == [("relic_site", "bmt"), ("community", "tuy-an"), ("relic_site", "ea-rok")]
    bmt = re.search(r'data-place="bmt".*?</li>\s*</ul>\s*</li>', page, re.S).group(0)  # type: ignore[union-attr]
    assert 'data-lat="12.67" data-lon="108.04"' in bmt
    assert 'href="/items/DL-REL-01"' in bmt and "DL-ICH-07" not in bmt
    unlocated = re.search(r'<ul class="map-unlocated">.*?</ul>', page, re.S).group(0)  # type: ignore[union-attr]
    assert text_of(unlocated).startswith("Lắk (Community):")
    assert 'href="/items/DL-ICH-04"' in unlocated
    assert "Bến nước" not in page
    host = re.search(r'<div class="heritage-map"[^>]*>', page, re.S).group(0)  # type: ignore[union-attr]
    assert 'data-places="#map-places"' in host and 'data-outline="/map/province.geojson"' in host
    assert "data-tile-url" not in host
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "1 July 2025" in page and "Phú Yên" in page  # says which boundary is drawn


def test_map_page_without_places_says_so(client: TestClient) -> None:
    page = client.get("/map").text
    assert "Chưa có địa điểm nào trong danh mục có tọa độ." in page
    assert 'id="map-places"' not in page


def test_a_tile_layer_is_added_only_when_configured(seeded_settings: Settings) -> None:
    settings = replace(
        seeded_settings,
        map_tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png",
        map_tile_attribution="© OpenStreetMap contributors",
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/map")
        assert 'data-tile-url="https://{s}.tiles.example.org/{z}/{x}/{y}.png"' in response.text
        assert 'data-tile-attribution="© OpenStreetMap contributors"' in response.text
        policy = response.headers["content-security-policy"]
        assert "img-src 'self' data: blob: https://*.tiles.example.org;" in policy
        # Only the map page admits the tile host.
        assert client.get("/").headers["content-security-policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png", "http://127.0.0.1:8080"),
        ("https://tiles.example.org/{z}/{x}/{y}@2x.webp?key=k", "https://tiles.example.org"),
    ],
)
def test_tile_source_is_the_templates_origin(url: str, source: str) -> None:
    assert tile_source(url) == source
    widened = with_image_source(CONTENT_SECURITY_POLICY, source)
    assert f"img-src 'self' data: blob: {source}" in widened
    assert widened.replace(f" {source}", "") == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("https://tiles.example.org/{z}/{x}/{y}.png", True),
        ("", True),
        ("https://tiles.example.org/{z}/{x}.png", False),
        ("ftp://tiles.example.org/{z}/{x}/{y}.png", False),
    ],
)
def test_tile_url_setting_is_checked(raw: str, ok: bool) -> None:
    environ = {"MUSEUM_MAP_TILE_URL": raw}
    if ok:
        assert Settings.from_env(environ).map_tile_url == raw
    else:
        with pytest.raises(SettingsError, match="MUSEUM_MAP_TILE_URL"):
            Settings.from_env(environ)


def _inside(point: tuple[float, float], ring: list[list[float]]) -> bool:
    """Ray casting: whether (lon, lat) is inside the closed ring."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _area_km2(ring: list[list[float]]) -> float:
    """Area of a lon/lat ring on the sphere: the shoelace formula in Lambert's cylindrical
    equal-area projection (x = Rλ, y = R sin φ), which keeps areas."""
    xy = [
        (EARTH_RADIUS_KM * math.radians(lon), EARTH_RADIUS_KM * math.sin(math.radians(lat)))
        for lon, lat in ring
    ]
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(xy))) / 2


def test_province_outline_is_the_merged_province(client: TestClient) -> None:
    response = client.get("/map/province.geojson")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    assert response.headers["cache-control"] == "public, max-age=86400"
    again = client.get("/map/province.geojson", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304
    outline = response.json()
    assert outline["type"] == "FeatureCollection" and len(outline["features"]) == 1
    feature = outline["features"][0]
    assert "1 July 2025" in feature["properties"]["boundary"]
    assert "Natural Earth" in feature["properties"]["source"]
    ring = feature["geometry"]["coordinates"][0]
    assert feature["geometry"]["type"] == "Polygon" and ring[0] == ring[-1]
    # Both former capitals are inside; the neighbours' are not.
    assert _inside(BUON_MA_THUOT, ring) and _inside(TUY_HOA, ring)
    assert not _inside(NHA_TRANG, ring) and not _inside(PLEIKU, ring)
    # Old Đắk Lắk alone would be ~13,000 km²; the merged province is 18,096 km².
    assert abs(_area_km2(ring) - PROVINCE_AREA_KM2) / PROVINCE_AREA_KM2 < 0.03


def test_map_routes() -> None:
    from starlette.routing import Route

    from server.routes import build_routes

    routes = {
        r.path: r.unguarded_endpoint
        for r in build_routes(Settings(), map_pages.OUTLINE_FILE.parent)
        if isinstance(r, Route)
    }
    assert routes["/map"] is map_pages.map_page
    assert routes["/map/province.geojson"] is map_pages.province_outline


def test_main_menu_marks_the_current_page(site: TestClient) -> None:
    page = site.get("/map?lang=en").text
    nav = re.search(r'<nav class="site-nav".*?</nav>', page, re.S).group(0)  # type: ignore[union-attr]
    links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', nav)
    assert [(href, label) for href, _, label in links] == [
        ("/", "Home"),
        ("/search", "Search"),
        ("/exhibitions", "Exhibitions"),
        ("/map", "Map"),
    ]
    assert [href for href, current, _ in links if current] == ["/map"]


@pytest.fixture
def catalog(database_url: str) -> Iterator[Database]:
    """The seed, the API fixtures and the map's places, on SQLite and on PostgreSQL."""
    db = Database(database_url)
    upgrade(db)
    db.call(lambda session: import_catalog_file(session, SEED_CATALOG), write=True)
    add_fixtures(db)
    db.call(_map_places, write=True)
    yield db
    db.dispose()


def test_the_queries_agree_on_each_engine(catalog: Database) -> None:
    places = catalog.call(lambda session: heritage_places(session, ("public",), "vi"))
    assert [(p.id, p.category, [r.id for r in p.records]) for p in places] == [
        ("bmt", "relic_site", ["DL-REL-01"]),
        ("lak", "community", ["DL-ICH-04"]),
        ("tuy-an", "community", ["DL-ICH-09"]),
        ("ea-rok", "relic_site", ["DL-REL-03"]),
    ]

    def related(session: Session) -> list[str]:
        bundle = load_bundle(session, "DL-ART-01")
        assert bundle is not None
        return [item.id for item in related_items(session, bundle, "vi")]

    ids = catalog.call(related)
    assert ids[0] == "DL-ICH-01" and "DL-ICH-07" not in ids and len(ids) == 4
    counts = catalog.call(lambda session: kind_counts(session, ("public",)))
    assert [(c.kind, c.count) for c in counts] == [
        ("di_san_phi_vat_the", 8),
        ("di_tich", 12),
        ("hien_vat", 6),
        ("di_san_tu_lieu", 4),
    ]


def test_search_results_carry_the_query_to_the_record_for_highlighting(site: TestClient) -> None:
    page = site.get("/search", params={"q": "cồng chiêng", "lang": "vi"}).text
    assert 'href="/items/DL-ICH-01?q=c%E1%BB%93ng%20chi%C3%AAng"' in page
    assert 'href="/items/DL-ICH-01"' in site.get("/?lang=vi").text  # no query, no suffix
