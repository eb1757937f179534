"""Parsing API query parameters into frozen values; a bad one raises BadRequest naming it."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from server.errors import N_, BadRequest
from server.search import FACETS, SearchQuery

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_QUERY_LENGTH = 500
MAX_OFFSET = 10_000  # deep paging of ranked results is for harvesters, who use OAI-PMH
MAX_FILTER_VALUES = 20
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

SEARCH_PARAMETERS = {"q", "limit", "cursor", "exact", "lang", *FACETS}
LIST_PARAMETERS = {"limit", "cursor", "kind", "lang"}


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: an offset (ranked search) or the last id seen (lists)."""

    offset: int = 0
    after: str = ""


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps({"o": cursor.offset, "a": cursor.after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> Cursor:
    try:
        padded = value + "=" * (-len(value) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        offset, after = data["o"], data["a"]
        if (
            not isinstance(offset, int)
            or not isinstance(after, str)
            or not 0 <= offset <= MAX_OFFSET
        ):
            raise ValueError(value)
        if after and not _ID_RE.match(after):
            raise ValueError(value)
    except (ValueError, KeyError, TypeError, UnicodeEncodeError, binascii.Error) as exc:
        raise BadRequest(
            N_("The cursor is not valid; start again from the first page."), parameter="cursor"
        ) from exc
    return Cursor(offset, after)


def _reject_unknown(params: QueryParams, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise BadRequest(N_("Unknown parameter {name!r}."), parameter=name, name=name)


def _single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise BadRequest(
            N_("Parameter {name!r} may be given only once."), parameter=name, name=name
        )
    return values[0] if values else None


def parse_limit(params: QueryParams) -> int:
    raw = _single(params, "limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(
            N_("limit must be a whole number from 1 to {max}."), parameter="limit", max=MAX_LIMIT
        )
    return int(raw)


def parse_cursor(params: QueryParams) -> Cursor:
    raw = _single(params, "cursor")
    return decode_cursor(raw) if raw else Cursor()


def parse_bool(params: QueryParams, name: str) -> bool:
    raw = (_single(params, name) or "").lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise BadRequest(N_("{name} must be true or false."), parameter=name, name=name)


def parse_search(
    params: QueryParams, access_levels: tuple[str, ...], allowed: set[str] = SEARCH_PARAMETERS
) -> tuple[SearchQuery, int]:
    """The search to run and the page size; the offset comes from the cursor."""
    _reject_unknown(params, allowed)
    text = _single(params, "q") or ""
    if len(text) > MAX_QUERY_LENGTH:
        raise BadRequest(
            N_("The search text is longer than {max} characters."),
            parameter="q",
            max=MAX_QUERY_LENGTH,
        )
    if "\x00" in text:
        raise BadRequest(N_("The search text contains a NUL character."), parameter="q")
    filters: dict[str, tuple[str, ...]] = {}
    for facet in FACETS:
        values = tuple(v for v in params.getlist(facet) if v)
        if len(values) > MAX_FILTER_VALUES:
            raise BadRequest(N_("Too many values for {name}."), parameter=facet, name=facet)
        if values:
            filters[facet] = values
    limit = parse_limit(params)
    cursor = parse_cursor(params)
    query = SearchQuery(
        text=text,
        filters=filters,
        access_levels=access_levels,
        exact=parse_bool(params, "exact"),
        offset=cursor.offset,
        limit=limit,
    )
    return query, limit


@dataclass(frozen=True)
class ListQuery:
    kinds: tuple[str, ...]
    after: str
    limit: int


def parse_list(params: QueryParams, allowed: set[str] = LIST_PARAMETERS) -> ListQuery:
    _reject_unknown(params, allowed)
    return ListQuery(
        kinds=tuple(v for v in params.getlist("kind") if v),
        after=parse_cursor(params).after,
        limit=parse_limit(params),
    )
