"""The home page's blocks beyond the grouped list: featured exhibitions, the kinds of heritage
with their counts, and how much is digitized so far.

The digitization figures are :func:`server.report.progress` itself, not a second count:
the home page and the yearly report can never disagree. Like the report they count every
catalogued record, restricted ones included (numbers only, never titles), while the kind
counts are what a visitor can open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.i18n import localized
from server.models import RECORD_KINDS, Exhibition, Record
from server.records import visible
from server.report import ProgressReport, format_share, progress, today_in_vietnam
from server.samples import is_sample

FEATURED_EXHIBITIONS = 3


@dataclass(frozen=True)
class FeaturedExhibition:
    id: str
    title: str
    summary: str


@dataclass(frozen=True)
class KindCount:
    kind: str
    count: int


@dataclass(frozen=True)
class Figure:
    """One line of the "digitized so far" block, in the page's language."""

    label: str  # English message id, translated by the template
    items: int
    digitized: int
    percent: str  # "33,3%" in Vietnamese, "33.3%" in English
    percent_value: float  # 0–100, the width of the bar


@dataclass(frozen=True)
class Digitization:
    total: Figure
    categories: tuple[Figure, ...]  # the plan's categories that hold at least one record


def featured_exhibitions(
    session: Session, levels: Sequence[str], lang: str
) -> list[FeaturedExhibition]:
    """The most recently updated published exhibitions the visitor may open."""
    rows = session.scalars(
        select(Exhibition)
        .where(Exhibition.published.is_(True), Exhibition.access_level.in_(tuple(levels)))
        .order_by(Exhibition.updated_at.desc(), Exhibition.id)
        .limit(FEATURED_EXHIBITIONS)
    )
    return [
        FeaturedExhibition(e.id, localized(e.title, lang), localized(e.summary, lang)) for e in rows
    ]


def kind_counts(session: Session, levels: Sequence[str]) -> list[KindCount]:
    """Visible records per kind of heritage, in the plan's order; empty kinds left out."""
    rows = session.execute(
        visible(select(Record.kind, func.count(Record.id)), levels)
        .where(~is_sample())
        .group_by(Record.kind)
    )
    counts = {kind: int(count) for kind, count in rows}
    return [KindCount(kind, counts[kind]) for kind in RECORD_KINDS if counts.get(kind)]


def _figure(label: str, items: int, digitized: int, share: float | None, lang: str) -> Figure:
    return Figure(label, items, digitized, format_share(share, lang), share or 0.0)


def digitization(report: ProgressReport, lang: str) -> Digitization:
    """The report's totals and its non-empty categories as figures for the page."""
    totals = report.totals
    return Digitization(
        total=_figure("", totals.items, totals.digitized, totals.percent_digitized, lang),
        categories=tuple(
            _figure(line.label, line.items, line.digitized, line.percent_digitized, lang)
            for line in report.categories
            if line.items
        ),
    )


def digitization_so_far(session: Session, lang: str) -> Digitization:
    """Today's figures of the yearly progress report (no lists of remaining items)."""
    return digitization(progress(session, today_in_vietnam(), remaining_limit=0), lang)
