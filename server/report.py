"""The yearly digitization progress report (plan KH 126/KH-UBND, implementing QĐ 2026/QĐ-TTg).

:func:`progress` counts, per line of ``vocab.REPORT_CATEGORIES``, the records,
how many are digitized and published, and which remain, in SQL (one GROUP BY
over the catalog), on SQLite and PostgreSQL alike. The staff dashboard
(:mod:`server.admin`) shows it; :mod:`server.report_files` writes it as XLSX or
PDF. The report is due to the province before 20 November.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from gettext import NullTranslations
from typing import Any

from babel.dates import format_date
from babel.numbers import format_percent
from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.orm import Session

from server.errors import N_, BadRequest, ValidationError
from server.i18n import load_catalogs, localized
from server.models import Record
from server.records import S, visible
from server.samples import is_sample
from server.vocab import (
    ACCESS_LEVELS,
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


def _reported(statement: S) -> S:
    """Restrict a ``select(Record ...)`` to the records the report counts: not deleted, and
    not the demo's sample media (``server.samples``), which is not the province's heritage."""
    return visible(statement, REPORTED_ACCESS_LEVELS).where(~is_sample())


def count_groups(session: Session) -> dict[tuple[str, str], Counts]:
    """Counts per (kind, designation): every category is a union of such groups."""
    statement = _reported(
        select(
            Record.kind,
            Record.designation,
            func.count(Record.id),
            _count_where(_is_digitized()),
            _count_where(_is_published()),
        )
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
        _reported(select(Record.id, Record.title, Record.digitization_priority, Record.designation))
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


# Labels the dashboard and the report files share -----------------------------------------------


SUMMARY_HEADERS = (
    N_("Heritage category"),
    N_("Items"),
    N_("Digitized"),
    N_("Published"),
    N_("Digitized (%)"),
    N_("Target (%)"),
    N_("Remaining"),
)
TOTAL_LABEL = N_("Total (each record counted once)")
CHART_TITLE = N_("Percent digitized by category")


def chart_rows(report: ProgressReport, gettext: Callable[[str], str]) -> list[tuple[str, float]]:
    """(label, percent digitized) of each category that has items, for the bar charts."""
    return [
        (gettext(line.label), line.percent_digitized)
        for line in report.categories
        if line.percent_digitized is not None
    ]
