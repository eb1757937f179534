"""Staff pages: the dashboard, and digitization progress against the targets of plan
KH 126/KH-UBND.

The progress page is for staff (server.routes gives its rule); its JSON twin
``/api/v1/progress`` is open data and shows numbers only, never the titles of
remaining items, since restricted records are counted in them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from server.charts import bar_chart_svg
from server.report import (
    CHART_TITLE,
    PLAN_REFERENCE,
    SUMMARY_HEADERS,
    TITLE,
    TOTAL_LABEL,
    CategoryProgress,
    ProgressReport,
    Totals,
    allowed_years,
    chart_rows,
    deadline_text,
    format_day,
    format_share,
    format_target,
    notes,
    parse_year,
    progress,
    report_date,
    today_in_vietnam,
)
from server.responses import cached_json
from server.state import get_museum
from server.vocab import REPORT_CATEGORIES

# Staff data: never stored by a browser or proxy, never indexed.
NO_STORE = "no-store"
PRIVATE_HEADERS = {"cache-control": NO_STORE, "x-robots-tag": "noindex"}
CHART_ID = "progress-chart"

_COUNT = {"type": "integer", "minimum": 0}
_NUMBERS = {
    "items": _COUNT,
    "digitized": _COUNT,
    "published": _COUNT,
    "percent_digitized": {"type": ["number", "null"], "minimum": 0, "maximum": 100},
    "remaining": _COUNT,
}
_LINE = {
    "code": {"type": "string"},
    "label": {"type": "string"},
    "kind": {"type": "string"},
    "designations": {"type": "array", "items": {"type": "string"}},
    "target_percent": {"type": "integer", "minimum": 0, "maximum": 100},
    **_NUMBERS,
}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


# JSON Schema (2020-12, as in OpenAPI 3.1) of /api/v1/progress, for server/openapi.py.
PROGRESS_SCHEMA: dict[str, Any] = _object(
    {
        "year": {"type": "integer"},
        "as_of": {"type": "string", "format": "date"},
        "deadline": {"type": "string", "format": "date"},
        "days_left": {"type": "integer", "minimum": 0, "maximum": 365},
        "plan": {"type": "string"},
        "categories": {"type": "array", "items": _object(_LINE)},
        "totals": _object(_NUMBERS),
        "catalog_records": _COUNT,
        "outside_categories": _COUNT,
        "notes": {"type": "array", "items": {"type": "string"}},
    }
)


@dataclass(frozen=True)
class ProgressRow:
    """One table row, formatted for the page's language."""

    label: str
    items: int
    digitized: int
    published: int
    percent: str
    target: str
    remaining: int
    target_met: bool


def _row(line: CategoryProgress | Totals, label: str, target: int | None, lang: str) -> ProgressRow:
    share = line.percent_digitized
    return ProgressRow(
        label=label,
        items=line.items,
        digitized=line.digitized,
        published=line.published,
        percent=format_share(share, lang),
        target="" if target is None else format_target(target, lang),
        remaining=line.remaining,
        target_met=share is not None and target is not None and share >= target,
    )


async def _load(request: Request) -> tuple[ProgressReport, date]:
    """Parse ``?year=`` and compute that year's numbers off the event loop."""
    today = today_in_vietnam()
    year = parse_year(request.query_params.get("year"), today)
    as_of = report_date(year, today)
    museum = get_museum(request)

    def compute(session: Session) -> ProgressReport:
        return progress(session, as_of, remaining_limit=0)

    return await museum.db.run(compute), today


async def progress_page(request: Request) -> Response:
    """The dashboard: days left to 20 November, the table per category, a bar chart."""
    report, today = await _load(request)
    museum = get_museum(request)
    lang: str = request.state.lang
    gettext: Callable[[str], str] = museum.translations(lang).gettext
    chart = bar_chart_svg(
        chart_rows(report, gettext),
        title=gettext(CHART_TITLE),
        format_value=lambda value: format_share(value, lang),
        chart_id=CHART_ID,
    )
    context = {
        "report": report,
        "title": gettext(TITLE).format(year=report.year),
        "plan_reference": gettext(PLAN_REFERENCE),
        "deadline_text": deadline_text(report, gettext),
        "as_of": format_day(report.as_of, lang),
        "deadline": format_day(report.deadline, lang),
        "headers": [gettext(header) for header in SUMMARY_HEADERS],
        "rows": [
            _row(line, gettext(line.label), line.target_percent, lang) for line in report.categories
        ],
        "totals": _row(report.totals, gettext(TOTAL_LABEL), None, lang),
        "chart_title": gettext(CHART_TITLE),
        # bar_chart_svg escapes every text it draws.
        "chart": Markup(chart),  # noqa: S704
        "notes": notes(report, gettext),
        "years": sorted(allowed_years(today), reverse=True),
    }
    return museum.templates.TemplateResponse(
        request, "admin_progress.html", context, headers=PRIVATE_HEADERS
    )


def _numbers(line: CategoryProgress | Totals) -> dict[str, Any]:
    return {
        "items": line.items,
        "digitized": line.digitized,
        "published": line.published,
        "percent_digitized": line.percent_digitized,
        "remaining": line.remaining,
    }


def progress_document(report: ProgressReport, gettext: Callable[[str], str]) -> dict[str, Any]:
    """The report's numbers as plain JSON data."""
    definitions = {category.code: category for category in REPORT_CATEGORIES}
    return {
        "year": report.year,
        "as_of": report.as_of.isoformat(),
        "deadline": report.deadline.isoformat(),
        "days_left": report.days_left,
        "plan": gettext(PLAN_REFERENCE),
        "categories": [
            {
                "code": line.code,
                "label": gettext(line.label),
                "kind": definitions[line.code].kind,
                "designations": list(definitions[line.code].designations),
                "target_percent": line.target_percent,
                **_numbers(line),
            }
            for line in report.categories
        ],
        "totals": _numbers(report.totals),
        "catalog_records": report.catalog_records,
        "outside_categories": report.outside_categories,
        "notes": notes(report, gettext),
    }


async def progress_json(request: Request) -> Response:
    """``/api/v1/progress``: the dashboard's numbers as JSON (``?year=`` as on the page)."""
    report, _ = await _load(request)
    museum = get_museum(request)
    gettext = museum.translations(request.state.lang).gettext
    return cached_json(
        request,
        progress_document(report, gettext),
        cache_control=NO_STORE,
        headers={"x-robots-tag": "noindex"},
    )


@dataclass(frozen=True)
class DashboardCounts:
    records_by_status: dict[str, int]
    drafts_to_review: int
    captions_to_review: int
    texts_to_review: int
    contributions_pending: int
    jobs_by_state: dict[str, int]
    uploads_receiving: int


def dashboard_counts(session: Session) -> DashboardCounts:
    from sqlalchemy import func, select

    from server.models import (
        AssetCaption,
        AssetText,
        Contribution,
        Job,
        MachineDraft,
        Record,
        Upload,
    )

    def grouped(column: Any, *where: Any) -> dict[str, int]:
        query = select(column, func.count()).group_by(column)
        for condition in where:
            query = query.where(condition)
        return {str(key): int(count) for key, count in session.execute(query)}

    def count(model: Any, *where: Any) -> int:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return int(session.scalar(query) or 0)

    return DashboardCounts(
        records_by_status=grouped(Record.status, Record.deleted_at.is_(None)),
        drafts_to_review=count(MachineDraft, MachineDraft.status == "draft"),
        captions_to_review=count(AssetCaption, AssetCaption.status == "draft"),
        # Transcripts of recordings are reviewed through their captions.
        texts_to_review=count(AssetText, AssetText.status == "draft", AssetText.source != "asr"),
        contributions_pending=count(Contribution, Contribution.status == "pending"),
        jobs_by_state=grouped(Job.state),
        uploads_receiving=count(Upload, Upload.state == "receiving"),
    )


async def dashboard(request: Request) -> Response:
    """``/admin/``: what is waiting for whom, at a glance."""
    from server.policy import RECORD_STATES

    museum = get_museum(request)
    counts = await museum.db.run(dashboard_counts)
    return museum.templates.TemplateResponse(
        request,
        "admin_home.html",
        {"counts": counts, "record_states": RECORD_STATES},
        headers=PRIVATE_HEADERS,
    )
