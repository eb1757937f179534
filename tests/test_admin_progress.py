"""The digitization dashboard (/admin/progress), its JSON twin and the SVG bar chart."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date

import pytest
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from server import admin
from server.app import create_app
from server.charts import SVG_WIDTH, bar_chart_svg
from server.settings import Settings
from server.vocab import REPORT_CATEGORIES
from tests.staff import sign_in, sign_out
from tests.test_report import VI, apply_changes, expected_lines, expected_totals

TODAY = date(2026, 11, 21)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def admin_client(
    seeded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setattr(admin, "today_in_vietnam", lambda: TODAY)
    app = create_app(seeded_settings)
    app.state.museum.db.call(apply_changes, write=True)
    with TestClient(app) as client:
        sign_in(client, "editor", "editor")
        yield client


def flat(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html))


def table_row(label: str, items: int, digitized: int, published: int, share: str) -> str:
    return (
        f'<th scope="row">{label}</th><td>{items}</td><td>{digitized}</td>'
        f"<td>{published}</td><td>{share}</td>"
    )


def test_dashboard_in_vietnamese(admin_client: TestClient) -> None:
    response = admin_client.get("/admin/progress")
    assert response.status_code == 200
    assert response.headers["content-language"] == "vi"
    assert "no-store" in response.headers["cache-control"]
    page = flat(response.text)
    assert '<html lang="vi">' in page
    assert VI("{count} days left until 20 November {year}").format(count=364, year=2027) in page
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in page
    expected = expected_lines(admin_client.app.state.museum.db)  # type: ignore[attr-defined]
    special = expected["special_national_relics"]
    assert table_row("Di tích quốc gia đặc biệt", special.items, special.digitized, 1, "50,0%") in (
        page
    )
    for category in REPORT_CATEGORIES:
        assert f'<th scope="row">{VI(category.label)}</th>' in page
    assert '<option value="2026" selected>' in page
    assert '<option value="2021"' in page and '<option value="2027"' not in page


def test_dashboard_in_english(admin_client: TestClient) -> None:
    response = admin_client.get("/admin/progress?lang=en")
    page = flat(response.text)
    assert response.headers["content-language"] == "en"
    assert "364 days left until 20 November 2027" in page
    assert table_row("Special national relics", 2, 1, 1, "50.0%") in page
    assert '<title id="progress-chart-title">Percent digitized by category</title>' in page
    assert "Di tích quốc gia đặc biệt" not in page


def test_dashboard_for_a_past_year(admin_client: TestClient) -> None:
    page = flat(admin_client.get("/admin/progress?year=2025&lang=en").text)
    assert "progress report, 2025" in page
    assert "The report is due today, 20 November 2025." in page
    assert "20 November 2025" in page


@pytest.mark.parametrize("path", ["/admin/progress", "/api/v1/progress"])
@pytest.mark.parametrize("year", ["abc", "2019", "2027", "20 26"])
def test_a_bad_year_is_a_400_naming_the_parameter(
    admin_client: TestClient, path: str, year: str
) -> None:
    response = admin_client.get(path, params={"year": year, "lang": "en"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["status"], error["code"], error["parameter"]) == (400, "bad_request", "year")
    assert "year" in error["message"]


def test_a_bad_year_in_a_browser_is_a_page(admin_client: TestClient) -> None:
    response = admin_client.get("/admin/progress?year=abc", headers={"accept": "text/html"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")


def test_progress_json_equals_the_database(admin_client: TestClient) -> None:
    response = admin_client.get("/api/v1/progress")
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert (body["year"], body["as_of"], body["deadline"], body["days_left"]) == (
        2026,
        "2026-11-21",
        "2027-11-20",
        364,
    )
    expected = expected_lines(admin_client.app.state.museum.db)  # type: ignore[attr-defined]
    assert [c["code"] for c in body["categories"]] == [c.code for c in REPORT_CATEGORIES]
    for line in body["categories"]:
        want = expected[line["code"]]
        got = (line["items"], line["digitized"], line["published"], line["percent_digitized"])
        assert got == (want.items, want.digitized, want.published, want.percent), line["code"]
        assert line["remaining"] == want.items - want.digitized
    totals = expected_totals(admin_client.app.state.museum.db)  # type: ignore[attr-defined]
    assert (body["totals"]["items"], body["totals"]["digitized"]) == (
        totals.items,
        totals.digitized,
    )
    assert body["catalog_records"] == 30
    assert body["categories"][1]["label"] == "Di tích quốc gia đặc biệt"
    assert "remaining_items" not in body["categories"][0]  # titles stay off the open endpoint
    Draft202012Validator(admin.PROGRESS_SCHEMA).validate(body)
    again = admin_client.get(
        "/api/v1/progress", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304


def test_the_progress_schema_refuses_a_drifted_document() -> None:
    validator = Draft202012Validator(admin.PROGRESS_SCHEMA)
    Draft202012Validator.check_schema(admin.PROGRESS_SCHEMA)
    assert not validator.is_valid({"year": 2026})
    assert not validator.is_valid([])


def test_the_progress_page_is_for_staff_and_its_numbers_are_open_data(
    admin_client: TestClient,
) -> None:
    sign_out(admin_client)
    assert admin_client.get("/admin/progress").status_code == 401
    browser = admin_client.get(
        "/admin/progress?year=2026", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert browser.status_code == 303
    assert browser.headers["location"] == "/admin/login?next=%2Fadmin%2Fprogress%3Fyear%3D2026"
    sign_in(admin_client, "someone", "contributor")
    assert admin_client.get("/admin/progress").status_code == 403
    sign_out(admin_client)
    assert admin_client.get("/api/v1/progress").status_code == 200


# The SVG chart ---------------------------------------------------------------------------------


def parse_svg(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_svg_escapes_labels_and_stays_inert() -> None:
    hostile = '<script>alert("x")</script> & "quotes"'
    svg = bar_chart_svg([(hostile, 50.0)], title="Tiến độ <b>số hóa</b>", chart_id="c1")
    assert "<script" not in svg and "<b>" not in svg
    root = parse_svg(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert hostile in texts
    assert root.find(f"{SVG}title").text == "Tiến độ <b>số hóa</b>"  # type: ignore[union-attr]
    for element in root.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert "javascript:" not in value and "url(" not in value
        assert element.tag.removeprefix(SVG) not in {"script", "foreignObject", "image", "use"}


def test_svg_is_accessible_and_bars_are_to_scale() -> None:
    rows = [("Di tích quốc gia đặc biệt", 50.0), ("Hiện vật", 0.0), ("Over", 150.0)]
    svg = bar_chart_svg(rows, title="Tỉ lệ số hóa", chart_id="progress-chart")
    root = parse_svg(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "progress-chart-title progress-chart-desc"
    assert root.find(f"{SVG}title").get("id") == "progress-chart-title"  # type: ignore[union-attr]
    description = root.find(f"{SVG}desc").text  # type: ignore[union-attr]
    assert description == "Di tích quốc gia đặc biệt: 50; Hiện vật: 0; Over: 150"
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") != "#e6e2da"]
    widths = [float(r.get("width", "-1")) for r in bars]
    assert widths == [SVG_WIDTH / 2, 0.0, float(SVG_WIDTH)]  # clamped at the scale's end


def test_svg_target_marker_and_ids() -> None:
    root = parse_svg(bar_chart_svg([("A", 10.0)], title="t", target=80.0))
    line = root.find(f"{SVG}line")
    assert line is not None and float(line.get("x1", "0")) == SVG_WIDTH * 0.8
    assert parse_svg(bar_chart_svg([("A", 10.0)], title="t")).find(f"{SVG}line") is None
    with pytest.raises(ValueError, match="chart_id"):
        bar_chart_svg([("A", 1.0)], title="t", chart_id='x" onload="alert(1)')
