"""The yearly progress report as files: an XLSX workbook and an A4 PDF.

:func:`write_report` is the command line's entry point: it computes the report
with :func:`server.report.progress` and writes it with :func:`write_xlsx` or
:func:`write_pdf`, chosen by the file name's suffix. Files are written beside
their target and renamed into place, so a reader never sees half a report.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from server.charts import draw_bar_chart_pdf
from server.errors import N_, MuseumError, ValidationError
from server.report import (
    CHART_TITLE,
    PLAN_REFERENCE,
    SUMMARY_HEADERS,
    TITLE,
    TOTAL_LABEL,
    CategoryProgress,
    ProgressReport,
    Totals,
    chart_rows,
    check_year,
    deadline_text,
    format_day,
    format_share,
    format_target,
    notes,
    progress,
    report_date,
    today_in_vietnam,
    translator,
)
from server.storage import atomic_file
from server.vocab import DESIGNATIONS

SUPPORTED_SUFFIXES = (".xlsx", ".pdf")
REPORT_FILE_MODE = 0o644


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step: readers see the old report or the new one."""
    with atomic_file(path, REPORT_FILE_MODE) as staging:
        staging.write_bytes(data)


REMAINING_HEADERS = (
    N_("No."),
    N_("Heritage category"),
    N_("ID"),
    N_("Title (Vietnamese)"),
    N_("Designation"),
    N_("Priority"),
)
REMAINING_TITLE = N_("Remaining items, most urgent first")
MUSEUM_NAME = N_("Đắk Lắk Digital Heritage Museum")


# XLSX ------------------------------------------------------------------------------------------


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


# PDF -------------------------------------------------------------------------------------------


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


# The command line ------------------------------------------------------------------------------


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
