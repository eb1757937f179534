"""What the staff list pages share: query parameters, paging, and times in Vietnam time.

Times are stored as naive UTC (:func:`server.models.utcnow`); staff read them in the
province's time (UTC+7), and date filters name days of that calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from starlette.requests import Request

from server.errors import N_, BadRequest
from server.report import VIETNAM_TIME

PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_FILTER = 128


@dataclass(frozen=True)
class Pager:
    """One page of a list: which rows, and links to its neighbours."""

    number: int
    size: int
    total: int
    previous_url: str | None
    next_url: str | None

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def page_number(request: Request) -> int:
    """``?page=`` (1 when absent)."""
    raw = request.query_params.get("page", "")
    if raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(
            N_("The page must be a whole number from 1 to {last}."), parameter="page", last=MAX_PAGE
        )
    return int(raw)


def with_query(request: Request, **changes: object) -> str:
    """This page's path with some query parameters changed (``None`` removes one)."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    pairs += [(k, str(v)) for k, v in changes.items() if v is not None]
    query = urlencode(pairs)
    return request.url.path + (f"?{query}" if query else "")


def pager(request: Request, number: int, total: int, size: int = PAGE_SIZE) -> Pager:
    last = max(1, -(-total // size))
    return Pager(
        number=number,
        size=size,
        total=total,
        previous_url=with_query(request, page=number - 1) if number > 1 else None,
        next_url=with_query(request, page=number + 1) if number < last else None,
    )


def text_filter(request: Request, name: str) -> str:
    """A free-text filter, trimmed; too long is a clear 400, not a silent cut."""
    value = request.query_params.get(name, "").strip()
    if len(value) > MAX_FILTER:
        raise BadRequest(
            N_("The filter {name} may have at most {count} characters."),
            parameter=name,
            name=name,
            count=MAX_FILTER,
        )
    return value


def choice_filter(request: Request, name: str, choices: tuple[str, ...] | list[str]) -> str:
    """A filter that must be one of ``choices`` (or empty: no filter)."""
    value = request.query_params.get(name, "")
    if value and value not in choices:
        raise BadRequest(
            N_("Unknown value for {name}; choose one of {choices}."),
            parameter=name,
            name=name,
            choices=", ".join(choices),
        )
    return value


def date_filter(request: Request, name: str) -> date | None:
    """A ``YYYY-MM-DD`` day (Vietnam time), or None when absent."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str) -> date:
    raise BadRequest(
        N_("The date {name} must be written as YYYY-MM-DD, such as 2025-11-20."),
        parameter=name,
        name=name,
    )


def day_start_utc(day: date) -> datetime:
    """The naive-UTC instant at which ``day`` begins in Vietnam."""
    local = datetime.combine(day, time.min, tzinfo=VIETNAM_TIME)
    return local.astimezone(UTC).replace(tzinfo=None)


def next_day_start_utc(day: date) -> datetime:
    return day_start_utc(day + timedelta(days=1))


def local_time(value: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM`` in Vietnam time; empty for None."""
    if value is None:
        return ""
    return value.replace(tzinfo=UTC).astimezone(VIETNAM_TIME).strftime("%Y-%m-%d %H:%M")


def local_time_seconds(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.replace(tzinfo=UTC).astimezone(VIETNAM_TIME).strftime("%Y-%m-%d %H:%M:%S")
