"""Charts drawn on the server: inline SVG for pages, rectangles on a PDF page for reports.

Both draw the same horizontal bars from :func:`bar_layout`. The SVG uses no
script, no event handler, no external resource and no CSS (presentation
attributes only), so the Content-Security-Policy (``style-src 'self'``) lets a
page include it inline.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fpdf import FPDF

SVG_WIDTH = 640
LABEL_FONT_SIZE = 14
LABEL_LINE = 20  # label baseline to bar top
BAR_HEIGHT = 16
ROW_GAP = 12
TOP_PADDING = 4
BAR_FILL = "#2f6f4f"
TRACK_FILL = "#e6e2da"
TEXT_FILL = "#1d1d1b"
TARGET_STROKE = "#b3261e"
_CHART_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

# PDF geometry, millimetres.
PDF_LABEL_WIDTH = 78.0
PDF_BAR_WIDTH = 82.0
PDF_VALUE_WIDTH = 20.0
PDF_ROW_HEIGHT = 7.0
PDF_BAR_HEIGHT = 4.5
PDF_BAR_RGB = (47, 111, 79)
PDF_TRACK_RGB = (230, 226, 218)


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value and the share of the scale it fills (0–1)."""

    label: str
    value: float
    fraction: float


def bar_layout(rows: Sequence[tuple[str, float]], max_value: float) -> list[Bar]:
    """Bars for ``(label, value)`` rows on a scale from 0 to ``max_value`` (values clamped)."""
    if max_value <= 0:
        raise ValueError("max_value must be positive")
    return [Bar(label, value, min(max(value / max_value, 0.0), 1.0)) for label, value in rows]


def _plain(value: float) -> str:
    return f"{value:g}"


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def bar_chart_svg(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    description: str = "",
    max_value: float = 100.0,
    target: float | None = None,
    format_value: Callable[[float], str] = _plain,
    chart_id: str = "chart",
) -> str:
    """An accessible horizontal bar chart as an inline ``<svg>`` element.

    ``rows`` are ``(label, value)``; each label is drawn above its bar and the
    formatted value at the right. ``target`` (same unit as the values) draws a
    marker line when it is below ``max_value``. Screen readers get ``title``
    and ``description`` (by default every label with its value). ``chart_id``
    prefixes the element ids, so several charts can share a page.
    """
    if not _CHART_ID_RE.match(chart_id):
        raise ValueError(f"chart_id must be a plain identifier, not {chart_id!r}")
    bars = bar_layout(rows, max_value)
    row_height = LABEL_LINE + BAR_HEIGHT + ROW_GAP
    height = TOP_PADDING + row_height * len(bars)
    summary = description or "; ".join(f"{bar.label}: {format_value(bar.value)}" for bar in bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="bar-chart" '
        f'viewBox="0 0 {SVG_WIDTH} {height}" width="100%" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{_attr(title)}</title>',
        f'<desc id="{chart_id}-desc">{_attr(summary)}</desc>',
    ]
    for index, bar in enumerate(bars):
        parts.append(_svg_row(bar, TOP_PADDING + index * row_height, format_value))
    if target is not None and target < max_value:
        x = round(SVG_WIDTH * max(target, 0.0) / max_value, 1)
        parts.append(
            f'<line x1="{x}" y1="0" x2="{x}" y2="{height}" stroke="{TARGET_STROKE}" '
            'stroke-width="2" stroke-dasharray="4 3"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_row(bar: Bar, top: int, format_value: Callable[[float], str]) -> str:
    baseline = top + LABEL_FONT_SIZE
    bar_top = top + LABEL_LINE
    width = round(SVG_WIDTH * bar.fraction, 1)
    text = f'font-size="{LABEL_FONT_SIZE}" fill="{TEXT_FILL}"'
    return (
        "<g>"
        f'<text x="0" y="{baseline}" {text}>{_attr(bar.label)}</text>'
        f'<text x="{SVG_WIDTH}" y="{baseline}" text-anchor="end" {text}>'
        f"{_attr(format_value(bar.value))}</text>"
        f'<rect x="0" y="{bar_top}" width="{SVG_WIDTH}" height="{BAR_HEIGHT}" '
        f'fill="{TRACK_FILL}"/>'
        f'<rect x="0" y="{bar_top}" width="{width}" height="{BAR_HEIGHT}" fill="{BAR_FILL}"/>'
        "</g>"
    )


def draw_bar_chart_pdf(
    pdf: FPDF,
    rows: Sequence[tuple[str, float]],
    *,
    max_value: float = 100.0,
    format_value: Callable[[float], str] = _plain,
) -> None:
    """Draw bars at the current position of ``pdf``: label, bar on a track, value."""
    for bar in bar_layout(rows, max_value):
        if pdf.will_page_break(PDF_ROW_HEIGHT):
            pdf.add_page()
        x, y = pdf.get_x(), pdf.get_y()
        pdf.cell(PDF_LABEL_WIDTH, PDF_ROW_HEIGHT, bar.label)
        bar_x = x + PDF_LABEL_WIDTH
        bar_y = y + (PDF_ROW_HEIGHT - PDF_BAR_HEIGHT) / 2
        pdf.set_fill_color(*PDF_TRACK_RGB)
        pdf.rect(bar_x, bar_y, PDF_BAR_WIDTH, PDF_BAR_HEIGHT, style="F")
        if bar.fraction > 0:
            pdf.set_fill_color(*PDF_BAR_RGB)
            pdf.rect(bar_x, bar_y, PDF_BAR_WIDTH * bar.fraction, PDF_BAR_HEIGHT, style="F")
        pdf.set_xy(bar_x + PDF_BAR_WIDTH, y)
        pdf.cell(PDF_VALUE_WIDTH, PDF_ROW_HEIGHT, format_value(bar.value), align="R")
        pdf.set_xy(x, y + PDF_ROW_HEIGHT)
