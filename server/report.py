"""The yearly digitization progress report (plan KH 126/KH-UBND, implementing QĐ 2026/QĐ-TTg).

:func:`progress` counts, per line of ``vocab.REPORT_CATEGORIES``, the records,
how many are digitized and published, and which remain, in SQL (one GROUP BY
over the catalog), on SQLite and PostgreSQL alike. :func:`write_xlsx` and
:func:`write_pdf` write the report file; :func:`write_report` is the command
line's entry point. The report is due to the province before 20 November.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from gettext import NullTranslations
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_percent
from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.orm import Session

from server.charts import draw_bar_chart_pdf
from server.errors import N_, BadRequest, MuseumError, ValidationError
from server.i18n import load_catalogs, localized
from server.models import Record
from server.records import visible
from server.vocab import (
    ACCESS_LEVELS,
    DESIGNATIONS,
    DIGITIZED,
    PUBLIC_ACCESS,
    REPORT_CATEGORIES,
    ReportCategory,
)

PLAN_FIRST_YEAR = 2021
PLAN_LAST_YEAR = 2030
DEADLINE_MONTH = 11
DEADLINE_DAY = 20
# The deadline is Vietnamese local time; Vietnam has kept UTC+7 without daylight saving since 1975.
VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")
# The report is for the administration: every access level of the vocabulary counts,
# restricted records included (deleted records never do; see records.visible).
REPORTED_ACCESS_LEVELS = tuple(ACCESS_LEVELS)
# Order of urgency among equally prioritised records: the higher the legal status, the sooner.
DESIGNATION_RANK = {
    "unesco": 0,
    "quoc_gia_dac_biet": 1,
    "bao_vat_quoc_gia": 1,
    "di_tich_quoc_gia": 2,
    "danh_muc_quoc_gia": 2,
    "cap_tinh": 3,
    "hien_vat_bao_tang": 4,
    "kiem_ke": 5,
    "chua_xep_hang": 6,
}
UNKNOWN_DESIGNATION_RANK = 9
SUPPORTED_SUFFIXES = (".xlsx", ".pdf")
REPORT_FILE_MODE = 0o644

TITLE = N_("Cultural heritage digitization progress report, {year}")
PLAN_REFERENCE = N_(
    "Plan 126/KH-UBND of the Đắk Lắk Provincial People's Committee, "
    "implementing Decision 2026/QĐ-TTg of the Prime Minister"
)
NOTES = (
    N_(
        "Every record that is not deleted is counted, whatever its access level: restricted "
        "records are included because this report is for the administration, not the public."
    ),
    N_(
        "A record counts as digitized when its digitization status is “Digitized” or “Fully "
        "digitized”, and as published when it is also public and has a publication date."
    ),
    N_(
        "A record can belong to several categories (for example UNESCO-inscribed and on the "
        "national list); the totals count each record once."
    ),
    N_(
        "The catalog keeps no history yet: the numbers are the catalog's state when the report "
        "was made, also for a past year."
    ),
)
OUTSIDE_NOTE = N_("{count} catalog record(s) belong to none of the plan's categories.")


@dataclass(frozen=True)
class RemainingItem:
    """A record of a category that is not yet digitized."""

    id: str
    title: str  # Vietnamese, the catalog's required language
    priority: int
    designation: str


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal, half up; None when there is nothing."""
    if whole == 0:
        return None
    value = Decimal(100 * part) / Decimal(whole)
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class CategoryProgress:
    """One line of the report."""

    code: str
    label: str  # English message id (vocab)
    target_percent: int
    items: int
    digitized: int
    published: int
    remaining_items: tuple[RemainingItem, ...]

    @property
    def remaining(self) -> int:
        return self.items - self.digitized

    @property
    def percent_digitized(self) -> float | None:
        return percent(self.digitized, self.items)


@dataclass(frozen=True)
class Totals:
    """Distinct records over all categories (a record in two categories counts once)."""

    items: int
    digitized: int
    published: int

    @property
    def remaining(self) -> int:
        return self.items - self.digitized

    @property
    def percent_digitized(self) -> float | None:
        return percent(self.digitized, self.items)


@dataclass(frozen=True)
class ProgressReport:
    """The yearly report: one line per report category, the totals and the deadline."""

    year: int
    as_of: date
    deadline: date
    days_left: int
    categories: tuple[CategoryProgress, ...]
    totals: Totals
    catalog_records: int  # every counted record, in a category or not

    @property
    def outside_categories(self) -> int:
        return self.catalog_records - self.totals.items


# Dates and years -------------------------------------------------------------------------------


def today_in_vietnam() -> date:
    return datetime.now(VIETNAM_TIME).date()


def next_deadline(as_of: date) -> date:
    """The next 20 November on or after ``as_of``."""
    deadline = date(as_of.year, DEADLINE_MONTH, DEADLINE_DAY)
    return deadline if as_of <= deadline else date(as_of.year + 1, DEADLINE_MONTH, DEADLINE_DAY)


def days_until_deadline(as_of: date) -> int:
    """Days from ``as_of`` to the next 20 November (0 on the day itself)."""
    return (next_deadline(as_of) - as_of).days


def allowed_years(today: date) -> list[int]:
    """The plan's years up to now, and always the current year."""
    years = {y for y in range(PLAN_FIRST_YEAR, PLAN_LAST_YEAR + 1) if y <= today.year}
    return sorted(years | {today.year})


def check_year(year: int, today: date) -> int:
    years = allowed_years(today)
    if year not in years:
        raise BadRequest(
            N_("There is no report for {year}: choose a year from {first} to {last}."),
            parameter="year",
            year=year,
            first=years[0],
            last=years[-1],
        )
    return year


def parse_year(raw: str | None, today: date) -> int:
    """The ``?year=`` parameter: absent means the current year."""
    if raw is None or raw == "":
        return today.year
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4):
        raise BadRequest(
            N_("The year must be written with four digits, such as {example}."),
            parameter="year",
            example=today.year,
        )
    return check_year(int(raw), today)


def report_date(year: int, today: date) -> date:
    """The current year's report is as of today; a past year's as of its 20 November."""
    return today if year == today.year else date(year, DEADLINE_MONTH, DEADLINE_DAY)


# Counting --------------------------------------------------------------------------------------


def in_category(category: ReportCategory) -> ColumnElement[bool]:
    """SQL condition: the record belongs to the report line."""
    kind = true() if category.kind == "*" else Record.kind == category.kind
    return and_(kind, Record.designation.in_(category.designations))


def _belongs(category: ReportCategory, kind: str, designation: str) -> bool:
    return category.kind in ("*", kind) and designation in category.designations


def _is_digitized() -> ColumnElement[bool]:
    return Record.digitization_status.in_(DIGITIZED)


def _is_published() -> ColumnElement[bool]:
    return and_(
        _is_digitized(),
        Record.published_at.is_not(None),
        Record.access_level.in_(PUBLIC_ACCESS),
    )


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


Counts = tuple[int, int, int]  # items, digitized, published


def count_groups(session: Session) -> dict[tuple[str, str], Counts]:
    """Counts per (kind, designation): every category is a union of such groups."""
    statement = visible(
        select(
            Record.kind,
            Record.designation,
            func.count(Record.id),
            _count_where(_is_digitized()),
            _count_where(_is_published()),
        ),
        REPORTED_ACCESS_LEVELS,
    ).group_by(Record.kind, Record.designation)
    return {
        (kind, designation): (int(items), int(digitized), int(published))
        for kind, designation, items, digitized, published in session.execute(statement)
    }


def _sum(counts: Sequence[Counts]) -> Counts:
    return (
        sum(c[0] for c in counts),
        sum(c[1] for c in counts),
        sum(c[2] for c in counts),
    )


def remaining_items(
    session: Session, category: ReportCategory, limit: int | None = None
) -> tuple[RemainingItem, ...]:
    """The category's records not yet digitized, most urgent first."""
    rank = case(DESIGNATION_RANK, value=Record.designation, else_=UNKNOWN_DESIGNATION_RANK)
    statement = (
        visible(
            select(Record.id, Record.title, Record.digitization_priority, Record.designation),
            REPORTED_ACCESS_LEVELS,
        )
        .where(in_category(category), ~_is_digitized())
        .order_by(Record.digitization_priority, rank, Record.id)
        .limit(limit)
    )
    return tuple(
        RemainingItem(id=rid, title=localized(title, "vi"), priority=int(pri), designation=des)
        for rid, title, pri, des in session.execute(statement)
    )


def _line(
    session: Session,
    category: ReportCategory,
    groups: dict[tuple[str, str], Counts],
    remaining_limit: int | None,
) -> CategoryProgress:
    items, digitized, published = _sum(
        [counts for (kind, des), counts in groups.items() if _belongs(category, kind, des)]
    )
    listed = () if remaining_limit == 0 else remaining_items(session, category, remaining_limit)
    return CategoryProgress(
        category.code, category.label, category.target_percent, items, digitized, published, listed
    )


def progress(
    session: Session, as_of: date, *, remaining_limit: int | None = None
) -> ProgressReport:
    """The report as of ``as_of``; ``remaining_limit`` caps each category's remaining list."""
    groups = count_groups(session)
    # Each record is in exactly one (kind, designation) group: summing the groups that any
    # category covers counts every reported record once.
    reported = [
        counts
        for (kind, des), counts in groups.items()
        if any(_belongs(category, kind, des) for category in REPORT_CATEGORIES)
    ]
    return ProgressReport(
        year=as_of.year,
        as_of=as_of,
        deadline=next_deadline(as_of),
        days_left=days_until_deadline(as_of),
        categories=tuple(_line(session, c, groups, remaining_limit) for c in REPORT_CATEGORIES),
        totals=Totals(*_sum(reported)),
        catalog_records=_sum(list(groups.values()))[0],
    )


# Language --------------------------------------------------------------------------------------


@functools.cache
def _catalogs() -> dict[str, NullTranslations]:
    return load_catalogs()


def translator(lang: str) -> Callable[[str], str]:
    catalogs = _catalogs()
    if lang not in catalogs:
        raise ValidationError(
            N_("The report language must be one of: {languages}."),
            parameter="lang",
            languages=", ".join(sorted(catalogs)),
        )
    gettext: Callable[[str], str] = catalogs[lang].gettext
    return gettext


DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMMM yyyy"}


def format_day(value: date, lang: str) -> str:
    return format_date(value, DATE_PATTERNS.get(lang, "yyyy-MM-dd"), locale=lang)


def format_share(value: float | None, lang: str) -> str:
    """A percentage such as 33.3 as text in the language (``33,3%``); a dash for none."""
    if value is None:
        return "—"
    return str(format_percent(value / 100, format="0.0%", locale=lang))


def format_target(value: int, lang: str) -> str:
    return str(format_percent(value / 100, format="0%", locale=lang))


def deadline_text(report: ProgressReport, gettext: Callable[[str], str]) -> str:
    """“N days left until 20 November YYYY” (or that it is due today)."""
    if report.days_left == 0:
        return gettext(N_("The report is due today, 20 November {year}.")).format(
            year=report.deadline.year
        )
    message = (
        N_("{count} day left until 20 November {year}")
        if report.days_left == 1
        else N_("{count} days left until 20 November {year}")
    )
    return gettext(message).format(count=report.days_left, year=report.deadline.year)


def notes(report: ProgressReport, gettext: Callable[[str], str]) -> list[str]:
    texts = [gettext(note) for note in NOTES]
    if report.outside_categories:
        texts.append(gettext(OUTSIDE_NOTE).format(count=report.outside_categories))
    return texts


# Files -----------------------------------------------------------------------------------------


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it, then rename it into place."""
    fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(staging).chmod(REPORT_FILE_MODE)
        Path(staging).replace(path)
    finally:
        # Gone after a successful rename; removes the partial file after a failure.
        Path(staging).unlink(missing_ok=True)


SUMMARY_HEADERS = (
    N_("Heritage category"),
    N_("Items"),
    N_("Digitized"),
    N_("Published"),
    N_("Digitized (%)"),
    N_("Target (%)"),
    N_("Remaining"),
)
REMAINING_HEADERS = (
    N_("No."),
    N_("Heritage category"),
    N_("ID"),
    N_("Title (Vietnamese)"),
    N_("Designation"),
    N_("Priority"),
)
TOTAL_LABEL = N_("Total (each record counted once)")
CHART_TITLE = N_("Percent digitized by category")
REMAINING_TITLE = N_("Remaining items, most urgent first")
MUSEUM_NAME = N_("Đắk Lắk Digital Heritage Museum")
XLSX_TABLE_ROW = 6
XLSX_DATE_FORMAT = "DD/MM/YYYY"
XLSX_COLUMN_WIDTHS = {"A": 46, "B": 10, "C": 12, "D": 12, "E": 14, "F": 12, "G": 12}
XLSX_REMAINING_WIDTHS = {"A": 6, "B": 40, "C": 14, "D": 60, "E": 32, "F": 10}
XLSX_SHARE_COLUMN = 5  # E: digitized share; F: target
XLSX_CHART_ANCHOR = "I6"
XLSX_CHART_SIZE_CM = (18, 10)


def _number_row(line: CategoryProgress | Totals, target: int | None) -> list[Any]:
    share = line.percent_digitized
    return [
        line.items,
        line.digitized,
        line.published,
        None if share is None else round(share / 100, 3),  # a fraction, shown as 0.0 %
        None if target is None else target / 100,
        line.remaining,
    ]


def _summary_heading(sheet: Any, report: ProgressReport, gettext: Callable[[str], str]) -> None:
    sheet["A1"] = gettext(TITLE).format(year=report.year)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = gettext(PLAN_REFERENCE)
    sheet.append([gettext(N_("Data as of")), report.as_of])
    sheet.append([gettext(N_("Report due")), report.deadline, deadline_text(report, gettext)])
    for cell in ("B3", "B4"):
        sheet[cell].number_format = XLSX_DATE_FORMAT
    sheet.append([])


def _summary_table(sheet: Any, report: ProgressReport, gettext: Callable[[str], str]) -> None:
    sheet.append([gettext(header) for header in SUMMARY_HEADERS])
    for line in report.categories:
        sheet.append([gettext(line.label), *_number_row(line, line.target_percent)])
    sheet.append([gettext(TOTAL_LABEL), *_number_row(report.totals, None)])
    last = sheet.max_row
    for row in range(XLSX_TABLE_ROW + 1, last + 1):
        sheet.cell(row, XLSX_SHARE_COLUMN).number_format = "0.0%"
        sheet.cell(row, XLSX_SHARE_COLUMN + 1).number_format = "0%"
    for cell in (*sheet[XLSX_TABLE_ROW], *sheet[last]):
        cell.font = Font(bold=True)
    for column, width in XLSX_COLUMN_WIDTHS.items():
        sheet.column_dimensions[column].width = width


def _summary_chart(sheet: Any, report: ProgressReport, gettext: Callable[[str], str]) -> None:
    """A horizontal bar per category: the share digitized, on a 0–100 % axis."""
    end = XLSX_TABLE_ROW + len(report.categories)
    shares = Reference(sheet, min_col=XLSX_SHARE_COLUMN, min_row=XLSX_TABLE_ROW, max_row=end)
    labels = Reference(sheet, min_col=1, min_row=XLSX_TABLE_ROW + 1, max_row=end)
    chart = BarChart()
    chart.type = "bar"
    chart.title = gettext(CHART_TITLE)
    chart.add_data(shares, titles_from_data=True)
    chart.set_categories(labels)
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.y_axis.number_format = "0%"
    chart.x_axis.delete = chart.y_axis.delete = False  # newer Excel hides axes otherwise
    chart.legend = None
    chart.width, chart.height = XLSX_CHART_SIZE_CM
    sheet.add_chart(chart, XLSX_CHART_ANCHOR)


def _summary_sheet(sheet: Any, report: ProgressReport, gettext: Callable[[str], str]) -> None:
    sheet.title = gettext(N_("Summary"))
    _summary_heading(sheet, report, gettext)
    _summary_table(sheet, report, gettext)
    sheet.append([])
    sheet.append([gettext(N_("Notes"))])
    for text in notes(report, gettext):
        sheet.append([text])
    _summary_chart(sheet, report, gettext)


def _remaining_sheet(sheet: Any, report: ProgressReport, gettext: Callable[[str], str]) -> None:
    sheet.title = gettext(N_("Remaining"))
    sheet.append([gettext(header) for header in REMAINING_HEADERS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    number = 0
    for line in report.categories:
        for item in line.remaining_items:
            number += 1
            designation = gettext(DESIGNATIONS.get(item.designation, item.designation))
            sheet.append(
                [number, gettext(line.label), item.id, item.title, designation, item.priority]
            )
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for column, width in XLSX_REMAINING_WIDTHS.items():
        sheet.column_dimensions[column].width = width


def write_xlsx(report: ProgressReport, path: Path, lang: str = "vi") -> None:
    """The report as a workbook: a summary sheet with a bar chart, and the remaining items."""
    gettext = translator(lang)
    workbook = Workbook()
    workbook.properties.title = gettext(TITLE).format(year=report.year)
    workbook.properties.creator = gettext(MUSEUM_NAME)
    workbook.properties.language = lang
    _summary_sheet(workbook.active, report, gettext)
    _remaining_sheet(workbook.create_sheet(), report, gettext)
    buffer = io.BytesIO()
    workbook.save(buffer)
    write_atomically(path, buffer.getvalue())


FONT_DIR = Path("/usr/share/fonts/truetype/noto")
FONT_FILES = {"": "NotoSans-Regular.ttf", "B": "NotoSans-Bold.ttf"}
FONT_FAMILY = "NotoSans"
FONT_PACKAGE = "fonts-noto-core"
PDF_MARGIN = 15.0
PDF_COLUMN_WIDTHS = (72, 18, 18, 18, 18, 18, 18)  # millimetres: A4 minus margins is 180
PDF_TEXT_ALIGN = ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")
TITLE_SIZE = 15
HEADING_SIZE = 12
BODY_SIZE = 10
TABLE_SIZE = 9
FOOTER_SIZE = 8
HEADINGS_SIZE = 8
LINE_HEIGHT = 5.5
FOOTER_OFFSET = 12.0
KEEP_WITH_NEXT = 4 * LINE_HEIGHT  # a heading never ends a page alone


class MissingFont(MuseumError):
    """A font the PDF report needs is not installed."""

    code = "missing_dependency"


def font_files(font_dir: Path | None = None) -> dict[str, Path]:
    """The Noto Sans files (regular, bold) with Vietnamese coverage; a clear error if absent."""
    folder = font_dir or FONT_DIR
    files = {style: folder / name for style, name in FONT_FILES.items()}
    for path in files.values():
        if not path.is_file():
            raise MissingFont(
                N_(
                    "The PDF report needs the font {path}. Install the Debian package "
                    "{package} (apt install {package}) or run make demo, then try again."
                ),
                path=str(path),
                package=FONT_PACKAGE,
            )
    return files


class _ReportPdf(FPDF):
    """A4 pages with the museum's name, the report's title and ``page/pages`` in the footer."""

    def __init__(self, footer_text: str, page_label: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.page_label = page_label

    def footer(self) -> None:
        self.set_y(-FOOTER_OFFSET)
        self.set_font(FONT_FAMILY, size=FOOTER_SIZE)
        page = self.page_label.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(0, LINE_HEIGHT, f"{self.footer_text} · {page}", align="C")


def _paragraph(pdf: FPDF, text: str, size: int = BODY_SIZE, style: str = "") -> None:
    pdf.set_font(FONT_FAMILY, style=style, size=size)
    pdf.multi_cell(0, LINE_HEIGHT + (size - BODY_SIZE) / 2, text, new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: FPDF, text: str, size: int = HEADING_SIZE, space_before: float = 4) -> None:
    if pdf.will_page_break(space_before + KEEP_WITH_NEXT):
        pdf.add_page()
    else:
        pdf.ln(space_before)
    _paragraph(pdf, text, size, "B")


def _pdf_cells(line: CategoryProgress | Totals, target: int | None, lang: str) -> list[str]:
    return [
        str(line.items),
        str(line.digitized),
        str(line.published),
        format_share(line.percent_digitized, lang),
        "" if target is None else format_target(target, lang),
        str(line.remaining),
    ]


def _pdf_table(pdf: FPDF, report: ProgressReport, gettext: Callable[[str], str], lang: str) -> None:
    pdf.set_font(FONT_FAMILY, size=TABLE_SIZE)
    bold = FontFace(emphasis="BOLD")
    with pdf.table(
        col_widths=PDF_COLUMN_WIDTHS,
        text_align=PDF_TEXT_ALIGN,
        line_height=LINE_HEIGHT,
        headings_style=FontFace(emphasis="BOLD", size_pt=HEADINGS_SIZE),
    ) as table:
        header = table.row()
        for text in SUMMARY_HEADERS:
            header.cell(gettext(text))
        for line in report.categories:
            row = table.row()
            for text in (gettext(line.label), *_pdf_cells(line, line.target_percent, lang)):
                row.cell(text)
        total = table.row()
        for text in (gettext(TOTAL_LABEL), *_pdf_cells(report.totals, None, lang)):
            total.cell(text, style=bold)


def _pdf_remaining(pdf: FPDF, report: ProgressReport, gettext: Callable[[str], str]) -> None:
    _heading(pdf, gettext(REMAINING_TITLE))
    priority = gettext(N_("Priority"))
    for line in report.categories:
        if not line.remaining_items:
            continue
        _heading(pdf, f"{gettext(line.label)} ({line.remaining})", BODY_SIZE, space_before=2)
        for number, item in enumerate(line.remaining_items, start=1):
            designation = gettext(DESIGNATIONS.get(item.designation, item.designation))
            _paragraph(
                pdf,
                f"{number}. {item.id} — {item.title} ({designation}; {priority} {item.priority})",
            )


def render_pdf(report: ProgressReport, lang: str = "vi", font_dir: Path | None = None) -> bytes:
    """The report as PDF bytes: title, table, bar chart, remaining items, notes."""
    gettext = translator(lang)
    fonts = font_files(font_dir)
    title = gettext(TITLE).format(year=report.year)
    pdf = _ReportPdf(f"{gettext(MUSEUM_NAME)} · {title}", gettext(N_("Page {page} of {pages}")))
    for style, path in fonts.items():
        pdf.add_font(FONT_FAMILY, style=style, fname=str(path))
    pdf.set_margins(PDF_MARGIN, PDF_MARGIN, PDF_MARGIN)
    pdf.set_auto_page_break(auto=True, margin=PDF_MARGIN + FOOTER_OFFSET / 2)
    pdf.set_title(title)
    pdf.set_author(gettext(MUSEUM_NAME))
    pdf.set_lang(lang)
    pdf.add_page()
    _paragraph(pdf, title, TITLE_SIZE, "B")
    _paragraph(pdf, gettext(PLAN_REFERENCE))
    _paragraph(pdf, f"{gettext(N_('Data as of'))}: {format_day(report.as_of, lang)}")
    due = f"{gettext(N_('Report due'))}: {format_day(report.deadline, lang)}"
    _paragraph(pdf, f"{due} — {deadline_text(report, gettext)}", BODY_SIZE, "B")
    pdf.ln(3)
    _pdf_table(pdf, report, gettext, lang)
    _heading(pdf, gettext(CHART_TITLE))
    pdf.set_font(FONT_FAMILY, size=TABLE_SIZE)
    draw_bar_chart_pdf(
        pdf, chart_rows(report, gettext), format_value=lambda v: format_share(v, lang)
    )
    _pdf_remaining(pdf, report, gettext)
    _heading(pdf, gettext(N_("Notes")))
    for text in notes(report, gettext):
        _paragraph(pdf, f"• {text}")
    return bytes(pdf.output())


def write_pdf(report: ProgressReport, path: Path, lang: str = "vi") -> None:
    """The report as an A4 PDF in a Unicode font with full Vietnamese coverage."""
    write_atomically(path, render_pdf(report, lang))


def chart_rows(report: ProgressReport, gettext: Callable[[str], str]) -> list[tuple[str, float]]:
    """(label, percent digitized) of each category that has items, for the bar charts."""
    return [
        (gettext(line.label), line.percent_digitized)
        for line in report.categories
        if line.percent_digitized is not None
    ]


def _check_output(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValidationError(
            N_("Cannot write a report to {name}: the file name must end in {suffixes}."),
            parameter="out",
            name=out.name,
            suffixes=" / ".join(SUPPORTED_SUFFIXES),
        )
    if not out.parent.is_dir():
        raise ValidationError(
            N_("The folder {folder} does not exist."), parameter="out", folder=str(out.parent)
        )
    return suffix


def write_report(
    session: Session, year: int, out: Path, *, lang: str = "vi", today: date | None = None
) -> ProgressReport:
    """Compute the report for ``year`` and write it as XLSX or PDF, chosen by ``out``'s suffix."""
    suffix = _check_output(out)
    translator(lang)  # an unknown language fails before any work
    today = today or today_in_vietnam()
    report = progress(session, report_date(check_year(year, today), today))
    writer = write_xlsx if suffix == ".xlsx" else write_pdf
    try:
        writer(report, out, lang)
    except OSError as exc:
        raise ValidationError(
            N_("Cannot write the report to {path}: {reason}"),
            parameter="out",
            path=str(out),
            reason=exc.strerror or type(exc).__name__,
        ) from exc
    return report
