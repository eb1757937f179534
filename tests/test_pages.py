"""Public pages beyond the home page: record pages with JSON-LD and QR codes, search, sitemap."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from tests.api_fixtures import add_fixtures


@pytest.fixture
def site(client: TestClient) -> TestClient:
    add_fixtures(client.app.state.museum.db)  # type: ignore[attr-defined]
    return client


def jsonld(html: str) -> dict:  # type: ignore[type-arg]
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match, "no JSON-LD on the page"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_record_page_carries_schema_org_jsonld(site: TestClient) -> None:
    html = site.get("/items/DL-REL-01?lang=en").text
    data = jsonld(html)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == ["LandmarksOrHistoricalBuildings", "TouristAttraction"]
    assert data["name"] == "Buon Ma Thuot Prison (colonial penal camp)"
    assert data["url"].endswith("/items/DL-REL-01")
    place = data["containedInPlace"][0]
    assert place["geo"] == {"@type": "GeoCoordinates", "latitude": 12.67, "longitude": 108.04}
    artefact = jsonld(site.get("/items/DL-ART-02?lang=vi").text)
    assert artefact["@type"] == "VisualArtwork" and artefact["name"] == "Ghế Kpan"


def test_jsonld_cannot_break_out_of_its_script_tag(site: TestClient) -> None:
    from server.models import Record
    from server.search import index_record

    def poison(session):  # type: ignore[no-untyped-def]
        record = session.get(Record, "DL-ART-02")
        record.description = {"vi": "</script><script>alert(1)</script>"}
        index_record(session, record)

    site.app.state.museum.db.call(poison, write=True)  # type: ignore[attr-defined]
    html = site.get("/items/DL-ART-02").text
    assert "<script>alert(1)" not in html
    assert jsonld(html)["description"] == "</script><script>alert(1)</script>"


def test_record_page_has_a_qr_code_of_its_address(site: TestClient) -> None:
    html = site.get("/items/DL-ICH-01").text
    assert 'src="/items/DL-ICH-01/qr.svg"' in html
    response = site.get("/items/DL-ICH-01/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in response.content and b"http://testserver/items/DL-ICH-01" in response.content
    assert site.get("/items/DL-ICH-07/qr.svg").status_code == 404  # restricted


def test_qr_code_decodes_to_the_page_address(site: TestClient) -> None:
    import segno

    expected = segno.make("http://testserver/items/DL-ICH-02", error="m", micro=False)
    body = site.get("/items/DL-ICH-02/qr.svg").content
    buffer = __import__("io").BytesIO()
    expected.save(
        buffer,
        kind="svg",
        scale=4,
        border=2,
        title="http://testserver/items/DL-ICH-02",
        xmldecl=False,
    )
    assert body == buffer.getvalue()


def test_restricted_records_are_hidden_from_pages(site: TestClient) -> None:
    assert site.get("/items/DL-ICH-07").status_code == 404
    home = site.get("/").text
    assert "Lễ cúng bến nước" not in home
    assert "30 di sản" in home
    assert "Lễ cúng bến nước" not in site.get("/search?q=ben+nuoc").text


def test_search_page_with_facets_and_paging(site: TestClient) -> None:
    page = site.get("/search", params={"q": "cong chieng"})
    assert page.status_code == 200
    assert "Không gian văn hóa Cồng chiêng Tây Nguyên" in page.text
    assert "1 kết quả" in page.text
    everything = site.get("/search").text
    assert "30 kết quả" in everything
    assert "Trang 1/2" in everything or "Trang 1 / 2" in everything or "Page 1 of 2" in everything
    assert 'href="?kind=di_tich"' in everything
    relics = site.get("/search", params={"kind": "di_tich"}).text
    assert "12 kết quả" in relics and 'aria-current="true"' in relics
    second = site.get("/search", params={"page": "2"}).text
    assert second.count('class="item"') == 10


def test_search_page_reports_bad_input_clearly(site: TestClient) -> None:
    response = site.get("/search", params={"q": "x" * 600}, headers={"accept": "text/html"})
    assert response.status_code == 400
    assert "500" in response.text


def test_sitemap_lists_public_records_only(site: TestClient) -> None:
    response = site.get("/sitemap.xml")
    assert response.headers["content-type"].startswith("application/xml")
    locations = re.findall(r"<loc>([^<]+)</loc>", response.text)
    assert "http://testserver/items/DL-ICH-01" in locations
    assert "http://testserver/items/DL-ICH-07" not in locations
    assert len(locations) == 1 + 30
    assert "Sitemap: http://testserver/sitemap.xml" in site.get("/robots.txt").text


def test_language_switch_keeps_the_query(site: TestClient) -> None:
    html = site.get("/search", params={"q": "gong"}).text
    assert 'href="/search?q=gong&amp;lang=en"' in html
