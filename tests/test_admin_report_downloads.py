"""``/admin/report/{year}.{fmt}``: the yearly report files from the progress page (issue 8)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date

import openpyxl
import pytest
from starlette.testclient import TestClient

from server import report_downloads
from server.app import create_app
from server.report_files import FONT_DIR, FONT_FILES
from server.settings import Settings
from tests.staff import sign_in
from tests.test_report import VI

TODAY = date(2026, 11, 21)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FONTS_PRESENT = all((FONT_DIR / name).is_file() for name in FONT_FILES.values())


@pytest.fixture
def app_client(seeded_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(report_downloads, "today_in_vietnam", lambda: TODAY)
    with TestClient(create_app(seeded_settings)) as client:
        yield client


@pytest.fixture
def editor(app_client: TestClient) -> TestClient:
    sign_in(app_client, "editor", "editor")
    return app_client


def test_xlsx_download_in_vietnamese(editor: TestClient) -> None:
    response = editor.get("/admin/report/2025.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="digitization-report-2025.xlsx"'
    )
    assert "no-store" in response.headers["cache-control"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    summary = workbook[VI("Summary")]
    title = VI("Cultural heritage digitization progress report, {year}").format(year=2025)
    assert summary["A1"].value == title
    assert summary["B3"].value.date() == date(2025, 11, 20)  # a past year: as of its deadline


def test_xlsx_download_follows_the_language(editor: TestClient) -> None:
    response = editor.get("/admin/report/2026.xlsx?lang=en")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    summary = workbook["Summary"]
    assert summary["A1"].value == "Cultural heritage digitization progress report, 2026"
    assert summary["B3"].value.date() == TODAY  # this year: as of today


@pytest.mark.skipif(not FONTS_PRESENT, reason="fonts-noto-core not installed")
def test_pdf_download(editor: TestClient) -> None:
    response = editor.get("/admin/report/2026.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].endswith(
        'filename="digitization-report-2026.pdf"'
    )
    assert response.content.startswith(b"%PDF-")
    assert response.content.rstrip().endswith(b"%%EOF")


@pytest.mark.parametrize(
    ("path", "status", "parameter"),
    [
        ("/admin/report/20x5.xlsx", 400, "year"),
        ("/admin/report/2019.xlsx", 400, "year"),
        ("/admin/report/2027.pdf", 400, "year"),
        ("/admin/report/2025.docx", 404, "fmt"),
        ("/admin/report/2025.tar.xlsx", 400, "year"),
    ],
)
def test_bad_year_or_format(editor: TestClient, path: str, status: int, parameter: str) -> None:
    response = editor.get(path, headers={"accept": "application/json"})
    assert response.status_code == status
    assert response.json()["error"]["parameter"] == parameter


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("contributor", 403)])
def test_only_staff_download(app_client: TestClient, role: str | None, status: int) -> None:
    if role:
        sign_in(app_client, "someone", role)
    assert app_client.get("/admin/report/2025.xlsx").status_code == status


def test_progress_page_links_the_files(editor: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from server import admin

    monkeypatch.setattr(admin, "today_in_vietnam", lambda: TODAY)
    page = editor.get("/admin/progress?year=2025&lang=en").text
    links = re.findall(r'href="(/admin/report/[^"]+)" download', page)
    assert links == ["/admin/report/2025.xlsx", "/admin/report/2025.pdf"]
    for link in links[:1] if not FONTS_PRESENT else links:
        assert editor.get(link).status_code == 200
